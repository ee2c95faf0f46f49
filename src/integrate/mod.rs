//! Integrators, one object per concern (as in diffrax and OrdinaryDiffEq): tableaux as
//! data ([`tableau`]), one trial step with preallocated stages ([`erk`]), step-size control
//! ([`controller`]), dense output ([`dense`]), the driver that yields accepted steps
//! ([`driver`]), the [`Stepper`] interface every method offers the run loop ([`stepper`]), and
//! the implicit collocation methods for the stiff flow ([`implicit`]).

pub mod controller;
pub mod dense;
pub mod driver;
pub mod erk;
pub mod implicit;
pub mod stepper;
pub mod system;
pub mod tableau;

pub use driver::{AcceptedStep, Integrator, Options, Stats, StepFailure, Tolerances};
pub use stepper::Stepper;
pub use system::OdeSystem;
