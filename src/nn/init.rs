//! PyTorch's default initialisation, seeded: convolution weights Kaiming-uniform with
//! a = √5 (bound 1/√fan_in), their biases uniform in ±1/√fan_in, BatchNorm weight 1 and
//! bias 0, running mean 0 and running variance 1.

use std::collections::BTreeMap;

use crate::rng::Rng;

/// fan_in as PyTorch computes it from a weight: size(1)·kh·kw (for a transposed
/// convolution's [cin, cout, k, k] weight that is cout·k·k, as in PyTorch).
fn fan_in(weight: &[usize]) -> usize {
    weight[1..].iter().product()
}

fn is_batchnorm(name: &str) -> bool {
    name.rsplit('.').nth(1).is_some_and(|module| module.starts_with("bn"))
}

/// Initial values of every parameter (name → shape), in name order from one seed.
pub fn parameters(params: &[(String, Vec<usize>)], seed: u64) -> BTreeMap<String, Vec<f32>> {
    let shapes: BTreeMap<&str, &[usize]> = params.iter().map(|(n, s)| (n.as_str(), s.as_slice())).collect();
    let mut rng = Rng::new(seed);
    let mut out = BTreeMap::new();
    for (&name, &shape) in &shapes {
        let len: usize = shape.iter().product();
        let values = if is_batchnorm(name) {
            vec![if name.ends_with(".weight") { 1.0 } else { 0.0 }; len]
        } else {
            let weight = match name.strip_suffix(".bias") {
                Some(stem) => shapes.get(format!("{stem}.weight").as_str()).copied().unwrap_or(shape),
                None => shape,
            };
            let bound = 1.0 / (fan_in(weight).max(1) as f64).sqrt();
            (0..len).map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32).collect()
        };
        out.insert(name.to_string(), values);
    }
    out
}

/// Initial BatchNorm running statistics.
pub fn buffers(buffers: &[(String, Vec<usize>)]) -> BTreeMap<String, Vec<f32>> {
    buffers
        .iter()
        .map(|(name, shape)| {
            let len = shape.iter().product();
            (name.clone(), vec![if name.ends_with("running_var") { 1.0 } else { 0.0 }; len])
        })
        .collect()
}
