//! Layout of raster figures: font sizes and margins, axes with round ticks, colour bars,
//! framed panels with their labels.

use super::canvas::{BLACK, Canvas, text_size};
use super::colormap::{Colormap, Rgb, VIRIDIS};
use super::ticks::{self, Tick, linear_ticks};

/// Text sizes: pixels from ascent to descent (ab_glyph's scale), so digits are about 0.63 of it.
pub(super) const TITLE_PX: f32 = 23.0;
pub(super) const LABEL_PX: f32 = 19.0;
pub(super) const TICK_PX: f32 = 17.0;
pub(super) const TICK_LEN: i64 = 5;
/// Outer margin of every figure.
pub(super) const PAD: i64 = 16;
/// Width of a colour bar's colour strip.
const BAR_W: i64 = 20;

/// A raster axis: `n` samples, the first at `origin`, `step` apart, in the units it is
/// labelled in, with ticks at multiples of `tick_step`. Sample i covers
/// [origin + (i − ½)·step, origin + (i + ½)·step].
#[derive(Clone, Copy)]
pub(super) struct Axis {
    origin: f64,
    step: f64,
    n: usize,
    label: &'static str,
    tick_step: f64,
}

impl Axis {
    /// An axis drawn `len` pixels long with round ticks at least `spacing` pixels apart.
    pub(super) fn new(origin: f64, step: f64, n: usize, label: &'static str, len: usize, spacing: usize) -> Self {
        let mut axis = Axis { origin, step, n, label, tick_step: 1.0 };
        axis.tick_step = ticks::nice_step(axis.hi() - axis.lo(), (len / spacing).clamp(2, 8));
        axis
    }

    /// Distance and depth axes in km for an `nz`×`nx` model of square `dx_m` cells drawn
    /// `w` pixels wide: one tick step for both, the smallest round one at least
    /// [`X_TICK_SPACING`] pixels long, so that the two scales read alike.
    pub(super) fn km(nz: usize, nx: usize, dx_m: f32, w: usize) -> (Self, Self) {
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

    /// The same axis with a tick step of at least `min` (1 for whole receivers).
    pub(super) fn min_tick_step(self, min: f64) -> Self {
        Axis { tick_step: self.tick_step.max(min), ..self }
    }

    pub(super) fn ticks(&self) -> Vec<Tick> {
        let values = ticks::multiples(self.lo(), self.hi(), self.tick_step);
        values.into_iter().map(|value| Tick { value, label: ticks::format_tick(value, self.tick_step) }).collect()
    }
}

/// A colour bar: its colour map, value range and (rotated) label.
pub(super) struct ColorBar {
    pub(super) cmap: Colormap,
    pub(super) range: (f32, f32),
    pub(super) label: &'static str,
}

/// Gap between a panel and its colour bar.
const BAR_GAP: i64 = 18;

impl ColorBar {
    pub(super) fn velocity(range: (f32, f32)) -> Self {
        ColorBar { cmap: VIRIDIS, range, label: "Velocity (m/s)" }
    }

    fn ticks(&self, h: usize) -> Vec<Tick> {
        linear_ticks(self.range.0 as f64, self.range.1 as f64, (h / 45).clamp(2, 8))
    }

    /// Width from the panel's right edge to the bar label's right edge, for a bar `h` tall.
    pub(super) fn width(&self, h: usize) -> i64 {
        let tick_w = self.ticks(h).iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
        BAR_GAP + BAR_W + TICK_LEN + 4 + tick_w.ceil() as i64 + 8 + label_height()
    }

    /// Draws the bar `h` pixels tall, to the right of a panel whose right edge is at `x`.
    pub(super) fn draw(&self, c: &mut Canvas, x: i64, y: i64, h: usize) {
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
pub(super) struct Panel<'a> {
    pub(super) x: i64,
    pub(super) y: i64,
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) title: &'a str,
    pub(super) x_axis: Axis,
    pub(super) y_axis: Axis,
    pub(super) y_label: bool,
}

/// Least pixels between ticks along x (labels side by side) and along y (labels stacked).
pub(super) const X_TICK_SPACING: usize = 70;
pub(super) const Y_TICK_SPACING: usize = 50;

/// Height below a panel for x tick marks, tick labels and the axis name.
pub(super) fn x_axis_height() -> i64 {
    1 + TICK_LEN + 2 + tick_height().ceil() as i64 + LABEL_GAP + label_height()
}

/// Gap between tick labels and an axis name.
pub(super) const LABEL_GAP: i64 = 6;

pub(super) fn tick_height() -> f32 {
    text_size("0", TICK_PX).1
}

pub(super) fn label_height() -> i64 {
    text_size("Depth", LABEL_PX).1.ceil() as i64
}

pub(super) fn title_height(title: &str) -> i64 {
    if title.is_empty() { 0 } else { text_size(title, TITLE_PX).1.ceil() as i64 + 10 }
}

/// Width left of a panel for y tick marks, tick labels and (when `label`) the axis name.
pub(super) fn y_axis_width(axis: &Axis, label: bool) -> i64 {
    let tick_w = axis.ticks().iter().map(|t| text_size(&t.label, TICK_PX).0).fold(0.0, f32::max);
    TICK_LEN + 4 + tick_w.ceil() as i64 + if label { 8 + label_height() } else { 0 }
}

/// The figure title, centred on `cx`, at the top margin.
pub(super) fn heading(c: &mut Canvas, title: &str, cx: f32) {
    if !title.is_empty() {
        c.text(title, cx, PAD as f32, TITLE_PX, (0.5, 0.0), BLACK);
    }
}

/// Draws a raster panel: the image, its frame, ticks and labels on both axes, and the title.
pub(super) fn draw_panel(c: &mut Canvas, p: Panel, pixels: &[Rgb]) {
    c.blit(p.x, p.y, p.w, p.h, pixels);
    c.frame(p.x, p.y, p.w as i64, p.h as i64, BLACK);
    let bottom = p.y + p.h as i64 + 1;
    for t in p.x_axis.ticks() {
        let x = (p.x + (p.x_axis.offset(t.value, p.w).floor() as i64)).min(p.x + p.w as i64 - 1);
        c.fill_rect(x, bottom, 1, TICK_LEN, BLACK);
        c.text(&t.label, x as f32 + 0.5, (bottom + TICK_LEN + 2) as f32, TICK_PX, (0.5, 0.0), BLACK);
    }
    let label_y = (bottom + TICK_LEN + 2) as f32 + tick_height() + LABEL_GAP as f32;
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
