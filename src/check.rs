//! The checker: attaches claims to a run, evaluates them at every accepted step (or at the
//! end), and turns slacks and budgets into four-valued verdicts.
//!
//! Verdict rules (as in the STL monitors, with the error budget `b ≥ 0` of each evaluation):
//! - `not_applicable` — some hypothesis fails; the statement is never called violated. A
//!   hypothesis on the setting fails before the run: the statement is evaluated at the
//!   initial point only (for the report) and costs nothing after. The hypotheses on the
//!   final state ([`Claim::final_hypotheses`], e.g. convergence) are evaluated once at the
//!   end of the run (the statement is evaluated along the run until then);
//! - `violated` — some evaluation has `slack < −b`; the first violation time is located by
//!   bisection of `slack(τ) + b(τ)` on the integrator's dense output between the two
//!   accepted steps that bracket it;
//! - `holds` — every evaluation has `slack > b`;
//! - for identities (`Form::Identity`) the budget is the identity's tolerance: violated when
//!   `|lhs − rhs| > b` somewhere, holds otherwise;
//! - `inconclusive` — otherwise (some `|slack| ≤ b`, or the statement was never evaluated),
//!   and for a violation found at or after an accepted step whose error estimate exceeded
//!   the tolerance (`err > 1`: a fixed step, `fixed_step` or the chattering fallback), where
//!   the budget no longer bounds the error.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

use crate::claim::registry;
use crate::claim::{
    Claim, ClaimInfo, ErrorState, Evaluation, Form, Hypothesis, Schedule, Setting, Statement,
    Verdict,
};
use crate::error::{GradflowError, Result};
use crate::flow::GradientFlow;
use crate::integrate::{AcceptedStep, OdeSystem, Stepper};
use crate::monitor::Point;
use crate::observe::{Observed, Observer};
use crate::run::Status;

/// Rows of trajectory excerpt kept before and after a violation.
pub const EXCERPT_ROWS: usize = 4;

/// A later failing evaluation becomes a candidate first violation when its excess over the
/// budget is this many times the previous candidate's.
pub const CANDIDATE_GROWTH: f64 = 4.0;

/// Candidate violations kept after the first.
pub const MAX_CANDIDATES: usize = 16;

/// A claim to check: its id and parameters (for deliberately false variants).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ClaimRequest {
    /// Registered claim id.
    pub id: String,
    /// Parameters (an object; `{}` for none).
    #[serde(default = "empty_object")]
    pub params: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Requests for the claims `ids`, each with its default parameters.
pub fn requests<S: AsRef<str>>(ids: &[S]) -> Vec<ClaimRequest> {
    ids.iter()
        .map(|id| ClaimRequest {
            id: id.as_ref().to_string(),
            params: empty_object(),
        })
        .collect()
}

/// One row of a trajectory excerpt.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ExcerptRow {
    /// Accepted-step index.
    pub step: u64,
    /// Time.
    pub t: f64,
    /// Left-hand side.
    pub lhs: f64,
    /// Right-hand side.
    pub rhs: f64,
    /// `rhs − lhs`.
    pub slack: f64,
    /// Error budget.
    pub budget: f64,
}

impl ExcerptRow {
    fn new(step: u64, t: f64, e: &Evaluation) -> Self {
        Self {
            step,
            t,
            lhs: e.lhs,
            rhs: e.rhs,
            slack: e.slack(),
            budget: e.budget,
        }
    }
}

/// Where a statement first failed.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Violation {
    /// Root-found time of the first violation (`slack + budget = 0`).
    pub t: f64,
    /// The accepted steps bracketing it.
    pub t_bracket: [f64; 2],
    /// Index of the accepted step where it was detected.
    pub step: u64,
    /// The evaluation at the root-found time.
    pub at_root: ExcerptRow,
    /// The evaluation at the detecting accepted step.
    pub at_step: ExcerptRow,
}

/// The checker's finding for one claim.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimVerdict {
    /// Static description.
    pub info: ClaimInfo,
    /// Parameters it was built with.
    pub params: Value,
    /// The verdict.
    pub verdict: Verdict,
    /// Hypotheses with their values.
    pub hypotheses: Vec<Hypothesis>,
    /// The evaluation closest to failing (finite evaluations only): the smallest slack of an
    /// inequality, the largest deviation `|lhs − rhs|` of an identity; for an `eventually`
    /// statement the evaluation closest to satisfying it (the largest slack, its robustness).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_slack: Option<ExcerptRow>,
    /// First violation (after confirmation: the first one the confirmation runs reproduce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_violation: Option<Violation>,
    /// The failing evaluation with the largest excess over its budget (`−slack − budget`
    /// for an inequality, `|slack| − budget` for an identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_violation: Option<Violation>,
    /// Failing evaluations after the first whose excess grew by [`CANDIDATE_GROWTH`]
    /// (candidates for the genuine first violation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub later_candidates: Vec<Violation>,
    /// Whether the statement compares consecutive accepted states (its slack is a one-step
    /// difference, proportional to the step; the worst violation is the one with the
    /// largest excess per unit time).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub per_step: bool,
    /// The confirmation of a violation by re-integration ([`crate::confirm`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<crate::confirm::Confirmation>,
    /// Last evaluation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<ExcerptRow>,
    /// Number of evaluations.
    pub evaluations: u64,
    /// Trajectory excerpt around the first violation (or the last rows).
    pub excerpt: Vec<ExcerptRow>,
    /// Remarks (why inconclusive, run stopped early, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The smallest movement-normalized robustness over the evaluations after the first
    /// ([`Robustness::moved`]). Steers a counterexample search
    /// ([`crate::search::robustness`]); not part of a report.
    #[serde(skip)]
    pub moved_robustness: Option<f64>,
}

/// The normalized robustness of one evaluation: `r = margin/scale` with `scale = |lhs| +
/// |rhs| + budget` and `margin = slack + budget` for an inequality, `budget − |lhs − rhs|`
/// for an identity — in `[−1, 1]`, negative exactly where the evaluation fails beyond its
/// budget, free of the claim's scale — and `rest = 1 − r`, computed without cancellation
/// (for an inequality `((|lhs| + lhs) + (|rhs| − rhs))/scale`, for an identity `(|lhs| +
/// |rhs| + |lhs − rhs|)/scale`), which keeps its digits when `r` rounds to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Robustness {
    /// `r`.
    pub r: f64,
    /// `1 − r`, without cancellation.
    pub rest: f64,
}

impl Robustness {
    /// Of an evaluation row of a statement of form `form`; `None` when it is not finite or
    /// has no scale.
    pub fn of(form: Form, row: &ExcerptRow) -> Option<Self> {
        let scale = row.lhs.abs() + row.rhs.abs() + row.budget;
        let margin = -Checker::excess(form, row);
        let rest = match form {
            Form::Inequality => (row.lhs.abs() + row.lhs) + (row.rhs.abs() - row.rhs),
            Form::Identity => row.lhs.abs() + row.rhs.abs() + row.slack.abs(),
        };
        (scale.is_finite() && scale > 0.0 && margin.is_finite() && rest.is_finite()).then(|| Self {
            r: margin / scale,
            rest: rest / scale,
        })
    }

    /// The margin of `row` relative to how far both sides have moved since `first`, the
    /// statement's first evaluation: `margin/(|lhs − lhs₀| + |rhs − rhs₀| + budget)`, with the
    /// margin of [`Robustness::of`]. Where both sides start equal — a rate
    /// `g(t) ≤ g(0)e^{−ct}` from `t = 0`, a conserved quantity — the scale-normalized `r` is
    /// about the first step's length times the rate gap, whatever the setting; this one is
    /// `≈ (c_true − c)/(c_true + c)` there. Against a fixed bound it is the remaining room
    /// in units of the movement so far. `None` when not finite.
    pub fn moved(form: Form, first: &ExcerptRow, row: &ExcerptRow) -> Option<f64> {
        let scale = (row.lhs - first.lhs).abs() + (row.rhs - first.rhs).abs() + row.budget;
        let margin = -Checker::excess(form, row);
        let v = margin / scale;
        v.is_finite().then_some(v)
    }
}

impl ClaimVerdict {
    /// Whether this is an inequality that failed on the computed trajectory inside its error
    /// budget: `inconclusive` only because its smallest slack lies in `[−budget, 0)` (every
    /// evaluation finite, the hypotheses hold, no other remark, evaluated after `t = 0`, not
    /// a one-step statement). Re-integration can settle it ([`crate::confirm`]).
    pub fn failed_within_budget(&self) -> bool {
        self.verdict == Verdict::Inconclusive
            && self.info.form == Form::Inequality
            && !self.per_step
            && self.note.is_empty()
            && self.first_violation.is_none()
            && self.hypotheses.iter().all(|h| h.holds)
            && self
                .min_slack
                .is_some_and(|m| m.step > 0 && m.slack < 0.0 && m.slack >= -m.budget)
    }
}

struct Tracked {
    claim: Box<dyn Claim>,
    info: ClaimInfo,
    params: Value,
    hyps: Vec<Hypothesis>,
    min: Option<ExcerptRow>,
    all_clear: bool,
    violation: Option<Violation>,
    /// Later failing evaluations whose excess over the budget grew by [`CANDIDATE_GROWTH`]
    /// over the previous candidate's (at most [`MAX_CANDIDATES`]): where the genuine first
    /// violation is when the first one is not confirmed.
    later: Vec<Violation>,
    /// The failing evaluation with the largest excess over its budget.
    worst: Option<Violation>,
    /// Whether the statement compares consecutive accepted states (a [`Budget::Local`]
    /// statement, such as a monotone loss): its slack scales with the step.
    ///
    /// [`Budget::Local`]: crate::claim::Budget::Local
    per_step: bool,
    /// The claim is evaluated at accepted steps that start before this time (and at the
    /// end, for end-of-run claims): a confirmation run's window for this claim.
    until: f64,
    last: Option<ExcerptRow>,
    evaluations: u64,
    before: VecDeque<ExcerptRow>,
    after: Vec<ExcerptRow>,
    note: String,
    /// Accumulated error information (budgets).
    err: ErrorState,
    /// For an `eventually` statement: its deadline (run time), and whether every evaluation
    /// so far failed beyond its budget.
    deadline: Option<f64>,
    all_failed: bool,
    /// Some hypothesis on the setting fails (the verdict is `not_applicable`).
    inapplicable: bool,
    /// The first finite evaluation and the smallest [`Robustness::moved`] after it.
    first: Option<ExcerptRow>,
    moved: Option<f64>,
}

/// Evaluates a set of claims along a run (an [`Observer`] of every accepted step).
pub struct Checker {
    setting: Setting,
    tracked: Vec<Tracked>,
    /// The first accepted step whose error estimate exceeded the tolerance (`err > 1`, a
    /// fixed step): `(t, err)`. From there on the budgets do not bound the error.
    uncontrolled: Option<(f64, f64)>,
    /// Whether the final-state hypotheses are evaluated at the end (not when a confirmation
    /// run stops short of `t_end`, where "converged" means nothing).
    final_hypotheses: bool,
    steps: u64,
    state_error: f64,
    le_norm: f64,
    growth: f64,
    ybuf: Vec<f64>,
    fbuf: Vec<f64>,
    yhat: Vec<f64>,
    fhat: Vec<f64>,
    /// The row of trace columns (`slack:<id>`, `budget:<id>` per claim) when the run's trace
    /// asked for them ([`Observer::trace_columns`]).
    trace_row: Option<std::sync::Arc<std::sync::Mutex<Vec<f64>>>>,
}

impl Checker {
    /// Builds the claims of `requests` for `setting`.
    pub fn new(setting: Setting, requests: &[ClaimRequest]) -> Result<Self, GradflowError> {
        Ok(Self::with_claims(
            setting,
            build_claims(requests, &registered)?,
        ))
    }

    /// Whether some claim reads the energy integral `J = ∫‖∇L‖² dt`
    /// ([`Claim::needs_energy_integral`]); the run must then integrate it.
    pub fn needs_energy_integral(&self) -> bool {
        self.tracked.iter().any(|t| t.claim.needs_energy_integral())
    }

    /// A checker for claims built by the caller (e.g. a statement being developed, not yet
    /// registered), each with the parameters to report.
    pub fn with_claims(setting: Setting, claims: Vec<(Box<dyn Claim>, Value)>) -> Self {
        let mut tracked = Vec::new();
        for (claim, params) in claims {
            let info = claim.info();
            let mut hyps = claim.hypotheses(&setting);
            // papers 000, 002, 003 and paper 001's linear-only statements are about deep
            // linear networks: on a leaky-ReLU run they are out of scope
            let linear_only = info.paper != "001"
                || crate::claim::catalog::gol24::LINEAR_ONLY.contains(&info.id.as_str());
            if setting.eps > 0.0 && linear_only {
                hyps.push(Hypothesis::new(
                    "deep linear network (activation ε = 0)",
                    setting.eps,
                    crate::claim::Relation::Le,
                    0.0,
                ));
            }
            let deadline = (info.schedule == Schedule::Eventually).then(|| {
                claim
                    .stops(&setting)
                    .into_iter()
                    .fold(f64::INFINITY, f64::min)
            });
            tracked.push(Tracked {
                inapplicable: !hyps.iter().all(|h| h.holds),
                all_clear: deadline.is_none(),
                deadline,
                all_failed: true,
                claim,
                info,
                params,
                hyps,
                min: None,
                violation: None,
                later: Vec::new(),
                worst: None,
                per_step: false,
                until: f64::INFINITY,
                last: None,
                evaluations: 0,
                before: VecDeque::with_capacity(EXCERPT_ROWS + 1),
                after: Vec::with_capacity(EXCERPT_ROWS),
                note: String::new(),
                err: ErrorState::default(),
                first: None,
                moved: None,
            });
        }
        let n = setting.layout.dim();
        Self {
            setting,
            tracked,
            uncontrolled: None,
            final_hypotheses: true,
            steps: 0,
            state_error: 0.0,
            le_norm: 0.0,
            growth: 1.0,
            ybuf: vec![0.0; n],
            fbuf: vec![0.0; n],
            yhat: vec![0.0; n],
            fhat: vec![0.0; n],
            trace_row: None,
        }
    }

    /// Updates the state layout the claims read (after the flow gained the energy integral).
    pub fn set_layout(&mut self, layout: crate::flow::nearly_linear::StateLayout) {
        self.setting.layout = layout;
    }

    /// Limits claim `i`'s evaluations at accepted steps to those that start before `until`
    /// (the step that crosses it is the last one): a confirmation run's window for a claim
    /// whose violation lies early in a longer run.
    pub fn set_window(&mut self, i: usize, until: f64) {
        self.tracked[i].until = until;
    }

    /// Skips the final-state hypotheses ([`Claim::final_hypotheses`]) at the end of the run:
    /// for a confirmation run that stops before the original `t_end`.
    pub fn skip_final_hypotheses(&mut self) {
        self.final_hypotheses = false;
    }

    /// The run's setting.
    pub fn setting(&self) -> &Setting {
        &self.setting
    }

    /// Whether an evaluation fails its statement beyond the budget. A non-finite evaluation
    /// (NaN slack or budget) never fails: nothing was shown about the theorem there, and
    /// the verdict becomes inconclusive.
    fn fails(form: Form, e: &Evaluation) -> bool {
        match form {
            Form::Inequality => e.slack() < -e.budget,
            Form::Identity => e.slack().abs() > e.budget,
        }
    }

    /// Records an evaluation (margin, excerpt, last row); returns whether it fails.
    fn record(tr: &mut Tracked, e: Evaluation, step: u64, t: f64) -> bool {
        let row = ExcerptRow::new(step, t, &e);
        tr.evaluations += 1;
        // the reported margin is the evaluation closest to failing: the smallest signed slack
        // of an inequality, the largest deviation |lhs − rhs| of an identity
        let margin = |r: &ExcerptRow| match tr.info.form {
            Form::Inequality => r.slack,
            Form::Identity => -r.slack.abs(),
        };
        if !row.slack.is_finite() || !row.budget.is_finite() {
            if tr.note.is_empty() {
                tr.note = format!("non-finite evaluation at t = {t:e} (step {step})");
            }
        } else {
            if tr.min.is_none_or(|m| margin(&row) < margin(&m)) {
                tr.min = Some(row);
            }
            match tr.first {
                None => tr.first = Some(row),
                Some(first) => {
                    if let Some(m) = Robustness::moved(tr.info.form, &first, &row) {
                        tr.moved = Some(tr.moved.map_or(m, |v| v.min(m)));
                    }
                }
            }
        }
        let clear = match tr.info.form {
            Form::Inequality => row.slack > row.budget,
            Form::Identity => row.slack.abs() <= row.budget,
        };
        if !clear {
            tr.all_clear = false;
        }
        tr.last = Some(row);
        if tr.violation.is_some() {
            if tr.after.len() < EXCERPT_ROWS {
                tr.after.push(row);
            }
        } else {
            tr.before.push_back(row);
            if tr.before.len() > EXCERPT_ROWS + 1 {
                tr.before.pop_front();
            }
        }
        Self::fails(tr.info.form, &e)
    }

    /// Records an evaluation of an `eventually` statement: robustness is the largest slack
    /// (kept as the margin), satisfied once some `slack > budget`, and failing throughout
    /// while every `slack < −budget`.
    fn record_eventually(tr: &mut Tracked, e: Evaluation, step: u64, t: f64) {
        let row = ExcerptRow::new(step, t, &e);
        tr.evaluations += 1;
        tr.last = Some(row);
        if !row.slack.is_finite() || !row.budget.is_finite() {
            if tr.note.is_empty() {
                tr.note = format!("non-finite evaluation at t = {t:e} (step {step})");
            }
            tr.all_failed = false;
            return;
        }
        if tr.min.is_none_or(|m| row.slack > m.slack) {
            tr.min = Some(row);
        }
        if row.slack > row.budget {
            tr.all_clear = true;
        }
        if row.slack >= -row.budget {
            tr.all_failed = false;
        }
        tr.before.push_back(row);
        if tr.before.len() > EXCERPT_ROWS + 1 {
            tr.before.pop_front();
        }
    }

    /// At the end of the run: an `eventually` statement that failed beyond its budget at
    /// every evaluation up to its deadline, which the run reached, is violated at the
    /// deadline (reported with its best evaluation).
    fn close_eventually(&mut self, t_final: f64) {
        for tr in &mut self.tracked {
            let Some(deadline) = tr.deadline else {
                continue;
            };
            if tr.all_clear || tr.evaluations == 0 {
                continue;
            }
            if t_final < deadline * (1.0 - 4.0 * f64::EPSILON) {
                if tr.note.is_empty() {
                    tr.note = format!(
                        "the run ended at t = {t_final:e}, before the deadline t = {deadline:e}"
                    );
                }
                continue;
            }
            if let (true, Some(best), Some(last)) = (tr.all_failed, tr.min, tr.last) {
                let v = Violation {
                    t: deadline,
                    t_bracket: [best.t, deadline],
                    step: last.step,
                    at_root: best,
                    at_step: best,
                };
                tr.worst = Some(v.clone());
                tr.violation = Some(v);
            }
        }
    }

    /// How far an evaluation fails beyond its budget (positive: it fails): `−slack − budget`
    /// for an inequality, `|slack| − budget` for an identity.
    pub fn excess(form: Form, row: &ExcerptRow) -> f64 {
        match form {
            Form::Inequality => -row.slack - row.budget,
            Form::Identity => row.slack.abs() - row.budget,
        }
    }

    /// Files a failing evaluation at accepted step `p` (bracketed by the previous accepted
    /// time `bracket`): the first violation (root-found on the dense output), a later
    /// candidate, the worst.
    fn file_failure(
        &mut self,
        i: usize,
        integ: &mut dyn Stepper<GradientFlow>,
        p: &Point<'_>,
        bracket: Option<f64>,
        e: &Evaluation,
    ) {
        let at_step = ExcerptRow::new(p.step, p.t, e);
        let form = self.tracked[i].info.form;
        let t0 = bracket.unwrap_or(p.t);
        // a one-step difference is compared per unit time (it scales with the step)
        let per_step = self.tracked[i].per_step;
        let per = |v: &Violation| {
            let h = v.t_bracket[1] - v.t_bracket[0];
            let x = Self::excess(form, &v.at_step);
            if per_step && h > 0.0 {
                x / h
            } else {
                x
            }
        };
        let plain = Violation {
            t: p.t,
            t_bracket: [t0, p.t],
            step: p.step,
            at_root: at_step,
            at_step,
        };
        let excess = per(&plain);
        let tr = &self.tracked[i];
        let first = tr.violation.is_none();
        let candidate = !first
            && tr.later.len() < MAX_CANDIDATES
            && excess
                > CANDIDATE_GROWTH * per(tr.later.last().or(tr.violation.as_ref()).expect("first"));
        let worst = tr.worst.as_ref().is_none_or(|w| excess > per(w));
        if first {
            let (t_root, at_root) = match bracket {
                Some(t0) if t0 < p.t => self.locate(i, integ, t0, p, at_step),
                _ => (p.t, at_step),
            };
            self.tracked[i].violation = Some(Violation {
                t: t_root,
                at_root,
                ..plain.clone()
            });
        } else if candidate {
            self.tracked[i].later.push(plain.clone());
        }
        if worst {
            self.tracked[i].worst = Some(plain);
        }
    }

    /// Evaluates every scheduled claim at `p`; accumulates the local error of each slack
    /// (when `embedded` is given, the step's embedded solution and its derivative); locates
    /// first violations inside the step.
    fn evaluate_all(
        &mut self,
        integ: &mut dyn Stepper<GradientFlow>,
        p: &Point<'_>,
        schedule: Schedule,
        bracket: Option<f64>,
        embedded: bool,
    ) {
        for i in 0..self.tracked.len() {
            // an `eventually` statement is evaluated at the accepted steps, like `always`
            let evaluated_at = match self.tracked[i].info.schedule {
                Schedule::Eventually => Schedule::Always,
                s => s,
            };
            if evaluated_at != schedule {
                continue;
            }
            if bracket.is_some_and(|t0| t0 >= self.tracked[i].until) {
                continue;
            }
            // a claim whose hypotheses on the setting fail is not applicable whatever its
            // statement does: it is evaluated at the initial point (for the report) and costs
            // nothing after
            if self.tracked[i].inapplicable && (bracket.is_some() || schedule == Schedule::AtEnd) {
                continue;
            }
            let tr = &mut self.tracked[i];
            let Some(st) = tr.claim.evaluate(&self.setting, integ.system_mut(), p) else {
                continue;
            };
            tr.per_step |= matches!(st.budget, crate::claim::Budget::Local { .. });
            if embedded {
                tr.err.steps = self.steps;
                tr.err.state_error = self.state_error;
                if st.budget.needs_local_error() {
                    let phi = st.rhs - st.lhs;
                    let setting = &self.setting;
                    // |φ(y) − φ(q)|: the slack's change when the state moves to q (NaN when
                    // the statement is not evaluated there)
                    let change = |claim: &mut Box<dyn Claim>,
                                  gf: &mut GradientFlow,
                                  y: &[f64],
                                  f: &[f64]| {
                        let q = Point { y, f, ..*p };
                        claim
                            .evaluate(setting, gf, &q)
                            .map_or(f64::NAN, |sq| (phi - (sq.rhs - sq.lhs)).abs())
                    };
                    // the slack's local error: its change under the embedded solution ŷ
                    let d_trunc = change(&mut tr.claim, integ.system_mut(), &self.yhat, &self.fhat);
                    if d_trunc.is_finite() {
                        // the models that read the slack's own error also take its change
                        // under the local error without its direction (and one rounding of
                        // the state) and under the stepper's stage error, each evaluated
                        // apart (budget::undirected_state, budget::stage_state); f(y) stands
                        // in for f there (those statements are functions of the state)
                        let mut d_other = 0.0;
                        if st.budget.reads_slack_error() {
                            crate::claim::budget::undirected_state(p.y, &self.yhat, &mut self.ybuf);
                            let du = change(&mut tr.claim, integ.system_mut(), &self.ybuf, p.f);
                            if du.is_finite() {
                                d_other += du;
                            }
                            if let Some(stage) = integ.stage_error() {
                                crate::claim::budget::stage_state(p.y, stage, &mut self.ybuf);
                                let ds = change(&mut tr.claim, integ.system_mut(), &self.ybuf, p.f);
                                if ds.is_finite() {
                                    d_other += ds;
                                }
                            }
                        }
                        let d = d_trunc + d_other;
                        tr.err.slack_error = tr.err.slack_error * self.growth + d;
                        tr.err.step_slack_error = d;
                        // a local error below the state's last digit makes ŷ round to y:
                        // keep the previous sensitivity rather than report 0
                        let resolved = d_trunc > 4.0 * f64::EPSILON * (st.lhs.abs() + st.rhs.abs());
                        if self.le_norm > 0.0 && resolved {
                            tr.err.sensitivity = d_trunc / self.le_norm;
                        }
                    }
                }
            }
            let e = self.judge(i, &st);
            if self.tracked[i].deadline.is_some() {
                Self::record_eventually(&mut self.tracked[i], e, p.step, p.t);
                continue;
            }
            if Self::record(&mut self.tracked[i], e, p.step, p.t) {
                self.file_failure(i, integ, p, bracket, &e);
            }
        }
    }

    /// Turns a statement into an evaluation with its budget.
    fn judge(&self, i: usize, st: &Statement) -> Evaluation {
        Evaluation {
            lhs: st.lhs,
            rhs: st.rhs,
            budget: st.budget.value(&self.tracked[i].err),
        }
    }

    /// Bisection of the failure predicate (`slack + budget < 0`, or `|slack| > budget` for an
    /// identity) on the dense output over `(t0, p.t]`, where it is false at `t0` and true at
    /// `p.t`; 60 halvings (or until the interval is at round-off). Returns the earliest time
    /// found where it is true.
    fn locate(
        &mut self,
        i: usize,
        integ: &mut dyn Stepper<GradientFlow>,
        t0: f64,
        p: &Point<'_>,
        at_step: ExcerptRow,
    ) -> (f64, ExcerptRow) {
        let (mut lo, mut hi) = (t0, p.t);
        let mut best = at_step;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            integ.dense(mid, &mut self.ybuf);
            let gf = integ.system_mut();
            gf.rhs(mid, &self.ybuf, &mut self.fbuf);
            let q = Point {
                t: mid,
                y: &self.ybuf,
                f: &self.fbuf,
                ..*p
            };
            let form = self.tracked[i].info.form;
            let st = self.tracked[i].claim.evaluate(&self.setting, gf, &q);
            match st.map(|st| self.judge(i, &st)) {
                Some(e) if Self::fails(form, &e) => {
                    hi = mid;
                    best = ExcerptRow::new(p.step, mid, &e);
                }
                _ => lo = mid,
            }
        }
        (hi, best)
    }

    fn advance_all(&mut self, gf: &mut GradientFlow, p: &Point<'_>) {
        for tr in self.tracked.iter_mut().filter(|tr| !tr.inapplicable) {
            tr.claim.advance(&self.setting, gf, p);
        }
    }

    /// The verdicts (after the run).
    pub fn verdicts(&self) -> Vec<ClaimVerdict> {
        self.tracked
            .iter()
            .map(|tr| {
                let applicable = tr.hyps.iter().all(|h| h.holds);
                let mut note = tr.note.clone();
                // a violation found after a step outside error control may be the step's
                // error, which no budget bounds
                let after_uncontrolled = match (&tr.violation, self.uncontrolled) {
                    (Some(v), Some((t, err))) if t <= v.t_bracket[1] => Some((v.t, t, err)),
                    _ => None,
                };
                let verdict = if !applicable {
                    if tr.inapplicable && note.is_empty() {
                        note = "a hypothesis on the setting fails: the statement was evaluated at \
                                t = 0 only"
                            .into();
                    }
                    Verdict::NotApplicable
                } else if let Some((tv, t, err)) = after_uncontrolled {
                    note = format!(
                        "violated as computed at t = {tv:e}, but at t = {t:e} the run accepted a \
                         step whose error estimate exceeded the tolerance ({err:.3e} > 1, fixed \
                         steps): the budget does not bound the error from there, so this is not \
                         a counterexample; rerun with adaptive control{}",
                        if note.is_empty() {
                            String::new()
                        } else {
                            format!("; {note}")
                        }
                    );
                    Verdict::Inconclusive
                } else if tr.violation.is_some() {
                    Verdict::Violated
                } else if tr.evaluations == 0 {
                    if note.is_empty() {
                        note = "the statement was never evaluated".into();
                    }
                    Verdict::Inconclusive
                } else if tr.all_clear && note.is_empty() {
                    Verdict::Holds
                } else {
                    Verdict::Inconclusive
                };
                let mut excerpt: Vec<ExcerptRow> = tr.before.iter().copied().collect();
                excerpt.extend(&tr.after);
                ClaimVerdict {
                    info: tr.info.clone(),
                    params: tr.params.clone(),
                    verdict,
                    hypotheses: tr.hyps.clone(),
                    min_slack: tr.min,
                    first_violation: tr.violation.clone(),
                    worst_violation: tr.worst.clone(),
                    later_candidates: tr.later.clone(),
                    per_step: tr.per_step,
                    confirmation: None,
                    last: tr.last,
                    evaluations: tr.evaluations,
                    excerpt,
                    note,
                    moved_robustness: tr.moved,
                }
            })
            .collect()
    }
}

impl Checker {
    /// Writes each claim's slack and budget at `p` into the trace row: the evaluation
    /// recorded at this point, or NaN (written as `null`) where the claim was not evaluated
    /// here (end-of-run statements, claims past their window, hypotheses failing).
    fn fill_trace_row(&self, p: &Point<'_>) {
        let Some(row) = &self.trace_row else {
            return;
        };
        let mut row = row.lock().expect("trace row");
        for (tr, pair) in self.tracked.iter().zip(row.chunks_exact_mut(2)) {
            let (slack, budget) = match tr.last {
                Some(r) if r.step == p.step && r.t == p.t => (r.slack, r.budget),
                _ => (f64::NAN, f64::NAN),
            };
            pair[0] = slack;
            pair[1] = budget;
        }
    }
}

impl Observer for Checker {
    /// `slack:<id>` and `budget:<id>` for every claim (a repeated id gets `#2`, `#3`, … in
    /// request order), filled at every accepted point.
    fn trace_columns(&mut self) -> Option<crate::monitor::trace::TraceColumns> {
        let mut names = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for tr in &self.tracked {
            let id = tr.info.id.as_str();
            let k = seen.iter().filter(|s| **s == id).count();
            seen.push(id);
            let id = if k == 0 {
                id.to_string()
            } else {
                format!("{id}#{}", k + 1)
            };
            names.push(format!("slack:{id}"));
            names.push(format!("budget:{id}"));
        }
        let values = std::sync::Arc::new(std::sync::Mutex::new(vec![f64::NAN; names.len()]));
        self.trace_row = Some(values.clone());
        Some(crate::monitor::trace::TraceColumns { names, values })
    }

    fn stops(&self) -> Vec<f64> {
        self.tracked
            .iter()
            .flat_map(|t| t.claim.stops(&self.setting))
            .collect()
    }
    fn on_start(&mut self, run: &mut Observed<'_>, p: &Point<'_>) -> Result<()> {
        let integ = &mut *run.stepper;
        let n = integ.y().len();
        for buf in [
            &mut self.ybuf,
            &mut self.fbuf,
            &mut self.yhat,
            &mut self.fhat,
        ] {
            buf.resize(n, 0.0);
        }
        self.evaluate_all(integ, p, Schedule::Always, None, false);
        self.advance_all(integ.system_mut(), p);
        self.fill_trace_row(p);
        Ok(())
    }

    fn on_step(&mut self, run: &mut Observed<'_>, st: &AcceptedStep, p: &Point<'_>) -> Result<()> {
        let integ = &mut *run.stepper;
        self.steps += 1;
        if st.err > 1.0 && self.uncontrolled.is_none() {
            self.uncontrolled = Some((st.t, st.err));
        }
        let le = integ.local_error();
        for ((h, y), e) in self.yhat.iter_mut().zip(p.y).zip(le) {
            *h = y - e;
        }
        // state error and growth are measured on the weights: the extra states (∫‖R‖,
        // ∫‖∇L‖²) are quadratures that do not feed back into the flow, and their one-way
        // coupling would inflate the growth estimate
        // (with the linear twin: both weight blocks; its comparison scalars are closed-form
        // functions of t that do not feed back either)
        let ranges = self.setting.layout.weight_ranges();
        self.le_norm = ranges
            .iter()
            .flat_map(|r| le[r.clone()].iter())
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        // the step's error beyond truncation (stage error, rounding of the state) adds to
        // the state error; the slacks get it in evaluate_all
        let other = crate::claim::budget::nontruncation_norm(p.y, integ.stage_error(), &ranges);
        integ.system_mut().rhs(p.t, &self.yhat, &mut self.fhat);
        // growth of earlier errors over this step: exp(h·max(μ, 0)) with the logarithmic
        // norm estimate μ = ⟨f(y) − f(ŷ), y − ŷ⟩ / ‖y − ŷ‖² along the local error
        let mu = if self.le_norm > 0.0 {
            let dot: f64 = ranges
                .iter()
                .flat_map(|r| r.clone())
                .map(|i| (p.f[i] - self.fhat[i]) * (p.y[i] - self.yhat[i]))
                .sum();
            dot / (self.le_norm * self.le_norm)
        } else {
            0.0
        };
        self.growth = if mu.is_finite() {
            (st.h * mu.max(0.0)).exp()
        } else {
            1.0
        };
        self.state_error = self.state_error * self.growth + self.le_norm + other;
        self.evaluate_all(integ, p, Schedule::Always, Some(st.t_prev), true);
        self.advance_all(integ.system_mut(), p);
        self.fill_trace_row(p);
        Ok(())
    }

    fn on_finish(&mut self, run: &mut Observed<'_>, p: &Point<'_>, status: &Status) -> Result<()> {
        let integ = &mut *run.stepper;
        if let Status::Stopped(f) = status {
            for tr in &mut self.tracked {
                tr.note = format!("the run stopped before t_end: {f}");
            }
        }
        // hypotheses on the final state, for every claim, before the end-of-run statements
        for tr in self
            .tracked
            .iter_mut()
            .filter(|tr| self.final_hypotheses && !tr.inapplicable)
        {
            let extra = tr
                .claim
                .final_hypotheses(&self.setting, integ.system_mut(), p);
            tr.hyps.extend(extra);
        }
        // end-of-run claims use the last step's embedded solution (still in the buffers)
        // for their sensitivity, and the run's accumulated state error
        let completed = matches!(status, Status::Completed) && self.steps > 0;
        self.evaluate_all(integ, p, Schedule::AtEnd, None, completed);
        self.close_eventually(p.t);
        Ok(())
    }
}

/// A run with claims attached: the run's outcome and one verdict per claim.
pub struct CheckOutcome {
    /// The run (summary, status, statistics).
    pub run: crate::run::RunOutcome,
    /// The verdicts, in request order.
    pub verdicts: Vec<ClaimVerdict>,
}

/// Integrates `cfg` with the claims `requests` attached. Writes the run's outputs, and
/// `verdicts.json` plus `counterexamples/<id>.json` for each violated claim, under `out`,
/// as one output set ([`crate::report::output_set::OutputSet`]): `out` is replaced as a
/// whole, with a `manifest.json`, once every file is written — on an error before that it
/// is left as it was. A trace that cannot be written is given up: the other files are
/// written and committed, then the trace's error is returned.
///
/// Every violation is confirmed by re-integration before it is reported
/// ([`crate::confirm`]); [`run_check_with`] chooses otherwise.
pub fn run_check(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    out: Option<&std::path::Path>,
) -> Result<CheckOutcome, GradflowError> {
    run_check_with(cfg, requests, out, &crate::confirm::ConfirmMode::Auto)
}

/// [`run_check`] with the confirmation of violations chosen by `confirm`.
pub fn run_check_with(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    out: Option<&std::path::Path>,
    confirm: &crate::confirm::ConfirmMode,
) -> Result<CheckOutcome, GradflowError> {
    run_check_claims(cfg, requests, &registered, out, confirm, false)
}

/// [`run_check_claims`] with every violation confirmed ([`crate::confirm::ConfirmMode::Auto`])
/// and no extra integrals: how `gradflow check`, the suite, the sweep, the search and the
/// shrinker check a setting.
pub fn check_confirmed(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    out: Option<&std::path::Path>,
) -> Result<CheckOutcome, GradflowError> {
    run_check_claims(
        cfg,
        requests,
        factory,
        out,
        &crate::confirm::ConfirmMode::Auto,
        false,
    )
}

/// Builds the claim a request names, with the request's parameters.
pub type ClaimFactory<'a> = dyn Fn(&ClaimRequest) -> Result<Box<dyn Claim>, GradflowError> + 'a;

/// The factory of registered claims ([`registry::build`]).
pub fn registered(r: &ClaimRequest) -> Result<Box<dyn Claim>, GradflowError> {
    registry::build(&r.id, &r.params)
}

/// A built claim with the parameters to report.
pub type ParamClaim = (Box<dyn Claim>, Value);

/// Builds one claim per request.
pub fn build_claims(
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
) -> Result<Vec<ParamClaim>, GradflowError> {
    requests
        .iter()
        .map(|r| Ok((factory(r)?, r.params.clone())))
        .collect()
}

/// [`run_check_with`] on claims built by `factory` (claims being developed, not yet
/// registered, are checked and confirmed like registered ones). `energy` integrates the
/// energy integral `J` even when none of the claims reads it: `J` is an ODE state under
/// error control, so this follows the trajectory of a check with more claims (the corpus's
/// false variants, checked apart from the claims they vary).
pub fn run_check_claims(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    out: Option<&std::path::Path>,
    confirm: &crate::confirm::ConfirmMode,
    energy: bool,
) -> Result<CheckOutcome, GradflowError> {
    check_in(cfg, requests, factory, out, confirm, energy, None)
}

/// [`check_confirmed`] with `watcher`, an observer that changes nothing (the progress of
/// [`crate::progress::RunProgress`]), called after the checker at every point of the
/// checked run (not of its confirmation runs).
pub fn check_watched(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    out: Option<&std::path::Path>,
    watcher: &mut dyn crate::observe::Observer,
) -> Result<CheckOutcome, GradflowError> {
    let confirm = crate::confirm::ConfirmMode::Auto;
    check_in(cfg, requests, factory, out, &confirm, false, Some(watcher))
}

fn check_in(
    cfg: &crate::config::RunConfig,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    out: Option<&std::path::Path>,
    confirm: &crate::confirm::ConfirmMode,
    energy: bool,
    watcher: Option<&mut dyn crate::observe::Observer>,
) -> Result<CheckOutcome, GradflowError> {
    crate::run::verify_run_inputs(cfg)?;
    let mut problem = crate::run::Problem::build(cfg)?;
    let setting = Setting::of_problem(cfg, &problem);
    let mut checker = Checker::with_claims(setting, build_claims(requests, factory)?);
    let energy = energy || checker.needs_energy_integral();
    if energy {
        problem.flow.set_energy_integral(true);
        checker.set_layout(problem.flow.layout());
    }
    let set = out
        .map(|o| crate::report::output_set::OutputSet::begin(o, "check"))
        .transpose()?;
    let (run, trace_error) =
        crate::run::execute_staged(cfg, problem, set.as_ref(), Some(&mut checker), watcher)?;
    let mut verdicts = checker.verdicts();
    let trials = run.stats.accepted + run.stats.rejected;
    crate::confirm::confirm(
        cfg,
        requests,
        factory,
        &mut verdicts,
        trials,
        energy,
        confirm,
    );
    if let Some(set) = set {
        crate::report::counterexample::write_reports(
            set.dir(),
            cfg,
            &run,
            &verdicts
                .iter()
                .map(|v| serde_json::to_value(v).expect("verdicts serialise"))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| set.remap(e))?;
        set.commit()?;
    }
    match trace_error {
        Some(e) => Err(e),
        None => Ok(CheckOutcome { run, verdicts }),
    }
}
