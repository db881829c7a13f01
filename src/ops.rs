//! Op descriptors: the geometry of each kernel, shared by the GPU kernels (`kernels/`),
//! their CPU twins (`cpu/`) and the fast paths (`fast/`), with the validators and derived
//! scalars all of them use, so that none of those imports another. Constructors validate;
//! shapes are NCHW.

use crate::error::{Error, Result, check_len};

pub mod wave;

pub type Shape4 = [usize; 4];

fn positive(op: &str, what: &str, dims: &[usize]) -> Result<()> {
    if dims.contains(&0) {
        return Err(Error::config(op, format!("{what} {dims:?} has a zero dimension")));
    }
    Ok(())
}

/// 2-D convolution: x [n,ci,h,w] * w [co,ci,kh,kw] (+ b [co]) -> y [n,co,ho,wo].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d {
    pub n: usize,
    pub ci: usize,
    pub h: usize,
    pub w: usize,
    pub co: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2d {
    pub fn new(x: Shape4, co: usize, kernel: [usize; 2], stride: usize, pad: usize) -> Result<Self> {
        let op = "conv2d";
        positive(op, "input shape", &x)?;
        positive(op, "kernel", &kernel)?;
        if co == 0 || stride == 0 {
            return Err(Error::config(op, format!("out_channels {co} and stride {stride} must be positive")));
        }
        let g = Conv2d { n: x[0], ci: x[1], h: x[2], w: x[3], co, kh: kernel[0], kw: kernel[1], stride, pad };
        if g.h + 2 * pad < g.kh || g.w + 2 * pad < g.kw {
            return Err(Error::config(
                op,
                format!("kernel {kernel:?} with padding {pad} does not fit input {x:?}: the output would be empty"),
            ));
        }
        Ok(g)
    }
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    pub fn x_shape(&self) -> Shape4 {
        [self.n, self.ci, self.h, self.w]
    }
    pub fn w_shape(&self) -> Shape4 {
        [self.co, self.ci, self.kh, self.kw]
    }
    pub fn y_shape(&self) -> Shape4 {
        [self.n, self.co, self.ho(), self.wo()]
    }
    /// Multiply-adds of the forward pass, times two.
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.co * self.ho() * self.wo() * self.ci * self.kh * self.kw) as f64
    }
}

/// Transposed 2-D convolution: x [n,ci,h,w], w [ci,co,k,k] (+ b [co]) -> y [n,co,ho,wo]
/// with ho = (h-1)·stride − 2·pad + k. It is the adjoint of `as_conv()`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvTranspose2d {
    pub n: usize,
    pub ci: usize,
    pub h: usize,
    pub w: usize,
    pub co: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvTranspose2d {
    pub fn new(x: Shape4, co: usize, k: usize, stride: usize, pad: usize) -> Result<Self> {
        let op = "conv_transpose2d";
        positive(op, "input shape", &x)?;
        if co == 0 || k == 0 || stride == 0 {
            return Err(Error::config(
                op,
                format!("out_channels {co}, kernel {k} and stride {stride} must be positive"),
            ));
        }
        if (x[2] - 1) * stride + k <= 2 * pad || (x[3] - 1) * stride + k <= 2 * pad {
            return Err(Error::config(op, format!("padding {pad} leaves an empty output for input {x:?}")));
        }
        Ok(ConvTranspose2d { n: x[0], ci: x[1], h: x[2], w: x[3], co, k, stride, pad })
    }
    pub fn ho(&self) -> usize {
        (self.h - 1) * self.stride + self.k - 2 * self.pad
    }
    pub fn wo(&self) -> usize {
        (self.w - 1) * self.stride + self.k - 2 * self.pad
    }
    pub fn x_shape(&self) -> Shape4 {
        [self.n, self.ci, self.h, self.w]
    }
    pub fn w_shape(&self) -> Shape4 {
        [self.ci, self.co, self.k, self.k]
    }
    pub fn y_shape(&self) -> Shape4 {
        [self.n, self.co, self.ho(), self.wo()]
    }
    /// The convolution whose backward-data this op is: it maps y's shape to x's shape,
    /// and its weight [co_conv = ci, ci_conv = co, k, k] is this op's weight, unchanged.
    pub fn as_conv(&self) -> Conv2d {
        Conv2d {
            n: self.n,
            ci: self.co,
            h: self.ho(),
            w: self.wo(),
            co: self.ci,
            kh: self.k,
            kw: self.k,
            stride: self.stride,
            pad: self.pad,
        }
    }
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.ci * self.h * self.w * self.co * self.k * self.k) as f64
    }
}

/// Max pooling with window = stride = 2 (PyTorch floor mode: a trailing odd row or
/// column is dropped). Ties go to the first maximum in row-major window order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2d {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Pool2d {
    pub fn new(x: Shape4) -> Result<Self> {
        positive("max_pool2d", "input shape", &x)?;
        if x[2] < 2 || x[3] < 2 {
            return Err(Error::config("max_pool2d", format!("input {x:?} is smaller than the 2x2 window")));
        }
        Ok(Pool2d { n: x[0], c: x[1], h: x[2], w: x[3] })
    }
    pub fn x_shape(&self) -> Shape4 {
        [self.n, self.c, self.h, self.w]
    }
    pub fn y_shape(&self) -> Shape4 {
        [self.n, self.c, self.h / 2, self.w / 2]
    }
}

/// A reduction seen as x [outer, r, inner] -> y [outer, inner], reducing the middle axis.
/// Every pooling of the network is one: over (H,W), over W, over H, over C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reduce {
    pub outer: usize,
    pub r: usize,
    pub inner: usize,
}

impl Reduce {
    pub fn new(outer: usize, r: usize, inner: usize) -> Result<Self> {
        positive("reduce", "view [outer, r, inner]", &[outer, r, inner])?;
        Ok(Reduce { outer, r, inner })
    }
    /// Reduces the NCHW dims listed (any of 1, 2, 3; they must be adjacent).
    pub fn over_dims(x: Shape4, dims: &[usize]) -> Result<Self> {
        let op = "reduce";
        let (lo, hi) = match (dims.iter().min(), dims.iter().max()) {
            (Some(&lo), Some(&hi)) if lo >= 1 && hi <= 3 && hi + 1 - lo == dims.len() => (lo, hi),
            _ => return Err(Error::config(op, format!("dims {dims:?} must be adjacent dims among 1, 2, 3"))),
        };
        Reduce::new(x[..lo].iter().product(), x[lo..=hi].iter().product(), x[hi + 1..].iter().product())
    }
    pub fn x_len(&self) -> usize {
        self.outer * self.r * self.inner
    }
    pub fn y_len(&self) -> usize {
        self.outer * self.inner
    }
}

/// Where the gate z of `x · sigmoid(z)` is broadcast from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// z [n,c,1,1]
    Channel,
    /// z [n,1,h,w]
    Spatial,
    /// z [n,c,h,1]
    Row,
    /// z [n,c,1,w]
    Col,
}

impl Broadcast {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "channel" => Broadcast::Channel,
            "spatial" => Broadcast::Spatial,
            "row" => Broadcast::Row,
            "col" => Broadcast::Col,
            _ => {
                return Err(Error::config(
                    "sigmoid_gate",
                    format!("unknown broadcast `{s}` (channel|spatial|row|col)"),
                ));
            }
        })
    }
}

/// y = x · sigmoid(z), x [n,c,h,w], z broadcast as `mode` says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gate {
    pub x: Shape4,
    pub mode: Broadcast,
}

impl Gate {
    pub fn new(x: Shape4, mode: Broadcast) -> Result<Self> {
        positive("sigmoid_gate", "input shape", &x)?;
        Ok(Gate { x, mode })
    }
    pub fn z_shape(&self) -> Shape4 {
        let [n, c, h, w] = self.x;
        match self.mode {
            Broadcast::Channel => [n, c, 1, 1],
            Broadcast::Spatial => [n, 1, h, w],
            Broadcast::Row => [n, c, h, 1],
            Broadcast::Col => [n, c, 1, w],
        }
    }
    /// The gradient of z is a sum of x's elements over the broadcast dims: this view.
    pub fn z_reduce(&self) -> Reduce {
        let [n, c, h, w] = self.x;
        match self.mode {
            Broadcast::Channel => Reduce { outer: n * c, r: h * w, inner: 1 },
            Broadcast::Spatial => Reduce { outer: n, r: c, inner: h * w },
            Broadcast::Row => Reduce { outer: n * c * h, r: w, inner: 1 },
            Broadcast::Col => Reduce { outer: n * c, r: h, inner: w },
        }
    }
}

/// BatchNorm2d over x [n,c,h,w]: statistics per channel over (n,h,w).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    pub x: Shape4,
    pub eps: f32,
    pub momentum: f32,
}

impl BatchNorm {
    pub fn new(x: Shape4) -> Result<Self> {
        positive("batch_norm", "input shape", &x)?;
        Ok(BatchNorm { x, eps: 1e-5, momentum: 0.1 })
    }
    pub fn c(&self) -> usize {
        self.x[1]
    }
    /// Elements per channel.
    pub fn m(&self) -> usize {
        self.x[0] * self.x[2] * self.x[3]
    }
    /// Training needs more than one value per channel (PyTorch refuses it too).
    pub fn check_train(&self, op: &str) -> Result<()> {
        if self.m() < 2 {
            return Err(Error::config(
                op,
                format!("input {:?} has {} value per channel; training needs more than one", self.x, self.m()),
            ));
        }
        Ok(())
    }
}

/// Element-wise activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Relu,
    Relu6,
    HSwish,
    Sigmoid,
}

/// An activation's op name in error messages.
pub fn act_name(a: Act, backward: bool) -> &'static str {
    match (a, backward) {
        (Act::Relu, false) => "relu",
        (Act::Relu, true) => "relu_backward",
        (Act::Relu6, false) => "relu6",
        (Act::Relu6, true) => "relu6_backward",
        (Act::HSwish, false) => "hswish",
        (Act::HSwish, true) => "hswish_backward",
        (Act::Sigmoid, false) => "sigmoid",
        (Act::Sigmoid, true) => "sigmoid_backward",
    }
}

/// Mean losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    Mse,
    L1,
}

/// d(loss)/d(x − t) per unit of difference: 2/M for MSE, 1/M for L1 (computed in f64).
pub fn loss_grad_scale(l: Loss, m: usize) -> f64 {
    match l {
        Loss::Mse => 2.0 / m as f64,
        Loss::L1 => 1.0 / m as f64,
    }
}

pub fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::Mse => "mse_loss",
        Loss::L1 => "l1_loss",
    }
}

/// The SSIM dissimilarity map 1 − S of x against t, each [planes, h, w] with values in
/// [−1, 1] (the network's velocity scale), S computed as [`crate::metrics::ssim`] does on
/// (v + 1) / 2: an 11 × 11 Gaussian window of σ = 1.5 with zero padding, C1 = 0.01²,
/// C2 = 0.03². Its mean is 1 − SSIM, the loss term `ssim` of training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ssim {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
}

impl Ssim {
    /// Half the window's width: it spans offsets −RADIUS..=RADIUS.
    pub const RADIUS: usize = 5;
    pub const C1: f64 = 0.0001;
    pub const C2: f64 = 0.0009;

    pub fn new(x: Shape4) -> Result<Self> {
        positive("ssim", "x", &x)?;
        if x[1] != 1 {
            return Err(Error::shape(
                "ssim",
                "x",
                format!("{x:?} has {} channels; SSIM compares one-channel images", x[1]),
            ));
        }
        Ok(Ssim { planes: x[0], h: x[2], w: x[3] })
    }
    pub fn len(&self) -> usize {
        self.planes * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The normalised 1-D Gaussian whose outer product is the window.
    pub fn window() -> [f64; 2 * Self::RADIUS + 1] {
        let mut g = [0.0; 2 * Self::RADIUS + 1];
        for (i, v) in g.iter_mut().enumerate() {
            let d = i as f64 - Self::RADIUS as f64;
            *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
        }
        let sum: f64 = g.iter().sum();
        g.map(|v| v / sum)
    }
    pub fn check(&self, op: &str, x: usize, t: usize) -> Result<()> {
        check_len(op, "x", x, &[self.len()])?;
        check_len(op, "t", t, &[self.len()])
    }
}

/// One window's statistics of a = (x + 1)/2 and b = (t + 1)/2 (means, variances,
/// covariance) give S and, for the backward pass, ∂S/∂μa (E[a²] and E[ab] held),
/// ∂S/∂E[a²] and ∂S/∂E[ab].
pub fn ssim_terms(ma: f64, mb: f64, va: f64, vb: f64, cov: f64) -> (f64, [f64; 3]) {
    let a1 = 2.0 * ma * mb + Ssim::C1;
    let a2 = 2.0 * cov + Ssim::C2;
    let b1 = ma * ma + mb * mb + Ssim::C1;
    let b2 = va + vb + Ssim::C2;
    let s = (a1 * a2) / (b1 * b2);
    let d_mu = s * (2.0 * mb / a1 - 2.0 * mb / a2 - 2.0 * ma / b1 + 2.0 * ma / b2);
    let d_eaa = -s / b2;
    let d_eab = 2.0 * a1 / (b1 * b2);
    (s, [d_mu, d_eaa, d_eab])
}

/// x and t must have the same, non-zero, length (the mean of nothing is undefined).
pub fn check_loss_lens(op: &str, x: usize, t: usize) -> Result<()> {
    check_len(op, "t", t, &[x])?;
    if x == 0 {
        return Err(Error::shape(op, "x", "is empty: the mean loss of no elements is undefined"));
    }
    Ok(())
}

/// Concatenation of a [n,ca,hw] and b [n,cb,hw] along channels, and its inverse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Concat {
    pub n: usize,
    pub ca: usize,
    pub cb: usize,
    pub hw: usize,
}

impl Concat {
    pub fn new(a: Shape4, b: Shape4) -> Result<Self> {
        if a[0] != b[0] || a[2] != b[2] || a[3] != b[3] {
            return Err(Error::shape(
                "concat",
                "b",
                format!("shape {b:?} does not match a {a:?} outside the channel dim"),
            ));
        }
        positive("concat", "shape", &a)?;
        positive("concat", "shape", &b)?;
        Ok(Concat { n: a[0], ca: a[1], cb: b[1], hw: a[2] * a[3] })
    }
    pub fn y_len(&self) -> usize {
        self.n * (self.ca + self.cb) * self.hw
    }
}

/// Adam / AdamW hyper-parameters (PyTorch semantics). `decoupled` selects AdamW.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub decoupled: bool,
}

impl Adam {
    /// "adam" or "adamw", for messages.
    pub fn name(&self) -> &'static str {
        if self.decoupled { "adamw" } else { "adam" }
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false }
    }
}

/// The per-step scalars of one update, computed on the host in f64 and rounded once to the
/// engine's float type. The GPU receives the same values in its uniform block, so a new step
/// number never needs a new pipeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepScalars {
    /// The hyper-parameters these come from.
    pub hyper: Adam,
    pub beta1: f64,
    pub one_minus_beta1: f64,
    pub beta2: f64,
    pub one_minus_beta2: f64,
    /// lr / (1 − β1^t)
    pub step_size: f64,
    /// sqrt(1 − β2^t)
    pub bc2_sqrt: f64,
    pub eps: f64,
    /// Coupled (L2) weight decay added to the gradient: wd for Adam, 0 for AdamW.
    pub l2: f64,
    /// Decoupled decay factor applied to p first: 1 − lr·wd for AdamW, 1 for Adam.
    pub decay: f64,
}

impl StepScalars {
    /// "adam" or "adamw", for messages.
    pub fn op(&self) -> &'static str {
        self.hyper.name()
    }

    /// Validates the hyper-parameters (as torch.optim does) and the step number (from 1).
    pub fn new(g: &Adam, step: u32) -> Result<Self> {
        let op = g.name();
        if step == 0 {
            return Err(Error::config(op, "step must count from 1 (got 0): bias correction divides by 1 − β^step"));
        }
        let bad = |what: &str, v: f32, rule: &str| Err(Error::config(op, format!("{what} = {v} {rule}")));
        if !(g.lr >= 0.0 && g.lr.is_finite()) {
            return bad("lr", g.lr, "must be finite and ≥ 0");
        }
        if !(g.eps >= 0.0 && g.eps.is_finite()) {
            return bad("eps", g.eps, "must be finite and ≥ 0");
        }
        if !(0.0..1.0).contains(&g.beta1) {
            return bad("beta1", g.beta1, "must lie in [0, 1)");
        }
        if !(0.0..1.0).contains(&g.beta2) {
            return bad("beta2", g.beta2, "must lie in [0, 1)");
        }
        if !(g.weight_decay >= 0.0 && g.weight_decay.is_finite()) {
            return bad("weight_decay", g.weight_decay, "must be finite and ≥ 0");
        }
        let (lr, b1, b2, wd) = (g.lr as f64, g.beta1 as f64, g.beta2 as f64, g.weight_decay as f64);
        let t = step as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        Ok(StepScalars {
            hyper: *g,
            beta1: b1,
            one_minus_beta1: 1.0 - b1,
            beta2: b2,
            one_minus_beta2: 1.0 - b2,
            step_size: lr / bc1,
            bc2_sqrt: bc2.sqrt(),
            eps: g.eps as f64,
            l2: if g.decoupled { 0.0 } else { wd },
            decay: if g.decoupled { 1.0 - lr * wd } else { 1.0 },
        })
    }
}

/// Checks that grad, m and v match p's length.
pub fn check_adam_lens(g: &Adam, p: usize, grad: usize, m: usize, v: usize) -> Result<()> {
    let op = g.name();
    check_len(op, "grad", grad, &[p])?;
    check_len(op, "m", m, &[p])?;
    check_len(op, "v", v, &[p])
}
