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
