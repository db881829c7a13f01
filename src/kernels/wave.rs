//! Dispatch for `shaders/wave.wgsl`: one time step of the 2-D constant-density acoustic
//! wave equation with C-PML, for a batch of models × shots in one dispatch.
//!
//! Layout (all f32 unless noted; `plane` = nz·nx of the padded grid, `bs` = model·shots + shot):
//! - `vel`     [models][plane]: (v·dt)², the model padded by the absorbing layers
//! - `cur`     [bs][plane]: p^n (read)
//! - `nxt`     [bs][plane]: p^{n−1} on entry, p^{n+1} on exit (updated in place)
//! - `psi`     [bs][frame][2]: C-PML memory ψx, ψz of the cells of the absorbing frame (top
//!   rows, bottom rows, then the left and right columns of the rows between), updated in
//!   place from step n−1 to n by `psi` before `step` reads it
//! - `zeta`    [bs][frame][2]: ζx, ζz, updated in place by `step`
//! - `prof`    [models][2·nx + 2·nz]: C-PML coefficients a_x, b_x (per column) then a_z, b_z
//!   (per row); a = 0 outside the layer
//! - `pos`     u32 [shots][2] source (z, x) then [receivers][2], padded-grid indices
//! - `traces`  [bs][nt_out][receivers]: p^n at every receiver goes to sample `slot`
//!
//! One invocation per cell of every (model, shot) plane: workgroups of 64 columns × 4 rows,
//! the grid (columns, rows, planes), so at most 65 535 planes per dispatch. The CPU twin is
//! `cpu::wave::step`.
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader};
pub use crate::ops::wave::{MAX_PLANES, NO_SLOT, Params};

/// `wave_grid.wgsl` (Params, stencil weights, the frame's layout) is shared with
/// `kernels::wave_adjoint` and compiled in front of each.
pub static SHADER: Shader = Shader {
    name: "wave",
    source: concat!(include_str!("../../shaders/wave_grid.wgsl"), include_str!("../../shaders/wave.wgsl")),
};

static PSI: Kernel = Kernel { shader: &SHADER, entry: "wave_psi", bindings: &[Read, ReadWrite, Read] };

static STEP: Kernel = Kernel {
    shader: &SHADER,
    entry: "wave_step",
    bindings: &[Read, Read, ReadWrite, Read, ReadWrite, Read, Read, ReadWrite],
};

static STEP_Q: Kernel = Kernel {
    shader: &SHADER,
    entry: "wave_step_q",
    bindings: &[Read, Read, ReadWrite, Read, ReadWrite, Read, Read, ReadWrite],
};

static RECORD: Kernel = Kernel { shader: &SHADER, entry: "wave_record", bindings: &[Read, Read, ReadWrite] };

/// Workgroup shape: columns × rows.
pub const WG: [usize; 2] = [64, 4];

/// Workgroups for one invocation per cell of every plane: (columns, rows, planes).
pub fn cell_grid(p: &Params) -> [u32; 3] {
    [(p.nx as usize).div_ceil(WG[0]) as u32, (p.nz as usize).div_ceil(WG[1]) as u32, p.nbs]
}
/// Records the first half of a time step: ψ^n = b ψ^{n−1} + a ∂p^n in place, for the frame
/// cells of every plane (reads `cur` = p^n).
pub fn psi(r: &mut Recorder, p: &Params, cur: &GpuTensor, psi: &GpuTensor, prof: &GpuTensor) -> Result<()> {
    let (plane, nbs, frame) = (p.plane(), p.nbs as usize, (p.frame as usize).max(1));
    check_len("wave_psi", "cur", cur.len, &[nbs, plane])?;
    check_len("wave_psi", "psi", psi.len, &[nbs, frame, 2])?;
    check_len("wave_psi", "prof", prof.len, &[nbs / p.shots.max(1) as usize, p.prof_stride as usize])?;
    if p.frame == 0 {
        return Ok(());
    }
    let groups = [(p.frame as usize).div_ceil(64) as u32, p.nbs, 1];
    r.dispatch(&PSI, p, &[cur, psi, prof], groups)
}

/// Records the second half of a time step: reads `cur` (p^n) and `psi` (ψ^n), turns `nxt`
/// from p^{n−1} into p^{n+1}, updates `zeta`, and copies p^n at the receivers into sample
/// `p.slot`.
#[allow(clippy::too_many_arguments)]
pub fn step(
    r: &mut Recorder,
    p: &Params,
    vel: &GpuTensor,
    cur: &GpuTensor,
    nxt: &GpuTensor,
    psi: &GpuTensor,
    zeta: &GpuTensor,
    prof: &GpuTensor,
    pos: &GpuTensor,
    traces: &GpuTensor,
) -> Result<()> {
    p.check("wave_step", [vel.len, cur.len, nxt.len, psi.len, zeta.len, prof.len, pos.len, traces.len])?;
    r.dispatch(&STEP, p, &[vel, cur, nxt, psi, zeta, prof, pos, traces], cell_grid(p))
}

/// `step` for the adjoint's recomputation: records no traces, writes q^n (what (v·dt)²
/// multiplies in p^{n+1}) of every cell into `q` [bs][plane].
#[allow(clippy::too_many_arguments)]
pub fn step_q(
    r: &mut Recorder,
    p: &Params,
    vel: &GpuTensor,
    cur: &GpuTensor,
    nxt: &GpuTensor,
    psi: &GpuTensor,
    zeta: &GpuTensor,
    prof: &GpuTensor,
    pos: &GpuTensor,
    q: &GpuTensor,
) -> Result<()> {
    let p = Params { slot: NO_SLOT, nt_out: 1, ..*p };
    p.check(
        "wave_step_q",
        [vel.len, cur.len, nxt.len, psi.len, zeta.len, prof.len, pos.len, p.nbs as usize * p.nrec as usize],
    )?;
    check_len("wave_step_q", "q", q.len, &[p.nbs as usize, p.plane()])?;
    r.dispatch(&STEP_Q, &p, &[vel, cur, nxt, psi, zeta, prof, pos, q], cell_grid(&p))
}

/// Copies p^n (`cur`) at the receivers into sample `p.slot` of `traces` (nothing when the
/// step has no slot): what `step` records, for steps run with `step_q`.
pub fn record(r: &mut Recorder, p: &Params, cur: &GpuTensor, pos: &GpuTensor, traces: &GpuTensor) -> Result<()> {
    let (nbs, nrec) = (p.nbs as usize, p.nrec as usize);
    check_len("wave_record", "cur", cur.len, &[nbs, p.plane()])?;
    check_len("wave_record", "pos", pos.len, &[p.shots as usize + nrec, 2])?;
    check_len("wave_record", "traces", traces.len, &[nbs, p.nt_out as usize, nrec])?;
    if p.slot == NO_SLOT || nrec == 0 {
        return Ok(());
    }
    r.dispatch(&RECORD, p, &[cur, pos, traces], [nrec.div_ceil(64) as u32, p.nbs, 1])
}
