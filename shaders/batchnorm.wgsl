// BatchNorm2d over x [n,c,h,w]: statistics per channel over (n,h,w), m = n·h·w values.
//
// Training forward (three dispatches):
//  1. batchnorm_train_stats: one workgroup per (channel, chunk). A channel's m values (index
//     q = ni·hw + s) are cut into chunks of chunk_len; each thread runs Welford over its
//     strided share of one chunk, then the workgroup merges the 256 (count, mean, M2)
//     triples with Chan's formula in a tree. So a channel is spread over many workgroups
//     even when there are few channels.
//  2. batchnorm_train_finalize: one workgroup per channel merges its chunks' triples, writes
//     mean and invstd = 1/sqrt(M2/m + eps) and updates the running statistics (running_var
//     with the unbiased M2/(m−1)).
//  3. batchnorm_train_apply: y = (x − mean)·invstd·γ + β, one thread per element.
// Training backward, the same shape: per-(channel, chunk) sums of dy and dy·(x − mean), a
// per-channel finalize (dbeta, dgamma), then dx = γ·invstd/m·(m·dy − dbeta − x̂·dgamma).
// Eval forward/backward: one thread per element with the running statistics.

struct Params {
    c: u32,
    hw: u32,
    m: u32,
    // elements of x for the per-element entries
    len: u32,
    chunks: u32,
    chunk_len: u32,
    _p0: u32,
    _p1: u32,
    eps: f32,
    momentum: f32,
    _p2: f32,
    _p3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;

var<workgroup> s_a: array<f32, 256>;
var<workgroup> s_b: array<f32, 256>;
var<workgroup> s_c: array<f32, 256>;

// Index into x of value q (0 ≤ q < m) of channel c.
fn x_at(c: u32, q: u32) -> u32 {
    let ni = q / p.hw;
    return (ni * p.c + c) * p.hw + (q - ni * p.hw);
}

// Channel of element e of x.
fn channel(e: u32) -> u32 {
    return (e / p.hw) % p.c;
}

// Chan et al.: merges two (count, mean, M2) summaries.
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    if (b.x == 0.0) {
        return a;
    }
    if (a.x == 0.0) {
        return b;
    }
    let n = a.x + b.x;
    let d = b.y - a.y;
    let f = b.x / n;
    return vec3<f32>(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}

fn load3(i: u32) -> vec3<f32> {
    return vec3<f32>(s_a[i], s_b[i], s_c[i]);
}

fn store3(i: u32, v: vec3<f32>) {
    s_a[i] = v.x;
    s_b[i] = v.y;
    s_c[i] = v.z;
}

// Merges the 256 summaries in workgroup memory into s_*[0].
fn tree_merge(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            store3(lid, merge(load3(lid), load3(lid + s)));
        }
        workgroupBarrier();
    }
}

// Sums s_a and s_b over the workgroup into s_a[0], s_b[0].
fn tree_sum2(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            s_a[lid] += s_a[lid + s];
            s_b[lid] += s_b[lid + s];
        }
        workgroupBarrier();
    }
}

// ---- training forward ----
@group(0) @binding(1) var<storage, read> st_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_part: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_train_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= p.c * p.chunks) {
        return;
    }
    let c = g / p.chunks;
    let start = (g - c * p.chunks) * p.chunk_len;
    let end = min(start + p.chunk_len, p.m);
    var acc = vec3<f32>(0.0);
    for (var q = start + lid; q < end; q += WG) {
        let v = st_x[x_at(c, q)];
        acc.x += 1.0;
        let d = v - acc.y;
        acc.y += d / acc.x;
        acc.z += d * (v - acc.y);
    }
    store3(lid, acc);
    tree_merge(lid);
    if (lid == 0u) {
        st_part[3u * g] = s_a[0];
        st_part[3u * g + 1u] = s_b[0];
        st_part[3u * g + 2u] = s_c[0];
    }
}

@group(0) @binding(1) var<storage, read> fin_part: array<f32>;
@group(0) @binding(2) var<storage, read_write> fin_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> fin_run_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> fin_run_var: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_train_finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_index) lid: u32) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) {
        return;
    }
    var acc = vec3<f32>(0.0);
    for (var k = lid; k < p.chunks; k += WG) {
        let i = 3u * (c * p.chunks + k);
        acc = merge(acc, vec3<f32>(fin_part[i], fin_part[i + 1u], fin_part[i + 2u]));
    }
    store3(lid, acc);
    tree_merge(lid);
    if (lid == 0u) {
        let m = f32(p.m);
        let mean = s_b[0];
        let m2 = max(s_c[0], 0.0);
        fin_mean[c] = mean;
        fin_invstd[c] = 1.0 / sqrt(m2 / m + p.eps);
        let keep = 1.0 - p.momentum;
        fin_run_mean[c] = keep * fin_run_mean[c] + p.momentum * mean;
        fin_run_var[c] = keep * fin_run_var[c] + p.momentum * (m2 / (m - 1.0));
    }
}

@group(0) @binding(1) var<storage, read> ap_x: array<f32>;
@group(0) @binding(2) var<storage, read> ap_mean: array<f32>;
@group(0) @binding(3) var<storage, read> ap_invstd: array<f32>;
@group(0) @binding(4) var<storage, read> ap_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> ap_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> ap_y: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_train_apply(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let c = channel(e);
    ap_y[e] = (ap_x[e] - ap_mean[c]) * ap_invstd[c] * ap_gamma[c] + ap_beta[c];
}

// ---- training backward ----
@group(0) @binding(1) var<storage, read> bs_x: array<f32>;
@group(0) @binding(2) var<storage, read> bs_dy: array<f32>;
@group(0) @binding(3) var<storage, read> bs_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> bs_part: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_bwd_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= p.c * p.chunks) {
        return;
    }
    let c = g / p.chunks;
    let start = (g - c * p.chunks) * p.chunk_len;
    let end = min(start + p.chunk_len, p.m);
    let mean = bs_mean[c];
    var sdy = 0.0;
    var sdx = 0.0;
    for (var q = start + lid; q < end; q += WG) {
        let i = x_at(c, q);
        let d = bs_dy[i];
        sdy += d;
        sdx += d * (bs_x[i] - mean);
    }
    s_a[lid] = sdy;
    s_b[lid] = sdx;
    tree_sum2(lid);
    if (lid == 0u) {
        bs_part[2u * g] = s_a[0];
        bs_part[2u * g + 1u] = s_b[0];
    }
}

@group(0) @binding(1) var<storage, read> bf_part: array<f32>;
@group(0) @binding(2) var<storage, read> bf_invstd: array<f32>;
@group(0) @binding(3) var<storage, read_write> bf_dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> bf_dbeta: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_bwd_finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) {
        return;
    }
    var sdy = 0.0;
    var sdx = 0.0;
    for (var k = lid; k < p.chunks; k += WG) {
        let i = 2u * (c * p.chunks + k);
        sdy += bf_part[i];
        sdx += bf_part[i + 1u];
    }
    s_a[lid] = sdy;
    s_b[lid] = sdx;
    tree_sum2(lid);
    if (lid == 0u) {
        bf_dbeta[c] = s_a[0];
        bf_dgamma[c] = s_b[0] * bf_invstd[c];
    }
}

@group(0) @binding(1) var<storage, read> bd_x: array<f32>;
@group(0) @binding(2) var<storage, read> bd_dy: array<f32>;
@group(0) @binding(3) var<storage, read> bd_mean: array<f32>;
@group(0) @binding(4) var<storage, read> bd_invstd: array<f32>;
@group(0) @binding(5) var<storage, read> bd_gamma: array<f32>;
@group(0) @binding(6) var<storage, read> bd_dgamma: array<f32>;
@group(0) @binding(7) var<storage, read> bd_dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> bd_dx: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_bwd_data(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let c = channel(e);
    let m = f32(p.m);
    let invstd = bd_invstd[c];
    let xhat = (bd_x[e] - bd_mean[c]) * invstd;
    let k = bd_gamma[c] * invstd / m;
    bd_dx[e] = k * (m * bd_dy[e] - bd_dbeta[c] - xhat * bd_dgamma[c]);
}

// ---- eval ----
@group(0) @binding(1) var<storage, read> ev_x: array<f32>;
@group(0) @binding(2) var<storage, read> ev_run_mean: array<f32>;
@group(0) @binding(3) var<storage, read> ev_run_var: array<f32>;
@group(0) @binding(4) var<storage, read> ev_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> ev_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> ev_y: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_eval_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let c = channel(e);
    let inv = 1.0 / sqrt(ev_run_var[c] + p.eps);
    ev_y[e] = (ev_x[e] - ev_run_mean[c]) * inv * ev_gamma[c] + ev_beta[c];
}

@group(0) @binding(1) var<storage, read> eb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> eb_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> eb_run_var: array<f32>;
@group(0) @binding(4) var<storage, read_write> eb_dx: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_eval_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.len) {
        return;
    }
    let c = channel(e);
    eb_dx[e] = eb_dy[e] * (eb_gamma[c] / sqrt(eb_run_var[c] + p.eps));
}
