//! Dispatch for `shaders/reduce.wgsl`: reductions over the middle axis of x viewed as
//! [outer, r, inner] -> y [outer, inner], and their backward passes.
//!
//! The forward entries run 256 threads as `tile_x` output lanes × `split` r-lanes (see the
//! shader). [`plan`] picks the split: for inner == 1 a row gets up to 256 threads
//! (one workgroup per output for the long rows of global pooling), for inner > 1 the
//! output lanes run across inner (coalesced) and loop over r.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "reduce", source: include_str!("../../shaders/reduce.wgsl") };
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, grid};
use crate::ops::Reduce;

static SUM: Kernel = Kernel { shader: &SHADER, entry: "reduce_sum", bindings: &[Read, ReadWrite] };
static MAX: Kernel = Kernel { shader: &SHADER, entry: "reduce_max", bindings: &[Read, ReadWrite, ReadWrite] };
static BROADCAST_BWD: Kernel = Kernel { shader: &SHADER, entry: "reduce_broadcast_bwd", bindings: &[Read, ReadWrite] };
static MAX_BWD: Kernel = Kernel { shader: &SHADER, entry: "reduce_max_bwd", bindings: &[Read, Read, ReadWrite] };

const WG: usize = 256;

/// Mirrors `Params` in reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outer: u32,
    r: u32,
    inner: u32,
    len: u32,
    tile_x: u32,
    split: u32,
    lx_fast: u32,
    scale: f32,
}

/// How a forward reduction is spread over a workgroup: `tile_x` outputs × `split` threads
/// per output (tile_x · split = 256), and which of the two runs across neighbouring lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub tile_x: usize,
    pub split: usize,
    pub lx_fast: bool,
}

/// The launch shape for a reduction of this geometry.
pub fn plan(g: &Reduce) -> Plan {
    if g.inner == 1 {
        // Rows are contiguous: give each row enough threads that each reads ~4+ elements,
        // up to the whole workgroup.
        let split = g.r.div_ceil(4).next_power_of_two().min(WG);
        return Plan { tile_x: WG / split, split, lx_fast: false };
    }
    // Outputs across the lanes (coalesced along inner), r split over the rest.
    let mut tile_x = g.inner.next_power_of_two().clamp(32, WG);
    if g.y_len().div_ceil(tile_x) < 32 && g.r >= 64 {
        // Few outputs and a long r: more threads per output.
        tile_x = 32;
    }
    let split = (WG / tile_x).min(g.r.next_power_of_two());
    Plan { tile_x: WG / split, split, lx_fast: true }
}

fn params(g: &Reduce, len: usize, scale: f32) -> Params {
    let pl = plan(g);
    Params {
        outer: g.outer as u32,
        r: g.r as u32,
        inner: g.inner as u32,
        len: len as u32,
        tile_x: pl.tile_x as u32,
        split: pl.split as u32,
        lx_fast: pl.lx_fast as u32,
        scale,
    }
}

fn sum_unchecked(r: &mut Recorder, op: &str, g: &Reduce, x: &GpuTensor, scale: f32) -> Result<GpuTensor> {
    let y = r.context().zeros(op, "y", g.y_len())?;
    let p = params(g, g.y_len(), scale);
    r.dispatch(&SUM, &p, &[x, &y], grid(g.y_len().div_ceil(p.tile_x as usize)))?;
    Ok(y)
}

/// y[o, i] = scale · Σ_k x[o, k, i]. Shared by the other families (gate, the executor).
pub fn sum(r: &mut Recorder, g: &Reduce, x: &GpuTensor, scale: f32) -> Result<GpuTensor> {
    check_len("reduce_sum", "x", x.len, &[g.outer, g.r, g.inner])?;
    sum_unchecked(r, "reduce_sum", g, x, scale)
}

pub fn mean_forward(r: &mut Recorder, g: &Reduce, x: &GpuTensor) -> Result<GpuTensor> {
    check_len("reduce_mean", "x", x.len, &[g.outer, g.r, g.inner])?;
    sum_unchecked(r, "reduce_mean", g, x, 1.0 / g.r as f32)
}

pub fn mean_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor) -> Result<GpuTensor> {
    let op = "reduce_mean_bwd";
    check_len(op, "dy", dy.len, &[g.outer, g.inner])?;
    let dx = r.context().zeros(op, "dx", g.x_len())?;
    let p = params(g, g.x_len(), 1.0 / g.r as f32);
    r.dispatch(&BROADCAST_BWD, &p, &[dy, &dx], grid(g.x_len().div_ceil(WG)))?;
    Ok(dx)
}

/// Returns (y, argmax) with argmax (u32) the position along r of the first maximum.
pub fn max_forward(r: &mut Recorder, g: &Reduce, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    let op = "reduce_max";
    check_len(op, "x", x.len, &[g.outer, g.r, g.inner])?;
    let y = r.context().zeros(op, "y", g.y_len())?;
    let idx = r.context().zeros(op, "idx", g.y_len())?;
    let p = params(g, g.y_len(), 1.0);
    r.dispatch(&MAX, &p, &[x, &y, &idx], grid(g.y_len().div_ceil(p.tile_x as usize)))?;
    Ok((y, idx))
}

/// dx[o, k, i] = dy[o, i] at k = argmax[o, i], zero elsewhere (an out-of-range argmax
/// drops that gradient; the CPU twin reports it).
pub fn max_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
    let op = "reduce_max_bwd";
    check_len(op, "dy", dy.len, &[g.outer, g.inner])?;
    check_len(op, "idx", idx.len, &[g.outer, g.inner])?;
    let dx = r.context().zeros(op, "dx", g.x_len())?;
    let p = params(g, g.x_len(), 1.0);
    r.dispatch(&MAX_BWD, &p, &[dy, idx, &dx], grid(g.x_len().div_ceil(WG)))?;
    Ok(dx)
}
