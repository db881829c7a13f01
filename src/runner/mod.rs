//! One runner per network and input shape on a `Device`: it owns the parameters, the
//! BatchNorm buffers, the optimiser state, the planned (on the GPU: captured) training step
//! — forward, loss, backward and Adam — and inference, and their input buffers. `train`,
//! `eval`, `infer`, `ablate`, `demo`, the golden runner and `brine bench step` all run the
//! network through it, so the benchmark times what training runs.
//!
//! A step does not read anything back. Each step's loss goes into a log (on the GPU, a
//! device buffer that a kernel appends to); `losses()` reads it when the caller wants
//! numbers — at a progress update, before validating or saving — and fails, naming the
//! step, if a loss was not finite. From that step on no update is applied, so what a
//! caller could save is the last good state.

mod captured;
mod gpu;
mod host;

use std::collections::HashMap;
use std::path::Path;

pub use captured::Captured;

use crate::backend::{Cpu, Reference};
use crate::checkpoint;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::graph::V;
use crate::graph::exec::Store;
use crate::nn::Config;
use crate::nn::programs::{Inference, KeptMap, LossKind, TrainStep, init_store, shapes};
use crate::ops::Adam;
use crate::optim::Optimizer;

/// What a training runner minimises and how it updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Training {
    pub loss: LossKind,
    pub hyper: Adam,
    /// Also keep d loss / d input (the golden runner checks it).
    pub input_grad: bool,
}

/// Where the runner's state comes from.
pub enum Init<'a> {
    /// Fresh parameters, initialised like PyTorch from a seed; zero moments.
    Seed(u64),
    /// A checkpoint (and, for training, the optimiser state beside it).
    Checkpoint(&'a Path),
    /// A checkpoint's parameters and buffers with a fresh optimiser: fine-tuning.
    Weights(&'a Path),
    /// State the caller already has.
    State(HostState),
}

/// Parameters, buffers and (for training) the optimiser, in host memory.
pub struct HostState {
    pub store: Store<Vec<f32>>,
    pub opt: Option<Optimizer<Vec<f32>>>,
}

impl HostState {
    fn new(cfg: &Config, init: Init, hyper: Option<Adam>) -> Result<HostState> {
        let (store, from) = match init {
            Init::State(s) => return Ok(s),
            Init::Seed(seed) => (init_store(&Reference, cfg, seed)?, None),
            Init::Checkpoint(path) => (checkpoint::load(&Reference, path, Some(cfg))?.1, Some(path)),
            Init::Weights(path) => (checkpoint::load(&Reference, path, Some(cfg))?.1, None),
        };
        let opt = match (hyper, from) {
            (None, _) => None,
            (Some(h), None) => Some(Optimizer::new(&Reference, h, &shapes(cfg)?.0)?),
            (Some(h), Some(path)) => Some(checkpoint::load_optimizer(&Reference, path, cfg, h)?),
        };
        Ok(HostState { store, opt })
    }
}

/// The error for training calls on an inference runner.
fn no_training() -> Error {
    Error::config("runner", "this runner was made for inference only")
}

/// The error for a step whose loss was NaN or infinite.
fn bad_loss(step: u64, loss: f32) -> Error {
    Error::config("train", format!("step {step}: the loss is {loss}; stopped before updating the parameters"))
}

/// How far the work of the runner's device has come: GPU counters (dispatches,
/// submissions, syncs), or none on the CPU.
pub type Counters = crate::gpu::Counters;

/// One per runner: the size of the GPU variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Exec<'d> {
    Gpu(gpu::GpuRunner<'d>),
    Cpu(host::HostRunner<Cpu>),
    Reference(host::HostRunner<Reference>),
}

macro_rules! on {
    ($self:expr, $r:ident => $e:expr) => {
        match &$self.exec {
            Exec::Gpu($r) => $e,
            Exec::Cpu($r) => $e,
            Exec::Reference($r) => $e,
        }
    };
    (mut $self:expr, $r:ident => $e:expr) => {
        match &mut $self.exec {
            Exec::Gpu($r) => $e,
            Exec::Cpu($r) => $e,
            Exec::Reference($r) => $e,
        }
    };
}

pub struct Runner<'d> {
    device: &'d Device,
    cfg: Config,
    x: [usize; 4],
    meta: HashMap<String, String>,
    exec: Exec<'d>,
}

impl<'d> Runner<'d> {
    /// A runner for `cfg` on batches of shape `x` ([n, c, h, w]): inference only, or also
    /// training when `training` is given.
    pub fn new(
        device: &'d Device,
        cfg: &Config,
        x: [usize; 4],
        training: Option<Training>,
        init: Init,
    ) -> Result<Self> {
        Self::build(device, cfg, x, training, init, false)
    }

    /// An inference runner whose inference also keeps every attention map (see
    /// `predict_with_maps`).
    pub fn inference_with_maps(device: &'d Device, cfg: &Config, x: [usize; 4], init: Init) -> Result<Self> {
        Self::build(device, cfg, x, None, init, true)
    }

    fn build(
        device: &'d Device,
        cfg: &Config,
        x: [usize; 4],
        training: Option<Training>,
        init: Init,
        keep_maps: bool,
    ) -> Result<Self> {
        cfg.validate()?;
        if x[1] != cfg.in_channels {
            return Err(Error::shape(
                "runner",
                "input",
                format!("{x:?} has {} channels; the network takes {}", x[1], cfg.in_channels),
            ));
        }
        let train = match training {
            Some(t) => Some(TrainStep::with_losses(cfg, x, t.loss, t.input_grad)?),
            None => None,
        };
        let infer = if keep_maps { Inference::with_maps(cfg, x)? } else { Inference::new(cfg, x)? };
        // Parameters (with gradients and two moments when training) and the larger plan's
        // live values, before anything is allocated.
        let params: u64 = shapes(cfg)?.0.iter().map(|(_, s)| s.iter().product::<usize>() as u64).sum();
        let copies = if training.is_some() { 4 } else { 1 };
        let peak = train.as_ref().map_or(0, |t| t.plan.peak_bytes).max(infer.plan.peak_bytes);
        let need = params.checked_mul(4 * copies).and_then(|b| b.checked_add(peak));
        crate::limits::check(&format!("the network {} on batches {x:?}", crate::nn::describe(cfg)), need)?;
        let state = HostState::new(cfg, init, training.map(|t| t.hyper))?;
        let exec = match device {
            Device::Gpu(ctx) => Exec::Gpu(gpu::GpuRunner::new(ctx, state, train, infer, x)?),
            Device::Cpu => Exec::Cpu(host::HostRunner::new(Cpu, state, train, infer)),
            Device::Reference => Exec::Reference(host::HostRunner::new(Reference, state, train, infer)),
        };
        Ok(Runner { device, cfg: cfg.clone(), x, meta: HashMap::new(), exec })
    }

    /// A training runner for `cfg`: fresh from `seed`, or resumed from a checkpoint.
    pub fn training(
        device: &'d Device,
        cfg: &Config,
        x: [usize; 4],
        loss: LossKind,
        hyper: Adam,
        init: Init,
    ) -> Result<Self> {
        Self::new(device, cfg, x, Some(Training { loss, hyper, input_grad: false }), init)
    }

    /// An inference runner for a checkpoint.
    pub fn inference(device: &'d Device, checkpoint: &Path, cfg: &Config, x: [usize; 4]) -> Result<Self> {
        Self::new(device, cfg, x, None, Init::Checkpoint(checkpoint))
    }

    pub fn device(&self) -> &'d Device {
        self.device
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The batch shape [n, c, h, w] the programs were planned for.
    pub fn input_shape(&self) -> [usize; 4] {
        self.x
    }

    /// One optimisation step on a batch (input and target of the planned shapes). Nothing
    /// is read back; see `losses`.
    pub fn step(&mut self, x: &[f32], t: &[f32]) -> Result<()> {
        on!(mut self, r => r.step(x, t))
    }

    /// The losses of the steps since the last call, in order; an error naming the first
    /// step whose loss was not finite (from then on, no step updates anything).
    pub fn losses(&mut self) -> Result<Vec<f32>> {
        on!(mut self, r => r.losses())
    }

    /// Steps whose losses `losses` has not returned yet.
    pub fn pending(&self) -> usize {
        on!(self, r => r.pending())
    }

    /// The learning rate of the steps from now on.
    pub fn set_lr(&mut self, lr: f32) {
        on!(mut self, r => r.set_lr(lr))
    }

    /// Optimiser steps taken (resumed runs included).
    pub fn steps_taken(&self) -> u32 {
        on!(self, r => r.steps_taken())
    }

    /// Eval-mode outputs of one batch of the planned size.
    pub fn predict(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        Ok(self.predict_with_maps(x)?.0)
    }

    /// Eval-mode outputs of one batch and, for a runner made by `inference_with_maps`, every
    /// attention map of that same pass, in the order of `maps()`.
    pub fn predict_with_maps(&mut self, x: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        on!(mut self, r => r.predict(x))
    }

    /// The planned inference (its kept values: the output, and maps when asked for).
    pub fn inference_program(&self) -> &Inference {
        on!(self, r => r.inference())
    }

    /// The attention maps `predict_with_maps` returns (none unless asked for).
    pub fn maps(&self) -> &[KeptMap] {
        &self.inference_program().maps
    }

    /// Eval-mode outputs of any number of samples laid out one after another, in batches of
    /// the planned size (the last one padded by repeating its last sample).
    pub fn predict_all(&mut self, inputs: &[f32]) -> Result<Vec<f32>> {
        Ok(self.predict_all_with_maps(inputs)?.0)
    }

    /// `predict_all`, with each attention map of `maps()` stacked over the samples.
    pub fn predict_all_with_maps(&mut self, inputs: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let [b, c, h, w] = self.x;
        let (len, out_len) = (c * h * w, self.cfg.out_channels * h * w);
        if !inputs.len().is_multiple_of(len) {
            return Err(Error::shape(
                "predict",
                "input",
                format!("{} values is not a whole number of {c}×{h}×{w} samples", inputs.len()),
            ));
        }
        let n = inputs.len() / len;
        let per_map: Vec<usize> = self.maps().iter().map(|m| m.shape[1..].iter().product()).collect();
        let mut out = Vec::with_capacity(n * out_len);
        let mut maps: Vec<Vec<f32>> = per_map.iter().map(|p| Vec::with_capacity(n * p)).collect();
        let mut batch = vec![0.0; b * len];
        for start in (0..n).step_by(b) {
            for k in 0..b {
                let i = (start + k).min(n - 1);
                batch[k * len..][..len].copy_from_slice(&inputs[i * len..][..len]);
            }
            let (y, m) = self.predict_with_maps(&batch)?;
            let real = (n - start).min(b);
            out.extend_from_slice(&y[..real * out_len]);
            for ((all, got), p) in maps.iter_mut().zip(&m).zip(&per_map) {
                all.extend_from_slice(&got[..real * p]);
            }
        }
        Ok((out, maps))
    }

    /// The planned training step (its kept values name what `kept` can read).
    pub fn train_step(&self) -> Option<&TrainStep> {
        on!(self, r => r.train_step())
    }

    /// A value the last training step kept (output, loss, a gradient), read back.
    pub fn kept(&self, v: V) -> Result<Vec<f32>> {
        on!(self, r => r.kept(v))
    }

    /// Parameters, buffers and optimiser state, read back to the host.
    pub fn state(&self) -> Result<HostState> {
        on!(self, r => r.state())
    }

    /// Extra metadata written into every checkpoint (data layout, normalisation, …).
    pub fn set_metadata(&mut self, meta: HashMap<String, String>) {
        self.meta = meta;
    }

    /// Saves the model, and the optimiser beside it when training.
    pub fn save(&self, path: &Path) -> Result<()> {
        let s = self.state()?;
        checkpoint::save_with(&Reference, path, &self.cfg, &s.store, s.opt.as_ref(), &self.meta)
    }

    /// Waits until the device has done everything asked of it (for benchmarks).
    pub fn finish(&self) -> Result<()> {
        match &self.exec {
            Exec::Gpu(r) => r.finish(),
            _ => Ok(()),
        }
    }

    /// GPU counters (dispatches, submissions, syncs) so far; None on the CPU.
    pub fn counters(&self) -> Option<Counters> {
        self.device.gpu().map(|c| c.counters())
    }

    /// Dispatches of one captured training step (GPU only).
    pub fn dispatches_per_step(&self) -> Option<usize> {
        match &self.exec {
            Exec::Gpu(r) => r.dispatches_per_step(),
            _ => None,
        }
    }

    /// Planned peak bytes of the intermediate values of a training step and of inference.
    pub fn peak_bytes(&self) -> (u64, u64) {
        (self.train_step().map_or(0, |t| t.plan.peak_bytes), self.inference_program().plan.peak_bytes)
    }

    /// The device, and on the GPU the dispatches per training step.
    pub fn describe(&self) -> String {
        match self.dispatches_per_step() {
            Some(d) => format!("{} ({d} dispatches per step)", self.device.describe()),
            None => self.device.describe(),
        }
    }
}
