//! Test-time mirroring (`--mirror` of `infer`, `eval` and `refine`): the network's
//! prediction averaged with its prediction from the mirrored gathers (shots in reverse
//! order, each gather's receivers reversed), mirrored back. For a mirror-symmetric
//! acquisition the mirrored gathers are exactly those of the mirrored model, so the second
//! pass is a second, differently-wrong guess at the same model; OpenFWI's layout is
//! symmetric to within one cell (its middle source, column 34 of 0…69, mirrors to 35),
//! and the average still scores better there (README, Results: Mirrored inference).
//!
//! It also finds the acquisition behind a checkpoint's data, which `refine` simulates with.

use std::path::Path;

use crate::checkpoint::Model;
use crate::data::shards;
use crate::error::{Error, Result};
use crate::runner::Runner;
use crate::seismic::Acquisition;

/// How far (in cells) a mirrored source or receiver may miss its partner.
pub const TOLERANCE: usize = 1;

/// The acquisition behind `model`'s data: `given` (a preset name or a file), else the
/// `dataset.json` in `dir`, else the one preset with the checkpoint's layout; it must fit
/// the checkpoint's layout. Returns it and where it came from; `hint` ends the error when
/// none is found.
pub fn acquisition(
    op: &str,
    given: Option<&str>,
    dir: Option<&Path>,
    model: &Model,
    hint: &str,
) -> Result<(Acquisition, String)> {
    let l = &model.layout;
    let fits = |a: &Acquisition| {
        a.sources.points().len() == l.shots
            && a.samples() == l.nt
            && a.receivers.points().len() == l.nrec
            && a.nz.is_none_or(|z| z == l.nz)
            && a.nx.is_none_or(|x| x == l.nx)
    };
    let (acq, from) = if let Some(what) = given {
        (Acquisition::preset_or_file(what)?, what.to_string())
    } else if let Some((d, dir)) = dir.and_then(|d| Some((shards::description(d)?, d))) {
        (d.acquisition, dir.join("dataset.json").display().to_string())
    } else {
        let matching: Vec<(&str, Acquisition)> = crate::seismic::acquisition::PRESETS
            .iter()
            .filter_map(|&p| Acquisition::preset(p).ok().filter(|a| fits(a)).map(|a| (p, a)))
            .collect();
        match <[_; 1]>::try_from(matching) {
            Ok([(name, a)]) => (a, format!("preset {name}")),
            Err(_) => {
                return Err(Error::config(
                    op,
                    format!(
                        "no dataset.json in {} and no single preset has the checkpoint's layout ({} shots × {} samples \
                         × {} receivers on {} × {}): {hint}",
                        dir.map_or("the data's directory".into(), |d| d.display().to_string()),
                        l.shots,
                        l.nt,
                        l.nrec,
                        l.nz,
                        l.nx
                    ),
                ));
            }
        }
    };
    acq.check()?;
    if !fits(&acq) {
        return Err(Error::config(
            op,
            format!(
                "the acquisition from {from} ({} shots × {} samples × {} receivers{}) contradicts the checkpoint's data \
                 ({} × {} × {} on {} × {} models)",
                acq.sources.points().len(),
                acq.samples(),
                acq.receivers.points().len(),
                match (acq.nz, acq.nx) {
                    (Some(z), Some(x)) => format!(" on {z} × {x}"),
                    _ => String::new(),
                },
                l.shots,
                l.nt,
                l.nrec,
                l.nz,
                l.nx
            ),
        ));
    }
    Ok((acq, from))
}

/// Checks that `--mirror` fits the data in `dir` (see [`acquisition`]): every source and
/// receiver mirrors to its partner within [`TOLERANCE`] cells. Returns where the
/// acquisition came from.
pub fn check(op: &str, dir: Option<&Path>, model: &Model) -> Result<String> {
    let hint = "--mirror needs the acquisition to check that it is mirror-symmetric";
    let (acq, from) = acquisition(op, None, dir, model, hint)?;
    check_acquisition(&acq, &from, model.layout.nx)?;
    Ok(from)
}

/// [`check`] for an acquisition already found (`from` says where).
pub fn check_acquisition(acq: &Acquisition, from: &str, nx: usize) -> Result<()> {
    acq.check_mirror_within(nx, TOLERANCE).map_err(|e| match e {
        Error::Config { detail, .. } => Error::config("--mirror", format!("the acquisition from {from} {detail}")),
        e => e,
    })
}

/// The network's outputs for `inputs` (laid out as the network sees them), with `mirror`
/// averaged with those of the mirrored inputs, mirrored back.
pub fn predict(runner: &mut Runner, model: &Model, inputs: &[f32], mirror: bool) -> Result<Vec<f32>> {
    let mut out = runner.predict_all(inputs)?;
    if mirror {
        let l = &model.layout;
        let mut flipped = inputs.to_vec();
        flipped.chunks_exact_mut(l.input_len()).for_each(|x| l.flip_input(x));
        let mut back = runner.predict_all(&flipped)?;
        back.chunks_exact_mut(l.target_len()).for_each(|y| l.flip_target(y));
        out.iter_mut().zip(&back).for_each(|(a, b)| *a = 0.5 * (*a + b));
    }
    Ok(out)
}
