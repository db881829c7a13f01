//! The one guard for sizes that come from files and flags: before anything is allocated or
//! run, the bytes a size implies are checked against the memory this process may use, and
//! the error names what asked for them.

use crate::error::{Error, Result};

/// Bytes the host may allocate for one thing: `BRINE_MAX_BYTES` when set, else the
/// memory the system reports available (Linux `MemAvailable`), else 64 GiB.
pub fn budget() -> u64 {
    if let Some(b) = std::env::var("BRINE_MAX_BYTES").ok().and_then(|v| v.trim().parse().ok()) {
        return b;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(64 << 30, |kb| kb * 1024)
}

/// `n` elements of `size` bytes each, `None` when the product overflows.
pub fn bytes(dims: &[usize], size: usize) -> Option<u64> {
    dims.iter().try_fold(size as u64, |a, &d| a.checked_mul(d as u64))
}

fn human(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{b} bytes"),
    }
}

/// Refuses `bytes` (None: past u64) for `what` — the flag, key or file that asked, and
/// what for — when it is more than `budget()`.
pub fn check(what: &str, bytes: Option<u64>) -> Result<()> {
    let limit = budget();
    match bytes {
        Some(b) if b <= limit => Ok(()),
        Some(b) => Err(Error::config(
            what,
            format!("needs {} ({b} bytes), more than the {} this machine can give", human(b), human(limit)),
        )),
        None => Err(Error::config(what, "needs more bytes than a 64-bit size can count")),
    }
}
