//! The wave kernel against its twin: whole simulations (a few hundred steps, several models
//! and shots in one dispatch, absorbing layers, odd grid sizes) on the GPU and on the CPU
//! fast path, traces compared.

mod common;

use brine::kernels;
use brine::seismic::{Acquisition, Plan, Positions};
use common::{assert_close, gpu, rel_err};

fn models(n: usize, nz: usize, nx: usize, seed: u64) -> Vec<f32> {
    let mut rng = brine::rng::Rng::new(seed);
    let mut m = Vec::with_capacity(n * nz * nx);
    for _ in 0..n {
        let (a, b) = (rng.uniform() * 6.0, rng.uniform() * 6.0);
        for z in 0..nz {
            for x in 0..nx {
                let v = 1500.0
                    + 2500.0 * z as f64 / nz as f64
                    + 300.0 * ((x as f64 * 0.2 + a).sin() * (b + z as f64 * 0.1).cos());
                m.push(v as f32);
            }
        }
    }
    m
}

fn acquisition(order: usize, pml: usize, free_surface: bool, nt: usize) -> Acquisition {
    Acquisition {
        nz: None,
        nx: None,
        dx: 10.0,
        dt: 1e-3,
        nt,
        f0: 15.0,
        sources: Positions::List(vec![[1, 3], [20, 25], [38, 49]]),
        receivers: Positions::Range { z: 2, x_from: 0, x_to: 49, x_step: 3 },
        pml,
        pml_r: 1e-3,
        decimate: 2,
        order,
        substep: false,
        free_surface,
    }
}

fn check(what: &str, acq: &Acquisition, n: usize) {
    let Some(ctx) = gpu() else { return };
    let (nz, nx) = (40, 50);
    let m = models(n, nz, nx, 3);
    let plan = Plan::new(acq, nz, nx, 1000.0, 4300.0).unwrap();
    let want = plan.run_reference(&m, n).unwrap();
    let got = plan.run_gpu(ctx, &m, n).unwrap();
    let e = rel_err(&got, &want);
    eprintln!("{what}: GPU vs CPU relative L2 error {e:.2e} over {} steps", plan.steps);
    assert!(want.iter().any(|v| *v != 0.0), "{what}: silent traces");
    assert_close(what, &got, &want, 1e-4);
}

/// The fast path on `n` models: without flushing subnormals, the twin's traces exactly;
/// with it (what `run_cpu` does), within 1e-5 relative (rounding-level changes that spread).
fn check_fast(what: &str, acq: &Acquisition, n: usize, nz: usize, nx: usize) {
    let m = models(n, nz, nx, 5);
    let plan = Plan::new(acq, nz, nx, 1000.0, 4300.0).unwrap();
    let want = plan.run_reference(&m, n).unwrap();
    assert!(want.iter().any(|v| *v != 0.0), "{what}: silent traces");
    let exact = plan.run_cpu_exact(&m, n).unwrap();
    let first = exact.iter().zip(&want).position(|(a, b)| a != b);
    assert!(first.is_none(), "{what}: fast path differs from the twin at trace value {first:?}");
    let flushed = plan.run_cpu(&m, n).unwrap();
    let e = rel_err(&flushed, &want);
    eprintln!("{what}: flushing subnormals changes the traces by {e:.2e} (relative L2)");
    assert_close(what, &flushed, &want, 1e-5);
}

/// Every stencil order, with and without absorbing layers and a free surface, on grids that
/// are no multiple of a vector width, with one plane (cut into bands on a machine with more
/// than one thread) and with several (one task each).
#[test]
fn cpu_fast_path_equals_the_twin() {
    if brine::fast::threads::count() < 2 {
        eprintln!("note: one thread here, so the banded schedule is not exercised");
    }
    for (order, pml, free) in [(4, 12, false), (8, 9, true), (2, 0, false), (6, 5, false), (4, 3, true)] {
        let mut acq = acquisition(order, pml, free, 160);
        let what = format!("order {order}, pml {pml}, free surface {free}");
        check_fast(&format!("{what}, 2 models × 3 shots"), &acq, 2, 40, 50);
        acq.sources = Positions::List(vec![[3, 7]]);
        acq.receivers = Positions::Range { z: 2, x_from: 1, x_to: 44, x_step: 2 };
        check_fast(&format!("{what}, 1 plane"), &acq, 1, 37, 45);
    }
    // A grid narrower than two vector widths inside its layers.
    let mut acq = acquisition(4, 3, false, 120);
    acq.sources = Positions::List(vec![[1, 1], [5, 8]]);
    acq.receivers = Positions::Range { z: 0, x_from: 0, x_to: 8, x_step: 1 };
    check_fast("tiny grid", &acq, 3, 7, 9);
}

#[test]
fn order4_pml_batch_of_models_and_shots() {
    check("order 4, pml 12, 2 models × 3 shots", &acquisition(4, 12, false, 300), 2);
}

#[test]
fn order8_free_surface() {
    check("order 8, free surface, pml 9", &acquisition(8, 9, true, 240), 1);
}

#[test]
fn order2_without_absorbing_layers() {
    check("order 2, no pml", &acquisition(2, 0, false, 200), 1);
}

#[test]
fn one_step_matches_on_random_state() {
    // Both halves of a single step from random p^n, p^{n−1}, ψ and ζ, every cell compared.
    let Some(ctx) = gpu() else { return };
    let (nz, nx) = (17, 23);
    let m = models(2, nz, nx, 9);
    let mut acq = acquisition(4, 6, false, 10);
    acq.sources = Positions::List(vec![[3, 4], [10, 20]]);
    acq.receivers = Positions::List(vec![[0, 0], [16, 22], [5, 5]]);
    let plan = Plan::new(&acq, nz, nx, 1000.0, 4300.0).unwrap();
    let p = plan.params(2, 0);
    let mut rng = brine::rng::Rng::new(4);
    let planes = 2 * plan.shots;
    let vel: Vec<f32> = m.chunks(nz * nx).flat_map(|c| plan.pad(c)).collect();
    let prof: Vec<f32> = (0..2).flat_map(|_| plan.profiles(4300.0)).collect();
    let cur = rng.normal_vec(planes * plan.plane(), 1.0);
    let prev = rng.normal_vec(planes * plan.plane(), 1.0);
    let psi0 = rng.normal_vec(planes * plan.frame * 2, 1.0);
    let zeta0 = rng.normal_vec(planes * plan.frame * 2, 1.0);
    let pairs = |v: &[f32]| v.chunks(2).map(|c| [c[0], c[1]]).collect::<Vec<[f32; 2]>>();
    let flat = |v: &[[f32; 2]]| v.iter().flatten().copied().collect::<Vec<f32>>();
    let (mut psi, mut zeta) = (pairs(&psi0), pairs(&zeta0));
    let mut nxt = prev.clone();
    let mut traces = vec![0.0f32; 2 * plan.trace_len()];
    brine::cpu::wave::psi(&p, &cur, &mut psi, &prof).unwrap();
    brine::cpu::wave::step(&p, &vel, &cur, &mut nxt, &psi, &mut zeta, &prof, &plan.pos, &mut traces).unwrap();
    let g = |name: &str, v: &[f32]| ctx.upload(name, v).unwrap();
    let (gv, gc, gn) = (g("vel", &vel), g("cur", &cur), g("nxt", &prev));
    let (gpsi, gzeta, gp) = (g("psi", &psi0), g("zeta", &zeta0), g("prof", &prof));
    let gt = ctx.zeros("t", "traces", traces.len()).unwrap();
    let gpos = ctx.upload("pos", &plan.pos).unwrap();
    let mut r = ctx.recorder();
    kernels::wave::psi(&mut r, &p, &gc, &gpsi, &gp).unwrap();
    kernels::wave::step(&mut r, &p, &gv, &gc, &gn, &gpsi, &gzeta, &gp, &gpos, &gt).unwrap();
    r.submit().unwrap();
    assert_close("ψ", &ctx.read::<f32>(&gpsi).unwrap(), &flat(&psi), 1e-6);
    assert_close("ζ", &ctx.read::<f32>(&gzeta).unwrap(), &flat(&zeta), 1e-6);
    assert_close("p^{n+1}", &ctx.read::<f32>(&gn).unwrap(), &nxt, 1e-6);
    assert_close("traces", &ctx.read::<f32>(&gt).unwrap(), &traces, 0.0);
}

#[test]
fn wrong_buffer_lengths_are_refused() {
    let Some(ctx) = gpu() else { return };
    let plan = Plan::new(&acquisition(4, 4, false, 4), 40, 50, 1000.0, 4000.0).unwrap();
    let p = plan.params(1, 0);
    let t = |n: usize| ctx.zeros("t", "x", n).unwrap();
    let (vel, cur, aux, prof) = (t(plan.plane()), t(plan.plane() * 3), t(plan.frame * 6), t(plan.prof_stride()));
    let (pos, tr) = (t(plan.pos.len()), t(plan.trace_len()));
    let short = t(5);
    let mut r = ctx.recorder();
    common::expect_shape_err(
        kernels::wave::step(&mut r, &p, &vel, &short, &cur, &aux, &aux, &prof, &pos, &tr),
        "cur",
        "short p^n",
    );
    common::expect_shape_err(
        kernels::wave::step(&mut r, &p, &vel, &cur, &cur, &aux, &aux, &prof, &pos, &short),
        "traces",
        "short traces",
    );
}

#[test]
fn cpu_fast_path_refuses_wrong_buffers() {
    let plan = Plan::new(&acquisition(4, 4, false, 4), 40, 50, 1000.0, 4000.0).unwrap();
    let p = plan.params(1, 0);
    let steps = [brine::fast::wave::Step { wavelet: 0.0, slot: 0 }];
    let (vel, prof) = (vec![0.1; plan.plane()], plan.profiles(4000.0));
    let sim = |vel: &[f32], prof: &[f32], pos: &[u32], steps: &[brine::fast::wave::Step]| {
        brine::fast::wave::simulate(&p, steps, vel, prof, pos, true)
    };
    assert!(sim(&vel, &prof, &plan.pos, &steps).is_ok());
    common::expect_shape_err(sim(&vel[1..], &prof, &plan.pos, &steps), "vel", "short vel");
    common::expect_shape_err(sim(&vel, &prof[1..], &plan.pos, &steps), "prof", "short prof");
    common::expect_shape_err(sim(&vel, &prof, &plan.pos[2..], &steps), "pos", "short pos");
    let late = [brine::fast::wave::Step { wavelet: 0.0, slot: plan.samples as u32 }];
    assert!(sim(&vel, &prof, &plan.pos, &late).is_err(), "a sample slot past the trace");
    let mut far = plan.pos.clone();
    far[1] = 10_000;
    assert!(sim(&vel, &prof, &far, &steps).is_err(), "a source outside the grid");
}
