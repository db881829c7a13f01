//! The direct loops of `fast::conv2d` for stride-1 convolutions too narrow for a product
//! or a register tile (one output channel: CBAM's 7×7 spatial map, the gates' ψ, the head;
//! the 1×1 MLPs on pooled vectors): one task per plane, rows vectorised.

use rayon::prelude::*;

use super::{Geo, valid};
use crate::fast::simd;

/// y = conv(x, w) + b for stride 1, one task per output plane; rows are vectorised.
pub(super) fn forward(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    y.par_chunks_mut(g.p()).enumerate().for_each(|(pl, y)| {
        let (n, o) = (pl / g.co, pl % g.co);
        y.fill(b.map_or(0.0, |b| b[o]));
        forward_plane(g, &x[n * g.x_img()..][..g.x_img()], &w[o * g.k()..][..g.k()], y);
    });
}

/// One output plane y += Σ_c w[c] ⋆ x[c] of a stride-1 convolution.
#[pulp::with_simd(forward_plane = simd::arch())]
#[inline(always)]
fn forward_plane_simd<S: pulp::Simd>(_simd: S, g: &Geo, x: &[f32], w: &[f32], y: &mut [f32]) {
    let plane = g.h * g.w;
    for c in 0..g.ci {
        let xc = &x[c * plane..][..plane];
        for ky in 0..g.kh {
            let (oy0, oy1) = valid(ky, 1, g.ph, g.h, g.ho);
            for kx in 0..g.kw {
                let wv = w[(c * g.kh + ky) * g.kw + kx];
                let (ox0, ox1) = valid(kx, 1, g.pw, g.w, g.wo);
                if ox0 >= ox1 {
                    continue;
                }
                for oy in oy0..oy1 {
                    let src = &xc[(oy + ky - g.ph) * g.w + ox0 + kx - g.pw..][..ox1 - ox0];
                    let dst = &mut y[oy * g.wo + ox0..][..ox1 - ox0];
                    dst.iter_mut().zip(src).for_each(|(d, s)| *d += wv * s);
                }
            }
        }
    }
}

/// dw for stride 1 by direct dot products, one task per output channel's filters.
pub(super) fn backward_weight(g: &Geo, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    dw.par_chunks_mut(g.k()).enumerate().for_each(|(o, dw)| weight_filters(g, x, dy, o, dw));
}

/// The filters of output channel o: dw[c, ky, kx] = Σ_n Σ rows dy[n, o] · x[n, c] shifted.
#[pulp::with_simd(weight_filters = simd::arch())]
#[inline(always)]
fn weight_filters_simd<S: pulp::Simd>(_simd: S, g: &Geo, x: &[f32], dy: &[f32], o: usize, dw: &mut [f32]) {
    let (plane, p) = (g.h * g.w, g.p());
    for c in 0..g.ci {
        for ky in 0..g.kh {
            let (oy0, oy1) = valid(ky, 1, g.ph, g.h, g.ho);
            for kx in 0..g.kw {
                let (ox0, ox1) = valid(kx, 1, g.pw, g.w, g.wo);
                let mut acc = 0.0f32;
                if ox0 < ox1 {
                    for n in 0..g.n {
                        let d = &dy[(n * g.co + o) * p..][..p];
                        let xc = &x[(n * g.ci + c) * plane..][..plane];
                        for oy in oy0..oy1 {
                            let src = &xc[(oy + ky - g.ph) * g.w + ox0 + kx - g.pw..][..ox1 - ox0];
                            acc += simd::dot_lanes(&d[oy * g.wo + ox0..][..ox1 - ox0], src);
                        }
                    }
                }
                dw[(c * g.kh + ky) * g.kw + kx] = acc;
            }
        }
    }
}

/// dx for stride 1 by direct row updates, one task per input plane.
pub(super) fn backward_data(g: &Geo, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(pl, dx)| {
        dx.fill(0.0);
        data_plane(g, dy, w, pl / g.ci, pl % g.ci, dx);
    });
}

/// Input plane (n, c): dx += Σ_o w[o, c] ⋆ᵀ dy[n, o].
#[pulp::with_simd(data_plane = simd::arch())]
#[inline(always)]
fn data_plane_simd<S: pulp::Simd>(_simd: S, g: &Geo, dy: &[f32], w: &[f32], n: usize, c: usize, dx: &mut [f32]) {
    let p = g.p();
    for o in 0..g.co {
        let d = &dy[(n * g.co + o) * p..][..p];
        for ky in 0..g.kh {
            let (oy0, oy1) = valid(ky, 1, g.ph, g.h, g.ho);
            for kx in 0..g.kw {
                let wv = w[((o * g.ci + c) * g.kh + ky) * g.kw + kx];
                let (ox0, ox1) = valid(kx, 1, g.pw, g.w, g.wo);
                if ox0 >= ox1 {
                    continue;
                }
                for oy in oy0..oy1 {
                    let dst = &mut dx[(oy + ky - g.ph) * g.w + ox0 + kx - g.pw..][..ox1 - ox0];
                    let src = &d[oy * g.wo + ox0..][..ox1 - ox0];
                    dst.iter_mut().zip(src).for_each(|(t, s)| *t += wv * s);
                }
            }
        }
    }
}
