//! Full-waveform inversion on velocity: from a starting model, Adam steps down the data
//! misfit's adjoint-state gradient ([`super::gradient`]), each model on its own, the
//! gradient optionally smoothed, velocities kept within [vmin, vmax].
//!
//! The plan is made for vmax, so no iterate can become unstable: the bounds are what keeps
//! the scheme within its Courant limit, and they are enforced after every step. The C-PML
//! profiles are those of vmax throughout.

use super::gradient::gradient;
use super::propagate::Plan;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::Adam;

/// How to invert.
#[derive(Clone, Debug)]
pub struct Options {
    pub iters: usize,
    /// Adam's step size in m/s (about the largest change of a cell per iteration).
    pub lr: f64,
    /// Velocity bounds in m/s.
    pub vmin: f64,
    pub vmax: f64,
    /// Standard deviation in cells of the Gaussian that smooths each gradient (0: none).
    pub smooth: f64,
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
        if !(self.smooth.is_finite() && self.smooth >= 0.0) {
            return Err(Error::config(op, format!("--smooth {} is not a width in cells (≥ 0)", self.smooth)));
        }
        Ok(())
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

/// Inverts `n` models [n][nz][nx] (m/s) from `start` against `observed` traces
/// [n][shots][samples][receivers] on `device`. `each(iteration, misfit per model, models)`
/// sees every iterate, the start (0) through the result (`iters`), with its misfit; the
/// result is returned. A non-finite misfit or gradient stops with the iteration named.
pub fn invert(
    device: &Device,
    plan: &Plan,
    start: &[f32],
    observed: &[f32],
    n: usize,
    o: &Options,
    mut each: impl FnMut(usize, &[f64], &[f32]) -> Result<()>,
) -> Result<Vec<f32>> {
    o.check()?;
    let cells = plan.nz * plan.nx;
    check_bounds("the starting model", start, plan.nz, plan.nx, o)?;
    let adam = Adam { lr: o.lr as f32, ..Adam::default() };
    let mut models = start.to_vec();
    let (mut m, mut v) = (vec![0f32; models.len()], vec![0f32; models.len()]);
    for it in 0..=o.iters {
        let mut g = gradient(device, plan, &models, observed, n, o.vmax)?;
        if let Some(b) = g.misfit.iter().position(|j| !j.is_finite()) {
            return Err(Error::config(
                "refine",
                format!("iteration {it}: the misfit of sample {b} is {}", g.misfit[b]),
            ));
        }
        each(it, &g.misfit, &models)?;
        if it == o.iters {
            break;
        }
        smooth(&mut g.grad, plan.nz, plan.nx, o.smooth);
        for (b, gb) in g.grad.chunks_mut(cells).enumerate() {
            if gb.iter().any(|x| !x.is_finite()) {
                return Err(Error::config(
                    "refine",
                    format!("iteration {it}: the gradient of sample {b} is not finite"),
                ));
            }
            // Clip at the 98th percentile of |g| (the source and receiver imprint) and scale
            // so that that value is 1.
            let mut mags: Vec<f32> = gb.iter().map(|x| x.abs()).collect();
            let k = (mags.len() * 98 / 100).min(mags.len() - 1);
            let scale = *mags.select_nth_unstable_by(k, f32::total_cmp).1;
            if scale > 0.0 {
                gb.iter_mut().for_each(|x| *x = x.clamp(-scale, scale) / scale);
            }
        }
        if std::env::var("BRINE_FWI_GD").is_ok() {
            for (x, g) in models.iter_mut().zip(&g.grad) {
                *x -= o.lr as f32 * g;
            }
        } else {
            crate::cpu::adam::step(&adam, it as u32 + 1, &mut models, &g.grad, &mut m, &mut v)?;
        }
        for x in &mut models {
            *x = x.clamp(o.vmin as f32, o.vmax as f32);
        }
    }
    Ok(models)
}
