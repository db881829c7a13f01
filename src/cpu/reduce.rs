//! CPU twin of `shaders/reduce.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Reduce;

pub fn mean_forward<T: Real>(g: &Reduce, x: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn mean_backward<T: Real>(g: &Reduce, dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
/// Returns (y, argmax) where argmax is the position along r of the first maximum.
pub fn max_forward<T: Real>(g: &Reduce, x: &[T]) -> Result<(Vec<T>, Vec<u32>)> {
    todo!()
}
pub fn max_backward<T: Real>(g: &Reduce, dy: &[T], idx: &[u32]) -> Result<Vec<T>> {
    todo!()
}
