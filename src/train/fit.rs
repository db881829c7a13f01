//! The training loop: shuffled mini-batches, a learning-rate schedule, validation each
//! epoch, `metrics.csv`, `last` and `best` checkpoints, and a clean stop on request.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use crate::data::write_file_atomic;
use crate::error::{Error, Result};
use crate::nn::programs::LossKind;
use crate::rng::Rng;
use crate::runner::{Counters, Runner};

/// A split in network layout, normalised: inputs [n, c, h, w] and targets [n, 1, h, w].
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub n: usize,
    pub input_len: usize,
    pub target_len: usize,
    pub input: Vec<f32>,
    pub target: Vec<f32>,
}

impl Samples {
    /// No samples yet, of the sizes `layout` gives.
    pub fn new(layout: &super::layout::Layout) -> Samples {
        Samples { input_len: layout.input_len(), target_len: layout.target_len(), ..Default::default() }
    }
    pub fn input(&self, i: usize) -> &[f32] {
        &self.input[i * self.input_len..][..self.input_len]
    }
    pub fn target(&self, i: usize) -> &[f32] {
        &self.target[i * self.target_len..][..self.target_len]
    }
    /// Moves every `k`-th sample (from `offset`) into a second split.
    pub fn split_every(self, k: usize, offset: usize) -> (Samples, Samples) {
        let mut a = Samples { input_len: self.input_len, target_len: self.target_len, ..Default::default() };
        let mut b = a.clone();
        for i in 0..self.n {
            let s = if k > 0 && i % k == offset % k { &mut b } else { &mut a };
            s.input.extend_from_slice(self.input(i));
            s.target.extend_from_slice(self.target(i));
            s.n += 1;
        }
        (a, b)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant,
    /// Cosine decay from the initial rate to zero over the run's epochs, or over its time
    /// budget when it has one (`brine demo`'s, `brine train --seconds`).
    Cosine,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        every: usize,
        gamma: f32,
    },
}

impl std::str::FromStr for Schedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::config("train", format!("schedule `{s}` is not constant, cosine or step:EVERY:GAMMA"));
        Ok(match s {
            "constant" => Schedule::Constant,
            "cosine" => Schedule::Cosine,
            _ => {
                let mut parts = s.strip_prefix("step:").ok_or_else(bad)?.split(':');
                let every = parts.next().and_then(|p| p.parse().ok()).filter(|&e| e > 0).ok_or_else(bad)?;
                let gamma = parts.next().and_then(|p| p.parse().ok()).filter(|g: &f32| *g > 0.0).ok_or_else(bad)?;
                Schedule::Step { every, gamma }
            }
        })
    }
}

/// Cosine decay from `base` to zero: the rate once `done` (0…1) of the run is done.
fn cosine(base: f32, done: f32) -> f32 {
    base * 0.5 * (1.0 + (std::f32::consts::PI * done).cos())
}

impl Schedule {
    pub fn lr(&self, base: f32, epoch: usize, epochs: usize) -> f32 {
        match *self {
            Schedule::Constant => base,
            Schedule::Cosine => cosine(base, epoch as f32 / epochs.max(1) as f32),
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every) as i32),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub schedule: Schedule,
    pub seed: u64,
    pub loss: LossKind,
    pub progress: bool,
    /// A time budget in seconds, counted as the epochs' `seconds` in `metrics.csv` (so a
    /// resumed run counts the time it trained before). Training stops after the epoch that
    /// ends past it, and a cosine schedule decays over it instead of over the epochs.
    pub budget_s: Option<f64>,
    /// Flip each training sample left to right with probability ½ (`Layout::flip`; only
    /// for mirror-symmetric acquisitions).
    pub flip: Option<super::layout::Layout>,
}

/// One line of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_mae: f64,
    pub lr: f32,
    /// The epoch's wall time: training, validation and saving.
    pub seconds: f64,
    /// Mean wall-clock milliseconds of one training step (validation not included).
    pub step_ms: f64,
}

pub const METRICS_HEADER: &str = "epoch,train_loss,val_loss,val_mae,lr,seconds,step_ms";

impl EpochRow {
    fn csv(&self) -> String {
        format!(
            "{},{:.6e},{:.6e},{:.6e},{:.3e},{},{:.3}",
            self.epoch, self.train_loss, self.val_loss, self.val_mae, self.lr, self.seconds, self.step_ms
        )
    }
    fn parse(line: &str) -> Option<EpochRow> {
        let f: Vec<&str> = line.split(',').collect();
        Some(EpochRow {
            epoch: f.first()?.parse().ok()?,
            train_loss: f.get(1)?.parse().ok()?,
            val_loss: f.get(2)?.parse().ok()?,
            val_mae: f.get(3)?.parse().ok()?,
            lr: f.get(4)?.parse().ok()?,
            seconds: f.get(5)?.parse().ok()?,
            step_ms: f.get(6)?.parse().ok()?,
        })
    }
}

/// The rows of a run's `metrics.csv` (none if it does not exist yet).
pub fn read_metrics(run: &Path) -> Result<Vec<EpochRow>> {
    let path = run.join("metrics.csv");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(vec![]) };
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| EpochRow::parse(l).ok_or_else(|| Error::file(&path, format!("unreadable line `{l}`"))))
        .collect()
}

fn write_metrics(run: &Path, rows: &[EpochRow]) -> Result<()> {
    let text: String = std::iter::once(METRICS_HEADER.to_string())
        .chain(rows.iter().map(EpochRow::csv))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    write_file_atomic(&run.join("metrics.csv"), text.as_bytes())
}

/// What training steps asked of the GPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuWork {
    pub steps: Counters,
    pub count: usize,
    pub loss_reads: usize,
}

/// How a run ended.
pub struct Outcome {
    pub rows: Vec<EpochRow>,
    pub interrupted: bool,
    /// On a GPU: what this session's training steps asked of it (their loss reads, the
    /// validation and saving apart), how many steps, and how many loss reads (one host
    /// sync each) there were.
    pub gpu_work: Option<GpuWork>,
}

/// The progress bar reads the losses back (a host sync; steps themselves have none) once
/// this much time and this many steps have passed since the last read, and at the end of
/// each epoch.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
const PROGRESS_STEPS: usize = 16;

/// The mean of the losses read back so far in an epoch.
#[derive(Default)]
struct LossSum {
    total: f64,
    count: usize,
}

impl LossSum {
    /// Reads the runner's loss log (an error if a loss was not finite).
    fn read(&mut self, runner: &mut Runner) -> Result<()> {
        let losses = runner.losses()?;
        self.total += losses.iter().map(|&l| l as f64).sum::<f64>();
        self.count += losses.len();
        Ok(())
    }
    fn mean(&self) -> f64 {
        self.total / self.count.max(1) as f64
    }
}

/// A batch: inputs and targets of `b` samples, laid out for the network.
pub type Batch = (Vec<f32>, Vec<f32>);

/// Where training batches come from: samples in memory, or shards streamed from disk.
pub trait Batches: Sync {
    /// Training samples per epoch.
    fn samples(&self) -> usize;
    /// Sends one epoch's batches of `b` samples (a last partial one is dropped), in an order
    /// drawn from `rng`; stops early when the receiver is gone.
    fn send_epoch(&self, rng: Rng, b: usize, tx: &SyncSender<Result<Batch>>);
}

/// A shuffle of 0..n.
pub fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

impl Samples {
    /// The samples `idx`, one after another, as a batch.
    pub fn gather(&self, idx: &[usize]) -> Batch {
        let x = idx.iter().flat_map(|&i| self.input(i).iter().copied()).collect();
        let t = idx.iter().flat_map(|&i| self.target(i).iter().copied()).collect();
        (x, t)
    }
}

impl Batches for Samples {
    fn samples(&self) -> usize {
        self.n
    }
    fn send_epoch(&self, mut rng: Rng, b: usize, tx: &SyncSender<Result<Batch>>) {
        for idx in shuffled(self.n, &mut rng).chunks_exact(b) {
            if tx.send(Ok(self.gather(idx))).is_err() {
                return;
            }
        }
    }
}

/// Trains from epoch `rows.len()` (0 for a new run, more on resume) to `opts.epochs`,
/// writing `metrics.csv`, `last.safetensors` every epoch and `best.safetensors` whenever
/// the validation loss improves. When `stop` turns true it saves `last` and returns.
pub fn fit(
    runner: &mut Runner,
    train: &dyn Batches,
    val: &Samples,
    opts: &Options,
    run: &Path,
    mut rows: Vec<EpochRow>,
    stop: &AtomicBool,
) -> Result<Outcome> {
    let b = opts.batch;
    if train.samples() < b {
        return Err(Error::config(
            "train",
            format!("batch size {b} is larger than the {} training samples", train.samples()),
        ));
    }
    if val.n == 0 {
        return Err(Error::config("train", "the validation split is empty"));
    }
    let steps = train.samples() / b;
    let mut work: Option<GpuWork> = None;
    let mut best = rows.iter().map(|r| r.val_loss).fold(f64::INFINITY, f64::min);
    let mut since = Instant::now();
    for epoch in rows.len()..opts.epochs {
        let spent = spent_s(&rows);
        if opts.budget_s.is_some_and(|b| spent >= b) {
            break;
        }
        let started = Instant::now();
        let lr = match (opts.schedule, opts.budget_s) {
            (Schedule::Cosine, Some(b)) => cosine(opts.lr, (spent / b).min(1.0) as f32),
            (schedule, _) => schedule.lr(opts.lr, epoch, opts.epochs),
        };
        runner.set_lr(lr);
        let rng = Rng::new(opts.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
        let mut flips = Rng::new(!opts.seed ^ (epoch as u64).wrapping_mul(0xF11B_F11B));
        let bar = progress_bar(opts.progress, steps as u64, epoch, opts.epochs);
        let mut sum = LossSum::default();
        let mut epoch_work = GpuWork::default();
        let interrupted = std::thread::scope(|scope| -> Result<bool> {
            // The next batches are read, normalised and laid out on another thread.
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || train.send_epoch(rng, b, &tx));
            let mut shown = Instant::now();
            for s in 0..steps {
                let (mut x, mut t) = rx.recv().map_err(|_| Error::config("train", "the batch loader stopped"))??;
                if let Some(l) = &opts.flip {
                    let pairs = x.chunks_exact_mut(l.input_len()).zip(t.chunks_exact_mut(l.target_len()));
                    for (xi, ti) in pairs.filter(|_| flips.uniform() < 0.5) {
                        l.flip(xi, ti);
                    }
                }
                let before = runner.counters();
                runner.step(&x, &t)?;
                if let (Some(after), Some(before)) = (runner.counters(), before) {
                    epoch_work.steps = epoch_work.steps + (after - before);
                }
                epoch_work.count += 1;
                bar.inc(1);
                if shown.elapsed() >= PROGRESS_EVERY && runner.pending() >= PROGRESS_STEPS {
                    sum.read(runner)?;
                    epoch_work.loss_reads += 1;
                    shown = Instant::now();
                    let rate = ((s + 1) * b) as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!("loss {:.4}  {rate:.1} samples/s", sum.mean()));
                }
                if stop.load(Ordering::SeqCst) {
                    return Ok(true);
                }
            }
            Ok(false)
        })?;
        sum.read(runner)?;
        if runner.counters().is_some() {
            let w = work.get_or_insert_with(GpuWork::default);
            w.steps = w.steps + epoch_work.steps;
            w.count += epoch_work.count;
            w.loss_reads += epoch_work.loss_reads + 1;
        }
        if interrupted {
            bar.abandon_with_message("interrupted: saving the last checkpoint");
            runner.save(&run.join("last.safetensors"))?;
            return Ok(Outcome { rows, interrupted: true, gpu_work: work });
        }
        let step_ms = started.elapsed().as_secs_f64() * 1e3 / steps as f64;
        let train_loss = sum.mean();
        let pred = runner.predict_all(&val.input)?;
        let [_, _, h, w] = runner.input_shape();
        let val_loss = opts.loss.of(&pred, &val.target, (h, w));
        let val_mae = LossKind::L1.of(&pred, &val.target, (h, w));
        if !val_loss.is_finite() {
            return Err(Error::config(
                "train",
                format!(
                    "epoch {}: the validation loss is {val_loss} (the network's outputs are not finite; is --lr {} \
                     too large?); stopped before saving this epoch",
                    epoch + 1,
                    lr
                ),
            ));
        }
        bar.finish_with_message(format!("loss {train_loss:.4}  val {val_loss:.4}"));
        if opts.progress && !std::io::stderr().is_terminal() {
            // No bar is drawn into a log: one line per epoch instead.
            eprintln!(
                "epoch {}/{}: train loss {train_loss:.4}, validation loss {val_loss:.4} (MAE {val_mae:.4}), \
                 lr {lr:.3e}, {:.0} s",
                epoch + 1,
                opts.epochs,
                started.elapsed().as_secs_f64()
            );
        }
        runner.save(&run.join("last.safetensors"))?;
        if val_loss < best {
            best = val_loss;
            runner.save(&run.join("best.safetensors"))?;
        }
        // The epoch's whole wall time (since the last one ended), to the millisecond as
        // metrics.csv keeps it, so a time budget counts the same seconds now and on resume.
        let seconds = to_millis(since.elapsed().as_secs_f64());
        since = Instant::now();
        rows.push(EpochRow { epoch, train_loss, val_loss, val_mae, lr, seconds, step_ms });
        write_metrics(run, &rows)?;
    }
    Ok(Outcome { rows, interrupted: false, gpu_work: work })
}

/// `s` rounded to the millisecond: a value that `{}` prints with at most three decimals,
/// which parse back to the same f64.
fn to_millis(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The seconds a run has trained: its epochs' `seconds`, in order (the sum a resumed run
/// reads back from metrics.csv).
pub fn spent_s(rows: &[EpochRow]) -> f64 {
    rows.iter().map(|r| r.seconds).sum()
}

fn progress_bar(show: bool, steps: u64, epoch: usize, epochs: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}/{epochs}", epoch + 1));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_through_metrics_csv() {
        let mut x = 0.000_4_f64;
        while x < 1e7 {
            let row = EpochRow {
                epoch: 0,
                train_loss: 1.0,
                val_loss: 1.0,
                val_mae: 1.0,
                lr: 1e-3,
                seconds: to_millis(x),
                step_ms: 1.0,
            };
            let text = row.csv();
            let field = text.split(',').nth(5).unwrap();
            let decimals = field.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 3, "{x} s written as {field}");
            assert_eq!(EpochRow::parse(&text), Some(row), "{x} s");
            assert!((to_millis(x) - x).abs() <= 0.000_5 + x * 1e-15, "{x} s rounded to {}", to_millis(x));
            x = x * 1.37 + 0.000_7;
        }
    }
}
