//! Training runs: engines per backend, and the loop with validation, metrics and checkpoints.

pub mod dataset;
pub mod engine;
pub mod fit;
pub mod layout;
