//! Training runs: datasets, their layout onto the network, and the loop with validation,
//! metrics and checkpoints (the network itself runs in a `runner::Runner`).

pub mod dataset;
pub mod fit;
pub mod layout;
pub mod online;
pub mod stream;
