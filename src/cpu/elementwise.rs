//! CPU twin of `shaders/elementwise.wgsl`: activations (forward and backward), add, and the
//! channel concat / split pair. The formulas follow the shader operation for operation, so
//! the f32 twin and the GPU agree to rounding.
use super::{Real, lit};
use crate::error::{Result, check_len};
use crate::ops::{Act, Concat, act_name};

/// y = act(x).
pub fn act_forward<T: Real>(a: Act, x: &[T]) -> Result<Vec<T>> {
    let (zero, one, three, six) = (T::zero(), T::one(), lit::<T>(3.0), lit::<T>(6.0));
    Ok(match a {
        // `x < 0 ? 0 : x` keeps NaN, as torch.relu does.
        Act::Relu => x.iter().map(|&v| if v < zero { zero } else { v }).collect(),
        Act::Relu6 => x.iter().map(|&v| clamp(v, zero, six)).collect(),
        Act::HSwish => x.iter().map(|&v| v * clamp(v + three, zero, six) / six).collect(),
        Act::Sigmoid => x.iter().map(|&v| one / (one + (-v).exp())).collect(),
    })
}

/// dx = dy · act'(x), with PyTorch's derivative at every kink: ReLU'(0) = 0; ReLU6 passes the
/// gradient only where 0 < x < 6; h-swish is differentiated as the composite
/// x·relu6(x+3)/6 (0 for x ≤ −3, 1 for x ≥ 3, (2x+3)/6 between).
pub fn act_backward<T: Real>(a: Act, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    check_len(act_name(a, true), "dy", dy.len(), &[x.len()])?;
    let (zero, one, three, six) = (T::zero(), T::one(), lit::<T>(3.0), lit::<T>(6.0));
    let it = x.iter().zip(dy);
    Ok(match a {
        Act::Relu => it.map(|(&v, &g)| if v > zero { g } else { zero }).collect(),
        Act::Relu6 => it.map(|(&v, &g)| if v > zero && v < six { g } else { zero }).collect(),
        Act::HSwish => it
            .map(|(&v, &g)| {
                // d/dx [x · r(u) / 6] with u = x + 3, r = relu6: (r(u) + x · r'(u)) / 6.
                let u = v + three;
                let inside = if u > zero && u < six { v } else { zero };
                g * (clamp(u, zero, six) + inside) / six
            })
            .collect(),
        Act::Sigmoid => it
            .map(|(&v, &g)| {
                let s = one / (one + (-v).exp());
                g * ((one - s) * s)
            })
            .collect(),
    })
}

/// y = a + b.
pub fn add<T: Real>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    check_len("add", "b", b.len(), &[a.len()])?;
    Ok(a.iter().zip(b).map(|(&u, &v)| u + v).collect())
}

/// y [n, ca+cb, hw] = cat([a [n,ca,hw], b [n,cb,hw]], dim 1).
pub fn concat<T: Real>(g: &Concat, a: &[T], b: &[T]) -> Result<Vec<T>> {
    check_len("concat", "a", a.len(), &[g.n, g.ca, g.hw])?;
    check_len("concat", "b", b.len(), &[g.n, g.cb, g.hw])?;
    let (sa, sb) = (g.ca * g.hw, g.cb * g.hw);
    let mut y = Vec::with_capacity(g.y_len());
    for n in 0..g.n {
        y.extend_from_slice(&a[n * sa..(n + 1) * sa]);
        y.extend_from_slice(&b[n * sb..(n + 1) * sb]);
    }
    Ok(y)
}

/// The inverse of `concat` (and its backward): y [n, ca+cb, hw] -> (a [n,ca,hw], b [n,cb,hw]).
pub fn split<T: Real>(g: &Concat, y: &[T]) -> Result<(Vec<T>, Vec<T>)> {
    check_len("split", "y", y.len(), &[g.n, g.ca + g.cb, g.hw])?;
    let (sa, sb) = (g.ca * g.hw, g.cb * g.hw);
    let mut a = Vec::with_capacity(g.n * sa);
    let mut b = Vec::with_capacity(g.n * sb);
    for row in y.chunks_exact((sa + sb).max(1)).take(g.n) {
        a.extend_from_slice(&row[..sa]);
        b.extend_from_slice(&row[sa..]);
    }
    Ok((a, b))
}

/// min(max(v, lo), hi), as WGSL's clamp on ordinary numbers.
fn clamp<T: Real>(v: T, lo: T, hi: T) -> T {
    v.max(lo).min(hi)
}
