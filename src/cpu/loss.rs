//! CPU twin of `shaders/loss.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Loss;

pub fn forward<T: Real>(l: Loss, x: &[T], t: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn backward<T: Real>(l: Loss, x: &[T], t: &[T], dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
