//! Dispatch for `shaders/gate.wgsl`: y = x · sigmoid(z) with z broadcast per channel, per
//! pixel, per row or per column. Backward is one fused element pass (dx and the terms of
//! dz) followed by `reduce::sum` of the terms over `Gate::z_reduce()`.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "gate", source: include_str!("../../shaders/gate.wgsl") };
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, grid};
use crate::ops::{Broadcast, Gate};

static FWD: Kernel = Kernel { shader: &SHADER, entry: "gate_fwd", bindings: &[Read, Read, ReadWrite] };
static BWD: Kernel = Kernel { shader: &SHADER, entry: "gate_bwd", bindings: &[Read, Read, Read, ReadWrite, ReadWrite] };

const WG: usize = 256;

/// Mirrors `Params` in gate.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub len: u32,
    pub mode: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub _p0: u32,
    pub _p1: u32,
    pub _p2: u32,
}

fn params(g: &Gate) -> Params {
    let [n, c, h, w] = g.x;
    let mode = match g.mode {
        Broadcast::Channel => 0,
        Broadcast::Spatial => 1,
        Broadcast::Row => 2,
        Broadcast::Col => 3,
    };
    Params { len: (n * c * h * w) as u32, mode, c: c as u32, h: h as u32, w: w as u32, _p0: 0, _p1: 0, _p2: 0 }
}

pub fn forward(r: &mut Recorder, g: &Gate, x: &GpuTensor, z: &GpuTensor) -> Result<GpuTensor> {
    let op = "sigmoid_gate";
    check_len(op, "x", x.len, &g.x)?;
    check_len(op, "z", z.len, &g.z_shape())?;
    let y = r.zeros(op, "y", x.len)?;
    r.dispatch(&FWD, &params(g), &[x, z, &y], grid(x.len.div_ceil(WG)))?;
    Ok(y)
}

/// Returns (dx, dz).
pub fn backward(
    r: &mut Recorder,
    g: &Gate,
    x: &GpuTensor,
    z: &GpuTensor,
    dy: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor)> {
    let op = "sigmoid_gate_bwd";
    check_len(op, "x", x.len, &g.x)?;
    check_len(op, "z", z.len, &g.z_shape())?;
    check_len(op, "dy", dy.len, &g.x)?;
    let dx = r.zeros(op, "dx", x.len)?;
    let terms = r.zeros(op, "dz terms", x.len)?;
    r.dispatch(&BWD, &params(g), &[x, z, dy, &dx, &terms], grid(x.len.div_ceil(WG)))?;
    let dz = super::reduce::sum(r, &g.z_reduce(), &terms, 1.0)?;
    Ok((dx, dz))
}
