//! Attention you can see: the maps an inference keeps (`Runner::inference_with_maps`) as
//! `.npy` files and figures, and a number for "focus on salt" — per level and kind, the
//! mean attention inside the salt (velocity ≥ a threshold) over the mean outside it, and
//! the share of the attention's mass inside against the salt's share of the area.
//!
//! Spatial maps are the attention gates' coefficients, CBAM's spatial map, and coordinate
//! attention's a_h·a_w averaged over channels; each is resampled (bilinearly) from its level
//! to the network's grid and cropped to the model's. SE's and CBAM's channel weights have no
//! place in the image: they are saved and drawn as strips, not scored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::npy;
use crate::error::Result;
use crate::nn::MapKind;
use crate::nn::programs::KeptMap;
use crate::train::layout::Layout;

/// The default salt threshold (m/s): salt is about 4500 m/s, sediments below it.
pub const SALT_MS: f32 = 4400.0;

/// One sample's spatial attention on the model grid (nz × nx).
pub struct SpatialMap {
    /// "gate.0", "down.1.cbam_spatial", "down.1.ca".
    pub name: String,
    pub kind: &'static str,
    pub level: usize,
    pub values: Vec<f32>,
}

/// Bilinear resampling (PyTorch's align_corners=False) of an `hl × wl` grid to the
/// network's `h × w`, cropped to the model's `nz × nx`.
pub fn to_model_grid(src: &[f32], hl: usize, wl: usize, l: &Layout) -> Vec<f32> {
    let coord = |o: usize, n_out: usize, n_in: usize| -> (usize, usize, f32) {
        let x = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0);
        let i0 = (x.floor() as usize).min(n_in - 1);
        (i0, (i0 + 1).min(n_in - 1), x - i0 as f32)
    };
    let mut out = Vec::with_capacity(l.nz * l.nx);
    for r in 0..l.nz {
        let (r0, r1, fr) = coord(r, l.h, hl);
        for c in 0..l.nx {
            let (c0, c1, fc) = coord(c, l.w, wl);
            let top = src[r0 * wl + c0] * (1.0 - fc) + src[r0 * wl + c1] * fc;
            let bottom = src[r1 * wl + c0] * (1.0 - fc) + src[r1 * wl + c1] * fc;
            out.push(top * (1.0 - fr) + bottom * fr);
        }
    }
    out
}

/// Sample `i`'s slice of kept map `m` (maps are stacked over samples).
fn slice<'a>(m: &KeptMap, all: &'a [f32], i: usize) -> &'a [f32] {
    let per: usize = m.shape[1..].iter().product();
    &all[i * per..][..per]
}

/// Sample `i`'s spatial maps on the model grid, in network order.
pub fn spatial(kept: &[KeptMap], maps: &[Vec<f32>], i: usize, l: &Layout) -> Vec<SpatialMap> {
    let mut out = vec![];
    for (j, m) in kept.iter().enumerate() {
        let (c, hl, wl) = (m.shape[1], m.shape[2], m.shape[3]);
        let values = match m.tap.kind {
            MapKind::Gate | MapKind::CbamSpatial => to_model_grid(slice(m, &maps[j], i), hl, wl, l),
            // a_h (C, H, 1) meets the a_w (C, 1, W) recorded right after it.
            MapKind::CaH => {
                let Some((k, w)) = kept.iter().enumerate().skip(j + 1).find(|(_, w)| w.tap.kind == MapKind::CaW) else {
                    continue;
                };
                let (a_h, a_w, wl) = (slice(m, &maps[j], i), slice(w, &maps[k], i), w.shape[3]);
                let mut prod = vec![0.0f32; hl * wl];
                for ch in 0..c {
                    for y in 0..hl {
                        for x in 0..wl {
                            prod[y * wl + x] += a_h[ch * hl + y] * a_w[ch * wl + x] / c as f32;
                        }
                    }
                }
                to_model_grid(&prod, hl, wl, l)
            }
            _ => continue,
        };
        let (name, kind) = match m.tap.kind {
            MapKind::Gate => (m.tap.name.clone(), "gate"),
            MapKind::CbamSpatial => (m.tap.name.clone(), "cbam_spatial"),
            _ => (m.tap.name.trim_end_matches("_h").to_string(), "ca"),
        };
        out.push(SpatialMap { name, kind, level: m.tap.level, values });
    }
    out
}

/// Sample `i`'s channel weights (SE, CBAM channel), labelled, in network order.
pub fn channel_strips(kept: &[KeptMap], maps: &[Vec<f32>], i: usize) -> Vec<(String, Vec<f32>)> {
    kept.iter()
        .zip(maps)
        .filter(|(m, _)| matches!(m.tap.kind, MapKind::Se | MapKind::CbamChannel))
        .map(|(m, all)| {
            (format!("{} (level {}, {} channels)", m.tap.name, m.tap.level, m.shape[1]), slice(m, all, i).to_vec())
        })
        .collect()
}

/// How much a map looks at the salt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Focus {
    /// Mean attention inside the salt over the mean outside.
    pub ratio: f64,
    /// Share of the attention's mass inside the salt.
    pub mass_in: f64,
    /// Share of the cells that are salt.
    pub area: f64,
}

/// The focus of `values` on `salt`; None where it is undefined (no salt, only salt, or no
/// attention outside).
pub fn focus(values: &[f32], salt: &[bool]) -> Option<Focus> {
    let (mut si, mut so, mut ni) = (0.0f64, 0.0f64, 0usize);
    for (&v, &s) in values.iter().zip(salt) {
        if s {
            si += v as f64;
            ni += 1;
        } else {
            so += v as f64;
        }
    }
    let no = values.len() - ni;
    if ni == 0 || no == 0 || so <= 0.0 {
        return None;
    }
    Some(Focus {
        ratio: (si / ni as f64) / (so / no as f64),
        mass_in: si / (si + so),
        area: ni as f64 / values.len() as f64,
    })
}

/// The focus of one map, averaged over the samples where it is defined.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FocusRow {
    pub name: String,
    pub kind: String,
    pub level: usize,
    pub ratio: f64,
    pub mass_in: f64,
    pub area: f64,
    pub samples: usize,
}

/// Every spatial map's focus over a set, and notes on what was left out.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FocusTable {
    pub salt_ms: f32,
    pub rows: Vec<FocusRow>,
    pub notes: Vec<String>,
}

impl FocusTable {
    /// The mean ratio over every map (None without any).
    pub fn mean_ratio(&self) -> Option<f64> {
        (!self.rows.is_empty()).then(|| self.rows.iter().map(|r| r.ratio).sum::<f64>() / self.rows.len() as f64)
    }

    /// One line per map, and the notes.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "  {:<24} level {}  inside/outside {:>5.2}  mass inside {:>5.1} % of {:>5.1} % area  ({} samples)",
                    r.name,
                    r.level,
                    r.ratio,
                    100.0 * r.mass_in,
                    100.0 * r.area,
                    r.samples
                )
            })
            .collect();
        out.extend(self.notes.iter().map(|n| format!("  note: {n}")));
        out
    }
}

/// The focus of every spatial map over `n` samples with known velocity models `truth_ms`
/// (n × nz × nx), salt being velocity ≥ `salt_ms`; `vrange` is the data's velocity range.
pub fn focus_table(
    kept: &[KeptMap],
    maps: &[Vec<f32>],
    l: &Layout,
    truth_ms: &[f32],
    salt_ms: f32,
    vrange: (f64, f64),
) -> FocusTable {
    let mut t = FocusTable { salt_ms, ..Default::default() };
    if kept.is_empty() {
        t.notes.push("the network has no attention (none, no gates): there is nothing to score".into());
        return t;
    }
    if !(salt_ms as f64 > vrange.0 && (salt_ms as f64) <= vrange.1) {
        t.notes.push(format!(
            "the salt threshold {salt_ms} m/s lies outside the data's velocity range [{:.0}, {:.0}] m/s: the focus is \
             undefined",
            vrange.0, vrange.1
        ));
        return t;
    }
    let m = l.model_len();
    let n = truth_ms.len() / m.max(1);
    let mut sums: Vec<(String, &'static str, usize, Focus, usize)> = vec![];
    let mut undefined = 0;
    for i in 0..n {
        let salt: Vec<bool> = truth_ms[i * m..][..m].iter().map(|&v| v >= salt_ms).collect();
        let maps_i = spatial(kept, maps, i, l);
        let mut any = false;
        for s in maps_i {
            let Some(f) = focus(&s.values, &salt) else { continue };
            any = true;
            match sums.iter_mut().find(|r| r.0 == s.name) {
                Some(r) => {
                    r.3 =
                        Focus { ratio: r.3.ratio + f.ratio, mass_in: r.3.mass_in + f.mass_in, area: r.3.area + f.area };
                    r.4 += 1;
                }
                None => sums.push((s.name, s.kind, s.level, f, 1)),
            }
        }
        undefined += usize::from(!any);
    }
    if sums.is_empty() && n > 0 && kept.iter().all(|k| !k.tap.kind.spatial() && k.tap.kind != MapKind::CaH) {
        t.notes.push("the network's attention is channel weights only (SE, or CBAM without spatial maps)".into());
    }
    if undefined > 0 {
        t.notes.push(format!(
            "{undefined} of {n} samples have no salt (or only salt) at ≥ {salt_ms} m/s: the focus is undefined there \
             and they are left out"
        ));
    }
    t.rows = sums
        .into_iter()
        .map(|(name, kind, level, f, k)| {
            let k1 = k as f64;
            FocusRow {
                name,
                kind: kind.into(),
                level,
                ratio: f.ratio / k1,
                mass_in: f.mass_in / k1,
                area: f.area / k1,
                samples: k,
            }
        })
        .collect();
    t
}

/// Writes every kept map, stacked over the `n` samples, as `dir/<name>.npy` (N, C, H, W).
pub fn write_maps(dir: &Path, kept: &[KeptMap], maps: &[Vec<f32>], n: usize) -> Result<Vec<PathBuf>> {
    if kept.is_empty() {
        // Nothing to write: no empty directory either.
        return Ok(vec![]);
    }
    crate::app::ensure_dir(dir)?;
    kept.iter()
        .zip(maps)
        .map(|(m, all)| {
            let path = dir.join(format!("{}.npy", m.tap.name));
            let mut shape = m.shape.clone();
            shape[0] = n;
            npy::write_atomic(&path, &shape, all)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_of_a_hand_made_map() {
        // Four cells, one of them salt: attention 1 there, 0.5 elsewhere.
        let f = focus(&[1.0, 0.5, 0.5, 0.5], &[true, false, false, false]).unwrap();
        assert!((f.ratio - 2.0).abs() < 1e-12);
        assert!((f.mass_in - 1.0 / 2.5).abs() < 1e-12);
        assert!((f.area - 0.25).abs() < 1e-12);
        // Uniform attention: no focus.
        assert!((focus(&[0.3; 4], &[true, true, false, false]).unwrap().ratio - 1.0).abs() < 1e-12);
        // No salt, only salt, or nothing outside: undefined.
        assert_eq!(focus(&[0.5; 4], &[false; 4]), None);
        assert_eq!(focus(&[0.5; 4], &[true; 4]), None);
        assert_eq!(focus(&[1.0, 0.0], &[true, false]), None);
    }

    #[test]
    fn bilinear_resampling_keeps_constants_and_crops() {
        let l = Layout::new(1, 4, 4, 6, 5, 2).unwrap(); // network grid 6 × 6, model 6 × 5
        assert_eq!(to_model_grid(&[0.25; 9], 3, 3, &l), vec![0.25; 30]);
        // A ramp along x stays monotone and inside its range.
        let v = to_model_grid(&[0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0], 3, 3, &l);
        assert!(v[..5].windows(2).all(|w| w[0] <= w[1]) && v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}
