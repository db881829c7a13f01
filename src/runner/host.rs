//! The runner on the CPU: the planned programs run op by op through a host backend (the
//! fast paths, or the reference twins), with the same loss log as the GPU's.

use std::collections::HashMap;
use std::rc::Rc;

use super::{HostState, bad_loss, no_training};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::graph::V;
use crate::graph::exec::{self, Store};
use crate::nn::programs::{Inference, TrainStep};
use crate::optim::Optimizer;

struct Training {
    step: TrainStep,
    opt: Optimizer<Vec<f32>>,
    /// Losses since the last `losses()`.
    log: Vec<f32>,
    /// The first step whose loss was not finite, and that loss.
    bad: Option<(u64, f32)>,
    /// What the last step kept (output, loss, gradients), for `kept`.
    last: HashMap<V, Rc<Vec<f32>>>,
}

pub struct HostRunner<B> {
    b: B,
    store: Store<Vec<f32>>,
    train: Option<Training>,
    infer: Inference,
}

impl<B: Backend<Tensor = Vec<f32>>> HostRunner<B> {
    pub fn new(b: B, state: HostState, train: Option<TrainStep>, infer: Inference) -> Self {
        let train = match (train, state.opt) {
            (Some(step), Some(opt)) => Some(Training { step, opt, log: vec![], bad: None, last: HashMap::new() }),
            _ => None,
        };
        HostRunner { b, store: state.store, train, infer }
    }

    pub fn step(&mut self, x: &[f32], t: &[f32]) -> Result<()> {
        let tr = self.train.as_mut().ok_or_else(no_training)?;
        // Last step's values go back to the pool before this step allocates.
        for (_, t) in tr.last.drain() {
            if let Ok(t) = Rc::try_unwrap(t) {
                self.b.recycle(t);
            }
        }
        let (xs, ts) = (self.b.upload("input", x)?, self.b.upload("target", t)?);
        let out = tr.step.run(&self.b, &mut self.store, &xs, &ts)?;
        self.b.recycle(xs);
        self.b.recycle(ts);
        let loss = out[&tr.step.loss][0];
        tr.log.push(loss);
        if tr.bad.is_none() && !loss.is_finite() {
            tr.bad = Some((tr.opt.step as u64 + 1, loss));
        }
        if tr.bad.is_some() {
            tr.opt.step += 1;
        } else {
            let grads: Vec<(&str, &Vec<f32>)> =
                tr.step.param_grads.iter().map(|(n, v)| (n.as_str(), &*out[v])).collect();
            tr.opt.apply(&self.b, &mut self.store.params, &grads)?;
        }
        tr.last = out;
        Ok(())
    }

    pub fn losses(&mut self) -> Result<Vec<f32>> {
        let tr = self.train.as_mut().ok_or_else(no_training)?;
        if let Some((step, loss)) = tr.bad {
            return Err(bad_loss(step, loss));
        }
        Ok(std::mem::take(&mut tr.log))
    }

    pub fn pending(&self) -> usize {
        self.train.as_ref().map_or(0, |t| t.log.len())
    }

    pub fn set_lr(&mut self, lr: f32) {
        if let Some(t) = self.train.as_mut() {
            t.opt.hyper.lr = lr;
        }
    }

    pub fn steps_taken(&self) -> u32 {
        self.train.as_ref().map_or(0, |t| t.opt.step)
    }

    pub fn predict(&mut self, x: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let xs = self.b.upload("input", x)?;
        let out = exec::run(&self.b, &self.infer.graph, &self.infer.plan, &mut self.store, &[("input", &xs)]);
        self.b.recycle(xs);
        let mut out = out?;
        // Kept values are handed over without a copy when nothing else holds them.
        let mut take = |v: V| -> Result<Vec<f32>> {
            let t = out.remove(&v).ok_or_else(|| Error::config("inference", "a kept value was not computed"))?;
            Rc::try_unwrap(t).or_else(|t| self.b.download(&t))
        };
        let y = take(self.infer.output)?;
        let maps = self.infer.maps.iter().map(|m| take(m.value)).collect::<Result<Vec<_>>>()?;
        for (_, t) in out {
            if let Ok(t) = Rc::try_unwrap(t) {
                self.b.recycle(t);
            }
        }
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
        let t =
            tr.last.get(&v).ok_or_else(|| Error::config("runner", format!("value {v:?} was not kept by a step")))?;
        self.b.download(t)
    }

    pub fn state(&self) -> Result<HostState> {
        let store = Store { params: self.store.params.clone(), buffers: self.store.buffers.clone() };
        let opt = self.train.as_ref().map(|t| Optimizer {
            hyper: t.opt.hyper,
            step: t.opt.step,
            m: t.opt.m.clone(),
            v: t.opt.v.clone(),
        });
        Ok(HostState { store, opt })
    }
}
