mod common;
use brine::{Backend, Gpu};

#[test]
fn add_runs_on_gpu() {
    let Some(ctx) = common::gpu() else { return };
    let g = Gpu::new(ctx);
    let n = 70_000 * 4 + 3;
    let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let b: Vec<f32> = (0..n).map(|i| 2.0 * i as f32).collect();
    let y = g.add(&g.upload("a", &a).unwrap(), &g.upload("b", &b).unwrap()).unwrap();
    let y = g.download(&y).unwrap();
    assert!(y.iter().enumerate().all(|(i, v)| *v == 3.0 * i as f32));
}
