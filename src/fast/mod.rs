//! The CPU backend's fast paths: the ops of `cpu/` (the plain-loop reference twins; same
//! module names) rebuilt for speed — convolutions through a tuned GEMM (the `gemm` crate)
//! on im2col panels sized for L2, loops that vectorise to the machine's widest SIMD
//! (`simd`), rayon threads over images, planes and channels (`threads`), and output buffers
//! reused from step to step (`buffers`); and the wave propagator and its adjoint (`wave`, `wave_adjoint`). Each is tested
//! against its twin on odd shapes in `tests/parity_<name>.rs`; parallel reductions split
//! work by shape, never by thread count, so results do not depend on how many threads ran
//! them (`tests/net.rs` holds a whole training step to that).

pub mod adam;
pub mod batchnorm;
pub mod buffers;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod elementwise;
pub mod gate;
mod gemm;
pub mod loss;
pub mod pool;
pub mod reduce;
pub mod simd;
pub mod ssim;
pub mod threads;
pub mod wave;
pub mod wave_adjoint;

/// Elements per task of an element-wise op; a tensor of at most two chunks runs on the
/// calling thread, where handing it to rayon would cost more than it saves.
const CHUNK: usize = 1 << 14;

/// Runs `f(offset, chunk)` over `out` in chunks, in parallel when it is large.
fn for_chunks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    use rayon::prelude::*;
    if out.len() <= 2 * CHUNK {
        f(0, out);
    } else {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| f(i * CHUNK, c));
    }
}

/// Runs `f(index, chunk)` over `out` cut into chunks of `len` (planes, rows), in parallel
/// when the whole is large.
fn for_planes(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    use rayon::prelude::*;
    let len = len.max(1);
    if out.len() <= 2 * CHUNK {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        let per_task = (CHUNK / len).max(1);
        out.par_chunks_mut(len).enumerate().with_min_len(per_task).for_each(|(i, c)| f(i, c));
    }
}

/// One buffer that parallel tasks write in disjoint parts.
#[derive(Clone, Copy)]
struct Disjoint<'a> {
    ptr: *mut f32,
    len: usize,
    _buffer: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: tasks only reach the buffer through `slice`/`ptr`, whose callers promise that
// the parts they write do not overlap.
unsafe impl Send for Disjoint<'_> {}
unsafe impl Sync for Disjoint<'_> {}

impl<'a> Disjoint<'a> {
    fn new(v: &'a mut [f32]) -> Self {
        Disjoint { ptr: v.as_mut_ptr(), len: v.len(), _buffer: std::marker::PhantomData }
    }
    /// Elements [start, start + len).
    ///
    /// # Safety
    /// No other task may touch these elements while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, start: usize, len: usize) -> &'a mut [f32] {
        assert!(start + len <= self.len, "disjoint part outside its buffer");
        // SAFETY: in bounds (checked); exclusive as the caller promises.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
    /// The element at `start`, for writers that address a strided region (gemm).
    fn at(&self, start: usize) -> *mut f32 {
        assert!(start <= self.len, "disjoint part outside its buffer");
        // SAFETY: in bounds (checked).
        unsafe { self.ptr.add(start) }
    }
}
