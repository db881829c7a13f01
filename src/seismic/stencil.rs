//! Finite-difference weights, the stability (CFL) bound they imply, and the Ricker wavelet.

use std::f64::consts::PI;

/// Central second-derivative weights `[a0, a1, …, a_h]` (h = order / 2):
/// f''(x) ≈ (a0 f(x) + Σ_k a_k (f(x+k·dx) + f(x−k·dx))) / dx².
pub fn second(order: usize) -> Vec<f64> {
    match order {
        2 => vec![-2.0, 1.0],
        4 => vec![-5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0],
        6 => vec![-49.0 / 18.0, 3.0 / 2.0, -3.0 / 20.0, 1.0 / 90.0],
        8 => vec![-205.0 / 72.0, 8.0 / 5.0, -1.0 / 5.0, 8.0 / 315.0, -1.0 / 560.0],
        _ => panic!("order {order} is not 2, 4, 6 or 8 (Acquisition::check refuses it)"),
    }
}

/// Central first-derivative weights `[c1, …, c_h]`: f'(x) ≈ Σ_k c_k (f(x+k·dx) − f(x−k·dx)) / dx.
pub fn first(order: usize) -> Vec<f64> {
    match order {
        2 => vec![1.0 / 2.0],
        4 => vec![2.0 / 3.0, -1.0 / 12.0],
        6 => vec![3.0 / 4.0, -3.0 / 20.0, 1.0 / 60.0],
        8 => vec![4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0],
        _ => panic!("order {order} is not 2, 4, 6 or 8 (Acquisition::check refuses it)"),
    }
}

/// The largest stable Courant number v·dt/dx of the scheme
/// p^{n+1} = 2p^n − p^{n−1} + v²dt² ∇²p^n in 2-D.
///
/// Derivation (von Neumann): a Fourier mode e^{i(kx·x + kz·z)} is an eigenvector of the
/// discrete Laplacian with eigenvalue −λ, λ = (S(kx·dx) + S(kz·dz)) / dx², where
/// S(θ) = −a0 − 2 Σ_k a_k cos(kθ). The leapfrog recursion g² − (2 − v²dt²λ) g + 1 = 0 has
/// |g| = 1 for all modes exactly when v²dt²λ ≤ 4 for the largest λ. These stencils'
/// weights alternate in sign, so S is largest at θ = π, where S(π) = Σ_k |a_k| over the
/// whole stencil (|a0| + 2 Σ_{k≥1} |a_k|). Hence λ_max = 2 Σ|a| / dx² and the bound is
/// v·dt/dx ≤ 2 / sqrt(2 Σ|a|): 0.7071 (order 2), 0.6124 (order 4), 0.5752 (order 6),
/// 0.5546 (order 8).
pub fn courant_limit(order: usize) -> f64 {
    let a = second(order);
    let sum: f64 = a[0].abs() + 2.0 * a[1..].iter().map(|v| v.abs()).sum::<f64>();
    2.0 / (2.0 * sum).sqrt()
}

/// The largest stable time step for velocities up to `vmax` on spacing `dx`.
pub fn max_stable_dt(order: usize, vmax: f64, dx: f64) -> f64 {
    courant_limit(order) * dx / vmax
}

/// Ricker wavelet with peak frequency `f0`, delayed so that it peaks at t = 1.5 / f0:
/// w(t) = (1 − 2π²f0²τ²) exp(−π²f0²τ²), τ = t − 1.5/f0. Its value at t = 0 is about −1e-3.
pub fn ricker(t: f64, f0: f64) -> f64 {
    let tau = t - 1.5 / f0;
    let a = (PI * f0 * tau).powi(2);
    (1.0 - 2.0 * a) * (-a).exp()
}

/// The top of the Ricker wavelet's useful band: the frequency above f0 where its amplitude
/// spectrum (f/f0)² exp(1 − (f/f0)²) falls to a tenth of its peak, about 2.21·f0.
pub fn ricker_fmax(f0: f64) -> f64 {
    // Solve u·e^{1−u} = 0.1 for u > 1 by bisection, f = f0·sqrt(u).
    let (mut lo, mut hi) = (1.0f64, 20.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid * (1.0 - mid).exp() > 0.1 { lo = mid } else { hi = mid }
    }
    f0 * (0.5 * (lo + hi)).sqrt()
}
