//! The register-tiled direct convolution for stride 1 (the forward pass of `fast::conv2d`
//! for images of 256 pixels and more, and so its backward-data through the flipped filter).
//!
//! Each image is zero-padded once; outputs are computed on the padded width (an output row
//! holds wo outputs and kw − 1 columns that are not outputs and are dropped on the way out),
//! so that output q reads input q + ky·wp + kx for every tap and a run of outputs is a run of
//! inputs: no im2col panel, no bounds inside the loop. A tile is OB output channels × V
//! vectors of consecutive outputs held in registers (8 × 3 × 16 lanes with AVX-512); for
//! every input channel and tap it loads V input vectors once and broadcasts each channel's
//! weight into a fused multiply-add per vector. The weights are packed so a tile's OB
//! weights of one tap are adjacent, and input channels are taken 16 at a time across all
//! tiles, so that their weights stay in L1.

use pulp::Simd;
use rayon::prelude::*;

use super::{Disjoint, buffers, simd, threads};

/// A stride-1 convolution's geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub n: usize,
    pub ci: usize,
    pub co: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub ph: usize,
    pub pw: usize,
    pub ho: usize,
    pub wo: usize,
}

/// Vectors of outputs per tile.
const V: usize = 3;
/// Floats read past a padded image or written past a tile row: a tile, and a kernel row.
const SLACK: usize = V * 16 + 16;

impl Shape {
    fn padded(&self) -> (usize, usize, usize) {
        let (hp, wp) = (self.h + 2 * self.ph, self.w + 2 * self.pw);
        (hp, wp, self.ho * wp)
    }
}

/// Output channels per tile for this machine's vectors (as many as its registers hold).
fn channels_per_tile() -> usize {
    if simd::isa().1 >= 16 { 8 } else { 4 }
}

/// y = conv(x, w) (+ b), x [n, ci, h, w], w [co, ci, kh, kw], y [n, co, ho, wo].
pub(crate) fn forward(s: &Shape, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let (hp, wp, q) = s.padded();
    let plane = hp * wp;
    let xp_len = s.ci * plane + SLACK;
    let (x_img, y_img) = (s.ci * s.h * s.w, s.co * s.ho * s.wo);
    // Every image padded once, in parallel.
    let mut xp = buffers::take(s.n * xp_len);
    let pad = |(i, xpi): (usize, &mut [f32])| {
        xpi.fill(0.0);
        let xi = &x[i * x_img..][..x_img];
        for c in 0..s.ci {
            for r in 0..s.h {
                let dst = &mut xpi[c * plane + (r + s.ph) * wp + s.pw..][..s.w];
                dst.copy_from_slice(&xi[(c * s.h + r) * s.w..][..s.w]);
            }
        }
    };
    if s.n * x_img <= 1 << 15 {
        xp.chunks_mut(xp_len).enumerate().for_each(pad);
    } else {
        xp.par_chunks_mut(xp_len).enumerate().for_each(pad);
    }
    // Weights packed as [block][ci][kh][kw][ob], zero past the last channel.
    let ob = channels_per_tile();
    let blocks = s.co.div_ceil(ob);
    let taps = s.ci * s.kh * s.kw;
    let mut wk = buffers::zeros(blocks * taps * ob);
    for o in 0..s.co {
        for t in 0..taps {
            wk[((o / ob) * taps + t) * ob + o % ob] = w[o * taps + t];
        }
    }
    let ld = q + SLACK;
    let out = Disjoint::new(y);
    let task = |t: usize| {
        let (i, blk) = (t / blocks, t % blocks);
        let xpi = &xp[i * xp_len..][..xp_len];
        let wb = &wk[blk * taps * ob..][..taps * ob];
        super::conv2d::with_panel(ob * ld, |acc| {
            run_tiles(ob, xpi, plane, wp, wb, [s.ci, s.kh, s.kw], q, acc, ld);
            for j in 0..ob.min(s.co - blk * ob) {
                let o = blk * ob + j;
                // SAFETY: task (i, blk) writes the planes of image i and channels of block
                // blk only.
                let yo = unsafe { out.slice(i * y_img + o * s.ho * s.wo, s.ho * s.wo) };
                for (r, row) in yo.chunks_mut(s.wo).enumerate() {
                    row.copy_from_slice(&acc[j * ld + r * wp..][..s.wo]);
                }
                if let Some(b) = b {
                    simd::add_scalar(yo, b[o]);
                }
            }
        });
    };
    let tasks = s.n * blocks;
    if tasks == 1 || threads::count() == 1 {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
    buffers::give(xp);
    buffers::give(wk);
}

/// Fills `acc` [ob][ld] with the tile sums of one padded image `xp` and one block of packed
/// weights `wk` over outputs [0, q) (and up to a tile past them, not outputs).
#[pulp::with_simd(run_tiles = simd::arch())]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn run_tiles_simd<S: Simd>(
    simd: S,
    ob: usize,
    xp: &[f32],
    plane: usize,
    wp: usize,
    wk: &[f32],
    [ci, kh, kw]: [usize; 3],
    q: usize,
    acc: &mut [f32],
    ld: usize,
) {
    if ob == 8 {
        tiles::<S, 8>(simd, xp, plane, wp, wk, [ci, kh, kw], q, acc, ld)
    } else {
        tiles::<S, 4>(simd, xp, plane, wp, wk, [ci, kh, kw], q, acc, ld)
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tiles<S: Simd, const OB: usize>(
    simd: S,
    xp: &[f32],
    plane: usize,
    wp: usize,
    wk: &[f32],
    [ci, kh, kw]: [usize; 3],
    q: usize,
    acc: &mut [f32],
    ld: usize,
) {
    let lanes = S::F32_LANES;
    let step = V * lanes;
    // Every read below stays inside these bounds, checked once here instead of per load.
    assert!(step + kw <= SLACK && ci * plane + step + kw <= xp.len() + 1);
    assert!(q + (kh - 1) * wp <= plane && ci * kh * kw * OB <= wk.len());
    assert!((OB - 1) * ld + q.div_ceil(step) * step <= acc.len() && q.div_ceil(step) * step <= ld);
    // Input channels in chunks whose weights (and input rows) stay in L1 while every tile
    // of the image sweeps them; the tile sums go through `acc` between chunks.
    for c0 in (0..ci).step_by(CI_CHUNK) {
        let c1 = (c0 + CI_CHUNK).min(ci);
        let mut q0 = 0;
        while q0 < q {
            let mut sums = [[simd.splat_f32s(0.0); V]; OB];
            if c0 > 0 {
                for (o, row) in sums.iter_mut().enumerate() {
                    for (v, s) in row.iter_mut().enumerate() {
                        let at = o * ld + q0 + v * lanes;
                        *s = *bytemuck::from_bytes(bytemuck::cast_slice(&acc[at..at + lanes]));
                    }
                }
            }
            for c in c0..c1 {
                // SAFETY: the largest offset read is (ci−1)·plane + q0 + (kh−1)·wp + (kw−1) +
                // V·lanes − 1 < ci·plane + step + kw − 1 ≤ xp.len() (asserted above); the
                // weights read are within ci·kh·kw·OB ≤ wk.len().
                let xc = unsafe { xp.as_ptr().add(c * plane + q0) };
                for ky in 0..kh {
                    for kx in 0..kw {
                        let at = ky * wp + kx;
                        let xs: [S::f32s; V] = std::array::from_fn(|v| unsafe {
                            (xc.add(at + v * lanes) as *const S::f32s).read_unaligned()
                        });
                        let wt = unsafe { wk.as_ptr().add(((c * kh + ky) * kw + kx) * OB) };
                        for (o, row) in sums.iter_mut().enumerate() {
                            let wv = simd.splat_f32s(unsafe { *wt.add(o) });
                            for v in 0..V {
                                row[v] = simd.mul_add_f32s(wv, xs[v], row[v]);
                            }
                        }
                    }
                }
            }
            for (o, row) in sums.iter().enumerate() {
                for (v, s) in row.iter().enumerate() {
                    let at = o * ld + q0 + v * lanes;
                    acc[at..at + lanes].copy_from_slice(bytemuck::cast_slice(std::slice::from_ref(s)));
                }
            }
            q0 += step;
        }
    }
}

/// Input channels per pass of `tiles` (see there): 16 measured best of 16, 32, 64 and all.
const CI_CHUNK: usize = 16;
