//! Dispatch for `shaders/loss.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "loss", source: include_str!("../../shaders/loss.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Loss;

pub fn forward(r: &mut Recorder, l: Loss, x: &GpuTensor, t: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward(r: &mut Recorder, l: Loss, x: &GpuTensor, t: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
