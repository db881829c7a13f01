//! The user-facing workflows behind the CLI: train, eval, infer, ablate, demo. Each takes
//! plain options, prints what it does, and returns what it measured, so tests drive them
//! as the command line does.

pub mod ablate;
pub mod demo;
pub mod eval;
pub mod infer;
pub mod train;

use crate::error::{Error, Result};
use crate::gpu::Context;

/// Which backend runs the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU when there is one, else the CPU reference (which outruns a software
    /// adapter such as lavapipe on these networks).
    Auto,
    Gpu,
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => BackendChoice::Auto,
            "gpu" => BackendChoice::Gpu,
            "cpu" => BackendChoice::Cpu,
            _ => return Err(Error::config("backend", format!("`{s}` is not auto, gpu or cpu"))),
        })
    }
}

impl BackendChoice {
    /// The GPU context to use, or None for the CPU backend.
    pub fn context(self) -> Result<Option<Context>> {
        match self {
            BackendChoice::Cpu => Ok(None),
            BackendChoice::Gpu => Context::new().map(Some),
            BackendChoice::Auto => Ok(Context::new().ok().filter(|c| c.info.device_type != wgpu::DeviceType::Cpu)),
        }
    }
}

/// Creates an output directory, or says why it cannot.
pub fn ensure_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the output directory: {e}")))?;
    let probe = dir.join(".brine-write-test");
    std::fs::write(&probe, b"").map_err(|e| Error::file(dir, format!("is not writable: {e}")))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
