//! Fast path of `cpu::pool`: 2×2/2 max pooling with the first maximum's index, one task per
//! group of planes.

use rayon::prelude::*;

use super::{CHUNK, buffers};
use crate::error::{Error, Result, check_len};
use crate::ops::Pool2d;

/// Returns (y, argmax), argmax being the flat index into x of each window's first maximum.
pub fn forward(g: &Pool2d, x: &[f32]) -> Result<(Vec<f32>, Vec<u32>)> {
    check_len("max_pool2d", "x", x.len(), &g.x_shape())?;
    let [_, _, h, w] = g.x_shape();
    let (ho, wo) = (h / 2, w / 2);
    let mut y = buffers::take(g.y_shape().iter().product());
    let mut idx = vec![0u32; y.len()];
    let plane = |(pl, (y, idx)): (usize, (&mut [f32], &mut [u32]))| {
        let base = pl * h * w;
        for oh in 0..ho {
            let (r0, r1) = (&x[base + 2 * oh * w..][..w], &x[base + (2 * oh + 1) * w..][..w]);
            for ow in 0..wo {
                let (a, b, c, d) = (r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]);
                let (mut best, mut at) = (a, 2 * oh * w + 2 * ow);
                if b > best {
                    (best, at) = (b, 2 * oh * w + 2 * ow + 1);
                }
                if c > best {
                    (best, at) = (c, (2 * oh + 1) * w + 2 * ow);
                }
                if d > best {
                    (best, at) = (d, (2 * oh + 1) * w + 2 * ow + 1);
                }
                y[oh * wo + ow] = best;
                idx[oh * wo + ow] = (base + at) as u32;
            }
        }
    };
    let out = ho * wo;
    if x.len() <= 2 * CHUNK {
        y.chunks_mut(out).zip(idx.chunks_mut(out)).enumerate().for_each(plane);
    } else {
        y.par_chunks_mut(out).zip(idx.par_chunks_mut(out)).enumerate().for_each(plane);
    }
    Ok((y, idx))
}

/// dx[argmax[o]] = dy[o]; every other element is zero. An index outside its window is an
/// error, as in the twin.
pub fn backward(g: &Pool2d, dy: &[f32], idx: &[u32]) -> Result<Vec<f32>> {
    let op = "max_pool2d_bwd";
    check_len(op, "dy", dy.len(), &g.y_shape())?;
    check_len(op, "idx", idx.len(), &g.y_shape())?;
    let [_, _, h, w] = g.x_shape();
    let (ho, wo) = (h / 2, w / 2);
    let mut dx = buffers::zeros(g.x_shape().iter().product());
    let plane = |(pl, dx): (usize, &mut [f32])| -> Result<()> {
        let base = pl * h * w;
        for oh in 0..ho {
            for ow in 0..wo {
                let o = (pl * ho + oh) * wo + ow;
                let corner = 2 * oh * w + 2 * ow;
                let i = (idx[o] as usize).wrapping_sub(base);
                if ![corner, corner + 1, corner + w, corner + w + 1].contains(&i) {
                    return Err(Error::shape(
                        op,
                        "idx",
                        format!("holds {} at element {o}, which is not in that output's 2x2 window of x", idx[o]),
                    ));
                }
                dx[i] = dy[o];
            }
        }
        Ok(())
    };
    if dx.len() <= 2 * CHUNK {
        dx.chunks_mut(h * w).enumerate().try_for_each(plane)?;
    } else {
        dx.par_chunks_mut(h * w).enumerate().try_for_each(plane)?;
    }
    Ok(dx)
}
