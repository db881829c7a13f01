//! CPU twin of `shaders/conv2d.wgsl`: direct loops straight from the definition
//!
//! y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n, c, oy·s − p + ky, ox·s − p + kx]
//!
//! (taps outside the input read zero), and its three gradients. Accumulation is in `T`.
use super::Real;
use crate::error::{Result, check_len};
use crate::ops::Conv2d;

/// Re-validates a descriptor whose fields may have been set by hand (a zero stride would
/// otherwise divide by zero).
fn check_geometry(g: &Conv2d) -> Result<()> {
    Conv2d::new(g.x_shape(), g.co, [g.kh, g.kw], g.stride, g.pad).map(|_| ())
}

const OP: &str = "conv2d";

/// The input pixel that output `o` reads through tap `k`, or None when it falls in the padding.
#[inline]
fn tap(o: usize, k: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
    (o * stride + k).checked_sub(pad).filter(|&i| i < size)
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
    for n in 0..g.n {
        for o in 0..g.co {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(T::zero(), |b| b[o]);
                    for c in 0..g.ci {
                        for ky in 0..g.kh {
                            let Some(iy) = tap(oy, ky, g.stride, g.pad, g.h) else { continue };
                            for kx in 0..g.kw {
                                let Some(ix) = tap(ox, kx, g.stride, g.pad, g.w) else { continue };
                                acc = acc
                                    + w[((o * g.ci + c) * g.kh + ky) * g.kw + kx]
                                        * x[((n * g.ci + c) * g.h + iy) * g.w + ix];
                            }
                        }
                    }
                    y[((n * g.co + o) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    Ok(y)
}

/// dx = Jᵀ dy with respect to x: every output tap sends dy·w back to the input pixel it read.
pub fn backward_data<T: Real>(g: &Conv2d, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    let (ho, wo) = (g.ho(), g.wo());
    let mut dx = vec![T::zero(); g.n * g.ci * g.h * g.w];
    for n in 0..g.n {
        for o in 0..g.co {
            for oy in 0..ho {
                for ox in 0..wo {
                    let d = dy[((n * g.co + o) * ho + oy) * wo + ox];
                    for c in 0..g.ci {
                        for ky in 0..g.kh {
                            let Some(iy) = tap(oy, ky, g.stride, g.pad, g.h) else { continue };
                            for kx in 0..g.kw {
                                let Some(ix) = tap(ox, kx, g.stride, g.pad, g.w) else { continue };
                                let i = ((n * g.ci + c) * g.h + iy) * g.w + ix;
                                dx[i] = dx[i] + d * w[((o * g.ci + c) * g.kh + ky) * g.kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(dx)
}

/// dw[o,c,ky,kx] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + ky, ox·s − p + kx].
pub fn backward_weight<T: Real>(g: &Conv2d, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    let (ho, wo) = (g.ho(), g.wo());
    let mut dw = vec![T::zero(); g.co * g.ci * g.kh * g.kw];
    for o in 0..g.co {
        for c in 0..g.ci {
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let mut acc = T::zero();
                    for n in 0..g.n {
                        for oy in 0..ho {
                            let Some(iy) = tap(oy, ky, g.stride, g.pad, g.h) else { continue };
                            for ox in 0..wo {
                                let Some(ix) = tap(ox, kx, g.stride, g.pad, g.w) else { continue };
                                acc = acc
                                    + dy[((n * g.co + o) * ho + oy) * wo + ox]
                                        * x[((n * g.ci + c) * g.h + iy) * g.w + ix];
                            }
                        }
                    }
                    dw[((o * g.ci + c) * g.kh + ky) * g.kw + kx] = acc;
                }
            }
        }
    }
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
