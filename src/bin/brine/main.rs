//! The brine command line: parses the flags, opens the one `Device` the command runs on,
//! and calls the command's module in `brine::app`.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brine::Context;
use brine::device::{BackendChoice, Device};
use brine::nn::{Attention, Config};
use brine::seismic::Acquisition;
use clap::Parser;
use cli::{BenchWhat, Cli, Command, SHIPPED_MODEL, TrainArgs};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The device for the whole command, chosen once.
fn open(choice: BackendChoice) -> Result<Device> {
    Device::open(choice).with_context(|| format!("--backend {choice:?}").to_lowercase())
}

/// The device for a simulation, and a line saying where it runs.
fn open_simulation(choice: BackendChoice) -> Result<Device> {
    let device = open(choice)?;
    match &device {
        Device::Gpu(ctx) => eprintln!("simulating on {}", ctx.adapter_name()),
        _ if choice == BackendChoice::Auto => {
            eprintln!("note: no hardware GPU; simulating on the CPU engine (--backend gpu to use a software adapter)")
        }
        _ => {}
    }
    Ok(device)
}

fn run(cli: Cli) -> Result<bool> {
    // Before anything starts rayon's pool: a bad count is an error, an absurd one is clamped.
    let (_, note) = brine::fast::threads::init(cli.threads)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    match cli.command {
        Command::Demo { out, samples, seconds, seed, backend } => {
            let device = open(backend)?;
            let o = brine::app::demo::Options { out, samples, budget_s: seconds, seed, backend, ..Default::default() };
            let r = brine::app::demo::run(&o, &device, |line| println!("{line}"))?;
            println!("\ntest set ({} samples never trained on):", r.test.samples);
            print_scores(&r.test);
            println!("\nwrote:");
            println!("  data        {}", r.data.display());
            println!("  run         {} ({})", r.run.display(), run_files(&r.run));
            println!("  metrics     {}", o.out.join("eval.json").display());
            for f in &r.figures {
                println!("  figure      {}", f.display());
            }
            Ok(true)
        }
        Command::Train(a) => train(a),
        Command::Eval { checkpoint, data, out, batch, limit, attention, mirror, salt, backend } => {
            let pass = brine::app::eval::Pass::from_flags("eval", attention, mirror, salt)?;
            let out = out.unwrap_or_else(|| checkpoint.parent().map(Path::to_path_buf).unwrap_or_default());
            let device = open(backend)?;
            let (_, summary, focus) =
                brine::app::eval::run(&checkpoint, &data, Some(&out), &device, batch, limit, pass)?;
            print_scores(&summary);
            if let Some(f) = focus {
                println!("  attention on salt (≥ {} m/s):", f.salt_ms);
                f.lines().iter().for_each(|l| println!("{l}"));
            }
            println!("per sample: {}\nsummary:    {}", out.join("eval.csv").display(), out.join("eval.json").display());
            Ok(true)
        }
        Command::Infer { checkpoint, data, truth, out, figures, batch, attention, mirror, salt, backend } => {
            let checkpoint = checkpoint.unwrap_or_else(|| PathBuf::from(SHIPPED_MODEL));
            let device = open(backend)?;
            let r = brine::app::infer::run(&brine::app::infer::Options {
                checkpoint: &checkpoint,
                data: &data,
                truth: truth.as_deref(),
                out: &out,
                device: &device,
                batch,
                figures,
                attention,
                salt_ms: salt,
                mirror,
            })?;
            r.notes.iter().for_each(|n| eprintln!("note: {n}"));
            println!("{} velocity model(s) -> {}", r.samples, r.prediction.display());
            if !r.maps.is_empty() {
                println!("{} attention map(s) -> {}", r.maps.len(), out.join("attention").display());
            }
            if let Some(f) = &r.focus {
                println!("attention on salt (≥ {} m/s):", f.salt_ms);
                f.lines().iter().for_each(|l| println!("{l}"));
            }
            if !r.scores.is_empty() {
                print_scores(&brine::app::eval::mean(&r.scores));
            }
            for f in &r.figures {
                println!("figure: {}", f.display());
            }
            Ok(true)
        }
        Command::Refine {
            checkpoint,
            data,
            truth,
            init,
            mirror,
            acquisition,
            out,
            method,
            iters,
            lr,
            vmin,
            vmax,
            smooth,
            depth_weight,
            bands,
            pml,
            limit,
            figures,
            backend,
            quiet,
        } => {
            let checkpoint = checkpoint.unwrap_or_else(|| PathBuf::from(SHIPPED_MODEL));
            let device = open(backend)?;
            let r = brine::app::refine::run(&brine::app::refine::Options {
                checkpoint: &checkpoint,
                data: &data,
                truth: truth.as_deref(),
                start: init,
                mirror,
                acquisition: acquisition.as_deref(),
                out: &out,
                device: &device,
                method,
                iters,
                lr,
                vmin,
                vmax,
                smooth,
                depth_weight,
                bands,
                pml,
                limit,
                figures,
                progress: !quiet,
            })?;
            r.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            let (first, last) = (&r.iterations[0], &r.iterations[r.iterations.len() - 1]);
            println!(
                "{} sample(s), {} {} iterations ({} gradients) from {} on {} in {:.1} s (acquisition: {}; absorbing layer {} cells)",
                r.samples,
                r.iters,
                r.method.name(),
                r.evaluations,
                r.start,
                r.device,
                r.seconds,
                r.acquisition,
                r.pml
            );
            // Misfits of different bands are different measures: each band's own first and last.
            for band in r.iterations.chunk_by(|a, b| a.band_hz == b.band_hz) {
                let (a, b) = (&band[0], &band[band.len() - 1]);
                let name = if a.band_hz > 0.0 { format!("{} Hz low-pass", a.band_hz) } else { "full band".into() };
                println!(
                    "data misfit ({name}, iterates {}..{}): {:.4e} -> {:.4e} ({:.3}x)",
                    a.iter,
                    b.iter,
                    a.misfit,
                    b.misfit,
                    b.misfit / a.misfit
                );
            }
            if let (Some(a), Some(b)) = (&first.scores, &last.scores) {
                println!(
                    "vs truth: MAE {:.4} -> {:.4} ({:.3}x, {:.0} -> {:.0} m/s), RMSE {:.4} -> {:.4}, SSIM {:.4} -> {:.4}",
                    a.mae,
                    b.mae,
                    b.mae / a.mae,
                    a.mae_ms,
                    b.mae_ms,
                    a.rmse,
                    b.rmse,
                    a.ssim,
                    b.ssim
                );
            }
            println!("refined models -> {}", r.refined.display());
            println!("per iteration -> {}", out.join("refine.json").display());
            for f in &r.figures {
                println!("figure: {}", f.display());
            }
            Ok(true)
        }
        Command::Ablate { data, out, epochs, widths, batch, lr, loss, seed, seeds, val_every, limit, backend } => {
            let device = open(backend)?;
            let o = brine::app::ablate::Options {
                data,
                out: out.clone(),
                widths,
                epochs,
                batch,
                lr,
                loss,
                seed,
                seeds,
                val_every,
                limit,
                backend,
                progress: true,
            };
            let rows = brine::app::ablate::run(&o, &device, |variant, r| {
                println!("done: {variant}, seed {} (MAE {:.4}, SSIM {:.4})", r.seed, r.mae, r.ssim)
            })?;
            println!("\n{}", brine::app::ablate::markdown(&rows));
            println!("table: {} and {}", out.join("ablation.md").display(), out.join("ablation.json").display());
            Ok(true)
        }
        Command::Info => info(),
        Command::Check { golden, backend } => Ok(brine::app::check::run(&golden, backend)?),
        Command::Synth { preset, count, seed, geology, shard, per_file, out, backend, quiet, print_acquisition } => {
            let acq = Acquisition::preset_or_file(&preset)?;
            if print_acquisition {
                println!("{}", acq.to_json());
                return Ok(true);
            }
            let (Some(count), Some(out)) = (count, out) else { anyhow::bail!("--count and --out are required") };
            let job = brine::app::synth::Synth { acq, count, seed, geology, shard: shard.parse()?, per_file, out };
            let device = open_simulation(backend)?;
            let report = brine::app::synth::synth(&job, &device, !quiet, |w| eprintln!("warning: {w}"))?;
            println!(
                "{} samples in {} new file(s) ({} already complete) in {:.1} s ({:.2} samples/s) in {}",
                report.samples,
                report.files_written,
                report.files_skipped,
                report.seconds,
                report.samples as f64 / report.seconds.max(1e-9),
                job.out.display()
            );
            if report.norm.is_some() {
                println!("set complete: bounds in {}", job.out.join("norm.json").display());
            }
            Ok(true)
        }
        Command::Forward { model, acquisition, out, backend } => {
            if out.is_dir() {
                anyhow::bail!("--out {}: is a directory; give the .npy file to write", out.display());
            }
            let acq = Acquisition::preset_or_file(&acquisition)?;
            let (models, n, nz, nx) = brine::data::shards::read_models(&model)?;
            let device = open_simulation(backend)?;
            let (plan, data) = brine::seismic::forward(&device, &acq, &models, n, nz, nx, |_| {})
                .with_context(|| format!("simulating {}", model.display()))?;
            plan.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            let shape = [n, plan.shots, plan.samples, plan.receivers];
            brine::data::npy::write_atomic(&out, &shape, &data)?;
            println!("{} model(s) {nz}x{nx} -> {} {shape:?}", n, out.display());
            Ok(true)
        }
        Command::Show { file, out, index, shot, clip, vrange, grid } => {
            let opts = brine::app::show::ShowOptions { indices: index, shots: shot, clip, vrange, grid };
            for p in brine::app::show::show_file(&file, &out, &opts)? {
                println!("{}", p.display());
            }
            Ok(true)
        }
        Command::Bench { what } => bench(what).map(|_| true),
    }
}

fn bench(what: BenchWhat) -> Result<()> {
    use brine::app::bench;
    match what {
        BenchWhat::Wave { batch, steps, iters, cpu, cpu_only } => {
            let device = if cpu_only { Device::Cpu } else { Device::Gpu(Context::new()?) };
            bench::wave(&device, batch, steps, iters, cpu)?;
        }
        BenchWhat::Kernels { batch, iters, filter } => {
            bench::kernels(&Context::new()?, &brine::bench::Options { batch, iters, filter })?;
        }
        BenchWhat::Step { backend, batch, channels, height, width, widths, attention, no_gates, iters } => {
            let kinds: Vec<Attention> = if attention == "all" {
                vec![Attention::None, Attention::Se, Attention::Cbam, Attention::Ca]
            } else {
                vec![attention.parse()?]
            };
            let configs: Vec<Config> = kinds
                .into_iter()
                .map(|a| Config {
                    in_channels: channels,
                    out_channels: 1,
                    widths: widths.clone(),
                    attention: a,
                    gates: !no_gates,
                })
                .collect();
            bench::step(&open(backend)?, &configs, [batch, channels, height, width], iters)?;
        }
        BenchWhat::Gradient { backend, preset, batch, rounds, write } => {
            bench::gradient(&open(backend)?, &preset, batch, rounds, write.as_deref())?
        }
        BenchWhat::Anchors { rounds, reference, quick } => bench::anchors(rounds, reference, quick)?,
    }
    Ok(())
}

/// The files a run directory really holds, for the closing message.
fn run_files(dir: &Path) -> String {
    let names = ["metrics.csv", "best.safetensors", "last.safetensors"];
    let have: Vec<&str> = names.into_iter().filter(|n| dir.join(n).exists()).collect();
    if have.is_empty() { "nothing written yet".into() } else { have.join(", ") }
}

fn info() -> Result<bool> {
    println!("adapters:");
    for a in brine::gpu::adapter_summaries()? {
        println!("  {a}");
    }
    let ctx = Context::new()?;
    let l = &ctx.limits;
    println!("picked: {}", ctx.adapter_name());
    println!("  max storage binding      {} bytes", l.max_storage_buffer_binding_size);
    println!("  max buffer               {} bytes", l.max_buffer_size);
    println!("  workgroup memory         {} bytes", l.max_compute_workgroup_storage_size);
    println!("  invocations / workgroup  {}", l.max_compute_invocations_per_workgroup);
    let has = |f: wgpu::Features| if ctx.features.contains(f) { "yes" } else { "no" };
    println!("  subgroups                {}", has(wgpu::Features::SUBGROUP));
    println!("  shader-f16               {}", has(wgpu::Features::SHADER_F16));
    println!("  timestamp queries        {}", has(wgpu::Features::TIMESTAMP_QUERY));
    Ok(true)
}

fn print_scores(s: &brine::app::eval::Summary) {
    println!("  samples     {}", s.samples);
    if s.mirrored {
        println!("  (each prediction averaged with the one from the mirrored gathers: --mirror)");
    }
    println!("  MAE         {:.4}   (velocity normalised to [-1, 1])", s.mean.mae);
    println!("  RMSE        {:.4}", s.mean.rmse);
    println!("  SSIM        {:.4}   (on [0, 1])", s.mean.ssim);
    println!("  MAE         {:.1} m/s", s.mean.mae_ms);
    if let Some(b) = &s.baselines {
        for (name, sc, r) in [
            ("mean model", &b.mean_model, b.mae_ratio_mean_model),
            ("mean profile", &b.mean_profile, b.mae_ratio_mean_profile),
        ] {
            println!(
                "  baseline: the training set's {name:<13} MAE {:.4}  RMSE {:.4}  SSIM {:.4}  {:.1} m/s  (network / baseline MAE {r:.2})",
                sc.mae, sc.rmse, sc.ssim, sc.mae_ms
            );
        }
        println!("  {}", b.verdict());
    }
}

fn train(a: TrainArgs) -> Result<bool> {
    use brine::app::train::{RunSpec, read_spec, run};
    let (spec, dir, resume) = match &a.resume {
        Some(dir) => {
            let mut spec = read_spec(dir)?;
            let rows = brine::train::fit::read_metrics(dir)?;
            let done = rows.len();
            if done == 0 && dir.join("last.safetensors").exists() {
                anyhow::bail!(
                    "{}: holds last.safetensors but no metrics.csv rows, so the epochs done are unknown; \
                     refusing to resume",
                    dir.display()
                );
            }
            match a.epochs {
                Some(e) if e < done => {
                    anyhow::bail!("--epochs {e}: {} has done {done} epochs already", dir.display())
                }
                Some(e) => spec.epochs = e,
                None => {}
            }
            if a.seconds.is_some() {
                spec.budget_s = a.seconds;
            }
            let spent = brine::train::fit::spent_s(&rows);
            if let Some(b) = spec.budget_s.filter(|&b| spent >= b) {
                println!(
                    "{}: its {b} s budget is spent ({spent:.0} s); give --seconds to train further",
                    dir.display()
                );
            } else if done >= spec.epochs {
                println!("{}: all {done} epochs are done; give --epochs to train further", dir.display());
            } else {
                println!("resuming {} at epoch {} of {}", dir.display(), done + 1, spec.epochs);
            }
            spec.backend = a.backend.unwrap_or(spec.backend);
            (spec, dir.clone(), true)
        }
        None => {
            let (config, time_phases) = match &a.from {
                Some(ckpt) => {
                    let m = brine::checkpoint::Model::read(ckpt)?;
                    (m.config, m.layout.phases)
                }
                None => {
                    let shots = brine::train::dataset::shots(a.data.as_deref().unwrap_or(Path::new(".")))?;
                    // A count too large for the data is refused, naming the range, by the layout.
                    let in_channels = shots.saturating_mul(a.time_phases);
                    let config = Config {
                        in_channels,
                        out_channels: 1,
                        widths: a.widths.clone(),
                        attention: a.attention.parse()?,
                        gates: a.gates,
                    };
                    (config, a.time_phases)
                }
            };
            let spec = RunSpec {
                // Beside a time budget the epochs are only a cap.
                epochs: a.epochs.unwrap_or(if a.seconds.is_some() { 1000 } else { 20 }),
                budget_s: a.seconds,
                batch: a.batch,
                lr: a.lr,
                weight_decay: a.weight_decay,
                loss: a.loss.clone(),
                schedule: a.schedule.clone(),
                seed: a.seed,
                val_every: a.val_every,
                limit: a.limit,
                stream: a.stream,
                online: a.online,
                flip: a.flip,
                from: a.from.clone(),
                time_phases,
                backend: a.backend.unwrap_or(BackendChoice::Auto),
                ..RunSpec::new(a.data.clone().unwrap_or_default(), config)
            };
            (spec, a.out.clone(), false)
        }
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C: finish the current step, save the last checkpoint, then exit.
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let device = open(spec.backend)?;
    let r = run(&spec, &device, &dir, resume, true, &stop)?;
    println!("{} train / {} validation samples on {}", r.train_samples, r.val_samples, r.engine);
    if r.online {
        println!("every epoch trained on newly simulated salt models");
    }
    if r.streamed {
        println!("the training set was streamed from its shards, {} files at a time", brine::app::train::STREAM_WINDOW);
    }
    if let Some(last) = r.rows.last() {
        println!(
            "epoch {}: train loss {:.4}, validation loss {:.4}, validation MAE {:.4}; {:.1} ms per step",
            last.epoch + 1,
            last.train_loss,
            last.val_loss,
            last.val_mae,
            r.ms_per_step
        );
    }
    if let Some(w) = r.gpu_work {
        let n = w.count.max(1) as f64;
        println!(
            "per training step: {:.2} submissions, {:.2} host syncs; {} loss reads (one host sync each) in {} steps",
            w.steps.submissions as f64 / n,
            w.steps.syncs as f64 / n,
            w.loss_reads,
            w.count
        );
    }
    println!("run: {} ({})", dir.display(), run_files(&dir));
    if r.interrupted {
        println!(
            "interrupted: saved {}; continue with --resume {}",
            dir.join("last.safetensors").display(),
            dir.display()
        );
        return Ok(false);
    }
    Ok(true)
}
