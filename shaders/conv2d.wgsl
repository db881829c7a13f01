// conv2d: tiled implicit-GEMM kernels for the forward pass and both gradients, plus the
// bias gradient and the deterministic reduction of split-K partial sums.
//
// Every GEMM computes C[M, N] = A[M, K] · B[K, N] in tiles of BM × BN (BM·BN = 4096, so each
// of the 256 threads holds a 4 × 4 block of C in registers) and depth BK, staging A and B
// in workgroup memory. BM is 16, 32 or 64 (chosen by the host from M; BN = 4096 / BM) and BK
// is 16, or 8 for the 16 × 256 tile and where 16 would pad too much (see below).
//
//   conv2d_fwd*        M = co, N = n·ho·wo, K = ci·kh·kw      A = w, B = im2col(x), C → y (+ b)
//   conv2d_bwd_data*   one GEMM per stride phase (ry, rx) (wid.z = phase · m_tiles + m tile):
//                      M = ci, N = n·⌈h/s⌉·⌈w/s⌉, K = co·⌈kh/s⌉·⌈kw/s⌉   A = the phase's taps
//                      of w, B = dy gathered at oy = (iy + pad − ky)/s, C → dx (+ b)
//   conv2d_bwd_weight* M = co, N = ci·kh·kw, K = n·ho·wo split over wid.z into chunks,
//                      A = dy, B = im2col(x)ᵀ, C → partial sums [split, co, ci·kh·kw]
//
// K is walked in one of two orders. "Flat" entries decode every k of the flattened index
// with divisions: they handle any size. The main entries walk K as nested loops instead —
// forward and backward-data tap-major (filter tap outer, channels in slabs of BK inner),
// backward-weight row-major (output row outer, BK pixels of the row inner) — so the gather
// addresses are strides and bounds are checked once per tap or row. They pad each tap's
// channels (or each row's pixels) to a multiple of BK, so the host picks them only when
// that wastes at most a quarter of the work.
//
// The N tiles are folded into (wid.x, wid.y) as tile = wid.x + wid.y · nwg.x.
// `_v4` entries read or write through vec4 views of the same buffers where the host has
// checked alignment.

struct Params {
    n: u32, ci: u32, h: u32, w: u32,
    co: u32, kh: u32, kw: u32, stride: u32,
    pad: u32, ho: u32, wo: u32, has_bias: u32,
    gm: u32, gn: u32, gk: u32, bm: u32,
    bn: u32, n_tiles: u32, m_tiles: u32, k_chunk: u32,
    splits: u32, len: u32, bk: u32, bk_shift: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// conv2d_fwd*: x, w, b, y
@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(1) var<storage, read> fx4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> fw: array<f32>;
@group(0) @binding(2) var<storage, read> fw4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> fb: array<f32>;
@group(0) @binding(4) var<storage, read_write> fy: array<f32>;
@group(0) @binding(4) var<storage, read_write> fy4: array<vec4<f32>>;

// conv2d_bwd_data: dy, w, b, dx
@group(0) @binding(1) var<storage, read> ddy: array<f32>;
@group(0) @binding(2) var<storage, read> dw: array<f32>;
@group(0) @binding(3) var<storage, read> db: array<f32>;
@group(0) @binding(4) var<storage, read_write> ddx: array<f32>;

// conv2d_bwd_weight*: x, dy, partial sums
@group(0) @binding(1) var<storage, read> wx: array<f32>;
@group(0) @binding(2) var<storage, read> wdy: array<f32>;
@group(0) @binding(2) var<storage, read> wdy4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> wpart: array<f32>;

// conv2d_bwd_bias: dy, partial sums;  conv2d_bwd_weight_reduce: partial sums, sum
@group(0) @binding(1) var<storage, read> rin: array<f32>;
@group(0) @binding(2) var<storage, read_write> rout: array<f32>;

const WG: u32 = 256u;

// As[k · BM/4 + m/4][m % 4] = A[m0 + m][k0 + k];  Bs[k · BN/4 + n/4][n % 4] = B[k0 + k][n0 + n]
// Sized for BK·BM ≤ 16·64 and BK·BN ≤ 2048 (12 KiB in all, under WebGPU's 16 KiB default).
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 512>;
var<workgroup> red: array<f32, 256>;

// This thread's block of C: rows m0 + 4·tm + i (acc[i]), columns n0 + 4·tn + 0..3.
var<private> acc: array<vec4<f32>, 4>;
var<private> tm: u32;
var<private> tn: u32;
// This thread's B column for loads (it loads rows brow, brow + WG/BN, … of the tile).
var<private> bcol: u32;
var<private> brow: u32;
var<private> bstep: u32;
var<private> bvalid: bool;
var<private> bbase: u32;
var<private> by: i32;
var<private> bx: i32;

fn setup(lid: u32) {
    let bn4 = p.bn / 4u;
    tm = lid / bn4;
    tn = lid % bn4;
    acc = array<vec4<f32>, 4>();
    bcol = lid % p.bn;
    brow = lid / p.bn;
    bstep = WG / p.bn;
}

// C += As · Bs over one staged slab of depth BK = p.bk (8 or 16).
fn mm_tile() {
    let bm4 = p.bm / 4u;
    let bn4 = p.bn / 4u;
    for (var k0 = 0u; k0 < p.bk; k0 += 8u) {
        for (var k = k0; k < k0 + 8u; k++) {
            let a = As[k * bm4 + tm];
            let b = Bs[k * bn4 + tn];
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
    }
}

fn put_a(k: u32, m: u32, v: f32) {
    As[k * (p.bm / 4u) + m / 4u][m % 4u] = v;
}

fn put_b(k: u32, n: u32, v: f32) {
    Bs[k * (p.bn / 4u) + n / 4u][n % 4u] = v;
}

// ---------------------------------------------------------------- forward

// A[m][k] = w[m·K + k]
fn fwd_load_a(m0: u32, k0: u32, lid: u32) {
    for (var e = lid; e < p.bm * p.bk; e += WG) {
        let kl = e & (p.bk - 1u);
        let ml = e >> p.bk_shift;
        let m = m0 + ml;
        let k = k0 + kl;
        var v = 0.0;
        if (m < p.gm && k < p.gk) {
            v = fw[m * p.gk + k];
        }
        put_a(kl, ml, v);
    }
}

// The same through vec4 (K % 4 == 0): BK/4 vec4 per tile row.
fn fwd_load_a4(m0: u32, k0: u32, lid: u32) {
    if (lid < p.bm * (p.bk / 4u)) {
        let ml = lid >> (p.bk_shift - 2u);
        let kl = (lid & (p.bk / 4u - 1u)) * 4u;
        let m = m0 + ml;
        let k = k0 + kl;
        var v = vec4<f32>(0.0);
        if (m < p.gm && k < p.gk) {
            v = fw4[(m * p.gk + k) / 4u];
        }
        put_a(kl, ml, v.x);
        put_a(kl + 1u, ml, v.y);
        put_a(kl + 2u, ml, v.z);
        put_a(kl + 3u, ml, v.w);
    }
}

// Decodes this thread's B column (img, oy, ox) once.
fn fwd_b_setup(n0: u32) {
    let col = n0 + bcol;
    bvalid = col < p.gn;
    let howo = p.ho * p.wo;
    let img = col / howo;
    let pix = col % howo;
    bbase = img * p.ci * p.h * p.w;
    by = i32((pix / p.wo) * p.stride) - i32(p.pad);
    bx = i32((pix % p.wo) * p.stride) - i32(p.pad);
}

// B[k][col] = x[img, c, oy·s − pad + ky, ox·s − pad + kx] with k = (c, ky, kx), 0 in the padding.
fn fwd_load_b(k0: u32) {
    let khw = p.kh * p.kw;
    for (var r = brow; r < p.bk; r += bstep) {
        let k = k0 + r;
        var v = 0.0;
        if (bvalid && k < p.gk) {
            let c = k / khw;
            let t = k % khw;
            let iy = by + i32(t / p.kw);
            let ix = bx + i32(t % p.kw);
            if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                v = fx[bbase + (c * p.h + u32(iy)) * p.w + u32(ix)];
            }
        }
        put_b(r, bcol, v);
    }
}

// 1×1, stride 1, no padding, h·w % 4 == 0: B[c][col] = x[img, c, pix], four columns per vec4.
fn fwd_load_b4_1x1(n0: u32, k0: u32, lid: u32) {
    let bn4 = p.bn / 4u;
    let hw = p.h * p.w;
    for (var e = lid; e < bn4 * p.bk; e += WG) {
        let c4 = e & (bn4 - 1u);
        let r = e / bn4;
        let col = n0 + c4 * 4u;
        let k = k0 + r;
        var v = vec4<f32>(0.0);
        if (col < p.gn && k < p.gk) {
            v = fx4[((col / hw * p.ci + k) * hw + col % hw) / 4u];
        }
        Bs[r * bn4 + c4] = v;
    }
}

fn fwd_bias(m: u32) -> f32 {
    if (p.has_bias != 0u) {
        return fb[m];
    }
    return 0.0;
}

fn fwd_store(m0: u32, n0: u32) {
    let howo = p.ho * p.wo;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + tm * 4u + i;
        if (m >= p.gm) {
            break;
        }
        let b = fwd_bias(m);
        let row = acc[i];
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + tn * 4u + j;
            if (col < p.gn) {
                fy[((col / howo) * p.co + m) * howo + col % howo] = row[j] + b;
            }
        }
    }
}

// ho·wo % 4 == 0: a thread's four columns lie in one image, contiguous and aligned.
fn fwd_store4(m0: u32, n0: u32) {
    let howo = p.ho * p.wo;
    let col = n0 + tn * 4u;
    if (col >= p.gn) {
        return;
    }
    let img = col / howo;
    let pix = col % howo;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + tm * 4u + i;
        if (m >= p.gm) {
            break;
        }
        fy4[((img * p.co + m) * howo + pix) / 4u] = acc[i] + vec4<f32>(fwd_bias(m));
    }
}

@compute @workgroup_size(256)
fn conv2d_fwd(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let m0 = wid.z * p.bm;
    let n0 = tile * p.bn;
    setup(lid);
    fwd_b_setup(n0);
    for (var k0 = 0u; k0 < p.gk; k0 += p.bk) {
        fwd_load_a(m0, k0, lid);
        fwd_load_b(k0);
        workgroupBarrier();
        mm_tile();
        workgroupBarrier();
    }
    fwd_store(m0, n0);
}

// 1×1, stride 1, pad 0, ci % 4 == 0, h·w % 4 == 0: a plain GEMM, vec4 everywhere.
@compute @workgroup_size(256)
fn conv2d_fwd_1x1_v4(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let m0 = wid.z * p.bm;
    let n0 = tile * p.bn;
    setup(lid);
    for (var k0 = 0u; k0 < p.gk; k0 += p.bk) {
        fwd_load_a4(m0, k0, lid);
        fwd_load_b4_1x1(n0, k0, lid);
        workgroupBarrier();
        mm_tile();
        workgroupBarrier();
    }
    fwd_store4(m0, n0);
}

// Tap-major K = (ky, kx, c): for each filter tap the thread's input pixel is checked once
// and the channels of a slab are plain strides; no index division in the main loop. Used
// when ci is large enough that padding each tap's channels to BK wastes little.
@compute @workgroup_size(256)
fn conv2d_fwd_taps(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let m0 = wid.z * p.bm;
    let n0 = tile * p.bn;
    setup(lid);
    fwd_b_setup(n0);
    fwd_taps_loop(m0, lid);
    fwd_store(m0, n0);
}

fn fwd_taps_loop(m0: u32, lid: u32) {
    let hw = p.h * p.w;
    let khw = p.kh * p.kw;
    var ky = 0u;
    var kx = 0u;
    for (var t = 0u; t < khw; t++) {
        let iy = by + i32(ky);
        let ix = bx + i32(kx);
        let ok = bvalid && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
        let off = bbase + u32(iy) * p.w + u32(ix);
        for (var c0 = 0u; c0 < p.ci; c0 += p.bk) {
            for (var e = lid; e < p.bm * p.bk; e += WG) {
                let kl = e & (p.bk - 1u);
                let ml = e >> p.bk_shift;
                let m = m0 + ml;
                let c = c0 + kl;
                var v = 0.0;
                if (m < p.gm && c < p.ci) {
                    v = fw[(m * p.ci + c) * khw + t];
                }
                put_a(kl, ml, v);
            }
            for (var r = brow; r < p.bk; r += bstep) {
                let c = c0 + r;
                var v = 0.0;
                if (ok && c < p.ci) {
                    v = fx[off + c * hw];
                }
                put_b(r, bcol, v);
            }
            workgroupBarrier();
            mm_tile();
            workgroupBarrier();
        }
        kx += 1u;
        if (kx == p.kw) {
            kx = 0u;
            ky += 1u;
        }
    }
}

@compute @workgroup_size(256)
fn conv2d_fwd_taps_v4(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let m0 = wid.z * p.bm;
    let n0 = tile * p.bn;
    setup(lid);
    fwd_b_setup(n0);
    fwd_taps_loop(m0, lid);
    fwd_store4(m0, n0);
}

// ---------------------------------------------------------------- backward data

// dx[img, c, iy, ix] = Σ_{o,ky,kx} w[o,c,ky,kx] · dy[img, o, (iy + pad − ky)/s, (ix + pad − kx)/s]
// over the taps where the division is exact and in range. Pixels with (iy + pad) % s == ry
// take exactly the taps ky ≡ ry (mod s): one dense GEMM per phase (ry, rx), no wasted zeros.
// The phase geometry lives in function-local values (derived from uniforms only), so the
// loops around barriers stay provably uniform under WGSL's uniformity analysis.
struct Phase {
    ry: u32,
    rx: u32,
    iy0: u32,   // first pixel row / column of the phase
    ix0: u32,
    hwp: u32,   // pixels per image in the phase, and per row
    wp: u32,
    nkx: u32,   // taps of the phase per row, and in all
    ntap: u32,
    gn: u32,    // GEMM columns and depth of the phase
    gk: u32,
}

fn phase_of(z: u32) -> Phase {
    let s = p.stride;
    let phase = z / p.m_tiles;
    var f: Phase;
    f.ry = phase / s;
    f.rx = phase % s;
    f.iy0 = (f.ry + s - p.pad % s) % s;
    f.ix0 = (f.rx + s - p.pad % s) % s;
    var hp = 0u;
    if (f.iy0 < p.h) {
        hp = (p.h - f.iy0 + s - 1u) / s;
    }
    f.wp = 0u;
    if (f.ix0 < p.w) {
        f.wp = (p.w - f.ix0 + s - 1u) / s;
    }
    var nky = 0u;
    if (f.ry < p.kh) {
        nky = (p.kh - f.ry + s - 1u) / s;
    }
    f.nkx = 0u;
    if (f.rx < p.kw) {
        f.nkx = (p.kw - f.rx + s - 1u) / s;
    }
    f.hwp = hp * f.wp;
    f.ntap = nky * f.nkx;
    f.gn = p.n * f.hwp;
    f.gk = p.co * f.ntap;
    return f;
}

// This thread's B column: pixel (img, iy0 + s·t, ix0 + s·u) reads dy at (oy0 − jy, ox0 − jx).
fn bd_setup(f: Phase, n0: u32, lid: u32) {
    let s = p.stride;
    setup(lid);
    let col = n0 + bcol;
    bvalid = col < f.gn;
    let img = col / f.hwp;
    let q = col % f.hwp;
    bbase = img * p.co * p.ho * p.wo;
    by = i32((f.iy0 + p.pad - f.ry) / s + q / f.wp);
    bx = i32((f.ix0 + p.pad - f.rx) / s + q % f.wp);
}

fn bd_store(f: Phase, m0: u32, n0: u32) {
    let s = p.stride;
    for (var i = 0u; i < 4u; i++) {
        let c = m0 + tm * 4u + i;
        if (c >= p.ci) {
            break;
        }
        var b = 0.0;
        if (p.has_bias != 0u) {
            b = db[c];
        }
        let row = acc[i];
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + tn * 4u + j;
            if (col < f.gn) {
                let q = col % f.hwp;
                let iy = f.iy0 + s * (q / f.wp);
                let ix = f.ix0 + s * (q % f.wp);
                ddx[(((col / f.hwp) * p.ci + c) * p.h + iy) * p.w + ix] = row[j] + b;
            }
        }
    }
}

// Flat K = (o, jy, jx).
@compute @workgroup_size(256)
fn conv2d_bwd_data(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let f = phase_of(wid.z);
    let m0 = (wid.z % p.m_tiles) * p.bm;
    let n0 = (wid.x + wid.y * nwg.x) * p.bn;
    if (n0 >= f.gn) {
        return;
    }
    bd_setup(f, n0, lid);
    let s = p.stride;
    for (var k0 = 0u; k0 < f.gk; k0 += p.bk) {
        // A[c][k] = w[o, c, ry + s·jy, rx + s·jx]
        for (var e = lid; e < p.bm * p.bk; e += WG) {
            let kl = e & (p.bk - 1u);
            let ml = e >> p.bk_shift;
            let c = m0 + ml;
            let k = k0 + kl;
            var v = 0.0;
            if (c < p.ci && k < f.gk) {
                let o = k / f.ntap;
                let t = k % f.ntap;
                let ky = f.ry + s * (t / f.nkx);
                let kx = f.rx + s * (t % f.nkx);
                v = dw[((o * p.ci + c) * p.kh + ky) * p.kw + kx];
            }
            put_a(kl, ml, v);
        }
        // B[k][col] = dy[img, o, oy0 − jy, ox0 − jx]
        for (var r = brow; r < p.bk; r += bstep) {
            let k = k0 + r;
            var v = 0.0;
            if (bvalid && k < f.gk) {
                let o = k / f.ntap;
                let t = k % f.ntap;
                let oy = by - i32(t / f.nkx);
                let ox = bx - i32(t % f.nkx);
                if (oy >= 0 && oy < i32(p.ho) && ox >= 0 && ox < i32(p.wo)) {
                    v = ddy[bbase + (o * p.ho + u32(oy)) * p.wo + u32(ox)];
                }
            }
            put_b(r, bcol, v);
        }
        workgroupBarrier();
        mm_tile();
        workgroupBarrier();
    }
    bd_store(f, m0, n0);
}

// Tap-major K = (jy, jx, o).
@compute @workgroup_size(256)
fn conv2d_bwd_data_taps(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let f = phase_of(wid.z);
    let m0 = (wid.z % p.m_tiles) * p.bm;
    let n0 = (wid.x + wid.y * nwg.x) * p.bn;
    if (n0 >= f.gn) {
        return;
    }
    bd_setup(f, n0, lid);
    let s = p.stride;
    let howo = p.ho * p.wo;
    let khw = p.kh * p.kw;
    var jy = 0u;
    var jx = 0u;
    for (var t = 0u; t < f.ntap; t++) {
        let oy = by - i32(jy);
        let ox = bx - i32(jx);
        let ok = bvalid && oy >= 0 && oy < i32(p.ho) && ox >= 0 && ox < i32(p.wo);
        let off = bbase + u32(oy) * p.wo + u32(ox);
        let tap = (f.ry + s * jy) * p.kw + f.rx + s * jx;
        for (var o0 = 0u; o0 < p.co; o0 += p.bk) {
            // A[c][o] = w[o, c, ky, kx]
            for (var e = lid; e < p.bm * p.bk; e += WG) {
                let kl = e & (p.bk - 1u);
                let ml = e >> p.bk_shift;
                let c = m0 + ml;
                let o = o0 + kl;
                var v = 0.0;
                if (c < p.ci && o < p.co) {
                    v = dw[(o * p.ci + c) * khw + tap];
                }
                put_a(kl, ml, v);
            }
            // B[o][col] = dy[img, o, oy, ox]
            for (var r = brow; r < p.bk; r += bstep) {
                let o = o0 + r;
                var v = 0.0;
                if (ok && o < p.co) {
                    v = ddy[off + o * howo];
                }
                put_b(r, bcol, v);
            }
            workgroupBarrier();
            mm_tile();
            workgroupBarrier();
        }
        jx += 1u;
        if (jx == f.nkx) {
            jx = 0u;
            jy += 1u;
        }
    }
    bd_store(f, m0, n0);
}

// ---------------------------------------------------------------- backward weight

// Decodes this thread's B column (c, ky, kx) once.
fn bw_b_setup(n0: u32) {
    let col = n0 + bcol;
    bvalid = col < p.gn;
    let khw = p.kh * p.kw;
    let t = col % khw;
    bbase = (col / khw) * p.h * p.w;
    by = i32(t / p.kw) - i32(p.pad);
    bx = i32(t % p.kw) - i32(p.pad);
}

fn bw_store(split: u32, m0: u32, n0: u32) {
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + tm * 4u + i;
        if (m >= p.gm) {
            break;
        }
        let row = acc[i];
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + tn * 4u + j;
            if (col < p.gn) {
                wpart[(split * p.gm + m) * p.gn + col] = row[j];
            }
        }
    }
}

// Flat K = (img, oy, ox); split s sums k in [s·k_chunk, (s + 1)·k_chunk).
// wid.z = split · m_tiles + m tile.
@compute @workgroup_size(256)
fn conv2d_bwd_weight(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let split = wid.z / p.m_tiles;
    let m0 = (wid.z % p.m_tiles) * p.bm;
    let n0 = tile * p.bn;
    let kbeg = split * p.k_chunk;
    let kend = min(kbeg + p.k_chunk, p.gk);
    let howo = p.ho * p.wo;
    setup(lid);
    bw_b_setup(n0);
    for (var k0 = kbeg; k0 < kend; k0 += p.bk) {
        // A[o][k] = dy[img, o, pix], k = (img, pix)
        for (var e = lid; e < p.bm * p.bk; e += WG) {
            let kl = e & (p.bk - 1u);
            let ml = e >> p.bk_shift;
            let o = m0 + ml;
            let k = k0 + kl;
            var v = 0.0;
            if (o < p.gm && k < kend) {
                v = wdy[((k / howo) * p.co + o) * howo + k % howo];
            }
            put_a(kl, ml, v);
        }
        // B[k][col] = x[img, c, oy·s − pad + ky, ox·s − pad + kx], col = (c, ky, kx)
        for (var r = brow; r < p.bk; r += bstep) {
            let k = k0 + r;
            var v = 0.0;
            if (bvalid && k < kend) {
                let img = k / howo;
                let pix = k % howo;
                let iy = by + i32((pix / p.wo) * p.stride);
                let ix = bx + i32((pix % p.wo) * p.stride);
                if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                    v = wx[img * p.ci * p.h * p.w + bbase + u32(iy) * p.w + u32(ix)];
                }
            }
            put_b(r, bcol, v);
        }
        workgroupBarrier();
        mm_tile();
        workgroupBarrier();
    }
    bw_store(split, m0, n0);
}

// Row-major K = (img, oy) rows × BK-pixel slabs of ox; split s sums the output rows
// [s·k_chunk, (s + 1)·k_chunk) of the n·ho rows. Row state, set by bw_rows_begin/_next:
var<private> rimg: u32;
var<private> roy: u32;
var<private> rowok: bool;
var<private> xrow: u32;
var<private> dyrow: u32;

fn bw_rows_begin(row: u32) {
    rimg = row / p.ho;
    roy = row % p.ho;
}

fn bw_rows_row() {
    let iy = by + i32(roy * p.stride);
    rowok = bvalid && iy >= 0 && iy < i32(p.h);
    xrow = rimg * p.ci * p.h * p.w + bbase + u32(iy) * p.w;
    dyrow = rimg * p.co * p.ho * p.wo + roy * p.wo;
}

fn bw_rows_next() {
    roy += 1u;
    if (roy == p.ho) {
        roy = 0u;
        rimg += 1u;
    }
}

// A[o][r] = dy[img, o, oy, ox0 + r]
fn bw_rows_load_a(m0: u32, ox0: u32, lid: u32) {
    let howo = p.ho * p.wo;
    for (var e = lid; e < p.bm * p.bk; e += WG) {
        let kl = e & (p.bk - 1u);
        let ml = e >> p.bk_shift;
        let o = m0 + ml;
        let ox = ox0 + kl;
        var v = 0.0;
        if (o < p.gm && ox < p.wo) {
            v = wdy[dyrow + o * howo + ox];
        }
        put_a(kl, ml, v);
    }
}

// The same through vec4 (wo % 4 == 0).
fn bw_rows_load_a4(m0: u32, ox0: u32, lid: u32) {
    if (lid < p.bm * (p.bk / 4u)) {
        let ml = lid >> (p.bk_shift - 2u);
        let kl = (lid & (p.bk / 4u - 1u)) * 4u;
        let o = m0 + ml;
        let ox = ox0 + kl;
        var v = vec4<f32>(0.0);
        if (o < p.gm && ox < p.wo) {
            v = wdy4[(dyrow + o * p.ho * p.wo + ox) / 4u];
        }
        put_a(kl, ml, v.x);
        put_a(kl + 1u, ml, v.y);
        put_a(kl + 2u, ml, v.z);
        put_a(kl + 3u, ml, v.w);
    }
}

// B[r][col] = x[img, c, iy, (ox0 + r)·s − pad + kx]
fn bw_rows_load_b(ox0: u32) {
    for (var r = brow; r < p.bk; r += bstep) {
        let ox = ox0 + r;
        let ix = bx + i32(ox * p.stride);
        var v = 0.0;
        if (rowok && ox < p.wo && ix >= 0 && ix < i32(p.w)) {
            v = wx[xrow + u32(ix)];
        }
        put_b(r, bcol, v);
    }
}

@compute @workgroup_size(256)
fn conv2d_bwd_weight_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let split = wid.z / p.m_tiles;
    let m0 = (wid.z % p.m_tiles) * p.bm;
    let n0 = tile * p.bn;
    let rbeg = split * p.k_chunk;
    let rend = min(rbeg + p.k_chunk, p.n * p.ho);
    setup(lid);
    bw_b_setup(n0);
    bw_rows_begin(rbeg);
    for (var row = rbeg; row < rend; row++) {
        bw_rows_row();
        for (var ox0 = 0u; ox0 < p.wo; ox0 += p.bk) {
            bw_rows_load_a(m0, ox0, lid);
            bw_rows_load_b(ox0);
            workgroupBarrier();
            mm_tile();
            workgroupBarrier();
        }
        bw_rows_next();
    }
    bw_store(split, m0, n0);
}

@compute @workgroup_size(256)
fn conv2d_bwd_weight_rows_v4(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= p.n_tiles) {
        return;
    }
    let split = wid.z / p.m_tiles;
    let m0 = (wid.z % p.m_tiles) * p.bm;
    let n0 = tile * p.bn;
    let rbeg = split * p.k_chunk;
    let rend = min(rbeg + p.k_chunk, p.n * p.ho);
    setup(lid);
    bw_b_setup(n0);
    bw_rows_begin(rbeg);
    for (var row = rbeg; row < rend; row++) {
        bw_rows_row();
        for (var ox0 = 0u; ox0 < p.wo; ox0 += p.bk) {
            bw_rows_load_a4(m0, ox0, lid);
            bw_rows_load_b(ox0);
            workgroupBarrier();
            mm_tile();
            workgroupBarrier();
        }
        bw_rows_next();
    }
    bw_store(split, m0, n0);
}

// ---------------------------------------------------------------- reductions

// db partial: channel wid.x (of p.co) summed over flat (img, pix) in split wid.y's chunk of
// the n·len elements; a fixed-order tree, so the result is deterministic.
@compute @workgroup_size(256)
fn conv2d_bwd_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ch = wid.x;
    let hw = p.len;
    let beg = wid.y * p.k_chunk;
    let end = min(beg + p.k_chunk, p.n * hw);
    var s = 0.0;
    for (var e = beg + lid; e < end; e += WG) {
        s += rin[((e / hw) * p.co + ch) * hw + e % hw];
    }
    red[lid] = s;
    workgroupBarrier();
    for (var off = WG / 2u; off > 0u; off >>= 1u) {
        if (lid < off) {
            red[lid] += red[lid + off];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        rout[wid.y * p.co + ch] = red[0];
    }
}

// out[i] = Σ_s partial[s · gn + i], i < gn: sums the split-K partials in split order.
@compute @workgroup_size(256)
fn conv2d_bwd_weight_reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.gn) {
        return;
    }
    var s = 0.0;
    for (var k = 0u; k < p.splits; k++) {
        s += rin[k * p.gn + i];
    }
    rout[i] = s;
}
