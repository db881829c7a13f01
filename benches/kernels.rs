//! `cargo bench --bench kernels [-- --batch N --iters N --filter TEXT]`: the same kernel
//! benchmarks as `brine bench kernels`, at the `bench` network's shapes.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = brine::bench::Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--batch" => opts.batch = args.next().ok_or("--batch needs a value")?.parse()?,
            "--iters" => opts.iters = args.next().ok_or("--iters needs a value")?.parse()?,
            "--filter" => opts.filter = Some(args.next().ok_or("--filter needs a value")?),
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let ctx = brine::Context::new()?;
    println!("adapter: {}, batch {}, median of {} runs", ctx.adapter_name(), opts.batch, opts.iters);
    brine::bench::kernels(&ctx, &opts, |row| println!("{}", row.line()))?;
    Ok(())
}
