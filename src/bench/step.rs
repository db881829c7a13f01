//! The network's training step and inference, timed through the same `Runner` that
//! `brine train` uses, on whatever device it is given: the step is what training runs —
//! the captured forward, loss, backward, loss log and Adam on a GPU, in one submission —
//! and the losses are read back once at the end, as a progress update would.

use std::time::Instant;

use super::median;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::graph::exec::Plan;
use crate::graph::{Graph, Op};
use crate::nn::Config;
use crate::nn::programs::LossKind;
use crate::ops::Adam;
use crate::rng::Rng;
use crate::runner::{Counters, Init, Runner};

/// One measured network configuration.
#[derive(Clone, Debug)]
pub struct StepRow {
    pub name: String,
    /// Wall-clock milliseconds per training step over a run of steps, including the wait for
    /// the device at the end.
    pub train_ms: f64,
    /// Median milliseconds of one inference, result read back.
    pub infer_ms: f64,
    /// The same with every attention map kept and read back (`infer --attention`); None
    /// when the network has no attention.
    pub infer_maps_ms: Option<f64>,
    /// Convolution GFLOP of one training step and of one inference.
    pub train_gflop: f64,
    pub infer_gflop: f64,
    /// Planned peak of the live intermediate values of a training step and of inference.
    pub train_peak_bytes: u64,
    pub infer_peak_bytes: u64,
    /// Parameters, gradients-to-be and Adam moments: what a training runner holds besides.
    pub state_bytes: u64,
    /// Per training step on a GPU: (dispatches, submissions, host syncs, back-pressure waits).
    pub per_step: Option<[f64; 4]>,
    /// How much the process's peak resident set grew while this ran (Linux).
    pub rss_growth_bytes: u64,
}

impl StepRow {
    /// One line; `peak_gflops` (the CPU's measured fp32 peak) adds the share of it.
    pub fn line(&self, peak_gflops: Option<f64>) -> String {
        let rate = |gflop: f64, ms: f64| gflop / (ms / 1e3);
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let tr = rate(self.train_gflop, self.train_ms);
        let share = peak_gflops.map_or(String::new(), |p| format!(", {:.1} % of peak", 100.0 * tr / p));
        let mut s = format!(
            "{:<18} train {:>9.2} ms/step ({:.2} GFLOP conv, {tr:.0} GFLOP/s{share})  infer {:>8.2} ms ({:.0} GFLOP/s)  \
             memory: plan peak {:.1} MiB train / {:.1} MiB infer + {:.1} MiB state",
            self.name,
            self.train_ms,
            self.train_gflop,
            self.infer_ms,
            rate(self.infer_gflop, self.infer_ms),
            mib(self.train_peak_bytes),
            mib(self.infer_peak_bytes),
            mib(self.state_bytes),
        );
        if let Some(m) = self.infer_maps_ms {
            s += &format!("; with attention maps {m:.2} ms ({:+.1} %)", 100.0 * (m / self.infer_ms - 1.0));
        }
        if let Some([d, sub, sync, bp]) = self.per_step {
            s += &format!(
                "; per step: {d:.0} dispatches, {sub:.2} submissions, {sync:.2} host syncs, {bp:.2} back-pressure waits"
            );
        }
        if self.rss_growth_bytes > 0 {
            s += &format!("; resident +{:.0} MiB", mib(self.rss_growth_bytes));
        }
        s
    }
}

/// A short name for a config: "cbam+gates 32-256".
pub fn config_name(cfg: &Config) -> String {
    let w = &cfg.widths;
    let widths = format!("{}-{}", w[0], w[w.len() - 1]);
    format!("{:?}{} {widths}", cfg.attention, if cfg.gates { "+gates" } else { "" }).to_lowercase()
}

/// Multiply-adds ×2 of every convolution (forward, backward-data, backward-weight, and the
/// transposed ones) a plan runs.
pub fn conv_flops(g: &Graph, plan: &Plan) -> f64 {
    plan.nodes
        .iter()
        .map(|&i| match &g.nodes[i].op {
            Op::Conv2d { g: c, .. } | Op::Conv2dBwdData(c) | Op::Conv2dBwdWeight(c) => c.flops(),
            Op::ConvTranspose2d { g: c, .. } | Op::ConvTranspose2dBwdData(c) | Op::ConvTranspose2dBwdWeight(c) => {
                c.flops()
            }
            _ => 0.0,
        })
        .sum()
}

/// The process's peak resident set (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(0, |kb: u64| kb * 1024)
}

/// Times `iters` training steps (MSE, Adam) and `iters` inferences of `cfg` on random data
/// of shape `x`, after two warm-up steps, through a training `Runner` on `device`.
pub fn step(device: &Device, cfg: &Config, x: [usize; 4], iters: usize) -> Result<StepRow> {
    if iters == 0 {
        return Err(Error::config("bench", "iters must be at least 1"));
    }
    let rss0 = peak_rss();
    let mse = LossKind::MSE;
    let mut runner = Runner::training(device, cfg, x, mse, Adam::default(), Init::Seed(1))?;
    let mut rng = Rng::new(5);
    let n: usize = x.iter().product();
    let input = rng.normal_vec(n, 1.0);
    let target = rng.normal_vec(n / x[1] * cfg.out_channels, 1.0);
    for _ in 0..2 {
        runner.step(&input, &target)?;
    }
    runner.losses()?;
    let before = runner.counters();
    let start = Instant::now();
    for _ in 0..iters {
        runner.step(&input, &target)?;
    }
    let during: Option<Counters> = runner.counters().zip(before).map(|(a, b)| a - b);
    runner.losses()?;
    let train_ms = start.elapsed().as_secs_f64() * 1e3 / iters as f64;
    let mut infer = vec![];
    for _ in 0..=iters {
        let start = Instant::now();
        runner.predict(&input)?;
        infer.push(start.elapsed().as_secs_f64() * 1e3);
    }
    infer.remove(0);
    let infer_maps_ms = infer_with_maps(device, cfg, x, &input, iters)?;
    let ts = runner.train_step().ok_or_else(|| Error::config("bench", "no training step"))?;
    let (train_peak_bytes, infer_peak_bytes) = runner.peak_bytes();
    let params: u64 = crate::nn::programs::shapes(cfg)?.0.iter().map(|(_, s)| s.iter().product::<usize>() as u64).sum();
    let inf = runner.inference_program();
    let k = iters as f64;
    Ok(StepRow {
        name: config_name(cfg),
        train_ms,
        infer_ms: median(infer),
        infer_maps_ms,
        train_gflop: conv_flops(&ts.graph, &ts.plan) / 1e9,
        infer_gflop: conv_flops(&inf.graph, &inf.plan) / 1e9,
        train_peak_bytes,
        infer_peak_bytes,
        state_bytes: params * 4 * 3,
        per_step: during.map(|c| {
            [c.dispatches as f64 / k, c.submissions as f64 / k, c.syncs as f64 / k, c.backpressure as f64 / k]
        }),
        rss_growth_bytes: peak_rss().saturating_sub(rss0),
    })
}

/// Median milliseconds of an inference that keeps every attention map (None without any).
fn infer_with_maps(device: &Device, cfg: &Config, x: [usize; 4], input: &[f32], iters: usize) -> Result<Option<f64>> {
    let mut runner = Runner::inference_with_maps(device, cfg, x, Init::Seed(1))?;
    if runner.maps().is_empty() {
        return Ok(None);
    }
    let mut ms = vec![];
    for _ in 0..=iters {
        let start = Instant::now();
        runner.predict_with_maps(input)?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.remove(0);
    Ok(Some(median(ms)))
}
