// Sigmoid gating y = x · sigmoid(z), z broadcast over some dims of x [n,c,h,w]:
//   mode 0 channel z [n,c,1,1], 1 spatial z [n,1,h,w], 2 row z [n,c,h,1], 3 col z [n,c,1,w].
// One thread per element of x. The backward entry writes dx and, fused in the same pass,
// the per-element terms dy·x·s·(1−s) of dz; the host sums those over the broadcast dims
// with reduce_sum.

struct Params {
    len: u32,
    mode: u32,
    c: u32,
    h: u32,
    w: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;

// The element of z that gates element e of x.
fn z_index(e: u32) -> u32 {
    let hw = p.h * p.w;
    switch p.mode {
        case 0u: {
            return e / hw;
        }
        case 1u: {
            return (e / (p.c * hw)) * hw + e % hw;
        }
        case 2u: {
            return e / p.w;
        }
        default: {
            return (e / hw) * p.w + e % p.w;
        }
    }
}

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn gate_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    y[e] = x[e] * sigmoid(z[z_index(e)]);
}

@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz_terms: array<f32>;

@compute @workgroup_size(256)
fn gate_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let s = sigmoid(z[z_index(e)]);
    let d = dy[e];
    dx[e] = d * s;
    dz_terms[e] = d * x[e] * s * (1.0 - s);
}
