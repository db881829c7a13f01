//! Every WGSL file parses and validates with naga, no GPU needed, and its entry points
//! follow the `<family>_<what>` naming convention.

use brine::kernels::SHADERS;

#[test]
fn every_shader_parses_and_validates() {
    assert!(SHADERS.len() >= 8, "expected the eight kernel families, found {}", SHADERS.len());
    for s in SHADERS {
        let module = naga::front::wgsl::parse_str(s.source)
            .unwrap_or_else(|e| panic!("shaders/{}.wgsl: {}", s.name, e.emit_to_string(s.source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("shaders/{}.wgsl: {}", s.name, e.emit_to_string(s.source)));
        assert!(!module.entry_points.is_empty(), "shaders/{}.wgsl has no entry point", s.name);
        for ep in &module.entry_points {
            assert!(
                ep.name.starts_with(&format!("{}_", s.name)),
                "shaders/{}.wgsl: entry point `{}` should be named {}_<what>",
                s.name,
                ep.name,
                s.name
            );
        }
    }
}

/// A `#[repr(C)]` Rust struct that mirrors a WGSL struct: its size and the offsets of its
/// named (non-padding) fields, with the WGSL name where the two differ.
struct Mirror {
    shader: &'static str,
    wgsl: &'static str,
    size: usize,
    fields: Vec<(&'static str, usize)>,
}

macro_rules! mirror {
    ($shader:literal, $wgsl:literal, $ty:ty, [$($field:ident $(=> $w:literal)?),* $(,)?]) => {
        Mirror {
            shader: $shader,
            wgsl: $wgsl,
            size: std::mem::size_of::<$ty>(),
            fields: vec![$((mirror!(@name $field $(, $w)?), std::mem::offset_of!($ty, $field))),*],
        }
    };
    (@name $f:ident) => { stringify!($f) };
    (@name $f:ident, $w:literal) => { $w };
}

/// Every parameter struct a shader reads and its Rust mirror have the same size and the
/// same offset for every named field (naga's layouter gives the WGSL side), so a field
/// added, removed or moved on one side cannot silently shift the other.
#[test]
fn every_params_struct_matches_its_rust_mirror() {
    use brine::kernels::*;
    use brine::ops::wave;
    let mirrors = [
        mirror!("adam", "Params", adam::Params, [len, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, l2]),
        mirror!("adam", "Step", adam::Step, [step_size, bc2_sqrt, decay]),
        mirror!("batchnorm", "Params", batchnorm::Params, [c, hw, m, len, chunks, chunk_len, eps, momentum]),
        mirror!(
            "conv2d",
            "Params",
            conv2d::Params,
            [
                n, ci, h, w, co, kh, kw, stride, pad, ho, wo, has_bias, gm, gn, gk, bm, bn, n_tiles, m_tiles, k_chunk,
                splits, len, bk, bk_shift,
            ]
        ),
        mirror!("elementwise", "Params", elementwise::Params, [len, act, chunk, stride, offset]),
        mirror!("gate", "Params", gate::Params, [len, mode, c, h, w]),
        mirror!("loss", "Params", loss::Params, [len, groups, kind, scale]),
        mirror!("pool", "Params", pool::Params, [nc, h, w, ho, wo, len]),
        mirror!("ssim", "Params", ssim::Params, [len, h, w]),
        mirror!(
            "reduce",
            "Params",
            reduce::Params,
            [outer, r, inner, len, tile_x, split, lx_fast, scale, chunks, chunk_len]
        ),
        mirror!("wave", "Params", wave::Params, [
            nz, nx, nbs, shots, nrec, wt, wb, wl, wr, frame, half, slot, nt_out, free_surface, prof_stride, wavelet,
            c2 => "c2lo", c1,
        ]),
        mirror!("wave_adjoint", "Params", wave::Params, [
            nz, nx, nbs, shots, nrec, wt, wb, wl, wr, frame, half, slot, nt_out, free_surface, prof_stride, wavelet,
            c2 => "c2lo", c1,
        ]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for m in &mirrors {
        let s = SHADERS.iter().find(|s| s.name == m.shader).unwrap_or_else(|| panic!("no shader {}", m.shader));
        let module = naga::front::wgsl::parse_str(s.source).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(m.wgsl))
            .unwrap_or_else(|| panic!("shaders/{}.wgsl has no struct {}", m.shader, m.wgsl));
        let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{} is not a struct", m.wgsl) };
        let what = format!("shaders/{}.wgsl {} and its Rust mirror", m.shader, m.wgsl);
        assert_eq!(*span as usize, m.size, "{what}: sizes differ");
        let named: Vec<(&str, usize)> = members
            .iter()
            .filter_map(|f| f.name.as_deref().filter(|n| !n.starts_with('_')).map(|n| (n, f.offset as usize)))
            .filter(|(n, _)| *n != "c2hi")
            .collect();
        for (name, offset) in &named {
            let rust =
                m.fields.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{what}: `{name}` is not mirrored"));
            assert_eq!(rust.1, *offset, "{what}: `{name}` is at offset {offset} in WGSL, {} in Rust", rust.1);
        }
        assert_eq!(named.len(), m.fields.len(), "{what}: named fields {named:?} vs {:?}", m.fields);
        seen.insert((m.shader, m.wgsl));
    }
    // Every shader's `Params` is covered.
    for s in SHADERS {
        assert!(seen.contains(&(s.name, "Params")), "shaders/{}.wgsl: Params has no mirror test", s.name);
    }
}

/// The reference twins (`cpu/`) and the GPU dispatch (`kernels/`) never import each other
/// (nor do the fast paths import either): what they share lives in `ops`.
#[test]
fn cpu_and_kernels_do_not_import_each_other() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (dir, forbidden) in [
        ("cpu", &["crate::kernels", "super::super::kernels"][..]),
        ("kernels", &["crate::cpu", "crate::fast"][..]),
        ("fast", &["crate::kernels", "crate::cpu::"][..]),
    ] {
        for entry in walk(&src.join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for f in forbidden {
                    assert!(
                        !line.contains(f),
                        "{}: `{}` imports across the layers ({f})",
                        entry.display(),
                        line.trim()
                    );
                }
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}
