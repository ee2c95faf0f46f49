//! Fully-implicit collocation Runge–Kutta methods for the stiff gradient flow: Radau IIA
//! order 5 ([`radau5`], L-stable) and Gauss–Legendre GL2/GL4/GL6 ([`gauss`], A-stable,
//! symplectic, quadratic invariants kept to round-off). Tableaux are data
//! ([`tableau`]); the stage equations are solved matrix-free by Newton iterations
//! ([`newton`]) whose linear systems use a low-rank model of the stiff Jacobian from Lanczos
//! on Jacobian-vector products ([`lowrank`]) — in closed form, or as the preconditioner of
//! GMRES with the exact Jacobian ([`krylov`]). No dense Jacobian is ever formed.

pub mod controller;
pub mod gauss;
pub mod guard;
pub mod irk;
pub mod krylov;
pub mod lowrank;
pub mod newton;
pub mod radau5;
pub mod tableau;

pub use irk::{ImplicitOptions, ImplicitRk, ImplicitStats};
pub use newton::{LinearSolver, StageTolerance};
pub use tableau::CollocationTableau;
