//! CPU twin of `shaders/adam.wgsl`: one Adam / AdamW step, torch.optim semantics
//! (single-tensor path): bias-corrected moments, eps added after the square root.
use super::Real;
use crate::error::{Error, Result, check_len};
use crate::ops::Adam;

/// The per-step scalars of one update, computed on the host in f64 and rounded once to the
/// engine's float type. The GPU receives the same values in its uniform block, so a new step
/// number never needs a new pipeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepScalars {
    pub beta1: f64,
    pub one_minus_beta1: f64,
    pub beta2: f64,
    pub one_minus_beta2: f64,
    /// lr / (1 − β1^t)
    pub step_size: f64,
    /// sqrt(1 − β2^t)
    pub bc2_sqrt: f64,
    pub eps: f64,
    /// Coupled (L2) weight decay added to the gradient: wd for Adam, 0 for AdamW.
    pub l2: f64,
    /// Decoupled decay factor applied to p first: 1 − lr·wd for AdamW, 1 for Adam.
    pub decay: f64,
}

impl StepScalars {
    /// Validates the hyper-parameters (as torch.optim does) and the step number (from 1).
    pub fn new(g: &Adam, step: u32) -> Result<Self> {
        let op = if g.decoupled { "adamw" } else { "adam" };
        if step == 0 {
            return Err(Error::config(op, "step must count from 1 (got 0): bias correction divides by 1 − β^step"));
        }
        let bad = |what: &str, v: f32, rule: &str| Err(Error::config(op, format!("{what} = {v} {rule}")));
        if !(g.lr >= 0.0 && g.lr.is_finite()) {
            return bad("lr", g.lr, "must be finite and ≥ 0");
        }
        if !(g.eps >= 0.0 && g.eps.is_finite()) {
            return bad("eps", g.eps, "must be finite and ≥ 0");
        }
        if !(0.0..1.0).contains(&g.beta1) {
            return bad("beta1", g.beta1, "must lie in [0, 1)");
        }
        if !(0.0..1.0).contains(&g.beta2) {
            return bad("beta2", g.beta2, "must lie in [0, 1)");
        }
        if !(g.weight_decay >= 0.0 && g.weight_decay.is_finite()) {
            return bad("weight_decay", g.weight_decay, "must be finite and ≥ 0");
        }
        let (lr, b1, b2, wd) = (g.lr as f64, g.beta1 as f64, g.beta2 as f64, g.weight_decay as f64);
        let t = step as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        Ok(StepScalars {
            beta1: b1,
            one_minus_beta1: 1.0 - b1,
            beta2: b2,
            one_minus_beta2: 1.0 - b2,
            step_size: lr / bc1,
            bc2_sqrt: bc2.sqrt(),
            eps: g.eps as f64,
            l2: if g.decoupled { 0.0 } else { wd },
            decay: if g.decoupled { 1.0 - lr * wd } else { 1.0 },
        })
    }
}

/// Checks that grad, m and v match p's length.
pub(crate) fn check_lens(g: &Adam, p: usize, grad: usize, m: usize, v: usize) -> Result<()> {
    let op = if g.decoupled { "adamw" } else { "adam" };
    check_len(op, "grad", grad, &[p])?;
    check_len(op, "m", m, &[p])?;
    check_len(op, "v", v, &[p])
}

/// One step (`step` counts from 1) on p with moments m and v, all updated in place:
/// g ← grad + l2·p; p ← decay·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − step_size · m / (sqrt(v)/sqrt(bc2) + eps).
pub fn step<T: Real>(g: &Adam, step: u32, p: &mut [T], grad: &[T], m: &mut [T], v: &mut [T]) -> Result<()> {
    let s = StepScalars::new(g, step)?;
    check_lens(g, p.len(), grad.len(), m.len(), v.len())?;
    let c = |x: f64| T::from_f64(x).unwrap_or_else(T::nan);
    let (b1, omb1, b2, omb2) = (c(s.beta1), c(s.one_minus_beta1), c(s.beta2), c(s.one_minus_beta2));
    let (step_size, bc2_sqrt, eps, l2, decay) = (c(s.step_size), c(s.bc2_sqrt), c(s.eps), c(s.l2), c(s.decay));
    for i in 0..p.len() {
        let gi = grad[i] + l2 * p[i];
        let pi = p[i] * decay;
        let mi = b1 * m[i] + omb1 * gi;
        let vi = v[i] * b2 + omb2 * (gi * gi);
        let denom = vi.sqrt() / bc2_sqrt + eps;
        p[i] = pi - step_size * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
    Ok(())
}
