//! batchnorm: CPU gradient checks in f64 (training: x, gamma, beta; eval: x), running-stat
//! semantics, GPU vs CPU parity (split channel reductions, odd sizes, offset data) and
//! bad-input errors on both backends.
mod common;
use brine::cpu::batchnorm as cpu;
use brine::kernels::batchnorm::chunking;
use brine::ops::BatchNorm;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{assert_close, check_vjp, check_vjp_elementwise, to64};

fn randn(n: usize, seed: u64, scale: f64) -> Vec<f32> {
    Rng::new(seed).normal_vec(n, scale)
}

fn len(s: [usize; 4]) -> usize {
    s.iter().product()
}

struct Case {
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
    dy: Vec<f32>,
}

fn case(shape: [usize; 4], seed: u64, offset: f32) -> Case {
    let c = shape[1];
    Case {
        x: randn(len(shape), seed, 2.0).into_iter().map(|v| v + offset).collect(),
        gamma: randn(c, seed + 1, 1.0),
        beta: randn(c, seed + 2, 1.0),
        rm: randn(c, seed + 3, 0.1),
        rv: randn(c, seed + 4, 0.2).into_iter().map(|v| 1.0 + v.abs()).collect(),
        dy: randn(len(shape), seed + 5, 1.0),
    }
}

#[test]
fn cpu_train_gradients_f64() {
    for (t, shape) in [[2, 3, 4, 5], [1, 2, 3, 1], [3, 1, 1, 2], [2, 2, 1, 1]].into_iter().enumerate() {
        let g = BatchNorm::new(shape).unwrap();
        let k = case(shape, 10 * t as u64, 0.5);
        let (x, gamma, beta, dy) = (to64(&k.x), to64(&k.gamma), to64(&k.beta), to64(&k.dy));
        let (rm, rv) = (to64(&k.rm), to64(&k.rv));
        let fwd = |x: &[f64], gamma: &[f64], beta: &[f64]| {
            cpu::train_forward(&g, x, gamma, beta, &mut rm.clone(), &mut rv.clone()).unwrap()
        };
        let (_, mean, invstd) = fwd(&x, &gamma, &beta);
        let (dx, dgamma, dbeta) = cpu::train_backward(&g, &x, &gamma, &mean, &invstd, &dy).unwrap();
        let what = format!("batch_norm_train {shape:?}");
        let fx = |v: &[f64]| fwd(v, &gamma, &beta).0;
        // Directions from a seed of their own: a direction along x itself would leave y unchanged.
        check_vjp(&format!("{what} dx"), fx, &x, &dy, &dx, 777 + t as u64);
        check_vjp_elementwise(&format!("{what} dx"), fx, &x, &dy, &dx);
        let fg = |v: &[f64]| fwd(&x, v, &beta).0;
        check_vjp(&format!("{what} dgamma"), fg, &gamma, &dy, &dgamma, 777 + t as u64);
        check_vjp_elementwise(&format!("{what} dgamma"), fg, &gamma, &dy, &dgamma);
        let fb = |v: &[f64]| fwd(&x, &gamma, v).0;
        check_vjp(&format!("{what} dbeta"), fb, &beta, &dy, &dbeta, 777 + t as u64);
        check_vjp_elementwise(&format!("{what} dbeta"), fb, &beta, &dy, &dbeta);
    }
}

#[test]
fn cpu_eval_gradients_f64() {
    for (t, shape) in [[2, 3, 4, 5], [1, 1, 1, 1], [3, 2, 1, 3]].into_iter().enumerate() {
        let g = BatchNorm::new(shape).unwrap();
        let k = case(shape, 100 + t as u64, 0.5);
        let (x, gamma, beta, dy, rm, rv) =
            (to64(&k.x), to64(&k.gamma), to64(&k.beta), to64(&k.dy), to64(&k.rm), to64(&k.rv));
        let dx = cpu::eval_backward(&g, &gamma, &rv, &dy).unwrap();
        let f = |v: &[f64]| cpu::eval_forward(&g, v, &gamma, &beta, &rm, &rv).unwrap();
        check_vjp("batch_norm_eval dx", f, &x, &dy, &dx, 777 + t as u64);
        check_vjp_elementwise("batch_norm_eval dx", f, &x, &dy, &dx);
    }
}

#[test]
fn cpu_statistics_semantics() {
    // One channel, values 1..=4 over (n, h, w): mean 2.5, biased var 1.25, unbiased 5/3.
    let g = BatchNorm::new([2, 1, 1, 2]).unwrap();
    let x = [1.0, 2.0, 3.0, 4.0f64];
    let (mut rm, mut rv) = (vec![1.0], vec![2.0]);
    let (y, mean, invstd) = cpu::train_forward(&g, &x, &[1.0], &[0.0], &mut rm, &mut rv).unwrap();
    let eps = 1e-5f32 as f64;
    assert!((mean[0] - 2.5).abs() < 1e-15);
    assert!((invstd[0] - 1.0 / (1.25 + eps).sqrt()).abs() < 1e-12);
    assert!((rm[0] - (0.9 * 1.0 + 0.1 * 2.5)).abs() < 1e-7);
    assert!((rv[0] - (0.9 * 2.0 + 0.1 * 5.0 / 3.0)).abs() < 1e-7);
    assert!((y[0] + 1.5 * invstd[0]).abs() < 1e-12);
    // Eval uses the running statistics.
    let ye = cpu::eval_forward(&g, &x, &[2.0], &[1.0], &rm, &rv).unwrap();
    assert!((ye[3] - ((4.0 - rm[0]) / (rv[0] + eps).sqrt() * 2.0 + 1.0)).abs() < 1e-12);
}

#[test]
fn chunks_split_long_channels() {
    assert_eq!(chunking(8 * 256 * 128), (64, 4096));
    assert_eq!(chunking(35), (1, 256));
    for m in [1, 2, 255, 256, 257, 8191, 8192, 8601, 24576, 90300, 16 * 384 * 320, 1 << 22] {
        let (chunks, chunk_len) = chunking(m);
        assert!((1..=256).contains(&chunks) && chunk_len % 256 == 0, "m {m}");
        assert!(chunks * chunk_len >= m && (chunks - 1) * chunk_len < m, "m {m}");
    }
}

/// A backend's four BatchNorm entries against the reference twin's.
fn parity<B: Backend>(be: &B, shape: [usize; 4], offset: f32, seed: u64) {
    let g = BatchNorm::new(shape).unwrap();
    let k = case(shape, seed, offset);
    let what = format!("batchnorm {shape:?} offset {offset} on {}", be.name());
    let up = |v: &[f32]| be.upload("t", v).unwrap();
    let (x, gamma, beta, dy) = (up(&k.x), up(&k.gamma), up(&k.beta), up(&k.dy));

    let (mut rm, mut rv) = (k.rm.clone(), k.rv.clone());
    let (y, mean, invstd) = Reference.batchnorm_train_fwd(&g, &k.x, &k.gamma, &k.beta, &mut rm, &mut rv).unwrap();
    let (mut grm, mut grv) = (up(&k.rm), up(&k.rv));
    let (gy, gmean, ginvstd) = be.batchnorm_train_fwd(&g, &x, &gamma, &beta, &mut grm, &mut grv).unwrap();
    let dl = |t: &B::Tensor| be.download(t).unwrap();
    assert_close(&format!("{what} y"), &dl(&gy), &y, 1e-5);
    assert_close(&format!("{what} mean"), &dl(&gmean), &mean, 1e-5);
    assert_close(&format!("{what} invstd"), &dl(&ginvstd), &invstd, 1e-5);
    assert_close(&format!("{what} running_mean"), &dl(&grm), &rm, 1e-5);
    assert_close(&format!("{what} running_var"), &dl(&grv), &rv, 1e-5);

    let (dx, dgamma, dbeta) = Reference.batchnorm_train_bwd(&g, &k.x, &k.gamma, &mean, &invstd, &k.dy).unwrap();
    let (gdx, gdgamma, gdbeta) = be.batchnorm_train_bwd(&g, &x, &gamma, &gmean, &ginvstd, &dy).unwrap();
    assert_close(&format!("{what} dx"), &dl(&gdx), &dx, 1e-5);
    assert_close(&format!("{what} dgamma"), &dl(&gdgamma), &dgamma, 1e-5);
    assert_close(&format!("{what} dbeta"), &dl(&gdbeta), &dbeta, 1e-5);

    let ye = Reference.batchnorm_eval_fwd(&g, &k.x, &k.gamma, &k.beta, &rm, &rv).unwrap();
    assert_close(
        &format!("{what} eval y"),
        &dl(&be.batchnorm_eval_fwd(&g, &x, &gamma, &beta, &grm, &grv).unwrap()),
        &ye,
        1e-5,
    );
    let dxe = Reference.batchnorm_eval_bwd(&g, &k.gamma, &rv, &k.dy).unwrap();
    assert_close(&format!("{what} eval dx"), &dl(&be.batchnorm_eval_bwd(&g, &gamma, &grv, &dy).unwrap()), &dxe, 1e-5);
}

/// m = 35, 1122, 8601 (2 chunks), 24576 (6 chunks), 4 (h·w = 1), 90300 (22 chunks), and
/// data far from zero (a naive E[x²] − E[x]² would lose it).
const SHAPES: [([usize; 4], f32); 7] = [
    ([1, 3, 5, 7], 0.0),
    ([2, 5, 33, 17], 0.0),
    ([3, 7, 61, 47], 0.0),
    ([2, 3, 128, 96], 0.0),
    ([4, 3, 1, 1], 0.0),
    ([1, 2, 300, 301], 0.0),
    ([2, 3, 64, 65], 30.0),
];

#[test]
fn gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (t, (shape, offset)) in SHAPES.into_iter().enumerate() {
        parity(&gpu, shape, offset, 1000 + 10 * t as u64);
    }
}

/// The CPU fast path (per-channel tasks, shifted two-pass statistics) on the same shapes,
/// a channel count that is no multiple of anything, large offsets, and one channel.
#[test]
fn cpu_fast_path_matches_reference() {
    let own = [([8, 33, 9, 9], 0.0), ([3, 5, 17, 19], 1000.0), ([8, 1, 72, 72], -3.0)];
    for (t, (shape, offset)) in SHAPES.into_iter().chain(own).enumerate() {
        parity(&Cpu, shape, offset, 2000 + 10 * t as u64);
    }
}

/// Statistics of data far from zero against an f64 reference: the GPU's Welford/Chan
/// reduction keeps the variance where a naive E[x²] − E[x]² in f32 would not.
#[test]
fn gpu_variance_of_offset_data() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let shape = [2, 2, 100, 90];
    let g = BatchNorm::new(shape).unwrap();
    let k = case(shape, 7, 1000.0);
    let (mut rm, mut rv) = (to64(&k.rm), to64(&k.rv));
    let (_, mean, invstd) =
        cpu::train_forward(&g, &to64(&k.x), &to64(&k.gamma), &to64(&k.beta), &mut rm, &mut rv).unwrap();
    let (mut grm, mut grv) = (gpu.upload("rm", &k.rm).unwrap(), gpu.upload("rv", &k.rv).unwrap());
    let up = |v: &[f32]| gpu.upload("t", v).unwrap();
    let (_, gmean, ginvstd) =
        gpu.batchnorm_train_fwd(&g, &up(&k.x), &up(&k.gamma), &up(&k.beta), &mut grm, &mut grv).unwrap();
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    assert_close("mean", &gpu.download(&gmean).unwrap(), &f32s(&mean), 1e-6);
    assert_close("invstd", &gpu.download(&ginvstd).unwrap(), &f32s(&invstd), 1e-6);
    assert_close("running_var", &gpu.download(&grv).unwrap(), &f32s(&rv), 1e-6);
}

fn assert_names(r: Result<impl std::fmt::Debug, brine::Error>, tensor: &str) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(&format!("`{tensor}`")), "error `{e}` does not name `{tensor}`");
}

fn bad_inputs_cpu<B: Backend<Tensor = Vec<f32>>>(be: &B) {
    let shape = [2, 3, 2, 2];
    let g = BatchNorm::new(shape).unwrap();
    let k = case(shape, 1, 0.0);
    let (bx, bc) = (randn(23, 2, 1.0), randn(4, 3, 1.0));
    let (mut rm, mut rv) = (k.rm.clone(), k.rv.clone());
    let (mut brm, mut brv) = (bc.clone(), bc.clone());
    assert_names(be.batchnorm_train_fwd(&g, &bx, &k.gamma, &k.beta, &mut rm, &mut rv), "x");
    assert_names(be.batchnorm_train_fwd(&g, &k.x, &bc, &k.beta, &mut rm, &mut rv), "gamma");
    assert_names(be.batchnorm_train_fwd(&g, &k.x, &k.gamma, &bc, &mut rm, &mut rv), "beta");
    assert_names(be.batchnorm_train_fwd(&g, &k.x, &k.gamma, &k.beta, &mut brm, &mut rv), "running_mean");
    assert_names(be.batchnorm_train_fwd(&g, &k.x, &k.gamma, &k.beta, &mut rm, &mut brv), "running_var");
    let (c3, c3b) = (k.rm.clone(), k.rv.clone());
    assert_names(be.batchnorm_train_bwd(&g, &bx, &k.gamma, &c3, &c3b, &k.dy), "x");
    assert_names(be.batchnorm_train_bwd(&g, &k.x, &bc, &c3, &c3b, &k.dy), "gamma");
    assert_names(be.batchnorm_train_bwd(&g, &k.x, &k.gamma, &bc, &c3b, &k.dy), "mean");
    assert_names(be.batchnorm_train_bwd(&g, &k.x, &k.gamma, &c3, &bc, &k.dy), "invstd");
    assert_names(be.batchnorm_train_bwd(&g, &k.x, &k.gamma, &c3, &c3b, &bx), "dy");
    assert_names(be.batchnorm_eval_fwd(&g, &bx, &k.gamma, &k.beta, &rm, &rv), "x");
    assert_names(be.batchnorm_eval_fwd(&g, &k.x, &k.gamma, &k.beta, &rm, &bc), "running_var");
    assert_names(be.batchnorm_eval_bwd(&g, &bc, &rv, &k.dy), "gamma");
    assert_names(be.batchnorm_eval_bwd(&g, &k.gamma, &rv, &bx), "dy");
    // Training with one value per channel is refused (as PyTorch does); eval is fine.
    let g1 = BatchNorm::new([1, 3, 1, 1]).unwrap();
    let x1 = randn(3, 4, 1.0);
    let e = be.batchnorm_train_fwd(&g1, &x1, &k.gamma, &k.beta, &mut rm, &mut rv).unwrap_err();
    assert!(matches!(e, brine::Error::Config { .. }), "{e}");
    assert!(be.batchnorm_train_bwd(&g1, &x1, &k.gamma, &c3, &c3b, &x1).is_err());
    assert!(be.batchnorm_eval_fwd(&g1, &x1, &k.gamma, &k.beta, &rm, &rv).is_ok());
}

#[test]
fn bad_inputs_are_errors() {
    bad_inputs_cpu(&Cpu);
    bad_inputs_cpu(&Reference);
    let shape = [2, 3, 2, 2];
    let g = BatchNorm::new(shape).unwrap();
    let k = case(shape, 1, 0.0);
    let (bx, bc) = (randn(23, 2, 1.0), randn(4, 3, 1.0));
    let g1 = BatchNorm::new([1, 3, 1, 1]).unwrap();
    let x1 = randn(3, 4, 1.0);
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let up = |v: &[f32]| gpu.upload("t", v).unwrap();
    let (x, gamma, beta, dy, c) = (up(&k.x), up(&k.gamma), up(&k.beta), up(&k.dy), up(&k.rm));
    let (bxg, bcg) = (up(&bx), up(&bc));
    let (mut grm, mut grv, mut bad) = (up(&k.rm), up(&k.rv), up(&bc));
    assert_names(gpu.batchnorm_train_fwd(&g, &bxg, &gamma, &beta, &mut grm, &mut grv), "x");
    assert_names(gpu.batchnorm_train_fwd(&g, &x, &bcg, &beta, &mut grm, &mut grv), "gamma");
    assert_names(gpu.batchnorm_train_fwd(&g, &x, &gamma, &bcg, &mut grm, &mut grv), "beta");
    assert_names(gpu.batchnorm_train_fwd(&g, &x, &gamma, &beta, &mut bad, &mut grv), "running_mean");
    assert_names(gpu.batchnorm_train_fwd(&g, &x, &gamma, &beta, &mut grm, &mut bad), "running_var");
    assert_names(gpu.batchnorm_train_bwd(&g, &bxg, &gamma, &c, &c, &dy), "x");
    assert_names(gpu.batchnorm_train_bwd(&g, &x, &bcg, &c, &c, &dy), "gamma");
    assert_names(gpu.batchnorm_train_bwd(&g, &x, &gamma, &bcg, &c, &dy), "mean");
    assert_names(gpu.batchnorm_train_bwd(&g, &x, &gamma, &c, &bcg, &dy), "invstd");
    assert_names(gpu.batchnorm_train_bwd(&g, &x, &gamma, &c, &c, &bxg), "dy");
    assert_names(gpu.batchnorm_eval_fwd(&g, &bxg, &gamma, &beta, &grm, &grv), "x");
    assert_names(gpu.batchnorm_eval_fwd(&g, &x, &gamma, &beta, &grm, &bcg), "running_var");
    assert_names(gpu.batchnorm_eval_bwd(&g, &bcg, &grv, &dy), "gamma");
    assert_names(gpu.batchnorm_eval_bwd(&g, &gamma, &grv, &bxg), "dy");
    let x1g = up(&x1);
    let e = gpu.batchnorm_train_fwd(&g1, &x1g, &gamma, &beta, &mut grm, &mut grv).unwrap_err();
    assert!(matches!(e, brine::Error::Config { .. }), "{e}");
    assert!(gpu.batchnorm_train_bwd(&g1, &x1g, &gamma, &c, &c, &x1g).is_err());
}
