//! One error type for the library: every variant names what was wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor whose shape or length does not fit the op.
    #[error("{op}: tensor `{tensor}` {detail}")]
    Shape { op: String, tensor: String, detail: String },
    /// An op configuration the kernels cannot run (kernel size, stride, …).
    #[error("{op}: {detail}")]
    Config { op: String, detail: String },
    /// A buffer larger than the adapter allows.
    #[error(
        "{op}: tensor `{tensor}` needs {bytes} bytes, more than this adapter's limit of {limit} bytes per storage binding"
    )]
    TooLarge { op: String, tensor: String, bytes: u64, limit: u64 },
    /// No usable GPU adapter.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU reported an error (validation, out of memory, lost device).
    #[error("gpu: {0}")]
    Gpu(String),
    /// A file that is missing, unreadable or malformed.
    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn shape(op: &str, tensor: &str, detail: impl Into<String>) -> Self {
        Error::Shape { op: op.into(), tensor: tensor.into(), detail: detail.into() }
    }
    pub fn config(op: &str, detail: impl Into<String>) -> Self {
        Error::Config { op: op.into(), detail: detail.into() }
    }
    pub fn file(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::File { path: path.into(), detail: detail.into() }
    }
}

/// Checks that a tensor has the element count an op expects, naming both.
pub fn check_len(op: &str, tensor: &str, got: usize, shape: &[usize]) -> Result<()> {
    let want: usize = shape.iter().product();
    if got == want {
        Ok(())
    } else {
        Err(Error::shape(op, tensor, format!("has {got} elements, expected shape {shape:?} ({want} elements)")))
    }
}
