//! The row loops `fast::wave` and `fast::wave_adjoint` are built from: slices of a haloed
//! plane at an offset, the stencils over them, and the column spans they run on. All are
//! `#[inline(always)]`, to share the instructions of the SIMD kernel that calls them.

/// `len` values of `v` from `start + off` (off may be negative).
#[inline(always)]
pub(in crate::fast) fn at(v: &[f32], start: usize, off: isize, len: usize) -> &[f32] {
    &v[(start as isize + off) as usize..][..len]
}

/// The width of the blocks `first_derivative` sums in: 16 f32 lanes (one AVX-512 register;
/// narrower units take a block in two or four).
const LANES: usize = 16;

/// `LANES` values of `v` from `start + off`, as an array.
#[inline(always)]
fn block(v: &[f32], start: usize, off: isize) -> &[f32; LANES] {
    at(v, start, off, LANES).try_into().expect("LANES values")
}

/// d = Σ_k c1[k−1]·(v[+k·step] − v[−k·step]) over [start, start + len), summed from 0 in
/// order of k (the twin's ∂ of ψ and of p).
///
/// Most of its calls are on spans of 16 to 32 columns (the x layers), where a loop of
/// unknown length runs mostly in its scalar remainder. Summed block by block over arrays
/// of a known length into a local one, each block is straight vector code: `brine synth`
/// took a median 0.91 of its time (7 alternated pairs, 0.69–1.03, 2 threads), the forward
/// of one plane on one thread 0.87 (best of 6). Written the same way, the other stencils
/// and the element-wise passes gained nothing measurable, or, built with
/// `std::array::from_fn` or storing to a plane before loading from another, ran 1.7–2.4×
/// slower.
#[inline(always)]
pub(super) fn first_derivative<const H: usize>(d: &mut [f32], v: &[f32], start: usize, step: usize, c1: &[f32; 5]) {
    let whole = d.len() - d.len() % LANES;
    for x0 in (0..whole).step_by(LANES) {
        let mut acc = [0.0f32; LANES];
        for (k, &c) in c1[..H].iter().enumerate() {
            let arm = ((k + 1) * step) as isize;
            let (plus, minus) = (block(v, start + x0, arm), block(v, start + x0, -arm));
            for x in 0..LANES {
                acc[x] += c * (plus[x] - minus[x]);
            }
        }
        d[x0..x0 + LANES].copy_from_slice(&acc);
    }
    for (x, d) in d.iter_mut().enumerate().skip(whole) {
        let mut acc = 0.0f32;
        for (k, &c) in c1[..H].iter().enumerate() {
            let arm = ((k + 1) * step) as isize;
            acc += c * (at(v, start + x, arm, 1)[0] - at(v, start + x, -arm, 1)[0]);
        }
        *d = acc;
    }
}

/// The plain Laplacian at column `x` of a row: 2·c2[0]·p plus, per k, c2[k]·((left + right)
/// + (up + down)) from the arms' k-th slices (the twin's order).
#[inline(always)]
pub(in crate::fast) fn laplacian<const H: usize>(
    c2: &[f32; 5],
    c0x2: f32,
    p0: &[f32],
    [left, right, up, down]: [&[&[f32]; H]; 4],
    x: usize,
) -> f32 {
    let mut acc = c0x2 * p0[x];
    for k in 0..H {
        acc += c2[k + 1] * ((left[k][x] + right[k][x]) + (up[k][x] + down[k][x]));
    }
    acc
}

/// [0, len) as whole 16-lane blocks where it can be: the body, then the last 16 columns
/// (overlapping it) for a ragged end, so that no stencil loop ends in scalar leftovers.
/// Only for loops whose value at a column does not depend on which block computes it.
#[inline(always)]
pub(in crate::fast) fn blocks(len: usize) -> [(usize, usize); 2] {
    let body = len - len % 16;
    let tail = if body == len {
        (len, len)
    } else if len >= 16 {
        (len - 16, len)
    } else {
        (body, len)
    };
    [(0, body), tail]
}

/// p^{n+1} = 2p − p^{n−1} + (v·dt)²·L on `res.len()` columns from `i0` (the interior's plain
/// Laplacian L, also written into `q` when given); `old` is p^{n−1}.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn plain_update<const H: usize>(
    res: &mut [f32],
    q: Option<&mut [f32]>,
    cur: &[f32],
    i0: usize,
    s: usize,
    old: &[f32],
    v2: &[f32],
    c2: &[f32; 5],
    c0x2: f32,
) {
    let len = res.len();
    let p0 = at(cur, i0, 0, len);
    let left: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, -(k as isize + 1), len));
    let right: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, k as isize + 1, len));
    let up: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, -(((k + 1) * s) as isize), len));
    let down: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, ((k + 1) * s) as isize, len));
    let arms = [&left, &right, &up, &down];
    match q {
        None => {
            for x in 0..len {
                res[x] = 2.0 * p0[x] - old[x] + v2[x] * laplacian::<H>(c2, c0x2, p0, arms, x);
            }
        }
        Some(q) => {
            for x in 0..len {
                let acc = laplacian::<H>(c2, c0x2, p0, arms, x);
                q[x] = acc;
                res[x] = 2.0 * p0[x] - old[x] + v2[x] * acc;
            }
        }
    }
}

/// The x and z second derivatives (the twin's D2 terms, c2[0]·p first) on `txs.len()`
/// columns from `i0`.
#[inline(always)]
pub(super) fn second_derivatives<const H: usize>(
    txs: &mut [f32],
    tzs: &mut [f32],
    cur: &[f32],
    i0: usize,
    s: usize,
    c2: &[f32; 5],
) {
    let len = txs.len();
    let p0 = at(cur, i0, 0, len);
    let xp: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, k as isize + 1, len));
    let xm: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, -(k as isize + 1), len));
    let zp: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, ((k + 1) * s) as isize, len));
    let zn: [&[f32]; H] = std::array::from_fn(|k| at(cur, i0, -(((k + 1) * s) as isize), len));
    for x in 0..len {
        let mut d2x = c2[0] * p0[x];
        let mut d2z = c2[0] * p0[x];
        for k in 0..H {
            d2x += c2[k + 1] * (xp[k][x] + xm[k][x]);
            d2z += c2[k + 1] * (zp[k][x] + zn[k][x]);
        }
        txs[x] = d2x;
        tzs[x] = d2z;
    }
}

/// The columns to compute for span [x0, x1) of a row of `nx`: widened to whole 16-lane
/// vectors where the row has room, so that no loop ends in scalar leftovers. The extra
/// columns' results land in scratch and are dropped, or, for ψ and ζ, leave them unchanged
/// (a = 0 and b = 1 outside the layers keep them at zero).
#[inline(always)]
pub(super) fn widen(x0: usize, x1: usize, nx: usize) -> (usize, usize) {
    let wide = (x1 - x0).div_ceil(16) * 16;
    if x0 + wide <= nx {
        (x0, x0 + wide)
    } else if x1 >= wide {
        (x1 - wide, x1)
    } else {
        (x0, x1)
    }
}

/// Two disjoint column ranges widened, unless widening would make them overlap.
#[inline(always)]
pub(in crate::fast) fn widen_pair(a: (usize, usize), b: (usize, usize), nx: usize) -> [(usize, usize); 2] {
    let empty = |r: (usize, usize)| r.0 >= r.1;
    let wa = if empty(a) { a } else { widen(a.0, a.1, nx) };
    let wb = if empty(b) { b } else { widen(b.0, b.1, nx) };
    if empty(a) || empty(b) || wa.1 <= wb.0 { [wa, wb] } else { [a, b] }
}
