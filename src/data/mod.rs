//! Data files: `.npy` I/O, dataset shards in OpenFWI's layout (and `brine synth`, which
//! writes them), normalisation.

pub mod norm;
pub mod npy;
pub mod shards;

pub use norm::Norm;
pub use shards::{Shard, ShardSpec, Synth};
