//! Rasters on screen: pixel sizes, resampling, colouring, clipping levels.

use super::colormap::{Colormap, Rgb};

/// Maps values to colours over `range`.
pub(super) fn colorize(values: &[f32], cmap: Colormap, range: (f32, f32)) -> Vec<Rgb> {
    values.iter().map(|&v| cmap.map(v, range.0, range.1)).collect()
}

/// `n` samples shown on about `min`..`max` pixels: an integer upscale (the largest not past
/// `max`, from the smallest reaching `min`), or `max` pixels when `n` is larger than that.
pub(super) fn fit_len(n: usize, min: usize, max: usize) -> usize {
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
pub(super) fn raster_size(rows: usize, cols: usize, short_min: usize, long_max: usize) -> (usize, usize) {
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
pub(super) fn resample(src: &[f32], rows: usize, cols: usize, out_rows: usize, out_cols: usize) -> Vec<f32> {
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
pub(super) fn percentile_abs(data: &[f32], q: f64) -> f32 {
    let mut a: Vec<f32> = data.iter().filter(|v| v.is_finite()).map(|v| v.abs()).collect();
    if a.is_empty() {
        return 0.0;
    }
    let k = ((a.len() - 1) as f64 * q).round() as usize;
    *a.select_nth_unstable_by(k, f32::total_cmp).1
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
