//! CPU twin of `kernels/conv_transpose2d.rs`, written from the transposed convolution's own
//! definition (a scatter), not through conv2d, so that the GPU's mapping onto the conv2d
//! kernels is checked against an independent reference:
//!
//! y[n, o, iy·s − p + ky, ix·s − p + kx] += x[n,i,iy,ix] · w[i,o,ky,kx]   (+ b[o] everywhere),
//!
//! where targets outside the output (cropped by the padding) are dropped.
use super::Real;
use crate::error::{Result, check_len};
use crate::ops::ConvTranspose2d;

/// Re-validates a descriptor whose fields may have been set by hand (a zero stride would
/// otherwise divide by zero).
fn check_geometry(g: &ConvTranspose2d) -> Result<()> {
    ConvTranspose2d::new(g.x_shape(), g.co, g.k, g.stride, g.pad).map(|_| ())
}

const OP: &str = "conv_transpose2d";

/// The output pixel that input `i` reaches through tap `k`, or None when it is cropped.
#[inline]
fn target(i: usize, k: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
    (i * stride + k).checked_sub(pad).filter(|&o| o < size)
}

/// y = conv_transpose(x, w) + b.
pub fn forward<T: Real>(g: &ConvTranspose2d, x: &[T], w: &[T], b: Option<&[T]>) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len(), &[g.co])?;
    }
    let (ho, wo, k) = (g.ho(), g.wo(), g.k);
    let mut y = vec![T::zero(); g.n * g.co * ho * wo];
    for n in 0..g.n {
        for i in 0..g.ci {
            for iy in 0..g.h {
                for ix in 0..g.w {
                    let v = x[((n * g.ci + i) * g.h + iy) * g.w + ix];
                    for o in 0..g.co {
                        for ky in 0..k {
                            let Some(oy) = target(iy, ky, g.stride, g.pad, ho) else { continue };
                            for kx in 0..k {
                                let Some(ox) = target(ix, kx, g.stride, g.pad, wo) else { continue };
                                let j = ((n * g.co + o) * ho + oy) * wo + ox;
                                y[j] = y[j] + v * w[((i * g.co + o) * k + ky) * k + kx];
                            }
                        }
                    }
                }
            }
        }
        if let Some(b) = b {
            for o in 0..g.co {
                let start = (n * g.co + o) * ho * wo;
                for v in &mut y[start..start + ho * wo] {
                    *v = *v + b[o];
                }
            }
        }
    }
    Ok(y)
}

/// dx[n,i,iy,ix] = Σ_{o,ky,kx} dy[n, o, iy·s − p + ky, ix·s − p + kx] · w[i,o,ky,kx].
pub fn backward_data<T: Real>(g: &ConvTranspose2d, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    let (ho, wo, k) = (g.ho(), g.wo(), g.k);
    let mut dx = vec![T::zero(); g.n * g.ci * g.h * g.w];
    for n in 0..g.n {
        for i in 0..g.ci {
            for iy in 0..g.h {
                for ix in 0..g.w {
                    let mut acc = T::zero();
                    for o in 0..g.co {
                        for ky in 0..k {
                            let Some(oy) = target(iy, ky, g.stride, g.pad, ho) else { continue };
                            for kx in 0..k {
                                let Some(ox) = target(ix, kx, g.stride, g.pad, wo) else { continue };
                                acc = acc
                                    + dy[((n * g.co + o) * ho + oy) * wo + ox] * w[((i * g.co + o) * k + ky) * k + kx];
                            }
                        }
                    }
                    dx[((n * g.ci + i) * g.h + iy) * g.w + ix] = acc;
                }
            }
        }
    }
    Ok(dx)
}

/// dw[i,o,ky,kx] = Σ_{n,iy,ix} x[n,i,iy,ix] · dy[n, o, iy·s − p + ky, ix·s − p + kx].
pub fn backward_weight<T: Real>(g: &ConvTranspose2d, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    let (ho, wo, k) = (g.ho(), g.wo(), g.k);
    let mut dw = vec![T::zero(); g.ci * g.co * k * k];
    for i in 0..g.ci {
        for o in 0..g.co {
            for ky in 0..k {
                for kx in 0..k {
                    let mut acc = T::zero();
                    for n in 0..g.n {
                        for iy in 0..g.h {
                            let Some(oy) = target(iy, ky, g.stride, g.pad, ho) else { continue };
                            for ix in 0..g.w {
                                let Some(ox) = target(ix, kx, g.stride, g.pad, wo) else { continue };
                                acc = acc
                                    + x[((n * g.ci + i) * g.h + iy) * g.w + ix]
                                        * dy[((n * g.co + o) * ho + oy) * wo + ox];
                            }
                        }
                    }
                    dw[((i * g.co + o) * k + ky) * k + kx] = acc;
                }
            }
        }
    }
    Ok(dw)
}

/// db[o] = Σ_{n,oy,ox} dy[n,o,oy,ox].
pub fn backward_bias<T: Real>(g: &ConvTranspose2d, dy: &[T]) -> Result<Vec<T>> {
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
