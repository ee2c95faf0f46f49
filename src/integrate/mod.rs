//! Integrators, one object per concern (as in diffrax and OrdinaryDiffEq): tableaux as
//! data ([`tableau`]), one trial step with preallocated stages ([`erk`]), step-size control
//! ([`controller`]), dense output ([`dense`]), the step types every method shares
//! ([`step`]), the driver that yields accepted steps
//! ([`driver`]) with its fixed-step mode and chattering fallback ([`chatter`]), and the
//! [`Stepper`] interface every method offers the run loop ([`stepper`]);
//! the implicit collocation methods for the stiff flow ([`implicit`]), the stabilized explicit
//! ROCK4 ([`rock`]), the automatic explicit/stabilized switch ([`auto`]), and gradient descent
//! as a fixed-step stepper ([`gd`]).

pub mod auto;
pub mod chatter;
pub mod controller;
pub mod dense;
pub mod driver;
pub mod erk;
pub mod gd;
pub mod implicit;
pub mod rock;
pub mod step;
pub mod stepper;
pub mod system;
pub mod tableau;

pub use driver::{Integrator, Options, Tolerances};
pub use gd::GradientDescent;
pub use step::{AcceptedStep, MethodSwitch, Stats, StepFailure};
pub use stepper::Stepper;
pub use system::OdeSystem;
