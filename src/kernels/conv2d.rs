//! Dispatch for `shaders/conv2d.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "conv2d", source: include_str!("../../shaders/conv2d.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Conv2d;

pub fn forward(r: &mut Recorder, g: &Conv2d, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_data(r: &mut Recorder, g: &Conv2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_weight(r: &mut Recorder, g: &Conv2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_bias(r: &mut Recorder, g: &Conv2d, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
