//! Fast path of `cpu::gate`: y = x · sigmoid(z), z broadcast per channel, pixel, row or
//! column. The sigmoid is taken once per element of z (not per element of x), and the
//! gradient of z is s(1−s) times the sum of dy·x over the broadcast dims.

use super::{Disjoint, buffers, for_planes, simd};
use crate::error::{Result, check_len};
use crate::ops::{Broadcast, Gate};

fn sigmoids(z: &[f32]) -> Vec<f32> {
    let mut s = buffers::take(z.len());
    s.iter_mut().zip(z).for_each(|(s, &z)| *s = 1.0 / (1.0 + (-z).exp()));
    s
}

pub fn forward(g: &Gate, x: &[f32], z: &[f32]) -> Result<Vec<f32>> {
    check_len("sigmoid_gate", "x", x.len(), &g.x)?;
    check_len("sigmoid_gate", "z", z.len(), &g.z_shape())?;
    let [_, c, h, w] = g.x;
    let hw = h * w;
    let s = sigmoids(z);
    let mut y = buffers::take(x.len());
    // One task per (n, c) plane.
    for_planes(&mut y, hw, |pl, y| {
        let x = &x[pl * hw..][..hw];
        match g.mode {
            Broadcast::Channel => simd::scale(y, x, s[pl]),
            Broadcast::Spatial => simd::mul(y, x, &s[pl / c * hw..][..hw]),
            Broadcast::Row => {
                for (r, (y, x)) in y.chunks_mut(w).zip(x.chunks(w)).enumerate() {
                    simd::scale(y, x, s[pl * h + r]);
                }
            }
            Broadcast::Col => {
                for (y, x) in y.chunks_mut(w).zip(x.chunks(w)) {
                    simd::mul(y, x, &s[pl * w..][..w]);
                }
            }
        }
    });
    buffers::give(s);
    Ok(y)
}

/// Returns (dx, dz): dx = dy·s, dz = s(1−s) · Σ over the broadcast dims of dy·x.
pub fn backward(g: &Gate, x: &[f32], z: &[f32], dy: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
    let op = "sigmoid_gate_bwd";
    check_len(op, "x", x.len(), &g.x)?;
    check_len(op, "z", z.len(), &g.z_shape())?;
    check_len(op, "dy", dy.len(), &g.x)?;
    let [n, c, h, w] = g.x;
    let hw = h * w;
    let s = sigmoids(z);
    let mut dx = buffers::take(x.len());
    let mut dz = buffers::take(z.len());
    if g.mode == Broadcast::Spatial {
        for_planes(&mut dx, hw, |pl, dx| simd::mul(dx, &dy[pl * hw..][..hw], &s[pl / c * hw..][..hw]));
        // dz[n, p] sums over channels: one task per image.
        for_planes(&mut dz, hw, |ni, dz| {
            dz.fill(0.0);
            for ci in 0..c {
                let off = (ni * c + ci) * hw;
                simd::add_product(dz, &dy[off..][..hw], &x[off..][..hw]);
            }
        });
    } else {
        // z is per plane, row or column: each plane's dx and its dz entries together.
        let per = g.z_shape().iter().product::<usize>() / (n * c);
        let dzp = Disjoint::new(&mut dz);
        for_planes(&mut dx, hw, |pl, dx| {
            let (dy, x) = (&dy[pl * hw..][..hw], &x[pl * hw..][..hw]);
            let sp = &s[pl * per..][..per];
            // SAFETY: plane pl writes dz[pl·per ..][..per] only.
            let dz = unsafe { dzp.slice(pl * per, per) };
            match g.mode {
                Broadcast::Channel => {
                    simd::scale(dx, dy, sp[0]);
                    dz[0] = simd::dot(dy, x);
                }
                Broadcast::Row => {
                    for r in 0..h {
                        let (d, gy, xv) = (&mut dx[r * w..][..w], &dy[r * w..][..w], &x[r * w..][..w]);
                        simd::scale(d, gy, sp[r]);
                        dz[r] = simd::dot(gy, xv);
                    }
                }
                _ => {
                    dz.fill(0.0);
                    for r in 0..h {
                        let (d, gy, xv) = (&mut dx[r * w..][..w], &dy[r * w..][..w], &x[r * w..][..w]);
                        simd::mul(d, gy, sp);
                        simd::add_product(dz, gy, xv);
                    }
                }
            }
        });
    }
    dz.iter_mut().zip(&s).for_each(|(t, &s)| *t *= s * (1.0 - s));
    buffers::give(s);
    Ok((dx, dz))
}
