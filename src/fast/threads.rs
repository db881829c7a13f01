//! How many threads the CPU backend runs on: `--threads N`, else `RAYON_NUM_THREADS`, else
//! one per core. Checked once, before rayon's pool starts: zero or garbage is an error that
//! names where it came from, and more than `MAX_PER_CORE` per core is clamped with a note.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// More threads than this per core only adds switching; the count is clamped to one per core.
pub const MAX_PER_CORE: usize = 8;

/// The machine's cores (logical CPUs this process may use).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread count to use, and a note when it was clamped. `flag` is `--threads`.
pub fn choose(flag: Option<usize>, env: Option<&str>) -> Result<(usize, Option<String>)> {
    let (n, from) = match (flag, env) {
        (Some(n), _) => (n, "--threads".to_string()),
        (None, Some(s)) => {
            let n = s.trim().parse::<usize>().map_err(|_| {
                Error::config("threads", format!("RAYON_NUM_THREADS = `{s}` is not a whole number of threads"))
            })?;
            (n, "RAYON_NUM_THREADS".to_string())
        }
        (None, None) => return Ok((cores(), None)),
    };
    if n == 0 {
        return Err(Error::config("threads", format!("{from} = 0: at least one thread is needed")));
    }
    let cores = cores();
    if n > MAX_PER_CORE * cores {
        let note =
            format!("{from} = {n} is more than {MAX_PER_CORE} threads per core on {cores} core(s); using {cores}");
        return Ok((cores, Some(note)));
    }
    Ok((n, None))
}

static CONFIGURED: OnceLock<usize> = OnceLock::new();

/// Starts rayon's global pool with the chosen count (once; later calls return the count
/// in use). Returns the count and the clamping note, if any. If the embedding application
/// already built rayon's pool, that pool is used as it is.
pub fn init(flag: Option<usize>) -> Result<(usize, Option<String>)> {
    if let Some(&n) = CONFIGURED.get() {
        return Ok((n, None));
    }
    let env = std::env::var("RAYON_NUM_THREADS").ok().filter(|v| !v.trim().is_empty());
    let (n, note) = choose(flag, env.as_deref())?;
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    let n = *CONFIGURED.get_or_init(rayon::current_num_threads);
    Ok((n, note))
}

/// Threads the CPU backend runs on: those of the rayon pool it is running in (the global
/// one, started from the environment if nobody has, or one a caller `install`ed).
pub fn count() -> usize {
    if CONFIGURED.get().is_none() && rayon::current_thread_index().is_none() {
        // A bad RAYON_NUM_THREADS reaches the user through the CLI's `init`; a library caller
        // that never called it gets one thread per core instead of an error here.
        if init(None).is_err() {
            let _ = rayon::ThreadPoolBuilder::new().num_threads(cores()).build_global();
            let _ = CONFIGURED.set(rayon::current_num_threads());
        }
    }
    rayon::current_num_threads()
}
