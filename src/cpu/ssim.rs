//! CPU twin of `shaders/ssim.wgsl`: the SSIM dissimilarity map 1 − S of x against t and its
//! gradient wrt x, with the 11 × 11 window summed directly (plain loops, f64 sums).

use super::Real;
use crate::error::{Result, check_len};
use crate::ops::{Ssim, ssim_terms};

/// The window's statistics at every pixel: (μa, μb, var a, var b, cov) of a = (x + 1)/2
/// and b = (t + 1)/2, zero outside the image. The second moments are taken about the
/// means (two passes), so that nearly flat windows keep their variances to f64's last
/// digits rather than E[a²] − μa²'s.
fn moments<T: Real>(g: &Ssim, x: &[T], t: &[T]) -> Vec<[f64; 5]> {
    let (h, w, r) = (g.h as isize, g.w as isize, Ssim::RADIUS as isize);
    let k = Ssim::window();
    let unit = |v: T| (v.to_f64().unwrap_or(f64::NAN) + 1.0) / 2.0;
    let mut out = vec![[0.0; 5]; g.len()];
    for p in 0..g.planes {
        let plane = p * g.h * g.w;
        // (weight, a, b) of every tap of the window at (z, c) inside the image.
        let taps = |z: isize, c: isize| {
            (-r..=r).flat_map(move |dz| (-r..=r).map(move |dc| (z + dz, c + dc, dz, dc))).filter_map(
                move |(zz, cc, dz, dc)| {
                    let inside = zz >= 0 && cc >= 0 && zz < h && cc < w;
                    let i = plane + (zz * w + cc) as usize;
                    inside.then(|| (k[(dz + r) as usize] * k[(dc + r) as usize], unit(x[i]), unit(t[i])))
                },
            )
        };
        for z in 0..h {
            for c in 0..w {
                let (mut ma, mut mb, mut inside) = (0.0, 0.0, 0.0);
                for (wt, a, b) in taps(z, c) {
                    ma += wt * a;
                    mb += wt * b;
                    inside += wt;
                }
                // Cells outside hold 0: their share of the window adds (0 − μ)².
                let outside = (1.0 - inside).max(0.0);
                let mut m = [ma, mb, outside * ma * ma, outside * mb * mb, outside * ma * mb];
                for (wt, a, b) in taps(z, c) {
                    m[2] += wt * (a - ma) * (a - ma);
                    m[3] += wt * (b - mb) * (b - mb);
                    m[4] += wt * (a - ma) * (b - mb);
                }
                out[plane + (z * w + c) as usize] = m;
            }
        }
    }
    out
}

/// The map 1 − S, [planes, h, w].
pub fn forward<T: Real>(g: &Ssim, x: &[T], t: &[T]) -> Result<Vec<T>> {
    g.check("ssim", x.len(), t.len())?;
    Ok(moments(g, x, t)
        .iter()
        .map(|m| T::from_f64(1.0 - ssim_terms(m[0], m[1], m[2], m[3], m[4]).0).unwrap_or_else(T::nan))
        .collect())
}

/// dx given the map's upstream gradient `dy`: each pixel p collects, from every window q
/// that holds it, −½ dy_q G(q − p) (∂S/∂μa + 2 a_p ∂S/∂E[a²] + b_p ∂S/∂E[ab]) at q
/// (½ from a = (x + 1)/2).
pub fn backward<T: Real>(g: &Ssim, x: &[T], t: &[T], dy: &[T]) -> Result<Vec<T>> {
    g.check("ssim_backward", x.len(), t.len())?;
    check_len("ssim_backward", "dy", dy.len(), &[g.len()])?;
    let (h, w, r) = (g.h, g.w, Ssim::RADIUS as isize);
    let k = Ssim::window();
    let f = |v: T| v.to_f64().unwrap_or(f64::NAN);
    let coef: Vec<[f64; 3]> = moments(g, x, t)
        .iter()
        .zip(dy)
        .map(|(m, &d)| ssim_terms(m[0], m[1], m[2], m[3], m[4]).1.map(|c| -0.5 * f(d) * c))
        .collect();
    let mut dx = vec![T::zero(); g.len()];
    for p in 0..g.planes {
        for z in 0..h {
            for c in 0..w {
                let i = (p * h + z) * w + c;
                let (a, b) = ((f(x[i]) + 1.0) / 2.0, (f(t[i]) + 1.0) / 2.0);
                let mut acc = 0.0;
                for dz in -r..=r {
                    for dc in -r..=r {
                        let (zz, cc) = (z as isize + dz, c as isize + dc);
                        if zz < 0 || cc < 0 || zz >= h as isize || cc >= w as isize {
                            continue;
                        }
                        let q = &coef[(p * h + zz as usize) * w + cc as usize];
                        let wt = k[(dz + r) as usize] * k[(dc + r) as usize];
                        acc += wt * (q[0] + 2.0 * a * q[1] + b * q[2]);
                    }
                }
                dx[i] = T::from_f64(acc).unwrap_or_else(T::nan);
            }
        }
    }
    Ok(dx)
}
