//! The brine command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use brine::golden::{self, FileKind, GoldenFile};
use brine::nn::{Attention, Config};
use brine::seismic::{Acquisition, Engine};
use brine::{Backend, Context, Cpu, Gpu};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "brine",
    version,
    about = "Attention U-Net for seismic salt-body velocity inversion, on any GPU through wgpu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the GPU adapters, and the one brine picks with its limits and features.
    Info,
    /// Check the kernels against golden vectors (every .safetensors file in DIR).
    Check {
        /// Directory of golden files in the format of shared/golden/README.md.
        #[arg(long)]
        golden: PathBuf,
        /// Which backend to check; `all` checks the CPU and, where an adapter exists, the GPU.
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
        /// Also time the CPU twin (a few steps).
        #[arg(long)]
        cpu: bool,
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
        #[arg(long, default_value_t = 8)]
        batch: usize,
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
    match cli.command {
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
        Command::Bench { what: BenchWhat::Wave { batch, steps, iters, cpu } } => {
            if batch == 0 || steps == 0 || iters == 0 {
                bail!("--batch, --steps and --iters must be at least 1");
            }
            let ctx = Context::new()?;
            println!("adapter: {}", ctx.adapter_name());
            let timing = if ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
                "GPU timestamps"
            } else {
                "wall clock (no timestamp queries)"
            };
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
            let timing = if ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
                "GPU timestamps"
            } else {
                "wall clock (no timestamp queries)"
            };
            println!("batch {batch}, median of {iters} runs, timed with {timing}");
            let opts = brine::bench::Options { batch, iters, filter };
            brine::bench::kernels(&ctx, &opts, |row| println!("{}", row.line()))?;
            Ok(true)
        }
        Command::Bench { what: BenchWhat::Step { batch, height, width, widths, attention, no_gates, iters } } => {
            if iters == 0 {
                bail!("--iters must be at least 1");
            }
            let kinds: Vec<Attention> = if attention == "all" {
                vec![Attention::None, Attention::Se, Attention::Cbam, Attention::Ca]
            } else {
                vec![attention.parse()?]
            };
            let ctx = Context::new()?;
            println!("adapter: {}", ctx.adapter_name());
            println!("input {batch}x8x{height}x{width}, widths {widths:?}, median of {iters} steps (wall clock)");
            for a in kinds {
                let cfg =
                    Config { in_channels: 8, out_channels: 1, widths: widths.clone(), attention: a, gates: !no_gates };
                let row = brine::bench::step(&ctx, &cfg, [batch, 8, height, width], iters)?;
                println!("{}", row.line());
            }
            Ok(true)
        }
    }
}

/// Runs `f` where `--engine` says: auto takes a hardware GPU, else the CPU twin.
fn with_engine(which: EngineArg, f: impl FnOnce(Engine) -> Result<bool>) -> Result<bool> {
    if which == EngineArg::Cpu {
        return f(Engine::Cpu);
    }
    match Context::new() {
        Ok(ctx) if which == EngineArg::Gpu || ctx.info.device_type != wgpu::DeviceType::Cpu => {
            eprintln!("simulating on {}", ctx.adapter_name());
            f(Engine::Gpu(&ctx))
        }
        Ok(ctx) => {
            eprintln!(
                "note: {} is a software adapter; simulating on the CPU twin (--engine gpu to use it)",
                ctx.adapter_name()
            );
            f(Engine::Cpu)
        }
        Err(e) if which == EngineArg::Auto => {
            eprintln!("note: {e}; simulating on the CPU twin");
            f(Engine::Cpu)
        }
        Err(e) => Err(e.into()),
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
