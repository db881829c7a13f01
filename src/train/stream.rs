//! Training data streamed from shards: memory bounded by a window of files, not by the set.
//! Each epoch shuffles the order of the files, reads `window` of them at a time (read,
//! normalise, lay out — on the loader thread, while the runner works), shuffles their
//! training samples together and sends full batches; samples left over carry into the next
//! window, so every epoch sends `samples() / b` batches. The held-out samples (every
//! `val_every`-th, as in memory) are kept in memory for validation.

use std::path::Path;
use std::sync::mpsc::SyncSender;

use super::dataset::{Part, Scan, bounds, check_fits, held_out, lay_out, spacing};
use super::fit::{Batch, Batches, Samples, shuffled};
use super::layout::Layout;
use crate::data::{Norm, Shard};
use crate::error::Result;
use crate::rng::Rng;

pub struct Stream {
    files: Vec<Part>,
    pub layout: Layout,
    pub norm: Norm,
    /// Grid spacing in metres (from `dataset.json`, else 10 m).
    pub dx: f32,
    val_every: usize,
    window: usize,
    train: usize,
}

impl Stream {
    /// Streams the set `dir` as `scan` found it (`dataset::scan`), with the bounds `norm`
    /// gives, else those of `norm.json`, else of one pass over the files.
    pub fn open(
        dir: &Path,
        Scan { parts: files, shape }: Scan,
        layout: Layout,
        norm: Option<Norm>,
        val_every: usize,
        window: usize,
    ) -> Result<Stream> {
        check_fits(&files, shape, &layout)?;
        let norm = match norm {
            Some(n) => n,
            None => bounds(dir, &files)?,
        };
        let largest = files.iter().map(|f| f.count).max().unwrap_or(0);
        let per = layout.data_len() + layout.input_len() + 2 * (layout.model_len() + layout.target_len());
        crate::limits::check(
            &format!("{}: streaming {window} files of up to {largest} samples", dir.display()),
            crate::limits::bytes(&[window, largest, per], 4),
        )?;
        let total: usize = files.iter().map(|f| f.len).sum();
        let train = (0..total).filter(|&i| !held_out(i, val_every)).count();
        Ok(Stream { files, layout, norm, dx: spacing(dir), val_every, window, train })
    }

    /// In one pass over the files: the held-out samples (for validation), and the mean of
    /// the training samples' velocity models (m/s, for the baselines).
    pub fn validation_and_mean_model(&self) -> Result<(Samples, Vec<f32>)> {
        let m = self.layout.model_len();
        let (mut val, mut held_models) = (Samples::new(&self.layout), vec![]);
        let (mut sum, mut n) = (vec![0.0f64; m], 0usize);
        for f in &self.files {
            let s = Shard::open(&f.data, &f.models)?;
            for i in (0..f.len).filter(|&i| !held_out(f.first + i, self.val_every)) {
                for (a, &v) in sum.iter_mut().zip(&s.models.data[i * m..][..m]) {
                    *a += v as f64;
                }
                n += 1;
            }
            let keep = |i: usize| i < f.len && held_out(f.first + i, self.val_every);
            lay_out(s, &self.layout, &self.norm, keep, &mut val, &mut held_models)?;
        }
        Ok((val, sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect()))
    }

    fn epoch(&self, mut rng: Rng, b: usize, tx: &SyncSender<Result<Batch>>) -> Result<bool> {
        let order = shuffled(self.files.len(), &mut rng);
        let mut pool = Samples::new(&self.layout);
        for group in order.chunks(self.window) {
            for f in group.iter().map(|&k| &self.files[k]) {
                let s = Shard::open(&f.data, &f.models)?;
                let keep = |i: usize| i < f.len && !held_out(f.first + i, self.val_every);
                lay_out(s, &self.layout, &self.norm, keep, &mut pool, &mut Vec::new())?;
            }
            let idx = shuffled(pool.n, &mut rng);
            let full = pool.n / b * b;
            for batch in idx[..full].chunks_exact(b) {
                if tx.send(Ok(pool.gather(batch))).is_err() {
                    return Ok(false);
                }
            }
            // Carry what did not fill a batch into the next window.
            let rest: Vec<usize> = idx[full..].to_vec();
            let (x, t) = pool.gather(&rest);
            pool = Samples { n: rest.len(), input: x, target: t, ..pool };
        }
        Ok(true)
    }
}

impl Batches for Stream {
    fn samples(&self) -> usize {
        self.train
    }
    fn send_epoch(&self, rng: Rng, b: usize, tx: &SyncSender<Result<Batch>>) {
        if let Err(e) = self.epoch(rng, b, tx) {
            let _ = tx.send(Err(e));
        }
    }
}
