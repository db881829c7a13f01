//! Dispatch for `shaders/elementwise.wgsl`: activations (forward and backward), add, and the
//! channel concat / split.
//!
//! Every entry point covers [`PER_GROUP`] elements per workgroup (64 threads × 4 elements).
//! When every length and offset involved is a multiple of 4 the `*4` entry points run, which
//! load and store whole vec4s; otherwise the scalar ones do, each thread handling 4 elements
//! strided by the workgroup size (still coalesced). Grids longer than 65 535 workgroups fold
//! into y.
use crate::error::{Error, Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::ops::{Act, Concat, act_name};

pub static SHADER: Shader = Shader { name: "elementwise", source: include_str!("../../shaders/elementwise.wgsl") };

/// Elements one workgroup covers.
pub const PER_GROUP: usize = 256;

/// Mirrors `Params` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Elements (scalar entry points) or vec4s (`*4` entry points).
    pub len: u32,
    /// 0 ReLU, 1 ReLU6, 2 h-swish, 3 sigmoid.
    pub act: u32,
    /// place / take: rows of `chunk` elements, row r at `r * stride + offset`.
    pub chunk: u32,
    pub stride: u32,
    pub offset: u32,
    pub _pad: [u32; 3],
}

/// One operation as a vec4 entry point and a scalar one with the same bindings.
struct Pair {
    v4: Kernel,
    v1: Kernel,
}

macro_rules! pair {
    ($name:ident, $v4:literal, $v1:literal, $bindings:expr) => {
        static $name: Pair = Pair {
            v4: Kernel { shader: &SHADER, entry: $v4, bindings: $bindings },
            v1: Kernel { shader: &SHADER, entry: $v1, bindings: $bindings },
        };
    };
}

pair!(ACT_FWD, "elementwise_act_fwd4", "elementwise_act_fwd", &[Read, ReadWrite]);
pair!(ACT_BWD, "elementwise_act_bwd4", "elementwise_act_bwd", &[Read, Read, ReadWrite]);
pair!(ADD, "elementwise_add4", "elementwise_add", &[Read, Read, ReadWrite]);
pair!(PLACE, "elementwise_place4", "elementwise_place", &[Read, ReadWrite]);
pair!(TAKE, "elementwise_take4", "elementwise_take", &[Read, ReadWrite]);

fn act_code(a: Act) -> u32 {
    match a {
        Act::Relu => 0,
        Act::Relu6 => 1,
        Act::HSwish => 2,
        Act::Sigmoid => 3,
    }
}

/// The largest element count the shaders index: their u32 index arithmetic (a grid-stride
/// step or a workgroup's 256 elements added to an index below this) never overflows.
pub(crate) const MAX_LEN: usize = 1 << 31;

/// A length or offset as the shader's u32, or an error naming the tensor.
pub(crate) fn to_u32(op: &str, tensor: &str, n: usize) -> Result<u32> {
    if n > MAX_LEN {
        return Err(Error::shape(op, tensor, format!("has {n} elements, more than the kernels index ({MAX_LEN})")));
    }
    Ok(n as u32)
}

/// Records `pair` over `len` elements; `p` holds the element-unit chunk/stride/offset.
fn launch(r: &mut Recorder, pair: &Pair, mut p: Params, len: usize, bufs: &[&GpuTensor]) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let groups = grid(len.div_ceil(PER_GROUP));
    if len.is_multiple_of(4) && p.chunk.is_multiple_of(4) && p.stride.is_multiple_of(4) && p.offset.is_multiple_of(4) {
        p.len = (len / 4) as u32;
        p.chunk /= 4;
        p.stride /= 4;
        p.offset /= 4;
        r.dispatch(&pair.v4, &p, bufs, groups)
    } else {
        p.len = len as u32;
        r.dispatch(&pair.v1, &p, bufs, groups)
    }
}

/// y = act(x).
pub fn act_forward(r: &mut Recorder, a: Act, x: &GpuTensor) -> Result<GpuTensor> {
    let op = act_name(a, false);
    to_u32(op, "x", x.len)?;
    let y = r.zeros(op, "y", x.len)?;
    launch(r, &ACT_FWD, Params { act: act_code(a), ..Default::default() }, x.len, &[x, &y])?;
    Ok(y)
}

/// dx = dy · act'(x) (PyTorch's derivatives at the kinks).
pub fn act_backward(r: &mut Recorder, a: Act, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    let op = act_name(a, true);
    check_len(op, "dy", dy.len, &[x.len])?;
    to_u32(op, "x", x.len)?;
    let dx = r.zeros(op, "dx", x.len)?;
    launch(r, &ACT_BWD, Params { act: act_code(a), ..Default::default() }, x.len, &[x, dy, &dx])?;
    Ok(dx)
}

/// y = a + b.
pub fn add(r: &mut Recorder, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    check_len("add", "b", b.len, &[a.len])?;
    to_u32("add", "a", a.len)?;
    let y = r.zeros("add", "y", a.len)?;
    launch(r, &ADD, Params::default(), a.len, &[a, b, &y])?;
    Ok(y)
}

/// The row geometry of concat: (elements of a per batch item, of b, of y).
fn rows(op: &str, g: &Concat) -> Result<(u32, u32, u32)> {
    let (sa, sb) = (g.ca * g.hw, g.cb * g.hw);
    to_u32(op, "y", g.y_len())?;
    Ok((sa as u32, sb as u32, (sa + sb) as u32))
}

/// y [n, ca+cb, hw] = cat([a [n,ca,hw], b [n,cb,hw]], dim 1).
pub fn concat(r: &mut Recorder, g: &Concat, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    check_len("concat", "a", a.len, &[g.n, g.ca, g.hw])?;
    check_len("concat", "b", b.len, &[g.n, g.cb, g.hw])?;
    let (sa, sb, stride) = rows("concat", g)?;
    let y = r.zeros("concat", "y", g.y_len())?;
    launch(r, &PLACE, Params { chunk: sa, stride, offset: 0, ..Default::default() }, a.len, &[a, &y])?;
    launch(r, &PLACE, Params { chunk: sb, stride, offset: sa, ..Default::default() }, b.len, &[b, &y])?;
    Ok(y)
}

/// The inverse of `concat` (and its backward): y [n, ca+cb, hw] -> (a, b).
pub fn split(r: &mut Recorder, g: &Concat, y: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
    check_len("split", "y", y.len, &[g.n, g.ca + g.cb, g.hw])?;
    let (sa, sb, stride) = rows("split", g)?;
    let a = r.zeros("split", "a", g.n * g.ca * g.hw)?;
    let b = r.zeros("split", "b", g.n * g.cb * g.hw)?;
    launch(r, &TAKE, Params { chunk: sa, stride, offset: 0, ..Default::default() }, a.len, &[y, &a])?;
    launch(r, &TAKE, Params { chunk: sb, stride, offset: sa, ..Default::default() }, b.len, &[y, &b])?;
    Ok((a, b))
}
