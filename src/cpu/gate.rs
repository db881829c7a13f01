//! CPU twin of `shaders/gate.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Gate;

pub fn forward<T: Real>(g: &Gate, x: &[T], z: &[T]) -> Result<Vec<T>> {
    todo!()
}
/// Returns (dx, dz).
pub fn backward<T: Real>(g: &Gate, x: &[T], z: &[T], dy: &[T]) -> Result<(Vec<T>, Vec<T>)> {
    todo!()
}
