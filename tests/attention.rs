//! Attention maps: the kept maps have the documented shapes and lie in [0, 1], equal what
//! the forward pass multiplied by (input · map reproduces each gate's output), come out of
//! the runner on the CPU and the GPU alike, and `infer`/`eval`/`ablate --attention` write
//! them, draw them and score them, with a clear note where there is nothing to score.

mod common;

use std::path::{Path, PathBuf};

use brine::device::Device;
use brine::graph::{Graph, exec};
use brine::nn::programs::{Inference, init_store};
use brine::nn::{Attention, Config, MapKind};
use brine::rng::Rng;
use brine::runner::{Init, Runner};
use brine::{Backend, Cpu};

fn config(attention: Attention, gates: bool) -> Config {
    Config { in_channels: 3, out_channels: 1, widths: vec![4, 8, 16], attention, gates }
}

const X: [usize; 4] = [2, 3, 16, 12];

/// The shape a map of `kind` has on an image of `h × w` with `c` channels.
fn documented(kind: MapKind, c: usize, h: usize, w: usize) -> Vec<usize> {
    match kind {
        MapKind::Gate | MapKind::CbamSpatial => vec![X[0], 1, h, w],
        MapKind::Se | MapKind::CbamChannel => vec![X[0], c, 1, 1],
        MapKind::CaH => vec![X[0], c, h, 1],
        MapKind::CaW => vec![X[0], c, 1, w],
    }
}

#[test]
fn maps_have_their_shapes_lie_in_0_1_and_are_what_the_gates_multiply_by() {
    let mut rng = Rng::new(4);
    let input = rng.normal_vec(X.iter().product(), 1.0);
    for (attention, gates, expected) in [
        (Attention::None, false, 0),
        (Attention::None, true, 2),
        (Attention::Se, false, 5),
        (Attention::Cbam, true, 12),
        (Attention::Ca, true, 12),
    ] {
        let cfg = config(attention, gates);
        let mut g = Graph::new();
        let x = g.input("input", &X);
        let (_, taps) = cfg.forward_tapped(&mut g, x, false).unwrap();
        assert_eq!(taps.len(), expected, "{attention:?} gates {gates}: taps");
        let maps: Vec<_> = taps.iter().map(|t| g.act(brine::ops::Act::Sigmoid, t.logits)).collect();
        let mut keep = maps.clone();
        keep.extend(taps.iter().flat_map(|t| [t.input, t.output]));
        let plan = exec::plan(&g, &keep);
        let mut store = init_store(&Cpu, &cfg, 3).unwrap();
        let out = exec::run(&Cpu, &g, &plan, &mut store, &[("input", &input)]).unwrap();
        // The runner keeps the same maps from its own plan.
        let mut runner = Runner::inference_with_maps(&Device::Cpu, &cfg, X, Init::State(host_state(&cfg))).unwrap();
        let (_, kept) = runner.predict_with_maps(&input).unwrap();
        assert_eq!(kept.len(), expected);
        for (k, (tap, m)) in taps.iter().zip(&maps).enumerate() {
            let xs = g.shape(tap.input).to_vec();
            let (c, h, w) = (xs[1], xs[2], xs[3]);
            assert_eq!(g.shape(*m), documented(tap.kind, c, h, w).as_slice(), "{}", tap.name);
            assert_eq!(runner.maps()[k].shape, g.shape(*m), "{}: runner shape", tap.name);
            assert_eq!(runner.maps()[k].tap.name, tap.name);
            assert_eq!(h, X[2] >> tap.level, "{}: level {}", tap.name, tap.level);
            let (map, xin, y) = (
                Cpu.download(&out[m]).unwrap(),
                Cpu.download(&out[&tap.input]).unwrap(),
                Cpu.download(&out[&tap.output]).unwrap(),
            );
            assert_eq!(map, kept[k], "{}: the runner's map", tap.name);
            assert!(map.iter().all(|v| (0.0..=1.0).contains(v)), "{}: outside [0, 1]", tap.name);
            let ms = g.shape(*m).to_vec();
            for (i, (&xv, &yv)) in xin.iter().zip(&y).enumerate() {
                let (n, ci, r, col) = (i / (c * h * w), i / (h * w) % c, i / w % h, i % w);
                let at = |d: usize, v: usize| if ms[d] == 1 { 0 } else { v };
                let mi = ((n * ms[1] + at(1, ci)) * ms[2] + at(2, r)) * ms[3] + at(3, col);
                assert!((xv * map[mi] - yv).abs() <= 1e-6 * (1.0 + yv.abs()), "{}: element {i}", tap.name);
            }
        }
    }
}

fn host_state(cfg: &Config) -> brine::runner::HostState {
    brine::runner::HostState { store: init_store(&brine::Reference, cfg, 3).unwrap(), opt: None }
}

#[test]
fn gpu_maps_equal_cpu_maps() {
    let Some(device) = common::gpu_device() else { return };
    let cfg = config(Attention::Ca, true);
    let input = Rng::new(6).normal_vec(X.iter().product(), 1.0);
    let mut cpu = Runner::inference_with_maps(&Device::Cpu, &cfg, X, Init::State(host_state(&cfg))).unwrap();
    let mut gpu = Runner::inference_with_maps(device, &cfg, X, Init::State(host_state(&cfg))).unwrap();
    let (_, a) = cpu.predict_with_maps(&input).unwrap();
    let (_, b) = gpu.predict_with_maps(&input).unwrap();
    for (k, (a, b)) in a.iter().zip(&b).enumerate() {
        common::assert_close(&cpu.maps()[k].tap.name, b, a, 1e-4);
    }
    // Plain inference keeps none.
    assert!(Inference::new(&cfg, X).unwrap().maps.is_empty());
}

// ---------------------------------------------------------------- the commands

use common::brine_ok as brine;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brine-attn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 24 demo samples and a CBAM + gates, an SE and a plain network trained briefly on them.
fn trained(dir: &Path) -> PathBuf {
    let set = common::demo_set(dir, 24, 24, 3);
    for (name, attention, gates) in [("cbam", "cbam", true), ("se", "se", false), ("none", "none", false)] {
        let mut args = vec![
            "train",
            "--data",
            s(&set),
            "--attention",
            attention,
            "--widths",
            "4,8",
            "--batch",
            "4",
            "--val-every",
            "4",
            "--epochs",
            "1",
            "--backend",
            "cpu",
        ];
        let out = dir.join(name);
        args.extend(["--out", s(&out)]);
        if gates {
            args.push("--gates");
        }
        brine(&args);
    }
    set
}

#[test]
fn infer_and_eval_write_draw_and_score_the_attention() {
    let dir = tmp("cmd");
    let set = trained(&dir);
    let data = set.join("data_00000.npy");
    let ck = |name: &str| dir.join(name).join("best.safetensors");
    let out = dir.join("inf");
    let t = brine(&[
        "infer",
        "--checkpoint",
        s(&ck("cbam")),
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--attention",
        "--figures",
        "2",
        "--backend",
        "cpu",
    ]);
    assert!(t.contains("attention on salt") && t.contains("gate.0"), "{t}");
    // Documented names and shapes, stacked over the 24 samples.
    let gate = brine::data::npy::read(&out.join("attention/gate.0.npy")).unwrap();
    assert_eq!(gate.shape, vec![24, 1, 40, 40]);
    let spatial = brine::data::npy::read(&out.join("attention/down.1.cbam_spatial.npy")).unwrap();
    assert_eq!(spatial.shape, vec![24, 1, 20, 20]);
    let channel = brine::data::npy::read(&out.join("attention/down.1.cbam_channel.npy")).unwrap();
    assert_eq!(channel.shape, vec![24, 8, 1, 1]);
    assert!(gate.data.iter().chain(&spatial.data).all(|v| (0.0..=1.0).contains(v)));
    for i in 0..2 {
        let png = out.join(format!("attention_{i:04}.png"));
        let img = image::open(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(img.width() > 400 && img.height() > 300, "{}", png.display());
    }
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("attention.json")).unwrap()).unwrap();
    // down.0 and down.1 CBAM, gate.0, dec.0 CBAM.
    assert_eq!(table["rows"].as_array().unwrap().len(), 4, "{table}");
    // eval --attention puts the focus into eval.json.
    let ev = dir.join("eval");
    let t = brine(&[
        "eval",
        "--checkpoint",
        s(&ck("cbam")),
        "--data",
        s(&set),
        "--out",
        s(&ev),
        "--attention",
        "--backend",
        "cpu",
    ]);
    assert!(t.contains("inside/outside"), "{t}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("eval.json")).unwrap()).unwrap();
    let rows = summary["attention"]["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["ratio"].as_f64().unwrap().is_finite() && r["samples"].as_u64().unwrap() > 0));
    // A salt threshold outside the data's velocities: a note, not a NaN.
    let t = brine(&[
        "eval",
        "--checkpoint",
        s(&ck("cbam")),
        "--data",
        s(&set),
        "--out",
        s(&ev),
        "--attention",
        "--salt",
        "99999",
        "--backend",
        "cpu",
    ]);
    assert!(t.contains("outside the data's velocity range") && !t.contains("NaN"), "{t}");
    // SE: channel weights only; none: no attention at all, velocities only.
    let t = brine(&[
        "eval",
        "--checkpoint",
        s(&ck("se")),
        "--data",
        s(&set),
        "--out",
        s(&ev),
        "--attention",
        "--backend",
        "cpu",
    ]);
    assert!(t.contains("channel weights only"), "{t}");
    let plain = dir.join("plain");
    let t = brine(&[
        "infer",
        "--checkpoint",
        s(&ck("none")),
        "--data",
        s(&data),
        "--out",
        s(&plain),
        "--attention",
        "--backend",
        "cpu",
    ]);
    assert!(t.contains("has no attention") && plain.join("prediction.npy").exists(), "{t}");
    assert!(!plain.join("attention_0000.png").exists());
    assert!(!plain.join("attention").exists(), "no empty attention directory");
}
