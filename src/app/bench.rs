//! `brine bench`: the command bodies over the benchmark library (`crate::bench`, and the
//! wave engine's in `seismic::bench`). Each prints its rows as they are measured.

use std::path::PathBuf;

use crate::bench::{self, cpu::Machine};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::nn::Config;

fn at_least_one(flags: &[(&str, usize)]) -> Result<()> {
    match flags.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(Error::config("bench", format!("{name} must be at least 1"))),
        None => Ok(()),
    }
}

/// How the GPU benchmarks on `ctx` are timed.
fn timing_source(ctx: &Context) -> &'static str {
    if ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        "GPU timestamps"
    } else {
        "wall clock (no timestamp queries)"
    }
}

/// `brine bench wave`: the propagator on the openfwi and fcnvmb presets, on the GPU (and
/// the CPU engine too when `cpu`), or on the CPU alone when `device` is the CPU.
pub fn wave(device: &Device, batch: usize, steps: usize, iters: usize, cpu: bool) -> Result<()> {
    at_least_one(&[("--batch", batch), ("--steps", steps), ("--iters", iters)])?;
    let presets = [("openfwi", batch), ("fcnvmb", (batch / 4).max(1))];
    let Some(ctx) = device.gpu() else {
        println!("{}", Machine::measure().describe());
        for (preset, b) in presets {
            println!("{}", crate::seismic::bench::cpu(preset, b, steps)?.line());
        }
        return Ok(());
    };
    println!("adapter: {}", ctx.adapter_name());
    println!(
        "median of {iters} runs, timed with {}; a step = wave_psi + wave_step over padded grids",
        timing_source(ctx)
    );
    for (preset, b) in presets {
        println!("{}", crate::seismic::bench::gpu(ctx, preset, b, steps, iters)?.line());
        if cpu {
            println!("{}", crate::seismic::bench::cpu(preset, b, steps.min(20))?.line());
        }
    }
    Ok(())
}

/// `brine bench gradient`: the misfit gradient beside the forward on one device.
pub fn gradient(
    device: &Device,
    preset: &str,
    batch: usize,
    rounds: usize,
    write: Option<&std::path::Path>,
) -> Result<()> {
    at_least_one(&[("--batch", batch), ("--rounds", rounds)])?;
    match device.gpu() {
        Some(ctx) => println!("adapter: {}", ctx.adapter_name()),
        None => println!("{}", Machine::measure().describe()),
    }
    // A warm-up on one model, so pipelines and thread pools are made before the timing.
    crate::seismic::bench::gradient(device, preset, 1, 1, None)?;
    let (row, cells) = crate::seismic::bench::gradient(device, preset, batch, rounds, write)?;
    println!("median of {rounds} rounds, forward and gradient alternated");
    for line in row.lines(cells) {
        println!("{line}");
    }
    if let Some(dir) = write {
        println!("case written to {} (compare: python3 benches/deepwave_gradient.py {})", dir.display(), dir.display());
    }
    Ok(())
}

/// `brine bench kernels`: every kernel at the `bench` network's shapes, each checked
/// against the CPU backend before it is timed.
pub fn kernels(ctx: &Context, opts: &bench::Options) -> Result<()> {
    at_least_one(&[("--batch", opts.batch), ("--iters", opts.iters)])?;
    println!("adapter: {}", ctx.adapter_name());
    println!(
        "batch {}, median of {} runs, timed with {}; each kernel first checked against the CPU backend (max |error| / max |value|)",
        opts.batch,
        opts.iters,
        timing_source(ctx)
    );
    bench::kernels(ctx, opts, |row| println!("{}", row.line()))?;
    Ok(())
}

/// `brine bench step`: the training step and inference of each config, through the runner.
pub fn step(device: &Device, configs: &[Config], x: [usize; 4], iters: usize) -> Result<()> {
    at_least_one(&[
        ("--iters", iters),
        ("--batch", x[0]),
        ("--channels", x[1]),
        ("--height", x[2]),
        ("--width", x[3]),
    ])?;
    let peak = match device {
        Device::Gpu(ctx) => {
            println!("adapter: {}", ctx.adapter_name());
            None
        }
        _ => {
            let machine = Machine::measure();
            println!("cpu backend: {}", machine.describe());
            Some(machine.peak_gflops)
        }
    };
    let widths = configs.first().map(|c| c.widths.clone()).unwrap_or_default();
    println!(
        "input {x:?}, widths {widths:?}: {iters} training steps as `brine train` runs them (losses read back once, \
         at the end), after 2 warm-up steps; inference: median of {iters}"
    );
    for cfg in configs {
        println!("{}", bench::step(device, cfg, x, iters)?.line(peak));
    }
    Ok(())
}

/// `brine bench anchors`: brine's CPU side against PyTorch's CPU step, deepwave's CPU
/// propagator and its gradient, alternated round by round on the same shapes and threads.
pub fn anchors(rounds: usize, reference: Option<PathBuf>, quick: bool) -> Result<()> {
    at_least_one(&[("--rounds", rounds)])?;
    let dir = reference.unwrap_or_else(bench::cpu::default_reference_dir);
    let machine = Machine::measure();
    println!("{}", machine.describe());
    println!(
        "anchors from {}; {rounds} round(s) of brine then anchor, medians; ratio < 1: brine is faster",
        dir.display()
    );
    bench::cpu::anchors(&dir, rounds, quick, machine.threads, |pair| println!("{}", pair.line()))?;
    Ok(())
}
