//! The `brine` binary end to end: exit codes and messages a user sees.

use std::path::Path;
use std::process::Command;

fn brine(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brine")).args(args).output().expect("brine runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn check_passes_on_the_shipped_golden_vectors_cpu() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden");
    let (ok, text) = brine(&["check", "--golden", dir.to_str().unwrap(), "--backend", "cpu"]);
    assert!(ok, "{text}");
    assert!(text.contains("conv2d_0_k3s1") && text.contains("PASS"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn check_on_a_missing_directory_fails_with_its_name() {
    let (ok, text) = brine(&["check", "--golden", "/no/such/golden-dir"]);
    assert!(!ok);
    assert!(text.contains("/no/such/golden-dir"), "{text}");
}

#[test]
fn check_on_a_corrupt_file_fails_with_its_name() {
    let dir = std::env::temp_dir().join(format!("brine-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ops.safetensors"), b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage").unwrap();
    let (ok, text) = brine(&["check", "--golden", dir.to_str().unwrap(), "--backend", "cpu"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!ok);
    assert!(text.contains("ops.safetensors"), "{text}");
}

#[test]
fn bad_arguments_are_refused() {
    let (ok, text) = brine(&["bench", "kernels", "--batch", "0"]);
    assert!(!ok);
    assert!(text.contains("--batch"), "{text}");
    let (ok, _) = brine(&["check"]);
    assert!(!ok, "check without --golden must fail");
}

#[test]
fn an_unknown_adapter_name_lists_the_available_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_brine"))
        .arg("info")
        .env("BRINE_ADAPTER", "no-such-gpu-anywhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BRINE_ADAPTER") || err.contains("no GPU adapter"), "{err}");
}

/// A thread count of zero or garbage is an error naming where it came from; an absurd one
/// is clamped with a note; a sane one is taken. (The printed acquisition needs no threads.)
#[test]
fn thread_counts_are_checked() {
    let run = |args: &[&str], env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_brine"));
        c.args(args).args(["synth", "--print-acquisition", "--count", "1", "--out", "unused"]);
        match env {
            Some(v) => c.env("RAYON_NUM_THREADS", v),
            None => c.env_remove("RAYON_NUM_THREADS"),
        };
        let out = c.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (ok, err) = run(&["--threads", "0"], None);
    assert!(!ok && err.contains("--threads") && err.contains("at least one"), "{err}");
    let (ok, err) = run(&[], Some("0"));
    assert!(!ok && err.contains("RAYON_NUM_THREADS = 0"), "{err}");
    let (ok, err) = run(&[], Some("many"));
    assert!(!ok && err.contains("RAYON_NUM_THREADS") && err.contains("many"), "{err}");
    let (ok, err) = run(&[], Some("1000000"));
    assert!(ok && err.contains("note:") && err.contains("1000000"), "{err}");
    let (ok, err) = run(&["--threads", "1000000"], Some("2"));
    assert!(ok && err.contains("--threads = 1000000"), "the flag wins over the variable: {err}");
    let (ok, err) = run(&["--threads", "1"], Some("junk"));
    assert!(ok, "the flag wins over a bad variable: {err}");
    let (ok, err) = run(&["--threads", "abc"], None);
    assert!(!ok && err.contains("--threads"), "{err}");
}
