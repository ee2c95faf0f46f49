//! Shared by the command-line tests: running the built `gradflow` binary.

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
