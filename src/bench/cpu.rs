//! Benchmarks of the CPU side and their anchors.
//!
//! - `Machine`: what the CPU numbers were measured on, with its fp32 peak (`fma_peak`).
//! - `wave`: cell-updates per second of `Plan::run_cpu` on deepwave's benchmark acquisition.
//! - `anchors`: PyTorch's CPU step (`torch_cpu_step.py`) and deepwave's CPU propagator
//!   (`deepwave_cpu_step.py`) on the same shapes and thread count, alternated with brine
//!   round by round, as brine / anchor ratios, where python has torch and deepwave.
//!
//! Timings are medians of wall-clock runs; nothing here is a test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::median;
use super::step::{config_name, step};
use crate::error::Result;
use crate::fast::{simd, threads};
use crate::nn::Config;
use crate::seismic::{Acquisition, Plan as WavePlan, Positions};

/// What the numbers were measured on.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub threads: usize,
    pub isa: &'static str,
    /// f32 lanes per vector register.
    pub lanes: usize,
    /// Measured fp32 multiply-add throughput of all threads, GFLOP/s (see `fma_peak`).
    pub peak_gflops: f64,
}

impl Machine {
    pub fn measure() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let (isa, lanes) = simd::isa();
        Machine { cpu, cores: threads::cores(), threads: threads::count(), isa, lanes, peak_gflops: fma_peak() }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} ({} cores), {} thread(s), {} ({} f32 lanes); fp32 peak {:.0} GFLOP/s, measured: {} thread(s) × \
             12 independent {}-lane fused multiply-add chains",
            self.cpu, self.cores, self.threads, self.isa, self.lanes, self.peak_gflops, self.threads, self.lanes
        )
    }
}

/// The fp32 FMA throughput of every thread of the pool at once, GFLOP/s: each thread runs
/// 12 independent chains of vector fused multiply-adds (enough to cover the latency of two
/// FMA units), counted as 2 flops per lane.
pub fn fma_peak() -> f64 {
    let iters = 4_000_000usize;
    let run = || {
        let start = Instant::now();
        let (flops, sink) = fma_chains(iters);
        (flops / start.elapsed().as_secs_f64(), sink)
    };
    let _ = run(); // wake the cores up
    let mut best = 0.0f64;
    for _ in 0..3 {
        let rates: Vec<(f64, f32)> = rayon::broadcast(|_| run());
        let total: f64 = rates.iter().map(|r| r.0).sum();
        std::hint::black_box(rates.iter().map(|r| r.1).sum::<f32>());
        best = best.max(total);
    }
    best / 1e9
}

/// (flops done, a value that depends on them).
fn fma_chains(iters: usize) -> (f64, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected.
            return (iters as f64 * 12.0 * 16.0 * 2.0, unsafe { fma_avx512(iters) });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected.
            return (iters as f64 * 12.0 * 8.0 * 2.0, unsafe { fma_avx2(iters) });
        }
    }
    let mut acc = [1.0f32; 12];
    for _ in 0..iters / 16 {
        for a in &mut acc {
            *a = a.mul_add(1.000_000_1, 1e-7);
        }
    }
    ((iters / 16) as f64 * 12.0 * 2.0, acc.iter().sum())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let (m, a) = (_mm512_set1_ps(1.000_000_1), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for v in &mut acc {
            *v = _mm512_fmadd_ps(*v, m, a);
        }
    }
    acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let (m, a) = (_mm256_set1_ps(1.000_000_1), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for v in &mut acc {
            *v = _mm256_fmadd_ps(*v, m, a);
        }
    }
    let mut lanes = [0.0f32; 8];
    acc.iter()
        .map(|v| {
            // SAFETY: `lanes` holds the 8 floats the store writes.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *v) };
            lanes.iter().sum::<f32>()
        })
        .sum()
}

/// deepwave's benchmark acquisition (`deepwave_cpu_step.py`): `shots` sources on row 1 at
/// round(linspace(0, nx − 1, shots)), a receiver at every column of row 1, `nt` steps of
/// 1 ms at 10 m, a 15 Hz Ricker, 4th order, C-PML 20.
pub fn deepwave_acquisition(nx: usize, shots: usize, nt: usize) -> Acquisition {
    let cols = (0..shots)
        .map(|i| if shots == 1 { 0 } else { (i as f64 * (nx - 1) as f64 / (shots - 1) as f64).round() as usize })
        .collect();
    Acquisition {
        nz: None,
        nx: None,
        dx: 10.0,
        dt: 1e-3,
        nt,
        f0: 15.0,
        sources: Positions::Row { z: 1, x: cols },
        receivers: Positions::Range { z: 1, x_from: 0, x_to: nx - 1, x_step: 1 },
        pml: 20,
        pml_r: 1e-3,
        decimate: 1,
        order: 4,
        substep: false,
        free_surface: false,
    }
}

/// The benchmark's velocity model: 1500 m/s at the top to 4500 m/s at the bottom.
pub fn gradient_model(nz: usize, nx: usize) -> Vec<f32> {
    (0..nz * nx).map(|i| (1500.0 + 3000.0 * (i / nx) as f64 / (nz - 1).max(1) as f64) as f32).collect()
}

/// One timed simulation of the CPU wave engine on deepwave's acquisition: (seconds,
/// cell-updates/s counted over the padded grid, as deepwave's script counts them).
pub fn wave(nz: usize, nx: usize, shots: usize, nt: usize) -> Result<(f64, f64)> {
    let acq = deepwave_acquisition(nx, shots, nt);
    let plan = WavePlan::new(&acq, nz, nx, 1500.0, 4500.0)?;
    let model = gradient_model(nz, nx);
    let start = Instant::now();
    std::hint::black_box(plan.run_cpu(&model, 1)?);
    let s = start.elapsed().as_secs_f64();
    let cells = (shots * plan.steps * plan.pnz * plan.pnx) as f64;
    Ok((s, cells / s))
}

// ------------------------------------------------------------------ anchors

/// Where the anchors' scripts are: `../shared/reference` beside the crate.
pub fn default_reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference")
}

/// Runs a python script and parses the JSON line it prints, or says why not.
fn python_json(script: &Path, args: &[String]) -> std::result::Result<serde_json::Value, String> {
    let out = Command::new("python3").arg(script).args(args).output().map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).ok_or("no JSON line")?;
    serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))
}

/// PyTorch's CPU training step and inference of `cfg` on `x` with `threads` threads:
/// (train ms, infer ms), medians of its 10 runs.
pub fn torch_step(dir: &Path, cfg: &Config, x: [usize; 4], threads: usize) -> std::result::Result<(f64, f64), String> {
    let widths: Vec<String> = cfg.widths.iter().map(|w| w.to_string()).collect();
    let mut args: Vec<String> = vec![
        "--in".into(),
        x[1].to_string(),
        "--h".into(),
        x[2].to_string(),
        "--w".into(),
        x[3].to_string(),
        "--widths".into(),
        widths.join(","),
        "--attention".into(),
        format!("{:?}", cfg.attention).to_lowercase(),
        "--batch".into(),
        x[0].to_string(),
        "--threads".into(),
        threads.to_string(),
    ];
    if cfg.gates {
        args.push("--gates".into());
    }
    let v = python_json(&dir.join("torch_cpu_step.py"), &args)?;
    let f = |k: &str| v[k].as_f64().ok_or_else(|| format!("no `{k}` in {v}"));
    Ok((f("train_step_ms")?, f("infer_ms")?))
}

/// deepwave's CPU propagator on the gradient model of nz × nx (written to `scratch`):
/// (seconds, cell-updates/s) of its one timed run.
pub fn deepwave(
    dir: &Path,
    scratch: &Path,
    nz: usize,
    nx: usize,
    shots: usize,
    nt: usize,
    threads: usize,
) -> std::result::Result<(f64, f64), String> {
    let model = scratch.join(format!("brine-anchor-model-{nz}x{nx}.npy"));
    crate::data::npy::write_atomic(&model, &[1, 1, nz, nx], &gradient_model(nz, nx)).map_err(|e| e.to_string())?;
    let args = [
        model.to_string_lossy().to_string(),
        "--shots".into(),
        shots.to_string(),
        "--nt".into(),
        nt.to_string(),
        "--threads".into(),
        threads.to_string(),
    ];
    let v = python_json(&dir.join("deepwave_cpu_step.py"), &args)?;
    let _ = std::fs::remove_file(&model);
    let f = |k: &str| v[k].as_f64().ok_or_else(|| format!("no `{k}` in {v}"));
    Ok((f("seconds")?, f("cell_updates_per_s")?))
}

/// deepwave's forward and backward (seconds) on a case that `seismic::bench::gradient` wrote
/// to `case`, by `benches/deepwave_gradient.py` with `threads` threads, after it checks that
/// deepwave's gradient agrees with brine's (correlation ≥ 0.99).
pub fn deepwave_gradient(case: &Path, threads: usize) -> std::result::Result<f64, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/deepwave_gradient.py");
    let args = [case.to_string_lossy().to_string(), "--threads".into(), threads.to_string()];
    let v = python_json(&script, &args)?;
    let corr = v["gradient_corr"].as_f64().ok_or_else(|| format!("no `gradient_corr` in {v}"))?;
    if corr < 0.99 {
        return Err(format!("deepwave's gradient correlates with brine's at only {corr}"));
    }
    v["deepwave_forward_backward_s"].as_f64().ok_or_else(|| format!("no `deepwave_forward_backward_s` in {v}"))
}

/// A brine figure beside its anchor's, median over rounds, with the median of the per-round
/// ratios.
#[derive(Clone, Debug)]
pub struct Pair {
    pub what: String,
    pub brine: f64,
    pub anchor: Option<f64>,
    pub unit: &'static str,
    /// brine / anchor for times (lower is better for brine), anchor / brine for rates, so
    /// that below 1 always means brine is faster.
    pub ratio: Option<f64>,
    pub note: String,
}

impl Pair {
    pub fn line(&self) -> String {
        match (self.anchor, self.ratio) {
            (Some(a), Some(r)) => format!(
                "{:<44} brine {:>10.4e} {}   anchor {:>10.4e}   brine time / anchor time {:.2}",
                self.what, self.brine, self.unit, a, r
            ),
            _ => format!("{:<44} brine {:>10.4e} {}   anchor: {}", self.what, self.brine, self.unit, self.note),
        }
    }
}

/// Alternates `brine()` and `anchor()` for `rounds` rounds; each returns a time (`is_rate`
/// false) or a rate.
pub fn alternate(
    what: &str,
    unit: &'static str,
    is_rate: bool,
    rounds: usize,
    mut brine: impl FnMut() -> Result<f64>,
    mut anchor: impl FnMut() -> std::result::Result<f64, String>,
) -> Result<Pair> {
    let (mut b, mut a, mut ratios, mut note) = (vec![], vec![], vec![], String::new());
    for _ in 0..rounds.max(1) {
        let bv = brine()?;
        b.push(bv);
        match anchor() {
            Ok(av) => {
                a.push(av);
                ratios.push(if is_rate { av / bv } else { bv / av });
            }
            Err(e) => {
                note = e;
                break;
            }
        }
    }
    let anchor = (!a.is_empty()).then(|| median(a));
    let ratio = (!ratios.is_empty()).then(|| median(ratios));
    Ok(Pair { what: what.to_string(), brine: median(b), anchor, unit, ratio, note })
}

/// The anchors of issue-level targets, each alternated with brine for `rounds` rounds:
/// PyTorch's CPU training step and inference of the U-Net (CBAM + gates, widths 32…256
/// and 8…64, batch 8, OpenFWI's 5 × 72 × 72 input; 24 × 24 when `quick`), and deepwave's
/// CPU propagator on 201 × 301 (2000 steps) and 70 × 70 (1000 steps) models, 5 shots, and
/// deepwave's gradient (forward and backward) on an OpenFWI sample beside brine's.
/// `report` sees each pair as it is measured.
pub fn anchors(
    dir: &Path,
    rounds: usize,
    quick: bool,
    threads: usize,
    mut report: impl FnMut(&Pair),
) -> Result<Vec<Pair>> {
    let mut pairs: Vec<Pair> = vec![];
    let mut keep = |p: Pair, pairs: &mut Vec<Pair>| {
        report(&p);
        pairs.push(p);
    };
    let (h, reps) = if quick { (24, 3) } else { (72, 10) };
    for widths in [vec![32, 64, 128, 256], vec![8, 16, 32, 64]] {
        let cfg =
            Config { in_channels: 5, out_channels: 1, widths, attention: crate::nn::Attention::Cbam, gates: true };
        let x = [8, 5, h, h];
        let name = config_name(&cfg);
        let (mut b_infer, mut a_infer) = (vec![], vec![]);
        let train = alternate(
            &format!("train step {name} {x:?}"),
            "ms",
            false,
            rounds,
            || {
                let row = step(&crate::device::Device::Cpu, &cfg, x, reps)?;
                b_infer.push(row.infer_ms);
                Ok(row.train_ms)
            },
            || {
                let (train, infer) = torch_step(dir, &cfg, x, threads)?;
                a_infer.push(infer);
                Ok(train)
            },
        )?;
        let note = train.note.clone();
        keep(train, &mut pairs);
        let brine = median(b_infer);
        let anchor = (!a_infer.is_empty()).then(|| median(a_infer));
        let ratio = anchor.map(|a| brine / a);
        keep(Pair { what: format!("inference {name} {x:?}"), brine, anchor, unit: "ms", ratio, note }, &mut pairs);
    }
    let scratch = std::env::temp_dir();
    let waves: &[(usize, usize, usize)] = if quick { &[(70, 70, 200)] } else { &[(201, 301, 2000), (70, 70, 1000)] };
    for &(nz, nx, nt) in waves {
        let pair = alternate(
            &format!("wave {nz}x{nx}, 5 shots, {nt} steps, cell-updates/s"),
            "1/s",
            true,
            rounds,
            || Ok(wave(nz, nx, 5, nt)?.1),
            || Ok(deepwave(dir, &scratch, nz, nx, 5, nt, threads)?.1),
        )?;
        keep(pair, &mut pairs);
    }
    let case = scratch.join("brine-anchor-gradient");
    let pair = alternate(
        "misfit gradient, OpenFWI sample, 5 shots, 1000 steps",
        "s",
        false,
        rounds,
        || Ok(crate::seismic::bench::gradient(&crate::device::Device::Cpu, "openfwi", 1, 1, Some(&case))?.0.gradient_s),
        || deepwave_gradient(&case, threads),
    )?;
    let _ = std::fs::remove_dir_all(&case);
    keep(pair, &mut pairs);
    Ok(pairs)
}
