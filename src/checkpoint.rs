//! Checkpoints as `.safetensors` whose tensor names are PyTorch's `state_dict` names, so
//! `AttnUNet(**config).load_state_dict(safetensors.torch.load_file(path))` works, and the
//! reverse. The config rides in the metadata; Adam's state goes to a file beside it
//! (`<stem>.optim.safetensors`) so that the model file holds exactly the state_dict.
//! Files are written to a temporary name and renamed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use safetensors::tensor::TensorView;

use crate::backend::Backend;
use crate::data::Norm;
use crate::error::{Error, Result};
use crate::graph::exec::Store;
use crate::nn::Config;
use crate::nn::programs::shapes;
use crate::optim::Optimizer;
use crate::train::layout::Layout;

/// Metadata keys: the network's config (model and optimiser files), the optimiser's step
/// count, and what maps data onto the network and back (see `Model`).
pub const CONFIG_KEY: &str = "brine.config";
const STEP_KEY: &str = "brine.step";
pub const LAYOUT_KEY: &str = "brine.layout";
pub const NORM_KEY: &str = "brine.norm";
pub const DX_KEY: &str = "brine.dx";
pub const BASELINE_KEY: &str = "brine.baseline";

/// What a network must beat, from its training set: the mean velocity model and the mean
/// 1-D depth profile (m/s).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// nz × nx.
    pub mean_model: Vec<f32>,
    /// nz: the mean over samples and columns of each depth row.
    pub mean_profile: Vec<f32>,
}

impl Baseline {
    /// The baselines of `n` models of nz × nx (m/s); None without models.
    pub fn of(models: &[f32], nz: usize, nx: usize) -> Option<Baseline> {
        let m = nz * nx;
        let n = models.len() / m.max(1);
        if n == 0 {
            return None;
        }
        let mut sum = vec![0.0f64; m];
        for model in models.chunks_exact(m) {
            for (s, &v) in sum.iter_mut().zip(model) {
                *s += v as f64;
            }
        }
        let mean_model: Vec<f32> = sum.iter().map(|s| (s / n as f64) as f32).collect();
        let mean_profile = mean_model
            .chunks_exact(nx)
            .map(|row| (row.iter().map(|&v| v as f64).sum::<f64>() / nx as f64) as f32)
            .collect();
        Some(Baseline { mean_model, mean_profile })
    }

    /// The mean profile repeated across every column (nz × nx).
    pub fn profile_model(&self, nx: usize) -> Vec<f32> {
        self.mean_profile.iter().flat_map(|&v| std::iter::repeat_n(v, nx)).collect()
    }
}

/// Writes `tensors` (f32 tensors, plus i64 scalars) atomically.
fn write(
    path: &Path,
    f32s: &[(String, Vec<usize>, Vec<f32>)],
    i64s: &[(String, i64)],
    meta: HashMap<String, String>,
) -> Result<()> {
    let bytes32: Vec<(&str, &[usize], &[u8])> =
        f32s.iter().map(|(n, s, v)| (n.as_str(), s.as_slice(), bytemuck::cast_slice::<f32, u8>(v))).collect();
    let bytes64: Vec<(&str, [u8; 8])> = i64s.iter().map(|(n, v)| (n.as_str(), v.to_le_bytes())).collect();
    let mut views = vec![];
    for (n, s, b) in &bytes32 {
        views.push((
            n.to_string(),
            TensorView::new(Dtype::F32, s.to_vec(), b).map_err(|e| Error::file(path, e.to_string()))?,
        ));
    }
    for (n, b) in &bytes64 {
        views.push((
            n.to_string(),
            TensorView::new(Dtype::I64, vec![], b).map_err(|e| Error::file(path, e.to_string()))?,
        ));
    }
    crate::data::write_via_temp(path, |tmp| {
        safetensors::serialize_to_file(views, Some(meta), tmp)
            .map_err(|e| Error::file(tmp, format!("cannot write: {e}")))
    })
}

/// The path of the optimiser state beside a checkpoint.
pub fn optimizer_path(path: &Path) -> PathBuf {
    path.with_extension("optim.safetensors")
}

fn downloaded<B: Backend>(
    b: &B,
    map: &BTreeMap<String, B::Tensor>,
    list: &[(String, Vec<usize>)],
) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>> {
    list.iter()
        .map(|(name, shape)| {
            let t = map
                .get(name)
                .ok_or_else(|| Error::config("checkpoint", format!("the model has no tensor `{name}`")))?;
            Ok((name.clone(), shape.clone(), b.download(t)?))
        })
        .collect()
}

/// Saves the model (and, when given, its optimiser) for `cfg`.
pub fn save<B: Backend>(
    b: &B,
    path: &Path,
    cfg: &Config,
    store: &Store<B::Tensor>,
    opt: Option<&Optimizer<B::Tensor>>,
) -> Result<()> {
    save_with(b, path, cfg, store, opt, &HashMap::new())
}

/// `save`, with extra metadata entries (a data layout and normalisation, say) that
/// `metadata` gives back.
pub fn save_with<B: Backend>(
    b: &B,
    path: &Path,
    cfg: &Config,
    store: &Store<B::Tensor>,
    opt: Option<&Optimizer<B::Tensor>>,
    extra: &HashMap<String, String>,
) -> Result<()> {
    let (params, buffers) = shapes(cfg)?;
    let mut tensors = downloaded(b, &store.params, &params)?;
    tensors.extend(downloaded(b, &store.buffers, &buffers)?);
    let step = opt.map_or(0, |o| o.step as i64);
    // PyTorch's BatchNorm keeps a batch counter; strict loading expects it.
    let counters: Vec<(String, i64)> = buffers
        .iter()
        .filter_map(|(n, _)| n.strip_suffix(".running_mean").map(|m| (format!("{m}.num_batches_tracked"), step)))
        .collect();
    let config = serde_json::to_string(cfg).map_err(|e| Error::config("checkpoint", e.to_string()))?;
    let mut meta = extra.clone();
    meta.insert(CONFIG_KEY.to_string(), config.clone());
    // The optimiser's step stamps both files, so a pair from different saves is refused.
    if let Some(o) = opt {
        meta.insert(STEP_KEY.to_string(), o.step.to_string());
    }
    write(path, &tensors, &counters, meta)?;
    if let Some(o) = opt {
        let mut state = downloaded(b, &o.m, &params)?;
        for t in &mut state {
            t.0 = format!("exp_avg.{}", t.0);
        }
        for (name, shape, v) in downloaded(b, &o.v, &params)? {
            state.push((format!("exp_avg_sq.{name}"), shape, v));
        }
        let meta = HashMap::from([(CONFIG_KEY.to_string(), config), (STEP_KEY.to_string(), o.step.to_string())]);
        write(&optimizer_path(path), &state, &[], meta)?;
    }
    Ok(())
}

struct Loaded {
    meta: HashMap<String, String>,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

/// The first tensor whose header entry does not fit the file (bad offsets, or a byte
/// count that disagrees with its shape and type), for an error that names it.
fn misfit_tensor(bytes: &[u8]) -> Option<String> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    let data = (bytes.len() - 8 - n) as u64;
    let mut names: Vec<(&String, &serde_json::Value)> = header.as_object()?.iter().collect();
    names.sort_by_key(|(k, _)| k.as_str());
    for (name, t) in names.into_iter().filter(|(k, _)| *k != "__metadata__") {
        let off: Vec<u64> = t.get("data_offsets")?.as_array()?.iter().filter_map(|v| v.as_u64()).collect();
        let elems = t.get("shape")?.as_array()?.iter().try_fold(1u64, |a, d| a.checked_mul(d.as_u64()?));
        let size = match t.get("dtype")?.as_str()? {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let fits = match (off.as_slice(), elems) {
            ([a, b], Some(e)) => a <= b && *b <= data && e.checked_mul(size) == Some(b - a),
            _ => false,
        };
        if !fits {
            return Some(format!("tensor `{name}`: offsets {off:?} and shape do not fit the file's {data} data bytes"));
        }
    }
    None
}

fn read(path: &Path) -> Result<Loaded> {
    if path.is_dir() {
        return Err(Error::file(path, "is a directory; expected a .safetensors checkpoint"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        let why = misfit_tensor(&bytes).unwrap_or_else(|| e.to_string());
        Error::file(path, format!("not a valid safetensors file: {why}"))
    })?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::file(path, e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        match view.dtype() {
            // PyTorch's BatchNorm batch counters, whatever their type: brine keeps its own.
            _ if name.ends_with("num_batches_tracked") => {}
            Dtype::F32 => {
                let v: Vec<f32> =
                    view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(Error::file(
                        path,
                        format!("tensor `{name}` holds {} at index {i}: weights must be finite", v[i]),
                    ));
                }
                tensors.insert(name, (view.shape().to_vec(), v));
            }
            d => return Err(Error::file(path, format!("tensor `{name}` is {d:?}; brine reads float32"))),
        }
    }
    Ok(Loaded { meta: header.metadata().clone().unwrap_or_default(), tensors })
}

/// Takes exactly the named tensors with their shapes out of `loaded`.
fn take<B: Backend>(
    b: &B,
    path: &Path,
    loaded: &mut Loaded,
    list: &[(String, Vec<usize>)],
    prefix: &str,
) -> Result<BTreeMap<String, B::Tensor>> {
    let mut out = BTreeMap::new();
    for (name, shape) in list {
        let key = format!("{prefix}{name}");
        let (got, data) =
            loaded.tensors.remove(&key).ok_or_else(|| Error::file(path, format!("lacks tensor `{key}`")))?;
        if &got != shape {
            return Err(Error::file(path, format!("tensor `{key}` has shape {got:?}, the config needs {shape:?}")));
        }
        out.insert(name.clone(), b.upload(name, &data)?);
    }
    Ok(out)
}

/// Loads a checkpoint. Its config must equal `expected` when one is given. Tensors that
/// are missing, extra or misshapen are errors naming them.
pub fn load<B: Backend>(b: &B, path: &Path, expected: Option<&Config>) -> Result<(Config, Store<B::Tensor>)> {
    let mut loaded = read(path)?;
    let cfg: Config = match (loaded.meta.get(CONFIG_KEY), expected) {
        (Some(json), _) => serde_json::from_str(json)
            .map_err(|e| Error::file(path, format!("metadata `{CONFIG_KEY}` is not a config: {e}")))?,
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(Error::file(path, format!("has no `{CONFIG_KEY}` metadata; give the config explicitly")));
        }
    };
    if let Some(want) = expected
        && want != &cfg
    {
        return Err(Error::file(path, format!("holds config {cfg:?}, but {want:?} was asked for")));
    }
    cfg.validate()?;
    let (params, buffers) = shapes(&cfg)?;
    let store =
        Store { params: take(b, path, &mut loaded, &params, "")?, buffers: take(b, path, &mut loaded, &buffers, "")? };
    if let Some(extra) = loaded.tensors.keys().min() {
        return Err(Error::file(path, format!("has tensor `{extra}`, which the config {cfg:?} does not use")));
    }
    Ok((cfg, store))
}

/// A checkpoint's metadata (the config under `brine.config`, and what `save_with` added).
pub fn metadata(path: &Path) -> Result<HashMap<String, String>> {
    if path.is_dir() {
        return Err(Error::file(path, "is a directory; expected a .safetensors checkpoint"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        let why = misfit_tensor(&bytes).unwrap_or_else(|| e.to_string());
        Error::file(path, format!("not a valid safetensors file: {why}"))
    })?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Loads the optimiser state saved beside a checkpoint.
pub fn load_optimizer<B: Backend>(
    b: &B,
    path: &Path,
    cfg: &Config,
    hyper: crate::ops::Adam,
) -> Result<Optimizer<B::Tensor>> {
    let opath = optimizer_path(path);
    let mut loaded = read(&opath)?;
    let step: u32 = loaded
        .meta
        .get(STEP_KEY)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::file(&opath, format!("lacks the `{STEP_KEY}` metadata")))?;
    if let Some(model_step) = metadata(path)?.get(STEP_KEY)
        && model_step.parse::<u32>().ok() != Some(step)
    {
        return Err(Error::file(
            &opath,
            format!(
                "is from step {step}, {} from step {model_step}: the two were not saved together (an interrupted \
                 save?); refusing to resume from a mismatched pair",
                path.display()
            ),
        ));
    }
    let (params, _) = shapes(cfg)?;
    let m = take(b, &opath, &mut loaded, &params, "exp_avg.")?;
    let v = take(b, &opath, &mut loaded, &params, "exp_avg_sq.")?;
    if let Some(extra) = loaded.tensors.keys().min() {
        return Err(Error::file(&opath, format!("has tensor `{extra}`, which the config does not use")));
    }
    Ok(Optimizer { hyper, step, m, v })
}

/// What a checkpoint needs to be used on data: its network, data layout and normalisation.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    pub layout: Layout,
    pub norm: Norm,
    /// Grid spacing in metres, for figures.
    pub dx: f32,
    /// The training set's baselines (checkpoints from before they were kept have none).
    pub baseline: Option<Baseline>,
}

impl Model {
    /// Reads a checkpoint's metadata.
    pub fn read(checkpoint: &Path) -> Result<Model> {
        let meta = metadata(checkpoint)?;
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| Error::file(checkpoint, format!("lacks the `{key}` metadata that `brine train` writes")))
        };
        let parse = |key: &str, e: serde_json::Error| Error::file(checkpoint, format!("metadata `{key}`: {e}"));
        let bad = |key: &str, why: String| Error::file(checkpoint, format!("metadata `{key}`: {why}"));
        let config: Config = serde_json::from_str(get(CONFIG_KEY)?).map_err(|e| parse(CONFIG_KEY, e))?;
        config.validate().map_err(|e| bad(CONFIG_KEY, e.to_string()))?;
        let layout: Layout = serde_json::from_str(get(LAYOUT_KEY)?).map_err(|e| parse(LAYOUT_KEY, e))?;
        let l = &layout;
        let derived = Layout::new(l.shots, l.nt, l.nrec, l.nz, l.nx, config.widths.len())
            .and_then(|d| d.with_phases(l.phases))
            .map_err(|e| bad(LAYOUT_KEY, e.to_string()))?;
        if derived != layout || l.channels() != config.in_channels {
            return Err(bad(LAYOUT_KEY, format!("{layout:?} does not fit the network {config:?}")));
        }
        crate::limits::check(
            &format!("{}: metadata `{LAYOUT_KEY}` (one sample)", checkpoint.display()),
            crate::limits::bytes(&[l.shots, (l.h * l.phases).max(l.nt), l.w.max(l.nrec)], 4),
        )?;
        let norm: Norm = serde_json::from_str(get(NORM_KEY)?).map_err(|e| parse(NORM_KEY, e))?;
        let finite = [norm.data_min, norm.data_max, norm.model_min, norm.model_max].iter().all(|v| v.is_finite());
        if !finite || norm.data_min > norm.data_max || !(norm.model_min > 0.0 && norm.model_min < norm.model_max) {
            return Err(bad(NORM_KEY, format!("{norm:?}: bounds must be finite, velocities positive and min < max")));
        }
        let dx = match meta.get(DX_KEY) {
            None => 10.0,
            Some(v) => v
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|d| d.is_finite() && *d > 0.0)
                .ok_or_else(|| bad(DX_KEY, format!("`{v}` is not a positive grid spacing in metres")))?,
        };
        let baseline = match meta.get(BASELINE_KEY) {
            None => None,
            Some(text) => {
                let b: Baseline = serde_json::from_str(text).map_err(|e| parse(BASELINE_KEY, e))?;
                let finite = b.mean_model.iter().chain(&b.mean_profile).all(|v| v.is_finite() && *v > 0.0);
                if b.mean_model.len() != l.nz * l.nx || b.mean_profile.len() != l.nz || !finite {
                    return Err(bad(
                        BASELINE_KEY,
                        format!("does not hold positive {} × {} and {} velocities", l.nz, l.nx, l.nz),
                    ));
                }
                Some(b)
            }
        };
        Ok(Model { config, layout, norm, dx, baseline })
    }

    /// The metadata entries `read` takes back (the config is written with the tensors).
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut meta = HashMap::from([
            (LAYOUT_KEY.to_string(), serde_json::to_string(&self.layout).expect("a layout serialises")),
            (NORM_KEY.to_string(), serde_json::to_string(&self.norm).expect("a norm serialises")),
            (DX_KEY.to_string(), self.dx.to_string()),
        ]);
        if let Some(b) = &self.baseline {
            meta.insert(BASELINE_KEY.to_string(), serde_json::to_string(b).expect("a baseline serialises"));
        }
        meta
    }

    /// Normalised network output (h × w) to a velocity model in m/s (nz × nx).
    pub fn to_velocity(&self, out: &[f32]) -> Result<Vec<f32>> {
        let mut v = self.layout.crop(out)?;
        self.norm.denormalize_model(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::Baseline;

    #[test]
    fn baselines_of_two_models() {
        // Two 2 × 3 models: the mean model cell by cell, the profile row by row.
        let models = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 3.0, 2.0, 1.0, 6.0, 5.0, 4.0];
        let b = Baseline::of(&models, 2, 3).unwrap();
        assert_eq!(b.mean_model, vec![2.0, 2.0, 2.0, 5.0, 5.0, 5.0]);
        assert_eq!(b.mean_profile, vec![2.0, 5.0]);
        assert_eq!(b.profile_model(3), vec![2.0, 2.0, 2.0, 5.0, 5.0, 5.0]);
        assert_eq!(Baseline::of(&[], 2, 3), None);
    }
}
