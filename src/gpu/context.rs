use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

use super::pipeline::CachedPipeline;

/// Device, queue, what the adapter is and can do, and the compiled pipelines.
pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub(super) pipelines: Mutex<HashMap<(&'static str, &'static str), Arc<CachedPipeline>>>,
    pub(super) modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
}

/// What the calling thread has asked of the GPU so far (every context): dispatches
/// submitted, queue submissions, host syncs (waits until the GPU is idle, readbacks
/// included) and back-pressure waits (for an older submission while newer ones keep the GPU
/// busy). Per thread, so that work running beside it (other tests, say) does not blur what
/// one loop does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub dispatches: usize,
    pub submissions: usize,
    pub syncs: usize,
    pub backpressure: usize,
}

impl std::ops::Add for Counters {
    type Output = Counters;
    fn add(self, o: Counters) -> Counters {
        Counters {
            dispatches: self.dispatches + o.dispatches,
            submissions: self.submissions + o.submissions,
            syncs: self.syncs + o.syncs,
            backpressure: self.backpressure + o.backpressure,
        }
    }
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            dispatches: self.dispatches - o.dispatches,
            submissions: self.submissions - o.submissions,
            syncs: self.syncs - o.syncs,
            backpressure: self.backpressure - o.backpressure,
        }
    }
}

thread_local! {
    static COUNTERS: std::cell::Cell<Counters> = const { std::cell::Cell::new(Counters {
        dispatches: 0, submissions: 0, syncs: 0, backpressure: 0,
    }) };
}

/// Adds to the calling thread's counters.
pub(super) fn count(f: impl FnOnce(&mut Counters)) {
    COUNTERS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

/// Optional features brine uses when the adapter has them.
const WANTED: wgpu::Features =
    wgpu::Features::SUBGROUP.union(wgpu::Features::SHADER_F16).union(wgpu::Features::TIMESTAMP_QUERY);

fn rank(kind: wgpu::DeviceType) -> u8 {
    match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn backends_from_env() -> Result<(wgpu::Backends, bool)> {
    let Ok(v) = std::env::var("BRINE_BACKEND") else { return Ok((wgpu::Backends::all(), false)) };
    Ok(match v.to_ascii_lowercase().as_str() {
        "vulkan" => (wgpu::Backends::VULKAN, false),
        "metal" => (wgpu::Backends::METAL, false),
        "dx12" => (wgpu::Backends::DX12, false),
        "gl" => (wgpu::Backends::GL, false),
        "cpu" => (wgpu::Backends::all(), true),
        "" | "auto" => (wgpu::Backends::all(), false),
        other => {
            return Err(Error::NoAdapter(format!("BRINE_BACKEND={other} is not one of vulkan, metal, dx12, gl, cpu")));
        }
    })
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// The adapters on offer. GL is asked only when no primary backend (Vulkan, Metal, DX12)
/// answers or when it is requested, since probing it is slow and noisy on headless Linux.
fn adapters() -> Result<Vec<wgpu::Adapter>> {
    let (backends, _) = backends_from_env()?;
    if backends != wgpu::Backends::all() {
        return Ok(enumerate(backends));
    }
    let primary = enumerate(wgpu::Backends::PRIMARY);
    Ok(if primary.is_empty() { enumerate(wgpu::Backends::all()) } else { primary })
}

/// One line per adapter this machine offers: name, backend, type, driver.
pub fn adapter_summaries() -> Result<Vec<String>> {
    Ok(adapters()?
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?}, driver {} {})", i.name, i.backend, i.device_type, i.driver, i.driver_info)
        })
        .collect())
}

impl Context {
    /// Picks an adapter (discrete first, then integrated, virtual, other, CPU; `BRINE_BACKEND`
    /// and `BRINE_ADAPTER=<name substring>` override) and opens a device on it.
    pub fn new() -> Result<Self> {
        let (_, want_cpu) = backends_from_env()?;
        let name_filter = std::env::var("BRINE_ADAPTER").ok().map(|s| s.to_lowercase());
        let mut found = adapters()?;
        if found.is_empty() {
            return Err(Error::NoAdapter(
                "wgpu found none (on Linux without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers)"
                    .into(),
            ));
        }
        let names: Vec<String> = found.iter().map(|a| a.get_info().name).collect();
        if let Some(f) = &name_filter {
            found.retain(|a| a.get_info().name.to_lowercase().contains(f));
        }
        if want_cpu {
            found.retain(|a| a.get_info().device_type == wgpu::DeviceType::Cpu);
        }
        found.sort_by_key(|a| (rank(a.get_info().device_type), a.get_info().backend != wgpu::Backend::Vulkan));
        let adapter = found.into_iter().next().ok_or_else(|| {
            Error::NoAdapter(format!("none matches BRINE_ADAPTER/BRINE_BACKEND; available: {}", names.join(", ")))
        })?;
        let limits = adapter.limits();
        let features = adapter.features() & WANTED;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("brine"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::NoAdapter(format!("{}: {e}", adapter.get_info().name)))?;
        Ok(Self::assemble(device, queue, adapter.get_info()))
    }

    /// Wraps a device an application already owns. brine uses the device's limits and
    /// features as they are; `info` names the adapter in messages and benchmarks.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Self {
        Self::assemble(device, queue, info)
    }

    fn assemble(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Self {
        let limits = device.limits();
        let features = device.features();
        Context {
            device,
            queue,
            info,
            limits,
            features,
            pipelines: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
        }
    }

    /// What the calling thread has asked of the GPU so far (see `Counters`).
    pub fn counters(&self) -> Counters {
        COUNTERS.with(|c| c.get())
    }

    /// "name (backend, type)" of the adapter in use.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    /// Largest storage binding, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// Waits until the GPU has finished the submission `index` (and those before it), not
    /// for what was submitted after: back-pressure that keeps the GPU busy, counted apart
    /// from the full syncs.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        count(|c| c.backpressure += 1);
        self.device
            .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None })
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))
    }

    /// Waits until the GPU has finished all submitted work.
    pub fn wait(&self) -> Result<()> {
        count(|c| c.syncs += 1);
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))
    }
}
