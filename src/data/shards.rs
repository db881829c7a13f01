//! Dataset shards in OpenFWI's layout (`brine synth`, in `app::synth`, makes them).
//!
//! A set of `count` samples is cut into files of `per_file` samples: file c holds samples
//! c·per_file … and is written as `data_ccccc.npy` float32 (N, shots, time, receivers),
//! `model_ccccc.npy` float32 (N, 1, nz, nx) and `stats_ccccc.json` (its bounds; written last,
//! it marks the file complete). Sample k is drawn from seed (S, k), so the files do not
//! depend on how the work is split: `--shard i/n` makes the files c with c mod n = i, and
//! any number of processes or machines can share one set. Every file is written under a
//! temporary name and renamed, so an interrupted run leaves complete files only, and a rerun
//! skips the files already complete. `dataset.json` describes the set; `norm.json` holds the
//! normalisation bounds of the whole set once every file exists.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::npy;
use crate::error::{Error, Result};
use crate::seismic::Acquisition;
use crate::seismic::model::Geology;

/// `i/n`: this process makes the files c with c mod n = i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub of: usize,
}

impl FromStr for ShardSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |d: &str| Error::config("--shard", format!("`{s}`: {d}"));
        let (i, n) = s.split_once('/').ok_or_else(|| bad("expected i/n, e.g. 0/4"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("i is not a whole number"))?;
        let of: usize = n.trim().parse().map_err(|_| bad("n is not a whole number"))?;
        if of == 0 {
            return Err(bad("n must be at least 1"));
        }
        if index >= of {
            return Err(bad(&format!("i must satisfy 0 ≤ i < n (shards 0/{of} … {}/{of})", of - 1)));
        }
        Ok(ShardSpec { index, of })
    }
}

/// What `dataset.json` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Description {
    pub generator: String,
    pub seed: u64,
    pub count: usize,
    pub per_file: usize,
    pub acquisition: Acquisition,
    /// The salt generator; sets made before it was recorded are `classic`.
    #[serde(default = "classic")]
    pub geology: Geology,
}

fn classic() -> Geology {
    Geology::Classic
}

/// The `dataset.json` of a directory made by `brine synth`, if it has a readable one.
pub fn description(dir: &Path) -> Option<Description> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("dataset.json")).ok()?).ok()
}

pub fn data_path(dir: &Path, c: usize) -> PathBuf {
    dir.join(format!("data_{c:05}.npy"))
}
pub fn model_path(dir: &Path, c: usize) -> PathBuf {
    dir.join(format!("model_{c:05}.npy"))
}
pub fn stats_path(dir: &Path, c: usize) -> PathBuf {
    dir.join(format!("stats_{c:05}.json"))
}

/// Whether file c of a set is complete (its stats file, written last, exists).
pub fn complete(dir: &Path, c: usize) -> bool {
    stats_path(dir, c).exists() && data_path(dir, c).exists() && model_path(dir, c).exists()
}

/// Velocity models from a `.npy` file: (nz, nx), (N, nz, nx) or OpenFWI's (N, 1, nz, nx).
/// Returns (models, n, nz, nx).
pub fn read_models(path: &Path) -> Result<(Vec<f32>, usize, usize, usize)> {
    let a = npy::read(path)?;
    let (n, nz, nx) = match a.shape[..] {
        [nz, nx] => (1, nz, nx),
        [n, nz, nx] => (n, nz, nx),
        [n, 1, nz, nx] => (n, nz, nx),
        [_, c, _, _] => {
            return Err(Error::file(path, format!("shape {:?}: {c} channels, velocity models have 1", a.shape)));
        }
        _ => {
            return Err(Error::file(
                path,
                format!(
                    "rank {} array {:?}: velocity models are (nz, nx), (N, nz, nx) or (N, 1, nz, nx)",
                    a.shape.len(),
                    a.shape
                ),
            ));
        }
    };
    if n == 0 || nz == 0 || nx == 0 {
        return Err(Error::file(path, format!("empty model array {:?}", a.shape)));
    }
    crate::seismic::propagate::check_models("models", &a.data, n, nz, nx)
        .map_err(|e| Error::file(path, e.to_string()))?;
    Ok((a.data, n, nz, nx))
}

/// Refuses seismic data with a NaN or infinite value, naming the file and where it is.
pub fn check_data(path: &Path, d: &npy::Array) -> Result<()> {
    if let Some(i) = npy::first_non_finite(&d.data) {
        let per = d.shape[1..].iter().product::<usize>().max(1);
        return Err(Error::file(
            path,
            format!("holds {} at index {i} (sample {}): seismic data must be finite", d.data[i], i / per),
        ));
    }
    Ok(())
}

/// One pair of files: seismic data (N, shots, time, receivers) and velocity models
/// (N, 1, nz, nx) — brine's shards or OpenFWI's published `data*.npy` / `model*.npy`.
#[derive(Clone, Debug)]
pub struct Shard {
    pub data: npy::Array,
    pub models: npy::Array,
}

impl Shard {
    /// Reads and checks a data file and its model file.
    pub fn open(data: &Path, models: &Path) -> Result<Shard> {
        let d = npy::read(data)?;
        if d.shape.len() != 4 {
            return Err(Error::file(
                data,
                format!("rank {} array {:?}: seismic data is (N, shots, time, receivers)", d.shape.len(), d.shape),
            ));
        }
        check_data(data, &d)?;
        let (m, n, nz, nx) = read_models(models)?;
        if n != d.shape[0] {
            return Err(Error::file(
                models,
                format!("{n} models for {} data samples in {}", d.shape[0], data.display()),
            ));
        }
        Ok(Shard { data: d, models: npy::Array::new(vec![n, 1, nz, nx], m) })
    }

    /// Samples in this shard.
    pub fn len(&self) -> usize {
        self.data.shape[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The complete (data, model) file pairs of a brine dataset directory, in order.
pub fn list(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::file(dir, e.to_string()))?;
    let mut cs: Vec<usize> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("stats_")?.strip_suffix(".json")?.parse().ok()
        })
        .filter(|&c| complete(dir, c))
        .collect();
    cs.sort();
    Ok(cs.into_iter().map(|c| (data_path(dir, c), model_path(dir, c))).collect())
}
