//! The user-facing commands end to end at tiny sizes: synth → train (CPU and GPU) → resume
//! → eval → infer → ablate, Ctrl-C, and bad input refused with a message and an exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn brine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brine")).args(args).output().expect("brine runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = brine(args);
    assert!(o.status.success(), "brine {}:\n{}", args.join(" "), text(&o));
    text(&o)
}

#[track_caller]
fn fails(args: &[&str], needle: &str) {
    let o = brine(args);
    assert!(!o.status.success(), "brine {} should fail:\n{}", args.join(" "), text(&o));
    assert!(text(&o).contains(needle), "brine {}: expected `{needle}` in:\n{}", args.join(" "), text(&o));
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brine-wf-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 24 samples of the demo acquisition (40 × 40 models, 3 shots), made once.
fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::demo_set(&tmp("data"), 24, 12, 3))
}

fn metrics_rows(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv")).unwrap().lines().skip(1).map(String::from).collect()
}

fn train_args<'a>(data: &'a str, out: &'a str, backend: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--attention",
        "se",
        "--gates",
        "--widths",
        "4,8",
        "--epochs",
        epochs,
        "--batch",
        "4",
        "--lr",
        "3e-3",
        "--val-every",
        "4",
        "--out",
        out,
        "--backend",
        backend,
        "--seed",
        "5",
    ]
}

#[test]
fn train_resume_eval_infer_on_cpu() {
    let data = dataset();
    let root = tmp("cpu");
    let run = root.join("run");
    let log = ok(&train_args(s(data), s(&run), "cpu", "2"));
    assert_eq!(metrics_rows(&run).len(), 2);
    assert!(log.contains("epoch 2/2: train loss"), "into a pipe, one line per epoch:\n{log}");
    for f in ["run.json", "best.safetensors", "last.safetensors", "last.optim.safetensors"] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    // The same seed on the CPU backend gives the same run.
    let again = root.join("again");
    ok(&train_args(s(data), s(&again), "cpu", "2"));
    let strip =
        |rows: Vec<String>| rows.iter().map(|r| r.split(',').take(5).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(strip(metrics_rows(&run)), strip(metrics_rows(&again)), "a seeded CPU run is reproducible");
    // A second start in the same directory is refused; --resume continues it.
    fails(&train_args(s(data), s(&run), "cpu", "2"), "--resume");
    ok(&["train", "--resume", s(&run), "--epochs", "3"]);
    assert_eq!(metrics_rows(&run).len(), 3);

    let ckpt = run.join("best.safetensors");
    let ev = root.join("eval");
    let out = ok(&["eval", "--checkpoint", s(&ckpt), "--data", s(data), "--out", s(&ev), "--backend", "cpu"]);
    assert!(out.contains("SSIM"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("eval.json")).unwrap()).unwrap();
    assert_eq!(summary["samples"], 24);
    for k in ["mae", "rmse", "ssim", "mae_ms"] {
        assert!(summary[k].as_f64().is_some_and(f64::is_finite), "{k}: {summary}");
    }
    assert_eq!(std::fs::read_to_string(ev.join("eval.csv")).unwrap().lines().count(), 25);
    // The training set's baselines, scored the same way, and whether the network beats them.
    let b = &summary["baselines"];
    for k in ["mean_model", "mean_profile"] {
        assert!(b[k]["mae"].as_f64().is_some_and(|v| v > 0.0), "{k}: {summary}");
    }
    let ratio = b["mae_ratio_mean_model"].as_f64().unwrap();
    assert!((ratio - summary["mae"].as_f64().unwrap() / b["mean_model"]["mae"].as_f64().unwrap()).abs() < 1e-9);
    assert!(out.contains("baseline: the training set's mean model") && out.contains("the network"), "{out}");

    let inf = root.join("infer");
    ok(&[
        "infer",
        "--checkpoint",
        s(&ckpt),
        "--data",
        s(&data.join("data_00000.npy")),
        "--out",
        s(&inf),
        "--figures",
        "2",
        "--backend",
        "cpu",
    ]);
    let pred = brine::data::npy::read(&inf.join("prediction.npy")).unwrap();
    assert_eq!(pred.shape, vec![12, 1, 40, 40]);
    assert!(pred.data.iter().all(|v| v.is_finite() && *v > 500.0 && *v < 6000.0), "velocities in m/s");
    for f in ["sample_0000.png", "sample_0001.png", "loss.png"] {
        assert!(image_ok(&inf.join(f)), "{f}");
    }
    assert!(!inf.join("sample_0002.png").exists());
}

fn image_ok(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x89PNG"))
}

#[test]
fn training_runs_on_the_gpu() {
    if common::gpu().is_none() {
        return;
    }
    let root = tmp("gpu");
    let run = root.join("run");
    let out = ok(&train_args(s(dataset()), s(&run), "gpu", "1"));
    assert!(out.contains("gpu"), "{out}");
    assert_eq!(metrics_rows(&run).len(), 1);
    // One submission and no host sync per step; the losses are read once, at the end of
    // this short epoch.
    let line = out.lines().find(|l| l.starts_with("per training step:")).unwrap_or_else(|| panic!("{out}"));
    let nums: Vec<f64> = line.split_whitespace().filter_map(|w| w.trim_end_matches([',', ';']).parse().ok()).collect();
    assert_eq!(nums[..3], [1.0, 0.0, 1.0], "{line}");
    let ev = root.join("eval");
    ok(&[
        "eval",
        "--checkpoint",
        s(&run.join("best.safetensors")),
        "--data",
        s(dataset()),
        "--out",
        s(&ev),
        "--backend",
        "gpu",
    ]);
}

#[test]
fn ablate_compares_eight_variants() {
    let out = tmp("ablate");
    let text = ok(&[
        "ablate",
        "--data",
        s(dataset()),
        "--epochs",
        "1",
        "--widths",
        "4,8",
        "--batch",
        "4",
        "--val-every",
        "4",
        "--out",
        s(&out),
        "--backend",
        "cpu",
        "--seeds",
        "2",
    ]);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("ablation.json")).unwrap()).unwrap();
    // Two seeds per variant: two runs, their mean, and a spread that is not zero.
    for r in &rows {
        let runs = r["runs"].as_array().unwrap();
        let maes: Vec<f64> = runs.iter().map(|x| x["mae"].as_f64().unwrap()).collect();
        assert_eq!(runs.iter().map(|x| x["seed"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1]);
        assert!((r["mae"].as_f64().unwrap() - (maes[0] + maes[1]) / 2.0).abs() < 1e-12, "{r}");
        let sd = (maes[0] - maes[1]).abs() / 2f64.sqrt();
        assert!((r["spread"]["mae"].as_f64().unwrap() - sd).abs() < 1e-12 && sd > 0.0, "{r}");
        assert!(out.join(r["variant"].as_str().unwrap()).join("seed-1").join("best.safetensors").exists());
    }
    assert!(text.contains(" ± ") && text.contains(" σ) |") && text.contains("2 seeds per variant"), "{text}");
    let bad = tmp("ablate-bad").join("out");
    fails(&["ablate", "--data", s(dataset()), "--seeds", "0", "--out", s(&bad), "--backend", "cpu"], "--seeds 0");
    assert!(!bad.exists(), "nothing is created for a refused run");
    let names: Vec<&str> = rows.iter().map(|r| r["variant"].as_str().unwrap()).collect();
    assert_eq!(names, ["none", "none+gates", "se", "se+gates", "cbam", "cbam+gates", "ca", "ca+gates"]);
    let params: Vec<u64> = rows.iter().map(|r| r["parameters"].as_u64().unwrap()).collect();
    assert!(params[1] > params[0] && params[4] > params[0], "attention adds parameters: {params:?}");
    assert!(text.contains("| cbam+gates |") && text.contains("focus (in/out)"), "{text}");
    // The focus on salt: none for the variants without spatial maps, a number for the others.
    let focus: Vec<bool> = rows.iter().map(|r| r["focus"].as_f64().is_some()).collect();
    assert_eq!(focus, [false, true, false, true, true, true, true, true]);
}

#[test]
fn ctrl_c_saves_a_checkpoint_before_exiting() {
    let run = tmp("ctrlc").join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_brine"))
        .args(train_args(s(dataset()), s(&run), "cpu", "1000"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first epoch to finish, then interrupt.
    let start = std::time::Instant::now();
    while !run.join("metrics.csv").exists() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("interrupted"), "{}", text(&out));
    assert!(run.join("last.safetensors").exists());
    // Resume one epoch further than the interrupted run got.
    let more = (metrics_rows(&run).len() + 1).to_string();
    let t = ok(&["train", "--resume", s(&run), "--epochs", &more]);
    assert!(t.contains("resuming") && t.contains(&format!("of {more}")), "{t}");
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let empty = tmp("empty");
    fails(&["train", "--data", s(&empty), "--out", s(&empty.join("r"))], "holds no shards");
    fails(&["train", "--data", "/no/such/dir", "--out", s(&empty.join("r"))], "/no/such/dir");
    // Data and model counts that disagree.
    let bad = tmp("mismatch");
    let d = brine::data::npy::read(&dataset().join("data_00000.npy")).unwrap();
    brine::data::npy::write(&bad.join("data1.npy"), &d.shape, &d.data).unwrap();
    let m = brine::data::npy::read(&dataset().join("model_00000.npy")).unwrap();
    let mut shape = m.shape.clone();
    shape[0] -= 2;
    brine::data::npy::write(&bad.join("model1.npy"), &shape, &m.data[..m.data.len() / 12 * 10]).unwrap();
    fails(&["train", "--data", s(&bad), "--out", s(&bad.join("r")), "--backend", "cpu"], "model1.npy");
    // A corrupt checkpoint, and data that contradicts a good one.
    let corrupt = bad.join("c.safetensors");
    std::fs::write(&corrupt, b"not a checkpoint").unwrap();
    fails(&["eval", "--checkpoint", s(&corrupt), "--data", s(dataset())], "c.safetensors");
    fails(
        &["infer", "--checkpoint", s(&corrupt), "--data", s(&bad.join("data1.npy")), "--out", s(&bad.join("i"))],
        "c.safetensors",
    );
    let run = tmp("bad-run").join("run");
    ok(&train_args(s(dataset()), s(&run), "cpu", "1"));
    let shots = bad.join("shots.npy");
    brine::data::npy::write(&shots, &[1, 2, d.shape[2], d.shape[3]], &d.data[..2 * d.shape[2] * d.shape[3]]).unwrap();
    fails(
        &["infer", "--checkpoint", s(&run.join("best.safetensors")), "--data", s(&shots), "--out", s(&bad.join("i"))],
        "shots.npy",
    );
    // An output directory that cannot be written.
    fails(
        &[
            "eval",
            "--checkpoint",
            s(&run.join("best.safetensors")),
            "--data",
            s(dataset()),
            "--out",
            "/proc/brine-eval",
        ],
        "/proc/brine-eval",
    );
}

#[test]
fn demo_runs_at_a_small_size() {
    let out = tmp("demo");
    let text = ok(&["demo", "--out", s(&out), "--samples", "32", "--seconds", "3", "--backend", "cpu"]);
    assert!(text.contains("SSIM") && text.contains("figure"), "{text}");
    assert!(out.join("eval.json").exists());
    assert!(image_ok(&out.join("figures/sample_0000.png")));
    // The learning rate follows a cosine over the 3 s budget: from 3e-3, falling epoch by epoch.
    let lr: Vec<f64> =
        metrics_rows(&out.join("run")).iter().map(|r| r.split(',').nth(4).unwrap().parse().unwrap()).collect();
    assert!(lr.len() >= 3 && lr[0] == 3e-3, "{lr:?}");
    assert!(lr.windows(2).all(|w| w[1] < w[0]) && *lr.last().unwrap() < 2e-3, "{lr:?}");
}

#[test]
fn the_shipped_model_infers_openfwi_data_without_training() {
    let dir = tmp("shipped");
    ok(&[
        "synth",
        "--preset",
        "openfwi",
        "--count",
        "2",
        "--seed",
        "11",
        "--out",
        s(&dir.join("set")),
        "--engine",
        "cpu",
        "--quiet",
    ]);
    let out = dir.join("pred");
    let text = ok(&[
        "infer",
        "--data",
        s(&dir.join("set/data_00000.npy")),
        "--out",
        s(&out),
        "--figures",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(text.contains("SSIM"), "the truth beside the data is used: {text}");
    let pred = brine::data::npy::read(&out.join("prediction.npy")).unwrap();
    assert_eq!(pred.shape, vec![2, 1, 70, 70]);
    assert!(image_ok(&out.join("sample_0000.png")) && image_ok(&out.join("loss.png")));
}

/// A set that would not fit the memory allowed is streamed a window of files at a time,
/// with the same split and the same number of steps as in memory.
#[test]
fn training_streams_a_set_larger_than_memory() {
    let root = tmp("stream");
    let set = common::demo_set(&root, 24, 6, 4);
    let (mem, asked) = (root.join("mem"), root.join("asked"));
    let in_memory = ok(&train_args(s(&set), s(&mem), "cpu", "2"));
    // 5 MB: loading takes 4.3 MB (one 3.5 MB file as read beside 0.8 MB of samples laid
    // out), more than half of it; two files streamed at a time take 4.0 MB.
    let o = Command::new(env!("CARGO_BIN_EXE_brine"))
        .args(train_args(s(&set), s(&root.join("streamed")), "cpu", "2"))
        .env("BRINE_MAX_BYTES", "5000000")
        .output()
        .unwrap();
    let streamed = text(&o);
    assert!(o.status.success() && streamed.contains("streamed from its shards"), "{streamed}");
    assert!(!in_memory.contains("streamed"), "{in_memory}");
    let line = |t: &str| t.lines().find(|l| l.contains("validation samples")).unwrap_or_default().to_string();
    assert_eq!(line(&streamed).split(" on ").next(), line(&in_memory).split(" on ").next(), "{streamed}");
    assert_eq!(metrics_rows(&root.join("streamed")).len(), 2);
    // 9 MB: the 4.3 MB fit in half of it, though the set as stored (7.1 MB) would not.
    let o = Command::new(env!("CARGO_BIN_EXE_brine"))
        .args(train_args(s(&set), s(&root.join("fits")), "cpu", "1"))
        .env("BRINE_MAX_BYTES", "9000000")
        .output()
        .unwrap();
    assert!(o.status.success() && !text(&o).contains("streamed"), "{}", text(&o));
    // Asked for explicitly, with the memory to spare, streaming trains too.
    let mut args = train_args(s(&set), s(&asked), "cpu", "2");
    args.push("--stream");
    ok(&args);
    assert_eq!(metrics_rows(&root.join("asked")).len(), 2);
}

/// `--online` trains each epoch on newly simulated salt (the stored set validates), and
/// needs the acquisition a `brine synth` set records.
#[test]
fn training_online_simulates_new_salt_every_epoch() {
    let root = tmp("online");
    let (run, r2) = (root.join("run"), root.join("r2"));
    let mut args = train_args(s(dataset()), s(&run), "cpu", "2");
    args.push("--online");
    let t = ok(&args);
    assert!(t.contains("newly simulated"), "{t}");
    assert_eq!(metrics_rows(&root.join("run")).len(), 2);
    // An OpenFWI-style directory (pairs, no dataset.json) cannot be extended.
    let pairs = root.join("pairs");
    std::fs::create_dir_all(&pairs).unwrap();
    std::fs::copy(dataset().join("data_00000.npy"), pairs.join("data1.npy")).unwrap();
    std::fs::copy(dataset().join("model_00000.npy"), pairs.join("model1.npy")).unwrap();
    let mut args = train_args(s(&pairs), s(&r2), "cpu", "1");
    args.push("--online");
    fails(&args, "dataset.json");
}

/// `--flip` trains on a mirror-symmetric acquisition, and is refused (naming the source)
/// on the demo's, whose middle source is not mirrored, and without a dataset.json.
#[test]
fn training_flips_only_under_a_mirror_symmetric_acquisition() {
    let root = tmp("flip");
    let acq = root.join("acq.json");
    std::fs::create_dir_all(&root).unwrap();
    let sym = brine::app::demo::ACQUISITION.replace("\"nx\": 40", "\"nx\": 39").replace("[0, 20, 39]", "[0, 19, 38]");
    std::fs::write(&acq, sym.replace("\"x_to\": 39", "\"x_to\": 38")).unwrap();
    let set = root.join("set");
    ok(&["synth", "--preset", s(&acq), "--count", "12", "--out", s(&set), "--backend", "cpu", "--quiet"]);
    let run = root.join("run");
    let mut args = train_args(s(&set), s(&run), "cpu", "2");
    args.push("--flip");
    ok(&args);
    assert_eq!(metrics_rows(&run).len(), 2);
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(spec["flip"], true);
    let r2 = root.join("r2");
    let mut args = train_args(s(dataset()), s(&r2), "cpu", "1");
    args.push("--flip");
    fails(&args, "source 1 at [z 1, x 20] mirrors to [z 1, x 19]");
    assert!(!r2.join("run.json").exists());
}

/// `brine refine` from a tiny network's guess on the demo set: a few FWI iterations lower the
/// data misfit, on the CPU and on the GPU (which agree on the start's misfit), and the
/// outputs are what the README says.
#[test]
fn refine_lowers_the_data_misfit_on_cpu_and_gpu() {
    let root = tmp("refine");
    let run = root.join("run");
    ok(&train_args(s(dataset()), s(&run), "cpu", "1"));
    let ckpt = run.join("best.safetensors");
    let data = dataset().join("data_00001.npy");
    let refine_with = |out: &Path, backend: &str, limit: &str, iters: &str, bands: &str, extra: &[&str]| {
        let mut args = vec![
            "refine",
            "--bands",
            bands,
            "--checkpoint",
            s(&ckpt),
            "--data",
            s(&data),
            "--out",
            s(out),
            "--iters",
            iters,
            "--limit",
            limit,
            "--figures",
            "1",
            "--backend",
            backend,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let text = ok(&args);
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("refine.json")).unwrap()).unwrap();
        let misfit: Vec<f64> =
            json["iterations"].as_array().unwrap().iter().map(|r| r["misfit"].as_f64().unwrap()).collect();
        (text, json, misfit)
    };
    let refine = |out: &Path, backend: &str, limit: &str, iters: &str, bands: &str| {
        refine_with(out, backend, limit, iters, bands, &[])
    };
    let cpu = root.join("cpu");
    let (text, json, misfit) = refine(&cpu, "cpu", "2", "3", "0");
    assert!(text.contains("data misfit (full band") && text.contains("vs truth"), "{text}");
    assert_eq!(misfit.len(), 4, "the start and 3 iterations");
    assert!(misfit.windows(2).all(|w| w[1] < w[0]), "the misfit falls at every iteration: {misfit:?}");
    assert!(json["iterations"][0]["scores"]["mae"].as_f64().unwrap() > 0.0, "scored against the sibling truth");
    assert_eq!(json["per_sample"].as_array().unwrap().len(), 2);
    let refined = brine::data::npy::read(&cpu.join("refined.npy")).unwrap();
    assert_eq!(refined.shape, vec![2, 1, 40, 40]);
    let (lo, hi) = (json["bounds"][0].as_f64().unwrap() as f32, json["bounds"][1].as_f64().unwrap() as f32);
    assert!(refined.data.iter().all(|v| *v >= lo && *v <= hi), "velocities stay within the bounds");
    for f in ["refine_0000.png", "misfit.png"] {
        assert!(image_ok(&cpu.join(f)), "{f}");
    }
    assert!(!cpu.join("refine_0001.png").exists(), "--figures 1");
    // By default refine simulates with a layer thinner than the data's 20 cells; `--pml`
    // gives the data's own, which changes the start's misfit only a little.
    let acq: brine::seismic::Acquisition = serde_json::from_str(brine::app::demo::ACQUISITION).unwrap();
    let thin = brine::app::refine::thin_pml(&acq, json["bounds"][0].as_f64().unwrap());
    assert!(thin < acq.pml, "{thin}");
    assert_eq!(json["pml"].as_u64(), Some(thin as u64));
    assert!(text.contains(&format!("absorbing layer {thin} cells")), "{text}");
    let (text, json, wide) = refine_with(&root.join("pml"), "cpu", "2", "1", "0", &["--pml", "20"]);
    assert_eq!(json["pml"].as_u64(), Some(20));
    assert!(text.contains("absorbing layer 20 cells"), "{text}");
    assert!(wide[0] != misfit[0] && (wide[0] - misfit[0]).abs() < 0.05 * misfit[0], "{wide:?} vs {misfit:?}");
    // Frequency continuation: 4 iterations in two bands, each band's misfit falling.
    let (text, json, misfit) = refine(&root.join("bands"), "cpu", "1", "4", "5,0");
    let bands: Vec<f64> =
        json["iterations"].as_array().unwrap().iter().map(|r| r["band_hz"].as_f64().unwrap()).collect();
    assert_eq!(bands, [5.0, 5.0, 5.0, 0.0, 0.0], "{text}");
    assert!(misfit[2] < misfit[0] && misfit[4] < misfit[3], "{misfit:?}");
    assert!(
        text.contains("data misfit (5 Hz low-pass, iterates 0..2)") && text.contains("(full band, iterates 3..4)"),
        "{text}"
    );
    // A band repeated is one stage continued: the same iterates as the band given once.
    let (_, _, once) = refine(&root.join("once"), "cpu", "1", "3", "5");
    let (_, _, twice) = refine(&root.join("twice"), "cpu", "1", "3", "5,5");
    assert_eq!(once, twice, "a second stage of the same band must not start L-BFGS afresh");
    if common::gpu_device().is_some() {
        let gpu = root.join("gpu");
        let (_, _, on_gpu) = refine(&gpu, "gpu", "1", "1", "5,0");
        let (_, _, on_cpu) = refine(&root.join("cpu1"), "cpu", "1", "1", "5,0");
        assert!((on_gpu[0] - on_cpu[0]).abs() < 1e-3 * on_cpu[0], "start misfit: GPU {on_gpu:?} vs CPU {on_cpu:?}");
        assert!(on_gpu[1] < on_gpu[0], "the misfit falls on the GPU too: {on_gpu:?}");
        assert!((on_gpu[1] - on_cpu[1]).abs() < 0.01 * on_cpu[1], "GPU {on_gpu:?} vs CPU {on_cpu:?}");
    }
}

/// `--from` fine-tunes a checkpoint: its weights and normalisation with a fresh optimiser,
/// on data of the layout it was trained on only.
#[test]
fn training_from_a_checkpoint_fine_tunes_it() {
    use brine::checkpoint::{self, Model};
    let root = tmp("from");
    let base = root.join("base");
    ok(&train_args(s(dataset()), s(&base), "cpu", "2"));
    let ckpt = base.join("last.safetensors");
    // Another set of the same acquisition, whose own bounds differ.
    let other = common::demo_set(&root, 12, 12, 9);
    let own = brine::data::Norm::load(&other.join("norm.json")).unwrap();
    let start = Model::read(&ckpt).unwrap();
    assert_ne!(own, start.norm, "the two sets' bounds differ");
    let tuned = root.join("tuned");
    let args = |out: &Path, from: &Path| {
        let v = ["train", "--data", s(&other), "--from", s(from), "--epochs", "1", "--batch", "4", "--lr", "1e-12"];
        let mut v: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        v.extend(["--val-every", "4", "--backend", "cpu", "--out", s(out)].map(String::from));
        v
    };
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    ok(&refs(&args(&tuned, &ckpt)));
    let last = tuned.join("last.safetensors");
    let after = Model::read(&last).unwrap();
    assert_eq!(after.norm, start.norm, "the data are normalised with the checkpoint's bounds");
    assert_eq!(after.config, start.config);
    // At a learning rate of 1e-12 the weights are the checkpoint's, not a seed's.
    let b = brine::backend::Reference;
    let (_, w0) = checkpoint::load(&b, &ckpt, None).unwrap();
    let (_, w1) = checkpoint::load(&b, &last, None).unwrap();
    for (name, p0) in &w0.params {
        let d = p0.iter().zip(&w1.params[name]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(d < 1e-6, "{name} moved by {d}");
    }
    // A fresh optimiser: one epoch of 9 training samples in batches of 4 is 2 steps, not
    // 2 more than the base run's 8.
    let step = |p: &Path| checkpoint::metadata(p).unwrap()["brine.step"].parse::<u64>().unwrap();
    assert_eq!((step(&ckpt), step(&last)), (8, 2));
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.join("run.json")).unwrap()).unwrap();
    assert_eq!(spec["from"], s(&ckpt));
    // The shipped model was trained on OpenFWI's layout, not the demo's.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/model/openfwi_cbam_gates.safetensors");
    let wrong = root.join("wrong");
    fails(&refs(&args(&wrong, &shipped)), "5 shots × 1000 × 70 with 70 × 70 models");
    assert!(!wrong.join("run.json").exists());
    fails(&refs(&args(&wrong, &root.join("none.safetensors"))), "none.safetensors");
    let mut t = args(&wrong, &ckpt);
    t.extend(["--widths", "4,8"].map(String::from));
    fails(&refs(&t), "cannot be used with");
}

/// `--loss l1+edge` and `l1+ssim` train end to end: the validation loss is L1 plus the
/// second term (so above the validation MAE), the run records the loss, and a loss that
/// names edge or ssim alone is refused before anything is written.
#[test]
fn training_with_the_edge_and_ssim_losses() {
    for loss in ["l1+edge", "l1+ssim"] {
        let run = tmp(loss).join("run");
        let mut args = train_args(s(dataset()), s(&run), "cpu", "2");
        args.extend(["--loss", loss]);
        ok(&args);
        for row in metrics_rows(&run) {
            let f: Vec<f64> = row.split(',').map(|v| v.parse().unwrap()).collect();
            let (val_loss, val_mae) = (f[2], f[3]);
            assert!(val_loss > val_mae * 1.05, "{loss}: the second term is missing from the validation loss: {row}");
        }
        let spec = std::fs::read_to_string(run.join("run.json")).unwrap();
        assert!(spec.contains(&format!("\"{loss}\"")), "{spec}");
        let term = &loss[3..];
        let alone = tmp(&format!("{term}-alone")).join("run");
        let mut args = train_args(s(dataset()), s(&alone), "cpu", "1");
        args.extend(["--loss", term]);
        fails(&args, "need l1 or mse");
        assert!(!alone.exists(), "a refused loss wrote {}", alone.display());
    }
}

/// `--time-phases K`: the network takes shots × K channels, the checkpoint keeps the
/// layout, and eval, infer and a fine-tune from it read the data the same way; a count the
/// data cannot fill, none, or one beside `--from` is refused before anything is written.
#[test]
fn training_with_time_phases() {
    use brine::checkpoint::Model;
    let root = tmp("phases");
    let run = root.join("run");
    let mut args = train_args(s(dataset()), s(&run), "cpu", "2");
    args.extend(["--time-phases", "3"]);
    ok(&args);
    let ckpt = run.join("best.safetensors");
    let m = Model::read(&ckpt).unwrap();
    assert_eq!((m.layout.phases, m.layout.shots, m.config.in_channels), (3, 3, 9));
    let spec = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(spec.contains("\"time_phases\": 3"), "{spec}");
    let ev = root.join("eval");
    ok(&["eval", "--checkpoint", s(&ckpt), "--data", s(dataset()), "--out", s(&ev), "--backend", "cpu"]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("eval.json")).unwrap()).unwrap();
    assert!(summary["ssim"].as_f64().is_some_and(f64::is_finite), "{summary}");
    let inf = root.join("infer");
    let data = dataset().join("data_00000.npy");
    ok(&["infer", "--checkpoint", s(&ckpt), "--data", s(&data), "--out", s(&inf), "--backend", "cpu"]);
    assert_eq!(brine::data::npy::read(&inf.join("prediction.npy")).unwrap().shape, vec![12, 1, 40, 40]);
    let tuned = root.join("tuned");
    let v = ["train", "--data", s(dataset()), "--from", s(&ckpt), "--epochs", "1", "--batch", "4"];
    let mut v: Vec<&str> = v.to_vec();
    v.extend(["--val-every", "4", "--backend", "cpu", "--out", s(&tuned)]);
    ok(&v);
    assert_eq!(Model::read(&tuned.join("last.safetensors")).unwrap().layout, m.layout);
    for (k, says) in [("0", "at least one"), ("1000", "allow 1 to")] {
        let bad = root.join(format!("bad{k}"));
        let mut args = train_args(s(dataset()), s(&bad), "cpu", "1");
        args.extend(["--time-phases", k]);
        fails(&args, says);
        assert!(!bad.join("run.json").exists(), "--time-phases {k} wrote a run");
    }
    let wrong = root.join("wrong");
    v.extend(["--time-phases", "2"]);
    *v.iter_mut().find(|a| **a == s(&tuned)).unwrap() = s(&wrong);
    fails(&v, "cannot be used with");
}

/// `--mirror` averages the prediction with the one from the mirrored gathers: infer's output
/// is, to rounding, the mean of the plain prediction and the mirrored-back prediction of a
/// file whose gathers were mirrored by hand; eval says so; an acquisition that is not
/// mirror-symmetric within a cell, `--attention` beside it and a start that is not the
/// network's are refused.
#[test]
fn mirror_averages_with_the_prediction_from_the_mirrored_gathers() {
    use brine::data::npy;
    let dir = tmp("mirror");
    let set = dir.join("set");
    ok(&[
        "synth",
        "--preset",
        "openfwi",
        "--count",
        "3",
        "--seed",
        "12",
        "--out",
        s(&set),
        "--engine",
        "cpu",
        "--quiet",
    ]);
    let data = set.join("data_00000.npy");
    let infer = |data: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec!["infer", "--data", s(data), "--out", s(out), "--figures", "0", "--backend", "cpu"];
        args.extend_from_slice(extra);
        let text = ok(&args);
        (text, npy::read(&out.join("prediction.npy")).unwrap().data)
    };
    let (_, plain) = infer(&data, &dir.join("plain"), &[]);
    let (text, mirrored) = infer(&data, &dir.join("mirrored"), &["--mirror"]);
    assert!(text.contains("--mirror: averaged") && text.contains("dataset.json"), "{text}");
    // The gathers mirrored by hand: shots in reverse order, receivers reversed.
    let a = npy::read(&data).unwrap();
    let [n, shots, nt, nrec] = <[usize; 4]>::try_from(a.shape.clone()).unwrap();
    let mut flipped = vec![0.0f32; a.data.len()];
    for (i, s_, t, r) in (0..n)
        .flat_map(|i| (0..shots).flat_map(move |s_| (0..nt).flat_map(move |t| (0..nrec).map(move |r| (i, s_, t, r)))))
    {
        flipped[((i * shots + shots - 1 - s_) * nt + t) * nrec + nrec - 1 - r] =
            a.data[((i * shots + s_) * nt + t) * nrec + r];
    }
    std::fs::create_dir_all(dir.join("by-hand")).unwrap();
    let gathers = dir.join("by-hand/gathers.npy");
    npy::write(&gathers, &a.shape, &flipped).unwrap();
    let (_, from_flipped) = infer(&gathers, &dir.join("by-hand/pred"), &[]);
    let nx = 70;
    let mut worst = 0.0f32;
    for (k, (&m, &p)) in mirrored.iter().zip(&plain).enumerate() {
        let mirror_k = k - k % nx + nx - 1 - k % nx;
        worst = worst.max((m - 0.5 * (p + from_flipped[mirror_k])).abs());
    }
    assert!(worst < 0.05, "--mirror against the average by hand: worst {worst} m/s");
    let moved = mirrored.iter().zip(&plain).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 1.0, "the mirrored pass changed nothing: {moved} m/s");
    if common::gpu().is_some() {
        let out = dir.join("gpu");
        ok(&["infer", "--data", s(&data), "--out", s(&out), "--figures", "0", "--backend", "gpu", "--mirror"]);
        let gpu = npy::read(&out.join("prediction.npy")).unwrap().data;
        let worst = gpu.iter().zip(&mirrored).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 0.5, "--mirror on the GPU against the CPU: worst {worst} m/s");
    }
    // eval marks it.
    let ckpt = "assets/model/openfwi_cbam_gates.safetensors";
    let eval = |out: &Path, extra: &[&str]| {
        let mut args = vec!["eval", "--checkpoint", ckpt, "--data", s(&set), "--out", s(out), "--backend", "cpu"];
        args.extend_from_slice(extra);
        let text = ok(&args);
        (
            text,
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(out.join("eval.json")).unwrap())
                .unwrap(),
        )
    };
    let (text, json) = eval(&dir.join("eval-mirrored"), &["--mirror"]);
    assert!(text.contains("mirrored gathers") && json["mirrored"] == true, "{text}");
    let (_, plain_json) = eval(&dir.join("eval-plain"), &[]);
    assert!(plain_json.get("mirrored").is_none() && plain_json["mae"] != json["mae"]);
    // Refused, with nothing written.
    let eval_out = dir.join("eval-both");
    fails(
        &["eval", "--checkpoint", ckpt, "--data", s(&set), "--out", s(&eval_out), "--mirror", "--attention"],
        "--mirror and --attention",
    );
    let both = dir.join("infer-both");
    fails(&["infer", "--data", s(&data), "--out", s(&both), "--mirror", "--attention"], "--mirror and --attention");
    assert!(!both.join("prediction.npy").exists());
    let asym = dir.join("asym");
    std::fs::create_dir_all(&asym).unwrap();
    std::fs::copy(&data, asym.join("data_00000.npy")).unwrap();
    let desc = std::fs::read_to_string(set.join("dataset.json")).unwrap();
    let mut desc: serde_json::Value = serde_json::from_str(&desc).unwrap();
    desc["acquisition"]["sources"]["x"][2] = 30.into();
    std::fs::write(asym.join("dataset.json"), desc.to_string()).unwrap();
    let out = dir.join("asym-pred");
    fails(
        &["infer", "--data", s(&asym.join("data_00000.npy")), "--out", s(&out), "--mirror"],
        "not mirror-symmetric within 1 cell",
    );
    assert!(!out.join("prediction.npy").exists());
    fails(
        &[
            "refine",
            "--data",
            s(&data),
            "--out",
            s(&dir.join("refine")),
            "--init",
            "smooth",
            "--mirror",
            "--iters",
            "1",
        ],
        "--mirror applies to the network's prediction",
    );
}

#[test]
fn training_for_a_time_budget_stops_and_resumes_on_its_clock() {
    let data = dataset();
    let run = tmp("seconds").join("run");
    let mut args = train_args(s(data), s(&run), "cpu", "1000");
    args.retain(|a| *a != "--epochs" && *a != "1000");
    args.extend(["--seconds", "1.5", "--schedule", "cosine"]);
    ok(&args);
    let col = |run: &Path, k: usize| -> Vec<f64> {
        metrics_rows(run).iter().map(|r| r.split(',').nth(k).unwrap().parse().unwrap()).collect()
    };
    let (lr, secs) = (col(&run, 4), col(&run, 5));
    // It stops after the epoch that ends past the budget, not before, and not later.
    let total: f64 = secs.iter().sum();
    assert!(total >= 1.5 && total - secs.last().unwrap() < 1.5, "{secs:?}");
    assert!(lr.len() >= 2 && lr[0] == 3e-3 && lr.windows(2).all(|w| w[1] < w[0]), "{lr:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["budget_s"], 1.5);
    // Its budget is spent: resuming trains nothing until --seconds gives it more.
    let said = ok(&["train", "--resume", s(&run)]);
    assert!(said.contains("budget is spent"), "{said}");
    assert_eq!(col(&run, 4).len(), lr.len());
    ok(&["train", "--resume", s(&run), "--seconds", "3"]);
    let more = col(&run, 4);
    assert!(more.len() > lr.len(), "{more:?}");
    // The schedule goes on from the time already trained: it does not start over.
    assert!(more[lr.len()] < 3e-3 * 0.9 && more[lr.len()..].windows(2).all(|w| w[1] < w[0]), "{more:?}");
    for bad in ["0", "-1", "nan", "inf"] {
        let out = tmp(&format!("seconds-{bad}")).join("run");
        let mut args = train_args(s(data), s(&out), "cpu", "2");
        args.extend(["--seconds", bad]);
        fails(&args, "time budget");
        assert!(!out.join("run.json").exists(), "nothing written for --seconds {bad}");
    }
}
