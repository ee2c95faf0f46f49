//! gradflow: gradient flow of deep linear networks integrated as an ODE, with per-step
//! monitors of conserved quantities and theorem inequalities.

pub mod check;
pub mod claim;
pub mod config;
pub mod confirm;
pub mod corpus;
pub mod curvature;
pub mod error;
pub mod examples;
pub mod flow;
pub mod integrate;
pub mod limits;
pub mod model;
pub mod monitor;
pub mod report;
pub mod run;
pub mod suite;
pub mod sweep;

pub use error::{GradflowError, Result};
