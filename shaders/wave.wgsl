// One time step of the 2-D constant-density acoustic wave equation
//     p_tt = v² (∇²p + s δ_src)
// second order in time, order 2..8 in space, with convolutional PML (C-PML) on the sides
// of the padded grid, for every (model, shot) plane of a batch in one dispatch.
//
//     p^{n+1} = 2 p^n − p^{n−1} + (v dt)² (Lx + Lz + wavelet^n δ_src)
//     Lx = ∂²x p + ∂x ψx + ζx,  ψx^n = bx ψx^{n−1} + ax ∂x p^n,
//                               ζx^n = bx ζx^{n−1} + ax (∂²x p + ∂x ψx)^n      (same for z)
//
// A step is two dispatches: `wave_psi` updates ψ^n in place for the cells of the absorbing
// frame (it needs p^n only), then `wave_step` reads ψ^n at a cell's neighbours, updates
// ζ^n in place at the cell and writes p^{n+1}. Cells farther than a stencil half-width from
// the absorbing frame take a fast path: the plain Laplacian with unguarded loads.
//
// The receivers are recorded by the first `nrec` invocations of each plane: they copy p^n
// (read-only in this dispatch) at one receiver into sample `slot` of the traces.
//
// Params, the stencil weights and the frame's layout are in wave_grid.wgsl, compiled in front.
//
// Bindings, in the order of the Rust `Kernel.bindings` lists (layout: src/kernels/wave.rs):
//   wave_step: 1 vel (read)  2 cur (read)  3 nxt (read_write)  4 psi (read)  5 zeta (read_write)
//              6 prof (read)  7 pos (read)  8 traces (read_write)
//   wave_step_q: as wave_step, with 8 q_out (read_write) [bs][plane] in place of traces
//   wave_psi:  1 cur (read)  2 psi (read_write)  3 prof (read)
//   wave_record: 1 cur (read)  2 pos (read)  3 traces (read_write)

@group(0) @binding(1) var<storage, read> vel: array<f32>;
@group(0) @binding(2) var<storage, read> cur: array<f32>;
@group(0) @binding(3) var<storage, read_write> nxt: array<f32>;
@group(0) @binding(4) var<storage, read> psi: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> zeta: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> prof: array<f32>;
@group(0) @binding(7) var<storage, read> pos: array<u32>;
@group(0) @binding(8) var<storage, read_write> traces: array<f32>;

// wave_psi's own bindings (a separate bind group layout).
@group(0) @binding(1) var<storage, read> cur_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> psi_p: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> prof_p: array<f32>;

// p^n at (z, x) of the plane starting at `base`: zero outside the padded grid, and under a
// free surface the antisymmetric image of the rows below row 0.
fn pv(base: u32, z: i32, x: i32) -> f32 {
    if (x < 0 || x >= i32(p.nx) || z >= i32(p.nz)) {
        return 0.0;
    }
    if (z < 0) {
        if (p.free_surface != 0u && -z < i32(p.nz)) {
            return -cur[base + u32(-z) * p.nx + u32(x)];
        }
        return 0.0;
    }
    return cur[base + u32(z) * p.nx + u32(x)];
}

// ψx^n at (z, x): zero outside the x absorbing columns.
fn psi_x(abase: u32, z: i32, x: i32) -> f32 {
    if (x < 0 || x >= i32(p.nx) || !in_xpml(u32(x))) {
        return 0.0;
    }
    return psi[abase + frame_index(u32(z), u32(x))].x;
}

// ψz^n at (z, x): zero outside the z absorbing rows.
fn psi_z(abase: u32, z: i32, x: i32) -> f32 {
    if (z < 0 || z >= i32(p.nz) || !in_zpml(u32(z))) {
        return 0.0;
    }
    return psi[abase + frame_index(u32(z), u32(x))].y;
}

// Lx + Lz near and inside the absorbing frame; updates ζ of frame cells.
fn slow_laplacian(base: u32, bs: u32, b: u32, z: u32, x: u32, p0: f32) -> f32 {
    let zi = i32(z);
    let xi = i32(x);
    let h = p.half;
    var d2x = a2(0u) * p0;
    var d2z = a2(0u) * p0;
    for (var k = 1u; k <= h; k++) {
        let ki = i32(k);
        d2x += a2(k) * (pv(base, zi, xi + ki) + pv(base, zi, xi - ki));
        d2z += a2(k) * (pv(base, zi + ki, xi) + pv(base, zi - ki, xi));
    }
    let pb = b * p.prof_stride;
    let abase = bs * p.frame;
    let inx = in_xpml(x);
    let inz = in_zpml(z);
    var fi = 0u;
    var zt = vec2<f32>(0.0);
    if (inx || inz) {
        fi = abase + frame_index(z, x);
        zt = zeta[fi];
    }
    var tx = d2x;
    if (x < p.wl + h || x + p.wr + h >= p.nx) {
        var dpsi = 0.0;
        for (var k = 1u; k <= h; k++) {
            dpsi += a1(k) * (psi_x(abase, zi, xi + i32(k)) - psi_x(abase, zi, xi - i32(k)));
        }
        tx = d2x + dpsi;
        if (inx) {
            zt.x = prof[pb + p.nx + x] * zt.x + prof[pb + x] * tx;
            tx = tx + zt.x;
        }
    }
    var tz = d2z;
    if (z < p.wt + h || z + p.wb + h >= p.nz) {
        var dpsi = 0.0;
        for (var k = 1u; k <= h; k++) {
            dpsi += a1(k) * (psi_z(abase, zi + i32(k), xi) - psi_z(abase, zi - i32(k), xi));
        }
        tz = d2z + dpsi;
        if (inz) {
            zt.y = prof[pb + 2u * p.nx + p.nz + z] * zt.y + prof[pb + 2u * p.nx + z] * tz;
            tz = tz + zt.y;
        }
    }
    if (inx || inz) {
        zeta[fi] = zt;
    }
    return tx + tz;
}

// One cell's update: writes p^{n+1} (and ζ^n in the frame) and returns q^n, what (v dt)²
// multiplies: the Laplacian with its C-PML terms plus the wavelet at the source.
fn advance(x: u32, z: u32, bs: u32) -> f32 {
    let plane = p.nz * p.nx;
    let c = z * p.nx + x;
    let idx = bs * plane + c;
    let b = bs / p.shots;
    let s = bs - b * p.shots;
    let base = bs * plane;
    let h = p.half;
    let p0 = cur[idx];
    var lap: f32;
    if (x >= p.wl + h && x + p.wr + h < p.nx && z >= p.wt + h && z + p.wb + h < p.nz) {
        let nx = p.nx;
        if (h == 2u) {
            // Order 4, unrolled.
            lap = 2.0 * p.c2lo.x * p0
                + p.c2lo.y * ((cur[idx - 1u] + cur[idx + 1u]) + (cur[idx - nx] + cur[idx + nx]))
                + p.c2lo.z * ((cur[idx - 2u] + cur[idx + 2u]) + (cur[idx - 2u * nx] + cur[idx + 2u * nx]));
        } else {
            var acc = 2.0 * a2(0u) * p0;
            for (var k = 1u; k <= h; k++) {
                acc += a2(k) * ((cur[idx - k] + cur[idx + k]) + (cur[idx - k * nx] + cur[idx + k * nx]));
            }
            lap = acc;
        }
    } else {
        lap = slow_laplacian(base, bs, b, z, x, p0);
    }
    let v2 = vel[b * plane + c];
    var pn = 2.0 * p0 - nxt[idx] + v2 * lap;
    var q = lap;
    if (z == pos[2u * s] && x == pos[2u * s + 1u]) {
        pn += v2 * p.wavelet;
        q += p.wavelet;
    }
    if (p.free_surface != 0u && z == 0u) {
        pn = 0.0;
    }
    nxt[idx] = pn;
    return q;
}

// Workgroups of 64 columns × 4 rows of one plane; the grid is (columns, rows, planes).
@compute @workgroup_size(64, 4, 1)
fn wave_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let z = gid.y;
    let bs = gid.z;
    if (x >= p.nx || z >= p.nz || bs >= p.nbs) {
        return;
    }
    let c = z * p.nx + x;
    if (p.slot != NO_SLOT && c < p.nrec) {
        let r = 2u * (p.shots + c);
        traces[(bs * p.nt_out + p.slot) * p.nrec + c] = cur[bs * p.nz * p.nx + pos[r] * p.nx + pos[r + 1u]];
    }
    advance(x, z, bs);
}

// wave_step for the adjoint's recomputation: records nothing, keeps q^n of every cell
// (binding 8 is `q_out` here, in place of `traces`).
@group(0) @binding(8) var<storage, read_write> q_out: array<f32>;

@compute @workgroup_size(64, 4, 1)
fn wave_step_q(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let z = gid.y;
    let bs = gid.z;
    if (x >= p.nx || z >= p.nz || bs >= p.nbs) {
        return;
    }
    q_out[bs * p.nz * p.nx + z * p.nx + x] = advance(x, z, bs);
}

// wave_record's own bindings: p^n at the receivers into sample `slot`, for the adjoint's
// forward, which steps with wave_step_q (keeping q) and so records apart.
@group(0) @binding(1) var<storage, read> cur_r: array<f32>;
@group(0) @binding(2) var<storage, read> pos_r: array<u32>;
@group(0) @binding(3) var<storage, read_write> traces_r: array<f32>;

// Receivers: grid (receivers / 64, planes).
@compute @workgroup_size(64)
fn wave_record(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let bs = gid.y;
    if (c >= p.nrec || bs >= p.nbs || p.slot == NO_SLOT) {
        return;
    }
    let r = 2u * (p.shots + c);
    traces_r[(bs * p.nt_out + p.slot) * p.nrec + c] = cur_r[bs * p.nz * p.nx + pos_r[r] * p.nx + pos_r[r + 1u]];
}

// p^n for wave_psi (its own binding of `cur`), with the same boundary rules as `pv`.
fn pv_p(base: u32, z: i32, x: i32) -> f32 {
    if (x < 0 || x >= i32(p.nx) || z >= i32(p.nz)) {
        return 0.0;
    }
    if (z < 0) {
        if (p.free_surface != 0u && -z < i32(p.nz)) {
            return -cur_p[base + u32(-z) * p.nx + u32(x)];
        }
        return 0.0;
    }
    return cur_p[base + u32(z) * p.nx + u32(x)];
}

// ψ^n = b ψ^{n−1} + a ∂p^n for one frame cell of one plane: grid (frame cells / 64, planes).
@compute @workgroup_size(64)
fn wave_psi(@builtin(global_invocation_id) gid: vec3<u32>) {
    let f = gid.x;
    let bs = gid.y;
    if (f >= p.frame || bs >= p.nbs) {
        return;
    }
    let zx = frame_cell(f);
    let z = zx.x;
    let x = zx.y;
    let base = bs * p.nz * p.nx;
    let pb = (bs / p.shots) * p.prof_stride;
    let zi = i32(z);
    let xi = i32(x);
    let i = bs * p.frame + f;
    var v = psi_p[i];
    if (in_xpml(x)) {
        var d = 0.0;
        for (var k = 1u; k <= p.half; k++) {
            d += a1(k) * (pv_p(base, zi, xi + i32(k)) - pv_p(base, zi, xi - i32(k)));
        }
        v.x = prof_p[pb + p.nx + x] * v.x + prof_p[pb + x] * d;
    }
    if (in_zpml(z)) {
        var d = 0.0;
        for (var k = 1u; k <= p.half; k++) {
            d += a1(k) * (pv_p(base, zi + i32(k), xi) - pv_p(base, zi - i32(k), xi));
        }
        v.y = prof_p[pb + 2u * p.nx + p.nz + z] * v.y + prof_p[pb + 2u * p.nx + z] * d;
    }
    psi_p[i] = v;
}
