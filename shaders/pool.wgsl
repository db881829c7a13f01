// Max pooling, window = stride = 2, floor mode (a trailing odd row or column is dropped).
// Forward: one thread per output; the window is read in row-major order and the first
// maximum wins (strict >). Backward: one thread per input element, which gathers from the
// one window it can belong to; no atomics, and the dropped row/column get zero.

struct Params {
    nc: u32,
    h: u32,
    w: u32,
    ho: u32,
    wo: u32,
    // outputs for the forward entry, inputs for the backward one
    len: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> y_idx: array<u32>;

@compute @workgroup_size(256)
fn pool_max_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let j = (wid.x + wid.y * nwg.x) * WG + lid;
    if (j >= p.len) {
        return;
    }
    let ow = j % p.wo;
    let t = j / p.wo;
    let oh = t % p.ho;
    let plane = t / p.ho;
    let i0 = plane * p.h * p.w + 2u * oh * p.w + 2u * ow;
    var bi = i0;
    var bv = x[i0];
    let v1 = x[i0 + 1u];
    if (v1 > bv) {
        bv = v1;
        bi = i0 + 1u;
    }
    let v2 = x[i0 + p.w];
    if (v2 > bv) {
        bv = v2;
        bi = i0 + p.w;
    }
    let v3 = x[i0 + p.w + 1u];
    if (v3 > bv) {
        bv = v3;
        bi = i0 + p.w + 1u;
    }
    y[j] = bv;
    y_idx[j] = bi;
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn pool_max_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let col = e % p.w;
    let t = e / p.w;
    let row = t % p.h;
    let plane = t / p.h;
    var g = 0.0;
    if (row / 2u < p.ho && col / 2u < p.wo) {
        let j = (plane * p.ho + row / 2u) * p.wo + col / 2u;
        if (dy_idx[j] == e) {
            g = dy[j];
        }
    }
    dx[e] = g;
}
