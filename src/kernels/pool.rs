//! Dispatch for `shaders/pool.wgsl`: max pooling 2×2, stride 2, floor mode. Forward runs
//! one thread per output, backward one thread per input (a gather; no atomics).
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "pool", source: include_str!("../../shaders/pool.wgsl") };
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, grid};
use crate::ops::Pool2d;

static FWD: Kernel = Kernel { shader: &SHADER, entry: "pool_max_fwd", bindings: &[Read, ReadWrite, ReadWrite] };
static BWD: Kernel = Kernel { shader: &SHADER, entry: "pool_max_bwd", bindings: &[Read, Read, ReadWrite] };

const WG: usize = 256;

/// Mirrors `Params` in pool.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub nc: u32,
    pub h: u32,
    pub w: u32,
    pub ho: u32,
    pub wo: u32,
    pub len: u32,
    pub _p0: u32,
    pub _p1: u32,
}

fn params(g: &Pool2d, len: usize) -> Params {
    let [n, c, h, w] = g.x_shape();
    Params {
        nc: (n * c) as u32,
        h: h as u32,
        w: w as u32,
        ho: (h / 2) as u32,
        wo: (w / 2) as u32,
        len: len as u32,
        _p0: 0,
        _p1: 0,
    }
}

/// Returns (y, argmax) with argmax (u32) the flat index into x of each window's first maximum.
pub fn forward(r: &mut Recorder, g: &Pool2d, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    let op = "max_pool2d";
    check_len(op, "x", x.len, &g.x_shape())?;
    let len: usize = g.y_shape().iter().product();
    let y = r.zeros(op, "y", len)?;
    let idx = r.zeros(op, "idx", len)?;
    r.dispatch(&FWD, &params(g, len), &[x, &y, &idx], grid(len.div_ceil(WG)))?;
    Ok((y, idx))
}

/// dx[argmax[o]] = dy[o], zero elsewhere. An argmax outside its window drops that gradient
/// (the CPU twin reports it).
pub fn backward(r: &mut Recorder, g: &Pool2d, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
    let op = "max_pool2d_bwd";
    check_len(op, "dy", dy.len, &g.y_shape())?;
    check_len(op, "idx", idx.len, &g.y_shape())?;
    let len: usize = g.x_shape().iter().product();
    let dx = r.zeros(op, "dx", len)?;
    r.dispatch(&BWD, &params(g, len), &[dy, idx, &dx], grid(len.div_ceil(WG)))?;
    Ok(dx)
}
