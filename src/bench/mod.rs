//! Benchmarks: every GPU kernel at the `bench` network's shapes, checked against its CPU
//! twin before it is timed (`kernels`); the network's real training step and inference,
//! run by the same `Runner` that `brine train` uses (`step`); the CPU side's machine, wave
//! engine and anchors (`cpu`). Nothing here is a test.

pub mod cpu;
pub mod kernels;
pub mod step;

pub use kernels::{Options, Row, kernels, time};
pub use step::{StepRow, step};

/// The median of some timings (the upper middle one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
