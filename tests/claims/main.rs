//! The claims layer: each paper's catalog (paper 000 `cl22`, 001 `gol24`/`gol24_leaky`,
//! 002 `mc24`, 003 `mttvm21`), the claim language, the error budgets, the checker and its
//! confirmation runs, the regressions of false verdicts, properties over random settings and
//! the random-run corpus.
//!
//! A single module runs with `cargo test --release --test claims MODULE::`.

#[path = "../common/mod.rs"]
mod common;

mod budget;
mod check_framework;
mod cl22;
mod confirmation;
mod corpus;
mod gol24;
mod gol24_leaky;
mod held_out;
mod language;
mod mc24;
mod mttvm21;
mod properties;
mod trust_regressions;
