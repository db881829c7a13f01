//! Fast path of `cpu::loss`: mean MSE and L1, the sum vectorised within blocks of 256 and
//! gathered in f64 (the twin sums in f64 too).

use super::{buffers, for_chunks, simd};
use crate::error::{Result, check_len};
use crate::ops::{Loss, check_loss_lens as check_len_pair, loss_grad_scale as scale, loss_name as name};

/// The mean loss as a one-element vector.
pub fn forward(l: Loss, x: &[f32], t: &[f32]) -> Result<Vec<f32>> {
    check_len_pair(name(l), x.len(), t.len())?;
    let sum = loss_sum(l, x, t);
    let mut out = buffers::take(1);
    out[0] = (sum / x.len() as f64) as f32;
    Ok(out)
}

/// Σ (x − t)² or Σ |x − t|.
#[pulp::with_simd(loss_sum = simd::arch())]
#[inline(always)]
fn loss_sum_simd<S: pulp::Simd>(_simd: S, l: Loss, x: &[f32], t: &[f32]) -> f64 {
    let term = |d: f32| if l == Loss::Mse { d * d } else { d.abs() };
    x.chunks(256)
        .zip(t.chunks(256))
        .map(|(a, b)| {
            let mut acc = [0.0f32; 16];
            let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
            let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(&u, &v)| term(u - v)).sum();
            for (u, v) in ca.zip(cb) {
                for k in 0..16 {
                    acc[k] += term(u[k] - v[k]);
                }
            }
            (acc.iter().sum::<f32>() + tail) as f64
        })
        .sum()
}

/// dx = dy · 2(x − t)/M (MSE) or dy · sign(x − t)/M with sign(0) = 0 (L1).
pub fn backward(l: Loss, x: &[f32], t: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    let op = name(l);
    check_len_pair(op, x.len(), t.len())?;
    check_len(op, "dy", dy.len(), &[1])?;
    let g = dy[0] * scale(l, x.len()) as f32;
    let mut dx = buffers::take(x.len());
    for_chunks(&mut dx, |off, dx| loss_grad(l, g, &x[off..][..dx.len()], &t[off..][..dx.len()], dx));
    Ok(dx)
}

#[pulp::with_simd(loss_grad = simd::arch())]
#[inline(always)]
fn loss_grad_simd<S: pulp::Simd>(_simd: S, l: Loss, g: f32, x: &[f32], t: &[f32], dx: &mut [f32]) {
    let it = dx.iter_mut().zip(x).zip(t);
    match l {
        Loss::Mse => it.for_each(|((d, &a), &b)| *d = (a - b) * g),
        Loss::L1 => it.for_each(|((d, &a), &b)| {
            let v = a - b;
            *d = if v > 0.0 {
                g
            } else if v < 0.0 {
                -g
            } else {
                0.0
            }
        }),
    }
}
