//! A refinement at a glance: the truth (when known), the starting model and the refined one
//! on a shared velocity bar in the top row, and below the start's and the refined model's
//! difference from the truth (or the refined model minus the start) on one diverging bar,
//! so the two errors read on the same scale.

use std::path::Path;

use super::canvas::{Canvas, WHITE};
use super::colormap::BLUE_WHITE_RED;
use super::layout::{
    Axis, ColorBar, PAD, Panel, draw_panel, heading, label_height, title_height, x_axis_height, y_axis_width,
};
use super::raster::{colorize, raster_size, resample};
use super::{check_grid, check_positive, check_range, op_name, save_png};
use crate::error::Result;

/// Truth (optional), start and refined models (m/s, nz × nx) with their differences.
#[allow(clippy::too_many_arguments)]
pub fn refinement(
    path: impl AsRef<Path>,
    truth: Option<&[f32]>,
    start: &[f32],
    refined: &[f32],
    nz: usize,
    nx: usize,
    dx_m: f32,
    range: (f32, f32),
    title: &str,
) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("refinement", path);
    for (name, m) in [("start", Some(start)), ("refined", Some(refined)), ("truth", truth)] {
        if let Some(m) = m {
            check_grid(&op, name, m, nz, nx)?;
        }
    }
    check_positive(&op, "dx_m", dx_m)?;
    check_range(&op, range)?;
    let minus = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a - b).collect::<Vec<f32>>();
    let mut top: Vec<(&str, &[f32])> = vec![];
    if let Some(t) = truth {
        top.push(("Ground truth", t));
    }
    top.push(("Start", start));
    top.push(("Refined", refined));
    let bottom: Vec<(&str, Vec<f32>)> = match truth {
        Some(t) => vec![("Start − truth", minus(start, t)), ("Refined − truth", minus(refined, t))],
        None => vec![("Refined − start", minus(refined, start))],
    };
    let m = bottom.iter().flat_map(|(_, d)| d.iter()).filter(|v| v.is_finite()).fold(0f32, |m, v| m.max(v.abs()));
    let dbar = ColorBar { cmap: BLUE_WHITE_RED, range: (-m.max(1.0), m.max(1.0)), label: "Difference (m/s)" };
    let vbar = ColorBar::velocity(range);

    let (h, w) = raster_size(nz, nx, 220, 360);
    let (xa, za) = Axis::km(nz, nx, dx_m, w);
    let cell_w = y_axis_width(&za, true) + w as i64 + 16;
    let cell_h = label_height() + 8 + h as i64 + x_axis_height() + 12;
    let head = PAD + title_height(title);
    let bars = vbar.width(h).max(dbar.width(h));
    let width = PAD + top.len() as i64 * cell_w + bars;
    let mut c = Canvas::new((width + PAD) as usize, (head + 2 * cell_h + PAD) as usize, WHITE);
    heading(&mut c, title, width as f32 / 2.0);
    // The differences sit under the models they belong to (the last columns).
    let shift = top.len() - bottom.len();
    // Each row's panels: (column, title, values, colour bar).
    type Row<'a> = Vec<(usize, &'a str, &'a [f32], &'a ColorBar)>;
    let rows: [Row; 2] = [
        top.iter().enumerate().map(|(i, (n, v))| (i, *n, *v, &vbar)).collect(),
        bottom.iter().enumerate().map(|(i, (n, v))| (i + shift, *n, v.as_slice(), &dbar)).collect(),
    ];
    for (r, row) in rows.iter().enumerate() {
        let y = head + r as i64 * cell_h + label_height() + 8;
        for &(col, name, values, bar) in row {
            let x = PAD + col as i64 * cell_w + y_axis_width(&za, true);
            let pixels = colorize(&resample(values, nz, nx, h, w), bar.cmap, bar.range);
            draw_panel(&mut c, Panel { x, y, w, h, title: name, x_axis: xa, y_axis: za, y_label: true }, &pixels);
        }
        let last = PAD + top.len() as i64 * cell_w - 16;
        if let Some((_, _, _, bar)) = row.last() {
            bar.draw(&mut c, last, y, h);
        }
    }
    save_png(path, &c)
}
