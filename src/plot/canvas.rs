//! A tiny RGB canvas: filled rectangles, anti-aliased polylines and discs, anti-aliased text
//! (DejaVu Sans through `ab_glyph`), and raster blits. Pixel (x, y) covers [x, x+1)×[y, y+1).

use super::colormap::Rgb;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/DejaVuSans-LICENSE.txt).
const FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_TTF).expect("the embedded DejaVu Sans parses"))
}

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];

/// An RGB image in row-major order.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pixels: Vec<Rgb>,
}

/// Coverage (0..=1) of a `w`×`h` block of pixels, to blend in one colour.
struct Mask {
    w: usize,
    h: usize,
    alpha: Vec<f32>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: Rgb) -> Self {
        Canvas { width, height, pixels: vec![background; width * height] }
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        self.pixels[y * self.width + x]
    }

    /// The pixels as packed RGB bytes, for the PNG encoder.
    pub fn as_bytes(&self) -> &[u8] {
        self.pixels.as_flattened()
    }

    /// Mixes `color` into pixel (x, y) with weight `alpha`; pixels off the canvas are ignored.
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = &mut self.pixels[y as usize * self.width + x as usize];
        for c in 0..3 {
            p[c] = (p[c] as f32 + (color[c] as f32 - p[c] as f32) * a).round() as u8;
        }
    }

    /// Fills the `w`×`h` rectangle whose top-left pixel is (x, y), clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: Rgb) {
        let (x0, x1) = (x.max(0), (x + w).min(self.width as i64));
        let (y0, y1) = (y.max(0), (y + h).min(self.height as i64));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.pixels[yy as usize * self.width + xx as usize] = color;
            }
        }
    }

    /// A one-pixel outline just outside the `w`×`h` rectangle at (x, y).
    pub fn frame(&mut self, x: i64, y: i64, w: i64, h: i64, color: Rgb) {
        self.fill_rect(x - 1, y - 1, w + 2, 1, color);
        self.fill_rect(x - 1, y + h, w + 2, 1, color);
        self.fill_rect(x - 1, y, 1, h, color);
        self.fill_rect(x + w, y, 1, h, color);
    }

    /// Copies a `w`×`h` row-major block of pixels with its top-left corner at (x, y).
    pub fn blit(&mut self, x: i64, y: i64, w: usize, h: usize, pixels: &[Rgb]) {
        for (r, row) in pixels.chunks_exact(w).take(h).enumerate() {
            for (c, &p) in row.iter().enumerate() {
                self.blend(x + c as i64, y + r as i64, p, 1.0);
            }
        }
    }

    /// An anti-aliased line `width` pixels wide through `points` (canvas coordinates).
    pub fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgb) {
        let Some((x0, y0, mut mask)) = self.mask_around(points, width / 2.0 + 1.0) else { return };
        let half = width / 2.0;
        for seg in points.windows(2).map(|s| (s[0], s[1])).chain((points.len() == 1).then(|| (points[0], points[0]))) {
            let ((ax, ay), (bx, by)) = seg;
            let reach = half + 1.0;
            let (mx, my) = (x0 + mask.w as i64, y0 + mask.h as i64);
            let xs = ((ax.min(bx) - reach).floor() as i64).max(x0)
                ..((ax.max(bx) + reach).ceil() as i64).saturating_add(1).min(mx);
            let ys = ((ay.min(by) - reach).floor() as i64).max(y0)
                ..((ay.max(by) + reach).ceil() as i64).saturating_add(1).min(my);
            for y in ys {
                for x in xs.clone() {
                    let d = segment_distance((x as f32 + 0.5, y as f32 + 0.5), (ax, ay), (bx, by));
                    mask.raise(x - x0, y - y0, (half + 0.5 - d).clamp(0.0, 1.0));
                }
            }
        }
        self.paint(x0, y0, &mask, color);
    }

    /// An anti-aliased filled disc of radius `r` centred at (cx, cy).
    pub fn disc(&mut self, cx: f32, cy: f32, r: f32, color: Rgb) {
        self.polyline(&[(cx, cy)], 2.0 * r, color);
    }

    /// A zeroed mask covering `points` plus `margin` pixels, and its top-left canvas pixel.
    fn mask_around(&self, points: &[(f32, f32)], margin: f32) -> Option<(i64, i64, Mask)> {
        let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
        for &(x, y) in points {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        if points.is_empty() || !(lo.0.is_finite() && lo.1.is_finite() && hi.0.is_finite() && hi.1.is_finite()) {
            return None;
        }
        let x0 = ((lo.0 - margin).floor() as i64).max(0);
        let y0 = ((lo.1 - margin).floor() as i64).max(0);
        let x1 = ((hi.0 + margin).ceil() as i64).saturating_add(1).min(self.width as i64);
        let y1 = ((hi.1 + margin).ceil() as i64).saturating_add(1).min(self.height as i64);
        (x1 > x0 && y1 > y0).then(|| (x0, y0, Mask::new((x1 - x0) as usize, (y1 - y0) as usize)))
    }

    fn paint(&mut self, x0: i64, y0: i64, mask: &Mask, color: Rgb) {
        for y in 0..mask.h {
            for x in 0..mask.w {
                self.blend(x0 + x as i64, y0 + y as i64, color, mask.alpha[y * mask.w + x]);
            }
        }
    }

    /// Draws `text` at `size` pixels so that the point (x, y) falls at fraction `align` = (h, v)
    /// of its box (ascent to descent): (0, 0) top-left, (0.5, 0.5) centred, (1, 1) bottom-right.
    pub fn text(&mut self, text: &str, x: f32, y: f32, size: f32, align: (f32, f32), color: Rgb) {
        let (mask, w, h) = render_text(text, size);
        let left = (x - align.0 * w).round() as i64 - TEXT_PAD;
        let top = (y - align.1 * h).round() as i64 - TEXT_PAD;
        self.paint(left, top, &mask, color);
    }

    /// Like [`Canvas::text`], turned 90° anticlockwise (reading upwards); `align` applies to
    /// the turned box.
    pub fn text_up(&mut self, text: &str, x: f32, y: f32, size: f32, align: (f32, f32), color: Rgb) {
        let (mask, w, h) = render_text(text, size);
        let left = (x - align.0 * h).round() as i64 - TEXT_PAD;
        let top = (y - align.1 * w).round() as i64 - TEXT_PAD;
        for my in 0..mask.h {
            for mx in 0..mask.w {
                let a = mask.alpha[my * mask.w + mx];
                self.blend(left + my as i64, top + (mask.w - 1 - mx) as i64, color, a);
            }
        }
    }
}

impl Mask {
    fn new(w: usize, h: usize) -> Self {
        Mask { w, h, alpha: vec![0.0; w * h] }
    }

    /// Raises the coverage at (x, y) to at least `a`; points outside are ignored.
    fn raise(&mut self, x: i64, y: i64, a: f32) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let m = &mut self.alpha[y as usize * self.w + x as usize];
            *m = m.max(a);
        }
    }
}

/// Distance from point p to the segment a–b (in f64, so far-off ends do not overflow).
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (p, a, b) = ((p.0 as f64, p.1 as f64), (a.0 as f64, a.1 as f64), (b.0 as f64, b.1 as f64));
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt() as f32
}

/// Blank pixels around a rendered text's box, for glyphs that overhang their advance.
const TEXT_PAD: i64 = 2;

/// Width (advance) and height (ascent − descent) in pixels of `text` at `size`.
pub fn text_size(text: &str, size: f32) -> (f32, f32) {
    let font = font().as_scaled(PxScale::from(size));
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    (width, font.ascent() - font.descent())
}

/// The coverage mask of `text` (with [`TEXT_PAD`] blank pixels around its box), and the box's
/// width and height.
fn render_text(text: &str, size: f32) -> (Mask, f32, f32) {
    let (w, h) = text_size(text, size);
    let pad = TEXT_PAD as f32;
    let mut mask = Mask::new((w + 2.0 * pad).ceil() as usize + 1, (h + 2.0 * pad).ceil() as usize + 1);
    let scaled = font().as_scaled(PxScale::from(size));
    let mut x = pad;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(size, point(x, pad + scaled.ascent()));
        x += scaled.h_advance(id);
        prev = Some(id);
        if let Some(outline) = font().outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, a| mask.raise(b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64, a));
        }
    }
    (mask, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_inside_its_box() {
        let mut c = Canvas::new(200, 60, WHITE);
        c.text("Depth (km)", 100.0, 30.0, 20.0, (0.5, 0.5), BLACK);
        let (w, h) = text_size("Depth (km)", 20.0);
        assert!(w > 60.0 && w < 140.0 && h > 18.0 && h < 30.0, "{w}×{h}");
        let dark: Vec<(usize, usize)> =
            (0..60).flat_map(|y| (0..200).map(move |x| (x, y))).filter(|&(x, y)| c.pixel(x, y)[0] < 128).collect();
        assert!(dark.len() > 100);
        for (x, y) in dark {
            assert!((x as f32 - 100.0).abs() <= w / 2.0 + 2.0 && (y as f32 - 30.0).abs() <= h / 2.0 + 2.0);
        }
    }

    #[test]
    fn rotated_text_is_tall() {
        let mut c = Canvas::new(60, 200, WHITE);
        c.text_up("Depth (km)", 30.0, 100.0, 20.0, (0.5, 0.5), BLACK);
        let rows: Vec<usize> = (0..200).filter(|&y| (0..60).any(|x| c.pixel(x, y)[0] < 128)).collect();
        assert!(rows.last().unwrap() - rows[0] > 60);
    }

    #[test]
    fn lines_are_antialiased_and_centred() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.polyline(&[(2.0, 10.0), (18.0, 10.0)], 2.0, BLACK);
        assert_eq!(c.pixel(10, 9), BLACK);
        assert_eq!(c.pixel(10, 10), BLACK);
        assert_eq!(c.pixel(10, 5), WHITE);
        let mut d = Canvas::new(20, 20, WHITE);
        d.polyline(&[(2.0, 2.0), (18.0, 15.0)], 1.5, BLACK);
        let partial = (0..20).flat_map(|y| (0..20).map(move |x| (x, y))).any(|(x, y)| {
            let v = d.pixel(x, y)[0];
            v > 20 && v < 235
        });
        assert!(partial, "a slanted line has partly covered pixels");
    }

    #[test]
    fn far_off_canvas_lines_are_clipped_quickly() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.polyline(&[(-1e30, 10.0), (1e30, 10.5)], 2.0, BLACK);
        assert_eq!(c.pixel(10, 10), BLACK);
        c.polyline(&[(f32::NAN, 1.0), (3.0, 4.0)], 2.0, BLACK);
    }

    #[test]
    fn fill_and_frame_clip() {
        let mut c = Canvas::new(10, 10, WHITE);
        c.fill_rect(-5, -5, 8, 8, BLACK);
        assert_eq!(c.pixel(2, 2), BLACK);
        assert_eq!(c.pixel(3, 3), WHITE);
        c.frame(4, 4, 3, 3, [255, 0, 0]);
        assert_eq!(c.pixel(3, 3), [255, 0, 0]);
        assert_eq!(c.pixel(5, 5), WHITE);
        assert_eq!(c.pixel(7, 7), [255, 0, 0]);
    }
}
