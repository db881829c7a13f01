//! Kernel benchmarks at the shapes of SPEC.md's `bench` network (batch 8, 8×256×128,
//! widths 32…512), timed with GPU timestamps where the adapter has them, else the wall
//! clock around submit-and-wait. Used by `brine bench kernels` and `benches/kernels.rs`.

use crate::error::Result;
use crate::gpu::{Context, GpuTensor, Recorder, Timer};
use crate::kernels;
use crate::ops::*;
use crate::rng::Rng;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub batch: usize,
    pub iters: usize,
    /// Only rows whose name contains this.
    pub filter: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options { batch: 8, iters: 10, filter: None }
    }
}

/// One measured kernel.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub shape: String,
    pub ms: f64,
    /// GFLOP/s for convolutions, GB/s for memory-bound kernels.
    pub rate: f64,
    pub unit: &'static str,
}

impl Row {
    pub fn line(&self) -> String {
        format!("{:<34} {:<26} {:>10.4} ms {:>9.1} {}", self.name, self.shape, self.ms, self.rate, self.unit)
    }
}

/// Median milliseconds of `iters` runs of `record` (after one warm-up).
pub fn time(ctx: &Context, iters: usize, mut record: impl FnMut(&mut Recorder) -> Result<()>) -> Result<f64> {
    let mut timer = Timer::new(ctx);
    let mut samples = Vec::with_capacity(iters);
    for i in 0..=iters {
        let start = std::time::Instant::now();
        let ms = match timer.as_mut() {
            Some(t) => {
                let mut r = ctx.recorder().with_timer(t);
                record(&mut r)?;
                r.submit()?;
                t.take_ms(ctx)?
            }
            None => {
                let mut r = ctx.recorder();
                record(&mut r)?;
                r.submit()?;
                ctx.wait()?;
                start.elapsed().as_secs_f64() * 1e3
            }
        };
        if i > 0 {
            samples.push(ms);
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

fn random(ctx: &Context, rng: &mut Rng, name: &str, len: usize) -> Result<GpuTensor> {
    ctx.upload(name, &rng.normal_vec(len, 1.0))
}

fn fmt_shape(s: &[usize]) -> String {
    s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

/// Runs the kernel benchmarks; `report` sees each row as soon as it is measured.
pub fn kernels(ctx: &Context, opts: &Options, mut report: impl FnMut(&Row)) -> Result<Vec<Row>> {
    const WIDTHS: [usize; 5] = [32, 64, 128, 256, 512];
    let (n, iters) = (opts.batch, opts.iters);
    let mut rng = Rng::new(7);
    let mut rows = vec![];
    let wanted = |name: &str| opts.filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let mut push = |row: Row, rows: &mut Vec<Row>| {
        report(&row);
        rows.push(row);
    };
    for (l, &c) in WIDTHS.iter().enumerate() {
        let (h, w) = (256 >> l, 128 >> l);
        let cin = if l == 0 { 8 } else { WIDTHS[l - 1] };
        let mut convs = vec![(format!("conv3x3 enc c1 L{l}"), cin), (format!("conv3x3 enc c2 L{l}"), c)];
        if l + 1 < WIDTHS.len() {
            convs.push((format!("conv3x3 dec c1 L{l}"), 2 * c));
        }
        for (name, ci) in convs {
            let g = Conv2d::new([n, ci, h, w], c, [3, 3], 1, 1)?;
            let shape = format!("{} -> {c}", fmt_shape(&g.x_shape()));
            let x = random(ctx, &mut rng, "x", n * ci * h * w)?;
            let wt = random(ctx, &mut rng, "w", c * ci * 9)?;
            let dy = random(ctx, &mut rng, "dy", n * c * h * w)?;
            let gf = g.flops() / 1e9;
            for (dir, which) in [("fwd", 0), ("bwd-data", 1), ("bwd-weight", 2)] {
                let row_name = format!("{name} {dir}");
                if !wanted(&row_name) {
                    continue;
                }
                let ms = time(ctx, iters, |r| {
                    match which {
                        0 => kernels::conv2d::forward(r, &g, &x, &wt, None)?,
                        1 => kernels::conv2d::backward_data(r, &g, &dy, &wt)?,
                        _ => kernels::conv2d::backward_weight(r, &g, &x, &dy)?,
                    };
                    Ok(())
                })?;
                push(
                    Row { name: row_name, shape: shape.clone(), ms, rate: gf / (ms / 1e3), unit: "GFLOP/s" },
                    &mut rows,
                );
            }
        }
        if l + 1 == WIDTHS.len() {
            break;
        }
        let x4 = [n, c, h, w];
        let len = n * c * h * w;
        let gb = |bytes: usize, ms: f64| bytes as f64 / 1e9 / (ms / 1e3);
        let x = random(ctx, &mut rng, "x", len)?;
        let shape = fmt_shape(&x4);
        let name = format!("max_pool2d L{l}");
        if wanted(&name) {
            let g = Pool2d::new(x4)?;
            let ms = time(ctx, iters, |r| kernels::pool::forward(r, &g, &x).map(|_| ()))?;
            push(Row { name, shape: shape.clone(), ms, rate: gb(len * 4 + len / 4 * 8, ms), unit: "GB/s" }, &mut rows);
        }
        let name = format!("batch_norm train fwd L{l}");
        if wanted(&name) {
            let g = BatchNorm::new(x4)?;
            let gamma = ctx.upload("gamma", &vec![1.0f32; c])?;
            let beta = ctx.upload("beta", &vec![0.0f32; c])?;
            let (rm, rv) = (ctx.upload("rm", &vec![0.0f32; c])?, ctx.upload("rv", &vec![1.0f32; c])?);
            let ms = time(ctx, iters, |r| {
                kernels::batchnorm::train_forward(r, &g, &x, &gamma, &beta, &rm, &rv).map(|_| ())
            })?;
            push(Row { name, shape: shape.clone(), ms, rate: gb(len * 4 * 3, ms), unit: "GB/s" }, &mut rows);
        }
        let name = format!("global avg+max L{l}");
        if wanted(&name) {
            let g = Reduce::over_dims(x4, &[2, 3])?;
            let ms = time(ctx, iters, |r| {
                kernels::reduce::mean_forward(r, &g, &x)?;
                kernels::reduce::max_forward(r, &g, &x)?;
                Ok(())
            })?;
            push(Row { name, shape: shape.clone(), ms, rate: gb(len * 4 * 2, ms), unit: "GB/s" }, &mut rows);
        }
        let name = format!("sigmoid gate (spatial) L{l}");
        if wanted(&name) {
            let g = Gate::new(x4, Broadcast::Spatial)?;
            let z = random(ctx, &mut rng, "z", n * h * w)?;
            let ms = time(ctx, iters, |r| kernels::gate::forward(r, &g, &x, &z).map(|_| ()))?;
            push(
                Row { name, shape: shape.clone(), ms, rate: gb(len * 4 * 2 + n * h * w * 4, ms), unit: "GB/s" },
                &mut rows,
            );
        }
        let name = format!("conv_transpose 2x2/2 L{l}");
        if wanted(&name) {
            let ci = WIDTHS[l + 1];
            let g = ConvTranspose2d::new([n, ci, h / 2, w / 2], c, 2, 2, 0)?;
            let xt = random(ctx, &mut rng, "x", n * ci * h / 2 * w / 2)?;
            let wt = random(ctx, &mut rng, "w", ci * c * 4)?;
            let bt = random(ctx, &mut rng, "b", c)?;
            let ms = time(ctx, iters, |r| kernels::conv_transpose2d::forward(r, &g, &xt, &wt, Some(&bt)).map(|_| ()))?;
            let shape = format!("{} -> {c}", fmt_shape(&g.x_shape()));
            push(Row { name, shape, ms, rate: g.flops() / 1e9 / (ms / 1e3), unit: "GFLOP/s" }, &mut rows);
        }
    }
    Ok(rows)
}

/// One measured network configuration.
#[derive(Clone, Debug)]
pub struct StepRow {
    pub name: String,
    pub train_ms: f64,
    pub infer_ms: f64,
    pub train_peak_bytes: u64,
    pub infer_peak_bytes: u64,
    pub dispatches: usize,
    pub submissions: usize,
}

impl StepRow {
    pub fn line(&self) -> String {
        format!(
            "{:<16} train {:>9.2} ms/step  infer {:>8.2} ms  peak {:>7.1} MiB train, {:>6.1} MiB infer  {} dispatches, {} submission(s) per step",
            self.name,
            self.train_ms,
            self.infer_ms,
            self.train_peak_bytes as f64 / (1 << 20) as f64,
            self.infer_peak_bytes as f64 / (1 << 20) as f64,
            self.dispatches,
            self.submissions
        )
    }
}

/// Times training steps (the captured forward, MSE and backward program, then Adam, all in
/// one submission) and captured eval-mode inference of `cfg` on random data of shape `x`,
/// wall clock around submit-and-wait, median of `iters`.
pub fn step(ctx: &Context, cfg: &crate::nn::Config, x: [usize; 4], iters: usize) -> Result<StepRow> {
    use crate::backend::Gpu;
    use crate::nn::train::{Compiled, Inference, Optimizer, TrainStep, init_store, shapes};
    let gpu = Gpu::new(ctx);
    let mut rng = Rng::new(5);
    let n: usize = x.iter().product();
    let y = [x[0], cfg.out_channels, x[2], x[3]];
    let mut store = init_store(&gpu, cfg, 1)?;
    let train = TrainStep::new(cfg, x, Loss::Mse, false)?;
    let infer = Inference::new(cfg, x)?;
    let mut opt = Optimizer::new(&gpu, Adam::default(), &shapes(cfg)?.0)?;
    let train_prog = Compiled::capture(&gpu, &train.graph, &train.plan, &mut store, &[("input", &x), ("target", &y)])?;
    let infer_prog = Compiled::capture(&gpu, &infer.graph, &infer.plan, &mut store, &[("input", &x)])?;
    train_prog.set_input(&gpu, "input", &rng.normal_vec(n, 1.0))?;
    train_prog.set_input(&gpu, "target", &rng.normal_vec(n / x[1] * cfg.out_channels, 1.0))?;
    infer_prog.set_input(&gpu, "input", &rng.normal_vec(n, 1.0))?;
    let grads: Vec<(&str, &GpuTensor)> =
        train.param_grads.iter().map(|(n, v)| Ok((n.as_str(), train_prog.output(*v)?))).collect::<Result<_>>()?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut train_ms, mut infer_ms, mut counts) = (vec![], vec![], (0, 0));
    for i in 0..=iters {
        let before = gpu.counters();
        let start = std::time::Instant::now();
        gpu.begin_batch();
        train_prog.replay(&gpu)?;
        opt.apply(&gpu, &mut store.params, &grads)?;
        gpu.flush()?;
        ctx.wait()?;
        let after = gpu.counters();
        counts = (after.0 - before.0, after.1 - before.1);
        if i > 0 {
            train_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    for i in 0..=iters {
        let start = std::time::Instant::now();
        infer_prog.replay(&gpu)?;
        ctx.wait()?;
        if i > 0 {
            infer_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let name = format!("{:?}{}", cfg.attention, if cfg.gates { "+gates" } else { "" }).to_lowercase();
    Ok(StepRow {
        name,
        train_ms: median(train_ms),
        infer_ms: median(infer_ms),
        train_peak_bytes: train.plan.peak_bytes,
        infer_peak_bytes: infer.plan.peak_bytes,
        dispatches: counts.0,
        submissions: counts.1,
    })
}
