//! max_pool2d: CPU gradient checks in f64, the first-maximum tie rule, GPU vs CPU parity
//! (odd sizes, floor mode) and bad-input errors on both backends.
mod common;
use brine::cpu::pool as cpu;
use brine::ops::Pool2d;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{check_vjp, check_vjp_elementwise, to64};

fn randn(n: usize, seed: u64) -> Vec<f32> {
    Rng::new(seed).normal_vec(n, 1.0)
}

fn relu(v: Vec<f32>) -> Vec<f32> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

#[test]
fn cpu_gradients_f64() {
    for (t, shape) in [[1, 1, 4, 4], [2, 3, 5, 7], [1, 2, 3, 2]].into_iter().enumerate() {
        let g = Pool2d::new(shape).unwrap();
        let n: usize = shape.iter().product();
        // Distinct values, far apart compared with the finite-difference step.
        let x: Vec<f64> = (0..n).map(|i| ((i * 53) % n) as f64 * 0.01 - 0.3).collect();
        let dy = to64(&randn(g.y_shape().iter().product(), 10 + t as u64));
        let (_, idx) = cpu::forward(&g, &x).unwrap();
        let grad = cpu::backward(&g, &dy, &idx).unwrap();
        let f = |x: &[f64]| cpu::forward(&g, x).unwrap().0;
        check_vjp(&format!("max_pool2d {shape:?}"), f, &x, &dy, &grad, t as u64);
        check_vjp_elementwise(&format!("max_pool2d {shape:?}"), f, &x, &dy, &grad);
    }
}

#[test]
fn floor_mode_and_values() {
    // 1×1×3×5: one row of two windows; the last row and column are dropped.
    let g = Pool2d::new([1, 1, 3, 5]).unwrap();
    assert_eq!(g.y_shape(), [1, 1, 1, 2]);
    #[rustfmt::skip]
    let x = vec![
        1.0, 2.0, 0.0, 0.0, 9.0,
        4.0, 3.0, 0.0, 0.0, 9.0,
        9.0, 9.0, 9.0, 9.0, 9.0f32,
    ];
    let (y, idx) = Cpu.max_pool2d_fwd(&g, &x).unwrap();
    assert_eq!(y, vec![4.0, 0.0]);
    assert_eq!(idx, vec![5, 2]);
    let dx = Cpu.max_pool2d_bwd(&g, &vec![1.5, -2.0], &idx).unwrap();
    let mut want = vec![0.0f32; 15];
    want[5] = 1.5;
    want[2] = -2.0;
    assert_eq!(dx, want);
    if let Some(ctx) = common::gpu() {
        let gpu = Gpu::new(ctx);
        let (gy, gidx) = gpu.max_pool2d_fwd(&g, &gpu.upload("x", &x).unwrap()).unwrap();
        assert_eq!(gpu.download(&gy).unwrap(), y);
        assert_eq!(ctx.read::<u32>(&gidx).unwrap(), idx);
        let gdx = gpu.max_pool2d_bwd(&g, &gpu.upload("dy", &[1.5, -2.0]).unwrap(), &gidx).unwrap();
        assert_eq!(gpu.download(&gdx).unwrap(), want);
    }
}

/// Index of the first maximum of each window, in row-major window order.
fn first_max(g: &Pool2d, x: &[f32]) -> Vec<u32> {
    let [n, c, h, w] = g.x_shape();
    let mut idx = Vec::new();
    for p in 0..n * c {
        for oh in 0..h / 2 {
            for ow in 0..w / 2 {
                let b = p * h * w + 2 * oh * w + 2 * ow;
                let win = [b, b + 1, b + w, b + w + 1];
                let m = win.iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max);
                idx.push(*win.iter().find(|&&i| x[i] == m).unwrap() as u32);
            }
        }
    }
    idx
}

#[test]
fn tie_rule_first_maximum() {
    let gpu = common::gpu().map(Gpu::new);
    let g = Pool2d::new([2, 3, 7, 9]).unwrap();
    let n: usize = g.x_shape().iter().product();
    // ReLU'd and coarsely rounded: many all-zero windows and ties between positive values.
    let x: Vec<f32> = relu(randn(n, 5)).iter().map(|v| (v * 2.0).floor()).collect();
    // And one window whose four values are equal and positive.
    let mut x = x;
    for i in [0, 1, 9, 10] {
        x[i] = 3.0;
    }
    let want = first_max(&g, &x);
    assert_eq!(want[0], 0);
    let (_, idx) = Cpu.max_pool2d_fwd(&g, &x).unwrap();
    assert_eq!(idx, want);
    assert_eq!(Reference.max_pool2d_fwd(&g, &x).unwrap().1, want);
    let dy = randn(want.len(), 6);
    let dx = Cpu.max_pool2d_bwd(&g, &dy, &idx).unwrap();
    assert_eq!(Reference.max_pool2d_bwd(&g, &dy, &idx).unwrap(), dx);
    let mut dx_want = vec![0.0f32; n];
    for (o, &i) in want.iter().enumerate() {
        dx_want[i as usize] = dy[o];
    }
    assert_eq!(dx, dx_want);
    if let Some(gpu) = gpu {
        let (_, gidx) = gpu.max_pool2d_fwd(&g, &gpu.upload("x", &x).unwrap()).unwrap();
        assert_eq!(gpu.context().read::<u32>(&gidx).unwrap(), want);
        let gdx = gpu.max_pool2d_bwd(&g, &gpu.upload("dy", &dy).unwrap(), &gidx).unwrap();
        assert_eq!(gpu.download(&gdx).unwrap(), dx_want);
    }
}

const SHAPES: [[usize; 4]; 6] =
    [[1, 1, 2, 2], [1, 3, 5, 7], [2, 5, 33, 17], [3, 7, 16, 12], [1, 2, 130, 67], [4, 1, 2, 301]];

/// The CPU fast path (per-plane tasks) equals the twin exactly, ties included.
#[test]
fn cpu_fast_path_matches_reference() {
    brine::fast::buffers::poison(true);
    for (t, shape) in SHAPES.into_iter().chain([[8, 32, 72, 72], [8, 33, 9, 9]]).enumerate() {
        let g = Pool2d::new(shape).unwrap();
        let x = randn(shape.iter().product(), 500 + t as u64);
        let dy = randn(g.y_shape().iter().product(), 600 + t as u64);
        for (k, x) in [x.clone(), relu(x)].into_iter().enumerate() {
            let (y, idx) = Reference.max_pool2d_fwd(&g, &x).unwrap();
            assert_eq!(Cpu.max_pool2d_fwd(&g, &x).unwrap(), (y, idx.clone()), "fwd {shape:?} ({k})");
            let want = Reference.max_pool2d_bwd(&g, &dy, &idx).unwrap();
            assert_eq!(Cpu.max_pool2d_bwd(&g, &dy, &idx).unwrap(), want, "bwd {shape:?} ({k})");
        }
    }
}

#[test]
fn gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (t, shape) in SHAPES.into_iter().enumerate() {
        let g = Pool2d::new(shape).unwrap();
        let n: usize = shape.iter().product();
        let x = randn(n, 100 + t as u64);
        let dy = randn(g.y_shape().iter().product(), 200 + t as u64);
        let dyg = gpu.upload("dy", &dy).unwrap();
        for (k, x) in [x.clone(), relu(x)].into_iter().enumerate() {
            let (y, idx) = Reference.max_pool2d_fwd(&g, &x).unwrap();
            let (gy, gidx) = gpu.max_pool2d_fwd(&g, &gpu.upload("x", &x).unwrap()).unwrap();
            assert_eq!(gpu.download(&gy).unwrap(), y, "y {shape:?} ({k})");
            assert_eq!(ctx.read::<u32>(&gidx).unwrap(), idx, "idx {shape:?} ({k})");
            let dx = Reference.max_pool2d_bwd(&g, &dy, &idx).unwrap();
            assert_eq!(gpu.download(&gpu.max_pool2d_bwd(&g, &dyg, &gidx).unwrap()).unwrap(), dx, "dx {shape:?} ({k})");
        }
    }
}

fn assert_names(r: Result<impl std::fmt::Debug, brine::Error>, tensor: &str) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(&format!("`{tensor}`")), "error `{e}` does not name `{tensor}`");
}

#[test]
fn bad_inputs_are_errors() {
    assert!(Pool2d::new([1, 1, 1, 4]).is_err());
    let g = Pool2d::new([1, 2, 4, 5]).unwrap(); // y [1, 2, 2, 2]
    let x = randn(39, 1);
    assert_names(Cpu.max_pool2d_fwd(&g, &x), "x");
    assert_names(Cpu.max_pool2d_bwd(&g, &randn(7, 2), &vec![0; 8]), "dy");
    assert_names(Cpu.max_pool2d_bwd(&g, &randn(8, 2), &vec![0; 9]), "idx");
    // An index outside its window.
    assert_names(Cpu.max_pool2d_bwd(&g, &randn(8, 2), &vec![0; 8]), "idx");
    assert_names(Reference.max_pool2d_bwd(&g, &randn(8, 2), &vec![0; 8]), "idx");
    assert_names(Reference.max_pool2d_fwd(&g, &x), "x");
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    assert_names(gpu.max_pool2d_fwd(&g, &gpu.upload("x", &x).unwrap()), "x");
    let idx8 = ctx.upload::<u32>("idx", &[0; 8]).unwrap();
    assert_names(gpu.max_pool2d_bwd(&g, &gpu.upload("dy", &randn(7, 2)).unwrap(), &idx8), "dy");
    let idx9 = ctx.upload::<u32>("idx", &[0; 9]).unwrap();
    assert_names(gpu.max_pool2d_bwd(&g, &gpu.upload("dy", &randn(8, 2)).unwrap(), &idx9), "idx");
}
