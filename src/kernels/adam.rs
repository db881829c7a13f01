//! Dispatch for `shaders/adam.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "adam", source: include_str!("../../shaders/adam.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::Adam;

pub fn step(
    r: &mut Recorder,
    g: &Adam,
    step: u32,
    p: &GpuTensor,
    grad: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
) -> Result<()> {
    todo!()
}
