//! The command line's flags, one struct or variant per command.

use std::path::PathBuf;

use brine::app::check::Checked;
use brine::device::BackendChoice;
use brine::seismic::model::Geology;
use clap::{Parser, Subcommand};

/// The model shipped with brine, trained by `brine train` on `brine synth --preset openfwi` data.
pub(crate) const SHIPPED_MODEL: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/assets/model/openfwi_cbam_gates.safetensors");

#[derive(Parser)]
#[command(
    name = "brine",
    version,
    about = "Attention U-Net for seismic salt-body velocity inversion, on any GPU through wgpu"
)]
pub(crate) struct Cli {
    /// Threads for the CPU backend and the CPU wave engine (default: RAYON_NUM_THREADS, else
    /// one per core).
    #[arg(long, global = true)]
    pub(crate) threads: Option<usize>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// From nothing to a trained attention U-Net: synthesise a small salt set, train for a
    /// bounded time, evaluate on unseen samples and draw predictions.
    Demo {
        #[arg(long, default_value = "brine-demo")]
        out: PathBuf,
        /// Training samples to synthesise.
        #[arg(long, default_value_t = 800)]
        samples: usize,
        /// Training time budget in seconds (default: 60 on a hardware GPU, 150 on the CPU).
        #[arg(long, allow_negative_numbers = true)]
        seconds: Option<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where everything runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Train an attention U-Net on shards from `brine synth` or OpenFWI's files.
    Train(TrainArgs),
    /// MAE, RMSE and SSIM of a checkpoint on a dataset (OpenFWI's conventions) and MAE in m/s.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Where eval.csv (per sample) and eval.json (summary) go; default: beside the checkpoint.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long)]
        limit: Option<usize>,
        /// Also score where the attention looks: per level and kind, mean attention inside
        /// the salt over outside, and its mass inside against the salt's area.
        #[arg(long)]
        attention: bool,
        /// Average the prediction with the network's prediction from the mirrored gathers
        /// (shots and receivers in reverse order), mirrored back: two inference passes. The
        /// acquisition (the data's dataset.json, else the preset with the checkpoint's layout)
        /// must be mirror-symmetric to within one cell, as OpenFWI's is.
        #[arg(long)]
        mirror: bool,
        /// Salt is velocity at or above this (m/s).
        #[arg(long, default_value_t = 4400.0)]
        salt: f32,
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Predict velocity models from shot gathers: prediction.npy (m/s) and figures.
    Infer {
        /// Default: the shipped model (OpenFWI layout: 5 shots × 1000 samples × 70 receivers,
        /// 70 × 70 models), assets/model/openfwi_cbam_gates.safetensors.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Seismic data .npy: (N, shots, time, receivers).
        #[arg(long)]
        data: PathBuf,
        /// Velocity models to compare with (default: the data file's `model` sibling, if any).
        #[arg(long)]
        truth: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// At most this many figures.
        #[arg(long, default_value_t = 8)]
        figures: usize,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Also keep the attention maps: OUT/attention/<block>.npy, OUT/attention_K.png and,
        /// with a truth, the focus on salt (OUT/attention.json).
        #[arg(long)]
        attention: bool,
        /// Average the prediction with the network's prediction from the mirrored gathers
        /// (shots and receivers in reverse order), mirrored back: two inference passes. The
        /// acquisition (the data's dataset.json, else the preset with the checkpoint's layout)
        /// must be mirror-symmetric to within one cell, as OpenFWI's is.
        #[arg(long)]
        mirror: bool,
        /// Salt is velocity at or above this (m/s), for the outlines and the focus.
        #[arg(long, default_value_t = 4400.0)]
        salt: f32,
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Full-waveform inversion from the network's guess: iterations of adjoint-state FWI
    /// against the gathers, written as OUT/refined.npy (m/s), OUT/refine.json and figures.
    Refine {
        /// Default: the shipped model, assets/model/openfwi_cbam_gates.safetensors.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Seismic data .npy: (N, shots, time, receivers), raw as `brine synth` writes it.
        #[arg(long)]
        data: PathBuf,
        /// Velocity models to score against (default: the data file's `model` sibling, if any).
        #[arg(long)]
        truth: Option<PathBuf>,
        /// The starting model: network (the checkpoint's prediction), smooth (its training
        /// set's mean depth profile) or a .npy file of models in m/s.
        #[arg(long, default_value = "network")]
        init: brine::app::refine::Start,
        /// Start from the network's prediction averaged with its prediction from the mirrored
        /// gathers (see `brine infer --mirror`).
        #[arg(long)]
        mirror: bool,
        /// Acquisition preset or JSON file (default: the data directory's dataset.json, else
        /// the preset with the checkpoint's layout).
        #[arg(long)]
        acquisition: Option<String>,
        /// Directory for refined.npy, refine.json and the figures.
        #[arg(long)]
        out: PathBuf,
        /// The update: lbfgs (with a backtracking line search) or adam.
        #[arg(long, value_enum, default_value_t = brine::seismic::fwi::Method::Lbfgs)]
        method: brine::seismic::fwi::Method,
        /// FWI iterations.
        #[arg(long, default_value_t = 30)]
        iters: usize,
        /// Step in m/s: Adam's step size, or L-BFGS's first step (at the 98th percentile of
        /// the change).
        #[arg(long, default_value_t = 25.0)]
        lr: f64,
        /// Lowest velocity in m/s (default: the checkpoint's velocity range).
        #[arg(long)]
        vmin: Option<f64>,
        /// Highest velocity in m/s (default: the checkpoint's); the simulation is planned
        /// for it, so it must be stable at the acquisition's dt.
        #[arg(long)]
        vmax: Option<f64>,
        /// Smooth each gradient with a Gaussian of this many cells (0: none).
        #[arg(long, default_value_t = 1.0)]
        smooth: f64,
        /// Multiply each gradient by (depth / nz)^P, so deeper cells, which weaker waves
        /// reach, move too (0: off).
        #[arg(long, default_value_t = 2.0)]
        depth_weight: f64,
        /// Frequency continuation: low-pass cutoffs in Hz, one stage each with the
        /// iterations split evenly, lowest first (0: the full band; a band repeated gets
        /// more iterations, e.g. 2,4,8,0,0,0). `--bands 0`: the full band throughout, the
        /// better choice from a start close to the truth.
        #[arg(long, value_delimiter = ',', default_value = "2,4,8,0")]
        bands: Vec<f64>,
        /// Absorbing layer of refine's own simulations, in cells (default: one wavelength
        /// at the peak frequency in the slowest medium, at least 10 cells and at most the
        /// acquisition's: 10 for OpenFWI's data, made with 20; a thinner layer simulates
        /// fewer cells and changes the traces by about 0.1 %).
        #[arg(long)]
        pml: Option<usize>,
        /// Only the first N samples.
        #[arg(long)]
        limit: Option<usize>,
        /// At most this many figures.
        #[arg(long, default_value_t = 4)]
        figures: usize,
        /// Where it runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Train none, se, cbam and ca, each with and without gates, on one split and budget,
    /// and compare them (MAE, RMSE, SSIM, parameters, ms per step).
    Ablate {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "ablation")]
        out: PathBuf,
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        #[arg(long, default_value = "32,64,128,256", value_delimiter = ',')]
        widths: Vec<usize>,
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        /// As `brine train --loss`: l1, mse, edge, ssim joined by +, each optionally W*term
        /// (l1+ssim, l1+4*ssim).
        #[arg(long, default_value = "l1")]
        loss: String,
        /// The first seed (initial weights and batch order).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Runs per variant, with seeds seed, seed + 1, …: scores become mean ± std, and each
        /// variant's MAE is compared with none's in standard errors.
        #[arg(long, default_value_t = 1)]
        seeds: usize,
        #[arg(long, default_value_t = 10)]
        val_every: usize,
        #[arg(long)]
        limit: Option<usize>,
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// List the GPU adapters, and the one brine picks with its limits and features.
    Info,
    /// Check the kernels against golden vectors (every .safetensors file in DIR).
    Check {
        /// Directory of golden files in the format of shared/golden/README.md.
        #[arg(long)]
        golden: PathBuf,
        /// Which backend to check; `all` checks the CPU and, where an adapter exists, the GPU;
        /// `reference` checks the plain-loop twins.
        #[arg(long, value_enum, default_value_t = Checked::All)]
        backend: Checked,
    },
    /// Make a dataset: random salt models and their simulated shot gathers, as .npy shards.
    Synth {
        /// Acquisition: a preset (openfwi, fcnvmb) or a JSON file that gives nz and nx.
        #[arg(long, default_value = "openfwi")]
        preset: String,
        /// Samples in the whole set.
        #[arg(long, required_unless_present = "print_acquisition")]
        count: Option<usize>,
        /// Seed of the set: sample k is drawn from (seed, k).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The salt generator: wide (salt at the sides, welds, basal salt, low-velocity
        /// layers) or classic (the first one, to remake sets made with it).
        #[arg(long, value_enum, default_value_t = Geology::Wide)]
        geology: Geology,
        /// i/n: make the files c with c mod n = i (split a set over processes or machines).
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Samples per file.
        #[arg(long, default_value_t = 500)]
        per_file: usize,
        /// Output directory.
        #[arg(long, required_unless_present = "print_acquisition")]
        out: Option<PathBuf>,
        /// Where to simulate: auto (a hardware GPU, else the CPU engine, which outruns a
        /// software adapter such as lavapipe), gpu or cpu.
        #[arg(long, alias = "engine", value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Print the acquisition as JSON and exit.
        #[arg(long)]
        print_acquisition: bool,
    },
    /// Simulate shot gathers for velocity models you bring.
    Forward {
        /// Velocity models in m/s: .npy of shape (nz, nx), (N, nz, nx) or (N, 1, nz, nx).
        #[arg(long)]
        model: PathBuf,
        /// Acquisition: a JSON file or a preset name (openfwi, fcnvmb).
        #[arg(long)]
        acquisition: String,
        /// Output .npy: float32 (N, shots, time, receivers).
        #[arg(long)]
        out: PathBuf,
        /// Where to simulate: auto (a hardware GPU, else the CPU engine, which outruns a
        /// software adapter such as lavapipe), gpu or cpu.
        #[arg(long, alias = "engine", value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Draw velocity models or shot gathers from a .npy file as PNGs.
    Show {
        /// A model file ((nz, nx), (N, nz, nx), (N, 1, nz, nx)) or a data file (N, shots, time, receivers).
        file: PathBuf,
        /// Output directory.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Samples to draw, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        index: Vec<usize>,
        /// Shots to draw from a data file, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        shot: Option<Vec<usize>>,
        /// Percentile of |amplitude| that saturates a gather's colours.
        #[arg(long, default_value_t = 99.0)]
        clip: f64,
        /// Colour range of models in m/s, e.g. 1500,4500 (default: the file's range).
        #[arg(long, value_parser = parse_range)]
        vrange: Option<(f64, f64)>,
        /// Draw the chosen models into one figure (STEM_grid.png), this many to a row.
        #[arg(long)]
        grid: Option<usize>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
pub(crate) enum BenchWhat {
    /// The wave propagator: cell-updates per second on the openfwi and fcnvmb presets.
    Wave {
        /// Models per batch for openfwi (fcnvmb uses a quarter, at least 1).
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Time steps timed per run.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Timed runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Also time the CPU engine (a few steps).
        #[arg(long)]
        cpu: bool,
        /// Time only the CPU engine (no GPU needed).
        #[arg(long)]
        cpu_only: bool,
    },
    /// The misfit's adjoint-state gradient beside the forward: seconds, cost in forward
    /// propagations, cell-updates/s, checkpoint memory.
    Gradient {
        /// Where it runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Acquisition preset (openfwi or fcnvmb).
        #[arg(long, default_value = "openfwi")]
        preset: String,
        /// Models per batch.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Rounds of forward and gradient, alternated; the medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Keep the case (truth, start, observed, gradient, acquisition) here for
        /// benches/deepwave_gradient.py.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Every kernel at the shapes of the `bench` network (SPEC.md).
    Kernels {
        /// Batch size (the bench network uses 8).
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Timed runs per kernel; the median is reported.
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Only kernels whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// The training step and inference of the `bench` network (SPEC.md).
    Step {
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Input channels (shots).
        #[arg(long, default_value_t = 8)]
        channels: usize,
        #[arg(long, default_value_t = 256)]
        height: usize,
        #[arg(long, default_value_t = 128)]
        width: usize,
        /// Comma-separated widths per level.
        #[arg(long, default_value = "32,64,128,256,512", value_delimiter = ',')]
        widths: Vec<usize>,
        /// none, se, cbam, ca, or all (each of the four, with gates as set).
        #[arg(long, default_value = "cbam")]
        attention: String,
        /// Leave out the attention gates on the skips.
        #[arg(long)]
        no_gates: bool,
        #[arg(long, default_value_t = 5)]
        iters: usize,
    },
    /// The CPU backend and the CPU wave engine beside PyTorch's CPU step, deepwave's CPU
    /// propagator and deepwave's gradient (run through python when installed), on the same
    /// shapes and threads, alternated round by round.
    Anchors {
        /// Rounds of brine then anchor; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Directory of torch_cpu_step.py and deepwave_cpu_step.py.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Smaller problems (a quick look, not the figures).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// Dataset directory (brine shards or OpenFWI dataN.npy/modelN.npy pairs).
    #[arg(long, required_unless_present = "resume")]
    pub(crate) data: Option<PathBuf>,
    /// none, se, cbam or ca.
    #[arg(long, default_value = "cbam")]
    pub(crate) attention: String,
    /// Attention gates on the skip connections.
    #[arg(long)]
    pub(crate) gates: bool,
    #[arg(long, default_value = "32,64,128,256", value_delimiter = ',')]
    pub(crate) widths: Vec<usize>,
    /// Epochs in all (default 20, or 1000 as a cap beside --seconds; with --resume: the run's
    /// own, or more to extend it).
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// A wall-time budget: training stops after the epoch that ends past this many seconds,
    /// and a cosine schedule decays over the time rather than the epochs (with --resume: the
    /// run's own budget, counting the time it has trained, or a new total).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) seconds: Option<f64>,
    #[arg(long, default_value_t = 16)]
    pub(crate) batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) lr: f32,
    /// Terms joined by +: l1, mse, edge (the mean absolute difference of the prediction's and
    /// the truth's neighbour differences), ssim (1 − SSIM, as `eval` scores it); edge and
    /// ssim beside l1 or mse; W*term weighs a term (weight 1 unless given). E.g. l1, l1+mse,
    /// l1+edge, l1+ssim, l1+4*ssim.
    #[arg(long, default_value = "l1")]
    pub(crate) loss: String,
    /// constant, cosine, or step:EVERY:GAMMA.
    #[arg(long, default_value = "constant")]
    pub(crate) schedule: String,
    /// Decoupled weight decay (AdamW) when positive.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) weight_decay: f32,
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Hold out every N-th sample for validation.
    #[arg(long, default_value_t = 10)]
    pub(crate) val_every: usize,
    /// Use at most this many samples.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Stream the training set from its shards (a window of files in memory at a time)
    /// instead of loading it; done anyway when it would take more than half the memory.
    #[arg(long)]
    pub(crate) stream: bool,
    /// Train on newly simulated salt every epoch, as many models as the training split, on
    /// the run's device, with the acquisition of DIR/dataset.json (a `brine synth` set); the
    /// stored set gives the normalisation and the validation split.
    #[arg(long)]
    pub(crate) online: bool,
    /// Flip half the training samples left to right each epoch: the mirrored model with
    /// the shots and receivers reversed, exact only for mirror-symmetric acquisitions
    /// (checked against DIR/dataset.json; the presets are not: OpenFWI's middle source, x
    /// 34 of 0…69, mirrors to 35).
    #[arg(long)]
    pub(crate) flip: bool,
    /// Start from this checkpoint's weights with a fresh optimiser (fine-tuning, e.g. the
    /// shipped model on more or other data): the network is the checkpoint's (so no
    /// --attention, --gates or --widths), the data are normalised with its bounds and must
    /// have the layout it was trained on.
    #[arg(long, conflicts_with_all = ["attention", "gates", "widths", "time_phases"])]
    pub(crate) from: Option<PathBuf>,
    /// Each shot's time axis resampled to K times the network's rows and given to it as K
    /// channels (row i of channel p is time row i·K + p): finer time detail on the same
    /// grid, at the cost of a wider first convolution. At most ⌈time samples / rows⌉ (14
    /// for OpenFWI's 1000 samples on 72 rows).
    #[arg(long, default_value_t = 1)]
    pub(crate) time_phases: usize,
    /// Where the network runs: auto (a hardware GPU, else the CPU), gpu or cpu (default
    /// auto; with --resume: the run's own).
    #[arg(long, value_enum)]
    pub(crate) backend: Option<BackendChoice>,
    /// Run directory: run.json, metrics.csv, best and last checkpoints.
    #[arg(long, default_value = "run")]
    pub(crate) out: PathBuf,
    /// Continue the run in this directory as its run.json describes it (--epochs and --seconds
    /// may extend it, --backend move it; the other flags cannot change a run).
    #[arg(long, conflicts_with_all = [
        "data", "attention", "gates", "widths", "batch", "lr", "loss", "schedule", "weight_decay", "seed",
        "val_every", "limit", "out", "stream", "online", "flip", "from", "time_phases",
    ])]
    pub(crate) resume: Option<PathBuf>,
}

/// `lo,hi` with lo < hi.
pub(crate) fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected lo,hi, e.g. 1500,4500")?;
    let (a, b): (f64, f64) =
        (a.trim().parse().map_err(|e| format!("{e}"))?, b.trim().parse().map_err(|e| format!("{e}"))?);
    if a < b { Ok((a, b)) } else { Err(format!("{a},{b}: lo must be below hi")) }
}
