//! Pieces of line plots: series colours, data ranges, epoch ticks, the frame with its grid,
//! and the legend.

use super::canvas::{BLACK, Canvas, WHITE, text_size};
use super::colormap::Rgb;
use super::layout::{LABEL_GAP, LABEL_PX, PAD, TICK_LEN, TICK_PX, label_height, tick_height};
use super::ticks::{self, Tick};

/// Line colours for curves, in order (matplotlib's "tab10").
pub(super) const SERIES_COLORS: [Rgb; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

pub(super) fn lerp2(a: (f32, f32), b: (f32, f32), t: f32) -> (f32, f32) {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

/// The ranges (x, y) that the points span, `None` for no points.
pub(super) fn extent(points: &[(f64, f64)]) -> Option<((f64, f64), (f64, f64))> {
    let &(x, y) = points.first()?;
    Some(
        points
            .iter()
            .fold(((x, x), (y, y)), |((x0, x1), (y0, y1)), &(x, y)| ((x0.min(x), x1.max(x)), (y0.min(y), y1.max(y)))),
    )
}

/// A range widened by `frac` of its span on both sides (by half its magnitude, or 0.5, when
/// it is a single value), so that points do not sit on the frame.
pub(super) fn widen((a, b): (f64, f64), frac: f64) -> (f64, f64) {
    let m = if b > a { (b - a) * frac } else { a.abs().max(1.0) * 0.5 };
    (a - m, b + m)
}

/// Round ticks along an epoch axis, whole numbers only when every epoch is one.
pub(super) fn epoch_ticks((lo, hi): (f64, f64), integral: bool) -> Vec<Tick> {
    let step = ticks::nice_step(hi - lo, 8);
    let step = if integral { step.max(1.0) } else { step };
    ticks::multiples(lo, hi, step)
        .into_iter()
        .map(|value| Tick { value, label: ticks::format_tick(value, step) })
        .collect()
}

/// A plot frame (left, top, w, h) with light grid lines, tick marks and tick labels at the
/// given pixel positions, and the axis names "Epoch" and "Loss".
pub(super) fn draw_xy_axes(
    c: &mut Canvas,
    (left, top, w, h): (i64, i64, i64, i64),
    xs: &[(f32, String)],
    ys: &[(f32, String)],
) {
    const GRID: Rgb = [228, 228, 228];
    for (x, label) in xs {
        let x = x.floor() as i64;
        c.fill_rect(x, top, 1, h, GRID);
        c.fill_rect(x, top + h, 1, TICK_LEN, BLACK);
        c.text(label, x as f32 + 0.5, (top + h + TICK_LEN + 3) as f32, TICK_PX, (0.5, 0.0), BLACK);
    }
    for (y, label) in ys {
        let y = y.floor() as i64;
        c.fill_rect(left, y, w, 1, GRID);
        c.fill_rect(left - TICK_LEN, y, TICK_LEN, 1, BLACK);
        c.text(label, (left - TICK_LEN - 4) as f32, y as f32 + 0.5, TICK_PX, (1.0, 0.5), BLACK);
    }
    c.frame(left, top, w, h, BLACK);
    let x_label_y = (top + h + TICK_LEN + 3) as f32 + tick_height() + LABEL_GAP as f32;
    c.text("Epoch", (left + w / 2) as f32, x_label_y, LABEL_PX, (0.5, 0.0), BLACK);
    c.text_up("Loss", PAD as f32, (top + h / 2) as f32, LABEL_PX, (0.0, 0.5), BLACK);
}

/// The legend box, in whichever corner of the plot frame (left, top, w, h) covers the fewest
/// of the `drawn` points (top right on a tie).
pub(super) fn legend(
    c: &mut Canvas,
    series: &[(&str, &[(f64, f64)])],
    (left, top, w, h): (i64, i64, i64, i64),
    drawn: &[(f32, f32)],
) {
    let line_h = (label_height() + 4) as f32;
    let text_w = series.iter().map(|(n, _)| text_size(n, LABEL_PX).0).fold(0.0, f32::max);
    let (bw, bh) = (text_w.ceil() as i64 + 56, (line_h * series.len() as f32).ceil() as i64 + 12);
    let (x0, x1, y0, y1) = (left + 10, left + w - 10 - bw, top + 10, top + h - 10 - bh);
    let covered = |&(x, y): &(i64, i64)| {
        let inside = |&&(px, py): &&(f32, f32)| {
            px >= (x - 8) as f32 && px <= (x + bw + 8) as f32 && py >= (y - 8) as f32 && py <= (y + bh + 8) as f32
        };
        drawn.iter().filter(inside).count()
    };
    let corners = [(x1, y0), (x0, y0), (x1, y1), (x0, y1)];
    let (x, y) = corners.iter().copied().min_by_key(covered).expect("four corners");
    c.fill_rect(x, y, bw, bh, WHITE);
    c.frame(x, y, bw, bh, [190, 190, 190]);
    for (i, (name, _)) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        let cy = y as f32 + 6.0 + line_h * (i as f32 + 0.5);
        c.polyline(&[(x as f32 + 10.0, cy), (x as f32 + 38.0, cy)], 2.0, color);
        c.text(name, x as f32 + 46.0, cy, LABEL_PX, (0.0, 0.5), BLACK);
    }
}
