//! Fast path of `cpu::conv2d`.
//!
//! Forward: stride-1 convolutions of images of 256 pixels and more run the register-tiled
//! direct kernel of `tiles`; the rest are matrix products through the `gemm` crate —
//! per image and block of output pixels, im2col gathers the block's receptive fields into
//! a panel `col` [ci·kh·kw, pixels] (sized to stay in L2), then y = W · col; images under
//! 512 pixels share one panel and one product for the whole batch. Backward-weight sums
//! dy · colᵀ over the same blocks. Backward-data of a stride-1 convolution is itself a
//! stride-1 convolution of dy with the flipped, transposed filter (padding k−1−p), so it
//! runs on the forward path; other strides compute Wᵀ · dy per image and scatter it back
//! (col2im). Convolutions too narrow for either (one output channel, the 1×1 MLPs on
//! pooled vectors) run direct loops that vectorise along rows.
//!
//! Work is split by image and pixel block; the weight gradient's partial sums are grouped by
//! shape alone and added in a fixed order, so the result does not depend on thread count.

mod direct;
mod tiles;

use std::cell::RefCell;

use rayon::prelude::*;

use super::gemm::{View, matmul, matmul_into};
use super::{Disjoint, buffers, simd, threads};
use crate::error::{Result, check_len};
use crate::ops::Conv2d;

const OP: &str = "conv2d";

/// A convolution's geometry with a padding per axis (the flipped backward-data needs
/// kh−1−p rows and kw−1−p columns).
#[derive(Clone, Copy, Debug)]
struct Geo {
    n: usize,
    ci: usize,
    h: usize,
    w: usize,
    co: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    ph: usize,
    pw: usize,
    ho: usize,
    wo: usize,
}

impl Geo {
    fn of(g: &Conv2d) -> Geo {
        Geo {
            n: g.n,
            ci: g.ci,
            h: g.h,
            w: g.w,
            co: g.co,
            kh: g.kh,
            kw: g.kw,
            stride: g.stride,
            ph: g.pad,
            pw: g.pad,
            ho: g.ho(),
            wo: g.wo(),
        }
    }
    /// Rows of the im2col panel.
    fn k(&self) -> usize {
        self.ci * self.kh * self.kw
    }
    /// Output pixels per image.
    fn p(&self) -> usize {
        self.ho * self.wo
    }
    fn x_img(&self) -> usize {
        self.ci * self.h * self.w
    }
    fn y_img(&self) -> usize {
        self.co * self.p()
    }
    /// The stride-1 convolution whose forward pass is this one's backward-data, when padding
    /// fits inside the kernel (p ≤ k−1).
    fn flipped(&self) -> Option<Geo> {
        (self.stride == 1 && self.ph < self.kh && self.pw < self.kw).then_some(Geo {
            n: self.n,
            ci: self.co,
            h: self.ho,
            w: self.wo,
            co: self.ci,
            kh: self.kh,
            kw: self.kw,
            stride: 1,
            ph: self.kh - 1 - self.ph,
            pw: self.kw - 1 - self.pw,
            ho: self.h,
            wo: self.w,
        })
    }
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.ph == 0 && self.pw == 0
    }
    /// A product pays when both of its small dimensions are a few lanes wide.
    fn wants_gemm(&self) -> bool {
        self.co >= 4 && self.k() >= 4
    }
    /// Runs as a matrix product over im2col panels: wide enough for one, or strided (the
    /// direct loops take stride 1 only).
    fn product(&self) -> bool {
        self.wants_gemm() || self.stride != 1
    }
    /// Images small enough that a product per image would be too narrow: all of them go
    /// into one panel [k, n·ho·wo] and one product.
    fn batched(&self) -> bool {
        self.p() < 512
    }
    /// Stride-1 convolutions of images of 256 pixels and more run the register-tiled direct
    /// kernel (`tiles`), which outruns a product over an im2col panel.
    fn tiled(&self) -> bool {
        self.stride == 1 && self.wants_gemm() && self.p() >= 256 && self.kw <= 16
    }
    /// Output pixels per im2col panel: about 160 K floats (640 KB, inside L2), a multiple of 16.
    fn block(&self) -> usize {
        let p = self.p();
        if self.is_pointwise() {
            return p.min(4096);
        }
        let cols = (160 * 1024 / self.k().max(1)) / 16 * 16;
        cols.clamp(64, 4096).min(p)
    }
}

/// The outputs o in [lo, hi) whose tap k lands inside an input of `size`
/// (o·stride + k − pad in [0, size)).
#[inline]
fn valid(k: usize, stride: usize, pad: usize, size: usize, outputs: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride);
    let hi = if size + pad > k { ((size + pad - k - 1) / stride + 1).min(outputs) } else { 0 };
    (lo.min(outputs), hi.max(lo.min(outputs)))
}

/// Gathers the receptive fields of output pixels [p0, p1) of one image `x` [ci, h, w] into
/// `col` [k][p1 − p0]; taps in the padding read zero.
fn im2col(g: &Geo, x: &[f32], p0: usize, p1: usize, col: &mut [f32]) {
    im2col_strided(g, x, p0, p1, col, p1 - p0)
}

/// `im2col` into rows `ld` apart.
fn im2col_strided(g: &Geo, x: &[f32], p0: usize, p1: usize, col: &mut [f32], ld: usize) {
    let pb = p1 - p0;
    let plane = g.h * g.w;
    for c in 0..g.ci {
        let xc = &x[c * plane..][..plane];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((c * g.kh + ky) * g.kw + kx) * ld..][..pb];
                let (lo, hi) = valid(kx, g.stride, g.pw, g.w, g.wo);
                let mut p = p0;
                while p < p1 {
                    let (oy, ox0) = (p / g.wo, p % g.wo);
                    let ox1 = (ox0 + p1 - p).min(g.wo);
                    let seg = &mut row[p - p0..p - p0 + ox1 - ox0];
                    let iy = (oy * g.stride + ky).wrapping_sub(g.ph);
                    if iy >= g.h {
                        seg.fill(0.0);
                    } else {
                        let src = &xc[iy * g.w..][..g.w];
                        let (a, b) = (lo.clamp(ox0, ox1), hi.clamp(ox0, ox1).max(lo.clamp(ox0, ox1)));
                        seg[..a - ox0].fill(0.0);
                        if g.stride == 1 {
                            seg[a - ox0..b - ox0].copy_from_slice(&src[a + kx - g.pw..b + kx - g.pw]);
                        } else {
                            for ox in a..b {
                                seg[ox - ox0] = src[ox * g.stride + kx - g.pw];
                            }
                        }
                        seg[b - ox0..].fill(0.0);
                    }
                    p += ox1 - ox0;
                }
            }
        }
    }
}

/// The adjoint of `im2col` over a whole image: adds `col` [k][ho·wo] into `dx` [ci, h, w].
#[pulp::with_simd(col2im_add = simd::arch())]
#[inline(always)]
fn col2im_add_simd<S: pulp::Simd>(_simd: S, g: &Geo, col: &[f32], dx: &mut [f32]) {
    let (p, plane) = (g.p(), g.h * g.w);
    for c in 0..g.ci {
        let dxc = &mut dx[c * plane..][..plane];
        for ky in 0..g.kh {
            let (oy0, oy1) = valid(ky, g.stride, g.ph, g.h, g.ho);
            for kx in 0..g.kw {
                let row = &col[((c * g.kh + ky) * g.kw + kx) * p..][..p];
                let (ox0, ox1) = valid(kx, g.stride, g.pw, g.w, g.wo);
                if ox0 >= ox1 {
                    continue;
                }
                for oy in oy0..oy1 {
                    let dst = &mut dxc[(oy * g.stride + ky - g.ph) * g.w..][..g.w];
                    let src = &row[oy * g.wo + ox0..][..ox1 - ox0];
                    if g.stride == 1 {
                        let dst = &mut dst[ox0 + kx - g.pw..][..ox1 - ox0];
                        dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                    } else {
                        for (j, &s) in src.iter().enumerate() {
                            dst[(ox0 + j) * g.stride + kx - g.pw] += s;
                        }
                    }
                }
            }
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch panel of at least `len` floats. The panel is taken out
/// while `f` runs, so a nested call (rayon may run another task here) gets a fresh one.
pub(crate) fn with_panel<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut panel = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if panel.len() < len {
        panel = vec![0.0; len];
    }
    let r = f(&mut panel[..len]);
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < panel.len() {
            *s = panel;
        }
    });
    r
}

/// y = conv(x, w) (+ b) on the product path: one task per (image, pixel block).
fn forward_gemm(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let (k, p) = (g.k(), g.p());
    let pb = g.block();
    let blocks = p.div_ceil(pb);
    let tasks = g.n * blocks;
    let inner = tasks < 2 * threads::count();
    let wv = View::rows(g.co, k, k);
    let y_len = y.len();
    let out = Disjoint::new(y);
    let task = |t: usize| {
        let (i, blk) = (t / blocks, t % blocks);
        let (p0, p1) = (blk * pb, ((blk + 1) * pb).min(p));
        let xi = &x[i * g.x_img()..][..g.x_img()];
        let cv = View::rows(g.co, p1 - p0, p);
        let start = i * g.y_img() + p0;
        assert!(start + cv.rs * (g.co - 1) + (p1 - p0) <= y_len);
        // SAFETY: task t writes y[i, :, p0..p1] (inside y, checked), which no other task
        // writes.
        let write = |bm: &[f32], bv: View| unsafe {
            matmul_into(out.at(start), cv, w, wv, bm, bv, false, inner);
            if let Some(b) = b {
                for (o, &bo) in b.iter().enumerate() {
                    out.slice(start + o * p, p1 - p0).iter_mut().for_each(|v| *v += bo);
                }
            }
        };
        if g.is_pointwise() {
            write(&xi[p0..], View::rows(k, p1 - p0, p));
        } else {
            with_panel(k * (p1 - p0), |col| {
                im2col(g, xi, p0, p1, col);
                write(col, View::rows(k, p1 - p0, p1 - p0));
            });
        }
    };
    if inner {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
}

/// dw = Σ dy · colᵀ on the product path. Tasks (image, block) fall into `groups` fixed by
/// the shape; each group sums its tasks in order into a partial, and the partials are added
/// in group order.
fn backward_weight_gemm(g: &Geo, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let (k, p) = (g.k(), g.p());
    let pb = g.block();
    let blocks = p.div_ceil(pb);
    let tasks = g.n * blocks;
    let groups = partial_groups(tasks.min(8), g.co * k);
    let inner = groups < threads::count();
    let run_group = |j: usize, part: &mut [f32]| {
        let (t0, t1) = (j * tasks / groups, (j + 1) * tasks / groups);
        for t in t0..t1 {
            let (i, blk) = (t / blocks, t % blocks);
            let (p0, p1) = (blk * pb, ((blk + 1) * pb).min(p));
            let xi = &x[i * g.x_img()..][..g.x_img()];
            let a = &dy[i * g.y_img() + p0..];
            let av = View::rows(g.co, p1 - p0, p);
            let cv = View::rows(g.co, k, k);
            if g.is_pointwise() {
                matmul(part, cv, a, av, &xi[p0..], View::rows(k, p1 - p0, p).t(), t > t0, inner);
            } else {
                with_panel(k * (p1 - p0), |col| {
                    im2col(g, xi, p0, p1, col);
                    matmul(part, cv, a, av, col, View::rows(k, p1 - p0, p1 - p0).t(), t > t0, inner);
                });
            }
        }
    };
    grouped_sum(dw, groups, !inner, run_group);
}

/// Groups of weight-gradient partials: `want`, or fewer so that they stay within 64 MB.
fn partial_groups(want: usize, len: usize) -> usize {
    want.min(((64 << 20) / (4 * len)).max(1))
}

/// dw = Σ_j (group j's partial): `run_group(j, part)` writes group j's sum into `part`
/// (group 0 straight into dw), the groups run in parallel or in turn, and the partials are
/// added in group order, so the sum does not depend on which.
fn grouped_sum(dw: &mut [f32], groups: usize, parallel: bool, run_group: impl Fn(usize, &mut [f32]) + Sync) {
    let mut partials: Vec<Vec<f32>> = (1..groups).map(|_| buffers::take(dw.len())).collect();
    if parallel {
        let mut all: Vec<&mut [f32]> =
            std::iter::once(&mut *dw).chain(partials.iter_mut().map(|v| &mut v[..])).collect();
        all.par_iter_mut().enumerate().for_each(|(j, part)| run_group(j, part));
    } else {
        run_group(0, dw);
        for (j, part) in partials.iter_mut().enumerate() {
            run_group(j + 1, part);
        }
    }
    for part in &partials {
        simd::add_assign(dw, part);
    }
    partials.into_iter().for_each(buffers::give);
}

/// The panel [k, n·p] of every image's receptive fields (`Geo::batched`), one input
/// channel's kh·kw rows per task.
fn batched_panel(g: &Geo, x: &[f32], col: &mut [f32]) {
    let (np, p, plane, taps) = (g.n * g.p(), g.p(), g.h * g.w, g.kh * g.kw);
    let one = Geo { ci: 1, ..*g };
    let channel = |(c, rows): (usize, &mut [f32])| {
        for i in 0..g.n {
            let xc = &x[i * g.x_img() + c * plane..][..plane];
            im2col_strided(&one, xc, 0, p, &mut rows[i * p..], np);
        }
    };
    if g.n * g.x_img() <= 1 << 15 {
        col.chunks_mut(taps * np).enumerate().for_each(channel);
    } else {
        col.par_chunks_mut(taps * np).enumerate().for_each(channel);
    }
}

/// y = conv(x, w) (+ b) for small images: one panel and one product for the whole batch,
/// then each image's block of the result copied into place.
fn forward_batched(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let (k, p, np) = (g.k(), g.p(), g.n * g.p());
    let mut col = buffers::take(k * np);
    batched_panel(g, x, &mut col);
    let mut t = buffers::take(g.co * np);
    matmul(&mut t, View::rows(g.co, np, np), w, View::rows(g.co, k, k), &col, View::rows(k, np, np), false, true);
    for (i, yi) in y.chunks_mut(g.y_img()).enumerate() {
        for (o, row) in yi.chunks_mut(p).enumerate() {
            row.copy_from_slice(&t[o * np + i * p..][..p]);
            if let Some(b) = b {
                simd::add_scalar(row, b[o]);
            }
        }
    }
    buffers::give(col);
    buffers::give(t);
}

/// dw = Dy · panelᵀ for small images, Dy [co, n·p] gathered from dy. The inner dimension
/// runs over every pixel of the batch, split by images into groups fixed by the shape (a
/// single product's own threads cost more than they save on so small a result); each
/// group's partial is added in group order.
fn backward_weight_batched(g: &Geo, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let (k, p, np) = (g.k(), g.p(), g.n * g.p());
    let mut col = buffers::take(k * np);
    batched_panel(g, x, &mut col);
    let mut d = buffers::take(g.co * np);
    for (i, di) in dy.chunks(g.y_img()).enumerate() {
        for (o, row) in di.chunks(p).enumerate() {
            d[o * np + i * p..][..p].copy_from_slice(row);
        }
    }
    let groups = partial_groups(g.n.min(4), g.co * k);
    let run_group = |j: usize, part: &mut [f32]| {
        let (c0, c1) = (j * g.n / groups * p, (j + 1) * g.n / groups * p);
        let av = View::rows(g.co, c1 - c0, np);
        let bv = View::rows(k, c1 - c0, np).t();
        matmul(part, View::rows(g.co, k, k), &d[c0..], av, &col[c0..], bv, false, groups == 1);
    };
    grouped_sum(dw, groups, true, run_group);
    buffers::give(col);
    buffers::give(d);
}

/// dx = Wᵀ · dy scattered back (col2im), per image: for strides the flip cannot take.
fn backward_data_col2im(g: &Geo, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    let (k, p) = (g.k(), g.p());
    let inner = g.n < 2 * threads::count();
    let image = |(i, dxi): (usize, &mut [f32])| {
        with_panel(k * p, |col| {
            let b = &dy[i * g.y_img()..][..g.y_img()];
            matmul(col, View::rows(k, p, p), w, View::rows(g.co, k, k).t(), b, View::rows(g.co, p, p), false, inner);
            dxi.fill(0.0);
            col2im_add(g, col, dxi);
        })
    };
    if inner {
        dx.chunks_mut(g.x_img()).enumerate().for_each(image);
    } else {
        dx.par_chunks_mut(g.x_img()).enumerate().for_each(image);
    }
}

/// The flipped, transposed filter: wf[c, o, ky, kx] = w[o, c, kh−1−ky, kw−1−kx].
fn flip(g: &Geo, w: &[f32]) -> Vec<f32> {
    let (kh, kw) = (g.kh, g.kw);
    let mut wf = buffers::take(w.len());
    for o in 0..g.co {
        for c in 0..g.ci {
            for ky in 0..kh {
                for kx in 0..kw {
                    wf[((c * g.co + o) * kh + ky) * kw + kx] =
                        w[((o * g.ci + c) * kh + kh - 1 - ky) * kw + kw - 1 - kx];
                }
            }
        }
    }
    wf
}

// ------------------------------------------------------------------ entry points

/// Re-validates a descriptor whose fields may have been set by hand.
fn check_geometry(g: &Conv2d) -> Result<()> {
    Conv2d::new(g.x_shape(), g.co, [g.kh, g.kw], g.stride, g.pad).map(|_| ())
}

/// y = conv(x, w) + b.
pub fn forward(g: &Conv2d, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len(), &[g.co])?;
    }
    let geo = Geo::of(g);
    Ok(forward_geo(&geo, x, w, b))
}

fn forward_geo(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y = buffers::take(g.n * g.y_img());
    if g.tiled() {
        tiles::forward(g, x, w, b, &mut y);
    } else if g.product() && g.batched() {
        forward_batched(g, x, w, b, &mut y);
    } else if g.product() {
        forward_gemm(g, x, w, b, &mut y);
    } else {
        direct::forward(g, x, w, b, &mut y);
    }
    y
}

/// dx = Jᵀ dy with respect to x.
pub fn backward_data(g: &Conv2d, dy: &[f32], w: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    let geo = Geo::of(g);
    Ok(backward_data_geo(&geo, dy, w))
}

fn backward_data_geo(g: &Geo, dy: &[f32], w: &[f32]) -> Vec<f32> {
    let flipped = g.flipped();
    match flipped {
        Some(f) if f.wants_gemm() => {
            let wf = flip(g, w);
            let dx = forward_geo(&f, dy, &wf, None);
            buffers::give(wf);
            dx
        }
        _ if g.stride == 1 => {
            let mut dx = buffers::take(g.n * g.x_img());
            direct::backward_data(g, dy, w, &mut dx);
            dx
        }
        _ => {
            let mut dx = buffers::take(g.n * g.x_img());
            backward_data_col2im(g, dy, w, &mut dx);
            dx
        }
    }
}

/// dw[o,c,ky,kx] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + ky, ox·s − p + kx].
pub fn backward_weight(g: &Conv2d, x: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    let geo = Geo::of(g);
    let mut dw = buffers::take(g.co * geo.k());
    if geo.product() && geo.batched() {
        backward_weight_batched(&geo, x, dy, &mut dw);
    } else if geo.product() {
        backward_weight_gemm(&geo, x, dy, &mut dw);
    } else {
        direct::backward_weight(&geo, x, dy, &mut dw);
    }
    Ok(dw)
}

/// db[o] = Σ_{n,oy,ox} dy[n,o,oy,ox].
pub fn backward_bias(g: &Conv2d, dy: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    Ok(plane_sums(g.n, g.co, g.ho() * g.wo(), dy))
}

/// s[c] = Σ_n Σ x[n, c, ·] over planes of `hw`, each channel summed in one fixed order.
pub(crate) fn plane_sums(n: usize, c: usize, hw: usize, x: &[f32]) -> Vec<f32> {
    let mut s = buffers::take(c);
    s.par_iter_mut().enumerate().with_min_len(8).for_each(|(ci, s)| {
        *s = (0..n).map(|ni| simd::sum(&x[(ni * c + ci) * hw..][..hw])).sum();
    });
    s
}
