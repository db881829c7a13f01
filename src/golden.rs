//! The golden runner: checks the kernels against PyTorch's float64 vectors in any directory
//! of safetensors files in the format of `shared/golden/README.md`. Everything it runs comes
//! from the files' metadata and tensor names, so other shapes and configs work unchanged.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::backend::Backend;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::*;

/// Op outputs and gradients: ‖out − ref‖₂ / ‖ref‖₂ must not exceed this.
pub const OP_REL_TOL: f64 = 1e-4;
/// Optimiser results: the largest absolute difference must not exceed this.
pub const ADAM_ABS_TOL: f64 = 1e-4;

/// One safetensors file of golden vectors, tensors widened to f64.
pub struct GoldenFile {
    pub path: PathBuf,
    pub meta: HashMap<String, String>,
    tensors: HashMap<String, (Vec<usize>, Vec<f64>)>,
}

impl GoldenFile {
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| Error::file(path, format!("unreadable header: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                safetensors::Dtype::F32 => {
                    data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect()
                }
                safetensors::Dtype::F64 => {
                    data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
                }
                d => {
                    return Err(Error::file(
                        path,
                        format!("tensor `{name}` has dtype {d:?}; only F32 and F64 are read"),
                    ));
                }
            };
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(GoldenFile { path: path.to_path_buf(), meta, tensors })
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    pub fn tensor(&self, name: &str) -> Result<&(Vec<usize>, Vec<f64>)> {
        self.tensors.get(name).ok_or_else(|| Error::file(&self.path, format!("lacks tensor `{name}`")))
    }

    pub fn f32(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.tensor(name)?.1.iter().map(|&v| v as f32).collect())
    }

    pub fn shape4(&self, name: &str) -> Result<Shape4> {
        let shape = &self.tensor(name)?.0;
        shape.as_slice().try_into().map_err(|_| {
            Error::file(&self.path, format!("tensor `{name}` has shape {shape:?}; a 4-D NCHW tensor was expected"))
        })
    }
}

/// One compared tensor.
#[derive(Clone, Debug)]
pub struct Check {
    pub tensor: String,
    /// Relative L2 error, or the largest absolute error for optimiser results.
    pub err: f64,
    pub bound: f64,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.err <= self.bound
    }
}

/// The outcome of one case: its checks, or the error that stopped it.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub name: String,
    pub op: String,
    pub checks: Vec<Check>,
    pub error: Option<String>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.checks.is_empty() && self.checks.iter().all(Check::passed)
    }
    /// The check furthest from its bound.
    pub fn worst(&self) -> Option<&Check> {
        self.checks.iter().max_by(|a, b| (a.err / a.bound).total_cmp(&(b.err / b.bound)))
    }
    /// "name  op  worst-error (tensor)  PASS|FAIL [why]"
    pub fn line(&self) -> String {
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let worst = match self.worst() {
            Some(c) => format!("{:.2e} ({}, bound {:.0e})", c.err, c.tensor, c.bound),
            None => "-".into(),
        };
        let why = match &self.error {
            Some(e) => format!("  {e}"),
            None => String::new(),
        };
        format!("{:<28} {:<18} {:<40} {verdict}{why}", self.name, self.op, worst)
    }
}

pub fn rel_l2(got: &[f32], want: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (g, w) in got.iter().zip(want) {
        num += (*g as f64 - w).powi(2);
        den += w * w;
    }
    if den == 0.0 { num.sqrt() } else { (num / den).sqrt() }
}

fn max_abs(got: &[f32], want: &[f64]) -> f64 {
    got.iter().zip(want).map(|(g, w)| (*g as f64 - w).abs()).fold(0.0, f64::max)
}

/// Runs every case of an ops file (metadata key = case name, value = JSON with `op`).
pub fn run_ops<B: Backend>(b: &B, file: &GoldenFile) -> Vec<CaseReport> {
    let cases: BTreeMap<&String, &String> = file.meta.iter().collect();
    cases
        .into_iter()
        .map(|(name, json)| {
            let spec: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            let op = spec.get("op").and_then(Value::as_str).unwrap_or("?").to_string();
            let mut report = CaseReport { name: name.clone(), op: op.clone(), checks: vec![], error: None };
            match run_case(b, file, name, &op, &spec) {
                Ok(outputs) => compare(file, name, &op, outputs, &mut report),
                Err(e) => report.error = Some(e.to_string()),
            }
            report
        })
        .collect()
}

/// Compares what a case produced with every reference output the file holds for it.
fn compare(file: &GoldenFile, case: &str, op: &str, outputs: Vec<(String, Vec<f32>)>, report: &mut CaseReport) {
    let produced: HashMap<String, Vec<f32>> = outputs.into_iter().collect();
    let adam = op.starts_with("adam");
    let prefix = format!("{case}.");
    let mut expected: Vec<&String> = file
        .names()
        .filter(|n| {
            n.strip_prefix(&prefix).is_some_and(|t| {
                if adam { t.starts_with('p') && t != "p0" } else { t == "y" || t.starts_with("grad_") }
            })
        })
        .collect();
    expected.sort();
    for short in produced.keys() {
        if !file.has(&format!("{prefix}{short}")) {
            report.error = Some(format!("the file has no reference `{prefix}{short}` for what this case computes"));
        }
    }
    let shape_of = |t: &str| file.tensors.get(&format!("{prefix}{t}")).map(|(s, _)| s.clone());
    for full in expected {
        let short = &full[prefix.len()..];
        let (have, want) = (&file.tensors[full].0, &file.tensors[full].1);
        // A reference has the shape of what it is compared with: y that of dy, grad_t that of
        // t, an Adam step that of p0.
        let should = match short.strip_prefix("grad_") {
            _ if adam => shape_of("p0"),
            Some(t) => shape_of(t),
            None if short == "y" => shape_of("dy"),
            None => None,
        };
        if let Some(should) = should.filter(|s| s != have) {
            report.error = Some(format!("reference `{full}` has shape {have:?}; it should be {should:?}"));
            continue;
        }
        let bound = if adam { ADAM_ABS_TOL } else { OP_REL_TOL };
        match produced.get(short) {
            Some(got) if got.len() == want.len() => {
                let err = if adam { max_abs(got, want) } else { rel_l2(got, want) };
                report.checks.push(Check { tensor: short.into(), err, bound });
            }
            Some(got) => {
                report.error = Some(format!("`{short}`: produced {} values, reference has {}", got.len(), want.len()))
            }
            None => report.error = Some(format!("`{short}` is in the file but this runner does not compute it")),
        }
    }
}

fn param_usize(spec: &Value, key: &str, default: Option<usize>) -> Result<usize> {
    match spec.get(key).and_then(Value::as_u64) {
        Some(v) => Ok(v as usize),
        None => default.ok_or_else(|| Error::config("golden", format!("case metadata lacks `{key}`"))),
    }
}

fn param_f32(spec: &Value, key: &str) -> Result<f32> {
    spec.get(key)
        .and_then(Value::as_f64)
        .map(|v| v as f32)
        .ok_or_else(|| Error::config("golden", format!("case metadata lacks `{key}`")))
}

fn dims(spec: &Value) -> Result<Vec<usize>> {
    spec.get("dims")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).map(|d| d as usize).collect())
        .ok_or_else(|| Error::config("golden", "case metadata lacks `dims`"))
}

type Outputs = Vec<(String, Vec<f32>)>;

fn run_case<B: Backend>(b: &B, f: &GoldenFile, case: &str, op: &str, spec: &Value) -> Result<Outputs> {
    let name = |t: &str| format!("{case}.{t}");
    let host = |t: &str| f.f32(&name(t));
    let up = |t: &str| -> Result<B::Tensor> { b.upload(t, &f.f32(&name(t))?) };
    let relu_first = spec.get("pre").and_then(Value::as_str) == Some("relu");
    // `pre: relu` cases apply the op to relu(x); their grad_x includes ReLU's derivative.
    let input = |t: &str| -> Result<B::Tensor> {
        let x = up(t)?;
        if relu_first { b.act_fwd(Act::Relu, &x) } else { Ok(x) }
    };
    let finish_dx = |dx: B::Tensor| -> Result<Vec<f32>> {
        let dx = if relu_first { b.act_bwd(Act::Relu, &up("x")?, &dx)? } else { dx };
        b.download(&dx)
    };
    let mut out: Outputs = vec![];
    match op {
        "conv2d" => {
            let ws = f.shape4(&name("w"))?;
            if ws[2] != ws[3] && spec.get("kernel").is_some() {
                return Err(Error::config("conv2d", format!("weight {ws:?} is not square")));
            }
            let g = Conv2d::new(
                f.shape4(&name("x"))?,
                ws[0],
                [ws[2], ws[3]],
                param_usize(spec, "stride", Some(1))?,
                param_usize(spec, "padding", Some(0))?,
            )?;
            let (x, w, dy) = (up("x")?, up("w")?, up("dy")?);
            let bias = if f.has(&name("b")) { Some(up("b")?) } else { None };
            out.push(("y".into(), b.download(&b.conv2d_fwd(&g, &x, &w, bias.as_ref())?)?));
            out.push(("grad_x".into(), b.download(&b.conv2d_bwd_data(&g, &dy, &w)?)?));
            out.push(("grad_w".into(), b.download(&b.conv2d_bwd_weight(&g, &x, &dy)?)?));
            if bias.is_some() {
                out.push(("grad_b".into(), b.download(&b.conv2d_bwd_bias(&g, &dy)?)?));
            }
        }
        "conv_transpose2d" => {
            let ws = f.shape4(&name("w"))?;
            let g = ConvTranspose2d::new(
                f.shape4(&name("x"))?,
                ws[1],
                ws[2],
                param_usize(spec, "stride", Some(1))?,
                param_usize(spec, "padding", Some(0))?,
            )?;
            let (x, w, dy) = (up("x")?, up("w")?, up("dy")?);
            let bias = if f.has(&name("b")) { Some(up("b")?) } else { None };
            out.push(("y".into(), b.download(&b.conv_transpose2d_fwd(&g, &x, &w, bias.as_ref())?)?));
            out.push(("grad_x".into(), b.download(&b.conv_transpose2d_bwd_data(&g, &dy, &w)?)?));
            out.push(("grad_w".into(), b.download(&b.conv_transpose2d_bwd_weight(&g, &x, &dy)?)?));
            if bias.is_some() {
                out.push(("grad_b".into(), b.download(&b.conv_transpose2d_bwd_bias(&g, &dy)?)?));
            }
        }
        "max_pool2d" => {
            let k = param_usize(spec, "kernel", Some(2))?;
            let s = param_usize(spec, "stride", Some(k))?;
            if k != 2 || s != 2 {
                return Err(Error::config("max_pool2d", format!("kernel {k} stride {s}: only 2x2/2 is implemented")));
            }
            let g = Pool2d::new(f.shape4(&name("x"))?)?;
            let (y, idx) = b.max_pool2d_fwd(&g, &input("x")?)?;
            out.push(("y".into(), b.download(&y)?));
            out.push(("grad_x".into(), finish_dx(b.max_pool2d_bwd(&g, &up("dy")?, &idx)?)?));
        }
        "batch_norm_train" => {
            let mut g = BatchNorm::new(f.shape4(&name("x"))?)?;
            if let Some(eps) = spec.get("eps").and_then(Value::as_f64) {
                g.eps = eps as f32;
            }
            let c = g.c();
            let (x, gamma, beta) = (up("x")?, up("gamma")?, up("beta")?);
            let (mut rm, mut rv) = (b.upload("running_mean", &vec![0.0; c])?, b.upload("running_var", &vec![1.0; c])?);
            let (y, mean, invstd) = b.batchnorm_train_fwd(&g, &x, &gamma, &beta, &mut rm, &mut rv)?;
            let (dx, dgamma, dbeta) = b.batchnorm_train_bwd(&g, &x, &gamma, &mean, &invstd, &up("dy")?)?;
            out.push(("y".into(), b.download(&y)?));
            out.push(("grad_x".into(), b.download(&dx)?));
            out.push(("grad_gamma".into(), b.download(&dgamma)?));
            out.push(("grad_beta".into(), b.download(&dbeta)?));
        }
        "mean" => {
            let g = Reduce::over_dims(f.shape4(&name("x"))?, &dims(spec)?)?;
            out.push(("y".into(), b.download(&b.reduce_mean_fwd(&g, &input("x")?)?)?));
            out.push(("grad_x".into(), finish_dx(b.reduce_mean_bwd(&g, &up("dy")?)?)?));
        }
        "max" => {
            let g = Reduce::over_dims(f.shape4(&name("x"))?, &dims(spec)?)?;
            let (y, idx) = b.reduce_max_fwd(&g, &input("x")?)?;
            out.push(("y".into(), b.download(&y)?));
            out.push(("grad_x".into(), finish_dx(b.reduce_max_bwd(&g, &up("dy")?, &idx)?)?));
        }
        "sigmoid_gate" => {
            let mode = Broadcast::parse(spec.get("broadcast").and_then(Value::as_str).unwrap_or(""))?;
            let g = Gate::new(f.shape4(&name("x"))?, mode)?;
            let (x, z) = (up("x")?, up("z")?);
            out.push(("y".into(), b.download(&b.gate_fwd(&g, &x, &z)?)?));
            let (dx, dz) = b.gate_bwd(&g, &x, &z, &up("dy")?)?;
            out.push(("grad_x".into(), b.download(&dx)?));
            out.push(("grad_z".into(), b.download(&dz)?));
        }
        "hswish" | "relu" | "relu6" | "sigmoid" => {
            let a = match op {
                "hswish" => Act::HSwish,
                "relu" => Act::Relu,
                "relu6" => Act::Relu6,
                _ => Act::Sigmoid,
            };
            let x = up("x")?;
            out.push(("y".into(), b.download(&b.act_fwd(a, &x)?)?));
            out.push(("grad_x".into(), b.download(&b.act_bwd(a, &x, &up("dy")?)?)?));
        }
        "concat" => {
            if param_usize(spec, "dim", Some(1))? != 1 {
                return Err(Error::config("concat", "only dim 1 (channels) is implemented"));
            }
            let g = Concat::new(f.shape4(&name("a"))?, f.shape4(&name("b"))?)?;
            out.push(("y".into(), b.download(&b.concat(&g, &up("a")?, &up("b")?)?)?));
            let (da, db) = b.split(&g, &up("dy")?)?;
            out.push(("grad_a".into(), b.download(&da)?));
            out.push(("grad_b".into(), b.download(&db)?));
        }
        "mse_loss" | "l1_loss" => {
            let l = if op == "mse_loss" { Loss::Mse } else { Loss::L1 };
            let (x, t) = (up("x")?, up("t")?);
            out.push(("y".into(), b.download(&b.loss_fwd(l, &x, &t)?)?));
            let dx = b.download(&b.loss_bwd(l, &x, &t, &up("dy")?)?)?;
            // Both losses depend on x − t only, so the target's gradient is −dx.
            out.push(("grad_t".into(), dx.iter().map(|v| -v).collect()));
            out.push(("grad_x".into(), dx));
        }
        "adam" | "adamw" => {
            let g = Adam {
                lr: param_f32(spec, "lr")?,
                beta1: param_f32(spec, "beta1")?,
                beta2: param_f32(spec, "beta2")?,
                eps: param_f32(spec, "eps")?,
                weight_decay: param_f32(spec, "weight_decay")?,
                decoupled: op == "adamw",
            };
            let steps = param_usize(spec, "steps", None)?;
            let p0 = host("p0")?;
            let mut p = b.upload("p", &p0)?;
            let (mut m, mut v) = (b.upload("m", &vec![0.0; p0.len()])?, b.upload("v", &vec![0.0; p0.len()])?);
            for t in 1..=steps {
                let grad = up(&format!("g{t}"))?;
                b.adam_step(&g, t as u32, &mut p, &grad, &mut m, &mut v)?;
                out.push((format!("p{t}"), b.download(&p)?));
            }
        }
        other => return Err(Error::config("golden", format!("unknown op `{other}`"))),
    }
    Ok(out)
}

/// What a file holds, judged by its metadata.
pub enum FileKind {
    Ops,
    /// A whole-network case (`case` metadata key): needs the graph executor.
    Net,
}

pub fn kind(file: &GoldenFile) -> FileKind {
    if file.meta.contains_key("case") { FileKind::Net } else { FileKind::Ops }
}

/// The `.safetensors` files of a directory, sorted.
pub fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot list: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::file(dir, "holds no .safetensors files"));
    }
    Ok(files)
}

/// Whole-network outputs, loss, running statistics and eval output: relative L2 bound.
pub const NET_REL_TOL: f64 = 1e-4;
/// Whole-network gradients: relative L2 bound.
pub const NET_GRAD_REL_TOL: f64 = 1e-3;

/// Runs a `net_*` file through a `Runner` on `device`: one training step (forward, MSE,
/// backward, Adam lr 1e-3), then an eval-mode forward, each result compared with the file.
/// The config comes from its metadata.
pub fn run_net(device: &Device, file: &GoldenFile) -> CaseReport {
    let name = file.path.file_stem().unwrap_or_default().to_string_lossy().to_string();
    let mut report = CaseReport { name, op: "AttnUNet".into(), checks: vec![], error: None };
    match net_case(device, file, &mut report) {
        Ok(()) => {}
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

fn net_case(device: &Device, f: &GoldenFile, report: &mut CaseReport) -> Result<()> {
    use crate::nn::Config;
    use crate::nn::programs::{LossKind, shapes};
    use crate::runner::{HostState, Init, Runner, Training};
    let meta: Value = serde_json::from_str(f.meta.get("case").map(String::as_str).unwrap_or(""))
        .map_err(|e| Error::file(&f.path, format!("metadata `case` is not JSON: {e}")))?;
    let cfg: Config = serde_json::from_value(meta.get("config").cloned().unwrap_or(Value::Null))
        .map_err(|e| Error::file(&f.path, format!("metadata `case.config` is not an AttnUNet config: {e}")))?;
    report.op = format!("AttnUNet {:?}{}", cfg.attention, if cfg.gates { "+gates" } else { "" }).to_lowercase();
    let xs = f.shape4("input")?;
    let (params, buffers) = shapes(&cfg)?;
    // Every tensor of the config must be in the file with its shape, and nothing else.
    let mut store = crate::graph::exec::Store::default();
    for (prefix, list, into_params) in [("param.", &params, true), ("buffer.", &buffers, false)] {
        for (name, shape) in list {
            let key = format!("{prefix}{name}");
            let (got, _) = f.tensor(&key)?;
            if got != shape {
                return Err(Error::file(&f.path, format!("`{key}` has shape {got:?}, the config needs {shape:?}")));
            }
            let t = f.f32(&key)?;
            if into_params {
                store.params.insert(name.clone(), t)
            } else {
                store.buffers.insert(name.clone(), t)
            };
        }
    }
    for n in f.names().filter(|n| n.starts_with("param.")) {
        if !params.iter().any(|(p, _)| n[6..] == *p) {
            return Err(Error::file(&f.path, format!("`{n}` is not a parameter of {cfg:?}")));
        }
    }
    let mut check = |tensor: &str, got: Vec<f32>, bound: f64, abs: bool| -> Result<()> {
        let want = &f.tensor(tensor)?.1;
        if got.len() != want.len() {
            return Err(Error::file(
                &f.path,
                format!("`{tensor}`: computed {} values, the file has {}", got.len(), want.len()),
            ));
        }
        let err = if abs { max_abs(&got, want) } else { rel_l2(&got, want) };
        report.checks.push(Check { tensor: tensor.into(), err, bound });
        Ok(())
    };
    let opt = crate::optim::Optimizer::new(&crate::backend::Reference, Adam::default(), &params)?;
    let state = HostState { store, opt: Some(opt) };
    let training = Training { loss: LossKind::MSE, hyper: Adam::default(), input_grad: true };
    let mut runner = Runner::new(device, &cfg, xs, Some(training), Init::State(state))?;
    let x = f.f32("input")?;
    runner.step(&x, &f.f32("target")?)?;
    runner.losses()?;
    let step = runner.train_step().ok_or_else(|| Error::config("golden", "the runner has no training step"))?;
    let (output, loss, input_grad, grads) = (step.output, step.loss, step.input_grad, step.param_grads.clone());
    check("output", runner.kept(output)?, NET_REL_TOL, false)?;
    check("loss", runner.kept(loss)?, NET_REL_TOL, false)?;
    if let Some(gi) = input_grad {
        check("grad.input", runner.kept(gi)?, NET_GRAD_REL_TOL, false)?;
    }
    for (name, v) in &grads {
        check(&format!("grad.{name}"), runner.kept(*v)?, NET_GRAD_REL_TOL, false)?;
    }
    let after = runner.state()?;
    for (name, _) in &buffers {
        check(&format!("buffer_after.{name}"), after.store.buffers[name].clone(), NET_REL_TOL, false)?;
    }
    for (name, _) in &params {
        check(&format!("param_after_adam.{name}"), after.store.params[name].clone(), ADAM_ABS_TOL, true)?;
    }
    check("eval_output", runner.predict(&x)?, NET_REL_TOL, false)?;
    Ok(())
}
