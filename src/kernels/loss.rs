//! Dispatch for `shaders/loss.wgsl`: mean MSE and L1 losses, forward (a two-pass tree
//! reduction) and backward (element-wise, reading the upstream gradient on the GPU).
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::kernels::elementwise::to_u32;
use crate::ops::{Loss, check_loss_lens as check_len_pair, loss_grad_scale as scale, loss_name as name};

pub static SHADER: Shader = Shader { name: "loss", source: include_str!("../../shaders/loss.wgsl") };

/// Mirrors `Params` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Elements, vec4s (backward, vec4 variant) or partials (final pass).
    pub len: u32,
    /// Workgroups of the first reduction pass.
    pub groups: u32,
    /// 0 MSE, 1 L1.
    pub kind: u32,
    pub _p0: u32,
    /// 1/M (forward), 2/M or 1/M (backward).
    pub scale: f32,
    pub _p1: [u32; 3],
}

static PARTIAL: Kernel = Kernel { shader: &SHADER, entry: "loss_partial", bindings: &[Read, Read, ReadWrite] };
static FINAL: Kernel = Kernel { shader: &SHADER, entry: "loss_final", bindings: &[Read, ReadWrite] };
static BWD4: Kernel = Kernel { shader: &SHADER, entry: "loss_bwd4", bindings: &[Read, Read, Read, ReadWrite] };
static RECORD: Kernel = Kernel { shader: &SHADER, entry: "loss_record", bindings: &[Read, ReadWrite] };
static BWD: Kernel = Kernel { shader: &SHADER, entry: "loss_bwd", bindings: &[Read, Read, Read, ReadWrite] };

/// Threads per reduction workgroup.
const RWG: usize = 256;
/// Elements each reduction thread aims to sum before the tree takes over.
const PER_THREAD: usize = 8;
/// At most this many partials (the final pass reads them with one workgroup).
const MAX_GROUPS: usize = 4096;
/// Backward: elements per workgroup.
const PER_GROUP: usize = 256;

fn kind(l: Loss) -> u32 {
    match l {
        Loss::Mse => 0,
        Loss::L1 => 1,
    }
}

/// Workgroups of the first pass for M elements.
pub fn partial_groups(m: usize) -> usize {
    m.div_ceil(RWG * PER_THREAD).clamp(1, MAX_GROUPS)
}

/// The mean loss as a one-element tensor.
pub fn forward(r: &mut Recorder, l: Loss, x: &GpuTensor, t: &GpuTensor) -> Result<GpuTensor> {
    let op = name(l);
    check_len_pair(op, x.len, t.len)?;
    let len = to_u32(op, "x", x.len)?;
    let groups = partial_groups(x.len);
    let partials = r.zeros(op, "partials", groups)?;
    let y = r.zeros(op, "y", 1)?;
    let p = Params { len, groups: groups as u32, kind: kind(l), ..Default::default() };
    r.dispatch(&PARTIAL, &p, &[x, t, &partials], grid(groups))?;
    let p = Params { len: groups as u32, scale: (1.0 / x.len as f64) as f32, ..p };
    r.dispatch(&FINAL, &p, &[&partials, &y], [1, 1, 1])?;
    Ok(y)
}

/// dx = dy·2(x − t)/M (MSE) or dy·sign(x − t)/M (L1); `dy` is the one-element upstream
/// gradient, read by the kernel.
pub fn backward(r: &mut Recorder, l: Loss, x: &GpuTensor, t: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    let op = name(l);
    check_len_pair(op, x.len, t.len)?;
    check_len(op, "dy", dy.len, &[1])?;
    to_u32(op, "x", x.len)?;
    let dx = r.zeros(op, "dx", x.len)?;
    let p = Params { kind: kind(l), scale: scale(l, x.len) as f32, ..Default::default() };
    let groups = grid(x.len.div_ceil(PER_GROUP));
    if x.len.is_multiple_of(4) {
        r.dispatch(&BWD4, &Params { len: (x.len / 4) as u32, ..p }, &[x, t, dy, &dx], groups)?;
    } else {
        r.dispatch(&BWD, &Params { len: x.len as u32, ..p }, &[x, t, dy, &dx], groups)?;
    }
    Ok(dx)
}

/// Appends the one-element loss `y` to `log`: u32 [1-based position of the first loss that
/// is not finite, or 0; losses recorded; then the recorded losses' f32 bits]. Losses past
/// the log's capacity are counted but not kept.
pub fn record(r: &mut Recorder, y: &GpuTensor, log: &GpuTensor) -> Result<()> {
    check_len("loss_record", "y", y.len, &[1])?;
    if log.len < 3 {
        return Err(crate::error::Error::shape(
            "loss_record",
            "log",
            format!("has {} entries, needs at least 3", log.len),
        ));
    }
    let len = to_u32("loss_record", "log", log.len - 2)?;
    r.dispatch(&RECORD, &Params { len, ..Default::default() }, &[y, log], [1, 1, 1])
}
