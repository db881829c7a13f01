//! PNG views: velocity models (viridis, colour bar in m/s) and shot gathers (red-white-blue,
//! clipped at a percentile of |amplitude|).

use std::path::Path;

use crate::error::{Error, Result};

/// viridis, sampled at 9 evenly spaced points.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

fn viridis(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let mut c = [0u8; 3];
    for k in 0..3 {
        c[k] = (VIRIDIS[i][k] as f64 * (1.0 - f) + VIRIDIS[i + 1][k] as f64 * f).round() as u8;
    }
    c
}

/// Seismic red-white-blue: −1 blue, 0 white, +1 red.
fn rwb(t: f64) -> [u8; 3] {
    let t = t.clamp(-1.0, 1.0);
    let a = (255.0 * (1.0 - t.abs())).round() as u8;
    if t >= 0.0 { [255, a, a] } else { [a, a, 255] }
}

/// 3×5 glyphs for tick labels, one row per u8 (bits 2..0 left to right).
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 3, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'm' => [0, 0, 7, 7, 5],
        's' => [0, 3, 6, 3, 6],
        '/' => [1, 1, 2, 4, 4],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        _ => [0; 5],
    }
}

/// An RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, px: vec![255; w * h * 3] }
    }
    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.w && y < self.h {
            self.px[(y * self.w + x) * 3..][..3].copy_from_slice(&c);
        }
    }
    fn text(&mut self, x: usize, y: usize, s: &str, scale: usize) {
        for (i, ch) in s.chars().enumerate() {
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..3 {
                    if bits >> (2 - col) & 1 == 1 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.set(x + (i * 4 + col) * scale + dx, y + row * scale + dy, [0, 0, 0]);
                            }
                        }
                    }
                }
            }
        }
    }
    fn save(&self, path: &Path) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| Error::file(path, format!("writing PNG: {e}"));
        let file = std::fs::File::create(path).map_err(|e| err(&e))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| err(&e))?;
        w.write_image_data(&self.px).map_err(|e| err(&e))?;
        w.finish().map_err(|e| err(&e))
    }
}

/// Integer upscale so that the image is at least `min` pixels on its longer side.
fn scale_for(h: usize, w: usize, min: usize) -> usize {
    min.div_ceil(h.max(w).max(1)).clamp(1, 16)
}

/// Writes a velocity model (nz × nx, m/s) as a PNG with a colour bar; the colour range is
/// [vmin, vmax] (pass the model's own range or a fixed one to compare models).
pub fn model_png(path: &Path, model: &[f32], nz: usize, nx: usize, vmin: f64, vmax: f64) -> Result<()> {
    crate::error::check_len("show", "model", model.len(), &[nz, nx])?;
    let s = scale_for(nz, nx, 560);
    let (iw, ih) = (nx * s, nz * s);
    let (pad, top, bar_w, label_w) = (10, 26, 18, 80);
    let mut cv = Canvas::new(pad + iw + pad + bar_w + 6 + label_w, ih + top + pad);
    let span = (vmax - vmin).max(1e-9);
    for y in 0..ih {
        for x in 0..iw {
            let v = model[(y / s) * nx + x / s] as f64;
            cv.set(pad + x, top + y, viridis((v - vmin) / span));
        }
    }
    let bx = pad + iw + pad;
    for y in 0..ih {
        let c = viridis(1.0 - y as f64 / (ih - 1).max(1) as f64);
        for x in 0..bar_w {
            cv.set(bx + x, top + y, c);
        }
    }
    // Ticks at round velocities.
    let step = [100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0].into_iter().find(|st| span / st <= 6.0).unwrap_or(5000.0);
    let mut v = (vmin / step).ceil() * step;
    while v <= vmax + 1e-9 {
        let y = top + ((1.0 - (v - vmin) / span) * (ih - 1) as f64).round() as usize;
        for x in 0..4 {
            cv.set(bx + bar_w + x, y, [0, 0, 0]);
        }
        cv.text(bx + bar_w + 6, y.saturating_sub(5), &format!("{v:.0}"), 2);
        v += step;
    }
    cv.text(bx, 4, "m/s", 2);
    cv.save(path)
}

/// Writes a shot gather (samples × receivers, time down) as a red-white-blue PNG clipped at
/// the `clip` percentile (0–100) of |amplitude|.
pub fn gather_png(path: &Path, gather: &[f32], nt: usize, nrec: usize, clip: f64) -> Result<()> {
    crate::error::check_len("show", "gather", gather.len(), &[nt, nrec])?;
    let mut mags: Vec<f32> = gather.iter().map(|v| v.abs()).filter(|v| v.is_finite()).collect();
    mags.sort_by(f32::total_cmp);
    let q = if mags.is_empty() {
        1.0
    } else {
        mags[((clip / 100.0).clamp(0.0, 1.0) * (mags.len() - 1) as f64) as usize].max(f32::MIN_POSITIVE)
    };
    // Receivers stretched to at least 420 px, time squeezed to at most 800 rows.
    let sx = 420usize.div_ceil(nrec).max(1);
    let rows = nt.min(800);
    let mut cv = Canvas::new(nrec * sx, rows);
    for y in 0..rows {
        let t = y * nt / rows;
        for x in 0..nrec * sx {
            cv.set(x, y, rwb(gather[t * nrec + x / sx] as f64 / q as f64));
        }
    }
    cv.save(path)
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
}

/// Draws samples of a `.npy` file into `out_dir`: velocity models ((nz, nx), (N, nz, nx),
/// (N, 1, nz, nx)) as `model_K.png`, seismic data (N, shots, time, receivers with shots ≠ 1)
/// as `gather_K_shotS.png`. Returns the files written.
pub fn show_file(path: &Path, out_dir: &Path, opts: &ShowOptions) -> Result<Vec<std::path::PathBuf>> {
    let a = crate::data::npy::read(path)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::file(out_dir, e.to_string()))?;
    let mut written = vec![];
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let is_data = a.shape.len() == 4 && a.shape[1] != 1;
    let indices = if opts.indices.is_empty() { vec![0] } else { opts.indices.clone() };
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
                gather_png(&out, &a.data[off..off + nt * nrec], nt, nrec, opts.clip)?;
                written.push(out);
            }
        }
    } else {
        let (models, n, nz, nx) = crate::data::shards::read_models(path)?;
        let (lo, hi) = opts.vrange.unwrap_or_else(|| {
            models.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v as f64), b.max(v as f64)))
        });
        for &k in &indices {
            if k >= n {
                return Err(Error::file(path, format!("model {k} requested, the file has {n}")));
            }
            let out = out_dir.join(format!("{stem}_{k}.png"));
            model_png(&out, &models[k * nz * nx..(k + 1) * nz * nx], nz, nx, lo, hi)?;
            written.push(out);
        }
    }
    Ok(written)
}
