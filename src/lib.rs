//! gradflow: gradient flow of deep linear networks integrated as an ODE, with per-step
//! monitors of conserved quantities and theorem inequalities.
//!
//! # Architecture
//!
//! One module per concern. A run goes configuration → problem (data, shape, initial
//! weights, flow) → stepper → per-step observers (monitors, trace, checker; [`observe`]) → verdicts and
//! their confirmation → reports in one output set (`docs/architecture.md` in the repository).
//!
//! - [`config`]: the run configuration [`config::RunConfig`], read from JSON and validated.
//! - [`examples`]: the built-in configurations, one per paper.
//! - [`model`]: network shapes and weight layout, data sets, initialisation schemes, `.npy` I/O.
//! - [`flow`]: loss conventions, the exact gradient and Hessian-vector product, the leaky-ReLU
//!   network, perturbed flows.
//! - [`integrate`]: every method behind one `Stepper` interface: explicit Runge–Kutta pairs
//!   (tableaux as data), ROCK4, Radau IIA 5 and Gauss–Legendre, the automatic switch,
//!   gradient descent.
//! - [`curvature`]: Lanczos on the exact Hessian-vector product (sharpness, `λ_min`, top-k).
//! - [`monitor`]: monitors of every accepted step with O(1) summaries, and the JSONL trace.
//! - [`observe`]: the one observer protocol (start, accepted step or time-grid sample,
//!   method switches, finish; with a schedule) and its driver, which steps the run.
//! - [`run`]: one run end to end ([`run::execute`]): `summary.json` and the final weights.
//! - [`claim`]: claims (hypotheses, statement, error budget), the four-valued
//!   [`claim::Verdict`], the per-paper catalogs.
//! - [`check`]: the checker that evaluates claims along a run ([`check::run_check`]).
//! - [`confirm`]: confirmation of a violation by more accurate re-integrations.
//! - [`report`]: the typed run summary (`summary.json`), atomic writes, output sets with
//!   `manifest.json`, counterexample reports and their replay.
//! - [`suite`]: the scenario files of `proofs_check/` (runs with expected verdicts).
//! - [`sweep`]: grids of runs and sweep claims (fitted exponents, violation frequencies).
//! - [`corpus`]: random hypothesis-satisfying runs and mutation tests of the verdicts.
//! - [`search`]: counterexample search over a space of settings, guided by robustness, and
//!   shrinking.
//! - [`plot`]: figures of run, check, counterexample and sweep outputs (SVG, PNG).
//! - [`progress`]: progress of long runs, sweeps and corpora, reported to the caller.
//! - [`wp`]: work-precision diagrams: every method over a tolerance ladder against a tight
//!   reference run (error against work and wall time).
//! - [`limits`]: limits on every size that comes from the input.
//! - [`cancel`]: a process-wide request to stop the runs in progress (for embedders).
//! - [`error`]: the typed errors ([`GradflowError`]).
//!
//! # Example
//!
//! A depth-2 linear network on a small Gaussian data set: integrate the gradient flow, then
//! check along the same run that the layer imbalance `W_2ᵀW_2 − W_1W_1ᵀ` is conserved.
//!
//! ```
//! use gradflow::check::{run_check, ClaimRequest};
//! use gradflow::claim::Verdict;
//! use gradflow::config::RunConfig;
//! use gradflow::run::{execute, Status};
//!
//! # fn main() -> Result<(), gradflow::GradflowError> {
//! let cfg = RunConfig::from_value(
//!     serde_json::json!({
//!         "data": {"kind": "gaussian", "n": 8, "d": 4, "q": 1,
//!                  "spectrum": {"kind": "isotropic"},
//!                  "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.1},
//!         "model": {"kind": "deep_linear", "hidden": [3]},
//!         "init": {"kind": "gaussian", "std": [0.5]},
//!         "loss": "half_mean", "t_end": 1.0, "method": "dopri5",
//!         "rtol": 1e-8, "atol": 1e-10, "seed": 1
//!     }),
//!     "example",
//! )?;
//!
//! // Integrate to t_end; with no output directory nothing is written.
//! let run = execute(&cfg, None)?;
//! assert!(matches!(run.status, Status::Completed));
//! // run.record is the run summary (summary.json) as a typed record; run.summary its JSON
//! let initial_loss = run.record.monitors["loss"].first;
//! assert!(run.record.final_loss < initial_loss);
//! assert_eq!(run.summary["final_loss"], run.record.final_loss);
//!
//! // Check a conservation law of deep linear networks (paper 002, Lemma 1) along the run.
//! let request = ClaimRequest {
//!     id: "mc24.lemma1.imbalance_conserved".into(),
//!     params: serde_json::json!({}),
//! };
//! let outcome = run_check(&cfg, &[request], None)?;
//! let verdict = &outcome.verdicts[0];
//! assert_eq!(verdict.verdict, Verdict::Holds);
//! let closest = verdict.min_slack.unwrap(); // the evaluation closest to failing
//! assert!(closest.slack.abs() <= closest.budget);
//! # Ok(())
//! # }
//! ```

pub mod cancel;
pub mod check;
pub mod claim;
pub mod config;
pub mod confirm;
pub mod corpus;
pub mod curvature;
pub mod decompose;
pub mod error;
pub mod examples;
pub mod flow;
pub mod integrate;
pub mod limits;
pub mod model;
pub mod monitor;
pub mod observe;
pub mod plot;
pub mod progress;
pub mod replay;
pub mod report;
pub mod repro;
pub mod run;
pub mod search;
pub mod spec;
pub mod suite;
pub mod sweep;
pub mod wp;

pub use error::{GradflowError, Result};
