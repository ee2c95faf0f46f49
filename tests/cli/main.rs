//! The command-line layer, through the built `gradflow` binary: `run` (outputs, flags over
//! the configuration, one test per error class), `check`, fixed steps from the command line,
//! `sweep` (and its shards), `plot`, `repro`, progress bars and `--quiet`, `wp`, the output
//! sets' all-or-nothing guarantee, and the limits on sizes from input.
//!
//! A single module runs with `cargo test --release --test cli MODULE::`.

#[path = "../common/mod.rs"]
mod common;

mod check;
mod commands;
mod fixed_step;
mod hardening_limits;
mod held_out;
mod output_sets;
mod plot;
mod progress;
mod repro;
mod search;
mod sweep;
mod sweep_shard;
mod wp;
