//! Shared by the integration tests: running the built `gradflow` binary (the command-line
//! tests), random problems for the property tests ([`cases`]) and the states and points
//! of claim evaluations ([`claims`]).
//!
//! Each test binary (`tests/engine/`, `tests/claims/`, `tests/cli/`, `tests/no_alloc.rs`) uses
//! only some of these items.
#![allow(dead_code)]

pub mod cases;
pub mod claims;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `gradflow ARGS` in `cwd` and returns its status and output.
pub fn gradflow(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run gradflow")
}
