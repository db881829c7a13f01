//! CPU twin of `shaders/gate.wgsl`: y = x · sigmoid(z), z broadcast over some dims of x.
use super::Real;
use crate::error::{Result, check_len};
use crate::ops::{Broadcast, Gate};

/// The element of z that gates x's element `e` (flat NCHW index).
fn z_index(g: &Gate, e: usize) -> usize {
    let [_, c, h, w] = g.x;
    let hw = h * w;
    match g.mode {
        Broadcast::Channel => e / hw,
        Broadcast::Spatial => (e / (c * hw)) * hw + e % hw,
        Broadcast::Row => e / w,
        Broadcast::Col => (e / hw) * w + e % w,
    }
}

fn sigmoid<T: Real>(z: T) -> T {
    T::one() / (T::one() + (-z).exp())
}

pub fn forward<T: Real>(g: &Gate, x: &[T], z: &[T]) -> Result<Vec<T>> {
    check_len("sigmoid_gate", "x", x.len(), &g.x)?;
    check_len("sigmoid_gate", "z", z.len(), &g.z_shape())?;
    Ok(x.iter().enumerate().map(|(e, &v)| v * sigmoid(z[z_index(g, e)])).collect())
}

/// Returns (dx, dz): dx = dy·s, dz = Σ over the broadcast dims of dy·x·s·(1−s), s = sigmoid(z).
pub fn backward<T: Real>(g: &Gate, x: &[T], z: &[T], dy: &[T]) -> Result<(Vec<T>, Vec<T>)> {
    let op = "sigmoid_gate_bwd";
    check_len(op, "x", x.len(), &g.x)?;
    check_len(op, "z", z.len(), &g.z_shape())?;
    check_len(op, "dy", dy.len(), &g.x)?;
    let mut dx = Vec::with_capacity(x.len());
    let mut t = Vec::with_capacity(x.len());
    for (e, (&xv, &d)) in x.iter().zip(dy).enumerate() {
        let s = sigmoid(z[z_index(g, e)]);
        dx.push(d * s);
        t.push(d * xv * s * (T::one() - s));
    }
    let dz = super::reduce::sum(&g.z_reduce(), &t, T::one())?;
    Ok((dx, dz))
}
