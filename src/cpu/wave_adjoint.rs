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

    /// Columns of row `z` in the absorbing frame: all of a z layer's, else the side layers'.
    fn frame_cols(&self, z: usize) -> impl Iterator<Item = usize> + use<T> {
        let (all, nx, [_, _, wl, wr]) = (self.in_z(z), self.nx, self.widths);
        (0..nx).filter(move |&x| all || x < wl || x >= nx - wr)
    }
    /// Columns [lo, hi) of row `z` whose whole stencil is clear of the frame and of the
    /// mirror (empty for other rows): the plain Laplacian, in straight loops.
    fn inner(&self, z: usize) -> (usize, usize) {
        let (h, [wt, wb, wl, wr]) = (self.h, self.widths);
        if z >= wt + h + self.fs as usize && z + wb + h < self.nz {
            (wl + h, (self.nx - wr - h).max(wl + h))
        } else {
            (0, 0)
        }
    }
    /// (z, x)'s stencil stays inside the grid and clear of the mirror: direct indexing.
    fn unbounded(&self, z: usize, x: usize) -> bool {
        let h = self.h;
        z >= h + self.fs as usize && z + h < self.nz && x >= h && x + h < self.nx
    }

    /// Σ_k c[k] (f[i+k·d] ± f[i−k·d]) along stride `d` (`sign` −1 for a first derivative).
    fn line(&self, f: &[T], c: &[T; 5], sign: T, i: usize, d: usize) -> T {
        (1..=self.h).fold(T::zero(), |acc, k| acc + c[k] * (f[i + k * d] + sign * f[i - k * d]))
    }

    /// The raw x and z terms (before ζ) of a cell outside `inner`.
    fn frame_terms(&self, s: &State<T>, z: usize, x: usize) -> (T, T) {
        let (nx, i, p0) = (self.nx, z * self.nx + x, s.cur[z * self.nx + x]);
        let (a2, c1, one) = (&self.a2, &self.c1, T::one());
        // ψ is zero outside its layers, so its neighbours are read without a test.
        if self.unbounded(z, x) {
            let pick = |k: usize, j: usize| s.psi[j][k];
            let dpx = (1..=self.h).fold(T::zero(), |a, k| a + c1[k] * (pick(0, i + k) - pick(0, i - k)));
            let dpz = (1..=self.h).fold(T::zero(), |a, k| a + c1[k] * (pick(1, i + k * nx) - pick(1, i - k * nx)));
            let lx = a2[0] * p0 + self.line(&s.cur, a2, one, i, 1) + dpx;
            let lz = a2[0] * p0 + self.line(&s.cur, a2, one, i, nx) + dpz;
            return (lx, lz);
        }
        let (psx, psz) = (|j: usize| s.psi[j][0], |j: usize| s.psi[j][1]);
        let (zi, xi) = (z as isize, x as isize);
        let (mut lx, mut lz) = (a2[0] * p0, a2[0] * p0);
        for k in 1..=self.h {
            let ki = k as isize;
            lx = lx + a2[k] * (self.pv(&s.cur, zi, xi + ki) + self.pv(&s.cur, zi, xi - ki));
            lx = lx + c1[k] * (self.at(psx, zi, xi + ki) - self.at(psx, zi, xi - ki));
            lz = lz + a2[k] * (self.pv(&s.cur, zi + ki, xi) + self.pv(&s.cur, zi - ki, xi));
            lz = lz + c1[k] * (self.at(psz, zi + ki, xi) - self.at(psz, zi - ki, xi));
        }
        (lx, lz)
    }

    /// The forward's step n: ψ, ζ and p advance; writes q^n into `q` when given. `extra` is
    /// added to p^{n+1} before the mask (the Born source).
    pub fn forward_step(&self, s: &mut State<T>, wavelet: T, extra: Option<&[T]>, mut q: Option<&mut [T]>) {
        let (nz, nx, h) = (self.nz, self.nx, self.h);
        let (a2, c1, two) = (&self.a2, &self.c1, lit::<T>(2.0));
        let minus = -T::one();
        for z in 0..nz {
            for x in self.frame_cols(z) {
                let (i, zi, xi) = (z * nx + x, z as isize, x as isize);
                let free = self.unbounded(z, x);
                if self.in_x(x) {
                    let d = if free {
                        self.line(&s.cur, c1, minus, i, 1)
                    } else {
                        (1..=h).fold(T::zero(), |d, k| {
                            d + c1[k] * (self.pv(&s.cur, zi, xi + k as isize) - self.pv(&s.cur, zi, xi - k as isize))
                        })
                    };
                    s.psi[i][0] = self.bx[x] * s.psi[i][0] + self.ax[x] * d;
                }
                if self.in_z(z) {
                    let d = if free {
                        self.line(&s.cur, c1, minus, i, nx)
                    } else {
                        (1..=h).fold(T::zero(), |d, k| {
                            d + c1[k] * (self.pv(&s.cur, zi + k as isize, xi) - self.pv(&s.cur, zi - k as isize, xi))
                        })
                    };
                    s.psi[i][1] = self.bz[z] * s.psi[i][1] + self.az[z] * d;
                }
            }
        }
        let mut lap = vec![T::zero(); nx];
        for z in 0..nz {
            let (lo, hi) = self.inner(z);
            let row = z * nx;
            // The plain Laplacian over the inner columns, one weight at a time (vectorises).
            for (l, &p) in lap[lo..hi].iter_mut().zip(&s.cur[row + lo..row + hi]) {
                *l = a2[0] * p + a2[0] * p;
            }
            for k in (1..=h).filter(|_| hi > lo) {
                let c = &s.cur;
                let (w, e) = (&c[row + lo - k..row + hi - k], &c[row + lo + k..row + hi + k]);
                let (n, so) = (&c[row + lo - k * nx..row + hi - k * nx], &c[row + lo + k * nx..row + hi + k * nx]);
                for ((((l, &w), &e), &n), &so) in lap[lo..hi].iter_mut().zip(w).zip(e).zip(n).zip(so) {
                    *l = *l + a2[k] * ((w + e) + (n + so));
                }
            }
            for x in (0..lo).chain(hi.max(lo)..nx) {
                let i = row + x;
                let (mut lx, mut lz) = self.frame_terms(s, z, x);
                if self.in_x(x) {
                    s.zeta[i][0] = self.bx[x] * s.zeta[i][0] + self.ax[x] * lx;
                    lx = lx + s.zeta[i][0];
                }
                if self.in_z(z) {
                    s.zeta[i][1] = self.bz[z] * s.zeta[i][1] + self.az[z] * lz;
                    lz = lz + s.zeta[i][1];
                }
                lap[x] = lx + lz;
            }
            // q is the Laplacian plus the wavelet at the source; the row's update then runs
            // as one straight loop (the mask is a row constant).
            if (row..row + nx).contains(&self.src) {
                lap[self.src - row] = lap[self.src - row] + wavelet;
            }
            let m = self.mask(row);
            let (cur, prev, w) = (&s.cur[row..row + nx], &mut s.prev[row..row + nx], &self.w[row..row + nx]);
            match extra {
                None => {
                    for (((p, &c), &w), &l) in prev.iter_mut().zip(cur).zip(w).zip(&lap) {
                        *p = m * (two * c - *p + w * l);
                    }
                }
                Some(e) => {
                    let e = &e[row..row + nx];
                    for ((((p, &c), &w), &l), &e) in prev.iter_mut().zip(cur).zip(w).zip(&lap).zip(e) {
                        *p = m * (two * c - *p + w * l + e);
                    }
                }
            }
            if let Some(q) = q.as_deref_mut() {
                q[row..row + nx].copy_from_slice(&lap);
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
    fn zt(&self, u: &[T], c: &[T; 5], sign: T, r: usize, x: usize) -> T {
        let (nz, nx) = (self.nz, self.nx);
        let mut acc = T::zero();
        for k in 1..=self.h {
            let mut t = T::zero();
            if r >= k {
                t = t + u[(r - k) * nx + x];
            }
            if r + k < nz {
                t = t + sign * u[(r + k) * nx + x];
            }
            if self.fs && r >= 1 && r <= k {
                t = t - sign * u[(k - r) * nx + x];
            }
            acc = acc + c[k] * t;
        }
        acc
    }
    /// The same along a row (zero-padded, no mirror).
    fn xt(&self, u: &[T], c: &[T; 5], sign: T, z: usize, x: usize) -> T {
        let (zi, xi) = (z as isize, x as isize);
        (1..=self.h).fold(T::zero(), |acc, k| {
            let ki = k as isize;
            acc + c[k] * (self.at(|j| u[j], zi, xi - ki) + sign * self.at(|j| u[j], zi, xi + ki))
        })
    }

    /// The adjoint of forward step n (see the module): `a` goes from step n+1 to n, `grad`
    /// (∂J/∂w) gains g·q^n, `residual` (the misfit's derivative at the traces sample this
    /// step recorded, if any) enters at the receivers.
    pub fn adjoint_step(&self, a: &mut Adjoint<T>, q: &[T], grad: &mut [T], residual: Option<&[T]>) {
        let (nz, nx, h, cells) = (self.nz, self.nx, self.h, self.cells());
        let (one, two, zero) = (T::one(), lit::<T>(2.0), T::zero());
        let mut hh: Vec<T> = self.w.iter().zip(&a.lam).map(|(&w, &l)| w * l).collect();
        if self.fs {
            hh[..nx].iter_mut().for_each(|v| *v = zero);
        }
        // T̄ per cell (x and z parts).
        let mut tbx = hh.clone();
        let mut tbz = hh.clone();
        for z in 0..nz {
            for x in self.frame_cols(z) {
                let i = z * nx + x;
                if self.in_x(x) {
                    tbx[i] = hh[i] + self.ax[x] * (a.eta[i][0] + hh[i]);
                }
                if self.in_z(z) {
                    tbz[i] = hh[i] + self.az[z] * (a.eta[i][1] + hh[i]);
                }
            }
        }
        // μ̂ = μ + G1ᵀ T̄ on the frame (the shader's `wave_adjoint_psi`).
        let mut ux = vec![zero; cells];
        let mut uz = vec![zero; cells];
        for z in 0..nz {
            for x in self.frame_cols(z) {
                let (i, zi, xi) = (z * nx + x, z as isize, x as isize);
                let free = self.unbounded(z, x);
                if self.in_x(x) {
                    a.mu[i][0] = a.mu[i][0]
                        - if free {
                            self.line(&tbx, &self.c1, -one, i, 1)
                        } else {
                            (1..=h as isize).fold(zero, |d, k| {
                                d + self.c1[k as usize]
                                    * (self.at(|j| tbx[j], zi, xi + k) - self.at(|j| tbx[j], zi, xi - k))
                            })
                        };
                    // a μ̂, zero outside each axis's layer.
                    ux[i] = self.ax[x] * a.mu[i][0];
                }
                if self.in_z(z) {
                    a.mu[i][1] = a.mu[i][1]
                        - if free {
                            self.line(&tbz, &self.c1, -one, i, nx)
                        } else {
                            (1..=h as isize).fold(zero, |d, k| {
                                d + self.c1[k as usize]
                                    * (self.at(|j| tbz[j], zi + k, xi) - self.at(|j| tbz[j], zi - k, xi))
                            })
                        };
                    uz[i] = self.az[z] * a.mu[i][1];
                }
            }
        }
        // λ(p^n) (`wave_adjoint_step`).
        let mut acc = vec![zero; nx];
        for z in 0..nz {
            let (lo, hi) = self.inner(z);
            let row = z * nx;
            for (o, &v) in acc[lo..hi].iter_mut().zip(&hh[row + lo..row + hi]) {
                *o = self.a2[0] * v + self.a2[0] * v;
            }
            for k in (1..=h).filter(|_| hi > lo) {
                let (w, e) = (&hh[row + lo - k..row + hi - k], &hh[row + lo + k..row + hi + k]);
                let (n, so) = (&hh[row + lo - k * nx..row + hi - k * nx], &hh[row + lo + k * nx..row + hi + k * nx]);
                for ((((o, &w), &e), &n), &so) in acc[lo..hi].iter_mut().zip(w).zip(e).zip(n).zip(so) {
                    *o = *o + self.a2[k] * ((w + e) + (n + so));
                }
            }
            for x in (0..lo).chain(hi.max(lo)..nx) {
                let i = row + x;
                acc[x] = if self.unbounded(z, x) {
                    self.a2[0] * tbx[i]
                        + self.line(&tbx, &self.a2, one, i, 1)
                        + self.a2[0] * tbz[i]
                        + self.line(&tbz, &self.a2, one, i, nx)
                        - self.line(&ux, &self.c1, -one, i, 1)
                        - self.line(&uz, &self.c1, -one, i, nx)
                } else {
                    self.a2[0] * tbx[i]
                        + self.xt(&tbx, &self.a2, one, z, x)
                        + self.a2[0] * tbz[i]
                        + self.zt(&tbz, &self.a2, one, z, x)
                        + self.xt(&ux, &self.c1, -one, z, x)
                        + self.zt(&uz, &self.c1, -one, z, x)
                };
            }
            let m = self.mask(row);
            let (lam, out) = (&a.lam[row..row + nx], &mut a.out[row..row + nx]);
            for ((((o, gr), &l), &q), &acc) in
                out.iter_mut().zip(&mut grad[row..row + nx]).zip(lam).zip(&q[row..row + nx]).zip(&acc)
            {
                let g = m * l;
                *gr = *gr + g * q;
                *o = two * g - m * *o + acc;
            }
        }
        // η ← b (η + H), μ ← b μ̂ (`wave_adjoint_frame`).
        for z in 0..nz {
            for x in self.frame_cols(z) {
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
        // The residual at the receivers (`wave_adjoint_inject`).
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
