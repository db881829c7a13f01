//! Colour maps as small tables of sRGB stops, evenly spaced on [0, 1] and linearly interpolated.

/// An sRGB colour, 8 bits a channel.
pub type Rgb = [u8; 3];

/// Colour given to NaN samples by every map: a neutral mid grey, outside all three maps' hues.
pub const NAN_COLOR: Rgb = [160, 160, 160];

/// A colour map: stops evenly spaced from t = 0 (first) to t = 1 (last).
#[derive(Clone, Copy, Debug)]
pub struct Colormap {
    stops: &'static [Rgb],
}

/// Viridis (van der Walt, Smith and Firing; CC0), sampled at 17 even stops from matplotlib's
/// 256-entry table. Perceptually uniform and monotone in lightness, readable in grey and by
/// colour-blind readers: the velocity map (dark purple = slow, yellow = fast, salt).
pub const VIRIDIS: Colormap = Colormap {
    stops: &[
        [68, 1, 84],
        [72, 24, 106],
        [71, 45, 123],
        [66, 64, 134],
        [59, 82, 139],
        [51, 99, 141],
        [44, 114, 142],
        [38, 130, 142],
        [33, 145, 140],
        [31, 160, 136],
        [40, 174, 128],
        [63, 188, 115],
        [94, 201, 98],
        [132, 212, 75],
        [173, 220, 48],
        [216, 226, 25],
        [253, 231, 37],
    ],
};

/// Diverging blue–white–red (ColorBrewer RdBu reversed, its centre made pure white): negative
/// values blue, zero white, positive red. Lightness rises to the centre and falls after it.
pub const BLUE_WHITE_RED: Colormap = Colormap {
    stops: &[
        [5, 48, 97],
        [33, 102, 172],
        [67, 147, 195],
        [146, 197, 222],
        [209, 229, 240],
        [255, 255, 255],
        [253, 219, 199],
        [244, 165, 130],
        [214, 96, 77],
        [178, 24, 43],
        [103, 0, 31],
    ],
};

/// Seismic grey: negative amplitudes white, zero mid grey, positive black.
pub const GREY: Colormap = Colormap { stops: &[[255, 255, 255], [0, 0, 0]] };

impl Colormap {
    /// The colour at `t`, clamped to [0, 1]; NaN gives [`NAN_COLOR`].
    pub fn at(&self, t: f32) -> Rgb {
        if t.is_nan() {
            return NAN_COLOR;
        }
        let last = self.stops.len() - 1;
        let pos = t.clamp(0.0, 1.0) * last as f32;
        let i = (pos.floor() as usize).min(last.saturating_sub(1));
        let f = pos - i as f32;
        let (a, b) = (self.stops[i], self.stops[(i + 1).min(last)]);
        std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * f).round() as u8)
    }

    /// The colour of `value` on a scale from `lo` (t = 0) to `hi` (t = 1).
    pub fn map(&self, value: f32, lo: f32, hi: f32) -> Rgb {
        self.at((value - lo) / (hi - lo))
    }
}

/// CIE L* lightness (0 = black, 100 = white) of an sRGB colour.
pub fn lightness(c: Rgb) -> f32 {
    let lin = |u: u8| {
        let u = u as f32 / 255.0;
        if u <= 0.04045 { u / 12.92 } else { ((u + 0.055) / 1.055).powf(2.4) }
    };
    let y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
    if y > 216.0 / 24389.0 { 116.0 * y.cbrt() - 16.0 } else { y * 24389.0 / 27.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_interpolation() {
        assert_eq!(VIRIDIS.at(0.0), [68, 1, 84]);
        assert_eq!(VIRIDIS.at(1.0), [253, 231, 37]);
        assert_eq!(VIRIDIS.at(-3.0), VIRIDIS.at(0.0));
        assert_eq!(VIRIDIS.at(7.0), VIRIDIS.at(1.0));
        assert_eq!(GREY.at(0.5), [128, 128, 128]);
        assert_eq!(VIRIDIS.at(f32::NAN), NAN_COLOR);
        assert_eq!(VIRIDIS.map(1500.0, 1500.0, 4500.0), [68, 1, 84]);
    }

    #[test]
    fn lightness_of_black_and_white() {
        assert!(lightness([0, 0, 0]).abs() < 1e-3);
        assert!((lightness([255, 255, 255]) - 100.0).abs() < 1e-3);
    }
}
