//! Dispatch for `shaders/batchnorm.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "batchnorm", source: include_str!("../../shaders/batchnorm.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::BatchNorm;

pub fn train_forward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    beta: &GpuTensor,
    running_mean: &GpuTensor,
    running_var: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
    todo!()
}
pub fn train_backward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    mean: &GpuTensor,
    invstd: &GpuTensor,
    dy: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
    todo!()
}
pub fn eval_forward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    beta: &GpuTensor,
    running_mean: &GpuTensor,
    running_var: &GpuTensor,
) -> Result<GpuTensor> {
    todo!()
}
pub fn eval_backward(
    r: &mut Recorder,
    g: &BatchNorm,
    gamma: &GpuTensor,
    running_var: &GpuTensor,
    dy: &GpuTensor,
) -> Result<GpuTensor> {
    todo!()
}
