//! The widest SIMD instruction set this machine has (AVX-512, AVX2 + FMA, NEON, …),
//! detected once at run time. A kernel is an `#[inline(always)]` function under
//! `#[pulp::with_simd(name = simd::arch())]`: pulp compiles it once per instruction set and
//! `name` runs the one this CPU has, so its plain loops vectorise to that width while the
//! binary still runs on any CPU of its target. Helpers it calls must be `#[inline(always)]`
//! to share its instructions.

use std::sync::LazyLock;

static ARCH: LazyLock<pulp::Arch> = LazyLock::new(pulp::Arch::new);

/// The detected instruction set, for `pulp::with_simd`.
#[inline]
pub fn arch() -> pulp::Arch {
    *ARCH
}

/// The vector instruction set in use and its f32 lanes per register.
pub fn isa() -> (&'static str, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return ("AVX-512", 16);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return ("AVX2+FMA", 8);
        }
        ("SSE2", 4)
    }
    #[cfg(target_arch = "aarch64")]
    {
        ("NEON", 4)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        ("scalar", 1)
    }
}

/// Σ a·b with 16 independent partial sums, so that the loop vectorises without
/// reassociating (call from a kernel; `dot` runs it as one).
#[inline(always)]
pub fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ a with 16 independent partial sums (call from a kernel; `sum` runs it as one).
#[inline(always)]
pub fn sum_lanes(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let tail: f32 = ca.remainder().iter().sum();
    for x in ca {
        for l in 0..16 {
            acc[l] += x[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

// Small kernels the element-wise fast paths share.

#[pulp::with_simd(dot = arch())]
#[inline(always)]
pub(crate) fn dot_simd<S: pulp::Simd>(_simd: S, a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

/// Σ a: blocks of 256 summed in 16 lanes, the blocks gathered in f64 (long rows keep their
/// precision).
#[pulp::with_simd(sum = arch())]
#[inline(always)]
pub(crate) fn sum_simd<S: pulp::Simd>(_simd: S, a: &[f32]) -> f32 {
    a.chunks(256).map(|b| sum_lanes(b) as f64).sum::<f64>() as f32
}

/// y = x ⊙ s.
#[pulp::with_simd(mul = arch())]
#[inline(always)]
pub(crate) fn mul_simd<S: pulp::Simd>(_simd: S, y: &mut [f32], x: &[f32], s: &[f32]) {
    y.iter_mut().zip(x).zip(s).for_each(|((y, &x), &s)| *y = x * s);
}

/// y = x · s.
#[pulp::with_simd(scale = arch())]
#[inline(always)]
pub(crate) fn scale_simd<S: pulp::Simd>(_simd: S, y: &mut [f32], x: &[f32], s: f32) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * s);
}

/// y ·= s.
#[pulp::with_simd(scale_assign = arch())]
#[inline(always)]
pub(crate) fn scale_assign_simd<S: pulp::Simd>(_simd: S, y: &mut [f32], s: f32) {
    y.iter_mut().for_each(|v| *v *= s);
}

/// acc += a ⊙ b.
#[pulp::with_simd(add_product = arch())]
#[inline(always)]
pub(crate) fn add_product_simd<S: pulp::Simd>(_simd: S, acc: &mut [f32], a: &[f32], b: &[f32]) {
    acc.iter_mut().zip(a).zip(b).for_each(|((t, &a), &b)| *t += a * b);
}

/// acc += a.
#[pulp::with_simd(add_assign = arch())]
#[inline(always)]
pub(crate) fn add_assign_simd<S: pulp::Simd>(_simd: S, acc: &mut [f32], a: &[f32]) {
    acc.iter_mut().zip(a).for_each(|(t, &a)| *t += a);
}

/// y += s (every element).
#[pulp::with_simd(add_scalar = arch())]
#[inline(always)]
pub(crate) fn add_scalar_simd<S: pulp::Simd>(_simd: S, y: &mut [f32], s: f32) {
    y.iter_mut().for_each(|v| *v += s);
}

/// While it lives, the current thread flushes subnormal f32 results to zero and reads
/// subnormal inputs as zero (x86's MXCSR FTZ and DAZ bits; nothing elsewhere). Wave fields
/// ahead of a wavefront and deep in an absorbing layer decay through the subnormal range,
/// where every x86 operation on them costs a micro-code assist of ~100 cycles: without this
/// the propagator runs 3× slower. The previous mode is restored on drop.
pub struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushSubnormals {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let mut saved: u32 = 0;
            // SAFETY: stmxcsr/ldmxcsr read and write this thread's SSE control register only.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut saved, options(nostack));
                let flush = saved | 0x8040;
                std::arch::asm!("ldmxcsr [{}]", in(reg) &flush, options(nostack));
            }
            FlushSubnormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushSubnormals {}
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the value read in `new` on the same thread.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &self.saved, options(nostack));
        }
    }
}
