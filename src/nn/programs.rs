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
        let kind = match loss {
            Loss::L1 => LossKind::L1,
            Loss::Mse => LossKind::MSE,
        };
        Self::with_losses(cfg, x, kind, with_input_grad)
    }

    /// A step that minimises the sum of the losses `kind` names (L1 + MSE, say).
    pub fn with_losses(cfg: &Config, x: [usize; 4], kind: LossKind, with_input_grad: bool) -> Result<Self> {
        cfg.check_train_input(x)?;
        let mut g = Graph::new();
        let input = g.input("input", &x);
        let output = cfg.forward(&mut g, input, true)?;
        let target = g.input("target", &g.shape(output).to_vec());
        let mut terms = vec![];
        for (l, w) in kind.pointwise() {
            let term = g.loss(l, output, target)?;
            terms.push(weighted(&mut g, term, w)?);
        }
        if kind.edge > 0.0 {
            let term = edge_loss(&mut g, output, target)?;
            terms.push(weighted(&mut g, term, kind.edge)?);
        }
        if kind.ssim > 0.0 {
            let term = ssim_loss(&mut g, output, target)?;
            terms.push(weighted(&mut g, term, kind.ssim)?);
        }
        let mut loss = *terms.first().ok_or_else(|| Error::config("train", "no loss given"))?;
        for &term in &terms[1..] {
            loss = g.add(loss, term)?;
        }
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

/// Which losses a training step minimises: the sum of the terms with a weight above zero,
/// each times its weight (1 unless the loss names another).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossKind {
    pub l1: f32,
    pub mse: f32,
    /// The edge term: the mean absolute difference of the prediction's and the target's
    /// neighbour differences, down and across (the gradient-difference loss), which an
    /// output blurred across a sharp boundary pays for where plain L1 barely does.
    pub edge: f32,
    /// 1 − SSIM, as `eval` scores it (see `metrics`): it pays for noise on flat ground and
    /// for structure out of place, which the pointwise terms weigh by amplitude alone.
    pub ssim: f32,
}

impl std::str::FromStr for LossKind {
    type Err = Error;
    /// Terms joined by `+`, each of l1, mse, edge and ssim, in any order, each optionally
    /// weighted as `W*term` (`l1+4*ssim`); edge and ssim need l1 or mse beside them (edge
    /// does not see the level of the velocities, only their changes; SSIM weighs the level
    /// only relative to it).
    fn from_str(s: &str) -> Result<Self> {
        let mut kind = LossKind::NONE;
        for term in s.split('+') {
            let (weight, name) = match term.split_once('*') {
                Some((w, name)) => (w.trim().parse::<f32>().ok().filter(|w| w.is_finite() && *w > 0.0), name.trim()),
                None => (Some(1.0), term.trim()),
            };
            let weight = weight.ok_or_else(|| {
                Error::config("train", format!("loss `{s}`: the weight of `{}` is not a positive number", term.trim()))
            })?;
            let slot = match name {
                "l1" => &mut kind.l1,
                "mse" => &mut kind.mse,
                "edge" => &mut kind.edge,
                "ssim" => &mut kind.ssim,
                t => {
                    return Err(Error::config(
                        "train",
                        format!(
                            "loss `{s}`: `{t}` is not one of l1, mse, edge, ssim (join terms with +, \
                             weigh them with *, e.g. l1+ssim or l1+4*ssim)"
                        ),
                    ));
                }
            };
            if *slot > 0.0 {
                return Err(Error::config("train", format!("loss `{s}` names `{name}` twice")));
            }
            *slot = weight;
        }
        if kind.l1 == 0.0 && kind.mse == 0.0 {
            return Err(Error::config(
                "train",
                format!("loss `{s}`: edge and ssim need l1 or mse beside them (l1+ssim, say)"),
            ));
        }
        Ok(kind)
    }
}

impl LossKind {
    pub const NONE: LossKind = LossKind { l1: 0.0, mse: 0.0, edge: 0.0, ssim: 0.0 };
    pub const L1: LossKind = LossKind { l1: 1.0, ..LossKind::NONE };
    pub const MSE: LossKind = LossKind { mse: 1.0, ..LossKind::NONE };

    /// The terms that compare each output value with its target, with their weights.
    pub fn pointwise(self) -> Vec<(Loss, f32)> {
        [(Loss::L1, self.l1), (Loss::Mse, self.mse)].into_iter().filter(|&(_, w)| w > 0.0).collect()
    }

    /// The loss of predictions against targets [n][h][w], as a training step computes it
    /// (in f64, plain loops).
    pub fn of(self, pred: &[f32], target: &[f32], (h, w): (usize, usize)) -> f64 {
        let n = pred.len().max(1) as f64;
        let mut sum = 0.0;
        if self.l1 > 0.0 {
            let l1 = pred.iter().zip(target).map(|(p, t)| (p - t).abs() as f64).sum::<f64>() / n;
            sum += self.l1 as f64 * l1;
        }
        if self.mse > 0.0 {
            let mse = pred.iter().zip(target).map(|(p, t)| ((p - t) as f64).powi(2)).sum::<f64>() / n;
            sum += self.mse as f64 * mse;
        }
        if self.edge > 0.0 && h > 1 && w > 1 {
            let (mut acc, mut terms) = (0.0, 0usize);
            for (p, t) in pred.chunks_exact(h * w).zip(target.chunks_exact(h * w)) {
                let d = |i: usize, j: usize| (p[j] - p[i]) as f64 - (t[j] - t[i]) as f64;
                for z in 0..h - 1 {
                    for x in 0..w - 1 {
                        let i = z * w + x;
                        acc += d(i, i + 1).abs() + d(i, i + w).abs();
                        terms += 2;
                    }
                }
            }
            sum += self.edge as f64 * acc / terms.max(1) as f64;
        }
        if self.ssim > 0.0 {
            let unit = |v: &[f32]| v.iter().map(|x| (x + 1.0) / 2.0).collect::<Vec<f32>>();
            let planes = pred.len() / (h * w).max(1);
            let total: f64 = pred
                .chunks_exact(h * w)
                .zip(target.chunks_exact(h * w))
                .map(|(p, t)| crate::metrics::ssim(&unit(p), &unit(t), h, w).unwrap_or(f64::NAN))
                .sum();
            sum += self.ssim as f64 * (1.0 - total / planes.max(1) as f64);
        }
        sum
    }
}

/// A scalar loss term [1] times `weight`: a 1 × 1 convolution by a constant, so the op set
/// needs no multiply of its own (and weight 1 adds nothing to the graph).
pub fn weighted(g: &mut Graph, term: V, weight: f32) -> Result<V> {
    if weight == 1.0 {
        return Ok(term);
    }
    let as4 = g.reshape(term, &[1, 1, 1, 1])?;
    let w = g.constant(vec![weight], &[1, 1, 1, 1]);
    let scaled = g.conv2d(as4, w, None, 1, 0)?;
    g.reshape(scaled, &[1])
}

/// The ssim term of [`LossKind`]: 1 − the mean of the SSIM map over every pixel of every
/// sample (the map is [n, 1, h, w]; seen as [1, n, h, w] so one mean takes it all).
pub fn ssim_loss(g: &mut Graph, output: V, target: V) -> Result<V> {
    let map = g.ssim(output, target)?;
    let s = g.shape(map).to_vec();
    let all = g.reshape(map, &[1, s[0] * s[1], s[2], s[3]])?;
    let mean = g.mean(all, &[1, 2, 3])?;
    g.reshape(mean, &[1])
}

/// The edge term of [`LossKind`]: a fixed 2 × 2 convolution gives each cell's difference
/// to its right and its lower neighbour (cells of the last row and column have no pair
/// and are left out), of the output and of the target, and L1 compares them.
pub fn edge_loss(g: &mut Graph, output: V, target: V) -> Result<V> {
    // [out channel][in channel][kz][kx]: across (right − here), down (below − here).
    let w = g.constant(vec![-1.0, 1.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0], &[2, 1, 2, 2]);
    let (dy, dt) = (g.conv2d(output, w, None, 1, 0)?, g.conv2d(target, w, None, 1, 0)?);
    g.loss(Loss::L1, dy, dt)
}
