// Reductions over the middle axis of x viewed as [outer, r, inner] -> y [outer, inner],
// and their backward passes.
//
// Forward launch: 256 threads = tile_x output lanes × split r-lanes. Each workgroup owns
// tile_x consecutive outputs j = o·inner + i; r-lane ly walks k = ly, ly + split, … and the
// split partials are combined by a tree in workgroup memory.
//  * inner == 1 (long rows, e.g. global pooling over H·W): r-lanes are the fast lanes
//    (lx_fast = 0), so neighbouring threads read neighbouring addresses of one row; with
//    split = 256 a workgroup reduces one row.
//  * inner > 1: output lanes are the fast lanes (lx_fast = 1), so neighbouring threads
//    read neighbouring i (coalesced), each looping over its share of r.
// Backward passes run one thread per element of x and gather; no atomics.

struct Params {
    outer: u32,
    r: u32,
    inner: u32,
    // outputs (outer·inner) for the forward entries, elements of x for the backward ones
    len: u32,
    tile_x: u32,
    split: u32,
    lx_fast: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
var<workgroup> s_val: array<f32, 256>;
var<workgroup> s_idx: array<u32, 256>;

// (output lane, r lane) of a thread.
fn lanes(lid: u32) -> vec2<u32> {
    if (p.lx_fast != 0u) {
        return vec2<u32>(lid % p.tile_x, lid / p.tile_x);
    }
    return vec2<u32>(lid / p.split, lid % p.split);
}

// Distance in lid between two threads of the same output lane one r lane apart.
fn r_stride() -> u32 {
    return select(1u, p.tile_x, p.lx_fast != 0u);
}

// ---- forward: sum (times scale) ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn reduce_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let l = lanes(lid);
    let j = (wid.x + wid.y * nwg.x) * p.tile_x + l.x;
    var acc = 0.0;
    if (j < p.len) {
        let o = j / p.inner;
        let base = o * p.r * p.inner + (j - o * p.inner);
        for (var k = l.y; k < p.r; k += p.split) {
            acc += x[base + k * p.inner];
        }
    }
    s_val[lid] = acc;
    workgroupBarrier();
    let st = r_stride();
    for (var s = p.split / 2u; s > 0u; s = s / 2u) {
        if (l.y < s) {
            s_val[lid] += s_val[lid + s * st];
        }
        workgroupBarrier();
    }
    if (l.y == 0u && j < p.len) {
        y[j] = s_val[lid] * p.scale;
    }
}

// ---- forward: max with the position of the first maximum along r ----
@group(0) @binding(3) var<storage, read_write> y_idx: array<u32>;

const EMPTY: u32 = 0xffffffffu;

// Is candidate (v, i) preferred over the current best (bv, bi)? A real candidate beats an
// empty best; otherwise the larger value wins, and on equal values the smaller position.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
    return i != EMPTY && (bi == EMPTY || v > bv || (v == bv && i < bi));
}

@compute @workgroup_size(256)
fn reduce_max(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let l = lanes(lid);
    let j = (wid.x + wid.y * nwg.x) * p.tile_x + l.x;
    var bv = 0.0;
    var bi = EMPTY;
    if (j < p.len) {
        let o = j / p.inner;
        let base = o * p.r * p.inner + (j - o * p.inner);
        for (var k = l.y; k < p.r; k += p.split) {
            let v = x[base + k * p.inner];
            if (better(v, k, bv, bi)) {
                bv = v;
                bi = k;
            }
        }
    }
    s_val[lid] = bv;
    s_idx[lid] = bi;
    workgroupBarrier();
    let st = r_stride();
    for (var s = p.split / 2u; s > 0u; s = s / 2u) {
        if (l.y < s) {
            let q = lid + s * st;
            if (better(s_val[q], s_idx[q], s_val[lid], s_idx[lid])) {
                s_val[lid] = s_val[q];
                s_idx[lid] = s_idx[q];
            }
        }
        workgroupBarrier();
    }
    if (l.y == 0u && j < p.len) {
        y[j] = s_val[lid];
        y_idx[j] = s_idx[lid];
    }
}

// ---- backward ----
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dy_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx_max: array<f32>;

// dx[o, k, i] = dy[o, i] · scale (the mean's backward with scale = 1/r).
@compute @workgroup_size(256)
fn reduce_broadcast_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let o = e / (p.r * p.inner);
    let i = e % p.inner;
    dx[e] = dy[o * p.inner + i] * p.scale;
}

// dx[o, k, i] = dy[o, i] where k is the saved argmax, zero elsewhere.
@compute @workgroup_size(256)
fn reduce_max_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let o = e / (p.r * p.inner);
    let rest = e - o * p.r * p.inner;
    let k = rest / p.inner;
    let j = o * p.inner + (rest - k * p.inner);
    dx_max[e] = select(0.0, dy[j], dy_idx[j] == k);
}
