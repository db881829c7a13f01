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
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(views, Some(meta), &tmp)
        .map_err(|e| Error::file(&tmp, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::file(path, format!("cannot rename {} into place: {e}", tmp.display())))
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

fn read(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::file(path, e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        match view.dtype() {
            Dtype::F32 => {
                let v = view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
                tensors.insert(name, (view.shape().to_vec(), v));
            }
            Dtype::I64 if name.ends_with("num_batches_tracked") => {}
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
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
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
        Ok(Model {
            config: serde_json::from_str(get(CONFIG_KEY)?).map_err(|e| parse(CONFIG_KEY, e))?,
            layout: serde_json::from_str(get(LAYOUT_KEY)?).map_err(|e| parse(LAYOUT_KEY, e))?,
            norm: serde_json::from_str(get(NORM_KEY)?).map_err(|e| parse(NORM_KEY, e))?,
            dx: meta.get(DX_KEY).and_then(|v| v.parse().ok()).unwrap_or(10.0),
        })
    }

    /// The metadata entries `read` takes back (the config is written with the tensors).
    pub fn metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            (LAYOUT_KEY.to_string(), serde_json::to_string(&self.layout).expect("a layout serialises")),
            (NORM_KEY.to_string(), serde_json::to_string(&self.norm).expect("a norm serialises")),
            (DX_KEY.to_string(), self.dx.to_string()),
        ])
    }

    /// Normalised network output (h × w) to a velocity model in m/s (nz × nx).
    pub fn to_velocity(&self, out: &[f32]) -> Result<Vec<f32>> {
        let mut v = self.layout.crop(out)?;
        self.norm.denormalize_model(&mut v)?;
        Ok(v)
    }
}
