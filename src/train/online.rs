//! Online synthesis: every epoch trains on salt models nobody has drawn before, simulated
//! on the run's device by the loader thread while the runner works, with the acquisition of
//! the stored set (its `dataset.json`). The stored set still gives the normalisation and the
//! validation split, so scores stay comparable from epoch to epoch.

use std::path::Path;
use std::sync::mpsc::SyncSender;

use super::fit::{Batch, Batches};
use super::layout::Layout;
use crate::data::{Norm, shards};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::seismic::{Acquisition, forward, model};

pub struct Online<'d> {
    device: &'d Device,
    acq: Acquisition,
    layout: Layout,
    norm: Norm,
    /// Models per epoch (as many as the stored training split).
    per_epoch: usize,
    /// The generator's seed; models are drawn at indices no stored set uses.
    seed: u64,
    /// The stored set's generator.
    geology: model::Geology,
}

impl<'d> Online<'d> {
    /// New models like those of the set in `dir` (made by `brine synth`), laid out by
    /// `layout` and normalised by `norm`.
    pub fn new(
        dir: &Path,
        device: &'d Device,
        layout: Layout,
        norm: Norm,
        per_epoch: usize,
        seed: u64,
    ) -> Result<Self> {
        let desc = shards::description(dir).ok_or_else(|| {
            Error::file(dir, "has no dataset.json: --online simulates with the acquisition `brine synth` records there")
        })?;
        let (acq, geology) = (desc.acquisition, desc.geology);
        if (acq.nz, acq.nx) != (Some(layout.nz), Some(layout.nx)) {
            return Err(Error::file(dir, "dataset.json's acquisition does not give the set's model size"));
        }
        Ok(Online { device, acq, layout, norm, per_epoch, seed: seed ^ 0x0_0511_11E5, geology })
    }

    fn batch(&self, rng: &mut Rng, b: usize) -> Result<Batch> {
        let l = &self.layout;
        // Indices from 2^40 up: past any stored set's.
        let models: Vec<f32> = (0..b)
            .flat_map(|_| model::sample(self.geology, self.seed, (1 << 40) + (rng.next_u64() >> 24), l.nz, l.nx))
            .collect();
        let (_, mut data) = forward(self.device, &self.acq, &models, b, l.nz, l.nx, |_| {})?;
        let mut targets = models;
        self.norm.normalize_data(&mut data)?;
        self.norm.normalize_model(&mut targets)?;
        let mut x = Vec::with_capacity(b * l.input_len());
        let mut t = Vec::with_capacity(b * l.target_len());
        for i in 0..b {
            x.extend(l.input(&data[i * l.data_len()..][..l.data_len()])?);
            t.extend(l.target(&targets[i * l.model_len()..][..l.model_len()])?);
        }
        Ok((x, t))
    }
}

impl Batches for Online<'_> {
    fn samples(&self) -> usize {
        self.per_epoch
    }
    fn send_epoch(&self, mut rng: Rng, b: usize, tx: &SyncSender<Result<Batch>>) {
        for _ in 0..self.per_epoch / b {
            let batch = self.batch(&mut rng, b);
            let failed = batch.is_err();
            if tx.send(batch).is_err() || failed {
                return;
            }
        }
    }
}
