//! Output buffers of the CPU backend, reused from step to step. A training step allocates
//! the same sizes every time, so the dead tensors the executor hands back
//! (`Backend::recycle`) serve the next step instead of returning to the allocator, whose
//! fresh pages would fault in and be zeroed again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// At most this many bytes wait for reuse; beyond it, buffers go back to the allocator.
const CAP_BYTES: usize = 4 << 30;

#[derive(Default)]
struct Pool {
    free: HashMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);
static POISON: AtomicBool = AtomicBool::new(false);

fn pop(len: usize) -> Option<Vec<f32>> {
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pool = guard.as_mut()?;
    let v = pool.free.get_mut(&len)?.pop()?;
    pool.bytes -= v.capacity() * 4;
    Some(v)
}

/// A buffer of `len` floats with unspecified contents: the caller writes every element.
pub fn take(len: usize) -> Vec<f32> {
    match pop(len) {
        Some(mut v) => {
            if POISON.load(Ordering::Relaxed) {
                v.fill(f32::NAN);
            }
            v
        }
        None if POISON.load(Ordering::Relaxed) => vec![f32::NAN; len],
        None => vec![0.0; len],
    }
}

/// A buffer of `len` zeros.
pub fn zeros(len: usize) -> Vec<f32> {
    match pop(len) {
        Some(mut v) => {
            v.fill(0.0);
            v
        }
        None => vec![0.0; len],
    }
}

/// Takes a buffer back for reuse.
pub fn give(v: Vec<f32>) {
    let bytes = v.capacity() * 4;
    if bytes == 0 || v.len() != v.capacity() {
        return;
    }
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pool = guard.get_or_insert_with(Pool::default);
    if pool.bytes + bytes <= CAP_BYTES {
        pool.bytes += bytes;
        pool.free.entry(v.len()).or_default().push(v);
    }
}

/// Returns every waiting buffer to the allocator.
pub fn clear() {
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Bytes waiting for reuse.
pub fn pooled_bytes() -> usize {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |p| p.bytes)
}

/// For tests: `take` fills buffers with NaN, so an op that leaves an element unwritten shows.
pub fn poison(on: bool) {
    POISON.store(on, Ordering::Relaxed);
}
