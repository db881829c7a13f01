//! `brine check`: every case of every golden file in a directory, on the CPU backend, the
//! reference twins and/or the GPU. Op files check kernels through the `Backend` trait;
//! network files run a whole training step and inference through a `Runner`.

use std::path::Path;

use crate::backend::{Backend, Cpu, Gpu, Reference};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::golden::{self, FileKind, GoldenFile};
use crate::gpu::Context;

/// Which backends `check` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Checked {
    Gpu,
    Cpu,
    /// The plain-loop reference twins that the CPU and GPU backends are checked against.
    Reference,
    /// The CPU and, where an adapter exists, the GPU.
    All,
}

/// Checks every file of `dir`; prints one line per case; true when every case passed. A
/// directory without golden files is an error.
pub fn run(dir: &Path, which: Checked) -> Result<bool> {
    let files: Vec<GoldenFile> = golden::list_dir(dir)?.iter().map(|p| GoldenFile::open(p)).collect::<Result<_>>()?;
    if which == Checked::Reference {
        return Ok(check_backend(&Reference, &Device::Reference, &files));
    }
    let mut ok = true;
    if which != Checked::Gpu {
        ok &= check_backend(&Cpu, &Device::Cpu, &files);
    }
    if which != Checked::Cpu {
        match Context::new() {
            Ok(ctx) => {
                let device = Device::Gpu(ctx);
                let ctx = device.gpu().ok_or_else(|| Error::NoAdapter("no GPU".into()))?;
                ok &= check_backend(&Gpu::new(ctx), &device, &files);
            }
            Err(e) if which == Checked::All => eprintln!("!!! GPU not checked: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(ok)
}

/// Ops files on backend `b`, network files on `device` (the same machine).
fn check_backend<B: Backend>(b: &B, device: &Device, files: &[GoldenFile]) -> bool {
    println!("== backend {}", b.name());
    let (mut passed, mut failed) = (0, 0);
    for f in files {
        println!("-- {}", f.path.file_name().unwrap_or_default().to_string_lossy());
        let cases = match golden::kind(f) {
            FileKind::Net => vec![golden::run_net(device, f)],
            FileKind::Ops => golden::run_ops(b, f),
        };
        for case in cases {
            println!("{}", case.line());
            if case.passed() { passed += 1 } else { failed += 1 }
        }
    }
    if passed + failed == 0 {
        println!("== {}: the files hold no cases: nothing was checked (FAIL)", b.name());
        return false;
    }
    println!("== {}: {passed} cases pass, {failed} fail", b.name());
    failed == 0
}
