mod common;

use brine::cpu::conv2d as cpu;
use brine::kernels::conv2d::{
    SHADER, backward_data_entry, backward_data_tiling, bias_splits, forward_entry, forward_tiling, weight_plan,
    weight_splits,
};
use brine::ops::Conv2d;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use std::collections::HashSet;

fn conv(x: [usize; 4], co: usize, k: [usize; 2], stride: usize, pad: usize) -> Conv2d {
    Conv2d::new(x, co, k, stride, pad).unwrap()
}

fn normal64(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// Normal samples rounded to multiples of 1/16 when `exact`: sums of their products stay
/// exact in f32, so long reductions compare without rounding noise.
fn data(rng: &mut Rng, n: usize, exact: bool) -> Vec<f32> {
    if exact { (0..n).map(|_| ((rng.normal() * 16.0).round() / 16.0) as f32).collect() } else { rng.normal_vec(n, 1.0) }
}

fn len(s: [usize; 4]) -> usize {
    s.iter().product()
}

// ------------------------------------------------------------------ CPU twin

#[test]
fn cpu_forward_by_hand() {
    // 4×4 ramp, one 3×3 filter that picks the top-left tap: with padding 1 the output is the
    // input shifted down-right by one, zeros coming in from the padding; plus the bias.
    let g = conv([1, 1, 4, 4], 1, [3, 3], 1, 1);
    let x: Vec<f64> = (1..=16).map(f64::from).collect();
    let mut w = vec![0.0; 9];
    w[0] = 2.0;
    let y = cpu::forward(&g, &x, &w, Some(&[0.5])).unwrap();
    let want: Vec<f64> = (0..16)
        .map(|i| {
            let (r, c) = (i / 4, i % 4);
            0.5 + if r == 0 || c == 0 { 0.0 } else { 2.0 * x[(r - 1) * 4 + c - 1] }
        })
        .collect();
    assert_eq!(y, want);
    // stride 2, no padding, 2 channels summed: output [1,1,1,1] = Σ over both 3×3 windows
    let g = conv([1, 2, 4, 4], 1, [3, 3], 2, 0);
    let x: Vec<f64> = (0..32).map(f64::from).collect();
    let y = cpu::forward(&g, &x, &[1.0; 18], None).unwrap();
    let want: f64 =
        (0..2).flat_map(|c| (0..3).flat_map(move |r| (0..3).map(move |q| (c * 16 + r * 4 + q) as f64))).sum();
    assert_eq!(y, vec![want]);
}

fn gradcheck(g: Conv2d, seed: u64, per_element: bool) {
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
        conv([2, 3, 7, 6], 4, [3, 3], 1, 1),
        conv([1, 2, 9, 8], 3, [3, 3], 2, 1),
        conv([2, 3, 5, 5], 2, [1, 1], 1, 0),
        conv([1, 2, 6, 7], 2, [1, 1], 2, 0),
        conv([1, 2, 9, 9], 2, [7, 7], 1, 3),
        conv([1, 2, 10, 9], 2, [7, 7], 2, 3),
        conv([1, 2, 6, 5], 3, [3, 2], 2, 0),
        conv([2, 2, 5, 6], 2, [2, 2], 2, 0),
        conv([1, 1, 8, 8], 2, [3, 3], 3, 2),
    ];
    for (i, g) in cases.into_iter().enumerate() {
        gradcheck(g, 100 + i as u64, false);
    }
}

#[test]
fn cpu_gradients_per_element() {
    for (i, g) in [
        conv([1, 2, 4, 4], 2, [3, 3], 1, 1),
        conv([2, 1, 5, 4], 2, [3, 3], 2, 1),
        conv([1, 2, 3, 3], 1, [1, 1], 1, 0),
        conv([1, 1, 7, 7], 1, [7, 7], 2, 3),
    ]
    .into_iter()
    .enumerate()
    {
        gradcheck(g, 200 + i as u64, true);
    }
}

// ------------------------------------------------------------------ GPU and CPU fast paths vs the reference

/// Runs all four entries on a backend and on the reference twin and compares. `exact`
/// picks data whose sums are exact in f32 (for long reductions).
fn parity<B: Backend>(gpu: &B, g: Conv2d, bias: bool, exact: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let x = data(&mut rng, len(g.x_shape()), exact);
    let w = data(&mut rng, len(g.w_shape()), exact);
    let b = data(&mut rng, g.co, exact);
    let dy = data(&mut rng, len(g.y_shape()), exact);
    let up = |name: &str, v: &[f32]| gpu.upload(name, v).unwrap();
    let (gx, gw, gb, gdy) = (up("x", &x), up("w", &w), up("b", &b), up("dy", &dy));
    let what = format!("{g:?} bias={bias}");
    let tol = 1e-5;

    let want = Reference.conv2d_fwd(&g, &x, &w, bias.then_some(&b)).unwrap();
    let got = gpu.download(&gpu.conv2d_fwd(&g, &gx, &gw, bias.then_some(&gb)).unwrap()).unwrap();
    common::assert_close(&format!("y {what}"), &got, &want, tol);

    let want = Reference.conv2d_bwd_data(&g, &dy, &w).unwrap();
    let got = gpu.download(&gpu.conv2d_bwd_data(&g, &gdy, &gw).unwrap()).unwrap();
    common::assert_close(&format!("dx {what}"), &got, &want, tol);

    let want = Reference.conv2d_bwd_weight(&g, &x, &dy).unwrap();
    let got = gpu.download(&gpu.conv2d_bwd_weight(&g, &gx, &gdy).unwrap()).unwrap();
    common::assert_close(&format!("dw {what}"), &got, &want, tol);

    let want = Reference.conv2d_bwd_bias(&g, &dy).unwrap();
    let got = gpu.download(&gpu.conv2d_bwd_bias(&g, &gdy).unwrap()).unwrap();
    common::assert_close(&format!("db {what}"), &got, &want, tol);
}

fn small_cases() -> Vec<(Conv2d, bool)> {
    vec![
        // (geometry, with bias)
        (conv([1, 1, 5, 7], 1, [3, 3], 1, 1), true),
        (conv([2, 3, 9, 11], 5, [3, 3], 2, 1), true),
        (conv([1, 13, 6, 6], 33, [1, 1], 1, 0), false),
        (conv([2, 8, 8, 6], 12, [1, 1], 1, 0), true), // 1×1 vec4 path
        (conv([1, 3, 7, 7], 2, [1, 1], 2, 0), true),  // phases without taps in backward-data
        (conv([1, 5, 13, 9], 3, [7, 7], 1, 3), false),
        (conv([2, 4, 15, 10], 6, [7, 7], 2, 3), true),
        (conv([3, 8, 12, 12], 16, [3, 3], 1, 1), false),
        (conv([2, 2, 4, 5], 3, [3, 3], 2, 0), true),
        (conv([2, 3, 8, 7], 5, [3, 5], 2, 2), false),
        (conv([1, 2, 9, 8], 3, [3, 3], 3, 1), true),
        (conv([1, 16, 9, 17], 8, [3, 3], 2, 1), true),
        // tile depth 16 on the flat, 1×1 and scalar row-major entries
        (conv([2, 3, 10, 9], 20, [3, 3], 1, 1), true),
        (conv([2, 16, 6, 6], 24, [1, 1], 1, 0), false),
        (conv([1, 20, 7, 9], 5, [3, 3], 2, 1), true),
        (conv([1, 3, 9, 13], 20, [3, 3], 1, 1), false),
    ]
}

/// More than one tile in every GEMM dimension of all three GEMMs (M = 70 > 64 rows,
/// N ≥ 126 > 64 columns, K ≫ 8), odd h·w; then with vec4 alignment and batch 2.
fn multi_tile_cases() -> Vec<(Conv2d, bool)> {
    vec![
        (conv([2, 70, 9, 7], 70, [3, 3], 1, 1), true),
        (conv([2, 36, 8, 6], 40, [3, 3], 1, 1), false),
        (conv([1, 33, 11, 6], 70, [3, 3], 2, 1), true),
        (conv([1, 40, 10, 16], 24, [3, 3], 1, 1), false),
    ]
}

/// Weight gradients over several K splits, with each of its entries; the last one also
/// splits the bias gradient. (geometry, with bias, exact data)
fn split_cases() -> Vec<(Conv2d, bool, bool)> {
    vec![
        (conv([2, 3, 20, 20], 4, [3, 3], 1, 1), true, false),
        (conv([2, 2, 19, 21], 5, [3, 3], 1, 1), false, false),
        (conv([8, 3, 20, 6], 4, [3, 3], 1, 1), true, false),
        (conv([2, 1, 64, 64], 2, [1, 1], 1, 0), true, true),
    ]
}

#[test]
fn gpu_matches_cpu_small_shapes() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (i, (g, bias)) in small_cases().into_iter().enumerate() {
        parity(&gpu, g, bias, false, 300 + i as u64);
    }
}

#[test]
fn gpu_matches_cpu_multi_tile() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (i, (g, bias)) in multi_tile_cases().into_iter().enumerate() {
        parity(&gpu, g, bias, false, 400 + i as u64);
    }
}

#[test]
fn gpu_matches_cpu_split_reductions() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (i, (g, bias, exact)) in split_cases().into_iter().enumerate() {
        assert!(weight_splits(&g) > 1, "{g:?}: {} splits", weight_splits(&g));
        parity(&gpu, g, bias, exact, 500 + i as u64);
    }
    let g = split_cases().last().unwrap().0;
    assert!(bias_splits(g.n, g.co, g.ho() * g.wo()) > 1);
}

/// The CPU fast paths (im2col + GEMM, flipped backward-data, col2im, direct loops) on the
/// GPU's cases and on shapes that reach each of their own paths: batch 1 and > 1, channel
/// counts and images that are no multiple of a SIMD width or a block, several pixel blocks
/// per image, one output channel, kernels that are not square.
#[test]
fn cpu_fast_paths_match_reference() {
    let own = [
        (conv([3, 9, 33, 35], 17, [3, 3], 1, 1), true), // several im2col blocks per image
        (conv([1, 40, 70, 70], 24, [3, 3], 1, 1), false), // one image: the product splits
        (conv([2, 2, 20, 21], 1, [7, 7], 1, 3), true),  // one output channel: direct loops
        (conv([5, 16, 1, 1], 12, [1, 1], 1, 0), true),  // a 1×1 MLP on pooled vectors
        (conv([2, 8, 6, 7], 5, [5, 3], 1, 2), false),   // kh ≠ kw: flipped padding per axis
        (conv([3, 7, 9, 9], 6, [3, 3], 1, 1), true),    // the deep levels' 9×9 images
        (conv([2, 6, 10, 9], 4, [3, 3], 1, 0), false),  // no padding
        (conv([1, 5, 12, 12], 9, [4, 4], 2, 1), true),  // even kernel, stride 2: col2im
    ];
    let cases = small_cases().into_iter().chain(multi_tile_cases()).chain(own);
    for (i, (g, bias)) in cases.enumerate() {
        parity(&Cpu, g, bias, false, 600 + i as u64);
    }
    for (i, (g, bias, exact)) in split_cases().into_iter().enumerate() {
        parity(&Cpu, g, bias, exact, 700 + i as u64);
    }
}

/// The shapes above reach every GEMM entry point of the shader, with both tile depths.
#[test]
fn gpu_cases_cover_every_entry() {
    let all: Vec<Conv2d> = small_cases()
        .into_iter()
        .chain(multi_tile_cases())
        .map(|c| c.0)
        .chain(split_cases().into_iter().map(|c| c.0))
        .collect();
    let mut seen = HashSet::new();
    for g in &all {
        seen.insert((forward_entry(g), forward_tiling(g).bk));
        seen.insert((backward_data_entry(g), backward_data_tiling(g).bk));
        seen.insert((weight_plan(g).entry, weight_plan(g).tiling.bk));
    }
    let split_entries: HashSet<_> = split_cases().iter().map(|c| weight_plan(&c.0).entry).collect();
    let mut missing = Vec::new();
    for e in [
        "conv2d_fwd",
        "conv2d_fwd_taps",
        "conv2d_fwd_taps_v4",
        "conv2d_fwd_1x1_v4",
        "conv2d_bwd_data",
        "conv2d_bwd_data_taps",
        "conv2d_bwd_weight",
        "conv2d_bwd_weight_rows",
        "conv2d_bwd_weight_rows_v4",
    ] {
        assert!(SHADER.source.contains(&format!("fn {e}(")), "{e} is not in the shader");
        for bk in [8, 16] {
            if !seen.contains(&(e, bk)) {
                missing.push(format!("{e} with tile depth {bk}"));
            }
        }
        if e.contains("weight") && !split_entries.contains(e) {
            missing.push(format!("{e} with split K"));
        }
    }
    assert!(missing.is_empty(), "no GPU case runs {missing:?}");
}

// ------------------------------------------------------------------ bad input

fn expect_err<T>(r: brine::Result<T>, tensor: &str) {
    match r {
        Ok(_) => panic!("expected an error naming `{tensor}`"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("conv2d") && msg.contains(&format!("`{tensor}`")), "message: {msg}");
        }
    }
}

fn bad_inputs<B: Backend>(be: &B) {
    let g = conv([2, 3, 6, 5], 4, [3, 3], 1, 1);
    let t = |n: usize| be.upload("t", &vec![0.5; n]).unwrap();
    let (x, w, b, dy) = (t(len(g.x_shape())), t(len(g.w_shape())), t(g.co), t(len(g.y_shape())));
    let short = t(7);
    expect_err(be.conv2d_fwd(&g, &short, &w, Some(&b)), "x");
    expect_err(be.conv2d_fwd(&g, &x, &short, Some(&b)), "w");
    expect_err(be.conv2d_fwd(&g, &x, &w, Some(&short)), "b");
    expect_err(be.conv2d_bwd_data(&g, &short, &w), "dy");
    expect_err(be.conv2d_bwd_data(&g, &dy, &short), "w");
    expect_err(be.conv2d_bwd_weight(&g, &short, &dy), "x");
    expect_err(be.conv2d_bwd_weight(&g, &x, &short), "dy");
    expect_err(be.conv2d_bwd_bias(&g, &short), "dy");
    // x and dy swapped: lengths differ, so it is caught too
    expect_err(be.conv2d_bwd_weight(&g, &dy, &x), "x");
    // a hand-made descriptor with stride 0 is a config error, not a panic
    let bad = Conv2d { stride: 0, ..g };
    assert!(be.conv2d_fwd(&bad, &x, &w, None).is_err());
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

#[test]
fn shader_validates() {
    let module =
        naga::front::wgsl::parse_str(SHADER.source).unwrap_or_else(|e| panic!("{}", e.emit_to_string(SHADER.source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(SHADER.source)));
}
