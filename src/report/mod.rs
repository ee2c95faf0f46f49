//! Output files: atomic writes, run summaries.

pub mod atomic;
pub mod counterexample;
