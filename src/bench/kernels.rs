//! Kernel benchmarks at the shapes of SPEC.md's `bench` network (batch 8, 8×256×128,
//! widths 32…512), timed with GPU timestamps where the adapter has them, else the wall
//! clock around submit-and-wait. As llm.c's dev/cuda does, every kernel is first checked
//! against its CPU twin on the same inputs — the CPU backend's fast path, itself tested
//! against the plain-loop reference — and a kernel that disagrees fails the run after its
//! row is printed. Used by `brine bench kernels` and `benches/kernels.rs`.

use crate::error::{Error, Result};
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
    /// max |GPU − CPU| / max |CPU| over the kernel's outputs.
    pub err: f64,
}

/// Largest relative error (to the largest magnitude) a kernel may show against its twin:
/// f32 sums in another order, over reductions of up to ~10⁵ terms.
pub const CHECK_TOL: f64 = 1e-4;

impl Row {
    pub fn passed(&self) -> bool {
        self.err <= CHECK_TOL
    }
    pub fn line(&self) -> String {
        let verdict = if self.passed() { "ok" } else { "MISMATCH" };
        format!(
            "{:<34} {:<26} {:>10.4} ms {:>9.1} {:<8} vs CPU {:.1e} {verdict}",
            self.name, self.shape, self.ms, self.rate, self.unit, self.err
        )
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

/// max |got − want| / max |want| (0 when both are zero).
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let worst = got.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs() as f64));
    if worst == 0.0 {
        0.0
    } else if worst.is_finite() {
        worst / scale.max(f64::MIN_POSITIVE)
    } else {
        f64::INFINITY
    }
}

/// A host tensor of normal values and its GPU copy.
struct Pair {
    host: Vec<f32>,
    gpu: GpuTensor,
}

fn random(ctx: &Context, rng: &mut Rng, name: &str, len: usize) -> Result<Pair> {
    let host = rng.normal_vec(len, 1.0);
    Ok(Pair { gpu: ctx.upload(name, &host)?, host })
}

fn fmt_shape(s: &[usize]) -> String {
    s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

/// Runs `record` once and compares its outputs with `want` (the twin's, in order), then
/// times it.
fn checked(
    ctx: &Context,
    iters: usize,
    want: &[Vec<f32>],
    mut record: impl FnMut(&mut Recorder) -> Result<Vec<GpuTensor>>,
) -> Result<(f64, f64)> {
    let mut r = ctx.recorder();
    let outs = record(&mut r)?;
    r.submit()?;
    let mut err = 0.0f64;
    for (o, w) in outs.iter().zip(want) {
        err = err.max(rel_err(&ctx.read::<f32>(o)?, w));
    }
    if outs.len() != want.len() {
        err = f64::INFINITY;
    }
    let ms = time(ctx, iters, |r| record(r).map(|_| ()))?;
    Ok((ms, err))
}

/// Runs the kernel benchmarks; `report` sees each row as soon as it is measured. An error
/// after the last row if a kernel disagreed with its twin.
pub fn kernels(ctx: &Context, opts: &Options, mut report: impl FnMut(&Row)) -> Result<Vec<Row>> {
    use crate::fast;
    const WIDTHS: [usize; 5] = [32, 64, 128, 256, 512];
    let (n, iters) = (opts.batch, opts.iters);
    // The largest tensor (level 0's decoder input, 64 × 256 × 128 per image), about three
    // of them at once, each on the host and on the GPU.
    crate::limits::check(&format!("--batch {n}"), crate::limits::bytes(&[n, 64, 256, 128, 3], 4))?;
    let mut rng = Rng::new(7);
    let mut rows = vec![];
    let wanted = |name: &str| opts.filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let mut push = |row: Row, rows: &mut Vec<Row>| {
        report(&row);
        rows.push(row);
    };
    let gb = |bytes: usize, ms: f64| bytes as f64 / 1e9 / (ms / 1e3);
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
                let want = match which {
                    0 => fast::conv2d::forward(&g, &x.host, &wt.host, None)?,
                    1 => fast::conv2d::backward_data(&g, &dy.host, &wt.host)?,
                    _ => fast::conv2d::backward_weight(&g, &x.host, &dy.host)?,
                };
                let (ms, err) = checked(ctx, iters, &[want], |r| {
                    Ok(vec![match which {
                        0 => kernels::conv2d::forward(r, &g, &x.gpu, &wt.gpu, None)?,
                        1 => kernels::conv2d::backward_data(r, &g, &dy.gpu, &wt.gpu)?,
                        _ => kernels::conv2d::backward_weight(r, &g, &x.gpu, &dy.gpu)?,
                    }])
                })?;
                let row = Row { name: row_name, shape: shape.clone(), ms, rate: gf / (ms / 1e3), unit: "GFLOP/s", err };
                push(row, &mut rows);
            }
        }
        if l + 1 == WIDTHS.len() {
            break;
        }
        let x4 = [n, c, h, w];
        let len = n * c * h * w;
        let x = random(ctx, &mut rng, "x", len)?;
        let shape = fmt_shape(&x4);
        let name = format!("max_pool2d L{l}");
        if wanted(&name) {
            let g = Pool2d::new(x4)?;
            let want = fast::pool::forward(&g, &x.host)?.0;
            let (ms, err) = checked(ctx, iters, &[want], |r| Ok(vec![kernels::pool::forward(r, &g, &x.gpu)?.0]))?;
            let rate = gb(len * 4 + len / 4 * 8, ms);
            push(Row { name, shape: shape.clone(), ms, rate, unit: "GB/s", err }, &mut rows);
        }
        let name = format!("batch_norm train fwd L{l}");
        if wanted(&name) {
            let g = BatchNorm::new(x4)?;
            let (gamma, beta) = (vec![1.0f32; c], vec![0.0f32; c]);
            let (mut rm, mut rv) = (vec![0.0f32; c], vec![1.0f32; c]);
            let want = fast::batchnorm::train_forward(&g, &x.host, &gamma, &beta, &mut rm, &mut rv)?.0;
            let (gamma, beta) = (ctx.upload("gamma", &gamma)?, ctx.upload("beta", &beta)?);
            let (rm, rv) = (ctx.upload("rm", &vec![0.0f32; c])?, ctx.upload("rv", &vec![1.0f32; c])?);
            let (ms, err) = checked(ctx, iters, &[want], |r| {
                Ok(vec![kernels::batchnorm::train_forward(r, &g, &x.gpu, &gamma, &beta, &rm, &rv)?.0])
            })?;
            push(Row { name, shape: shape.clone(), ms, rate: gb(len * 4 * 3, ms), unit: "GB/s", err }, &mut rows);
        }
        let name = format!("global avg+max L{l}");
        if wanted(&name) {
            let g = Reduce::over_dims(x4, &[2, 3])?;
            let want = [fast::reduce::mean_forward(&g, &x.host)?, fast::reduce::max_forward(&g, &x.host)?.0];
            let (ms, err) = checked(ctx, iters, &want, |r| {
                Ok(vec![kernels::reduce::mean_forward(r, &g, &x.gpu)?, kernels::reduce::max_forward(r, &g, &x.gpu)?.0])
            })?;
            push(Row { name, shape: shape.clone(), ms, rate: gb(len * 4 * 2, ms), unit: "GB/s", err }, &mut rows);
        }
        let name = format!("sigmoid gate (spatial) L{l}");
        if wanted(&name) {
            let g = Gate::new(x4, Broadcast::Spatial)?;
            let z = random(ctx, &mut rng, "z", n * h * w)?;
            let want = fast::gate::forward(&g, &x.host, &z.host)?;
            let (ms, err) = checked(ctx, iters, &[want], |r| Ok(vec![kernels::gate::forward(r, &g, &x.gpu, &z.gpu)?]))?;
            let rate = gb(len * 4 * 2 + n * h * w * 4, ms);
            push(Row { name, shape: shape.clone(), ms, rate, unit: "GB/s", err }, &mut rows);
        }
        let name = format!("conv_transpose 2x2/2 L{l}");
        if wanted(&name) {
            let ci = WIDTHS[l + 1];
            let g = ConvTranspose2d::new([n, ci, h / 2, w / 2], c, 2, 2, 0)?;
            let xt = random(ctx, &mut rng, "x", n * ci * h / 2 * w / 2)?;
            let wt = random(ctx, &mut rng, "w", ci * c * 4)?;
            let bt = random(ctx, &mut rng, "b", c)?;
            let want = fast::conv_transpose2d::forward(&g, &xt.host, &wt.host, Some(&bt.host))?;
            let (ms, err) = checked(ctx, iters, &[want], |r| {
                Ok(vec![kernels::conv_transpose2d::forward(r, &g, &xt.gpu, &wt.gpu, Some(&bt.gpu))?])
            })?;
            let shape = format!("{} -> {c}", fmt_shape(&g.x_shape()));
            push(Row { name, shape, ms, rate: g.flops() / 1e9 / (ms / 1e3), unit: "GFLOP/s", err }, &mut rows);
        }
    }
    // The ssim loss term on the network's output, [n, 1, 256, 128]: the map, and its gradient.
    let name = "ssim loss fwd+bwd".to_string();
    if wanted(&name) {
        let g = Ssim::new([n, 1, 256, 128])?;
        let (x, t, dy) = (
            random(ctx, &mut rng, "x", g.len())?,
            random(ctx, &mut rng, "t", g.len())?,
            random(ctx, &mut rng, "dy", g.len())?,
        );
        let want = [fast::ssim::forward(&g, &x.host, &t.host)?, fast::ssim::backward(&g, &x.host, &t.host, &dy.host)?];
        let (ms, err) = checked(ctx, iters, &want, |r| {
            Ok(vec![
                kernels::ssim::forward(r, &g, &x.gpu, &t.gpu)?,
                kernels::ssim::backward(r, &g, &x.gpu, &t.gpu, &dy.gpu)?,
            ])
        })?;
        let shape = fmt_shape(&[n, 1, 256, 128]);
        push(Row { name, shape, ms, rate: gb(g.len() * 4 * 5, ms), unit: "GB/s", err }, &mut rows);
    }
    if let Some(bad) = rows.iter().find(|r| !r.passed()) {
        return Err(Error::Gpu(format!(
            "{} ({}) disagrees with its CPU twin: relative error {:.2e} > {CHECK_TOL:.0e}",
            bad.name, bad.shape, bad.err
        )));
    }
    Ok(rows)
}
