//! The SSIM dissimilarity map (the `ssim` loss term): the twin against `metrics::ssim` and
//! central differences (f64); the GPU kernels and the fast CPU path against the twin,
//! forward and backward, on planes smaller and larger than the window and on nearly flat
//! images, where the window's variances sit next to C2; bad lengths.
mod common;

use brine::cpu::ssim as twin;
use brine::ops::Ssim;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu};
use common::{assert_close, check_vjp, check_vjp_elementwise, to64};

/// x, t in [−1, 1]; with `flat`, t nearly constant and x within a hundredth of it.
fn images(g: &Ssim, seed: u64, flat: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let t: Vec<f32> = (0..g.len())
        .map(|_| if flat { 0.4 + 0.002 * rng.uniform() } else { rng.uniform() * 2.0 - 1.0 } as f32)
        .collect();
    let spread = if flat { 0.01 } else { 0.5 };
    let x = t.iter().map(|&v| (v as f64 * 0.8 + spread * (rng.uniform() - 0.5)).clamp(-1.0, 1.0) as f32).collect();
    let dy = (0..g.len()).map(|_| (rng.uniform() - 0.3) as f32).collect();
    (x, t, dy)
}

#[test]
fn the_twin_maps_one_minus_the_metric() {
    let g = Ssim { planes: 2, h: 13, w: 17 };
    let (x, t, _) = images(&g, 3, false);
    let map = twin::forward(&g, &to64(&x), &to64(&t)).unwrap();
    let hw = g.h * g.w;
    for p in 0..g.planes {
        let unit = |v: &[f32]| v[p * hw..(p + 1) * hw].iter().map(|u| (u + 1.0) / 2.0).collect::<Vec<f32>>();
        let s = brine::metrics::ssim(&unit(&x), &unit(&t), g.h, g.w).unwrap();
        let mean = map[p * hw..(p + 1) * hw].iter().sum::<f64>() / hw as f64;
        assert!((1.0 - mean - s).abs() < 1e-6, "plane {p}: 1 − mean map {} against SSIM {s}", 1.0 - mean);
        assert!(s < 0.99, "plane {p}: images this different should score lower ({s})");
    }
    assert!(twin::forward(&g, &to64(&t), &to64(&t)).unwrap().iter().all(|v| v.abs() < 1e-12));
}

#[test]
fn twin_gradients_match_finite_differences() {
    // Every pixel of planes narrower than the window; random directions on larger ones.
    for (i, (g, flat)) in shapes().into_iter().enumerate() {
        let (x, t, dy) = images(&g, 10 + i as u64, flat);
        let (x, t, dy) = (to64(&x), to64(&t), to64(&dy));
        let grad = twin::backward(&g, &x, &t, &dy).unwrap();
        let f = |x: &[f64]| twin::forward(&g, x, &t).unwrap();
        let what = format!("{g:?}, flat {flat}");
        if g.len() <= 300 {
            check_vjp_elementwise(&what, f, &x, &dy, &grad);
        } else {
            check_vjp(&what, f, &x, &dy, &grad, i as u64);
        }
    }
}

fn from64(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}

fn shapes() -> [(Ssim, bool); 5] {
    [
        (Ssim { planes: 1, h: 3, w: 4 }, false),
        (Ssim { planes: 2, h: 13, w: 17 }, false),
        (Ssim { planes: 3, h: 9, w: 30 }, true),
        (Ssim { planes: 2, h: 72, w: 72 }, false),
        (Ssim { planes: 1, h: 40, w: 40 }, true),
    ]
}

fn agree<B: Backend>(b: &B, name: &str) {
    for (i, (g, flat)) in shapes().into_iter().enumerate() {
        let (x, t, dy) = images(&g, i as u64, flat);
        let want_map = from64(twin::forward(&g, &to64(&x), &to64(&t)).unwrap());
        let want_dx = from64(twin::backward(&g, &to64(&x), &to64(&t), &to64(&dy)).unwrap());
        let up = |v: &[f32]| b.upload("v", v).unwrap();
        let (xd, td, dyd) = (up(&x), up(&t), up(&dy));
        let map = b.download(&b.ssim_fwd(&g, &xd, &td).unwrap()).unwrap();
        let dx = b.download(&b.ssim_bwd(&g, &xd, &td, &dyd).unwrap()).unwrap();
        let what = format!("{name}: {g:?}, flat {flat}");
        // On nearly flat images the deviations from the window means (5e-3 here) carry the
        // gradient, and f32 window means are good to about 1e-7: 2e-5 of it.
        let tol = if flat { 5e-5 } else { 1e-5 };
        assert_close(&format!("{what}: map"), &map, &want_map, tol);
        assert_close(&format!("{what}: dx"), &dx, &want_dx, tol);
        assert!(dx.iter().any(|&v| v != 0.0), "{what}: a zero gradient says nothing");
    }
}

#[test]
fn the_fast_path_agrees_with_the_twin() {
    agree(&Cpu, "cpu");
}

#[test]
fn the_gpu_agrees_with_the_twin() {
    let Some(ctx) = common::gpu() else { return };
    agree(&Gpu::new(ctx), &ctx.adapter_name());
}

#[test]
fn bad_lengths_are_refused_on_every_backend() {
    let g = Ssim { planes: 2, h: 5, w: 5 };
    let cpu = Cpu;
    let (ok, short) = (cpu.upload("x", &[0.0; 50]).unwrap(), cpu.upload("t", &[0.0; 49]).unwrap());
    assert!(cpu.ssim_fwd(&g, &ok, &short).unwrap_err().to_string().contains("ssim"));
    assert!(cpu.ssim_bwd(&g, &ok, &ok, &short).is_err());
    if let Some(ctx) = common::gpu() {
        let gpu = Gpu::new(ctx);
        let (ok, short) = (gpu.upload("x", &[0.0; 50]).unwrap(), gpu.upload("t", &[0.0; 49]).unwrap());
        assert!(gpu.ssim_fwd(&g, &ok, &short).unwrap_err().to_string().contains("ssim"));
        assert!(gpu.ssim_bwd(&g, &ok, &ok, &short).is_err());
    }
}
