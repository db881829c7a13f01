//! The salt model generator: velocity ranges, salt present, determinism by (seed, k).

use brine::seismic::model::{SaltModel, sample, sample_seed};

#[test]
fn models_are_salt_sections_in_range() {
    for k in 0..40 {
        let (nz, nx) = if k % 2 == 0 { (70, 70) } else { (201, 301) };
        let m = sample(11, k, nz, nx);
        assert_eq!(m.len(), nz * nx);
        let salt = m.iter().filter(|&&v| (4450.0..=4500.0).contains(&v)).count();
        let (lo, hi) = m.iter().fold((f32::MAX, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo >= 1500.0 && hi <= 4500.0, "sample {k}: velocities {lo}..{hi}");
        assert!(salt > 0, "sample {k}: no salt");
        // Background rises with depth: the mean of the non-salt top rows is below the bottom rows'.
        let mean = |rows: std::ops::Range<usize>| {
            let v: Vec<f32> = rows.flat_map(|z| m[z * nx..(z + 1) * nx].to_vec()).filter(|&v| v < 4400.0).collect();
            v.iter().sum::<f32>() / v.len().max(1) as f32
        };
        assert!(mean(0..nz / 5) < mean(nz * 4 / 5..nz), "sample {k}: no increase with depth");
    }
}

#[test]
fn sample_k_depends_only_on_seed_and_k() {
    assert_eq!(sample(5, 17, 30, 40), sample(5, 17, 30, 40));
    assert_ne!(sample(5, 17, 30, 40), sample(5, 18, 30, 40));
    assert_ne!(sample(5, 17, 30, 40), sample(6, 17, 30, 40));
    assert_ne!(sample_seed(1, 2), sample_seed(2, 1));
    let _ = SaltModel::random(0);
}
