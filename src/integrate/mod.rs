//! Integrators, one object per concern (as in diffrax and OrdinaryDiffEq): tableaux as
//! data ([`tableau`]), one trial step with preallocated stages ([`erk`]), step-size control
//! ([`controller`]), dense output ([`dense`]), and the driver that yields accepted steps
//! ([`driver`]).

pub mod controller;
pub mod dense;
pub mod driver;
pub mod erk;
pub mod system;
pub mod tableau;

pub use driver::{AcceptedStep, Integrator, Options, Stats, StepFailure, Tolerances};
pub use system::OdeSystem;
