//! The wave step's parameter block and buffer layout (see `kernels::wave`), shared by the
//! WGSL dispatch, its CPU twin (`cpu::wave`) and the fast CPU engine (`fast::wave`).
use crate::error::{Error, Result, check_len};

/// The most planes (models × shots) one dispatch takes (workgroups in z).
pub const MAX_PLANES: usize = 65_535;

/// `slot` value meaning "record nothing this step".
pub const NO_SLOT: u32 = u32::MAX;

/// Mirrors `Params` in `shaders/wave.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Padded grid rows and columns.
    pub nz: u32,
    pub nx: u32,
    /// Planes: models × shots.
    pub nbs: u32,
    pub shots: u32,
    pub nrec: u32,
    /// Absorbing widths: top, bottom, left, right.
    pub wt: u32,
    pub wb: u32,
    pub wl: u32,
    pub wr: u32,
    /// Cells of the absorbing frame of one plane.
    pub frame: u32,
    /// Stencil half-width (order / 2).
    pub half: u32,
    /// Trace sample to record p^n into, or [`NO_SLOT`].
    pub slot: u32,
    /// Samples per trace.
    pub nt_out: u32,
    /// 1: pressure-free surface at row 0 (antisymmetric mirror above it).
    pub free_surface: u32,
    /// Floats of `prof` per model (2·nx + 2·nz).
    pub prof_stride: u32,
    /// Source wavelet value at this step (the source adds (v·dt)² times it).
    pub wavelet: f32,
    /// Second-derivative weights a0..a4 divided by dx², zero-padded.
    pub c2: [f32; 8],
    /// First-derivative weights c1..c4 divided by dx, zero-padded.
    pub c1: [f32; 4],
}

impl Params {
    pub fn plane(&self) -> usize {
        self.nz as usize * self.nx as usize
    }
    /// Checks the buffers' lengths against the layout above.
    pub fn check(&self, op: &str, lens: [usize; 8]) -> Result<()> {
        let (plane, nbs, shots) = (self.plane(), self.nbs as usize, self.shots.max(1) as usize);
        if nbs % shots != 0 {
            return Err(Error::config(op, format!("{nbs} planes is not a whole number of {shots}-shot models")));
        }
        let models = nbs / shots;
        if nbs > MAX_PLANES {
            return Err(Error::config(op, format!("{nbs} planes in one dispatch, at most {MAX_PLANES}")));
        }
        if plane * nbs >= 1 << 31 {
            return Err(Error::config(op, format!("{nbs} planes of {plane} cells exceed the kernel's 2^31 indices")));
        }
        let [vel, cur, nxt, psi, zeta, prof, pos, traces] = lens;
        check_len(op, "vel", vel, &[models, plane])?;
        check_len(op, "cur", cur, &[nbs, plane])?;
        check_len(op, "nxt", nxt, &[nbs, plane])?;
        let frame = (self.frame as usize).max(1);
        check_len(op, "psi", psi, &[nbs, frame, 2])?;
        check_len(op, "zeta", zeta, &[nbs, frame, 2])?;
        check_len(op, "prof", prof, &[models, self.prof_stride as usize])?;
        check_len(op, "pos", pos, &[shots + self.nrec as usize, 2])?;
        check_len(op, "traces", traces, &[nbs, self.nt_out as usize, self.nrec as usize])?;
        if self.slot != NO_SLOT && self.slot >= self.nt_out {
            return Err(Error::config(op, format!("sample slot {} past the {} samples", self.slot, self.nt_out)));
        }
        Ok(())
    }
}
