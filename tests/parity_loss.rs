//! Loss family: mean MSE and L1, forward (a two-pass GPU reduction) and backward.
//! CPU twins against finite differences (f64), GPU against an f64 reference at sizes up to
//! millions, the upstream gradient read on the GPU, golden vectors, and bad input.
mod common;

use brine::cpu::loss as cpu;
use brine::kernels::loss::partial_groups;
use brine::ops::Loss;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{assert_close, check_vjp, check_vjp_elementwise, to64};

const LOSSES: [Loss; 2] = [Loss::Mse, Loss::L1];

/// x and t with |x − t| ≥ 0.02 everywhere (away from L1's kink).
fn pair(rng: &mut Rng, n: usize) -> (Vec<f64>, Vec<f64>) {
    let t: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let x = t
        .iter()
        .map(|&t| {
            loop {
                let d = rng.normal();
                if d.abs() > 0.02 {
                    break t + d;
                }
            }
        })
        .collect();
    (x, t)
}

#[test]
fn cpu_gradients_match_finite_differences() {
    let mut rng = Rng::new(11);
    for l in LOSSES {
        for (n, per_element) in [(1, true), (17, true), (300, false)] {
            let (x, t) = pair(&mut rng, n);
            let dy = [rng.normal()];
            let grad = cpu::backward(l, &x, &t, &dy).unwrap();
            let f = |x: &[f64]| cpu::forward(l, x, &t).unwrap();
            let what = format!("{l:?} n={n}");
            if per_element {
                check_vjp_elementwise(&what, f, &x, &dy, &grad);
            } else {
                check_vjp(&what, f, &x, &dy, &grad, 5);
            }
        }
    }
}

#[test]
fn cpu_values_are_the_means() {
    let x = [1.0f64, -2.0, 0.5, 4.0];
    let t = [0.0f64, 1.0, 0.5, 2.0];
    assert_eq!(cpu::forward(Loss::Mse, &x, &t).unwrap(), [(1.0 + 9.0 + 0.0 + 4.0) / 4.0]);
    assert_eq!(cpu::forward(Loss::L1, &x, &t).unwrap(), [(1.0 + 3.0 + 0.0 + 2.0) / 4.0]);
    // dy = 2: MSE 2·2(x−t)/4; L1 2·sign(x−t)/4 with sign(0) = 0.
    assert_eq!(cpu::backward(Loss::Mse, &x, &t, &[2.0]).unwrap(), [1.0, -3.0, 0.0, 2.0]);
    assert_eq!(cpu::backward(Loss::L1, &x, &t, &[2.0]).unwrap(), [0.5, -0.5, 0.0, 0.5]);
}

/// x ~ N(0.3, 1), t ~ N(0, 0.5²), rounded to f32.
fn inputs(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..n).map(|_| (0.3 + rng.normal()) as f32).collect();
    (x, rng.normal_vec(n, 0.5))
}

fn f64_loss(l: Loss, x: &[f32], t: &[f32]) -> f64 {
    cpu::forward(l, &to64(x), &to64(t)).unwrap()[0]
}

#[test]
fn gpu_forward_matches_f64_reference() {
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let mut rng = Rng::new(12);
    // Tiny, odd, one partial workgroup, several, hundreds of thousands (odd and a multiple
    // of 4), and millions: past the cap on partials, so threads walk many elements.
    for n in [1, 3, 4, 255, 2049, 4097, 300_001, 262_144, 9_000_003] {
        let (x, t) = inputs(&mut rng, n);
        let (xg, tg) = (g.upload("x", &x).unwrap(), g.upload("t", &t).unwrap());
        for l in LOSSES {
            let got = g.download(&g.loss_fwd(l, &xg, &tg).unwrap()).unwrap();
            assert_eq!(got.len(), 1);
            let want = f64_loss(l, &x, &t);
            let rel = (got[0] as f64 - want).abs() / want.abs();
            assert!(rel <= 1e-6, "{l:?} n={n}: gpu {} vs f64 {want} (rel {rel:.2e})", got[0]);
            // The f32 CPU twin is a sound reference too (it sums in f64).
            let cpu = Reference.loss_fwd(l, &x, &t).unwrap()[0] as f64;
            assert!((cpu - want).abs() / want.abs() <= 1e-7, "{l:?} n={n}: cpu {cpu} vs f64 {want}");
        }
    }
    assert_eq!(partial_groups(9_000_003), 4096, "the largest case exercises the cap on partials");
}

#[test]
fn gpu_backward_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let mut rng = Rng::new(13);
    for n in [1, 3, 4, 255, 1000, 4097, 300_001, 262_144] {
        let (mut x, t) = inputs(&mut rng, n);
        // Some exact ties, where L1's sign is 0.
        for i in (0..n).step_by(7) {
            x[i] = t[i];
        }
        let dy = vec![rng.normal() as f32 * 3.0];
        let (xg, tg, dyg) = (g.upload("x", &x).unwrap(), g.upload("t", &t).unwrap(), g.upload("dy", &dy).unwrap());
        for l in LOSSES {
            let got = g.download(&g.loss_bwd(l, &xg, &tg, &dyg).unwrap()).unwrap();
            let want = Reference.loss_bwd(l, &x, &t, &dy).unwrap();
            assert_close(&format!("{l:?} backward n={n} vs cpu f32"), &got, &want, 1e-6);
            let want64 = cpu::backward(l, &to64(&x), &to64(&t), &to64(&dy)).unwrap();
            let want64: Vec<f32> = want64.iter().map(|&v| v as f32).collect();
            assert_close(&format!("{l:?} backward n={n} vs f64"), &got, &want64, 1e-6);
            if l == Loss::L1 {
                assert!((0..n).step_by(7).all(|i| got[i] == 0.0), "L1 n={n}: sign(0) must be 0");
            }
        }
    }
}

/// The upstream gradient is read on the GPU: a dy produced by an earlier dispatch (here:
/// the loss itself) is used without a host round trip, and changing it changes dx.
#[test]
fn gpu_backward_reads_dy_on_device() {
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let mut rng = Rng::new(14);
    let (x, t) = inputs(&mut rng, 1001);
    let (xg, tg) = (g.upload("x", &x).unwrap(), g.upload("t", &t).unwrap());
    for l in LOSSES {
        let y = g.loss_fwd(l, &xg, &tg).unwrap();
        let got = g.download(&g.loss_bwd(l, &xg, &tg, &y).unwrap()).unwrap();
        let ly = g.download(&y).unwrap();
        assert_close(&format!("{l:?} dy = loss"), &got, &Reference.loss_bwd(l, &x, &t, &ly).unwrap(), 1e-6);
    }
}

/// The CPU fast path: the mean to 1e-6 of the f64 value (blocks of 256 summed in f32,
/// gathered in f64), the gradient exactly as the twin's (the same operations).
#[test]
fn cpu_fast_path_matches_reference() {
    brine::fast::buffers::poison(true);
    let mut rng = Rng::new(15);
    for n in [1, 3, 17, 255, 4097, 41_472, 300_001] {
        let (mut x, t) = inputs(&mut rng, n);
        for i in (0..n).step_by(5) {
            x[i] = t[i];
        }
        let dy = vec![rng.normal() as f32 * 3.0];
        for l in LOSSES {
            let got = Cpu.loss_fwd(l, &x, &t).unwrap()[0] as f64;
            let want = f64_loss(l, &x, &t);
            assert!((got - want).abs() <= 1e-6 * want.abs(), "{l:?} n={n}: fast {got} vs f64 {want}");
            assert_eq!(
                Cpu.loss_bwd(l, &x, &t, &dy).unwrap(),
                Reference.loss_bwd(l, &x, &t, &dy).unwrap(),
                "{l:?} n={n}"
            );
        }
    }
}

fn check_bad_input<B: Backend>(be: &B) {
    let name = be.name();
    let t = |n: usize| be.upload("t", &vec![0.5f32; n]).unwrap();
    for l in LOSSES {
        let what = format!("{name} {l:?}");
        common::expect_shape_err(be.loss_fwd(l, &t(10), &t(9)), "t", &what);
        common::expect_shape_err(be.loss_bwd(l, &t(10), &t(11), &t(1)), "t", &what);
        common::expect_shape_err(be.loss_bwd(l, &t(10), &t(10), &t(2)), "dy", &what);
        common::expect_shape_err(be.loss_bwd(l, &t(10), &t(10), &t(0)), "dy", &what);
        common::expect_shape_err(be.loss_fwd(l, &t(0), &t(0)), "x", &what);
        common::expect_shape_err(be.loss_bwd(l, &t(0), &t(0), &t(1)), "x", &what);
    }
}

#[test]
fn bad_lengths_are_errors_naming_the_tensor() {
    check_bad_input(&Cpu);
    check_bad_input(&Reference);
    if let Some(ctx) = common::gpu() {
        check_bad_input(&Gpu::new(ctx));
    }
}
