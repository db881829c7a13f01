//! Fast path of `cpu::ssim`: the window is the outer product of a 1-D Gaussian, so each of
//! the five window sums (and, backward, the three coefficient sums) is a row pass and a
//! column pass of 11 taps instead of 121; planes run in parallel. Sums in f64, as the twin.

use super::{buffers, for_planes};
use crate::error::{Result, check_len};
use crate::ops::{Ssim, ssim_terms};

/// Each of `maps` (h × w) blurred by the window with zero padding, in place: across each
/// row (all 11 taps where the window is inside), then down, a row at a time.
fn blur(maps: &mut [Vec<f64>], h: usize, w: usize) {
    let k = Ssim::window();
    let r = Ssim::RADIUS;
    let mut tmp = vec![0.0; h * w];
    for m in maps.iter_mut() {
        for (row, out) in m.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
            for (c, o) in out.iter_mut().enumerate() {
                *o = if c >= r && c + r < w {
                    let span = &row[c - r..=c + r];
                    (0..2 * r + 1).map(|i| k[i] * span[i]).sum()
                } else {
                    (c.saturating_sub(r)..=(c + r).min(w - 1)).map(|cc| k[cc + r - c] * row[cc]).sum()
                };
            }
        }
        for z in 0..h {
            let out = &mut m[z * w..(z + 1) * w];
            out.fill(0.0);
            for zz in z.saturating_sub(r)..=(z + r).min(h - 1) {
                let wt = k[zz + r - z];
                for (o, v) in out.iter_mut().zip(&tmp[zz * w..(zz + 1) * w]) {
                    *o += wt * v;
                }
            }
        }
    }
}

/// (v + 1)/2: the network's [−1, 1] as SSIM's [0, 1].
fn unit(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| (v as f64 + 1.0) / 2.0).collect()
}

/// The five window statistics of one plane a, b (values in [0, 1]): μa, μb, var a, var b,
/// cov (from the blurred raw moments: in f64 their cancellation stays far below f32's
/// output).
fn moments(a: Vec<f64>, b: Vec<f64>, h: usize, w: usize) -> [Vec<f64>; 5] {
    let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).collect::<Vec<f64>>();
    let mut m = [prod(&a, &a), prod(&b, &b), prod(&a, &b), a, b];
    blur(&mut m, h, w);
    let [mut aa, mut bb, mut ab, a, b] = m;
    for i in 0..h * w {
        aa[i] -= a[i] * a[i];
        bb[i] -= b[i] * b[i];
        ab[i] -= a[i] * b[i];
    }
    [a, b, aa, bb, ab]
}

/// SSIM of two h × w images with values in [0, 1]: the mean of S over the map (what
/// `metrics::ssim` reports, in f64 throughout).
pub fn mean_similarity(a: &[f32], b: &[f32], h: usize, w: usize) -> f64 {
    let widen = |v: &[f32]| v.iter().map(|&u| u as f64).collect();
    let m = moments(widen(a), widen(b), h, w);
    let total: f64 = (0..h * w).map(|i| ssim_terms(m[0][i], m[1][i], m[2][i], m[3][i], m[4][i]).0).sum();
    total / (h * w) as f64
}

/// The map 1 − S, [planes, h, w].
pub fn forward(g: &Ssim, x: &[f32], t: &[f32]) -> Result<Vec<f32>> {
    g.check("ssim", x.len(), t.len())?;
    let hw = g.h * g.w;
    let mut out = buffers::take(g.len());
    for_planes(&mut out, hw, |p, o| {
        let m = moments(unit(&x[p * hw..(p + 1) * hw]), unit(&t[p * hw..(p + 1) * hw]), g.h, g.w);
        for (i, v) in o.iter_mut().enumerate() {
            *v = (1.0 - ssim_terms(m[0][i], m[1][i], m[2][i], m[3][i], m[4][i]).0) as f32;
        }
    });
    Ok(out)
}

/// dx given the map's upstream gradient `dy` (see `cpu::ssim::backward`).
pub fn backward(g: &Ssim, x: &[f32], t: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    g.check("ssim_backward", x.len(), t.len())?;
    check_len("ssim_backward", "dy", dy.len(), &[g.len()])?;
    let hw = g.h * g.w;
    let mut dx = buffers::take(g.len());
    for_planes(&mut dx, hw, |p, out| {
        let (xp, tp) = (&x[p * hw..(p + 1) * hw], &t[p * hw..(p + 1) * hw]);
        let m = moments(unit(xp), unit(tp), g.h, g.w);
        let mut coef = [vec![0.0; hw], vec![0.0; hw], vec![0.0; hw]];
        for i in 0..hw {
            let d = ssim_terms(m[0][i], m[1][i], m[2][i], m[3][i], m[4][i]).1;
            for (c, dc) in coef.iter_mut().zip(d) {
                c[i] = -0.5 * dy[p * hw + i] as f64 * dc;
            }
        }
        // The window is symmetric, so its transpose is the same zero-padded blur.
        blur(&mut coef, g.h, g.w);
        for (i, v) in out.iter_mut().enumerate() {
            let (a, b) = ((xp[i] as f64 + 1.0) / 2.0, (tp[i] as f64 + 1.0) / 2.0);
            *v = (coef[0][i] + 2.0 * a * coef[1][i] + b * coef[2][i]) as f32;
        }
    });
    Ok(dx)
}
