//! Bad input, as a user would give it (and worse): each case runs the command line and
//! asserts a clean error — exit code 1 (2 for usage errors), a message that names the flag,
//! key or file and what was wrong, no panic — and that earlier outputs are byte-identical
//! afterwards, with no temporary files left behind.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use safetensors::Dtype;

fn brine_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brine"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("brine runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = brine_env(args, &[]);
    let t = text(&o);
    assert!(o.status.success() && !t.contains("panicked"), "brine {}:\n{t}", args.join(" "));
    t
}

/// Runs a command that must fail with exit code `code` and a message holding every needle.
#[track_caller]
fn refused_with(code: i32, args: &[&str], env: &[(&str, &str)], needles: &[&str]) -> String {
    let o = brine_env(args, env);
    let t = text(&o);
    assert!(!t.contains("panicked") && !t.contains("RUST_BACKTRACE"), "brine {} panicked:\n{t}", args.join(" "));
    assert_eq!(o.status.code(), Some(code), "brine {}: exit code, output:\n{t}", args.join(" "));
    for n in needles {
        assert!(t.contains(n), "brine {}: expected `{n}` in:\n{t}", args.join(" "));
    }
    t
}

#[track_caller]
fn refused(args: &[&str], needles: &[&str]) -> String {
    refused_with(1, args, &[], needles)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brine-bad-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file below `dir` with its bytes, to show that a failed command changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[track_caller]
fn unchanged(dir: &Path, before: &[(PathBuf, Vec<u8>)]) {
    let after = snapshot(dir);
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(before), "files appeared or vanished in {}", dir.display());
    for ((p, a), (_, b)) in after.iter().zip(before) {
        assert!(a == b, "{} changed", p.display());
    }
}

/// 24 samples of the demo acquisition and a tiny model trained on them, made once.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static F: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tmp("fixture");
        let set = common::demo_set(&dir, 24, 12, 3);
        let run = dir.join("run");
        ok(&train(&set, &run, &["--epochs", "1"]));
        (set, run)
    })
}

fn train<'a>(data: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "train",
        "--data",
        s(data),
        "--attention",
        "se",
        "--batch",
        "4",
        "--val-every",
        "4",
        "--out",
        s(out),
        "--backend",
        "cpu",
        "--seed",
        "5",
    ];
    for (flag, default) in [("--widths", "4,8"), ("--lr", "3e-3")] {
        if !extra.contains(&flag) {
            v.extend([flag, default]);
        }
    }
    v.extend_from_slice(extra);
    v
}

/// Rewrites a safetensors file: `edit` may change its tensors (name, shape, dtype, bytes)
/// and its metadata.
fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl FnOnce(&mut Vec<(String, Vec<usize>, Dtype, Vec<u8>)>, &mut HashMap<String, String>),
) {
    let bytes = std::fs::read(src).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap_or_default();
    let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.dtype(), v.data().to_vec())).collect();
    edit(&mut tensors, &mut meta);
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, shape, d, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, shape.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, Some(meta), dst).unwrap();
}

/// A copy of the fixture's best checkpoint with `edit` applied, in `dir`.
fn edited_checkpoint(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, Vec<usize>, Dtype, Vec<u8>)>, &mut HashMap<String, String>),
) -> PathBuf {
    let dst = dir.join(name);
    rewrite(&fixture().1.join("best.safetensors"), &dst, edit);
    dst
}

// ---------------------------------------------------------------- crashes

#[test]
fn sizes_from_flags_are_checked_before_anything_runs() {
    let (set, run) = fixture();
    let out = tmp("sizes");
    for cmd in [
        train(set, &out.join("r"), &["--limit", "0"]),
        vec![
            "eval",
            "--checkpoint",
            s(&run.join("best.safetensors")),
            "--data",
            s(set),
            "--limit",
            "0",
            "--out",
            s(&out),
        ],
        vec!["ablate", "--data", s(set), "--out", s(&out.join("a")), "--limit", "0", "--backend", "cpu"],
    ] {
        refused(&cmd, &["--limit", "at least 1"]);
    }
    for seconds in ["-1", "NaN", "0", "inf"] {
        let demo = out.join(format!("demo{seconds}"));
        refused(&["demo", "--out", s(&demo), "--seconds", seconds, "--backend", "cpu"], &["--seconds", seconds]);
        assert!(!demo.exists(), "demo --seconds {seconds} wrote {}", demo.display());
    }
    refused(&train(set, &out.join("w"), &["--widths", "100000"]), &["100000 channels", "at most"]);
    refused(&train(set, &out.join("w2"), &["--widths", "60000,60000"]), &["needs", "GiB", "more than"]);
    refused(&train(set, &out.join("w3"), &["--widths", "1,2,3,4,5,6,7,8,9,10,11,12,13"]), &["13 levels"]);
    refused(
        &[
            "synth",
            "--count",
            "18446744073709551615",
            "--per-file",
            "1",
            "--out",
            s(&out.join("huge")),
            "--backend",
            "cpu",
        ],
        &["--count", "files"],
    );
    refused(&["bench", "step", "--backend", "cpu", "--batch", "0"], &["--batch must be at least 1"]);
    refused(
        &[
            "bench",
            "step",
            "--backend",
            "cpu",
            "--batch",
            "1",
            "--height",
            "16",
            "--width",
            "16",
            "--widths",
            "8,16,32,64,128",
        ],
        &["BatchNorm", "fewer levels"],
    );
    // A batch larger than the data is clamped: memory follows the samples.
    let two = out.join("two.npy");
    let d = brine::data::npy::read(&set.join("data_00000.npy")).unwrap();
    let per = d.data.len() / d.shape[0];
    brine::data::npy::write(&two, &[2, d.shape[1], d.shape[2], d.shape[3]], &d.data[..2 * per]).unwrap();
    ok(&[
        "infer",
        "--checkpoint",
        s(&run.join("best.safetensors")),
        "--data",
        s(&two),
        "--out",
        s(&out.join("i")),
        "--batch",
        "100000",
        "--backend",
        "cpu",
    ]);
}

#[test]
fn sizes_from_files_are_checked_before_anything_is_allocated() {
    let (_, run) = fixture();
    let dir = tmp("file-sizes");
    let models = dir.join("m.npy");
    brine::data::npy::write(&models, &[1, 40, 40], &vec![2000.0; 1600]).unwrap();
    for (nt, needle) in [("1000000000", "needs"), ("18446744073709551615", "time steps")] {
        let acq = dir.join(format!("acq{nt}.json"));
        let json = brine::app::demo::ACQUISITION.replace("\"nt\": 600", &format!("\"nt\": {nt}"));
        std::fs::write(&acq, json).unwrap();
        refused(
            &[
                "forward",
                "--model",
                s(&models),
                "--acquisition",
                s(&acq),
                "--out",
                s(&dir.join("d.npy")),
                "--backend",
                "cpu",
            ],
            &[needle],
        );
        assert!(!dir.join("d.npy").exists());
    }
    let huge = edited_checkpoint(&dir, "huge.safetensors", |_, meta| {
        let l = meta.get_mut("brine.layout").unwrap();
        *l = l.replace("\"nz\":40", "\"nz\":1000000").replace("\"nx\":40", "\"nx\":1000000");
    });
    refused(
        &["infer", "--checkpoint", s(&huge), "--data", s(&dir.join("x.npy")), "--out", s(&dir.join("o"))],
        &["huge.safetensors", "brine.layout"],
    );
    let _ = run;
}

// ---------------------------------------------------------------- false success

#[test]
fn non_finite_data_weights_and_truth_are_refused() {
    let (set, run) = fixture();
    let dir = tmp("nonfinite");
    // Training data with a NaN: the file and the index are named.
    let nan_set = dir.join("nan-set");
    std::fs::create_dir_all(&nan_set).unwrap();
    let mut d = brine::data::npy::read(&set.join("data_00000.npy")).unwrap();
    d.data[1234] = f32::NAN;
    brine::data::npy::write(&nan_set.join("data1.npy"), &d.shape, &d.data).unwrap();
    std::fs::copy(set.join("model_00000.npy"), nan_set.join("model1.npy")).unwrap();
    refused(&train(&nan_set, &dir.join("r"), &[]), &["data1.npy", "index 1234", "finite"]);
    refused(
        &[
            "infer",
            "--checkpoint",
            s(&run.join("best.safetensors")),
            "--data",
            s(&nan_set.join("data1.npy")),
            "--out",
            s(&dir.join("i")),
        ],
        &["data1.npy", "index 1234"],
    );
    // NaN weights: eval refuses and keeps the good eval.json it wrote before.
    let ev = dir.join("eval");
    ok(&[
        "eval",
        "--checkpoint",
        s(&run.join("best.safetensors")),
        "--data",
        s(set),
        "--out",
        s(&ev),
        "--backend",
        "cpu",
    ]);
    let before = snapshot(&ev);
    let nan = edited_checkpoint(&dir, "nan.safetensors", |t, _| {
        let w = t.iter_mut().find(|(n, ..)| n.ends_with("conv.weight")).unwrap();
        w.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    refused(
        &["eval", "--checkpoint", s(&nan), "--data", s(set), "--out", s(&ev), "--backend", "cpu"],
        &["nan.safetensors", "weight", "finite"],
    );
    unchanged(&ev, &before);
    // A truth with a negative velocity.
    let m = brine::data::npy::read(&set.join("model_00000.npy")).unwrap();
    let mut bad = m.data.clone();
    bad[7] = -1500.0;
    let truth = dir.join("truth.npy");
    brine::data::npy::write(&truth, &m.shape, &bad).unwrap();
    let out = dir.join("inf");
    refused(
        &[
            "infer",
            "--checkpoint",
            s(&run.join("best.safetensors")),
            "--data",
            s(&set.join("data_00000.npy")),
            "--truth",
            s(&truth),
            "--out",
            s(&out),
        ],
        &["truth.npy", "velocity -1500", "positive"],
    );
    assert!(!out.join("prediction.npy").exists());
}

#[test]
fn a_diverging_run_fails_without_claiming_a_checkpoint() {
    let (set, _) = fixture();
    let dir = tmp("diverge");
    let run = dir.join("r");
    let t = refused(&train(set, &run, &["--lr", "1e30", "--epochs", "2"]), &["loss"]);
    assert!(t.contains("NaN") || t.contains("inf"), "{t}");
    assert!(!t.contains("best.safetensors"), "{t}");
    assert!(!run.join("best.safetensors").exists());
}

#[test]
fn golden_directories_that_check_nothing_fail() {
    let dir = tmp("golden");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden/ops.safetensors");
    // No cases at all.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    rewrite(&src, &empty.join("ops_none.safetensors"), |t, meta| {
        meta.clear();
        t.truncate(1);
    });
    refused(&["check", "--golden", s(&empty), "--backend", "cpu"], &["no cases", "FAIL"]);
    // A missing reference, and a reshaped one, are failures that name them.
    let missing = dir.join("missing");
    std::fs::create_dir_all(&missing).unwrap();
    rewrite(&src, &missing.join("ops.safetensors"), |t, _| t.retain(|(n, ..)| n != "max_pool2d_0.y"));
    refused(&["check", "--golden", s(&missing), "--backend", "cpu"], &["max_pool2d_0", "max_pool2d_0.y", "FAIL"]);
    let reshaped = dir.join("reshaped");
    std::fs::create_dir_all(&reshaped).unwrap();
    rewrite(&src, &reshaped.join("ops.safetensors"), |t, _| {
        let y = t.iter_mut().find(|(n, ..)| n == "max_pool2d_0.y").unwrap();
        y.1 = vec![y.1.iter().product()];
    });
    refused(&["check", "--golden", s(&reshaped), "--backend", "cpu"], &["max_pool2d_0.y", "shape", "FAIL"]);
}

#[test]
fn bad_values_in_files_are_named() {
    let (set, run) = fixture();
    let dir = tmp("values");
    let models = dir.join("m.npy");
    brine::data::npy::write(&models, &[1, 40, 40], &vec![2000.0; 1600]).unwrap();
    for (from, to, needle) in [
        ("\"x_from\": 0, \"x_to\": 39", "\"x_from\": 0, \"x_to\": 39, \"x_step\": 0", "x_step"),
        ("\"x\": [0, 20, 39]", "\"x\": [0, -20, 39]", "non-negative"),
        ("\"x_from\": 0, \"x_to\": 39", "\"x_from\": 30, \"x_to\": 3", "x_from"),
    ] {
        let acq = dir.join("acq.json");
        std::fs::write(&acq, brine::app::demo::ACQUISITION.replace(from, to)).unwrap();
        refused(
            &["forward", "--model", s(&models), "--acquisition", s(&acq), "--out", s(&dir.join("d.npy"))],
            &["acq.json", needle],
        );
    }
    refused(&["synth", "--preset", "nope", "--count", "1", "--out", s(&dir.join("x"))], &["nope", "openfwi", "fcnvmb"]);
    refused(
        &["infer", "--checkpoint", s(&run.join("best.safetensors")), "--data", s(set), "--out", s(&dir.join("o"))],
        &["is a directory", "expected a .npy file"],
    );
    for dx in ["abc", "0", "-10"] {
        let ck = edited_checkpoint(&dir, "dx.safetensors", |_, meta| {
            meta.insert("brine.dx".into(), dx.into());
        });
        let out = dir.join(format!("dx{dx}"));
        refused(
            &["infer", "--checkpoint", s(&ck), "--data", s(&set.join("data_00000.npy")), "--out", s(&out)],
            &["brine.dx", dx],
        );
        assert!(!out.join("prediction.npy").exists(), "dx {dx}: a prediction was written before the error");
    }
    // PyTorch's batch counters in another type are not an error.
    let f32_counters = edited_checkpoint(&dir, "f32.safetensors", |t, _| {
        for (n, _, d, b) in t.iter_mut().filter(|(n, ..)| n.ends_with("num_batches_tracked")) {
            let _ = n;
            *d = Dtype::F32;
            *b = 1.0f32.to_le_bytes().to_vec();
        }
    });
    ok(&[
        "infer",
        "--checkpoint",
        s(&f32_counters),
        "--data",
        s(&set.join("data_00000.npy")),
        "--out",
        s(&dir.join("f32")),
    ]);
    // Offsets past the end name the tensor.
    let bytes = std::fs::read(&f32_counters).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    refused(
        &["infer", "--checkpoint", s(&cut), "--data", s(&set.join("data_00000.npy")), "--out", s(&dir.join("c"))],
        &["cut.safetensors", "tensor `"],
    );
    // Usage errors exit with 2.
    refused_with(2, &["train", "--epochs", "abc"], &[], &["--epochs"]);
    // --print-acquisition needs nothing else.
    let t = ok(&["synth", "--preset", "openfwi", "--print-acquisition"]);
    assert!(t.contains("\"nt\": 1000"), "{t}");
}

// ---------------------------------------------------------------- lost or mixed data

#[test]
fn existing_runs_are_neither_overwritten_nor_relabelled() {
    let (set, run) = fixture();
    let dir = tmp("runs");
    // A directory with only a checkpoint in it is taken.
    let taken = dir.join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::copy(run.join("last.safetensors"), taken.join("last.safetensors")).unwrap();
    let before = snapshot(&taken);
    refused(&train(set, &taken, &[]), &["already holds a run", "last.safetensors"]);
    unchanged(&taken, &before);
    // A model and optimiser file from different saves are refused on resume.
    let r = dir.join("pair");
    ok(&train(set, &r, &["--epochs", "1"]));
    let old_optim = std::fs::read(r.join("last.optim.safetensors")).unwrap();
    ok(&["train", "--resume", s(&r), "--epochs", "2"]);
    std::fs::write(r.join("last.optim.safetensors"), old_optim).unwrap();
    let before = snapshot(&r);
    refused(&["train", "--resume", s(&r), "--epochs", "3"], &["last.optim.safetensors", "not saved together"]);
    unchanged(&r, &before);
    // Resume says what it does and refuses what it cannot do.
    let before = snapshot(&r);
    refused(&["train", "--resume", s(&r), "--epochs", "1"], &["--epochs 1", "has done 2 epochs"]);
    refused_with(2, &["train", "--resume", s(&r), "--widths", "8,16"], &[], &["--widths", "--resume"]);
    unchanged(&r, &before);
    std::fs::remove_file(r.join("metrics.csv")).unwrap();
    refused(&["train", "--resume", s(&r)], &["no metrics.csv", "refusing to resume"]);
    // An ablation rerun with other hyper-parameters does not relabel the old runs; another
    // seed trains its own runs beside them (`OUT/<variant>/seed-S`).
    let ab = dir.join("ablate");
    let args = |seed: &'static str, lr: &'static str| {
        vec![
            "ablate",
            "--data",
            s(set),
            "--out",
            s(&ab),
            "--epochs",
            "1",
            "--widths",
            "4",
            "--batch",
            "4",
            "--val-every",
            "4",
            "--backend",
            "cpu",
            "--seed",
            seed,
            "--lr",
            lr,
        ]
    };
    ok(&args("1", "1e-3"));
    let seed1 = ab.join("none/seed-1");
    let before = snapshot(&seed1);
    refused(&args("1", "2e-3"), &["describes another run", "run.json"]);
    unchanged(&seed1, &before);
    ok(&args("2", "1e-3"));
    assert!(ab.join("none/seed-2/run.json").exists());
    unchanged(&seed1, &before);
}

#[test]
fn synth_remakes_a_truncated_shard() {
    let (set, _) = fixture();
    let dir = tmp("resume-synth");
    let copy = dir.join("set");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(set).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
    }
    let good = std::fs::read(copy.join("data_00001.npy")).unwrap();
    std::fs::write(copy.join("data_00001.npy"), &good[..good.len() / 2]).unwrap();
    let acq = dir.join("acq.json");
    std::fs::write(&acq, brine::app::demo::ACQUISITION).unwrap();
    let t = ok(&[
        "synth",
        "--preset",
        s(&acq),
        "--count",
        "24",
        "--seed",
        "3",
        "--per-file",
        "12",
        "--out",
        s(&copy),
        "--backend",
        "cpu",
        "--quiet",
    ]);
    assert!(t.contains("1 new file(s)"), "{t}");
    assert!(std::fs::read(copy.join("data_00001.npy")).unwrap() == good, "the shard was not remade as it was");
}

/// The files left in `dir` whose names mark them temporary.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir).into_iter().map(|(p, _)| p).filter(|p| p.to_string_lossy().contains(".tmp")).collect()
}

#[test]
fn a_full_disk_leaves_no_temporary_files_and_keeps_earlier_outputs() {
    let (set, run) = fixture();
    let dir = tmp("full");
    let models = dir.join("m.npy");
    brine::data::npy::write(&models, &[2, 40, 40], &vec![2000.0; 3200]).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("d.npy"), b"an earlier result").unwrap();
    let before = snapshot(&out);
    let acq = dir.join("acq.json");
    std::fs::write(&acq, brine::app::demo::ACQUISITION).unwrap();
    // A 16 KiB file-size limit stands in for a full disk (SIGXFSZ ignored: writes fail).
    let limited = |args: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("trap '' XFSZ; ulimit -f 32; exec {} {args}", env!("CARGO_BIN_EXE_brine")))
            .output()
            .unwrap();
        assert!(!o.status.success() && !text(&o).contains("panicked"), "{}", text(&o));
        text(&o)
    };
    limited(&format!(
        "forward --model {} --acquisition {} --out {} --backend cpu",
        s(&models),
        s(&acq),
        s(&out.join("d.npy"))
    ));
    unchanged(&out, &before);
    // A checkpoint save that runs out of room.
    let r = dir.join("r");
    std::fs::create_dir_all(&r).unwrap();
    let t = limited(&format!(
        "train --data {} --widths 8,16 --batch 4 --val-every 4 --epochs 1 --backend cpu --out {}",
        s(set),
        s(&r)
    ));
    assert!(t.contains("safetensors") || t.contains("metrics"), "{t}");
    assert!(temporaries(&r).is_empty(), "left behind: {:?}", temporaries(&r));
    // `forward --out` an existing directory.
    refused(&["forward", "--model", s(&models), "--acquisition", s(&acq), "--out", s(&out)], &["is a directory"]);
    unchanged(&out, &before);
    let _ = run;
}

/// `brine refine`: starting models with NaN, zero or negative velocities or outside the
/// bounds, truth of another shape, an acquisition that contradicts the data, `--iters 0`,
/// bounds the scheme cannot keep stable: each refused before anything is written, and an
/// earlier refinement in the output directory is left byte-identical.
#[test]
fn refine_refuses_bad_starts_acquisitions_and_bounds() {
    let (set, run) = fixture();
    let dir = tmp("refine");
    let (ckpt, data) = (run.join("best.safetensors"), set.join("data_00000.npy"));
    let out = dir.join("out");
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v = vec!["refine", "--checkpoint", s(&ckpt), "--data", s(&data), "--out", s(&out), "--limit", "1"];
        v.extend_from_slice(extra);
        v.extend(["--backend", "cpu", "--quiet", "--figures", "0"]);
        v.into_iter().map(String::from).collect()
    };
    let refused =
        |args: Vec<String>, needles: &[&str]| refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), needles);
    ok(&base(&["--iters", "1"]).iter().map(String::as_str).collect::<Vec<_>>());
    let before = snapshot(&out);
    let model = |name: &str, edit: &dyn Fn(&mut [f32])| {
        let mut m = vec![2500.0f32; 40 * 40];
        edit(&mut m);
        let p = dir.join(name);
        brine::data::npy::write(&p, &[1, 1, 40, 40], &m).unwrap();
        p
    };
    let nan = model("nan.npy", &|m| m[41] = f32::NAN);
    let zero = model("zero.npy", &|m| m[0] = 0.0);
    let negative = model("negative.npy", &|m| m[7] = -1500.0);
    let fast = model("fast.npy", &|m| m[5] = 9000.0);
    let small = dir.join("small.npy");
    brine::data::npy::write(&small, &[1, 1, 30, 40], &vec![2000.0f32; 1200]).unwrap();
    refused(base(&["--init", s(&nan), "--iters", "2"]), &["nan.npy", "NaN", "[z 1, x 1]"]);
    refused(base(&["--init", s(&zero), "--iters", "2"]), &["zero.npy", "velocity 0"]);
    refused(base(&["--init", s(&negative), "--iters", "2"]), &["negative.npy", "-1500"]);
    refused(base(&["--init", s(&fast), "--iters", "2"]), &["fast.npy", "9000", "outside the bounds", "--vmax"]);
    refused(base(&["--truth", s(&small), "--iters", "2"]), &["small.npy", "30 × 40", "40 × 40"]);
    refused(base(&["--iters", "0"]), &["--iters must be at least 1"]);
    let mut no_samples = base(&["--iters", "2"]);
    let at = no_samples.iter().position(|a| a == "--limit").unwrap();
    no_samples[at + 1] = "0".into();
    refused(no_samples, &["--limit must be at least 1"]);
    refused(base(&["--lr=-3"]), &["--lr -3"]);
    refused(base(&["--vmin", "3000", "--vmax", "2000"]), &["need 0 < vmin < vmax"]);
    refused(base(&["--acquisition", "openfwi"]), &["contradicts", "5 shots × 1000 samples × 70 receivers"]);
    // A vmax the time step cannot keep stable is refused with the largest stable dt.
    refused(base(&["--vmax", "20000"]), &["unstable", "largest stable dt"]);
    refused(base(&["--smooth=-1"]), &["--smooth -1"]);
    refused(base(&["--depth-weight", "9"]), &["--depth-weight 9"]);
    refused(base(&["--pml", "5000"]), &["--pml 5000", "implausibly large"]);
    refused(base(&["--bands=-2,0"]), &["--bands", "-2 Hz"]);
    refused(base(&["--bands", "4,NaN"]), &["--bands", "NaN Hz"]);
    refused(base(&["--bands", "600"]), &["--bands", "600 Hz", "Nyquist"]);
    unchanged(&out, &before);
}
