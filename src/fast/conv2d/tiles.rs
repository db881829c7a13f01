//! The register-tiled direct convolution for stride 1 (the forward pass of `fast::conv2d`
//! for images of 256 pixels and more, and so its backward-data through the flipped filter).
//!
//! Each image is zero-padded once; outputs are computed on the padded width (an output row
//! holds wo outputs and kw − 1 columns that are not outputs and are dropped on the way out),
//! so that output q reads input q + ky·wp + kx for every tap and a run of outputs is a run of
//! inputs: no im2col panel, no bounds inside the loop. A tile is OB output channels × V
//! vectors of consecutive outputs held in registers (8 × 3 × 16 lanes with AVX-512, 4 × 2 ×
//! 8 with AVX2; see `tile_shape`); for
//! every input channel and tap it loads V input vectors once and broadcasts each channel's
//! weight into a fused multiply-add per vector. The weights are packed so a tile's OB
//! weights of one tap are adjacent, and input channels are taken 16 at a time across all
//! tiles, so that their weights stay in L1.

use pulp::Simd;
use rayon::prelude::*;

use super::super::{Disjoint, buffers, simd, threads};
use super::{Geo, with_panel};

/// The most vectors of outputs per tile.
const MAX_V: usize = 3;
/// Floats read past a padded image or written past a tile row: a tile, and a kernel row.
const SLACK: usize = MAX_V * 16 + 16;

/// The padded image: its plane (hp·wp), its width wp, and the outputs computed on the
/// padded width (ho·wp).
fn padded(g: &Geo) -> (usize, usize, usize) {
    let wp = g.w + 2 * g.pw;
    ((g.h + 2 * g.ph) * wp, wp, g.ho * wp)
}

/// Output channels and vectors of outputs per tile: as many sums as the vector registers
/// hold beside the tile's input vectors and one broadcast weight. AVX-512's 32 registers
/// take 8 × 3 sums; x86's 16 AVX2 or SSE registers take 4 × 2, since at 4 × 3 all 16 would
/// be live and the compiler spills sums to the stack in the innermost loop (inference of
/// the 32…256 network took 1.7× as long so on an AMD EPYC); aarch64's 32 NEON registers
/// keep 4 × 3.
fn tile_shape() -> (usize, usize) {
    match simd::isa().1 {
        16.. => SHAPES[0],
        _ if cfg!(target_arch = "x86_64") => SHAPES[1],
        _ => SHAPES[2],
    }
}

/// Every tile shape `run_tiles` has, as (output channels, vectors).
const SHAPES: [(usize, usize); 3] = [(8, 3), (4, 2), (4, 3)];

/// y = conv(x, w) (+ b), x [n, ci, h, w], w [co, ci, kh, kw], y [n, co, ho, wo].
pub(super) fn forward(g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    forward_tiled(tile_shape(), g, x, w, b, y)
}

/// `forward` with tiles of `shape` (one of `SHAPES`; the tests run each on any machine).
fn forward_tiled(shape: (usize, usize), g: &Geo, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
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
    let (ob, vectors) = shape;
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
            run_tiles(ob, vectors, g, xpi, wb, acc);
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
fn run_tiles_simd<S: Simd>(simd: S, ob: usize, vectors: usize, g: &Geo, xp: &[f32], wk: &[f32], acc: &mut [f32]) {
    match (ob, vectors) {
        (8, 3) => tiles::<S, 8, 3>(simd, g, xp, wk, acc),
        (4, 2) => tiles::<S, 4, 2>(simd, g, xp, wk, acc),
        (4, 3) => tiles::<S, 4, 3>(simd, g, xp, wk, acc),
        _ => unreachable!("tile shape {ob} × {vectors} is not one of {SHAPES:?}"),
    }
}

#[inline(always)]
fn tiles<S: Simd, const OB: usize, const V: usize>(simd: S, g: &Geo, xp: &[f32], wk: &[f32], acc: &mut [f32]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tile shape against plain loops, whatever this machine's own shape is: odd
    /// channel counts (partial blocks), more input channels than a chunk, a row wider than
    /// a tile, 3×3 and 1×5 kernels with and without padding.
    #[test]
    fn every_tile_shape_matches_plain_loops() {
        let mut rng = crate::rng::Rng::new(7);
        for &(n, ci, h, w, co, kh, kw, ph, pw) in
            &[(2, 19, 17, 23, 9, 3, 3, 1, 1), (1, 3, 16, 16, 5, 1, 5, 0, 2), (1, 2, 9, 30, 13, 3, 3, 0, 0)]
        {
            let (ho, wo) = (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1);
            let g = Geo { n, ci, h, w, co, kh, kw, stride: 1, ph, pw, ho, wo };
            let x: Vec<f32> = (0..n * ci * h * w).map(|_| rng.uniform() as f32 - 0.5).collect();
            let wt: Vec<f32> = (0..co * ci * kh * kw).map(|_| rng.uniform() as f32 - 0.5).collect();
            let b: Vec<f32> = (0..co).map(|_| rng.uniform() as f32).collect();
            let mut want = vec![0.0f64; n * co * ho * wo];
            for (i, o, r, c) in positions(n, co, ho, wo) {
                let mut s = b[o] as f64;
                for k in 0..ci {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (yy, xx) = ((r + ky) as isize - ph as isize, (c + kx) as isize - pw as isize);
                            if (0..h as isize).contains(&yy) && (0..w as isize).contains(&xx) {
                                let xv = x[((i * ci + k) * h + yy as usize) * w + xx as usize] as f64;
                                s += xv * wt[((o * ci + k) * kh + ky) * kw + kx] as f64;
                            }
                        }
                    }
                }
                want[((i * co + o) * ho + r) * wo + c] = s;
            }
            for shape in SHAPES {
                let mut y = vec![f32::NAN; want.len()];
                forward_tiled(shape, &g, &x, &wt, Some(&b), &mut y);
                let worst = y.iter().zip(&want).map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-5, "shape {shape:?}, conv {g:?}: worst error {worst}");
            }
        }
    }

    fn positions(n: usize, co: usize, ho: usize, wo: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        (0..n)
            .flat_map(move |i| (0..co).flat_map(move |o| (0..ho).flat_map(move |r| (0..wo).map(move |c| (i, o, r, c)))))
    }
}
