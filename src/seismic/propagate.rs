//! The wave propagator: pads models with absorbing layers, builds the C-PML profiles, checks
//! stability, and drives `kernels::wave::step` (GPU) or `cpu::wave::step` (CPU) through
//! the time steps of a batch of models × shots.
//!
//! # What is simulated, exactly
//! The 2-D constant-density acoustic wave equation for pressure p,
//! `∂²p/∂t² = v² ∇²p + v² w(t) δ_src`, on a square grid (spacing dx), explicit second order
//! in time, order 2/4/6/8 (default 4) central differences in space. Each step computes
//! `p^{n+1} = 2p^n − p^{n−1} + (v·dt)² ∇²p^n` and then **adds `(v·dt)²·w(n·dt)` to the
//! source cell**, with `w` the Ricker wavelet of [`stencil::ricker`] (unit peak at
//! t = 1.5/f0) and v the velocity at the source cell; nothing is divided by the cell area.
//! In continuum terms the source is a line source of strength `dx²·w(t)` in
//! `(1/v²) p_tt − ∇²p = dx² w(t) δ(x − x_s)`, so in a homogeneous medium
//! `p = dx² · (G ∗ w)` with `G(r, t) = H(t − r/v) / (2π sqrt(t² − r²/v²))`.
//! To match deepwave's scalar propagator or a Devito `src.inject(u.forward, src·dt²/m)`
//! use the same wavelet samples and this (v·dt)² scaling.
//! Trace sample m holds p at time m·decimate·dt at each receiver cell (p^0 = 0: the
//! wavefield starts at rest; sample 0 is zero).
//!
//! # Boundaries
//! The model is padded by `pml` cells on every side (on three sides under a free surface),
//! edge velocities extended. C-PML (Komatitsch & Martin 2007, second-order form of Pasalic
//! & McGarry 2010): damping d(ξ) = d0 (ξ/L)², d0 = −3 vmax ln(R) / (2L), frequency shift
//! α(ξ) = π f0 (1 − ξ/L), with ξ the distance into the layer (ξ = dx at the first layer
//! cell, L = width·dx at the outer one), b = exp(−(d + α) dt), a = d (b − 1) / (d + α).
//! vmax is that of each model, so a model's traces do not depend on its batch. Outside the
//! padded grid p = 0.
//!
//! # Stability
//! Stable when vmax·dt/dx ≤ [`stencil::courant_limit`] (0.6124 at order 4). A larger dt is
//! refused with the largest stable dt in the message, or, with `substep`, split into the
//! fewest equal sub-steps that are stable (the wavelet is sampled at the sub-step, samples
//! are kept at the requested dt·decimate).

use crate::device::Device;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::wave::{self, NO_SLOT, Params};
use crate::limits;
use crate::{cpu, fast};

use super::acquisition::Acquisition;
use super::stencil;

/// Everything fixed for one acquisition on one model shape.
#[derive(Clone, Debug)]
pub struct Plan {
    pub acq: Acquisition,
    /// Model rows and columns.
    pub nz: usize,
    pub nx: usize,
    /// Padded grid rows and columns.
    pub pnz: usize,
    pub pnx: usize,
    /// Absorbing widths: top, bottom, left, right.
    pub widths: [usize; 4],
    /// Sub-steps per acquisition dt (1 unless `substep` had to refine an unstable dt).
    pub substeps: usize,
    /// The simulation's time step in seconds.
    pub dt: f64,
    /// Time steps simulated (dispatches per batch).
    pub steps: usize,
    /// A trace sample is kept every `keep_every` steps.
    pub keep_every: usize,
    pub samples: usize,
    pub shots: usize,
    pub receivers: usize,
    /// Absorbing-frame cells per plane.
    pub frame: usize,
    /// Padded-grid (z, x) of the sources, then of the receivers.
    pub pos: Vec<u32>,
    /// Source wavelet per step.
    pub wavelet: Vec<f32>,
    /// Advice for the user: too few cells per wavelength, sources on a free surface.
    pub warnings: Vec<String>,
}

/// Checks a batch of `n` velocity models of nz × nx: every value finite and positive.
/// Returns (vmin, vmax). `what` names the tensor in messages.
pub fn check_models(what: &str, models: &[f32], n: usize, nz: usize, nx: usize) -> Result<(f64, f64)> {
    crate::error::check_len("forward", what, models.len(), &[n, nz, nx])?;
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for (i, &v) in models.iter().enumerate() {
        if !(v.is_finite() && v > 0.0) {
            let (m, c) = (i / (nz * nx), i % (nz * nx));
            return Err(Error::shape(
                "forward",
                what,
                format!(
                    "model {m} has velocity {v} at [z {}, x {}]: velocities must be finite and positive (m/s)",
                    c / nx,
                    c % nx
                ),
            ));
        }
        lo = lo.min(v as f64);
        hi = hi.max(v as f64);
    }
    Ok((lo, hi))
}

impl Plan {
    /// Plans `acq` on nz × nx models with velocities in [vmin, vmax]: geometry, stability
    /// (refuse or sub-step), dispersion advice.
    pub fn new(acq: &Acquisition, nz: usize, nx: usize, vmin: f64, vmax: f64) -> Result<Plan> {
        acq.check()?;
        acq.check_grid(nz, nx)?;
        if !(vmin > 0.0 && vmax >= vmin && vmax.is_finite()) {
            return Err(Error::config("forward", format!("velocity range [{vmin}, {vmax}] m/s is not positive")));
        }
        let limit = stencil::max_stable_dt(acq.order, vmax, acq.dx);
        let substeps = if acq.dt <= limit {
            1
        } else if acq.substep {
            (acq.dt / limit).ceil() as usize
        } else {
            return Err(Error::config(
                "forward",
                format!(
                    "dt = {} s is unstable for vmax = {vmax:.1} m/s at dx = {} m (order {}): the largest stable dt is \
                     {:.6e} s (Courant number v·dt/dx ≤ {:.4}); lower dt, or set \"substep\": true to sub-step",
                    acq.dt,
                    acq.dx,
                    acq.order,
                    limit * (1.0 - 1e-9),
                    stencil::courant_limit(acq.order)
                ),
            ));
        };
        let mut warnings = vec![];
        let fmax = stencil::ricker_fmax(acq.f0);
        let cells = vmin / (fmax * acq.dx);
        if cells < 6.0 {
            warnings.push(format!(
                "only {cells:.1} cells per wavelength at vmin = {vmin:.0} m/s and {fmax:.1} Hz (the top of the {} Hz \
                 Ricker band): expect numerical dispersion; about 6 or more are advised (smaller dx, lower f0, or a \
                 higher order)",
                acq.f0
            ));
        }
        let w = acq.pml;
        let wt = if acq.free_surface { 0 } else { w };
        if acq.free_surface && acq.sources.points().iter().any(|p| p[0] == 0) {
            warnings.push("a source on row 0 under a free surface injects nothing (p = 0 there)".into());
        }
        let (pnz, pnx) = (nz + wt + w, nx + 2 * w);
        let frame = (wt + w) * pnx + (pnz - wt - w) * 2 * w;
        let dt = acq.dt / substeps as f64;
        let keep_every = substeps * acq.decimate;
        let samples = acq.samples();
        let steps = (samples - 1)
            .checked_mul(keep_every)
            .and_then(|s| s.checked_add(1))
            .filter(|&s| s <= u32::MAX as usize)
            .ok_or_else(|| {
                Error::config(
                    "acquisition",
                    format!("nt = {} ({} sub-steps each) is too many time steps", acq.nt, substeps),
                )
            })?;
        let (shots, receivers) = (acq.sources.points().len(), acq.receivers.points().len());
        limits::check(&format!("acquisition: the wavelet of {steps} time steps"), limits::bytes(&[steps], 4))?;
        limits::check(
            &format!("acquisition: one model's traces ({shots} shots × {samples} samples × {receivers} receivers)"),
            limits::bytes(&[shots, samples, receivers], 4),
        )?;
        limits::check(
            &format!("acquisition: one model's wavefields ({shots} shots × {pnz} × {pnx} cells)"),
            limits::bytes(&[shots, pnz, pnx, 4], 4),
        )?;
        let mut pos = vec![];
        for [z, x] in acq.sources.points().into_iter().chain(acq.receivers.points()) {
            pos.extend([(z + wt) as u32, (x + w) as u32]);
        }
        let wavelet = (0..steps).map(|n| stencil::ricker(n as f64 * dt, acq.f0) as f32).collect();
        Ok(Plan {
            acq: acq.clone(),
            nz,
            nx,
            pnz,
            pnx,
            widths: [wt, w, w, w],
            substeps,
            dt,
            steps,
            keep_every,
            samples,
            shots,
            receivers,
            frame,
            pos,
            wavelet,
            warnings,
        })
    }

    pub fn plane(&self) -> usize {
        self.pnz * self.pnx
    }

    /// Floats of C-PML profile per model.
    pub fn prof_stride(&self) -> usize {
        2 * (self.pnx + self.pnz)
    }

    /// Floats of traces per model: shots × samples × receivers.
    pub fn trace_len(&self) -> usize {
        self.shots * self.samples * self.receivers
    }

    /// (v·dt)² of one nz × nx model on the padded grid, edge values extended.
    pub fn pad(&self, model: &[f32]) -> Vec<f32> {
        let [wt, _, wl, _] = self.widths;
        let mut out = Vec::with_capacity(self.plane());
        for z in 0..self.pnz {
            let mz = z.saturating_sub(wt).min(self.nz - 1);
            for x in 0..self.pnx {
                let mx = x.saturating_sub(wl).min(self.nx - 1);
                let v = model[mz * self.nx + mx] as f64 * self.dt;
                out.push((v * v) as f32);
            }
        }
        out
    }

    /// C-PML coefficients [a_x; b_x; a_z; b_z] for a model whose largest velocity is `vmax`.
    pub fn profiles(&self, vmax: f64) -> Vec<f32> {
        let [wt, wb, wl, wr] = self.widths;
        let (dx, dt, r) = (self.acq.dx, self.dt, self.acq.pml_r);
        let alpha_max = std::f64::consts::PI * self.acq.f0;
        // (a, b) at `cell` of an axis of length n with layers `lo` and `hi` cells wide.
        let coef = |cell: usize, n: usize, lo: usize, hi: usize| -> (f32, f32) {
            let (depth, width) = if cell < lo {
                (lo - cell, lo)
            } else if cell >= n - hi {
                (cell + 1 - (n - hi), hi)
            } else {
                return (0.0, 1.0);
            };
            let l = width as f64 * dx;
            let xi = depth as f64 * dx / l;
            let d = -3.0 * vmax * r.ln() / (2.0 * l) * xi * xi;
            let alpha = alpha_max * (1.0 - xi);
            let b = (-(d + alpha) * dt).exp();
            let a = if d + alpha > 0.0 { d * (b - 1.0) / (d + alpha) } else { 0.0 };
            (a as f32, b as f32)
        };
        let ax: Vec<_> = (0..self.pnx).map(|x| coef(x, self.pnx, wl, wr)).collect();
        let az: Vec<_> = (0..self.pnz).map(|z| coef(z, self.pnz, wt, wb)).collect();
        let mut out = Vec::with_capacity(self.prof_stride());
        out.extend(ax.iter().map(|c| c.0));
        out.extend(ax.iter().map(|c| c.1));
        out.extend(az.iter().map(|c| c.0));
        out.extend(az.iter().map(|c| c.1));
        out
    }

    /// The kernel parameters of step `n` for `models` models.
    pub fn params(&self, models: usize, n: usize) -> Params {
        let [wt, wb, wl, wr] = self.widths;
        let (dx, order) = (self.acq.dx, self.acq.order);
        let mut c2 = [0.0f32; 8];
        for (k, a) in stencil::second(order).into_iter().enumerate() {
            c2[k] = (a / (dx * dx)) as f32;
        }
        let mut c1 = [0.0f32; 4];
        for (k, a) in stencil::first(order).into_iter().enumerate() {
            c1[k] = (a / dx) as f32;
        }
        Params {
            nz: self.pnz as u32,
            nx: self.pnx as u32,
            nbs: (models * self.shots) as u32,
            shots: self.shots as u32,
            nrec: self.receivers as u32,
            wt: wt as u32,
            wb: wb as u32,
            wl: wl as u32,
            wr: wr as u32,
            frame: self.frame as u32,
            half: (order / 2) as u32,
            slot: if n.is_multiple_of(self.keep_every) { (n / self.keep_every) as u32 } else { NO_SLOT },
            nt_out: self.samples as u32,
            free_surface: self.acq.free_surface as u32,
            prof_stride: self.prof_stride() as u32,
            wavelet: self.wavelet[n],
            c2,
            c1,
        }
    }

    /// Padded velocities and profiles of a batch of `n` models.
    fn inputs(&self, models: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
        let cells = self.nz * self.nx;
        let mut vel = Vec::with_capacity(n * self.plane());
        let mut prof = Vec::with_capacity(n * self.prof_stride());
        for m in models.chunks(cells).take(n) {
            vel.extend(self.pad(m));
            let vmax = m.iter().fold(0.0f32, |a, &b| a.max(b)) as f64;
            prof.extend(self.profiles(vmax));
        }
        (vel, prof)
    }

    /// Bytes of GPU memory one model of a batch takes.
    pub fn bytes_per_model(&self) -> usize {
        4 * (self.plane() + self.shots * (2 * self.plane() + 4 * self.frame.max(1)) + self.trace_len())
            + 4 * self.prof_stride()
    }

    /// The most models one GPU batch may hold on `ctx`: every buffer within the adapter's
    /// binding limit and the whole batch within `budget` bytes.
    pub fn gpu_batch(&self, ctx: &Context, budget: usize) -> usize {
        self.gpu_batch_of(ctx, self.bytes_per_model(), budget)
    }

    /// The same for a pass that holds `per_model` bytes of GPU memory per model (the
    /// gradient keeps checkpoints too): each buffer is at most a field of every shot.
    pub fn gpu_batch_of(&self, ctx: &Context, per_model: usize, budget: usize) -> usize {
        let limit = ctx.max_binding_bytes() as usize;
        let biggest = 4 * self.shots * (self.plane().max(2 * self.frame.max(1))).max(self.samples * self.receivers);
        let by_binding = limit / biggest.max(1);
        let by_index = ((1usize << 31) - 1) / (self.shots * self.plane()).max(1);
        let by_grid = wave::MAX_PLANES / self.shots;
        (budget / per_model.max(1)).min(by_binding).min(by_index).min(by_grid).max(1)
    }

    /// Traces [n][shots][samples][receivers] of `n` models on the CPU (`fast::wave`, one
    /// task per plane for the whole record).
    pub fn run_cpu(&self, models: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run_fast(models, n, true)
    }

    /// `run_cpu` without flushing subnormal values: the twin's traces exactly (slower).
    pub fn run_cpu_exact(&self, models: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run_fast(models, n, false)
    }

    fn run_fast(&self, models: &[f32], n: usize, flush: bool) -> Result<Vec<f32>> {
        crate::error::check_len("forward", "models", models.len(), &[n, self.nz, self.nx])?;
        let (vel, prof) = self.inputs(models, n);
        let steps: Vec<fast::wave::Step> = (0..self.steps)
            .map(|step| {
                let p = self.params(n, step);
                fast::wave::Step { wavelet: p.wavelet, slot: p.slot }
            })
            .collect();
        fast::wave::simulate(&self.params(n, 0), &steps, &vel, &prof, &self.pos, flush)
    }

    /// The same traces from the plain-loop twin `cpu::wave`, step by step: the reference
    /// that `run_cpu` and `run_gpu` are checked against.
    pub fn run_reference(&self, models: &[f32], n: usize) -> Result<Vec<f32>> {
        crate::error::check_len("forward", "models", models.len(), &[n, self.nz, self.nx])?;
        let (vel, prof) = self.inputs(models, n);
        let planes = n * self.shots;
        let mut a = vec![0.0f32; planes * self.plane()];
        let mut b = vec![0.0f32; planes * self.plane()];
        let mut psi = vec![[0.0f32; 2]; planes * self.frame.max(1)];
        let mut zeta = psi.clone();
        let mut traces = vec![0.0f32; n * self.trace_len()];
        for step in 0..self.steps {
            let p = self.params(n, step);
            cpu::wave::psi(&p, &a, &mut psi, &prof)?;
            cpu::wave::step(&p, &vel, &a, &mut b, &psi, &mut zeta, &prof, &self.pos, &mut traces)?;
            std::mem::swap(&mut a, &mut b);
        }
        Ok(traces)
    }

    /// Traces [n][shots][samples][receivers] of `n` models on the GPU, as one batch
    /// (see [`Plan::gpu_batch`] for how many fit). Steps are recorded `chunk` to a submission.
    pub fn run_gpu(&self, ctx: &Context, models: &[f32], n: usize) -> Result<Vec<f32>> {
        crate::error::check_len("forward", "models", models.len(), &[n, self.nz, self.nx])?;
        let (vel, prof) = self.inputs(models, n);
        let planes = n * self.shots;
        let op = "forward";
        let vel = ctx.upload("vel", &vel)?;
        let prof = ctx.upload("prof", &prof)?;
        let pos = ctx.upload("pos", &self.pos)?;
        let p = [ctx.zeros(op, "p_even", planes * self.plane())?, ctx.zeros(op, "p_odd", planes * self.plane())?];
        let aux_len = planes * self.frame.max(1) * 2;
        let aux = [ctx.zeros(op, "psi", aux_len)?, ctx.zeros(op, "zeta", aux_len)?];
        let traces = ctx.zeros(op, "traces", n * self.trace_len())?;
        self.record_steps(ctx, n, [&vel, &prof, &pos, &traces], &p, &aux, 0..self.steps)?;
        ctx.read(&traces)
    }

    /// Records and submits steps `range` (even steps read `p[0]`, odd ones `p[1]`; `aux` is
    /// [ψ, ζ]).
    pub fn record_steps(
        &self,
        ctx: &Context,
        n: usize,
        [vel, prof, pos, traces]: [&crate::GpuTensor; 4],
        p: &[crate::GpuTensor; 2],
        aux: &[crate::GpuTensor; 2],
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        const CHUNK: usize = 64;
        let steps: Vec<usize> = range.collect();
        for chunk in steps.chunks(CHUNK) {
            let mut r = ctx.recorder();
            for &step in chunk {
                let (c, o) = (step % 2, 1 - step % 2);
                let prm = self.params(n, step);
                wave::psi(&mut r, &prm, &p[c], &aux[0], prof)?;
                wave::step(&mut r, &prm, vel, &p[c], &p[o], &aux[0], &aux[1], prof, pos, traces)?;
            }
            r.submit()?;
        }
        Ok(())
    }
}

/// Simulates `acq` on `n` models (n × nz × nx, m/s): checks the velocities and the
/// stability, prints nothing, returns the plan (with its warnings) and the traces
/// [n][shots][samples][receivers]. `progress` sees the models done so far.
pub fn forward(
    device: &Device,
    acq: &Acquisition,
    models: &[f32],
    n: usize,
    nz: usize,
    nx: usize,
    mut progress: impl FnMut(usize),
) -> Result<(Plan, Vec<f32>)> {
    let (vmin, vmax) = check_models("models", models, n, nz, nx)?;
    let plan = Plan::new(acq, nz, nx, vmin, vmax)?;
    let batch = match device.gpu() {
        Some(ctx) => plan.gpu_batch(ctx, 1 << 30),
        None => n.max(1),
    };
    limits::check(
        &format!("the traces of {n} models ({} values each)", plan.trace_len()),
        limits::bytes(&[n, plan.trace_len()], 4),
    )?;
    let mut out = Vec::with_capacity(n * plan.trace_len());
    let cells = nz * nx;
    let mut done = 0;
    for chunk in models.chunks(batch * cells) {
        let k = chunk.len() / cells;
        out.extend(match device.gpu() {
            Some(ctx) => plan.run_gpu(ctx, chunk, k)?,
            None => plan.run_cpu(chunk, k)?,
        });
        done += k;
        progress(done);
    }
    Ok((plan, out))
}
