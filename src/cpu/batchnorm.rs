//! CPU twin of `shaders/batchnorm.wgsl`: BatchNorm2d, statistics per channel over (n,h,w).
//! The per-channel sums accumulate in f64 whatever T is: a channel can hold a few hundred
//! thousand values, and a plain f32 running sum would lose ~1e-5 of its result.
use super::Real;
use crate::error::{Result, check_len};
use crate::ops::BatchNorm;

fn t<T: Real>(v: f32) -> T {
    T::from_f32(v).unwrap()
}

fn f64_of<T: Real>(v: T) -> f64 {
    v.to_f64().unwrap()
}

/// Calls `f(channel, offset of one h·w plane)` for every plane of x.
fn planes(g: &BatchNorm, mut f: impl FnMut(usize, usize)) {
    let [n, c, h, w] = g.x;
    for ni in 0..n {
        for ci in 0..c {
            f(ci, (ni * c + ci) * h * w);
        }
    }
}

/// Returns (y, mean, invstd) and updates the running statistics: biased variance to
/// normalise, unbiased variance for running_var.
pub fn train_forward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    running_mean: &mut [T],
    running_var: &mut [T],
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let op = "batch_norm_train";
    let c = [g.c()];
    check_len(op, "x", x.len(), &g.x)?;
    check_len(op, "gamma", gamma.len(), &c)?;
    check_len(op, "beta", beta.len(), &c)?;
    check_len(op, "running_mean", running_mean.len(), &c)?;
    check_len(op, "running_var", running_var.len(), &c)?;
    g.check_train(op)?;
    let hw = g.x[2] * g.x[3];
    let m = g.m() as f64;
    // Two passes: the mean, then the sum of squared deviations from it.
    let mut sum = vec![0.0f64; g.c()];
    planes(g, |ci, off| sum[ci] += x[off..off + hw].iter().map(|&v| f64_of(v)).sum::<f64>());
    let mean64: Vec<f64> = sum.iter().map(|s| s / m).collect();
    let mut m2 = vec![0.0f64; g.c()];
    planes(g, |ci, off| m2[ci] += x[off..off + hw].iter().map(|&v| (f64_of(v) - mean64[ci]).powi(2)).sum::<f64>());
    let mean: Vec<T> = mean64.iter().map(|&v| T::from_f64(v).unwrap()).collect();
    let mom = t::<T>(g.momentum);
    let eps = f64_of(t::<T>(g.eps));
    let mut invstd = vec![T::zero(); g.c()];
    for ci in 0..g.c() {
        invstd[ci] = T::from_f64(1.0 / (m2[ci] / m + eps).sqrt()).unwrap();
        let unbiased = T::from_f64(m2[ci] / (m - 1.0)).unwrap();
        running_mean[ci] = (T::one() - mom) * running_mean[ci] + mom * mean[ci];
        running_var[ci] = (T::one() - mom) * running_var[ci] + mom * unbiased;
    }
    let mut y = vec![T::zero(); x.len()];
    planes(g, |ci, off| {
        for (yv, &xv) in y[off..off + hw].iter_mut().zip(&x[off..off + hw]) {
            *yv = (xv - mean[ci]) * invstd[ci] * gamma[ci] + beta[ci];
        }
    });
    Ok((y, mean, invstd))
}

/// Returns (dx, dgamma, dbeta): dbeta = Σ dy, dgamma = Σ dy·x̂,
/// dx = γ·invstd/m·(m·dy − dbeta − x̂·dgamma).
pub fn train_backward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    mean: &[T],
    invstd: &[T],
    dy: &[T],
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let op = "batch_norm_train_bwd";
    let c = [g.c()];
    check_len(op, "x", x.len(), &g.x)?;
    check_len(op, "gamma", gamma.len(), &c)?;
    check_len(op, "mean", mean.len(), &c)?;
    check_len(op, "invstd", invstd.len(), &c)?;
    check_len(op, "dy", dy.len(), &g.x)?;
    g.check_train(op)?;
    let hw = g.x[2] * g.x[3];
    let mut sdy = vec![0.0f64; g.c()];
    let mut sdx = vec![0.0f64; g.c()]; // Σ dy·(x − mean)
    planes(g, |ci, off| {
        let mu = f64_of(mean[ci]);
        for (&d, &xv) in dy[off..off + hw].iter().zip(&x[off..off + hw]) {
            sdy[ci] += f64_of(d);
            sdx[ci] += f64_of(d) * (f64_of(xv) - mu);
        }
    });
    let dbeta: Vec<T> = sdy.iter().map(|&s| T::from_f64(s).unwrap()).collect();
    let dgamma: Vec<T> = sdx.iter().zip(invstd).map(|(&s, &i)| T::from_f64(s * f64_of(i)).unwrap()).collect();
    let m = T::from_usize(g.m()).unwrap();
    let mut dx = vec![T::zero(); x.len()];
    planes(g, |ci, off| {
        let k = gamma[ci] * invstd[ci] / m;
        for ((o, &d), &xv) in dx[off..off + hw].iter_mut().zip(&dy[off..off + hw]).zip(&x[off..off + hw]) {
            let xhat = (xv - mean[ci]) * invstd[ci];
            *o = k * (m * d - dbeta[ci] - xhat * dgamma[ci]);
        }
    });
    Ok((dx, dgamma, dbeta))
}

/// y = (x − running_mean)/sqrt(running_var + eps)·γ + β.
pub fn eval_forward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    running_mean: &[T],
    running_var: &[T],
) -> Result<Vec<T>> {
    let op = "batch_norm_eval";
    let c = [g.c()];
    check_len(op, "x", x.len(), &g.x)?;
    check_len(op, "gamma", gamma.len(), &c)?;
    check_len(op, "beta", beta.len(), &c)?;
    check_len(op, "running_mean", running_mean.len(), &c)?;
    check_len(op, "running_var", running_var.len(), &c)?;
    let hw = g.x[2] * g.x[3];
    let eps = t::<T>(g.eps);
    let mut y = vec![T::zero(); x.len()];
    planes(g, |ci, off| {
        let inv = T::one() / (running_var[ci] + eps).sqrt();
        for (yv, &xv) in y[off..off + hw].iter_mut().zip(&x[off..off + hw]) {
            *yv = (xv - running_mean[ci]) * inv * gamma[ci] + beta[ci];
        }
    });
    Ok(y)
}

/// dx = dy·γ/sqrt(running_var + eps).
pub fn eval_backward<T: Real>(g: &BatchNorm, gamma: &[T], running_var: &[T], dy: &[T]) -> Result<Vec<T>> {
    let op = "batch_norm_eval_bwd";
    let c = [g.c()];
    check_len(op, "gamma", gamma.len(), &c)?;
    check_len(op, "running_var", running_var.len(), &c)?;
    check_len(op, "dy", dy.len(), &g.x)?;
    let hw = g.x[2] * g.x[3];
    let eps = t::<T>(g.eps);
    let mut dx = vec![T::zero(); dy.len()];
    planes(g, |ci, off| {
        let k = gamma[ci] / (running_var[ci] + eps).sqrt();
        for (o, &d) in dx[off..off + hw].iter_mut().zip(&dy[off..off + hw]) {
            *o = d * k;
        }
    });
    Ok(dx)
}
