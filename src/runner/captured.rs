//! A planned graph captured once on the GPU — every dispatch with its bind group, dead
//! buffers reused — and replayed each step. Inputs are written into its fixed input
//! buffers; results appear in its fixed output buffers. The store's tensors must stay the
//! same buffers (Adam updates them in place) while it lives.

use std::collections::HashMap;
use std::rc::Rc;

use crate::backend::Gpu;
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Program, Recorder};
use crate::graph::exec::{self, Plan, Store};
use crate::graph::{Graph, V};

pub struct Captured {
    program: Program,
    inputs: Vec<(String, GpuTensor)>,
    outputs: HashMap<V, Rc<GpuTensor>>,
}

impl Captured {
    /// Captures `graph` under `plan`, with zero-filled input buffers of the given shapes,
    /// then whatever `after` records with the kept values and the store (the loss log and
    /// Adam, for a training step).
    pub fn capture(
        gpu: &Gpu,
        graph: &Graph,
        plan: &Plan,
        store: &mut Store<GpuTensor>,
        inputs: &[(&str, &[usize])],
        after: impl FnOnce(&mut Recorder, &HashMap<V, Rc<GpuTensor>>, &Store<GpuTensor>) -> Result<()>,
    ) -> Result<Self> {
        let ctx = gpu.context();
        let tensors: Vec<(String, GpuTensor)> = inputs
            .iter()
            .map(|(name, shape)| Ok((name.to_string(), ctx.zeros("capture", name, shape.iter().product())?)))
            .collect::<Result<_>>()?;
        gpu.begin_capture()?;
        let feeds: Vec<(&str, &GpuTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let result = exec::run(gpu, graph, plan, store, &feeds)
            .and_then(|outputs| gpu.record(|r| after(r, &outputs, store)).map(|_| outputs));
        let program = gpu.end_capture();
        Ok(Captured { outputs: result?, program: program?, inputs: tensors })
    }

    /// Writes one input's data for the next replay.
    pub fn set_input(&self, gpu: &Gpu, name: &str, data: &[f32]) -> Result<()> {
        let (_, t) = self
            .inputs
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::config("runner", format!("no input `{name}`")))?;
        if data.len() != t.len {
            return Err(Error::shape("runner", name, format!("needs {} values, got {}", t.len, data.len())));
        }
        gpu.context().write(t, data)
    }

    /// The buffer an input is read from.
    pub fn input(&self, name: &str) -> Option<&GpuTensor> {
        self.inputs.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The buffer holding a kept value after a replay.
    pub fn output(&self, v: V) -> Result<&GpuTensor> {
        self.outputs.get(&v).map(|t| &**t).ok_or_else(|| Error::config("runner", format!("value {v:?} is not kept")))
    }

    pub fn dispatches(&self) -> usize {
        self.program.dispatches()
    }
}
