//! Fast path of `cpu::wave_adjoint`: the misfit's gradient with respect to (v·dt)² of whole
//! planes on `fast::wave`'s haloed layout, each plane's forward and backward a task of its
//! own on one thread (see [`gradient`] for the order they run in).
//!
//! The forward is `fast::wave`'s stepper, which also writes q^n (what (v·dt)² multiplies)
//! for the steps the backward will need. With `every` = the number of steps it keeps every
//! q and the backward recomputes nothing (two propagations in all); otherwise it keeps the
//! whole state every `every` steps plus the last segment's q, and the backward recomputes
//! the other segments from their checkpoints.
//!
//! The adjoint step is the twin's (see its derivation), regrouped so that its rows are
//! straight loops. With H = (v·dt)²·mask·λ zero-padded, e_x = a_x(η_x + H) and
//! u_x = a_x μ̂_x zero outside the x layers (likewise e_z, u_z outside the z layers), the
//! twin's T̄_x is H + e_x, and
//!
//! ```text
//! λ(p^n) = −mask·λ(p^{n+2}) + 2g + D2ᵀH              (every row: the plain stencil)
//!          + D2xᵀe_x + D1xᵀu_x                        (columns within h of the x layers)
//!          + D2zᵀe_z + D1zᵀu_z                        (rows within h of the z layers)
//! ```
//!
//! Under a free surface the forward reads p through its mirror (p(−j) = −p(j)), so the
//! z part this stencil gives for the mirror rows −j (from rows 0..h−j) is folded back into
//! row j with its sign flipped. The sums run in another order than the twin's, so the
//! gradient agrees with it to rounding (`tests/gradient.rs`), not bit for bit.

use std::sync::{Condvar, Mutex};

use super::wave::{Coef, Problem, Setup, Sim, State, Step, at, blocks, laplacian, widen_pair};
use super::{simd, threads};
use crate::error::{Error, Result, check_len};
use crate::ops::wave::{NO_SLOT, Params};

/// What the gradient of a batch of planes returns.
pub struct Planes {
    /// ½ Σ (d − d_obs)² per plane.
    pub misfit: Vec<f64>,
    /// ∂J/∂(v·dt)² [planes][nz][nx].
    pub grad: Vec<f32>,
    /// The simulated traces [planes][nt_out][nrec].
    pub traces: Vec<f32>,
    /// Thread seconds summed over the planes: the forward, then recomputation and adjoint.
    pub seconds: [f64; 2],
}

/// Bytes one plane's gradient holds between its forward and its backward with checkpoints
/// every `every` of `steps` steps on a padded plane of `cells` (its halo is at most a few
/// rows and columns more): the states, and the q of one segment.
pub fn plane_bytes(steps: usize, every: usize, cells: usize) -> Option<u64> {
    let every = every.clamp(1, steps.max(1));
    let saves = if every >= steps { 0 } else { steps.div_ceil(every) - 1 };
    crate::limits::bytes(&[cells, 6 * saves + every], 4)
}

/// Bytes each worker thread works in: the forward's state and the adjoint's planes.
pub fn worker_bytes(cells: usize) -> Option<u64> {
    crate::limits::bytes(&[cells, 24], 4)
}

/// The misfit of one plane's traces against its observed ones [nt_out][nrec], and its
/// gradient with respect to the traces (the adjoint source).
pub type Residual<'a> = dyn Fn(&[f32], &[f32]) -> (f64, Vec<f32>) + Sync + 'a;

/// The gradient of every plane of `residual`'s misfit against `observed`
/// [planes][nt_out][nrec]; buffers and `steps` as in `fast::wave::simulate` (subnormals are
/// flushed, as `Plan::run_cpu` does).
/// At most `held` planes wait between forward and backward (see `plane_bytes`).
///
/// Each plane is two tasks, its forward and (once that is done) its backward, and the
/// workers take forwards first while fewer than `held` planes wait: 5 shots on 2 threads
/// then take 2.5 planes' time, where whole planes per task would take 3.
#[allow(clippy::too_many_arguments)]
pub fn gradient(
    p: &Params,
    steps: &[Step],
    vel: &[f32],
    prof: &[f32],
    pos: &[u32],
    observed: &[f32],
    residual: &Residual<'_>,
    every: usize,
    held: usize,
) -> Result<Planes> {
    let pr = Problem::new(p, steps, vel, prof, pos)?;
    check_len("gradient", "observed", observed.len(), &[pr.planes, pr.trace_len()])?;
    if steps.is_empty() {
        return Err(Error::config("gradient", "no time steps"));
    }
    let (every, per, planes) = (every.clamp(1, steps.len()), pr.trace_len(), pr.planes);
    let queue = Queue { state: Mutex::new(Tasks::new(planes, held.max(1))), wake: Condvar::new() };
    let waiting: Vec<Slot<Forward>> = (0..planes).map(|_| Mutex::new(None)).collect();
    let done: Vec<Slot<(Vec<f32>, f64)>> = (0..planes).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads::count().min(planes).max(1) {
            scope.spawn(|| {
                let _flush = simd::FlushSubnormals::new();
                let _abort = AbortOnPanic(&queue);
                let (mut sim, mut adj): (Option<Sim>, Option<Adjoint>) = (None, None);
                while let Some(task) = queue.next() {
                    let su = pr.setup(task.plane());
                    let sim = sim.get_or_insert_with(|| Sim::new(su));
                    sim.reset(su);
                    match task {
                        Task::Forward(b) => {
                            let f = forward(sim, steps, pr.nt_out, &observed[b * per..][..per], residual, every);
                            *lock(&waiting[b]) = Some(f);
                            queue.finish(task);
                        }
                        Task::Backward(b) => {
                            let adj = adj.get_or_insert_with(|| Adjoint::new(&su));
                            adj.reset();
                            let mut f = lock(&waiting[b]).take().expect("a backward follows its forward");
                            let clock = std::time::Instant::now();
                            let grad = backward(sim, adj, steps, &mut f, every);
                            *lock(&done[b]) = Some((grad, clock.elapsed().as_secs_f64()));
                            *lock(&waiting[b]) = Some(f);
                            queue.finish(task);
                        }
                    }
                }
            });
        }
    });
    let mut out = Planes { misfit: vec![], grad: vec![], traces: vec![], seconds: [0.0; 2] };
    for (w, d) in waiting.into_iter().zip(done) {
        let (f, (grad, backward_s)) = (w.into_inner().ok().flatten(), d.into_inner().ok().flatten().unzip());
        let (Some(f), Some(grad), Some(backward_s)) = (f, grad, backward_s) else {
            return Err(Error::config("gradient", "a worker thread stopped before its planes were done"));
        };
        out.misfit.push(f.misfit);
        out.grad.extend(grad);
        out.traces.extend(f.traces);
        out.seconds = [out.seconds[0] + f.seconds, out.seconds[1] + backward_s];
    }
    Ok(out)
}

/// What one plane's task leaves for the next, or for the caller.
type Slot<T> = Mutex<Option<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One plane's forward or backward.
#[derive(Clone, Copy)]
enum Task {
    Forward(usize),
    Backward(usize),
}

impl Task {
    fn plane(self) -> usize {
        match self {
            Task::Forward(b) | Task::Backward(b) => b,
        }
    }
}

/// Who does what next.
struct Tasks {
    planes: usize,
    held_max: usize,
    /// The next plane whose forward nobody has started.
    next: usize,
    /// Planes whose forward started and whose backward has not finished.
    held: usize,
    running_forwards: usize,
    /// Planes whose forward is done and whose backward nobody has started.
    ready: Vec<usize>,
    aborted: bool,
}

impl Tasks {
    fn new(planes: usize, held_max: usize) -> Self {
        Tasks { planes, held_max, next: 0, held: 0, running_forwards: 0, ready: vec![], aborted: false }
    }
}

struct Queue {
    state: Mutex<Tasks>,
    wake: Condvar,
}

impl Queue {
    /// The next task, waiting for one if every remaining backward waits on a running
    /// forward; `None` when there is nothing left to start.
    fn next(&self) -> Option<Task> {
        let mut t = lock(&self.state);
        loop {
            if t.aborted {
                return None;
            }
            if t.next < t.planes && t.held < t.held_max {
                let b = t.next;
                t.next += 1;
                t.held += 1;
                t.running_forwards += 1;
                return Some(Task::Forward(b));
            }
            if let Some(b) = t.ready.pop() {
                return Some(Task::Backward(b));
            }
            if t.next == t.planes && t.running_forwards == 0 {
                return None;
            }
            t = self.wake.wait(t).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn finish(&self, task: Task) {
        let mut t = lock(&self.state);
        match task {
            Task::Forward(b) => {
                t.running_forwards -= 1;
                t.ready.push(b);
            }
            Task::Backward(_) => t.held -= 1,
        }
        self.wake.notify_all();
    }
}

/// Wakes the other workers to stop if this one panics, so they do not wait for it forever
/// (the panic then reaches the caller through the scope).
struct AbortOnPanic<'a>(&'a Queue);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.state).aborted = true;
            self.0.wake.notify_all();
        }
    }
}

/// What a plane's forward leaves for its backward.
struct Forward {
    misfit: f64,
    traces: Vec<f32>,
    residual: Vec<f32>,
    /// q of the last segment's steps, [every][nz][nx] (taken from `fast::buffers`, and given
    /// back by the backward, so that the next gradient finds its pages mapped).
    qs: Vec<f32>,
    /// The state at the start of every other segment.
    saved: Vec<State>,
    seconds: f64,
}

/// The forward of `sim`'s plane from rest: traces, misfit, checkpoints and the last
/// segment's q.
fn forward(
    sim: &mut Sim,
    steps: &[Step],
    nt_out: usize,
    observed: &[f32],
    residual: &Residual<'_>,
    every: usize,
) -> Forward {
    let clock = std::time::Instant::now();
    let (g, n) = (&sim.su.g, steps.len());
    let (cells, nrec) = (g.nz * g.nx, sim.su.receivers.len() / 2);
    let last = (n.div_ceil(every) - 1) * every;
    let mut qs = super::buffers::take(every.min(n) * cells);
    let mut saved = Vec::with_capacity(n.div_ceil(every) - 1);
    let mut traces = vec![0.0f32; nt_out * nrec];
    for (k, step) in steps.iter().enumerate() {
        if k % every == 0 && k < last {
            saved.push(sim.state.clone());
        }
        let q = (k >= last).then(|| &mut qs[(k - last) * cells..][..cells]);
        sim.step(k, step, Some(&mut traces), q);
    }
    let (misfit, residual) = residual(&traces, observed);
    Forward { misfit, traces, residual, qs, saved, seconds: clock.elapsed().as_secs_f64() }
}

/// ∂J/∂(v·dt)² of `sim`'s plane: the adjoint back through every segment, the others
/// recomputed from their checkpoints; gives the q store back to the pool.
fn backward(sim: &mut Sim, adj: &mut Adjoint, steps: &[Step], f: &mut Forward, every: usize) -> Vec<f32> {
    let (su, n) = (sim.su, steps.len());
    let (cells, nrec) = (su.g.nz * su.g.nx, su.receivers.len() / 2);
    let mut grad = vec![0.0f32; cells];
    let qs = &mut f.qs;
    for j in (0..n.div_ceil(every)).rev() {
        let (s0, s1) = (j * every, ((j + 1) * every).min(n));
        if let Some(start) = f.saved.get(j) {
            sim.state.clone_from(start);
            for k in s0..s1 {
                sim.step(k, &steps[k], None, Some(&mut qs[(k - s0) * cells..][..cells]));
            }
        }
        for k in (s0..s1).rev() {
            let slot = steps[k].slot;
            let res = (slot != NO_SLOT).then(|| &f.residual[slot as usize * nrec..][..nrec]);
            adjoint_step(&su, adj, &qs[(k - s0) * cells..][..cells], &mut grad, res);
        }
    }
    super::buffers::give(std::mem::take(qs));
    f.saved.clear();
    grad
}

/// One plane's adjoint state and working planes. `lam` and `out` (λ of p^{n+1} and of
/// p^{n+2}, then of p^n) are [nz][nx]; the rest are haloed like `fast::wave`'s state and
/// zero outside what they cover: `h` the grid, `ex`/`ux`/`etax`/`mux` the x layers,
/// `ez`/`uz`/`etaz`/`muz` the z layers.
struct Adjoint {
    lam: Vec<f32>,
    out: Vec<f32>,
    h: Vec<f32>,
    ex: Vec<f32>,
    ez: Vec<f32>,
    ux: Vec<f32>,
    uz: Vec<f32>,
    etax: Vec<f32>,
    etaz: Vec<f32>,
    mux: Vec<f32>,
    muz: Vec<f32>,
    /// One row's derivative or stencil sum, and one row of frame terms.
    acc: Vec<f32>,
    tmp: Vec<f32>,
}

impl Adjoint {
    fn new(su: &Setup) -> Self {
        let (g, z) = (&su.g, |n: usize| vec![0.0f32; n]);
        let (cells, len) = (g.nz * g.nx, g.len());
        Adjoint {
            lam: z(cells),
            out: z(cells),
            h: z(len),
            ex: z(len),
            ez: z(len),
            ux: z(len),
            uz: z(len),
            etax: z(len),
            etaz: z(len),
            mux: z(len),
            muz: z(len),
            acc: z(g.nx),
            tmp: z(g.nx),
        }
    }

    fn reset(&mut self) {
        let Adjoint { lam, out, h, ex, ez, ux, uz, etax, etaz, mux, muz, acc: _, tmp: _ } = self;
        for v in [lam, out, h, ex, ez, ux, uz, etax, etaz, mux, muz] {
            v.fill(0.0);
        }
    }
}

/// The adjoint of forward step n: `a` goes from λ(p^{n+1}) to λ(p^n), `grad` gains
/// mask·λ·q^n, and `residual` (this step's trace sample, if it recorded one) enters at the
/// receivers.
#[pulp::with_simd(adjoint_step = simd::arch())]
#[inline(always)]
fn adjoint_step_simd<S: pulp::Simd>(
    _simd: S,
    su: &Setup<'_>,
    a: &mut Adjoint,
    q: &[f32],
    grad: &mut [f32],
    residual: Option<&[f32]>,
) {
    match su.g.h {
        1 => adjoint_h::<1>(su, a, q, grad),
        2 => adjoint_h::<2>(su, a, q, grad),
        3 => adjoint_h::<3>(su, a, q, grad),
        _ => adjoint_h::<4>(su, a, q, grad),
    }
    if let Some(res) = residual {
        for (zx, &r) in su.receivers.chunks(2).zip(res) {
            a.out[zx[0] as usize * su.g.nx + zx[1] as usize] += r;
        }
    }
    std::mem::swap(&mut a.lam, &mut a.out);
}

#[inline(always)]
fn adjoint_h<const H: usize>(su: &Setup, a: &mut Adjoint, q: &[f32], grad: &mut [f32]) {
    let (g, c) = (&su.g, &su.c);
    let (nz, nx, s) = (g.nz, g.nx, g.s);
    let mask = |z: usize| if su.free && z == 0 { 0.0f32 } else { 1.0 };
    let x_layers = [(0, g.wl), (nx - g.wr, nx)];
    // H, then e and η (η ← b(η + H)) on the layers.
    for z in 0..nz {
        let (r, row) = (g.row(z), z * nx);
        let (h, m) = (&mut a.h[r..r + nx], mask(z));
        for ((h, &w), &l) in h.iter_mut().zip(&su.vel[row..row + nx]).zip(&a.lam[row..row + nx]) {
            *h = w * (m * l);
        }
        for (x0, x1) in x_layers {
            let (e, eta, h) = (&mut a.ex[r + x0..r + x1], &mut a.etax[r + x0..r + x1], &a.h[r + x0..r + x1]);
            for ((((e, eta), &h), &ax), &bx) in e.iter_mut().zip(eta).zip(h).zip(&su.ax[x0..x1]).zip(&su.bx[x0..x1]) {
                let v = *eta + h;
                *e = ax * v;
                *eta = bx * v;
            }
        }
        if g.in_zpml(z) {
            let (az, bz) = (su.az[z], su.bz[z]);
            let (e, eta, h) = (&mut a.ez[r..r + nx], &mut a.etaz[r..r + nx], &a.h[r..r + nx]);
            for ((e, eta), &h) in e.iter_mut().zip(eta.iter_mut()).zip(h) {
                let v = *eta + h;
                *e = az * v;
                *eta = bz * v;
            }
        }
    }
    // μ̂ = μ − D1 T̄ on the layers (T̄ = H + e); u = a μ̂, μ ← b μ̂.
    for z in 0..nz {
        let r = g.row(z);
        for (x0, x1) in x_layers.into_iter().filter(|(x0, x1)| x0 < x1) {
            let d = &mut a.acc[x0..x1];
            for (b0, b1) in blocks(x1 - x0) {
                tbar_derivative::<H>(&mut d[b0..b1], &a.h, &a.ex, r + x0 + b0, 1, &c.c1);
            }
            let (u, mu) = (&mut a.ux[r + x0..r + x1], &mut a.mux[r + x0..r + x1]);
            for ((((u, mu), &d), &ax), &bx) in u.iter_mut().zip(mu).zip(&*d).zip(&su.ax[x0..x1]).zip(&su.bx[x0..x1]) {
                let m = *mu - d;
                *u = ax * m;
                *mu = bx * m;
            }
        }
        if g.in_zpml(z) {
            let (az, bz, d) = (su.az[z], su.bz[z], &mut a.acc[..]);
            for (b0, b1) in blocks(nx) {
                tbar_derivative::<H>(&mut d[b0..b1], &a.h, &a.ez, r + b0, s, &c.c1);
            }
            let (u, mu) = (&mut a.uz[r..r + nx], &mut a.muz[r..r + nx]);
            for ((u, mu), &d) in u.iter_mut().zip(mu).zip(&*d) {
                let m = *mu - d;
                *u = az * m;
                *mu = bz * m;
            }
        }
    }
    // λ(p^n), row by row.
    let c0x2 = 2.0 * c.c2[0];
    let left_end = if g.wl > 0 { (g.wl + H).min(nx) } else { 0 };
    let right_start = if g.wr > 0 { nx.saturating_sub(g.wr + H).max(left_end) } else { nx };
    let near_x = widen_pair((0, left_end), (right_start, nx), nx);
    for z in 0..nz {
        let (r, row) = (g.row(z), z * nx);
        let acc = &mut a.acc[..];
        for (b0, b1) in blocks(nx) {
            let (len, i0) = (b1 - b0, r + b0);
            let h0 = at(&a.h, i0, 0, len);
            let left: [&[f32]; H] = std::array::from_fn(|k| at(&a.h, i0, -(k as isize + 1), len));
            let right: [&[f32]; H] = std::array::from_fn(|k| at(&a.h, i0, k as isize + 1, len));
            let up: [&[f32]; H] = std::array::from_fn(|k| at(&a.h, i0, -(((k + 1) * s) as isize), len));
            let down: [&[f32]; H] = std::array::from_fn(|k| at(&a.h, i0, ((k + 1) * s) as isize, len));
            let acc = &mut acc[b0..b1];
            for x in 0..len {
                acc[x] = laplacian::<H>(&c.c2, c0x2, h0, [&left, &right, &up, &down], x);
            }
        }
        // e and u are zero outside their layers, so widened columns add exact zeros.
        for (x0, x1) in near_x {
            if x0 >= x1 {
                continue;
            }
            let v = &mut a.tmp[x0..x1];
            frame_terms::<H>(v, &a.ex, &a.ux, r + x0, 1, c);
            acc[x0..x1].iter_mut().zip(&*v).for_each(|(a, &v)| *a += v);
        }
        if g.z_margin(z) {
            let v = &mut a.tmp[..];
            for (b0, b1) in blocks(nx) {
                frame_terms::<H>(&mut v[b0..b1], &a.ez, &a.uz, r + b0, s, c);
            }
            acc.iter_mut().zip(&*v).for_each(|(a, &v)| *a += v);
        }
        // The mirror's fold: row j gets minus the z part of mirror row −j, which reads
        // rows k − j (k ≥ j) of T̄_z = H + e_z and of u_z.
        if su.free && (1..=H).contains(&z) {
            for k in z..=H {
                let src = g.row(k - z);
                for x in 0..nx {
                    let t = a.h[src + x] + a.ez[src + x];
                    acc[x] -= c.c2[k] * t - c.c1[k - 1] * a.uz[src + x];
                }
            }
        }
        let m = mask(z);
        let (lam, out, q, gr) =
            (&a.lam[row..row + nx], &mut a.out[row..row + nx], &q[row..row + nx], &mut grad[row..row + nx]);
        for x in 0..nx {
            let gl = m * lam[x];
            gr[x] += gl * q[x];
            out[x] = 2.0 * gl - m * out[x] + acc[x];
        }
    }
}

/// d = Σ_k c1[k−1]·(T̄[+k·step] − T̄[−k·step]) from `i0` on, with T̄ = h + e.
#[inline(always)]
fn tbar_derivative<const H: usize>(d: &mut [f32], h: &[f32], e: &[f32], i0: usize, step: usize, c1: &[f32; 5]) {
    let len = d.len();
    let hp: [&[f32]; H] = std::array::from_fn(|k| at(h, i0, ((k + 1) * step) as isize, len));
    let hm: [&[f32]; H] = std::array::from_fn(|k| at(h, i0, -(((k + 1) * step) as isize), len));
    let ep: [&[f32]; H] = std::array::from_fn(|k| at(e, i0, ((k + 1) * step) as isize, len));
    let em: [&[f32]; H] = std::array::from_fn(|k| at(e, i0, -(((k + 1) * step) as isize), len));
    for x in 0..len {
        let mut acc = 0.0f32;
        for k in 0..H {
            acc += c1[k] * ((hp[k][x] + ep[k][x]) - (hm[k][x] + em[k][x]));
        }
        d[x] = acc;
    }
}

/// One axis's frame terms from `i0` on: v = D2ᵀe + D1ᵀu = c2[0]·e + Σ_k c2[k]·(e[−k] + e[+k])
/// + c1[k−1]·(u[−k] − u[+k]) along `step`.
#[inline(always)]
fn frame_terms<const H: usize>(v: &mut [f32], e: &[f32], u: &[f32], i0: usize, step: usize, c: &Coef) {
    let len = v.len();
    let e0 = at(e, i0, 0, len);
    let ep: [&[f32]; H] = std::array::from_fn(|k| at(e, i0, ((k + 1) * step) as isize, len));
    let em: [&[f32]; H] = std::array::from_fn(|k| at(e, i0, -(((k + 1) * step) as isize), len));
    let up: [&[f32]; H] = std::array::from_fn(|k| at(u, i0, ((k + 1) * step) as isize, len));
    let um: [&[f32]; H] = std::array::from_fn(|k| at(u, i0, -(((k + 1) * step) as isize), len));
    for x in 0..len {
        let mut acc = c.c2[0] * e0[x];
        for k in 0..H {
            acc += c.c2[k + 1] * (em[k][x] + ep[k][x]) + c.c1[k] * (um[k][x] - up[k][x]);
        }
        v[x] = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::plane_bytes;

    #[test]
    fn keeping_every_q_holds_no_checkpoints() {
        let all = plane_bytes(100, 100, 1000).unwrap();
        let some = plane_bytes(100, 10, 1000).unwrap();
        assert_eq!(all, 4 * 1000 * 100);
        assert_eq!(some, 4 * 1000 * (6 * 9 + 10));
    }
}
