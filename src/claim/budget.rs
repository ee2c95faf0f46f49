//! Error budgets: how far a computed slack may be from the exact flow's slack.
//!
//! Four models, chosen by each claim for each statement ([`Budget`]):
//!
//! - **round-off** (linear invariants, which every RK method conserves exactly, and
//!   identities that hold by construction): `budget = C_ε · ε · scale · √(N + 1)`, `N` the
//!   number of accepted steps, `ε` the machine epsilon, `scale` the magnitude of the
//!   quantities compared;
//! - **accumulated** (conserved quantities, whose drift adds up step by step): the
//!   accumulated local error *of the slack itself*, `G_φ(t) = Σ_{steps ≤ t} e_φ,i` (with
//!   growth, below), `φ = rhs − lhs`; then `budget = C_a · G_φ(t) + round-off`;
//! - **propagated** (inequalities between functions of the current state): the global
//!   error of the state is bounded by `G(t) = Σ_{steps ≤ t} (‖le_i‖₂ + ‖δ_s,i‖₂ + ε‖y_i‖₂)`
//!   (with growth, below; `δ_s` the stage error, below), and it enters the slack through the
//!   slack's sensitivity at the current point, estimated along the last local error:
//!   `budget = C_g · G(t) · |φ(y_t) − φ(ŷ_t)| / ‖le_t‖₂ + round-off`. Near a minimum, where
//!   both sides shrink, the budget shrinks with them.
//! - **local** (one-step statements comparing consecutive accepted states, such as
//!   `L(y_i) ≤ L(y_{i−1})`): the numerical `y_i` is the exact flow from `y_{i−1}` plus the
//!   step's local error, so only that error enters the comparison (the global error moves
//!   both sides alike): `budget = C_a · e_φ,i + round-off`, with the same safety factor as the
//!   accumulated model.
//!
//! The slack's local error of step `i` is the sum of its changes under the step's three
//! error sources, each evaluated apart (added to one another, their effects on the slack
//! could cancel):
//!
//! `e_φ,i = |φ(y_i) − φ(ŷ_i)| + |φ(y_i) − φ(y_i − δ_u,i)| + |φ(y_i) − φ(y_i − δ_s,i)|`,
//!
//! - `ŷ_i = y_i − le_i`, the method's embedded (lower-order) solution: the truncation
//!   estimate carried into the statement;
//! - `δ_u = (C_u |le| + ε|y|) ⊙ σ` ([`undirected_state`]): the estimate's magnitudes without
//!   its direction, plus one rounding of the state, with a fixed pseudo-random sign pattern
//!   `σ`. Away from the asymptotic regime (first steps, loose tolerances) the estimate's
//!   direction is not the error's, and a slack built from a norm or a maximum can keep its
//!   value under `−le` while the error moves it; the rounding gives every budget a floor at
//!   the scale of the weights that enter the slack, not of its value (no budget is zero,
//!   also for gradient descent, which has no estimate);
//! - `δ_s` ([`crate::integrate::Stepper::stage_error`], [`stage_state`]): the error the
//!   stopped Newton iteration of the implicit methods leaves in `y_{n+1}` — on the gradient
//!   flow Radau's global error is set by it, not by truncation (docs/guide/stiff.md, *Implicit methods*),
//!   and RADAU5's stopping rule at the zero-start first step leaves errors ~100× its own
//!   estimate.
//!
//! Both sums carry earlier errors forward with the step's growth factor
//! `exp(h · max(μ, 0))`, where `μ = ⟨f(y) − f(ŷ), y − ŷ⟩ / ‖y − ŷ‖²` estimates the
//! logarithmic norm of the Jacobian along the weights' local error (escapes from near a saddle
//! expand errors; a contracting flow is not credited). The models are estimates, not bounds:
//! the constants below are measured.
//!
//! **Calibration** (`tests/claims_budget.rs`). The null-space drift (a linear invariant)
//! stays below `4 ε · scale · √(N + 1)` on the built-in examples, so `C_ε = 64` leaves a
//! factor 16. For the accumulated and local models: random small problems (depth 2–5,
//! widths 1–6, `n` 2–16, `d` 2–8, `q` 1–3, the four loss conventions, Gaussian /
//! small-scale / Chatterji–Long / balanced inits, rtol 1e-6 … 1e-10, GL2 1e-4 … 1e-7 and
//! GL4 1e-5 … 1e-8, `t_end` 1 … 20), the eight conserved-quantity and one-step claims of
//! the true flow (imbalances, data-projected imbalance, traces, per-neuron balance, energy
//! identity, monotone loss); the largest `|slack| / budget` over every accepted step (1 =
//! at the budget), and the problems with a false `violated`:
//!
//! | method | problems | before: max ratio, problems violated | after: max ratio, violated |
//! |---|---|---|---|
//! | dopri5 | 400 | 33.2, 10 | 0.168, 0 |
//! | tsit5 | 400 | 2.8, 2 | 0.114, 0 |
//! | dop853 | 400 | 0.093, 0 | 0.048, 0 |
//! | radau5 | 400 | 1.4e13 (monotone loss at zero loss), 363 (conserved), 23 | 0.136, 0 |
//! | rock4 | 400 | 0.125, 0 | 0.062, 0 |
//! | auto | 400 | 33.2, 10 | 0.168, 0 |
//! | gl2 | 100 | 0.67, 0 | 0.112, 0 |
//! | gl4 | 100 | ∞ (a zero budget), 1 | 0.058, 0 |
//! | gl6 | 100 | 0.054, 0 | 0.053, 0 |
//!
//! "Before" is the model without `δ_u` and `δ_s`: Radau's false violations (105 of 106 at
//! the first step) came from the stage error, the explicit pairs' (steps 1–3) from the
//! estimate's direction — on a DOPRI5 first step at `err ≈ 1` the imbalance trace of `y`
//! drifted by 1.36e-7 and that of `ŷ` by 1.42e-7, so `φ(y) − φ(ŷ)` cancelled what both carry
//! (halving `h`, the drift of `y` falls like `h⁷`, that of `ŷ` like `h⁵`). With
//! `C_u = 0.1` DOPRI5 still had a false violation (max ratio 1.58), with `0.3` a margin of
//! 1.5 (0.66); `C_u = 1`, the estimate's own size, leaves a margin ≥ 6 for every method on
//! top of `C_a = 10`. The price is looser budgets in the typical case: the geometric mean of
//! the ratios fell from 1.9e-2 to 3.4e-3 (DOPRI5), 7.5e-4 to 1.9e-4 (Radau), 1.1e-4 to
//! 4.0e-5 (DOP853); every perturbed flow of `proofs_check/` is still violated. On the
//! stiff reference case of docs/measurements.md (to `t = 10`, rtol 1e-6/1e-8/1e-10, ROCK4 with up to 152
//! stages) the largest ratio is 0.12 (DOPRI5), 0.052 (ROCK4), 0.019 (Radau): ROCK4's
//! embedded estimate covers its stages, it reports no stage error. Measure with
//!
//! ```sh
//! GRADFLOW_STUDY_N=400 cargo test --release --test claims_budget study_conserved \
//!     -- --ignored --nocapture               # GRADFLOW_STUDY_METHODS=gl2,gl4,gl6 N=100
//! cargo test --release --test claims_budget study_stiff -- --ignored --nocapture
//! ```
//!
//! The propagated model uses `C_g = 1`.

use serde::Serialize;

/// Safety factor on round-off.
pub const C_ROUNDOFF: f64 = 64.0;
/// Safety factor of the propagated model (state error × sensitivity).
pub const C_GLOBAL: f64 = 1.0;
/// Safety factor of the accumulated and local models (sum of the slack's local errors).
/// Set when the drift / `G_φ` of the imbalance claims (the embedded difference alone)
/// measured up to 3.4 on small random problems with tiny weights at rtol 1e-9 (`n = 3,
/// d = 7, q = 2, h = 1`, `half_sum`, Gaussian std 0.1, seed 581) and 1.3 after 64k
/// stability-limited steps; with the stage error and the undirected estimate the largest
/// `|slack| / budget` is 0.168 over every method and random problem (module documentation).
pub const C_ACCUMULATED: f64 = 10.0;
/// Fraction of the local error estimate taken without its direction ([`undirected_state`]):
/// the estimate's own size. 0.1 left a false violation (DOPRI5, ratio 1.58), 0.3 a margin of
/// 1.5; 1 leaves 6 (module documentation).
pub const C_UNDIRECTED: f64 = 1.0;

/// Which error model a statement is judged against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Round-off only.
    RoundOff {
        /// Magnitude of the compared quantities.
        scale: f64,
    },
    /// Accumulated local error of the slack, plus round-off.
    Accumulated {
        /// Magnitude of the compared quantities (for the round-off part).
        scale: f64,
    },
    /// Accumulated state error times the slack's current sensitivity, plus round-off.
    Propagated {
        /// Magnitude of the compared quantities (for the round-off part).
        scale: f64,
    },
    /// The slack's local error over the last step only, plus round-off.
    Local {
        /// Magnitude of the compared quantities (for the round-off part).
        scale: f64,
    },
}

/// What the checker has accumulated for one claim when a budget is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ErrorState {
    /// Accepted steps `N`.
    pub steps: u64,
    /// `G_φ`: accumulated local error of the slack.
    pub slack_error: f64,
    /// `G`: accumulated Euclidean norm of the state's local errors.
    pub state_error: f64,
    /// `|φ(y) − φ(ŷ)| / ‖le‖` at the last accepted step.
    pub sensitivity: f64,
    /// The slack's local error `e_φ` of the last accepted step (module documentation).
    pub step_slack_error: f64,
}

/// The round-off budget `C_ε ε scale √(N + 1)`.
pub fn roundoff(scale: f64, steps: u64) -> f64 {
    C_ROUNDOFF * f64::EPSILON * scale.abs() * ((steps + 1) as f64).sqrt()
}

impl Budget {
    /// The budget under the accumulated error state `e`.
    pub fn value(self, e: &ErrorState) -> f64 {
        match self {
            Budget::RoundOff { scale } => roundoff(scale, e.steps),
            Budget::Accumulated { scale } => {
                C_ACCUMULATED * e.slack_error + roundoff(scale, e.steps)
            }
            Budget::Propagated { scale } => {
                C_GLOBAL * e.state_error * e.sensitivity + roundoff(scale, e.steps)
            }
            Budget::Local { scale } => {
                C_ACCUMULATED * e.step_slack_error + roundoff(scale, e.steps)
            }
        }
    }
    /// Whether the checker must estimate the slack's local error for this model.
    pub fn needs_local_error(self) -> bool {
        !matches!(self, Budget::RoundOff { .. })
    }
    /// Whether the model reads the slack's own error ([`ErrorState::slack_error`],
    /// [`ErrorState::step_slack_error`]), so that the checker must also evaluate the slack
    /// at the states of [`undirected_state`] and [`stage_state`]. The
    /// propagated model gets that error through the state error norm instead.
    pub fn reads_slack_error(self) -> bool {
        matches!(self, Budget::Accumulated { .. } | Budget::Local { .. })
    }
}

/// Sign `±1` of component `i` of the undirected perturbation: a fixed pseudo-random pattern
/// (the top bit of a Fibonacci hash of `i`), so that the perturbation is generic. A
/// perturbation `ε|y|` of one sign would rescale the state (`y − ε|y| = (1 − ε)y` on
/// positive parts), and a homogeneous slack — an imbalance `W_{k+1}ᵀW_{k+1} − W_kW_kᵀ` —
/// would then see round-off at the scale of its result (zero for balanced weights), not of
/// its operands.
fn roundoff_sign(i: usize) -> f64 {
    if (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 63 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// `out = y − δ_u`, the state moved by the step's error **without its direction**: the
/// local error estimate's magnitudes `C_u |y_i − ŷ_i|` plus one rounding `ε|y_i|`, each with
/// the sign pattern of `roundoff_sign`. The slack's change under it joins the change under
/// the estimate itself (`|φ(y) − φ(ŷ)|`) in the accumulated and local models:
///
/// - away from the asymptotic regime the estimate's direction is not the error's: on the
///   first DOPRI5 steps of random runs the imbalance traces of `y` and of `ŷ` drifted by the
///   same amount (1.36e-7 and 1.42e-7, the step at `err ≈ 1`; halving `h` the drift of `y`
///   falls like `h⁷`, that of `ŷ` like `h⁵`), so `φ(y) − φ(ŷ)` cancelled what both carry;
/// - the rounding gives every budget a floor at the scale of the operands (the weights), not
///   of the slack's value: a method without an error estimate (gradient descent) or a step
///   whose estimate is below the state's last digit still gets one.
pub fn undirected_state(y: &[f64], yhat: &[f64], out: &mut [f64]) {
    let c = C_UNDIRECTED;
    for (i, ((o, v), vh)) in out.iter_mut().zip(y).zip(yhat).enumerate() {
        *o = v - roundoff_sign(i) * (c * (v - vh).abs() + f64::EPSILON * v.abs());
    }
}

/// `out = y − δ_s`, the state without the stepper's stage error `δ_s`
/// ([`crate::integrate::Stepper::stage_error`], what the stopped Newton iteration of the
/// implicit methods leaves in `y_{n+1}`). The slack's change under it joins the others in
/// the accumulated and local models (a separate evaluation: added to another perturbation,
/// its effect on the slack could cancel that one's).
pub fn stage_state(y: &[f64], stage: &[f64], out: &mut [f64]) {
    for ((o, v), e) in out.iter_mut().zip(y).zip(stage) {
        *o = v - e;
    }
}

/// The state error a step adds beyond its local error estimate, for the state error `G`:
/// `‖δ_s‖ + ε‖y‖` over `ranges` (stage error and one rounding).
pub fn nontruncation_norm(
    y: &[f64],
    stage: Option<&[f64]>,
    ranges: &[std::ops::Range<usize>],
) -> f64 {
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let idx = || ranges.iter().flat_map(|r| r.clone());
    let stage = stage.map_or(0.0, |s| norm(&mut idx().map(|i| s[i])));
    stage + f64::EPSILON * norm(&mut idx().map(|i| y[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undirected_state_keeps_magnitudes_and_scrambles_signs() {
        let y = vec![1.0; 64];
        let yhat: Vec<f64> = (0..64).map(|i| 1.0 - 1e-6 * i as f64).collect();
        let mut out = vec![0.0; 64];
        undirected_state(&y, &yhat, &mut out);
        let (mut up, mut down) = (0, 0);
        for i in 0..64 {
            let d = y[i] - out[i];
            let size = C_UNDIRECTED * (y[i] - yhat[i]).abs() + f64::EPSILON;
            assert!(
                (d.abs() - size).abs() <= 4.0 * f64::EPSILON,
                "{i}: {d} vs {size}"
            );
            if d > 0.0 {
                up += 1;
            } else {
                down += 1;
            }
        }
        // not a rescaling of y: both signs, in comparable numbers
        assert!(up >= 16 && down >= 16, "{up} up, {down} down");
        // with no local error the perturbation is one rounding of each component
        undirected_state(&y, &y, &mut out);
        assert!(out.iter().all(|o| (o - 1.0).abs() == f64::EPSILON));
    }

    #[test]
    fn stage_state_and_nontruncation_norm() {
        let y = [3.0, -4.0, 12.0];
        let stage = [1e-9, 0.0, -1e-9];
        let mut out = [0.0; 3];
        stage_state(&y, &stage, &mut out);
        assert_eq!(out, [3.0 - 1e-9, -4.0, 12.0 + 1e-9]);
        let r = vec![0..1, 1..2];
        let n = nontruncation_norm(&y, Some(&stage), &r);
        assert!((n - (1e-9 + 5.0 * f64::EPSILON)).abs() < 1e-24, "{n}");
        assert_eq!(nontruncation_norm(&y, None, &r), 5.0 * f64::EPSILON);
    }

    #[test]
    fn budgets_grow_with_steps_and_accumulated_error() {
        let e = ErrorState {
            steps: 99,
            slack_error: 2e-8,
            state_error: 1e-6,
            sensitivity: 3.0,
            step_slack_error: 4e-9,
        };
        let r = Budget::RoundOff { scale: 1.0 }.value(&e);
        assert!((r - C_ROUNDOFF * f64::EPSILON * 10.0).abs() < 1e-20);
        let a = Budget::Accumulated { scale: 1.0 }.value(&e);
        assert!((a - (C_ACCUMULATED * 2e-8 + r)).abs() < 1e-20);
        let p = Budget::Propagated { scale: 1.0 }.value(&e);
        assert!((p - (C_GLOBAL * 3e-6 + r)).abs() < 1e-20);
        let l = Budget::Local { scale: 1.0 }.value(&e);
        assert!((l - (C_ACCUMULATED * 4e-9 + r)).abs() < 1e-20);
    }
}
