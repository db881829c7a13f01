//! CPU twin of `shaders/conv2d.wgsl`: direct loops straight from the definition
//!
//! y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n, c, oy·s − p + ky, ox·s − p + kx]
//!
//! (taps outside the input read zero), and its three gradients. Accumulation is in `T`.
use rayon::prelude::*;

use super::Real;
use crate::error::{Result, check_len};
use crate::ops::Conv2d;

/// Re-validates a descriptor whose fields may have been set by hand (a zero stride would
/// otherwise divide by zero).
fn check_geometry(g: &Conv2d) -> Result<()> {
    Conv2d::new(g.x_shape(), g.co, [g.kh, g.kw], g.stride, g.pad).map(|_| ())
}

const OP: &str = "conv2d";

/// The outputs o in [lo, hi) whose tap k lands inside an input of `size` (o·stride + k − pad
/// in [0, size)), so inner loops run without bounds tests.
#[inline]
fn valid(k: usize, stride: usize, pad: usize, size: usize, outputs: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride);
    let hi = if size + pad > k { ((size + pad - k - 1) / stride + 1).min(outputs) } else { 0 };
    (lo, hi.max(lo))
}

/// y = conv(x, w) + b.
pub fn forward<T: Real>(g: &Conv2d, x: &[T], w: &[T], b: Option<&[T]>) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len(), &[g.co])?;
    }
    let (ho, wo) = (g.ho(), g.wo());
    let mut y = vec![T::zero(); g.n * g.co * ho * wo];
    // Each (n, o) output plane is independent: one task per plane. Every output sums its
    // terms in the order (c, ky, kx), the inner loop running along a row of outputs.
    y.par_chunks_mut(ho * wo).enumerate().for_each(|(plane, y)| {
        let (n, o) = (plane / g.co, plane % g.co);
        y.fill(b.map_or(T::zero(), |b| b[o]));
        for c in 0..g.ci {
            let xc = &x[(n * g.ci + c) * g.h * g.w..][..g.h * g.w];
            for ky in 0..g.kh {
                let (oy0, oy1) = valid(ky, g.stride, g.pad, g.h, ho);
                for kx in 0..g.kw {
                    let wv = w[((o * g.ci + c) * g.kh + ky) * g.kw + kx];
                    let (ox0, ox1) = valid(kx, g.stride, g.pad, g.w, wo);
                    for oy in oy0..oy1 {
                        let row = &xc[(oy * g.stride + ky - g.pad) * g.w..][..g.w];
                        let out = &mut y[oy * wo..][..wo];
                        for ox in ox0..ox1 {
                            out[ox] = out[ox] + wv * row[ox * g.stride + kx - g.pad];
                        }
                    }
                }
            }
        }
    });
    Ok(y)
}

/// dx = Jᵀ dy with respect to x: every output tap sends dy·w back to the input pixel it read.
pub fn backward_data<T: Real>(g: &Conv2d, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    let (ho, wo) = (g.ho(), g.wo());
    let mut dx = vec![T::zero(); g.n * g.ci * g.h * g.w];
    // One task per (n, c) input plane: every output tap sends dy·w back to the pixel it read.
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(plane, dx)| {
        let (n, c) = (plane / g.ci, plane % g.ci);
        for o in 0..g.co {
            let dyo = &dy[(n * g.co + o) * ho * wo..][..ho * wo];
            for ky in 0..g.kh {
                let (oy0, oy1) = valid(ky, g.stride, g.pad, g.h, ho);
                for kx in 0..g.kw {
                    let wv = w[((o * g.ci + c) * g.kh + ky) * g.kw + kx];
                    let (ox0, ox1) = valid(kx, g.stride, g.pad, g.w, wo);
                    for oy in oy0..oy1 {
                        let row = &mut dx[(oy * g.stride + ky - g.pad) * g.w..][..g.w];
                        let d = &dyo[oy * wo..][..wo];
                        for ox in ox0..ox1 {
                            let i = ox * g.stride + kx - g.pad;
                            row[i] = row[i] + d[ox] * wv;
                        }
                    }
                }
            }
        }
    });
    Ok(dx)
}

/// dw[o,c,ky,kx] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + ky, ox·s − p + kx].
pub fn backward_weight<T: Real>(g: &Conv2d, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    let (ho, wo) = (g.ho(), g.wo());
    let mut dw = vec![T::zero(); g.co * g.ci * g.kh * g.kw];
    // One task per output channel's filters; each weight sums over (n, oy, ox) in order.
    dw.par_chunks_mut(g.ci * g.kh * g.kw).enumerate().for_each(|(o, dw)| {
        for c in 0..g.ci {
            for ky in 0..g.kh {
                let (oy0, oy1) = valid(ky, g.stride, g.pad, g.h, ho);
                for kx in 0..g.kw {
                    let (ox0, ox1) = valid(kx, g.stride, g.pad, g.w, wo);
                    let mut acc = T::zero();
                    for n in 0..g.n {
                        let dyo = &dy[(n * g.co + o) * ho * wo..][..ho * wo];
                        let xc = &x[(n * g.ci + c) * g.h * g.w..][..g.h * g.w];
                        for oy in oy0..oy1 {
                            let row = &xc[(oy * g.stride + ky - g.pad) * g.w..][..g.w];
                            let d = &dyo[oy * wo..][..wo];
                            for ox in ox0..ox1 {
                                acc = acc + d[ox] * row[ox * g.stride + kx - g.pad];
                            }
                        }
                    }
                    dw[(c * g.kh + ky) * g.kw + kx] = acc;
                }
            }
        }
    });
    Ok(dw)
}

/// db[o] = Σ_{n,oy,ox} dy[n,o,oy,ox].
pub fn backward_bias<T: Real>(g: &Conv2d, dy: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    let hw = g.ho() * g.wo();
    let mut db = vec![T::zero(); g.co];
    for n in 0..g.n {
        for (o, acc) in db.iter_mut().enumerate() {
            let start = (n * g.co + o) * hw;
            *acc = *acc + dy[start..start + hw].iter().copied().sum::<T>();
        }
    }
    Ok(db)
}
