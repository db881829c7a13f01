//! Fast path of `cpu::reduce`: means and maxima over the middle axis of x seen as
//! [outer, r, inner]. Rows (inner = 1) reduce with 16-lane partial sums; otherwise whole
//! rows of `inner` accumulate element-wise. One task per group of outer slices.

use rayon::prelude::*;

use super::{CHUNK, buffers, simd};
use crate::error::{Error, Result, check_len};
use crate::ops::Reduce;

/// Runs `f(o, y[o·inner ..][..inner])` for every outer slice, in parallel when x is large.
fn per_outer<T: Send>(g: &Reduce, y: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let inner = g.inner;
    if g.x_len() <= 2 * CHUNK {
        y.chunks_mut(inner).enumerate().for_each(|(o, y)| f(o, y));
    } else {
        let per_task = (CHUNK / (g.r * inner).max(1)).max(1);
        y.par_chunks_mut(inner).enumerate().with_min_len(per_task).for_each(|(o, y)| f(o, y));
    }
}

pub fn mean_forward(g: &Reduce, x: &[f32]) -> Result<Vec<f32>> {
    check_len("reduce_mean", "x", x.len(), &[g.outer, g.r, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    let scale = 1.0 / r as f32;
    let mut y = buffers::take(g.y_len());
    per_outer(g, &mut y, |o, y| {
        let slice = &x[o * r * inner..][..r * inner];
        if inner == 1 {
            y[0] = simd::sum(slice) * scale;
        } else {
            y.copy_from_slice(&slice[..inner]);
            for row in slice.chunks_exact(inner).skip(1) {
                simd::add_assign(y, row);
            }
            simd::scale_assign(y, scale);
        }
    });
    Ok(y)
}

/// dx[o, k, i] = dy[o, i] / r.
pub fn mean_backward(g: &Reduce, dy: &[f32]) -> Result<Vec<f32>> {
    check_len("reduce_mean_bwd", "dy", dy.len(), &[g.outer, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    let scale = 1.0 / r as f32;
    let mut dx = buffers::take(g.x_len());
    super::for_planes(&mut dx, r * inner, |o, dx| {
        let d = &dy[o * inner..][..inner];
        if inner == 1 {
            dx.fill(d[0] * scale);
        } else {
            for row in dx.chunks_exact_mut(inner) {
                simd::scale(row, d, scale);
            }
        }
    });
    Ok(dx)
}

/// Returns (y, argmax), argmax the position along r of the first maximum.
pub fn max_forward(g: &Reduce, x: &[f32]) -> Result<(Vec<f32>, Vec<u32>)> {
    check_len("reduce_max", "x", x.len(), &[g.outer, g.r, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    let mut y = buffers::take(g.y_len());
    let mut idx = vec![0u32; g.y_len()];
    let slices = |(o, (y, idx)): (usize, (&mut [f32], &mut [u32]))| {
        let slice = &x[o * r * inner..][..r * inner];
        if inner == 1 {
            let at = first_max(slice);
            y[0] = slice[at];
            idx[0] = at as u32;
        } else {
            y.copy_from_slice(&slice[..inner]);
            idx.fill(0);
            for (k, row) in slice.chunks_exact(inner).enumerate().skip(1) {
                running_max(y, idx, row, k as u32);
            }
        }
    };
    if g.x_len() <= 2 * CHUNK {
        y.chunks_mut(inner).zip(idx.chunks_mut(inner)).enumerate().for_each(slices);
    } else {
        y.par_chunks_mut(inner).zip(idx.par_chunks_mut(inner)).enumerate().for_each(slices);
    }
    Ok((y, idx))
}

/// dx[o, k, i] = dy[o, i] where k = argmax[o, i], zero elsewhere.
pub fn max_backward(g: &Reduce, dy: &[f32], idx: &[u32]) -> Result<Vec<f32>> {
    let op = "reduce_max_bwd";
    check_len(op, "dy", dy.len(), &[g.outer, g.inner])?;
    check_len(op, "idx", idx.len(), &[g.outer, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    if let Some(j) = idx.iter().position(|&k| k as usize >= r) {
        return Err(Error::shape(
            op,
            "idx",
            format!("holds position {} at element {j}, outside the reduced axis of length {r}", idx[j]),
        ));
    }
    let mut dx = buffers::zeros(g.x_len());
    super::for_planes(&mut dx, r * inner, |o, dx| {
        for i in 0..inner {
            let j = o * inner + i;
            dx[idx[j] as usize * inner + i] = dy[j];
        }
    });
    Ok(dx)
}

/// The position of the first maximum of a row: the largest value by 16-lane maxima, then
/// the first place it occurs.
#[pulp::with_simd(first_max = simd::arch())]
#[inline(always)]
fn first_max_simd<S: pulp::Simd>(_simd: S, row: &[f32]) -> usize {
    let mut m = [f32::NEG_INFINITY; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for c in chunks {
        for l in 0..16 {
            m[l] = m[l].max(c[l]);
        }
    }
    let best = m.iter().fold(tail, |a, &b| a.max(b));
    row.iter().position(|&v| v == best).unwrap_or(0)
}

/// best, at = row, k where row > best (the first maximum keeps its place on ties).
#[pulp::with_simd(running_max = simd::arch())]
#[inline(always)]
fn running_max_simd<S: pulp::Simd>(_simd: S, best: &mut [f32], at: &mut [u32], row: &[f32], k: u32) {
    for ((b, i), &v) in best.iter_mut().zip(at.iter_mut()).zip(row) {
        if v > *b {
            *b = v;
            *i = k;
        }
    }
}
