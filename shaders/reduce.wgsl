// Reductions over the middle axis of x viewed as [outer, r, inner] -> y [outer, inner],
// and their backward passes.
//
// Forward launch: 256 threads = tile_x output lanes × split r-lanes. A workgroup owns
// tile_x consecutive outputs j = o·inner + i and one chunk [chunk·chunk_len, …) of r; r-lane
// ly walks k = start + ly, + split, … and the split partials are combined by a tree in
// workgroup memory.
//  * inner == 1 (rows, e.g. global pooling over H·W): r-lanes are the fast lanes
//    (lx_fast = 0), so neighbouring threads read neighbouring addresses of one row; with
//    split = 256 a workgroup reduces (a chunk of) one row.
//  * inner > 1: output lanes are the fast lanes (lx_fast = 1), so neighbouring threads
//    read neighbouring i (coalesced), each looping over its share of r.
// With chunks > 1 (long r and few outputs) each workgroup writes a partial result to
// y [outer, chunks, inner] and a second launch (reduce_sum again, or reduce_max_pairs,
// which carries the positions found by the first) reduces over the chunks.
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
    chunks: u32,
    chunk_len: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
const EMPTY: u32 = 0xffffffffu;

var<workgroup> s_val: array<f32, 256>;
var<workgroup> s_idx: array<u32, 256>;

// Where one thread of a forward launch works.
struct Slot {
    // output lane, r lane
    lx: u32,
    ly: u32,
    // output index o·inner + i (≥ p.len: idle), and the chunk of r
    j: u32,
    chunk: u32,
    // x index of (o, 0, i); the thread's first k and the end of its chunk
    base: u32,
    k0: u32,
    k_end: u32,
    // where the result goes: (o·chunks + chunk)·inner + i
    out: u32,
}

fn slot(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Slot {
    var s: Slot;
    if (p.lx_fast != 0u) {
        s.lx = lid % p.tile_x;
        s.ly = lid / p.tile_x;
    } else {
        s.lx = lid / p.split;
        s.ly = lid % p.split;
    }
    let g = wid.x + wid.y * nwg.x;
    s.chunk = g % p.chunks;
    s.j = (g / p.chunks) * p.tile_x + s.lx;
    let o = s.j / p.inner;
    let i = s.j - o * p.inner;
    s.base = o * p.r * p.inner + i;
    s.k0 = s.chunk * p.chunk_len + s.ly;
    s.k_end = min(p.r, (s.chunk + 1u) * p.chunk_len);
    s.out = (o * p.chunks + s.chunk) * p.inner + i;
    return s;
}

// Distance in lid between two threads of the same output lane one r lane apart.
fn r_stride() -> u32 {
    return select(1u, p.tile_x, p.lx_fast != 0u);
}

// Is candidate (v, i) preferred over the current best (bv, bi)? A real candidate beats an
// empty best; otherwise the larger value wins, and on equal values the smaller position.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
    return i != EMPTY && (bi == EMPTY || v > bv || (v == bv && i < bi));
}

// Tree over the r lanes of (s_val, s_idx), keeping the best pair in r lane 0.
fn tree_max(lid: u32, ly: u32) {
    workgroupBarrier();
    let st = r_stride();
    for (var s = p.split / 2u; s > 0u; s = s / 2u) {
        if (ly < s) {
            let q = lid + s * st;
            if (better(s_val[q], s_idx[q], s_val[lid], s_idx[lid])) {
                s_val[lid] = s_val[q];
                s_idx[lid] = s_idx[q];
            }
        }
        workgroupBarrier();
    }
}

// ---- forward ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> y_idx: array<u32>;

// y = scale · Σ x over r (or over this chunk of r).
@compute @workgroup_size(256)
fn reduce_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let t = slot(wid, nwg, lid);
    var acc = 0.0;
    if (t.j < p.len) {
        for (var k = t.k0; k < t.k_end; k += p.split) {
            acc += x[t.base + k * p.inner];
        }
    }
    s_val[lid] = acc;
    workgroupBarrier();
    let st = r_stride();
    for (var s = p.split / 2u; s > 0u; s = s / 2u) {
        if (t.ly < s) {
            s_val[lid] += s_val[lid + s * st];
        }
        workgroupBarrier();
    }
    if (t.ly == 0u && t.j < p.len) {
        y[t.out] = s_val[lid] * p.scale;
    }
}

// y = max x over r (or this chunk of r), y_idx = the position k of its first occurrence.
@compute @workgroup_size(256)
fn reduce_max(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let t = slot(wid, nwg, lid);
    var bv = 0.0;
    var bi = EMPTY;
    if (t.j < p.len) {
        for (var k = t.k0; k < t.k_end; k += p.split) {
            let v = x[t.base + k * p.inner];
            if (better(v, k, bv, bi)) {
                bv = v;
                bi = k;
            }
        }
    }
    s_val[lid] = bv;
    s_idx[lid] = bi;
    tree_max(lid, t.ly);
    if (t.ly == 0u && t.j < p.len) {
        y[t.out] = s_val[lid];
        y_idx[t.out] = s_idx[lid];
    }
}

// Second stage of a chunked max: x and x_idx are the (value, position) pairs of the first
// stage, viewed as [outer, chunks₁, inner]; ties go to the smaller stored position.
@group(0) @binding(2) var<storage, read> x_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> pairs_y: array<f32>;
@group(0) @binding(4) var<storage, read_write> pairs_y_idx: array<u32>;

@compute @workgroup_size(256)
fn reduce_max_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let t = slot(wid, nwg, lid);
    var bv = 0.0;
    var bi = EMPTY;
    if (t.j < p.len) {
        for (var k = t.k0; k < t.k_end; k += p.split) {
            let v = x[t.base + k * p.inner];
            let i = x_idx[t.base + k * p.inner];
            if (better(v, i, bv, bi)) {
                bv = v;
                bi = i;
            }
        }
    }
    s_val[lid] = bv;
    s_idx[lid] = bi;
    tree_max(lid, t.ly);
    if (t.ly == 0u && t.j < p.len) {
        pairs_y[t.out] = s_val[lid];
        pairs_y_idx[t.out] = s_idx[lid];
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
