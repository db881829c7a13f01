//! The data misfit's gradient with respect to velocity, by the adjoint-state method, on the
//! GPU (`kernels::wave_adjoint`), the CPU (`fast::wave_adjoint`) or the plain-loop twin
//! (`cpu::wave_adjoint`, which derives it; `Device::Reference`).
//!
//! For J(v) = ½ Σ_shots,receivers,samples (d(v) − d_obs)², the forward runs once, the
//! residual d − d_obs is formed, and the adjoint steps run backwards accumulating
//! ∂J/∂(v·dt)² = Σ_n mask·λ^{n+1}·q^n, where q^n is what (v·dt)² multiplies in step n. Where
//! every step's q fits the memory budget the forward keeps it (two propagations in all);
//! otherwise it checkpoints its whole state (p^n, p^{n−1}, ψ, ζ) every `every` steps (about
//! √steps) and each segment is recomputed from its checkpoint, keeping q, before the adjoint
//! runs back through it (three propagations; √steps states plus √steps planes per shot).
//! Sample m of a trace is p at step m·keep_every, so decimated receivers and sub-steps enter
//! the adjoint at exactly the steps they were recorded.
//!
//! The padded cells take their velocity from the model's edge, so their gradient is summed
//! into it; the C-PML profiles are held fixed at `pml_vmax` (the gradient is that of the
//! simulation with those profiles, not of vmax's choice of damping).

use rayon::prelude::*;

use super::misfit::Misfit;
use super::propagate::Plan;
use crate::cpu::wave_adjoint::{self as twin, Grid};
use crate::cpu::{Real, lit};
use crate::device::Device;
use crate::error::{Error, Result, check_len};
use crate::fast::wave::Step;
use crate::fast::wave_adjoint as wave_adjoint_fast;
use crate::gpu::{Context, GpuTensor};
use crate::kernels::{wave, wave_adjoint};
use crate::limits;

/// The misfit, its gradient and the traces for a batch of models.
#[derive(Clone, Debug)]
pub struct Gradient {
    /// ½ Σ (d − d_obs)² per model.
    pub misfit: Vec<f64>,
    /// ∂J/∂v [n][nz][nx] (misfit units per m/s).
    pub grad: Vec<f32>,
    /// The simulated traces [n][shots][samples][receivers].
    pub traces: Vec<f32>,
    /// Steps between checkpoints.
    pub every: usize,
    /// Forward steps the backward recomputed from checkpoints (0 when every q was kept).
    pub recomputed: usize,
    /// Bytes held for checkpoints and recomputed q of one batch.
    pub bytes: usize,
    /// Wall seconds of the forward (with checkpointing) and of the backward (recomputation
    /// and adjoint); on the CPU the split of the planes' summed thread time.
    pub seconds: [f64; 2],
}

impl Plan {
    /// Every step's (wavelet, trace slot).
    pub fn schedule(&self) -> Vec<(f32, u32)> {
        (0..self.steps).map(|n| (self.wavelet[n], self.params(1, n).slot)).collect()
    }

    /// The model cell each padded cell takes its velocity from.
    pub fn pad_index(&self) -> Vec<usize> {
        let [wt, _, wl, _] = self.widths;
        let mut out = Vec::with_capacity(self.plane());
        for z in 0..self.pnz {
            let mz = z.saturating_sub(wt).min(self.nz - 1);
            for x in 0..self.pnx {
                out.push(mz * self.nx + x.saturating_sub(wl).min(self.nx - 1));
            }
        }
        out
    }

    /// Bytes `planes` planes (models × shots) hold for the gradient, at most: per plane
    /// `ceil(steps / every)` states of 6 planes (the CPU twin keeps ψ and ζ on the whole
    /// plane), `every` planes of q, and 12 working planes (the GPU's T̄ and a·μ̂ are 4).
    pub fn gradient_bytes(&self, planes: usize, every: usize, word: usize) -> Option<u64> {
        limits::bytes(&[planes, self.plane(), 6 * self.steps.div_ceil(every) + every + 12], word)
    }
}

/// What one engine returns for a batch: misfit per model, ∂J/∂v [n][nz][nx], the traces,
/// and the seconds of the forward and of the backward.
pub struct Parts<T> {
    pub misfit: Vec<f64>,
    pub grad: Vec<T>,
    pub traces: Vec<T>,
    pub seconds: [f64; 2],
}

/// Checks models and observed traces against the plan, and the profile velocity.
fn check_inputs(plan: &Plan, models: usize, observed: usize, n: usize, pml_vmax: f64) -> Result<()> {
    check_len("gradient", "models", models, &[n, plan.nz, plan.nx])?;
    check_len("gradient", "observed", observed, &[n, plan.trace_len()])?;
    if !(pml_vmax.is_finite() && pml_vmax > 0.0) {
        return Err(Error::config("gradient", format!("the C-PML velocity {pml_vmax} m/s is not positive")));
    }
    Ok(())
}

/// The plain-loop gradient (the twin, in T) of `misfit` for `n` models [n][nz][nx] (m/s)
/// against `observed` [n][shots][samples][receivers]; its seconds are the planes' summed
/// thread time.
pub fn gradient_cpu<T: Real>(
    plan: &Plan,
    models: &[T],
    observed: &[T],
    n: usize,
    pml_vmax: f64,
    every: usize,
    misfit: &Misfit,
) -> Result<Parts<T>> {
    check_inputs(plan, models.len(), observed.len(), n, pml_vmax)?;
    let every = every.max(1);
    let threads = rayon::current_num_threads().min(n * plan.shots).max(1);
    limits::check(
        &format!("the gradient's checkpoints ({} planes at a time)", threads),
        plan.gradient_bytes(threads, every, std::mem::size_of::<T>()),
    )?;
    let (cells, index, sched) = (plan.nz * plan.nx, plan.pad_index(), plan.schedule());
    let (prm, prof, dt) = (plan.params(1, 0), plan.profiles(pml_vmax), lit::<T>(plan.dt));
    let per_shot = plan.samples * plan.receivers;
    let planes: Vec<Parts<T>> = (0..n * plan.shots)
        .into_par_iter()
        .map(|bs| {
            // Subnormals in the decaying wavefield cost ~100 cycles each on x86.
            let _flush = crate::fast::simd::FlushSubnormals::new();
            let clock = std::time::Instant::now();
            let (b, s) = (bs / plan.shots, bs % plan.shots);
            let v = &models[b * cells..][..cells];
            let w = index.iter().map(|&m| (v[m] * dt) * (v[m] * dt)).collect();
            let grid = Grid::new(&prm, w, &prof, &plan.pos, s);
            let (traces, saved) = twin::forward(&grid, &sched, plan.samples, every);
            let (j, r) = misfit.residual(&traces, &observed[bs * per_shot..][..per_shot], plan.receivers);
            let forward_s = clock.elapsed().as_secs_f64();
            let gw = twin::backward(&grid, &sched, every, &saved, &r);
            let mut gv = vec![T::zero(); cells];
            for (c, &m) in index.iter().enumerate() {
                gv[m] = gv[m] + gw[c] * lit::<T>(2.0) * v[m] * dt * dt;
            }
            let seconds = [forward_s, clock.elapsed().as_secs_f64() - forward_s];
            Parts { misfit: vec![j], grad: gv, traces, seconds }
        })
        .collect();
    let mut misfit = vec![0.0; n];
    let mut grad = vec![T::zero(); n * cells];
    let mut traces = Vec::with_capacity(n * plan.trace_len());
    let mut thread_s = [0.0; 2];
    for (bs, p) in planes.into_iter().enumerate() {
        let b = bs / plan.shots;
        thread_s = [thread_s[0] + p.seconds[0], thread_s[1] + p.seconds[1]];
        misfit[b] += p.misfit[0];
        for (g, v) in grad[b * cells..][..cells].iter_mut().zip(p.grad) {
            *g = *g + v;
        }
        traces.extend(p.traces);
    }
    Ok(Parts { misfit, grad, traces, seconds: thread_s })
}

/// Buffers of one checkpoint: p^n, p^{n−1}, ψ^{n−1}, ζ^{n−1}.
type Saved = [GpuTensor; 4];

/// The same on the GPU for one batch that fits (see [`gradient`]).
#[allow(clippy::too_many_arguments)]
fn gradient_gpu(
    ctx: &Context,
    plan: &Plan,
    models: &[f32],
    observed: &[f32],
    n: usize,
    pml_vmax: f64,
    every: usize,
    misfit: &Misfit,
) -> Result<Parts<f32>> {
    let op = "gradient";
    let (plane, planes) = (plan.plane(), n * plan.shots);
    let (vel, prof) = inputs(plan, models, pml_vmax);
    let (vel, prof, pos) = (ctx.upload("vel", &vel)?, ctx.upload("prof", &prof)?, ctx.upload("pos", &plan.pos)?);
    let field = planes * plane;
    let aux = planes * plan.frame.max(1) * 2;
    let zeros = |name: &str, len: usize| ctx.zeros(op, name, len);
    let p = [zeros("p_even", field)?, zeros("p_odd", field)?];
    let (psi, zeta) = (zeros("psi", aux)?, zeros("zeta", aux)?);
    let traces = zeros("traces", n * plan.trace_len())?;
    let clock = std::time::Instant::now();
    // With one segment the forward keeps every q itself and nothing is recomputed.
    let keep_all = every >= plan.steps;
    let saves = if keep_all { 0 } else { plan.steps.div_ceil(every) };
    let qs: Vec<GpuTensor> = (0..every.min(plan.steps)).map(|_| zeros("q", field)).collect::<Result<_>>()?;
    let saved: Vec<Saved> = (0..saves)
        .map(|_| {
            Ok([
                zeros("saved_p", field)?,
                zeros("saved_prev", field)?,
                zeros("saved_psi", aux)?,
                zeros("saved_zeta", aux)?,
            ])
        })
        .collect::<Result<_>>()?;
    // The forward, checkpointing or keeping q.
    if keep_all {
        let mut r = ctx.recorder();
        for step in 0..plan.steps {
            let (c, o) = (step % 2, 1 - step % 2);
            let prm = plan.params(n, step);
            wave::psi(&mut r, &prm, &p[c], &psi, &prof)?;
            wave::record(&mut r, &prm, &p[c], &pos, &traces)?;
            wave::step_q(&mut r, &prm, &vel, &p[c], &p[o], &psi, &zeta, &prof, &pos, &qs[step])?;
        }
        r.submit()?;
    }
    for (j, s) in saved.iter().enumerate() {
        let mut r = ctx.recorder();
        for step in j * every..((j + 1) * every).min(plan.steps) {
            let (c, o) = (step % 2, 1 - step % 2);
            if step == j * every {
                for (from, to) in [&p[c], &p[o], &psi, &zeta].into_iter().zip(s) {
                    r.copy(from, to)?;
                }
            }
            let prm = plan.params(n, step);
            wave::psi(&mut r, &prm, &p[c], &psi, &prof)?;
            wave::step(&mut r, &prm, &vel, &p[c], &p[o], &psi, &zeta, &prof, &pos, &traces)?;
        }
        r.submit()?;
    }
    let simulated: Vec<f32> = ctx.read(&traces)?;
    let forward_s = clock.elapsed().as_secs_f64();
    let per_shot = plan.samples * plan.receivers;
    let mut j = vec![0.0; n];
    let mut res = Vec::with_capacity(simulated.len());
    for (bs, (d, o)) in simulated.chunks(per_shot).zip(observed.chunks(per_shot)).enumerate() {
        let (jb, r) = misfit.residual(d, o, plan.receivers);
        j[bs / plan.shots] += jb;
        res.extend(r);
    }
    let residual = ctx.upload("residual", &res)?;
    // Backwards, segment by segment.
    let lam = [zeros("lambda_a", field)?, zeros("lambda_b", field)?];
    let (mu, eta, grad) = (zeros("mu", aux)?, zeros("eta", aux)?, zeros("grad", field)?);
    let (tb, au) = (zeros("tbar", 2 * field)?, zeros("a_mu", 2 * field)?);
    let mut t = 0;
    for j in (0..plan.steps.div_ceil(every)).rev() {
        let (s0, s1) = (j * every, ((j + 1) * every).min(plan.steps));
        let mut r = ctx.recorder();
        if let Some(s) = saved.get(j) {
            let (c0, o0) = (s0 % 2, 1 - s0 % 2);
            for (from, to) in s.iter().zip([&p[c0], &p[o0], &psi, &zeta]) {
                r.copy(from, to)?;
            }
            for step in s0..s1 {
                let (c, o) = (step % 2, 1 - step % 2);
                let prm = plan.params(n, step);
                wave::psi(&mut r, &prm, &p[c], &psi, &prof)?;
                wave::step_q(&mut r, &prm, &vel, &p[c], &p[o], &psi, &zeta, &prof, &pos, &qs[step - s0])?;
            }
        }
        for step in (s0..s1).rev() {
            let prm = plan.params(n, step);
            let b = wave_adjoint::Buffers {
                vel: &vel,
                prof: &prof,
                pos: &pos,
                lam: &lam[t % 2],
                out: &lam[1 - t % 2],
                eta: &eta,
                mu: &mu,
                tb: &tb,
                au: &au,
                q: &qs[step - s0],
                grad: &grad,
                residual: &residual,
            };
            wave_adjoint::step(&mut r, &prm, &b)?;
            t += 1;
        }
        r.submit()?;
    }
    let gw: Vec<f32> = ctx.read(&grad)?;
    let seconds = [forward_s, clock.elapsed().as_secs_f64() - forward_s];
    Ok(Parts { misfit: j, grad: velocity_gradient(plan, models, &gw), traces: simulated, seconds })
}

/// The engines' inputs for `models` [n][nz][nx] (m/s): (v·dt)² on the padded grid, and the
/// C-PML profiles of `pml_vmax`, per model.
fn inputs(plan: &Plan, models: &[f32], pml_vmax: f64) -> (Vec<f32>, Vec<f32>) {
    let (cells, index) = (plan.nz * plan.nx, plan.pad_index());
    let n = models.len() / cells.max(1);
    let mut vel = Vec::with_capacity(n * plan.plane());
    let mut prof = Vec::with_capacity(n * plan.prof_stride());
    for m in models.chunks(cells) {
        vel.extend(index.iter().map(|&i| ((m[i] as f64 * plan.dt).powi(2)) as f32));
        prof.extend(plan.profiles(pml_vmax));
    }
    (vel, prof)
}

/// ∂J/∂v [n][nz][nx] from ∂J/∂(v·dt)² of every padded plane [n·shots][plane]: the shots
/// summed, each padded cell given to the model cell it copies, times 2·v·dt².
fn velocity_gradient(plan: &Plan, models: &[f32], gw: &[f32]) -> Vec<f32> {
    let (cells, index) = (plan.nz * plan.nx, plan.pad_index());
    let mut gv = vec![0.0f32; models.len()];
    for (bs, g) in gw.chunks(plan.plane()).enumerate() {
        let b = bs / plan.shots;
        let (m, out) = (&models[b * cells..][..cells], &mut gv[b * cells..][..cells]);
        for (c, &i) in index.iter().enumerate() {
            out[i] += (g[c] as f64 * 2.0 * m[i] as f64 * plan.dt * plan.dt) as f32;
        }
    }
    gv
}

/// Bytes the CPU engine may hold between forwards and backwards.
const HELD_BYTES: u64 = 1 << 30;

/// The CPU engine (`fast::wave_adjoint`): it keeps every q (and so recomputes nothing) when
/// a plane per thread fits `HELD_BYTES` (and a quarter of what the machine can give), else
/// checkpoints every √steps; then as many planes wait between forward and backward as fit,
/// up to three per thread.
fn gradient_fast(
    plan: &Plan,
    models: &[f32],
    observed: &[f32],
    n: usize,
    pml_vmax: f64,
    every: Option<usize>,
    misfit: &Misfit,
) -> Result<Gradient> {
    let planes = n * plan.shots;
    let threads = crate::fast::threads::count().min(planes).max(1) as u64;
    // The haloed plane is at most 8 rows and columns larger.
    let cells = (plan.pnz + 8) * (plan.pnx + 8);
    let budget = HELD_BYTES.min(limits::budget() / 4);
    let pending = |every| wave_adjoint_fast::plane_bytes(plan.steps, every, cells).unwrap_or(u64::MAX);
    let keep_all = pending(plan.steps).saturating_mul(threads) <= budget;
    let every =
        every.map_or(if keep_all { plan.steps } else { twin::checkpoint_every(plan.steps) }, |k| k.min(plan.steps));
    // Three planes a thread waiting are enough to keep the threads busy to the end.
    let held = (budget / pending(every).max(1)).clamp(threads, (planes as u64).max(threads)).min(3 * threads);
    let bytes = pending(every)
        .checked_mul(held)
        .and_then(|b| b.checked_add(wave_adjoint_fast::worker_bytes(cells)?.checked_mul(threads)?));
    limits::check(&format!("the gradient's checkpoints ({held} planes at a time)"), bytes)?;
    let (vel, prof) = inputs(plan, models, pml_vmax);
    let steps: Vec<Step> = plan.schedule().into_iter().map(|(wavelet, slot)| Step { wavelet, slot }).collect();
    let clock = std::time::Instant::now();
    let (p, pos) = (plan.params(n, 0), &plan.pos);
    let residual = |d: &[f32], o: &[f32]| misfit.residual(d, o, plan.receivers);
    let r = wave_adjoint_fast::gradient(&p, &steps, &vel, &prof, pos, observed, &residual, every, held as usize)?;
    let wall = clock.elapsed().as_secs_f64();
    let share = r.seconds[0] / (r.seconds[0] + r.seconds[1]).max(1e-12);
    let mut misfit = vec![0.0; n];
    for (bs, j) in r.misfit.iter().enumerate() {
        misfit[bs / plan.shots] += j;
    }
    Ok(Gradient {
        misfit,
        grad: velocity_gradient(plan, models, &r.grad),
        traces: r.traces,
        every,
        recomputed: (plan.steps - 1) / every * every,
        bytes: bytes.unwrap_or(u64::MAX) as usize,
        seconds: [wall * share, wall * (1.0 - share)],
    })
}

/// Bytes of GPU memory one gradient batch may hold.
const GPU_BYTES: usize = 1 << 30;

/// ½‖d(v) − d_obs‖² per model (the full band) and its gradient ∂J/∂v for `n` models
/// [n][nz][nx] (m/s) against `observed` [n][shots][samples][receivers], on `device`, with
/// the C-PML profiles of a model whose largest velocity is `pml_vmax`; every q is kept where
/// it fits, else the forward is checkpointed every ⌈√steps⌉ steps.
pub fn gradient(
    device: &Device,
    plan: &Plan,
    models: &[f32],
    observed: &[f32],
    n: usize,
    pml_vmax: f64,
) -> Result<Gradient> {
    gradient_every(device, plan, models, observed, n, pml_vmax, None, &Misfit::FULL)
}

/// [`gradient`] of `misfit`, with the checkpoint interval given (`every` ≥ the steps: keep
/// every q), or chosen as there (`None`).
#[allow(clippy::too_many_arguments)]
pub fn gradient_every(
    device: &Device,
    plan: &Plan,
    models: &[f32],
    observed: &[f32],
    n: usize,
    pml_vmax: f64,
    every: Option<usize>,
    misfit: &Misfit,
) -> Result<Gradient> {
    check_inputs(plan, models.len(), observed.len(), n, pml_vmax)?;
    if every == Some(0) {
        return Err(Error::config("gradient", "a checkpoint interval of 0 steps"));
    }
    let (forced, every) = (every, every.unwrap_or(twin::checkpoint_every(plan.steps)).min(plan.steps));
    let ctx = match device {
        Device::Gpu(ctx) => ctx,
        Device::Cpu => return gradient_fast(plan, models, observed, n, pml_vmax, forced, misfit),
        Device::Reference => {
            let clock = std::time::Instant::now();
            let Parts { misfit, grad, traces, seconds: t } =
                gradient_cpu::<f32>(plan, models, observed, n, pml_vmax, every, misfit)?;
            let wall = clock.elapsed().as_secs_f64();
            let share = t[0] / (t[0] + t[1]).max(1e-12);
            let threads = rayon::current_num_threads().min(n * plan.shots).max(1);
            let bytes = plan.gradient_bytes(threads, every, 4).unwrap_or(u64::MAX) as usize;
            let seconds = [wall * share, wall * (1.0 - share)];
            return Ok(Gradient { misfit, grad, traces, every, recomputed: plan.steps, bytes, seconds });
        }
    };
    let per_model =
        |every| plan.gradient_bytes(plan.shots, every, 4).unwrap_or(u64::MAX) as usize + 8 * plan.trace_len();
    // Keeping every q (one segment) saves the recomputation, when the whole request fits
    // one batch of the budget that way; else checkpoints every √steps.
    let keep_all = match forced {
        Some(k) => k >= plan.steps,
        None => {
            per_model(plan.steps).saturating_mul(n) <= GPU_BYTES
                && plan.gpu_batch_of(ctx, per_model(plan.steps), GPU_BYTES) >= n
        }
    };
    let every = if keep_all { plan.steps } else { every };
    let batch = plan.gpu_batch_of(ctx, per_model(every), GPU_BYTES).min(n.max(1));
    limits::check(
        &format!("the gradient of {batch} models at a time"),
        plan.gradient_bytes(batch * plan.shots, every, 4),
    )?;
    let (cells, per) = (plan.nz * plan.nx, plan.trace_len());
    let mut g = Gradient {
        misfit: vec![],
        grad: vec![],
        traces: vec![],
        every,
        recomputed: if keep_all { 0 } else { plan.steps },
        bytes: 0,
        seconds: [0.0; 2],
    };
    for start in (0..n).step_by(batch) {
        let k = batch.min(n - start);
        let (m, o) = (&models[start * cells..][..k * cells], &observed[start * per..][..k * per]);
        let p = gradient_gpu(ctx, plan, m, o, k, pml_vmax, every, misfit)?;
        g.seconds = [g.seconds[0] + p.seconds[0], g.seconds[1] + p.seconds[1]];
        g.misfit.extend(p.misfit);
        g.grad.extend(p.grad);
        g.traces.extend(p.traces);
    }
    let saves = if keep_all { 0 } else { plan.steps.div_ceil(every) };
    g.bytes = batch * plan.shots * 4 * plan.plane() * (2 * saves + every + 4)
        + batch * plan.shots * 4 * 4 * plan.frame * saves;
    Ok(g)
}
