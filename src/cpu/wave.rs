//! CPU twin of `shaders/wave.wgsl`: a time step of the acoustic wave equation with C-PML
//! for every (model, shot) plane — `psi` (ψ^n of the absorbing frame) then `step` — with the
//! buffers and layout of `kernels::wave`, in f32 with the same order of operations. Planes
//! run on the available cores.

use crate::error::Result;
pub use crate::ops::wave::{NO_SLOT, Params};

struct Plane<'a> {
    p: &'a Params,
    cur: &'a [f32],
    psi: &'a [[f32; 2]],
    prof: &'a [f32],
    nx: usize,
    nz: usize,
}

impl Plane<'_> {
    fn a2(&self, k: usize) -> f32 {
        self.p.c2[k]
    }
    fn a1(&self, k: usize) -> f32 {
        self.p.c1[k - 1]
    }
    fn pv(&self, z: isize, x: isize) -> f32 {
        if x < 0 || x >= self.nx as isize || z >= self.nz as isize {
            return 0.0;
        }
        if z < 0 {
            if self.p.free_surface != 0 && -z < self.nz as isize {
                return -self.cur[(-z) as usize * self.nx + x as usize];
            }
            return 0.0;
        }
        self.cur[z as usize * self.nx + x as usize]
    }
    fn in_xpml(&self, x: usize) -> bool {
        x < self.p.wl as usize || x >= self.nx - self.p.wr as usize
    }
    fn in_zpml(&self, z: usize) -> bool {
        z < self.p.wt as usize || z >= self.nz - self.p.wb as usize
    }
    fn frame_index(&self, z: usize, x: usize) -> usize {
        let (wt, wb, wl, wr) = (self.p.wt as usize, self.p.wb as usize, self.p.wl as usize, self.p.wr as usize);
        if z < wt {
            return z * self.nx + x;
        }
        if z >= self.nz - wb {
            return (wt + z - (self.nz - wb)) * self.nx + x;
        }
        let col = if x < wl { x } else { wl + x - (self.nx - wr) };
        (wt + wb) * self.nx + (z - wt) * (wl + wr) + col
    }
    fn dpx(&self, z: isize, x: isize) -> f32 {
        let mut d = 0.0;
        for k in 1..=self.p.half as isize {
            d += self.a1(k as usize) * (self.pv(z, x + k) - self.pv(z, x - k));
        }
        d
    }
    fn dpz(&self, z: isize, x: isize) -> f32 {
        let mut d = 0.0;
        for k in 1..=self.p.half as isize {
            d += self.a1(k as usize) * (self.pv(z + k, x) - self.pv(z - k, x));
        }
        d
    }
    fn psi_x(&self, z: isize, x: isize) -> f32 {
        if x < 0 || x >= self.nx as isize || !self.in_xpml(x as usize) {
            return 0.0;
        }
        self.psi[self.frame_index(z as usize, x as usize)][0]
    }
    fn psi_z(&self, z: isize, x: isize) -> f32 {
        if z < 0 || z >= self.nz as isize || !self.in_zpml(z as usize) {
            return 0.0;
        }
        self.psi[self.frame_index(z as usize, x as usize)][1]
    }

    /// The shader's `slow_laplacian`: the Laplacian, and for frame cells ζ^n and its index.
    fn slow_laplacian(&self, z: usize, x: usize, p0: f32, zeta: &[[f32; 2]]) -> (f32, Option<(usize, [f32; 2])>) {
        let (zi, xi) = (z as isize, x as isize);
        let h = self.p.half as usize;
        let (wt, wb, wl, wr) = (self.p.wt as usize, self.p.wb as usize, self.p.wl as usize, self.p.wr as usize);
        let mut d2x = self.a2(0) * p0;
        let mut d2z = self.a2(0) * p0;
        for k in 1..=h {
            let ki = k as isize;
            d2x += self.a2(k) * (self.pv(zi, xi + ki) + self.pv(zi, xi - ki));
            d2z += self.a2(k) * (self.pv(zi + ki, xi) + self.pv(zi - ki, xi));
        }
        let (inx, inz) = (self.in_xpml(x), self.in_zpml(z));
        let fi = if inx || inz { Some(self.frame_index(z, x)) } else { None };
        let mut zt = fi.map_or([0.0; 2], |i| zeta[i]);
        let mut tx = d2x;
        if x < wl + h || x + wr + h >= self.nx {
            let mut dpsi = 0.0;
            for k in 1..=h as isize {
                dpsi += self.a1(k as usize) * (self.psi_x(zi, xi + k) - self.psi_x(zi, xi - k));
            }
            tx = d2x + dpsi;
            if inx {
                zt[0] = self.prof[self.nx + x] * zt[0] + self.prof[x] * tx;
                tx += zt[0];
            }
        }
        let mut tz = d2z;
        if z < wt + h || z + wb + h >= self.nz {
            let mut dpsi = 0.0;
            for k in 1..=h as isize {
                dpsi += self.a1(k as usize) * (self.psi_z(zi + k, xi) - self.psi_z(zi - k, xi));
            }
            tz = d2z + dpsi;
            if inz {
                zt[1] = self.prof[2 * self.nx + self.nz + z] * zt[1] + self.prof[2 * self.nx + z] * tz;
                tz += zt[1];
            }
        }
        (tx + tz, fi.map(|i| (i, zt)))
    }
}

/// One plane (model b, shot s) of a step.
#[allow(clippy::too_many_arguments)]
fn step_plane(
    p: &Params,
    s: usize,
    vel: &[f32],
    cur: &[f32],
    nxt: &mut [f32],
    psi: &[[f32; 2]],
    zeta: &mut [[f32; 2]],
    prof: &[f32],
    pos: &[u32],
    traces: &mut [f32],
) {
    let (nz, nx, h) = (p.nz as usize, p.nx as usize, p.half as usize);
    let (wt, wb, wl, wr) = (p.wt as usize, p.wb as usize, p.wl as usize, p.wr as usize);
    let (shots, nrec) = (p.shots as usize, p.nrec as usize);
    if p.slot != NO_SLOT {
        let row = &mut traces[p.slot as usize * nrec..(p.slot as usize + 1) * nrec];
        for (r, t) in row.iter_mut().enumerate() {
            let i = 2 * (shots + r);
            *t = cur[pos[i] as usize * nx + pos[i + 1] as usize];
        }
    }
    let plane = Plane { p, cur, psi, prof, nx, nz };
    let (sz, sx) = (pos[2 * s] as usize, pos[2 * s + 1] as usize);
    for z in 0..nz {
        for x in 0..nx {
            let idx = z * nx + x;
            let p0 = cur[idx];
            let lap = if x >= wl + h && x + wr + h < nx && z >= wt + h && z + wb + h < nz && h == 2 {
                2.0 * p.c2[0] * p0
                    + p.c2[1] * ((cur[idx - 1] + cur[idx + 1]) + (cur[idx - nx] + cur[idx + nx]))
                    + p.c2[2] * ((cur[idx - 2] + cur[idx + 2]) + (cur[idx - 2 * nx] + cur[idx + 2 * nx]))
            } else if x >= wl + h && x + wr + h < nx && z >= wt + h && z + wb + h < nz {
                let mut acc = 2.0 * p.c2[0] * p0;
                for k in 1..=h {
                    acc += p.c2[k] * ((cur[idx - k] + cur[idx + k]) + (cur[idx - k * nx] + cur[idx + k * nx]));
                }
                acc
            } else {
                let (lap, zt) = plane.slow_laplacian(z, x, p0, zeta);
                if let Some((i, v)) = zt {
                    zeta[i] = v;
                }
                lap
            };
            let v2 = vel[idx];
            let mut pn = 2.0 * p0 - nxt[idx] + v2 * lap;
            if z == sz && x == sx {
                pn += v2 * p.wavelet;
            }
            if p.free_surface != 0 && z == 0 {
                pn = 0.0;
            }
            nxt[idx] = pn;
        }
    }
}

/// Runs `f(bs, plane's chunk of a, of b, of c)` for every plane, on the available cores.
fn planes<A: Send, B: Send, C: Send>(
    work: usize,
    jobs: Vec<(usize, A, B, C)>,
    f: impl Fn((usize, A, B, C)) + Sync + Send + Copy,
) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
    if threads <= 1 || work < 1 << 14 {
        jobs.into_iter().for_each(f);
        return;
    }
    let mut buckets: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, j) in jobs.into_iter().enumerate() {
        buckets[i % threads].push(j);
    }
    std::thread::scope(|sc| {
        for bucket in buckets {
            sc.spawn(move || bucket.into_iter().for_each(f));
        }
    });
}

/// The twin of `kernels::wave::psi`: ψ^n = b ψ^{n−1} + a ∂p^n in place for the frame cells.
pub fn psi(p: &Params, cur: &[f32], psi: &mut [[f32; 2]], prof: &[f32]) -> Result<()> {
    let (plane, nbs, frame) = (p.plane(), p.nbs as usize, (p.frame as usize).max(1));
    crate::error::check_len("wave_psi", "cur", cur.len(), &[nbs, plane])?;
    crate::error::check_len("wave_psi", "psi", psi.len() * 2, &[nbs, frame, 2])?;
    let (shots, stride) = (p.shots.max(1) as usize, p.prof_stride as usize);
    crate::error::check_len("wave_psi", "prof", prof.len(), &[nbs / shots, stride])?;
    if p.frame == 0 {
        return Ok(());
    }
    let (nz, nx) = (p.nz as usize, p.nx as usize);
    let jobs: Vec<_> = psi.chunks_mut(frame).enumerate().map(|(bs, c)| (bs, c, (), ())).collect();
    planes(plane * nbs / 4, jobs, |(bs, out, _, _): (usize, &mut [[f32; 2]], (), ())| {
        let b = bs / shots;
        let pl = Plane {
            p,
            cur: &cur[bs * plane..(bs + 1) * plane],
            psi: &[],
            prof: &prof[b * stride..(b + 1) * stride],
            nx,
            nz,
        };
        for z in 0..nz {
            for x in 0..nx {
                let (inx, inz) = (pl.in_xpml(x), pl.in_zpml(z));
                if !(inx || inz) {
                    continue;
                }
                let v = &mut out[pl.frame_index(z, x)];
                if inx {
                    v[0] = pl.prof[nx + x] * v[0] + pl.prof[x] * pl.dpx(z as isize, x as isize);
                }
                if inz {
                    v[1] = pl.prof[2 * nx + nz + z] * v[1] + pl.prof[2 * nx + z] * pl.dpz(z as isize, x as isize);
                }
            }
        }
    });
    Ok(())
}

/// The twin of `kernels::wave::step` (same layout, `psi`/`zeta` as [bs][frame] of pairs).
#[allow(clippy::too_many_arguments)]
pub fn step(
    p: &Params,
    vel: &[f32],
    cur: &[f32],
    nxt: &mut [f32],
    psi: &[[f32; 2]],
    zeta: &mut [[f32; 2]],
    prof: &[f32],
    pos: &[u32],
    traces: &mut [f32],
) -> Result<()> {
    p.check(
        "wave_step",
        [vel.len(), cur.len(), nxt.len(), psi.len() * 2, zeta.len() * 2, prof.len(), pos.len(), traces.len()],
    )?;
    let plane = p.plane();
    let (shots, frame, stride) = (p.shots as usize, (p.frame as usize).max(1), p.prof_stride as usize);
    let trace_len = p.nt_out as usize * p.nrec as usize;
    let jobs: Vec<_> = nxt
        .chunks_mut(plane)
        .zip(zeta.chunks_mut(frame))
        .zip(traces.chunks_mut(trace_len.max(1)))
        .enumerate()
        .map(|(bs, ((n, z), t))| (bs, n, z, t))
        .collect();
    let work = plane * jobs.len();
    planes(work, jobs, |(bs, n, z, t): (usize, &mut [f32], &mut [[f32; 2]], &mut [f32])| {
        let b = bs / shots;
        step_plane(
            p,
            bs % shots,
            &vel[b * plane..(b + 1) * plane],
            &cur[bs * plane..(bs + 1) * plane],
            n,
            &psi[bs * frame..(bs + 1) * frame],
            z,
            &prof[b * stride..(b + 1) * stride],
            pos,
            t,
        )
    });
    Ok(())
}
