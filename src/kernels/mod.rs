//! GPU dispatch, one module per shader file: a parameter struct that mirrors the WGSL one
//! (bytemuck), the entry points' bind layouts, and functions that validate their inputs,
//! allocate outputs and record dispatches into a `Recorder`.

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

use crate::gpu::Shader;

/// Every shader file, for validation and for tools that list them.
pub const SHADERS: &[&Shader] = &[
    &adam::SHADER,
    &batchnorm::SHADER,
    &conv2d::SHADER,
    &elementwise::SHADER,
    &gate::SHADER,
    &loss::SHADER,
    &pool::SHADER,
    &reduce::SHADER,
    &ssim::SHADER,
    &wave::SHADER,
    &wave_adjoint::SHADER,
];
