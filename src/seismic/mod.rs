//! brine's own data: random salt velocity models, acquisition geometry, the acoustic wave
//! propagator (WGSL kernel + CPU twin) and PNG views of models and shot gathers.

pub mod acquisition;
pub mod propagate;
pub mod stencil;

pub use acquisition::{Acquisition, Positions};
pub use propagate::{Plan, forward};
pub mod bench;
pub mod model;
