//! `brine infer`: velocity models predicted from shot gathers, as `.npy` (m/s, OpenFWI's
//! (N, 1, nz, nx)) and as figures — ground truth (where known), prediction and difference
//! side by side — plus the loss curve of the run the checkpoint came from.

use std::path::{Path, PathBuf};

use super::ensure_dir;
use super::eval::{Model, Scores, score};
use crate::data::{npy, shards};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::plot;
use crate::runner::Runner;
use crate::train::fit::read_metrics;

pub struct Options<'a> {
    pub checkpoint: &'a Path,
    /// Seismic data: (N, shots, time, receivers) or one sample (shots, time, receivers).
    pub data: &'a Path,
    /// Velocity models to compare with; by default the data file's sibling with `data` →
    /// `model` in its name, when it exists.
    pub truth: Option<&'a Path>,
    pub out: &'a Path,
    pub device: &'a Device,
    pub batch: usize,
    /// At most this many figures.
    pub figures: usize,
}

pub struct Report {
    pub samples: usize,
    pub prediction: PathBuf,
    pub figures: Vec<PathBuf>,
    /// Per-sample scores when the truth is known.
    pub scores: Vec<Scores>,
}

fn sibling_truth(data: &Path) -> Option<PathBuf> {
    let name = data.file_name()?.to_string_lossy().replacen("data", "model", 1);
    let p = data.with_file_name(name);
    (p != data && p.exists()).then_some(p)
}

pub fn run(o: &Options) -> Result<Report> {
    if o.batch == 0 {
        return Err(Error::config("infer", "--batch must be at least 1"));
    }
    let model = Model::read(o.checkpoint)?;
    let l = model.layout;
    let mut arr = npy::read(o.data)?;
    let n = match arr.shape[..] {
        [n, s, t, r] if (s, t, r) == (l.shots, l.nt, l.nrec) => n,
        [s, t, r] if (s, t, r) == (l.shots, l.nt, l.nrec) => 1,
        _ => {
            return Err(Error::file(
                o.data,
                format!(
                    "shape {:?}; the checkpoint takes (N, {}, {}, {}) shots × time × receivers",
                    arr.shape, l.shots, l.nt, l.nrec
                ),
            ));
        }
    };
    if n == 0 {
        return Err(Error::file(o.data, "holds no samples"));
    }
    shards::check_data(o.data, &arr)?;
    let truth_path = o.truth.map(Path::to_path_buf).or_else(|| sibling_truth(o.data));
    let truth = match &truth_path {
        Some(p) => {
            let (m, count, nz, nx) = shards::read_models(p)?;
            if (count, nz, nx) != (n, l.nz, l.nx) {
                return Err(Error::file(
                    p,
                    format!("holds {count} models of {nz} × {nx}; expected {n} of {} × {}", l.nz, l.nx),
                ));
            }
            Some(m)
        }
        None => None,
    };
    ensure_dir(o.out)?;
    model.norm.normalize_data(&mut arr.data)?;
    let inputs: Vec<f32> =
        (0..n).map(|i| l.input(&arr.data[i * l.data_len()..][..l.data_len()])).collect::<Result<Vec<_>>>()?.concat();
    let x = [o.batch.min(n), model.config.in_channels, l.h, l.w];
    let out = Runner::inference(o.device, o.checkpoint, &model.config, x)?.predict_all(&inputs)?;
    let mut velocities = Vec::with_capacity(n * l.model_len());
    for y in out.chunks_exact(l.target_len()) {
        velocities.extend(model.to_velocity(y)?);
    }
    if let Some(i) = crate::data::npy::first_non_finite(&velocities) {
        return Err(Error::file(
            o.checkpoint,
            format!("predicts {} m/s in sample {} (a NaN or infinite weight?): nothing was written", velocities[i], i / l.model_len()),
        ));
    }
    let prediction = o.out.join("prediction.npy");
    npy::write_atomic(&prediction, &[n, 1, l.nz, l.nx], &velocities)?;
    let range = (model.norm.model_min as f32, model.norm.model_max as f32);
    let mut figures = vec![];
    let mut scores = vec![];
    for i in 0..n {
        let p = &velocities[i * l.model_len()..][..l.model_len()];
        let t = truth.as_ref().map(|t| &t[i * l.model_len()..][..l.model_len()]);
        if let Some(t) = t {
            scores.push(score(&model, p, t)?);
        }
        if i < o.figures {
            let path = o.out.join(format!("sample_{i:04}.png"));
            let title = match scores.last() {
                Some(s) if t.is_some() => format!("Sample {i}: MAE {:.0} m/s, SSIM {:.3}", s.mae_ms, s.ssim),
                _ => format!("Sample {i}"),
            };
            plot::comparison(&path, t, p, l.nz, l.nx, model.dx, range, &title)?;
            figures.push(path);
        }
    }
    if let Some(run) = o.checkpoint.parent() {
        let rows = read_metrics(run)?;
        if !rows.is_empty() {
            let train: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64 + 1.0, r.train_loss)).collect();
            let val: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64 + 1.0, r.val_loss)).collect();
            let path = o.out.join("loss.png");
            plot::loss_curves(&path, &[("train", &train), ("validation", &val)], "Loss per epoch", true)?;
            figures.push(path);
        }
    }
    Ok(Report { samples: n, prediction, figures, scores })
}
