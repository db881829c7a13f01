//! Fast path of `cpu::conv_transpose2d`, run on the conv2d fast paths through the adjoint
//! mapping (`ConvTranspose2d::as_conv`, as the GPU kernels do): the forward pass is that
//! convolution's backward-data, backward-data its forward pass, and the weight gradient its
//! weight gradient with the roles of x and dy exchanged.

use super::{conv2d, simd};
use crate::error::{Result, check_len};
use crate::ops::ConvTranspose2d;

const OP: &str = "conv_transpose2d";

fn check_geometry(g: &ConvTranspose2d) -> Result<()> {
    ConvTranspose2d::new(g.x_shape(), g.co, g.k, g.stride, g.pad).map(|_| ())
}

/// y = conv_transpose(x, w) + b.
pub fn forward(g: &ConvTranspose2d, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    if let Some(b) = b {
        check_len(OP, "b", b.len(), &[g.co])?;
    }
    let mut y = conv2d::backward_data(&g.as_conv(), x, w)?;
    if let Some(b) = b {
        let hw = g.ho() * g.wo();
        for (i, plane) in y.chunks_mut(hw).enumerate() {
            simd::add_scalar(plane, b[i % g.co]);
        }
    }
    Ok(y)
}

/// dx[n,i,iy,ix] = Σ_{o,ky,kx} dy[n, o, iy·s − p + ky, ix·s − p + kx] · w[i,o,ky,kx].
pub fn backward_data(g: &ConvTranspose2d, dy: &[f32], w: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    check_len(OP, "w", w.len(), &g.w_shape())?;
    conv2d::forward(&g.as_conv(), dy, w, None)
}

/// dw[i,o,ky,kx] = Σ_{n,iy,ix} x[n,i,iy,ix] · dy[n, o, iy·s − p + ky, ix·s − p + kx].
pub fn backward_weight(g: &ConvTranspose2d, x: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "x", x.len(), &g.x_shape())?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    conv2d::backward_weight(&g.as_conv(), dy, x)
}

/// db[o] = Σ_{n,oy,ox} dy[n,o,oy,ox].
pub fn backward_bias(g: &ConvTranspose2d, dy: &[f32]) -> Result<Vec<f32>> {
    check_geometry(g)?;
    check_len(OP, "dy", dy.len(), &g.y_shape())?;
    Ok(conv2d::plane_sums(g.n, g.co, g.ho() * g.wo(), dy))
}
