//! Dispatch for `shaders/adam.wgsl`: one Adam / AdamW step in place on p, m and v. The
//! scalars that change with the step (and the learning rate) come from one small uniform
//! shared by every parameter's dispatch, so a captured training program keeps its bind
//! groups and only rewrites that uniform between steps.
use crate::error::Result;
use crate::gpu::{Access::*, Context, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::kernels::elementwise::to_u32;
use crate::ops::{Adam, StepScalars, check_adam_lens};

pub static SHADER: Shader = Shader { name: "adam", source: include_str!("../../shaders/adam.wgsl") };

/// Mirrors `Params` in the shader: what stays the same from step to step.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Elements (scalar variant) or vec4s (vec4 variant).
    pub len: u32,
    pub _p0: [u32; 3],
    pub beta1: f32,
    pub one_minus_beta1: f32,
    pub beta2: f32,
    pub one_minus_beta2: f32,
    pub eps: f32,
    pub l2: f32,
    pub _p1: [u32; 2],
}

/// Mirrors `Step` in the shader: the per-step scalars, `StepScalars` rounded to f32.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Step {
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub decay: f32,
    pub _p0: u32,
}

impl Step {
    pub fn new(s: &StepScalars) -> Self {
        Step { step_size: s.step_size as f32, bc2_sqrt: s.bc2_sqrt as f32, decay: s.decay as f32, _p0: 0 }
    }
}

const BINDINGS: &[crate::gpu::Access] = &[ReadWrite, Read, ReadWrite, ReadWrite, Uniform, Read];
static STEP4: Kernel = Kernel { shader: &SHADER, entry: "adam_step4", bindings: BINDINGS };
static STEP: Kernel = Kernel { shader: &SHADER, entry: "adam_step", bindings: BINDINGS };

/// Elements per workgroup (64 threads × 4).
const PER_GROUP: usize = 256;

/// The shared per-step uniform, holding `s`.
pub fn step_uniform(ctx: &Context, s: &StepScalars) -> Result<GpuTensor> {
    let u = ctx.uniform("adam.step", 4)?;
    ctx.write(&u, bytemuck::cast_slice::<Step, u32>(&[Step::new(s)]))?;
    Ok(u)
}

/// One step (`step` counts from 1; 0 is an error) on p with moments m and v, in place.
pub fn step(
    r: &mut Recorder,
    g: &Adam,
    step: u32,
    p: &GpuTensor,
    grad: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
) -> Result<()> {
    let s = StepScalars::new(g, step)?;
    let ctx = r.context();
    let (uniform, health) = (step_uniform(ctx, &s)?, ctx.zeros("adam", "health", 1)?);
    record(r, &s, p, grad, m, v, &uniform, &health)
}

/// Records a step whose per-step scalars are read from `uniform` (see `step_uniform`;
/// `s` gives the ones that stay fixed) and that does nothing once `health[0]` is non-zero.
#[allow(clippy::too_many_arguments)]
pub fn record(
    r: &mut Recorder,
    s: &StepScalars,
    p: &GpuTensor,
    grad: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
    uniform: &GpuTensor,
    health: &GpuTensor,
) -> Result<()> {
    check_adam_lens(&s.hyper, p.len, grad.len, m.len, v.len)?;
    to_u32(s.op(), "p", p.len)?;
    if p.len == 0 {
        return Ok(());
    }
    let params = Params {
        beta1: s.beta1 as f32,
        one_minus_beta1: s.one_minus_beta1 as f32,
        beta2: s.beta2 as f32,
        one_minus_beta2: s.one_minus_beta2 as f32,
        eps: s.eps as f32,
        l2: s.l2 as f32,
        ..Default::default()
    };
    let groups = grid(p.len.div_ceil(PER_GROUP));
    let bufs = [p, grad, m, v, uniform, health];
    if p.len.is_multiple_of(4) {
        r.dispatch(&STEP4, &Params { len: (p.len / 4) as u32, ..params }, &bufs, groups)
    } else {
        r.dispatch(&STEP, &Params { len: p.len as u32, ..params }, &bufs, groups)
    }
}
