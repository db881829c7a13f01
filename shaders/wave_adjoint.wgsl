// One adjoint time step of `wave.wgsl`'s scheme, the exact transpose of its step (derivation
// and CPU twin: src/cpu/wave_adjoint.rs), for every (model, shot) plane in each dispatch.
// With λ = λ(p^{n+1}), g = mask·λ (mask: 0 on row 0 under a free surface), H = (v dt)² g:
//
//   wave_adjoint_tbar   (all cells)    T̄ = H + a (η + H) per axis in its layer, H elsewhere;  η ← b (η + H)
//   wave_adjoint_psi    (frame cells)  μ̂ = μ + G1ᵀ T̄;  u = a μ̂ per axis in its layer;  μ ← b μ̂
//   wave_adjoint_step   (all cells)    out = −mask·out + 2g + D2ᵀ T̄ + D1ᵀ u;  grad += g q^n
//   wave_adjoint_inject (planes)       out += residual at the receivers (steps that recorded a sample)
//
// T̄ and u are kept on the whole plane (u zero outside the layers), so the step reads its
// neighbours' values instead of rebuilding them. η is read by its own cell only, in the
// first pass, and μ in the second, so each pass updates them in place.
//
// `out` holds λ(p^{n+2}) on entry and λ(p^n) on exit; the host swaps λ and out after a step.
// D1 and D2 read p through the free-surface mirror, so their transposes gather through it.
//
// Params, the stencil weights and the frame's layout are in wave_grid.wgsl, compiled in front.
//
// Bindings, in the order of the Rust `Kernel.bindings` lists (layout: src/kernels/wave_adjoint.rs):
//   wave_adjoint_tbar:   1 vel  2 lam  3 eta (read_write)  4 prof  5 tb (read_write)
//   wave_adjoint_psi:    1 tb  2 mu (read_write)  3 prof  4 au (read_write)
//   wave_adjoint_step:   1 lam  2 tb  3 au  4 out (read_write)  5 q  6 grad (read_write)
//   wave_adjoint_inject: 1 out (read_write)  2 pos  3 residual

// wave_adjoint_tbar's bindings.
@group(0) @binding(1) var<storage, read> vel: array<f32>;
@group(0) @binding(2) var<storage, read> lam_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> eta: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> prof_t: array<f32>;
@group(0) @binding(5) var<storage, read_write> tb_t: array<vec2<f32>>;

// wave_adjoint_psi's bindings.
@group(0) @binding(1) var<storage, read> tb_p: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> mu: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> prof_p: array<f32>;
@group(0) @binding(4) var<storage, read_write> au_p: array<vec2<f32>>;

// wave_adjoint_step's bindings.
@group(0) @binding(1) var<storage, read> lam: array<f32>;
@group(0) @binding(2) var<storage, read> tb: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> au: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> q: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad: array<f32>;

// wave_adjoint_inject's bindings.
@group(0) @binding(1) var<storage, read_write> out_i: array<f32>;
@group(0) @binding(2) var<storage, read> pos_i: array<u32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;

fn mask(z: u32) -> f32 {
    return select(1.0, 0.0, p.free_surface != 0u && z == 0u);
}

// Every cell: T̄ into `tb_t`, and η ← b (η + H) on the frame.
@compute @workgroup_size(64, 4, 1)
fn wave_adjoint_tbar(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let z = gid.y;
    let bs = gid.z;
    if (x >= p.nx || z >= p.nz || bs >= p.nbs) {
        return;
    }
    let c = z * p.nx + x;
    let idx = bs * p.nz * p.nx + c;
    let hh = vel[(bs / p.shots) * p.nz * p.nx + c] * mask(z) * lam_t[idx];
    var t = vec2<f32>(hh);
    let inx = in_xpml(x);
    let inz = in_zpml(z);
    if (inx || inz) {
        let i = bs * p.frame + frame_index(z, x);
        let pb = (bs / p.shots) * p.prof_stride;
        var e = eta[i];
        if (inx) {
            let s = e.x + hh;
            t.x = hh + prof_t[pb + x] * s;
            e.x = prof_t[pb + p.nx + x] * s;
        }
        if (inz) {
            let s = e.y + hh;
            t.y = hh + prof_t[pb + 2u * p.nx + z] * s;
            e.y = prof_t[pb + 2u * p.nx + p.nz + z] * s;
        }
        eta[i] = e;
    }
    tb_t[idx] = t;
}

// T̄ at (z, x) of the plane at `base`, zero outside the grid (for wave_adjoint_psi).
fn tbar_p(base: u32, z: i32, x: i32) -> vec2<f32> {
    if (z < 0 || x < 0 || z >= i32(p.nz) || x >= i32(p.nx)) {
        return vec2<f32>(0.0);
    }
    return tb_p[base + u32(z) * p.nx + u32(x)];
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
    let base = bs * p.nz * p.nx;
    let i = bs * p.frame + f;
    let inx = in_xpml(zx.y);
    let inz = in_zpml(zx.x);
    var m = mu[i];
    for (var k = 1u; k <= p.half; k++) {
        let ki = i32(k);
        if (inx) {
            m.x += a1(k) * (tbar_p(base, zi, xi - ki).x - tbar_p(base, zi, xi + ki).x);
        }
        if (inz) {
            m.y += a1(k) * (tbar_p(base, zi - ki, xi).y - tbar_p(base, zi + ki, xi).y);
        }
    }
    let pb = (bs / p.shots) * p.prof_stride;
    var u = vec2<f32>(0.0);
    var mn = m;
    if (inx) {
        u.x = prof_p[pb + zx.y] * m.x;
        mn.x = prof_p[pb + p.nx + zx.y] * m.x;
    }
    if (inz) {
        u.y = prof_p[pb + 2u * p.nx + zx.x] * m.y;
        mn.y = prof_p[pb + 2u * p.nx + p.nz + zx.x] * m.y;
    }
    au_p[base + zx.x * p.nx + zx.y] = u;
    mu[i] = mn;
}

// T̄ and u at (z, x) of the plane at `base`, zero outside the grid (for wave_adjoint_step).
fn tbar(base: u32, z: i32, x: i32) -> vec2<f32> {
    if (z < 0 || x < 0 || z >= i32(p.nz) || x >= i32(p.nx)) {
        return vec2<f32>(0.0);
    }
    return tb[base + u32(z) * p.nx + u32(x)];
}
fn amu(base: u32, z: i32, x: i32) -> vec2<f32> {
    if (z < 0 || x < 0 || z >= i32(p.nz) || x >= i32(p.nx)) {
        return vec2<f32>(0.0);
    }
    return au[base + u32(z) * p.nx + u32(x)];
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
    let base = bs * plane;
    let idx = base + z * p.nx + x;
    let g = mask(z) * lam[idx];
    grad[idx] += g * q[idx];
    var v = 2.0 * g - mask(z) * out[idx];
    let h = p.half;
    let fs = select(0u, 1u, p.free_surface != 0u);
    if (x >= p.wl + h && x + p.wr + h < p.nx && z >= p.wt + h + fs && z + p.wb + h < p.nz) {
        // No neighbour in the frame or the mirror: D2ᵀ of H (T̄ is H here), as the
        // forward's fast path.
        let nx = p.nx;
        var acc = 2.0 * a2(0u) * tb[idx].x;
        for (var k = 1u; k <= h; k++) {
            acc += a2(k) * ((tb[idx - k].x + tb[idx + k].x) + (tb[idx - k * nx].x + tb[idx + k * nx].x));
        }
        out[idx] = v + acc;
        return;
    }
    let zi = i32(z);
    let xi = i32(x);
    let t0 = tb[idx];
    v += a2(0u) * t0.x + a2(0u) * t0.y;
    for (var k = 1u; k <= h; k++) {
        let ki = i32(k);
        // Along the row: zero-padded.
        v += a2(k) * (tbar(base, zi, xi - ki).x + tbar(base, zi, xi + ki).x);
        v += a1(k) * (amu(base, zi, xi - ki).x - amu(base, zi, xi + ki).x);
        // Down the column: D2ᵀ takes u(z−k) + u(z+k) − mirror, D1ᵀ u(z−k) − u(z+k) + mirror,
        // where the mirror term u(k−z) exists for 1 ≤ z ≤ k under a free surface.
        let lo = tbar(base, zi - ki, xi).y;
        let hi = tbar(base, zi + ki, xi).y;
        let ulo = amu(base, zi - ki, xi).y;
        let uhi = amu(base, zi + ki, xi).y;
        var t2 = lo + hi;
        var t1 = ulo - uhi;
        if (fs == 1u && z >= 1u && z <= k) {
            t2 -= tbar(base, ki - zi, xi).y;
            t1 += amu(base, ki - zi, xi).y;
        }
        v += a2(k) * t2 + a1(k) * t1;
    }
    out[idx] = v;
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
