//! `.npy` I/O: numpy's exact header, round trips, float64 and big-endian input, and clear
//! errors for what brine does not read. Normalisation round trips.

use brine::data::Norm;
use brine::data::npy::{self, Array};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("brine-npy-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A .npy file with a hand-written header, as numpy would write for other dtypes/orders.
fn raw_npy(dict: &str, payload: &[u8]) -> Vec<u8> {
    let mut d = dict.to_string();
    while !(10 + d.len() + 1).is_multiple_of(64) {
        d.push(' ');
    }
    d.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((d.len() as u16).to_le_bytes());
    out.extend(d.as_bytes());
    out.extend(payload);
    out
}

#[test]
fn header_is_what_numpy_writes() {
    // numpy.save(np.zeros((2, 5, 1000, 70), np.float32)) starts with exactly these bytes.
    let h = npy::header(&[2, 5, 1000, 70]);
    let want = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 1000, 70), }";
    assert_eq!(&h[..want.len()], want);
    assert_eq!(h.len() % 64, 0);
    assert_eq!(*h.last().unwrap(), b'\n');
    assert!(npy::header(&[7]).windows(4).any(|w| w == b"(7,)"), "1-D shapes keep the trailing comma");
}

#[test]
fn round_trip_f32() {
    let p = tmp("rt.npy");
    let data: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32 * 0.5 - 3.0).collect();
    npy::write_atomic(&p, &[2, 1, 3, 4], &data).unwrap();
    assert_eq!(npy::read(&p).unwrap(), Array::new(vec![2, 1, 3, 4], data));
    assert!(!npy::temp_name(&p).exists(), "temporary file left behind");
}

#[test]
fn reads_float64_and_big_endian() {
    let vals = [1.5f64, -2.25, 3e3];
    let le: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = tmp("f8.npy");
    std::fs::write(&p, raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", &le)).unwrap();
    assert_eq!(npy::read(&p).unwrap().data, vec![1.5f32, -2.25, 3e3]);
    let be: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_be_bytes()).collect();
    std::fs::write(&p, raw_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", &be)).unwrap();
    assert_eq!(npy::read(&p).unwrap(), Array::new(vec![1, 2], vec![1.0, 2.0]));
}

#[test]
fn unsupported_files_are_refused_by_name() {
    let p = tmp("bad.npy");
    let cases: [(&[u8], &str); 5] = [
        (&raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", &[0; 16]), "Fortran"),
        (&raw_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", &[0; 16]), "'<i8'"),
        (&raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", &[0; 8]), "needs 16 bytes"),
        (b"PK\x03\x04 a zip, not an array", "magic"),
        (b"\x93NUMPY\x09\x00", "version 9"),
    ];
    for (bytes, needle) in cases {
        std::fs::write(&p, bytes).unwrap();
        let e = npy::read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.npy") && e.contains(needle), "{needle}: {e}");
    }
    let e = npy::read(&tmp("missing.npy")).unwrap_err().to_string();
    assert!(e.contains("missing.npy"), "{e}");
}

#[test]
fn models_of_the_wrong_rank_are_refused() {
    let p = tmp("rank.npy");
    npy::write(&p, &[2, 3, 4, 5, 6], &vec![1.0; 720]).unwrap();
    let e = brine::data::shards::read_models(&p).unwrap_err().to_string();
    assert!(e.contains("rank 5"), "{e}");
    npy::write(&p, &[2, 3, 4, 5], &vec![1.0; 120]).unwrap();
    let e = brine::data::shards::read_models(&p).unwrap_err().to_string();
    assert!(e.contains("3 channels"), "{e}");
    npy::write(&p, &[4, 5], &[1.0; 20]).unwrap();
    assert_eq!(brine::data::shards::read_models(&p).unwrap().1, 1);
}

#[test]
fn normalisation_round_trips_and_matches_openfwi() {
    let data = vec![-26.95f32, -1.0, 0.0, 0.3, 52.77];
    let models = vec![1500.0f32, 3000.0, 4500.0];
    let n = Norm::of(&data, &models);
    assert_eq!((n.data_min, n.data_max), (-26.950000762939453, 52.77000045776367));
    let mut d = data.clone();
    n.normalize_data(&mut d).unwrap();
    // OpenFWI: log_transform then minmax_normalize(x, log(min), log(max)) to [-1, 1].
    let lt = |x: f64| x.signum() * x.abs().ln_1p();
    for (y, x) in d.iter().zip(&data) {
        let want = 2.0 * (lt(*x as f64) - lt(n.data_min)) / (lt(n.data_max) - lt(n.data_min)) - 1.0;
        assert!((*y as f64 - want).abs() < 1e-6, "{y} vs {want}");
    }
    assert!((d[0] + 1.0).abs() < 1e-6 && (d[4] - 1.0).abs() < 1e-6);
    n.denormalize_data(&mut d).unwrap();
    for (a, b) in d.iter().zip(&data) {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }
    let mut m = models.clone();
    n.normalize_model(&mut m).unwrap();
    assert_eq!(m, vec![-1.0, 0.0, 1.0]);
    n.denormalize_model(&mut m).unwrap();
    assert_eq!(m, models);
    let p = tmp("norm.json");
    n.save(&p).unwrap();
    assert_eq!(Norm::load(&p).unwrap(), n);
    let flat = Norm::of(&[1.0, 1.0], &[2.0]);
    assert!(flat.normalize_data(&mut [1.0]).is_err(), "degenerate bounds must be refused");
}
