//! `brine infer`: velocity models predicted from shot gathers, as `.npy` (m/s, OpenFWI's
//! (N, 1, nz, nx)) and as figures — ground truth (where known), prediction and difference
//! side by side — plus the loss curve of the run the checkpoint came from.

use std::path::{Path, PathBuf};

use super::eval::{Model, Pass, Scores, score};
use super::{attention, ensure_dir, mirror};
use crate::data::{npy, shards};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::plot;
use crate::runner::{Init, Runner};
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
    /// Also keep the attention maps: `attention/*.npy`, `attention_K.png`, and with a truth
    /// the focus on salt (`attention.json`).
    pub attention: bool,
    /// Salt is velocity ≥ this (m/s), for outlines and the focus.
    pub salt_ms: f32,
    /// Average with the prediction from the mirrored gathers (see `mirror`).
    pub mirror: bool,
}

pub struct Report {
    pub samples: usize,
    pub prediction: PathBuf,
    pub figures: Vec<PathBuf>,
    /// Per-sample scores when the truth is known.
    pub scores: Vec<Scores>,
    /// The attention maps written (`--attention`).
    pub maps: Vec<PathBuf>,
    /// The focus on salt (`--attention` with a truth).
    pub focus: Option<attention::FocusTable>,
    /// What the user should know (no attention in the network, …).
    pub notes: Vec<String>,
}

/// The data file's sibling truth (`data` → `model` in its name), when it exists.
pub fn sibling_truth(data: &Path) -> Option<PathBuf> {
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
    let mut notes = vec![];
    let pass = Pass::from_flags("infer", o.attention, o.mirror, o.salt_ms)?;
    if pass == Pass::Mirrored {
        let from = mirror::check("infer", o.data.parent(), &model)?;
        notes.push(format!("--mirror: averaged with the prediction from the mirrored gathers (acquisition: {from})"));
    }
    let (n, mut arr) = read_gathers(&model, o.data)?;
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
    let inputs = network_inputs(&model, &mut arr.data, n)?;
    if o.attention && !(o.salt_ms.is_finite() && o.salt_ms > 0.0) {
        return Err(Error::config("infer", format!("--salt {} is not a positive velocity in m/s", o.salt_ms)));
    }
    let x = [o.batch.min(n), model.config.in_channels, l.h, l.w];
    let mut runner = if o.attention {
        Runner::inference_with_maps(o.device, &model.config, x, Init::Checkpoint(o.checkpoint))?
    } else {
        Runner::inference(o.device, o.checkpoint, &model.config, x)?
    };
    let (out, maps) = match pass {
        Pass::Mirrored => (mirror::predict(&mut runner, &model, &inputs, true)?, vec![]),
        _ => runner.predict_all_with_maps(&inputs)?,
    };
    let kept = runner.maps().to_vec();
    if o.attention && kept.is_empty() {
        notes.push(format!(
            "{}: the network ({}) has no attention; writing the velocity outputs only",
            o.checkpoint.display(),
            crate::nn::describe(&model.config)
        ));
    }
    let velocities = to_velocities(&model, o.checkpoint, &out)?;
    let prediction = o.out.join("prediction.npy");
    npy::write_atomic(&prediction, &[n, 1, l.nz, l.nx], &velocities)?;
    let written = attention::write_maps(&o.out.join("attention"), &kept, &maps, n)?;
    let vrange = (model.norm.model_min, model.norm.model_max);
    let focus = match &truth {
        Some(t) if !kept.is_empty() => {
            let table = attention::focus_table(&kept, &maps, &l, t, o.salt_ms, vrange);
            let json = serde_json::to_string_pretty(&table).map_err(|e| Error::config("infer", e.to_string()))?;
            crate::data::write_file_atomic(&o.out.join("attention.json"), json.as_bytes())?;
            Some(table)
        }
        _ => None,
    };
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
            if !kept.is_empty() {
                let path = o.out.join(format!("attention_{i:04}.png"));
                attention_figure(&path, &kept, &maps, i, &model, p, t, o.salt_ms)?;
                figures.push(path);
            }
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
    Ok(Report { samples: n, prediction, figures, scores, maps: written, focus, notes })
}

/// Shot gathers in the checkpoint's layout: (N, shots, time, receivers) or one sample
/// (shots, time, receivers), at least one, every value finite. Returns N and the array.
pub fn read_gathers(model: &Model, path: &Path) -> Result<(usize, npy::Array)> {
    let l = &model.layout;
    let arr = npy::read(path)?;
    let n = match arr.shape[..] {
        [n, s, t, r] if (s, t, r) == (l.shots, l.nt, l.nrec) => n,
        [s, t, r] if (s, t, r) == (l.shots, l.nt, l.nrec) => 1,
        _ => {
            return Err(Error::file(
                path,
                format!(
                    "shape {:?}; the checkpoint takes (N, {}, {}, {}) shots × time × receivers",
                    arr.shape, l.shots, l.nt, l.nrec
                ),
            ));
        }
    };
    if n == 0 {
        return Err(Error::file(path, "holds no samples"));
    }
    shards::check_data(path, &arr)?;
    Ok((n, arr))
}

/// The network's inputs for `n` samples of raw gathers (normalised in place, then laid out).
pub fn network_inputs(model: &Model, data: &mut [f32], n: usize) -> Result<Vec<f32>> {
    let l = &model.layout;
    model.norm.normalize_data(data)?;
    Ok((0..n).map(|i| l.input(&data[i * l.data_len()..][..l.data_len()])).collect::<Result<Vec<_>>>()?.concat())
}

/// The network's outputs as velocity models (m/s); a non-finite one is an error.
pub fn to_velocities(model: &Model, checkpoint: &Path, out: &[f32]) -> Result<Vec<f32>> {
    let l = &model.layout;
    let mut velocities = Vec::with_capacity(out.len() / l.target_len().max(1) * l.model_len());
    for y in out.chunks_exact(l.target_len()) {
        velocities.extend(model.to_velocity(y)?);
    }
    if let Some(i) = crate::data::npy::first_non_finite(&velocities) {
        return Err(Error::file(
            checkpoint,
            format!(
                "predicts {} m/s in sample {} (a NaN or infinite weight?): nothing was written",
                velocities[i],
                i / l.model_len()
            ),
        ));
    }
    Ok(velocities)
}

/// Sample `i`'s velocity (the truth when known) beside every spatial attention map, with the
/// salt outline, and its channel weights as strips.
#[allow(clippy::too_many_arguments)]
fn attention_figure(
    path: &Path,
    kept: &[crate::nn::programs::KeptMap],
    maps: &[Vec<f32>],
    i: usize,
    model: &Model,
    prediction: &[f32],
    truth: Option<&[f32]>,
    salt_ms: f32,
) -> Result<()> {
    let l = &model.layout;
    let (label, velocity, source) = match truth {
        Some(t) => ("Ground truth", t, "truth"),
        None => ("Prediction", prediction, "prediction"),
    };
    let salt: Vec<bool> = velocity.iter().map(|&v| v >= salt_ms).collect();
    let spatial = attention::spatial(kept, maps, i, l);
    let fig = plot::AttentionFigure {
        velocity: (label, velocity),
        nz: l.nz,
        nx: l.nx,
        dx_m: model.dx,
        range: (model.norm.model_min as f32, model.norm.model_max as f32),
        maps: spatial.into_iter().map(|m| (format!("{} (level {})", m.name, m.level), m.values)).collect(),
        salt: salt.iter().any(|&s| s).then_some(salt.as_slice()),
        strips: attention::channel_strips(kept, maps, i),
        title: &format!("Sample {i}: attention, salt (≥ {salt_ms:.0} m/s in the {source}) outlined in red"),
    };
    plot::attention(path, &fig)
}
