//! Fast path of `cpu::batchnorm`: one task per channel (its planes across the batch), the
//! statistics in two passes instead of three (sums of x − K and (x − K)² with K the
//! channel's first value, which keeps the variance free of cancellation), vectorised
//! partial sums of 256 values gathered in f64.

use rayon::prelude::*;

use super::{CHUNK, Disjoint, buffers, for_planes, simd};
use crate::error::{Result, check_len};
use crate::ops::BatchNorm;

/// Runs `f(channel)` for every channel, in parallel when x is large.
fn per_channel<R: Send>(g: &BatchNorm, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    let [n, c, h, w] = g.x;
    if n * c * h * w <= 2 * CHUNK { (0..c).map(f).collect() } else { (0..c).into_par_iter().map(f).collect() }
}

/// (Σ (a − k), Σ (a − k)²), vectorised within blocks of 256, the blocks added in f64.
#[pulp::with_simd(shifted_moments = simd::arch())]
#[inline(always)]
fn shifted_moments_simd<S: pulp::Simd>(_simd: S, a: &[f32], k: f32) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for block in a.chunks(256) {
        let (mut p1, mut p2) = ([0.0f32; 16], [0.0f32; 16]);
        let lanes = block.chunks_exact(16);
        for &v in lanes.remainder() {
            let d = v - k;
            s1 += d as f64;
            s2 += (d * d) as f64;
        }
        for c in lanes {
            for l in 0..16 {
                let d = c[l] - k;
                p1[l] += d;
                p2[l] += d * d;
            }
        }
        s1 += p1.iter().sum::<f32>() as f64;
        s2 += p2.iter().sum::<f32>() as f64;
    }
    (s1, s2)
}

/// (Σ dy, Σ dy·(x − mean)), blocked as `shifted_moments`.
#[pulp::with_simd(grad_sums = simd::arch())]
#[inline(always)]
fn grad_sums_simd<S: pulp::Simd>(_simd: S, dy: &[f32], x: &[f32], mean: f32) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (bd, bx) in dy.chunks(256).zip(x.chunks(256)) {
        let (mut p1, mut p2) = ([0.0f32; 16], [0.0f32; 16]);
        let (ld, lx) = (bd.chunks_exact(16), bx.chunks_exact(16));
        for (&d, &v) in ld.remainder().iter().zip(lx.remainder()) {
            s1 += d as f64;
            s2 += (d * (v - mean)) as f64;
        }
        for (d, v) in ld.zip(lx) {
            for l in 0..16 {
                p1[l] += d[l];
                p2[l] += d[l] * (v[l] - mean);
            }
        }
        s1 += p1.iter().sum::<f32>() as f64;
        s2 += p2.iter().sum::<f32>() as f64;
    }
    (s1, s2)
}

fn check_channel_vectors(op: &str, g: &BatchNorm, named: &[(&str, usize)]) -> Result<()> {
    named.iter().try_for_each(|(name, len)| check_len(op, name, *len, &[g.c()]))
}

/// Returns (y, mean, invstd) and updates the running statistics: biased variance to
/// normalise, unbiased variance for running_var.
pub fn train_forward(
    g: &BatchNorm,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running_mean: &mut [f32],
    running_var: &mut [f32],
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let op = "batch_norm_train";
    check_len(op, "x", x.len(), &g.x)?;
    let lens = [("gamma", gamma.len()), ("beta", beta.len())];
    check_channel_vectors(op, g, &lens)?;
    check_channel_vectors(op, g, &[("running_mean", running_mean.len()), ("running_var", running_var.len())])?;
    g.check_train(op)?;
    let [n, c, h, w] = g.x;
    let hw = h * w;
    let m = g.m() as f64;
    let eps = g.eps as f64;
    let mut y = buffers::take(x.len());
    let out = Disjoint::new(&mut y);
    let stats: Vec<(f32, f32, f32)> = per_channel(g, |ci| {
        let k = x[ci * hw];
        let (mut s1, mut s2) = (0.0, 0.0);
        for ni in 0..n {
            let (a, b) = shifted_moments(&x[(ni * c + ci) * hw..][..hw], k);
            s1 += a;
            s2 += b;
        }
        let m2 = (s2 - s1 * s1 / m).max(0.0);
        let mean = (k as f64 + s1 / m) as f32;
        let invstd = (1.0 / (m2 / m + eps).sqrt()) as f32;
        for ni in 0..n {
            let off = (ni * c + ci) * hw;
            // SAFETY: channel ci writes its own planes of y only.
            let yv = unsafe { out.slice(off, hw) };
            normalize(yv, &x[off..][..hw], mean, invstd, gamma[ci], beta[ci]);
        }
        (mean, invstd, (m2 / (m - 1.0)) as f32)
    });
    let mom = g.momentum;
    let (mut mean, mut invstd) = (buffers::take(c), buffers::take(c));
    for (ci, &(mu, inv, unbiased)) in stats.iter().enumerate() {
        mean[ci] = mu;
        invstd[ci] = inv;
        running_mean[ci] = (1.0 - mom) * running_mean[ci] + mom * mu;
        running_var[ci] = (1.0 - mom) * running_var[ci] + mom * unbiased;
    }
    Ok((y, mean, invstd))
}

/// Returns (dx, dgamma, dbeta): dbeta = Σ dy, dgamma = Σ dy·x̂,
/// dx = γ·invstd/m·(m·dy − dbeta − x̂·dgamma).
pub fn train_backward(
    g: &BatchNorm,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    invstd: &[f32],
    dy: &[f32],
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let op = "batch_norm_train_bwd";
    check_len(op, "x", x.len(), &g.x)?;
    check_channel_vectors(op, g, &[("gamma", gamma.len()), ("mean", mean.len()), ("invstd", invstd.len())])?;
    check_len(op, "dy", dy.len(), &g.x)?;
    g.check_train(op)?;
    let [n, c, h, w] = g.x;
    let hw = h * w;
    let m = g.m() as f32;
    let mut dx = buffers::take(x.len());
    let out = Disjoint::new(&mut dx);
    let sums: Vec<(f32, f32)> = per_channel(g, |ci| {
        let (mu, inv) = (mean[ci], invstd[ci]);
        let (mut sdy, mut sdx) = (0.0, 0.0);
        for ni in 0..n {
            let off = (ni * c + ci) * hw;
            let (a, b) = grad_sums(&dy[off..][..hw], &x[off..][..hw], mu);
            sdy += a;
            sdx += b;
        }
        let (dbeta, dgamma) = (sdy as f32, (sdx * inv as f64) as f32);
        let k = gamma[ci] * inv / m;
        for ni in 0..n {
            let off = (ni * c + ci) * hw;
            // SAFETY: channel ci writes its own planes of dx only.
            let d = unsafe { out.slice(off, hw) };
            input_grad(d, &dy[off..][..hw], &x[off..][..hw], [mu, inv, k, m, dbeta, dgamma]);
        }
        (dgamma, dbeta)
    });
    let (mut dgamma, mut dbeta) = (buffers::take(c), buffers::take(c));
    for (ci, &(dg, db)) in sums.iter().enumerate() {
        dgamma[ci] = dg;
        dbeta[ci] = db;
    }
    Ok((dx, dgamma, dbeta))
}

/// y = (x − running_mean)/sqrt(running_var + eps)·γ + β.
pub fn eval_forward(
    g: &BatchNorm,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
) -> Result<Vec<f32>> {
    let op = "batch_norm_eval";
    check_len(op, "x", x.len(), &g.x)?;
    let lens = [("gamma", gamma.len()), ("beta", beta.len())];
    check_channel_vectors(op, g, &lens)?;
    check_channel_vectors(op, g, &[("running_mean", running_mean.len()), ("running_var", running_var.len())])?;
    let [_, c, h, w] = g.x;
    let hw = h * w;
    let mut y = buffers::take(x.len());
    for_planes(&mut y, hw, |pl, y| {
        let ci = pl % c;
        let (rm, gm, bt) = (running_mean[ci], gamma[ci], beta[ci]);
        let inv = 1.0 / (running_var[ci] + g.eps).sqrt();
        normalize(y, &x[pl * hw..][..hw], rm, inv, gm, bt);
    });
    Ok(y)
}

/// dx = dy·γ/sqrt(running_var + eps).
pub fn eval_backward(g: &BatchNorm, gamma: &[f32], running_var: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    let op = "batch_norm_eval_bwd";
    check_channel_vectors(op, g, &[("gamma", gamma.len()), ("running_var", running_var.len())])?;
    check_len(op, "dy", dy.len(), &g.x)?;
    let [_, c, h, w] = g.x;
    let hw = h * w;
    let mut dx = buffers::take(dy.len());
    for_planes(&mut dx, hw, |pl, dx| {
        let ci = pl % c;
        let k = gamma[ci] / (running_var[ci] + g.eps).sqrt();
        simd::scale(dx, &dy[pl * hw..][..hw], k);
    });
    Ok(dx)
}

/// y = (x − mean)·invstd·γ + β, in the twin's order.
#[pulp::with_simd(normalize = simd::arch())]
#[inline(always)]
fn normalize_simd<S: pulp::Simd>(_simd: S, y: &mut [f32], x: &[f32], mean: f32, invstd: f32, gamma: f32, beta: f32) {
    y.iter_mut().zip(x).for_each(|(y, &v)| *y = (v - mean) * invstd * gamma + beta);
}

/// dx = k·(m·dy − dbeta − x̂·dgamma), x̂ = (x − mean)·invstd; `c` = [mean, invstd, k, m,
/// dbeta, dgamma].
#[pulp::with_simd(input_grad = simd::arch())]
#[inline(always)]
fn input_grad_simd<S: pulp::Simd>(_simd: S, dx: &mut [f32], dy: &[f32], x: &[f32], c: [f32; 6]) {
    let [mu, inv, k, m, dbeta, dgamma] = c;
    dx.iter_mut().zip(dy).zip(x).for_each(|((d, &gy), &v)| {
        let xhat = (v - mu) * inv;
        *d = k * (m * gy - dbeta - xhat * dgamma);
    });
}
