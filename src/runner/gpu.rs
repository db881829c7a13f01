//! The runner on a GPU. The training step is captured once — forward, loss, backward, the
//! loss log and Adam for every parameter, with all their bind groups — and replayed in one
//! submission per step. Between replays the host writes only the batch and Adam's per-step
//! uniform; nothing is read back until `losses()`. The host records at most `AHEAD` steps
//! ahead of the GPU, waiting for an older step (never for the newest) when it gets there,
//! so the GPU always has queued work while the host prepares the next batch.

use std::collections::{BTreeMap, VecDeque};

use super::{Captured, HostState, bad_loss, no_training};
use crate::backend::{Backend, Gpu};
use crate::error::{Error, Result};
use crate::gpu::{Context, GpuTensor};
use crate::graph::V;
use crate::graph::exec::Store;
use crate::kernels;
use crate::nn::programs::{Inference, TrainStep};
use crate::ops::{Adam, StepScalars};
use crate::optim::Optimizer;

/// Steps whose losses the device log holds between two reads (a read is forced when full).
const LOG_CAPACITY: usize = 1024;
/// Submitted steps the host may run ahead of the GPU.
const AHEAD: usize = 3;

struct Training {
    step: TrainStep,
    prog: Captured,
    hyper: Adam,
    /// Optimiser steps so far (resumed runs included).
    t: u32,
    m: BTreeMap<String, GpuTensor>,
    v: BTreeMap<String, GpuTensor>,
    /// Adam's per-step scalars, shared by every parameter's dispatch.
    uniform: GpuTensor,
    /// u32 [first bad position (1-based) or 0, losses recorded, their f32 bits…] since the
    /// last read (see `kernels::loss::record`).
    log: GpuTensor,
    /// Losses read from the device but not yet returned (a full log forces a read).
    drained: Vec<f32>,
    /// Steps submitted since the last read of the log.
    unread: usize,
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    failed: Option<(u64, f32)>,
}

pub struct GpuRunner<'d> {
    gpu: Gpu<'d>,
    store: Store<GpuTensor>,
    train: Option<Training>,
    infer: Inference,
    infer_prog: Captured,
}

fn upload_all(ctx: &Context, map: BTreeMap<String, Vec<f32>>, suffix: &str) -> Result<BTreeMap<String, GpuTensor>> {
    map.into_iter().map(|(n, v)| Ok((n.clone(), ctx.upload(&format!("{n}{suffix}"), &v)?))).collect()
}

fn download_all(ctx: &Context, map: &BTreeMap<String, GpuTensor>) -> Result<BTreeMap<String, Vec<f32>>> {
    map.iter().map(|(n, t)| Ok((n.clone(), ctx.read(t)?))).collect()
}

impl<'d> GpuRunner<'d> {
    pub fn new(
        ctx: &'d Context,
        state: HostState,
        train: Option<TrainStep>,
        infer: Inference,
        x: [usize; 4],
    ) -> Result<Self> {
        let gpu = Gpu::new(ctx);
        let mut store = Store {
            params: upload_all(ctx, state.store.params, "")?,
            buffers: upload_all(ctx, state.store.buffers, "")?,
        };
        let train = match (train, state.opt) {
            (Some(step), Some(opt)) => Some(Self::capture_training(&gpu, &mut store, step, opt, x)?),
            _ => None,
        };
        let infer_prog =
            Captured::capture(&gpu, &infer.graph, &infer.plan, &mut store, &[("input", &x)], |_, _, _| Ok(()))?;
        Ok(GpuRunner { gpu, store, train, infer, infer_prog })
    }

    fn capture_training(
        gpu: &Gpu,
        store: &mut Store<GpuTensor>,
        step: TrainStep,
        opt: Optimizer<Vec<f32>>,
        x: [usize; 4],
    ) -> Result<Training> {
        let ctx = gpu.context();
        let (m, v) = (upload_all(ctx, opt.m, ".exp_avg")?, upload_all(ctx, opt.v, ".exp_avg_sq")?);
        // The fixed scalars (betas, eps, L2) come from any step; the uniform gets the rest.
        let fixed = StepScalars::new(&opt.hyper, 1)?;
        let uniform = kernels::adam::step_uniform(ctx, &fixed)?;
        let log = ctx.zeros("runner", "loss log", 2 + LOG_CAPACITY)?;
        let y = step.graph.shape(step.output).to_vec();
        let prog = Captured::capture(
            gpu,
            &step.graph,
            &step.plan,
            store,
            &[("input", &x), ("target", &y)],
            |r, out, store| {
                let loss = out.get(&step.loss).ok_or_else(|| Error::config("runner", "the loss is not kept"))?;
                kernels::loss::record(r, loss, &log)?;
                for (name, g) in &step.param_grads {
                    let missing = || Error::config("runner", format!("no parameter or moments for `{name}`"));
                    let p = store.params.get(name).ok_or_else(missing)?;
                    let (m, v) = (m.get(name).ok_or_else(missing)?, v.get(name).ok_or_else(missing)?);
                    let grad = out.get(g).ok_or_else(missing)?;
                    kernels::adam::record(r, &fixed, p, grad, m, v, &uniform, &log)?;
                }
                Ok(())
            },
        )?;
        Ok(Training {
            step,
            prog,
            hyper: opt.hyper,
            t: opt.step,
            m,
            v,
            uniform,
            log,
            drained: vec![],
            unread: 0,
            in_flight: VecDeque::new(),
            failed: None,
        })
    }

    pub fn step(&mut self, x: &[f32], t: &[f32]) -> Result<()> {
        let ctx = self.gpu.context();
        if self.train.as_ref().ok_or_else(no_training)?.unread >= LOG_CAPACITY {
            let losses = self.read_log()?;
            self.train.as_mut().ok_or_else(no_training)?.drained.extend(losses);
        }
        let tr = self.train.as_mut().ok_or_else(no_training)?;
        while tr.in_flight.len() >= AHEAD {
            let oldest = tr.in_flight.pop_front().ok_or_else(no_training)?;
            ctx.wait_for(oldest)?;
        }
        tr.prog.set_input(&self.gpu, "input", x)?;
        tr.prog.set_input(&self.gpu, "target", t)?;
        let s = StepScalars::new(&tr.hyper, tr.t + 1)?;
        ctx.write(&tr.uniform, bytemuck::cast_slice::<_, u32>(&[kernels::adam::Step::new(&s)]))?;
        let mut r = ctx.recorder();
        r.replay(tr.prog.program())?;
        tr.in_flight.push_back(r.submit_indexed()?);
        tr.t += 1;
        tr.unread += 1;
        Ok(())
    }

    /// Reads and clears the device log (a host sync): the losses since the last read.
    fn read_log(&mut self) -> Result<Vec<f32>> {
        let ctx = self.gpu.context();
        let tr = self.train.as_mut().ok_or_else(no_training)?;
        if tr.failed.is_none() {
            let log: Vec<u32> = ctx.read(&tr.log)?;
            let history: Vec<f32> = log[2..].iter().map(|&b| f32::from_bits(b)).collect();
            tr.in_flight.clear();
            let (bad, n) = (log[0] as usize, log[1] as usize);
            if n != tr.unread {
                return Err(Error::Gpu(format!("the loss log counted {n} steps, {} were submitted", tr.unread)));
            }
            tr.unread = 0;
            if bad > 0 {
                // Keep the flag set on the device: Adam stays off from that step on.
                tr.failed =
                    Some((tr.t as u64 - n as u64 + bad as u64, history.get(bad - 1).copied().unwrap_or(f32::NAN)));
            } else {
                ctx.write_at(&tr.log, 0, &[0u32; 2])?;
                return Ok(history[..n.min(LOG_CAPACITY)].to_vec());
            }
        }
        let (step, loss) = tr.failed.unwrap_or((0, f32::NAN));
        Err(bad_loss(step, loss))
    }

    pub fn losses(&mut self) -> Result<Vec<f32>> {
        let mut losses = self.read_log()?;
        let tr = self.train.as_mut().ok_or_else(no_training)?;
        let mut all = std::mem::take(&mut tr.drained);
        all.append(&mut losses);
        Ok(all)
    }

    pub fn pending(&self) -> usize {
        self.train.as_ref().map_or(0, |t| t.pending())
    }

    pub fn set_lr(&mut self, lr: f32) {
        if let Some(t) = self.train.as_mut() {
            t.hyper.lr = lr;
        }
    }

    pub fn steps_taken(&self) -> u32 {
        self.train.as_ref().map_or(0, |t| t.t)
    }

    pub fn predict(&mut self, x: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        self.infer_prog.set_input(&self.gpu, "input", x)?;
        self.gpu.replay(self.infer_prog.program())?;
        let y = self.gpu.download(self.infer_prog.output(self.infer.output)?)?;
        let maps = self
            .infer
            .maps
            .iter()
            .map(|m| self.gpu.download(self.infer_prog.output(m.value)?))
            .collect::<Result<_>>()?;
        Ok((y, maps))
    }

    pub fn inference(&self) -> &Inference {
        &self.infer
    }

    pub fn train_step(&self) -> Option<&TrainStep> {
        self.train.as_ref().map(|t| &t.step)
    }

    pub fn kept(&self, v: V) -> Result<Vec<f32>> {
        let tr = self.train.as_ref().ok_or_else(no_training)?;
        self.gpu.download(tr.prog.output(v)?)
    }

    pub fn state(&self) -> Result<HostState> {
        let ctx = self.gpu.context();
        let store =
            Store { params: download_all(ctx, &self.store.params)?, buffers: download_all(ctx, &self.store.buffers)? };
        let opt = match &self.train {
            Some(t) => {
                Some(Optimizer { hyper: t.hyper, step: t.t, m: download_all(ctx, &t.m)?, v: download_all(ctx, &t.v)? })
            }
            None => None,
        };
        Ok(HostState { store, opt })
    }

    pub fn finish(&self) -> Result<()> {
        self.gpu.context().wait()
    }

    pub fn dispatches_per_step(&self) -> Option<usize> {
        self.train.as_ref().map(|t| t.prog.dispatches())
    }
}

impl Training {
    /// Steps whose losses have not been returned: read already, or still on the device.
    fn pending(&self) -> usize {
        self.drained.len() + self.unread
    }
}
