// Element-wise kernels: activations (forward and backward), add, and the two block copies
// that make the channel concat and its inverse, split.
//
// Every entry point covers 256 elements per workgroup: 64 threads, 4 elements each. The
// `*4` entry points see the buffers as vec4 (the host picks them when every length and
// offset is a multiple of 4); the others load 4 scalars per thread, strided by the workgroup
// size so that neighbouring threads touch neighbouring words. The math is written once, on
// vec4. Workgroups are counted as wid.x + wid.y * nwg.x (the host folds a long 1-D grid into
// y to stay under 65 535 per dimension).
//
// Bindings, in the order of the Rust `Kernel.bindings` lists:
//   act_fwd:     1 x (read)        2 y (read_write)
//   act_bwd:     1 x (read)        2 dy (read)       3 dx (read_write)
//   add:         1 a (read)        2 b (read)        3 y (read_write)
//   place, take: 1 src (read)      2 dst (read_write)

const WG: u32 = 64u;
const PER_GROUP: u32 = 256u; // WG * 4

struct Params {
    // Elements (scalar entry points) or vec4s (`*4` entry points) to process.
    len: u32,
    // Activation: 0 ReLU, 1 ReLU6, 2 h-swish, 3 sigmoid.
    act: u32,
    // place / take: the tensor is `len / chunk` rows of `chunk` contiguous elements; row r
    // sits at r * stride + offset in the concatenated tensor.
    chunk: u32,
    stride: u32,
    offset: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(2) var<storage, read_write> out2: array<f32>;
@group(0) @binding(3) var<storage, read_write> out3: array<f32>;

@group(0) @binding(1) var<storage, read> in1v: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> in2v: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out2v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out3v: array<vec4<f32>>;

// ---- the math, on vec4 ----

// max(x, 0) that keeps NaN, as torch.relu does. Decided on the bits: a float comparison
// with NaN may be folded into a max that drops it (Mesa's GL path does), an integer test not.
fn relu(x: vec4<f32>) -> vec4<f32> {
    let bits = bitcast<vec4<u32>>(x);
    let negative = (bits >> vec4<u32>(31u)) == vec4<u32>(1u) & (bits & vec4<u32>(0x7fffffffu)) <= vec4<u32>(0x7f800000u);
    return select(x, vec4<f32>(0.0), negative);
}

fn act(x: vec4<f32>) -> vec4<f32> {
    let zero = vec4<f32>(0.0);
    let six = vec4<f32>(6.0);
    switch p.act {
        case 0u: { return relu(x); }
        case 1u: { return clamp(x, zero, six); }
        case 2u: { return x * clamp(x + 3.0, zero, six) / 6.0; }
        default: { return 1.0 / (1.0 + exp(-x)); }
    }
}

// dy * act'(x) with PyTorch's derivatives at the kinks: ReLU'(0) = 0, ReLU6 passes only where
// 0 < x < 6, h-swish is the autograd of x * relu6(x + 3) / 6 (u = x + 3 rounded as PyTorch
// rounds it decides the piece).
fn act_grad(x: vec4<f32>, dy: vec4<f32>) -> vec4<f32> {
    let zero = vec4<f32>(0.0);
    let six = vec4<f32>(6.0);
    switch p.act {
        case 0u: { return select(zero, dy, x > zero); }
        case 1u: { return select(zero, dy, (x > zero) & (x < six)); }
        case 2u: {
            let u = x + 3.0;
            let inside = select(zero, x, (u > zero) & (u < six));
            return dy * (clamp(u, zero, six) + inside) / 6.0;
        }
        default: {
            let s = 1.0 / (1.0 + exp(-x));
            return dy * ((1.0 - s) * s);
        }
    }
}

fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// ---- vec4 entry points: one vec4 per thread ----

@compute @workgroup_size(64)
fn elementwise_act_fwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, nwg) * WG + lid;
    if (i < p.len) {
        out2v[i] = act(in1v[i]);
    }
}

@compute @workgroup_size(64)
fn elementwise_act_bwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, nwg) * WG + lid;
    if (i < p.len) {
        out3v[i] = act_grad(in1v[i], in2v[i]);
    }
}

@compute @workgroup_size(64)
fn elementwise_add4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, nwg) * WG + lid;
    if (i < p.len) {
        out3v[i] = in1v[i] + in2v[i];
    }
}

// dst[(i / chunk) * stride + offset + i % chunk] = src[i], in vec4 units.
@compute @workgroup_size(64)
fn elementwise_place4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, nwg) * WG + lid;
    if (i < p.len) {
        out2v[(i / p.chunk) * p.stride + p.offset + i % p.chunk] = in1v[i];
    }
}

// dst[i] = src[(i / chunk) * stride + offset + i % chunk], in vec4 units.
@compute @workgroup_size(64)
fn elementwise_take4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, nwg) * WG + lid;
    if (i < p.len) {
        out2v[i] = in1v[(i / p.chunk) * p.stride + p.offset + i % p.chunk];
    }
}

// ---- scalar entry points: 4 elements per thread, base + k * WG ----

// The 4 scalar indices of this thread, and which of them are in range.
fn lanes(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> vec4<u32> {
    let base = group_index(wid, nwg) * PER_GROUP + lid;
    return vec4<u32>(base, base + WG, base + 2u * WG, base + 3u * WG);
}

fn load1(i: vec4<u32>) -> vec4<f32> {
    let last = p.len - 1u; // len > 0: the host never dispatches an empty tensor
    return vec4<f32>(in1[min(i.x, last)], in1[min(i.y, last)], in1[min(i.z, last)], in1[min(i.w, last)]);
}

fn load2(i: vec4<u32>) -> vec4<f32> {
    let last = p.len - 1u;
    return vec4<f32>(in2[min(i.x, last)], in2[min(i.y, last)], in2[min(i.z, last)], in2[min(i.w, last)]);
}

fn store2(i: vec4<u32>, v: vec4<f32>) {
    for (var k = 0u; k < 4u; k++) {
        if (i[k] < p.len) { out2[i[k]] = v[k]; }
    }
}

fn store3(i: vec4<u32>, v: vec4<f32>) {
    for (var k = 0u; k < 4u; k++) {
        if (i[k] < p.len) { out3[i[k]] = v[k]; }
    }
}

@compute @workgroup_size(64)
fn elementwise_act_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let i = lanes(wid, nwg, lid);
    if (i.x >= p.len) { return; }
    store2(i, act(load1(i)));
}

@compute @workgroup_size(64)
fn elementwise_act_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let i = lanes(wid, nwg, lid);
    if (i.x >= p.len) { return; }
    store3(i, act_grad(load1(i), load2(i)));
}

@compute @workgroup_size(64)
fn elementwise_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = lanes(wid, nwg, lid);
    if (i.x >= p.len) { return; }
    store3(i, load1(i) + load2(i));
}

@compute @workgroup_size(64)
fn elementwise_place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let i = lanes(wid, nwg, lid);
    for (var k = 0u; k < 4u; k++) {
        let j = i[k];
        if (j < p.len) {
            out2[(j / p.chunk) * p.stride + p.offset + j % p.chunk] = in1[j];
        }
    }
}

@compute @workgroup_size(64)
fn elementwise_take(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = lanes(wid, nwg, lid);
    for (var k = 0u; k < 4u; k++) {
        let j = i[k];
        if (j < p.len) {
            out2[j] = in1[(j / p.chunk) * p.stride + p.offset + j % p.chunk];
        }
    }
}
