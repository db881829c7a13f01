//! `brine synth`: a dataset of random salt models and their simulated shot gathers, as
//! shards in OpenFWI's layout (see `data::shards` for the files and how a set is split).

use std::path::PathBuf;

use crate::data::shards::{Description, ShardSpec, complete, data_path, model_path, stats_path};
use crate::data::{Norm, npy, write_file_atomic};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::seismic::{Acquisition, forward, model};

/// A `brine synth` job.
#[derive(Clone, Debug)]
pub struct Synth {
    pub acq: Acquisition,
    pub count: usize,
    pub seed: u64,
    pub geology: model::Geology,
    pub shard: ShardSpec,
    pub per_file: usize,
    pub out: PathBuf,
}

/// What a synth run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub files_written: usize,
    pub files_skipped: usize,
    pub samples: usize,
    pub seconds: f64,
    /// The bounds of the whole set, once every file exists.
    pub norm: Option<Norm>,
}

/// Files one set may have.
const MAX_FILES: usize = 10_000_000;

/// Whether the `.npy` file at `path` has exactly `shape` and all its bytes.
fn whole(path: &std::path::Path, shape: &[usize]) -> bool {
    let header = npy::header(shape).len() as u64;
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    npy::shape(path).is_ok_and(|s| s == shape) && len == header + shape.iter().product::<usize>() as u64 * 4
}

/// Runs a synth job; `log` receives warnings (once), `progress` shows a bar with samples/s.
pub fn synth(job: &Synth, device: &Device, progress: bool, mut log: impl FnMut(&str)) -> Result<Report> {
    let acq = &job.acq;
    acq.check()?;
    let (Some(nz), Some(nx)) = (acq.nz, acq.nx) else {
        return Err(Error::config("synth", "the acquisition must give the model size (nz, nx) to generate models"));
    };
    if job.count == 0 || job.per_file == 0 {
        return Err(Error::config("synth", "--count and --per-file must be at least 1"));
    }
    let files = job.count.div_ceil(job.per_file);
    if files > MAX_FILES {
        return Err(Error::config(
            "synth",
            format!(
                "--count {} in files of --per-file {} makes {files} files, at most {MAX_FILES}",
                job.count, job.per_file
            ),
        ));
    }
    let (shots, samples, receivers) = (acq.sources.points().len(), acq.samples(), acq.receivers.points().len());
    let per_file = job.per_file.min(job.count);
    // One file's gathers and models, twice over while they are written.
    crate::limits::check(
        &format!("--per-file {per_file}"),
        crate::limits::bytes(&[per_file, shots * samples * receivers + nz * nx, 2], 4),
    )?;
    let data_shape = |n: usize| [n, shots, samples, receivers];
    std::fs::create_dir_all(&job.out).map_err(|e| Error::file(&job.out, e.to_string()))?;
    let desc = Description {
        generator: format!("brine {} salt models", env!("CARGO_PKG_VERSION")),
        seed: job.seed,
        count: job.count,
        per_file: job.per_file,
        acquisition: acq.clone(),
        geology: job.geology,
    };
    let desc_path = job.out.join("dataset.json");
    if desc_path.exists() {
        let text = std::fs::read_to_string(&desc_path).map_err(|e| Error::file(&desc_path, e.to_string()))?;
        let old: Description = serde_json::from_str(&text)
            .map_err(|e| Error::file(&desc_path, format!("not a brine dataset description: {e}")))?;
        if old.seed != desc.seed
            || old.count != desc.count
            || old.per_file != desc.per_file
            || old.acquisition != *acq
            || old.geology != desc.geology
        {
            return Err(Error::file(
                &desc_path,
                "describes another set (seed, count, per-file, acquisition or geology differ): use another --out directory",
            ));
        }
    } else {
        write_file_atomic(&desc_path, serde_json::to_string_pretty(&desc).expect("serialises").as_bytes())?;
    }
    let size = |c: usize| job.per_file.min(job.count - c * job.per_file);
    let mine: Vec<usize> = (0..files).filter(|c| c % job.shard.of == job.shard.index).collect();
    // A file counts as done only when all three are there and whole: a truncated or
    // foreign file is made again.
    let intact = |c: usize| {
        complete(&job.out, c)
            && whole(&data_path(&job.out, c), &data_shape(size(c)))
            && whole(&model_path(&job.out, c), &[size(c), 1, nz, nx])
            && Norm::load(&stats_path(&job.out, c)).is_ok()
    };
    let todo: Vec<usize> = mine.iter().copied().filter(|&c| !intact(c)).collect();
    let total: usize = todo.iter().map(|&c| size(c)).sum();
    let bar = super::progress_bar(
        progress,
        total as u64,
        "{bar:40} {pos}/{len} samples  {per_sec}  elapsed {elapsed_precise}  eta {eta}",
    );
    let start = std::time::Instant::now();
    let mut report = Report { files_skipped: mine.len() - todo.len(), ..Default::default() };
    let mut warned = false;
    for c in todo {
        let k0 = c * job.per_file;
        let n = size(c);
        let mut models = Vec::with_capacity(n * nz * nx);
        for k in k0..k0 + n {
            models.extend(model::sample(job.geology, job.seed, k as u64, nz, nx));
        }
        let base = bar.position();
        let (plan, data) = forward(device, acq, &models, n, nz, nx, |done| bar.set_position(base + done as u64))?;
        if !warned {
            plan.warnings.iter().for_each(|w| bar.suspend(|| log(w)));
            warned = true;
        }
        npy::write_atomic(&data_path(&job.out, c), &[n, plan.shots, plan.samples, plan.receivers], &data)?;
        npy::write_atomic(&model_path(&job.out, c), &[n, 1, nz, nx], &models)?;
        let stats = Norm::of(&data, &models);
        write_file_atomic(
            &stats_path(&job.out, c),
            serde_json::to_string_pretty(&stats).expect("serialises").as_bytes(),
        )?;
        report.files_written += 1;
        report.samples += n;
    }
    bar.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    // The whole set's bounds, once every file exists (whichever process finishes last).
    if (0..files).all(|c| complete(&job.out, c)) {
        let mut norm: Option<Norm> = None;
        for c in 0..files {
            let s = Norm::load(&stats_path(&job.out, c))?;
            norm = Some(norm.map_or(s, |n| n.merge(&s)));
        }
        let norm = norm.expect("at least one file");
        norm.save(&job.out.join("norm.json"))?;
        report.norm = Some(norm);
    }
    Ok(report)
}
