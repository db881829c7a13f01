"""brine's misfit gradient against deepwave's on the same model and acquisition, and the cost of each.

Usage: brine bench gradient --backend cpu --write CASE && python3 benches/deepwave_gradient.py CASE [--threads 2]

CASE holds what `brine bench gradient --write` keeps: truth.npy and start.npy (N,1,nz,nx m/s; the first model is
used), observed.npy (brine's traces of the truth, N x shots x samples x receivers), gradient.npy (brine's dJ/dv at
the start for J = 1/2 sum (d - d_obs)^2) and acquisition.json. deepwave gets the same grid, wavelet samples,
source and receiver cells, 4th order (the acquisition's), its own PML of the same width.

deepwave injects -v^2 dt^2 f where brine adds +v^2 dt^2 f, so deepwave's traces are brine's with the sign flipped:
they are compared as -deepwave. Each engine's gradient is taken against observed data from its own propagator
(d_obs = that engine's traces of the truth), so neither sees the other's boundary or sign conventions.
Prints one JSON line: trace agreement, gradient correlation (whole model, and below the source/receiver rows),
deepwave's forward and forward+backward seconds on this CPU with --threads threads."""
import argparse, json, os, time
import numpy as np, torch, deepwave

ap = argparse.ArgumentParser()
ap.add_argument("case"); ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
load = lambda name: np.load(os.path.join(a.case, name))
acq = json.load(open(os.path.join(a.case, "acquisition.json")))
truth, start = load("truth.npy")[0, 0].astype(np.float32), load("start.npy")[0, 0].astype(np.float32)
brine_obs, brine_grad = load("observed.npy")[0], load("gradient.npy")[0, 0]
nz, nx = truth.shape


def points(p):
    if isinstance(p, list):
        return [tuple(q) for q in p]
    if "x" in p:
        return [(p["z"], x) for x in p["x"]]
    return [(p["z"], x) for x in range(p["x_from"], p["x_to"] + 1, p.get("x_step", 1))]


srcs, recs = points(acq["sources"]), points(acq["receivers"])
shots, nt, dt, dx, f0 = len(srcs), acq["nt"], acq["dt"], acq["dx"], acq["f0"]
dec = acq.get("decimate", 1)
pml = acq.get("pml", 20)
src = torch.tensor([[list(s)] for s in srcs], dtype=torch.long)
rec = torch.tensor([recs] * shots, dtype=torch.long)
# brine's step n adds ricker(n dt) and its sample m is p at step m*decimate (p^0 = 0).
w = deepwave.wavelets.ricker(f0, nt, dt, 1.5 / f0).reshape(1, 1, -1).repeat(shots, 1, 1)
widths = [0, pml, pml, pml] if acq.get("free_surface") else pml


def run(v):
    out = deepwave.scalar(v, dx, dt, source_amplitudes=w, source_locations=src, receiver_locations=rec,
                          accuracy=acq.get("order", 4), pml_width=widths, pml_freq=f0)
    return out[-1]  # [shots, receivers, nt]


def brine_layout(d):
    return d.detach().numpy().transpose(0, 2, 1)[:, ::dec]  # [shots, samples, receivers]


with torch.no_grad():
    run(torch.from_numpy(truth))  # warm-up
    t = time.perf_counter(); d_obs = run(torch.from_numpy(truth)); fwd_s = time.perf_counter() - t
dw = -brine_layout(d_obs)
# deepwave may record before or after its update: compare at the best of three alignments.
best = None
for shift in (-1, 0, 1):
    b = brine_obs[:, max(shift, 0):brine_obs.shape[1] + min(shift, 0)]
    d = dw[:, max(-shift, 0):dw.shape[1] + min(-shift, 0)]
    err = float(np.linalg.norm(b - d) / np.linalg.norm(b))
    if best is None or err < best[1]:
        best = (shift, err, float(np.corrcoef(b.ravel(), d.ravel())[0, 1]))
v = torch.from_numpy(start).requires_grad_(True)
t = time.perf_counter()
d = run(v)
loss = 0.5 * ((d - d_obs) ** 2).sum()
loss.backward()
grad_s = time.perf_counter() - t
g = v.grad.numpy()
corr = lambda x, y: float(np.corrcoef(x.ravel(), y.ravel())[0, 1])
below = max(max(z for z, _ in srcs), max(z for z, _ in recs)) + 3
print(json.dumps(dict(
    deepwave=getattr(deepwave, "__version__", "?"), threads=a.threads, nz=nz, nx=nx, shots=shots, nt=nt,
    trace_shift_samples=best[0], trace_rel_l2=round(best[1], 5), trace_corr=round(best[2], 6),
    gradient_corr=round(corr(g, brine_grad), 5), gradient_corr_below_row=below,
    gradient_corr_below=round(corr(g[below:], brine_grad[below:]), 5),
    gradient_norm_ratio=round(float(np.linalg.norm(brine_grad) / np.linalg.norm(g)), 4),
    deepwave_forward_s=round(fwd_s, 4), deepwave_forward_backward_s=round(grad_s, 4),
    deepwave_gradient_in_forwards=round(grad_s / fwd_s, 3))))
