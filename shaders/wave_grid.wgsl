// The padded grid of the wave scheme, shared by `wave.wgsl` and `wave_adjoint.wgsl` (each is
// compiled with this file in front of it, see src/kernels/wave.rs): the parameter block, the
// stencil weights, the C-PML layers and the layout of the absorbing frame.

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

fn a2(k: u32) -> f32 {
    if (k < 4u) {
        return p.c2lo[k];
    }
    return p.c2hi[k - 4u];
}

fn a1(k: u32) -> f32 {
    return p.c1[k - 1u];
}

fn in_xpml(x: u32) -> bool {
    return x < p.wl || x >= p.nx - p.wr;
}

fn in_zpml(z: u32) -> bool {
    return z < p.wt || z >= p.nz - p.wb;
}

// Index of a cell of the absorbing frame within one plane's frame: top rows, bottom rows,
// then the left and right columns of the rows between.
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

// The (z, x) of frame cell f, the inverse of `frame_index`.
fn frame_cell(f: u32) -> vec2<u32> {
    let top = p.wt * p.nx;
    let bottom = top + p.wb * p.nx;
    if (f < top) {
        return vec2<u32>(f / p.nx, f % p.nx);
    }
    if (f < bottom) {
        let g = f - top;
        return vec2<u32>(p.nz - p.wb + g / p.nx, g % p.nx);
    }
    let g = f - bottom;
    let side = p.wl + p.wr;
    let col = g % side;
    return vec2<u32>(p.wt + g / side, select(p.nx - p.wr + (col - p.wl), col, col < p.wl));
}
