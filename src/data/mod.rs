//! Data files: `.npy` I/O, dataset shards in OpenFWI's layout, normalisation.

pub mod norm;
pub mod npy;
pub mod shards;

pub use norm::Norm;

use std::path::Path;

use crate::error::{Error, Result};

/// Runs `write` on a temporary name beside `path`, then renames it onto `path`, so a reader
/// (or an interrupted run) never sees a partial file. On any failure the temporary file is
/// removed and `path` is left as it was; a directory at `path` is refused first.
pub fn write_via_temp(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if path.is_dir() {
        return Err(Error::file(path, "is a directory; expected a file name to write"));
    }
    let tmp = npy::temp_name(path);
    let result = write(&tmp).and_then(|_| {
        std::fs::rename(&tmp, path).map_err(|e| Error::file(path, format!("renaming {}: {e}", tmp.display())))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` through a temporary file (see `write_via_temp`).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| Error::file(tmp, e.to_string())))
}
pub use shards::{Shard, ShardSpec};
