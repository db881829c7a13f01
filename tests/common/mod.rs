//! Helpers shared by the test files: the GPU context (or a loud skip), random data,
//! relative-error assertions and finite-difference gradient checks.
#![allow(dead_code)]

use brine::device::Device;
use brine::{Context, Error};
use std::sync::OnceLock;

/// The GPU context, or None with a loud message when this machine has no adapter.
/// Under `BRINE_REQUIRE_GPU=1` (CI) a missing adapter fails the test instead.
pub fn gpu() -> Option<&'static Context> {
    gpu_device().and_then(Device::gpu)
}

/// The GPU as a `Device` (one per test process), or None as `gpu` says.
pub fn gpu_device() -> Option<&'static Device> {
    static DEV: OnceLock<Option<Device>> = OnceLock::new();
    DEV.get_or_init(|| match Context::new() {
        Ok(ctx) => {
            // Written to stderr directly: the test harness captures eprintln! but not this.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "GPU tests run on adapter: {}", ctx.adapter_name());
            Some(Device::Gpu(ctx))
        }
        Err(e) => {
            if std::env::var("BRINE_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("BRINE_REQUIRE_GPU=1 but no adapter: {e}");
            }
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "!!! SKIPPING GPU TESTS (no adapter): {e}");
            None
        }
    })
    .as_ref()
}

/// ‖got − want‖₂ / ‖want‖₂ (absolute norm when want is all zeros).
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (g, w) in got.iter().zip(want) {
        num += (*g as f64 - *w as f64).powi(2);
        den += (*w as f64).powi(2);
    }
    if den == 0.0 { num.sqrt() } else { (num / den).sqrt() }
}

#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    let e = rel_err(got, want);
    assert!(e <= tol, "{what}: relative error {e:.3e} > {tol:.1e}");
}

pub fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Checks a claimed vector-Jacobian product in f64: for random directions u,
/// ⟨dy, (f(x+hu) − f(x−hu)) / 2h⟩ must equal ⟨grad, u⟩. `grad` is Jᵀdy at x.
#[track_caller]
pub fn check_vjp(what: &str, f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], dy: &[f64], grad: &[f64], seed: u64) {
    assert_eq!(grad.len(), x.len(), "{what}: gradient length");
    let mut rng = brine::rng::Rng::new(seed);
    let h = 1e-6;
    for trial in 0..3 {
        let u: Vec<f64> = (0..x.len()).map(|_| rng.normal()).collect();
        let xp: Vec<f64> = x.iter().zip(&u).map(|(a, b)| a + h * b).collect();
        let xm: Vec<f64> = x.iter().zip(&u).map(|(a, b)| a - h * b).collect();
        let fd: f64 = dot(dy, &f(&xp)) / (2.0 * h) - dot(dy, &f(&xm)) / (2.0 * h);
        let an = dot(grad, &u);
        let err = (fd - an).abs() / an.abs().max(fd.abs()).max(1e-8);
        assert!(err < 1e-6, "{what}: finite difference {fd:.10e} vs analytic {an:.10e} (trial {trial}, rel {err:.2e})");
    }
}

/// Per-element finite differences for tiny inputs: every entry of Jᵀdy is checked.
#[track_caller]
pub fn check_vjp_elementwise(what: &str, f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], dy: &[f64], grad: &[f64]) {
    let h = 1e-6;
    for i in 0..x.len() {
        let mut xp = x.to_vec();
        xp[i] += h;
        let mut xm = x.to_vec();
        xm[i] -= h;
        let fd = (dot(dy, &f(&xp)) - dot(dy, &f(&xm))) / (2.0 * h);
        let err = (fd - grad[i]).abs() / grad[i].abs().max(fd.abs()).max(1e-6);
        assert!(err < 1e-5, "{what}: d/dx[{i}] finite difference {fd:.10e} vs analytic {:.10e}", grad[i]);
    }
}

/// Asserts a shape error that names `tensor`.
#[track_caller]
pub fn expect_shape_err<T>(r: brine::Result<T>, tensor: &str, what: &str) {
    match r {
        Err(Error::Shape { tensor: t, .. }) if t == tensor => {}
        Err(e) => panic!("{what}: expected a shape error naming `{tensor}`, got {e}"),
        Ok(_) => panic!("{what}: expected a shape error naming `{tensor}`, got Ok"),
    }
}

/// Runs the brine binary; panics (with its output) unless it succeeds without a panic.
/// Returns stdout and stderr together.
#[track_caller]
pub fn brine_ok(args: &[&str]) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_brine")).args(args).output().expect("brine runs");
    let t = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !t.contains("panicked"), "brine {}:\n{t}", args.join(" "));
    t
}

/// `count` samples of the demo acquisition (40 × 40 models, 3 shots) drawn from `seed`, in
/// files of `per_file`, synthesised on the CPU into `dir/set`.
pub fn demo_set(dir: &std::path::Path, count: usize, per_file: usize, seed: u64) -> std::path::PathBuf {
    let acq = dir.join("acq.json");
    std::fs::write(&acq, brine::app::demo::ACQUISITION).unwrap();
    let set = dir.join("set");
    let (count, per_file, seed) = (count.to_string(), per_file.to_string(), seed.to_string());
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (acq, out) = (path(&acq), path(&set));
    brine_ok(&[
        "synth",
        "--preset",
        &acq,
        "--count",
        &count,
        "--seed",
        &seed,
        "--per-file",
        &per_file,
        "--out",
        &out,
        "--backend",
        "cpu",
        "--quiet",
    ]);
    set
}
