//! CPU twin of `shaders/elementwise.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::{Act, Concat};

pub fn act_forward<T: Real>(a: Act, x: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn act_backward<T: Real>(a: Act, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn add<T: Real>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn concat<T: Real>(g: &Concat, a: &[T], b: &[T]) -> Result<Vec<T>> {
    todo!()
}
pub fn split<T: Real>(g: &Concat, y: &[T]) -> Result<(Vec<T>, Vec<T>)> {
    todo!()
}
