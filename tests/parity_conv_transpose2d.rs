mod common;

use brine::cpu::conv_transpose2d as cpu;
use brine::kernels::conv2d::{bias_splits, weight_splits};
use brine::ops::ConvTranspose2d;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};

fn convt(x: [usize; 4], co: usize, k: usize, stride: usize, pad: usize) -> ConvTranspose2d {
    ConvTranspose2d::new(x, co, k, stride, pad).unwrap()
}

fn normal64(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// Normal samples rounded to multiples of 1/16 when `exact` (sums stay exact in f32).
fn data(rng: &mut Rng, n: usize, exact: bool) -> Vec<f32> {
    if exact { (0..n).map(|_| ((rng.normal() * 16.0).round() / 16.0) as f32).collect() } else { rng.normal_vec(n, 1.0) }
}

fn len(s: [usize; 4]) -> usize {
    s.iter().product()
}

// ------------------------------------------------------------------ CPU twin

#[test]
fn cpu_forward_by_hand() {
    // k2 s2: every input pixel paints a 2×2 block of w times its value, plus the bias.
    let g = convt([1, 1, 2, 3], 1, 2, 2, 0);
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let w = [1.0, 10.0, 100.0, 1000.0];
    let y = cpu::forward(&g, &x, &w, Some(&[0.5])).unwrap();
    assert_eq!(g.y_shape(), [1, 1, 4, 6]);
    for oy in 0..4 {
        for ox in 0..6 {
            let want = 0.5 + x[(oy / 2) * 3 + ox / 2] * w[(oy % 2) * 2 + ox % 2];
            assert_eq!(y[oy * 6 + ox], want, "({oy}, {ox})");
        }
    }
    // k3 s2 p1: overlapping taps add up, the padding crops the border
    let g = convt([1, 1, 2, 2], 1, 3, 2, 1);
    let y = cpu::forward(&g, &[1.0, 1.0, 1.0, 1.0], &[1.0; 9], None).unwrap();
    assert_eq!(g.y_shape(), [1, 1, 3, 3]);
    assert_eq!(y, vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
}

/// The transposed convolution is the adjoint of `as_conv()` with the same weight:
/// ⟨convT(x), y⟩ = ⟨x, conv(y)⟩, checked against the independent conv2d twin.
#[test]
fn cpu_is_adjoint_of_conv2d() {
    for (i, g) in [convt([2, 3, 4, 5], 4, 2, 2, 0), convt([1, 2, 5, 4], 3, 3, 2, 1), convt([1, 3, 3, 4], 2, 4, 2, 1)]
        .into_iter()
        .enumerate()
    {
        let mut rng = Rng::new(10 + i as u64);
        let x = normal64(&mut rng, len(g.x_shape()));
        let w = normal64(&mut rng, len(g.w_shape()));
        let y = normal64(&mut rng, len(g.y_shape()));
        let lhs = common::dot(&cpu::forward(&g, &x, &w, None).unwrap(), &y);
        let rhs = common::dot(&x, &brine::cpu::conv2d::forward(&g.as_conv(), &y, &w, None).unwrap());
        assert!((lhs - rhs).abs() <= 1e-10 * lhs.abs().max(1.0), "{g:?}: {lhs} vs {rhs}");
    }
}

fn gradcheck(g: ConvTranspose2d, seed: u64, per_element: bool) {
    let mut rng = Rng::new(seed);
    let x = normal64(&mut rng, len(g.x_shape()));
    let w = normal64(&mut rng, len(g.w_shape()));
    let b = normal64(&mut rng, g.co);
    let dy = normal64(&mut rng, len(g.y_shape()));
    let dx = cpu::backward_data(&g, &dy, &w).unwrap();
    let dw = cpu::backward_weight(&g, &x, &dy).unwrap();
    let db = cpu::backward_bias(&g, &dy).unwrap();
    let fx = |x: &[f64]| cpu::forward(&g, x, &w, Some(&b)).unwrap();
    let fw = |w: &[f64]| cpu::forward(&g, &x, w, Some(&b)).unwrap();
    let fb = |b: &[f64]| cpu::forward(&g, &x, &w, Some(b)).unwrap();
    let what = format!("{g:?}");
    if per_element {
        common::check_vjp_elementwise(&format!("dx {what}"), fx, &x, &dy, &dx);
        common::check_vjp_elementwise(&format!("dw {what}"), fw, &w, &dy, &dw);
        common::check_vjp_elementwise(&format!("db {what}"), fb, &b, &dy, &db);
    } else {
        common::check_vjp(&format!("dx {what}"), fx, &x, &dy, &dx, seed);
        common::check_vjp(&format!("dw {what}"), fw, &w, &dy, &dw, seed + 1);
        common::check_vjp(&format!("db {what}"), fb, &b, &dy, &db, seed + 2);
    }
}

#[test]
fn cpu_gradients_random_directions() {
    let cases = [
        convt([2, 3, 4, 5], 4, 2, 2, 0),
        convt([1, 4, 5, 3], 3, 3, 2, 1),
        convt([1, 2, 4, 4], 3, 4, 2, 1),
        convt([2, 3, 5, 5], 2, 3, 1, 1),
        convt([1, 2, 3, 4], 2, 1, 2, 0),
        convt([1, 2, 3, 3], 2, 7, 2, 3),
    ];
    for (i, g) in cases.into_iter().enumerate() {
        gradcheck(g, 600 + i as u64, false);
    }
}

#[test]
fn cpu_gradients_per_element() {
    for (i, g) in [convt([1, 2, 3, 2], 2, 2, 2, 0), convt([2, 1, 3, 3], 2, 3, 2, 1), convt([1, 2, 2, 3], 1, 4, 2, 1)]
        .into_iter()
        .enumerate()
    {
        gradcheck(g, 700 + i as u64, true);
    }
}

// ------------------------------------------------------------------ GPU and CPU fast paths vs the reference

fn parity<B: Backend>(gpu: &B, g: ConvTranspose2d, bias: bool, exact: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let x = data(&mut rng, len(g.x_shape()), exact);
    let w = data(&mut rng, len(g.w_shape()), exact);
    let b = data(&mut rng, g.co, exact);
    let dy = data(&mut rng, len(g.y_shape()), exact);
    let up = |name: &str, v: &[f32]| gpu.upload(name, v).unwrap();
    let (gx, gw, gb, gdy) = (up("x", &x), up("w", &w), up("b", &b), up("dy", &dy));
    let what = format!("{g:?} bias={bias}");
    let tol = 1e-5;

    let want = Reference.conv_transpose2d_fwd(&g, &x, &w, bias.then_some(&b)).unwrap();
    let got = gpu.download(&gpu.conv_transpose2d_fwd(&g, &gx, &gw, bias.then_some(&gb)).unwrap()).unwrap();
    common::assert_close(&format!("y {what}"), &got, &want, tol);

    let want = Reference.conv_transpose2d_bwd_data(&g, &dy, &w).unwrap();
    let got = gpu.download(&gpu.conv_transpose2d_bwd_data(&g, &gdy, &gw).unwrap()).unwrap();
    common::assert_close(&format!("dx {what}"), &got, &want, tol);

    let want = Reference.conv_transpose2d_bwd_weight(&g, &x, &dy).unwrap();
    let got = gpu.download(&gpu.conv_transpose2d_bwd_weight(&g, &gx, &gdy).unwrap()).unwrap();
    common::assert_close(&format!("dw {what}"), &got, &want, tol);

    let want = Reference.conv_transpose2d_bwd_bias(&g, &dy).unwrap();
    let got = gpu.download(&gpu.conv_transpose2d_bwd_bias(&g, &gdy).unwrap()).unwrap();
    common::assert_close(&format!("db {what}"), &got, &want, tol);
}

/// The U-Net's upsampling: kernel 2, stride 2.
fn unet_cases() -> Vec<(ConvTranspose2d, bool)> {
    vec![
        (convt([1, 1, 3, 3], 1, 2, 2, 0), true),
        (convt([2, 3, 5, 7], 5, 2, 2, 0), true),
        (convt([1, 13, 4, 4], 33, 2, 2, 0), false),
        (convt([2, 8, 6, 4], 4, 2, 2, 0), true), // vec4 paths of the conv it runs on
        (convt([2, 70, 6, 7], 70, 2, 2, 0), true), // > 1 tile in M, N (84 per phase), K of all GEMMs
    ]
}

fn other_cases() -> Vec<(ConvTranspose2d, bool)> {
    vec![
        (convt([2, 5, 6, 5], 3, 3, 2, 1), true),
        (convt([1, 4, 5, 6], 6, 4, 2, 1), false),
        (convt([1, 3, 6, 6], 4, 3, 1, 1), true),
        (convt([1, 3, 4, 5], 2, 1, 2, 0), true), // output pixels no tap reaches: bias only
        (convt([2, 2, 3, 4], 3, 7, 2, 3), false),
    ]
}

#[test]
fn gpu_matches_cpu_unet_k2s2() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (i, (g, bias)) in unet_cases().into_iter().enumerate() {
        parity(&gpu, g, bias, false, 800 + i as u64);
    }
}

#[test]
fn gpu_matches_cpu_other_configs() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (i, (g, bias)) in other_cases().into_iter().enumerate() {
        parity(&gpu, g, bias, false, 900 + i as u64);
    }
}

/// The CPU fast paths (the conv2d fast paths through the adjoint mapping) on the GPU's
/// cases and on the U-Net's own upsampling shapes at odd channel counts.
#[test]
fn cpu_fast_paths_match_reference() {
    let own = [(convt([8, 64, 9, 9], 32, 2, 2, 0), true), (convt([3, 17, 18, 18], 9, 2, 2, 0), true)];
    let cases = unet_cases().into_iter().chain(other_cases()).chain(own);
    for (i, (g, bias)) in cases.enumerate() {
        parity(&Cpu, g, bias, false, 1100 + i as u64);
    }
    parity(&Cpu, convt([2, 4, 32, 32], 4, 2, 2, 0), true, true, 1200);
}

#[test]
fn gpu_matches_cpu_split_reductions() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let g = convt([2, 4, 32, 32], 4, 2, 2, 0);
    assert!(weight_splits(&g.as_conv()) > 1);
    assert!(bias_splits(g.n, g.co, g.ho() * g.wo()) > 1);
    parity(&gpu, g, true, true, 1000);
}

// ------------------------------------------------------------------ bad input

fn expect_err<T>(r: brine::Result<T>, tensor: &str) {
    match r {
        Ok(_) => panic!("expected an error naming `{tensor}`"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("conv_transpose2d") && msg.contains(&format!("`{tensor}`")), "message: {msg}");
        }
    }
}

fn bad_inputs<B: Backend>(be: &B) {
    let g = convt([2, 3, 4, 5], 4, 2, 2, 0);
    let t = |n: usize| be.upload("t", &vec![0.5; n]).unwrap();
    let (x, w, b, dy) = (t(len(g.x_shape())), t(len(g.w_shape())), t(g.co), t(len(g.y_shape())));
    let short = t(5);
    expect_err(be.conv_transpose2d_fwd(&g, &short, &w, Some(&b)), "x");
    expect_err(be.conv_transpose2d_fwd(&g, &x, &short, Some(&b)), "w");
    expect_err(be.conv_transpose2d_fwd(&g, &x, &w, Some(&short)), "b");
    expect_err(be.conv_transpose2d_bwd_data(&g, &short, &w), "dy");
    expect_err(be.conv_transpose2d_bwd_data(&g, &dy, &short), "w");
    expect_err(be.conv_transpose2d_bwd_weight(&g, &short, &dy), "x");
    expect_err(be.conv_transpose2d_bwd_weight(&g, &x, &short), "dy");
    expect_err(be.conv_transpose2d_bwd_weight(&g, &dy, &x), "x");
    expect_err(be.conv_transpose2d_bwd_bias(&g, &short), "dy");
    // the input passed where the output gradient belongs
    expect_err(be.conv_transpose2d_bwd_bias(&g, &x), "dy");
    let bad = ConvTranspose2d { stride: 0, ..g };
    assert!(be.conv_transpose2d_fwd(&bad, &x, &w, None).is_err());
}

#[test]
fn bad_input_is_an_error_cpu() {
    bad_inputs(&Cpu);
    bad_inputs(&Reference);
}

#[test]
fn bad_input_is_an_error_gpu() {
    let Some(ctx) = common::gpu() else { return };
    bad_inputs(&Gpu::new(ctx));
}
