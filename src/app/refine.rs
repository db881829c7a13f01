//! `brine refine`: full-waveform inversion from the network's guess. The checkpoint predicts
//! velocity models from shot gathers (or the start is its training set's mean depth profile,
//! or a given file); `seismic::fwi` then runs iterations of adjoint-state FWI against the
//! same gathers, and the results are written as `infer` writes its predictions:
//! `refined.npy` (m/s, N × 1 × nz × nx), `refine.json` (misfit per iteration; with the truth,
//! `eval`'s scores of the start and of every iteration) and figures. Everything is checked
//! before the first iteration, and every file is written whole (temporary name, renamed).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ensure_dir;
use super::eval::{Model, Scores, mean, score};
use super::infer::{network_inputs, read_gathers, sibling_truth, to_velocities};
use super::mirror;
use crate::data::{npy, shards, write_file_atomic};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::plot;
use crate::runner::Runner;
use crate::seismic::fwi::{self, check_bounds};
use crate::seismic::propagate::check_models;
use crate::seismic::{Acquisition, Plan};

/// Where the iterations start.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// The checkpoint's prediction from the gathers.
    Network,
    /// The checkpoint's training set's mean depth profile in every column.
    Smooth,
    /// Velocity models from a `.npy` file (m/s, N × 1 × nz × nx or N × nz × nx).
    File(PathBuf),
}

impl std::str::FromStr for Start {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "network" => Start::Network,
            "smooth" => Start::Smooth,
            path => Start::File(path.into()),
        })
    }
}

impl Start {
    fn name(&self) -> String {
        match self {
            Start::Network => "network".into(),
            Start::Smooth => "smooth".into(),
            Start::File(p) => p.display().to_string(),
        }
    }
}

pub struct Options<'a> {
    pub checkpoint: &'a Path,
    /// Gathers: (N, shots, time, receivers) or one sample (shots, time, receivers), raw
    /// (as `brine synth` writes them).
    pub data: &'a Path,
    /// Velocity models to score against; by default the data file's `model` sibling.
    pub truth: Option<&'a Path>,
    pub start: Start,
    /// With `Start::Network`: the prediction averaged with that from the mirrored gathers
    /// (see `mirror`).
    pub mirror: bool,
    /// Preset or JSON file; by default the data directory's `dataset.json`, else the
    /// preset whose layout the checkpoint has.
    pub acquisition: Option<&'a str>,
    pub out: &'a Path,
    pub device: &'a Device,
    pub method: fwi::Method,
    pub iters: usize,
    /// The step in m/s (see `fwi::Options::lr`).
    pub lr: f64,
    /// Bounds in m/s; by default the checkpoint's velocity range.
    pub vmin: Option<f64>,
    pub vmax: Option<f64>,
    /// Gradient smoothing (Gaussian σ in cells).
    pub smooth: f64,
    /// Gradient depth preconditioning: × (depth / nz)^depth_weight.
    pub depth_weight: f64,
    /// Low-pass cutoffs in Hz, one stage each (0: the full band; see `fwi::Options::bands`).
    pub bands: Vec<f64>,
    /// Absorbing-layer width in cells of refine's own simulations; by default
    /// [`thin_pml`].
    pub pml: Option<usize>,
    /// Only the first this many samples.
    pub limit: Option<usize>,
    /// At most this many figures.
    pub figures: usize,
    pub progress: bool,
}

/// One iteration's record in `refine.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Iteration {
    pub iter: usize,
    /// Mean over samples of ½‖H(d − d_obs)‖², H the low-pass of `band_hz` (0: none).
    pub misfit: f64,
    pub band_hz: f64,
    /// Mean scores against the truth, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub samples: usize,
    pub start: String,
    pub acquisition: String,
    /// The absorbing layer of refine's simulations, in cells (the data's may be wider).
    pub pml: usize,
    pub device: String,
    pub method: fwi::Method,
    pub iters: usize,
    /// Gradient evaluations (each a forward and an adjoint propagation): iters + 1 for
    /// Adam, more when L-BFGS's line search backtracks.
    pub evaluations: usize,
    pub lr: f64,
    pub bounds: (f64, f64),
    pub smooth: f64,
    pub depth_weight: f64,
    pub bands: Vec<f64>,
    pub seconds: f64,
    /// Iteration 0 is the start, the last the refined models.
    pub iterations: Vec<Iteration>,
    /// Per sample: the start's and the refined model's scores (with the truth).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_sample: Vec<(Scores, Scores)>,
    #[serde(skip)]
    pub refined: PathBuf,
    #[serde(skip)]
    pub figures: Vec<PathBuf>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The narrowest absorbing layer refine simulates with by default.
pub const THIN_PML: usize = 10;

/// The absorbing layer refine simulates with unless told: one wavelength at the peak
/// frequency in the slowest medium (vmin / f0), at least [`THIN_PML`] cells and at most the
/// acquisition's own. The data were made with the acquisition's (OpenFWI's 20 cells);
/// a thinner layer reflects a little more but simulates fewer cells: on the `openfwi`
/// preset 10 cells change the traces by 0.1 % (2 % after a 2 Hz low-pass) and take a
/// one-sample refinement from 11.3 s to 6.7 s on 2 cores (README, `brine refine`).
pub fn thin_pml(acq: &Acquisition, vmin: f64) -> usize {
    // `as` saturates, and the clamp below bounds whatever it gives.
    let wavelength = (vmin / (acq.f0 * acq.dx)).ceil();
    let cells = if wavelength.is_finite() { wavelength as usize } else { acq.pml };
    cells.max(THIN_PML).min(acq.pml)
}

/// The gathers as (samples, data), checked against the checkpoint's layout, the first
/// `--limit` of them.
fn gathers(o: &Options, model: &Model) -> Result<(usize, Vec<f32>)> {
    let (n, arr) = read_gathers(model, o.data)?;
    let n = o.limit.map_or(n, |k| k.min(n));
    let mut data = arr.data;
    data.truncate(n * model.layout.data_len());
    Ok((n, data))
}

/// Models of `n` × nz × nx from `path` (the truth or a start), positive and finite.
fn models_file(path: &Path, n: usize, model: &Model, what: &str) -> Result<Vec<f32>> {
    let l = &model.layout;
    let (m, count, nz, nx) = shards::read_models(path)?;
    if count < n || (nz, nx) != (l.nz, l.nx) {
        return Err(Error::file(
            path,
            format!("holds {count} models of {nz} × {nx}; expected {n} of {} × {}", l.nz, l.nx),
        ));
    }
    let m = m[..n * nz * nx].to_vec();
    check_models(what, &m, n, nz, nx).map_err(|e| Error::file(path, e.to_string()))?;
    Ok(m)
}

pub fn run(o: &Options) -> Result<Report> {
    crate::train::dataset::check_limit("refine", o.limit)?;
    let model = Model::read(o.checkpoint)?;
    let l = model.layout;
    let bounds = (o.vmin.unwrap_or(model.norm.model_min), o.vmax.unwrap_or(model.norm.model_max));
    let fo = fwi::Options {
        method: o.method,
        iters: o.iters,
        lr: o.lr,
        vmin: bounds.0,
        vmax: bounds.1,
        smooth: o.smooth,
        depth_weight: o.depth_weight,
        bands: o.bands.clone(),
    };
    fo.check()?;
    let (mut acq, acq_from) =
        mirror::acquisition("refine", o.acquisition, o.data.parent(), &model, "give --acquisition")?;
    acq.pml = o.pml.unwrap_or_else(|| thin_pml(&acq, bounds.0));
    acq.check().map_err(|e| Error::config("refine", format!("--pml {}: {e}", acq.pml)))?;
    if o.mirror {
        if !matches!(o.start, Start::Network) {
            return Err(Error::config("refine", "--mirror applies to the network's prediction (--init network)"));
        }
        mirror::check_acquisition(&acq, &acq_from, l.nx)?;
    }
    let (n, mut data) = gathers(o, &model)?;
    let observed = data.clone();
    let truth_path = o.truth.map(Path::to_path_buf).or_else(|| sibling_truth(o.data));
    let truth = truth_path.as_deref().map(|p| models_file(p, n, &model, "truth")).transpose()?;
    let plan = Plan::new(&acq, l.nz, l.nx, bounds.0, bounds.1)?;
    fo.misfits(&plan)?;
    let mut warnings = plan.warnings.clone();
    let start = match &o.start {
        Start::Network => {
            let x = [n.min(16), model.config.in_channels, l.h, l.w];
            let mut runner = Runner::inference(o.device, o.checkpoint, &model.config, x)?;
            let out = mirror::predict(&mut runner, &model, &network_inputs(&model, &mut data, n)?, o.mirror)?;
            let mut v = to_velocities(&model, o.checkpoint, &out)?;
            let outside = v.iter().filter(|&&x| !(x as f64 >= bounds.0 && x as f64 <= bounds.1)).count();
            if outside > 0 {
                warnings.push(format!("{outside} cells of the network's prediction lay outside the bounds; clamped"));
                v.iter_mut().for_each(|x| *x = x.clamp(bounds.0 as f32, bounds.1 as f32));
            }
            v
        }
        Start::Smooth => {
            let b = model.baseline.as_ref().ok_or_else(|| {
                Error::file(o.checkpoint, "keeps no training-set baseline (`brine.baseline`) for --init smooth")
            })?;
            b.profile_model(l.nx).repeat(n)
        }
        Start::File(p) => {
            let m = models_file(p, n, &model, "start")?;
            check_bounds(&p.display().to_string(), &m, l.nz, l.nx, &fo)?;
            m
        }
    };
    ensure_dir(o.out)?;

    let bar = super::progress_bar(
        o.progress,
        o.iters as u64 + 1,
        "{bar:40} {pos}/{len} iterates  {msg}  elapsed {elapsed_precise}  eta {eta}",
    );
    let clock = std::time::Instant::now();
    let cells = l.nz * l.nx;
    let mut iterations = vec![];
    let mut first: Vec<Scores> = vec![];
    let mut last: Vec<Scores> = vec![];
    let (refined, evaluations) = fwi::invert(o.device, &plan, &start, &observed, n, &fo, |it, misfit, models| {
        let mean_misfit = misfit.iter().sum::<f64>() / n as f64;
        let scores = match &truth {
            Some(t) => {
                let s: Vec<Scores> = (0..n)
                    .map(|i| score(&model, &models[i * cells..][..cells], &t[i * cells..][..cells]))
                    .collect::<Result<_>>()?;
                if it == 0 {
                    first = s.clone();
                }
                let m = mean(&s).mean;
                last = s;
                bar.set_message(format!("misfit {mean_misfit:.4e}  MAE {:.4}  SSIM {:.3}", m.mae, m.ssim));
                Some(m)
            }
            None => {
                bar.set_message(format!("misfit {mean_misfit:.4e}"));
                None
            }
        };
        iterations.push(Iteration { iter: it, misfit: mean_misfit, band_hz: fo.band(it), scores });
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    let seconds = clock.elapsed().as_secs_f64();

    let path = o.out.join("refined.npy");
    npy::write_atomic(&path, &[n, 1, l.nz, l.nx], &refined)?;
    let mut report = Report {
        samples: n,
        start: if o.mirror { format!("{} (mirrored)", o.start.name()) } else { o.start.name() },
        acquisition: acq_from,
        pml: acq.pml,
        device: o.device.describe(),
        method: o.method,
        iters: o.iters,
        evaluations,
        lr: o.lr,
        bounds,
        smooth: o.smooth,
        depth_weight: o.depth_weight,
        bands: o.bands.clone(),
        seconds,
        iterations,
        per_sample: first.into_iter().zip(last).collect(),
        refined: path,
        figures: vec![],
        warnings,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::config("refine", e.to_string()))?;
    write_file_atomic(&o.out.join("refine.json"), json.as_bytes())?;
    let range = (model.norm.model_min as f32, model.norm.model_max as f32);
    for i in 0..n.min(o.figures) {
        let t = truth.as_ref().map(|t| &t[i * cells..][..cells]);
        let title = match report.per_sample.get(i) {
            Some((a, b)) => {
                format!("Sample {i}: MAE {:.0} → {:.0} m/s, SSIM {:.3} → {:.3}", a.mae_ms, b.mae_ms, a.ssim, b.ssim)
            }
            None => format!("Sample {i}"),
        };
        let p = o.out.join(format!("refine_{i:04}.png"));
        let (s, r) = (&start[i * cells..][..cells], &refined[i * cells..][..cells]);
        plot::refinement(&p, t, s, r, l.nz, l.nx, model.dx, range, &title)?;
        report.figures.push(p);
    }
    let curve: Vec<(f64, f64)> = report.iterations.iter().map(|r| (r.iter as f64, r.misfit)).collect();
    let p = o.out.join("misfit.png");
    plot::loss_curves(&p, &[("data misfit", &curve)], "Data misfit per iteration", true)?;
    report.figures.push(p);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_layer_is_a_wavelength_within_the_acquisitions() {
        let mut acq = Acquisition::preset("openfwi").unwrap();
        assert_eq!(thin_pml(&acq, 1500.0), 10, "1500 m/s / 15 Hz / 10 m");
        assert_eq!(thin_pml(&acq, 1000.0), 10, "never under THIN_PML");
        assert_eq!(thin_pml(&acq, 2250.0), 15);
        assert_eq!(thin_pml(&acq, 1e9), 20, "never over the acquisition's");
        acq.dx = 5.0;
        assert_eq!(thin_pml(&acq, 1500.0), 20);
        acq.pml = 6;
        assert_eq!(thin_pml(&acq, 1500.0), 6);
    }
}
