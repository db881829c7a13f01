//! sigmoid gate: CPU gradient checks in f64 for x and z in all four broadcasts, GPU vs CPU
//! parity on odd shapes and bad-input errors on both backends.
mod common;
use brine::cpu::gate as cpu;
use brine::ops::{Broadcast, Gate};
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{assert_close, check_vjp, check_vjp_elementwise, to64};

const MODES: [Broadcast; 4] = [Broadcast::Channel, Broadcast::Spatial, Broadcast::Row, Broadcast::Col];

fn randn(n: usize, seed: u64, scale: f64) -> Vec<f32> {
    Rng::new(seed).normal_vec(n, scale)
}

fn len(s: [usize; 4]) -> usize {
    s.iter().product()
}

#[test]
fn cpu_gradients_f64() {
    for (t, shape) in [[2, 3, 4, 5], [1, 2, 3, 1], [2, 1, 1, 3]].into_iter().enumerate() {
        for (m, mode) in MODES.into_iter().enumerate() {
            let g = Gate::new(shape, mode).unwrap();
            let seed = 10 * t as u64 + m as u64;
            let x = to64(&randn(len(shape), seed, 1.0));
            let z = to64(&randn(len(g.z_shape()), seed + 100, 2.0));
            let dy = to64(&randn(len(shape), seed + 200, 1.0));
            let (dx, dz) = cpu::backward(&g, &x, &z, &dy).unwrap();
            let what = format!("gate {mode:?} {shape:?}");
            let fx = |x: &[f64]| cpu::forward(&g, x, &z).unwrap();
            check_vjp(&format!("{what} dx"), fx, &x, &dy, &dx, seed);
            check_vjp_elementwise(&format!("{what} dx"), fx, &x, &dy, &dx);
            let fz = |z: &[f64]| cpu::forward(&g, &x, z).unwrap();
            check_vjp(&format!("{what} dz"), fz, &z, &dy, &dz, seed);
            check_vjp_elementwise(&format!("{what} dz"), fz, &z, &dy, &dz);
        }
    }
}

#[test]
fn broadcast_layout() {
    // x all ones and z = 0 except one element: exactly the elements it gates change.
    let shape = [2, 3, 4, 5];
    for mode in MODES {
        let g = Gate::new(shape, mode).unwrap();
        let mut z = vec![0.0f64; len(g.z_shape())];
        let zl = z.len();
        z[zl - 1] = 1e3;
        let y = cpu::forward(&g, &vec![1.0; len(shape)], &z).unwrap();
        let ones = y.iter().filter(|&&v| v == 1.0).count();
        let want = len(shape) / zl;
        assert_eq!(ones, want, "{mode:?}");
        assert_eq!(y[len(shape) - 1], 1.0, "{mode:?}");
        assert!(y.iter().all(|&v| v == 1.0 || v == 0.5), "{mode:?}");
    }
}

const SHAPES: [[usize; 4]; 6] =
    [[1, 3, 5, 7], [2, 5, 33, 17], [3, 1, 9, 1], [1, 16, 8, 8], [2, 3, 70, 60], [1, 2, 1, 3000]];

#[test]
fn gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    parity(&Gpu::new(ctx), &SHAPES);
}

/// The CPU fast path (sigmoid once per z, per-plane tasks) on the same shapes and on the
/// U-Net's: CBAM's channel and spatial gates, coordinate attention's rows and columns.
#[test]
fn cpu_fast_path_matches_reference() {
    brine::fast::buffers::poison(true);
    parity(&Cpu, &SHAPES);
    parity(&Cpu, &[[8, 32, 72, 72], [8, 17, 9, 9]]);
}

/// Both directions of every broadcast on `gpu` against the reference twin.
fn parity<B: Backend>(gpu: &B, shapes: &[[usize; 4]]) {
    for (t, &shape) in shapes.iter().enumerate() {
        for (m, mode) in MODES.into_iter().enumerate() {
            let g = Gate::new(shape, mode).unwrap();
            let seed = 1000 + 10 * t as u64 + m as u64;
            let x = randn(len(shape), seed, 1.0);
            let z = randn(len(g.z_shape()), seed + 1, 2.0);
            let dy = randn(len(shape), seed + 2, 1.0);
            let what = format!("gate {mode:?} {shape:?}");
            let (xg, zg, dyg) =
                (gpu.upload("x", &x).unwrap(), gpu.upload("z", &z).unwrap(), gpu.upload("dy", &dy).unwrap());
            let y = Reference.gate_fwd(&g, &x, &z).unwrap();
            assert_close(&format!("{what} y"), &gpu.download(&gpu.gate_fwd(&g, &xg, &zg).unwrap()).unwrap(), &y, 1e-5);
            let (dx, dz) = Reference.gate_bwd(&g, &x, &z, &dy).unwrap();
            let (gdx, gdz) = gpu.gate_bwd(&g, &xg, &zg, &dyg).unwrap();
            assert_close(&format!("{what} dx"), &gpu.download(&gdx).unwrap(), &dx, 1e-5);
            assert_close(&format!("{what} dz"), &gpu.download(&gdz).unwrap(), &dz, 1e-5);
        }
    }
}

fn assert_names(r: Result<impl std::fmt::Debug, brine::Error>, tensor: &str) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(&format!("`{tensor}`")), "error `{e}` does not name `{tensor}`");
}

#[test]
fn bad_inputs_are_errors() {
    assert!(Broadcast::parse("diagonal").is_err());
    let shape = [1, 2, 3, 4];
    let g = Gate::new(shape, Broadcast::Row).unwrap(); // z [1, 2, 3, 1]
    let (x, z, dy) = (randn(24, 1, 1.0), randn(6, 2, 1.0), randn(24, 3, 1.0));
    let (bx, bz) = (randn(23, 4, 1.0), randn(8, 5, 1.0));
    assert_names(Cpu.gate_fwd(&g, &bx, &z), "x");
    assert_names(Cpu.gate_fwd(&g, &x, &bz), "z");
    assert_names(Cpu.gate_bwd(&g, &bx, &z, &dy), "x");
    assert_names(Cpu.gate_bwd(&g, &x, &bz, &dy), "z");
    assert_names(Cpu.gate_bwd(&g, &x, &z, &bx), "dy");
    assert_names(Reference.gate_fwd(&g, &bx, &z), "x");
    assert_names(Reference.gate_bwd(&g, &x, &z, &bx), "dy");
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let up = |v: &[f32]| gpu.upload("t", v).unwrap();
    assert_names(gpu.gate_fwd(&g, &up(&bx), &up(&z)), "x");
    assert_names(gpu.gate_fwd(&g, &up(&x), &up(&bz)), "z");
    assert_names(gpu.gate_bwd(&g, &up(&bx), &up(&z), &up(&dy)), "x");
    assert_names(gpu.gate_bwd(&g, &up(&x), &up(&bz), &up(&dy)), "z");
    assert_names(gpu.gate_bwd(&g, &up(&x), &up(&z), &up(&bx)), "dy");
}
