//! Figures as PNG files: velocity models, truth/prediction/difference comparisons, shot gathers
//! and loss curves. Everything is drawn on a small RGB [`canvas::Canvas`] with text in the
//! embedded DejaVu Sans, then written to a temporary file beside the target and renamed onto it,
//! so a failed call leaves nothing at the target path. Errors name the file (and the tensor,
//! for a wrong length); bad input never panics.
//!
//! Colour maps: velocities use viridis (perceptually uniform, no jet), differences a diverging
//! blue–white–red symmetric about zero, gathers seismic grey (see [`colormap`]).

mod attention;
pub mod canvas;
pub mod colormap;
mod curves;
mod layout;
mod raster;
mod refinement;
pub mod ticks;

use crate::error::{Error, Result, check_len};
pub use attention::{AttentionFigure, attention};
use canvas::{Canvas, WHITE, text_size};
use colormap::{BLUE_WHITE_RED, GREY};
use curves::{SERIES_COLORS, draw_xy_axes, epoch_ticks, extent, legend, lerp2, widen};
use layout::{
    Axis, ColorBar, PAD, Panel, TICK_LEN, TICK_PX, X_TICK_SPACING, Y_TICK_SPACING, draw_panel, heading, label_height,
    title_height, x_axis_height, y_axis_width,
};
use raster::{colorize, fit_len, percentile_abs, raster_size, resample};
pub use refinement::refinement;
use std::path::Path;
use ticks::{Tick, linear_ticks, log_ticks};

/// One velocity model (`nz` rows of depth, `nx` columns of distance, square cells `dx_m` metres
/// apart) in viridis over `range` (m/s), with a colour bar in m/s, axes in km and a title.
pub fn velocity(
    path: impl AsRef<Path>,
    model: &[f32],
    nz: usize,
    nx: usize,
    dx_m: f32,
    title: &str,
    range: (f32, f32),
) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("velocity", path);
    check_grid(&op, "model", model, nz, nx)?;
    check_positive(&op, "dx_m", dx_m)?;
    check_range(&op, range)?;

    let (h, w) = raster_size(nz, nx, 400, 1200);
    let (xa, za) = Axis::km(nz, nx, dx_m, w);
    single_panel(path, model, (nz, nx), (h, w), (xa, za), ColorBar::velocity(range), title)
}

/// Several velocity models of one grid in rows of `cols` panels, each titled by its label,
/// on one viridis colour bar over `range` (m/s), axes in km.
#[allow(clippy::too_many_arguments)]
pub fn gallery(
    path: impl AsRef<Path>,
    models: &[(String, &[f32])],
    nz: usize,
    nx: usize,
    dx_m: f32,
    cols: usize,
    range: (f32, f32),
    title: &str,
) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("gallery", path);
    if models.is_empty() || cols == 0 {
        return Err(Error::config(&op, "a gallery needs at least one model and one column"));
    }
    for (label, m) in models {
        check_grid(&op, label, m, nz, nx)?;
    }
    check_positive(&op, "dx_m", dx_m)?;
    check_range(&op, range)?;
    let cols = cols.min(models.len());
    let rows = models.len().div_ceil(cols);
    let (h, w) = raster_size(nz, nx, 220, 360);
    let (xa, za) = Axis::km(nz, nx, dx_m, w);
    let bar = ColorBar::velocity(range);
    let (cell_w, cell_h) =
        (w as i64 + 18 + y_axis_width(&za, false), h as i64 + x_axis_height() + 12 + label_height() + 8);
    let left = PAD + y_axis_width(&za, true);
    let top = PAD + title_height(title) + label_height() + 8;
    let right = left + cols as i64 * cell_w - 18 - y_axis_width(&za, false);
    let height = top + rows as i64 * cell_h - 12 - label_height() - 8;
    let mut c = Canvas::new((right + bar.width(h) + PAD) as usize, (height + PAD) as usize, WHITE);
    heading(&mut c, title, (right + PAD) as f32 / 2.0);
    for (i, (label, m)) in models.iter().enumerate() {
        let (x, y) = (left + (i % cols) as i64 * cell_w, top + (i / cols) as i64 * cell_h);
        let pixels = colorize(&resample(m, nz, nx, h, w), bar.cmap, bar.range);
        let panel = Panel { x, y, w, h, title: label, x_axis: xa, y_axis: za, y_label: i % cols == 0 };
        draw_panel(&mut c, panel, &pixels);
    }
    bar.draw(&mut c, right, top, h);
    save_png(path, &c)
}

/// A figure of one raster (`grid` = rows, cols) drawn `size` = (h, w) pixels with its axes, a
/// colour bar beside it and a title above, written to `path`.
fn single_panel(
    path: &Path,
    values: &[f32],
    grid: (usize, usize),
    (h, w): (usize, usize),
    (x_axis, y_axis): (Axis, Axis),
    bar: ColorBar,
    title: &str,
) -> Result<()> {
    let left = PAD + y_axis_width(&y_axis, true);
    let top = PAD + title_height(title);
    let right = left + w as i64 + bar.width(h);
    let mut c = Canvas::new((right + PAD) as usize, (top + h as i64 + x_axis_height() + PAD) as usize, WHITE);
    heading(&mut c, title, left as f32 + w as f32 / 2.0);
    let pixels = colorize(&resample(values, grid.0, grid.1, h, w), bar.cmap, bar.range);
    draw_panel(&mut c, Panel { x: left, y: top, w, h, title: "", x_axis, y_axis, y_label: true }, &pixels);
    bar.draw(&mut c, left + w as i64, top, h);
    save_png(path, &c)
}

/// Ground truth, prediction and their difference (prediction − truth) side by side (stacked
/// for models more than 1.5 times wider than deep), or the prediction alone when `truth` is
/// `None`. Truth and prediction share a viridis colour bar over `range`; the difference gets a
/// blue–white–red one symmetric about zero, up to the largest |difference|.
#[allow(clippy::too_many_arguments)]
pub fn comparison(
    path: impl AsRef<Path>,
    truth: Option<&[f32]>,
    prediction: &[f32],
    nz: usize,
    nx: usize,
    dx_m: f32,
    range: (f32, f32),
    title: &str,
) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("comparison", path);
    check_grid(&op, "prediction", prediction, nz, nx)?;
    if let Some(t) = truth {
        check_grid(&op, "truth", t, nz, nx)?;
    }
    check_positive(&op, "dx_m", dx_m)?;
    check_range(&op, range)?;

    let stacked = truth.is_some() && nx as f64 > 1.5 * nz as f64;
    let (h, w) = if stacked { raster_size(nz, nx, 160, 900) } else { raster_size(nz, nx, 280, 520) };
    let (xa, za) = Axis::km(nz, nx, dx_m, w);
    let vbar = ColorBar::velocity(range);
    let diff = truth.map(|t| prediction.iter().zip(t).map(|(p, t)| p - t).collect::<Vec<f32>>());
    let dbar = diff.as_ref().map(|d| {
        let m = d.iter().filter(|v| v.is_finite()).fold(0f32, |m, v| m.max(v.abs()));
        let m = if m > 0.0 { m } else { 1.0 };
        ColorBar { cmap: BLUE_WHITE_RED, range: (-m, m), label: "Difference (m/s)" }
    });
    let mut panels: Vec<(&str, &[f32])> = Vec::new();
    if let Some(t) = truth {
        panels.push(("Ground truth", t));
    }
    panels.push(("Prediction", prediction));
    if let Some(d) = &diff {
        panels.push(("Difference", d));
    }

    let bar_of = |name: &str| match name {
        "Difference" => dbar.as_ref().expect("a difference comes with its bar"),
        _ => &vbar,
    };
    let top = PAD + title_height(title) + label_height() + 8;
    let left = PAD + y_axis_width(&za, true);
    // Each panel's top-left image corner; each colour bar's panel index, x, y and height.
    let mut corners = Vec::new();
    let mut bars = Vec::new();
    let (width, height);
    if stacked {
        let row = h as i64 + x_axis_height() + 12 + label_height() + 8;
        corners.extend((0..panels.len() as i64).map(|i| (left, top + i * row)));
        let right = left + w as i64;
        let both_rows = (row + h as i64) as usize;
        bars.push((1, right, top, both_rows));
        bars.push((2, right, top + 2 * row, h));
        width = right + vbar.width(both_rows).max(bar_of("Difference").width(h));
        height = top + 2 * row + h as i64 + x_axis_height();
    } else {
        let mut x = left;
        for (i, (name, _)) in panels.iter().enumerate() {
            if i > 0 {
                x += 18 + y_axis_width(&za, false);
            }
            corners.push((x, top));
            x += w as i64;
            if *name != "Ground truth" {
                bars.push((i, x, top, h));
                x += bar_of(name).width(h);
            }
        }
        width = x;
        height = top + h as i64 + x_axis_height();
    }

    let mut c = Canvas::new((width + PAD) as usize, (height + PAD) as usize, WHITE);
    heading(&mut c, title, width as f32 / 2.0 + PAD as f32 / 2.0);
    for (i, ((name, values), &(x, y))) in panels.iter().zip(&corners).enumerate() {
        let bar = bar_of(name);
        let pixels = colorize(&resample(values, nz, nx, h, w), bar.cmap, bar.range);
        let y_label = stacked || i == 0;
        draw_panel(&mut c, Panel { x, y, w, h, title: name, x_axis: xa, y_axis: za, y_label }, &pixels);
    }
    for (i, x, y, h) in bars {
        bar_of(panels[i].0).draw(&mut c, x, y, h);
    }
    save_png(path, &c)
}

/// A shot gather (`nt` time samples down, `nrec` receivers across, row-major by time) in
/// seismic grey, clipped at the 99th percentile of |amplitude|, time axis in seconds.
pub fn gather(path: impl AsRef<Path>, data: &[f32], nt: usize, nrec: usize, dt_s: f32, title: &str) -> Result<()> {
    gather_clipped(path, data, nt, nrec, dt_s, title, 99.0)
}

/// `gather`, saturating at the `clip` percentile (0–100) of |amplitude| instead of the 99th.
pub fn gather_clipped(
    path: impl AsRef<Path>,
    data: &[f32],
    nt: usize,
    nrec: usize,
    dt_s: f32,
    title: &str,
    clip: f64,
) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("gather", path);
    check_grid(&op, "data", data, nt, nrec)?;
    check_positive(&op, "dt_s", dt_s)?;
    if !(0.0..=100.0).contains(&clip) {
        return Err(Error::config(&op, format!("clip percentile {clip} is not within 0–100")));
    }

    let clip = match percentile_abs(data, clip / 100.0) {
        c if c > 0.0 => c,
        _ => 1.0,
    };
    let (h, w) = (fit_len(nt, 500, 800), fit_len(nrec, 360, 720));
    let xa = Axis::new(0.0, 1.0, nrec, "Receiver", w, X_TICK_SPACING).min_tick_step(1.0);
    let ta = Axis::new(0.0, dt_s as f64, nt, "Time (s)", h, Y_TICK_SPACING);
    let bar = ColorBar { cmap: GREY, range: (-clip, clip), label: "Amplitude" };
    single_panel(path, data, (nt, nrec), (h, w), (xa, ta), bar, title)
}

/// Loss curves: one line per named series of (epoch, loss) points, distinct colours, a legend,
/// "Epoch" and "Loss" axes, and a logarithmic loss axis when `log_y`. Non-finite points (and,
/// on a log axis, losses ≤ 0) are left out, breaking the line; it is an error when no point at
/// all is left. Series of at most 40 points also get a dot at each point.
pub fn loss_curves(path: impl AsRef<Path>, series: &[(&str, &[(f64, f64)])], title: &str, log_y: bool) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("loss_curves", path);
    if series.is_empty() {
        return Err(Error::config(&op, "no series to plot"));
    }
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let ty = |y: f64| if log_y { y.log10() } else { y };
    let points: Vec<(f64, f64)> =
        series.iter().flat_map(|(_, s)| s.iter().copied().filter(usable)).map(|(x, y)| (x, ty(y))).collect();
    let Some((xr, yr)) = extent(&points) else {
        let why = if log_y { "no finite, positive points" } else { "no finite points" };
        return Err(Error::config(&op, format!("{why} in {} series", series.len())));
    };
    let (xr, yr) = (widen(xr, 0.03), widen(yr, 0.06));
    let x_ticks = epoch_ticks(xr, points.iter().all(|(x, _)| x.fract() == 0.0));
    let y_ticks = if log_y {
        let t = log_ticks(10f64.powf(yr.0), 10f64.powf(yr.1));
        t.into_iter().map(|t| Tick { value: t.value.log10(), label: t.label }).collect()
    } else {
        linear_ticks(yr.0, yr.1, 6)
    };

    let (w, h) = (720i64, 420i64);
    let tick_w = y_ticks.iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
    let left = PAD + label_height() + 8 + tick_w.ceil() as i64 + 4 + TICK_LEN;
    let top = PAD + title_height(title).max(8);
    let mut c = Canvas::new((left + w + PAD + 10) as usize, (top + h + x_axis_height() + PAD) as usize, WHITE);
    heading(&mut c, title, (left + w / 2) as f32);
    let px = |x: f64| left as f32 + ((x - xr.0) / (xr.1 - xr.0) * w as f64) as f32;
    let py = |y: f64| top as f32 + ((1.0 - (y - yr.0) / (yr.1 - yr.0)) * h as f64) as f32;
    let x_ticks: Vec<(f32, String)> = x_ticks.into_iter().map(|t| (px(t.value), t.label)).collect();
    let y_ticks: Vec<(f32, String)> = y_ticks.into_iter().map(|t| (py(t.value), t.label)).collect();
    draw_xy_axes(&mut c, (left, top, w, h), &x_ticks, &y_ticks);

    let mut drawn = Vec::new(); // points along every line, for placing the legend
    for (i, (_, s)) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        for run in s.split(|p| !usable(p)) {
            let pts: Vec<(f32, f32)> = run.iter().map(|&(x, y)| (px(x), py(ty(y)))).collect();
            c.polyline(&pts, 2.0, color);
            if s.len() <= 40 {
                for &(x, y) in &pts {
                    c.disc(x, y, 3.0, color);
                }
            }
            drawn.extend(pts.first());
            for p in pts.windows(2) {
                drawn.extend((1..=8).map(|k| k as f32 / 8.0).map(|t| lerp2(p[0], p[1], t)));
            }
        }
    }
    legend(&mut c, series, (left, top, w, h), &drawn);
    save_png(path, &c)
}

fn op_name(figure: &str, path: &Path) -> String {
    format!("plot::{figure} {}", path.display())
}

fn check_grid(op: &str, tensor: &str, data: &[f32], rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::shape(op, tensor, format!("has an empty shape [{rows}, {cols}]")));
    }
    check_len(op, tensor, data.len(), &[rows, cols])
}

fn check_positive(op: &str, name: &str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(op, format!("{name} = {v} must be finite and > 0")))
    }
}

fn check_range(op: &str, (lo, hi): (f32, f32)) -> Result<()> {
    if lo.is_finite() && hi.is_finite() && lo < hi {
        Ok(())
    } else {
        Err(Error::config(op, format!("colour range ({lo}, {hi}) must be finite with min < max")))
    }
}

/// Writes `canvas` as a PNG to a temporary file beside `path`, then renames it onto `path`; on
/// failure the temporary file is removed and `path` is left as it was.
fn save_png(path: &Path, canvas: &Canvas) -> Result<()> {
    use image::ImageEncoder;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);

    let name = path.file_name().ok_or_else(|| Error::file(path, "not a file path"))?;
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{}.{}-{serial}.tmp", name.to_string_lossy(), std::process::id()));
    let write = || -> std::result::Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let mut out = std::io::BufWriter::new(file);
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(canvas.as_bytes(), canvas.width as u32, canvas.height as u32, image::ExtendedColorType::Rgb8)
            .map_err(|e| format!("cannot encode PNG: {e}"))?;
        out.into_inner().map_err(|e| format!("cannot write {}: {}", tmp.display(), e.error()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot rename {} onto it: {e}", tmp.display()))
    };
    write().map_err(|detail| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, detail)
    })
}
