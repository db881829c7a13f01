//! Dispatch for `shaders/pool.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "pool", source: include_str!("../../shaders/pool.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Pool2d;

pub fn forward(r: &mut Recorder, g: &Pool2d, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    todo!()
}
pub fn backward(r: &mut Recorder, g: &Pool2d, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
