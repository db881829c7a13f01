//! The whole attention U-Net: PyTorch golden steps on both backends, training that lowers
//! the loss, checkpoints that round-trip, and bad configs, shapes and files refused.

mod common;

use std::path::{Path, PathBuf};

use brine::device::Device;
use brine::golden::{self, FileKind, GoldenFile};
use brine::graph::Graph;
use brine::nn::programs::{Inference, LossKind, TrainStep, init_store, shapes};
use brine::nn::{Attention, Config};
use brine::ops::{Adam, Loss};
use brine::optim::Optimizer;
use brine::rng::Rng;
use brine::runner::{Init, Runner};
use brine::{Backend, Cpu, Gpu, Reference, checkpoint};

fn net_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden");
    let files: Vec<PathBuf> = golden::list_dir(&dir)
        .unwrap()
        .into_iter()
        .filter(|p| matches!(golden::kind(&GoldenFile::open(p).unwrap()), FileKind::Net))
        .collect();
    assert!(files.len() >= 4, "expected the four shipped net_* files, found {files:?}");
    files
}

fn check_nets(device: &Device) {
    for path in net_files() {
        let report = golden::run_net(device, &GoldenFile::open(&path).unwrap());
        let bad: Vec<String> = report
            .checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| format!("{} {:.2e} > {:.0e}", c.tensor, c.err, c.bound))
            .collect();
        assert!(
            report.passed(),
            "{} on {}: {}\n{:?}\n{}",
            path.display(),
            device.describe(),
            report.line(),
            report.error,
            bad.join("\n")
        );
        assert!(report.checks.len() > 50, "{}: only {} tensors compared", path.display(), report.checks.len());
    }
}

#[test]
fn golden_training_steps_match_pytorch_on_cpu() {
    check_nets(&Device::Cpu);
    check_nets(&Device::Reference);
}

/// The output, the loss, every gradient and every parameter after the update.
type StepResult = (Vec<f32>, f32, Vec<Vec<f32>>, Vec<Vec<f32>>);

/// One training step (forward, loss, backward, Adam) of `cfg` on a backend from a seeded
/// start.
fn one_step<B: Backend>(b: &B, cfg: &Config, x: [usize; 4]) -> StepResult {
    let mut rng = Rng::new(9);
    let n: usize = x.iter().product();
    let input = b.upload("input", &rng.normal_vec(n, 1.0)).unwrap();
    let target = b.upload("target", &rng.normal_vec(n / x[1] * cfg.out_channels, 0.5)).unwrap();
    let mut store = init_store(b, cfg, 4).unwrap();
    let step = TrainStep::new(cfg, x, Loss::Mse, false).unwrap();
    let mut opt = Optimizer::new(b, Adam::default(), &shapes(cfg).unwrap().0).unwrap();
    let out = step.run(b, &mut store, &input, &target).unwrap();
    let output = b.download(&out[&step.output]).unwrap();
    let loss = b.download(&out[&step.loss]).unwrap()[0];
    let grads: Vec<(&str, &B::Tensor)> = step.param_grads.iter().map(|(n, v)| (n.as_str(), &*out[v])).collect();
    let grad_values = grads.iter().map(|(_, t)| b.download(t).unwrap()).collect();
    opt.apply(b, &mut store.params, &grads).unwrap();
    let params = step.param_grads.iter().map(|(n, _)| b.download(&store.params[n]).unwrap()).collect();
    (output, loss, grad_values, params)
}

/// The CPU backend's fast paths against the plain-loop twins on a whole training step of
/// every attention variant, at odd channel counts and an image no block divides.
#[test]
fn cpu_fast_training_step_matches_the_reference() {
    brine::fast::buffers::poison(true);
    for (a, gates) in [(Attention::None, false), (Attention::Se, true), (Attention::Cbam, true), (Attention::Ca, true)]
    {
        let cfg = Config { in_channels: 5, out_channels: 1, widths: vec![6, 12, 20], attention: a, gates };
        let x = [3, 5, 20, 28];
        let (fo, fl, fg, fp) = one_step(&Cpu, &cfg, x);
        let (ro, rl, rg, rp) = one_step(&Reference, &cfg, x);
        let what = format!("{a:?} gates {gates}");
        common::assert_close(&format!("{what} output"), &fo, &ro, 1e-5);
        assert!((fl - rl).abs() <= 1e-5 * rl.abs(), "{what} loss {fl} vs {rl}");
        for (i, (f, r)) in fg.iter().zip(&rg).enumerate() {
            common::assert_close(&format!("{what} gradient {i}"), f, r, 1e-4);
        }
        for (f, r) in fp.iter().zip(&rp) {
            let worst = f.iter().zip(r).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 1e-4, "{what}: a parameter after Adam differs by {worst}");
        }
    }
}

/// The fast paths split work by shape, never by thread count: a step on 1, 2 or 3 threads
/// gives the same bits.
#[test]
fn cpu_fast_training_step_does_not_depend_on_thread_count() {
    let cfg =
        Config { in_channels: 5, out_channels: 1, widths: vec![8, 16, 32], attention: Attention::Cbam, gates: true };
    let x = [4, 5, 24, 32];
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| one_step(&Cpu, &cfg, x))
    };
    let one = run(1);
    assert_eq!(run(2), one, "2 threads vs 1");
    assert_eq!(run(3), one, "3 threads vs 1");
}

#[test]
fn golden_training_steps_match_pytorch_on_gpu() {
    let Some(device) = common::gpu_device() else { return };
    check_nets(device);
}

fn small(attention: Attention, gates: bool) -> Config {
    Config { in_channels: 3, out_channels: 1, widths: vec![4, 8], attention, gates }
}

/// A few Adam steps on one fixed batch must lower the loss.
fn train_lowers_loss<B: Backend>(b: &B, cfg: &Config, x: [usize; 4], steps: usize) {
    let mut rng = Rng::new(3);
    let n: usize = x.iter().product();
    let input = b.upload("input", &rng.normal_vec(n, 1.0)).unwrap();
    let target = b.upload("target", &rng.normal_vec(n / x[1] * cfg.out_channels, 0.5)).unwrap();
    let mut store = init_store(b, cfg, 1).unwrap();
    let step = TrainStep::new(cfg, x, Loss::Mse, false).unwrap();
    let (params, _) = shapes(cfg).unwrap();
    let mut opt = Optimizer::new(b, Adam { lr: 1e-2, ..Adam::default() }, &params).unwrap();
    let mut losses = vec![];
    for _ in 0..steps {
        let out = step.run(b, &mut store, &input, &target).unwrap();
        losses.push(b.download(&out[&step.loss]).unwrap()[0]);
        let grads: Vec<(&str, &B::Tensor)> = step.param_grads.iter().map(|(n, v)| (n.as_str(), &*out[v])).collect();
        opt.apply(b, &mut store.params, &grads).unwrap();
    }
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[steps - 1] < 0.8 * losses[0], "loss did not fall: {losses:?}");
}

#[test]
fn every_attention_variant_trains_on_cpu() {
    for (a, gates) in [(Attention::None, false), (Attention::Se, true), (Attention::Cbam, true), (Attention::Ca, true)]
    {
        train_lowers_loss(&Cpu, &small(a, gates), [2, 3, 8, 8], 8);
    }
}

#[test]
fn bench_network_trains_on_gpu_at_a_small_size() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = Config {
        in_channels: 8,
        out_channels: 1,
        widths: vec![32, 64, 128, 256, 512],
        attention: Attention::Cbam,
        gates: true,
    };
    train_lowers_loss(&Gpu::new(ctx), &cfg, [2, 8, 32, 16], 4);
}

#[test]
fn input_shapes_are_checked() {
    let cfg =
        Config { in_channels: 3, out_channels: 1, widths: vec![4, 8, 16], attention: Attention::Cbam, gates: true };
    let err = TrainStep::new(&cfg, [2, 3, 30, 24], Loss::Mse, false).err().unwrap().to_string();
    assert!(err.contains("multiples of 4") && err.contains("30"), "{err}");
    let err = Inference::new(&cfg, [2, 5, 32, 24]).err().unwrap().to_string();
    assert!(err.contains("5 channels"), "{err}");
    let mut g = Graph::new();
    let x = g.input("x", &[1, 3, 8, 8]);
    let w = g.param("w", &[4, 2, 3, 3]).unwrap();
    assert!(g.conv2d(x, w, None, 1, 1).is_err());
}

#[test]
fn checkpoints_round_trip_and_refuse_bad_files() {
    let b = Cpu;
    let cfg = small(Attention::Ca, true);
    let dir = std::env::temp_dir().join(format!("brine-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let store = init_store(&b, &cfg, 9).unwrap();
    let (params, _) = shapes(&cfg).unwrap();
    let mut opt = Optimizer::new(&b, Adam::default(), &params).unwrap();
    opt.step = 7;
    checkpoint::save(&b, &path, &cfg, &store, Some(&opt)).unwrap();
    let (cfg2, store2) = checkpoint::load(&b, &path, Some(&cfg)).unwrap();
    assert_eq!(cfg, cfg2);
    assert_eq!(store.params, store2.params);
    assert_eq!(store.buffers, store2.buffers);
    let opt2 = checkpoint::load_optimizer(&b, &path, &cfg, Adam::default()).unwrap();
    assert_eq!(opt2.step, 7);
    assert_eq!(opt2.m, opt.m);

    // A config that contradicts the file's.
    let other = small(Attention::Se, true);
    let err = checkpoint::load(&b, &path, Some(&other)).err().unwrap().to_string();
    assert!(err.contains("model.safetensors") && err.contains("asked for"), "{err}");
    // Missing, misshapen and extra tensors, each named in the error.
    let good: Vec<(String, Vec<usize>, Vec<f32>)> = params
        .iter()
        .map(|(n, shape)| (n.clone(), shape.clone(), store.params[n].clone()))
        .chain(shapes(&cfg).unwrap().1.iter().map(|(n, shape)| (n.clone(), shape.clone(), store.buffers[n].clone())))
        .collect();
    let wrong = dir.join("wrong.safetensors");
    let expect = |tensors: &[(String, Vec<usize>, Vec<f32>)], needle: &str| {
        write_raw(&wrong, &cfg, tensors);
        let err = checkpoint::load(&b, &wrong, None).err().expect("a bad checkpoint must not load").to_string();
        assert!(err.contains("wrong.safetensors") && err.contains(needle), "{err}");
    };
    expect(&good[1..], &good[0].0);
    let mut misshapen = good.clone();
    misshapen[0].1 = vec![misshapen[0].2.len()];
    expect(&misshapen, &good[0].0);
    let mut extra = good.clone();
    extra.push(("down.9.block.c1.conv.weight".into(), vec![1], vec![0.0]));
    expect(&extra, "down.9.block.c1.conv.weight");
    write_raw(&wrong, &cfg, &good);
    assert!(checkpoint::load(&b, &wrong, None).is_ok(), "the untouched tensors must load");
    let bytes = std::fs::read(&wrong).unwrap();
    // Truncated file.
    std::fs::write(&wrong, &bytes[..bytes.len() - 10]).unwrap();
    let err = checkpoint::load(&b, &wrong, None).err().unwrap().to_string();
    assert!(err.contains("wrong.safetensors"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn write_raw(path: &Path, cfg: &Config, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, shape, v)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytemuck::cast_slice(v))
                    .unwrap();
            (n.clone(), view)
        })
        .collect();
    let meta = std::collections::HashMap::from([("brine.config".to_string(), serde_json::to_string(cfg).unwrap())]);
    safetensors::serialize_to_file(views, Some(meta), path).unwrap();
}

/// A NaN loss stops training: the runner's next `losses()` names the step, and from that
/// step on no update is applied (the parameters stay those of the last good step).
fn non_finite_loss_names_the_step(device: &Device) {
    let cfg = small(Attention::Se, false);
    let x = [2, 3, 8, 8];
    let l1 = LossKind::L1;
    let mut runner = Runner::training(device, &cfg, x, l1, Adam::default(), Init::Seed(1)).unwrap();
    let good = vec![0.5f32; x.iter().product()];
    let mut bad = good.clone();
    bad[17] = f32::NAN;
    let target = vec![0.0f32; 2 * 8 * 8];
    runner.step(&good, &target).unwrap();
    runner.step(&good, &target).unwrap();
    let before = runner.state().unwrap().store.params;
    runner.step(&bad, &target).unwrap();
    runner.step(&good, &target).unwrap();
    let err = runner.losses().expect_err("NaN must be refused").to_string();
    assert!(err.contains("step 3") && err.contains("NaN"), "{}: {err}", device.describe());
    assert_eq!(runner.state().unwrap().store.params, before, "{}: a bad step updated", device.describe());
    assert!(runner.losses().is_err(), "the error must stay");
}

#[test]
fn a_non_finite_loss_is_an_error_naming_the_step() {
    non_finite_loss_names_the_step(&Device::Cpu);
    if let Some(device) = common::gpu_device() {
        non_finite_loss_names_the_step(device);
    }
}

/// The runner's captured program (forward, loss, backward, loss log and Adam, replayed in
/// one submission with no host sync per step) computes exactly what eager execution does,
/// step after step (reused buffers are cleared, stale data changes nothing).
#[test]
fn captured_training_steps_equal_eager_ones_on_gpu() {
    let Some(device) = common::gpu_device() else { return };
    let ctx = device.gpu().unwrap();
    let gpu = Gpu::new(ctx);
    let cfg = Config { in_channels: 3, out_channels: 1, widths: vec![4, 8, 16], attention: Attention::Ca, gates: true };
    let x = [2, 3, 16, 8];
    let step = TrainStep::new(&cfg, x, Loss::L1, true).unwrap();
    let (params, _) = shapes(&cfg).unwrap();
    let mut rng = Rng::new(21);
    let batches: Vec<(Vec<f32>, Vec<f32>)> =
        (0..3).map(|_| (rng.normal_vec(2 * 3 * 16 * 8, 1.0), rng.normal_vec(2 * 16 * 8, 1.0))).collect();

    let mut eager_store = init_store(&gpu, &cfg, 4).unwrap();
    let mut eager_opt = Optimizer::new(&gpu, Adam::default(), &params).unwrap();
    let mut eager = vec![];
    for (xi, ti) in &batches {
        let (xi, ti) = (gpu.upload("x", xi).unwrap(), gpu.upload("t", ti).unwrap());
        let out = step.run(&gpu, &mut eager_store, &xi, &ti).unwrap();
        eager
            .push((gpu.download(&out[&step.loss]).unwrap()[0], gpu.download(&out[&step.input_grad.unwrap()]).unwrap()));
        let grads: Vec<(&str, &brine::GpuTensor)> =
            step.param_grads.iter().map(|(n, v)| (n.as_str(), &*out[v])).collect();
        eager_opt.apply(&gpu, &mut eager_store.params, &grads).unwrap();
    }

    let training = brine::runner::Training { loss: LossKind::L1, hyper: Adam::default(), input_grad: true };
    let mut runner = Runner::new(device, &cfg, x, Some(training), Init::Seed(4)).unwrap();
    assert!(runner.dispatches_per_step().unwrap() > 100);
    for (i, (xi, ti)) in batches.iter().enumerate() {
        let before = runner.counters().unwrap();
        runner.step(xi, ti).unwrap();
        let during = runner.counters().unwrap() - before;
        assert_eq!(during.submissions, 1, "step {i}: one submission per step");
        assert_eq!(during.syncs, 0, "step {i}: no host sync in a step");
        assert_eq!(during.dispatches, runner.dispatches_per_step().unwrap(), "step {i}: the whole program");
        let losses = runner.losses().unwrap();
        assert_eq!(losses, vec![eager[i].0], "step {i}: loss");
        let dx = runner.kept(runner.train_step().unwrap().input_grad.unwrap()).unwrap();
        assert_eq!(dx, eager[i].1, "step {i}: input gradient");
    }
    let state = runner.state().unwrap();
    for (name, _) in &params {
        assert_eq!(state.store.params[name], gpu.download(&eager_store.params[name]).unwrap(), "{name}");
    }
    for (name, t) in &state.store.buffers {
        assert_eq!(*t, gpu.download(&eager_store.buffers[name]).unwrap(), "{name}");
    }
    assert_eq!(state.opt.unwrap().step, 3);
}

/// Many steps in a row: one submission each, no host sync until the losses are read, and
/// then every loss comes back in order (on the CPU too, where there is nothing to count).
#[test]
fn runner_steps_need_no_host_sync_until_the_losses_are_read() {
    let cfg = small(Attention::Cbam, true);
    let x = [2, 3, 8, 8];
    let mse = LossKind::MSE;
    let mut rng = Rng::new(8);
    let (input, target) = (rng.normal_vec(2 * 3 * 64, 1.0), rng.normal_vec(2 * 64, 0.5));
    let mut per_device = vec![];
    let devices: Vec<&Device> = [Some(&Device::Cpu), common::gpu_device()].into_iter().flatten().collect();
    for device in devices {
        let mut runner =
            Runner::training(device, &cfg, x, mse, Adam { lr: 1e-2, ..Adam::default() }, Init::Seed(2)).unwrap();
        let before = runner.counters();
        for _ in 0..12 {
            runner.step(&input, &target).unwrap();
        }
        if let (Some(a), Some(b)) = (runner.counters(), before) {
            let d = a - b;
            assert_eq!((d.submissions, d.syncs), (12, 0), "{}: {d:?}", device.describe());
            assert!(d.backpressure <= 12, "{d:?}");
        }
        assert_eq!(runner.pending(), 12);
        let losses = runner.losses().unwrap();
        assert_eq!(losses.len(), 12);
        assert!(losses[11] < losses[0], "{}: the loss did not fall: {losses:?}", device.describe());
        if let Some(c) = runner.counters() {
            assert!(c.syncs > before.unwrap().syncs, "reading the losses is a sync");
        }
        per_device.push(losses);
    }
    if let [cpu, gpu] = &per_device[..] {
        common::assert_close("losses, GPU against CPU", gpu, cpu, 1e-3);
    }
}

/// `--loss l1+edge` and `l1+ssim`: a training step's loss is L1 plus the mean absolute
/// difference of the output's and the target's neighbour differences, or plus 1 − SSIM,
/// as `LossKind::of` computes it in plain loops, on every backend.
fn loss_of_a_step<B: Backend>(b: &B, loss: &str, what: &str) {
    let cfg = small(Attention::Cbam, true);
    let x = [2, 3, 8, 8];
    let kind: LossKind = loss.parse().unwrap();
    let step = TrainStep::with_losses(&cfg, x, kind, false).unwrap();
    let mut store = init_store(b, &cfg, 5).unwrap();
    let mut rng = Rng::new(12);
    let xi = rng.normal_vec(2 * 3 * 64, 1.0);
    // Targets in the network's [−1, 1], where SSIM's constants have their meaning.
    let ti: Vec<f32> = rng.normal_vec(2 * 64, 1.0).iter().map(|v| v.clamp(-1.0, 1.0)).collect();
    let out = step.run(b, &mut store, &b.upload("x", &xi).unwrap(), &b.upload("t", &ti).unwrap()).unwrap();
    let y = b.download(&out[&step.output]).unwrap();
    let got = b.download(&out[&step.loss]).unwrap()[0] as f64;
    let (want, l1) = (kind.of(&y, &ti, (8, 8)), LossKind::L1.of(&y, &ti, (8, 8)));
    let what = format!("{what}, {loss}");
    eprintln!("{what}: loss {got:.7} (L1 {l1:.7}), plain loops {want:.7}");
    assert!(want > l1 * 1.2, "{what}: the second term should weigh in: {want} vs L1 {l1}");
    assert!((got - want).abs() <= 1e-5 * want, "{what}: {got} vs {want}");
}

#[test]
fn the_edge_and_ssim_losses_are_what_their_plain_loops_say() {
    for loss in ["l1+edge", "l1+ssim"] {
        loss_of_a_step(&Reference, loss, "reference");
        loss_of_a_step(&Cpu, loss, "cpu");
        if let Some(device) = common::gpu_device() {
            loss_of_a_step(&Gpu::new(device.gpu().unwrap()), loss, &device.describe());
        }
    }
}

#[test]
fn weighted_losses_are_what_their_plain_loops_say() {
    loss_of_a_step(&Reference, "0.5*l1+4*ssim", "reference");
    loss_of_a_step(&Cpu, "0.5*l1+4*ssim", "cpu");
    if let Some(device) = common::gpu_device() {
        loss_of_a_step(&Gpu::new(device.gpu().unwrap()), "0.5*l1+4*ssim", &device.describe());
    }
}

/// A weighted loss's parameter gradients are the weighted sum of its terms' own: the
/// weights reach the backward pass (through the 1 × 1 constant convolution), not just the
/// reported value.
fn weights_scale_gradients<B: Backend>(b: &B, what: &str) {
    let cfg = small(Attention::Cbam, true);
    let x = [2, 3, 8, 8];
    let mut rng = Rng::new(21);
    let xi = b.upload("x", &rng.normal_vec(2 * 3 * 64, 1.0)).unwrap();
    let ti: Vec<f32> = rng.normal_vec(2 * 64, 1.0).iter().map(|v| v.clamp(-1.0, 1.0)).collect();
    let ti = b.upload("t", &ti).unwrap();
    let grads = |kind: LossKind| {
        let step = TrainStep::with_losses(&cfg, x, kind, false).unwrap();
        let mut store = init_store(b, &cfg, 5).unwrap();
        let out = step.run(b, &mut store, &xi, &ti).unwrap();
        step.param_grads.iter().flat_map(|(_, v)| b.download(&out[v]).unwrap()).collect::<Vec<f32>>()
    };
    let l1 = grads(LossKind::L1);
    let ssim = grads(LossKind { ssim: 1.0, ..LossKind::NONE });
    let both = grads(LossKind { l1: 0.5, ssim: 4.0, ..LossKind::NONE });
    let want: Vec<f32> = l1.iter().zip(&ssim).map(|(a, s)| 0.5 * a + 4.0 * s).collect();
    common::assert_close(&format!("{what}: gradients of 0.5*l1+4*ssim"), &both, &want, 1e-4);
}

#[test]
fn weighted_losses_give_the_weighted_sum_of_their_gradients() {
    weights_scale_gradients(&Reference, "reference");
    weights_scale_gradients(&Cpu, "cpu");
    if let Some(device) = common::gpu_device() {
        weights_scale_gradients(&Gpu::new(device.gpu().unwrap()), &device.describe());
    }
}

/// The edge term's gradient (its fixed convolutions' backward and L1's) against central
/// differences of its plain loops, in f64: the term is piecewise linear, so where no
/// difference is near zero the two agree to rounding.
#[test]
fn the_edge_loss_gradient_matches_finite_differences() {
    use brine::graph::{autodiff, exec};
    let (n, h, w) = (2, 5, 7);
    let mut g = Graph::new();
    let (y, t) = (g.input("y", &[n, 1, h, w]), g.input("t", &[n, 1, h, w]));
    let loss = brine::nn::programs::edge_loss(&mut g, y, t).unwrap();
    let dy = autodiff::backward(&mut g, loss, &[y]).unwrap()[0].unwrap();
    let plan = exec::plan(&g, &[loss, dy]);
    let mut rng = Rng::new(3);
    let (yv, tv) = (rng.normal_vec(n * h * w, 1.0), rng.normal_vec(n * h * w, 1.0));
    let edge = LossKind { edge: 1.0, ..LossKind::NONE };
    let out = exec::run(&Reference, &g, &plan, &mut Default::default(), &[("y", &yv), ("t", &tv)]).unwrap();
    let (got_loss, got) = (out[&loss][0] as f64, out[&dy].to_vec());
    let at = |v: &[f32]| edge.of(v, &tv, (h, w));
    assert!((got_loss - at(&yv)).abs() <= 1e-5 * at(&yv), "loss {got_loss} vs {}", at(&yv));
    // A power of two: y ± step is exact in f32. No difference of differences may lie within
    // the step of zero (a kink of |·|), which the seed is checked for.
    let step = 1.0f32 / 1024.0;
    let kink = (0..n * h * w)
        .filter(|i| i % w < w - 1 && i % (h * w) / w < h - 1)
        .flat_map(|i| [1, w].map(|o| ((yv[i + o] - yv[i]) - (tv[i + o] - tv[i])).abs()))
        .fold(f32::INFINITY, f32::min);
    assert!(kink > 4.0 * step, "seed: a difference {kink} lies too near a kink");
    for i in 0..yv.len() {
        let (mut up, mut down) = (yv.clone(), yv.clone());
        up[i] += step;
        down[i] -= step;
        let fd = (at(&up) - at(&down)) / (2.0 * step as f64);
        assert!((got[i] as f64 - fd).abs() <= 1e-6, "cell {i}: {} vs {fd}", got[i]);
    }
    assert!(got.iter().any(|&v| v != 0.0));
}

/// The ssim term through the graph (the map, its reshape and mean, and their backward
/// rules) against central differences of its plain loops (`metrics::ssim`, f64).
#[test]
fn the_ssim_loss_gradient_matches_finite_differences() {
    use brine::graph::{autodiff, exec};
    let (n, h, w) = (2, 6, 13);
    let mut g = Graph::new();
    let (y, t) = (g.input("y", &[n, 1, h, w]), g.input("t", &[n, 1, h, w]));
    let loss = brine::nn::programs::ssim_loss(&mut g, y, t).unwrap();
    let dy = autodiff::backward(&mut g, loss, &[y]).unwrap()[0].unwrap();
    let plan = exec::plan(&g, &[loss, dy]);
    let mut rng = Rng::new(4);
    let tv: Vec<f32> = (0..n * h * w).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect();
    let yv: Vec<f32> = tv.iter().map(|v| v * 0.5 + rng.uniform() as f32 * 0.4 - 0.2).collect();
    let ssim = LossKind { ssim: 1.0, ..LossKind::NONE };
    let out = exec::run(&Reference, &g, &plan, &mut Default::default(), &[("y", &yv), ("t", &tv)]).unwrap();
    let (got_loss, got) = (out[&loss][0] as f64, out[&dy].to_vec());
    let at = |v: &[f32]| ssim.of(v, &tv, (h, w));
    assert!((got_loss - at(&yv)).abs() <= 1e-6, "loss {got_loss} vs {}", at(&yv));
    let step = 1.0f32 / 1024.0;
    let fd: Vec<f32> = (0..yv.len())
        .map(|i| {
            let (mut up, mut down) = (yv.clone(), yv.clone());
            up[i] += step;
            down[i] -= step;
            ((at(&up) - at(&down)) / (2.0 * step as f64)) as f32
        })
        .collect();
    common::assert_close("ssim loss gradient against central differences", &got, &fd, 1e-4);
}

#[test]
fn loss_names_are_parsed_or_refused() {
    let k: LossKind = "l1+edge".parse().unwrap();
    assert_eq!(k, LossKind { l1: 1.0, edge: 1.0, ..LossKind::NONE });
    assert_eq!("mse+l1".parse::<LossKind>().unwrap(), LossKind { l1: 1.0, mse: 1.0, ..LossKind::NONE });
    assert_eq!("ssim+l1".parse::<LossKind>().unwrap(), LossKind { l1: 1.0, ssim: 1.0, ..LossKind::NONE });
    assert_eq!("l1 + 4*ssim".parse::<LossKind>().unwrap(), LossKind { l1: 1.0, ssim: 4.0, ..LossKind::NONE });
    assert_eq!("0.5*mse+2.5 * edge".parse::<LossKind>().unwrap(), LossKind { mse: 0.5, edge: 2.5, ..LossKind::NONE });
    for (bad, says) in [
        ("edge", "need l1 or mse"),
        ("ssim", "need l1 or mse"),
        ("l1+l1", "twice"),
        ("l1+huber", "`huber` is not one of"),
        ("", "is not one of"),
        ("l1+0*ssim", "not a positive number"),
        ("l1+-2*ssim", "not a positive number"),
        ("l1+inf*ssim", "not a positive number"),
        ("l1+x*ssim", "not a positive number"),
        ("4*ssim", "need l1 or mse"),
        ("l1+2*l1", "twice"),
    ] {
        let e = bad.parse::<LossKind>().unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

/// The runner's captured step (one submission on a GPU) with the edge term: the losses of
/// a few steps fall, and the GPU's equal the CPU backend's.
#[test]
fn runners_train_with_the_edge_and_ssim_losses_alike_on_every_device() {
    for loss in ["l1+edge", "l1+ssim"] {
        runners_train_alike(loss);
    }
}

fn runners_train_alike(loss: &str) {
    let cfg = small(Attention::Ca, true);
    let x = [2, 3, 8, 8];
    let kind: LossKind = loss.parse().unwrap();
    let mut rng = Rng::new(9);
    let (input, target) = (rng.normal_vec(2 * 3 * 64, 1.0), rng.normal_vec(2 * 64, 0.5));
    let devices: Vec<&Device> = [Some(&Device::Cpu), common::gpu_device()].into_iter().flatten().collect();
    let mut per_device = vec![];
    for device in devices {
        let adam = Adam { lr: 1e-2, ..Adam::default() };
        let mut runner = Runner::training(device, &cfg, x, kind, adam, Init::Seed(3)).unwrap();
        for _ in 0..6 {
            runner.step(&input, &target).unwrap();
        }
        let losses = runner.losses().unwrap();
        assert!(losses[5] < losses[0], "{}, {loss}: the loss did not fall: {losses:?}", device.describe());
        per_device.push(losses);
    }
    if let [cpu, gpu] = &per_device[..] {
        common::assert_close(&format!("{loss} losses, GPU against CPU"), gpu, cpu, 1e-3);
    }
}
