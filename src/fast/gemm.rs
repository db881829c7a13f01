//! Matrix products through the `gemm` crate (packing, cache blocking and AVX-512 / AVX2 /
//! NEON micro-kernels). The crate takes raw pointers and strides; every operand here comes
//! with its view, and the view's extent is checked against its slice before the call.

/// A rows × cols matrix inside a slice: element (i, j) at `i·rs + j·cs`.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// A row-major matrix whose rows are `ld` apart.
    pub fn rows(rows: usize, cols: usize, ld: usize) -> View {
        View { rows, cols, rs: ld, cs: 1 }
    }
    /// The transpose of the same elements.
    pub fn t(self) -> View {
        View { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
    /// One past the largest offset the view reaches.
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 { 0 } else { (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1 }
    }
}

fn check(c: View, a: View, b: View, a_len: usize, b_len: usize) {
    assert!(a.rows == c.rows && b.cols == c.cols && a.cols == b.rows, "gemm: {a:?} · {b:?} -> {c:?}");
    assert!(a.extent() <= a_len && b.extent() <= b_len, "gemm: operand outside its slice");
}

/// c = a·b, or c += a·b when `accumulate`; `parallel` lets the crate split the product over
/// rayon's threads (each element is still summed by one thread, in one order).
#[allow(clippy::too_many_arguments)]
pub fn matmul(c: &mut [f32], cv: View, a: &[f32], av: View, b: &[f32], bv: View, accumulate: bool, parallel: bool) {
    assert!(cv.extent() <= c.len(), "gemm: result outside its slice");
    // SAFETY: c's extent was checked against its (exclusively borrowed) slice just above.
    unsafe { matmul_into(c.as_mut_ptr(), cv, a, av, b, bv, accumulate, parallel) }
}

/// `matmul` into a region of a larger buffer that other threads write elsewhere.
///
/// # Safety
/// `c` must be valid for writes over `cv`'s extent, and no one else may touch the elements
/// `cv` addresses while this runs.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul_into(
    c: *mut f32,
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
    parallel: bool,
) {
    check(cv, av, bv, a.len(), b.len());
    if cv.rows == 0 || cv.cols == 0 {
        return;
    }
    let par = if parallel { gemm::Parallelism::Rayon(rayon::current_num_threads()) } else { gemm::Parallelism::None };
    // SAFETY: a and b lie within their slices (checked); c as the caller promises.
    unsafe {
        gemm::gemm(
            cv.rows,
            cv.cols,
            av.cols,
            c,
            cv.cs as isize,
            cv.rs as isize,
            accumulate,
            a.as_ptr(),
            av.cs as isize,
            av.rs as isize,
            b.as_ptr(),
            bv.cs as isize,
            bv.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}
