//! Adam / AdamW state for every parameter of a network, and the eager update a backend
//! runs op by op (a GPU runner captures the same update into its training program).

use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::Adam;

/// Adam or AdamW state for every parameter.
pub struct Optimizer<T> {
    pub hyper: Adam,
    pub step: u32,
    pub m: BTreeMap<String, T>,
    pub v: BTreeMap<String, T>,
}

impl<T> Optimizer<T> {
    /// Zero moments for parameters of the given names and shapes.
    pub fn new<B: Backend<Tensor = T>>(b: &B, hyper: Adam, params: &[(String, Vec<usize>)]) -> Result<Self> {
        let mut m = BTreeMap::new();
        let mut v = BTreeMap::new();
        for (name, shape) in params {
            let zeros = vec![0.0; shape.iter().product()];
            m.insert(name.clone(), b.upload(&format!("{name}.exp_avg"), &zeros)?);
            v.insert(name.clone(), b.upload(&format!("{name}.exp_avg_sq"), &zeros)?);
        }
        Ok(Optimizer { hyper, step: 0, m, v })
    }

    /// One step over every parameter that has a gradient.
    pub fn apply<B: Backend<Tensor = T>>(
        &mut self,
        b: &B,
        params: &mut BTreeMap<String, T>,
        grads: &[(&str, &T)],
    ) -> Result<()> {
        self.step += 1;
        for (name, grad) in grads {
            let p = params.get_mut(*name).ok_or_else(|| Error::config("adam", format!("no parameter `{name}`")))?;
            let (Some(m), Some(v)) = (self.m.get_mut(*name), self.v.get_mut(*name)) else {
                return Err(Error::config("adam", format!("no moments for `{name}`")));
            };
            b.adam_step(&self.hyper, self.step, p, grad, m, v)?;
        }
        Ok(())
    }
}
