//! `brine synth`, `forward` and `show` end to end: files numpy reads, shards that do not
//! depend on the split, resumable runs, and clear refusals of bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use brine::data::npy;

fn brine(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brine")).args(args).output().expect("brine runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brine-cli-seismic-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const TINY: &str = r#"{
  "nz": 16, "nx": 20, "dx": 10.0, "dt": 0.001, "nt": 150, "f0": 15.0,
  "sources": {"z": 1, "x": [2, 17]},
  "receivers": {"z": 1, "x_from": 0, "x_to": 19},
  "pml": 8, "decimate": 2
}"#;

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn synth_writes_numpy_shards_independent_of_the_split() {
    let d = dir("synth");
    let acq = write(&d.join("acq.json"), TINY);
    let whole = d.join("whole");
    let (ok, text) = brine(&[
        "synth",
        "--preset",
        &acq,
        "--count",
        "5",
        "--per-file",
        "2",
        "--seed",
        "7",
        "--out",
        s(&whole),
        "--engine",
        "cpu",
        "--quiet",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("5 samples in 3 new file(s)") && text.contains("norm.json"), "{text}");
    // numpy's header for float32 (2, 2, 75, 20), then the data.
    let bytes = std::fs::read(whole.join("data_00000.npy")).unwrap();
    let want = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 75, 20), }";
    assert_eq!(&bytes[..want.len()], want);
    assert_eq!(bytes.len(), 128 + 2 * 2 * 75 * 20 * 4);
    let m = npy::read(&whole.join("model_00002.npy")).unwrap();
    assert_eq!(m.shape, vec![1, 1, 16, 20]);
    let norm = brine::data::Norm::load(&whole.join("norm.json")).unwrap();
    assert!(norm.model_min >= 1500.0 && norm.model_max <= 4500.0 && norm.data_max > 0.0, "{norm:?}");
    // The same set made as two shards, in two runs: identical files.
    let split = d.join("split");
    for shard in ["1/2", "0/2"] {
        let (ok, text) = brine(&[
            "synth",
            "--preset",
            &acq,
            "--count",
            "5",
            "--per-file",
            "2",
            "--seed",
            "7",
            "--out",
            s(&split),
            "--shard",
            shard,
            "--engine",
            "cpu",
            "--quiet",
        ]);
        assert!(ok, "{text}");
    }
    for f in ["data_00000.npy", "data_00001.npy", "data_00002.npy", "model_00001.npy", "norm.json"] {
        assert_eq!(std::fs::read(whole.join(f)).unwrap(), std::fs::read(split.join(f)).unwrap(), "{f} differs");
    }
    // A rerun skips complete files; another set in the same directory is refused.
    let (ok, text) = brine(&[
        "synth",
        "--preset",
        &acq,
        "--count",
        "5",
        "--per-file",
        "2",
        "--seed",
        "7",
        "--out",
        s(&whole),
        "--engine",
        "cpu",
        "--quiet",
    ]);
    assert!(ok && text.contains("0 new file(s) (3 already complete)"), "{text}");
    let (ok, text) = brine(&["synth", "--preset", &acq, "--count", "5", "--seed", "8", "--out", s(&whole), "--quiet"]);
    assert!(!ok && text.contains("dataset.json"), "{text}");
    assert_eq!(brine::data::shards::list(&whole).unwrap().len(), 3);
    let shard = brine::data::Shard::open(&whole.join("data_00001.npy"), &whole.join("model_00001.npy")).unwrap();
    assert_eq!(shard.len(), 2);
    // Pictures of a model and a gather.
    let pics = d.join("pics");
    let (ok, text) = brine(&["show", s(&whole.join("model_00000.npy")), "--out", s(&pics), "--index", "0,1"]);
    assert!(ok, "{text}");
    let (ok, text) = brine(&["show", s(&whole.join("data_00000.npy")), "--out", s(&pics), "--shot", "1"]);
    assert!(ok, "{text}");
    let (ok, text) =
        brine(&["show", s(&whole.join("model_00000.npy")), "--out", s(&pics), "--index", "0,1", "--grid", "2"]);
    assert!(ok && text.contains("model_00000_grid.png"), "{text}");
    for f in ["model_00000_0.png", "model_00000_1.png", "data_00000_0_shot1.png", "model_00000_grid.png"] {
        assert_eq!(&std::fs::read(pics.join(f)).unwrap()[..8], b"\x89PNG\r\n\x1a\n", "{f}");
    }
    let (ok, text) = brine(&["show", s(&whole.join("data_00000.npy")), "--out", s(&pics), "--grid", "2"]);
    assert!(!ok && text.contains("--grid draws velocity models only"), "{text}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_interrupted_synth_leaves_complete_files_only() {
    let d = dir("interrupt");
    let acq = write(&d.join("acq.json"), &TINY.replace("\"nt\": 150", "\"nt\": 1500"));
    let out = d.join("set");
    let mut child = Command::new(env!("CARGO_BIN_EXE_brine"))
        .args(["synth", "--preset", &acq, "--count", "40", "--per-file", "2", "--out", s(&out), "--engine", "cpu"])
        .args(["--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !out.join("stats_00000.json").exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    let mut complete = 0;
    for n in names.iter().filter(|n| n.ends_with(".npy") && !n.starts_with('.')) {
        let a = npy::read(&out.join(n)).unwrap_or_else(|e| panic!("{n} is not a complete file: {e}"));
        assert_eq!(a.shape[0], 2, "{n}");
        complete += 1;
    }
    assert!(complete >= 2, "{names:?}");
    assert!(!out.join("norm.json").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let d = dir("bad");
    let acq = write(&d.join("acq.json"), TINY);
    let models = d.join("models.npy");
    let run =
        |m: &Path, a: &str| brine(&["forward", "--model", s(m), "--acquisition", a, "--out", s(&d.join("o.npy"))]);
    // Wrong rank.
    npy::write(&models, &[1, 1, 1, 16, 20], &vec![2000.0; 320]).unwrap();
    let (ok, text) = run(&models, &acq);
    assert!(!ok && text.contains("rank 5") && text.contains("models.npy"), "{text}");
    // NaN, zero, negative velocities: the model and the cell are named.
    for (bad, what) in [(f32::NAN, "NaN"), (0.0, "velocity 0"), (-1500.0, "velocity -1500")] {
        let mut v = vec![2000.0f32; 2 * 320];
        v[320 + 3 * 20 + 4] = bad;
        npy::write(&models, &[2, 1, 16, 20], &v).unwrap();
        let (ok, text) = run(&models, &acq);
        assert!(!ok && text.contains(what) && text.contains("model 1") && text.contains("[z 3, x 4]"), "{text}");
    }
    npy::write(&models, &[2, 1, 16, 20], &vec![2000.0; 640]).unwrap();
    // A source outside the grid.
    let outside = write(&d.join("outside.json"), &TINY.replace("[2, 17]", "[2, 20]"));
    let (ok, text) = run(&models, &outside);
    assert!(!ok && text.contains("source 1") && text.contains("outside"), "{text}");
    // An unstable dt: refused with the largest stable one.
    let unstable = write(&d.join("unstable.json"), &TINY.replace("0.001", "0.004"));
    let (ok, text) = run(&models, &unstable);
    assert!(!ok && text.contains("largest stable dt is 3.06") && text.contains("substep"), "{text}");
    // ... or sub-stepped when asked.
    let sub =
        write(&d.join("sub.json"), &TINY.replace("0.001", "0.004").replace("\"pml\"", "\"substep\": true, \"pml\""));
    let (ok, text) = run(&models, &sub);
    assert!(ok, "{text}");
    // A model grid the acquisition was not laid out for; a broken acquisition file.
    npy::write(&models, &[1, 16, 21], &vec![2000.0; 336]).unwrap();
    let (ok, text) = run(&models, &acq);
    assert!(!ok && text.contains("16×20") && text.contains("16×21"), "{text}");
    let (ok, text) = run(&models, s(&d.join("no-such.json")));
    assert!(!ok && text.contains("no-such.json"), "{text}");
    // Shard specs.
    for spec in ["3/2", "2/2", "1/0", "x/2", "1"] {
        let (ok, text) = brine(&["synth", "--count", "4", "--shard", spec, "--out", s(&d.join("sh")), "--quiet"]);
        assert!(!ok && text.contains("--shard") && text.contains(spec), "{spec}: {text}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn forward_on_the_gpu_equals_the_cpu_twin() {
    if common::gpu().is_none() {
        return;
    }
    let d = dir("fwd");
    let acq = write(&d.join("acq.json"), TINY);
    let models = d.join("m.npy");
    let m: Vec<f32> = (0..3).flat_map(|k| brine::seismic::model::sample(Default::default(), 2, k, 16, 20)).collect();
    npy::write(&models, &[3, 16, 20], &m).unwrap();
    let mut outs = vec![];
    for engine in ["cpu", "gpu"] {
        let o = d.join(format!("{engine}.npy"));
        let (ok, text) =
            brine(&["forward", "--model", s(&models), "--acquisition", &acq, "--out", s(&o), "--engine", engine]);
        assert!(ok, "{text}");
        outs.push(npy::read(&o).unwrap());
    }
    assert_eq!(outs[0].shape, vec![3, 2, 75, 20]);
    common::assert_close("forward gpu vs cpu", &outs[1].data, &outs[0].data, 1e-4);
    std::fs::remove_dir_all(&d).unwrap();
}
