//! Full-waveform inversion on velocity: from a starting model, L-BFGS (with a backtracking
//! line search) or Adam steps down the data misfit's adjoint-state gradient
//! ([`super::gradient`]), each model on its own, the gradient smoothed and weighted by depth,
//! velocities kept within [vmin, vmax].
//!
//! The plan is made for vmax, so no iterate can become unstable: the bounds are what keeps
//! the scheme within its Courant limit, and they are enforced after every step. The C-PML
//! profiles are those of vmax throughout.

use super::gradient::gradient_every;
use super::misfit::Misfit;
use super::propagate::Plan;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::Adam;

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// L-BFGS (5 pairs) with a backtracking (Armijo) line search, per model.
    Lbfgs,
    /// Adam on the clipped, normalised gradient.
    Adam,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::Lbfgs => "L-BFGS",
            Method::Adam => "Adam",
        }
    }
}

/// How to invert.
#[derive(Clone, Debug)]
pub struct Options {
    pub method: Method,
    pub iters: usize,
    /// The step in m/s: Adam's step size (about the largest change of a cell per
    /// iteration); for L-BFGS the first step's (at the 98th percentile of the change).
    pub lr: f64,
    /// Velocity bounds in m/s.
    pub vmin: f64,
    pub vmax: f64,
    /// Standard deviation in cells of the Gaussian that smooths each gradient (0: none).
    pub smooth: f64,
    /// The gradient is multiplied by (depth / nz)^depth_weight (0: not at all).
    pub depth_weight: f64,
    /// Low-pass cutoffs in Hz, one stage each in this order (0: the full band), the
    /// iterations split evenly among them; empty: the full band throughout. Low frequencies
    /// first keep FWI from fitting the data a cycle off (see [`Misfit`]).
    pub bands: Vec<f64>,
}

impl Options {
    pub fn check(&self) -> Result<()> {
        let op = "refine";
        if self.iters == 0 {
            return Err(Error::config(op, "--iters must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(op, format!("--lr {} is not a positive step in m/s", self.lr)));
        }
        if !(self.vmin.is_finite() && self.vmin > 0.0 && self.vmax.is_finite() && self.vmax > self.vmin) {
            return Err(Error::config(op, format!("bounds [{}, {}] m/s: need 0 < vmin < vmax", self.vmin, self.vmax)));
        }
        if !(self.depth_weight.is_finite() && (0.0..=8.0).contains(&self.depth_weight)) {
            return Err(Error::config(op, format!("--depth-weight {} is not a power in [0, 8]", self.depth_weight)));
        }
        if !(self.smooth.is_finite() && (0.0..=100.0).contains(&self.smooth)) {
            return Err(Error::config(op, format!("--smooth {} is not a width in cells in [0, 100]", self.smooth)));
        }
        Ok(())
    }

    /// The low-pass cutoff (Hz; 0: the full band) of the misfit iterate `it` (0 ..= iters)
    /// is reported with: the start in the band of iteration 1.
    pub fn band(&self, it: usize) -> f64 {
        self.bands.get(self.stage(it.max(1))).copied().unwrap_or(0.0)
    }

    /// The stage iteration `it` (1 ..= iters) belongs to: the iterations split evenly, the
    /// last always in the last band (with fewer iterations than bands, the first are left out).
    fn stage(&self, it: usize) -> usize {
        let stages = self.bands.len().max(1);
        stages - 1 - ((self.iters - it.min(self.iters)) * stages / self.iters).min(stages - 1)
    }

    /// Each stage's misfit for `plan`'s traces, the cutoffs checked.
    pub fn misfits(&self, plan: &Plan) -> Result<Vec<Misfit>> {
        let sample_dt = plan.dt * plan.keep_every as f64;
        if self.bands.is_empty() {
            return Ok(vec![Misfit::FULL]);
        }
        self.bands
            .iter()
            .map(|&hz| {
                if hz == 0.0 {
                    Ok(Misfit::FULL)
                } else {
                    Misfit::lowpass(hz, sample_dt)
                        .map_err(|e| Error::config("refine", format!("--bands: {e}; 0 is the full band")))
                }
            })
            .collect()
    }
}

/// A Gaussian of standard deviation `sigma` cells over each nz × nx field in `f`, with edge
/// values extended.
pub fn smooth(f: &mut [f32], nz: usize, nx: usize, sigma: f64) {
    if sigma <= 0.0 {
        return;
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f64 = k.iter().sum();
    let pass = |f: &mut [f32], len: usize, stride: usize, lines: usize, step: usize| {
        let mut line = vec![0f32; len];
        for l in 0..lines {
            for (i, v) in line.iter_mut().enumerate() {
                let acc: f64 = (-r..=r)
                    .map(|d| {
                        let j = (i as isize + d).clamp(0, len as isize - 1) as usize;
                        k[(d + r) as usize] * f[l * step + j * stride] as f64
                    })
                    .sum();
                *v = (acc / sum) as f32;
            }
            for (i, v) in line.iter().enumerate() {
                f[l * step + i * stride] = *v;
            }
        }
    };
    for m in f.chunks_mut(nz * nx) {
        pass(m, nx, 1, nz, nx);
        pass(m, nz, nx, nx, 1);
    }
}

/// Checks that `models` (m/s) lie within the bounds, naming the first that does not.
pub fn check_bounds(what: &str, models: &[f32], nz: usize, nx: usize, o: &Options) -> Result<()> {
    match models.iter().position(|&v| !(v as f64 >= o.vmin && v as f64 <= o.vmax)) {
        None => Ok(()),
        Some(i) => Err(Error::config(
            "refine",
            format!(
                "{what}: model {} has {} m/s at [z {}, x {}], outside the bounds [{}, {}] m/s (--vmin, --vmax)",
                i / (nz * nx),
                models[i],
                i % (nz * nx) / nx,
                i % nx,
                o.vmin,
                o.vmax
            ),
        )),
    }
}

/// The 98th percentile of |v|: a scale that the source and receiver imprint (a few cells of
/// huge gradient) does not set.
fn robust_scale(v: &[f32]) -> f32 {
    let mut mags: Vec<f32> = v.iter().map(|x| x.abs()).collect();
    let k = (mags.len() * 98 / 100).min(mags.len().saturating_sub(1));
    mags.select_nth_unstable_by(k, f32::total_cmp).1.to_owned()
}

/// Per model: `misfit` and its smoothed gradient, refusing non-finite values.
fn evaluate(
    device: &Device,
    plan: &Plan,
    models: &[f32],
    observed: &[f32],
    o: &Options,
    (it, misfit): (usize, &Misfit),
) -> Result<(Vec<f64>, Vec<f32>)> {
    let n = models.len() / (plan.nz * plan.nx);
    let mut g = gradient_every(device, plan, models, observed, n, o.vmax, None, misfit)?;
    if let Some(b) = g.misfit.iter().position(|j| !j.is_finite()) {
        return Err(Error::config("refine", format!("iteration {it}: the misfit of sample {b} is {}", g.misfit[b])));
    }
    if let Some(i) = g.grad.iter().position(|x| !x.is_finite()) {
        let b = i / (plan.nz * plan.nx);
        return Err(Error::config("refine", format!("iteration {it}: the gradient of sample {b} is not finite")));
    }
    smooth(&mut g.grad, plan.nz, plan.nx, o.smooth);
    // Depth preconditioning: deeper cells are seen by weaker, farther-travelled waves.
    if o.depth_weight > 0.0 {
        let w: Vec<f32> = (0..plan.nz).map(|z| ((z + 1) as f64 / plan.nz as f64).powf(o.depth_weight) as f32).collect();
        for (i, v) in g.grad.iter_mut().enumerate() {
            *v *= w[(i / plan.nx) % plan.nz];
        }
    }
    Ok((g.misfit, g.grad))
}

/// Inverts `n` models [n][nz][nx] (m/s) from `start` against `observed` traces
/// [n][shots][samples][receivers] on `device`. `each(iteration, misfit per model, models)`
/// sees every iterate, the start (0) through the result (`iters`), with its misfit (that of
/// the iteration's band); the result is returned with the number of gradient evaluations.
/// A non-finite misfit or gradient stops with the iteration named.
pub fn invert(
    device: &Device,
    plan: &Plan,
    start: &[f32],
    observed: &[f32],
    n: usize,
    o: &Options,
    each: impl FnMut(usize, &[f64], &[f32]) -> Result<()>,
) -> Result<(Vec<f32>, usize)> {
    o.check()?;
    let misfits = o.misfits(plan)?;
    check_bounds("the starting model", start, plan.nz, plan.nx, o)?;
    crate::error::check_len("refine", "observed", observed.len(), &[n, plan.trace_len()])?;
    match o.method {
        Method::Adam => adam(device, plan, start, observed, (o, &misfits), each),
        Method::Lbfgs => lbfgs(device, plan, start, observed, n, (o, &misfits), each),
    }
}

fn clamp(models: &mut [f32], o: &Options) {
    models.iter_mut().for_each(|x| *x = x.clamp(o.vmin as f32, o.vmax as f32));
}

fn adam(
    device: &Device,
    plan: &Plan,
    start: &[f32],
    observed: &[f32],
    (o, misfits): (&Options, &[Misfit]),
    mut each: impl FnMut(usize, &[f64], &[f32]) -> Result<()>,
) -> Result<(Vec<f32>, usize)> {
    let adam = Adam { lr: o.lr as f32, ..Adam::default() };
    let mut models = start.to_vec();
    let (mut m, mut v) = (vec![0f32; models.len()], vec![0f32; models.len()]);
    for it in 0..=o.iters {
        let band = &misfits[o.stage(it.max(1))];
        let (misfit, mut grad) = evaluate(device, plan, &models, observed, o, (it, band))?;
        each(it, &misfit, &models)?;
        if it == o.iters {
            break;
        }
        // Clipped at the 98th percentile of |g|, which becomes 1.
        for gb in grad.chunks_mut(plan.nz * plan.nx) {
            let scale = robust_scale(gb);
            if scale > 0.0 {
                gb.iter_mut().for_each(|x| *x = x.clamp(-scale, scale) / scale);
            }
        }
        crate::cpu::adam::step(&adam, it as u32 + 1, &mut models, &grad, &mut m, &mut v)?;
        clamp(&mut models, o);
    }
    Ok((models, o.iters + 1))
}

/// One model's L-BFGS memory: the last steps s and gradient changes y.
#[derive(Default)]
struct Memory {
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>)>,
}

const PAIRS: usize = 5;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Memory {
    /// −H g by the two-loop recursion, with H₀ = (s·y / y·y) I; `None` without history.
    fn direction(&self, g: &[f64]) -> Option<Vec<f64>> {
        let (s, y) = self.pairs.back()?;
        let mut q = g.to_vec();
        let mut alphas = vec![];
        for (s, y) in self.pairs.iter().rev() {
            let a = dot(s, &q) / dot(y, s);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|q| *q *= gamma);
        for ((s, y), a) in self.pairs.iter().zip(alphas.into_iter().rev()) {
            let b = dot(y, &q) / dot(y, s);
            q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
        }
        Some(q.into_iter().map(|v| -v).collect())
    }
    /// Keeps (s, y) when the curvature s·y is positive (else the pair would break H).
    fn push(&mut self, s: Vec<f64>, y: Vec<f64>) {
        if dot(&s, &y) > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if self.pairs.len() == PAIRS {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y));
        }
    }
}

/// Backtracking tries per iteration before a model is left where it is.
const TRIES: usize = 6;

fn lbfgs(
    device: &Device,
    plan: &Plan,
    start: &[f32],
    observed: &[f32],
    n: usize,
    (o, misfits): (&Options, &[Misfit]),
    mut each: impl FnMut(usize, &[f64], &[f32]) -> Result<()>,
) -> Result<(Vec<f32>, usize)> {
    let (cells, per) = (plan.nz * plan.nx, plan.trace_len());
    let mut models = start.to_vec();
    let mut stage = o.stage(1);
    let (mut misfit, mut grad) = evaluate(device, plan, &models, observed, o, (0, &misfits[stage]))?;
    let mut evaluations = 1;
    each(0, &misfit, &models)?;
    let mut memory: Vec<Memory> = (0..n).map(|_| Memory::default()).collect();
    let as64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    for it in 1..=o.iters {
        // A new band is a new objective: its misfit and gradient here, and no curvature (a
        // band repeated is the same objective, continued).
        if o.stage(it) != stage {
            let same = misfits[o.stage(it)] == misfits[stage];
            stage = o.stage(it);
            if !same {
                (misfit, grad) = evaluate(device, plan, &models, observed, o, (it, &misfits[stage]))?;
                evaluations += 1;
                memory.iter_mut().for_each(|m| *m = Memory::default());
            }
        }
        // Each model's direction and its slope gᵀd there (for the Armijo test).
        let mut dirs = Vec::with_capacity(n);
        let mut slopes = Vec::with_capacity(n);
        for b in 0..n {
            let g = as64(&grad[b * cells..][..cells]);
            let d = match memory[b].direction(&g) {
                Some(d) if dot(&d, &g) < 0.0 => d,
                _ => {
                    // Steepest descent scaled to `lr` at the 98th percentile of the change.
                    memory[b] = Memory::default();
                    let scale = robust_scale(&grad[b * cells..][..cells]) as f64;
                    g.iter().map(|v| if scale > 0.0 { -o.lr * v / scale } else { 0.0 }).collect()
                }
            };
            slopes.push(dot(&d, &g));
            dirs.push(d);
        }
        let mut step = vec![1.0f64; n];
        let mut pending: Vec<usize> = (0..n).collect();
        for _ in 0..TRIES {
            if pending.is_empty() {
                break;
            }
            let mut trial = Vec::with_capacity(pending.len() * cells);
            let mut obs = Vec::with_capacity(pending.len() * per);
            for &b in &pending {
                let x = &models[b * cells..][..cells];
                trial.extend(x.iter().zip(&dirs[b]).map(|(&x, d)| (x as f64 + step[b] * d) as f32));
                obs.extend_from_slice(&observed[b * per..][..per]);
            }
            clamp(&mut trial, o);
            let (j, g) = evaluate(device, plan, &trial, &obs, o, (it, &misfits[stage]))?;
            evaluations += 1;
            let mut still = vec![];
            for (k, &b) in pending.iter().enumerate() {
                let (x, gb) = (&trial[k * cells..][..cells], &g[k * cells..][..cells]);
                if j[k] <= misfit[b] + 1e-4 * step[b] * slopes[b] {
                    let s: Vec<f64> =
                        x.iter().zip(&models[b * cells..][..cells]).map(|(a, b)| (a - b) as f64).collect();
                    let y: Vec<f64> = gb.iter().zip(&grad[b * cells..][..cells]).map(|(a, b)| (a - b) as f64).collect();
                    memory[b].push(s, y);
                    models[b * cells..][..cells].copy_from_slice(x);
                    grad[b * cells..][..cells].copy_from_slice(gb);
                    misfit[b] = j[k];
                } else {
                    step[b] *= 0.3;
                    still.push(b);
                }
            }
            pending = still;
        }
        // A model no trial improved stays put and forgets its curvature.
        for &b in &pending {
            memory[b] = Memory::default();
        }
        each(it, &misfit, &models)?;
    }
    Ok((models, evaluations))
}
