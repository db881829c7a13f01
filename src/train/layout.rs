//! How a seismic sample maps onto the network and back. A sample is `shots` gathers of
//! nt time samples × nrec receivers and a velocity model of nz × nx cells. The network sees
//! one channel per shot on an h × w grid, h and w being nz and nx rounded up to a multiple
//! of 2^(levels−1): each gather's time axis is resampled to h rows (averaged over the
//! samples each row covers when shrinking, linear when growing) and its receiver axis to
//! w columns. Targets are the velocity model padded to h × w by repeating its last row and
//! column; predictions are cropped back to nz × nx.
//!
//! With `phases` K > 1 each gather's time axis is resampled to K·h rows instead, and the
//! network sees it as K channels of h rows, row i of channel p being time row i·K + p (a
//! space-to-depth split): the time resolution of K·h rows on the same grid, each row still
//! near the depth it reflects from. OpenFWI's 1000 samples at h = 72 lose the detail of 14
//! samples per row at K = 1.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub shots: usize,
    pub nt: usize,
    pub nrec: usize,
    pub nz: usize,
    pub nx: usize,
    pub h: usize,
    pub w: usize,
    /// Time phases per shot (see the module's note); 1 in checkpoints from before them.
    #[serde(default = "one_phase")]
    pub phases: usize,
}

/// The phases of layouts (and runs) recorded before there were phases.
pub fn one_phase() -> usize {
    1
}

impl Layout {
    pub fn new(shots: usize, nt: usize, nrec: usize, nz: usize, nx: usize, levels: usize) -> Result<Self> {
        if [shots, nt, nrec, nz, nx, levels].contains(&0) {
            return Err(Error::config(
                "layout",
                format!("sizes must be positive: {shots} shots × {nt} × {nrec}, model {nz} × {nx}"),
            ));
        }
        let f = 1 << (levels - 1);
        Ok(Layout { shots, nt, nrec, nz, nx, h: nz.div_ceil(f) * f, w: nx.div_ceil(f) * f, phases: 1 })
    }

    /// The same layout with `phases` time phases per shot: at least 1, and at most
    /// ⌈nt / h⌉, beyond which the phases would only interpolate between time samples.
    pub fn with_phases(self, phases: usize) -> Result<Layout> {
        let most = self.nt.div_ceil(self.h);
        if phases == 0 || phases > most {
            return Err(Error::config(
                "layout",
                format!("{phases} time phases: {} time samples on {} rows allow 1 to {most}", self.nt, self.h),
            ));
        }
        Ok(Layout { phases, ..self })
    }

    /// The network's input channels: each shot's phases, shot by shot.
    pub fn channels(&self) -> usize {
        self.shots * self.phases
    }

    pub fn data_len(&self) -> usize {
        self.shots * self.nt * self.nrec
    }
    pub fn model_len(&self) -> usize {
        self.nz * self.nx
    }
    pub fn input_len(&self) -> usize {
        self.channels() * self.h * self.w
    }
    pub fn target_len(&self) -> usize {
        self.h * self.w
    }

    /// One sample's gathers (shots × nt × nrec) as network input (shots × phases × h × w).
    pub fn input(&self, data: &[f32]) -> Result<Vec<f32>> {
        if data.len() != self.data_len() {
            return Err(Error::shape(
                "layout",
                "data",
                format!("has {} values, expected {} × {} × {}", data.len(), self.shots, self.nt, self.nrec),
            ));
        }
        let (k, rows) = (self.phases, self.h * self.phases);
        let mut out = Vec::with_capacity(self.input_len());
        for gather in data.chunks(self.nt * self.nrec) {
            // Resample time (rows), then receivers (columns); row i·K + p goes to phase p.
            let mut cols = vec![0.0f32; rows * self.nrec];
            let mut column = vec![0.0f32; self.nt];
            for r in 0..self.nrec {
                for (t, c) in column.iter_mut().enumerate() {
                    *c = gather[t * self.nrec + r];
                }
                for (i, v) in resample(&column, rows).into_iter().enumerate() {
                    cols[i * self.nrec + r] = v;
                }
            }
            for p in 0..k {
                for i in 0..self.h {
                    out.extend(resample(&cols[(i * k + p) * self.nrec..][..self.nrec], self.w));
                }
            }
        }
        Ok(out)
    }

    /// A velocity model (nz × nx) padded to the network's h × w.
    pub fn target(&self, model: &[f32]) -> Result<Vec<f32>> {
        if model.len() != self.model_len() {
            return Err(Error::shape(
                "layout",
                "model",
                format!("has {} values, expected {} × {}", model.len(), self.nz, self.nx),
            ));
        }
        let mut out = Vec::with_capacity(self.target_len());
        for i in 0..self.h {
            let row = &model[i.min(self.nz - 1) * self.nx..][..self.nx];
            out.extend((0..self.w).map(|j| row[j.min(self.nx - 1)]));
        }
        Ok(out)
    }

    /// One laid-out sample flipped left to right, as `input` and `target` would be for the
    /// mirrored model under a mirror-symmetric acquisition (`Acquisition::check_mirror`):
    /// the shots in reverse order, each gather's columns reversed (resampling the receiver
    /// axis commutes with reversing it), and the model's nx columns reversed with the
    /// padding kept on the right.
    pub fn flip(&self, input: &mut [f32], target: &mut [f32]) {
        self.flip_input(input);
        self.flip_target(target);
    }

    /// The input half of [`Layout::flip`]: shots in reverse order (each with its phases in
    /// their order), columns reversed.
    pub fn flip_input(&self, input: &mut [f32]) {
        let block = self.phases * self.h * self.w;
        for s in 0..self.shots / 2 {
            let (a, b) = input.split_at_mut((self.shots - 1 - s) * block);
            a[s * block..][..block].swap_with_slice(&mut b[..block]);
        }
        for row in input.chunks_exact_mut(self.w) {
            row.reverse();
        }
    }

    /// The target half of [`Layout::flip`] (and so a network output's): the nx model
    /// columns reversed, the padding refilled from the new last column. Its own inverse on
    /// the model's columns.
    pub fn flip_target(&self, target: &mut [f32]) {
        for row in target.chunks_exact_mut(self.w) {
            row[..self.nx].reverse();
            let last = row[self.nx - 1];
            row[self.nx..].fill(last);
        }
    }

    /// A network output (h × w) cropped to the velocity grid (nz × nx).
    pub fn crop(&self, out: &[f32]) -> Result<Vec<f32>> {
        if out.len() != self.target_len() {
            return Err(Error::shape(
                "layout",
                "prediction",
                format!("has {} values, expected {} × {}", out.len(), self.h, self.w),
            ));
        }
        Ok((0..self.nz).flat_map(|i| out[i * self.w..][..self.nx].iter().copied()).collect())
    }
}

/// Resamples a signal to `n` points: the average over each output cell's span when
/// shrinking (no aliasing), linear interpolation between cell centres when growing.
pub fn resample(src: &[f32], n: usize) -> Vec<f32> {
    let m = src.len();
    if n == m {
        return src.to_vec();
    }
    let scale = m as f64 / n as f64;
    (0..n)
        .map(|i| {
            if n < m {
                let (a, b) = (i as f64 * scale, (i + 1) as f64 * scale);
                let mut sum = 0.0;
                let mut k = a.floor() as usize;
                while (k as f64) < b && k < m {
                    let overlap = (b.min(k as f64 + 1.0) - a.max(k as f64)).max(0.0);
                    sum += overlap * src[k] as f64;
                    k += 1;
                }
                (sum / (b - a)) as f32
            } else {
                let x = ((i as f64 + 0.5) * scale - 0.5).clamp(0.0, (m - 1) as f64);
                let k = (x.floor() as usize).min(m - 1);
                let f = x - k as f64;
                let next = src[(k + 1).min(m - 1)] as f64;
                (src[k] as f64 * (1.0 - f) + next * f) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openfwi_maps_to_72_by_72() {
        let l = Layout::new(5, 1000, 70, 70, 70, 4).unwrap();
        assert_eq!((l.h, l.w), (72, 72));
        let data: Vec<f32> = (0..l.data_len()).map(|i| (i % 7) as f32).collect();
        assert_eq!(l.input(&data).unwrap().len(), 5 * 72 * 72);
        assert!(l.input(&data[1..]).is_err());
    }

    #[test]
    fn shrinking_averages_and_growing_interpolates() {
        assert_eq!(resample(&[1.0, 3.0, 5.0, 7.0], 2), vec![2.0, 6.0]);
        // A constant stays constant, and the mean is kept when shrinking by any factor.
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin()).collect();
        let y = resample(&x, 72);
        let (mx, my) = (x.iter().sum::<f32>() / 1000.0, y.iter().sum::<f32>() / 72.0);
        assert!((mx - my).abs() < 1e-4, "{mx} {my}");
        assert_eq!(resample(&[2.0; 5], 9), vec![2.0; 9]);
        let up = resample(&[0.0, 1.0], 4);
        assert_eq!(up, vec![0.0, 0.25, 0.75, 1.0]);
    }

    /// With K phases, channel (shot s, phase p) row i is time row i·K + p of the gather
    /// resampled to K·h rows: here K·h = nt, so exactly the gather's own row.
    #[test]
    fn phases_split_time_rows_across_channels() {
        let l = Layout::new(2, 12, 4, 4, 4, 1).unwrap().with_phases(3).unwrap();
        assert_eq!((l.h, l.w, l.channels()), (4, 4, 6));
        let data: Vec<f32> = (0..l.data_len()).map(|i| i as f32).collect();
        let x = l.input(&data).unwrap();
        assert_eq!(x.len(), 6 * 16);
        for s in 0..2 {
            for p in 0..3 {
                for i in 0..4 {
                    for r in 0..4 {
                        let got = x[((s * 3 + p) * 4 + i) * 4 + r];
                        assert_eq!(got, data[(s * 12 + i * 3 + p) * 4 + r], "shot {s} phase {p} row {i} col {r}");
                    }
                }
            }
        }
        // One phase is the plain layout.
        let plain = Layout::new(2, 12, 4, 4, 4, 1).unwrap();
        assert_eq!(plain.with_phases(1).unwrap(), plain);
        assert_eq!(plain.input(&data).unwrap().len(), 2 * 16);
        // At most ⌈nt / h⌉ = 3 phases; none is refused.
        for bad in [0, 4] {
            let e = plain.with_phases(bad).unwrap_err().to_string();
            assert!(e.contains("allow 1 to 3"), "{bad}: {e}");
        }
        // Flipping moves each shot's phases together, in their order, and is its own inverse.
        let mut flipped = x.clone();
        l.flip_input(&mut flipped);
        for p in 0..3 {
            for i in 0..4 {
                for r in 0..4 {
                    assert_eq!(flipped[((3 + p) * 4 + i) * 4 + r], x[(p * 4 + i) * 4 + 3 - r]);
                }
            }
        }
        l.flip_input(&mut flipped);
        assert_eq!(flipped, x);
    }

    #[test]
    fn targets_pad_and_crop_round_trip() {
        let l = Layout::new(1, 10, 5, 5, 6, 3).unwrap();
        assert_eq!((l.h, l.w), (8, 8));
        let model: Vec<f32> = (0..30).map(|i| i as f32).collect();
        let t = l.target(&model).unwrap();
        assert_eq!(t[7 * 8 + 7], 29.0, "the last row and column repeat");
        assert_eq!(l.crop(&t).unwrap(), model);
    }
}
