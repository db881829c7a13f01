//! Figures as PNG files: velocity models, truth/prediction/difference comparisons, shot gathers
//! and loss curves. Everything is drawn on a small RGB [`canvas::Canvas`] with text in the
//! embedded DejaVu Sans, then written to a temporary file beside the target and renamed onto it,
//! so a failed call leaves nothing at the target path. Errors name the file (and the tensor,
//! for a wrong length); bad input never panics.
//!
//! Colour maps: velocities use viridis (perceptually uniform, no jet), differences a diverging
//! blue–white–red symmetric about zero, gathers seismic grey (see [`colormap`]).

pub mod canvas;
pub mod colormap;
pub mod ticks;

use crate::error::{Error, Result, check_len};
use canvas::{BLACK, Canvas, WHITE, text_size};
use colormap::{BLUE_WHITE_RED, Colormap, GREY, Rgb, VIRIDIS};
use std::path::Path;
use ticks::{Tick, linear_ticks, log_ticks};

const TITLE_PX: f32 = 20.0;
const LABEL_PX: f32 = 16.0;
const TICK_PX: f32 = 14.0;
const TICK_LEN: i64 = 5;
/// Outer margin of every figure.
const PAD: i64 = 14;
/// Width of a colour bar's colour strip.
const BAR_W: i64 = 20;

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
    let mut c = Canvas::new((right + PAD) as usize, (top + h as i64 + X_AXIS_HEIGHT + PAD) as usize, WHITE);
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
        let row = h as i64 + X_AXIS_HEIGHT + 12 + label_height() + 8;
        corners.extend((0..panels.len() as i64).map(|i| (left, top + i * row)));
        let right = left + w as i64;
        let both_rows = (row + h as i64) as usize;
        bars.push((1, right, top, both_rows));
        bars.push((2, right, top + 2 * row, h));
        width = right + vbar.width(both_rows).max(bar_of("Difference").width(h));
        height = top + 2 * row + h as i64 + X_AXIS_HEIGHT;
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
        height = top + h as i64 + X_AXIS_HEIGHT;
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
    let path = path.as_ref();
    let op = op_name("gather", path);
    check_grid(&op, "data", data, nt, nrec)?;
    check_positive(&op, "dt_s", dt_s)?;

    let clip = match percentile_abs(data, 0.99) {
        c if c > 0.0 => c,
        _ => 1.0,
    };
    let (h, w) = (fit_len(nt, 500, 800), fit_len(nrec, 360, 720));
    let xa = Axis::new(0.0, 1.0, nrec, "Receiver", w, X_TICK_SPACING);
    let xa = Axis { tick_step: xa.tick_step.max(1.0), ..xa };
    let ta = Axis::new(0.0, dt_s as f64, nt, "Time (s)", h, Y_TICK_SPACING);
    let bar = ColorBar { cmap: GREY, range: (-clip, clip), label: "Amplitude" };
    single_panel(path, data, (nt, nrec), (h, w), (xa, ta), bar, title)
}

/// Line colours for curves, in order (matplotlib's "tab10").
const SERIES_COLORS: [Rgb; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

/// Loss curves: one line per named series of (epoch, loss) points, distinct colours, a legend,
/// "Epoch" and "Loss" axes, and a logarithmic loss axis when `log_y`. Non-finite points (and,
/// on a log axis, losses ≤ 0) are left out, breaking the line; it is an error when no point at
/// all is left.
pub fn loss_curves(path: impl AsRef<Path>, series: &[(&str, &[(f64, f64)])], title: &str, log_y: bool) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("loss_curves", path);
    if series.is_empty() {
        return Err(Error::config(&op, "no series to plot"));
    }
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let ty = |y: f64| if log_y { y.log10() } else { y };
    let points = || series.iter().flat_map(|(_, s)| s.iter().copied().filter(usable));
    let Some((xr, yr)) = points().fold(None, |acc: Option<((f64, f64), (f64, f64))>, (x, y)| {
        let ((x0, x1), (y0, y1)) = acc.unwrap_or(((x, x), (ty(y), ty(y))));
        Some(((x0.min(x), x1.max(x)), (y0.min(ty(y)), y1.max(ty(y)))))
    }) else {
        let why = if log_y { "no finite, positive points" } else { "no finite points" };
        return Err(Error::config(&op, format!("{why} in {} series", series.len())));
    };
    let widen = |(a, b): (f64, f64), frac: f64| {
        let m = if b > a { (b - a) * frac } else { a.abs().max(1.0) * 0.5 };
        (a - m, b + m)
    };
    let (xr, yr) = (widen(xr, 0.03), widen(yr, 0.06));

    let (w, h) = (720i64, 420i64);
    let x_ticks = {
        let integral = points().all(|(x, _)| x.fract() == 0.0);
        let step = ticks::nice_step(xr.1 - xr.0, 8);
        let step = if integral { step.max(1.0) } else { step };
        ticks::multiples(xr.0, xr.1, step)
            .into_iter()
            .map(|value| Tick { value, label: ticks::format_tick(value, step) })
            .collect::<Vec<_>>()
    };
    let y_ticks = if log_y {
        log_ticks(10f64.powf(yr.0), 10f64.powf(yr.1))
            .into_iter()
            .map(|t| Tick { value: t.value.log10(), label: t.label })
            .collect()
    } else {
        linear_ticks(yr.0, yr.1, 6)
    };
    let tick_w = y_ticks.iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
    let left = PAD + label_height() + 8 + tick_w.ceil() as i64 + 4 + TICK_LEN;
    let top = PAD + title_height(title).max(8);
    let mut c = Canvas::new((left + w + PAD + 10) as usize, (top + h + X_AXIS_HEIGHT + PAD) as usize, WHITE);
    heading(&mut c, title, (left + w / 2) as f32);
    let px = |x: f64| left as f32 + ((x - xr.0) / (xr.1 - xr.0) * w as f64) as f32;
    let py = |y: f64| top as f32 + ((1.0 - (y - yr.0) / (yr.1 - yr.0)) * h as f64) as f32;

    for t in &x_ticks {
        let x = px(t.value).floor() as i64;
        c.fill_rect(x, top, 1, h, [228, 228, 228]);
        c.fill_rect(x, top + h, 1, TICK_LEN, BLACK);
        c.text(&t.label, x as f32 + 0.5, (top + h + TICK_LEN + 3) as f32, TICK_PX, (0.5, 0.0), BLACK);
    }
    for t in &y_ticks {
        let y = py(t.value).floor() as i64;
        c.fill_rect(left, y, w, 1, [228, 228, 228]);
        c.fill_rect(left - TICK_LEN, y, TICK_LEN, 1, BLACK);
        c.text(&t.label, (left - TICK_LEN - 4) as f32, y as f32 + 0.5, TICK_PX, (1.0, 0.5), BLACK);
    }
    c.frame(left, top, w, h, BLACK);
    let x_label_y = (top + h + TICK_LEN + 3) as f32 + tick_height() + 6.0;
    c.text("Epoch", (left + w / 2) as f32, x_label_y, LABEL_PX, (0.5, 0.0), BLACK);
    c.text_up("Loss", PAD as f32, (top + h / 2) as f32, LABEL_PX, (0.0, 0.5), BLACK);

    for (i, (_, s)) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        let few = s.len() <= 40;
        for run in s.split(|p| !usable(p)) {
            let pts: Vec<(f32, f32)> = run.iter().map(|&(x, y)| (px(x), py(ty(y)))).collect();
            c.polyline(&pts, 2.0, color);
            if few {
                for &(x, y) in &pts {
                    c.disc(x, y, 3.0, color);
                }
            }
        }
    }
    legend(&mut c, series, left + w - 10, top + 10);
    save_png(path, &c)
}

/// The legend box, its top-right corner at (right, top).
fn legend(c: &mut Canvas, series: &[(&str, &[(f64, f64)])], right: i64, top: i64) {
    let line_h = (label_height() + 4) as f32;
    let text_w = series.iter().map(|(n, _)| text_size(n, LABEL_PX).0).fold(0.0, f32::max);
    let (bw, bh) = (text_w.ceil() as i64 + 56, (line_h * series.len() as f32).ceil() as i64 + 12);
    let x = right - bw;
    c.fill_rect(x, top, bw, bh, WHITE);
    c.frame(x, top, bw, bh, [190, 190, 190]);
    for (i, (name, _)) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        let cy = top as f32 + 6.0 + line_h * (i as f32 + 0.5);
        c.polyline(&[(x as f32 + 10.0, cy), (x as f32 + 38.0, cy)], 2.0, color);
        c.text(name, x as f32 + 46.0, cy, LABEL_PX, (0.0, 0.5), BLACK);
    }
}

/// A raster axis: `n` samples, the first at `origin`, `step` apart, in the units it is
/// labelled in, with ticks at multiples of `tick_step`. Sample i covers
/// [origin + (i − ½)·step, origin + (i + ½)·step].
#[derive(Clone, Copy)]
struct Axis {
    origin: f64,
    step: f64,
    n: usize,
    label: &'static str,
    tick_step: f64,
}

impl Axis {
    /// An axis drawn `len` pixels long with round ticks at least `spacing` pixels apart.
    fn new(origin: f64, step: f64, n: usize, label: &'static str, len: usize, spacing: usize) -> Self {
        let mut axis = Axis { origin, step, n, label, tick_step: 1.0 };
        axis.tick_step = ticks::nice_step(axis.hi() - axis.lo(), (len / spacing).clamp(2, 8));
        axis
    }

    /// Distance and depth axes in km for an `nz`×`nx` model of square `dx_m` cells drawn
    /// `w` pixels wide: one tick step for both, the smallest round one at least
    /// [`X_TICK_SPACING`] pixels long, so that the two scales read alike.
    fn km(nz: usize, nx: usize, dx_m: f32, w: usize) -> (Self, Self) {
        let km = dx_m as f64 / 1000.0;
        let px_per_km = w as f64 / (nx as f64 * km);
        let tick_step = ticks::nice_step(X_TICK_SPACING as f64 / px_per_km, 1);
        let axis = |n, label| Axis { origin: 0.0, step: km, n, label, tick_step };
        (axis(nx, "Distance (km)"), axis(nz, "Depth (km)"))
    }

    fn lo(&self) -> f64 {
        self.origin - 0.5 * self.step
    }

    fn hi(&self) -> f64 {
        self.origin + (self.n as f64 - 0.5) * self.step
    }

    /// Offset in pixels of value `v` along an axis `len` pixels long.
    fn offset(&self, v: f64, len: usize) -> f32 {
        ((v - self.lo()) / (self.hi() - self.lo()) * len as f64) as f32
    }

    fn ticks(&self) -> Vec<Tick> {
        let values = ticks::multiples(self.lo(), self.hi(), self.tick_step);
        values.into_iter().map(|value| Tick { value, label: ticks::format_tick(value, self.tick_step) }).collect()
    }
}

/// A colour bar: its colour map, value range and (rotated) label.
struct ColorBar {
    cmap: Colormap,
    range: (f32, f32),
    label: &'static str,
}

/// Gap between a panel and its colour bar.
const BAR_GAP: i64 = 18;

impl ColorBar {
    fn velocity(range: (f32, f32)) -> Self {
        ColorBar { cmap: VIRIDIS, range, label: "Velocity (m/s)" }
    }

    fn ticks(&self, h: usize) -> Vec<Tick> {
        linear_ticks(self.range.0 as f64, self.range.1 as f64, (h / 45).clamp(2, 8))
    }

    /// Width from the panel's right edge to the bar label's right edge, for a bar `h` tall.
    fn width(&self, h: usize) -> i64 {
        let tick_w = self.ticks(h).iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
        BAR_GAP + BAR_W + TICK_LEN + 4 + tick_w.ceil() as i64 + 8 + label_height()
    }

    /// Draws the bar `h` pixels tall, to the right of a panel whose right edge is at `x`.
    fn draw(&self, c: &mut Canvas, x: i64, y: i64, h: usize) {
        let x = x + BAR_GAP;
        for r in 0..h {
            let t = 1.0 - (r as f32 + 0.5) / h as f32;
            c.fill_rect(x, y + r as i64, BAR_W, 1, self.cmap.at(t));
        }
        c.frame(x, y, BAR_W, h as i64, BLACK);
        let (lo, hi) = (self.range.0 as f64, self.range.1 as f64);
        let mut tick_w = 0f32;
        for t in self.ticks(h) {
            let ty = y as f32 + ((1.0 - (t.value - lo) / (hi - lo)) * h as f64) as f32;
            let row = (ty.floor() as i64).min(y + h as i64 - 1);
            c.fill_rect(x + BAR_W + 1, row, TICK_LEN, 1, BLACK);
            let tx = (x + BAR_W + 1 + TICK_LEN + 3) as f32;
            c.text(&t.label, tx, row as f32 + 0.5, TICK_PX, (0.0, 0.5), BLACK);
            tick_w = tick_w.max(text_size(&t.label, TICK_PX).0);
        }
        let lx = (x + BAR_W + 1 + TICK_LEN + 3) as f32 + tick_w.ceil() + 8.0;
        c.text_up(self.label, lx, y as f32 + h as f32 / 2.0, LABEL_PX, (0.0, 0.5), BLACK);
    }
}

/// A raster panel: the image's top-left corner and size on the canvas, a title above it, and
/// its axes; the y axis's name is drawn only when `y_label`.
struct Panel<'a> {
    x: i64,
    y: i64,
    w: usize,
    h: usize,
    title: &'a str,
    x_axis: Axis,
    y_axis: Axis,
    y_label: bool,
}

/// Least pixels between ticks along x (labels side by side) and along y (labels stacked).
const X_TICK_SPACING: usize = 70;
const Y_TICK_SPACING: usize = 50;

/// Height below a panel for x tick marks, tick labels and the axis name.
const X_AXIS_HEIGHT: i64 = TICK_LEN + 3 + 17 + 6 + 19;

fn tick_height() -> f32 {
    text_size("0", TICK_PX).1
}

fn label_height() -> i64 {
    text_size("Depth", LABEL_PX).1.ceil() as i64
}

fn title_height(title: &str) -> i64 {
    if title.is_empty() { 0 } else { text_size(title, TITLE_PX).1.ceil() as i64 + 10 }
}

/// Width left of a panel for y tick marks, tick labels and (when `label`) the axis name.
fn y_axis_width(axis: &Axis, label: bool) -> i64 {
    let tick_w = axis.ticks().iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
    TICK_LEN + 4 + tick_w.ceil() as i64 + if label { 8 + label_height() } else { 0 }
}

/// The figure title, centred on `cx`, at the top margin.
fn heading(c: &mut Canvas, title: &str, cx: f32) {
    if !title.is_empty() {
        c.text(title, cx, PAD as f32, TITLE_PX, (0.5, 0.0), BLACK);
    }
}

/// Draws a raster panel: the image, its frame, ticks and labels on both axes, and the title.
fn draw_panel(c: &mut Canvas, p: Panel, pixels: &[Rgb]) {
    c.blit(p.x, p.y, p.w, p.h, pixels);
    c.frame(p.x, p.y, p.w as i64, p.h as i64, BLACK);
    let bottom = p.y + p.h as i64 + 1;
    for t in p.x_axis.ticks() {
        let x = (p.x + (p.x_axis.offset(t.value, p.w).floor() as i64)).min(p.x + p.w as i64 - 1);
        c.fill_rect(x, bottom, 1, TICK_LEN, BLACK);
        c.text(&t.label, x as f32 + 0.5, (bottom + TICK_LEN + 2) as f32, TICK_PX, (0.5, 0.0), BLACK);
    }
    let label_y = (bottom + TICK_LEN + 2) as f32 + tick_height() + 5.0;
    c.text(p.x_axis.label, p.x as f32 + p.w as f32 / 2.0, label_y, LABEL_PX, (0.5, 0.0), BLACK);
    let mut tick_w = 0f32;
    for t in p.y_axis.ticks() {
        let y = (p.y + (p.y_axis.offset(t.value, p.h).floor() as i64)).min(p.y + p.h as i64 - 1);
        c.fill_rect(p.x - 1 - TICK_LEN, y, TICK_LEN, 1, BLACK);
        c.text(&t.label, (p.x - 1 - TICK_LEN - 3) as f32, y as f32 + 0.5, TICK_PX, (1.0, 0.5), BLACK);
        tick_w = tick_w.max(text_size(&t.label, TICK_PX).0);
    }
    if p.y_label {
        let lx = (p.x - 1 - TICK_LEN - 3) as f32 - tick_w.ceil() - 8.0;
        c.text_up(p.y_axis.label, lx, p.y as f32 + p.h as f32 / 2.0, LABEL_PX, (1.0, 0.5), BLACK);
    }
    if !p.title.is_empty() {
        c.text(p.title, p.x as f32 + p.w as f32 / 2.0, (p.y - 8) as f32, LABEL_PX, (0.5, 1.0), BLACK);
    }
}

/// Maps values to colours over `range`.
fn colorize(values: &[f32], cmap: Colormap, range: (f32, f32)) -> Vec<Rgb> {
    values.iter().map(|&v| cmap.map(v, range.0, range.1)).collect()
}

/// `n` samples shown on about `min`..`max` pixels: an integer upscale (the largest not past
/// `max`, from the smallest reaching `min`), or `max` pixels when `n` is larger than that.
fn fit_len(n: usize, min: usize, max: usize) -> usize {
    if n > max {
        return max;
    }
    let mut s = min.div_ceil(n).max(1);
    while s > 1 && n * s > max {
        s -= 1;
    }
    n * s
}

/// Pixel size (height, width) of a `rows`×`cols` raster of square cells: one integer scale
/// for both axes bringing the short side to `short_min` if the long side stays within
/// `long_max`, or a uniform shrink to `long_max` when even one pixel a cell is too long.
fn raster_size(rows: usize, cols: usize, short_min: usize, long_max: usize) -> (usize, usize) {
    let long = rows.max(cols);
    if long > long_max {
        let f = long_max as f64 / long as f64;
        return (((rows as f64 * f).round() as usize).max(1), ((cols as f64 * f).round() as usize).max(1));
    }
    let s = fit_len(rows.min(cols), short_min, usize::MAX).div_euclid(rows.min(cols));
    let s = (1..=s).rev().find(|s| long * s <= long_max).unwrap_or(1);
    (rows * s, cols * s)
}

/// Resamples a row-major `rows`×`cols` grid to `out_rows`×`out_cols`: nearest sample along an
/// axis that grows, box average along one that shrinks.
fn resample(src: &[f32], rows: usize, cols: usize, out_rows: usize, out_cols: usize) -> Vec<f32> {
    let spans = |n: usize, out: usize| -> Vec<(usize, usize)> {
        (0..out)
            .map(|o| {
                if out >= n {
                    let i = ((o as f64 + 0.5) * n as f64 / out as f64) as usize;
                    (i.min(n - 1), i.min(n - 1) + 1)
                } else {
                    let a = o * n / out;
                    (a, ((o + 1) * n / out).max(a + 1))
                }
            })
            .collect()
    };
    let (rs, cs) = (spans(rows, out_rows), spans(cols, out_cols));
    let mut out = Vec::with_capacity(out_rows * out_cols);
    for &(r0, r1) in &rs {
        for &(c0, c1) in &cs {
            let mut sum = 0.0;
            for r in r0..r1 {
                sum += src[r * cols + c0..r * cols + c1].iter().sum::<f32>();
            }
            out.push(sum / ((r1 - r0) * (c1 - c0)) as f32);
        }
    }
    out
}

/// The `q` quantile (0..1) of |x| over the finite values, 0 when there are none.
fn percentile_abs(data: &[f32], q: f64) -> f32 {
    let mut a: Vec<f32> = data.iter().filter(|v| v.is_finite()).map(|v| v.abs()).collect();
    if a.is_empty() {
        return 0.0;
    }
    let k = ((a.len() - 1) as f64 * q).round() as usize;
    *a.select_nth_unstable_by(k, f32::total_cmp).1
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_and_raster_sizes() {
        assert_eq!(fit_len(70, 360, 720), 420);
        assert_eq!(fit_len(1000, 500, 800), 800);
        assert_eq!(fit_len(600, 500, 800), 600);
        assert_eq!(raster_size(70, 70, 400, 1200), (420, 420));
        assert_eq!(raster_size(400, 1000, 400, 1200), (400, 1000));
        assert_eq!(raster_size(100, 300, 400, 1200), (400, 1200));
        assert_eq!(raster_size(2000, 5000, 400, 1200), (480, 1200));
    }

    #[test]
    fn resample_nearest_and_box() {
        let src = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(resample(&src, 2, 2, 4, 4)[..4], [1.0, 1.0, 2.0, 2.0]);
        assert_eq!(resample(&src, 2, 2, 1, 1), [2.5]);
        assert_eq!(resample(&src, 2, 2, 1, 2), [2.0, 3.0]);
    }

    #[test]
    fn percentile_ignores_nan() {
        let mut d: Vec<f32> = (0..=100).map(|i| -(i as f32)).collect();
        d.push(f32::NAN);
        assert_eq!(percentile_abs(&d, 0.99), 99.0);
        assert_eq!(percentile_abs(&[], 0.99), 0.0);
    }
}
