//! Acquisition geometry and time axis: what `brine synth` and `brine forward` simulate.
//!
//! Read from a small JSON file or taken from a built-in preset (`openfwi`, `fcnvmb`).
//! Positions are grid indices `[z, x]` into the velocity model (row 0 is the surface), not
//! metres. Example (the `openfwi` preset, receivers abbreviated with the line form):
//!
//! ```json
//! {
//!   "nz": 70, "nx": 70, "dx": 10.0, "dt": 0.001, "nt": 1000, "f0": 15.0,
//!   "sources": {"z": 1, "x": [0, 17, 34, 52, 69]},
//!   "receivers": {"z": 1, "x_from": 0, "x_to": 69},
//!   "pml": 20, "decimate": 1
//! }
//! ```
//!
//! Optional fields and their defaults: `order` 4 (spatial accuracy: 2, 4, 6 or 8),
//! `pml` 20 cells, `pml_r` 1e-3 (design reflection coefficient), `decimate` 1,
//! `substep` false (refuse an unstable dt instead of sub-stepping), `free_surface` false,
//! `nz`/`nx` absent (any model shape; present, models of another shape are refused).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where sources or receivers sit: an explicit list of `[z, x]` pairs, a row with listed
/// columns, or a row with every column from `x_from` to `x_to` (inclusive, step `x_step`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Positions {
    List(Vec<[usize; 2]>),
    Row {
        z: usize,
        x: Vec<usize>,
    },
    Range {
        z: usize,
        x_from: usize,
        x_to: usize,
        #[serde(default = "one")]
        x_step: usize,
    },
}

fn one() -> usize {
    1
}
fn default_order() -> usize {
    4
}
fn default_pml() -> usize {
    20
}
fn default_pml_r() -> f64 {
    1e-3
}

/// More positions than any acquisition has (and a bound on what `points` allocates).
const MAX_POSITIONS: usize = 1 << 20;

impl Positions {
    /// Checks a range's step and ends and the number of positions, without listing them.
    fn check(&self, what: &str) -> Result<()> {
        let n = match self {
            Positions::List(v) => v.len(),
            Positions::Row { x, .. } => x.len(),
            Positions::Range { x_from, x_to, x_step, .. } => {
                if *x_step == 0 {
                    return Err(Error::config("acquisition", format!("{what}.x_step must be at least 1, got 0")));
                }
                if x_from > x_to {
                    return Err(Error::config("acquisition", format!("{what}.x_from {x_from} is past x_to {x_to}")));
                }
                (x_to - x_from) / x_step + 1
            }
        };
        if n == 0 {
            return Err(Error::config("acquisition", format!("no {what}")));
        }
        if n > MAX_POSITIONS {
            return Err(Error::config("acquisition", format!("{n} {what}: more than {MAX_POSITIONS}")));
        }
        Ok(())
    }

    /// The positions as `[z, x]` pairs.
    pub fn points(&self) -> Vec<[usize; 2]> {
        match self {
            Positions::List(v) => v.clone(),
            Positions::Row { z, x } => x.iter().map(|&x| [*z, x]).collect(),
            Positions::Range { z, x_from, x_to, x_step } => {
                (*x_from..=*x_to).step_by((*x_step).max(1)).map(|x| [*z, x]).collect()
            }
        }
    }
}

/// Grid, time axis, wavelet, sources, receivers and boundaries of a simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acquisition {
    /// Model rows (depth) this acquisition is laid out for; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nz: Option<usize>,
    /// Model columns; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nx: Option<usize>,
    /// Grid spacing in metres (the same in z and x).
    pub dx: f64,
    /// Time step in seconds.
    pub dt: f64,
    /// Time steps simulated; the traces hold `nt.div_ceil(decimate)` samples.
    pub nt: usize,
    /// Ricker peak frequency in Hz (the wavelet peaks at 1.5 / f0).
    pub f0: f64,
    pub sources: Positions,
    pub receivers: Positions,
    /// Absorbing layer width in cells on each side (not on top with a free surface).
    #[serde(default = "default_pml")]
    pub pml: usize,
    /// Design reflection coefficient of the absorbing layer.
    #[serde(default = "default_pml_r")]
    pub pml_r: f64,
    /// Keep every `decimate`-th time sample (sample m is the wavefield at m·decimate·dt).
    #[serde(default = "one")]
    pub decimate: usize,
    /// Spatial order of accuracy: 2, 4, 6 or 8.
    #[serde(default = "default_order")]
    pub order: usize,
    /// Sub-step an unstable dt instead of refusing it.
    #[serde(default)]
    pub substep: bool,
    /// Pressure-free surface at model row 0 (no absorbing layer on top).
    #[serde(default)]
    pub free_surface: bool,
}

/// The built-in presets' names.
pub const PRESETS: &[&str] = &["openfwi", "fcnvmb"];

/// Rounded, evenly spaced columns from 0 to `last` (numpy's `linspace(0, last, n).round()`,
/// which rounds halves to even: OpenFWI's middle source is column 34 of 0…69, not 35).
fn even(last: usize, n: usize) -> Vec<usize> {
    if n == 1 {
        return vec![last / 2];
    }
    (0..n).map(|i| (i as f64 * last as f64 / (n - 1) as f64).round_ties_even() as usize).collect()
}

impl Acquisition {
    /// A built-in preset: `openfwi` (OpenFWI's layout: 70×70 at 10 m, 5 sources and 70
    /// receivers one cell below the surface, 1000 samples at 1 ms, 15 Hz) or `fcnvmb`
    /// (201×301 at 10 m, 29 sources, 301 receivers, 2 s at 1 ms kept as 400 samples).
    pub fn preset(name: &str) -> Result<Acquisition> {
        let base = |nz: usize, nx: usize, nt: usize, shots: usize, decimate: usize| Acquisition {
            nz: Some(nz),
            nx: Some(nx),
            dx: 10.0,
            dt: 1e-3,
            nt,
            f0: 15.0,
            sources: Positions::Row { z: 1, x: even(nx - 1, shots) },
            receivers: Positions::Range { z: 1, x_from: 0, x_to: nx - 1, x_step: 1 },
            pml: default_pml(),
            pml_r: default_pml_r(),
            decimate,
            order: default_order(),
            substep: false,
            free_surface: false,
        };
        match name {
            "openfwi" => Ok(base(70, 70, 1000, 5, 1)),
            "fcnvmb" => Ok(base(201, 301, 2000, 29, 5)),
            other => {
                Err(Error::config("acquisition", format!("no preset `{other}` (presets: {})", PRESETS.join(", "))))
            }
        }
    }

    /// A preset by name, or else a JSON file at that path.
    pub fn preset_or_file(what: &str) -> Result<Acquisition> {
        if PRESETS.contains(&what) {
            return Self::preset(what);
        }
        let path = Path::new(what);
        if !path.is_file() {
            return Err(Error::file(
                path,
                format!("is neither a preset ({}) nor an acquisition JSON file", PRESETS.join(", ")),
            ));
        }
        Self::load(path)
    }

    /// Reads and checks a JSON acquisition file.
    pub fn load(path: &Path) -> Result<Acquisition> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e.to_string()))?;
        let acq: Acquisition = serde_json::from_str(&text).map_err(|e| {
            let hint = if e.to_string().contains("untagged enum Positions") {
                ": sources and receivers are [[z, x], …], {\"z\": Z, \"x\": [X, …]} or {\"z\": Z, \"x_from\": A, \
                 \"x_to\": B, \"x_step\": S}, with non-negative whole grid indices"
            } else {
                ""
            };
            Error::file(path, format!("not an acquisition file: {e}{hint}"))
        })?;
        acq.check().map_err(|e| Error::file(path, e.to_string()))?;
        Ok(acq)
    }

    /// Pretty JSON of this acquisition.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("acquisition serialises")
    }

    /// Output samples per trace.
    pub fn samples(&self) -> usize {
        self.nt.div_ceil(self.decimate.max(1))
    }

    /// Checks everything that does not depend on the velocities.
    pub fn check(&self) -> Result<()> {
        let bad = |d: String| Err(Error::config("acquisition", d));
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !pos(self.dx) {
            return bad(format!("dx must be a positive number of metres, got {}", self.dx));
        }
        if !pos(self.dt) {
            return bad(format!("dt must be a positive number of seconds, got {}", self.dt));
        }
        if !pos(self.f0) {
            return bad(format!("f0 must be a positive frequency in Hz, got {}", self.f0));
        }
        if self.nt == 0 {
            return bad("nt must be at least 1".into());
        }
        if self.decimate == 0 {
            return bad("decimate must be at least 1".into());
        }
        if ![2, 4, 6, 8].contains(&self.order) {
            return bad(format!("order must be 2, 4, 6 or 8, got {}", self.order));
        }
        if !(self.pml_r > 0.0 && self.pml_r < 1.0) {
            return bad(format!("pml_r must lie in (0, 1), got {}", self.pml_r));
        }
        if self.pml > 1000 {
            return bad(format!("pml width {} cells is implausibly large", self.pml));
        }
        self.sources.check("sources")?;
        self.receivers.check("receivers")?;
        if let (Some(nz), Some(nx)) = (self.nz, self.nx) {
            self.check_grid(nz, nx)?;
        }
        Ok(())
    }

    /// Whether a left-right flip of an nx-wide model is the same experiment with the shots
    /// and receivers in reverse order: position i mirrored (x → nx − 1 − x, same z) must be
    /// position n − 1 − i, for the sources and for the receivers. Then the gathers of the
    /// flipped model are the gathers with both orders reversed, exactly. Err names the
    /// first position that breaks it.
    pub fn check_mirror(&self, nx: usize) -> Result<()> {
        self.check_mirror_within(nx, 0)
    }

    /// [`Acquisition::check_mirror`] allowing each mirrored position to miss its partner's
    /// column by up to `cells` (OpenFWI's middle source, column 34 of 0…69, mirrors to 35).
    pub fn check_mirror_within(&self, nx: usize, cells: usize) -> Result<()> {
        for (what, p) in [("source", &self.sources), ("receiver", &self.receivers)] {
            let pts = p.points();
            for (i, &[z, x]) in pts.iter().enumerate() {
                let [mz, mx] = pts[pts.len() - 1 - i];
                if mz != z || (x + mx + 1).abs_diff(nx) > cells {
                    let within = if cells > 0 { format!(" within {cells} cell(s)") } else { String::new() };
                    return Err(Error::config(
                        "acquisition",
                        format!(
                            "is not mirror-symmetric{within} on {nx} columns: {what} {i} at [z {z}, x {x}] mirrors to \
                             [z {z}, x {}], but {what} {} is at [z {mz}, x {mx}]",
                            (nx - 1).saturating_sub(x),
                            pts.len() - 1 - i
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks that the model grid fits this acquisition and every position lies on it.
    pub fn check_grid(&self, nz: usize, nx: usize) -> Result<()> {
        if nz == 0 || nx == 0 {
            return Err(Error::config("acquisition", format!("empty model grid {nz}×{nx}")));
        }
        if self.nz.is_some_and(|n| n != nz) || self.nx.is_some_and(|n| n != nx) {
            return Err(Error::config(
                "acquisition",
                format!(
                    "laid out for {}×{} models, got {nz}×{nx}",
                    self.nz.map_or("any".into(), |n| n.to_string()),
                    self.nx.map_or("any".into(), |n| n.to_string())
                ),
            ));
        }
        for (what, p) in [("source", &self.sources), ("receiver", &self.receivers)] {
            for (i, [z, x]) in p.points().into_iter().enumerate() {
                if z >= nz || x >= nx {
                    return Err(Error::config(
                        "acquisition",
                        format!("{what} {i} at [z {z}, x {x}] lies outside the {nz}×{nx} model grid"),
                    ));
                }
            }
        }
        Ok(())
    }
}
