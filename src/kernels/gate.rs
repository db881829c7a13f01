//! Dispatch for `shaders/gate.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "gate", source: include_str!("../../shaders/gate.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Gate;

pub fn forward(r: &mut Recorder, g: &Gate, x: &GpuTensor, z: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward(
    r: &mut Recorder,
    g: &Gate,
    x: &GpuTensor,
    z: &GpuTensor,
    dy: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor)> {
    todo!()
}
