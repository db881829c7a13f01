//! Loading a dataset directory for training or evaluation: brine's shards
//! (`data_C.npy`/`model_C.npy`) or OpenFWI's published pairs (`dataN.npy`/`modelN.npy`),
//! normalised as OpenFWI does and mapped onto the network's grid by a `Layout`.

use std::path::{Path, PathBuf};

use super::fit::Samples;
use super::layout::Layout;
use crate::data::{Norm, Shard, npy, shards};
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

/// One file pair of a set and the samples used from it.
pub struct Part {
    pub data: PathBuf,
    pub models: PathBuf,
    /// Global index of its first sample.
    pub first: usize,
    /// Samples used from it (a `--limit` may cut the last one short).
    pub len: usize,
    /// Its samples as stored.
    pub count: usize,
}

/// A set's parts and the sample shape all of them share: (shots, nt, nrec, nz, nx).
pub struct Scan {
    pub parts: Vec<Part>,
    pub shape: [usize; 5],
}

/// A set's parts (at most `limit` samples), read from the headers alone.
pub fn scan(dir: &Path, limit: Option<usize>) -> Result<Scan> {
    check_limit("dataset", limit)?;
    let (mut parts, mut total, mut shape) = (vec![], 0, None);
    for (data, models) in pairs(dir)? {
        if limit.is_some_and(|l| total >= l) {
            break;
        }
        let (ds, ms) = (npy::shape(&data)?, npy::shape(&models)?);
        let [n, shots, nt, nrec] = ds[..] else {
            return Err(Error::file(&data, format!("shape {ds:?}: seismic data is (N, shots, time, receivers)")));
        };
        let (nz, nx) = match ms[..] {
            [m, 1, nz, nx] | [m, nz, nx] if m == n => (nz, nx),
            _ => return Err(Error::file(&models, format!("shape {ms:?} does not hold {n} velocity models"))),
        };
        let this = [shots, nt, nrec, nz, nx];
        if *shape.get_or_insert(this) != this {
            return Err(Error::file(&data, format!("sample shape {ds:?} / {ms:?} differs from the first file's")));
        }
        let len = limit.map_or(n, |l| n.min(l - total));
        parts.push(Part { data, models, first: total, len, count: n });
        total += len;
    }
    match shape {
        Some(shape) if total > 0 => Ok(Scan { parts, shape }),
        _ => Err(Error::file(dir, "holds no samples")),
    }
}

/// The bounds of `norm.json` in `dir`, else of one pass over the parts.
pub fn bounds(dir: &Path, parts: &[Part]) -> Result<Norm> {
    if dir.join("norm.json").exists() {
        return Norm::load(&dir.join("norm.json"));
    }
    let mut norm: Option<Norm> = None;
    for p in parts {
        let s = Shard::open(&p.data, &p.models)?;
        let this = Norm::of(&s.data.data, &s.models.data);
        norm = Some(norm.map_or(this, |n: Norm| n.merge(&this)));
    }
    norm.ok_or_else(|| Error::file(dir, "holds no samples"))
}

/// Bytes that loading `parts` laid out for `layout` takes (None: past u64). The parts are
/// read one at a time, so: the largest as stored (twice: its bytes, then as f32) beside
/// every sample used laid out for the network (input, target, and the model in m/s).
pub fn memory_needed(parts: &[Part], layout: &Layout) -> Option<u64> {
    let per_sample = layout.input_len() + layout.target_len() + layout.model_len();
    let used: usize = parts.iter().map(|p| p.len).sum();
    let largest = parts.iter().map(|p| p.count).max().unwrap_or(0);
    let stored = crate::limits::bytes(&[largest, layout.data_len() + layout.model_len()], 8)?;
    crate::limits::bytes(&[used, per_sample], 4)?.checked_add(stored)
}

/// Samples of `shape` (shots, nt, nrec, nz, nx) must be what `l` lays out.
pub fn check_fits(parts: &[Part], [shots, nt, nrec, nz, nx]: [usize; 5], l: &Layout) -> Result<()> {
    if (l.shots, l.nt, l.nrec, l.nz, l.nx) == (shots, nt, nrec, nz, nx) {
        return Ok(());
    }
    Err(Error::file(
        parts.first().map_or(Path::new("."), |p| p.data.as_path()),
        format!(
            "samples are {shots} shots × {nt} × {nrec} with {nz} × {nx} models; the network expects {} × {} × {} with {} × {}",
            l.shots, l.nt, l.nrec, l.nz, l.nx
        ),
    ))
}

/// Loads every pair in `dir` (at most `limit` samples), one file at a time, laid out as
/// `layout` (a checkpoint's, say) says, which the samples must fit. `norm` is the
/// checkpoint's when given, else read from `norm.json` or computed from the data.
pub fn load(dir: &Path, layout: Layout, norm: Option<Norm>, limit: Option<usize>) -> Result<Dataset> {
    load_scanned(dir, scan(dir, limit)?, layout, norm)
}

/// [`load`] of a set already scanned.
pub fn load_scanned(dir: &Path, Scan { parts, shape }: Scan, layout: Layout, norm: Option<Norm>) -> Result<Dataset> {
    check_fits(&parts, shape, &layout)?;
    crate::limits::check(&format!("{}: loading the dataset", dir.display()), memory_needed(&parts, &layout))?;
    let norm = match norm {
        Some(n) => n,
        None => bounds(dir, &parts)?,
    };
    let mut samples = Samples::new(&layout);
    let mut models = vec![];
    for p in &parts {
        let s = Shard::open(&p.data, &p.models)?;
        lay_out(s, &layout, &norm, |i| i < p.len, &mut samples, &mut models)?;
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
