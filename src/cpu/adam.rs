//! CPU twin of `shaders/adam.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::Adam;

pub fn step<T: Real>(g: &Adam, step: u32, p: &mut [T], grad: &[T], m: &mut [T], v: &mut [T]) -> Result<()> {
    todo!()
}
