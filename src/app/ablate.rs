//! `brine ablate`: none, SE, CBAM and coordinate attention, each with and without attention
//! gates, trained on the same split with the same seed and budget, then scored on the
//! held-out split. The table goes to the terminal, `ablation.md` and `ablation.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::ensure_dir;
use super::eval::{Model, mean, score_samples};
use super::train::{RunSpec, splits};
use crate::data::write_file_atomic;
use crate::device::{BackendChoice, Device};
use crate::error::Result;
use crate::nn::{Attention, Config};
use crate::train::dataset;

#[derive(Clone, Debug)]
pub struct Options {
    pub data: PathBuf,
    pub out: PathBuf,
    pub widths: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub loss: String,
    pub seed: u64,
    pub val_every: usize,
    pub limit: Option<usize>,
    pub backend: BackendChoice,
    pub progress: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub variant: String,
    pub parameters: usize,
    pub mae: f64,
    pub rmse: f64,
    pub ssim: f64,
    pub mae_ms: f64,
    pub ms_per_step: f64,
    /// Mean attention inside the salt over outside, averaged over the spatial maps (None:
    /// the variant has none).
    #[serde(default)]
    pub focus: Option<f64>,
    /// The attention's mass inside the salt, and the salt's share of the area.
    #[serde(default)]
    pub salt_mass: Option<(f64, f64)>,
}

pub const VARIANTS: [(Attention, bool); 8] = [
    (Attention::None, false),
    (Attention::None, true),
    (Attention::Se, false),
    (Attention::Se, true),
    (Attention::Cbam, false),
    (Attention::Cbam, true),
    (Attention::Ca, false),
    (Attention::Ca, true),
];

pub fn name(a: Attention, gates: bool) -> String {
    format!("{:?}{}", a, if gates { "+gates" } else { "" }).to_lowercase()
}

/// The table as Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut t = String::from(
        "| variant | parameters | MAE | RMSE | SSIM | MAE (m/s) | ms/step | focus (in/out) | mass in salt / salt area |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let focus = r.focus.map_or("-".into(), |f| format!("{f:.2}"));
        let mass = r.salt_mass.map_or("-".into(), |(m, a)| format!("{:.1} % / {:.1} %", 100.0 * m, 100.0 * a));
        t += &format!(
            "| {} | {} | {:.4} | {:.4} | {:.4} | {:.1} | {:.1} | {focus} | {mass} |\n",
            r.variant, r.parameters, r.mae, r.rmse, r.ssim, r.mae_ms, r.ms_per_step
        );
    }
    t
}

/// Trains and scores every variant on `device`; `report` sees each row as it is done.
pub fn run(o: &Options, device: &Device, mut report: impl FnMut(&Row)) -> Result<Vec<Row>> {
    ensure_dir(&o.out)?;
    let stop = AtomicBool::new(false);
    let in_channels = dataset::shots(&o.data)?;
    let mut rows = vec![];
    for (attention, gates) in VARIANTS {
        let variant = name(attention, gates);
        let dir = o.out.join(&variant);
        let config = Config { in_channels, out_channels: 1, widths: o.widths.clone(), attention, gates };
        let spec = RunSpec {
            epochs: o.epochs,
            batch: o.batch,
            lr: o.lr,
            loss: o.loss.clone(),
            seed: o.seed,
            val_every: o.val_every,
            limit: o.limit,
            backend: o.backend,
            ..RunSpec::new(o.data.clone(), config)
        };
        let resume = dir.join("metrics.csv").exists();
        let trained = super::train::run(&spec, device, &dir, resume, o.progress, &stop)?;
        let row = score_variant(&spec, device, &dir.join("best.safetensors"), &variant, trained.ms_per_step)?;
        report(&row);
        rows.push(row);
    }
    write_file_atomic(&o.out.join("ablation.md"), markdown(&rows).as_bytes())?;
    write_file_atomic(
        &o.out.join("ablation.json"),
        serde_json::to_string_pretty(&rows).expect("serialises").as_bytes(),
    )?;
    Ok(rows)
}

fn score_variant(spec: &RunSpec, device: &Device, checkpoint: &Path, variant: &str, ms_per_step: f64) -> Result<Row> {
    let model = Model::read(checkpoint)?;
    let ds = dataset::load(&spec.data, spec.config.widths.len(), Some(model.layout), Some(model.norm), spec.limit)?;
    let (_, _, val, held) = splits(spec, ds)?;
    let (scores, focus) =
        score_samples(checkpoint, &model, &val, &held, device, spec.batch, Some(super::attention::SALT_MS))?;
    let summary = mean(&scores);
    let focus = focus.as_ref();
    Ok(Row {
        variant: variant.into(),
        parameters: model.config.parameters()?,
        mae: summary.mean.mae,
        rmse: summary.mean.rmse,
        ssim: summary.mean.ssim,
        mae_ms: summary.mean.mae_ms,
        ms_per_step,
        focus: focus.and_then(|f| f.mean_ratio()),
        salt_mass: focus.and_then(|f| {
            (!f.rows.is_empty()).then(|| {
                let n = f.rows.len() as f64;
                (f.rows.iter().map(|r| r.mass_in).sum::<f64>() / n, f.rows.iter().map(|r| r.area).sum::<f64>() / n)
            })
        }),
    })
}
