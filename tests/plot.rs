//! Figures: every function writes a decodable PNG of the expected size whose pixels show the
//! data in the right colours at the right places; bad input is an error naming the file or the
//! tensor, leaving nothing behind. The PNGs stay in target/tmp/plot-gallery for looking at.

use brine::plot::{
    self,
    colormap::{BLUE_WHITE_RED, GREY, Rgb, VIRIDIS, lightness},
    ticks::{linear_ticks, nice_ticks},
};
use std::path::PathBuf;

fn out_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plot-gallery").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn decode(path: &PathBuf) -> image::RgbImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn px(img: &image::RgbImage, x: usize, y: usize) -> Rgb {
    img.get_pixel(x as u32, y as u32).0
}

/// The first pixel, scanning rows top-down, of exactly colour `c`.
fn first_of(img: &image::RgbImage, c: Rgb) -> Option<(usize, usize)> {
    img.enumerate_pixels().find(|(_, _, p)| p.0 == c).map(|(x, y, _)| (x as usize, y as usize))
}

/// Runs (start, length) of colour `c` in row `y`.
fn runs(img: &image::RgbImage, y: usize, c: Rgb) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for x in 0..img.width() as usize {
        if px(img, x, y) == c {
            match out.last_mut() {
                Some((s, n)) if *s + *n == x => *n += 1,
                _ => out.push((x, 1)),
            }
        }
    }
    out
}

/// A salt-like model: layers from 1500 m/s (water) to 4000 m/s, gently dipping, and a 4500 m/s
/// salt dome rising from the bottom.
fn salt_model(nz: usize, nx: usize) -> Vec<f32> {
    let layers = [1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0];
    let mut m = vec![0.0; nz * nx];
    for iz in 0..nz {
        for ix in 0..nx {
            let (z, x) = (iz as f32 / nz as f32, ix as f32 / nx as f32);
            let depth = z - 0.08 * x + 0.04;
            let layer = ((depth * layers.len() as f32).floor().max(0.0) as usize).min(layers.len() - 1);
            let dome_top = 0.35 + 1.6 * (x - 0.55).powi(2);
            m[iz * nx + ix] = if z > dome_top && (x - 0.55).abs() < 0.3 { 4500.0 } else { layers[layer] };
        }
    }
    m
}

/// A synthetic shot gather: a few hyperbolic Ricker events and a strong spike.
fn shot_gather(nt: usize, nrec: usize, dt: f32) -> Vec<f32> {
    let ricker = |t: f32| {
        let a = (std::f32::consts::PI * 15.0 * t).powi(2);
        (1.0 - 2.0 * a) * (-a).exp()
    };
    let mut d = vec![0.0; nt * nrec];
    for it in 0..nt {
        for ir in 0..nrec {
            let offset = (ir as f32 - 20.0) * 10.0;
            let t = it as f32 * dt;
            let direct = ricker(t - 0.1 - offset.abs() / 1500.0);
            let refl: f32 = [(0.3, 1800.0, 0.6), (0.55, 2400.0, -0.4), (0.8, 3000.0, 0.3)]
                .iter()
                .map(|&(t0, v, a)| a * ricker(t - (t0 * t0 + (offset / v).powi(2)).sqrt()))
                .sum();
            d[it * nrec + ir] = direct + refl;
        }
    }
    d[500 * nrec + 35] = 1000.0;
    d
}

#[test]
fn nice_ticks_are_round_and_cover_the_range() {
    assert_eq!(nice_ticks(1500.0, 4500.0, 6), [1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0, 4500.0]);
    let km: Vec<String> = linear_ticks(0.0, 0.69, 6).into_iter().map(|t| t.label).collect();
    assert_eq!(km, ["0", "0.2", "0.4", "0.6"]);
    let t = nice_ticks(-0.005, 0.695, 6);
    assert_eq!(t.len(), 4);
    assert!((t[3] - 0.6).abs() < 1e-12);
    assert_eq!(nice_ticks(-1873.0, 1873.0, 8), [-1500.0, -1000.0, -500.0, 0.0, 500.0, 1000.0, 1500.0]);
    for (lo, hi) in [(0.0, 1.0), (1e-4, 3e-4), (-7.0, 13.0), (1500.0, 4500.0), (0.0, 9.99)] {
        let t = nice_ticks(lo, hi, 6);
        assert!(t.len() >= 2 && t.len() <= 7, "{lo}..{hi}: {t:?}");
        let step = t[1] - t[0];
        assert!(t[0] - lo < step + 1e-12 && hi - t[t.len() - 1] < step + 1e-12, "{lo}..{hi}: {t:?}");
        let mantissa = step / 10f64.powf(step.log10().floor());
        assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "{step}");
    }
}

#[test]
fn colour_maps_lightness() {
    let l = |c: &brine::plot::colormap::Colormap, i: usize| lightness(c.at(i as f32 / 100.0));
    for i in 1..=100 {
        assert!(l(&VIRIDIS, i) > l(&VIRIDIS, i - 1), "viridis at {i}");
        assert!(l(&GREY, i) < l(&GREY, i - 1), "grey at {i}");
        let d = if i <= 50 {
            l(&BLUE_WHITE_RED, i) - l(&BLUE_WHITE_RED, i - 1)
        } else {
            l(&BLUE_WHITE_RED, i - 1) - l(&BLUE_WHITE_RED, i)
        };
        assert!(d > 0.0, "diverging at {i}");
    }
    assert_eq!(BLUE_WHITE_RED.at(0.5), [255, 255, 255]);
    assert_eq!(BLUE_WHITE_RED.map(0.0, -37.0, 37.0), [255, 255, 255]);
    let (lo, hi) = (BLUE_WHITE_RED.at(0.0), BLUE_WHITE_RED.at(1.0));
    assert!(lo[2] > lo[0] && hi[0] > hi[2], "blue for negative, red for positive");
}

#[test]
fn velocity_draws_every_cell_in_its_colour() {
    let dir = out_dir("velocity");
    let (nz, nx) = (70, 70);
    let model = salt_model(nz, nx);
    let path = dir.join("salt.png");
    plot::velocity(&path, &model, nz, nx, 10.0, "Salt model", (1500.0, 4500.0)).unwrap();
    let img = decode(&path);
    assert!((600..=800).contains(&img.width()) && (500..=650).contains(&img.height()), "{:?}", img.dimensions());

    // The water layer's colour first appears at the model's top-left cell, inside the frame.
    let bottom = VIRIDIS.at(0.0);
    let (x0, y0) = first_of(&img, bottom).unwrap();
    assert_eq!(px(&img, x0 - 1, y0), [0, 0, 0]);
    assert_eq!(px(&img, x0, y0 - 1), [0, 0, 0]);
    let w = runs(&img, y0, bottom)[0].1;
    assert_eq!(w % nx, 0);
    let s = w / nx;
    assert!(s * nz >= 400, "short side at least 400 px");
    for iz in 0..nz {
        for ix in 0..nx {
            let want = VIRIDIS.map(model[iz * nx + ix], 1500.0, 4500.0);
            assert_eq!(px(&img, x0 + ix * s + s / 2, y0 + iz * s + s / 2), want, "cell ({iz}, {ix})");
        }
    }
    assert_eq!(px(&img, x0 + w, y0), [0, 0, 0], "frame on the right");

    // A constant model and a wide one keep square cells.
    plot::velocity(dir.join("constant.png"), &vec![1500.0; 70 * 70], 70, 70, 10.0, "1500 m/s", (1500.0, 4500.0))
        .unwrap();
    let img = decode(&dir.join("constant.png"));
    let (x0, y0) = first_of(&img, bottom).unwrap();
    assert_eq!(runs(&img, y0, bottom)[0].1, 420);
    assert_eq!(px(&img, x0, y0 + 419), bottom);
    let (nz, nx) = (100, 250);
    let path = dir.join("wide.png");
    plot::velocity(&path, &salt_model(nz, nx), nz, nx, 25.0, "Wide salt model (25 m cells)", (1500.0, 4500.0)).unwrap();
    let img = decode(&path);
    let (_, y0) = first_of(&img, bottom).unwrap();
    assert_eq!(runs(&img, y0, bottom)[0].1, 1000);
}

#[test]
fn comparison_shows_truth_prediction_and_difference() {
    let dir = out_dir("comparison");
    let (nz, nx) = (70, 70);
    let truth = salt_model(nz, nx);
    // Prediction: truth plus 100 m/s in the lower half.
    let pred: Vec<f32> = truth.iter().enumerate().map(|(i, &v)| if i / nx >= nz / 2 { v + 100.0 } else { v }).collect();
    let path = dir.join("truth_pred_diff.png");
    plot::comparison(&path, Some(&truth), &pred, nz, nx, 10.0, (1500.0, 4500.0), "Validation sample 17").unwrap();
    let img = decode(&path);
    assert!(img.width() > 3 * 280 && img.width() < 1700, "{:?}", img.dimensions());

    let water = VIRIDIS.at(0.0);
    let (_, y0) = first_of(&img, water).unwrap();
    let r = runs(&img, y0, water);
    assert_eq!(r.len(), 2, "truth and prediction panels side by side: {r:?}");
    let (w, s) = (r[0].1, r[0].1 / nx);
    assert_eq!(r[1].1, w);
    assert!(w >= 280);
    // Lower half: the difference's largest value, +100, is the diverging map's top colour.
    let red = BLUE_WHITE_RED.at(1.0);
    let deep = y0 + 3 * nz / 4 * s;
    let red_runs = runs(&img, deep, red);
    assert!(red_runs.len() == 1 && red_runs[0].1 == w && red_runs[0].0 > r[1].0 + w, "{red_runs:?}");
    // Upper half of the difference is white, bounded by the frame.
    let dx0 = red_runs[0].0;
    assert_eq!(px(&img, dx0 + w / 2, y0 + s), [255, 255, 255]);
    assert_eq!(px(&img, dx0 - 1, y0 + s), [0, 0, 0]);

    // For looking: a blurred, slightly slow prediction, errors of both signs.
    let blurred: Vec<f32> = (0..nz * nx)
        .map(|i| {
            let (iz, ix) = ((i / nx) as i64, (i % nx) as i64);
            let mut sum = 0.0;
            for (dz, dx) in (-3..=3).flat_map(|dz| (-3..=3).map(move |dx| (dz, dx))) {
                let (z, x) = ((iz + dz).clamp(0, nz as i64 - 1), (ix + dx).clamp(0, nx as i64 - 1));
                sum += truth[z as usize * nx + x as usize];
            }
            sum / 49.0 - 30.0
        })
        .collect();
    let path = dir.join("blurred.png");
    plot::comparison(&path, Some(&truth), &blurred, nz, nx, 10.0, (1500.0, 4500.0), "Epoch 40, sample 3").unwrap();
    decode(&path);

    // Prediction alone: one panel.
    let path = dir.join("prediction_only.png");
    plot::comparison(&path, None, &pred, nz, nx, 10.0, (1500.0, 4500.0), "Prediction").unwrap();
    let img = decode(&path);
    let (_, y0) = first_of(&img, water).unwrap();
    assert_eq!(runs(&img, y0, water).len(), 1);
    assert!(first_of(&img, red).is_none());

    // A wide model stacks its panels.
    let (nz, nx) = (60, 200);
    let truth = salt_model(nz, nx);
    let pred: Vec<f32> = truth.iter().map(|v| v * 0.97).collect();
    let path = dir.join("stacked.png");
    plot::comparison(&path, Some(&truth), &pred, nz, nx, 20.0, (1500.0, 4500.0), "Wide model").unwrap();
    let img = decode(&path);
    assert!(img.height() > img.width() / 2, "{:?}", img.dimensions());
    let (x0, y0) = first_of(&img, water).unwrap();
    let rows_with_water = (y0..img.height() as usize).filter(|&y| px(&img, x0 + 2, y) == water).count();
    assert!(rows_with_water >= 2 * 2 * nz / 10, "water rows in two panels");
}

#[test]
fn gather_is_grey_and_clipped() {
    let dir = out_dir("gather");
    let (nt, nrec) = (1000, 70);
    let path = dir.join("shot.png");
    plot::gather(&path, &shot_gather(nt, nrec, 0.001), nt, nrec, 0.001, "Shot 3 of 5").unwrap();
    let img = decode(&path);
    assert!((550..=800).contains(&img.width()) && (850..=1000).contains(&img.height()), "{:?}", img.dimensions());
    // The frame's top edge is the first long black run; inside it, t = 0 is silent: mid grey.
    let (y, (x, n)) = (0..img.height() as usize)
        .find_map(|y| runs(&img, y, [0, 0, 0]).into_iter().find(|r| r.1 >= 400).map(|r| (y, r)))
        .unwrap();
    let (x0, y0) = (x + 1, y + 1);
    assert_eq!(n, 420 + 2);
    assert_eq!(runs(&img, y0, [128, 128, 128])[0], (x0, 420));
    // Clipping at the 99th percentile, not at the spike: the direct wave saturates to black.
    let black =
        (y0..y0 + 800).flat_map(|y| (x0..x0 + 420).map(move |x| (x, y))).filter(|&(x, y)| px(&img, x, y) == [0, 0, 0]);
    assert!(black.count() > 500);
}

#[test]
fn loss_curves_draw_lines_and_legend() {
    let dir = out_dir("loss");
    let train: Vec<(f64, f64)> = (1..=60).map(|e| (e as f64, 0.5 * (-(e as f64) / 12.0).exp() + 0.01)).collect();
    let val: Vec<(f64, f64)> = (1..=60).map(|e| (e as f64, 0.55 * (-(e as f64) / 14.0).exp() + 0.02)).collect();
    for log_y in [false, true] {
        let path = dir.join(if log_y { "log.png" } else { "linear.png" });
        plot::loss_curves(&path, &[("train", &train), ("validation", &val)], "Training", log_y).unwrap();
        let img = decode(&path);
        assert!((700..=900).contains(&img.width()) && (450..=600).contains(&img.height()), "{:?}", img.dimensions());
        let count = |c: Rgb| img.pixels().filter(|p| p.0 == c).count();
        assert!(count([31, 119, 180]) > 300 && count([255, 127, 14]) > 300, "both curves drawn");
    }
    // Overfitting: validation turns up; the legend moves off the curves, to the bottom left.
    let val_up: Vec<(f64, f64)> = (1..=60).map(|e| (e as f64, 0.2 + 0.0002 * ((e - 25) as f64).powi(2))).collect();
    let path = dir.join("overfit.png");
    plot::loss_curves(&path, &[("train", &train), ("validation", &val_up)], "Overfitting", false).unwrap();
    let img = decode(&path);
    let frame_grey = |x: usize, y: usize| px(&img, x, y) == [190, 190, 190];
    let (w, h) = (img.width() as usize, img.height() as usize);
    let legend_left = (0..h).any(|y| (0..w / 2).filter(|&x| frame_grey(x, y)).count() > 40);
    let legend_bottom = (h / 2..h).any(|y| (0..w).filter(|&x| frame_grey(x, y)).count() > 40);
    assert!(legend_left && legend_bottom, "legend in the empty bottom-left corner");

    // Few points get markers; a single point still plots; a NaN breaks the line.
    let short = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 0.4), (3.0, 0.3)];
    plot::loss_curves(dir.join("short.png"), &[("train", &short), ("val", &[(3.0, 0.35)])], "", true).unwrap();
    decode(&dir.join("short.png"));
    // Extreme values draw (with few or no ticks) rather than hang or panic.
    let wild = [(0.0, -1e308), (1.0, 1e308), (2.0, 1e-300)];
    plot::loss_curves(dir.join("wild.png"), &[("wild", &wild)], "wild", false).unwrap();
    plot::loss_curves(dir.join("wild_log.png"), &[("wild", &wild)], "wild", true).unwrap();
}

#[test]
fn bad_input_is_an_error_naming_the_file_or_tensor() {
    let dir = out_dir("errors");
    let target = dir.join("fig.png");
    let name = target.display().to_string();
    let model = vec![2000.0f32; 70 * 70];
    let check = |r: brine::Result<()>, words: &[&str]| {
        let msg = r.expect_err("should fail").to_string();
        for w in words {
            assert!(msg.contains(w), "{msg:?} lacks {w:?}");
        }
        assert!(!target.exists(), "nothing left at the target");
    };
    check(plot::velocity(&target, &model[1..], 70, 70, 10.0, "", (1500.0, 4500.0)), &[&name, "model", "4899"]);
    check(plot::velocity(&target, &model, 70, 70, 10.0, "", (f32::NAN, 4500.0)), &[&name, "NaN"]);
    check(plot::velocity(&target, &model, 70, 70, 10.0, "", (4500.0, 1500.0)), &[&name, "range"]);
    check(plot::velocity(&target, &[], 0, 70, 10.0, "", (1500.0, 4500.0)), &[&name, "model"]);
    check(plot::velocity(&target, &model, 70, 70, f32::NAN, "", (1500.0, 4500.0)), &[&name, "dx_m"]);
    check(plot::comparison(&target, Some(&model[..10]), &model, 70, 70, 10.0, (1500.0, 4500.0), ""), &[&name, "truth"]);
    check(plot::comparison(&target, None, &model[..10], 70, 70, 10.0, (1500.0, 4500.0), ""), &[&name, "prediction"]);
    check(plot::gather(&target, &model, 1000, 70, 0.001, ""), &[&name, "data"]);
    check(plot::gather(&target, &model, 70, 70, 0.0, ""), &[&name, "dt_s"]);
    check(plot::loss_curves(&target, &[], "", false), &[&name, "series"]);
    check(plot::loss_curves(&target, &[("train", &[])], "", false), &[&name, "no finite points"]);
    check(plot::loss_curves(&target, &[("train", &[(1.0, 0.0), (2.0, -1.0)])], "", true), &[&name, "positive"]);

    // Unwritable: a missing directory, and a directory standing where the file should go.
    let missing = dir.join("no/such/dir/fig.png");
    let msg = plot::velocity(&missing, &model, 70, 70, 10.0, "", (1500.0, 4500.0)).unwrap_err().to_string();
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(!missing.exists());
    let occupied = dir.join("occupied.png");
    std::fs::create_dir(&occupied).unwrap();
    let msg = plot::gather(&occupied, &model, 70, 70, 0.001, "").unwrap_err().to_string();
    assert!(msg.contains(&occupied.display().to_string()), "{msg}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("occupied.png")], "no temporary file left behind");

    // NaN samples are drawn (grey), not an error; so are degenerate one-cell grids.
    let mut holey = model.clone();
    holey[100] = f32::NAN;
    plot::comparison(dir.join("nan.png"), Some(&model), &holey, 70, 70, 10.0, (1500.0, 4500.0), "NaN").unwrap();
    plot::velocity(dir.join("one.png"), &[3000.0], 1, 1, 10.0, "one cell", (1500.0, 4500.0)).unwrap();
    plot::gather(dir.join("zeros.png"), &[0.0; 10], 10, 1, 0.004, "silent").unwrap();
}

#[test]
fn gallery_draws_each_model_in_its_panel_on_one_bar() {
    let dir = out_dir("gallery");
    let (nz, nx) = (40, 50);
    // Five constant models, from the bottom of the colour range to its top.
    let models: Vec<Vec<f32>> = (0..5).map(|i| vec![1500.0 + 750.0 * i as f32; nz * nx]).collect();
    let panels: Vec<(String, &[f32])> = models.iter().enumerate().map(|(i, m)| (format!("m{i}"), &m[..])).collect();
    let path = dir.join("gallery.png");
    plot::gallery(&path, &panels, nz, nx, 10.0, 3, (1500.0, 4500.0), "Five").unwrap();
    let img = decode(&path);
    assert!(img.width() > img.height(), "two rows of three panels: {:?}", img.dimensions());
    // Each model's colour fills a run of a panel's width somewhere: five panels, five colours.
    for i in 0..5 {
        let c = VIRIDIS.at(i as f32 / 4.0);
        let (_, y) = first_of(&img, c).unwrap_or_else(|| panic!("model {i}'s colour is missing"));
        assert!(runs(&img, y + 2, c).iter().any(|&(_, n)| n >= 150), "model {i}: no panel-wide run");
    }
    let short = &models[0][1..];
    let e = plot::gallery(&path, &[("bad".into(), short)], nz, nx, 10.0, 3, (1500.0, 4500.0), "x").unwrap_err();
    assert!(e.to_string().contains("bad"), "{e}");
    assert!(plot::gallery(&path, &[], nz, nx, 10.0, 3, (1500.0, 4500.0), "x").is_err());
}
