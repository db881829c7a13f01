//! Adam / AdamW: five steps on GPU and CPU against an independent f64 computation (the
//! textbook form with bias-corrected m̂ and v̂), golden vectors from torch.optim, and misuse.
mod common;

use brine::ops::Adam;
use brine::rng::Rng;
use brine::{Backend, Cpu, Error, Gpu, Reference};
use common::assert_close;

/// p, m, v after each step, in f64, written independently of the library:
/// m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), p ← p − lr·m̂/(√v̂ + eps).
fn reference(h: &Adam, p0: &[f32], grads: &[Vec<f32>]) -> Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (lr, b1, b2, eps, wd) = (h.lr as f64, h.beta1 as f64, h.beta2 as f64, h.eps as f64, h.weight_decay as f64);
    let mut p: Vec<f64> = p0.iter().map(|&v| v as f64).collect();
    let mut m = vec![0.0; p.len()];
    let mut v = vec![0.0; p.len()];
    let mut out = Vec::new();
    for (t, grad) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        for i in 0..p.len() {
            let mut g = grad[i] as f64;
            if h.decoupled {
                p[i] -= lr * wd * p[i];
            } else {
                g += wd * p[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        out.push((p.clone(), m.clone(), v.clone()));
    }
    out
}

fn configs() -> Vec<(&'static str, Adam)> {
    let adamw = |lr, beta1, beta2, eps, weight_decay| Adam { lr, beta1, beta2, eps, weight_decay, decoupled: true };
    vec![
        ("adam default", Adam::default()),
        ("adam + L2", Adam { weight_decay: 0.01, ..Adam::default() }),
        ("adamw", adamw(1e-3, 0.9, 0.999, 1e-8, 0.01)),
        ("adamw strong", adamw(3e-4, 0.8, 0.99, 1e-6, 0.1)),
        ("adam large lr", Adam { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-4, weight_decay: 0.2, decoupled: false }),
    ]
}

/// max |got − want| / max(1, |want|): f32 rounding of p, measured against its size.
fn max_scaled(got: &[f32], want: &[f64]) -> f64 {
    got.iter().zip(want).map(|(&g, &w)| (g as f64 - w).abs() / w.abs().max(1.0)).fold(0.0, f64::max)
}

/// Runs five steps on a backend; returns (p, m, v) after each.
fn run<B: Backend>(be: &B, h: &Adam, p0: &[f32], grads: &[Vec<f32>]) -> Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let mut p = be.upload("p", p0).unwrap();
    let mut m = be.upload("m", &vec![0.0; p0.len()]).unwrap();
    let mut v = be.upload("v", &vec![0.0; p0.len()]).unwrap();
    let mut out = Vec::new();
    for (t, g) in grads.iter().enumerate() {
        let g = be.upload("grad", g).unwrap();
        be.adam_step(h, t as u32 + 1, &mut p, &g, &mut m, &mut v).unwrap();
        out.push((be.download(&p).unwrap(), be.download(&m).unwrap(), be.download(&v).unwrap()));
    }
    out
}

#[test]
fn five_steps_match_f64_reference_on_cpu_and_gpu() {
    let gpu = common::gpu().map(Gpu::new);
    let mut rng = Rng::new(21);
    // Odd (scalar path), multiples of 4 (vec4 path), several workgroups.
    for n in [1, 3, 4, 257, 1024, 1031, 20_001] {
        let p0 = rng.normal_vec(n, 1.0);
        let mut grads: Vec<Vec<f32>> = (0..5).map(|_| rng.normal_vec(n, 0.1)).collect();
        grads[1][0] = 0.0; // a zero gradient somewhere
        for (name, h) in configs() {
            let want = reference(&h, &p0, &grads);
            let cpu = run(&Reference, &h, &p0, &grads);
            // The CPU fast path runs the twin's operations in the twin's order.
            assert_eq!(run(&Cpu, &h, &p0, &grads), cpu, "{name} n={n}: fast path vs twin");
            let what = |b: &str, t: usize| format!("{name} n={n} {b} step {}", t + 1);
            for (t, ((p, m, v), (wp, wm, wv))) in cpu.iter().zip(&want).enumerate() {
                let e = max_scaled(p, wp);
                assert!(e <= 1e-6, "{}: max |p − f64| / max(1, |p|) = {e:.2e}", what("cpu", t));
                let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<_>>();
                assert_close(&what("cpu m", t), m, &f(wm), 1e-6);
                assert_close(&what("cpu v", t), v, &f(wv), 1e-6);
            }
            let Some(g) = &gpu else { continue };
            let got = run(g, &h, &p0, &grads);
            for (t, ((p, m, v), ((cp, cm, cv), (wp, _, _)))) in got.iter().zip(cpu.iter().zip(&want)).enumerate() {
                assert_close(&what("gpu p vs cpu", t), p, cp, 1e-6);
                assert_close(&what("gpu m vs cpu", t), m, cm, 1e-6);
                assert_close(&what("gpu v vs cpu", t), v, cv, 1e-5);
                let e = max_scaled(p, wp);
                assert!(e <= 1e-6, "{}: max |p − f64| / max(1, |p|) = {e:.2e}", what("gpu", t));
            }
        }
    }
}

fn check_misuse<B: Backend>(be: &B) {
    let name = be.name();
    let h = Adam::default();
    let t = |n: usize| be.upload("t", &vec![0.5f32; n]).unwrap();
    let (mut p, g, mut m, mut v) = (t(10), t(10), t(10), t(10));
    // Step 0: an error, and nothing changes.
    match be.adam_step(&h, 0, &mut p, &g, &mut m, &mut v) {
        Err(Error::Config { detail, .. }) => assert!(detail.contains("step"), "{name}: {detail}"),
        Err(e) => panic!("{name}: step 0 gave the wrong error: {e}"),
        Ok(()) => panic!("{name}: step 0 was accepted"),
    }
    for x in [&p, &m, &v] {
        assert_eq!(be.download(x).unwrap(), vec![0.5; 10], "{name}: step 0 changed a tensor");
    }
    // Mismatched lengths name the tensor.
    let shape_err = |r: brine::Result<()>, tensor: &str| match r {
        Err(Error::Shape { tensor: got, .. }) if got == tensor => {}
        Err(e) => panic!("{name}: expected a shape error naming `{tensor}`, got {e}"),
        Ok(()) => panic!("{name}: mismatched `{tensor}` was accepted"),
    };
    shape_err(be.adam_step(&h, 1, &mut p, &t(9), &mut m, &mut v), "grad");
    shape_err(be.adam_step(&h, 1, &mut p, &g, &mut t(11), &mut v), "m");
    shape_err(be.adam_step(&h, 1, &mut p, &g, &mut m, &mut t(0)), "v");
    for x in [&p, &m, &v] {
        assert_eq!(be.download(x).unwrap(), vec![0.5; 10], "{name}: a rejected step changed a tensor");
    }
    // Hyper-parameters torch.optim rejects.
    for bad in [
        Adam { lr: -1e-3, ..h },
        Adam { beta1: 1.0, ..h },
        Adam { beta2: -0.1, ..h },
        Adam { eps: f32::NAN, ..h },
        Adam { weight_decay: -0.01, decoupled: true, ..h },
    ] {
        assert!(be.adam_step(&bad, 1, &mut p, &g, &mut m, &mut v).is_err(), "{name}: {bad:?} was accepted");
    }
}

/// Parameters large enough that the fast path splits them over threads: still the twin's
/// values, bit for bit.
#[test]
fn cpu_fast_path_matches_reference_on_large_parameters() {
    let mut rng = Rng::new(22);
    for n in [40_001, 300_000] {
        let p0 = rng.normal_vec(n, 1.0);
        let grads: Vec<Vec<f32>> = (0..3).map(|_| rng.normal_vec(n, 0.1)).collect();
        for (name, h) in configs() {
            assert_eq!(run(&Cpu, &h, &p0, &grads), run(&Reference, &h, &p0, &grads), "{name} n={n}");
        }
    }
}

#[test]
fn misuse_is_an_error() {
    check_misuse(&Cpu);
    check_misuse(&Reference);
    if let Some(ctx) = common::gpu() {
        check_misuse(&Gpu::new(ctx));
    }
}

#[test]
fn empty_parameter_is_a_no_op() {
    let mut e: Vec<f32> = vec![];
    let (mut m, mut v) = (vec![], vec![]);
    Cpu.adam_step(&Adam::default(), 1, &mut e, &vec![], &mut m, &mut v).unwrap();
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let t = || g.upload("t", &[]).unwrap();
    let (mut p, mut m, mut v) = (t(), t(), t());
    g.adam_step(&Adam::default(), 1, &mut p, &t(), &mut m, &mut v).unwrap();
}
