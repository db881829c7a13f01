//! Data files: `.npy` I/O, dataset shards in OpenFWI's layout, normalisation.

pub mod norm;
pub mod npy;
pub mod shards;

pub use norm::Norm;

use std::path::Path;

use crate::error::{Error, Result};

/// Writes a file under a temporary name beside `path`, then renames it into place, so a
/// reader (or an interrupted run) never sees a partial file.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = npy::temp_name(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::file(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::file(path, format!("renaming {}: {e}", tmp.display())))
}
pub use shards::{Shard, ShardSpec};
