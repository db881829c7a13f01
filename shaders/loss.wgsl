// Mean losses (MSE, L1) over all elements, forward and backward.
//
// Forward is a two-pass reduction. loss_partial: each of `groups` workgroups (256 threads)
// walks the tensor grid-stride, each thread summing its own elements, then the workgroup
// adds its 256 sums as a tree in workgroup memory and writes one partial. loss_final: one
// workgroup sums the partials the same way and scales by 1/M. Per-thread runs stay short
// (the host sizes `groups` so), which keeps the f32 sum accurate for M in the millions.
//
// Backward: dx = (x − t) · g (MSE) or sign(x − t) · g (L1) with g = dy[0] · scale, where
// scale = 2/M or 1/M comes from the host and dy is read here (no host round trip). Like the
// element-wise kernels: 64 threads × 4 elements per workgroup, a vec4 and a scalar variant.
//
// loss_record keeps a training run's losses on the device, so a step needs no readback:
// it appends y[0]'s bits to log[2..2+len) and counts it in log[1]; the first loss that is
// not finite (NaN or ±inf: all exponent bits set) puts its 1-based position into log[0],
// which Adam reads to stop updating. The host reads the whole log (one copy) now and then
// and clears its two counters.
//
// Bindings, in the order of the Rust `Kernel.bindings` lists:
//   loss_partial:    1 x (read)         2 t (read)    3 partials (read_write)
//   loss_final:      1 partials (read)  2 y (read_write)
//   loss_bwd(4):     1 x (read)         2 t (read)    3 dy (read)   4 dx (read_write)
//   loss_record:     1 y (read)         2 log (read_write, u32)

const RWG: u32 = 256u; // reduction workgroup size
const WG: u32 = 64u; // backward workgroup size
const PER_GROUP: u32 = 256u; // backward elements per workgroup (WG * 4)

struct Params {
    // Elements of x (scalar entry points), vec4s (loss_bwd4) or partials (loss_final).
    len: u32,
    // Workgroups of loss_partial.
    groups: u32,
    // 0 MSE, 1 L1.
    kind: u32,
    _p0: u32,
    // loss_final: 1/M. Backward: 2/M (MSE) or 1/M (L1).
    scale: f32,
    _p1: u32,
    _p2: u32,
    _p3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

@group(0) @binding(1) var<storage, read> partials_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@group(0) @binding(2) var<storage, read_write> log: array<u32>;

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> t4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx4: array<vec4<f32>>;

var<workgroup> sums: array<f32, RWG>;

// Adds the workgroup's 256 values in `sums` as a tree; the total ends in sums[0].
fn tree_sum(lid: u32) {
    for (var s = RWG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) {
            sums[lid] += sums[lid + s];
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn loss_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    var acc = 0.0;
    if (g < p.groups) {
        let step = p.groups * RWG;
        for (var i = g * RWG + lid; i < p.len; i += step) {
            let d = x[i] - t[i];
            acc += select(abs(d), d * d, p.kind == 0u);
        }
    }
    sums[lid] = acc;
    tree_sum(lid);
    if (lid == 0u && g < p.groups) {
        partials[g] = sums[0];
    }
}

@compute @workgroup_size(256)
fn loss_final(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.len; i += RWG) {
        acc += partials_in[i];
    }
    sums[lid] = acc;
    tree_sum(lid);
    if (lid == 0u) {
        y[0] = sums[0] * p.scale;
    }
}

fn grad(d: vec4<f32>, g: f32) -> vec4<f32> {
    return select(sign(d), d, p.kind == 0u) * g;
}

@compute @workgroup_size(64)
fn loss_bwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i < p.len) {
        dx4[i] = grad(x4[i] - t4[i], dy[0] * p.scale);
    }
}

@compute @workgroup_size(64)
fn loss_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let base = (wid.x + wid.y * nwg.x) * PER_GROUP + lid;
    let g = dy[0] * p.scale;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * WG;
        if (i < p.len) {
            dx[i] = grad(vec4<f32>(x[i] - t[i]), g).x;
        }
    }
}

@compute @workgroup_size(1)
fn loss_record() {
    let n = log[1];
    let l = x[0];
    if (n < p.len) {
        log[2u + n] = bitcast<u32>(l);
    }
    if ((bitcast<u32>(l) & 0x7f800000u) == 0x7f800000u && log[0] == 0u) {
        log[0] = n + 1u;
    }
    log[1] = n + 1u;
}
