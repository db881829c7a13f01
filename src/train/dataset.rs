//! Loading a dataset directory for training or evaluation: brine's shards
//! (`data_C.npy`/`model_C.npy`) or OpenFWI's published pairs (`dataN.npy`/`modelN.npy`),
//! normalised as OpenFWI does and mapped onto the network's grid by a `Layout`.

use std::path::{Path, PathBuf};

use super::fit::Samples;
use super::layout::Layout;
use crate::data::{Norm, Shard, shards};
use crate::error::{Error, Result};

/// The (data, model) file pairs of a directory: brine shards first; otherwise every
/// `*data*.npy` whose name with `data` → `model` also exists.
pub fn pairs(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    if !dir.is_dir() {
        return Err(Error::file(dir, "is not a directory"));
    }
    let found = shards::list(dir)?;
    if !found.is_empty() {
        return Ok(found);
    }
    let mut out = vec![];
    let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot list: {e}")))?;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".npy") && name.contains("data") {
            let model = dir.join(name.replacen("data", "model", 1));
            if model.exists() {
                out.push((e.path(), model));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::file(
            dir,
            "holds no shards (data_C.npy + model_C.npy from `brine synth`, or OpenFWI's dataN.npy + modelN.npy)",
        ));
    }
    Ok(out)
}

/// A `--limit` of no samples is refused (`op` names the command that reads the samples).
pub fn check_limit(op: &str, limit: Option<usize>) -> Result<()> {
    if limit == Some(0) {
        return Err(Error::config(op, "--limit must be at least 1 sample"));
    }
    Ok(())
}

/// Whether sample `i` is held out for validation: every `val_every`-th one.
pub fn held_out(i: usize, val_every: usize) -> bool {
    i % val_every == val_every - 1
}

/// Shots per sample in a dataset directory: the network's input channels.
pub fn shots(dir: &Path) -> Result<usize> {
    let Some((d, _)) = pairs(dir)?.into_iter().next() else { return Err(Error::file(dir, "holds no shards")) };
    match crate::data::npy::shape(&d)?[..] {
        [_, shots, _, _] => Ok(shots),
        ref s => {
            Err(Error::file(&d, format!("rank {} array {s:?}: seismic data is (N, shots, time, receivers)", s.len())))
        }
    }
}

/// A dataset in network layout, and what maps it back to velocities.
pub struct Dataset {
    pub layout: Layout,
    pub norm: Norm,
    pub samples: Samples,
    /// Velocity models in m/s as stored (n × nz × nx), for metrics in m/s.
    pub models: Vec<f32>,
    /// Grid spacing in metres: from `dataset.json`, else OpenFWI's 10 m.
    pub dx: f32,
}

/// The grid spacing a dataset directory declares (`dataset.json` from `brine synth`).
pub fn spacing(dir: &Path) -> f32 {
    shards::description(dir).map_or(10.0, |d| d.acquisition.dx as f32)
}

/// Bytes that loading `files` (at most `limit` samples) takes: every chosen file in memory
/// twice, as stored and laid out for the network (None: past u64).
pub fn memory_needed(files: &[(PathBuf, PathBuf)], limit: Option<usize>) -> Result<Option<u64>> {
    let mut need = Some(0u64);
    let mut counted = 0;
    for (d, m) in files {
        if limit.is_some_and(|l| counted >= l) {
            break;
        }
        let (ds, ms) = (crate::data::npy::shape(d)?, crate::data::npy::shape(m)?);
        counted += ds.first().copied().unwrap_or(0);
        let more = crate::limits::bytes(&ds, 8).zip(crate::limits::bytes(&ms, 12)).and_then(|(a, b)| a.checked_add(b));
        need = need.zip(more).and_then(|(a, b)| a.checked_add(b));
    }
    Ok(need)
}

/// Loads every pair in `dir` (at most `limit` samples). `layout` and `norm` come from a
/// checkpoint when given; otherwise the layout is derived for `levels` and the norm read
/// from `norm.json` or computed from the data.
pub fn load(
    dir: &Path,
    levels: usize,
    layout: Option<Layout>,
    norm: Option<Norm>,
    limit: Option<usize>,
) -> Result<Dataset> {
    check_limit("dataset", limit)?;
    let files = pairs(dir)?;
    crate::limits::check(&format!("{}: loading the dataset", dir.display()), memory_needed(&files, limit)?)?;
    let mut shards = vec![];
    let mut total = 0;
    for (d, m) in &files {
        if limit.is_some_and(|l| total >= l) {
            break;
        }
        let s = Shard::open(d, m)?;
        total += s.len();
        shards.push((d.clone(), s));
    }
    let Some((d0, first)) = shards.first() else { return Err(Error::file(dir, "holds no samples")) };
    let [_, shots, nt, nrec] = first.data.shape[..] else {
        return Err(Error::file(d0, "seismic data is (N, shots, time, receivers)"));
    };
    let (nz, nx) = (first.models.shape[2], first.models.shape[3]);
    for (path, s) in &shards {
        if s.data.shape[1..] != first.data.shape[1..] || s.models.shape[2..] != first.models.shape[2..] {
            return Err(Error::file(
                path,
                format!("sample shape {:?} / {:?} differs from {}'s", s.data.shape, s.models.shape, d0.display()),
            ));
        }
    }
    let layout = match layout {
        Some(l) => {
            if (l.shots, l.nt, l.nrec, l.nz, l.nx) != (shots, nt, nrec, nz, nx) {
                return Err(Error::file(
                    d0,
                    format!(
                        "samples are {shots} shots × {nt} × {nrec} with {nz} × {nx} models; the checkpoint expects {} × {} × {} with {} × {}",
                        l.shots, l.nt, l.nrec, l.nz, l.nx
                    ),
                ));
            }
            l
        }
        None => Layout::new(shots, nt, nrec, nz, nx, levels)?,
    };
    let norm = match norm {
        Some(n) => n,
        None if dir.join("norm.json").exists() => Norm::load(&dir.join("norm.json"))?,
        None => shards
            .iter()
            .map(|(_, s)| Norm::of(&s.data.data, &s.models.data))
            .reduce(|a, b| a.merge(&b))
            .ok_or_else(|| Error::file(dir, "holds no samples"))?,
    };
    let mut samples = Samples::new(&layout);
    let mut models = vec![];
    for (_, s) in shards {
        let take = limit.map_or(s.len(), |l| (l - samples.n).min(s.len()));
        lay_out(s, &layout, &norm, |i| i < take, &mut samples, &mut models)?;
    }
    Ok(Dataset { layout, norm, samples, models, dx: spacing(dir) })
}

/// Normalises a shard and appends the samples `keep` picks (by index in the shard), laid
/// out for the network, to `into`, and their velocity models in m/s to `models`.
pub fn lay_out(
    mut s: Shard,
    layout: &Layout,
    norm: &Norm,
    keep: impl Fn(usize) -> bool,
    into: &mut Samples,
    models: &mut Vec<f32>,
) -> Result<()> {
    let (d, m) = (layout.data_len(), layout.model_len());
    norm.normalize_data(&mut s.data.data)?;
    let raw = s.models.data.clone();
    norm.normalize_model(&mut s.models.data)?;
    for i in (0..s.len()).filter(|&i| keep(i)) {
        into.input.extend(layout.input(&s.data.data[i * d..][..d])?);
        into.target.extend(layout.target(&s.models.data[i * m..][..m])?);
        models.extend_from_slice(&raw[i * m..][..m]);
        into.n += 1;
    }
    Ok(())
}
