//! Dispatch for `shaders/reduce.wgsl`: reductions over the middle axis of x viewed as
//! [outer, r, inner] -> y [outer, inner], and their backward passes.
//!
//! The forward entries run 256 threads as `tile_x` output lanes × `split` r-lanes (see the
//! shader). [`plan`] picks the split: for inner == 1 a row gets up to 256 threads
//! (a workgroup per output for the long rows of global pooling), for inner > 1 the output
//! lanes run across inner (coalesced) and loop over r. When the outputs alone would give
//! few workgroups and r is long, r is also cut into chunks reduced by separate workgroups,
//! and a second launch combines the chunks (for max, as (value, position) pairs).
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "reduce", source: include_str!("../../shaders/reduce.wgsl") };
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, grid};
use crate::ops::Reduce;

static SUM: Kernel = Kernel { shader: &SHADER, entry: "reduce_sum", bindings: &[Read, ReadWrite] };
static MAX: Kernel = Kernel { shader: &SHADER, entry: "reduce_max", bindings: &[Read, ReadWrite, ReadWrite] };
static MAX_PAIRS: Kernel =
    Kernel { shader: &SHADER, entry: "reduce_max_pairs", bindings: &[Read, Read, ReadWrite, ReadWrite] };
static BROADCAST_BWD: Kernel = Kernel { shader: &SHADER, entry: "reduce_broadcast_bwd", bindings: &[Read, ReadWrite] };
static MAX_BWD: Kernel = Kernel { shader: &SHADER, entry: "reduce_max_bwd", bindings: &[Read, Read, ReadWrite] };

const WG: usize = 256;
/// Forward launches aim for at least this many workgroups when r is long enough…
const TARGET_WORKGROUPS: usize = 1024;
/// …while every thread keeps at least this many elements to read,
const MIN_ITERS: usize = 16;
/// and no thread loops more than this (long rows are chunked instead; lavapipe also ends
/// any shader loop after 65 535 iterations).
const MAX_ITERS: usize = 4096;

/// Mirrors `Params` in reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub outer: u32,
    pub r: u32,
    pub inner: u32,
    pub len: u32,
    pub tile_x: u32,
    pub split: u32,
    pub lx_fast: u32,
    pub scale: f32,
    pub chunks: u32,
    pub chunk_len: u32,
    pub _p0: u32,
    pub _p1: u32,
}

/// How a forward reduction is spread: a workgroup is `tile_x` outputs × `split` threads per
/// output (tile_x · split = 256; `lx_fast` says whether outputs or r run across neighbouring
/// lanes), and r is cut into `chunks` pieces of `chunk_len` reduced by separate workgroups
/// (then a second launch reduces the chunks' partial results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub tile_x: usize,
    pub split: usize,
    pub lx_fast: bool,
    pub chunks: usize,
    pub chunk_len: usize,
}

/// The launch shape for a reduction of this geometry.
pub fn plan(g: &Reduce) -> Plan {
    let (tile_x, split, lx_fast) = if g.inner == 1 {
        // Rows are contiguous: give each row enough threads that each reads ~4+ elements,
        // up to the whole workgroup.
        let split = g.r.div_ceil(4).next_power_of_two().min(WG);
        (WG / split, split, false)
    } else {
        // Outputs across the lanes (coalesced along inner), r split over the rest.
        let mut tile_x = g.inner.next_power_of_two().clamp(32, WG);
        if g.y_len().div_ceil(tile_x) < 32 && g.r >= 64 {
            // Few outputs and a long r: more threads per output.
            tile_x = 32;
        }
        let split = (WG / tile_x).min(g.r.next_power_of_two());
        (WG / split, split, true)
    };
    // Chunk r when the outputs alone give few workgroups, or a thread's loop would be long.
    let per_thread = g.r.div_ceil(split);
    let tiles = g.y_len().div_ceil(tile_x);
    let chunks = TARGET_WORKGROUPS
        .div_ceil(tiles)
        .min(per_thread.div_ceil(MIN_ITERS))
        .max(per_thread.div_ceil(MAX_ITERS))
        .max(1);
    let chunk_len = g.r.div_ceil(chunks).next_multiple_of(split);
    Plan { tile_x, split, lx_fast, chunks: g.r.div_ceil(chunk_len), chunk_len }
}

fn params(g: &Reduce, pl: &Plan, len: usize, scale: f32) -> Params {
    Params {
        outer: g.outer as u32,
        r: g.r as u32,
        inner: g.inner as u32,
        len: len as u32,
        tile_x: pl.tile_x as u32,
        split: pl.split as u32,
        lx_fast: pl.lx_fast as u32,
        scale,
        chunks: pl.chunks as u32,
        chunk_len: pl.chunk_len as u32,
        _p0: 0,
        _p1: 0,
    }
}

/// Workgroups of a forward launch.
fn groups(g: &Reduce, pl: &Plan) -> [u32; 3] {
    grid(g.y_len().div_ceil(pl.tile_x) * pl.chunks)
}

fn sum_unchecked(r: &mut Recorder, op: &str, g: &Reduce, x: &GpuTensor, scale: f32) -> Result<GpuTensor> {
    let pl = plan(g);
    if pl.chunks == 1 {
        let y = r.zeros(op, "y", g.y_len())?;
        r.dispatch(&SUM, &params(g, &pl, g.y_len(), scale), &[x, &y], groups(g, &pl))?;
        return Ok(y);
    }
    let part = r.zeros(op, "partial sums", g.y_len() * pl.chunks)?;
    r.dispatch(&SUM, &params(g, &pl, g.y_len(), 1.0), &[x, &part], groups(g, &pl))?;
    sum_unchecked(r, op, &Reduce { outer: g.outer, r: pl.chunks, inner: g.inner }, &part, scale)
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

/// Parameters of the element-wise backward launches (only the geometry and scale count).
fn elementwise(g: &Reduce, scale: f32) -> Params {
    let pl = Plan { tile_x: WG, split: 1, lx_fast: true, chunks: 1, chunk_len: g.r };
    params(g, &pl, g.x_len(), scale)
}

pub fn mean_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor) -> Result<GpuTensor> {
    let op = "reduce_mean_bwd";
    check_len(op, "dy", dy.len, &[g.outer, g.inner])?;
    let dx = r.zeros(op, "dx", g.x_len())?;
    r.dispatch(&BROADCAST_BWD, &elementwise(g, 1.0 / g.r as f32), &[dy, &dx], grid(g.x_len().div_ceil(WG)))?;
    Ok(dx)
}

/// Returns (y, argmax) with argmax (u32) the position along r of the first maximum.
pub fn max_forward(r: &mut Recorder, g: &Reduce, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    let op = "reduce_max";
    check_len(op, "x", x.len, &[g.outer, g.r, g.inner])?;
    let pl = plan(g);
    let mut y = r.zeros(op, "y", g.y_len() * pl.chunks)?;
    let mut idx = r.zeros(op, "idx", g.y_len() * pl.chunks)?;
    r.dispatch(&MAX, &params(g, &pl, g.y_len(), 1.0), &[x, &y, &idx], groups(g, &pl))?;
    // Chunked: reduce the (value, position) pairs of the chunks until one is left.
    let mut g = Reduce { outer: g.outer, r: pl.chunks, inner: g.inner };
    while g.r > 1 {
        let pl = plan(&g);
        let y2 = r.zeros(op, "y", g.y_len() * pl.chunks)?;
        let idx2 = r.zeros(op, "idx", g.y_len() * pl.chunks)?;
        r.dispatch(&MAX_PAIRS, &params(&g, &pl, g.y_len(), 1.0), &[&y, &idx, &y2, &idx2], groups(&g, &pl))?;
        (y, idx, g.r) = (y2, idx2, pl.chunks);
    }
    Ok((y, idx))
}

/// dx[o, k, i] = dy[o, i] at k = argmax[o, i], zero elsewhere (an out-of-range argmax
/// drops that gradient; the CPU twin reports it).
pub fn max_backward(r: &mut Recorder, g: &Reduce, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
    let op = "reduce_max_bwd";
    check_len(op, "dy", dy.len, &[g.outer, g.inner])?;
    check_len(op, "idx", idx.len, &[g.outer, g.inner])?;
    let dx = r.zeros(op, "dx", g.x_len())?;
    r.dispatch(&MAX_BWD, &elementwise(g, 1.0), &[dy, idx, &dx], grid(g.x_len().div_ceil(WG)))?;
    Ok(dx)
}
