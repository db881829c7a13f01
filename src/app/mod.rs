//! The user-facing workflows behind the CLI, one module per command: train, eval, infer,
//! refine, ablate, demo, synth, show, bench, check (and `mirror`, which infer, eval and
//! refine share). Each takes plain options and the `Device` the command runs on, and
//! returns what it measured, so tests drive them as the command line does.

pub mod ablate;
pub mod attention;
pub mod bench;
pub mod check;
pub mod demo;
pub mod eval;
pub mod infer;
pub mod mirror;
pub mod refine;
pub mod show;
pub mod synth;
pub mod train;

use crate::error::{Error, Result};

/// A progress bar of `len` steps drawn with `template` (indicatif's syntax), or a hidden one.
pub(crate) fn progress_bar(show: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len);
    b.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
    b
}

/// Creates an output directory, or says why it cannot.
pub fn ensure_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the output directory: {e}")))?;
    let probe = dir.join(".brine-write-test");
    std::fs::write(&probe, b"").map_err(|e| Error::file(dir, format!("is not writable: {e}")))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
