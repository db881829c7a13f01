//! Normalisation as OpenFWI does it. Seismic data: `y = sign(x)·ln(1 + |x|)`, then min-max
//! to [−1, 1] with the bounds passed through the same log; velocity: min-max to [−1, 1].
//! The bounds are stored beside the shards in `norm.json` (raw data min/max, model
//! min/max in m/s, like OpenFWI's `dataset_config.json` entries `data_min`, `data_max`,
//! `label_min`, `label_max`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The bounds of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Norm {
    /// Smallest and largest raw data value.
    pub data_min: f64,
    pub data_max: f64,
    /// Smallest and largest velocity (m/s).
    pub model_min: f64,
    pub model_max: f64,
}

/// sign(x)·ln(1 + |x|) (OpenFWI's `log_transform` with k = 1).
pub fn log_transform(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// The inverse of [`log_transform`].
pub fn exp_transform(y: f64) -> f64 {
    y.signum() * y.abs().exp_m1()
}

fn to_unit(x: f64, lo: f64, hi: f64) -> f64 {
    2.0 * (x - lo) / (hi - lo) - 1.0
}

fn from_unit(y: f64, lo: f64, hi: f64) -> f64 {
    (y + 1.0) / 2.0 * (hi - lo) + lo
}

impl Norm {
    /// The bounds of one data array and one model array.
    pub fn of(data: &[f32], models: &[f32]) -> Norm {
        let mm = |v: &[f32]| {
            v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x as f64), b.max(x as f64)))
        };
        let ((data_min, data_max), (model_min, model_max)) = (mm(data), mm(models));
        Norm { data_min, data_max, model_min, model_max }
    }

    /// The bounds covering both.
    pub fn merge(&self, o: &Norm) -> Norm {
        Norm {
            data_min: self.data_min.min(o.data_min),
            data_max: self.data_max.max(o.data_max),
            model_min: self.model_min.min(o.model_min),
            model_max: self.model_max.max(o.model_max),
        }
    }

    fn check(&self) -> Result<()> {
        let ok = |lo: f64, hi: f64| lo.is_finite() && hi.is_finite() && hi > lo;
        if !ok(self.data_min, self.data_max) || !ok(self.model_min, self.model_max) {
            return Err(Error::config("normalise", format!("degenerate bounds {self:?}")));
        }
        Ok(())
    }

    /// Seismic data to [−1, 1] in place.
    pub fn normalize_data(&self, data: &mut [f32]) -> Result<()> {
        self.check()?;
        let (lo, hi) = (log_transform(self.data_min), log_transform(self.data_max));
        data.iter_mut().for_each(|v| *v = to_unit(log_transform(*v as f64), lo, hi) as f32);
        Ok(())
    }

    /// The inverse of [`Norm::normalize_data`].
    pub fn denormalize_data(&self, data: &mut [f32]) -> Result<()> {
        self.check()?;
        let (lo, hi) = (log_transform(self.data_min), log_transform(self.data_max));
        data.iter_mut().for_each(|v| *v = exp_transform(from_unit(*v as f64, lo, hi)) as f32);
        Ok(())
    }

    /// Velocities to [−1, 1] in place.
    pub fn normalize_model(&self, models: &mut [f32]) -> Result<()> {
        self.check()?;
        models.iter_mut().for_each(|v| *v = to_unit(*v as f64, self.model_min, self.model_max) as f32);
        Ok(())
    }

    /// [−1, 1] back to m/s.
    pub fn denormalize_model(&self, models: &mut [f32]) -> Result<()> {
        self.check()?;
        models.iter_mut().for_each(|v| *v = from_unit(*v as f64, self.model_min, self.model_max) as f32);
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Norm> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| Error::file(path, format!("not a norm file: {e}")))
    }

    /// Writes the bounds as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        super::write_file_atomic(path, serde_json::to_string_pretty(self).expect("norm serialises").as_bytes())
    }
}
