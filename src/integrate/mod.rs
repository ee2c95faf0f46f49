//! Integrators, one object per concern (as in diffrax and OrdinaryDiffEq): the one
//! integration loop ([`driver`]: step guard, accept/reject, counters, fixed steps, the
//! chattering fallback of [`chatter`]) around a [`method::Method`] that only proposes a
//! step and a [`controller::Controller`] that judges it; the step types every part shares
//! ([`step`]) and the [`Stepper`] interface the run loop sees ([`stepper`]). The methods:
//! explicit pairs with tableaux as data ([`tableau`], [`erk`], dense output in [`dense`]),
//! the implicit collocation methods for the stiff flow ([`implicit`]), the stabilized
//! explicit ROCK4 ([`rock`]) and gradient descent ([`gd`]); the automatic
//! explicit/stiff switch ([`auto`]) composes them.

pub mod auto;
pub mod chatter;
pub mod controller;
pub mod dense;
pub mod driver;
pub mod erk;
pub mod gd;
pub mod implicit;
pub mod method;
pub mod peer;
pub mod rock;
pub mod step;
pub mod stepper;
pub mod system;
pub mod tableau;

pub use driver::{Driver, Options, Tolerances};
pub use erk::Integrator;
pub use gd::GradientDescent;
pub use step::{AcceptedStep, MethodSwitch, Stats, StepFailure};
pub use stepper::Stepper;
pub use system::OdeSystem;
