//! CPU twin of `shaders/pool.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Pool2d;

/// Returns (y, argmax) where argmax is the flat index into x of each window's first maximum.
pub fn forward<T: Real>(g: &Pool2d, x: &[T]) -> Result<(Vec<T>, Vec<u32>)> {
    todo!()
}
pub fn backward<T: Real>(g: &Pool2d, dy: &[T], idx: &[u32]) -> Result<Vec<T>> {
    todo!()
}
