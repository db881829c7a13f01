//! Element-wise family: activations (forward and backward), add, concat and split.
//! CPU twins against finite differences (f64), PyTorch's derivatives at the kinks, GPU
//! against CPU (f32) on odd and long lengths, golden vectors, and bad input.
mod common;

use brine::cpu::elementwise as cpu;
use brine::kernels::elementwise::PER_GROUP;
use brine::ops::{Act, Concat};
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{assert_close, check_vjp, check_vjp_elementwise};

const ACTS: [Act; 4] = [Act::Relu, Act::Relu6, Act::HSwish, Act::Sigmoid];

/// Normal samples times `scale`, nudged at least 0.02 away from every kink (0, ±3, 6).
fn away_from_kinks(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            loop {
                let v = rng.normal() * scale;
                if [0.0, -3.0, 3.0, 6.0].iter().all(|k| (v - k).abs() > 0.02) {
                    break v;
                }
            }
        })
        .collect()
}

#[test]
fn cpu_activation_gradients_match_finite_differences() {
    let mut rng = Rng::new(1);
    for a in ACTS {
        // Tiny: every entry of Jᵀdy. Larger: random directions.
        for (n, per_element) in [(31, true), (2000, false)] {
            let x = away_from_kinks(&mut rng, n, 4.0);
            let dy: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let grad = cpu::act_backward(a, &x, &dy).unwrap();
            let f = |x: &[f64]| cpu::act_forward(a, x).unwrap();
            let what = format!("{a:?} n={n}");
            if per_element {
                check_vjp_elementwise(&what, f, &x, &dy, &grad);
            } else {
                check_vjp(&what, f, &x, &dy, &grad, 7);
            }
        }
    }
}

#[test]
fn cpu_add_concat_split_gradients_match_finite_differences() {
    let mut rng = Rng::new(2);
    let n = 40;
    let a: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let b: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let dy: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    // d(a + b)/da and /db are the identity: the vjp is dy itself.
    check_vjp_elementwise("add wrt a", |a| cpu::add(a, &b).unwrap(), &a, &dy, &dy);
    check_vjp_elementwise("add wrt b", |b| cpu::add(&a, b).unwrap(), &b, &dy, &dy);

    // concat's vjp is split, and split's vjp is concat.
    let g = Concat::new([2, 3, 5, 3], [2, 2, 5, 3]).unwrap();
    let a: Vec<f64> = (0..g.n * g.ca * g.hw).map(|_| rng.normal()).collect();
    let b: Vec<f64> = (0..g.n * g.cb * g.hw).map(|_| rng.normal()).collect();
    let dy: Vec<f64> = (0..g.y_len()).map(|_| rng.normal()).collect();
    let (da, db) = cpu::split(&g, &dy).unwrap();
    check_vjp_elementwise("concat wrt a", |a| cpu::concat(&g, a, &b).unwrap(), &a, &dy, &da);
    check_vjp_elementwise("concat wrt b", |b| cpu::concat(&g, &a, b).unwrap(), &b, &dy, &db);

    let y = cpu::concat(&g, &a, &b).unwrap();
    let flat = |y: &[f64]| {
        let (a, b) = cpu::split(&g, y).unwrap();
        [a, b].concat()
    };
    let dflat: Vec<f64> = [da.clone(), db.clone()].concat();
    let grad = cpu::concat(&g, &da, &db).unwrap();
    check_vjp_elementwise("split", flat, &y, &dflat, &grad);
    assert_eq!(cpu::split(&g, &y).unwrap(), (a, b), "split inverts concat");
}

#[test]
fn cpu_concat_layout_is_channel_concat() {
    // a [2,1,2], b [2,2,2] (n, c, hw): y[n] = [a[n] | b[n]].
    let g = Concat { n: 2, ca: 1, cb: 2, hw: 2 };
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [10.0f32, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0];
    let y = cpu::concat(&g, &a, &b).unwrap();
    assert_eq!(y, [1.0, 2.0, 10.0, 11.0, 12.0, 13.0, 3.0, 4.0, 14.0, 15.0, 16.0, 17.0]);
}

/// x, act(x) and dx for dy = 1 at the kinks, as PyTorch (float32 autograd) gives them.
fn kink_cases() -> Vec<(Act, f32, f32, f32)> {
    let s6 = 1.0 / (1.0 + (-6.0f64).exp());
    vec![
        (Act::Relu, 0.0, 0.0, 0.0),
        (Act::Relu, 6.0, 6.0, 1.0),
        (Act::Relu, -3.0, 0.0, 0.0),
        (Act::Relu, 3.0, 3.0, 1.0),
        (Act::Relu6, 0.0, 0.0, 0.0),
        (Act::Relu6, 6.0, 6.0, 0.0),
        (Act::Relu6, -3.0, 0.0, 0.0),
        (Act::Relu6, 3.0, 3.0, 1.0),
        (Act::HSwish, 0.0, 0.0, 0.5),
        (Act::HSwish, 6.0, 6.0, 1.0),
        (Act::HSwish, -3.0, 0.0, 0.0),
        (Act::HSwish, 3.0, 3.0, 1.0),
        // x + 3 rounds to 6 in f32 here, so PyTorch's float32 autograd is in the flat piece.
        (Act::HSwish, 2.999_999_8, 2.999_999_8, 1.0),
        (Act::Sigmoid, 0.0, 0.5, 0.25),
        (Act::Sigmoid, 6.0, s6 as f32, (s6 * (1.0 - s6)) as f32),
        (Act::Sigmoid, -3.0, 0.047_425_874, 0.045_176_66),
        (Act::Sigmoid, 3.0, 0.952_574_1, 0.045_176_66),
    ]
}

fn check_kinks<B: Backend>(be: &B) {
    for (a, x, y, dx) in kink_cases() {
        let xt = be.upload("x", &[x]).unwrap();
        let got_y = be.download(&be.act_fwd(a, &xt).unwrap()).unwrap()[0];
        let got_dx = be.download(&be.act_bwd(a, &xt, &be.upload("dy", &[1.0]).unwrap()).unwrap()).unwrap()[0];
        let name = be.name();
        let tol = if matches!(a, Act::Sigmoid | Act::HSwish) { 1e-6 } else { 0.0 };
        assert!((got_y - y).abs() <= tol, "{name}: {a:?}({x}) = {got_y}, PyTorch gives {y}");
        assert!((got_dx - dx).abs() <= tol, "{name}: {a:?}'({x}) = {got_dx}, PyTorch gives {dx}");
    }
}

#[test]
fn kinks_follow_pytorch_on_cpu() {
    check_kinks(&Cpu);
    check_kinks(&Reference);
    // And the f64 twin, at the exact kinks.
    for (a, x, _, dx) in kink_cases() {
        if x == 2.999_999_8 {
            continue; // an f32 rounding effect
        }
        let got = cpu::act_backward(a, &[x as f64], &[1.0]).unwrap()[0];
        assert!((got - dx as f64).abs() < 1e-7, "f64 {a:?}'({x}) = {got}, expected {dx}");
    }
}

#[test]
fn kinks_follow_pytorch_on_gpu() {
    let Some(ctx) = common::gpu() else { return };
    check_kinks(&Gpu::new(ctx));
    // The same values through the vec4 path (a length that is a multiple of 4).
    let g = Gpu::new(ctx);
    let cases = kink_cases();
    for a in ACTS {
        let c: Vec<_> = cases.iter().filter(|c| c.0 == a).collect();
        let mut x: Vec<f32> = c.iter().map(|c| c.1).collect();
        let mut want: Vec<f32> = c.iter().map(|c| c.3).collect();
        while !x.len().is_multiple_of(4) {
            x.push(x[0]);
            want.push(want[0]);
        }
        let ones = vec![1.0f32; x.len()];
        let xt = g.upload("x", &x).unwrap();
        let got = g.download(&g.act_bwd(a, &xt, &g.upload("dy", &ones).unwrap()).unwrap()).unwrap();
        for ((xi, gi), wi) in x.iter().zip(&got).zip(&want) {
            assert!((gi - wi).abs() <= 1e-6, "gpu vec4 {a:?}'({xi}) = {gi}, PyTorch gives {wi}");
        }
    }
}

fn random(rng: &mut Rng, n: usize, scale: f64) -> Vec<f32> {
    rng.normal_vec(n, scale)
}

/// Tolerance of GPU and CPU fast paths against the twin: exact ops bit for bit, hswish to a
/// division's rounding, sigmoid to exp's.
fn tol(a: Act) -> f64 {
    match a {
        Act::Relu | Act::Relu6 => 0.0,
        Act::HSwish => 1e-6,
        Act::Sigmoid => 1e-5,
    }
}

#[test]
fn gpu_activations_match_cpu() {
    let Some(ctx) = common::gpu() else { return };
    activations_match_reference(&Gpu::new(ctx));
}

#[test]
fn cpu_fast_elementwise_matches_reference() {
    brine::fast::buffers::poison(true);
    activations_match_reference(&Cpu);
    add_matches_reference(&Cpu);
    concat_split_match_reference(&Cpu);
}

fn activations_match_reference<B: Backend>(g: &B) {
    let mut rng = Rng::new(3);
    // Odd, tiny, vec4-aligned and not, a partial last workgroup, several workgroups.
    for n in [1, 3, 4, 7, 64, 255, 256, 257, 1000, 4097, 12_345, 70_001] {
        let x = random(&mut rng, n, 4.0);
        let dy = random(&mut rng, n, 1.0);
        let (xg, dyg) = (g.upload("x", &x).unwrap(), g.upload("dy", &dy).unwrap());
        for a in ACTS {
            let y = g.download(&g.act_fwd(a, &xg).unwrap()).unwrap();
            assert_close(&format!("{a:?} forward n={n}"), &y, &Reference.act_fwd(a, &x).unwrap(), tol(a));
            let dx = g.download(&g.act_bwd(a, &xg, &dyg).unwrap()).unwrap();
            assert_close(&format!("{a:?} backward n={n}"), &dx, &Reference.act_bwd(a, &x, &dy).unwrap(), tol(a));
        }
    }
}

#[test]
fn gpu_add_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    add_matches_reference(&Gpu::new(ctx));
}

fn add_matches_reference<B: Backend>(g: &B) {
    let mut rng = Rng::new(4);
    for n in [1, 2, 5, 8, 255, 1024, 9_999] {
        let (a, b) = (random(&mut rng, n, 1.0), random(&mut rng, n, 1.0));
        let y = g.add(&g.upload("a", &a).unwrap(), &g.upload("b", &b).unwrap()).unwrap();
        assert_eq!(g.download(&y).unwrap(), Reference.add(&a, &b).unwrap(), "add n={n}");
    }
}

/// Lengths past 65 535 workgroups: the grid folds into y. Both the scalar path (odd length)
/// and the vec4 path (multiple of 4) are checked on every element.
#[test]
fn gpu_folded_grid_covers_every_element() {
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let limit = 65_535 * PER_GROUP;
    for n in [limit + 4 * 1000 + 3, limit + 4 * 300] {
        assert!(brine::gpu::grid(n.div_ceil(PER_GROUP))[1] > 1, "n={n} must fold the grid");
        let a: Vec<f32> = (0..n).map(|i| (i % 65_521) as f32).collect();
        let b: Vec<f32> = (0..n).map(|i| (i / 65_521) as f32 * 0.5).collect();
        let y = g.download(&g.add(&g.upload("a", &a).unwrap(), &g.upload("b", &b).unwrap()).unwrap()).unwrap();
        let bad = (0..n).find(|&i| y[i] != a[i] + b[i]);
        assert!(bad.is_none(), "add n={n}: wrong at {bad:?}");
        // An activation over the same length (b is ≥ 0, so ReLU(−b) is 0 and ReLU(b) is b).
        let nb: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { b[i] } else { -b[i] }).collect();
        let y = g.download(&g.act_fwd(Act::Relu, &g.upload("x", &nb).unwrap()).unwrap()).unwrap();
        let bad = (0..n).find(|&i| y[i] != if i % 2 == 0 { b[i] } else { 0.0 });
        assert!(bad.is_none(), "relu n={n}: wrong at {bad:?}");
    }
}

#[test]
fn gpu_concat_split_match_cpu() {
    let Some(ctx) = common::gpu() else { return };
    concat_split_match_reference(&Gpu::new(ctx));
}

fn concat_split_match_reference<B: Backend>(g: &B) {
    let mut rng = Rng::new(5);
    // hw odd (scalar path), hw a multiple of 4 (vec4 path), channel counts that make only one
    // side aligned (scalar path), a single batch item, and a larger one.
    for (a_shape, b_shape) in [
        ([2, 3, 5, 7], [2, 4, 5, 7]),
        ([2, 4, 4, 4], [2, 8, 4, 4]),
        ([3, 1, 2, 3], [3, 2, 2, 3]),
        ([1, 5, 3, 3], [1, 1, 3, 3]),
        ([4, 16, 12, 10], [4, 16, 12, 10]),
        ([2, 3, 33, 31], [2, 5, 33, 31]),
    ] {
        let c = Concat::new(a_shape, b_shape).unwrap();
        let a = random(&mut rng, a_shape.iter().product(), 1.0);
        let b = random(&mut rng, b_shape.iter().product(), 1.0);
        let y = g.concat(&c, &g.upload("a", &a).unwrap(), &g.upload("b", &b).unwrap()).unwrap();
        let want = Reference.concat(&c, &a, &b).unwrap();
        assert_eq!(g.download(&y).unwrap(), want, "concat {a_shape:?} {b_shape:?}");
        let (ga, gb) = g.split(&c, &y).unwrap();
        assert_eq!(g.download(&ga).unwrap(), a, "split a {a_shape:?} {b_shape:?}");
        assert_eq!(g.download(&gb).unwrap(), b, "split b {a_shape:?} {b_shape:?}");
        let ys = random(&mut rng, c.y_len(), 1.0);
        let (ga, gb) = g.split(&c, &g.upload("y", &ys).unwrap()).unwrap();
        let (ca, cb) = Reference.split(&c, &ys).unwrap();
        assert_eq!((g.download(&ga).unwrap(), g.download(&gb).unwrap()), (ca, cb), "split {a_shape:?} {b_shape:?}");
    }
}

fn check_bad_input<B: Backend>(be: &B) {
    let name = be.name();
    let t = |n: usize| be.upload("t", &vec![0.5f32; n]).unwrap();
    for a in ACTS {
        common::expect_shape_err(be.act_bwd(a, &t(5), &t(4)), "dy", &format!("{name} {a:?} backward"));
    }
    common::expect_shape_err(be.add(&t(8), &t(7)), "b", &format!("{name} add"));
    let c = Concat::new([2, 3, 2, 2], [2, 1, 2, 2]).unwrap();
    common::expect_shape_err(be.concat(&c, &t(23), &t(8)), "a", &format!("{name} concat"));
    common::expect_shape_err(be.concat(&c, &t(24), &t(9)), "b", &format!("{name} concat"));
    common::expect_shape_err(be.split(&c, &t(31)), "y", &format!("{name} split"));
    let Err(e) = be.add(&t(8), &t(7)) else { panic!("{name}: add of 8 and 7 elements succeeded") };
    let msg = e.to_string();
    assert!(msg.contains("add") && msg.contains("`b`") && msg.contains('7') && msg.contains('8'), "{msg}");
}

#[test]
fn bad_lengths_are_errors_naming_the_tensor() {
    check_bad_input(&Cpu);
    check_bad_input(&Reference);
    if let Some(ctx) = common::gpu() {
        check_bad_input(&Gpu::new(ctx));
    }
    assert!(Concat::new([2, 3, 4, 4], [2, 3, 4, 5]).is_err());
}

#[test]
fn empty_tensors_are_fine() {
    assert!(Cpu.act_fwd(Act::Relu, &vec![]).unwrap().is_empty());
    assert!(Cpu.add(&vec![], &vec![]).unwrap().is_empty());
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let e = g.upload("x", &[]).unwrap();
    for a in ACTS {
        assert!(g.download(&g.act_fwd(a, &e).unwrap()).unwrap().is_empty());
        assert!(g.download(&g.act_bwd(a, &e, &e).unwrap()).unwrap().is_empty());
    }
    assert!(g.download(&g.add(&e, &e).unwrap()).unwrap().is_empty());
}

/// ReLU keeps NaN, as torch.relu does (a NaN input must reach the loss, which is how a
/// training step finds it), and takes ±inf and −0 to inf, 0 and 0. Run with
/// `BRINE_BACKEND=gl` too: there a float comparison folded into a max dropped NaN.
fn relu_special_values<B: Backend>(be: &B) {
    let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, -1e-30, 2.5, -f32::NAN, 1e-40];
    let y = be.download(&be.act_fwd(Act::Relu, &be.upload("x", &x).unwrap()).unwrap()).unwrap();
    let name = be.name();
    assert!(y[0].is_nan() && y[6].is_nan(), "{name}: relu(NaN) = {}, {}", y[0], y[6]);
    assert_eq!(&y[1..6], &[f32::INFINITY, 0.0, 0.0, 0.0, 2.5], "{name}");
    assert!(y[7] == 1e-40 || y[7] == 0.0, "{name}: relu(1e-40) = {} (kept or flushed)", y[7]);
}

#[test]
fn relu_keeps_nan_on_every_backend() {
    relu_special_values(&Cpu);
    relu_special_values(&Reference);
    if let Some(ctx) = common::gpu() {
        relu_special_values(&Gpu::new(ctx));
    }
}
