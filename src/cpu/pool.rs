//! CPU twin of `shaders/pool.wgsl`: max pooling, window = stride = 2, floor mode.
use super::Real;
use crate::error::{Error, Result, check_len};
use crate::ops::Pool2d;

/// Returns (y, argmax) where argmax is the flat index into x of each window's first maximum.
/// (NaN inputs give unspecified results.)
pub fn forward<T: Real>(g: &Pool2d, x: &[T]) -> Result<(Vec<T>, Vec<u32>)> {
    check_len("max_pool2d", "x", x.len(), &g.x_shape())?;
    let [n, c, h, w] = g.x_shape();
    let (ho, wo) = (h / 2, w / 2);
    let mut y = Vec::with_capacity(n * c * ho * wo);
    let mut idx = Vec::with_capacity(n * c * ho * wo);
    for nc in 0..n * c {
        for oh in 0..ho {
            for ow in 0..wo {
                let base = nc * h * w + 2 * oh * w + 2 * ow;
                let mut bi = base;
                for cand in [base + 1, base + w, base + w + 1] {
                    if x[cand] > x[bi] {
                        bi = cand;
                    }
                }
                y.push(x[bi]);
                idx.push(bi as u32);
            }
        }
    }
    Ok((y, idx))
}

/// dx[argmax[o]] = dy[o]; every other element (odd trailing row/column included) is zero.
pub fn backward<T: Real>(g: &Pool2d, dy: &[T], idx: &[u32]) -> Result<Vec<T>> {
    let op = "max_pool2d_bwd";
    check_len(op, "dy", dy.len(), &g.y_shape())?;
    check_len(op, "idx", idx.len(), &g.y_shape())?;
    let [n, c, h, w] = g.x_shape();
    let (ho, wo) = (h / 2, w / 2);
    let mut dx = vec![T::zero(); n * c * h * w];
    for nc in 0..n * c {
        for oh in 0..ho {
            for ow in 0..wo {
                let o = (nc * ho + oh) * wo + ow;
                let base = nc * h * w + 2 * oh * w + 2 * ow;
                let i = idx[o] as usize;
                if ![base, base + 1, base + w, base + w + 1].contains(&i) {
                    return Err(Error::shape(
                        op,
                        "idx",
                        format!("holds {i} at element {o}, which is not in that output's 2x2 window of x"),
                    ));
                }
                dx[i] = dy[o];
            }
        }
    }
    Ok(dx)
}
