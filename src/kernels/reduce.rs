//! Dispatch for `shaders/reduce.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "reduce", source: include_str!("../../shaders/reduce.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Reduce;

pub fn mean_forward(r: &mut Recorder, g: &Reduce, x: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn mean_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn max_forward(r: &mut Recorder, g: &Reduce, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    todo!()
}
pub fn max_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
