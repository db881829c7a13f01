//! The GPU context: adapter choice, device with the adapter's real limits and optional
//! features, buffers, a pipeline cache and dispatch. One `Context` serves the whole program,
//! and an application that already has a `wgpu::Device` can hand it over instead.

mod context;
mod pipeline;
mod tensor;
mod timer;

pub use context::{Context, Counters, adapter_summaries};
pub use pipeline::{Access, Kernel, Program, Recorder, Shader, grid};
pub use tensor::GpuTensor;
pub use timer::Timer;
