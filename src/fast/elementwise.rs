//! Fast path of `cpu::elementwise`: activations, add, concat and split as chunked loops that
//! vectorise (same formulas as the twin, operation for operation), in parallel when large.

use super::{buffers, for_chunks, simd};
use crate::error::{Result, check_len};
use crate::ops::{Act, Concat};

// `max(lo).min(hi)`, not `clamp`: the twin's (and WGSL's) handling of NaN.
#[allow(clippy::manual_clamp)]
#[pulp::with_simd(act_rows = simd::arch())]
#[inline(always)]
fn act_rows_simd<S: pulp::Simd>(_simd: S, a: Act, x: &[f32], y: &mut [f32]) {
    let it = y.iter_mut().zip(x);
    match a {
        Act::Relu => it.for_each(|(y, &v)| *y = if v < 0.0 { 0.0 } else { v }),
        Act::Relu6 => it.for_each(|(y, &v)| *y = v.max(0.0).min(6.0)),
        Act::HSwish => it.for_each(|(y, &v)| *y = v * (v + 3.0).max(0.0).min(6.0) / 6.0),
        Act::Sigmoid => it.for_each(|(y, &v)| *y = 1.0 / (1.0 + (-v).exp())),
    }
}

#[allow(clippy::manual_clamp)]
#[pulp::with_simd(act_grad_rows = simd::arch())]
#[inline(always)]
fn act_grad_rows_simd<S: pulp::Simd>(_simd: S, a: Act, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let it = dx.iter_mut().zip(x).zip(dy);
    match a {
        Act::Relu => it.for_each(|((d, &v), &g)| *d = if v > 0.0 { g } else { 0.0 }),
        Act::Relu6 => it.for_each(|((d, &v), &g)| *d = if v > 0.0 && v < 6.0 { g } else { 0.0 }),
        Act::HSwish => it.for_each(|((d, &v), &g)| {
            let u = v + 3.0;
            let inside = if u > 0.0 && u < 6.0 { v } else { 0.0 };
            *d = g * (u.max(0.0).min(6.0) + inside) / 6.0
        }),
        Act::Sigmoid => it.for_each(|((d, &v), &g)| {
            let s = 1.0 / (1.0 + (-v).exp());
            *d = g * ((1.0 - s) * s)
        }),
    }
}

#[pulp::with_simd(add_rows = simd::arch())]
#[inline(always)]
fn add_rows_simd<S: pulp::Simd>(_simd: S, a: &[f32], b: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(a).zip(b).for_each(|((y, &u), &v)| *y = u + v);
}

/// y = act(x).
pub fn act_forward(a: Act, x: &[f32]) -> Result<Vec<f32>> {
    let mut y = buffers::take(x.len());
    for_chunks(&mut y, |off, y| act_rows(a, &x[off..][..y.len()], y));
    Ok(y)
}

/// dx = dy · act'(x), with the twin's derivative at every kink.
pub fn act_backward(a: Act, x: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    check_len(crate::ops::act_name(a, true), "dy", dy.len(), &[x.len()])?;
    let mut dx = buffers::take(x.len());
    for_chunks(&mut dx, |off, dx| act_grad_rows(a, &x[off..][..dx.len()], &dy[off..][..dx.len()], dx));
    Ok(dx)
}

/// y = a + b.
pub fn add(a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    check_len("add", "b", b.len(), &[a.len()])?;
    let mut y = buffers::take(a.len());
    for_chunks(&mut y, |off, y| add_rows(&a[off..][..y.len()], &b[off..][..y.len()], y));
    Ok(y)
}

/// Copies into `out` (elements [off, off + out.len()) of a tensor made of `n` blocks of
/// `parts` laid end to end) the runs of each part that fall there.
fn gather(out: &mut [f32], off: usize, parts: [(&[f32], usize); 2]) {
    let block = parts[0].1 + parts[1].1;
    let mut pos = off;
    while pos < off + out.len() {
        let (n, within) = (pos / block, pos % block);
        let (src, from, run) = if within < parts[0].1 {
            (parts[0].0, n * parts[0].1 + within, parts[0].1 - within)
        } else {
            (parts[1].0, n * parts[1].1 + within - parts[0].1, block - within)
        };
        let run = run.min(off + out.len() - pos);
        out[pos - off..pos - off + run].copy_from_slice(&src[from..from + run]);
        pos += run;
    }
}

/// y [n, ca+cb, hw] = cat([a [n,ca,hw], b [n,cb,hw]], dim 1).
pub fn concat(g: &Concat, a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    check_len("concat", "a", a.len(), &[g.n, g.ca, g.hw])?;
    check_len("concat", "b", b.len(), &[g.n, g.cb, g.hw])?;
    let (sa, sb) = (g.ca * g.hw, g.cb * g.hw);
    let mut y = buffers::take(g.y_len());
    for_chunks(&mut y, |off, y| gather(y, off, [(a, sa), (b, sb)]));
    Ok(y)
}

/// The inverse of `concat`: y [n, ca+cb, hw] -> (a [n,ca,hw], b [n,cb,hw]).
pub fn split(g: &Concat, y: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
    check_len("split", "y", y.len(), &[g.n, g.ca + g.cb, g.hw])?;
    let (sa, sb) = (g.ca * g.hw, g.cb * g.hw);
    let (mut a, mut b) = (buffers::take(g.n * sa), buffers::take(g.n * sb));
    // Part `skip..skip + len` of every block of y.
    let part = |out: &mut [f32], skip: usize, len: usize| {
        for_chunks(out, |off, o| {
            let mut pos = off;
            while pos < off + o.len() {
                let (n, within) = (pos / len, pos % len);
                let run = (len - within).min(off + o.len() - pos);
                let from = n * (sa + sb) + skip + within;
                o[pos - off..pos - off + run].copy_from_slice(&y[from..from + run]);
                pos += run;
            }
        })
    };
    part(&mut a, 0, sa);
    part(&mut b, sa, sb);
    Ok((a, b))
}
