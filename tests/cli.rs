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
