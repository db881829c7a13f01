//! brine: an attention U-Net for seismic salt-body velocity inversion on any GPU through
//! wgpu, with hand-written WGSL kernels and a CPU reference twin for every kernel.

pub mod app;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod device;
pub mod error;
pub mod fast;
pub mod golden;
pub mod gpu;
pub mod graph;
pub mod kernels;
pub mod limits;
pub mod metrics;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod rng;
pub mod runner;
pub mod seismic;
pub mod train;

pub use backend::{Backend, Cpu, Gpu, Reference};
pub use error::{Error, Result};
pub use gpu::{Context, GpuTensor};
