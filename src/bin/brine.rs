//! The brine command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use brine::golden::{self, FileKind, GoldenFile};
use brine::nn::{Attention, Config};
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
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
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
