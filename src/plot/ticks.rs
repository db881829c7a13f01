//! Axis ticks at round numbers, and their labels.

/// One tick: where it goes (in data units) and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
}

/// The smallest step of the form {1, 2, 5}·10^k that splits `span` into at most `max_intervals`.
pub fn nice_step(span: f64, max_intervals: usize) -> f64 {
    let raw = span.abs() / max_intervals.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = [1.0, 2.0, 5.0, 10.0].into_iter().find(|&m| m >= norm * (1.0 - 1e-9)).unwrap_or(10.0);
    nice * magnitude
}

/// Every multiple of `step` inside [lo, hi] (a hair of slack at both ends), computed as k·step so
/// that labels come out exact, with −0 written as 0; none when there would be over 1000.
pub fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let eps = 1e-9;
    let first = (lo / step - eps).ceil();
    let last = (hi / step + eps).floor();
    if !(first.is_finite() && last.is_finite() && last - first <= 1000.0) {
        return Vec::new();
    }
    (first as i64..=last as i64).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect()
}

/// Round tick values covering [lo, hi]: multiples of [`nice_step`]`(hi − lo, max_intervals)`.
/// 1500–4500 gives 1500, 2000, …, 4500; 0–0.69 gives 0, 0.2, 0.4, 0.6.
pub fn nice_ticks(lo: f64, hi: f64, max_intervals: usize) -> Vec<f64> {
    multiples(lo, hi, nice_step(hi - lo, max_intervals))
}

/// A tick value written with as many decimals as `step` needs (0.2 → "0.2", 500 → "500"), or
/// in exponent notation ("2e−4") for very small or very large steps; minus signs are U+2212.
pub fn format_tick(value: f64, step: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let step_exp = step.abs().log10().floor() as i32;
    if step.abs() < 1e-3 || step.abs() >= 1e6 {
        let digits = (value.abs().log10().floor() as i32 - step_exp).max(0) as usize;
        format!("{value:.digits$e}").replace('-', "−")
    } else {
        let decimals = (-step_exp).max(0) as usize;
        format!("{value:.decimals$}").replace('-', "−")
    }
}

/// Labelled round ticks on a linear axis from `lo` to `hi`.
pub fn linear_ticks(lo: f64, hi: f64, max_intervals: usize) -> Vec<Tick> {
    let step = nice_step(hi - lo, max_intervals);
    labelled(multiples(lo, hi, step), step)
}

fn labelled(values: Vec<f64>, step: f64) -> Vec<Tick> {
    values.into_iter().map(|value| Tick { value, label: format_tick(value, step) }).collect()
}

/// 10 written with a superscript exponent, as "10⁻³".
pub fn power_of_ten(exponent: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if exponent < 0 {
        s.push('⁻');
    }
    s.extend(exponent.unsigned_abs().to_string().bytes().map(|b| SUP[(b - b'0') as usize]));
    s
}

/// Ticks for a logarithmic axis over [lo, hi] (both > 0): the powers of ten inside it (every
/// second or fifth one over many decades) when at least three fit; otherwise the 1-2-5, or
/// failing that 1-to-9, multiples of each decade when at least three of those fit; otherwise
/// plain linear ticks. Ranges are clipped to [1e−300, 1e300].
pub fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    if !(lo < hi) {
        return Vec::new();
    }
    let (lo, hi) = (lo.max(1e-300), hi.min(1e300));
    let (a, b) = ((lo.log10() - 1e-9).ceil() as i32, (hi.log10() + 1e-9).floor() as i32);
    if b - a >= 2 {
        let every = [1, 2, 5, 10, 20, 50].into_iter().find(|e| (b - a) / e <= 6).unwrap_or(100);
        let first = a + (every - a.rem_euclid(every)) % every;
        return (first..=b)
            .step_by(every as usize)
            .map(|e| Tick { value: 10f64.powi(e), label: power_of_ten(e) })
            .collect();
    }
    let decades = lo.log10().floor() as i32..=hi.log10().floor() as i32;
    for mantissas in [&[1.0, 2.0, 5.0][..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]] {
        let ticks: Vec<Tick> = decades
            .clone()
            .flat_map(|e| mantissas.iter().map(move |m| (m * 10f64.powi(e), 10f64.powi(e))))
            .filter(|&(v, _)| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9))
            .map(|(value, step)| Tick { value, label: format_tick(value, step) })
            .collect();
        if (3..=10).contains(&ticks.len()) {
            return ticks;
        }
    }
    linear_ticks(lo, hi, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(nice_step(3000.0, 6), 500.0);
        assert!((nice_step(0.69, 6) - 0.2).abs() < 1e-12);
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert!(multiples(-1e308, 1e308, 1.0).is_empty());
        assert!(multiples(0.0, 1.0, f64::NAN).is_empty());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(format_tick(2500.0, 500.0), "2500");
        assert_eq!(format_tick(-0.05, 0.05), "−0.05");
        assert_eq!(format_tick(3.0000000000000004e-4, 1e-4), "3e−4");
        assert_eq!(format_tick(1.2e-3, 2e-4), "1.2e−3");
        assert_eq!(power_of_ten(-3), "10⁻³");
        assert_eq!(power_of_ten(12), "10¹²");
    }

    #[test]
    fn log_axis() {
        let labels = |t: Vec<Tick>| t.into_iter().map(|t| t.label).collect::<Vec<_>>();
        assert_eq!(labels(log_ticks(0.004, 2.0)), ["10⁻²", "10⁻¹", "10⁰"]);
        assert_eq!(labels(log_ticks(0.013, 0.52)), ["0.02", "0.05", "0.1", "0.2", "0.5"]);
        assert_eq!(labels(log_ticks(0.28, 1.07)), ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1"]);
        assert_eq!(log_ticks(1e-12, 1.0).len(), 7);
        assert!(log_ticks(0.31, 0.38).len() >= 2);
        assert_eq!(log_ticks(0.0, f64::INFINITY).len(), 7);
        assert!(log_ticks(f64::NAN, 1.0).is_empty());
    }
}
