//! `brine demo`: from nothing to a trained attention U-Net with numbers and pictures. It
//! synthesises a small salt set (40 × 40 models, 3 shots) and a separate test set, trains a
//! small CBAM + gates U-Net for a bounded time, evaluates it on the test set and draws
//! predictions next to the truth.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::eval::Summary;
use super::synth::{Synth, synth as make_set};
use super::train::RunSpec;
use super::{ensure_dir, infer};
use crate::data::{ShardSpec, shards};
use crate::device::{BackendChoice, Device};
use crate::error::{Error, Result};
use crate::nn::{Attention, Config};
use crate::seismic::Acquisition;

/// The demo's acquisition: a 400 m × 400 m section, 3 shots, 40 receivers, 0.6 s at 1 ms
/// kept every 2 ms.
pub const ACQUISITION: &str = r#"{ "nz": 40, "nx": 40, "dx": 10.0, "dt": 0.001, "nt": 600, "f0": 15.0,
  "sources": {"z": 1, "x": [0, 20, 39]}, "receivers": {"z": 1, "x_from": 0, "x_to": 39},
  "pml": 20, "decimate": 2 }"#;

#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub samples: usize,
    pub test_samples: usize,
    /// Training time budget in seconds (the run stops after the epoch that passes it);
    /// default: 60 on a hardware GPU, 150 on the CPU.
    pub budget_s: Option<f64>,
    /// At most this many epochs; the default is high enough that the budget decides.
    pub epochs: usize,
    pub seed: u64,
    pub backend: BackendChoice,
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from("brine-demo"),
            samples: 800,
            test_samples: 16,
            budget_s: None,
            epochs: 2000,
            seed: 1,
            backend: BackendChoice::Auto,
            progress: true,
        }
    }
}

pub struct Report {
    pub data: PathBuf,
    pub run: PathBuf,
    pub epochs: usize,
    pub engine: String,
    pub test: Summary,
    pub figures: Vec<PathBuf>,
}

fn synth(device: &Device, dir: &Path, count: usize, seed: u64, progress: bool) -> Result<()> {
    let acq: Acquisition = serde_json::from_str(ACQUISITION).expect("the demo acquisition parses");
    let job = Synth {
        acq,
        count,
        seed,
        geology: Default::default(),
        shard: ShardSpec { index: 0, of: 1 },
        per_file: count,
        out: dir.to_path_buf(),
    };
    make_set(&job, device, progress, |_| {})?;
    Ok(())
}

/// Runs the demo on `device` (the one `o.backend` names).
pub fn run(o: &Options, device: &Device, mut say: impl FnMut(&str)) -> Result<Report> {
    // Everything a flag can get wrong, before anything is synthesised.
    if let Some(b) = o.budget_s
        && !(b.is_finite() && b > 0.0)
    {
        return Err(Error::config("demo", format!("--seconds {b} is not a positive number of seconds")));
    }
    if o.samples < 10 || o.test_samples == 0 {
        return Err(Error::config(
            "demo",
            format!("--samples {} must be at least 10 (a batch of 8 to train on and one to validate)", o.samples),
        ));
    }
    ensure_dir(&o.out)?;
    let budget_s = o.budget_s.unwrap_or(if device.is_hardware_gpu() { 60.0 } else { 150.0 });
    let (data, test, run) = (o.out.join("data"), o.out.join("test"), o.out.join("run"));
    say(&format!("1/4 synthesising {} salt models and their shot gathers into {}", o.samples, data.display()));
    synth(device, &data, o.samples, o.seed, o.progress)?;
    say(&format!("    and {} more, never trained on, into {}", o.test_samples, test.display()));
    synth(device, &test, o.test_samples, o.seed + 1_000_003, o.progress)?;
    let config =
        Config { in_channels: 3, out_channels: 1, widths: vec![8, 16, 32], attention: Attention::Cbam, gates: true };
    let spec = RunSpec {
        epochs: o.epochs,
        batch: 8,
        lr: 3e-3,
        // Decays over the time budget (the epochs are only a cap).
        schedule: "cosine".into(),
        seed: o.seed,
        backend: o.backend,
        budget_s: Some(budget_s),
        ..RunSpec::new(data.clone(), config)
    };
    say(&format!(
        "2/4 training a CBAM + gates U-Net (widths 8,16,32) for up to {:.0} s into {}",
        budget_s,
        run.display()
    ));
    let resume = run.join("metrics.csv").exists();
    let trained = super::train::run(&spec, device, &run, resume, o.progress, &AtomicBool::new(false))?;
    say(&format!("    {} epochs on {}, {:.1} ms per step", trained.rows.len(), trained.engine, trained.ms_per_step));
    let best = run.join("best.safetensors");
    say("3/4 evaluating on the test set");
    let (_, summary, _) = super::eval::run(&best, &test, Some(&o.out), device, 8, None, super::eval::Pass::Plain)?;
    say("4/4 drawing predictions");
    let figures = infer::run(&infer::Options {
        checkpoint: &best,
        data: &shards::data_path(&test, 0),
        truth: None,
        out: &o.out.join("figures"),
        device,
        batch: 8,
        figures: 4,
        attention: false,
        salt_ms: super::attention::SALT_MS,
        mirror: false,
    })?
    .figures;
    Ok(Report { data, run, epochs: trained.rows.len(), engine: trained.engine, test: summary, figures })
}
