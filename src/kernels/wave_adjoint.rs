//! Dispatch for `shaders/wave_adjoint.wgsl`: one adjoint time step of `kernels::wave`'s
//! scheme (its exact transpose; derivation and CPU twin in `cpu::wave_adjoint`), for a batch
//! of models × shots in each dispatch, with the same `Params` and frame layout.
//!
//! Layout (f32; `plane` of the padded grid, `bs` = model·shots + shot):
//! - `vel` [models][plane] (v·dt)², `prof` [models][2·nx + 2·nz], `pos` as `kernels::wave`
//! - `lam` [bs][plane]: λ(p^{n+1}) (read)
//! - `out` [bs][plane]: λ(p^{n+2}) on entry, λ(p^n) on exit
//! - `eta`, `mu` [bs][frame][2]: the adjoints of ζ and ψ, updated in place
//! - `tb`, `au` [bs][plane][2]: T̄ and a·μ̂ of every cell (working buffers, see `Buffers`)
//! - `q` [bs][plane]: q^n of the forward step being transposed (from `wave::step_q`)
//! - `grad` [bs][plane]: ∂J/∂(v·dt)², accumulated
//! - `residual` [bs][nt_out][receivers]: ∂J/∂traces, injected at sample `p.slot`
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader};
use crate::ops::wave::Params;

pub static SHADER: Shader = Shader {
    name: "wave_adjoint",
    source: concat!(include_str!("../../shaders/wave_grid.wgsl"), include_str!("../../shaders/wave_adjoint.wgsl")),
};

static TBAR: Kernel =
    Kernel { shader: &SHADER, entry: "wave_adjoint_tbar", bindings: &[Read, Read, ReadWrite, Read, ReadWrite] };
static PSI: Kernel =
    Kernel { shader: &SHADER, entry: "wave_adjoint_psi", bindings: &[Read, ReadWrite, Read, ReadWrite] };
static STEP: Kernel =
    Kernel { shader: &SHADER, entry: "wave_adjoint_step", bindings: &[Read, Read, Read, ReadWrite, Read, ReadWrite] };
static INJECT: Kernel = Kernel { shader: &SHADER, entry: "wave_adjoint_inject", bindings: &[ReadWrite, Read, Read] };

/// The buffers of one adjoint step.
pub struct Buffers<'a> {
    pub vel: &'a GpuTensor,
    pub prof: &'a GpuTensor,
    pub pos: &'a GpuTensor,
    pub lam: &'a GpuTensor,
    pub out: &'a GpuTensor,
    pub eta: &'a GpuTensor,
    pub mu: &'a GpuTensor,
    /// T̄ and a·μ̂ of every cell, [bs][plane][2]: working buffers (`tb` is written whole each
    /// step; `au` must start at zero, and stays zero outside the frame).
    pub tb: &'a GpuTensor,
    pub au: &'a GpuTensor,
    pub q: &'a GpuTensor,
    pub grad: &'a GpuTensor,
    pub residual: &'a GpuTensor,
}

/// Records one adjoint step (its residual injection only when `p.slot` is a sample).
pub fn step(r: &mut Recorder, p: &Params, b: &Buffers) -> Result<()> {
    let op = "wave_adjoint";
    p.check(op, [b.vel.len, b.lam.len, b.out.len, b.mu.len, b.eta.len, b.prof.len, b.pos.len, b.residual.len])?;
    let cells = p.nbs as usize * p.plane();
    check_len(op, "q", b.q.len, &[cells])?;
    check_len(op, "grad", b.grad.len, &[cells])?;
    check_len(op, "tb", b.tb.len, &[cells, 2])?;
    check_len(op, "au", b.au.len, &[cells, 2])?;
    let grid = crate::kernels::wave::cell_grid(p);
    r.dispatch(&TBAR, p, &[b.vel, b.lam, b.eta, b.prof, b.tb], grid)?;
    if p.frame > 0 {
        let frame_groups = [(p.frame as usize).div_ceil(64) as u32, p.nbs, 1];
        r.dispatch(&PSI, p, &[b.tb, b.mu, b.prof, b.au], frame_groups)?;
    }
    r.dispatch(&STEP, p, &[b.lam, b.tb, b.au, b.out, b.q, b.grad], grid)?;
    if p.slot != crate::ops::wave::NO_SLOT {
        r.dispatch(&INJECT, p, &[b.out, b.pos, b.residual], [(p.nbs as usize).div_ceil(64) as u32, 1, 1])?;
    }
    Ok(())
}
