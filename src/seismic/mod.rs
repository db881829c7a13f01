//! brine's own data: random salt velocity models, acquisition geometry, and the acoustic
//! wave propagator (WGSL kernel, CPU twin and fast CPU engine) on a `Device`.

pub mod acquisition;
pub mod fwi;
pub mod gradient;
pub mod misfit;
pub mod propagate;
pub mod stencil;

pub use acquisition::{Acquisition, Positions};
pub use gradient::{Gradient, gradient};
pub use misfit::Misfit;
pub use propagate::{Plan, forward};
pub mod bench;
pub mod model;
