//! The brine command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use brine::app::BackendChoice;
use brine::golden::{self, FileKind, GoldenFile};
use brine::nn::{Attention, Config};
use brine::seismic::{Acquisition, Engine};
use brine::{Backend, Context, Cpu, Gpu, Reference};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "brine",
    version,
    about = "Attention U-Net for seismic salt-body velocity inversion, on any GPU through wgpu"
)]
struct Cli {
    /// Threads for the CPU backend and the CPU wave engine (default: RAYON_NUM_THREADS, else
    /// one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

/// The model shipped with brine, trained by `brine train` on `brine synth --preset openfwi` data.
const SHIPPED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/model/openfwi_cbam_gates.safetensors");

#[derive(Subcommand)]
enum Command {
    /// From nothing to a trained attention U-Net: synthesise a small salt set, train for a
    /// bounded time, evaluate on unseen samples and draw predictions.
    Demo {
        #[arg(long, default_value = "brine-demo")]
        out: PathBuf,
        /// Training samples to synthesise.
        #[arg(long, default_value_t = 160)]
        samples: usize,
        /// Training time budget in seconds (default: 60 on a hardware GPU, 150 on the CPU).
        #[arg(long)]
        seconds: Option<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the network runs: auto (the GPU if there is an adapter), gpu or cpu.
        #[arg(long, default_value = "auto")]
        backend: String,
    },
    /// Train an attention U-Net on shards from `brine synth` or OpenFWI's files.
    Train(TrainArgs),
    /// MAE, RMSE and SSIM of a checkpoint on a dataset (OpenFWI's conventions) and MAE in m/s.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Where eval.csv (per sample) and eval.json (summary) go; default: beside the checkpoint.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value = "auto")]
        backend: String,
    },
    /// Predict velocity models from shot gathers: prediction.npy (m/s) and figures.
    Infer {
        /// Default: the shipped model (OpenFWI layout: 5 shots × 1000 samples × 70 receivers,
        /// 70 × 70 models), assets/model/openfwi_cbam_gates.safetensors.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Seismic data .npy: (N, shots, time, receivers).
        #[arg(long)]
        data: PathBuf,
        /// Velocity models to compare with (default: the data file's `model` sibling, if any).
        #[arg(long)]
        truth: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// At most this many figures.
        #[arg(long, default_value_t = 8)]
        figures: usize,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long, default_value = "auto")]
        backend: String,
    },
    /// Train none, se, cbam and ca, each with and without gates, on one split and budget,
    /// and compare them (MAE, RMSE, SSIM, parameters, ms per step).
    Ablate {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "ablation")]
        out: PathBuf,
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        #[arg(long, default_value = "32,64,128,256", value_delimiter = ',')]
        widths: Vec<usize>,
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        #[arg(long, default_value = "l1")]
        loss: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 10)]
        val_every: usize,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value = "auto")]
        backend: String,
    },
    /// List the GPU adapters, and the one brine picks with its limits and features.
    Info,
    /// Check the kernels against golden vectors (every .safetensors file in DIR).
    Check {
        /// Directory of golden files in the format of shared/golden/README.md.
        #[arg(long)]
        golden: PathBuf,
        /// Which backend to check; `all` checks the CPU and, where an adapter exists, the GPU;
        /// `reference` checks the plain-loop twins.
        #[arg(long, value_enum, default_value_t = Which::All)]
        backend: Which,
    },
    /// Make a dataset: random salt models and their simulated shot gathers, as .npy shards.
    Synth {
        /// Acquisition: a preset (openfwi, fcnvmb) or a JSON file that gives nz and nx.
        #[arg(long, default_value = "openfwi")]
        preset: String,
        /// Samples in the whole set.
        #[arg(long)]
        count: usize,
        /// Seed of the set: sample k is drawn from (seed, k).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// i/n: make the files c with c mod n = i (split a set over processes or machines).
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Samples per file.
        #[arg(long, default_value_t = 500)]
        per_file: usize,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Where to simulate: auto (the GPU, or the CPU twin when the only adapter is a
        /// software one such as lavapipe, which the twin outruns), gpu, or cpu.
        #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
        engine: EngineArg,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Print the acquisition as JSON and exit.
        #[arg(long)]
        print_acquisition: bool,
    },
    /// Simulate shot gathers for velocity models you bring.
    Forward {
        /// Velocity models in m/s: .npy of shape (nz, nx), (N, nz, nx) or (N, 1, nz, nx).
        #[arg(long)]
        model: PathBuf,
        /// Acquisition: a JSON file or a preset name (openfwi, fcnvmb).
        #[arg(long)]
        acquisition: String,
        /// Output .npy: float32 (N, shots, time, receivers).
        #[arg(long)]
        out: PathBuf,
        /// Where to simulate: auto (the GPU, or the CPU twin when the only adapter is a
        /// software one such as lavapipe, which the twin outruns), gpu, or cpu.
        #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
        engine: EngineArg,
    },
    /// Draw velocity models or shot gathers from a .npy file as PNGs.
    Show {
        /// A model file ((nz, nx), (N, nz, nx), (N, 1, nz, nx)) or a data file (N, shots, time, receivers).
        file: PathBuf,
        /// Output directory.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Samples to draw, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        index: Vec<usize>,
        /// Shots to draw from a data file, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        shot: Option<Vec<usize>>,
        /// Percentile of |amplitude| that saturates a gather's colours.
        #[arg(long, default_value_t = 99.0)]
        clip: f64,
        /// Colour range of models in m/s, e.g. 1500,4500 (default: the file's range).
        #[arg(long, value_parser = parse_range)]
        vrange: Option<(f64, f64)>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// The wave propagator: cell-updates per second on the openfwi and fcnvmb presets.
    Wave {
        /// Models per batch for openfwi (fcnvmb uses a quarter, at least 1).
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Time steps timed per run.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Timed runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Also time the CPU engine (a few steps).
        #[arg(long)]
        cpu: bool,
        /// Time only the CPU engine (no GPU needed).
        #[arg(long)]
        cpu_only: bool,
    },
    /// Every kernel at the shapes of the `bench` network (SPEC.md).
    Kernels {
        /// Batch size (the bench network uses 8).
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Timed runs per kernel; the median is reported.
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Only kernels whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// The training step and inference of the `bench` network (SPEC.md).
    Step {
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, default_value = "auto")]
        backend: String,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Input channels (shots).
        #[arg(long, default_value_t = 8)]
        channels: usize,
        #[arg(long, default_value_t = 256)]
        height: usize,
        #[arg(long, default_value_t = 128)]
        width: usize,
        /// Comma-separated widths per level.
        #[arg(long, default_value = "32,64,128,256,512", value_delimiter = ',')]
        widths: Vec<usize>,
        /// none, se, cbam, ca, or all (each of the four, with gates as set).
        #[arg(long, default_value = "cbam")]
        attention: String,
        /// Leave out the attention gates on the skips.
        #[arg(long)]
        no_gates: bool,
        #[arg(long, default_value_t = 5)]
        iters: usize,
    },
    /// The CPU backend and the CPU wave engine beside PyTorch's CPU step and deepwave's CPU
    /// propagator (run through python when installed), on the same shapes and threads,
    /// alternated round by round.
    Anchors {
        /// Rounds of brine then anchor; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Directory of torch_cpu_step.py and deepwave_cpu_step.py.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Smaller problems (a quick look, not the figures).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Dataset directory (brine shards or OpenFWI dataN.npy/modelN.npy pairs).
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// none, se, cbam or ca.
    #[arg(long, default_value = "cbam")]
    attention: String,
    /// Attention gates on the skip connections.
    #[arg(long)]
    gates: bool,
    #[arg(long, default_value = "32,64,128,256", value_delimiter = ',')]
    widths: Vec<usize>,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// l1, mse or l1+mse.
    #[arg(long, default_value = "l1")]
    loss: String,
    /// constant, cosine, or step:EVERY:GAMMA.
    #[arg(long, default_value = "constant")]
    schedule: String,
    /// Decoupled weight decay (AdamW) when positive.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hold out every N-th sample for validation.
    #[arg(long, default_value_t = 10)]
    val_every: usize,
    /// Use at most this many samples.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Run directory: run.json, metrics.csv, best and last checkpoints.
    #[arg(long, default_value = "run")]
    out: PathBuf,
    /// Continue the run in this directory (its run.json; --epochs may extend it).
    #[arg(long)]
    resume: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    Auto,
    Gpu,
    Cpu,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Gpu,
    Cpu,
    /// The plain-loop reference twins that the CPU and GPU backends are checked against.
    Reference,
    All,
}

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

fn run(cli: Cli) -> Result<bool> {
    // Before anything starts rayon's pool: a bad count is an error, an absurd one is clamped.
    let (_, note) = brine::fast::threads::init(cli.threads)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    match cli.command {
        Command::Demo { out, samples, seconds, seed, backend } => {
            let backend: BackendChoice = backend.parse()?;
            let on_gpu = backend != BackendChoice::Cpu && BackendChoice::Auto.context()?.is_some();
            let budget_s = seconds.unwrap_or(if on_gpu { 60.0 } else { 150.0 });
            let o = brine::app::demo::Options { out, samples, budget_s, seed, backend, ..Default::default() };
            let r = brine::app::demo::run(&o, |line| println!("{line}"))?;
            println!("\ntest set ({} samples never trained on):", r.test.samples);
            print_scores(&r.test);
            println!("\nwrote:");
            println!("  data        {}", r.data.display());
            println!("  run         {} (metrics.csv, best.safetensors, last.safetensors)", r.run.display());
            println!("  metrics     {}", o.out.join("eval.json").display());
            for f in &r.figures {
                println!("  figure      {}", f.display());
            }
            Ok(true)
        }
        Command::Train(a) => train(a),
        Command::Eval { checkpoint, data, out, batch, limit, backend } => {
            let out = out.unwrap_or_else(|| checkpoint.parent().map(Path::to_path_buf).unwrap_or_default());
            let (_, summary) = brine::app::eval::run(&checkpoint, &data, Some(&out), backend.parse()?, batch, limit)?;
            print_scores(&summary);
            println!("per sample: {}\nsummary:    {}", out.join("eval.csv").display(), out.join("eval.json").display());
            Ok(true)
        }
        Command::Infer { checkpoint, data, truth, out, figures, batch, backend } => {
            let checkpoint = checkpoint.unwrap_or_else(|| PathBuf::from(SHIPPED_MODEL));
            let r = brine::app::infer::run(&brine::app::infer::Options {
                checkpoint: &checkpoint,
                data: &data,
                truth: truth.as_deref(),
                out: &out,
                backend: backend.parse()?,
                batch,
                figures,
            })?;
            println!("{} velocity model(s) -> {}", r.samples, r.prediction.display());
            if !r.scores.is_empty() {
                print_scores(&brine::app::eval::mean(&r.scores));
            }
            for f in &r.figures {
                println!("figure: {}", f.display());
            }
            Ok(true)
        }
        Command::Ablate { data, out, epochs, widths, batch, lr, loss, seed, val_every, limit, backend } => {
            let o = brine::app::ablate::Options {
                data,
                out: out.clone(),
                widths,
                epochs,
                batch,
                lr,
                loss,
                seed,
                val_every,
                limit,
                backend: backend.parse()?,
                progress: true,
            };
            let rows = brine::app::ablate::run(&o, |r| {
                println!("done: {} (MAE {:.4}, SSIM {:.4})", r.variant, r.mae, r.ssim)
            })?;
            println!("\n{}", brine::app::ablate::markdown(&rows));
            println!("table: {} and {}", out.join("ablation.md").display(), out.join("ablation.json").display());
            Ok(true)
        }
        Command::Info => info(),
        Command::Check { golden, backend } => check(&golden, backend),
        Command::Synth { preset, count, seed, shard, per_file, out, engine, quiet, print_acquisition } => {
            let acq = Acquisition::preset_or_file(&preset)?;
            if print_acquisition {
                println!("{}", acq.to_json());
                return Ok(true);
            }
            let job = brine::data::Synth { acq, count, seed, shard: shard.parse()?, per_file, out };
            with_engine(engine, |engine| {
                let report = brine::data::shards::synth(&job, engine, !quiet, |w| eprintln!("warning: {w}"))?;
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
            })
        }
        Command::Forward { model, acquisition, out, engine } => {
            let acq = Acquisition::preset_or_file(&acquisition)?;
            let (models, n, nz, nx) = brine::data::shards::read_models(&model)?;
            with_engine(engine, |engine| {
                let (plan, data) = brine::seismic::forward(engine, &acq, &models, n, nz, nx, |_| {})
                    .with_context(|| format!("simulating {}", model.display()))?;
                plan.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
                let shape = [n, plan.shots, plan.samples, plan.receivers];
                brine::data::npy::write_atomic(&out, &shape, &data)?;
                println!("{} model(s) {nz}x{nx} -> {} {shape:?}", n, out.display());
                Ok(true)
            })
        }
        Command::Show { file, out, index, shot, clip, vrange } => {
            let opts = brine::seismic::show::ShowOptions { indices: index, shots: shot, clip, vrange };
            for p in brine::seismic::show::show_file(&file, &out, &opts)? {
                println!("{}", p.display());
            }
            Ok(true)
        }
        Command::Bench { what: BenchWhat::Wave { batch, steps, iters, cpu, cpu_only } } => {
            if batch == 0 || steps == 0 || iters == 0 {
                bail!("--batch, --steps and --iters must be at least 1");
            }
            if cpu_only {
                println!("{}", brine::bench_cpu::Machine::measure().describe());
                for (preset, b) in [("openfwi", batch), ("fcnvmb", (batch / 4).max(1))] {
                    println!("{}", brine::seismic::bench::cpu(preset, b, steps)?.line());
                }
                return Ok(true);
            }
            let ctx = Context::new()?;
            println!("adapter: {}", ctx.adapter_name());
            let timing = timing_source(&ctx);
            println!("median of {iters} runs, timed with {timing}; a step = wave_psi + wave_step over padded grids");
            for (preset, b) in [("openfwi", batch), ("fcnvmb", (batch / 4).max(1))] {
                println!("{}", brine::seismic::bench::gpu(&ctx, preset, b, steps, iters)?.line());
                if cpu {
                    println!("{}", brine::seismic::bench::cpu(preset, b, steps.min(20))?.line());
                }
            }
            Ok(true)
        }
        Command::Bench { what: BenchWhat::Kernels { batch, iters, filter } } => {
            if batch == 0 || iters == 0 {
                bail!("--batch and --iters must be at least 1");
            }
            let ctx = Context::new()?;
            println!("adapter: {}", ctx.adapter_name());
            let timing = timing_source(&ctx);
            println!("batch {batch}, median of {iters} runs, timed with {timing}");
            let opts = brine::bench::Options { batch, iters, filter };
            brine::bench::kernels(&ctx, &opts, |row| println!("{}", row.line()))?;
            Ok(true)
        }
        Command::Bench {
            what: BenchWhat::Step { backend, batch, channels, height, width, widths, attention, no_gates, iters },
        } => {
            if iters == 0 || batch == 0 || channels == 0 {
                bail!("--iters, --batch and --channels must be at least 1");
            }
            let kinds: Vec<Attention> = if attention == "all" {
                vec![Attention::None, Attention::Se, Attention::Cbam, Attention::Ca]
            } else {
                vec![attention.parse()?]
            };
            let x = [batch, channels, height, width];
            let config = |a| Config {
                in_channels: channels,
                out_channels: 1,
                widths: widths.clone(),
                attention: a,
                gates: !no_gates,
            };
            let choice: BackendChoice = backend.parse()?;
            let Some(ctx) = choice.context()? else {
                let machine = brine::bench_cpu::Machine::measure();
                println!("cpu backend: {}", machine.describe());
                println!("input {x:?}, widths {widths:?}, median of {iters} steps (wall clock, after 2 warm-up steps)");
                for a in kinds {
                    println!("{}", brine::bench_cpu::step(&config(a), x, iters)?.line(machine.peak_gflops));
                }
                return Ok(true);
            };
            println!("adapter: {}", ctx.adapter_name());
            println!("input {x:?}, widths {widths:?}, median of {iters} steps (wall clock)");
            for a in kinds {
                println!("{}", brine::bench::step(&ctx, &config(a), x, iters)?.line());
            }
            Ok(true)
        }
        Command::Bench { what: BenchWhat::Anchors { rounds, reference, quick } } => anchors(rounds, reference, quick),
    }
}

/// Runs `f` where `--engine` says: auto takes a hardware GPU, else the CPU twin.
fn with_engine(which: EngineArg, f: impl FnOnce(Engine) -> Result<bool>) -> Result<bool> {
    let choice = match which {
        EngineArg::Auto => BackendChoice::Auto,
        EngineArg::Gpu => BackendChoice::Gpu,
        EngineArg::Cpu => BackendChoice::Cpu,
    };
    match choice.context()? {
        Some(ctx) => {
            eprintln!("simulating on {}", ctx.adapter_name());
            f(Engine::Gpu(&ctx))
        }
        None if which == EngineArg::Auto => {
            eprintln!("note: no hardware GPU; simulating on the CPU twin (--engine gpu to use a software adapter)");
            f(Engine::Cpu)
        }
        None => f(Engine::Cpu),
    }
}

/// `lo,hi` with lo < hi.
fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected lo,hi, e.g. 1500,4500")?;
    let (a, b): (f64, f64) =
        (a.trim().parse().map_err(|e| format!("{e}"))?, b.trim().parse().map_err(|e| format!("{e}"))?);
    if a < b { Ok((a, b)) } else { Err(format!("{a},{b}: lo must be below hi")) }
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

fn check(dir: &Path, which: Which) -> Result<bool> {
    let files: Vec<GoldenFile> =
        golden::list_dir(dir)?.iter().map(|p| GoldenFile::open(p)).collect::<brine::Result<_>>()?;
    let mut ok = true;
    if which == Which::Reference {
        return Ok(check_backend(&Reference, &files));
    }
    if which != Which::Gpu {
        ok &= check_backend(&Cpu, &files);
    }
    if which != Which::Cpu {
        match Context::new() {
            Ok(ctx) => ok &= check_backend(&Gpu::new(&ctx), &files),
            Err(e) if which == Which::All => eprintln!("!!! GPU not checked: {e}"),
            Err(e) => return Err(e).context("--backend gpu"),
        }
    }
    Ok(ok)
}

/// Prints one line per case; true when every case passed.
fn check_backend<B: Backend>(b: &B, files: &[GoldenFile]) -> bool {
    println!("== backend {}", b.name());
    let (mut passed, mut failed) = (0, 0);
    for f in files {
        println!("-- {}", f.path.file_name().unwrap_or_default().to_string_lossy());
        let cases = match golden::kind(f) {
            FileKind::Net => vec![golden::run_net(b, f)],
            FileKind::Ops => golden::run_ops(b, f),
        };
        for case in cases {
            println!("{}", case.line());
            if case.passed() { passed += 1 } else { failed += 1 }
        }
    }
    println!("== {}: {passed} cases pass, {failed} fail", b.name());
    failed == 0
}

fn print_scores(s: &brine::app::eval::Summary) {
    println!("  samples     {}", s.samples);
    println!("  MAE         {:.4}   (velocity normalised to [-1, 1])", s.mean.mae);
    println!("  RMSE        {:.4}", s.mean.rmse);
    println!("  SSIM        {:.4}   (on [0, 1])", s.mean.ssim);
    println!("  MAE         {:.1} m/s", s.mean.mae_ms);
}

fn train(a: TrainArgs) -> Result<bool> {
    use brine::app::train::{RunSpec, read_spec, run};
    let (spec, dir, resume) = match &a.resume {
        Some(dir) => {
            let mut spec = read_spec(dir)?;
            spec.epochs = spec.epochs.max(a.epochs);
            (spec, dir.clone(), true)
        }
        None => {
            let in_channels = brine::train::dataset::shots(a.data.as_deref().unwrap_or(Path::new(".")))?;
            let spec = RunSpec {
                data: a.data.clone().unwrap_or_default(),
                config: Config {
                    in_channels,
                    out_channels: 1,
                    widths: a.widths.clone(),
                    attention: a.attention.parse()?,
                    gates: a.gates,
                },
                epochs: a.epochs,
                batch: a.batch,
                lr: a.lr,
                weight_decay: a.weight_decay,
                loss: a.loss.clone(),
                schedule: a.schedule.clone(),
                seed: a.seed,
                val_every: a.val_every,
                limit: a.limit,
                backend: a.backend.parse()?,
                budget_s: None,
            };
            (spec, a.out.clone(), false)
        }
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C: finish the current step, save the last checkpoint, then exit.
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let r = run(&spec, &dir, resume, true, &stop)?;
    println!("{} train / {} validation samples on {}", r.train_samples, r.val_samples, r.engine);
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
    println!("run: {} (metrics.csv, best.safetensors, last.safetensors)", dir.display());
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

/// brine's CPU backend and wave engine against PyTorch's CPU step and deepwave's CPU
/// propagator, alternated round by round on the same shapes and threads.
fn anchors(rounds: usize, reference: Option<PathBuf>, quick: bool) -> Result<bool> {
    if rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let dir = reference.unwrap_or_else(brine::bench_cpu::default_reference_dir);
    let machine = brine::bench_cpu::Machine::measure();
    println!("{}", machine.describe());
    println!(
        "anchors from {}; {rounds} round(s) of brine then anchor, medians; ratio < 1: brine is faster",
        dir.display()
    );
    brine::bench_cpu::anchors(&dir, rounds, quick, machine.threads, |pair| println!("{}", pair.line()))?;
    Ok(true)
}

/// How the benchmarks on `ctx` are timed.
fn timing_source(ctx: &Context) -> &'static str {
    if ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        "GPU timestamps"
    } else {
        "wall clock (no timestamp queries)"
    }
}
