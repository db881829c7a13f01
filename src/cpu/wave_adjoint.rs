//! CPU twin of `shaders/wave_adjoint.wgsl`, and the plain-loop reference of the whole
//! adjoint-state gradient, generic over f32 and f64 so it can be checked in f64.
//!
//! # The step, as linear maps
//! For fixed (v·dt)² = `w`, one step of `cpu::wave` maps the state (p^n, p^{n−1}, ψ^{n−1},
//! ζ^{n−1}) linearly to (p^{n+1}, p^n, ψ^n, ζ^n):
//!
//! ```text
//! ψ^n  = b ψ^{n−1} + a D1 p^n                       (absorbing frame, per axis)
//! T    = D2 p^n + G1 ψ^n                            (G1: ∂ of ψ, zero outside the frame)
//! ζ^n  = b ζ^{n−1} + a T,   L = T + ζ^n             (frame; elsewhere L = T)
//! q^n  = Lx + Lz + w^n δ_src
//! p^{n+1} = mask · (2 p^n − p^{n−1} + w q^n)        (mask: 0 on row 0 under a free surface)
//! ```
//!
//! so ∂p^{n+1}/∂w = mask · q^n. The adjoint step applies each map's transpose in reverse
//! order: with λ the adjoint of p^{n+1}, g = mask·λ and H = w·g,
//!
//! ```text
//! T̄ = H + a (η + H) in the frame (H elsewhere);   η ← b (η + H)
//! μ̂ = μ + G1ᵀ T̄;                                  μ ← b μ̂
//! λ(p^n) = −mask·λ(p^{n+2}) + 2g + D2ᵀ T̄ + D1ᵀ (a μ̂) + residual at the receivers
//! ∂J/∂w += g · q^n
//! ```
//!
//! D2 and D1 read p through the free-surface mirror (p(−z) = −p(z)), so their transposes
//! gather through it too (`zt2`, `zt1`); everything else is zero-padded. Here ψ, ζ and their
//! adjoints are held on the whole plane (zero outside the frame) for clarity; the shader
//! keeps only the frame. The forward wavefield is recomputed segment by segment from
//! checkpoints of the whole state taken every `every` steps ([`forward`], [`backward`]).

use super::{Real, lit};
use crate::ops::wave::{NO_SLOT, Params};

/// One (model, shot) plane's fixed inputs: geometry, stencil weights, (v·dt)², C-PML
/// coefficients, source and receiver cells.
pub struct Grid<T> {
    pub nz: usize,
    pub nx: usize,
    h: usize,
    widths: [usize; 4],
    fs: bool,
    a2: [T; 5],
    c1: [T; 5],
    /// (v·dt)² per cell.
    pub w: Vec<T>,
    ax: Vec<T>,
    bx: Vec<T>,
    az: Vec<T>,
    bz: Vec<T>,
    src: usize,
    rec: Vec<usize>,
}

/// The forward state: p^n, p^{n−1}, ψ^{n−1} and ζ^{n−1} of one plane.
#[derive(Clone)]
pub struct State<T> {
    pub cur: Vec<T>,
    pub prev: Vec<T>,
    psi: Vec<[T; 2]>,
    zeta: Vec<[T; 2]>,
}

/// The adjoint state: λ(p^{n+1}), λ(p^{n+2}) (turned into λ(p^n) by a step), μ (ψ's) and η
/// (ζ's).
pub struct Adjoint<T> {
    pub lam: Vec<T>,
    pub out: Vec<T>,
    mu: Vec<[T; 2]>,
    eta: Vec<[T; 2]>,
}

impl<T: Real> State<T> {
    pub fn zeros(cells: usize) -> Self {
        let z = T::zero();
        State { cur: vec![z; cells], prev: vec![z; cells], psi: vec![[z; 2]; cells], zeta: vec![[z; 2]; cells] }
    }
}

impl<T: Real> Adjoint<T> {
    pub fn zeros(cells: usize) -> Self {
        let z = T::zero();
        Adjoint { lam: vec![z; cells], out: vec![z; cells], mu: vec![[z; 2]; cells], eta: vec![[z; 2]; cells] }
    }
}

impl<T: Real> Grid<T> {
    /// One plane of the forward's parameters `p`: `w` that model's (v·dt)² on the padded
    /// grid, `prof` its C-PML profiles, `pos` sources then receivers, `shot` the source.
    pub fn new(p: &Params, w: Vec<T>, prof: &[f32], pos: &[u32], shot: usize) -> Self {
        let (nz, nx) = (p.nz as usize, p.nx as usize);
        let t = |v: f32| lit::<T>(v as f64);
        let mut a2 = [T::zero(); 5];
        let mut c1 = [T::zero(); 5];
        for k in 0..=p.half as usize {
            a2[k] = t(p.c2[k]);
            if k > 0 {
                c1[k] = t(p.c1[k - 1]);
            }
        }
        let cell = |i: usize| pos[2 * i] as usize * nx + pos[2 * i + 1] as usize;
        Grid {
            nz,
            nx,
            h: p.half as usize,
            widths: [p.wt, p.wb, p.wl, p.wr].map(|v| v as usize),
            fs: p.free_surface != 0,
            a2,
            c1,
            w,
            ax: prof[..nx].iter().map(|&v| t(v)).collect(),
            bx: prof[nx..2 * nx].iter().map(|&v| t(v)).collect(),
            az: prof[2 * nx..2 * nx + nz].iter().map(|&v| t(v)).collect(),
            bz: prof[2 * nx + nz..2 * (nx + nz)].iter().map(|&v| t(v)).collect(),
            src: cell(shot),
            rec: (0..p.nrec as usize).map(|r| cell(p.shots as usize + r)).collect(),
        }
    }

    pub fn cells(&self) -> usize {
        self.nz * self.nx
    }

    fn in_x(&self, x: usize) -> bool {
        x < self.widths[2] || x >= self.nx - self.widths[3]
    }
    fn in_z(&self, z: usize) -> bool {
        z < self.widths[0] || z >= self.nz - self.widths[1]
    }
    /// No stencil neighbour of (z, x) is in the frame or (under a free surface) mirrored.
    fn interior(&self, z: usize, x: usize) -> bool {
        let (h, [wt, wb, wl, wr]) = (self.h, self.widths);
        x >= wl + h && x + wr + h < self.nx && z >= wt + h + self.fs as usize && z + wb + h < self.nz
    }
    fn mask(&self, i: usize) -> T {
        if self.fs && i < self.nx { T::zero() } else { T::one() }
    }

    /// p at (z, x) as the forward reads it: zero outside the grid, mirrored above row 0
    /// under a free surface.
    fn pv(&self, f: &[T], z: isize, x: isize) -> T {
        let (nz, nx) = (self.nz as isize, self.nx as isize);
        if x < 0 || x >= nx || z >= nz {
            return T::zero();
        }
        if z < 0 {
            return if self.fs && -z < nz { -f[(-z * nx + x) as usize] } else { T::zero() };
        }
        f[(z * nx + x) as usize]
    }
    /// A field at (z, x), zero outside the grid.
    fn at(&self, f: impl Fn(usize) -> T, z: isize, x: isize) -> T {
        if z < 0 || x < 0 || z >= self.nz as isize || x >= self.nx as isize {
            return T::zero();
        }
        f(z as usize * self.nx + x as usize)
    }

    /// The forward's step n: ψ, ζ and p advance; returns nothing, writes q^n into `q` when
    /// given. `extra` is added to p^{n+1} before the mask (the Born source).
    pub fn forward_step(&self, s: &mut State<T>, wavelet: T, extra: Option<&[T]>, mut q: Option<&mut [T]>) {
        let (nz, nx, h) = (self.nz, self.nx, self.h);
        let (a2, c1) = (&self.a2, &self.c1);
        for z in 0..nz {
            for x in 0..nx {
                let (i, zi, xi) = (z * nx + x, z as isize, x as isize);
                if self.in_x(x) {
                    let d = (1..=h).fold(T::zero(), |d, k| {
                        d + c1[k] * (self.pv(&s.cur, zi, xi + k as isize) - self.pv(&s.cur, zi, xi - k as isize))
                    });
                    s.psi[i][0] = self.bx[x] * s.psi[i][0] + self.ax[x] * d;
                }
                if self.in_z(z) {
                    let d = (1..=h).fold(T::zero(), |d, k| {
                        d + c1[k] * (self.pv(&s.cur, zi + k as isize, xi) - self.pv(&s.cur, zi - k as isize, xi))
                    });
                    s.psi[i][1] = self.bz[z] * s.psi[i][1] + self.az[z] * d;
                }
            }
        }
        let psx = |i: usize| if self.in_x(i % nx) { s.psi[i][0] } else { T::zero() };
        let psz = |i: usize| if self.in_z(i / nx) { s.psi[i][1] } else { T::zero() };
        for z in 0..nz {
            for x in 0..nx {
                let (i, zi, xi) = (z * nx + x, z as isize, x as isize);
                let p0 = s.cur[i];
                let mut lap = a2[0] * p0 + a2[0] * p0;
                if self.interior(z, x) {
                    for k in 1..=h {
                        let c = &s.cur;
                        lap = lap + a2[k] * ((c[i - k] + c[i + k]) + (c[i - k * nx] + c[i + k * nx]));
                    }
                } else {
                    let (mut lx, mut lz) = (a2[0] * p0, a2[0] * p0);
                    for k in 1..=h {
                        let ki = k as isize;
                        lx = lx + a2[k] * (self.pv(&s.cur, zi, xi + ki) + self.pv(&s.cur, zi, xi - ki));
                        lx = lx + c1[k] * (self.at(psx, zi, xi + ki) - self.at(psx, zi, xi - ki));
                        lz = lz + a2[k] * (self.pv(&s.cur, zi + ki, xi) + self.pv(&s.cur, zi - ki, xi));
                        lz = lz + c1[k] * (self.at(psz, zi + ki, xi) - self.at(psz, zi - ki, xi));
                    }
                    if self.in_x(x) {
                        s.zeta[i][0] = self.bx[x] * s.zeta[i][0] + self.ax[x] * lx;
                        lx = lx + s.zeta[i][0];
                    }
                    if self.in_z(z) {
                        s.zeta[i][1] = self.bz[z] * s.zeta[i][1] + self.az[z] * lz;
                        lz = lz + s.zeta[i][1];
                    }
                    lap = lx + lz;
                }
                let qi = if i == self.src { lap + wavelet } else { lap };
                let e = extra.map_or(T::zero(), |e| e[i]);
                s.prev[i] = self.mask(i) * (lit::<T>(2.0) * p0 - s.prev[i] + self.w[i] * qi + e);
                if let Some(q) = q.as_deref_mut() {
                    q[i] = qi;
                }
            }
        }
        std::mem::swap(&mut s.cur, &mut s.prev);
    }

    /// p at the receivers into `row`.
    pub fn record(&self, f: &[T], row: &mut [T]) {
        for (r, &c) in row.iter_mut().zip(&self.rec) {
            *r = f[c];
        }
    }

    /// Σ_k c[k] (u(r−k) ± u(r+k)) down a column through the transposed free-surface
    /// mirror: `sign` +1 for D2ᵀ, −1 for D1ᵀ (the mirror term takes the opposite sign of
    /// the first one: see the module's derivation).
    fn zt(&self, u: &impl Fn(usize) -> T, c: &[T; 5], sign: T, r: usize, x: usize) -> T {
        let (nz, nx) = (self.nz, self.nx);
        let mut acc = T::zero();
        for k in 1..=self.h {
            let mut t = T::zero();
            if r >= k {
                t = t + u((r - k) * nx + x);
            }
            if r + k < nz {
                t = t + sign * u((r + k) * nx + x);
            }
            if self.fs && r >= 1 && r <= k {
                t = t - sign * u((k - r) * nx + x);
            }
            acc = acc + c[k] * t;
        }
        acc
    }
    /// The same along a row (zero-padded, no mirror).
    fn xt(&self, u: &impl Fn(usize) -> T, c: &[T; 5], sign: T, z: usize, x: usize) -> T {
        let (zi, xi) = (z as isize, x as isize);
        (1..=self.h).fold(T::zero(), |acc, k| {
            let ki = k as isize;
            acc + c[k] * (self.at(u, zi, xi - ki) + sign * self.at(u, zi, xi + ki))
        })
    }

    /// The adjoint of forward step n (see the module): `a` goes from step n+1 to n, `grad`
    /// (∂J/∂w) gains g·q^n, `residual` (the misfit's derivative at the traces sample this
    /// step recorded, if any) enters at the receivers.
    pub fn adjoint_step(&self, a: &mut Adjoint<T>, q: &[T], grad: &mut [T], residual: Option<&[T]>) {
        let (nz, nx, h) = (self.nz, self.nx, self.h);
        let one = T::one();
        let hh: Vec<T> = (0..self.cells()).map(|i| self.w[i] * self.mask(i) * a.lam[i]).collect();
        // T̄ per cell, and μ̂ = μ + G1ᵀ T̄ (the shader's `adj_psi`).
        let tb: Vec<[T; 2]> = (0..self.cells())
            .map(|i| {
                let tx = if self.in_x(i % nx) { hh[i] + self.ax[i % nx] * (a.eta[i][0] + hh[i]) } else { hh[i] };
                let tz = if self.in_z(i / nx) { hh[i] + self.az[i / nx] * (a.eta[i][1] + hh[i]) } else { hh[i] };
                [tx, tz]
            })
            .collect();
        let (tbx, tbz) = (|i: usize| tb[i][0], |i: usize| tb[i][1]);
        for z in 0..nz {
            for x in 0..nx {
                let (i, zi, xi) = (z * nx + x, z as isize, x as isize);
                for k in 1..=h {
                    let ki = k as isize;
                    if self.in_x(x) {
                        a.mu[i][0] = a.mu[i][0] + self.c1[k] * (self.at(tbx, zi, xi - ki) - self.at(tbx, zi, xi + ki));
                    }
                    if self.in_z(z) {
                        a.mu[i][1] = a.mu[i][1] + self.c1[k] * (self.at(tbz, zi - ki, xi) - self.at(tbz, zi + ki, xi));
                    }
                }
            }
        }
        // λ(p^n) (`adj_step`).
        let ux = |i: usize| if self.in_x(i % nx) { self.ax[i % nx] * a.mu[i][0] } else { T::zero() };
        let uz = |i: usize| if self.in_z(i / nx) { self.az[i / nx] * a.mu[i][1] } else { T::zero() };
        for z in 0..nz {
            for x in 0..nx {
                let i = z * nx + x;
                let g = self.mask(i) * a.lam[i];
                grad[i] = grad[i] + g * q[i];
                let mut v = lit::<T>(2.0) * g - self.mask(i) * a.out[i];
                if self.interior(z, x) {
                    let mut lap = self.a2[0] * hh[i] + self.a2[0] * hh[i];
                    for k in 1..=h {
                        lap = lap + self.a2[k] * ((hh[i - k] + hh[i + k]) + (hh[i - k * nx] + hh[i + k * nx]));
                    }
                    v = v + lap;
                } else {
                    v = v + self.a2[0] * tb[i][0] + self.xt(&tbx, &self.a2, one, z, x);
                    v = v + self.a2[0] * tb[i][1] + self.zt(&tbz, &self.a2, one, z, x);
                    v = v + self.xt(&ux, &self.c1, -one, z, x) + self.zt(&uz, &self.c1, -one, z, x);
                }
                a.out[i] = v;
            }
        }
        // η ← b (η + H), μ ← b μ̂ (`adj_frame`).
        for z in 0..nz {
            for x in 0..nx {
                let i = z * nx + x;
                if self.in_x(x) {
                    a.eta[i][0] = self.bx[x] * (a.eta[i][0] + hh[i]);
                    a.mu[i][0] = self.bx[x] * a.mu[i][0];
                }
                if self.in_z(z) {
                    a.eta[i][1] = self.bz[z] * (a.eta[i][1] + hh[i]);
                    a.mu[i][1] = self.bz[z] * a.mu[i][1];
                }
            }
        }
        // The residual at the receivers (`adj_inject`).
        if let Some(res) = residual {
            for (&c, &r) in self.rec.iter().zip(res) {
                a.out[c] = a.out[c] + r;
            }
        }
        std::mem::swap(&mut a.lam, &mut a.out);
    }
}

/// Steps between checkpoints for `steps` time steps: about √steps, which keeps
/// checkpoints plus one segment's q smallest.
pub fn checkpoint_every(steps: usize) -> usize {
    (steps as f64).sqrt().ceil().max(1.0) as usize
}

/// The per-step schedule of the forward: (wavelet, trace slot or [`NO_SLOT`]).
pub type Schedule = [(f32, u32)];

/// Runs the forward: the traces [nt_out][nrec] and the state before every `every`-th step.
pub fn forward<T: Real>(g: &Grid<T>, steps: &Schedule, nt_out: usize, every: usize) -> (Vec<T>, Vec<State<T>>) {
    let nrec = g.rec.len();
    let mut traces = vec![T::zero(); nt_out * nrec];
    let mut s = State::zeros(g.cells());
    let mut saved = vec![];
    for (n, &(w, slot)) in steps.iter().enumerate() {
        if n % every == 0 {
            saved.push(s.clone());
        }
        if slot != NO_SLOT {
            g.record(&s.cur, &mut traces[slot as usize * nrec..][..nrec]);
        }
        g.forward_step(&mut s, lit(w as f64), None, None);
    }
    (traces, saved)
}

/// Jᵀ r: the gradient with respect to w = (v·dt)² of ⟨r, d(w)⟩ for a residual `r`
/// [nt_out][nrec] (for the misfit ½‖d − d_obs‖², r = d − d_obs), recomputing the forward
/// segment by segment from `saved` (from [`forward`] with the same `every`).
pub fn backward<T: Real>(g: &Grid<T>, steps: &Schedule, every: usize, saved: &[State<T>], r: &[T]) -> Vec<T> {
    let (cells, nrec) = (g.cells(), g.rec.len());
    let mut grad = vec![T::zero(); cells];
    let mut a = Adjoint::zeros(cells);
    let mut qs = vec![vec![T::zero(); cells]; every.min(steps.len())];
    for (j, start) in saved.iter().enumerate().rev() {
        let (s0, s1) = (j * every, ((j + 1) * every).min(steps.len()));
        let mut s = start.clone();
        for n in s0..s1 {
            g.forward_step(&mut s, lit(steps[n].0 as f64), None, Some(&mut qs[n - s0]));
        }
        for n in (s0..s1).rev() {
            let slot = steps[n].1;
            let res = (slot != NO_SLOT).then(|| &r[slot as usize * nrec..][..nrec]);
            g.adjoint_step(&mut a, &qs[n - s0], &mut grad, res);
        }
    }
    grad
}

/// The Born (linearised) traces: ∂d/∂w applied to `dw`, by propagating the perturbation
/// beside the background with the extra source mask·dw·q^n.
pub fn born<T: Real>(g: &Grid<T>, steps: &Schedule, nt_out: usize, dw: &[T]) -> Vec<T> {
    let (cells, nrec) = (g.cells(), g.rec.len());
    let mut traces = vec![T::zero(); nt_out * nrec];
    let (mut s, mut ds) = (State::zeros(cells), State::zeros(cells));
    let mut q = vec![T::zero(); cells];
    for &(w, slot) in steps {
        if slot != NO_SLOT {
            g.record(&ds.cur, &mut traces[slot as usize * nrec..][..nrec]);
        }
        g.forward_step(&mut s, lit(w as f64), None, Some(&mut q));
        let src: Vec<T> = q.iter().zip(dw).map(|(&q, &d)| q * d).collect();
        g.forward_step(&mut ds, T::zero(), Some(&src), None);
    }
    traces
}
