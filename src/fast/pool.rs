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

/// dx[argmax[o]] = dy[o]; every other element is zero. Each window is written whole (its
/// maximum's gradient and three zeros), so dx needs no separate zeroing pass. An index
/// outside its window is an error, as in the twin.
pub fn backward(g: &Pool2d, dy: &[f32], idx: &[u32]) -> Result<Vec<f32>> {
    let op = "max_pool2d_bwd";
    check_len(op, "dy", dy.len(), &g.y_shape())?;
    check_len(op, "idx", idx.len(), &g.y_shape())?;
    let [_, _, h, w] = g.x_shape();
    let (ho, wo) = (h / 2, w / 2);
    let mut dx = buffers::take(g.x_shape().iter().product());
    let plane = |(pl, dx): (usize, &mut [f32])| -> Result<()> {
        let base = pl * h * w;
        for oh in 0..ho {
            let (top, bottom) = dx[2 * oh * w..(2 * oh + 2) * w].split_at_mut(w);
            for ow in 0..wo {
                let o = (pl * ho + oh) * wo + ow;
                let corner = 2 * oh * w + 2 * ow;
                let at = (idx[o] as usize).wrapping_sub(base).wrapping_sub(corner);
                let cell = match at {
                    0 => 0,
                    1 => 1,
                    _ if at == w => 2,
                    _ if at == w + 1 => 3,
                    _ => {
                        return Err(Error::shape(
                            op,
                            "idx",
                            format!("holds {} at element {o}, which is not in that output's 2x2 window of x", idx[o]),
                        ));
                    }
                };
                let mut win = [0.0f32; 4];
                win[cell] = dy[o];
                top[2 * ow..2 * ow + 2].copy_from_slice(&win[..2]);
                bottom[2 * ow..2 * ow + 2].copy_from_slice(&win[2..]);
            }
            // An odd trailing column is in no window.
            if w % 2 == 1 {
                top[w - 1] = 0.0;
                bottom[w - 1] = 0.0;
            }
        }
        // An odd trailing row is in no window.
        dx[2 * ho * w..].fill(0.0);
        Ok(())
    };
    if dx.len() <= 2 * CHUNK {
        dx.chunks_mut(h * w).enumerate().try_for_each(plane)?;
    } else {
        dx.par_chunks_mut(h * w).enumerate().try_for_each(plane)?;
    }
    Ok(dx)
}
