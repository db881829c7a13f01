//! Output buffers of the CPU backend, reused from step to step. A training step allocates
//! the same sizes every time, so the dead tensors the executor hands back
//! (`Backend::recycle`) serve the next step instead of returning to the allocator, whose
//! fresh pages would fault in and be zeroed again. A request takes the smallest waiting
//! buffer that holds it and is at most twice its size, so buffers of neighbouring sizes
//! serve each other and the pool stays near the plan's peak.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// At most this many bytes wait for reuse; beyond it, buffers go back to the allocator.
const CAP_BYTES: usize = 4 << 30;

/// Waiting buffers by capacity (in floats).
#[derive(Default)]
struct Pool {
    free: BTreeMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);
static POISON: AtomicBool = AtomicBool::new(false);

fn pop(len: usize) -> Option<Vec<f32>> {
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pool = guard.as_mut()?;
    let (&cap, list) = pool.free.range_mut(len..=len.saturating_mul(2)).next()?;
    let mut v = list.pop()?;
    if list.is_empty() {
        pool.free.remove(&cap);
    }
    pool.bytes -= v.capacity() * 4;
    // Its elements are initialised floats; the caller overwrites the ones it keeps.
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, 0.0);
    }
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
    if bytes == 0 {
        return;
    }
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pool = guard.get_or_insert_with(Pool::default);
    if pool.bytes + bytes <= CAP_BYTES {
        pool.bytes += bytes;
        pool.free.entry(v.capacity()).or_default().push(v);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_takes_the_smallest_buffer_that_holds_it_within_twice_its_size() {
        clear();
        give(vec![1.0; 1000]);
        give(vec![2.0; 3000]);
        assert_eq!(pooled_bytes(), 16_000);
        let a = take(900);
        assert_eq!((a.len(), a.capacity()), (900, 1000));
        let b = take(7000); // nothing waiting holds 7000 floats: a new buffer
        assert!(b.capacity() >= 7000 && pooled_bytes() == 12_000);
        let c = take(1600); // 3000 ≤ 2 × 1600
        assert_eq!((c.len(), c.capacity()), (1600, 3000));
        assert_eq!(pooled_bytes(), 0);
        give(c);
        let d = zeros(2000); // grows back to its request, zeroed
        assert_eq!((d.len(), d.capacity()), (2000, 3000));
        assert!(d.iter().all(|&v| v == 0.0));
        poison(true);
        give(d);
        assert!(take(2500).iter().all(|v| v.is_nan()), "poisoned buffers come back as NaN");
        poison(false);
        clear();
        assert_eq!(pooled_bytes(), 0);
    }
}
