//! The salt model generator: velocity ranges, salt present, determinism by (seed, k).

use brine::seismic::model::{Geology, SaltModel, sample, sample_seed};

#[test]
fn models_are_salt_sections_in_range() {
    for k in 0..40 {
        let (nz, nx) = if k % 2 == 0 { (70, 70) } else { (201, 301) };
        let m = sample(Geology::Classic, 11, k, nz, nx);
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
    for g in [Geology::Classic, Geology::Wide] {
        assert_eq!(sample(g, 5, 17, 30, 40), sample(g, 5, 17, 30, 40));
        assert_ne!(sample(g, 5, 17, 30, 40), sample(g, 5, 18, 30, 40));
        assert_ne!(sample(g, 5, 17, 30, 40), sample(g, 6, 17, 30, 40));
    }
    assert_ne!(sample_seed(1, 2), sample_seed(2, 1));
    let _ = SaltModel::random(0, Geology::Wide);
}

/// FNV-1a over the bits of the values.
fn fingerprint(models: &[Vec<f32>]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in models.iter().flatten().flat_map(|v| v.to_bits().to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

#[test]
fn both_geologies_remake_their_sets_bit_for_bit() {
    // The first generator's samples 0..8 of seed 7 (the old shipped model's training set).
    let m: Vec<Vec<f32>> = (0..8).map(|k| sample(Geology::Classic, 7, k, 70, 70)).collect();
    assert_eq!(fingerprint(&m), 0x7a6b_0d7d_da82_341f);
    // And `wide`'s, the shipped model's training set (`synth --count 6000 --seed 7`).
    let m: Vec<Vec<f32>> = (0..8).map(|k| sample(Geology::Wide, 7, k, 70, 70)).collect();
    assert_eq!(fingerprint(&m), 0xdc1d_6e71_b13e_b9c8);
}

#[test]
fn wide_draws_salt_at_the_sides_and_slower_layers_below_faster_ones() {
    let (nz, nx, n) = (70, 70, 120);
    let stats = |g: Geology| {
        let (mut sides, mut inversions) = (0, 0);
        for k in 0..n {
            let m = sample(g, 3, k, nz, nx);
            let (lo, hi) = m.iter().fold((f32::MAX, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(lo >= 1500.0 && hi <= 4500.0, "{g:?} sample {k}: velocities {lo}..{hi}");
            assert!(m.iter().any(|&v| v >= 4450.0), "{g:?} sample {k}: no salt");
            assert!(m.iter().all(|&v| v >= 4450.0 || v <= 4350.0), "{g:?} sample {k}: sediment as fast as salt");
            sides += (0..nz).any(|z| m[z * nx] >= 4450.0 || m[z * nx + nx - 1] >= 4450.0) as usize;
            let slower = |z: usize, x: usize| {
                let (a, b) = (m[(z - 1) * nx + x], m[z * nx + x]);
                a < 4450.0 && b < 4450.0 && b < a - 150.0
            };
            inversions += (1..nz).any(|z| (0..nx).any(|x| slower(z, x))) as usize;
        }
        (sides, inversions)
    };
    let (classic, wide) = (stats(Geology::Classic), stats(Geology::Wide));
    eprintln!(
        "of {n}: salt at a side, classic {} wide {}; a slower layer, classic {} wide {}",
        classic.0, wide.0, classic.1, wide.1
    );
    assert!(wide.0 as f64 > 1.5 * classic.0 as f64, "salt at the sides: {classic:?} {wide:?}");
    assert!(wide.1 as f64 > 1.5 * classic.1 as f64, "velocity inversions: {classic:?} {wide:?}");
}
