//! Dispatch for `shaders/batchnorm.wgsl`: BatchNorm2d training forward (batch statistics,
//! running-stat update), training backward, eval forward and backward.
//!
//! The per-channel reductions are split: each channel's m = n·h·w values are cut into
//! [`chunking`] chunks, one workgroup per (channel, chunk) reduces a chunk (Welford per
//! thread, Chan merges in a workgroup tree), and a small per-channel pass merges the
//! chunks. At the bench shape (8×32×256×128) that is 64 workgroups per channel, not one.
use crate::gpu::Shader;

pub static SHADER: Shader = Shader { name: "batchnorm", source: include_str!("../../shaders/batchnorm.wgsl") };
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, grid};
use crate::ops::BatchNorm;

static TRAIN_STATS: Kernel = Kernel { shader: &SHADER, entry: "batchnorm_train_stats", bindings: &[Read, ReadWrite] };
static TRAIN_FINALIZE: Kernel = Kernel {
    shader: &SHADER,
    entry: "batchnorm_train_finalize",
    bindings: &[Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite],
};
static TRAIN_APPLY: Kernel =
    Kernel { shader: &SHADER, entry: "batchnorm_train_apply", bindings: &[Read, Read, Read, Read, Read, ReadWrite] };
static BWD_STATS: Kernel =
    Kernel { shader: &SHADER, entry: "batchnorm_bwd_stats", bindings: &[Read, Read, Read, ReadWrite] };
static BWD_FINALIZE: Kernel =
    Kernel { shader: &SHADER, entry: "batchnorm_bwd_finalize", bindings: &[Read, Read, ReadWrite, ReadWrite] };
static BWD_DATA: Kernel = Kernel {
    shader: &SHADER,
    entry: "batchnorm_bwd_data",
    bindings: &[Read, Read, Read, Read, Read, Read, Read, ReadWrite],
};
static EVAL_FWD: Kernel =
    Kernel { shader: &SHADER, entry: "batchnorm_eval_fwd", bindings: &[Read, Read, Read, Read, Read, ReadWrite] };
static EVAL_BWD: Kernel =
    Kernel { shader: &SHADER, entry: "batchnorm_eval_bwd", bindings: &[Read, Read, Read, ReadWrite] };

const WG: usize = 256;

/// Mirrors `Params` in batchnorm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub c: u32,
    pub hw: u32,
    pub m: u32,
    pub len: u32,
    pub chunks: u32,
    pub chunk_len: u32,
    pub _p0: u32,
    pub _p1: u32,
    pub eps: f32,
    pub momentum: f32,
    pub _p2: f32,
    pub _p3: f32,
}

/// How a channel's `m` values are split for the statistics passes: (chunks, chunk_len),
/// chunk_len a multiple of 256 of about 4096 values, at most 256 chunks per channel.
pub fn chunking(m: usize) -> (usize, usize) {
    let chunks = (m / 4096).clamp(1, 256);
    let chunk_len = m.div_ceil(chunks).next_multiple_of(WG);
    (m.div_ceil(chunk_len), chunk_len)
}

fn params(g: &BatchNorm) -> Params {
    let [n, c, h, w] = g.x;
    let (chunks, chunk_len) = chunking(g.m());
    Params {
        c: c as u32,
        hw: (h * w) as u32,
        m: g.m() as u32,
        len: (n * c * h * w) as u32,
        chunks: chunks as u32,
        chunk_len: chunk_len as u32,
        _p0: 0,
        _p1: 0,
        eps: g.eps,
        momentum: g.momentum,
        _p2: 0.0,
        _p3: 0.0,
    }
}

/// Returns (y, batch mean, batch invstd) and updates running_mean and running_var in place.
pub fn train_forward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    beta: &GpuTensor,
    running_mean: &GpuTensor,
    running_var: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
    let op = "batch_norm_train";
    let c = [g.c()];
    check_len(op, "x", x.len, &g.x)?;
    check_len(op, "gamma", gamma.len, &c)?;
    check_len(op, "beta", beta.len, &c)?;
    check_len(op, "running_mean", running_mean.len, &c)?;
    check_len(op, "running_var", running_var.len, &c)?;
    g.check_train(op)?;
    let p = params(g);
    let parts = g.c() * p.chunks as usize;
    let part = r.zeros(op, "partial statistics", 3 * parts)?;
    let mean = r.zeros(op, "mean", g.c())?;
    let invstd = r.zeros(op, "invstd", g.c())?;
    let y = r.zeros(op, "y", x.len)?;
    r.dispatch(&TRAIN_STATS, &p, &[x, &part], grid(parts))?;
    r.dispatch(&TRAIN_FINALIZE, &p, &[&part, &mean, &invstd, running_mean, running_var], grid(g.c()))?;
    r.dispatch(&TRAIN_APPLY, &p, &[x, &mean, &invstd, gamma, beta, &y], grid(x.len.div_ceil(WG)))?;
    Ok((y, mean, invstd))
}

/// Returns (dx, dgamma, dbeta).
pub fn train_backward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    mean: &GpuTensor,
    invstd: &GpuTensor,
    dy: &GpuTensor,
) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
    let op = "batch_norm_train_bwd";
    let c = [g.c()];
    check_len(op, "x", x.len, &g.x)?;
    check_len(op, "gamma", gamma.len, &c)?;
    check_len(op, "mean", mean.len, &c)?;
    check_len(op, "invstd", invstd.len, &c)?;
    check_len(op, "dy", dy.len, &g.x)?;
    g.check_train(op)?;
    let p = params(g);
    let parts = g.c() * p.chunks as usize;
    let part = r.zeros(op, "partial sums", 2 * parts)?;
    let dgamma = r.zeros(op, "dgamma", g.c())?;
    let dbeta = r.zeros(op, "dbeta", g.c())?;
    let dx = r.zeros(op, "dx", x.len)?;
    r.dispatch(&BWD_STATS, &p, &[x, dy, mean, &part], grid(parts))?;
    r.dispatch(&BWD_FINALIZE, &p, &[&part, invstd, &dgamma, &dbeta], grid(g.c()))?;
    r.dispatch(&BWD_DATA, &p, &[x, dy, mean, invstd, gamma, &dgamma, &dbeta, &dx], grid(x.len.div_ceil(WG)))?;
    Ok((dx, dgamma, dbeta))
}

pub fn eval_forward(
    r: &mut Recorder,
    g: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    beta: &GpuTensor,
    running_mean: &GpuTensor,
    running_var: &GpuTensor,
) -> Result<GpuTensor> {
    let op = "batch_norm_eval";
    let c = [g.c()];
    check_len(op, "x", x.len, &g.x)?;
    check_len(op, "gamma", gamma.len, &c)?;
    check_len(op, "beta", beta.len, &c)?;
    check_len(op, "running_mean", running_mean.len, &c)?;
    check_len(op, "running_var", running_var.len, &c)?;
    let y = r.zeros(op, "y", x.len)?;
    r.dispatch(&EVAL_FWD, &params(g), &[x, running_mean, running_var, gamma, beta, &y], grid(x.len.div_ceil(WG)))?;
    Ok(y)
}

pub fn eval_backward(
    r: &mut Recorder,
    g: &BatchNorm,
    gamma: &GpuTensor,
    running_var: &GpuTensor,
    dy: &GpuTensor,
) -> Result<GpuTensor> {
    let op = "batch_norm_eval_bwd";
    let c = [g.c()];
    check_len(op, "gamma", gamma.len, &c)?;
    check_len(op, "running_var", running_var.len, &c)?;
    check_len(op, "dy", dy.len, &g.x)?;
    let dx = r.zeros(op, "dx", dy.len)?;
    r.dispatch(&EVAL_BWD, &params(g), &[dy, gamma, running_var, &dx], grid(dy.len.div_ceil(WG)))?;
    Ok(dx)
}
