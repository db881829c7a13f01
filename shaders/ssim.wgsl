// The SSIM dissimilarity map 1 − S of x against t, planes of h × w in [−1, 1], compared as
// a = (x + 1)/2 and b = (t + 1)/2 under an 11 × 11 Gaussian window (σ = 1.5, zero padding),
// and its gradient wrt x. One thread per pixel, the window summed directly. The window's
// variances are taken about its means (two passes over the taps), so f32 keeps them where
// E[a²] − μa² would lose them to cancellation next to C2 = 0.03².
//   ssim_fwd:   map = 1 − S.
//   ssim_coef:  per window q, from the upstream gradient dy_q, the terms of
//               ∂S_q/∂a_p = G(p − q)·(k0 + k1 (b_p − μb) + k2 (a_p − μa)) with
//               k0 = 2S (μb/A1 − μa/B1), k1 = 2A1/(B1 B2), k2 = −2S/B2, each times −dy_q/2,
//               written with the window means μx, μt in x's units (5 planes).
//   ssim_bwd:   dx_p = Σ_q G(p − q)·(k0 + k1 (b_p − μb) + k2 (a_p − μa)) over windows q ∋ p.

struct Params {
    len: u32,
    h: u32,
    w: u32,
    _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
const R: i32 = 5;
const C1: f32 = 0.0001;
const C2: f32 = 0.0009;
// The normalised 1-D Gaussian of σ = 1.5 over offsets −5..5 (the window is its outer product).
var<private> G: array<f32, 11> = array<f32, 11>(
    0.00102838008, 0.00759875814, 0.0360007721, 0.10936069, 0.213005538, 0.266011725, 0.213005538, 0.10936069, 0.0360007721, 0.00759875814, 0.00102838008);

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// Window statistics at pixel e: [μa, μb, var a, var b, cov, var (a − b), μx, μt], where
// μx and μt are the window means in x's units (padding counts as −1, that is a = 0). The
// deviations are taken in those units, x_i − μx, so that f32 does not round them through
// (x + 1)/2 first: next to C2 they are the whole signal.
fn stats(e: u32) -> array<f32, 8> {
    let hw = p.h * p.w;
    let base = (e / hw) * hw;
    let z = i32((e % hw) / p.w);
    let c = i32(e % p.w);
    let z0 = max(z - R, 0);
    let z1 = min(z + R, i32(p.h) - 1);
    let c0 = max(c - R, 0);
    let c1 = min(c + R, i32(p.w) - 1);
    var sx = 0.0;
    var st = 0.0;
    var inside = 0.0;
    for (var zz = z0; zz <= z1; zz++) {
        for (var cc = c0; cc <= c1; cc++) {
            let i = base + u32(zz) * p.w + u32(cc);
            let k = G[zz - z + R] * G[cc - c + R];
            sx += k * x[i];
            st += k * t[i];
            inside += k;
        }
    }
    // The window's share outside the plane: exactly 0 when all of it is inside.
    var outside = 0.0;
    if (z1 - z0 < 2 * R || c1 - c0 < 2 * R) {
        outside = max(1.0 - inside, 0.0);
    }
    let mx = sx - outside;
    let mt = st - outside;
    let ox = -1.0 - mx;
    let ot = -1.0 - mt;
    var vx = outside * ox * ox;
    var vt = outside * ot * ot;
    var cv = outside * ox * ot;
    var vd = outside * (ox - ot) * (ox - ot);
    for (var zz = z0; zz <= z1; zz++) {
        for (var cc = c0; cc <= c1; cc++) {
            let i = base + u32(zz) * p.w + u32(cc);
            let k = G[zz - z + R] * G[cc - c + R];
            let dx = x[i] - mx;
            let dt = t[i] - mt;
            vx += k * dx * dx;
            vt += k * dt * dt;
            cv += k * dx * dt;
            vd += k * (dx - dt) * (dx - dt);
        }
    }
    // a = (x + 1)/2: means shift and halve, second moments quarter.
    return array<f32, 8>((mx + 1.0) * 0.5, (mt + 1.0) * 0.5, vx * 0.25, vt * 0.25, cv * 0.25, vd * 0.25, mx, mt);
}

// S = A1 A2 / (B1 B2): (A1, A2, B1, B2) of a window's statistics.
fn factors(s: array<f32, 8>) -> vec4<f32> {
    return vec4<f32>(2.0 * s[0] * s[1] + C1, 2.0 * s[4] + C2, s[0] * s[0] + s[1] * s[1] + C1, s[2] + s[3] + C2);
}

@group(0) @binding(3) var<storage, read_write> map: array<f32>;

@compute @workgroup_size(256)
fn ssim_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.len) {
        return;
    }
    let s = stats(e);
    let f = factors(s);
    // 1 − A1 A2 / (B1 B2) without the cancellation where S is near 1: B1 − A1 = (μa − μb)²
    // and B2 − A2 = var (a − b).
    let d = s[0] - s[1];
    map[e] = (d * d * f.w + f.x * s[5]) / (f.z * f.w);
}

@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> coef: array<f32>;

@compute @workgroup_size(256)
fn ssim_coef(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.len) {
        return;
    }
    let s = stats(e);
    let f = factors(s);
    let a1 = f.x;
    let a2 = f.y;
    let b1 = f.z;
    let b2 = f.w;
    let ss = (a1 * a2) / (b1 * b2);
    let up = -0.5 * dy[e];
    // 2S (μb/A1 − μa/B1), its difference taken by hand: μb B1 − μa A1 = (μb − μa)(μb (μa + μb) + C1).
    coef[e] = up * 2.0 * ss * (s[1] - s[0]) * (s[1] * (s[0] + s[1]) + C1) / (a1 * b1);
    coef[p.len + e] = up * 2.0 * a1 / (b1 * b2);
    coef[2u * p.len + e] = up * -2.0 * ss / b2;
    coef[3u * p.len + e] = s[6];
    coef[4u * p.len + e] = s[7];
}

@group(0) @binding(3) var<storage, read> coef_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn ssim_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.len) {
        return;
    }
    let hw = p.h * p.w;
    let base = (e / hw) * hw;
    let z = i32((e % hw) / p.w);
    let c = i32(e % p.w);
    var acc = 0.0;
    for (var dz = -R; dz <= R; dz++) {
        let zz = z + dz;
        if (zz < 0 || zz >= i32(p.h)) {
            continue;
        }
        for (var dc = -R; dc <= R; dc++) {
            let cc = c + dc;
            if (cc < 0 || cc >= i32(p.w)) {
                continue;
            }
            let q = base + u32(zz) * p.w + u32(cc);
            let k = G[dz + R] * G[dc + R];
            // a_p − μa = (x_p − μx)/2, b_p − μb likewise.
            let da = (x[e] - coef_in[3u * p.len + q]) * 0.5;
            let db = (t[e] - coef_in[4u * p.len + q]) * 0.5;
            acc += k * (coef_in[q] + coef_in[p.len + q] * db + coef_in[2u * p.len + q] * da);
        }
    }
    dx[e] = acc;
}
