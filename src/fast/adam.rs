//! Fast path of `cpu::adam`: the same update, operation for operation, in vectorised chunks
//! (in parallel for large parameters).

use super::{for_chunks, simd};
use crate::error::Result;
use crate::ops::{Adam, StepScalars, check_adam_lens as check_lens};

/// One step (`step` counts from 1) on p with moments m and v, all updated in place.
pub fn step(g: &Adam, step: u32, p: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) -> Result<()> {
    let s = StepScalars::new(g, step)?;
    check_lens(g, p.len(), grad.len(), m.len(), v.len())?;
    let (b1, omb1, b2, omb2) = (s.beta1 as f32, s.one_minus_beta1 as f32, s.beta2 as f32, s.one_minus_beta2 as f32);
    let (step_size, bc2_sqrt, eps, l2, decay) =
        (s.step_size as f32, s.bc2_sqrt as f32, s.eps as f32, s.l2 as f32, s.decay as f32);
    let (m, v) = (super::Disjoint::new(m), super::Disjoint::new(v));
    for_chunks(p, |off, p| {
        // SAFETY: the chunk at `off` of m and v belongs to this task alone, as p's does.
        let (m, v) = unsafe { (m.slice(off, p.len()), v.slice(off, p.len())) };
        update(p, &grad[off..][..p.len()], m, v, [b1, omb1, b2, omb2, step_size, bc2_sqrt, eps, l2, decay]);
    });
    Ok(())
}

/// The update of `cpu::adam::step`, element by element; `s` = [β1, 1−β1, β2, 1−β2,
/// step_size, sqrt(bc2), eps, l2, decay].
#[pulp::with_simd(update = simd::arch())]
#[inline(always)]
fn update_simd<S: pulp::Simd>(_simd: S, p: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], s: [f32; 9]) {
    let [b1, omb1, b2, omb2, step_size, bc2_sqrt, eps, l2, decay] = s;
    let (grad, m, v) = (&grad[..p.len()], &mut m[..p.len()], &mut v[..p.len()]);
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
}
