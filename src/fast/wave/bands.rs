//! The banded schedule of `fast::wave`: planes left over once every thread has a whole one
//! are cut into bands of rows, one per thread, stepping together between spin barriers.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Rows, Scratch, Setup, State, Step, mirror, psi_rows, record, step_rows};
use crate::fast::simd;

/// Planes cut into bands of rows, one band per thread. Each step runs in two phases
/// between barriers, and in each phase a band writes only its own rows of the arrays it
/// writes, while the arrays it reads across bands are written by no one:
/// 1. ψ^n (writes ψ rows; reads p^n), and band 0 records the traces;
/// 2. p^{n+1} and ζ (writes their rows; reads p^n and ψ^n), and band 0 writes the mirror
///    rows of p^{n+1} under a free surface.
pub(super) fn run(setups: &[Setup], steps: &[Step], traces: &mut [f32], trace_len: usize, bands: usize, flush: bool) {
    let g = setups[0].g;
    let mut states: Vec<State> = setups.iter().map(|_| State::new(&g)).collect();
    let views: Vec<Shared> = states.iter_mut().map(Shared::of).collect();
    let trace_views: Vec<Shared1> = traces.chunks_mut(trace_len.max(1)).map(Shared1::of).collect();
    let barrier = SpinBarrier::new(bands);
    std::thread::scope(|scope| {
        for b in 0..bands {
            let (views, trace_views, barrier) = (&views, &trace_views, &barrier);
            let rows = (b * g.nz / bands)..((b + 1) * g.nz / bands);
            let band = g.band(rows.clone());
            scope.spawn(move || {
                let _flush = flush.then(simd::FlushSubnormals::new);
                let mut scratch = Scratch::new(&g);
                for (n, step) in steps.iter().enumerate() {
                    let (c, o) = (n % 2, 1 - n % 2);
                    for (i, (su, v)) in setups.iter().zip(views).enumerate() {
                        // SAFETY: phase 1 — see above: p^n is read by all, ψ rows `band`
                        // are this band's, the traces are band 0's.
                        unsafe {
                            let cur = v.p[c].all();
                            if b == 0 {
                                record(su, step, cur, trace_views[i].all_mut());
                            }
                            psi_rows(su, rows.clone(), cur, v.psix.part(band.clone()), v.psiz.part(band.clone()));
                        }
                    }
                    barrier.wait();
                    for (su, v) in setups.iter().zip(views) {
                        // SAFETY: phase 2 — p^n and ψ are read by all, the rows `band` of
                        // p^{n+1} and ζ are this band's, the mirror rows band 0's.
                        unsafe {
                            let rows_mut = Rows {
                                nxt: v.p[o].part(band.clone()),
                                zetax: v.zetax.part(band.clone()),
                                zetaz: v.zetaz.part(band.clone()),
                                q: None,
                            };
                            step_rows(
                                su,
                                rows.clone(),
                                step.wavelet,
                                v.p[c].all(),
                                v.psix.all(),
                                v.psiz.all(),
                                rows_mut,
                                &mut scratch,
                            );
                            if b == 0 && su.free {
                                let below = g.row(0) - g.h;
                                mirror(&g, v.p[o].part(0..g.h * g.s), &v.p[o].part(below..band.end)[..]);
                            }
                        }
                    }
                    barrier.wait();
                }
            });
        }
    });
}

/// A barrier for the bands' few microseconds per phase: waiting threads spin (then yield),
/// where a sleeping barrier's wake-up would cost as much as the phase itself.
struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(threads: usize) -> Self {
        SpinBarrier { threads, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }
    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < 1 << 14 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A raw view of one array that bands share (see `run` for who touches what when).
#[derive(Clone, Copy)]
struct Shared1 {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: the bands write disjoint rows within a phase and meet at a barrier between phases.
unsafe impl Send for Shared1 {}
unsafe impl Sync for Shared1 {}

impl Shared1 {
    fn of(v: &mut [f32]) -> Self {
        Shared1 { ptr: v.as_mut_ptr(), len: v.len() }
    }
    /// The whole array, to read.
    ///
    /// # Safety
    /// No one may write the array while the slice lives.
    unsafe fn all<'a>(self) -> &'a [f32] {
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    /// The whole array, to write.
    ///
    /// # Safety
    /// No one else may touch the array while the slice lives.
    unsafe fn all_mut<'a>(self) -> &'a mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
    /// Elements `range`, to write.
    ///
    /// # Safety
    /// No one else may touch these elements while the slice lives.
    unsafe fn part<'a>(self, range: std::ops::Range<usize>) -> &'a mut [f32] {
        assert!(range.start <= range.end && range.end <= self.len, "band outside its array");
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

/// Raw views of one plane's state for the banded run.
struct Shared {
    p: [Shared1; 2],
    psix: Shared1,
    psiz: Shared1,
    zetax: Shared1,
    zetaz: Shared1,
}

impl Shared {
    fn of(st: &mut State) -> Shared {
        let [a, b] = &mut st.p;
        Shared {
            p: [Shared1::of(a), Shared1::of(b)],
            psix: Shared1::of(&mut st.psix),
            psiz: Shared1::of(&mut st.psiz),
            zetax: Shared1::of(&mut st.zetax),
            zetaz: Shared1::of(&mut st.zetaz),
        }
    }
}
