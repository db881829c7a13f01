//! CPU twin of `shaders/loss.wgsl`: mean MSE and L1 losses over all elements.
use super::Real;
use crate::error::{Result, check_len};
use crate::ops::{Loss, check_loss_lens, loss_grad_scale, loss_name};

/// The mean loss as a one-element vector. The sum is accumulated in f64 whatever `T` is,
/// so the f32 twin is a sound reference for the GPU's tree reduction at any size.
pub fn forward<T: Real>(l: Loss, x: &[T], t: &[T]) -> Result<Vec<T>> {
    let op = loss_name(l);
    check_inputs(op, x, t)?;
    let sum: f64 = match l {
        Loss::Mse => x.iter().zip(t).map(|(&a, &b)| to_f64(a - b).powi(2)).sum(),
        Loss::L1 => x.iter().zip(t).map(|(&a, &b)| to_f64(a - b).abs()).sum(),
    };
    Ok(vec![T::from_f64(sum / x.len() as f64).unwrap_or_else(T::nan)])
}

/// dx = dy · 2(x − t)/M (MSE) or dy · sign(x − t)/M with sign(0) = 0 (L1); `dy` is the
/// one-element upstream gradient of the loss.
pub fn backward<T: Real>(l: Loss, x: &[T], t: &[T], dy: &[T]) -> Result<Vec<T>> {
    let op = loss_name(l);
    check_inputs(op, x, t)?;
    check_len(op, "dy", dy.len(), &[1])?;
    let g = dy[0] * T::from_f64(loss_grad_scale(l, x.len())).unwrap_or_else(T::nan);
    let zero = T::zero();
    Ok(match l {
        Loss::Mse => x.iter().zip(t).map(|(&a, &b)| (a - b) * g).collect(),
        Loss::L1 => x
            .iter()
            .zip(t)
            .map(|(&a, &b)| {
                let d = a - b;
                if d > zero {
                    g
                } else if d < zero {
                    -g
                } else {
                    zero
                }
            })
            .collect(),
    })
}

fn check_inputs<T>(op: &str, x: &[T], t: &[T]) -> Result<()> {
    check_loss_lens(op, x.len(), t.len())
}

fn to_f64<T: Real>(v: T) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}
