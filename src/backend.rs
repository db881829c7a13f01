//! One interface over the backends: `Gpu` runs the WGSL kernels (`kernels/`), `Cpu` runs
//! the CPU fast paths (`fast/`), and `Reference` runs the plain-loop twins (`cpu/`) that
//! both are checked against, all in f32. Method names are `<family>_<entry>`; the golden
//! runner, the parity tests and the benchmarks all go through this trait.

use std::cell::RefCell;

use crate::error::Result;
use crate::gpu::{Context, GpuTensor, Program, Recorder};
use crate::ops::*;
use crate::{cpu, fast, kernels};

pub trait Backend {
    type Tensor;
    /// Argmax positions kept by max pooling and max reductions for their backward.
    type Index;

    fn name(&self) -> String;
    fn upload(&self, name: &str, data: &[f32]) -> Result<Self::Tensor>;
    fn download(&self, t: &Self::Tensor) -> Result<Vec<f32>>;
    /// Takes back a tensor the caller is done with, so its memory can serve a later one.
    fn recycle(&self, t: Self::Tensor) {
        drop(t);
    }

    fn conv2d_fwd(
        &self,
        g: &Conv2d,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor>;
    fn conv2d_bwd_data(&self, g: &Conv2d, dy: &Self::Tensor, w: &Self::Tensor) -> Result<Self::Tensor>;
    fn conv2d_bwd_weight(&self, g: &Conv2d, x: &Self::Tensor, dy: &Self::Tensor) -> Result<Self::Tensor>;
    fn conv2d_bwd_bias(&self, g: &Conv2d, dy: &Self::Tensor) -> Result<Self::Tensor>;

    fn conv_transpose2d_fwd(
        &self,
        g: &ConvTranspose2d,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor>;
    fn conv_transpose2d_bwd_data(
        &self,
        g: &ConvTranspose2d,
        dy: &Self::Tensor,
        w: &Self::Tensor,
    ) -> Result<Self::Tensor>;
    fn conv_transpose2d_bwd_weight(
        &self,
        g: &ConvTranspose2d,
        x: &Self::Tensor,
        dy: &Self::Tensor,
    ) -> Result<Self::Tensor>;
    fn conv_transpose2d_bwd_bias(&self, g: &ConvTranspose2d, dy: &Self::Tensor) -> Result<Self::Tensor>;

    fn max_pool2d_fwd(&self, g: &Pool2d, x: &Self::Tensor) -> Result<(Self::Tensor, Self::Index)>;
    fn max_pool2d_bwd(&self, g: &Pool2d, dy: &Self::Tensor, idx: &Self::Index) -> Result<Self::Tensor>;

    fn reduce_mean_fwd(&self, g: &Reduce, x: &Self::Tensor) -> Result<Self::Tensor>;
    fn reduce_mean_bwd(&self, g: &Reduce, dy: &Self::Tensor) -> Result<Self::Tensor>;
    fn reduce_max_fwd(&self, g: &Reduce, x: &Self::Tensor) -> Result<(Self::Tensor, Self::Index)>;
    fn reduce_max_bwd(&self, g: &Reduce, dy: &Self::Tensor, idx: &Self::Index) -> Result<Self::Tensor>;

    fn gate_fwd(&self, g: &Gate, x: &Self::Tensor, z: &Self::Tensor) -> Result<Self::Tensor>;
    /// Returns (dx, dz).
    fn gate_bwd(
        &self,
        g: &Gate,
        x: &Self::Tensor,
        z: &Self::Tensor,
        dy: &Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor)>;

    /// Returns (y, batch mean, batch 1/sqrt(var+eps)); updates the running statistics.
    #[allow(clippy::too_many_arguments)]
    fn batchnorm_train_fwd(
        &self,
        g: &BatchNorm,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
        running_mean: &mut Self::Tensor,
        running_var: &mut Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor, Self::Tensor)>;
    /// Returns (dx, dgamma, dbeta).
    fn batchnorm_train_bwd(
        &self,
        g: &BatchNorm,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        mean: &Self::Tensor,
        invstd: &Self::Tensor,
        dy: &Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor, Self::Tensor)>;
    fn batchnorm_eval_fwd(
        &self,
        g: &BatchNorm,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
        running_mean: &Self::Tensor,
        running_var: &Self::Tensor,
    ) -> Result<Self::Tensor>;
    fn batchnorm_eval_bwd(
        &self,
        g: &BatchNorm,
        gamma: &Self::Tensor,
        running_var: &Self::Tensor,
        dy: &Self::Tensor,
    ) -> Result<Self::Tensor>;

    fn act_fwd(&self, a: Act, x: &Self::Tensor) -> Result<Self::Tensor>;
    fn act_bwd(&self, a: Act, x: &Self::Tensor, dy: &Self::Tensor) -> Result<Self::Tensor>;
    fn add(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    fn concat(&self, g: &Concat, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    fn split(&self, g: &Concat, y: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)>;

    /// The mean loss as a one-element tensor.
    fn loss_fwd(&self, l: Loss, x: &Self::Tensor, t: &Self::Tensor) -> Result<Self::Tensor>;
    /// Gradient wrt x, given the upstream gradient `dy` of the one-element loss.
    fn loss_bwd(&self, l: Loss, x: &Self::Tensor, t: &Self::Tensor, dy: &Self::Tensor) -> Result<Self::Tensor>;
    /// The SSIM dissimilarity map 1 − S of x against t.
    fn ssim_fwd(&self, g: &Ssim, x: &Self::Tensor, t: &Self::Tensor) -> Result<Self::Tensor>;
    /// Gradient wrt x, given the map's upstream gradient `dy`.
    fn ssim_bwd(&self, g: &Ssim, x: &Self::Tensor, t: &Self::Tensor, dy: &Self::Tensor) -> Result<Self::Tensor>;

    /// One Adam/AdamW step (`step` counts from 1) on p with moments m and v.
    fn adam_step(
        &self,
        g: &Adam,
        step: u32,
        p: &mut Self::Tensor,
        grad: &Self::Tensor,
        m: &mut Self::Tensor,
        v: &mut Self::Tensor,
    ) -> Result<()>;
}

/// The CPU backend: the fast paths of `fast/` (tuned GEMM, vectorised loops, threads),
/// output buffers reused across steps.
pub struct Cpu;

/// The plain-loop reference twins of `cpu/`, in f32: what `Cpu` and `Gpu` are checked
/// against.
pub struct Reference;

/// The WGSL backend. Each call records its dispatches and submits them at once, or, inside
/// `begin_batch` … `flush`, into one command encoder that is submitted once.
pub struct Gpu<'a> {
    ctx: &'a Context,
    batch: RefCell<Option<Recorder<'a>>>,
}

impl<'a> Gpu<'a> {
    pub fn new(ctx: &'a Context) -> Self {
        Gpu { ctx, batch: RefCell::new(None) }
    }

    pub fn context(&self) -> &'a Context {
        self.ctx
    }

    /// From now on, record every op into one encoder (reading a tensor back submits it).
    pub fn begin_batch(&self) {
        let mut batch = self.batch.borrow_mut();
        if batch.is_none() {
            *batch = Some(self.ctx.recorder());
        }
    }

    /// Submits what the batch recorded and ends it.
    pub fn flush(&self) -> Result<()> {
        match self.batch.borrow_mut().take() {
            Some(r) => self.submit(r),
            None => Ok(()),
        }
    }

    /// From now on, capture every op as a replayable `Program` instead of running it.
    pub fn begin_capture(&self) -> Result<()> {
        let mut batch = self.batch.borrow_mut();
        if batch.is_some() {
            return Err(crate::Error::Gpu("begin_capture inside a batch or another capture".into()));
        }
        *batch = Some(self.ctx.capture());
        Ok(())
    }

    /// Ends the capture and returns what it recorded.
    pub fn end_capture(&self) -> Result<Program> {
        match self.batch.borrow_mut().take() {
            Some(r) if r.is_capturing() => r.finish_capture(),
            Some(r) => {
                let _ = r.submit();
                Err(crate::Error::Gpu("end_capture without begin_capture".into()))
            }
            None => Err(crate::Error::Gpu("end_capture without begin_capture".into())),
        }
    }

    /// Runs a captured program (inside the current batch, if one is open).
    pub fn replay(&self, program: &Program) -> Result<()> {
        self.run(|r| r.replay(program))
    }

    /// Dispatches, submissions and host syncs of the context so far.
    pub fn counters(&self) -> crate::gpu::Counters {
        self.ctx.counters()
    }

    fn submit(&self, r: Recorder) -> Result<()> {
        r.submit()
    }

    /// Records `f`'s dispatches into the open batch or capture, or submits them at once.
    pub fn record<R>(&self, f: impl FnOnce(&mut Recorder) -> Result<R>) -> Result<R> {
        self.run(f)
    }

    fn run<R>(&self, f: impl FnOnce(&mut Recorder) -> Result<R>) -> Result<R> {
        if let Some(r) = self.batch.borrow_mut().as_mut() {
            return f(r);
        }
        let mut r = self.ctx.recorder();
        let out = f(&mut r)?;
        self.submit(r)?;
        Ok(out)
    }
}

/// The two host backends are the same calls into modules of the same names: `cpu/` (the
/// reference twins, plain allocations) and `fast/` (the fast paths, pooled buffers).
macro_rules! host_backend {
    ($ty:ty, $name:expr, $m:ident, $take:path, $give:path) => {
        impl Backend for $ty {
            type Tensor = Vec<f32>;
            type Index = Vec<u32>;

            fn name(&self) -> String {
                $name.into()
            }
            fn upload(&self, _name: &str, data: &[f32]) -> Result<Vec<f32>> {
                let mut t = $take(data.len());
                t.copy_from_slice(data);
                Ok(t)
            }
            fn download(&self, t: &Vec<f32>) -> Result<Vec<f32>> {
                Ok(t.clone())
            }
            fn recycle(&self, t: Vec<f32>) {
                $give(t);
            }
            fn conv2d_fwd(&self, g: &Conv2d, x: &Vec<f32>, w: &Vec<f32>, b: Option<&Vec<f32>>) -> Result<Vec<f32>> {
                $m::conv2d::forward(g, x, w, b.map(|b| b.as_slice()))
            }
            fn conv2d_bwd_data(&self, g: &Conv2d, dy: &Vec<f32>, w: &Vec<f32>) -> Result<Vec<f32>> {
                $m::conv2d::backward_data(g, dy, w)
            }
            fn conv2d_bwd_weight(&self, g: &Conv2d, x: &Vec<f32>, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::conv2d::backward_weight(g, x, dy)
            }
            fn conv2d_bwd_bias(&self, g: &Conv2d, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::conv2d::backward_bias(g, dy)
            }
            fn conv_transpose2d_fwd(
                &self,
                g: &ConvTranspose2d,
                x: &Vec<f32>,
                w: &Vec<f32>,
                b: Option<&Vec<f32>>,
            ) -> Result<Vec<f32>> {
                $m::conv_transpose2d::forward(g, x, w, b.map(|b| b.as_slice()))
            }
            fn conv_transpose2d_bwd_data(&self, g: &ConvTranspose2d, dy: &Vec<f32>, w: &Vec<f32>) -> Result<Vec<f32>> {
                $m::conv_transpose2d::backward_data(g, dy, w)
            }
            fn conv_transpose2d_bwd_weight(
                &self,
                g: &ConvTranspose2d,
                x: &Vec<f32>,
                dy: &Vec<f32>,
            ) -> Result<Vec<f32>> {
                $m::conv_transpose2d::backward_weight(g, x, dy)
            }
            fn conv_transpose2d_bwd_bias(&self, g: &ConvTranspose2d, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::conv_transpose2d::backward_bias(g, dy)
            }
            fn max_pool2d_fwd(&self, g: &Pool2d, x: &Vec<f32>) -> Result<(Vec<f32>, Vec<u32>)> {
                $m::pool::forward(g, x)
            }
            fn max_pool2d_bwd(&self, g: &Pool2d, dy: &Vec<f32>, idx: &Vec<u32>) -> Result<Vec<f32>> {
                $m::pool::backward(g, dy, idx)
            }
            fn reduce_mean_fwd(&self, g: &Reduce, x: &Vec<f32>) -> Result<Vec<f32>> {
                $m::reduce::mean_forward(g, x)
            }
            fn reduce_mean_bwd(&self, g: &Reduce, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::reduce::mean_backward(g, dy)
            }
            fn reduce_max_fwd(&self, g: &Reduce, x: &Vec<f32>) -> Result<(Vec<f32>, Vec<u32>)> {
                $m::reduce::max_forward(g, x)
            }
            fn reduce_max_bwd(&self, g: &Reduce, dy: &Vec<f32>, idx: &Vec<u32>) -> Result<Vec<f32>> {
                $m::reduce::max_backward(g, dy, idx)
            }
            fn gate_fwd(&self, g: &Gate, x: &Vec<f32>, z: &Vec<f32>) -> Result<Vec<f32>> {
                $m::gate::forward(g, x, z)
            }
            fn gate_bwd(&self, g: &Gate, x: &Vec<f32>, z: &Vec<f32>, dy: &Vec<f32>) -> Result<(Vec<f32>, Vec<f32>)> {
                $m::gate::backward(g, x, z, dy)
            }
            fn batchnorm_train_fwd(
                &self,
                g: &BatchNorm,
                x: &Vec<f32>,
                gamma: &Vec<f32>,
                beta: &Vec<f32>,
                running_mean: &mut Vec<f32>,
                running_var: &mut Vec<f32>,
            ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
                $m::batchnorm::train_forward(g, x, gamma, beta, running_mean, running_var)
            }
            fn batchnorm_train_bwd(
                &self,
                g: &BatchNorm,
                x: &Vec<f32>,
                gamma: &Vec<f32>,
                mean: &Vec<f32>,
                invstd: &Vec<f32>,
                dy: &Vec<f32>,
            ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
                $m::batchnorm::train_backward(g, x, gamma, mean, invstd, dy)
            }
            fn batchnorm_eval_fwd(
                &self,
                g: &BatchNorm,
                x: &Vec<f32>,
                gamma: &Vec<f32>,
                beta: &Vec<f32>,
                running_mean: &Vec<f32>,
                running_var: &Vec<f32>,
            ) -> Result<Vec<f32>> {
                $m::batchnorm::eval_forward(g, x, gamma, beta, running_mean, running_var)
            }
            fn batchnorm_eval_bwd(
                &self,
                g: &BatchNorm,
                gamma: &Vec<f32>,
                running_var: &Vec<f32>,
                dy: &Vec<f32>,
            ) -> Result<Vec<f32>> {
                $m::batchnorm::eval_backward(g, gamma, running_var, dy)
            }
            fn act_fwd(&self, a: Act, x: &Vec<f32>) -> Result<Vec<f32>> {
                $m::elementwise::act_forward(a, x)
            }
            fn act_bwd(&self, a: Act, x: &Vec<f32>, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::elementwise::act_backward(a, x, dy)
            }
            fn add(&self, a: &Vec<f32>, b: &Vec<f32>) -> Result<Vec<f32>> {
                $m::elementwise::add(a, b)
            }
            fn concat(&self, g: &Concat, a: &Vec<f32>, b: &Vec<f32>) -> Result<Vec<f32>> {
                $m::elementwise::concat(g, a, b)
            }
            fn split(&self, g: &Concat, y: &Vec<f32>) -> Result<(Vec<f32>, Vec<f32>)> {
                $m::elementwise::split(g, y)
            }
            fn loss_fwd(&self, l: Loss, x: &Vec<f32>, t: &Vec<f32>) -> Result<Vec<f32>> {
                $m::loss::forward(l, x, t)
            }
            fn loss_bwd(&self, l: Loss, x: &Vec<f32>, t: &Vec<f32>, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::loss::backward(l, x, t, dy)
            }
            fn ssim_fwd(&self, g: &Ssim, x: &Vec<f32>, t: &Vec<f32>) -> Result<Vec<f32>> {
                $m::ssim::forward(g, x, t)
            }
            fn ssim_bwd(&self, g: &Ssim, x: &Vec<f32>, t: &Vec<f32>, dy: &Vec<f32>) -> Result<Vec<f32>> {
                $m::ssim::backward(g, x, t, dy)
            }
            fn adam_step(
                &self,
                g: &Adam,
                step: u32,
                p: &mut Vec<f32>,
                grad: &Vec<f32>,
                m: &mut Vec<f32>,
                v: &mut Vec<f32>,
            ) -> Result<()> {
                $m::adam::step(g, step, p, grad, m, v)
            }
        }
    };
}

/// A buffer the reference twins allocate plainly.
fn plain(len: usize) -> Vec<f32> {
    vec![0.0; len]
}

host_backend!(Reference, "cpu reference", cpu, plain, drop);
host_backend!(Cpu, "cpu", fast, fast::buffers::take, fast::buffers::give);

impl Backend for Gpu<'_> {
    type Tensor = GpuTensor;
    type Index = GpuTensor;

    fn name(&self) -> String {
        format!("gpu: {}", self.ctx.adapter_name())
    }
    fn upload(&self, name: &str, data: &[f32]) -> Result<GpuTensor> {
        self.ctx.upload(name, data)
    }
    fn recycle(&self, t: GpuTensor) {
        if let Some(r) = self.batch.borrow_mut().as_mut() {
            r.recycle(t);
        }
    }
    fn download(&self, t: &GpuTensor) -> Result<Vec<f32>> {
        if self.batch.borrow().as_ref().is_some_and(|r| r.is_capturing()) {
            return Err(crate::Error::Gpu("cannot read a tensor while capturing: nothing has run yet".into()));
        }
        // Reading needs the recorded work done: submit the batch and keep batching after.
        if self.batch.borrow().is_some() {
            self.flush()?;
            self.begin_batch();
        }
        self.ctx.read(t)
    }
    fn conv2d_fwd(&self, g: &Conv2d, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        self.run(|r| kernels::conv2d::forward(r, g, x, w, b))
    }
    fn conv2d_bwd_data(&self, g: &Conv2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv2d::backward_data(r, g, dy, w))
    }
    fn conv2d_bwd_weight(&self, g: &Conv2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv2d::backward_weight(r, g, x, dy))
    }
    fn conv2d_bwd_bias(&self, g: &Conv2d, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv2d::backward_bias(r, g, dy))
    }
    fn conv_transpose2d_fwd(
        &self,
        g: &ConvTranspose2d,
        x: &GpuTensor,
        w: &GpuTensor,
        b: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        self.run(|r| kernels::conv_transpose2d::forward(r, g, x, w, b))
    }
    fn conv_transpose2d_bwd_data(&self, g: &ConvTranspose2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv_transpose2d::backward_data(r, g, dy, w))
    }
    fn conv_transpose2d_bwd_weight(&self, g: &ConvTranspose2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv_transpose2d::backward_weight(r, g, x, dy))
    }
    fn conv_transpose2d_bwd_bias(&self, g: &ConvTranspose2d, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::conv_transpose2d::backward_bias(r, g, dy))
    }
    fn max_pool2d_fwd(&self, g: &Pool2d, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
        self.run(|r| kernels::pool::forward(r, g, x))
    }
    fn max_pool2d_bwd(&self, g: &Pool2d, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::pool::backward(r, g, dy, idx))
    }
    fn reduce_mean_fwd(&self, g: &Reduce, x: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::reduce::mean_forward(r, g, x))
    }
    fn reduce_mean_bwd(&self, g: &Reduce, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::reduce::mean_backward(r, g, dy))
    }
    fn reduce_max_fwd(&self, g: &Reduce, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
        self.run(|r| kernels::reduce::max_forward(r, g, x))
    }
    fn reduce_max_bwd(&self, g: &Reduce, dy: &GpuTensor, idx: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::reduce::max_backward(r, g, dy, idx))
    }
    fn gate_fwd(&self, g: &Gate, x: &GpuTensor, z: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::gate::forward(r, g, x, z))
    }
    fn gate_bwd(&self, g: &Gate, x: &GpuTensor, z: &GpuTensor, dy: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
        self.run(|r| kernels::gate::backward(r, g, x, z, dy))
    }
    fn batchnorm_train_fwd(
        &self,
        g: &BatchNorm,
        x: &GpuTensor,
        gamma: &GpuTensor,
        beta: &GpuTensor,
        running_mean: &mut GpuTensor,
        running_var: &mut GpuTensor,
    ) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
        self.run(|r| kernels::batchnorm::train_forward(r, g, x, gamma, beta, running_mean, running_var))
    }
    fn batchnorm_train_bwd(
        &self,
        g: &BatchNorm,
        x: &GpuTensor,
        gamma: &GpuTensor,
        mean: &GpuTensor,
        invstd: &GpuTensor,
        dy: &GpuTensor,
    ) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
        self.run(|r| kernels::batchnorm::train_backward(r, g, x, gamma, mean, invstd, dy))
    }
    fn batchnorm_eval_fwd(
        &self,
        g: &BatchNorm,
        x: &GpuTensor,
        gamma: &GpuTensor,
        beta: &GpuTensor,
        running_mean: &GpuTensor,
        running_var: &GpuTensor,
    ) -> Result<GpuTensor> {
        self.run(|r| kernels::batchnorm::eval_forward(r, g, x, gamma, beta, running_mean, running_var))
    }
    fn batchnorm_eval_bwd(
        &self,
        g: &BatchNorm,
        gamma: &GpuTensor,
        running_var: &GpuTensor,
        dy: &GpuTensor,
    ) -> Result<GpuTensor> {
        self.run(|r| kernels::batchnorm::eval_backward(r, g, gamma, running_var, dy))
    }
    fn act_fwd(&self, a: Act, x: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::elementwise::act_forward(r, a, x))
    }
    fn act_bwd(&self, a: Act, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::elementwise::act_backward(r, a, x, dy))
    }
    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::elementwise::add(r, a, b))
    }
    fn concat(&self, g: &Concat, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::elementwise::concat(r, g, a, b))
    }
    fn split(&self, g: &Concat, y: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
        self.run(|r| kernels::elementwise::split(r, g, y))
    }
    fn loss_fwd(&self, l: Loss, x: &GpuTensor, t: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::loss::forward(r, l, x, t))
    }
    fn loss_bwd(&self, l: Loss, x: &GpuTensor, t: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::loss::backward(r, l, x, t, dy))
    }
    fn ssim_fwd(&self, g: &Ssim, x: &GpuTensor, t: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::ssim::forward(r, g, x, t))
    }
    fn ssim_bwd(&self, g: &Ssim, x: &GpuTensor, t: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
        self.run(|r| kernels::ssim::backward(r, g, x, t, dy))
    }
    fn adam_step(
        &self,
        g: &Adam,
        step: u32,
        p: &mut GpuTensor,
        grad: &GpuTensor,
        m: &mut GpuTensor,
        v: &mut GpuTensor,
    ) -> Result<()> {
        self.run(|r| kernels::adam::step(r, g, step, p, grad, m, v))
    }
}
