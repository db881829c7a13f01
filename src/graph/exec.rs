//! Planning and running a graph on a backend. A plan is made once per graph and shape:
//! the nodes that matter in topological order, each value's last use (its buffer is freed
//! right after, so the backend's allocator can reuse it), and the peak memory that implies.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::{Elem, Graph, Op, V};
use crate::backend::Backend;
use crate::error::{Error, Result};

/// Parameters and buffers (BatchNorm running statistics), by PyTorch state_dict name.
pub struct Store<T> {
    pub params: BTreeMap<String, T>,
    pub buffers: BTreeMap<String, T>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store { params: BTreeMap::new(), buffers: BTreeMap::new() }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// Nodes to run, in order.
    pub nodes: Vec<usize>,
    /// Values the caller gets back.
    pub keep: Vec<V>,
    /// For each value, the step (index into `nodes`) after which it is dead.
    last_use: Vec<Option<usize>>,
    /// The largest total size of live intermediate values, in bytes.
    pub peak_bytes: u64,
}

/// The value whose storage `v` shares (reshapes are views).
fn root(g: &Graph, mut v: V) -> V {
    while let Op::Reshape = g.nodes[g.producer[v.0]].op {
        v = g.nodes[g.producer[v.0]].inputs[0];
    }
    v
}

fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input(_) | Op::Param(_) | Op::Buffer(_))
}

pub fn plan(g: &Graph, keep: &[V]) -> Plan {
    // Keep only the nodes the wanted values depend on.
    let mut needed = vec![false; g.values.len()];
    for v in keep {
        needed[v.0] = true;
    }
    let mut run = vec![false; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate().rev() {
        if n.outputs.iter().any(|o| needed[o.0]) {
            run[i] = true;
            for v in &n.inputs {
                needed[v.0] = true;
            }
        }
    }
    let nodes: Vec<usize> = (0..g.nodes.len()).filter(|&i| run[i]).collect();
    let mut last_use: Vec<Option<usize>> = vec![None; g.values.len()];
    for (step, &i) in nodes.iter().enumerate() {
        for v in &g.nodes[i].inputs {
            let r = root(g, *v);
            last_use[r.0] = Some(step);
        }
        for o in &g.nodes[i].outputs {
            let r = root(g, *o);
            last_use[r.0] = Some(last_use[r.0].map_or(step, |s| s.max(step)));
        }
    }
    for v in keep {
        last_use[root(g, *v).0] = Some(usize::MAX);
    }
    // Simulate allocation and release to find the peak.
    let (mut live, mut peak) = (0u64, 0u64);
    let mut frees: HashMap<usize, u64> = HashMap::new();
    for (step, &i) in nodes.iter().enumerate() {
        let n = &g.nodes[i];
        if !is_leaf(&n.op) && !matches!(n.op, Op::Reshape) {
            for o in &n.outputs {
                let bytes = g.values[o.0].len() as u64 * 4;
                live += bytes;
                if let Some(s) = last_use[o.0] {
                    *frees.entry(s).or_default() += bytes;
                }
            }
        }
        peak = peak.max(live);
        live -= frees.remove(&step).unwrap_or(0);
    }
    Plan { nodes, keep: keep.to_vec(), last_use, peak_bytes: peak }
}

enum Slot<'a, T, I> {
    Empty,
    Own(Rc<T>),
    Ref(&'a T),
    Idx(Rc<I>),
}

impl<T, I> Clone for Slot<'_, T, I> {
    fn clone(&self) -> Self {
        match self {
            Slot::Empty => Slot::Empty,
            Slot::Own(t) => Slot::Own(t.clone()),
            Slot::Ref(t) => Slot::Ref(t),
            Slot::Idx(i) => Slot::Idx(i.clone()),
        }
    }
}

/// Runs a plan. `inputs` feeds the graph's `Input` leaves by name. Returns the kept values.
pub fn run<B: Backend>(
    b: &B,
    g: &Graph,
    plan: &Plan,
    store: &mut Store<B::Tensor>,
    inputs: &[(&str, &B::Tensor)],
) -> Result<HashMap<V, Rc<B::Tensor>>> {
    // Buffers read as values (eval-mode BatchNorm) are lent to the run and always returned,
    // also when it fails.
    let mut lent: BTreeMap<String, Rc<B::Tensor>> = BTreeMap::new();
    for &i in &plan.nodes {
        if let Op::Buffer(name) = &g.nodes[i].op
            && let Some(t) = store.buffers.remove(name)
        {
            lent.insert(name.clone(), Rc::new(t));
        }
    }
    let result = execute(b, g, plan, store, &lent, inputs);
    for (name, t) in lent {
        let t = Rc::try_unwrap(t).map_err(|_| Error::config("run", format!("buffer `{name}` is still in use")))?;
        store.buffers.insert(name, t);
    }
    result
}

fn execute<B: Backend>(
    b: &B,
    g: &Graph,
    plan: &Plan,
    store: &mut Store<B::Tensor>,
    lent: &BTreeMap<String, Rc<B::Tensor>>,
    inputs: &[(&str, &B::Tensor)],
) -> Result<HashMap<V, Rc<B::Tensor>>> {
    let Store { params, buffers } = store;
    let params: &BTreeMap<String, B::Tensor> = params;
    let mut slots: Vec<Slot<B::Tensor, B::Index>> = (0..g.values.len()).map(|_| Slot::Empty).collect();
    let missing = |what: &str, name: &str| Error::config("run", format!("no {what} named `{name}` was provided"));
    for (step, &i) in plan.nodes.iter().enumerate() {
        let n = &g.nodes[i];
        let t = |k: usize| -> Result<&B::Tensor> {
            match &slots[n.inputs[k].0] {
                Slot::Own(t) => Ok(t),
                Slot::Ref(t) => Ok(t),
                _ => Err(Error::config("run", format!("{:?}: input {k} is not a computed tensor", n.op))),
            }
        };
        let idx = |k: usize| -> Result<&B::Index> {
            match &slots[n.inputs[k].0] {
                Slot::Idx(t) => Ok(t),
                _ => Err(Error::config("run", format!("{:?}: input {k} is not an index", n.op))),
            }
        };
        let own = |t: B::Tensor| Slot::Own(Rc::new(t));
        let outs: Vec<Slot<B::Tensor, B::Index>> = match &n.op {
            Op::Input(name) => {
                let (_, t) = inputs.iter().find(|(k, _)| k == name).ok_or_else(|| missing("input", name))?;
                vec![Slot::Ref(*t)]
            }
            Op::Param(name) => vec![Slot::Ref(params.get(name).ok_or_else(|| missing("parameter", name))?)],
            Op::Buffer(name) => vec![Slot::Own(lent.get(name).ok_or_else(|| missing("buffer", name))?.clone())],
            Op::Const(data) => vec![own(b.upload("const", data)?)],
            Op::Reshape => vec![slots[n.inputs[0].0].clone()],
            Op::Conv2d { g: c, bias } => {
                let bias = if *bias { Some(t(2)?) } else { None };
                vec![own(b.conv2d_fwd(c, t(0)?, t(1)?, bias)?)]
            }
            Op::ConvTranspose2d { g: c, bias } => {
                let bias = if *bias { Some(t(2)?) } else { None };
                vec![own(b.conv_transpose2d_fwd(c, t(0)?, t(1)?, bias)?)]
            }
            Op::MaxPool(p) => {
                let (y, i) = b.max_pool2d_fwd(p, t(0)?)?;
                vec![own(y), Slot::Idx(Rc::new(i))]
            }
            Op::Mean(r) => vec![own(b.reduce_mean_fwd(r, t(0)?)?)],
            Op::Max(r) => {
                let (y, i) = b.reduce_max_fwd(r, t(0)?)?;
                vec![own(y), Slot::Idx(Rc::new(i))]
            }
            Op::Gate(gt) => vec![own(b.gate_fwd(gt, t(0)?, t(1)?)?)],
            Op::BatchNormTrain { g: bn, running_mean, running_var } => {
                let mut rm = buffers.remove(running_mean).ok_or_else(|| missing("buffer", running_mean))?;
                let rv = buffers.remove(running_var);
                let result = match rv {
                    Some(mut rv) => {
                        let r = b.batchnorm_train_fwd(bn, t(0)?, t(1)?, t(2)?, &mut rm, &mut rv);
                        buffers.insert(running_var.clone(), rv);
                        r
                    }
                    None => Err(missing("buffer", running_var)),
                };
                buffers.insert(running_mean.clone(), rm);
                let (y, mean, invstd) = result?;
                vec![own(y), own(mean), own(invstd)]
            }
            Op::BatchNormEval(bn) => vec![own(b.batchnorm_eval_fwd(bn, t(0)?, t(1)?, t(2)?, t(3)?, t(4)?)?)],
            Op::Act(a) => vec![own(b.act_fwd(*a, t(0)?)?)],
            Op::Add => vec![own(b.add(t(0)?, t(1)?)?)],
            Op::Concat(c) => vec![own(b.concat(c, t(0)?, t(1)?)?)],
            Op::Split(c) => {
                let (a, d) = b.split(c, t(0)?)?;
                vec![own(a), own(d)]
            }
            Op::Loss(l) => vec![own(b.loss_fwd(*l, t(0)?, t(1)?)?)],
            Op::Ssim(s) => vec![own(b.ssim_fwd(s, t(0)?, t(1)?)?)],
            Op::Conv2dBwdData(c) => vec![own(b.conv2d_bwd_data(c, t(0)?, t(1)?)?)],
            Op::Conv2dBwdWeight(c) => vec![own(b.conv2d_bwd_weight(c, t(0)?, t(1)?)?)],
            Op::Conv2dBwdBias(c) => vec![own(b.conv2d_bwd_bias(c, t(0)?)?)],
            Op::ConvTranspose2dBwdData(c) => vec![own(b.conv_transpose2d_bwd_data(c, t(0)?, t(1)?)?)],
            Op::ConvTranspose2dBwdWeight(c) => vec![own(b.conv_transpose2d_bwd_weight(c, t(0)?, t(1)?)?)],
            Op::ConvTranspose2dBwdBias(c) => vec![own(b.conv_transpose2d_bwd_bias(c, t(0)?)?)],
            Op::MaxPoolBwd(p) => vec![own(b.max_pool2d_bwd(p, t(0)?, idx(1)?)?)],
            Op::MeanBwd(r) => vec![own(b.reduce_mean_bwd(r, t(0)?)?)],
            Op::MaxBwd(r) => vec![own(b.reduce_max_bwd(r, t(0)?, idx(1)?)?)],
            Op::GateBwd(gt) => {
                let (dx, dz) = b.gate_bwd(gt, t(0)?, t(1)?, t(2)?)?;
                vec![own(dx), own(dz)]
            }
            Op::BatchNormTrainBwd(bn) => {
                let (dx, dg, db) = b.batchnorm_train_bwd(bn, t(0)?, t(1)?, t(2)?, t(3)?, t(4)?)?;
                vec![own(dx), own(dg), own(db)]
            }
            Op::BatchNormEvalBwd(bn) => vec![own(b.batchnorm_eval_bwd(bn, t(0)?, t(1)?, t(2)?)?)],
            Op::ActBwd(a) => vec![own(b.act_bwd(*a, t(0)?, t(1)?)?)],
            Op::LossBwd(l) => vec![own(b.loss_bwd(*l, t(0)?, t(1)?, t(2)?)?)],
            Op::SsimBwd(s) => vec![own(b.ssim_bwd(s, t(0)?, t(1)?, t(2)?)?)],
        };
        for (o, s) in n.outputs.iter().zip(outs) {
            debug_assert_eq!(matches!(s, Slot::Idx(_)), g.values[o.0].elem == Elem::Index);
            slots[o.0] = s;
        }
        // Release what is dead after this step.
        for v in n.inputs.iter().chain(&n.outputs) {
            let r = root(g, *v);
            if plan.last_use[r.0] == Some(step) {
                for dead in [v.0, r.0] {
                    // The plan says this value is dead: its buffer can serve a later value,
                    // unless its contents came from the host at planning time (a backend
                    // that records the run to replay it would not upload them again).
                    let uploaded = matches!(g.nodes[g.producer[dead]].op, Op::Const(_));
                    if let Slot::Own(t) = std::mem::replace(&mut slots[dead], Slot::Empty)
                        && let Ok(t) = Rc::try_unwrap(t)
                        && !uploaded
                    {
                        b.recycle(t);
                    }
                }
            }
        }
    }
    let mut out = HashMap::new();
    for v in &plan.keep {
        match &slots[v.0] {
            Slot::Own(t) => {
                out.insert(*v, t.clone());
            }
            _ => return Err(Error::config("run", format!("value {v:?} was not computed"))),
        }
    }
    Ok(out)
}
