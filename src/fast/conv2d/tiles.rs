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

use super::super::{Disjoint, buffers, simd, threads};
use super::{Geo, with_panel};

/// Vectors of outputs per tile.
const V: usize = 3;
/// Floats read past a padded image or written past a tile row: a tile, and a kernel row.
const SLACK: usize = V * 16 + 16;

/// The padded image: its plane (hp·wp), its width wp, and the outputs computed on the
/// padded width (ho·wp).
fn padded(g: &Geo) -> (usize, usize, usize) {
    let wp = g.w + 2 * g.pw;
    ((g.h + 2 * g.ph) * wp, wp, g.ho * wp)
}

/// Output channels per tile for this machine's vectors (as many as its registers hold).
fn channels_per_tile() -> usize {
    if simd::isa().1 >= 16 { 8 } else { 4 }
}

/// y = conv(x, w) (+ b), x [n, ci, h, w], w [co, ci, kh, kw], y [n, co, ho, wo].
pub(super) fn forward(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let (plane, wp, q) = padded(g);
    let xp_len = g.ci * plane + SLACK;
    let (x_img, y_img, p) = (g.x_img(), g.y_img(), g.p());
    // Every image padded once, in parallel.
    let mut xp = buffers::take(g.n * xp_len);
    let pad = |(i, xpi): (usize, &mut [f32])| {
        xpi.fill(0.0);
        let xi = &x[i * x_img..][..x_img];
        for c in 0..g.ci {
            for r in 0..g.h {
                let dst = &mut xpi[c * plane + (r + g.ph) * wp + g.pw..][..g.w];
                dst.copy_from_slice(&xi[(c * g.h + r) * g.w..][..g.w]);
            }
        }
    };
    if g.n * x_img <= 1 << 15 {
        xp.chunks_mut(xp_len).enumerate().for_each(pad);
    } else {
        xp.par_chunks_mut(xp_len).enumerate().for_each(pad);
    }
    // Weights packed as [block][ci][kh][kw][ob], zero past the last channel.
    let ob = channels_per_tile();
    let blocks = g.co.div_ceil(ob);
    let taps = g.k();
    let mut wk = buffers::zeros(blocks * taps * ob);
    for o in 0..g.co {
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
        with_panel(ob * ld, |acc| {
            run_tiles(ob, g, xpi, wb, acc);
            for j in 0..ob.min(g.co - blk * ob) {
                let o = blk * ob + j;
                // SAFETY: task (i, blk) writes the planes of image i and channels of block
                // blk only.
                let yo = unsafe { out.slice(i * y_img + o * p, p) };
                for (r, row) in yo.chunks_mut(g.wo).enumerate() {
                    row.copy_from_slice(&acc[j * ld + r * wp..][..g.wo]);
                }
                if let Some(b) = b {
                    simd::add_scalar(yo, b[o]);
                }
            }
        });
    };
    let tasks = g.n * blocks;
    if tasks == 1 || threads::count() == 1 {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
    buffers::give(xp);
    buffers::give(wk);
}

/// Fills `acc` [ob][ld] (ld = ho·wp + SLACK) with the tile sums of one padded image `xp`
/// and one block of packed weights `wk` over outputs [0, ho·wp) (and up to a tile past
/// them, not outputs).
#[pulp::with_simd(run_tiles = simd::arch())]
#[inline(always)]
fn run_tiles_simd<S: Simd>(simd: S, ob: usize, g: &Geo, xp: &[f32], wk: &[f32], acc: &mut [f32]) {
    if ob == 8 { tiles::<S, 8>(simd, g, xp, wk, acc) } else { tiles::<S, 4>(simd, g, xp, wk, acc) }
}

#[inline(always)]
fn tiles<S: Simd, const OB: usize>(simd: S, g: &Geo, xp: &[f32], wk: &[f32], acc: &mut [f32]) {
    let (plane, wp, q) = padded(g);
    let (ci, kh, kw, ld) = (g.ci, g.kh, g.kw, q + SLACK);
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
