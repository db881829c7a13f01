//! `brine ablate`: none, SE, CBAM and coordinate attention, each with and without attention
//! gates, trained on the same split with the same seeds and budget, then scored on the
//! held-out split. With several seeds (`--seeds`) each score is a mean ± sample standard
//! deviation over the seeds (which change the initial weights and the batch order), and each
//! variant's MAE is set against `none`'s in standard errors of the difference, so the table
//! says whether a difference is larger than the spread. The table goes to the terminal,
//! `ablation.md` and `ablation.json`; run k of a variant lives in `OUT/<variant>/seed-<S>`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::ensure_dir;
use super::eval::{Model, Pass, mean, score_samples};
use super::train::{RunSpec, splits};
use crate::data::write_file_atomic;
use crate::device::{BackendChoice, Device};
use crate::error::{Error, Result};
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
    /// The first seed; `seeds` runs use seed, seed + 1, …
    pub seed: u64,
    pub seeds: usize,
    pub val_every: usize,
    pub limit: Option<usize>,
    pub backend: BackendChoice,
    pub progress: bool,
}

/// One run's scores on the held-out split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub seed: u64,
    pub mae: f64,
    pub rmse: f64,
    pub ssim: f64,
    pub mae_ms: f64,
    pub ms_per_step: f64,
}

/// Sample standard deviations over the seeds (zero for one seed).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Spread {
    pub mae: f64,
    pub rmse: f64,
    pub ssim: f64,
}

/// A variant: the means over its runs, their spread, and the runs.
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
    #[serde(default)]
    pub spread: Spread,
    #[serde(default)]
    pub runs: Vec<Run>,
}

/// Mean and sample standard deviation (0 for fewer than two values).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

impl Row {
    /// `self`'s mean MAE minus `other`'s, in standard errors of that difference (None with
    /// fewer than two runs each, or no spread at all).
    pub fn mae_z(&self, other: &Row) -> Option<f64> {
        let (a, b) = (self.runs.len() as f64, other.runs.len() as f64);
        let se = (self.spread.mae.powi(2) / a + other.spread.mae.powi(2) / b).sqrt();
        (a >= 2.0 && b >= 2.0 && se > 0.0).then(|| (self.mae - other.mae) / se)
    }
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

/// The table as Markdown: with several seeds, mean ± std and the MAE against `none`'s.
pub fn markdown(rows: &[Row]) -> String {
    let seeds = rows.iter().map(|r| r.runs.len()).max().unwrap_or(1);
    let base = rows.iter().find(|r| r.variant == "none");
    let mut t = format!(
        "| variant | parameters | MAE | RMSE | SSIM | MAE (m/s) | ms/step | focus (in/out) | mass in salt / salt area |{}\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|{}\n",
        if seeds > 1 { " MAE − none's (σ of the difference) |" } else { "" },
        if seeds > 1 { "---:|" } else { "" }
    );
    let pm = |m: f64, s: f64| if seeds > 1 { format!("{m:.4} ± {s:.4}") } else { format!("{m:.4}") };
    for r in rows {
        let focus = r.focus.map_or("-".into(), |f| format!("{f:.2}"));
        let mass = r.salt_mass.map_or("-".into(), |(m, a)| format!("{:.1} % / {:.1} %", 100.0 * m, 100.0 * a));
        t += &format!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {focus} | {mass} |",
            r.variant,
            r.parameters,
            pm(r.mae, r.spread.mae),
            pm(r.rmse, r.spread.rmse),
            pm(r.ssim, r.spread.ssim),
            r.mae_ms,
            r.ms_per_step
        );
        if seeds > 1 {
            t += &match (base, base.and_then(|b| r.mae_z(b))) {
                (Some(b), Some(z)) if b.variant != r.variant => format!(" {:+.4} ({z:+.1} σ) |", r.mae - b.mae),
                _ => " - |".into(),
            };
        }
        t += "\n";
    }
    if seeds > 1 {
        t += &format!(
            "\n{seeds} seeds per variant; ± is the sample standard deviation over the seeds; |σ| < 2 means the \
             difference from `none` is within the spread.\n"
        );
    }
    t
}

/// Trains and scores every variant with every seed on `device`; `report` sees each run
/// as it is done.
pub fn run(o: &Options, device: &Device, mut report: impl FnMut(&str, &Run)) -> Result<Vec<Row>> {
    if o.seeds == 0 || o.seeds > MAX_SEEDS {
        return Err(Error::config("ablate", format!("--seeds {} must lie in 1..={MAX_SEEDS}", o.seeds)));
    }
    ensure_dir(&o.out)?;
    let stop = AtomicBool::new(false);
    let in_channels = dataset::shots(&o.data)?;
    let mut rows = vec![];
    for (attention, gates) in VARIANTS {
        let variant = name(attention, gates);
        let config = Config { in_channels, out_channels: 1, widths: o.widths.clone(), attention, gates };
        let mut runs: Vec<(Row, Run)> = vec![];
        for seed in (0..o.seeds as u64).map(|k| o.seed.wrapping_add(k)) {
            let dir = o.out.join(&variant).join(format!("seed-{seed}"));
            let spec = RunSpec {
                epochs: o.epochs,
                batch: o.batch,
                lr: o.lr,
                loss: o.loss.clone(),
                seed,
                val_every: o.val_every,
                limit: o.limit,
                backend: o.backend,
                ..RunSpec::new(o.data.clone(), config.clone())
            };
            let resume = dir.join("metrics.csv").exists();
            let trained = super::train::run(&spec, device, &dir, resume, o.progress, &stop)?;
            let row = score_variant(&spec, device, &dir.join("best.safetensors"), &variant, trained.ms_per_step)?;
            let run = Run {
                seed,
                mae: row.mae,
                rmse: row.rmse,
                ssim: row.ssim,
                mae_ms: row.mae_ms,
                ms_per_step: row.ms_per_step,
            };
            report(&variant, &run);
            runs.push((row, run));
        }
        rows.push(combine(runs));
    }
    write_file_atomic(&o.out.join("ablation.md"), markdown(&rows).as_bytes())?;
    write_file_atomic(
        &o.out.join("ablation.json"),
        serde_json::to_string_pretty(&rows).expect("serialises").as_bytes(),
    )?;
    Ok(rows)
}

/// Runs a variant may have.
const MAX_SEEDS: usize = 1000;

/// One row from a variant's runs: means (the focus too) and spreads.
fn combine(runs: Vec<(Row, Run)>) -> Row {
    let of = |f: fn(&Run) -> f64| mean_std(&runs.iter().map(|(_, r)| f(r)).collect::<Vec<_>>());
    let ((mae, mae_sd), (rmse, rmse_sd), (ssim, ssim_sd)) = (of(|r| r.mae), of(|r| r.rmse), of(|r| r.ssim));
    let focus: Vec<f64> = runs.iter().filter_map(|(row, _)| row.focus).collect();
    let masses: Vec<(f64, f64)> = runs.iter().filter_map(|(row, _)| row.salt_mass).collect();
    let n = masses.len().max(1) as f64;
    let first = &runs[0].0;
    Row {
        variant: first.variant.clone(),
        parameters: first.parameters,
        mae,
        rmse,
        ssim,
        mae_ms: of(|r| r.mae_ms).0,
        ms_per_step: of(|r| r.ms_per_step).0,
        focus: (!focus.is_empty()).then(|| mean_std(&focus).0),
        salt_mass: (!masses.is_empty())
            .then(|| (masses.iter().map(|m| m.0).sum::<f64>() / n, masses.iter().map(|m| m.1).sum::<f64>() / n)),
        spread: Spread { mae: mae_sd, rmse: rmse_sd, ssim: ssim_sd },
        runs: runs.into_iter().map(|(_, r)| r).collect(),
    }
}

fn score_variant(spec: &RunSpec, device: &Device, checkpoint: &Path, variant: &str, ms_per_step: f64) -> Result<Row> {
    let model = Model::read(checkpoint)?;
    let ds = dataset::load(&spec.data, model.layout, Some(model.norm), spec.limit)?;
    let (_, _, val, held) = splits(spec, ds)?;
    let (scores, focus) =
        score_samples(checkpoint, &model, &val, &held, device, spec.batch, Pass::Focus(super::attention::SALT_MS))?;
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
        spread: Spread::default(),
        runs: vec![],
    })
}
