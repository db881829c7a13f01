//! Transposed convolution, dispatched onto the conv2d kernels it is the adjoint of.
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::ConvTranspose2d;

pub fn forward(
    r: &mut Recorder,
    g: &ConvTranspose2d,
    x: &GpuTensor,
    w: &GpuTensor,
    b: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_data(r: &mut Recorder, g: &ConvTranspose2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_weight(r: &mut Recorder, g: &ConvTranspose2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
pub fn backward_bias(r: &mut Recorder, g: &ConvTranspose2d, dy: &GpuTensor) -> Result<GpuTensor> {
    todo!()
}
