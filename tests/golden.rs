//! The golden runner against PyTorch's vectors in ../shared/golden, on both backends, and
//! on files it has never seen: other shapes it must read from the tensors, and broken files
//! it must refuse with a message that names the file and the tensor.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use brine::golden::{self, FileKind, GoldenFile};
use brine::ops::Conv2d;
use brine::rng::Rng;
use brine::{Backend, Cpu, Gpu};

fn shared_golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden")
}

fn check_all_ops<B: Backend>(b: &B, dir: &Path) -> usize {
    let mut n = 0;
    for path in golden::list_dir(dir).unwrap() {
        let file = GoldenFile::open(&path).unwrap();
        if let FileKind::Ops = golden::kind(&file) {
            let reports = golden::run_ops(b, &file);
            let failed: Vec<String> = reports.iter().filter(|r| !r.passed()).map(|r| r.line()).collect();
            assert!(failed.is_empty(), "{} on {}:\n{}", path.display(), b.name(), failed.join("\n"));
            n += reports.len();
        }
    }
    n
}

#[test]
fn shipped_ops_pass_on_cpu() {
    let n = check_all_ops(&Cpu, &shared_golden());
    assert!(n >= 40, "only {n} op cases found");
}

#[test]
fn shipped_ops_pass_on_gpu() {
    let Some(ctx) = common::gpu() else { return };
    let n = check_all_ops(&Gpu::new(ctx), &shared_golden());
    assert!(n >= 40, "only {n} op cases found");
}

fn view<'a>(shape: &[usize], bytes: &'a [u8], dtype: safetensors::Dtype) -> safetensors::tensor::TensorView<'a> {
    safetensors::tensor::TensorView::new(dtype, shape.to_vec(), bytes).unwrap()
}

/// Writes a conv2d case of a shape the shipped files do not have, with float64 references
/// from the CPU twin in f64, and returns the directory.
fn write_unseen_case(dir: &Path, corrupt_reference: bool) {
    let g = Conv2d::new([2, 6, 11, 5], 4, [5, 5], 2, 2).unwrap();
    let mut rng = Rng::new(11);
    let x = rng.normal_vec(g.x_shape().iter().product(), 1.0);
    let w = rng.normal_vec(g.w_shape().iter().product(), 0.3);
    let dy = rng.normal_vec(g.y_shape().iter().product(), 1.0);
    let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let cpu = brine::cpu::conv2d::forward::<f64>;
    let mut y = cpu(&g, &f64s(&x), &f64s(&w), None).unwrap();
    if corrupt_reference {
        y[3] += 1.0;
    }
    let gx = brine::cpu::conv2d::backward_data::<f64>(&g, &f64s(&dy), &f64s(&w)).unwrap();
    let gw = brine::cpu::conv2d::backward_weight::<f64>(&g, &f64s(&x), &f64s(&dy)).unwrap();
    let b32 = |v: &[f32]| bytemuck::cast_slice::<f32, u8>(v).to_vec();
    let b64 = |v: &[f64]| bytemuck::cast_slice::<f64, u8>(v).to_vec();
    let tensors = [
        ("odd.x", g.x_shape().to_vec(), b32(&x), safetensors::Dtype::F32),
        ("odd.w", g.w_shape().to_vec(), b32(&w), safetensors::Dtype::F32),
        ("odd.dy", g.y_shape().to_vec(), b32(&dy), safetensors::Dtype::F32),
        ("odd.y", g.y_shape().to_vec(), b64(&y), safetensors::Dtype::F64),
        ("odd.grad_x", g.x_shape().to_vec(), b64(&gx), safetensors::Dtype::F64),
        ("odd.grad_w", g.w_shape().to_vec(), b64(&gw), safetensors::Dtype::F64),
    ];
    let views: Vec<(&str, _)> = tensors.iter().map(|(n, s, b, d)| (*n, view(s, b, *d))).collect();
    let meta =
        HashMap::from([("odd".to_string(), r#"{"op": "conv2d", "kernel": 5, "padding": 2, "stride": 2}"#.to_string())]);
    safetensors::serialize_to_file(views, Some(meta), &dir.join("ops_unseen.safetensors")).unwrap();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brine-golden-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn runner_reads_unseen_shapes_from_the_files() {
    let dir = temp_dir("unseen");
    write_unseen_case(&dir, false);
    assert_eq!(check_all_ops(&Cpu, &dir), 1);
    if let Some(ctx) = common::gpu() {
        assert_eq!(check_all_ops(&Gpu::new(ctx), &dir), 1);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runner_reports_a_wrong_reference_as_a_failure() {
    let dir = temp_dir("wrong");
    write_unseen_case(&dir, true);
    let file = GoldenFile::open(&dir.join("ops_unseen.safetensors")).unwrap();
    let reports = golden::run_ops(&Cpu, &file);
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].passed(), "a corrupted reference passed: {}", reports[0].line());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_files_are_errors_that_name_them() {
    let dir = temp_dir("broken");
    write_unseen_case(&dir, false);
    let path = dir.join("ops_unseen.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = GoldenFile::open(&truncated).err().expect("a truncated file must not open").to_string();
    assert!(err.contains("truncated.safetensors"), "{err}");
    let missing = GoldenFile::open(&dir.join("absent.safetensors")).err().unwrap().to_string();
    assert!(missing.contains("absent.safetensors"), "{missing}");
    // A case whose input tensor is missing fails with the tensor's name.
    let mut meta_only = GoldenFile::open(&path).unwrap();
    meta_only.meta.insert("ghost".into(), r#"{"op": "conv2d", "kernel": 3, "padding": 1, "stride": 1}"#.into());
    let ghost = golden::run_ops(&Cpu, &meta_only).into_iter().find(|r| r.name == "ghost").unwrap();
    assert!(!ghost.passed());
    assert!(ghost.error.as_deref().unwrap_or("").contains("ghost."), "{:?}", ghost.error);
    std::fs::remove_dir_all(&dir).unwrap();
}
