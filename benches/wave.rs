//! `cargo bench --bench wave [-- --batch N --steps N --iters N --cpu]`: the same propagator
//! benchmark as `brine bench wave` (cell-updates per second, openfwi and fcnvmb presets).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut batch, mut steps, mut iters, mut cpu) = (64usize, 100usize, 3usize, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--batch" => batch = args.next().ok_or("--batch needs a value")?.parse()?,
            "--steps" => steps = args.next().ok_or("--steps needs a value")?.parse()?,
            "--iters" => iters = args.next().ok_or("--iters needs a value")?.parse()?,
            "--cpu" => cpu = true,
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let ctx = brine::Context::new()?;
    println!("adapter: {}", ctx.adapter_name());
    for (preset, b) in [("openfwi", batch), ("fcnvmb", (batch / 4).max(1))] {
        println!("{}", brine::seismic::bench::gpu(&ctx, preset, b, steps, iters)?.line());
        if cpu {
            println!("{}", brine::seismic::bench::cpu(preset, b, steps.min(20))?.line());
        }
    }
    Ok(())
}
