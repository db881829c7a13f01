//! The adjoint-state gradient: the twin's forward is the engine's forward, its adjoint is the
//! exact transpose of the Born operator (dot-product test in f64), the gradient matches
//! finite differences of the misfit, checkpointing changes nothing, and the GPU agrees with
//! the CPU.

mod common;

use brine::cpu::wave_adjoint::{self as twin, Grid};
use brine::seismic::gradient::{gradient_cpu, gradient_every};
use brine::seismic::{Acquisition, Misfit, Plan, Positions};
use common::{dot, gpu_device, rel_err};

/// A small acquisition: 3 shots, receivers every 2nd column, decimated 2×, narrow layers.
fn acquisition(order: usize, free_surface: bool, nt: usize) -> Acquisition {
    Acquisition {
        nz: None,
        nx: None,
        dx: 10.0,
        dt: 1e-3,
        nt,
        f0: 25.0,
        sources: Positions::List(vec![[1, 2], [6, 9], [3, 15]]),
        receivers: Positions::Range { z: 1, x_from: 0, x_to: 17, x_step: 2 },
        pml: 5,
        pml_r: 1e-3,
        decimate: 2,
        order,
        substep: false,
        free_surface,
    }
}

fn model(nz: usize, nx: usize, seed: u64) -> Vec<f64> {
    let mut rng = brine::rng::Rng::new(seed);
    let mut m = Vec::with_capacity(nz * nx);
    for z in 0..nz {
        for x in 0..nx {
            let salt = (z as isize - 7).pow(2) + (x as isize - 9).pow(2) < 12;
            let v = if salt { 4200.0 } else { 1800.0 + 120.0 * z as f64 };
            m.push(v + 50.0 * rng.uniform());
        }
    }
    m
}

fn random(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = brine::rng::Rng::new(seed);
    (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
}

/// One plane's grid in f64 with `w` = (v·dt)² of `m` (12 × 18 model), shot `shot`.
fn grid(plan: &Plan, m: &[f64], shot: usize) -> Grid<f64> {
    let w = plan.pad_index().iter().map(|&i| (m[i] * plan.dt).powi(2)).collect();
    Grid::new(&plan.params(1, 0), w, &plan.profiles(4500.0), &plan.pos, shot)
}

const NZ: usize = 12;
const NX: usize = 18;

#[test]
fn the_twins_forward_is_the_engines_forward() {
    for (order, fs) in [(4, false), (2, true), (8, false)] {
        let acq = acquisition(order, fs, 120);
        let m = model(NZ, NX, 1);
        let m32: Vec<f32> = m.iter().map(|&v| v as f32).collect();
        let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
        let want = plan.run_reference(&m32, 1).unwrap();
        let zero = vec![0.0f32; want.len()];
        let got =
            gradient_cpu::<f32>(&plan, &m32, &zero, 1, m.iter().fold(0.0, |a: f64, &b| a.max(b)), 7, &Misfit::FULL)
                .unwrap()
                .traces;
        let e = rel_err(&got, &want);
        eprintln!("order {order}, free surface {fs}: twin forward vs cpu::wave relative L2 {e:.2e}");
        assert!(want.iter().any(|v| *v != 0.0));
        assert!(e < 1e-5, "order {order} fs {fs}: {e}");
    }
}

/// ⟨B δw, r⟩ = ⟨δw, Bᵀ r⟩ for the Born operator B = ∂d/∂w and the adjoint's Jᵀ, in f64, for
/// every stencil order, with and without a free surface, through decimated samples.
#[test]
fn the_adjoint_is_the_transpose_of_the_born_operator() {
    for (order, fs) in [(2, false), (4, false), (4, true), (6, true), (8, false)] {
        let acq = acquisition(order, fs, 90);
        let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
        let m = model(NZ, NX, 2);
        let sched = plan.schedule();
        for shot in [0, 2] {
            let g = grid(&plan, &m, shot);
            let cells = g.cells();
            let dw: Vec<f64> = random(cells, 3 + shot as u64).iter().zip(&g.w).map(|(r, w)| r * w * 0.01).collect();
            let r = random(plan.samples * plan.receivers, 7);
            let bd = twin::born(&g, &sched, plan.samples, &dw);
            let (_, saved) = twin::forward(&g, &sched, plan.samples, 5);
            let btr = twin::backward(&g, &sched, 5, &saved, &r);
            let (lhs, rhs) = (dot(&bd, &r), dot(&dw, &btr));
            let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
            eprintln!(
                "order {order}, fs {fs}, shot {shot}: <B dw, r> = {lhs:.12e}, <dw, B^T r> = {rhs:.12e}, rel {rel:.1e}"
            );
            assert!(lhs.abs() > 0.0, "the Born traces are silent");
            assert!(rel < 1e-5, "order {order} fs {fs} shot {shot}: relative mismatch {rel:.2e}");
        }
    }
}

/// The low-pass misfit of `plan`'s traces at `hz`.
fn lowpass(plan: &Plan, hz: f64) -> Misfit {
    Misfit::lowpass(hz, plan.dt * plan.keep_every as f64).unwrap()
}

/// The gradient with respect to velocity against central differences of the misfit, in f64
/// on the whole plan (three shots, padding summed into the edge cells), for the full band
/// and a low-passed misfit.
#[test]
fn the_gradient_matches_finite_differences() {
    for (order, fs, band) in [(4, false, 0.0), (4, true, 0.0), (4, false, 12.0)] {
        let acq = acquisition(order, fs, 100);
        let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
        let mf = if band > 0.0 { lowpass(&plan, band) } else { Misfit::FULL };
        let truth = model(NZ, NX, 4);
        let observed = {
            let zero = vec![0.0; plan.trace_len()];
            gradient_cpu::<f64>(&plan, &truth, &zero, 1, 4500.0, 10, &mf).unwrap().traces
        };
        let start: Vec<f64> =
            truth.iter().enumerate().map(|(i, v)| v * (1.0 - 0.04 * ((i % 7) as f64 / 7.0))).collect();
        let grad = gradient_cpu::<f64>(&plan, &start, &observed, 1, 4500.0, 10, &mf).unwrap().grad;
        let misfit = |m: &[f64]| gradient_cpu::<f64>(&plan, m, &observed, 1, 4500.0, 10, &mf).unwrap().misfit[0];
        // A smooth direction, and single cells: interior, edge (with padding) and top row.
        let smooth: Vec<f64> =
            (0..NZ * NX).map(|i| ((i / NX) as f64 * 0.4).sin() * ((i % NX) as f64 * 0.3).cos()).collect();
        let mut dirs = vec![("smooth", smooth)];
        for (name, cell) in [("interior", 5 * NX + 8), ("edge", 6 * NX), ("top", 2)] {
            let mut d = vec![0.0; NZ * NX];
            d[cell] = 1.0;
            dirs.push((name, d));
        }
        for (name, d) in dirs {
            let eps = 0.5;
            let plus: Vec<f64> = start.iter().zip(&d).map(|(v, d)| v + eps * d).collect();
            let minus: Vec<f64> = start.iter().zip(&d).map(|(v, d)| v - eps * d).collect();
            let fd = (misfit(&plus) - misfit(&minus)) / (2.0 * eps);
            let an = dot(&grad, &d);
            let rel = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-300);
            eprintln!(
                "order {order}, fs {fs}, band {band} Hz, {name}: finite difference {fd:.9e}, adjoint {an:.9e}, rel {rel:.1e}"
            );
            if fs && name == "top" {
                // Row 0 under a free surface is held at zero: it sees no velocity.
                assert!(an.abs() < 1e-12 * grad.iter().fold(0.0f64, |a, g| a.max(g.abs())) && fd.abs() < 1e-6);
                continue;
            }
            assert!(rel < 1e-5, "order {order} fs {fs} band {band} {name}: {fd} vs {an}");
        }
    }
}

#[test]
fn checkpointing_does_not_change_the_gradient() {
    let acq = acquisition(4, false, 80);
    let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
    let m = model(NZ, NX, 5);
    let g = grid(&plan, &m, 1);
    let sched = plan.schedule();
    let r = random(plan.samples * plan.receivers, 8);
    let grads: Vec<Vec<f64>> = [1, 6, 9, plan.steps]
        .iter()
        .map(|&every| {
            let (_, saved) = twin::forward(&g, &sched, plan.samples, every);
            twin::backward(&g, &sched, every, &saved, &r)
        })
        .collect();
    for (i, gr) in grads.iter().enumerate().skip(1) {
        assert_eq!(gr, &grads[0], "checkpoint interval {i} changed the gradient");
    }
}

#[test]
fn gpu_gradient_equals_the_cpu_twins() {
    let Some(device) = gpu_device() else { return };
    for (order, fs, band) in [(4, false, 0.0), (4, true, 0.0), (8, false, 0.0), (8, true, 15.0)] {
        let acq = acquisition(order, fs, 140);
        let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
        let mf = if band > 0.0 { lowpass(&plan, band) } else { Misfit::FULL };
        let n = 2;
        let truth: Vec<f32> = [model(NZ, NX, 6), model(NZ, NX, 9)].concat().iter().map(|&v| v as f32).collect();
        let observed = plan.run_reference(&truth, n).unwrap();
        let start: Vec<f32> = truth.iter().enumerate().map(|(i, v)| v * (0.97 + 0.002 * (i % 11) as f32)).collect();
        let want = gradient_cpu::<f32>(&plan, &start, &observed, n, 4500.0, 12, &mf).unwrap();
        // Every q kept (what these sizes get by default), and checkpoints every 12 steps.
        for every in [None, Some(12)] {
            let got = gradient_every(device, &plan, &start, &observed, n, 4500.0, every, &mf).unwrap();
            let e = rel_err(&got.grad, &want.grad);
            eprintln!(
                "order {order}, fs {fs}, band {band} Hz: GPU gradient vs CPU relative L2 {e:.2e}; misfit {:.6e} vs {:.6e}; \
                 every {}",
                got.misfit[0], want.misfit[0], got.every
            );
            assert_eq!(got.every, every.unwrap_or(plan.steps));
            assert!(want.grad.iter().any(|v| *v != 0.0));
            assert!(e < 1e-3, "order {order} fs {fs}: {e}");
            for (a, b) in got.misfit.iter().zip(&want.misfit) {
                assert!((a - b).abs() <= 1e-3 * b.abs(), "misfit {a} vs {b}");
            }
        }
    }
}

/// The CPU engine (`fast::wave_adjoint`, which `seismic::gradient` runs without a GPU)
/// against the plain-loop twin in f32: same traces, and the gradient to rounding, for every
/// stencil order with and without a free surface.
#[test]
fn the_cpu_engine_equals_the_twin() {
    let device = brine::device::Device::Cpu;
    for (order, fs, band) in
        [(2, false, 0.0), (4, false, 0.0), (4, true, 15.0), (6, true, 0.0), (8, false, 0.0), (8, true, 0.0)]
    {
        let acq = acquisition(order, fs, 140);
        let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
        let mf = if band > 0.0 { lowpass(&plan, band) } else { Misfit::FULL };
        let n = 2;
        let truth: Vec<f32> = [model(NZ, NX, 6), model(NZ, NX, 9)].concat().iter().map(|&v| v as f32).collect();
        let observed = plan.run_reference(&truth, n).unwrap();
        let start: Vec<f32> = truth.iter().enumerate().map(|(i, v)| v * (0.97 + 0.002 * (i % 11) as f32)).collect();
        let want = gradient_cpu::<f32>(&plan, &start, &observed, n, 4500.0, 12, &mf).unwrap();
        let none = gradient_every(&device, &plan, &[], &[], 0, 4500.0, None, &mf).unwrap();
        assert!(none.misfit.is_empty() && none.grad.is_empty() && none.traces.is_empty());
        for every in [None, Some(12)] {
            let got = gradient_every(&device, &plan, &start, &observed, n, 4500.0, every, &mf).unwrap();
            let (e, et) = (rel_err(&got.grad, &want.grad), rel_err(&got.traces, &want.traces));
            eprintln!(
                "order {order}, fs {fs}, band {band} Hz: CPU engine vs twin gradient relative L2 {e:.2e}, traces {et:.2e}"
            );
            assert_eq!(got.every, every.unwrap_or(plan.steps));
            assert!(want.grad.iter().any(|v| *v != 0.0));
            assert!(e < 1e-5, "order {order} fs {fs}: gradient {e}");
            // (v·dt)² is rounded from f64 here and from f32 in the twin: ~7e-7 apart.
            assert!(et < 5e-6, "order {order} fs {fs}: traces {et}");
            for (a, b) in got.misfit.iter().zip(&want.misfit) {
                assert!((a - b).abs() <= 1e-5 * b.abs(), "misfit {a} vs {b}");
            }
        }
    }
}

/// The CPU engine's checkpoint interval and how many planes wait between forward and
/// backward change nothing: recomputed segments give the q the forward kept, bit for bit.
#[test]
fn the_cpu_engines_checkpoints_and_schedule_change_nothing() {
    use brine::fast::{wave::Step, wave_adjoint};
    let acq = acquisition(4, true, 90);
    let plan = Plan::new(&acq, NZ, NX, 1500.0, 4500.0).unwrap();
    let n = 2;
    let m: Vec<f32> = [model(NZ, NX, 5), model(NZ, NX, 6)].concat().iter().map(|&v| v as f32).collect();
    let index = plan.pad_index();
    let vel: Vec<f32> = m
        .chunks(NZ * NX)
        .flat_map(|m| index.iter().map(|&i| ((m[i] as f64 * plan.dt).powi(2)) as f32).collect::<Vec<_>>())
        .collect();
    let prof = [plan.profiles(4500.0), plan.profiles(4500.0)].concat();
    let observed = vec![0.01f32; n * plan.trace_len()];
    let steps: Vec<Step> = plan.schedule().into_iter().map(|(wavelet, slot)| Step { wavelet, slot }).collect();
    let run = |every, held| {
        let p = plan.params(n, 0);
        let residual = |d: &[f32], o: &[f32]| Misfit::FULL.residual(d, o, plan.receivers);
        wave_adjoint::gradient(&p, &steps, &vel, &prof, &plan.pos, &observed, &residual, every, held).unwrap()
    };
    let all = run(plan.steps, 6);
    for (every, held) in [(1, 1), (7, 2), (30, 6), (plan.steps, 1)] {
        let r = run(every, held);
        assert_eq!(r.grad, all.grad, "every {every}, {held} held");
        assert_eq!(r.misfit, all.misfit, "every {every}, {held} held");
        assert_eq!(r.traces, all.traces, "every {every}, {held} held");
    }
    assert!(all.grad.iter().any(|v| *v != 0.0));
}
