//! The engine layer: the flow (loss, gradient, Hessian-vector products, the leaky-ReLU
//! network), the integrators (tableaux, orders, the one integration loop in every mode,
//! failures, stops, the stiff methods, gradient descent, the cross-check against
//! `ode_solvers`) and the curvature monitor.
//!
//! One test binary per layer (engine, claims, command line) so the library links three
//! times, not once per file; a single module runs with
//! `cargo test --release --test engine MODULE::`.

#[path = "../common/mod.rs"]
mod common;

mod curvature_lanczos;
mod fixed_step_chatter;
mod flow_finite_differences;
mod flow_leaky;
mod gd_mode;
mod held_out_split;
mod implicit_rk;
mod integrator_failures;
mod integrator_order;
mod ode_solvers_crosscheck;
mod problems;
mod rock;
mod sharpness_monitor;
mod tableau_order;
mod tstops;
