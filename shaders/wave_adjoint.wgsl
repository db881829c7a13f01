// One adjoint time step of `wave.wgsl`'s scheme, the exact transpose of its step (derivation
// and CPU twin: src/cpu/wave_adjoint.rs), for every (model, shot) plane in each dispatch.
// With λ = λ(p^{n+1}), g = mask·λ (mask: 0 on row 0 under a free surface), H = (v dt)² g:
//
//   wave_adjoint_psi   (frame cells)  T̄ = H + a (η + H) in the frame, H elsewhere;  μ̂ = μ + G1ᵀ T̄
//   wave_adjoint_step  (all cells)    out = −mask·out + 2g + D2ᵀ T̄ + D1ᵀ (a μ̂);  grad += g q^n
//   wave_adjoint_frame (frame cells)  η = b (η + H);  μ = b μ̂
//   wave_adjoint_inject (planes)      out += residual at the receivers (steps that recorded a sample)
//
// `out` holds λ(p^{n+2}) on entry and λ(p^n) on exit; the host swaps λ and out after a step.
// D1 and D2 read p through the free-surface mirror, so their transposes gather through it.
//
// Params, the stencil weights and the frame's layout are in wave_grid.wgsl, compiled in front.
//
// Bindings, in the order of the Rust `Kernel.bindings` lists (layout: src/kernels/wave_adjoint.rs):
//   wave_adjoint_psi, wave_adjoint_frame:
//       1 vel  2 lam  3 eta (read_write)  4 mu (read_write)  5 prof
//   wave_adjoint_step:
//       1 vel  2 lam  3 eta (read_write)  4 mu (read_write)  5 prof  6 out (read_write)  7 q  8 grad (read_write)
//   wave_adjoint_inject:
//       1 out (read_write)  2 pos  3 residual

@group(0) @binding(1) var<storage, read> vel: array<f32>;
@group(0) @binding(2) var<storage, read> lam: array<f32>;
@group(0) @binding(3) var<storage, read_write> eta: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> mu: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> prof: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> q: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad: array<f32>;

// wave_adjoint_inject's own bindings.
@group(0) @binding(1) var<storage, read_write> out_i: array<f32>;
@group(0) @binding(2) var<storage, read> pos_i: array<u32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;

fn mask(z: u32) -> f32 {
    return select(1.0, 0.0, p.free_surface != 0u && z == 0u);
}

// H = (v dt)² mask λ at (z, x) of plane bs.
fn hval(bs: u32, z: u32, x: u32) -> f32 {
    let c = z * p.nx + x;
    return vel[(bs / p.shots) * p.nz * p.nx + c] * mask(z) * lam[bs * p.nz * p.nx + c];
}

// T̄ (x and z parts) at (z, x), zero outside the grid.
fn tbar(bs: u32, z: i32, x: i32) -> vec2<f32> {
    if (z < 0 || x < 0 || z >= i32(p.nz) || x >= i32(p.nx)) {
        return vec2<f32>(0.0);
    }
    let zu = u32(z);
    let xu = u32(x);
    let hh = hval(bs, zu, xu);
    var t = vec2<f32>(hh);
    let inx = in_xpml(xu);
    let inz = in_zpml(zu);
    if (inx || inz) {
        let e = eta[bs * p.frame + frame_index(zu, xu)];
        let pb = (bs / p.shots) * p.prof_stride;
        if (inx) {
            t.x = hh + prof[pb + xu] * (e.x + hh);
        }
        if (inz) {
            t.y = hh + prof[pb + 2u * p.nx + zu] * (e.y + hh);
        }
    }
    return t;
}

// a μ̂ (x and z parts) at (z, x): zero outside the grid and outside each axis's layer.
fn amu(bs: u32, z: i32, x: i32) -> vec2<f32> {
    if (z < 0 || x < 0 || z >= i32(p.nz) || x >= i32(p.nx)) {
        return vec2<f32>(0.0);
    }
    let zu = u32(z);
    let xu = u32(x);
    let inx = in_xpml(xu);
    let inz = in_zpml(zu);
    var u = vec2<f32>(0.0);
    if (inx || inz) {
        let m = mu[bs * p.frame + frame_index(zu, xu)];
        let pb = (bs / p.shots) * p.prof_stride;
        if (inx) {
            u.x = prof[pb + xu] * m.x;
        }
        if (inz) {
            u.y = prof[pb + 2u * p.nx + zu] * m.y;
        }
    }
    return u;
}

// Frame cells: grid (frame cells / 64, planes).
@compute @workgroup_size(64)
fn wave_adjoint_psi(@builtin(global_invocation_id) gid: vec3<u32>) {
    let f = gid.x;
    let bs = gid.y;
    if (f >= p.frame || bs >= p.nbs) {
        return;
    }
    let zx = frame_cell(f);
    let zi = i32(zx.x);
    let xi = i32(zx.y);
    let i = bs * p.frame + f;
    var m = mu[i];
    for (var k = 1u; k <= p.half; k++) {
        let ki = i32(k);
        if (in_xpml(zx.y)) {
            m.x += a1(k) * (tbar(bs, zi, xi - ki).x - tbar(bs, zi, xi + ki).x);
        }
        if (in_zpml(zx.x)) {
            m.y += a1(k) * (tbar(bs, zi - ki, xi).y - tbar(bs, zi + ki, xi).y);
        }
    }
    mu[i] = m;
}

// Workgroups of 64 columns × 4 rows of one plane; the grid is (columns, rows, planes).
@compute @workgroup_size(64, 4, 1)
fn wave_adjoint_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let z = gid.y;
    let bs = gid.z;
    if (x >= p.nx || z >= p.nz || bs >= p.nbs) {
        return;
    }
    let plane = p.nz * p.nx;
    let c = z * p.nx + x;
    let idx = bs * plane + c;
    let g = mask(z) * lam[idx];
    grad[idx] += g * q[idx];
    var v = 2.0 * g - mask(z) * out[idx];
    let h = p.half;
    let fs = select(0u, 1u, p.free_surface != 0u);
    if (x >= p.wl + h && x + p.wr + h < p.nx && z >= p.wt + h + fs && z + p.wb + h < p.nz) {
        // No neighbour in the frame or the mirror: D2ᵀ of H, as the forward's fast path.
        let vb = (bs / p.shots) * plane;
        let nx = p.nx;
        var acc = 2.0 * a2(0u) * vel[vb + c] * lam[idx];
        for (var k = 1u; k <= h; k++) {
            let hl = vel[vb + c - k] * lam[idx - k] + vel[vb + c + k] * lam[idx + k];
            let hv = vel[vb + c - k * nx] * lam[idx - k * nx] + vel[vb + c + k * nx] * lam[idx + k * nx];
            acc += a2(k) * (hl + hv);
        }
        out[idx] = v + acc;
        return;
    }
    let zi = i32(z);
    let xi = i32(x);
    let t0 = tbar(bs, zi, xi);
    v += a2(0u) * t0.x + a2(0u) * t0.y;
    for (var k = 1u; k <= h; k++) {
        let ki = i32(k);
        // Along the row: zero-padded.
        v += a2(k) * (tbar(bs, zi, xi - ki).x + tbar(bs, zi, xi + ki).x);
        v += a1(k) * (amu(bs, zi, xi - ki).x - amu(bs, zi, xi + ki).x);
        // Down the column: D2ᵀ takes u(z−k) + u(z+k) − mirror, D1ᵀ u(z−k) − u(z+k) + mirror,
        // where the mirror term u(k−z) exists for 1 ≤ z ≤ k under a free surface.
        let lo = tbar(bs, zi - ki, xi).y;
        let hi = tbar(bs, zi + ki, xi).y;
        let ulo = amu(bs, zi - ki, xi).y;
        let uhi = amu(bs, zi + ki, xi).y;
        var t2 = lo + hi;
        var t1 = ulo - uhi;
        if (fs == 1u && z >= 1u && z <= k) {
            t2 -= tbar(bs, ki - zi, xi).y;
            t1 += amu(bs, ki - zi, xi).y;
        }
        v += a2(k) * t2 + a1(k) * t1;
    }
    out[idx] = v;
}

// Frame cells: η = b (η + H), μ = b μ̂.
@compute @workgroup_size(64)
fn wave_adjoint_frame(@builtin(global_invocation_id) gid: vec3<u32>) {
    let f = gid.x;
    let bs = gid.y;
    if (f >= p.frame || bs >= p.nbs) {
        return;
    }
    let zx = frame_cell(f);
    let hh = hval(bs, zx.x, zx.y);
    let pb = (bs / p.shots) * p.prof_stride;
    let i = bs * p.frame + f;
    var e = eta[i];
    var m = mu[i];
    if (in_xpml(zx.y)) {
        let b = prof[pb + p.nx + zx.y];
        e.x = b * (e.x + hh);
        m.x = b * m.x;
    }
    if (in_zpml(zx.x)) {
        let b = prof[pb + 2u * p.nx + p.nz + zx.x];
        e.y = b * (e.y + hh);
        m.y = b * m.y;
    }
    eta[i] = e;
    mu[i] = m;
}

// One invocation per plane adds that step's residual at every receiver, in order (two
// receivers may share a cell).
@compute @workgroup_size(64)
fn wave_adjoint_inject(@builtin(global_invocation_id) gid: vec3<u32>) {
    let bs = gid.x;
    if (bs >= p.nbs || p.slot == NO_SLOT) {
        return;
    }
    let base = bs * p.nz * p.nx;
    for (var r = 0u; r < p.nrec; r++) {
        let j = 2u * (p.shots + r);
        out_i[base + pos_i[j] * p.nx + pos_i[j + 1u]] += residual[(bs * p.nt_out + p.slot) * p.nrec + r];
    }
}
