//! reduce: CPU gradient checks in f64, the first-maximum tie rule, GPU vs CPU parity on
//! many shapes (both launch regimes), and bad-input errors on both backends.
mod common;
use brine::cpu::reduce as cpu;
use brine::kernels::reduce::plan;
use brine::ops::Reduce;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu, Reference};
use common::{assert_close, check_vjp, check_vjp_elementwise, to64};

const DIMS: [&[usize]; 6] = [&[2, 3], &[3], &[2], &[1], &[1, 2], &[1, 2, 3]];

fn randn(n: usize, seed: u64) -> Vec<f32> {
    Rng::new(seed).normal_vec(n, 1.0)
}

fn relu(v: Vec<f32>) -> Vec<f32> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

#[test]
fn cpu_mean_gradients_f64() {
    let shape = [2, 3, 4, 5];
    for (t, dims) in DIMS.iter().enumerate() {
        let g = Reduce::over_dims(shape, dims).unwrap();
        let x = to64(&randn(g.x_len(), 10 + t as u64));
        let dy = to64(&randn(g.y_len(), 20 + t as u64));
        let grad = cpu::mean_backward(&g, &dy).unwrap();
        let f = |x: &[f64]| cpu::mean_forward(&g, x).unwrap();
        check_vjp(&format!("mean over {dims:?}"), f, &x, &dy, &grad, t as u64);
        check_vjp_elementwise(&format!("mean over {dims:?}"), f, &x, &dy, &grad);
    }
}

#[test]
fn cpu_max_gradients_f64() {
    let shape = [2, 3, 4, 5];
    for (t, dims) in DIMS.iter().enumerate() {
        let g = Reduce::over_dims(shape, dims).unwrap();
        // Distinct values (no ties), spaced far beyond the finite-difference step.
        let mut x: Vec<f64> = (0..g.x_len()).map(|i| ((i * 37) % g.x_len()) as f64 * 0.01 - 0.5).collect();
        let u = to64(&randn(g.x_len(), 30 + t as u64));
        x.iter_mut().zip(&u).for_each(|(a, b)| *a += 1e-4 * b);
        let dy = to64(&randn(g.y_len(), 40 + t as u64));
        let (_, idx) = cpu::max_forward(&g, &x).unwrap();
        let grad = cpu::max_backward(&g, &dy, &idx).unwrap();
        let f = |x: &[f64]| cpu::max_forward(&g, x).unwrap().0;
        check_vjp(&format!("max over {dims:?}"), f, &x, &dy, &grad, t as u64);
        check_vjp_elementwise(&format!("max over {dims:?}"), f, &x, &dy, &grad);
    }
}

#[test]
fn cpu_sum_scales() {
    let g = Reduce::new(2, 3, 2).unwrap();
    let x: Vec<f64> = (0..12).map(|i| i as f64).collect();
    // y[o, i] = 0.5 · Σ_k x[o, k, i]
    assert_eq!(cpu::sum(&g, &x, 0.5).unwrap(), vec![3.0, 4.5, 12.0, 13.5]);
    assert_eq!(cpu::mean_forward(&g, &x).unwrap(), vec![2.0, 3.0, 8.0, 9.0]);
}

/// Rows with ties: the gradient goes to the first maximal element.
fn tie_cases() -> Vec<(Reduce, Vec<f32>)> {
    let mut cases = Vec::new();
    // Short rows with explicit ties, inner == 1.
    let g = Reduce::new(4, 4, 1).unwrap();
    cases.push((g, vec![0.0, 3.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -1.0, -5.0, 2.0, 2.0, 2.0, 2.0]));
    // Long rows (many threads per row): the maximum at several positions, and all zeros.
    let r = 5000;
    let g = Reduce::new(3, r, 1).unwrap();
    let mut x = relu(randn(3 * r, 7)).iter().map(|v| v.min(1.0)).collect::<Vec<f32>>();
    x[..r].iter_mut().for_each(|v| *v = v.min(0.5));
    for k in [4000, 100, 2500, 4999] {
        x[k] = 2.0;
    }
    x[r..2 * r].iter_mut().for_each(|v| *v = 0.0);
    cases.push((g, x));
    // One long row, chunked over several workgroups: the maximum sits in several chunks.
    let r = 40_000;
    let g = Reduce::new(1, r, 1).unwrap();
    assert!(plan(&g).chunks > 2);
    let mut x = vec![0.0f32; r];
    for k in [39_999, 30_000, 9_000] {
        x[k] = 1.0;
    }
    cases.push((g, x));
    // inner > 1 and chunked, all equal.
    let g = Reduce::new(1, 3000, 3).unwrap();
    assert!(plan(&g).chunks > 1);
    cases.push((g, vec![0.25; g.x_len()]));
    // inner > 1 with r split over threads: ties along r for every i.
    let g = Reduce::new(2, 300, 5).unwrap();
    let x = (0..g.x_len()).map(|e| ((e / 5) % 300 % 7 == 3) as u32 as f32).collect();
    cases.push((g, x));
    // Channel max after ReLU (dims [1]).
    let g = Reduce::over_dims([2, 9, 5, 3], &[1]).unwrap();
    cases.push((g, relu(randn(g.x_len(), 8)).iter().map(|v| (v * 2.0).floor()).collect()));
    cases
}

fn first_max(g: &Reduce, x: &[f32]) -> Vec<u32> {
    let mut idx = Vec::new();
    for o in 0..g.outer {
        for i in 0..g.inner {
            let row: Vec<f32> = (0..g.r).map(|k| x[(o * g.r + k) * g.inner + i]).collect();
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            idx.push(row.iter().position(|&v| v == m).unwrap() as u32);
        }
    }
    idx
}

#[test]
fn tie_rule_first_maximum() {
    let gpu = common::gpu().map(Gpu::new);
    for (t, (g, x)) in tie_cases().into_iter().enumerate() {
        let want = first_max(&g, &x);
        let (_, idx) = Cpu.reduce_max_fwd(&g, &x).unwrap();
        assert_eq!(idx, want, "cpu case {t}");
        assert_eq!(Reference.reduce_max_fwd(&g, &x).unwrap().1, want, "reference case {t}");
        let dy = randn(g.y_len(), 50 + t as u64);
        let dx = Cpu.reduce_max_bwd(&g, &dy, &idx).unwrap();
        assert_eq!(Reference.reduce_max_bwd(&g, &dy, &idx).unwrap(), dx, "reference case {t}");
        for o in 0..g.outer {
            for i in 0..g.inner {
                let j = o * g.inner + i;
                for k in 0..g.r {
                    let v = dx[(o * g.r + k) * g.inner + i];
                    assert_eq!(v, if k == want[j] as usize { dy[j] } else { 0.0 }, "cpu case {t}");
                }
            }
        }
        if let Some(gpu) = &gpu {
            let xg = gpu.upload("x", &x).unwrap();
            let (_, gidx) = gpu.reduce_max_fwd(&g, &xg).unwrap();
            assert_eq!(gpu.context().read::<u32>(&gidx).unwrap(), want, "gpu case {t}");
            let gdx = gpu.reduce_max_bwd(&g, &gpu.upload("dy", &dy).unwrap(), &gidx).unwrap();
            assert_eq!(gpu.download(&gdx).unwrap(), dx, "gpu case {t}");
        }
    }
}

fn parity_geometries() -> Vec<Reduce> {
    let mut v = Vec::new();
    for shape in [[1, 3, 5, 7], [2, 5, 33, 17], [1, 4, 64, 80], [3, 7, 1, 1], [2, 1, 9, 1]] {
        for dims in DIMS {
            v.push(Reduce::over_dims(shape, dims).unwrap());
        }
    }
    for (o, r, i) in [(2, 3000, 1), (1, 4000, 3), (2, 2, 1000), (5, 300, 33), (1, 1, 1), (700, 1, 1), (1, 70_000, 1)] {
        v.push(Reduce::new(o, r, i).unwrap());
    }
    v
}

#[test]
fn gpu_matches_cpu() {
    // Both launch regimes, chunked and not, are among the shapes.
    let plans: Vec<_> = parity_geometries().iter().map(plan).collect();
    assert!(plans.iter().filter(|p| p.chunks > 1 && p.lx_fast).count() >= 2);
    assert!(plans.iter().filter(|p| p.chunks > 1 && !p.lx_fast).count() >= 2);
    assert!(plans.iter().filter(|p| p.chunks == 1 && p.lx_fast && p.split > 1).count() >= 2);
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    for (t, g) in parity_geometries().into_iter().enumerate() {
        let what = format!("{g:?}");
        let seed = 100 + 10 * t as u64;
        let x = randn(g.x_len(), seed);
        let dy = randn(g.y_len(), seed + 1);
        let xg = gpu.upload("x", &x).unwrap();
        let dyg = gpu.upload("dy", &dy).unwrap();

        let y = Reference.reduce_mean_fwd(&g, &x).unwrap();
        assert_close(
            &format!("mean fwd {what}"),
            &gpu.download(&gpu.reduce_mean_fwd(&g, &xg).unwrap()).unwrap(),
            &y,
            1e-5,
        );
        let dx = Reference.reduce_mean_bwd(&g, &dy).unwrap();
        let gdx = gpu.download(&gpu.reduce_mean_bwd(&g, &dyg).unwrap()).unwrap();
        assert_close(&format!("mean bwd {what}"), &gdx, &dx, 1e-5);

        let sc = brine::cpu::reduce::sum(&g, &x, 0.25f32).unwrap();
        let gs = ctx.read::<f32>(&{
            let mut r = ctx.recorder();
            let s = brine::kernels::reduce::sum(&mut r, &g, &xg, 0.25).unwrap();
            r.submit().unwrap();
            s
        });
        assert_close(&format!("sum {what}"), &gs.unwrap(), &sc, 1e-5);

        // Plain normals, then ReLU'd ones (ties at zero).
        for (k, x) in [x.clone(), relu(x)].into_iter().enumerate() {
            let xg = gpu.upload("x", &x).unwrap();
            let (y, idx) = Reference.reduce_max_fwd(&g, &x).unwrap();
            let (gy, gidx) = gpu.reduce_max_fwd(&g, &xg).unwrap();
            assert_eq!(gpu.download(&gy).unwrap(), y, "max fwd {what} ({k})");
            assert_eq!(ctx.read::<u32>(&gidx).unwrap(), idx, "max idx {what} ({k})");
            let dx = Reference.reduce_max_bwd(&g, &dy, &idx).unwrap();
            assert_eq!(gpu.download(&gpu.reduce_max_bwd(&g, &dyg, &gidx).unwrap()).unwrap(), dx, "max bwd {what}");
        }
    }
}

/// The CPU fast paths (row reductions in 16 lanes, row-wise accumulation otherwise) on the
/// same geometries and the U-Net's pooled shapes: maxima and their indices exactly, means
/// to f32 rounding of the order of summation.
#[test]
fn cpu_fast_paths_match_reference() {
    brine::fast::buffers::poison(true);
    let unet = [[8, 32, 72, 72], [8, 256, 9, 9], [8, 64, 36, 36]].into_iter();
    let geometries = parity_geometries()
        .into_iter()
        .chain(unet.flat_map(|s| DIMS.iter().map(move |d| Reduce::over_dims(s, d).unwrap())));
    for (t, g) in geometries.enumerate() {
        let what = format!("{g:?}");
        let x = randn(g.x_len(), 300 + t as u64);
        let dy = randn(g.y_len(), 400 + t as u64);
        assert_close(
            &format!("mean fwd {what}"),
            &Cpu.reduce_mean_fwd(&g, &x).unwrap(),
            &Reference.reduce_mean_fwd(&g, &x).unwrap(),
            1e-6,
        );
        assert_close(
            &format!("mean bwd {what}"),
            &Cpu.reduce_mean_bwd(&g, &dy).unwrap(),
            &Reference.reduce_mean_bwd(&g, &dy).unwrap(),
            1e-6,
        );
        for (k, x) in [x.clone(), relu(x)].into_iter().enumerate() {
            let (y, idx) = Reference.reduce_max_fwd(&g, &x).unwrap();
            assert_eq!(Cpu.reduce_max_fwd(&g, &x).unwrap(), (y, idx.clone()), "max fwd {what} ({k})");
            assert_eq!(
                Cpu.reduce_max_bwd(&g, &dy, &idx).unwrap(),
                Reference.reduce_max_bwd(&g, &dy, &idx).unwrap(),
                "max bwd {what} ({k})"
            );
        }
    }
}

#[test]
fn plans_fill_the_workgroup() {
    let mut geoms = parity_geometries();
    geoms.extend(tie_cases().into_iter().map(|(g, _)| g));
    for (o, r, i) in [(1, 1 << 24, 1), (1, 1 << 22, 2), (3, 1 << 20, 40), (256, 32768, 1), (8, 32, 32768)] {
        geoms.push(Reduce::new(o, r, i).unwrap());
    }
    for g in geoms {
        let p = plan(&g);
        assert_eq!(p.tile_x * p.split, 256, "{g:?}: {p:?}");
        assert!(p.chunk_len.is_multiple_of(p.split) && p.chunk_len / p.split <= 4096, "{g:?}: {p:?}");
        assert!(p.chunks * p.chunk_len >= g.r && (p.chunks - 1) * p.chunk_len < g.r, "{g:?}: {p:?}");
    }
    // Global pooling at the bench shape: a row per workgroup, each row in 4 chunks.
    let p = plan(&Reduce::over_dims([8, 32, 256, 128], &[2, 3]).unwrap());
    assert_eq!((p.tile_x, p.split, p.chunks), (1, 256, 4));
    // Channel mean over C: outputs across lanes, r not chunked.
    let p = plan(&Reduce::over_dims([8, 32, 256, 128], &[1]).unwrap());
    assert!(p.lx_fast && p.chunks == 1);
}

fn assert_names(r: Result<impl std::fmt::Debug, brine::Error>, tensor: &str) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(&format!("`{tensor}`")), "error `{e}` does not name `{tensor}`");
}

fn bad_inputs_cpu<B: Backend<Tensor = Vec<f32>, Index = Vec<u32>>>(be: &B) {
    let g = Reduce::new(2, 3, 4).unwrap();
    let (x, dy) = (randn(23, 1), randn(7, 2));
    assert_names(be.reduce_mean_fwd(&g, &x), "x");
    assert_names(be.reduce_max_fwd(&g, &x), "x");
    assert_names(be.reduce_mean_bwd(&g, &dy), "dy");
    assert_names(be.reduce_max_bwd(&g, &dy, &vec![0; 8]), "dy");
    assert_names(be.reduce_max_bwd(&g, &randn(8, 3), &vec![0; 9]), "idx");
    assert_names(be.reduce_max_bwd(&g, &randn(8, 3), &vec![3; 8]), "idx");
}

#[test]
fn bad_inputs_are_errors() {
    bad_inputs_cpu(&Cpu);
    bad_inputs_cpu(&Reference);
    let g = Reduce::new(2, 3, 4).unwrap();
    let x = randn(23, 1);
    let dy = randn(7, 2);
    assert_names(cpu::sum(&g, &x, 1.0), "x");
    assert!(Reduce::over_dims([1, 2, 3, 4], &[1, 3]).is_err());
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let xg = gpu.upload("x", &x).unwrap();
    let dyg = gpu.upload("dy", &dy).unwrap();
    assert_names(gpu.reduce_mean_fwd(&g, &xg), "x");
    assert_names(gpu.reduce_max_fwd(&g, &xg), "x");
    assert_names(gpu.reduce_mean_bwd(&g, &dyg), "dy");
    let idx8 = ctx.upload::<u32>("idx", &[0; 8]).unwrap();
    assert_names(gpu.reduce_max_bwd(&g, &dyg, &idx8), "dy");
    let dy8 = gpu.upload("dy", &randn(8, 3)).unwrap();
    assert_names(gpu.reduce_max_bwd(&g, &dy8, &ctx.upload::<u32>("idx", &[0; 9]).unwrap()), "idx");
    let mut r = ctx.recorder();
    assert_names(brine::kernels::reduce::sum(&mut r, &g, &xg, 1.0), "x");
}

/// More than 65 535 workgroups in one launch: the grid folds into y and the shaders
/// rebuild the linear index (one long row, so the data stays small on the host).
#[test]
fn gpu_folded_grid() {
    let Some(ctx) = common::gpu() else { return };
    let gpu = Gpu::new(ctx);
    let r = 65_536 * 256 + 3;
    let g = Reduce::new(1, r, 1).unwrap();
    let mut x = vec![0.5f32; r];
    x[r - 2] = 1.0; // the element only the second row of workgroups reaches in backward
    let xg = gpu.upload("x", &x).unwrap();
    let (y, idx) = gpu.reduce_max_fwd(&g, &xg).unwrap();
    assert_eq!(gpu.download(&y).unwrap(), vec![1.0]);
    assert_eq!(ctx.read::<u32>(&idx).unwrap(), vec![(r - 2) as u32]);
    let dy = gpu.upload("dy", &[3.0]).unwrap();
    let dx = gpu.download(&gpu.reduce_max_bwd(&g, &dy, &idx).unwrap()).unwrap();
    assert_eq!(dx[r - 2], 3.0);
    assert_eq!(dx.iter().filter(|&&v| v != 0.0).count(), 1);
    let dx = gpu.download(&gpu.reduce_mean_bwd(&g, &dy).unwrap()).unwrap();
    assert!(dx.iter().all(|&v| v == 3.0 / r as f32));
    let mean = gpu.download(&gpu.reduce_mean_fwd(&g, &xg).unwrap()).unwrap();
    assert_close("mean of a long row", &mean, &[(0.5 * (r - 1) as f64 + 1.0) as f32 / r as f32], 1e-6);
}
