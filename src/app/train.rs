//! `brine train`: a run directory with `run.json` (what was asked), `metrics.csv`,
//! `last.safetensors` and `best.safetensors` (each with its optimiser file beside it).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::ensure_dir;
use crate::checkpoint::{Baseline, Model};
use crate::data::Norm;
use crate::data::write_file_atomic;
use crate::device::{BackendChoice, Device};
use crate::error::{Error, Result};
use crate::nn::Config;
use crate::nn::programs::LossKind;
use crate::ops::Adam;
use crate::runner::{Init, Runner};
use crate::train::dataset::{self, Dataset, held_out};
use crate::train::fit::{self, Batches, EpochRow, Options, Samples, Schedule};
use crate::train::layout::Layout;
use crate::train::online::Online;
use crate::train::stream::Stream;

/// Everything a run was asked for; saved as `run.json` so `--resume` continues it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub data: PathBuf,
    pub config: Config,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub weight_decay: f32,
    pub loss: String,
    pub schedule: String,
    pub seed: u64,
    /// Every `val_every`-th sample is held out for validation.
    pub val_every: usize,
    pub limit: Option<usize>,
    pub backend: BackendChoice,
    /// Stop after the epoch that ends past this many seconds of training.
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Stream the training set from its shards instead of loading it (done anyway when it
    /// would take more than half the memory available).
    #[serde(default)]
    pub stream: bool,
    /// Train on newly simulated salt every epoch (the stored set gives the normalisation and
    /// the validation split).
    #[serde(default)]
    pub online: bool,
    /// Flip half the training samples left to right each epoch (mirror-symmetric
    /// acquisitions only).
    #[serde(default)]
    pub flip: bool,
    /// Start from this checkpoint's parameters with a fresh optimiser (fine-tuning): the
    /// network is the checkpoint's, and the data are normalised with its bounds.
    #[serde(default)]
    pub from: Option<PathBuf>,
    /// Time phases per shot (`Layout::phases`): the network takes shots × phases channels.
    #[serde(default = "crate::train::layout::one_phase")]
    pub time_phases: usize,
}

impl RunSpec {
    /// A run of `config` on `data` with the CLI's defaults (20 epochs, batch 16, lr 1e-3,
    /// L1, constant rate, seed 0, every 10th sample held out, auto backend, no budget).
    pub fn new(data: PathBuf, config: Config) -> RunSpec {
        RunSpec {
            data,
            config,
            epochs: 20,
            batch: 16,
            lr: 1e-3,
            weight_decay: 0.0,
            loss: "l1".into(),
            schedule: "constant".into(),
            seed: 0,
            val_every: 10,
            limit: None,
            backend: BackendChoice::Auto,
            budget_s: None,
            stream: false,
            online: false,
            flip: false,
            from: None,
            time_phases: 1,
        }
    }
}

/// What a run directory holds; any of them means the directory is taken.
const RUN_FILES: [&str; 6] = [
    "run.json",
    "metrics.csv",
    "last.safetensors",
    "best.safetensors",
    "last.optim.safetensors",
    "best.optim.safetensors",
];

/// On resume: the run in `run` must have been asked for with the same data, network and
/// hyper-parameters (epochs, time budget and backend may change).
fn check_same_run(spec: &RunSpec, run: &Path) -> Result<()> {
    if !run.join("run.json").exists() {
        return Ok(());
    }
    let old = read_spec(run)?;
    let same = RunSpec { epochs: spec.epochs, budget_s: spec.budget_s, backend: spec.backend, ..old.clone() };
    if &same == spec {
        return Ok(());
    }
    let (a, b) = (serde_json::to_value(&same), serde_json::to_value(spec));
    let differ: Vec<String> = match (a, b) {
        (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => {
            a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| format!("{k} {v} (now {})", b[k])).collect()
        }
        _ => vec![],
    };
    Err(Error::file(
        run.join("run.json"),
        format!("describes another run ({}); choose another --out", differ.join(", ")),
    ))
}

/// The train and validation splits of a run's data (and its held-out models, in m/s).
pub fn splits(spec: &RunSpec, mut ds: Dataset) -> Result<(Dataset, Samples, Samples, Vec<f32>)> {
    if spec.val_every < 2 {
        return Err(Error::config("train", format!("--val-every {} must be at least 2", spec.val_every)));
    }
    let (train, val) = std::mem::take(&mut ds.samples).split_every(spec.val_every, spec.val_every - 1);
    let m = ds.layout.model_len();
    let held = (0..ds.models.len() / m.max(1))
        .filter(|&i| held_out(i, spec.val_every))
        .flat_map(|i| ds.models[i * m..][..m].to_vec())
        .collect();
    Ok((ds, train, val, held))
}

/// What a finished (or interrupted) run reports.
pub struct Report {
    pub rows: Vec<EpochRow>,
    pub interrupted: bool,
    pub engine: String,
    pub train_samples: usize,
    pub val_samples: usize,
    pub ms_per_step: f64,
    /// On a GPU: what the training steps asked of it (see `fit::GpuWork`).
    pub gpu_work: Option<fit::GpuWork>,
    /// Whether the training set was streamed from its shards.
    pub streamed: bool,
    /// Whether every epoch trained on newly simulated models.
    pub online: bool,
}

/// Trains as `spec` says on `device` into `run`, continuing from its `last` checkpoint
/// when `resume`.
pub fn run(
    spec: &RunSpec,
    device: &Device,
    run: &Path,
    resume: bool,
    progress: bool,
    stop: &AtomicBool,
) -> Result<Report> {
    if spec.time_phases == 0 {
        return Err(Error::config("train", "--time-phases 0: each shot needs at least one"));
    }
    spec.config.validate()?;
    let loss: LossKind = spec.loss.parse()?;
    let schedule: Schedule = spec.schedule.parse()?;
    if spec.epochs == 0 || spec.batch == 0 {
        return Err(Error::config("train", "--epochs and --batch must be at least 1"));
    }
    if spec.val_every < 2 {
        return Err(Error::config("train", format!("--val-every {} must be at least 2", spec.val_every)));
    }
    if !(spec.lr.is_finite() && spec.lr > 0.0) || !(spec.weight_decay.is_finite() && spec.weight_decay >= 0.0) {
        return Err(Error::config(
            "train",
            format!(
                "--lr {} must be positive and --weight-decay {} not negative, both finite",
                spec.lr, spec.weight_decay
            ),
        ));
    }
    if let Some(b) = spec.budget_s
        && !(b.is_finite() && b > 0.0)
    {
        return Err(Error::config("train", format!("a time budget of {b} s is not a positive number of seconds")));
    }
    let rows = if resume { fit::read_metrics(run)? } else { vec![] };
    if resume {
        check_same_run(spec, run)?;
    } else if let Some(f) = RUN_FILES.iter().find(|f| run.join(f).exists()) {
        return Err(Error::file(
            run,
            format!("already holds a run ({f}); use --resume to continue it or choose another --out"),
        ));
    }
    let pretrained = spec.from.as_deref().map(|p| pretrained(p, &spec.config)).transpose()?;
    let data = Data::open(spec, pretrained.as_ref().map(|m| m.norm))?;
    let streamed = matches!(data, Data::Stream(_));
    let (layout, norm, dx) = data.grid();
    if let (Some(m), Some(from)) = (&pretrained, &spec.from) {
        check_pretrained_grid(from, m, &spec.data, layout, dx)?;
    }
    if layout.channels() != spec.config.in_channels {
        return Err(Error::config(
            "train",
            format!(
                "the data has {} shots per sample, {} time phases each; the network takes {} input channels",
                layout.shots, layout.phases, spec.config.in_channels
            ),
        ));
    }
    if spec.flip {
        check_flip(&spec.data, &layout)?;
    }
    let (mut train, val, baseline) = data.splits(spec)?;
    if spec.online {
        let per_epoch = train.samples();
        train = Box::new(Online::new(&spec.data, device, layout, norm, per_epoch, spec.seed)?);
    }
    ensure_dir(run)?;
    let x = [spec.batch, spec.config.in_channels, layout.h, layout.w];
    let hyper =
        Adam { lr: spec.lr, weight_decay: spec.weight_decay, decoupled: spec.weight_decay > 0.0, ..Adam::default() };
    let last = run.join("last.safetensors");
    let init = match &spec.from {
        _ if resume && last.exists() => Init::Checkpoint(&last),
        Some(from) => Init::Weights(from),
        None => Init::Seed(spec.seed),
    };
    if resume && !last.exists() && !rows.is_empty() {
        return Err(Error::file(&last, "is missing, so the run cannot resume"));
    }
    let mut runner = Runner::training(device, &spec.config, x, loss, hyper, init)?;
    let model = Model { config: spec.config.clone(), layout, norm, dx, baseline };
    runner.set_metadata(model.metadata());
    let spec_json = serde_json::to_string_pretty(spec).expect("spec serialises");
    write_file_atomic(&run.join("run.json"), spec_json.as_bytes())?;
    let opts = Options {
        epochs: spec.epochs,
        batch: spec.batch,
        lr: spec.lr,
        schedule,
        seed: spec.seed,
        loss,
        progress,
        budget_s: spec.budget_s,
        flip: spec.flip.then_some(layout),
    };
    let outcome = fit::fit(&mut runner, train.as_ref(), &val, &opts, run, rows, stop)?;
    let ms: Vec<f64> = outcome.rows.iter().map(|r| r.step_ms).collect();
    Ok(Report {
        ms_per_step: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
        gpu_work: outcome.gpu_work,
        streamed,
        online: spec.online,
        rows: outcome.rows,
        interrupted: outcome.interrupted,
        engine: runner.describe(),
        train_samples: train.samples(),
        val_samples: val.n,
    })
}

/// A run's data: in memory, or streamed from its shards when it would not fit (or when
/// `--stream` asks).
enum Data {
    Memory(Dataset),
    Stream(Stream),
}

/// Files a stream reads at a time.
pub const STREAM_WINDOW: usize = 2;

impl Data {
    /// The data of `spec`, normalised with `norm` when given (else as the set says).
    fn open(spec: &RunSpec, norm: Option<Norm>) -> Result<Data> {
        let set = dataset::scan(&spec.data, spec.limit)?;
        let [shots, nt, nrec, nz, nx] = set.shape;
        let layout = Layout::new(shots, nt, nrec, nz, nx, spec.config.widths.len())?.with_phases(spec.time_phases)?;
        let need = dataset::memory_needed(&set.parts, &layout);
        let big = need.is_none_or(|b| b > crate::limits::budget() / 2);
        Ok(if spec.stream || big {
            Data::Stream(Stream::open(&spec.data, set, layout, norm, spec.val_every, STREAM_WINDOW)?)
        } else {
            Data::Memory(dataset::load_scanned(&spec.data, set, layout, norm)?)
        })
    }

    fn grid(&self) -> (Layout, Norm, f32) {
        match self {
            Data::Memory(d) => (d.layout, d.norm, d.dx),
            Data::Stream(s) => (s.layout, s.norm, s.dx),
        }
    }

    /// The training batches, the validation split and the training set's baselines.
    fn splits<'a>(self, spec: &RunSpec) -> Result<(Box<dyn Batches + 'a>, Samples, Option<Baseline>)> {
        Ok(match self {
            Data::Memory(ds) => {
                let (l, m) = (ds.layout, ds.layout.model_len());
                let trained: Vec<f32> = ds
                    .models
                    .chunks_exact(m)
                    .enumerate()
                    .filter(|(i, _)| !held_out(*i, spec.val_every))
                    .flat_map(|(_, v)| v.iter().copied())
                    .collect();
                let baseline = Baseline::of(&trained, l.nz, l.nx);
                let (_, train, val, _) = splits(spec, ds)?;
                (Box::new(train), val, baseline)
            }
            Data::Stream(st) => {
                let (val, mean) = st.validation_and_mean_model()?;
                let baseline = Baseline::of(&mean, st.layout.nz, st.layout.nx);
                (Box::new(st), val, baseline)
            }
        })
    }
}

/// The checkpoint a run starts from (`--from`), which must hold the run's network.
fn pretrained(path: &Path, config: &Config) -> Result<Model> {
    let m = Model::read(path)?;
    if &m.config != config {
        return Err(Error::file(path, format!("holds the network {:?}; the run asks for {config:?}", m.config)));
    }
    Ok(m)
}

/// A fine-tuned network sees the samples as it was trained to: the same layout and spacing.
fn check_pretrained_grid(from: &Path, m: &Model, data: &Path, layout: Layout, dx: f32) -> Result<()> {
    let grid = |l: &Layout, dx: f32| {
        format!("{} shots × {} × {} with {} × {} models at {dx} m", l.shots, l.nt, l.nrec, l.nz, l.nx)
    };
    if m.layout != layout || (m.dx - dx).abs() > 1e-6 * dx.abs().max(1.0) {
        return Err(Error::file(
            from,
            format!(
                "was trained on samples of {}; {} holds {}: --from needs data of the same layout",
                grid(&m.layout, m.dx),
                data.display(),
                grid(&layout, dx)
            ),
        ));
    }
    Ok(())
}

/// `--flip` is exact only when the set's acquisition (its `dataset.json`) is mirror-symmetric.
fn check_flip(data: &Path, layout: &Layout) -> Result<()> {
    let desc = crate::data::shards::description(data).ok_or_else(|| {
        Error::file(data, "has no dataset.json: --flip needs the acquisition to check it is mirror-symmetric")
    })?;
    desc.acquisition.check_mirror(layout.nx).map_err(|e| match e {
        Error::Config { detail, .. } => {
            Error::config("--flip", format!("a flipped sample would not be exact: the acquisition {detail}"))
        }
        e => e,
    })
}

/// Reads a run's `run.json`.
pub fn read_spec(run: &Path) -> Result<RunSpec> {
    let path = run.join("run.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::file(&path, format!("cannot read (is this a run directory?): {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(&path, format!("not a run description: {e}")))
}
