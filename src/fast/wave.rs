//! Fast path of `cpu::wave`: whole simulations of the acoustic wave equation with C-PML.
//!
//! Planes (model, shot) never interact, so each runs all its time steps as one task: the
//! threads never wait for each other and a plane's arrays stay in its core's cache. Planes
//! left over once every thread has one (5 shots on 2 threads) are cut into bands of rows,
//! one per thread, that meet at a barrier twice a step.
//!
//! Each plane lives with a halo of `h` cells (the stencil's half-width) around it: zero
//! outside the grid, and under a free surface the mirrored rows −p above row 0, so rows are
//! straight loops without bounds tests. The interior rows' middle columns take the plain
//! Laplacian; the absorbing frame and the `h` cells next to it take the C-PML form in a few
//! passes (second derivatives, the ∂ψ terms, ζ, the update). ψ and ζ are whole planes, zero
//! outside their layers (only the layers are touched). Every cell runs the twin's
//! operations in the twin's order: with `flush` off the traces equal the twin's exactly;
//! with it on (the default of `Plan::run_cpu`) values below f32's normal range are flushed
//! to zero (`simd::FlushSubnormals`), which changes traces by rounding-level amounts
//! (`tests/parity_wave.rs` holds both).

use rayon::prelude::*;

mod bands;
mod stencil;

pub(in crate::fast) use stencil::{at, blocks, laplacian, widen_pair};
use stencil::{first_derivative, plain_update, second_derivatives, widen};

use super::{simd, threads};
use crate::error::{Error, Result, check_len};
use crate::ops::wave::{NO_SLOT, Params};

/// What changes from step to step: the source wavelet and the trace sample to record.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub wavelet: f32,
    /// Trace sample p^n goes to, or `NO_SLOT`.
    pub slot: u32,
}

/// The padded grid with its halo.
#[derive(Clone, Copy)]
pub(in crate::fast) struct Grid {
    pub nz: usize,
    pub nx: usize,
    pub h: usize,
    /// Row stride: nx + 2h.
    pub s: usize,
    pub wt: usize,
    pub wb: usize,
    pub wl: usize,
    pub wr: usize,
}

impl Grid {
    pub fn len(&self) -> usize {
        (self.nz + 2 * self.h) * self.s
    }
    /// Offset of cell (z, 0).
    pub fn row(&self, z: usize) -> usize {
        (z + self.h) * self.s + self.h
    }
    pub fn in_zpml(&self, z: usize) -> bool {
        z < self.wt || z + self.wb >= self.nz
    }
    /// Rows whose z-terms take the C-PML form: the layers and `h` rows inside them.
    pub fn z_margin(&self, z: usize) -> bool {
        z < self.wt + self.h || z + self.wb + self.h >= self.nz
    }
    /// The elements of grid rows `rows` (halo columns included) in a plane array.
    fn band(&self, rows: std::ops::Range<usize>) -> std::ops::Range<usize> {
        (rows.start + self.h) * self.s..(rows.end + self.h) * self.s
    }
    /// Columns [lo, hi) of the plain Laplacian; the rest take the C-PML form.
    fn x_inner(&self) -> (usize, usize) {
        let lo = (self.wl + self.h).min(self.nx);
        let hi = self.nx.saturating_sub(self.wr + self.h).max(lo);
        (lo, hi)
    }
}

/// The twin's coefficients: c2 = a2(0..=h), c1[k−1] = a1(k).
#[derive(Clone, Copy)]
pub(in crate::fast) struct Coef {
    pub c2: [f32; 5],
    pub c1: [f32; 5],
}

/// What one plane is simulated with.
#[derive(Clone, Copy)]
pub(in crate::fast) struct Setup<'a> {
    pub g: Grid,
    pub c: Coef,
    pub free: bool,
    /// (v·dt)² of the plane's model.
    pub vel: &'a [f32],
    /// a_x, b_x, a_z, b_z.
    pub ax: &'a [f32],
    pub bx: &'a [f32],
    pub az: &'a [f32],
    pub bz: &'a [f32],
    /// Source cell.
    src: (usize, usize),
    /// Receiver cells, (z, x) pairs.
    pub receivers: &'a [u32],
}

/// One plane's arrays, all `Grid::len` long: p at even and odd steps, ψ and ζ.
#[derive(Clone)]
pub(in crate::fast) struct State {
    p: [Vec<f32>; 2],
    psix: Vec<f32>,
    psiz: Vec<f32>,
    zetax: Vec<f32>,
    zetaz: Vec<f32>,
}

impl State {
    fn new(g: &Grid) -> Self {
        let z = || vec![0.0f32; g.len()];
        State { p: [z(), z()], psix: z(), psiz: z(), zetax: z(), zetaz: z() }
    }
}

/// Per-row scratch: the x and z terms of the Laplacian and a derivative or result row.
struct Scratch {
    tx: Vec<f32>,
    tz: Vec<f32>,
    dp: Vec<f32>,
}

impl Scratch {
    fn new(g: &Grid) -> Self {
        Scratch { tx: vec![0.0; g.nx], tz: vec![0.0; g.nx], dp: vec![0.0; g.nx] }
    }
}

/// The validated inputs of a batch of planes: their shared geometry and coefficients, and
/// the buffers each plane's `Setup` is cut from.
pub(in crate::fast) struct Problem<'a> {
    pub g: Grid,
    c: Coef,
    free: bool,
    pub planes: usize,
    shots: usize,
    pub nrec: usize,
    pub nt_out: usize,
    vel: &'a [f32],
    prof: &'a [f32],
    pos: &'a [u32],
}

impl<'a> Problem<'a> {
    /// Checks the buffers (as in `kernels::wave`) against `p`'s geometry and `steps`.
    pub fn new(p: &Params, steps: &[Step], vel: &'a [f32], prof: &'a [f32], pos: &'a [u32]) -> Result<Self> {
        let op = "wave";
        let (nz, nx, nbs, shots) = (p.nz as usize, p.nx as usize, p.nbs as usize, p.shots.max(1) as usize);
        let (nrec, nt_out, h) = (p.nrec as usize, p.nt_out as usize, p.half as usize);
        if nbs % shots != 0 {
            return Err(Error::config(op, format!("{nbs} planes is not a whole number of {shots}-shot models")));
        }
        if !(1..=4).contains(&h) {
            return Err(Error::config(op, format!("stencil half-width {h} is not 1, 2, 3 or 4")));
        }
        let models = nbs / shots;
        check_len(op, "vel", vel.len(), &[models, nz * nx])?;
        check_len(op, "prof", prof.len(), &[models, p.prof_stride as usize])?;
        check_len(op, "pos", pos.len(), &[shots + nrec, 2])?;
        if p.prof_stride as usize != 2 * (nx + nz) {
            return Err(Error::config(op, format!("prof_stride {} is not 2·(nx + nz)", p.prof_stride)));
        }
        let [wt, wb, wl, wr] = [p.wt, p.wb, p.wl, p.wr].map(|v| v as usize);
        if wt + wb > nz || wl + wr > nx {
            return Err(Error::config(
                op,
                format!("absorbing widths {:?} exceed the {nz}×{nx} grid", [wt, wb, wl, wr]),
            ));
        }
        if let Some(i) = pos.chunks(2).position(|c| c[0] as usize >= nz || c[1] as usize >= nx) {
            let (z, x) = (pos[2 * i], pos[2 * i + 1]);
            return Err(Error::config(op, format!("position {i} ({z}, {x}) is outside the {nz}×{nx} grid")));
        }
        if let Some(s) = steps.iter().find(|s| s.slot != NO_SLOT && s.slot as usize >= nt_out) {
            return Err(Error::config(op, format!("sample slot {} past the {nt_out} samples", s.slot)));
        }
        let g = Grid { nz, nx, h, s: nx + 2 * h, wt, wb, wl, wr };
        let mut c = Coef { c2: [0.0; 5], c1: [0.0; 5] };
        c.c2[..=h].copy_from_slice(&p.c2[..=h]);
        c.c1[..h].copy_from_slice(&p.c1[..h]);
        Ok(Problem { g, c, free: p.free_surface != 0, planes: nbs, shots, nrec, nt_out, vel, prof, pos })
    }

    pub fn trace_len(&self) -> usize {
        self.nt_out * self.nrec
    }

    /// Plane `bs` (model bs / shots, shot bs % shots).
    pub fn setup(&self, bs: usize) -> Setup<'a> {
        let (g, shots) = (self.g, self.shots);
        let (b, s, stride, plane) = (bs / shots, bs % shots, 2 * (g.nx + g.nz), g.nz * g.nx);
        let prof = &self.prof[b * stride..][..stride];
        Setup {
            g,
            c: self.c,
            free: self.free,
            vel: &self.vel[b * plane..][..plane],
            ax: &prof[..g.nx],
            bx: &prof[g.nx..2 * g.nx],
            az: &prof[2 * g.nx..2 * g.nx + g.nz],
            bz: &prof[2 * g.nx + g.nz..],
            src: (self.pos[2 * s] as usize, self.pos[2 * s + 1] as usize),
            receivers: &self.pos[2 * shots..],
        }
    }
}

/// Runs every step of `steps` on every plane and returns the traces [planes][nt_out][nrec].
/// Buffers as in `kernels::wave` (`vel` [models][plane], `prof` [models][prof_stride],
/// `pos` the sources then the receivers); `p` gives the geometry (its `wavelet` and `slot`
/// are ignored: `steps` has them). `flush` flushes subnormal values to zero (module docs).
pub fn simulate(p: &Params, steps: &[Step], vel: &[f32], prof: &[f32], pos: &[u32], flush: bool) -> Result<Vec<f32>> {
    let pr = Problem::new(p, steps, vel, prof, pos)?;
    let (nbs, trace_len) = (pr.planes, pr.trace_len());
    let mut traces = vec![0.0f32; nbs * trace_len];
    // Whole planes while every thread has one; the rest in bands. With many planes per
    // thread the last round's imbalance is small: all whole.
    let t = threads::count();
    let whole = if nbs >= 4 * t { nbs } else { nbs - nbs % t };
    let (first, rest) = traces.split_at_mut(whole * trace_len);
    first.par_chunks_mut(trace_len.max(1)).enumerate().for_each(|(bs, tr)| {
        let _flush = flush.then(simd::FlushSubnormals::new);
        let su = pr.setup(bs);
        let mut sim = Sim::new(su);
        for (n, step) in steps.iter().enumerate() {
            sim.step(n, step, Some(tr), None);
        }
    });
    if !rest.is_empty() {
        let setups: Vec<Setup> = (whole..nbs).map(|bs| pr.setup(bs)).collect();
        bands::run(&setups, steps, rest, trace_len, t.min(pr.g.nz / (2 * pr.g.h)).max(1), flush);
    }
    Ok(traces)
}

/// One plane stepped on this thread.
pub(in crate::fast) struct Sim<'a> {
    pub su: Setup<'a>,
    pub state: State,
    scratch: Scratch,
}

impl<'a> Sim<'a> {
    pub fn new(su: Setup<'a>) -> Self {
        Sim { su, state: State::new(&su.g), scratch: Scratch::new(&su.g) }
    }

    /// Starts plane `su` (of the same grid) from rest, keeping the arrays.
    pub fn reset(&mut self, su: Setup<'a>) {
        self.su = su;
        let State { p: [a, b], psix, psiz, zetax, zetaz } = &mut self.state;
        for v in [a, b, psix, psiz, zetax, zetaz] {
            v.fill(0.0);
        }
    }

    /// Step `n`: records p^n into `traces` (when given and the step has a slot), advances
    /// to p^{n+1}, and writes q^n (what (v·dt)² multiplies: the Laplacian with its C-PML
    /// terms and the wavelet at the source) into `q` [nz][nx] when given.
    pub fn step(&mut self, n: usize, step: &Step, traces: Option<&mut [f32]>, q: Option<&mut [f32]>) {
        let (su, st) = (&self.su, &mut self.state);
        let g = &su.g;
        let band = g.band(0..g.nz);
        let (pa, pb) = st.p.split_at_mut(1);
        let (cur, nxt) = if n.is_multiple_of(2) { (&mut pa[0], &mut pb[0]) } else { (&mut pb[0], &mut pa[0]) };
        if su.free {
            let (halo, rest) = cur.split_at_mut(g.h * g.s);
            mirror(g, halo, rest);
        }
        if let Some(traces) = traces {
            record(su, step, cur, traces);
        }
        psi_rows(su, 0..g.nz, cur, &mut st.psix[band.clone()], &mut st.psiz[band.clone()]);
        let rows = Rows {
            nxt: &mut nxt[band.clone()],
            zetax: &mut st.zetax[band.clone()],
            zetaz: &mut st.zetaz[band.clone()],
            q,
        };
        step_rows(su, 0..g.nz, step.wavelet, cur, &st.psix, &st.psiz, rows, &mut self.scratch);
    }
}

/// Copies p^n at the receivers into the step's trace sample.
fn record(su: &Setup, step: &Step, cur: &[f32], traces: &mut [f32]) {
    if step.slot != NO_SLOT {
        let nrec = su.receivers.len() / 2;
        let row = &mut traces[step.slot as usize * nrec..][..nrec];
        for (t, zx) in row.iter_mut().zip(su.receivers.chunks(2)) {
            *t = cur[su.g.row(zx[0] as usize) + zx[1] as usize];
        }
    }
}

/// Under a free surface p is antisymmetric about row 0: the halo rows above (`halo`, the
/// array's first h rows) hold −p of the rows below (`below`, from grid row 0 on; zero
/// where the grid has no such row).
fn mirror(g: &Grid, halo: &mut [f32], below: &[f32]) {
    for k in 1..=g.h {
        let above = &mut halo[(g.h - k) * g.s + g.h..][..g.nx];
        if k < g.nz {
            above.iter_mut().zip(&below[k * g.s + g.h..][..g.nx]).for_each(|(a, &b)| *a = -b);
        } else {
            above.fill(0.0);
        }
    }
}

/// The rows of a band that `step_rows` writes, each slice starting at the band's first row
/// (`Grid::band`), and q^n's rows [rows][nx] (without halo) when it is wanted.
struct Rows<'a> {
    nxt: &'a mut [f32],
    zetax: &'a mut [f32],
    zetaz: &'a mut [f32],
    q: Option<&'a mut [f32]>,
}

/// ψ^n = b ψ^{n−1} + a ∂p^n on the layers' cells of `rows`.
#[pulp::with_simd(psi_rows = simd::arch())]
#[inline(always)]
fn psi_rows_simd<S: pulp::Simd>(
    _simd: S,
    su: &Setup<'_>,
    rows: std::ops::Range<usize>,
    cur: &[f32],
    psix: &mut [f32],
    psiz: &mut [f32],
) {
    match su.g.h {
        1 => psi_h::<1>(su, rows, cur, psix, psiz),
        2 => psi_h::<2>(su, rows, cur, psix, psiz),
        3 => psi_h::<3>(su, rows, cur, psix, psiz),
        _ => psi_h::<4>(su, rows, cur, psix, psiz),
    }
}

/// `psix` and `psiz` are the band's rows (`Grid::band`).
#[inline(always)]
fn psi_h<const H: usize>(su: &Setup, rows: std::ops::Range<usize>, cur: &[f32], psix: &mut [f32], psiz: &mut [f32]) {
    let (g, c) = (&su.g, &su.c);
    let nx = g.nx;
    let base = g.band(rows.clone()).start;
    let mut d = vec![0.0f32; nx];
    let layers = widen_pair((0, g.wl), (nx - g.wr, nx), nx);
    for z in rows {
        let (r, l) = (g.row(z), g.row(z) - base);
        for (x0, x1) in layers {
            if x0 < x1 {
                first_derivative::<H>(&mut d[x0..x1], cur, r + x0, 1, &c.c1);
                let (p, a, b) = (&mut psix[l + x0..l + x1], &su.ax[x0..x1], &su.bx[x0..x1]);
                for (((p, &d), &a), &b) in p.iter_mut().zip(&d[x0..x1]).zip(a).zip(b) {
                    *p = b * *p + a * d;
                }
            }
        }
        if g.in_zpml(z) {
            let (a, b) = (su.az[z], su.bz[z]);
            for (b0, b1) in blocks(nx) {
                first_derivative::<H>(&mut d[b0..b1], cur, r + b0, g.s, &c.c1);
            }
            for (p, &d) in psiz[l..l + nx].iter_mut().zip(&d) {
                *p = b * *p + a * d;
            }
        }
    }
}

/// p^{n+1} and ζ on `rows`, from p^n (`cur`), ψ^n and p^{n−1} (in `out.nxt`); `cur`,
/// `psix` and `psiz` are whole arrays, `out` the band's rows.
#[pulp::with_simd(step_rows = simd::arch())]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_rows_simd<S: pulp::Simd>(
    _simd: S,
    su: &Setup<'_>,
    rows: std::ops::Range<usize>,
    wavelet: f32,
    cur: &[f32],
    psix: &[f32],
    psiz: &[f32],
    out: Rows<'_>,
    scratch: &mut Scratch,
) {
    match su.g.h {
        1 => step_h::<1>(su, rows, wavelet, cur, psix, psiz, out, scratch),
        2 => step_h::<2>(su, rows, wavelet, cur, psix, psiz, out, scratch),
        3 => step_h::<3>(su, rows, wavelet, cur, psix, psiz, out, scratch),
        _ => step_h::<4>(su, rows, wavelet, cur, psix, psiz, out, scratch),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_h<const H: usize>(
    su: &Setup,
    rows: std::ops::Range<usize>,
    wavelet: f32,
    cur: &[f32],
    psix: &[f32],
    psiz: &[f32],
    out: Rows,
    scratch: &mut Scratch,
) {
    let (g, c) = (&su.g, &su.c);
    let (nx, s) = (g.nx, g.s);
    let Rows { nxt, zetax, zetaz, mut q } = out;
    let Scratch { tx, tz, dp } = scratch;
    let (lo, hi) = g.x_inner();
    let c0x2 = 2.0 * c.c2[0];
    let (base, z0) = (g.band(rows.clone()).start, rows.start);
    for z in rows {
        // r: the row in the whole arrays (p^n, ψ); l: in the band's rows (p^{n+1}, ζ).
        let r = g.row(z);
        let l = r - base;
        let v2 = &su.vel[z * nx..(z + 1) * nx];
        let zm = g.z_margin(z);
        // The plain Laplacian on the middle columns of rows away from the top and bottom.
        if !zm && lo < hi {
            let len = hi - lo;
            let (res, old, v2) = (&mut dp[lo..hi], &nxt[l + lo..l + hi], &v2[lo..hi]);
            let mut q = q.as_deref_mut().map(|q| &mut q[(z - z0) * nx + lo..][..len]);
            for (b0, b1) in blocks(len) {
                let q = q.as_deref_mut().map(|q| &mut q[b0..b1]);
                let (i0, old, v2) = (r + lo + b0, &old[b0..b1], &v2[b0..b1]);
                plain_update::<H>(&mut res[b0..b1], q, cur, i0, s, old, v2, &c.c2, c0x2);
            }
            nxt[l + lo..l + hi].copy_from_slice(res);
        }
        // The C-PML form everywhere else on the row: x-terms, then z-terms, then the sum.
        let spans: [(usize, usize); 2] = if zm || lo >= hi { [(0, nx), (nx, nx)] } else { [(0, lo), (hi, nx)] };
        for (x0, x1) in spans {
            if x0 >= x1 {
                continue;
            }
            let (c0, c1) = widen(x0, x1, nx);
            let (len, i0) = (c1 - c0, r + c0);
            let p0 = at(cur, i0, 0, len);
            for (b0, b1) in blocks(len) {
                let (txs, tzs) = (&mut tx[c0 + b0..c0 + b1], &mut tz[c0 + b0..c0 + b1]);
                second_derivatives::<H>(txs, tzs, cur, i0 + b0, s, &c.c2);
            }
            // x-terms on the columns near the left and right layers: + ∂ψx, then ζx inside
            // the layers (a = 0, b = 1 elsewhere leave ζx and the term unchanged).
            let left_end = x1.min(g.wl + H).max(x0);
            let near = [(x0, left_end), (x0.max(nx.saturating_sub(g.wr + H)).max(left_end), x1)];
            for (n0, n1) in widen_pair(near[0], near[1], nx) {
                if n0 >= n1 {
                    continue;
                }
                first_derivative::<H>(&mut dp[n0..n1], psix, r + n0, 1, &c.c1);
                let (t, d, zeta) = (&mut tx[n0..n1], &dp[n0..n1], &mut zetax[l + n0..l + n1]);
                let (a, b) = (&su.ax[n0..n1], &su.bx[n0..n1]);
                for ((((t, &d), z), &a), &b) in t.iter_mut().zip(d).zip(zeta.iter_mut()).zip(a).zip(b) {
                    let v = *t + d;
                    let zt = b * *z + a * v;
                    *z = zt;
                    *t = v + zt;
                }
            }
            // z-terms on the rows near the top and bottom layers: + ∂ψz, then ζz inside them.
            if zm {
                for (b0, b1) in blocks(len) {
                    first_derivative::<H>(&mut dp[c0 + b0..c0 + b1], psiz, i0 + b0, s, &c.c1);
                }
                let (t, d) = (&mut tz[c0..c1], &dp[c0..c1]);
                if g.in_zpml(z) {
                    let (a, b) = (su.az[z], su.bz[z]);
                    for ((t, &d), z) in t.iter_mut().zip(d).zip(zetaz[l + c0..l + c1].iter_mut()) {
                        let v = *t + d;
                        let zt = b * *z + a * v;
                        *z = zt;
                        *t = v + zt;
                    }
                } else {
                    t.iter_mut().zip(d).for_each(|(t, &d)| *t += d);
                }
            }
            // p^{n+1} over the widened columns into scratch, kept on the span only.
            for (b0, b1) in blocks(len) {
                let (old, p0) = (at(nxt, l + c0 + b0, 0, b1 - b0), &p0[b0..b1]);
                let (res, v2) = (&mut dp[c0 + b0..c0 + b1], &v2[c0 + b0..c0 + b1]);
                let (txs, tzs) = (&tx[c0 + b0..c0 + b1], &tz[c0 + b0..c0 + b1]);
                for x in 0..b1 - b0 {
                    res[x] = 2.0 * p0[x] - old[x] + v2[x] * (txs[x] + tzs[x]);
                }
            }
            nxt[l + x0..l + x1].copy_from_slice(&dp[x0..x1]);
            if let Some(q) = q.as_deref_mut() {
                let q = &mut q[(z - z0) * nx..][..nx];
                (x0..x1).for_each(|x| q[x] = tx[x] + tz[x]);
            }
        }
        if z == su.src.0 {
            nxt[l + su.src.1] += v2[su.src.1] * wavelet;
            if let Some(q) = q.as_deref_mut() {
                q[(z - z0) * nx + su.src.1] += wavelet;
            }
        }
        if su.free && z == 0 {
            nxt[l..l + nx].fill(0.0);
        }
    }
}
