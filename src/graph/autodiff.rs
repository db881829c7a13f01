//! Reverse-mode differentiation: one backward rule per op, all in `rule` below (in the
//! spirit of tinygrad's gradient table). Gradients of a value used twice are summed.

use std::collections::HashMap;

use super::{Elem, Graph, Node, Op, V};
use crate::error::{Error, Result};

/// Appends the backward graph of the scalar `loss` and returns, for each value in `wrt`,
/// its gradient (None where the loss does not depend on it). Every parameter gets a
/// gradient; other leaves only when listed in `wrt`.
pub fn backward(g: &mut Graph, loss: V, wrt: &[V]) -> Result<Vec<Option<V>>> {
    if g.shape(loss) != [1] {
        return Err(Error::shape("backward", "loss", format!("has shape {:?}, expected [1]", g.shape(loss))));
    }
    let forward_nodes = g.nodes.len();
    // Which values carry a gradient: parameters, the listed leaves, and all that depends on them.
    let mut requires = vec![false; g.values.len()];
    for v in wrt {
        requires[v.0] = true;
    }
    for n in &g.nodes {
        let leaf_param = matches!(n.op, Op::Param(_));
        let any = leaf_param || n.inputs.iter().any(|i| requires[i.0]);
        for o in &n.outputs {
            requires[o.0] |= any && g.values[o.0].elem == Elem::F32;
        }
    }
    let mut grads: HashMap<V, V> = HashMap::new();
    let seed = g.constant(vec![1.0], &[1]);
    grads.insert(loss, seed);
    for i in (0..forward_nodes).rev() {
        let node = g.nodes[i].clone();
        let outs: Vec<Option<V>> = node.outputs.iter().map(|o| grads.get(o).copied()).collect();
        if outs.iter().all(Option::is_none) || node.inputs.is_empty() {
            continue;
        }
        let needed: Vec<bool> = node.inputs.iter().map(|v| requires[v.0]).collect();
        if !needed.iter().any(|&b| b) {
            continue;
        }
        let input_grads = rule(g, &node, &outs, &needed)?;
        for ((input, grad), need) in node.inputs.iter().zip(input_grads).zip(needed) {
            if let (Some(d), true) = (grad, need) {
                let sum = match grads.get(input) {
                    Some(&prev) => g.add(prev, d)?,
                    None => d,
                };
                grads.insert(*input, sum);
            }
        }
    }
    Ok(wrt.iter().map(|v| grads.get(v).copied()).collect())
}

/// One backward pass for the gradient of every parameter (by name) and of each value in
/// `extra` (the network input, say). A parameter the loss does not reach is an error.
pub fn param_grads(g: &mut Graph, loss: V, extra: &[V]) -> Result<(Vec<(String, V)>, Vec<Option<V>>)> {
    let params: Vec<(String, V)> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Param(name) => Some((name.clone(), n.outputs[0])),
            _ => None,
        })
        .collect();
    let wrt: Vec<V> = params.iter().map(|p| p.1).chain(extra.iter().copied()).collect();
    let mut grads = backward(g, loss, &wrt)?;
    let extra_grads = grads.split_off(params.len());
    let named = params
        .into_iter()
        .zip(grads)
        .map(|((name, _), d)| {
            d.map(|d| (name.clone(), d))
                .ok_or_else(|| Error::config("backward", format!("parameter `{name}` does not affect the loss")))
        })
        .collect::<Result<_>>()?;
    Ok((named, extra_grads))
}

fn f32_of(g: &Graph, v: V) -> (Vec<usize>, Elem) {
    (g.shape(v).to_vec(), Elem::F32)
}

/// The backward rule of one node: given the gradients of its outputs, the gradients of
/// its inputs (only those with `needed` set must be produced).
fn rule(g: &mut Graph, node: &Node, dout: &[Option<V>], needed: &[bool]) -> Result<Vec<Option<V>>> {
    let x = |i: usize| node.inputs[i];
    let dy = match dout[0] {
        Some(d) => d,
        None => match &node.op {
            Op::Split(_) => {
                g.constant(vec![0.0; g.values[node.outputs[0].0].len()], &g.shape(node.outputs[0]).to_vec())
            }
            _ => return Ok(vec![None; node.inputs.len()]),
        },
    };
    let one = |g: &mut Graph, op: Op, inputs: &[V], like: V| Some(g.push(op, inputs, &[f32_of(g, like)])[0]);
    Ok(match &node.op {
        Op::Input(_) | Op::Param(_) | Op::Buffer(_) | Op::Const(_) => vec![],
        Op::Reshape => vec![Some(g.reshape(dy, &g.shape(x(0)).to_vec())?)],
        Op::Conv2d { g: c, bias } => {
            let c = *c;
            let mut v = vec![
                needed[0].then(|| g.push(Op::Conv2dBwdData(c), &[dy, x(1)], &[f32_of(g, x(0))])[0]),
                one(g, Op::Conv2dBwdWeight(c), &[x(0), dy], x(1)),
            ];
            if *bias {
                v.push(one(g, Op::Conv2dBwdBias(c), &[dy], x(2)));
            }
            v
        }
        Op::ConvTranspose2d { g: c, bias } => {
            let c = *c;
            let mut v = vec![
                needed[0].then(|| g.push(Op::ConvTranspose2dBwdData(c), &[dy, x(1)], &[f32_of(g, x(0))])[0]),
                one(g, Op::ConvTranspose2dBwdWeight(c), &[x(0), dy], x(1)),
            ];
            if *bias {
                v.push(one(g, Op::ConvTranspose2dBwdBias(c), &[dy], x(2)));
            }
            v
        }
        Op::MaxPool(p) => vec![one(g, Op::MaxPoolBwd(*p), &[dy, node.outputs[1]], x(0))],
        Op::Mean(r) => vec![one(g, Op::MeanBwd(*r), &[dy], x(0))],
        Op::Max(r) => vec![one(g, Op::MaxBwd(*r), &[dy, node.outputs[1]], x(0))],
        Op::Gate(gt) => {
            let o = g.push(Op::GateBwd(*gt), &[x(0), x(1), dy], &[f32_of(g, x(0)), f32_of(g, x(1))]);
            vec![Some(o[0]), Some(o[1])]
        }
        Op::BatchNormTrain { g: bn, .. } => {
            let (mean, invstd) = (node.outputs[1], node.outputs[2]);
            let o = g.push(
                Op::BatchNormTrainBwd(*bn),
                &[x(0), x(1), mean, invstd, dy],
                &[f32_of(g, x(0)), f32_of(g, x(1)), f32_of(g, x(2))],
            );
            vec![Some(o[0]), Some(o[1]), Some(o[2])]
        }
        Op::BatchNormEval(_) => {
            return Err(Error::config(
                "backward",
                "eval-mode BatchNorm gives no parameter gradients: build the graph in training mode to train",
            ));
        }
        Op::Act(a) => vec![one(g, Op::ActBwd(*a), &[x(0), dy], x(0))],
        Op::Add => vec![Some(dy), Some(dy)],
        Op::Concat(c) => {
            let o = g.push(Op::Split(*c), &[dy], &[f32_of(g, x(0)), f32_of(g, x(1))]);
            vec![Some(o[0]), Some(o[1])]
        }
        Op::Split(c) => {
            let db = match dout[1] {
                Some(d) => d,
                None => g.constant(vec![0.0; g.values[node.outputs[1].0].len()], &g.shape(node.outputs[1]).to_vec()),
            };
            vec![one(g, Op::Concat(*c), &[dy, db], x(0))]
        }
        Op::Loss(l) => {
            if needed[1] {
                return Err(Error::config("backward", "the loss target does not take a gradient"));
            }
            vec![one(g, Op::LossBwd(*l), &[x(0), x(1), dy], x(0)), None]
        }
        Op::Ssim(s) => {
            if needed[1] {
                return Err(Error::config("backward", "the SSIM target does not take a gradient"));
            }
            vec![one(g, Op::SsimBwd(*s), &[x(0), x(1), dy], x(0)), None]
        }
        other => {
            return Err(Error::config("backward", format!("{other:?} is itself a backward op: no second derivatives")));
        }
    })
}
