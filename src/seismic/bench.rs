//! `brine bench wave`: cell-updates per second of the wave kernel on a batch of the
//! `openfwi` and `fcnvmb` presets, timed with GPU timestamps where the adapter has them
//! (else the wall clock around submit-and-wait), and of the CPU twin for reference.

use crate::error::Result;
use crate::gpu::Context;

use super::acquisition::Acquisition;
use super::model;
use super::propagate::Plan;

/// One measured configuration.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    /// models × shots × padded rows × padded columns.
    pub shape: String,
    pub steps: usize,
    pub ms_per_step: f64,
    /// Cell updates per second (every padded cell of every plane, per step).
    pub rate: f64,
}

impl Row {
    pub fn line(&self) -> String {
        format!(
            "{:<22} {:<24} {:>5} steps {:>10.3} ms/step {:>12.3e} cell-updates/s",
            self.name, self.shape, self.steps, self.ms_per_step, self.rate
        )
    }
}

fn setup(preset: &str, batch: usize) -> Result<(Plan, Vec<f32>)> {
    let acq = Acquisition::preset(preset)?;
    let (nz, nx) = (acq.nz.unwrap_or(70), acq.nx.unwrap_or(70));
    let plan = Plan::new(&acq, nz, nx, 1500.0, 4500.0)?;
    // Models, wavefields (two planes and the C-PML memory per shot) and traces per model.
    let per_model = nz * nx + plan.shots * (2 * plan.plane() + 4 * plan.frame) + plan.trace_len();
    crate::limits::check(&format!("--batch {batch} of {preset}"), crate::limits::bytes(&[batch, per_model], 4))?;
    let models: Vec<f32> = (0..batch as u64).flat_map(|k| model::sample(1, k, nz, nx)).collect();
    Ok((plan, models))
}

/// Times `steps` GPU steps of `batch` models of `preset`; the median of `iters` runs.
pub fn gpu(ctx: &Context, preset: &str, batch: usize, steps: usize, iters: usize) -> Result<Row> {
    let (plan, models) = setup(preset, batch)?;
    let batch = batch.min(plan.gpu_batch(ctx, 1 << 31));
    let (nz, nx) = (plan.nz, plan.nx);
    let vel: Vec<f32> = models.chunks(nz * nx).take(batch).flat_map(|m| plan.pad(m)).collect();
    let prof: Vec<f32> = (0..batch).flat_map(|_| plan.profiles(4500.0)).collect();
    let planes = batch * plan.shots;
    let vel = ctx.upload("vel", &vel)?;
    let prof = ctx.upload("prof", &prof)?;
    let pos = ctx.upload("pos", &plan.pos)?;
    let p = [ctx.zeros("bench", "p_even", planes * plan.plane())?, ctx.zeros("bench", "p_odd", planes * plan.plane())?];
    let aux_len = planes * plan.frame.max(1) * 2;
    let aux = [ctx.zeros("bench", "psi", aux_len)?, ctx.zeros("bench", "zeta", aux_len)?];
    let traces = ctx.zeros("bench", "traces", batch * plan.trace_len())?;
    // Steps from the middle of the record (the wavefield is busy everywhere then).
    let first = (plan.steps / 2).min(plan.steps - steps.min(plan.steps));
    let steps = steps.min(plan.steps).min(2000);
    let ms = crate::bench::time(ctx, iters, |r| {
        for step in first..first + steps {
            let (c, o) = (step % 2, 1 - step % 2);
            let prm = plan.params(batch, step);
            crate::kernels::wave::psi(r, &prm, &p[c], &aux[0], &prof)?;
            crate::kernels::wave::step(r, &prm, &vel, &p[c], &p[o], &aux[0], &aux[1], &prof, &pos, &traces)?;
        }
        Ok(())
    })?;
    let cells = (planes * plan.plane()) as f64;
    Ok(Row {
        name: format!("{preset} gpu"),
        shape: format!("{batch}x{}x{}x{}", plan.shots, plan.pnz, plan.pnx),
        steps,
        ms_per_step: ms / steps as f64,
        rate: cells * steps as f64 / (ms / 1e3),
    })
}

/// Times `steps` steps of the CPU twin on `batch` models of `preset` (wall clock).
pub fn cpu(preset: &str, batch: usize, steps: usize) -> Result<Row> {
    let (mut plan, models) = setup(preset, batch)?;
    plan.steps = steps.min(plan.steps).max(1);
    let start = std::time::Instant::now();
    plan.run_cpu(&models, batch)?;
    let s = start.elapsed().as_secs_f64();
    let cells = (batch * plan.shots * plan.plane()) as f64;
    Ok(Row {
        name: format!("{preset} cpu twin"),
        shape: format!("{batch}x{}x{}x{}", plan.shots, plan.pnz, plan.pnx),
        steps: plan.steps,
        ms_per_step: s * 1e3 / plan.steps as f64,
        rate: cells * plan.steps as f64 / s,
    })
}
