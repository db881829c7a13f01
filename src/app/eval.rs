//! `brine eval`: MAE, RMSE and SSIM of a checkpoint on a dataset, with OpenFWI's
//! conventions (MAE and RMSE on velocities normalised to [−1, 1], SSIM on [0, 1]), and the
//! MAE in m/s. Per-sample values go to `eval.csv`, the summary to `eval.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::attention::{self, FocusTable};
use super::{ensure_dir, mirror};
pub use crate::checkpoint::Model;
use crate::data::write_file_atomic;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::metrics;
use crate::runner::{Init, Runner};
use crate::train::dataset;
use crate::train::fit::Samples;

/// One sample's scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scores {
    pub mae: f64,
    pub rmse: f64,
    pub ssim: f64,
    pub mae_ms: f64,
}

/// The mean of per-sample scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub samples: usize,
    #[serde(flatten)]
    pub mean: Scores,
    /// The same scores for the training set's baselines, when the checkpoint keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Baselines>,
    /// The predictions were averaged with those from the mirrored gathers (`--mirror`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirrored: bool,
}

/// Scores of the baselines and the network's MAE over theirs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Baselines {
    /// Predicting the training set's mean velocity model for every sample.
    pub mean_model: Scores,
    /// Predicting its mean 1-D depth profile, the same in every column.
    pub mean_profile: Scores,
    /// The network's MAE over each baseline's (below 1: the network is better).
    pub mae_ratio_mean_model: f64,
    pub mae_ratio_mean_profile: f64,
}

impl Baselines {
    /// "beats both", or which baseline the network does not beat.
    pub fn verdict(&self) -> String {
        match (self.mae_ratio_mean_model < 1.0, self.mae_ratio_mean_profile < 1.0) {
            (true, true) => "the network beats both baselines".into(),
            (false, false) => {
                "the network does NOT beat predicting the training set's mean model or mean profile".into()
            }
            (false, true) => "the network does NOT beat predicting the training set's mean model".into(),
            (true, false) => "the network does NOT beat predicting the training set's mean depth profile".into(),
        }
    }
}

/// Scores a prediction against the truth, both in m/s on the nz × nx grid.
pub fn score(model: &Model, pred_ms: &[f32], truth_ms: &[f32]) -> Result<Scores> {
    let (lo, hi) = (model.norm.model_min as f32, model.norm.model_max as f32);
    let unit = |v: &[f32]| v.iter().map(|x| 2.0 * (x - lo) / (hi - lo) - 1.0).collect::<Vec<f32>>();
    let (p, t) = (unit(pred_ms), unit(truth_ms));
    let half = |v: &[f32]| v.iter().map(|x| (x + 1.0) / 2.0).collect::<Vec<f32>>();
    Ok(Scores {
        mae: metrics::mae(&p, &t)?,
        rmse: metrics::rmse(&p, &t)?,
        ssim: metrics::ssim(&half(&p), &half(&t), model.layout.nz, model.layout.nx)?,
        mae_ms: metrics::mae(pred_ms, truth_ms)?,
    })
}

pub fn mean(scores: &[Scores]) -> Summary {
    let n = scores.len().max(1) as f64;
    let avg = |f: fn(&Scores) -> f64| scores.iter().map(f).sum::<f64>() / n;
    Summary {
        samples: scores.len(),
        mean: Scores { mae: avg(|s| s.mae), rmse: avg(|s| s.rmse), ssim: avg(|s| s.ssim), mae_ms: avg(|s| s.mae_ms) },
        baselines: None,
        mirrored: false,
    }
}

/// What an evaluation's inference does besides predicting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pass {
    Plain,
    /// Averaged with the prediction from the mirrored gathers (`--mirror`, see `mirror`).
    Mirrored,
    /// Keeps the attention maps and scores where they look (`--attention`; salt is
    /// velocity ≥ this, m/s).
    Focus(f32),
}

impl Pass {
    /// The pass the `--attention`, `--mirror` and `--salt` flags ask `op` for; both at once
    /// are refused (the maps would be of one of the two passes).
    pub fn from_flags(op: &str, attention: bool, mirror: bool, salt_ms: f32) -> Result<Pass> {
        match (attention, mirror) {
            (true, true) => {
                Err(Error::config(op, "--mirror and --attention: the maps would be of one of the two passes"))
            }
            (true, false) => Ok(Pass::Focus(salt_ms)),
            (false, true) => Ok(Pass::Mirrored),
            (false, false) => Ok(Pass::Plain),
        }
    }
}

/// Scores a checkpoint's predictions for `samples` (network layout) against `models_ms`;
/// with `Pass::Focus`, also where its attention looks (see `attention::focus_table`).
pub fn score_samples(
    checkpoint: &Path,
    model: &Model,
    samples: &Samples,
    models_ms: &[f32],
    device: &Device,
    batch: usize,
    pass: Pass,
) -> Result<(Vec<Scores>, Option<FocusTable>)> {
    if let Pass::Focus(t) = pass
        && !(t.is_finite() && t > 0.0)
    {
        return Err(Error::config("eval", format!("--salt {t} is not a positive velocity in m/s")));
    }
    // A batch larger than the data is clamped: memory follows the samples, not the flag.
    let x = [batch.min(samples.n).max(1), model.config.in_channels, model.layout.h, model.layout.w];
    let mut runner = match pass {
        Pass::Focus(_) => Runner::inference_with_maps(device, &model.config, x, Init::Checkpoint(checkpoint))?,
        _ => Runner::inference(device, checkpoint, &model.config, x)?,
    };
    let (pred, maps) = match pass {
        Pass::Mirrored => (mirror::predict(&mut runner, model, &samples.input, true)?, vec![]),
        _ => runner.predict_all_with_maps(&samples.input)?,
    };
    if let Some(i) = crate::data::npy::first_non_finite(&pred) {
        return Err(Error::file(
            checkpoint,
            format!(
                "predicts {} for sample {} (a NaN or infinite weight?): nothing was written",
                pred[i],
                i / samples.target_len.max(1)
            ),
        ));
    }
    let (m, t) = (model.layout.model_len(), samples.target_len);
    let scores = (0..samples.n)
        .map(|i| score(model, &model.to_velocity(&pred[i * t..][..t])?, &models_ms[i * m..][..m]))
        .collect::<Result<Vec<_>>>()?;
    let vrange = (model.norm.model_min, model.norm.model_max);
    let focus = match pass {
        Pass::Focus(s) => Some(attention::focus_table(runner.maps(), &maps, &model.layout, models_ms, s, vrange)),
        _ => None,
    };
    Ok((scores, focus))
}

/// Evaluates `checkpoint` on the dataset in `data`; writes `eval.csv` and `eval.json`
/// into `out` when given.
pub fn run(
    checkpoint: &Path,
    data: &Path,
    out: Option<&Path>,
    device: &Device,
    batch: usize,
    limit: Option<usize>,
    pass: Pass,
) -> Result<(Vec<Scores>, Summary, Option<FocusTable>)> {
    if batch == 0 {
        return Err(Error::config("eval", "--batch must be at least 1"));
    }
    let model = Model::read(checkpoint)?;
    if pass == Pass::Mirrored {
        mirror::check("eval", Some(data), &model)?;
    }
    if let Some(dir) = out {
        ensure_dir(dir)?;
    }
    let ds = dataset::load(data, model.layout, Some(model.norm), limit)?;
    let (scores, focus) = score_samples(checkpoint, &model, &ds.samples, &ds.models, device, batch, pass)?;
    let mut summary = mean(&scores);
    summary.mirrored = pass == Pass::Mirrored;
    if let Some(b) = &model.baseline {
        let m = model.layout.model_len();
        let profile = b.profile_model(model.layout.nx);
        let against = |pred: &[f32]| -> Result<Scores> {
            Ok(mean(&ds.models.chunks_exact(m).map(|t| score(&model, pred, t)).collect::<Result<Vec<_>>>()?).mean)
        };
        let (mm, mp) = (against(&b.mean_model)?, against(&profile)?);
        summary.baselines = Some(Baselines {
            mae_ratio_mean_model: summary.mean.mae / mm.mae,
            mae_ratio_mean_profile: summary.mean.mae / mp.mae,
            mean_model: mm,
            mean_profile: mp,
        });
    }
    if let Some(dir) = out {
        let mut csv = String::from("sample,mae,rmse,ssim,mae_ms\n");
        for (i, s) in scores.iter().enumerate() {
            csv += &format!("{i},{:.6},{:.6},{:.6},{:.3}\n", s.mae, s.rmse, s.ssim, s.mae_ms);
        }
        write_file_atomic(&dir.join("eval.csv"), csv.as_bytes())?;
        let mut json = serde_json::to_value(&summary).map_err(|e| Error::config("eval", e.to_string()))?;
        if let (Some(f), Some(obj)) = (&focus, json.as_object_mut()) {
            obj.insert("attention".into(), serde_json::to_value(f).map_err(|e| Error::config("eval", e.to_string()))?);
        }
        let text = serde_json::to_string_pretty(&json).map_err(|e| Error::config("eval", e.to_string()))?;
        write_file_atomic(&dir.join("eval.json"), text.as_bytes())?;
    }
    Ok((scores, summary, focus))
}
