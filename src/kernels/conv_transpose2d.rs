//! Transposed convolution, dispatched onto the conv2d kernels it is the adjoint of (it has
//! no shader of its own).
//!
//! `g.as_conv()` is the convolution c that maps this op's output shape [n, co, ho, wo] to its
//! input shape [n, ci, h, w], with weight [co_c = ci, ci_c = co, k, k]: this op's weight,
//! unchanged. The transposed convolution is c's backward-data, so:
//!
//! | this op | runs on the conv2d kernel |
//! |---|---|
//! | forward y = convT(x, w) + b | c backward-data of "dy" = x, with the bias over c's input channels (`conv2d_bwd_data`, one GEMM per stride phase, so k2 s2 computes no zeros) |
//! | backward-data dx | c forward of dy, no bias (`conv2d_fwd*`) |
//! | backward-weight dw | c backward-weight with x_c = dy and dy_c = x (`conv2d_bwd_weight*`, split K) |
//! | bias gradient db | per-channel sums of dy (`conv2d_bwd_bias`) |
//!
//! Any kernel size, stride and padding that `ConvTranspose2d::new` accepts works; the U-Net
//! uses k2 s2 p0. The CPU twin (`cpu::conv_transpose2d`) is written from the scatter
//! definition instead, so the parity tests check this mapping independently.
use super::conv2d;
use crate::error::{Result, check_len};
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::ConvTranspose2d;

const OP: &str = "conv_transpose2d";

/// Re-validates a descriptor whose fields may have been set by hand.
fn check_geometry(g: &ConvTranspose2d) -> Result<()> {
    ConvTranspose2d::new(g.x_shape(), g.co, g.k, g.stride, g.pad).map(|_| ())
}

/// y = conv_transpose2d(x, w) + b.
pub fn forward(
    r: &mut Recorder,
    g: &ConvTranspose2d,
    x: &GpuTensor,
    w: &GpuTensor,
    b: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "x", x.len, &g.x_shape())?;
    check_len(OP, "w", w.len, &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len, &[g.co])?;
    }
    conv2d::backward_data_raw(r, OP, "y", &g.as_conv(), x, w, b)
}

/// dx = Jᵀ dy with respect to x: the convolution of dy.
pub fn backward_data(r: &mut Recorder, g: &ConvTranspose2d, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    check_len(OP, "w", w.len, &g.w_shape())?;
    conv2d::forward_raw(r, OP, "dx", &g.as_conv(), dy, w, None)
}

/// dw[i, o, ky, kx]: the conv's weight gradient with the roles of x and dy exchanged.
pub fn backward_weight(r: &mut Recorder, g: &ConvTranspose2d, x: &GpuTensor, dy: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "x", x.len, &g.x_shape())?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    conv2d::backward_weight_raw(r, OP, &g.as_conv(), dy, x)
}

/// db = per-channel sums of dy.
pub fn backward_bias(r: &mut Recorder, g: &ConvTranspose2d, dy: &GpuTensor) -> Result<GpuTensor> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len, &g.y_shape())?;
    conv2d::channel_sums_raw(r, OP, dy, g.n, g.co, g.ho() * g.wo())
}
