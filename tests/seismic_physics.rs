//! Physics of the propagator on the CPU twin (the GPU kernel equals it: parity_wave.rs):
//! the analytic 2-D Green's function, reciprocity, absorbing-boundary reflections, and
//! the stability (CFL) check.

use brine::seismic::{Acquisition, Plan, Positions, stencil};

fn acq(dx: f64, dt: f64, nt: usize, src: [usize; 2], rec: Vec<[usize; 2]>) -> Acquisition {
    Acquisition {
        nz: None,
        nx: None,
        dx,
        dt,
        nt,
        f0: 15.0,
        sources: Positions::List(vec![src]),
        receivers: Positions::List(rec),
        pml: 20,
        pml_r: 1e-3,
        decimate: 1,
        order: 4,
        substep: false,
        free_surface: false,
    }
}

/// dx² · (G ∗ w)(t) for the line-source Green's function G = H(t − T)/(2π sqrt(t² − T²)),
/// T = r/c, by the substitution τ = T cosh θ that removes the singularity at τ = T:
/// ∫ G(τ) w(t − τ) dτ = (1/2π) ∫_0^{acosh(t/T)} w(t − T cosh θ) dθ.
fn analytic(r: f64, c: f64, dx: f64, f0: f64, t: f64) -> f64 {
    let tt = r / c;
    if t <= tt {
        return 0.0;
    }
    let top = (t / tt).acosh();
    let n = 4000;
    let h = top / n as f64;
    let mut sum = 0.0;
    for i in 0..=n {
        let th = i as f64 * h;
        let arg = t - tt * th.cosh();
        let wv = if arg < 0.0 { 0.0 } else { stencil::ricker(arg, f0) };
        sum += if i == 0 || i == n { 0.5 * wv } else { wv };
    }
    dx * dx * sum * h / (2.0 * std::f64::consts::PI)
}

/// Normalised cross-correlation at zero lag and the lag (in samples) of its maximum.
fn ncc(a: &[f64], b: &[f64]) -> (f64, isize) {
    let norm = (a.iter().map(|x| x * x).sum::<f64>() * b.iter().map(|x| x * x).sum::<f64>()).sqrt();
    let at = |lag: isize| -> f64 {
        (0..a.len() as isize)
            .filter_map(|i| {
                let j = i + lag;
                (j >= 0 && (j as usize) < b.len()).then(|| a[i as usize] * b[j as usize])
            })
            .sum::<f64>()
            / norm
    };
    let best = (-20..=20).max_by(|&x, &y| at(x).total_cmp(&at(y))).unwrap();
    (at(0), best)
}

#[test]
fn homogeneous_medium_matches_the_analytic_greens_function() {
    let (c, dx, dt, nt) = (2000.0, 5.0, 5e-4, 800);
    let (nz, nx) = (120, 120);
    // Receivers 80 cells (400 m, three wavelengths at 15 Hz) away: along x and on a diagonal.
    let src = [60, 20];
    let recs = vec![[60, 100], [116, 76]];
    let a = acq(dx, dt, nt, src, recs.clone());
    let model = vec![c as f32; nz * nx];
    let plan = Plan::new(&a, nz, nx, c, c).unwrap();
    let tr = plan.run_cpu(&model, 1).unwrap();
    for (k, rec) in recs.iter().enumerate() {
        let r = dx * (((rec[0] as f64 - 60.0).powi(2) + (rec[1] as f64 - 20.0).powi(2)).sqrt());
        let got: Vec<f64> = (0..nt).map(|t| tr[t * recs.len() + k] as f64).collect();
        let want: Vec<f64> = (0..nt).map(|t| analytic(r, c, dx, 15.0, t as f64 * dt)).collect();
        let (corr, lag) = ncc(&want, &got);
        let peak = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let ratio = peak(&got) / peak(&want);
        eprintln!("receiver {k} at {r} m: correlation {corr:.7}, best lag {lag} samples, peak ratio {ratio:.4}");
        assert!(corr > 0.99, "receiver {k}: correlation {corr}");
        assert!(lag.abs() <= 2, "receiver {k}: arrival off by {lag} samples");
        assert!((ratio - 1.0).abs() < 0.03, "receiver {k}: amplitude ratio {ratio}");
    }
}

/// A layered model with a high-velocity block: heterogeneous enough to scatter.
fn heterogeneous(nz: usize, nx: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; nz * nx];
    for z in 0..nz {
        for x in 0..nx {
            let bend = 3.0 * ((x as f64) * 0.15).sin();
            let mut v = 1800.0 + 25.0 * (z as f64 + bend);
            if (z as isize - 30).abs() < 6 && (x as isize - 25).abs() < 9 {
                v = 4450.0;
            }
            m[z * nx + x] = v as f32;
        }
    }
    m
}

#[test]
fn swapping_source_and_receiver_gives_the_same_trace() {
    let (nz, nx, nt) = (50, 60, 500);
    let (a, b) = ([8, 10], [44, 47]);
    let mut ac = acq(10.0, 1e-3, nt, a, vec![a, b]);
    ac.sources = Positions::List(vec![a, b]);
    let model = heterogeneous(nz, nx);
    let plan = Plan::new(&ac, nz, nx, 1800.0, 4450.0).unwrap();
    let tr = plan.run_cpu(&model, 1).unwrap();
    // traces [shot][t][receiver]: shot 0 (at a) heard at b, shot 1 (at b) heard at a.
    let ab: Vec<f32> = (0..nt).map(|t| tr[t * 2 + 1]).collect();
    let ba: Vec<f32> = (0..nt).map(|t| tr[nt * 2 + t * 2]).collect();
    let num: f64 = ab.iter().zip(&ba).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    let den: f64 = ab.iter().map(|x| (*x as f64).powi(2)).sum();
    let err = (num / den).sqrt();
    eprintln!("reciprocity: relative L2 difference {err:.2e}");
    assert!(den > 0.0);
    assert!(err < 1e-3, "reciprocity error {err}");
}

#[test]
fn absorbing_layers_reflect_below_their_design_level() {
    // A 60×60 homogeneous model with receivers on every edge cell, against the same cells of
    // a model 160 cells wider on every side (whose own boundaries are too far to be heard in
    // 0.6 s): the difference is what the absorbing layers reflect.
    let (n, e, nt, c) = (60usize, 160usize, 600, 2000.0f32);
    let ring: Vec<[usize; 2]> =
        (0..n).flat_map(|i| [[0, i], [n - 1, i], [i, 0], [i, n - 1]]).chain((0..n).map(|i| [i, i])).collect();
    let src = [12, 30];
    let small = acq(10.0, 1e-3, nt, src, ring.clone());
    let shift = |p: [usize; 2]| [p[0] + e, p[1] + e];
    let big = acq(10.0, 1e-3, nt, shift(src), ring.iter().map(|&p| shift(p)).collect());
    let near = Plan::new(&small, n, n, c as f64, c as f64).unwrap().run_cpu(&vec![c; n * n], 1).unwrap();
    let nb = n + 2 * e;
    let far = Plan::new(&big, nb, nb, c as f64, c as f64).unwrap().run_cpu(&vec![c; nb * nb], 1).unwrap();
    let peak = far.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = near.iter().zip(&far).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    let level = worst / peak;
    eprintln!("absorbing layers: largest reflection {level:.2e} of the direct wave's peak (design 1e-3)");
    assert!(level < 3e-3, "reflection level {level}");
}

#[test]
fn an_unstable_dt_is_refused_with_the_largest_stable_dt() {
    let limit = stencil::max_stable_dt(4, 4500.0, 10.0);
    assert!((stencil::courant_limit(4) - (3.0f64 / 8.0).sqrt()).abs() < 1e-12);
    let a = acq(10.0, 1.01 * limit, 100, [1, 1], vec![[1, 2]]);
    let err = Plan::new(&a, 20, 20, 1500.0, 4500.0).unwrap_err().to_string();
    assert!(err.contains("unstable") && err.contains(&format!("{:.6e}", limit * (1.0 - 1e-9))), "{err}");
    assert!(Plan::new(&acq(10.0, limit, 100, [1, 1], vec![[1, 2]]), 20, 20, 1500.0, 4500.0).is_ok());
    let mut sub = a.clone();
    sub.substep = true;
    let plan = Plan::new(&sub, 20, 20, 1500.0, 4500.0).unwrap();
    assert_eq!(plan.substeps, 2);
    assert_eq!(plan.samples, 100);
}

#[test]
fn the_stability_bound_is_sharp() {
    // In a closed box (no absorbing layers) the field stays bounded just below the bound and
    // blows up just above it: the bound of `courant_limit` is the scheme's real one.
    let grow = |factor: f64| {
        let limit = stencil::max_stable_dt(4, 3000.0, 10.0);
        let mut a = acq(10.0, limit, 3000, [10, 10], vec![[10, 10]]);
        a.pml = 0;
        let mut plan = Plan::new(&a, 21, 21, 3000.0, 3000.0).unwrap();
        plan.dt = factor * limit; // past the check, to see what it protects against
        let tr = plan.run_cpu(&vec![3000.0; 21 * 21], 1).unwrap();
        tr.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    };
    let (below, above) = (grow(0.99), grow(1.02));
    eprintln!("largest |p| after 3000 steps: {below:.3e} at 0.99 of the bound, {above:.3e} at 1.02");
    assert!(below < 1e3 && !(above < 1e6), "{below} {above}");
}

#[test]
fn flipping_the_model_under_a_mirror_symmetric_acquisition_reverses_shots_and_receivers() {
    use brine::device::Device;
    use brine::seismic::model::{Geology, sample};
    use brine::train::layout::Layout;
    let (nz, nx) = (16, 21);
    let mut a = acq(10.0, 1e-3, 300, [1, 0], vec![]);
    a.sources = Positions::Row { z: 1, x: vec![0, 6, 10, 14, 20] };
    a.receivers = Positions::Range { z: 2, x_from: 0, x_to: 20, x_step: 1 };
    a.pml = 10;
    a.decimate = 2;
    a.free_surface = true;
    a.check_mirror(nx).unwrap();
    let m = sample(Geology::Wide, 3, 1, nz, nx);
    let flipped: Vec<f32> = m.chunks(nx).flat_map(|r| r.iter().rev().copied()).collect();
    let (plan, d) = brine::seismic::forward(&Device::Cpu, &a, &m, 1, nz, nx, |_| {}).unwrap();
    let (_, df) = brine::seismic::forward(&Device::Cpu, &a, &flipped, 1, nz, nx, |_| {}).unwrap();
    let (shots, nt, nrec) = (plan.shots, plan.samples, plan.receivers);
    // Shot s of the flipped model, receiver r = shot S−1−s of the model, receiver R−1−r.
    let mut expect = vec![0.0f32; d.len()];
    for s in 0..shots {
        for t in 0..nt {
            for r in 0..nrec {
                expect[(s * nt + t) * nrec + r] = d[((shots - 1 - s) * nt + t) * nrec + nrec - 1 - r];
            }
        }
    }
    let err = expect.iter().zip(&df).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt()
        / df.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
    eprintln!("flip: gathers relative L2 {err:.1e}");
    assert!(err < 1e-5, "relative L2 between the flipped gathers and the flipped model's: {err:e}");
    // In the network's layout (21 receivers resampled to 24 columns, the model padded).
    let l = Layout::new(shots, nt, nrec, nz, nx, 4).unwrap();
    assert_eq!(l.w, 24);
    let (mut x, mut t) = (l.input(&d).unwrap(), l.target(&m).unwrap());
    l.flip(&mut x, &mut t);
    assert_eq!(t, l.target(&flipped).unwrap());
    let xf = l.input(&df).unwrap();
    let err = x.iter().zip(&xf).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt()
        / xf.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
    eprintln!("flip: laid-out input relative L2 {err:.1e}");
    assert!(err < 1e-5, "laid-out flip against the flipped model's input: {err:e}");
    // The presets are not mirror-symmetric; the message says where.
    let e = Acquisition::preset("openfwi").unwrap().check_mirror(70).unwrap_err().to_string();
    assert!(e.contains("source 2 at [z 1, x 34] mirrors to [z 1, x 35]"), "{e}");
    // Within one cell they are (what `--mirror` asks); two cells off is not.
    let mut openfwi = Acquisition::preset("openfwi").unwrap();
    openfwi.check_mirror_within(70, 1).unwrap();
    openfwi.sources = Positions::List(vec![[1, 0], [1, 17], [1, 33], [1, 52], [1, 69]]);
    let e = openfwi.check_mirror_within(70, 1).unwrap_err().to_string();
    assert!(e.contains("within 1 cell") && e.contains("source 2 at [z 1, x 33]"), "{e}");
    a.receivers = Positions::Range { z: 2, x_from: 0, x_to: 19, x_step: 1 };
    assert!(a.check_mirror(nx).unwrap_err().to_string().contains("receiver 0"));
}
