//! The training step and inference, planned once per config and input shape: forward,
//! loss, backward and Adam on the device; the loss is read back only when asked for.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::{Config, init};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::graph::exec::{self, Plan, Store};
use crate::graph::{Graph, V, autodiff};
use crate::ops::{Adam, Loss};

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

    /// Reads the loss back from a step's results. A NaN or infinite loss is an error that
    /// names the step, so a caller stops before the update or a checkpoint takes it in.
    pub fn loss_value<B: Backend>(&self, b: &B, out: &HashMap<V, Rc<B::Tensor>>, step: u64) -> Result<f32> {
        let t = out.get(&self.loss).ok_or_else(|| Error::config("train", "the loss was not computed"))?;
        let loss = b.download(t)?[0];
        if !loss.is_finite() {
            return Err(Error::config(
                "train",
                format!("step {step}: the loss is {loss}; stopped before updating the parameters"),
            ));
        }
        Ok(loss)
    }
}

/// The loss itself, or an error naming the step when it is NaN or infinite.
pub fn check_finite(loss: f32, step: u64) -> Result<f32> {
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(Error::config("train", format!("step {step}: the loss is {loss}; stopped before updating the parameters")))
    }
}

/// A planned eval-mode forward pass.
pub struct Inference {
    pub graph: Graph,
    pub plan: Plan,
    pub output: V,
}

impl Inference {
    pub fn new(cfg: &Config, x: [usize; 4]) -> Result<Self> {
        let mut g = Graph::new();
        let input = g.input("input", &x);
        let output = cfg.forward(&mut g, input, false)?;
        let plan = exec::plan(&g, &[output]);
        Ok(Inference { graph: g, plan, output })
    }

    pub fn run<B: Backend>(&self, b: &B, store: &mut Store<B::Tensor>, input: &B::Tensor) -> Result<Rc<B::Tensor>> {
        let mut out = exec::run(b, &self.graph, &self.plan, store, &[("input", input)])?;
        out.remove(&self.output).ok_or_else(|| Error::config("inference", "the output was not computed"))
    }
}

/// Adam or AdamW state for every parameter.
pub struct Optimizer<T> {
    pub hyper: Adam,
    pub step: u32,
    pub m: BTreeMap<String, T>,
    pub v: BTreeMap<String, T>,
}

impl<T> Optimizer<T> {
    /// Zero moments for parameters of the given names and shapes.
    pub fn new<B: Backend<Tensor = T>>(b: &B, hyper: Adam, params: &[(String, Vec<usize>)]) -> Result<Self> {
        let mut m = BTreeMap::new();
        let mut v = BTreeMap::new();
        for (name, shape) in params {
            let zeros = vec![0.0; shape.iter().product()];
            m.insert(name.clone(), b.upload(&format!("{name}.exp_avg"), &zeros)?);
            v.insert(name.clone(), b.upload(&format!("{name}.exp_avg_sq"), &zeros)?);
        }
        Ok(Optimizer { hyper, step: 0, m, v })
    }

    /// One step over every parameter that has a gradient.
    pub fn apply<B: Backend<Tensor = T>>(
        &mut self,
        b: &B,
        params: &mut BTreeMap<String, T>,
        grads: &[(&str, &T)],
    ) -> Result<()> {
        self.step += 1;
        for (name, grad) in grads {
            let p = params.get_mut(*name).ok_or_else(|| Error::config("adam", format!("no parameter `{name}`")))?;
            let (Some(m), Some(v)) = (self.m.get_mut(*name), self.v.get_mut(*name)) else {
                return Err(Error::config("adam", format!("no moments for `{name}`")));
            };
            b.adam_step(&self.hyper, self.step, p, grad, m, v)?;
        }
        Ok(())
    }
}

/// A planned graph captured once on the GPU — every dispatch with its bind group, dead
/// buffers reused — and replayed each step into the caller's command encoder. Inputs are
/// written into its fixed input buffers; results appear in its fixed output buffers. The
/// store's tensors must stay the same buffers (Adam updates them in place) while it lives.
pub struct Compiled {
    program: crate::gpu::Program,
    inputs: Vec<(String, crate::gpu::GpuTensor)>,
    outputs: HashMap<V, Rc<crate::gpu::GpuTensor>>,
}

impl Compiled {
    /// Captures `graph` under `plan`, with zero-filled input buffers of the given shapes.
    pub fn capture(
        gpu: &crate::backend::Gpu,
        graph: &Graph,
        plan: &Plan,
        store: &mut Store<crate::gpu::GpuTensor>,
        inputs: &[(&str, &[usize])],
    ) -> Result<Self> {
        let ctx = gpu.context();
        let tensors: Vec<(String, crate::gpu::GpuTensor)> = inputs
            .iter()
            .map(|(name, shape)| Ok((name.to_string(), ctx.zeros("capture", name, shape.iter().product())?)))
            .collect::<Result<_>>()?;
        gpu.begin_capture()?;
        let feeds: Vec<(&str, &crate::gpu::GpuTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let result = exec::run(gpu, graph, plan, store, &feeds);
        let program = gpu.end_capture();
        Ok(Compiled { outputs: result?, program: program?, inputs: tensors })
    }

    /// Writes one input's data for the next replay.
    pub fn set_input(&self, gpu: &crate::backend::Gpu, name: &str, data: &[f32]) -> Result<()> {
        let (_, t) = self
            .inputs
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::config("compiled", format!("no input `{name}`")))?;
        gpu.context()
            .write(t, data)
            .map_err(|_| Error::shape("compiled", name, format!("needs {} values, got {}", t.len, data.len())))
    }

    /// The buffer an input is read from.
    pub fn input(&self, name: &str) -> Option<&crate::gpu::GpuTensor> {
        self.inputs.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Records the whole program (into the current batch, if one is open).
    pub fn replay(&self, gpu: &crate::backend::Gpu) -> Result<()> {
        gpu.replay(&self.program)
    }

    /// The buffer holding a kept value after a replay.
    pub fn output(&self, v: V) -> Result<&crate::gpu::GpuTensor> {
        self.outputs.get(&v).map(|t| &**t).ok_or_else(|| Error::config("compiled", format!("value {v:?} is not kept")))
    }

    pub fn dispatches(&self) -> usize {
        self.program.dispatches()
    }
}
