//! CPU twin of `shaders/reduce.wgsl`: reductions over the middle axis of x viewed as
//! [outer, r, inner] -> y [outer, inner]. Sums accumulate in f64 whatever T is (rows of
//! global pooling are tens of thousands long), and are rounded to T once.
use super::Real;
use crate::error::{Error, Result, check_len};
use crate::ops::Reduce;

/// y[o, i] = scale · Σ_k x[o, k, i].
pub fn sum<T: Real>(g: &Reduce, x: &[T], scale: T) -> Result<Vec<T>> {
    check_len("reduce_sum", "x", x.len(), &[g.outer, g.r, g.inner])?;
    Ok(sum_unchecked(g, x, scale))
}

fn sum_unchecked<T: Real>(g: &Reduce, x: &[T], scale: T) -> Vec<T> {
    let (r, inner) = (g.r, g.inner);
    let mut y = Vec::with_capacity(g.y_len());
    let mut acc = vec![0.0f64; inner];
    for o in 0..g.outer {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for k in 0..r {
            let row = &x[(o * r + k) * inner..(o * r + k + 1) * inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v.to_f64().unwrap();
            }
        }
        y.extend(acc.iter().map(|&a| T::from_f64(a).unwrap() * scale));
    }
    y
}

fn inv_r<T: Real>(g: &Reduce) -> T {
    T::one() / T::from_usize(g.r).unwrap()
}

pub fn mean_forward<T: Real>(g: &Reduce, x: &[T]) -> Result<Vec<T>> {
    check_len("reduce_mean", "x", x.len(), &[g.outer, g.r, g.inner])?;
    Ok(sum_unchecked(g, x, inv_r(g)))
}

/// dx[o, k, i] = dy[o, i] / r.
pub fn mean_backward<T: Real>(g: &Reduce, dy: &[T]) -> Result<Vec<T>> {
    check_len("reduce_mean_bwd", "dy", dy.len(), &[g.outer, g.inner])?;
    let scale: T = inv_r(g);
    let (r, inner) = (g.r, g.inner);
    let mut dx = vec![T::zero(); g.x_len()];
    for o in 0..g.outer {
        for k in 0..r {
            let row = &mut dx[(o * r + k) * inner..(o * r + k + 1) * inner];
            for (d, &v) in row.iter_mut().zip(&dy[o * inner..(o + 1) * inner]) {
                *d = v * scale;
            }
        }
    }
    Ok(dx)
}

/// Returns (y, argmax) where argmax is the position along r of the first maximum.
/// (NaN inputs give unspecified results.)
pub fn max_forward<T: Real>(g: &Reduce, x: &[T]) -> Result<(Vec<T>, Vec<u32>)> {
    check_len("reduce_max", "x", x.len(), &[g.outer, g.r, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    let mut y = vec![T::zero(); g.y_len()];
    let mut idx = vec![0u32; g.y_len()];
    for o in 0..g.outer {
        for i in 0..inner {
            let mut best = x[o * r * inner + i];
            let mut bi = 0;
            for k in 1..r {
                let v = x[(o * r + k) * inner + i];
                if v > best {
                    best = v;
                    bi = k;
                }
            }
            y[o * inner + i] = best;
            idx[o * inner + i] = bi as u32;
        }
    }
    Ok((y, idx))
}

/// dx[o, k, i] = dy[o, i] where k = argmax[o, i], zero elsewhere.
pub fn max_backward<T: Real>(g: &Reduce, dy: &[T], idx: &[u32]) -> Result<Vec<T>> {
    let op = "reduce_max_bwd";
    check_len(op, "dy", dy.len(), &[g.outer, g.inner])?;
    check_len(op, "idx", idx.len(), &[g.outer, g.inner])?;
    let (r, inner) = (g.r, g.inner);
    let mut dx = vec![T::zero(); g.x_len()];
    for o in 0..g.outer {
        for i in 0..inner {
            let j = o * inner + i;
            let k = idx[j] as usize;
            if k >= r {
                return Err(Error::shape(
                    op,
                    "idx",
                    format!("holds position {k} at element {j}, outside the reduced axis of length {r}"),
                ));
            }
            dx[(o * r + k) * inner + i] = dy[j];
        }
    }
    Ok(dx)
}
