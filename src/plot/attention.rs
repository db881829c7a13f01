//! Where the attention looks: a velocity model beside each level's spatial attention map
//! (on the model's grid, in [0, 1]), all with the salt outline drawn over them, and the
//! channel weights of each level as a compact heat strip below.

use std::path::Path;

use super::canvas::{BLACK, Canvas, WHITE};
use super::colormap::{GREY, Rgb, VIRIDIS};
use super::layout::{
    Axis, ColorBar, PAD, Panel, draw_panel, heading, label_height, title_height, x_axis_height, y_axis_width,
};
use super::raster::{colorize, raster_size, resample};
use super::{check_grid, check_positive, check_range, op_name, save_png};
use crate::error::{Error, Result};

/// The salt outline's colour: red reads on both viridis ends.
const OUTLINE: Rgb = [230, 40, 40];
/// Panels per row.
const COLUMNS: usize = 4;
/// Height of a channel-weight strip, and the room for its label above.
const STRIP_H: i64 = 14;

/// What `attention` draws.
pub struct AttentionFigure<'a> {
    /// The velocity model (m/s) and its panel title ("Ground truth", "Prediction").
    pub velocity: (&'a str, &'a [f32]),
    pub nz: usize,
    pub nx: usize,
    pub dx_m: f32,
    /// Velocity colour range (m/s).
    pub range: (f32, f32),
    /// Spatial maps on the nz × nx grid, values in [0, 1], with their titles.
    pub maps: Vec<(String, Vec<f32>)>,
    /// Salt cells (nz × nx) whose outline is drawn over every panel.
    pub salt: Option<&'a [bool]>,
    /// Channel weights (in [0, 1]) with their labels, one strip each.
    pub strips: Vec<(String, Vec<f32>)>,
    pub title: &'a str,
}

/// Pixels of `h × w` where the nearest-sampled mask changes between neighbours.
fn outline(mask: &[bool], nz: usize, nx: usize, h: usize, w: usize) -> Vec<bool> {
    let at = |r: usize, c: usize| mask[(r * nz / h).min(nz - 1) * nx + (c * nx / w).min(nx - 1)];
    let mut edge = vec![false; h * w];
    for r in 0..h {
        for c in 0..w {
            let v = at(r, c);
            edge[r * w + c] = (r + 1 < h && at(r + 1, c) != v) || (c + 1 < w && at(r, c + 1) != v);
        }
    }
    edge
}

pub fn attention(path: impl AsRef<Path>, f: &AttentionFigure) -> Result<()> {
    let path = path.as_ref();
    let op = op_name("attention", path);
    let (nz, nx) = (f.nz, f.nx);
    check_grid(&op, "velocity", f.velocity.1, nz, nx)?;
    for (name, m) in &f.maps {
        check_grid(&op, name, m, nz, nx)?;
    }
    if let Some(s) = f.salt
        && s.len() != nz * nx
    {
        return Err(Error::shape(&op, "salt", format!("has {} cells, the grid {nz}×{nx}", s.len())));
    }
    check_positive(&op, "dx_m", f.dx_m)?;
    check_range(&op, f.range)?;

    let (h, w) = raster_size(nz, nx, 200, 320);
    let (xa, za) = Axis::km(nz, nx, f.dx_m, w);
    let vbar = ColorBar::velocity(f.range);
    let abar = ColorBar { cmap: VIRIDIS, range: (0.0, 1.0), label: "Attention" };
    let mut panels: Vec<(&str, &[f32], &ColorBar)> = vec![(f.velocity.0, f.velocity.1, &vbar)];
    panels.extend(f.maps.iter().map(|(n, m)| (n.as_str(), m.as_slice(), &abar)));
    let edge = f.salt.map(|s| outline(s, nz, nx, h, w));

    let cell_w = y_axis_width(&za, true) + w as i64 + vbar.width(h).max(abar.width(h)) + 12;
    let cell_h = label_height() + 8 + h as i64 + x_axis_height() + 12;
    let rows = panels.len().div_ceil(COLUMNS) as i64;
    let top = PAD + title_height(f.title);
    let strips_top = top + rows * cell_h;
    let strip_block = f.strips.len() as i64 * (STRIP_H + label_height() + 6);
    let width = PAD + COLUMNS.min(panels.len()) as i64 * cell_w;
    let mut c = Canvas::new((width + PAD) as usize, (strips_top + strip_block + PAD) as usize, WHITE);
    heading(&mut c, f.title, width as f32 / 2.0);
    for (i, (name, values, bar)) in panels.iter().enumerate() {
        let (col, row) = ((i % COLUMNS) as i64, (i / COLUMNS) as i64);
        let x = PAD + col * cell_w + y_axis_width(&za, true);
        let y = top + row * cell_h + label_height() + 8;
        let mut pixels = colorize(&resample(values, nz, nx, h, w), bar.cmap, bar.range);
        if let Some(e) = &edge {
            for (p, &on) in pixels.iter_mut().zip(e) {
                if on {
                    *p = OUTLINE;
                }
            }
        }
        draw_panel(&mut c, Panel { x, y, w, h, title: name, x_axis: xa, y_axis: za, y_label: true }, &pixels);
        bar.draw(&mut c, x + w as i64, y, h);
    }
    // Channel weights: one cell per channel, grey from white (0) to black (1).
    let strip_w = (width - 2 * PAD) as usize;
    for (k, (label, weights)) in f.strips.iter().enumerate() {
        let y = strips_top + k as i64 * (STRIP_H + label_height() + 6);
        c.text(label, PAD as f32, y as f32, super::layout::TICK_PX, (0.0, 0.0), BLACK);
        let y = y + label_height() + 2;
        if weights.is_empty() {
            continue;
        }
        let cells = colorize(&resample(weights, 1, weights.len(), 1, strip_w), GREY, (0.0, 1.0));
        for (i, p) in cells.iter().enumerate() {
            c.fill_rect(PAD + i as i64, y, 1, STRIP_H, *p);
        }
        c.frame(PAD, y, strip_w as i64, STRIP_H, BLACK);
    }
    save_png(path, &c)
}
