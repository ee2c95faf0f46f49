//! Output files: atomic writes, output sets consistent as a whole, run summaries.

pub mod atomic;
pub mod counterexample;
pub mod output_set;
pub mod summary;
