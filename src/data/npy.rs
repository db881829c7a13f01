//! `.npy` files (NumPy's format, versions 1.0–3.0), the way OpenFWI ships its datasets.
//!
//! Writing: version 1.0, `'<f4'`, C order, header padded to 64 bytes — what
//! `numpy.save` writes for a float32 array, so numpy, PyTorch and OpenFWI's loaders read it.
//! Reading: little- or big-endian float32 or float64 (`<f4`, `<f8`, `>f4`, `>f8`), C order,
//! converted to f32. Fortran order, other dtypes and malformed headers are errors naming the file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A float array read from or written to a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Array {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Array { shape, data }
    }
}

/// The header numpy writes for a C-order float32 array of `shape` (magic, version 1.0,
/// length, dict padded with spaces and a newline to a multiple of 64 bytes).
pub fn header(shape: &[usize]) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    let total = (MAGIC.len() + 4 + dict.len() + 1).div_ceil(64) * 64;
    while MAGIC.len() + 4 + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([1u8, 0]);
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// Writes `data` with `shape` to `path` directly.
pub fn write(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let want: usize = shape.iter().product();
    if want != data.len() {
        return Err(Error::file(path, format!("shape {shape:?} holds {want} values, got {}", data.len())));
    }
    let err = |e: std::io::Error| Error::file(path, format!("writing: {e}"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
    f.write_all(&header(shape)).map_err(err)?;
    if cfg!(target_endian = "little") {
        f.write_all(bytemuck::cast_slice(data)).map_err(err)?;
    } else {
        for v in data {
            f.write_all(&v.to_le_bytes()).map_err(err)?;
        }
    }
    f.into_inner().map_err(|e| err(e.into_error()))?.sync_all().map_err(err)
}

/// The temporary name a file is written under before [`write_atomic`] renames it.
pub fn temp_name(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{serial}", std::process::id()))
}

/// Writes to a temporary name beside `path`, then renames: readers never see a partial file.
pub fn write_atomic(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    super::write_via_temp(path, |tmp| write(tmp, shape, data))
}

/// The value of `key` in a numpy header dict, as raw text up to the next top-level comma.
fn field<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let at = dict.find(&format!("'{key}'")).or_else(|| dict.find(&format!("\"{key}\"")))?;
    let rest = dict[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        return Some(&rest[..=rest.find(')')?]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// The header of an open `.npy` file: shape, element size (4 or 8) and big-endianness.
fn header_of(f: &mut std::fs::File, path: &Path) -> Result<(Vec<usize>, usize, bool)> {
    let bad = |d: String| Error::file(path, d);
    let mut pre = [0u8; 8];
    f.read_exact(&mut pre).map_err(|_| bad("not a .npy file (shorter than its magic)".into()))?;
    if &pre[..6] != MAGIC {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let hlen = match pre[6] {
        1 => {
            let mut b = [0u8; 2];
            f.read_exact(&mut b).map_err(|e| bad(e.to_string()))?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            f.read_exact(&mut b).map_err(|e| bad(e.to_string()))?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(bad(format!(".npy version {v}.{} is not supported", pre[7]))),
    };
    let mut h = vec![0u8; hlen];
    f.read_exact(&mut h).map_err(|_| bad("truncated .npy header".into()))?;
    let dict = String::from_utf8_lossy(&h).to_string();
    let descr = field(&dict, "descr").ok_or_else(|| bad(format!("header has no 'descr': {dict}")))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let (size, big) = match descr {
        "<f4" | "=f4" | "f4" => (4, false),
        "<f8" | "=f8" | "f8" => (8, false),
        ">f4" => (4, true),
        ">f8" => (8, true),
        other => return Err(bad(format!("dtype '{other}' is not supported (float32 or float64 only)"))),
    };
    match field(&dict, "fortran_order") {
        Some("False") => {}
        Some("True") => {
            return Err(bad("Fortran-order array: save it in C order (numpy.ascontiguousarray) before reading".into()));
        }
        _ => return Err(bad(format!("header has no valid 'fortran_order': {dict}"))),
    }
    let shape_txt = field(&dict, "shape").ok_or_else(|| bad(format!("header has no 'shape': {dict}")))?;
    let shape: Vec<usize> = shape_txt
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(format!("cannot read shape {shape_txt}")))?;
    Ok((shape, size, big))
}

/// The shape of a `.npy` file, from its header alone.
pub fn shape(path: &Path) -> Result<Vec<usize>> {
    let mut f = open(path)?;
    Ok(header_of(&mut f, path)?.0)
}

/// Opens a file that should be a `.npy` array (a directory is named as one).
fn open(path: &Path) -> Result<std::fs::File> {
    if path.is_dir() {
        return Err(Error::file(path, "is a directory; expected a .npy file"));
    }
    std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))
}

/// The index of the first NaN or infinite value, if any.
pub fn first_non_finite(data: &[f32]) -> Option<usize> {
    data.iter().position(|v| !v.is_finite())
}

/// Reads a float32 or float64 `.npy` file as f32.
pub fn read(path: &Path) -> Result<Array> {
    let bad = |d: String| Error::file(path, d);
    let mut f = open(path)?;
    let (shape, size, big) = header_of(&mut f, path)?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad("shape overflows".into()))?;
    let need = count.checked_mul(size).ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let have = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    if have < need as u64 {
        return Err(bad(format!("shape {shape:?} needs {need} bytes of data, the file has fewer ({have} in all)")));
    }
    crate::limits::check(&format!("{}: reading {shape:?}", path.display()), crate::limits::bytes(&[count], 4 + size))?;
    let mut raw = Vec::new();
    f.read_to_end(&mut raw).map_err(|e| bad(e.to_string()))?;
    if raw.len() < need {
        return Err(bad(format!("shape {shape:?} needs {need} bytes of data, the file has {}", raw.len())));
    }
    let data: Vec<f32> = match (size, big) {
        (4, false) => raw[..count * 4].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        (4, true) => raw[..count * 4].chunks_exact(4).map(|b| f32::from_be_bytes(b.try_into().unwrap())).collect(),
        (_, false) => {
            raw[..count * 8].chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect()
        }
        (_, true) => {
            raw[..count * 8].chunks_exact(8).map(|b| f64::from_be_bytes(b.try_into().unwrap()) as f32).collect()
        }
    };
    Ok(Array { shape, data })
}
