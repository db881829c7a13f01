// One Adam / AdamW step (torch.optim semantics, single-tensor path), in place on p, m, v:
//   g ← grad + l2·p                      (Adam's coupled weight decay; l2 = 0 for AdamW)
//   p ← decay·p                          (AdamW's decoupled decay, 1 − lr·wd; 1 for Adam)
//   m ← β1·m + (1−β1)·g
//   v ← β2·v + (1−β2)·g²
//   p ← p − step_size · m / (sqrt(v)/sqrt(bc2) + eps),  step_size = lr/(1−β1^t), bc2 = 1−β2^t
// Every scalar comes from the host (computed there in f64), so stepping never recompiles
// anything. The ones that change with the step and the learning rate live in one small
// uniform (`Step`) that every parameter's dispatch shares: a captured training program
// rewrites it between replays and keeps its bind groups. `health[0]` is the loss log's
// first-bad-step slot (see loss.wgsl, loss_record): once a step's loss was not finite,
// no update is applied. Like the element-wise kernels: 64 threads × 4 elements per
// workgroup, a vec4 variant (lengths that are multiples of 4) and a scalar one.
//
// Bindings: 1 p (read_write)  2 grad (read)  3 m (read_write)  4 v (read_write)
//           5 step (uniform)  6 health (read)

const WG: u32 = 64u;
const PER_GROUP: u32 = 256u; // WG * 4

struct Params {
    // Elements (adam_step) or vec4s (adam_step4).
    len: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    eps: f32,
    l2: f32,
    _p3: u32,
    _p4: u32,
}

struct Step {
    step_size: f32,
    bc2_sqrt: f32,
    decay: f32,
    _p0: u32,
}

@group(0) @binding(0) var<uniform> a: Params;
@group(0) @binding(5) var<uniform> st: Step;
@group(0) @binding(6) var<storage, read> health: array<u32>;

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

struct State {
    p: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
}

fn update(s: State, gr: vec4<f32>) -> State {
    let g = gr + a.l2 * s.p;
    let p = s.p * st.decay;
    let m = a.beta1 * s.m + a.one_minus_beta1 * g;
    let v = s.v * a.beta2 + a.one_minus_beta2 * (g * g);
    let denom = sqrt(v) / st.bc2_sqrt + a.eps;
    return State(p - st.step_size * (m / denom), m, v);
}

@compute @workgroup_size(64)
fn adam_step4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i < a.len && health[0] == 0u) {
        let s = update(State(p4[i], m4[i], v4[i]), grad4[i]);
        p4[i] = s.p;
        m4[i] = s.m;
        v4[i] = s.v;
    }
}

@compute @workgroup_size(64)
fn adam_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let base = (wid.x + wid.y * nwg.x) * PER_GROUP + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * WG;
        if (i < a.len && health[0] == 0u) {
            let s = update(State(vec4<f32>(p[i]), vec4<f32>(m[i]), vec4<f32>(v[i])), vec4<f32>(grad[i]));
            p[i] = s.p.x;
            m[i] = s.m.x;
            v[i] = s.v.x;
        }
    }
}
