//! The CPU reference: one plain-loop twin per GPU kernel, same module and function names
//! as `kernels/`, generic over the float type so gradients can be checked in f64.

pub mod adam;
pub mod batchnorm;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod elementwise;
pub mod gate;
pub mod loss;
pub mod pool;
pub mod reduce;
pub mod ssim;
pub mod wave;
pub mod wave_adjoint;

/// The float types the twins run in: f32 (the engine) and f64 (gradient checks).
pub trait Real:
    num_traits::Float + num_traits::FromPrimitive + std::iter::Sum + Default + Send + Sync + std::fmt::Debug + 'static
{
}
impl Real for f32 {}
impl Real for f64 {}

/// Converts a small constant to T.
pub fn lit<T: Real>(v: f64) -> T {
    T::from_f64(v).unwrap()
}
