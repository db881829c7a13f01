//! CPU twin of `shaders/batchnorm.wgsl`.
use super::Real;
use crate::error::Result;
use crate::ops::BatchNorm;

/// Returns (y, mean, invstd) and updates the running statistics.
pub fn train_forward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    running_mean: &mut [T],
    running_var: &mut [T],
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    todo!()
}
/// Returns (dx, dgamma, dbeta).
pub fn train_backward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    mean: &[T],
    invstd: &[T],
    dy: &[T],
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    todo!()
}
pub fn eval_forward<T: Real>(
    g: &BatchNorm,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    running_mean: &[T],
    running_var: &[T],
) -> Result<Vec<T>> {
    todo!()
}
pub fn eval_backward<T: Real>(g: &BatchNorm, gamma: &[T], running_var: &[T], dy: &[T]) -> Result<Vec<T>> {
    todo!()
}
