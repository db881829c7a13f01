//! CPU twin of `shaders/adam.wgsl`: one Adam / AdamW step, torch.optim semantics
//! (single-tensor path): bias-corrected moments, eps added after the square root.
use super::Real;
use crate::error::Result;
use crate::ops::{Adam, StepScalars, check_adam_lens as check_lens};

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
