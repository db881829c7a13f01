// One time step of the 2-D constant-density acoustic wave equation
//     p_tt = v² (∇²p + s δ_src)
// second order in time, order 2..8 in space, with convolutional PML (C-PML) on the sides
// of the padded grid, for every (model, shot) plane of a batch in one dispatch.
//
//     p^{n+1} = 2 p^n − p^{n−1} + (v dt)² (Lx + Lz + wavelet^n δ_src)
//     Lx = ∂²x p + ∂x ψx + ζx,  ψx^n = bx ψx^{n−1} + ax ∂x p^n,
//                               ζx^n = bx ζx^{n−1} + ax (∂²x p + ∂x ψx)^n      (same for z)
//
// ψ is needed at the neighbours of a cell at step n; each invocation recomputes it there
// from ψ^{n−1} (aux_old) and p^n, and stores its own ψ^n, ζ^n in aux_new, so one dispatch
// does the whole step. Cells farther than a stencil half-width from the absorbing frame
// take a fast path: the plain Laplacian with unguarded loads.
//
// The receivers are recorded by the first `nrec` invocations of each plane: they copy p^n
// (read-only in this dispatch) at one receiver into sample `slot` of the traces.
//
// Bindings, in the order of the Rust `Kernel.bindings` list (layout: src/kernels/wave.rs):
//   1 vel (read)  2 cur (read)  3 nxt (read_write)  4 aux_old (read)  5 aux_new (read_write)
//   6 prof (read)  7 pos (read)  8 traces (read_write)

const NO_SLOT: u32 = 0xffffffffu;

struct Params {
    nz: u32,
    nx: u32,
    nbs: u32,
    shots: u32,
    nrec: u32,
    wt: u32,
    wb: u32,
    wl: u32,
    wr: u32,
    frame: u32,
    half: u32,
    slot: u32,
    nt_out: u32,
    free_surface: u32,
    prof_stride: u32,
    wavelet: f32,
    // Second-derivative weights a0..a7 / dx² (a5.. are zero) and first-derivative c1..c4 / dx.
    c2lo: vec4<f32>,
    c2hi: vec4<f32>,
    c1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> vel: array<f32>;
@group(0) @binding(2) var<storage, read> cur: array<f32>;
@group(0) @binding(3) var<storage, read_write> nxt: array<f32>;
@group(0) @binding(4) var<storage, read> aux_old: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> aux_new: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> prof: array<f32>;
@group(0) @binding(7) var<storage, read> pos: array<u32>;
@group(0) @binding(8) var<storage, read_write> traces: array<f32>;

fn a2(k: u32) -> f32 {
    if (k < 4u) {
        return p.c2lo[k];
    }
    return p.c2hi[k - 4u];
}

fn a1(k: u32) -> f32 {
    return p.c1[k - 1u];
}

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

fn in_xpml(x: u32) -> bool {
    return x < p.wl || x >= p.nx - p.wr;
}

fn in_zpml(z: u32) -> bool {
    return z < p.wt || z >= p.nz - p.wb;
}

// Index of a cell of the absorbing frame within one plane's frame.
fn frame_index(z: u32, x: u32) -> u32 {
    if (z < p.wt) {
        return z * p.nx + x;
    }
    if (z >= p.nz - p.wb) {
        return (p.wt + z - (p.nz - p.wb)) * p.nx + x;
    }
    let col = select(p.wl + x - (p.nx - p.wr), x, x < p.wl);
    return (p.wt + p.wb) * p.nx + (z - p.wt) * (p.wl + p.wr) + col;
}

// ∂x p^n at (z, x), times dx already folded into the weights.
fn dpx(base: u32, z: i32, x: i32) -> f32 {
    var d = 0.0;
    for (var k = 1u; k <= p.half; k++) {
        d += a1(k) * (pv(base, z, x + i32(k)) - pv(base, z, x - i32(k)));
    }
    return d;
}

fn dpz(base: u32, z: i32, x: i32) -> f32 {
    var d = 0.0;
    for (var k = 1u; k <= p.half; k++) {
        d += a1(k) * (pv(base, z + i32(k), x) - pv(base, z - i32(k), x));
    }
    return d;
}

// ψx^n at (z, x): zero outside the x absorbing columns.
fn psi_x(base: u32, abase: u32, pb: u32, z: i32, x: i32) -> f32 {
    if (x < 0 || x >= i32(p.nx) || !in_xpml(u32(x))) {
        return 0.0;
    }
    let ax = prof[pb + u32(x)];
    let bx = prof[pb + p.nx + u32(x)];
    return bx * aux_old[abase + frame_index(u32(z), u32(x))].x + ax * dpx(base, z, x);
}

// ψz^n at (z, x): zero outside the z absorbing rows.
fn psi_z(base: u32, abase: u32, pb: u32, z: i32, x: i32) -> f32 {
    if (z < 0 || z >= i32(p.nz) || !in_zpml(u32(z))) {
        return 0.0;
    }
    let az = prof[pb + 2u * p.nx + u32(z)];
    let bz = prof[pb + 2u * p.nx + p.nz + u32(z)];
    return bz * aux_old[abase + frame_index(u32(z), u32(x))].y + az * dpz(base, z, x);
}

// Lx + Lz near and inside the absorbing frame; stores ψ^n, ζ^n of frame cells.
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
    var old = vec4<f32>(0.0);
    if (inx || inz) {
        old = aux_old[abase + frame_index(z, x)];
    }
    var out = vec4<f32>(0.0);
    var tx = d2x;
    if (x < p.wl + h || x + p.wr + h >= p.nx) {
        var dpsi = 0.0;
        for (var k = 1u; k <= h; k++) {
            dpsi += a1(k) * (psi_x(base, abase, pb, zi, xi + i32(k)) - psi_x(base, abase, pb, zi, xi - i32(k)));
        }
        tx = d2x + dpsi;
        if (inx) {
            let ax = prof[pb + x];
            let bx = prof[pb + p.nx + x];
            out.x = bx * old.x + ax * dpx(base, zi, xi);
            out.z = bx * old.z + ax * tx;
            tx = tx + out.z;
        }
    }
    var tz = d2z;
    if (z < p.wt + h || z + p.wb + h >= p.nz) {
        var dpsi = 0.0;
        for (var k = 1u; k <= h; k++) {
            dpsi += a1(k) * (psi_z(base, abase, pb, zi + i32(k), xi) - psi_z(base, abase, pb, zi - i32(k), xi));
        }
        tz = d2z + dpsi;
        if (inz) {
            let az = prof[pb + 2u * p.nx + z];
            let bz = prof[pb + 2u * p.nx + p.nz + z];
            out.y = bz * old.y + az * dpz(base, zi, xi);
            out.w = bz * old.w + az * tz;
            tz = tz + out.w;
        }
    }
    if (inx || inz) {
        aux_new[abase + frame_index(z, x)] = out;
    }
    return tx + tz;
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
    let plane = p.nz * p.nx;
    let c = z * p.nx + x;
    let idx = bs * plane + c;
    let b = bs / p.shots;
    let s = bs - b * p.shots;
    let base = bs * plane;
    if (p.slot != NO_SLOT && c < p.nrec) {
        let r = 2u * (p.shots + c);
        traces[(bs * p.nt_out + p.slot) * p.nrec + c] = cur[base + pos[r] * p.nx + pos[r + 1u]];
    }
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
    if (z == pos[2u * s] && x == pos[2u * s + 1u]) {
        pn += v2 * p.wavelet;
    }
    if (p.free_surface != 0u && z == 0u) {
        pn = 0.0;
    }
    nxt[idx] = pn;
}
