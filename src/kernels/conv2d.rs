//! Dispatch for `shaders/conv2d.wgsl`: 2-D convolution as tiled implicit GEMM.
//!
//! | op | entries | GEMM (M × N × K) | A | B | C |
//! |---|---|---|---|---|---|
//! | forward | `conv2d_fwd_taps`, `_taps_v4`, `_1x1_v4`, flat `conv2d_fwd` | co × n·ho·wo × ci·kh·kw | w | im2col(x) | y (+ b) |
//! | backward-data, per stride phase | `conv2d_bwd_data_taps`, flat `conv2d_bwd_data` | ci × n·⌈h/s⌉·⌈w/s⌉ × co·⌈kh/s⌉·⌈kw/s⌉ | w | dy gathered | dx (+ b) |
//! | backward-weight, split K | `conv2d_bwd_weight_rows`, `_rows_v4`, flat `conv2d_bwd_weight` | co × ci·kh·kw × n·ho·wo | dy | im2col(x)ᵀ | partials |
//! | bias gradient, split | `conv2d_bwd_bias` | per-channel sums of dy | | | partials |
//! | | `conv2d_bwd_weight_reduce` | sums split partials in order (deterministic, no atomics) | | | dw, db |
//!
//! Tiles are BM × BN with BM·BN = 4096 (256 threads, 4 × 4 outputs each in registers), and
//! slabs of depth BK = 16 (8 for the widest tile) staged in workgroup memory (12 KiB): BM = 16,
//! 32 or 64 from M, so narrow problems (co = 1 in a head or a spatial-attention conv) do not
//! waste 63/64 of a 64-row tile. See [`tiling`].
//!
//! K order: the main entries walk K as nested loops, tap-major (filter tap outer, BK channels
//! inner) for forward and backward-data and row-major (output row outer, BK pixels inner) for
//! backward-weight, so gathers are strided loads with one bounds check per tap or row and no
//! index division. They pad the inner loop to BK, so they run when that costs at most a quarter
//! of the work: for every ci (forward), co (backward-data) or wo (backward-weight) except
//! 1–6, 9–12, 17–19 and 25. The flat entries, which decode every k with divisions, cover those
//! (network inputs with few channels, a 7×7 spatial-attention conv on 2 channels, tiny widths).
//! `_v4` entries use vec4 loads or stores where the host checked alignment.
//!
//! The backward-data GEMM is split by stride phase: output pixels with (iy + pad) ≡ ry (mod s)
//! receive only the taps ky ≡ ry, so stride 2 (conv_transpose2d k2 s2) computes no structural
//! zeros. The weight gradient's long reduction over n·ho·wo is split into chunks (partials in a
//! scratch buffer, then a reduce), enough of them to give the GPU a few hundred workgroups.
//!
//! The `pub(crate)` `*_raw` functions take already-validated tensors; `conv_transpose2d`
//! runs on them with its own validation and error names.
use crate::error::{Error, Result, check_len};
use crate::gpu::{Access, Access::*, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::ops::Conv2d;

pub static SHADER: Shader = Shader { name: "conv2d", source: include_str!("../../shaders/conv2d.wgsl") };

const OP: &str = "conv2d";

const RRRW: &[Access] = &[Read, Read, Read, ReadWrite];
const RRW: &[Access] = &[Read, Read, ReadWrite];
static FWD: Kernel = Kernel { shader: &SHADER, entry: "conv2d_fwd", bindings: RRRW };
static FWD_TAPS: Kernel = Kernel { shader: &SHADER, entry: "conv2d_fwd_taps", bindings: RRRW };
static FWD_TAPS_V4: Kernel = Kernel { shader: &SHADER, entry: "conv2d_fwd_taps_v4", bindings: RRRW };
static FWD_1X1_V4: Kernel = Kernel { shader: &SHADER, entry: "conv2d_fwd_1x1_v4", bindings: RRRW };
static BWD_DATA: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_data", bindings: RRRW };
static BWD_DATA_TAPS: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_data_taps", bindings: RRRW };
static BWD_WEIGHT: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_weight", bindings: RRW };
static BWD_WEIGHT_ROWS: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_weight_rows", bindings: RRW };
static BWD_WEIGHT_ROWS_V4: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_weight_rows_v4", bindings: RRW };
static BWD_BIAS: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_bias", bindings: &[Read, ReadWrite] };
static REDUCE: Kernel = Kernel { shader: &SHADER, entry: "conv2d_bwd_weight_reduce", bindings: &[Read, ReadWrite] };

/// Mirrors `Params` in `shaders/conv2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n: u32,
    pub ci: u32,
    pub h: u32,
    pub w: u32,
    pub co: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride: u32,
    pub pad: u32,
    pub ho: u32,
    pub wo: u32,
    pub has_bias: u32,
    /// GEMM rows, columns and depth.
    pub gm: u32,
    pub gn: u32,
    pub gk: u32,
    /// Tile rows and columns (bm · bn = 4096).
    pub bm: u32,
    pub bn: u32,
    pub n_tiles: u32,
    pub m_tiles: u32,
    /// Depth of one split of K (flat entries, a multiple of bk), output rows per split
    /// (row-major entries), or elements per split in `conv2d_bwd_bias`.
    pub k_chunk: u32,
    pub splits: u32,
    /// Elements per (image, channel) plane in `conv2d_bwd_bias`.
    pub len: u32,
    /// Tile depth (8 or 16) and its log2.
    pub bk: u32,
    pub bk_shift: u32,
}

const THREADS: usize = 256;
const MAX_GROUPS: usize = 65_535;
/// Workgroups the split-K kernels aim for (enough to fill a large GPU).
const TARGET_GROUPS: usize = 512;
/// Least depth of one split of the weight gradient's reduction.
const MIN_CHUNK: usize = 256;
/// Least elements per workgroup of the bias gradient.
const MIN_BIAS_CHUNK: usize = 4096;

/// A GEMM's tile: bm × bn outputs (bm · bn = 4096: 256 threads × 4 × 4), depth bk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub bm: usize,
    pub bn: usize,
    pub bk: usize,
    /// Whether the nested-loop (tap-major or row-major) entry runs.
    pub nested: bool,
}

/// The tiling for a GEMM with `m` rows whose nested-loop entry would pad its inner loop of
/// `inner` (channels or pixels per row) to a multiple of bk.
///
/// bm is the least of 16, 32, 64 that holds m (a flatter tile loads more per FMA, a taller one
/// computes wasted rows: on lavapipe at x [8,32,64,32] → 32 k3, bm 32 beat 16 by ~1.3× and 64
/// by ~2×). bk is 16 where workgroup memory allows (bn ≤ 128; ~1.25× over 8 on lavapipe, half the
/// barriers), else 8; the nested entry runs when padding `inner` to bk wastes at most a quarter,
/// trying bk 16 then 8.
pub fn tiling(m: usize, inner: usize) -> Tiling {
    let bm = if m <= 16 {
        16
    } else if m <= 32 {
        32
    } else {
        64
    };
    let bn = THREADS * 16 / bm;
    let bk_max = if bn <= 128 { 16 } else { 8 };
    let pads_little = |bk: usize| inner.next_multiple_of(bk) * 4 <= inner * 5;
    match [16, 8].into_iter().find(|&bk| bk <= bk_max && pads_little(bk)) {
        Some(bk) => Tiling { bm, bn, bk, nested: true },
        None => Tiling { bm, bn, bk: bk_max, nested: false },
    }
}

fn u(v: usize) -> u32 {
    v as u32
}

/// The geometry of `g` and the tile `t` of a GEMM with `m` rows and `n_tiles` column tiles.
fn gemm_params(g: &Conv2d, t: Tiling, m: usize, n_tiles: usize) -> Params {
    Params {
        n: u(g.n),
        ci: u(g.ci),
        h: u(g.h),
        w: u(g.w),
        co: u(g.co),
        kh: u(g.kh),
        kw: u(g.kw),
        stride: u(g.stride),
        pad: u(g.pad),
        ho: u(g.ho()),
        wo: u(g.wo()),
        gm: u(m),
        bm: u(t.bm),
        bn: u(t.bn),
        bk: u(t.bk),
        bk_shift: t.bk.trailing_zeros(),
        n_tiles: u(n_tiles),
        m_tiles: u(m.div_ceil(t.bm)),
        ..Default::default()
    }
}

/// Workgroup counts: N tiles folded into x and y, `z` groups in z.
fn gemm_grid(n_tiles: usize, z: usize) -> Result<[u32; 3]> {
    let [x, y, _] = grid(n_tiles);
    if z > MAX_GROUPS || y as usize > MAX_GROUPS {
        return Err(Error::config(OP, format!("problem too large for one dispatch ({n_tiles} × {z} tiles)")));
    }
    Ok([x, y, z as u32])
}

/// Re-validates a descriptor whose fields may have been set by hand.
fn check_geometry(g: &Conv2d) -> Result<()> {
    Conv2d::new(g.x_shape(), g.co, [g.kh, g.kw], g.stride, g.pad).map(|_| ())
}

pub fn forward_tiling(g: &Conv2d) -> Tiling {
    tiling(g.co, g.ci)
}

/// The forward entry for `g`.
pub fn forward_entry(g: &Conv2d) -> &'static str {
    forward_kernel(g).entry
}

fn forward_kernel(g: &Conv2d) -> &'static Kernel {
    let hw_aligned = (g.ho() * g.wo()).is_multiple_of(4);
    if g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0 && g.ci.is_multiple_of(4) && hw_aligned {
        &FWD_1X1_V4
    } else if forward_tiling(g).nested {
        if hw_aligned { &FWD_TAPS_V4 } else { &FWD_TAPS }
    } else {
        &FWD
    }
}

pub fn backward_data_tiling(g: &Conv2d) -> Tiling {
    tiling(g.ci, g.co)
}

/// The backward-data entry for `g`.
pub fn backward_data_entry(g: &Conv2d) -> &'static str {
    backward_data_kernel(g).entry
}

fn backward_data_kernel(g: &Conv2d) -> &'static Kernel {
    if backward_data_tiling(g).nested { &BWD_DATA_TAPS } else { &BWD_DATA }
}

/// How the weight gradient runs: which entry and tile, and its reduction over n·ho·wo split
/// into `splits` chunks of `chunk` (output rows for the row-major entries, else elements).
#[derive(Clone, Copy)]
pub struct WeightPlan {
    pub entry: &'static str,
    pub tiling: Tiling,
    pub splits: usize,
    pub chunk: usize,
    kernel: &'static Kernel,
}

pub fn weight_plan(g: &Conv2d) -> WeightPlan {
    let (m, n, k) = (g.co, g.ci * g.kh * g.kw, g.n * g.ho() * g.wo());
    let t = tiling(m, g.wo());
    let tiles = m.div_ceil(t.bm) * n.div_ceil(t.bn);
    // at most ~256 MiB of partial sums
    let by_memory = ((64usize << 20) / (m * n)).max(1);
    let want = TARGET_GROUPS.div_ceil(tiles).min(k / MIN_CHUNK).min(by_memory).max(1);
    let (kernel, units, chunk) = if t.nested {
        let rows = g.n * g.ho();
        let kernel = if g.wo().is_multiple_of(4) { &BWD_WEIGHT_ROWS_V4 } else { &BWD_WEIGHT_ROWS };
        (kernel, rows, rows.div_ceil(want))
    } else {
        (&BWD_WEIGHT, k, k.div_ceil(want).next_multiple_of(t.bk))
    };
    WeightPlan { entry: kernel.entry, tiling: t, splits: units.div_ceil(chunk), chunk, kernel }
}

/// How many chunks the weight gradient's reduction over n·ho·wo is split into.
pub fn weight_splits(g: &Conv2d) -> usize {
    weight_plan(g).splits
}

/// How many chunks the bias gradient's sum over n·hw elements per channel is split into.
pub fn bias_splits(n: usize, c: usize, hw: usize) -> usize {
    let total = n * hw;
    let want = TARGET_GROUPS.div_ceil(c).min(total / MIN_BIAS_CHUNK).clamp(1, MAX_GROUPS);
    total.div_ceil(total.div_ceil(want))
}

/// y = conv2d(x, w) + b.
pub fn forward(r: &mut Recorder, g: &Conv2d, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "x", x.len, &g.x_shape())?;
    check_len(OP, "w", w.len, &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len, &[g.co])?;
    }
    forward_raw(r, OP, "y", g, x, w, b)
}

/// dx = Jᵀ dy with respect to x.
pub fn backward_data(r: &mut Recorder, g: &Conv2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    check_len(OP, "w", w.len, &g.w_shape())?;
    backward_data_raw(r, OP, "dx", g, dy, w, None)
}

/// dw = Σ over batch and output pixels of dy ⊗ im2col(x).
pub fn backward_weight(r: &mut Recorder, g: &Conv2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "x", x.len, &g.x_shape())?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    backward_weight_raw(r, OP, g, x, dy)
}

/// db = per-channel sums of dy.
pub fn backward_bias(r: &mut Recorder, g: &Conv2d, dy: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    channel_sums_raw(r, OP, dy, g.n, g.co, g.ho() * g.wo())
}

fn dummy_bias(r: &Recorder, op: &str) -> Result<GpuTensor> {
    r.context().zeros(op, "b (none)", 4)
}

pub(crate) fn forward_raw(
    r: &mut Recorder,
    op: &str,
    out: &str,
    g: &Conv2d,
    x: &GpuTensor,
    w: &GpuTensor,
    b: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let (m, n, k) = (g.co, g.n * g.ho() * g.wo(), g.ci * g.kh * g.kw);
    let t = forward_tiling(g);
    let n_tiles = n.div_ceil(t.bn);
    let params = Params { has_bias: b.is_some() as u32, gn: u(n), gk: u(k), ..gemm_params(g, t, m, n_tiles) };
    let groups = gemm_grid(n_tiles, m.div_ceil(t.bm))?;
    let y = r.zeros(op, out, g.y_shape().iter().product())?;
    let dummy;
    let b = match b {
        Some(b) => b,
        None => {
            dummy = dummy_bias(r, op)?;
            &dummy
        }
    };
    r.dispatch(forward_kernel(g), &params, &[x, w, b, &y], groups)?;
    Ok(y)
}

/// Backward-data of `g` (plus an optional bias over its ci channels: conv_transpose2d's
/// forward runs on this).
pub(crate) fn backward_data_raw(
    r: &mut Recorder,
    op: &str,
    out: &str,
    g: &Conv2d,
    dy: &GpuTensor,
    w: &GpuTensor,
    b: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let s = g.stride;
    // columns per phase are at most those of the phase that starts at pixel (0, 0)
    let (m, n_max) = (g.ci, g.n * g.h.div_ceil(s) * g.w.div_ceil(s));
    let t = backward_data_tiling(g);
    let n_tiles = n_max.div_ceil(t.bn);
    let params = Params { has_bias: b.is_some() as u32, ..gemm_params(g, t, m, n_tiles) };
    let groups = gemm_grid(n_tiles, m.div_ceil(t.bm) * s * s)?;
    let dx = r.zeros(op, out, g.x_shape().iter().product())?;
    let dummy;
    let b = match b {
        Some(b) => b,
        None => {
            dummy = dummy_bias(r, op)?;
            &dummy
        }
    };
    r.dispatch(backward_data_kernel(g), &params, &[dy, w, b, &dx], groups)?;
    Ok(dx)
}

/// Weight gradient of `g` from its input `x` and output gradient `dy`.
pub(crate) fn backward_weight_raw(
    r: &mut Recorder,
    op: &str,
    g: &Conv2d,
    x: &GpuTensor,
    dy: &GpuTensor,
) -> Result<GpuTensor> {
    let howo = g.ho() * g.wo();
    let (m, n, k) = (g.co, g.ci * g.kh * g.kw, g.n * howo);
    let plan = weight_plan(g);
    let (t, splits) = (plan.tiling, plan.splits);
    let n_tiles = n.div_ceil(t.bn);
    let params =
        Params { gn: u(n), gk: u(k), k_chunk: u(plan.chunk), splits: u(splits), ..gemm_params(g, t, m, n_tiles) };
    let groups = gemm_grid(n_tiles, m.div_ceil(t.bm) * splits)?;
    let kernel = plan.kernel;
    let dw = r.zeros(op, "dw", m * n)?;
    if splits == 1 {
        r.dispatch(kernel, &params, &[x, dy, &dw], groups)?;
    } else {
        let part = r.zeros(op, "dw partial sums", splits * m * n)?;
        r.dispatch(kernel, &params, &[x, dy, &part], groups)?;
        reduce(r, &part, &dw, splits, m * n)?;
    }
    Ok(dw)
}

/// Per-channel sums of a [n, c, hw] tensor: the bias gradient of any conv whose output it is.
pub(crate) fn channel_sums_raw(
    r: &mut Recorder,
    op: &str,
    dy: &GpuTensor,
    n: usize,
    c: usize,
    hw: usize,
) -> Result<GpuTensor> {
    if c > MAX_GROUPS {
        return Err(Error::config(op, format!("{c} channels are more than one dispatch allows for the bias gradient")));
    }
    let splits = bias_splits(n, c, hw);
    let chunk = (n * hw).div_ceil(splits);
    let params = Params { n: u(n), co: u(c), len: u(hw), k_chunk: u(chunk), splits: u(splits), ..Default::default() };
    let db = r.zeros(op, "db", c)?;
    if splits == 1 {
        r.dispatch(&BWD_BIAS, &params, &[dy, &db], [u(c), 1, 1])?;
    } else {
        let part = r.zeros(op, "db partial sums", splits * c)?;
        r.dispatch(&BWD_BIAS, &params, &[dy, &part], [u(c), u(splits), 1])?;
        reduce(r, &part, &db, splits, c)?;
    }
    Ok(db)
}

/// out[i] = Σ_s part[s · len + i].
fn reduce(r: &mut Recorder, part: &GpuTensor, out: &GpuTensor, splits: usize, len: usize) -> Result<()> {
    let params = Params { gn: u(len), splits: u(splits), ..Default::default() };
    r.dispatch(&REDUCE, &params, &[part, out], grid(len.div_ceil(THREADS)))
}
