//! The data misfit of one plane's traces and its gradient with respect to them (the adjoint
//! source): ½‖H(d − d_obs)‖² and Hᵀ H (d − d_obs), where H is the identity or a zero-phase
//! low-pass filter along time.
//!
//! The low-pass is a Butterworth filter of order 4 (two biquads, bilinear transform) run
//! forwards and then backwards in time from rest, as scipy's `filtfilt` without padding: with
//! R the time reversal and F the causal filter, H = R F R F. A causal filter from rest is a
//! lower-triangular Toeplitz matrix, so Fᵀ = R F R and H is its own transpose; the adjoint
//! source is then H applied twice. Low frequencies are what FWI needs first: a body a
//! wavelength away from where the data put it gives a gradient that points the wrong way
//! (cycle skipping), and the wavelength grows as the frequency falls.

use crate::cpu::{Real, lit};
use crate::error::{Error, Result};

/// ½‖H r‖² and Hᵀ H r for a residual r; see the module's documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Misfit {
    /// The two biquads' [b0, b1, b2, a1, a2] (a0 = 1), or none: the full band.
    lowpass: Option<[[f64; 5]; 2]>,
}

impl Misfit {
    /// The plain least-squares misfit.
    pub const FULL: Misfit = Misfit { lowpass: None };

    /// Low-pass at `cutoff` Hz (the −6 dB point of the zero-phase filter, whose gain is the
    /// Butterworth's squared) for traces sampled every `sample_dt` seconds.
    pub fn lowpass(cutoff: f64, sample_dt: f64) -> Result<Misfit> {
        let top = 0.9 * 0.5 / sample_dt;
        if !(cutoff.is_finite() && cutoff > 0.0 && cutoff < top) {
            return Err(Error::config(
                "low-pass",
                format!(
                    "{cutoff} Hz is not a cutoff in (0, {top:.1}) Hz (0.9 × the Nyquist frequency of traces sampled \
                     every {} ms)",
                    sample_dt * 1e3
                ),
            ));
        }
        let w0 = 2.0 * std::f64::consts::PI * cutoff * sample_dt;
        // The Q of each section of a 4th-order Butterworth: 1 / (2 cos(π/8)), 1 / (2 cos(3π/8)).
        let section = |q: f64| {
            let (c, alpha) = (w0.cos(), w0.sin() / (2.0 * q));
            let a0 = 1.0 + alpha;
            [(1.0 - c) / 2.0 / a0, (1.0 - c) / a0, (1.0 - c) / 2.0 / a0, -2.0 * c / a0, (1.0 - alpha) / a0]
        };
        let q = |k: f64| 1.0 / (2.0 * (k * std::f64::consts::PI / 8.0).cos());
        Ok(Misfit { lowpass: Some([section(q(1.0)), section(q(3.0))]) })
    }

    /// H applied in place to every receiver's trace of `r` [samples][receivers].
    pub fn filter(&self, r: &mut [f64], receivers: usize) {
        let Some(sections) = self.lowpass else { return };
        let samples = r.len() / receivers.max(1);
        for rec in 0..receivers {
            let mut line: Vec<f64> = (0..samples).map(|t| r[t * receivers + rec]).collect();
            for _ in 0..2 {
                for s in &sections {
                    causal(s, &mut line);
                }
                line.reverse();
            }
            for (t, v) in line.into_iter().enumerate() {
                r[t * receivers + rec] = v;
            }
        }
    }

    /// The misfit ½‖H(d − o)‖² of one plane's traces `d` against `o` [samples][receivers],
    /// and its gradient Hᵀ H (d − o) with respect to `d`.
    pub fn residual<T: Real>(&self, d: &[T], o: &[T], receivers: usize) -> (f64, Vec<T>) {
        if self.lowpass.is_none() {
            let r: Vec<T> = d.iter().zip(o).map(|(&d, &o)| d - o).collect();
            let j = r.iter().map(|v| v.to_f64().unwrap().powi(2)).sum::<f64>() / 2.0;
            return (j, r);
        }
        let mut r: Vec<f64> = d.iter().zip(o).map(|(&d, &o)| (d - o).to_f64().unwrap()).collect();
        self.filter(&mut r, receivers);
        let j = r.iter().map(|v| v * v).sum::<f64>() / 2.0;
        self.filter(&mut r, receivers);
        (j, r.into_iter().map(lit).collect())
    }
}

/// One biquad, causal and from rest, in place (direct form II transposed).
fn causal(s: &[f64; 5], x: &mut [f64]) {
    let [b0, b1, b2, a1, a2] = *s;
    let (mut z1, mut z2) = (0.0, 0.0);
    for v in x.iter_mut() {
        let y = b0 * *v + z1;
        z1 = b1 * *v - a1 * y + z2;
        z2 = b2 * *v - a2 * y;
        *v = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::rng::Rng::new(seed);
        (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    #[test]
    fn the_filter_is_its_own_transpose() {
        let m = Misfit::lowpass(6.0, 1e-3).unwrap();
        let (x, y) = (noise(400 * 3, 1), noise(400 * 3, 2));
        let (mut hx, mut hy) = (x.clone(), y.clone());
        m.filter(&mut hx, 3);
        m.filter(&mut hy, 3);
        let a: f64 = hx.iter().zip(&y).map(|(a, b)| a * b).sum();
        let b: f64 = x.iter().zip(&hy).map(|(a, b)| a * b).sum();
        assert!((a - b).abs() <= 1e-12 * a.abs().max(b.abs()), "<Hx, y> = {a}, <x, Hy> = {b}");
    }

    #[test]
    fn it_passes_low_and_stops_high_frequencies() {
        let m = Misfit::lowpass(8.0, 1e-3).unwrap();
        let gain = |f: f64| {
            let sine: Vec<f64> = (0..4000).map(|t| (2.0 * std::f64::consts::PI * f * t as f64 * 1e-3).sin()).collect();
            let mut out = sine.clone();
            m.filter(&mut out, 1);
            // The middle, away from the ends' transients.
            let rms = |v: &[f64]| (v[1000..3000].iter().map(|x| x * x).sum::<f64>() / 2000.0).sqrt();
            rms(&out) / rms(&sine)
        };
        assert!((gain(2.0) - 1.0).abs() < 0.01, "2 Hz: gain {}", gain(2.0));
        assert!((gain(8.0) - 0.5).abs() < 0.02, "8 Hz (the cutoff): gain {}", gain(8.0));
        assert!(gain(30.0) < 1e-3, "30 Hz: gain {}", gain(30.0));
    }

    #[test]
    fn its_gradient_is_that_of_the_misfit() {
        let m = Misfit::lowpass(10.0, 2e-3).unwrap();
        let (d, o) = (noise(200 * 2, 3), noise(200 * 2, 4));
        let (_, g) = m.residual(&d, &o, 2);
        for i in [0, 17, 201, 399] {
            let h = 1e-5;
            let (mut up, mut down) = (d.clone(), d.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (m.residual(&up, &o, 2).0 - m.residual(&down, &o, 2).0) / (2.0 * h);
            assert!((fd - g[i]).abs() <= 1e-7 * g[i].abs().max(1e-3), "sample {i}: {fd} against {}", g[i]);
        }
        let (j, r) = Misfit::FULL.residual(&d, &o, 2);
        assert_eq!(r[5], d[5] - o[5]);
        assert!((j - d.iter().zip(&o).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_cutoff_out_of_range_is_refused() {
        for f in [0.0, -1.0, f64::NAN, 450.0, 1e9] {
            assert!(Misfit::lowpass(f, 1e-3).is_err(), "{f} Hz");
        }
    }
}
