//! The network's two programs, planned once per config and input shape: the training step
//! (forward in training mode, the loss, every gradient) and eval-mode inference; and the
//! network's parameters and buffers, initialised like PyTorch.

use std::collections::HashMap;
use std::rc::Rc;

use super::{Config, Tap, init};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::graph::exec::{self, Plan, Store};
use crate::graph::{Graph, V, autodiff};
use crate::ops::Loss;

/// Parameters and buffers on a backend, initialised like PyTorch from a seed.
pub fn init_store<B: Backend>(b: &B, cfg: &Config, seed: u64) -> Result<Store<B::Tensor>> {
    let (params, buffers) = shapes(cfg)?;
    let mut store = Store::default();
    for (name, v) in init::parameters(&params, seed) {
        store.params.insert(name.clone(), b.upload(&name, &v)?);
    }
    for (name, v) in init::buffers(&buffers) {
        store.buffers.insert(name.clone(), b.upload(&name, &v)?);
    }
    Ok(store)
}

/// Names and shapes of the parameters and of the buffers, as in PyTorch's state_dict.
pub fn shapes(cfg: &Config) -> Result<(Vec<(String, Vec<usize>)>, Vec<(String, Vec<usize>)>)> {
    cfg.validate()?;
    let f = 1 << (cfg.widths.len() - 1);
    let mut g = Graph::new();
    let x = g.input("input", &[2, cfg.in_channels, f, f]);
    cfg.forward(&mut g, x, true)?;
    Ok((g.params(), g.buffers()))
}

/// A planned training step: forward in training mode, the loss, and its gradients.
pub struct TrainStep {
    pub graph: Graph,
    pub plan: Plan,
    pub output: V,
    pub loss: V,
    pub input_grad: Option<V>,
    pub param_grads: Vec<(String, V)>,
}

impl TrainStep {
    /// `x` is the input shape [n, c, h, w]; `with_input_grad` also keeps d loss / d input.
    pub fn new(cfg: &Config, x: [usize; 4], loss: Loss, with_input_grad: bool) -> Result<Self> {
        Self::with_losses(cfg, x, &[loss], with_input_grad)
    }

    /// A step that minimises the sum of several losses (L1 + MSE, say).
    pub fn with_losses(cfg: &Config, x: [usize; 4], losses: &[Loss], with_input_grad: bool) -> Result<Self> {
        cfg.check_train_input(x)?;
        let mut g = Graph::new();
        let input = g.input("input", &x);
        let output = cfg.forward(&mut g, input, true)?;
        let target = g.input("target", &g.shape(output).to_vec());
        let mut loss = None;
        for l in losses {
            let term = g.loss(*l, output, target)?;
            loss = Some(match loss {
                Some(sum) => g.add(sum, term)?,
                None => term,
            });
        }
        let loss = loss.ok_or_else(|| Error::config("train", "no loss given"))?;
        let extra: &[V] = if with_input_grad { &[input] } else { &[] };
        let (param_grads, input_grad) = autodiff::param_grads(&mut g, loss, extra)?;
        let input_grad = input_grad.first().copied().flatten();
        let mut keep: Vec<V> = vec![output, loss];
        keep.extend(param_grads.iter().map(|(_, v)| *v));
        keep.extend(input_grad);
        let plan = exec::plan(&g, &keep);
        Ok(TrainStep { graph: g, plan, output, loss, input_grad, param_grads })
    }

    /// Runs forward and backward; updates the BatchNorm running statistics in `store`.
    pub fn run<B: Backend>(
        &self,
        b: &B,
        store: &mut Store<B::Tensor>,
        input: &B::Tensor,
        target: &B::Tensor,
    ) -> Result<HashMap<V, Rc<B::Tensor>>> {
        exec::run(b, &self.graph, &self.plan, store, &[("input", input), ("target", target)])
    }
}

/// A planned eval-mode forward pass, keeping the attention maps too when asked.
pub struct Inference {
    pub graph: Graph,
    pub plan: Plan,
    pub output: V,
    /// Kept attention maps (σ of the logits each gate multiplies by), in network order.
    pub maps: Vec<KeptMap>,
}

/// An attention map an inference keeps: its tap and the value holding σ(logits).
#[derive(Clone, Debug)]
pub struct KeptMap {
    pub tap: Tap,
    pub value: V,
    /// [N, C or 1, H or 1, W or 1].
    pub shape: Vec<usize>,
}

impl Inference {
    pub fn new(cfg: &Config, x: [usize; 4]) -> Result<Self> {
        Self::build(cfg, x, false)
    }

    /// Inference that also keeps every attention map (extra outputs of the same plan).
    pub fn with_maps(cfg: &Config, x: [usize; 4]) -> Result<Self> {
        Self::build(cfg, x, true)
    }

    fn build(cfg: &Config, x: [usize; 4], keep_maps: bool) -> Result<Self> {
        let mut g = Graph::new();
        let input = g.input("input", &x);
        let (output, taps) = cfg.forward_tapped(&mut g, input, false)?;
        let mut maps = vec![];
        if keep_maps {
            for tap in taps {
                let value = g.act(crate::ops::Act::Sigmoid, tap.logits);
                maps.push(KeptMap { shape: g.shape(value).to_vec(), tap, value });
            }
        }
        let keep: Vec<V> = std::iter::once(output).chain(maps.iter().map(|m| m.value)).collect();
        let plan = exec::plan(&g, &keep);
        Ok(Inference { graph: g, plan, output, maps })
    }

    pub fn run<B: Backend>(&self, b: &B, store: &mut Store<B::Tensor>, input: &B::Tensor) -> Result<Rc<B::Tensor>> {
        let mut out = exec::run(b, &self.graph, &self.plan, store, &[("input", input)])?;
        out.remove(&self.output).ok_or_else(|| Error::config("inference", "the output was not computed"))
    }
}

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

impl LossKind {
    pub fn losses(self) -> Vec<Loss> {
        let mut v = vec![];
        if self.l1 {
            v.push(Loss::L1);
        }
        if self.mse {
            v.push(Loss::Mse);
        }
        v
    }
}
