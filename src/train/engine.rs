//! One training/inference engine per backend behind one interface: the GPU engine replays
//! captured programs (one submission per step), the CPU engine runs the same plans eagerly
//! through the CPU twins.

use std::collections::HashMap;
use std::path::Path;

use crate::backend::{Backend, Cpu, Gpu};
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::gpu::{Context, GpuTensor};
use crate::graph::exec::Store;
use crate::nn::Config;
use crate::nn::train::{Compiled, Inference, Optimizer, TrainStep, check_finite, init_store, shapes};
use crate::ops::{Adam, Loss};

/// Which losses a training step minimises (their sum when both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossKind {
    pub l1: bool,
    pub mse: bool,
}

impl std::str::FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "l1" => LossKind { l1: true, mse: false },
            "mse" => LossKind { l1: false, mse: true },
            "l1+mse" | "mse+l1" => LossKind { l1: true, mse: true },
            _ => return Err(Error::config("train", format!("loss `{s}` is not one of l1, mse, l1+mse"))),
        })
    }
}

/// A training step for `kind`: forward, the loss (or the sum of both), gradients.
pub fn train_step(cfg: &Config, x: [usize; 4], kind: LossKind) -> Result<TrainStep> {
    match (kind.l1, kind.mse) {
        (true, false) => TrainStep::new(cfg, x, Loss::L1, false),
        (false, true) => TrainStep::new(cfg, x, Loss::Mse, false),
        _ => TrainStep::with_losses(cfg, x, &[Loss::L1, Loss::Mse], false),
    }
}

/// Eval-mode outputs for a batch of the planned batch size.
pub trait Predict {
    fn predict(&mut self, x: &[f32]) -> Result<Vec<f32>>;
}

/// What the training loop needs from a backend.
pub trait Engine: Predict {
    /// One optimisation step on a batch; returns its loss (an error if it is not finite).
    fn step(&mut self, x: &[f32], t: &[f32], step: u64) -> Result<f32>;
    fn set_lr(&mut self, lr: f32);
    /// Extra metadata written into every checkpoint (data layout, normalisation, …).
    fn set_metadata(&mut self, meta: HashMap<String, String>);
    /// Saves the model and the optimiser beside it.
    fn save(&self, path: &Path) -> Result<()>;
    fn describe(&self) -> String;
}

/// Parameters, buffers and optimiser: fresh from a seed, or loaded from a checkpoint.
fn state<B: Backend>(
    b: &B,
    cfg: &Config,
    seed: u64,
    hyper: Adam,
    resume: Option<&Path>,
) -> Result<(Store<B::Tensor>, Optimizer<B::Tensor>)> {
    match resume {
        Some(path) => {
            let (_, store) = checkpoint::load(b, path, Some(cfg))?;
            Ok((store, checkpoint::load_optimizer(b, path, cfg, hyper)?))
        }
        None => Ok((init_store(b, cfg, seed)?, Optimizer::new(b, hyper, &shapes(cfg)?.0)?)),
    }
}

pub struct GpuEngine<'a> {
    gpu: Gpu<'a>,
    cfg: Config,
    store: Store<GpuTensor>,
    opt: Optimizer<GpuTensor>,
    train: TrainStep,
    train_prog: Compiled,
    infer: Inference,
    infer_prog: Compiled,
    meta: HashMap<String, String>,
}

impl<'a> GpuEngine<'a> {
    pub fn new(
        ctx: &'a Context,
        cfg: &Config,
        x: [usize; 4],
        kind: LossKind,
        hyper: Adam,
        seed: u64,
        resume: Option<&Path>,
    ) -> Result<Self> {
        let gpu = Gpu::new(ctx);
        let (mut store, opt) = state(&gpu, cfg, seed, hyper, resume)?;
        let train = train_step(cfg, x, kind)?;
        let infer = Inference::new(cfg, x)?;
        let y = [x[0], cfg.out_channels, x[2], x[3]];
        let train_prog =
            Compiled::capture(&gpu, &train.graph, &train.plan, &mut store, &[("input", &x), ("target", &y)])?;
        let infer_prog = Compiled::capture(&gpu, &infer.graph, &infer.plan, &mut store, &[("input", &x)])?;
        Ok(GpuEngine { gpu, cfg: cfg.clone(), store, opt, train, train_prog, infer, infer_prog, meta: HashMap::new() })
    }
}

impl Predict for GpuEngine<'_> {
    fn predict(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        self.infer_prog.set_input(&self.gpu, "input", x)?;
        self.infer_prog.replay(&self.gpu)?;
        self.gpu.download(self.infer_prog.output(self.infer.output)?)
    }
}

impl Engine for GpuEngine<'_> {
    fn step(&mut self, x: &[f32], t: &[f32], step: u64) -> Result<f32> {
        self.train_prog.set_input(&self.gpu, "input", x)?;
        self.train_prog.set_input(&self.gpu, "target", t)?;
        self.gpu.begin_batch();
        let result = self.train_prog.replay(&self.gpu);
        let loss = result.and_then(|_| {
            let loss = self.gpu.download(self.train_prog.output(self.train.loss)?)?[0];
            check_finite(loss, step)
        });
        // The update goes into the same submission only once the loss is known to be finite.
        let update = loss.and_then(|loss| {
            let grads: Vec<(&str, &GpuTensor)> = self
                .train
                .param_grads
                .iter()
                .map(|(n, v)| Ok((n.as_str(), self.train_prog.output(*v)?)))
                .collect::<Result<_>>()?;
            self.opt.apply(&self.gpu, &mut self.store.params, &grads)?;
            Ok(loss)
        });
        let flushed = self.gpu.flush();
        let loss = update?;
        flushed?;
        Ok(loss)
    }

    fn set_lr(&mut self, lr: f32) {
        self.opt.hyper.lr = lr;
    }

    fn set_metadata(&mut self, meta: HashMap<String, String>) {
        self.meta = meta;
    }

    fn save(&self, path: &Path) -> Result<()> {
        checkpoint::save_with(&self.gpu, path, &self.cfg, &self.store, Some(&self.opt), &self.meta)
    }

    fn describe(&self) -> String {
        format!("gpu {} ({} dispatches per step)", self.gpu.context().adapter_name(), self.train_prog.dispatches())
    }
}

pub struct CpuEngine {
    cfg: Config,
    store: Store<Vec<f32>>,
    opt: Optimizer<Vec<f32>>,
    train: TrainStep,
    infer: Inference,
    meta: HashMap<String, String>,
}

impl CpuEngine {
    pub fn new(
        cfg: &Config,
        x: [usize; 4],
        kind: LossKind,
        hyper: Adam,
        seed: u64,
        resume: Option<&Path>,
    ) -> Result<Self> {
        let (store, opt) = state(&Cpu, cfg, seed, hyper, resume)?;
        Ok(CpuEngine {
            cfg: cfg.clone(),
            store,
            opt,
            train: train_step(cfg, x, kind)?,
            infer: Inference::new(cfg, x)?,
            meta: HashMap::new(),
        })
    }
}

impl Predict for CpuEngine {
    fn predict(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        Ok((*self.infer.run(&Cpu, &mut self.store, &x.to_vec())?).clone())
    }
}

impl Engine for CpuEngine {
    fn step(&mut self, x: &[f32], t: &[f32], step: u64) -> Result<f32> {
        let (x, t) = (x.to_vec(), t.to_vec());
        let out = self.train.run(&Cpu, &mut self.store, &x, &t)?;
        let loss = check_finite(out[&self.train.loss][0], step)?;
        let grads: Vec<(&str, &Vec<f32>)> =
            self.train.param_grads.iter().map(|(n, v)| (n.as_str(), &*out[v])).collect();
        self.opt.apply(&Cpu, &mut self.store.params, &grads)?;
        Ok(loss)
    }

    fn set_lr(&mut self, lr: f32) {
        self.opt.hyper.lr = lr;
    }

    fn set_metadata(&mut self, meta: HashMap<String, String>) {
        self.meta = meta;
    }

    fn save(&self, path: &Path) -> Result<()> {
        checkpoint::save_with(&Cpu, path, &self.cfg, &self.store, Some(&self.opt), &self.meta)
    }

    fn describe(&self) -> String {
        let (isa, _) = crate::fast::simd::isa();
        format!("cpu ({} threads, {isa})", crate::fast::threads::count())
    }
}

/// A trained network for inference only: loaded from a checkpoint, planned for one batch
/// size, captured on the GPU or run eagerly on the CPU.
pub enum Predictor<'a> {
    Gpu { gpu: Gpu<'a>, store: Store<GpuTensor>, infer: Inference, prog: Compiled },
    Cpu { store: Store<Vec<f32>>, infer: Inference },
}

impl<'a> Predictor<'a> {
    pub fn load(ctx: Option<&'a Context>, checkpoint: &Path, cfg: &Config, x: [usize; 4]) -> Result<Self> {
        let infer = Inference::new(cfg, x)?;
        Ok(match ctx {
            Some(ctx) => {
                let gpu = Gpu::new(ctx);
                let (_, mut store) = checkpoint::load(&gpu, checkpoint, Some(cfg))?;
                let prog = Compiled::capture(&gpu, &infer.graph, &infer.plan, &mut store, &[("input", &x)])?;
                Predictor::Gpu { gpu, store, infer, prog }
            }
            None => Predictor::Cpu { store: checkpoint::load(&Cpu, checkpoint, Some(cfg))?.1, infer },
        })
    }
}

impl Predict for Predictor<'_> {
    fn predict(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        match self {
            Predictor::Gpu { gpu, infer, prog, .. } => {
                prog.set_input(gpu, "input", x)?;
                prog.replay(gpu)?;
                gpu.download(prog.output(infer.output)?)
            }
            Predictor::Cpu { store, infer } => Ok((*infer.run(&Cpu, store, &x.to_vec())?).clone()),
        }
    }
}
