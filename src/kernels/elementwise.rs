//! Dispatch for `shaders/elementwise.wgsl`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "elementwise", source: include_str!("../../shaders/elementwise.wgsl") };
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::{Act, Concat};

pub fn act_forward(r: &mut Recorder, a: Act, x: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn act_backward(r: &mut Recorder, a: Act, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn add(r: &mut Recorder, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    use crate::gpu::{Access::*, Kernel, grid};
    static ADD: Kernel = Kernel { shader: &SHADER, entry: "elementwise_add", bindings: &[Read, Read, ReadWrite] };
    let y = r.context().zeros("add", "y", a.len)?;
    r.dispatch(&ADD, &[a.len as u32, 0, 0, 0], &[a, b, &y], grid(a.len.div_ceil(256)))?;
    Ok(y)
}
pub fn concat(r: &mut Recorder, g: &Concat, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn split(r: &mut Recorder, g: &Concat, y: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    todo!()
}
