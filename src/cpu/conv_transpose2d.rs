//! CPU twin of `kernels/conv_transpose2d.rs`.
use super::Real;
use crate::error::Result;
use crate::ops::ConvTranspose2d;

pub fn forward<T: Real>(g: &ConvTranspose2d, x: &[T], w: &[T], b: Option<&[T]>) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_data<T: Real>(g: &ConvTranspose2d, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_weight<T: Real>(g: &ConvTranspose2d, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn backward_bias<T: Real>(g: &ConvTranspose2d, dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
