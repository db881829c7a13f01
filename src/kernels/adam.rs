//! Dispatch for `shaders/adam.wgsl`: one Adam / AdamW step in place on p, m and v.
use crate::cpu::adam::{StepScalars, check_lens};
use crate::error::Result;
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::kernels::elementwise::to_u32;
use crate::ops::Adam;

pub static SHADER: Shader = Shader { name: "adam", source: include_str!("../../shaders/adam.wgsl") };

/// Mirrors `Params` in the shader; the scalars are `StepScalars` rounded to f32.
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
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub eps: f32,
    pub l2: f32,
    pub decay: f32,
    pub _p1: [u32; 3],
}

const BINDINGS: &[crate::gpu::Access] = &[ReadWrite, Read, ReadWrite, ReadWrite];
static STEP4: Kernel = Kernel { shader: &SHADER, entry: "adam_step4", bindings: BINDINGS };
static STEP: Kernel = Kernel { shader: &SHADER, entry: "adam_step", bindings: BINDINGS };

/// Elements per workgroup (64 threads × 4).
const PER_GROUP: usize = 256;

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
    check_lens(g, p.len, grad.len, m.len, v.len)?;
    to_u32(if g.decoupled { "adamw" } else { "adam" }, "p", p.len)?;
    if p.len == 0 {
        return Ok(());
    }
    let params = Params {
        beta1: s.beta1 as f32,
        one_minus_beta1: s.one_minus_beta1 as f32,
        beta2: s.beta2 as f32,
        one_minus_beta2: s.one_minus_beta2 as f32,
        step_size: s.step_size as f32,
        bc2_sqrt: s.bc2_sqrt as f32,
        eps: s.eps as f32,
        l2: s.l2 as f32,
        decay: s.decay as f32,
        ..Default::default()
    };
    let groups = grid(p.len.div_ceil(PER_GROUP));
    if p.len % 4 == 0 {
        r.dispatch(&STEP4, &Params { len: (p.len / 4) as u32, ..params }, &[p, grad, m, v], groups)
    } else {
        r.dispatch(&STEP, &Params { len: p.len as u32, ..params }, &[p, grad, m, v], groups)
    }
}
