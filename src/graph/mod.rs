//! The graph: a small op set recorded on symbolic tensors whose shapes are checked as the
//! graph is built. `autodiff` adds the backward graph, `exec` plans and runs it on a backend.

pub mod autodiff;
pub mod exec;

use crate::error::{Error, Result};
use crate::ops::*;

/// A symbolic tensor: an index into `Graph::values`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct V(pub usize);

/// What a value holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    /// Argmax positions (u32), kept for the backward of max ops.
    Index,
}

#[derive(Clone, Debug)]
pub struct Value {
    pub shape: Vec<usize>,
    pub elem: Elem,
}

impl Value {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The op set. Forward ops first, then the backward ops autodiff emits.
#[derive(Clone, Debug)]
pub enum Op {
    /// Fed by the caller each run (network input, target).
    Input(String),
    /// A trainable parameter, read from the parameter store by name.
    Param(String),
    /// A non-trainable buffer (BatchNorm running statistics), read from the store by name.
    Buffer(String),
    /// A constant tensor (the seed gradient of the loss).
    Const(Vec<f32>),
    /// The same data seen with another shape.
    Reshape,
    Conv2d {
        g: Conv2d,
        bias: bool,
    },
    ConvTranspose2d {
        g: ConvTranspose2d,
        bias: bool,
    },
    /// Outputs (y, argmax).
    MaxPool(Pool2d),
    Mean(Reduce),
    /// Outputs (y, argmax).
    Max(Reduce),
    Gate(Gate),
    /// Inputs (x, gamma, beta); updates the named running statistics. Outputs (y, mean, invstd).
    BatchNormTrain {
        g: BatchNorm,
        running_mean: String,
        running_var: String,
    },
    /// Inputs (x, gamma, beta, running_mean, running_var).
    BatchNormEval(BatchNorm),
    Act(Act),
    Add,
    Concat(Concat),
    /// Outputs (a, b).
    Split(Concat),
    Loss(Loss),
    /// Inputs (x, t): the SSIM dissimilarity map 1 − S.
    Ssim(Ssim),

    Conv2dBwdData(Conv2d),
    Conv2dBwdWeight(Conv2d),
    Conv2dBwdBias(Conv2d),
    ConvTranspose2dBwdData(ConvTranspose2d),
    ConvTranspose2dBwdWeight(ConvTranspose2d),
    ConvTranspose2dBwdBias(ConvTranspose2d),
    /// Inputs (dy, argmax).
    MaxPoolBwd(Pool2d),
    MeanBwd(Reduce),
    /// Inputs (dy, argmax).
    MaxBwd(Reduce),
    /// Inputs (x, z, dy); outputs (dx, dz).
    GateBwd(Gate),
    /// Inputs (x, gamma, mean, invstd, dy); outputs (dx, dgamma, dbeta).
    BatchNormTrainBwd(BatchNorm),
    /// Inputs (gamma, running_var, dy).
    BatchNormEvalBwd(BatchNorm),
    /// Inputs (x, dy).
    ActBwd(Act),
    /// Inputs (x, t, dy).
    LossBwd(Loss),
    /// Inputs (x, t, dy).
    SsimBwd(Ssim),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<V>,
    pub outputs: Vec<V>,
}

/// Nodes in the order they were recorded, which is a topological order.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub values: Vec<Value>,
    /// For each value, the node that produced it.
    pub producer: Vec<usize>,
}

fn shape4(op: &str, name: &str, s: &[usize]) -> Result<Shape4> {
    s.try_into().map_err(|_| Error::shape(op, name, format!("has shape {s:?}, expected 4-D NCHW")))
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shape(&self, v: V) -> &[usize] {
        &self.values[v.0].shape
    }

    fn s4(&self, op: &str, name: &str, v: V) -> Result<Shape4> {
        shape4(op, name, self.shape(v))
    }

    /// Records a node and returns its outputs.
    pub fn push(&mut self, op: Op, inputs: &[V], outputs: &[(Vec<usize>, Elem)]) -> Vec<V> {
        let node = self.nodes.len();
        let outs: Vec<V> = outputs
            .iter()
            .map(|(shape, elem)| {
                self.values.push(Value { shape: shape.clone(), elem: *elem });
                self.producer.push(node);
                V(self.values.len() - 1)
            })
            .collect();
        self.nodes.push(Node { op, inputs: inputs.to_vec(), outputs: outs.clone() });
        outs
    }

    fn one(&mut self, op: Op, inputs: &[V], shape: Vec<usize>) -> V {
        self.push(op, inputs, &[(shape, Elem::F32)])[0]
    }

    pub fn input(&mut self, name: &str, shape: &[usize]) -> V {
        self.one(Op::Input(name.into()), &[], shape.to_vec())
    }
    /// A parameter; asking twice for one name gives the same value, so a shared weight's
    /// gradients add up. Asking with another shape is an error.
    pub fn param(&mut self, name: &str, shape: &[usize]) -> Result<V> {
        let existing = self.nodes.iter().find_map(|n| match &n.op {
            Op::Param(s) if s == name => Some(n.outputs[0]),
            _ => None,
        });
        match existing {
            Some(v) if self.shape(v) == shape => Ok(v),
            Some(v) => {
                Err(Error::shape("param", name, format!("declared as {:?} and again as {shape:?}", self.shape(v))))
            }
            None => Ok(self.one(Op::Param(name.into()), &[], shape.to_vec())),
        }
    }
    pub fn buffer(&mut self, name: &str, shape: &[usize]) -> V {
        self.one(Op::Buffer(name.into()), &[], shape.to_vec())
    }
    pub fn constant(&mut self, data: Vec<f32>, shape: &[usize]) -> V {
        self.one(Op::Const(data), &[], shape.to_vec())
    }

    pub fn reshape(&mut self, x: V, shape: &[usize]) -> Result<V> {
        let (from, to): (usize, usize) = (self.shape(x).iter().product(), shape.iter().product());
        if from != to {
            return Err(Error::shape("reshape", "x", format!("{:?} cannot become {shape:?}", self.shape(x))));
        }
        Ok(self.one(Op::Reshape, &[x], shape.to_vec()))
    }

    pub fn conv2d(&mut self, x: V, w: V, b: Option<V>, stride: usize, pad: usize) -> Result<V> {
        let (xs, ws) = (self.s4("conv2d", "x", x)?, self.s4("conv2d", "w", w)?);
        if ws[1] != xs[1] {
            return Err(Error::shape("conv2d", "w", format!("{ws:?} expects {} input channels, x is {xs:?}", ws[1])));
        }
        if let Some(b) = b
            && self.shape(b) != [ws[0]]
        {
            return Err(Error::shape("conv2d", "b", format!("{:?} should be [{}]", self.shape(b), ws[0])));
        }
        let g = Conv2d::new(xs, ws[0], [ws[2], ws[3]], stride, pad)?;
        let inputs: Vec<V> = [x, w].into_iter().chain(b).collect();
        Ok(self.one(Op::Conv2d { g, bias: b.is_some() }, &inputs, g.y_shape().to_vec()))
    }

    pub fn conv_transpose2d(&mut self, x: V, w: V, b: Option<V>, stride: usize, pad: usize) -> Result<V> {
        let op = "conv_transpose2d";
        let (xs, ws) = (self.s4(op, "x", x)?, self.s4(op, "w", w)?);
        if ws[0] != xs[1] || ws[2] != ws[3] {
            return Err(Error::shape(op, "w", format!("{ws:?} does not fit x {xs:?} (weight is [cin, cout, k, k])")));
        }
        if let Some(b) = b
            && self.shape(b) != [ws[1]]
        {
            return Err(Error::shape(op, "b", format!("{:?} should be [{}]", self.shape(b), ws[1])));
        }
        let g = ConvTranspose2d::new(xs, ws[1], ws[2], stride, pad)?;
        let inputs: Vec<V> = [x, w].into_iter().chain(b).collect();
        Ok(self.one(Op::ConvTranspose2d { g, bias: b.is_some() }, &inputs, g.y_shape().to_vec()))
    }

    pub fn max_pool2d(&mut self, x: V) -> Result<V> {
        let g = Pool2d::new(self.s4("max_pool2d", "x", x)?)?;
        let y = g.y_shape().to_vec();
        Ok(self.push(Op::MaxPool(g), &[x], &[(y.clone(), Elem::F32), (y, Elem::Index)])[0])
    }

    fn reduced_shape(&self, x: V, dims: &[usize]) -> Result<(Reduce, Vec<usize>)> {
        let xs = self.s4("reduce", "x", x)?;
        let g = Reduce::over_dims(xs, dims)?;
        let mut y = xs.to_vec();
        for &d in dims {
            y[d] = 1;
        }
        Ok((g, y))
    }

    /// Mean over the listed dims, kept as size 1.
    pub fn mean(&mut self, x: V, dims: &[usize]) -> Result<V> {
        let (g, y) = self.reduced_shape(x, dims)?;
        Ok(self.one(Op::Mean(g), &[x], y))
    }

    /// Max over the listed dims, kept as size 1; the gradient goes to the first maximum.
    pub fn max(&mut self, x: V, dims: &[usize]) -> Result<V> {
        let (g, y) = self.reduced_shape(x, dims)?;
        Ok(self.push(Op::Max(g), &[x], &[(y.clone(), Elem::F32), (y, Elem::Index)])[0])
    }

    /// x · sigmoid(z), z broadcast per channel, pixel, row or column (read from its shape).
    pub fn gate(&mut self, x: V, z: V) -> Result<V> {
        let (xs, zs) = (self.s4("sigmoid_gate", "x", x)?, self.s4("sigmoid_gate", "z", z)?);
        let [n, c, h, w] = xs;
        let mode = [Broadcast::Channel, Broadcast::Spatial, Broadcast::Row, Broadcast::Col]
            .into_iter()
            .find(|&m| Gate { x: xs, mode: m }.z_shape() == zs)
            .ok_or_else(|| {
                Error::shape(
                    "sigmoid_gate",
                    "z",
                    format!("{zs:?} broadcasts to x {xs:?} as none of [{n},{c},1,1], [{n},1,{h},{w}], [{n},{c},{h},1], [{n},{c},1,{w}]"),
                )
            })?;
        let g = Gate::new(xs, mode)?;
        Ok(self.one(Op::Gate(g), &[x, z], xs.to_vec()))
    }

    /// BatchNorm2d with parameters `{prefix}.weight/bias` and buffers `{prefix}.running_mean/var`.
    pub fn batch_norm(&mut self, x: V, prefix: &str, train: bool) -> Result<V> {
        let xs = self.s4("batch_norm", "x", x)?;
        let g = BatchNorm::new(xs)?;
        let c = [xs[1]];
        let gamma = self.param(&format!("{prefix}.weight"), &c)?;
        let beta = self.param(&format!("{prefix}.bias"), &c)?;
        let (rm, rv) = (format!("{prefix}.running_mean"), format!("{prefix}.running_var"));
        if train {
            g.check_train(&format!("batch_norm {prefix}"))?;
            let outs = self.push(
                Op::BatchNormTrain { g, running_mean: rm, running_var: rv },
                &[x, gamma, beta],
                &[(xs.to_vec(), Elem::F32), (c.to_vec(), Elem::F32), (c.to_vec(), Elem::F32)],
            );
            Ok(outs[0])
        } else {
            let (m, v) = (self.buffer(&rm, &c), self.buffer(&rv, &c));
            Ok(self.one(Op::BatchNormEval(g), &[x, gamma, beta, m, v], xs.to_vec()))
        }
    }

    pub fn act(&mut self, a: Act, x: V) -> V {
        let s = self.shape(x).to_vec();
        self.one(Op::Act(a), &[x], s)
    }

    pub fn add(&mut self, a: V, b: V) -> Result<V> {
        if self.shape(a) != self.shape(b) {
            return Err(Error::shape("add", "b", format!("{:?} differs from a {:?}", self.shape(b), self.shape(a))));
        }
        let s = self.shape(a).to_vec();
        Ok(self.one(Op::Add, &[a, b], s))
    }

    fn concat_geometry(&self, a: &[usize], b: &[usize], dim: usize) -> Result<Concat> {
        let same_rest = a.len() == b.len() && (0..a.len()).all(|d| d == dim || a[d] == b[d]);
        if dim >= a.len() || !same_rest {
            return Err(Error::shape("concat", "b", format!("{b:?} does not join a {a:?} along dim {dim}")));
        }
        Ok(Concat { n: a[..dim].iter().product(), ca: a[dim], cb: b[dim], hw: a[dim + 1..].iter().product() })
    }

    pub fn concat(&mut self, a: V, b: V, dim: usize) -> Result<V> {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        let g = self.concat_geometry(&sa, &sb, dim)?;
        let mut y = sa.clone();
        y[dim] += sb[dim];
        Ok(self.one(Op::Concat(g), &[a, b], y))
    }

    /// Splits along `dim` into the first `first` entries and the rest.
    pub fn split(&mut self, y: V, first: usize, dim: usize) -> Result<(V, V)> {
        let s = self.shape(y).to_vec();
        if dim >= s.len() || first == 0 || first >= s[dim] {
            return Err(Error::shape("split", "y", format!("{s:?} cannot split {first} off dim {dim}")));
        }
        let (mut a, mut b) = (s.clone(), s.clone());
        a[dim] = first;
        b[dim] = s[dim] - first;
        let g = self.concat_geometry(&a, &b, dim)?;
        let o = self.push(Op::Split(g), &[y], &[(a, Elem::F32), (b, Elem::F32)]);
        Ok((o[0], o[1]))
    }

    /// The mean loss, shape [1].
    pub fn loss(&mut self, l: Loss, x: V, t: V) -> Result<V> {
        if self.shape(x) != self.shape(t) {
            return Err(Error::shape(
                "loss",
                "target",
                format!("{:?} differs from the output {:?}", self.shape(t), self.shape(x)),
            ));
        }
        Ok(self.one(Op::Loss(l), &[x, t], vec![1]))
    }

    /// The SSIM dissimilarity map 1 − S of x against t, both [n, 1, h, w] in [−1, 1].
    pub fn ssim(&mut self, x: V, t: V) -> Result<V> {
        let xs = self.s4("ssim", "x", x)?;
        if self.shape(t) != xs {
            return Err(Error::shape("ssim", "t", format!("{:?} differs from x {xs:?}", self.shape(t))));
        }
        let g = Ssim::new(xs)?;
        Ok(self.one(Op::Ssim(g), &[x, t], xs.to_vec()))
    }

    /// Names and shapes of the parameters the graph reads, in first-use order.
    pub fn params(&self) -> Vec<(String, Vec<usize>)> {
        self.leaves(|op| matches!(op, Op::Param(_)))
    }

    /// Names and shapes of the buffers the graph reads or updates.
    pub fn buffers(&self) -> Vec<(String, Vec<usize>)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = vec![];
        for n in &self.nodes {
            let named: Vec<(&String, usize)> = match &n.op {
                Op::Buffer(name) => vec![(name, self.shape(n.outputs[0])[0])],
                Op::BatchNormTrain { g, running_mean, running_var } => {
                    vec![(running_mean, g.c()), (running_var, g.c())]
                }
                _ => vec![],
            };
            for (name, c) in named {
                if seen.insert(name.clone()) {
                    out.push((name.clone(), vec![c]));
                }
            }
        }
        out
    }

    fn leaves(&self, pick: impl Fn(&Op) -> bool) -> Vec<(String, Vec<usize>)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = vec![];
        for n in &self.nodes {
            if let (true, Op::Param(name)) = (pick(&n.op), &n.op)
                && seen.insert(name.clone())
            {
                out.push((name.clone(), self.shape(n.outputs[0]).to_vec()));
            }
        }
        out
    }

    /// The value of a named leaf, if the graph has one.
    pub fn leaf(&self, name: &str) -> Option<V> {
        self.nodes.iter().find_map(|n| match &n.op {
            Op::Input(s) | Op::Param(s) if s == name => Some(n.outputs[0]),
            _ => None,
        })
    }
}
