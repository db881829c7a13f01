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
    let models: Vec<f32> =
        (0..batch as u64).flat_map(|k| model::sample(model::Geology::default(), 1, k, nz, nx)).collect();
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

/// One measured gradient (`brine bench gradient`).
#[derive(Clone, Debug)]
pub struct GradientRow {
    pub name: String,
    pub shape: String,
    pub steps: usize,
    /// Wall seconds of the plain forward (the engine `forward` uses) and of the gradient.
    pub forward_s: f64,
    pub gradient_s: f64,
    /// The gradient's own forward and backward, wall seconds.
    pub split: [f64; 2],
    pub every: usize,
    /// Steps the backward recomputed.
    pub recomputed: usize,
    pub bytes: usize,
}

impl GradientRow {
    /// Cell-updates of one propagation over every padded plane.
    fn cells(&self, plan_cells: f64) -> f64 {
        plan_cells * self.steps as f64
    }
    pub fn lines(&self, plan_cells: f64) -> Vec<String> {
        let c = self.cells(plan_cells);
        // The recomputation costs about what the gradient's own forward did per step.
        let recompute_s = self.split[0] * self.recomputed as f64 / self.steps.max(1) as f64;
        let adjoint_s = (self.split[1] - recompute_s).max(1e-9);
        vec![
            format!(
                "{:<22} {:<24} {:>5} steps  forward {:>8.3} s ({:.3e} cell-updates/s)",
                self.name,
                self.shape,
                self.steps,
                self.forward_s,
                c / self.forward_s
            ),
            format!(
                "{:<22} gradient {:.3} s = {:.2} forwards; its forward {:.3} s, recompute ({} steps) + adjoint {:.3} s (adjoint ≈ {:.3e} cell-updates/s); checkpoint every {} steps, {:.1} MiB",
                "",
                self.gradient_s,
                self.gradient_s / self.forward_s,
                self.split[0],
                self.recomputed,
                self.split[1],
                c / adjoint_s,
                self.every,
                self.bytes as f64 / (1u64 << 20) as f64
            ),
        ]
    }
}

/// Times the forward and the misfit gradient of `batch` models of `preset` on `device`,
/// alternated `rounds` times (medians; the caller warms up first); with `write`, keeps the case for
/// `benches/deepwave_gradient.py`: truth.npy, start.npy, observed.npy, gradient.npy,
/// acquisition.json.
pub fn gradient(
    device: &crate::device::Device,
    preset: &str,
    batch: usize,
    rounds: usize,
    write: Option<&std::path::Path>,
) -> Result<(GradientRow, f64)> {
    let (plan, truth) = setup(preset, batch)?;
    let (nz, nx) = (plan.nz, plan.nx);
    let mut start = truth.clone();
    super::fwi::smooth(&mut start, nz, nx, 4.0);
    let acq = &plan.acq;
    let (mut forwards, mut gradients, mut splits) = (vec![], vec![], vec![]);
    let mut observed = vec![];
    let mut g = None;
    for _ in 0..rounds.max(1) {
        let clock = std::time::Instant::now();
        observed = super::forward(device, acq, &truth, batch, nz, nx, |_| {})?.1;
        forwards.push(clock.elapsed().as_secs_f64());
        let clock = std::time::Instant::now();
        let r = super::gradient(device, &plan, &start, &observed, batch, 4500.0)?;
        gradients.push(clock.elapsed().as_secs_f64());
        splits.push(r.seconds);
        g = Some(r);
    }
    let g = g.expect("at least one round");
    let median = crate::bench::median;
    let (forward_s, gradient_s) = (median(forwards), median(gradients));
    let split = [median(splits.iter().map(|s| s[0]).collect()), median(splits.iter().map(|s| s[1]).collect())];
    if let Some(dir) = write {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::file(dir, e.to_string()))?;
        let npy = crate::data::npy::write_atomic;
        npy(&dir.join("truth.npy"), &[batch, 1, nz, nx], &truth)?;
        npy(&dir.join("start.npy"), &[batch, 1, nz, nx], &start)?;
        npy(&dir.join("observed.npy"), &[batch, plan.shots, plan.samples, plan.receivers], &observed)?;
        npy(&dir.join("gradient.npy"), &[batch, 1, nz, nx], &g.grad)?;
        crate::data::write_file_atomic(&dir.join("acquisition.json"), acq.to_json().as_bytes())?;
    }
    let row = GradientRow {
        name: format!("{preset} {}", if device.gpu().is_some() { "gpu" } else { "cpu" }),
        shape: format!("{batch}x{}x{}x{}", plan.shots, plan.pnz, plan.pnx),
        steps: plan.steps,
        forward_s,
        gradient_s,
        split,
        every: g.every,
        recomputed: g.recomputed,
        bytes: g.bytes,
    };
    Ok((row, (batch * plan.shots * plan.plane()) as f64))
}
