//! `brine show`: velocity models and shot gathers from `.npy` files as PNG figures, drawn by
//! `crate::plot` (viridis with a colour bar in m/s and axes in km; gathers in grey, clipped
//! at a percentile of |amplitude|, with a time axis). Grid spacing and sample interval come
//! from the `dataset.json` beside the file when there is one (else 10 m and 1 ms).

use std::path::Path;

use crate::error::{Error, Result};

/// Grid spacing (m) and trace sample interval (s) declared beside `path`.
fn geometry(path: &Path) -> (f32, f32) {
    let desc = path.parent().and_then(crate::data::shards::description);
    desc.map_or((10.0, 0.001), |d| (d.acquisition.dx as f32, (d.acquisition.dt * d.acquisition.decimate as f64) as f32))
}

/// What [`show_file`] draws.
#[derive(Clone, Debug)]
pub struct ShowOptions {
    /// Samples to draw (default: the first).
    pub indices: Vec<usize>,
    /// Shots to draw from a data file (default: all).
    pub shots: Option<Vec<usize>>,
    /// Percentile of |amplitude| that saturates a gather's colours.
    pub clip: f64,
    /// Colour range of a model in m/s (default: the file's own range).
    pub vrange: Option<(f64, f64)>,
    /// Draw the chosen models into one figure, this many to a row.
    pub grid: Option<usize>,
}

/// Draws samples of a `.npy` file into `out_dir`: velocity models ((nz, nx), (N, nz, nx),
/// (N, 1, nz, nx)) as `model_K.png`, seismic data (N, shots, time, receivers with shots ≠ 1)
/// as `gather_K_shotS.png`; with `grid`, the models together as `model_grid.png`. Returns
/// the files written.
pub fn show_file(path: &Path, out_dir: &Path, opts: &ShowOptions) -> Result<Vec<std::path::PathBuf>> {
    if !(opts.clip > 0.0 && opts.clip <= 100.0) {
        return Err(Error::config("show", format!("--clip {} is not a percentile in (0, 100]", opts.clip)));
    }
    let a = crate::data::npy::read(path)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::file(out_dir, e.to_string()))?;
    let mut written = vec![];
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let is_data = a.shape.len() == 4 && a.shape[1] != 1;
    let (dx, dt) = geometry(path);
    let indices = if opts.indices.is_empty() { vec![0] } else { opts.indices.clone() };
    if is_data && opts.grid.is_some() {
        return Err(Error::file(path, "holds shot gathers: --grid draws velocity models only"));
    }
    if is_data {
        let [n, shots, nt, nrec] = [a.shape[0], a.shape[1], a.shape[2], a.shape[3]];
        for &k in &indices {
            if k >= n {
                return Err(Error::file(path, format!("sample {k} requested, the file has {n}")));
            }
            for s in opts.shots.clone().unwrap_or_else(|| (0..shots).collect()) {
                if s >= shots {
                    return Err(Error::file(path, format!("shot {s} requested, the file has {shots}")));
                }
                let off = (k * shots + s) * nt * nrec;
                let out = out_dir.join(format!("{stem}_{k}_shot{s}.png"));
                let title = format!("{stem}: sample {k}, shot {s}");
                crate::plot::gather_clipped(&out, &a.data[off..off + nt * nrec], nt, nrec, dt, &title, opts.clip)?;
                written.push(out);
            }
        }
    } else {
        let (models, n, nz, nx) = crate::data::shards::read_models(path)?;
        let (lo, hi) = opts.vrange.unwrap_or_else(|| {
            models.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v as f64), b.max(v as f64)))
        });
        // A constant model still needs a colour range.
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 1.0, hi + 1.0) };
        if let Some(&k) = indices.iter().find(|&&k| k >= n) {
            return Err(Error::file(path, format!("model {k} requested, the file has {n}")));
        }
        let model = |k: usize| &models[k * nz * nx..(k + 1) * nz * nx];
        if let Some(cols) = opts.grid {
            let out = out_dir.join(format!("{stem}_grid.png"));
            let panels: Vec<(String, &[f32])> = indices.iter().map(|&k| (format!("model {k}"), model(k))).collect();
            // The set's generator and seed, where `brine synth` recorded them.
            let title = match path.parent().and_then(crate::data::shards::description) {
                Some(d) => format!("{stem}: {} geology, seed {}", d.geology, d.seed),
                None => stem.clone(),
            };
            crate::plot::gallery(&out, &panels, nz, nx, dx, cols, (lo as f32, hi as f32), &title)?;
            return Ok(vec![out]);
        }
        for &k in &indices {
            let out = out_dir.join(format!("{stem}_{k}.png"));
            let title = format!("{stem}: model {k}");
            crate::plot::velocity(&out, model(k), nz, nx, dx, &title, (lo as f32, hi as f32))?;
            written.push(out);
        }
    }
    Ok(written)
}
