//! Dispatch for `shaders/ssim.wgsl`: the SSIM dissimilarity map 1 − S (one pass) and its
//! gradient wrt x (the per-window coefficients, then each pixel gathers them).
use crate::error::{Result, check_len};
use crate::gpu::{Access::*, GpuTensor, Kernel, Recorder, Shader, grid};
use crate::kernels::elementwise::to_u32;
use crate::ops::Ssim;

pub static SHADER: Shader = Shader { name: "ssim", source: include_str!("../../shaders/ssim.wgsl") };

static FWD: Kernel = Kernel { shader: &SHADER, entry: "ssim_fwd", bindings: &[Read, Read, ReadWrite] };
static COEF: Kernel = Kernel { shader: &SHADER, entry: "ssim_coef", bindings: &[Read, Read, Read, ReadWrite] };
static BWD: Kernel = Kernel { shader: &SHADER, entry: "ssim_bwd", bindings: &[Read, Read, Read, ReadWrite] };

const WG: usize = 256;
/// Planes of `coef`: three coefficients and the two window means.
const COEF_PLANES: usize = 5;

/// Mirrors `Params` in ssim.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub len: u32,
    pub h: u32,
    pub w: u32,
    pub _p0: u32,
}

fn params(op: &str, g: &Ssim) -> Result<Params> {
    // The coefficient buffer's last plane must be addressable too.
    to_u32(op, "coefficients", g.len() * COEF_PLANES)?;
    Ok(Params { len: g.len() as u32, h: g.h as u32, w: g.w as u32, _p0: 0 })
}

/// The map 1 − S, [planes, h, w].
pub fn forward(r: &mut Recorder, g: &Ssim, x: &GpuTensor, t: &GpuTensor) -> Result<GpuTensor> {
    let op = "ssim";
    g.check(op, x.len, t.len)?;
    let p = params(op, g)?;
    let map = r.zeros(op, "map", g.len())?;
    r.dispatch(&FWD, &p, &[x, t, &map], grid(g.len().div_ceil(WG)))?;
    Ok(map)
}

/// dx given the map's upstream gradient `dy`.
pub fn backward(r: &mut Recorder, g: &Ssim, x: &GpuTensor, t: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    let op = "ssim_backward";
    g.check(op, x.len, t.len)?;
    check_len(op, "dy", dy.len, &[g.len()])?;
    let p = params(op, g)?;
    let coef = r.zeros(op, "coefficients", g.len() * COEF_PLANES)?;
    let dx = r.zeros(op, "dx", g.len())?;
    let groups = grid(g.len().div_ceil(WG));
    r.dispatch(&COEF, &p, &[x, t, dy, &coef], groups)?;
    r.dispatch(&BWD, &p, &[x, t, &coef, &dx], groups)?;
    r.recycle(coef);
    Ok(dx)
}
