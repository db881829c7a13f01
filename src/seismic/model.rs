//! Random salt velocity models: a layered sedimentary background whose velocity rises with
//! depth (about 1500–4000 m/s), gently undulating and occasionally faulted interfaces
//! dragged up beside diapirs, and one to three salt bodies (4450–4500 m/s) of varied shape:
//! diapirs rising from the bottom (straight, leaning, mushroom-capped with overhangs),
//! flat and tilted sills, and detached canopies with rugged tops.
//!
//! Two geologies share that family. `Classic` is the first generator, kept so that sets
//! made with it can be made again bit for bit. `Wide` (the default) widens it towards what
//! real salt sections show and `Classic` never draws: salt bodies cut by the model's sides,
//! shallower and thinner diapirs with steeper flanks, welds (a diapir's stem pinched shut),
//! a basal (autochthonous) salt layer along the bottom, rougher salt tops, up to four
//! bodies, a wider range of sediment velocities, and low-velocity layers, so that velocity
//! is not monotonic in depth.
//!
//! Shapes are drawn in unit coordinates (depth w, lateral u in [0, 1]) and rasterised on
//! any nz × nx grid, so every preset gets the same family of geologies. Sample `k` of a set
//! with seed `S` depends only on (S, k): any split of a set into shards gives the same models.

use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Which family of salt sections a generator draws (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Geology {
    /// The first generator: salt inside the section, sediments faster with depth.
    Classic,
    /// Classic's shapes and more: salt at the sides, welds, basal salt, velocity inversions.
    #[default]
    Wide,
}

impl std::fmt::Display for Geology {
    /// As the CLI and `dataset.json` spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Geology::Classic => "classic",
            Geology::Wide => "wide",
        })
    }
}

/// The seed of sample `k` of a set seeded `seed`.
pub fn sample_seed(seed: u64, k: u64) -> u64 {
    let mut a = Rng::new(seed);
    let mut b = Rng::new(k.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x5A17);
    a.next_u64() ^ b.next_u64().rotate_left(17)
}

fn range(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

fn within(rng: &mut Rng, (lo, hi): (f64, f64)) -> f64 {
    range(rng, lo, hi)
}

/// A smooth random 1-D function: a few sinusoids with wavenumbers (cycles per unit) in
/// [kmin, kmax], amplitudes falling with wavenumber, total amplitude about `amp`.
#[derive(Clone, Debug)]
struct Wiggle(Vec<(f64, f64, f64)>);

impl Wiggle {
    /// `amp` drawn uniformly from [amp.0, amp.1].
    fn new(rng: &mut Rng, amp: (f64, f64), kmin: f64, kmax: f64, terms: usize) -> Self {
        let amp = range(rng, amp.0, amp.1);
        let mut t = Vec::with_capacity(terms);
        for _ in 0..terms {
            let k = range(rng, kmin, kmax);
            let a = amp * range(rng, 0.3, 1.0) * (kmin / k).sqrt() / (terms as f64).sqrt();
            t.push((a, k, range(rng, 0.0, 2.0 * PI)));
        }
        Wiggle(t)
    }
    fn at(&self, u: f64) -> f64 {
        self.0.iter().map(|(a, k, ph)| a * (2.0 * PI * k * u + ph).sin()).sum()
    }
}

/// A fault: a dipping line u = u0 + (w − 0.5)·slope; cells on its right side are moved
/// down by `throw` (in depth units).
#[derive(Clone, Debug)]
struct Fault {
    u0: f64,
    slope: f64,
    throw: f64,
}

#[derive(Clone, Debug)]
enum Body {
    /// Rises from below the model to `top`; half-width `stem` below a cap of half-width
    /// `cap` and height `cap_h`; the centre leans by `lean` over the full depth.
    /// `weld`: (depth, half-thickness) of a band where the stem pinches shut.
    Diapir {
        u0: f64,
        top: f64,
        stem: f64,
        cap: f64,
        cap_h: f64,
        lean: f64,
        meander: Wiggle,
        edge: Wiggle,
        rug: Wiggle,
        weld: Option<(f64, f64)>,
    },
    /// A lens between a rugged top and a smoother base around a tilted centre line.
    Sill { u0: f64, w0: f64, half_len: f64, thick: f64, tilt: f64, top_rug: Wiggle, base_rug: Wiggle, bend: Wiggle },
    /// A detached canopy: a union of tilted ellipses with a rugged outline, optionally fed
    /// by a thin stem from below.
    Canopy { parts: Vec<(f64, f64, f64, f64, f64)>, rug: Wiggle, feeder: Option<(f64, f64)> },
}

impl Body {
    /// Whether unit point (w, u) lies in the body; `aspect` = nx / nz of the grid (for round shapes).
    fn contains(&self, w: f64, u: f64, aspect: f64) -> bool {
        match self {
            Body::Diapir { u0, top, stem, cap, cap_h, lean, meander, edge, rug, weld } => {
                let c = u0 + lean * (1.0 - w) + meander.at(w);
                let t = top + rug.at(u) + 0.6 * cap_h * ((u - c) / cap.max(1e-3)).powi(2).min(1.5);
                if w < t {
                    return false;
                }
                // Cap profile: full cap width just below the top, narrowing to the stem.
                let below = (w - top) / cap_h.max(1e-3);
                let shape = (-(below * below)).exp();
                let mut half = stem + (cap - stem) * shape;
                if let Some((wc, th)) = weld {
                    half *= ((w - wc).abs() / th).min(1.0);
                }
                (u - c).abs() <= half * (1.0 + edge.at(w))
            }
            Body::Sill { u0, w0, half_len, thick, tilt, top_rug, base_rug, bend } => {
                let s = (u - u0) / half_len;
                if s.abs() >= 1.0 {
                    return false;
                }
                let centre = w0 + tilt * (u - u0) + bend.at(u);
                let h = thick * (1.0 - s * s).sqrt();
                let top = centre - 0.55 * h + top_rug.at(u) * (1.0 - s * s);
                let base = centre + 0.45 * h + base_rug.at(u) * (1.0 - s * s);
                w >= top && w <= base
            }
            Body::Canopy { parts, rug, feeder } => {
                let ang = (w - 0.5).atan2((u - 0.5) * aspect);
                for &(cw, cu, a, b, rot) in parts {
                    let (dz, du) = (w - cw, (u - cu) * aspect);
                    let (cr, sr) = (rot.cos(), rot.sin());
                    let (p, q) = (du * cr + dz * sr, -du * sr + dz * cr);
                    let r = (p / a).powi(2) + (q / b).powi(2);
                    if r <= (1.0 + rug.at(ang / (2.0 * PI) + 0.5 + u)).powi(2) {
                        return true;
                    }
                }
                if let Some((fu, fw)) = feeder {
                    return w >= parts[0].0 && (u - fu - 0.03 * (w * 7.0).sin()).abs() <= *fw;
                }
                false
            }
        }
    }

    /// (lateral centre, half-width, top depth) of the sediment drag a diapir causes.
    fn drag(&self) -> Option<(f64, f64, f64)> {
        match self {
            Body::Diapir { u0, top, cap, lean, .. } => Some((u0 + lean * (1.0 - top), *cap, *top)),
            _ => None,
        }
    }
}

/// The fastest sediment (m/s), below any salt's 4450–4500 and the 4400 salt threshold.
pub const SEDIMENT_MAX: f64 = 4350.0;

/// One random salt section.
#[derive(Clone, Debug)]
pub struct SaltModel {
    interfaces: Vec<(f64, f64, Wiggle)>,
    fold: Wiggle,
    dip: f64,
    layer_v: Vec<f64>,
    gradient: f64,
    faults: Vec<Fault>,
    bodies: Vec<(Body, f64)>,
}

impl SaltModel {
    /// Draws a model of `geology` from `seed` (use [`sample_seed`] for sample k of a set).
    /// `Wide` draws its extras after `Classic`'s draws, so `Classic` keeps its sequence.
    pub fn random(seed: u64, geology: Geology) -> SaltModel {
        let wide = geology == Geology::Wide;
        // Classic's bounds, or Wide's wider ones: the same draw either way.
        let pick = |classic: (f64, f64), wider: (f64, f64)| if wide { wider } else { classic };
        let mut rng = Rng::new(seed);
        let rng = &mut rng;
        // Layers: depths of the interfaces between them, sorted, not too close.
        let layers = 5 + (rng.uniform() * 8.0) as usize;
        let mut depths: Vec<f64> = vec![];
        while depths.len() + 1 < layers {
            let d = range(rng, 0.06, 0.97);
            if depths.iter().all(|e| (e - d).abs() > 0.04) {
                depths.push(d);
            }
        }
        depths.sort_by(f64::total_cmp);
        let interfaces: Vec<_> =
            depths.iter().map(|&d| (d, range(rng, 0.4, 1.2), Wiggle::new(rng, (0.012, 0.012), 1.0, 4.0, 3))).collect();
        let fold = Wiggle::new(rng, (0.0, 0.07), 0.4, 1.6, 3);
        let dip = range(rng, -0.12, 0.12) * if rng.uniform() < 0.4 { 0.0 } else { 1.0 };
        // Velocities: rising with depth from 1500–2000 to 3000–4000 m/s (Wide: to
        // 2600–4300), with small jitter.
        let v_top = range(rng, 1500.0, 2000.0);
        let v_bot = within(rng, pick((3000.0, 4000.0), (2600.0, 4300.0)));
        let v_max = if wide { 4300.0 } else { 4000.0 };
        let gamma = range(rng, 0.7, 1.4);
        let mut layer_v = vec![];
        for i in 0..layers {
            let f = i as f64 / (layers - 1) as f64;
            let jitter = if i == 0 { 0.0 } else { range(rng, -120.0, 120.0) };
            let v: f64 = (v_top + (v_bot - v_top) * f.powf(gamma) + jitter).clamp(1500.0, v_max);
            layer_v.push(v);
        }
        let gradient = range(rng, 0.0, 250.0);
        // Faults: none in half of the models, else one or two.
        let mut faults = vec![];
        if rng.uniform() < 0.5 {
            for _ in 0..1 + (rng.uniform() < 0.35) as usize {
                let slope = range(rng, 0.15, 0.5) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                faults.push(Fault { u0: range(rng, 0.15, 0.85), slope, throw: range(rng, 0.015, 0.06) });
            }
        }
        // Salt: one to three bodies (Wide: to four).
        let count = 1 + (rng.uniform() < 0.45) as usize + (rng.uniform() < 0.15) as usize;
        let mut bodies = vec![];
        for _ in 0..count {
            let pick_body = rng.uniform();
            let body = if pick_body < 0.45 {
                let stem = within(rng, pick((0.04, 0.13), (0.02, 0.14)));
                let cap = stem + if rng.uniform() < 0.6 { range(rng, 0.04, 0.2) } else { range(rng, 0.0, 0.03) };
                Body::Diapir {
                    u0: within(rng, pick((0.15, 0.85), (-0.05, 1.05))),
                    top: within(rng, pick((0.2, 0.6), (0.08, 0.65))),
                    stem,
                    cap,
                    cap_h: range(rng, 0.06, 0.2),
                    lean: range(rng, -0.2, 0.2),
                    meander: Wiggle::new(rng, (0.03, 0.03), 0.5, 2.0, 2),
                    edge: Wiggle::new(rng, (0.12, 0.12), 2.0, 8.0, 4),
                    rug: Wiggle::new(rng, pick((0.01, 0.045), (0.01, 0.07)), 4.0, 20.0, 6),
                    weld: None,
                }
            } else if pick_body < 0.8 {
                let flat = rng.uniform() < 0.4;
                Body::Sill {
                    u0: within(rng, pick((0.2, 0.8), (0.0, 1.0))),
                    w0: range(rng, 0.3, 0.8),
                    half_len: within(rng, pick((0.15, 0.5), (0.1, 0.7))),
                    thick: range(rng, 0.06, 0.18),
                    tilt: if flat { range(rng, -0.03, 0.03) } else { range(rng, -0.45, 0.45) },
                    top_rug: Wiggle::new(rng, pick((0.006, 0.03), (0.006, 0.06)), 4.0, 20.0, 6),
                    base_rug: Wiggle::new(rng, (0.006, 0.006), 1.0, 5.0, 3),
                    bend: Wiggle::new(rng, (0.02, 0.02), 0.5, 2.0, 2),
                }
            } else {
                let (cw, cu) = (range(rng, 0.3, 0.65), within(rng, pick((0.25, 0.75), (0.1, 0.9))));
                let mut parts = vec![];
                for i in 0..2 + (rng.uniform() * 3.0) as usize {
                    let spread = if i == 0 { 0.0 } else { 1.0 };
                    parts.push((
                        cw + spread * range(rng, -0.08, 0.08),
                        cu + spread * range(rng, -0.2, 0.2),
                        range(rng, 0.12, 0.3),
                        range(rng, 0.04, 0.1),
                        range(rng, -0.3, 0.3),
                    ));
                }
                let feeder = (rng.uniform() < 0.5).then(|| (cu + range(rng, -0.1, 0.1), range(rng, 0.02, 0.05)));
                Body::Canopy { parts, rug: Wiggle::new(rng, (0.12, 0.12), 2.0, 9.0, 5), feeder }
            };
            bodies.push((body, range(rng, 4450.0, 4500.0)));
        }
        if wide {
            widen(rng, &mut layer_v, &mut bodies);
        }
        SaltModel { interfaces, fold, dip, layer_v, gradient, faults, bodies }
    }

    /// Background velocity at unit point (w, u), before salt.
    fn background(&self, w: f64, u: f64) -> f64 {
        // Undo fault throws: a point right of a fault came from `throw` higher up.
        let mut w = w;
        for f in &self.faults {
            if u > f.u0 + (w - 0.5) * f.slope {
                w -= f.throw;
            }
        }
        // Drag: sediments bend upwards beside diapirs.
        let mut lift = 0.0;
        for (b, _) in &self.bodies {
            if let Some((c, half, top)) = b.drag() {
                let d = ((u - c).abs() - half).max(0.0) / (1.5 * half + 0.05);
                lift += 0.08 * (-(d * d)).exp() * ((w - top) / 0.3).clamp(0.0, 1.0);
            }
        }
        let shift = self.fold.at(u) + self.dip * (u - 0.5);
        let mut layer = 0;
        let mut base = 0.0;
        for (i, (d, s, wig)) in self.interfaces.iter().enumerate() {
            let z = d + s * shift + wig.at(u) - lift;
            if w >= z {
                layer = i + 1;
                base = z;
            }
        }
        // Below salt velocity (Classic never reaches the cap, so it is unchanged by it).
        (self.layer_v[layer] + self.gradient * (w - base).max(0.0)).min(SEDIMENT_MAX)
    }

    /// The model on an nz × nx grid in m/s, row-major (row 0 = surface).
    pub fn render(&self, nz: usize, nx: usize) -> Vec<f32> {
        let aspect = nx as f64 / nz as f64;
        let mut out = Vec::with_capacity(nz * nx);
        for z in 0..nz {
            let w = (z as f64 + 0.5) / nz as f64;
            for x in 0..nx {
                let u = (x as f64 + 0.5) / nx as f64;
                let mut v = self.background(w, u);
                for (b, vs) in &self.bodies {
                    if b.contains(w, u, aspect) {
                        v = *vs;
                    }
                }
                out.push(v as f32);
            }
        }
        out
    }
}

/// Wide's extras, drawn after everything Classic draws: low-velocity layers, welds in
/// some diapirs, a fourth body, and a basal salt layer.
fn widen(rng: &mut Rng, layer_v: &mut [f64], bodies: &mut Vec<(Body, f64)>) {
    // One or two sediment layers (never the first) slower than the one above them.
    if rng.uniform() < 0.4 {
        for _ in 0..1 + (rng.uniform() < 0.4) as usize {
            let i = 1 + (rng.uniform() * (layer_v.len() - 1) as f64) as usize;
            layer_v[i] = (layer_v[i - 1] - range(rng, 200.0, 800.0)).max(1500.0);
        }
    }
    for (body, _) in bodies.iter_mut() {
        if let Body::Diapir { top, cap_h, weld, .. } = body
            && rng.uniform() < 0.3
        {
            let from = *top + *cap_h + 0.05;
            if from < 0.95 {
                *weld = Some((range(rng, from, 0.97), range(rng, 0.03, 0.1)));
            }
        }
    }
    let basal = rng.uniform() < 0.15;
    let fourth = rng.uniform() < 0.1;
    if basal || fourth {
        // A layer along the bottom reaching both sides; or a small extra sill.
        let (w0, half_len, thick) = if basal {
            (range(rng, 0.86, 0.97), range(rng, 0.8, 1.2), range(rng, 0.05, 0.14))
        } else {
            (range(rng, 0.3, 0.8), range(rng, 0.1, 0.3), range(rng, 0.05, 0.12))
        };
        let sill = Body::Sill {
            u0: if basal { range(rng, 0.4, 0.6) } else { range(rng, 0.0, 1.0) },
            w0,
            half_len,
            thick,
            tilt: range(rng, -0.05, 0.05),
            top_rug: Wiggle::new(rng, (0.006, 0.04), 4.0, 20.0, 6),
            base_rug: Wiggle::new(rng, (0.006, 0.006), 1.0, 5.0, 3),
            bend: Wiggle::new(rng, (0.01, 0.03), 0.5, 2.0, 2),
        };
        bodies.push((sill, range(rng, 4450.0, 4500.0)));
    }
}

/// Sample `k` of the set seeded `seed`, of `geology`, on an nz × nx grid (m/s).
pub fn sample(geology: Geology, seed: u64, k: u64, nz: usize, nx: usize) -> Vec<f32> {
    SaltModel::random(sample_seed(seed, k), geology).render(nz, nx)
}
