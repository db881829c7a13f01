//! Where brine runs: one `Device` per process — a GPU (one `gpu::Context`, made once or
//! handed in by an embedding application) or the CPU — chosen by one rule and passed down
//! to the network's runner and the wave engine alike.

use crate::error::{Error, Result};
use crate::gpu::Context;

/// What `--backend` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU when there is one, else the CPU backend (which outruns a software
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

/// The machine the work runs on. (One per process: the size of the GPU variant does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Device {
    /// A GPU through wgpu (`BRINE_BACKEND` and `BRINE_ADAPTER` pick the adapter).
    Gpu(Context),
    /// The CPU backend: the fast paths of `fast/` on all cores (or `--threads`).
    Cpu,
    /// The plain-loop reference twins of `cpu/`: what the other two are checked against.
    Reference,
}

impl Device {
    /// Opens the device `choice` names: `Gpu` insists on an adapter, `Auto` takes a hardware
    /// one (not a software rasteriser) and otherwise the CPU.
    pub fn open(choice: BackendChoice) -> Result<Device> {
        Ok(match choice {
            BackendChoice::Cpu => Device::Cpu,
            BackendChoice::Gpu => Device::Gpu(Context::new()?),
            BackendChoice::Auto => match Context::new() {
                Ok(ctx) if ctx.info.device_type != wgpu::DeviceType::Cpu => Device::Gpu(ctx),
                _ => Device::Cpu,
            },
        })
    }

    /// An application's own wgpu device.
    pub fn from_context(ctx: Context) -> Device {
        Device::Gpu(ctx)
    }

    pub fn gpu(&self) -> Option<&Context> {
        match self {
            Device::Gpu(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// True for a hardware GPU (not a software rasteriser).
    pub fn is_hardware_gpu(&self) -> bool {
        self.gpu().is_some_and(|c| c.info.device_type != wgpu::DeviceType::Cpu)
    }

    /// "gpu <adapter>", "cpu (N threads, ISA)" or "cpu reference".
    pub fn describe(&self) -> String {
        match self {
            Device::Gpu(ctx) => format!("gpu {}", ctx.adapter_name()),
            Device::Cpu => {
                let (isa, _) = crate::fast::simd::isa();
                format!("cpu ({} threads, {isa})", crate::fast::threads::count())
            }
            Device::Reference => "cpu reference".into(),
        }
    }
}
