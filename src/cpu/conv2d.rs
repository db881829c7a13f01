//! CPU twin of `shaders/conv2d.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Conv2d;

pub fn forward<T: Real>(g: &Conv2d, x: &[T], w: &[T], b: Option<&[T]>) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_data<T: Real>(g: &Conv2d, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_weight<T: Real>(g: &Conv2d, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_bias<T: Real>(g: &Conv2d, dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
