//! Confirmation of violations by re-integration: a `violated` verdict is never a numerical
//! artifact.
//!
//! A violation found on a run says "the statement fails on the computed trajectory by more
//! than the error budget". The budget is an estimate, so before a violation is reported, the
//! same configuration is integrated again from `t = 0` to just past the violation
//! ([`Plan::t_stop`]) on a ladder of more accurate runs ([`Plan::rungs`]):
//!
//! - stage 1: the same method at `rtol·10⁻²` and a second method family at `rtol·10⁻²`
//!   (Radau IIA 5 for the explicit pairs, ROCK4 and `auto`; DOP853 for the implicit methods,
//!   [`second_family`]);
//! - stage 2, only for the claims stage 1 did not settle: the same method at `rtol·10⁻³`
//!   (absolute tolerances scale alike; values are clamped at [`RTOL_FLOOR`], a same-method
//!   rung that is not 3× tighter than the one before is dropped, and a run that underflows
//!   its step retries at a looser factor).
//!
//! Each confirmation run is a full check of the violated claims (same data, weights,
//! perturbation, claim parameters; the claims see the original `t_end`; each claim is
//! evaluated only in its own window), with its own, tighter, error budget. Write `v` for the
//! size of a run's largest violation (`−slack` at the minimum slack of an inequality,
//! `|lhs − rhs|` at its largest for an identity; for a one-step statement the failing
//! evaluation with the largest excess per unit time, compared as it is and per unit time)
//! and `b` for the budget there. A genuine violation's `v` converges to a positive limit as
//! the tolerance shrinks; an artifact's `v` shrinks with the tolerance. The rule
//! ([`decide`]):
//!
//! - a completed run with the claim applicable either reproduces the violation (violated
//!   beyond its own budget: counted), or refutes it (it holds, or its budget is fine enough,
//!   `AGREEMENT · b < v_original`, and it is not violated), or cannot tell (ignored, as is a
//!   run under which a hypothesis fails); a refutation is never confirmed;
//! - stage 1 confirms when both runs are counted, the violation holds up as the tolerance
//!   tightens (no run's size is below `1/AGREEMENT` of a less accurate run's, the original
//!   included: an artifact shrinks, a genuine violation may also grow when the accurate runs
//!   evaluate it at points where it is larger), and the limit `v∞` of `v(τ) = v∞ + c·τ` through the
//!   original and the same-method run exceeds that run's budget;
//! - stage 2 confirms when no applicable run failed to finish, at least two are counted,
//!   the violation holds up among them, and `v∞` through the two same-method runs
//!   (≥ 10× apart in tolerance) exceeds the tightest budget; without such a pair (near the
//!   floor, or a same-method rung still inside its budget) it must hold up among the runs
//!   and the original, and either each run must exceed `AGREEMENT ×` its budget, or the
//!   most accurate runs of the two families must agree in size within the sum of their
//!   budgets with one beyond `AGREEMENT ×` its own (`families_agree`).
//!
//! Otherwise the verdict is `inconclusive`, with the reason and every run's slack and
//! budget. Gradient descent is not re-integrated: its iterates are the statement's object,
//! exact up to round-off. A confirmed violation's reported first violation is the earliest
//! candidate of the original run ([`crate::check::ClaimVerdict::later_candidates`]) that is
//! not earlier than the tightest same-method run's own first violation, so a round-off-sized
//! early failure that the accurate run does not reproduce is not reported as the first one.
//!
//! Violations at the initial point are confirmed without re-integration ([`at_initial_point`]).
//!
//! **Failures inside the budget.** An inequality whose smallest slack is negative but inside
//! its budget ([`ClaimVerdict::failed_within_budget`]) is `inconclusive` as computed: the
//! statement fails on the computed trajectory, by less than the a-priori error estimate. The
//! estimate can be far above the actual error — on a stiff GL2 run (contraction rate ~10³)
//! the propagated budget of Lemma 4.5's rate summed every step's local error without
//! crediting the contraction and took the slack's sensitivity along the stiff direction,
//! 1.1 against an actual error of 1.3e-3 — so such a failure gets the same ladder, with the
//! window ending at its smallest slack (every run steps to that time). The same rule
//! decides: the more accurate runs must violate beyond their own (finer) budgets and hold
//! up, and the limit must exceed the tightest budget; then it is `violated`, reported at the
//! original run's tightest evaluation, with a note that it failed inside the original
//! budget. Otherwise it stays `inconclusive`, with the runs recorded. An artifact — a true
//! statement that fails by its integration error — shrinks with the tolerance and is never
//! confirmed.
//!
//! Cost: nothing for runs without a violation; with violations, two runs over `[0, t_stop]`
//! (three when stage 2 is needed), each bounded by [`work_factor`] × the original run's trial
//! steps + [`WORK_MIN`] trial steps. The plan is recorded in the verdict, so that `replay`
//! repeats exactly the same confirmation runs.

use serde::{Deserialize, Serialize};

use crate::check::{ClaimFactory, ClaimRequest, ClaimVerdict, Violation};
use crate::claim::{Form, Setting, Verdict};
use crate::config::{Method, RunConfig, Tol};
use crate::error::GradflowError;
use crate::run::{Problem, Status};

/// Tightening factors of the same-method rungs.
pub const TIGHTEN: [f64; 2] = [1e-2, 1e-3];
/// The factors each same-method rung retries with after a step-size underflow.
pub const RETRY: [f64; 2] = [1e-1, 3e-3];
/// Smallest relative (and scaled absolute) tolerance a confirmation run uses.
pub const RTOL_FLOOR: f64 = 1e-13;
/// Largest ratio between the violation sizes of the confirmation runs.
pub const AGREEMENT: f64 = 2.0;
/// Trial-step limit of a confirmation run, per trial step of the original run.
pub const WORK_FACTOR: u64 = 20;
/// The trial-step factor of a method's confirmation runs: [`WORK_FACTOR`], or more for a
/// low-order method, whose steps grow like `tol^{−1/q}` (`q` the power of `h` its error
/// estimate scales with): three times the growth at the tightest factor of [`TIGHTEN`]
/// (95× for GL2, whose estimate is second order; 20× for the methods of order ≥ 4).
pub fn work_factor(method: Method) -> u64 {
    let q = if let Some(t) = method.tableau() {
        f64::from(t.error_order)
    } else if let Some(c) = method.collocation() {
        f64::from(c.est_order) + 1.0
    } else {
        4.0
    };
    let growth = (1.0 / TIGHTEN[1]).powf(1.0 / q);
    WORK_FACTOR.max((3.0 * growth).ceil() as u64)
}

/// Trial steps every confirmation run may take beyond `WORK_FACTOR ×` the original's.
pub const WORK_MIN: u64 = 5_000;
/// The default trial-step limit of a run (as the drivers' own default).
const MAX_STEPS_CAP: u64 = 10_000_000;

/// Why a rung is in the ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RungKind {
    /// The original method at a tighter tolerance.
    Tightened,
    /// Another method family.
    SecondFamily,
}

/// One confirmation run's method and tolerances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// Same method, tighter, or another family.
    pub kind: RungKind,
    /// Method.
    pub method: Method,
    /// 1: run for every violation; 2: run only when the first stage did not settle it.
    pub stage: u8,
    /// `(rtol, atol)` pairs, tightest first: the next is tried when a run stops with a
    /// step-size underflow (the tolerance is below what round-off lets the method reach).
    pub tolerances: Vec<(Tol, Tol)>,
}

/// The confirmation runs of one checked run (shared by its violated claims).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Every confirmation run integrates `[0, t_stop]`.
    pub t_stop: f64,
    /// Trial-step limit of each confirmation run.
    pub max_steps: u64,
    /// Whether the runs integrate the energy integral `J` (as the original did).
    pub energy_integral: bool,
    /// The runs.
    pub rungs: Vec<Rung>,
    /// Times every run steps to exactly ([`RunConfig::tstops`]): where the original run
    /// evaluated its violations (first, worst, the later candidates and the smallest slack
    /// of each pointwise claim), so that a confirmation run judges the statement at the same
    /// times — a statement false only near one time is reproduced there, and an artifact is
    /// refuted there — instead of at its own accepted points only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stops: Vec<f64>,
}

/// Most [`Plan::stops`] a plan records.
pub const MAX_STOPS: usize = 256;

/// The times where the original run evaluated the violations of the pointwise claims in
/// `violated`, inside `(0, t_stop)`, sorted, at most [`MAX_STOPS`].
fn stops(violated: &[&ClaimVerdict], t_stop: f64) -> Vec<f64> {
    let mut t: Vec<f64> = violated
        .iter()
        .filter(|v| v.info.schedule == crate::claim::Schedule::Always)
        .flat_map(|v| {
            v.first_violation
                .iter()
                .chain(v.worst_violation.iter())
                .chain(v.later_candidates.iter())
                .map(|w| w.at_step.t)
                .chain(v.min_slack.iter().map(|m| m.t))
        })
        .filter(|t| t.is_finite() && *t > 0.0 && *t < t_stop)
        .collect();
    t.sort_by(f64::total_cmp);
    t.dedup();
    t.truncate(MAX_STOPS);
    t
}

/// What one confirmation run found for one claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungResult {
    /// Same method, tighter, or another family.
    pub kind: RungKind,
    /// Method.
    pub method: Method,
    /// Relative tolerance (largest per-layer value).
    pub rtol: f64,
    /// `completed`, or why the run did not reach `t_stop`.
    pub status: String,
    /// Whether the claim's hypotheses on the configuration hold under this run.
    pub applicable: bool,
    /// Whether the claim is violated on this run beyond its budget.
    pub violated: bool,
    /// Size `v` of the run's largest violation (`−slack` at the minimum slack, `|lhs − rhs|`
    /// at its largest; a one-step statement's at its largest excess per unit time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<f64>,
    /// The budget at that evaluation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    /// For a one-step statement: the length of the step the worst violation spans (sizes
    /// are also compared per unit time, `v/h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Where that evaluation is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_t: Option<f64>,
    /// The run's first violation time (root-found), when violated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_violation_t: Option<f64>,
    /// Accepted steps.
    pub steps: u64,
    /// Right-hand-side evaluations.
    pub nfev: u64,
}

impl RungResult {
    fn counts(&self) -> bool {
        self.status == "completed" && self.applicable && self.size.is_some()
    }
}

/// The confirmation of one violated claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Whether the violation is confirmed.
    pub confirmed: bool,
    /// Why (or why not), in words.
    pub reason: String,
    /// Size of the original run's worst violation.
    pub original_size: f64,
    /// Its budget.
    pub original_budget: f64,
    /// The fitted limit `v∞` of the violation size as the tolerance → 0 (same-method rungs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Every confirmation run.
    pub runs: Vec<RungResult>,
    /// The plan the runs followed (none for a violation at the initial point).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

/// How [`crate::check::run_check_with`] treats violations.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ConfirmMode {
    /// Confirm every violation by the plan [`plan`] makes (the default).
    #[default]
    Auto,
    /// Confirm by a given plan (replay of a report).
    Plan(Plan),
    /// Report violations as found (no re-integration).
    Off,
}

/// The second method family of a confirmation: Radau IIA 5 for explicit and stabilized
/// methods (and `auto`, whose explicit phase is DOPRI5), DOP853 for the implicit ones;
/// `None` for gradient descent.
pub fn second_family(m: Method) -> Option<Method> {
    match m {
        Method::Gd => None,
        Method::Radau5 | Method::Gl2 | Method::Gl4 | Method::Gl6 => Some(Method::Dop853),
        _ => Some(Method::Radau5),
    }
}

fn rtol_max(t: &Tol) -> f64 {
    match t {
        Tol::Scalar(v) => *v,
        Tol::PerLayer(v) => v.iter().copied().fold(0.0, f64::max),
    }
}

/// Scales a relative tolerance by `factor`, clamped at [`RTOL_FLOOR`], and the absolute
/// tolerance by the same achieved ratio.
fn tighten(rtol: &Tol, atol: &Tol, factor: f64) -> (Tol, Tol) {
    let r0 = rtol_max(rtol);
    let r = (r0 * factor).max(RTOL_FLOOR.min(r0));
    let achieved = if r0 > 0.0 { r / r0 } else { factor };
    let relative = |v: f64| (v * achieved).max(RTOL_FLOOR.min(v));
    let rtol = match rtol {
        Tol::Scalar(v) => Tol::Scalar(relative(*v)),
        Tol::PerLayer(v) => Tol::PerLayer(v.iter().map(|x| relative(*x)).collect()),
    };
    let atol = match atol {
        Tol::Scalar(v) => Tol::Scalar(v * achieved),
        Tol::PerLayer(v) => Tol::PerLayer(v.iter().map(|x| x * achieved).collect()),
    };
    (rtol, atol)
}

/// The time a confirmation run must reach for claim `v`: one bracket width past its worst
/// violation; for a failure inside the budget ([`ClaimVerdict::failed_within_budget`]) the
/// time of its smallest slack, which every run steps to ([`Plan::stops`]); `t_end` for an
/// end-of-run claim.
pub fn window(cfg: &RunConfig, v: &ClaimVerdict) -> f64 {
    let w = v.worst_violation.as_ref().or(v.first_violation.as_ref());
    let end = match (v.info.schedule, w, v.min_slack) {
        (crate::claim::Schedule::Always, Some(w), _) => {
            w.t_bracket[1] + (w.t_bracket[1] - w.t_bracket[0])
        }
        (crate::claim::Schedule::Always, None, Some(m)) if v.failed_within_budget() => m.t,
        _ => cfg.t_end,
    };
    end.min(cfg.t_end)
}

/// Whether a violation is at the initial point, where nothing has been integrated: the
/// statement evaluated at `θ(0)` is the same at any tolerance and its round-off budget
/// decides.
pub fn at_initial_point(v: &ClaimVerdict) -> bool {
    v.first_violation.as_ref().is_some_and(|f| f.step == 0)
}

/// The confirmation plan of a run whose claims in `violated` were found violated:
/// `t_stop` just past the latest worst violation (one bracket width on), or `t_end` when an
/// end-of-run claim is among them; `None` for gradient descent.
pub fn plan(
    cfg: &RunConfig,
    violated: &[&ClaimVerdict],
    original_trials: u64,
    energy_integral: bool,
) -> Option<Plan> {
    let second = second_family(cfg.method)?;
    let t_stop = violated.iter().map(|v| window(cfg, v)).fold(0.0, f64::max);
    let ladder = |factors: &[f64]| -> Vec<(Tol, Tol)> {
        let mut v: Vec<(Tol, Tol)> = Vec::new();
        for f in factors {
            let t = tighten(&cfg.rtol, &cfg.atol, *f);
            if !v.contains(&t) {
                v.push(t);
            }
        }
        v
    };
    let mut tightened: Vec<Vec<(Tol, Tol)>> = Vec::new();
    let mut last = rtol_max(&cfg.rtol);
    for (f, retry) in TIGHTEN.iter().zip(RETRY) {
        let tolerances = ladder(&[*f, retry]);
        let r = rtol_max(&tolerances[0].0);
        if r <= last / 3.0 {
            last = r;
            tightened.push(tolerances);
        }
    }
    let second_at = |f: f64, stage: u8| Rung {
        kind: RungKind::SecondFamily,
        method: second,
        stage,
        tolerances: ladder(&[f, f * 10.0, 1.0]),
    };
    let mut rungs: Vec<Rung> = Vec::new();
    let mut tightened = tightened.into_iter();
    if let Some(tolerances) = tightened.next() {
        rungs.push(Rung {
            kind: RungKind::Tightened,
            method: cfg.method,
            stage: 1,
            tolerances,
        });
    }
    rungs.push(second_at(TIGHTEN[0], 1));
    match tightened.next() {
        Some(tolerances) => rungs.push(Rung {
            kind: RungKind::Tightened,
            method: cfg.method,
            stage: 2,
            tolerances,
        }),
        // the tolerance is near the floor: the second family at the second factor too
        None => {
            let extra = second_at(TIGHTEN[1], 2);
            if !rungs
                .iter()
                .any(|r| r.tolerances == extra.tolerances && r.method == second)
            {
                rungs.push(extra);
            }
        }
    }
    let max_steps = original_trials
        .saturating_mul(work_factor(cfg.method))
        .saturating_add(WORK_MIN)
        .min(MAX_STEPS_CAP);
    Some(Plan {
        t_stop,
        max_steps,
        energy_integral,
        rungs,
        stops: stops(violated, t_stop),
    })
}

/// The run configuration of one rung: the original with the rung's method and tolerances,
/// `t_end = t_stop`, the work limit, adaptive control (no fixed step), no trace or extra
/// monitors.
fn rung_config(cfg: &RunConfig, plan: &Plan, rung: &Rung, tol: &(Tol, Tol)) -> RunConfig {
    let mut c = cfg.clone();
    c.method = rung.method;
    c.rtol = tol.0.clone();
    c.atol = tol.1.clone();
    c.t_end = plan.t_stop;
    c.max_steps = Some(plan.max_steps);
    let stops: Vec<f64> = plan
        .stops
        .iter()
        .chain(cfg.tstops.iter().flatten())
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0 && *t < plan.t_stop)
        .take(crate::config::MAX_TSTOPS)
        .collect();
    c.tstops = (!stops.is_empty()).then_some(stops);
    c.fixed_step = None;
    c.trace = None;
    c.loss_threshold = None;
    c.sharpness_every = None;
    c.gf_reference = false;
    let explicit = rung.method.tableau().is_some();
    if rung.method != Method::Auto {
        c.auto_stiff = None;
    }
    if !explicit && rung.method != Method::Auto {
        c.on_chatter = None;
        c.chatter = None;
    }
    c
}

/// Runs one rung for `requests`; one result per request.
fn run_rung(
    cfg: &RunConfig,
    plan: &Plan,
    rung: &Rung,
    requests: &[ClaimRequest],
    windows: &[f64],
    factory: &ClaimFactory<'_>,
) -> Vec<RungResult> {
    let mut results = Vec::new();
    for tol in &rung.tolerances {
        results = run_rung_at(cfg, plan, rung, tol, requests, windows, factory);
        let underflow = results
            .first()
            .is_some_and(|r| r.status.contains("step size underflow"));
        if !underflow {
            break;
        }
    }
    results
}

/// One rung at one tolerance pair.
fn run_rung_at(
    cfg: &RunConfig,
    plan: &Plan,
    rung: &Rung,
    tol: &(Tol, Tol),
    requests: &[ClaimRequest],
    windows: &[f64],
    factory: &ClaimFactory<'_>,
) -> Vec<RungResult> {
    let c = rung_config(cfg, plan, rung, tol);
    let rtol = rtol_max(&tol.0);
    let failed = |status: String| {
        requests
            .iter()
            .map(|_| RungResult {
                kind: rung.kind,
                method: rung.method,
                rtol,
                status: status.clone(),
                applicable: false,
                violated: false,
                size: None,
                budget: None,
                step: None,
                at_t: None,
                first_violation_t: None,
                steps: 0,
                nfev: 0,
            })
            .collect()
    };
    let outcome = (|| -> Result<_, GradflowError> {
        let mut problem = Problem::build(&c)?;
        // the claims see the original end time (and the rung's method and tolerances)
        let mut seen = c.clone();
        seen.t_end = cfg.t_end;
        let setting = Setting::of_problem(&seen, &problem);
        let claims = crate::check::build_claims(requests, factory)?;
        let mut checker = crate::check::Checker::with_claims(setting, claims);
        for (i, until) in windows.iter().enumerate() {
            checker.set_window(i, *until);
        }
        if plan.energy_integral || checker.needs_energy_integral() {
            problem.flow.set_energy_integral(true);
            checker.set_layout(problem.flow.layout());
        }
        if plan.t_stop < cfg.t_end {
            checker.skip_final_hypotheses();
        }
        let run = crate::run::execute_problem(&c, problem, None, Some(&mut checker))?;
        Ok((run, checker.verdicts()))
    })();
    let (run, verdicts) = match outcome {
        Ok(o) => o,
        Err(e) => return failed(format!("error: {e}")),
    };
    let status = match &run.status {
        Status::Completed => "completed".to_string(),
        Status::Stopped(f) => format!("stopped: {f}"),
    };
    verdicts
        .iter()
        .map(|v| {
            let (row, h) = compared(v);
            RungResult {
                kind: rung.kind,
                method: rung.method,
                rtol,
                status: status.clone(),
                applicable: v.hypotheses.iter().all(|h| h.holds),
                violated: v.first_violation.is_some(),
                size: row.map(|r| size(v.info.form, r.slack)),
                budget: row.map(|r| r.budget),
                step: (v.per_step && h > 0.0).then_some(h),
                at_t: row.map(|r| r.t),
                first_violation_t: v.first_violation.as_ref().map(|f| f.t),
                steps: run.stats.accepted,
                nfev: run.stats.nfev,
            }
        })
        .collect()
}

/// The evaluation whose size runs are compared by, and the step it spans: the largest
/// violation size (the minimum slack, or the largest `|lhs − rhs|`), which is a property of
/// the trajectory, not of the run's budget; for a one-step statement the failing evaluation
/// with the largest excess per unit time.
fn compared(v: &ClaimVerdict) -> (Option<crate::check::ExcerptRow>, f64) {
    match (&v.worst_violation, v.per_step) {
        (Some(w), true) => (Some(w.at_step), w.t_bracket[1] - w.t_bracket[0]),
        _ => (v.min_slack, 0.0),
    }
}

/// Size of a violation: `−slack` of an inequality, `|slack|` of an identity.
fn size(form: Form, slack: f64) -> f64 {
    match form {
        Form::Inequality => -slack,
        Form::Identity => slack.abs(),
    }
}

/// The original run's worst violation, as a point of the tolerance ladder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Original {
    /// Relative tolerance (largest per-layer value).
    pub rtol: f64,
    /// Size `v` of its worst violation.
    pub size: f64,
    /// Budget there.
    pub budget: f64,
    /// For a one-step statement: the length of the step it spans.
    pub step: Option<f64>,
}

impl Original {
    /// Per unit time (a one-step statement's slack scales with the step).
    fn per_time(self) -> Self {
        let h = self.step.unwrap_or(1.0);
        Self {
            size: self.size / h,
            budget: self.budget / h,
            ..self
        }
    }
}

impl RungResult {
    /// Size and budget per unit time.
    fn per_time(&self) -> Self {
        let h = self.step.unwrap_or(1.0);
        Self {
            size: self.size.map(|v| v / h),
            budget: self.budget.map(|b| b / h),
            ..self.clone()
        }
    }
}

fn describe(r: &RungResult) -> String {
    format!(
        "{} rtol {:.0e}: v = {:.3e}, budget {:.3e}",
        method_name(r.method),
        r.rtol,
        r.size.unwrap_or(f64::NAN),
        r.budget.unwrap_or(f64::NAN)
    )
}

/// `v∞` of the line `v(τ) = v∞ + c·τ` through `(τ_a, v_a)` and `(τ_b, v_b)`, `τ_a > τ_b`.
fn limit_through(a: (f64, f64), b: (f64, f64)) -> f64 {
    b.1 - (a.1 - b.1) * b.0 / (a.0 - b.0)
}

/// Whether the violation holds up as the tolerance tightens: for every pair of runs
/// `(rtol, v)` where one is strictly more accurate, its size is at least `1/AGREEMENT` of
/// the less accurate one's (NaN never holds up). An artifact's size shrinks with the
/// tolerance; a genuine violation's converges to its limit from either side — it may grow,
/// when a more accurate run evaluates the statement at points (earlier, or more of them)
/// where it is violated by more. Runs of equal tolerance (two methods) are not compared
/// with each other: their accepted points differ.
fn holds_up(runs: &[(f64, f64)]) -> bool {
    runs.iter().all(|(_, v)| v.is_finite())
        && runs.iter().all(|&(ra, va)| {
            runs.iter()
                .filter(|(rb, _)| *rb < ra)
                .all(|&(_, vb)| AGREEMENT * vb >= va)
        })
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Confirmed (why; the fitted limit).
    Confirmed(String, Option<f64>),
    /// Not confirmed (why; the fitted limit, if any).
    NotConfirmed(String, Option<f64>),
    /// The first stage did not settle it: run the second-stage rungs.
    Unsettled,
}

/// The confirmation rule (module documentation) on one claim's runs so far. `final_stage`:
/// every rung of the plan has been run. A one-step statement (its runs carry the step
/// length) is confirmed when its sizes hold up either as they are (a constant offset) or per
/// unit time (a rate: the one-step slack of a wrong sign of `dL/dt` scales with the step);
/// an artifact shrinks with the tolerance either way.
pub fn decide(original: Original, runs: &[RungResult], final_stage: bool) -> Decision {
    let raw = decide_sizes(original, runs, final_stage);
    if original.step.is_none() || matches!(raw, Decision::Confirmed(..)) {
        return raw;
    }
    let rates: Vec<RungResult> = runs.iter().map(RungResult::per_time).collect();
    match decide_sizes(original.per_time(), &rates, final_stage) {
        Decision::Confirmed(why, l) => Decision::Confirmed(format!("{why} (per unit time)"), l),
        Decision::Unsettled => Decision::Unsettled,
        Decision::NotConfirmed(..) => raw,
    }
}

fn decide_sizes(original: Original, runs: &[RungResult], final_stage: bool) -> Decision {
    // a completed run with the claim applicable either reproduces the violation (counted),
    // or shows it absent: it holds there, or its budget was fine enough to see the original
    // violation and it did not (against); otherwise its budget is too coarse to tell
    // (ignored, as is a run under which the claim is not applicable)
    let evaluated = |r: &&RungResult| r.counts();
    let against = runs.iter().filter(evaluated).find(|r| {
        let (v, b) = (r.size.unwrap_or(f64::NAN), r.budget.unwrap_or(f64::NAN));
        !r.violated && (v < -b || AGREEMENT * b < original.size)
    });
    if let Some(r) = against {
        return Decision::NotConfirmed(
            format!(
                "not confirmed: not reproduced by the more accurate run ({}): a numerical \
                 artifact of the original run (original v = {:.3e}, budget {:.3e})",
                describe(r),
                original.size,
                original.budget
            ),
            None,
        );
    }
    let counted: Vec<&RungResult> = runs
        .iter()
        .filter(evaluated)
        .filter(|r| r.violated)
        .collect();
    let unfinished: Vec<&RungResult> = runs
        .iter()
        .filter(|r| r.status != "completed" && (r.applicable || r.status.starts_with("error")))
        .collect();
    let mut same: Vec<&RungResult> = counted
        .iter()
        .copied()
        .filter(|r| r.kind == RungKind::Tightened)
        .collect();
    same.sort_by(|a, b| b.rtol.total_cmp(&a.rtol));
    let sized: Vec<(f64, f64)> = counted
        .iter()
        .map(|r| (r.rtol, r.size.unwrap_or(f64::NAN)))
        .collect();
    let all = || {
        counted
            .iter()
            .map(|r| describe(r))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !final_stage {
        // stage 1: the violation holds up from the original to both first rungs, and the line through the
        // original and the same-method rung stays beyond that rung's budget
        let [a] = same.as_slice() else {
            return Decision::Unsettled;
        };
        if counted.len() < 2 || original.rtol < 10.0 * a.rtol {
            return Decision::Unsettled;
        }
        let mut with_original = sized.clone();
        with_original.push((original.rtol, original.size));
        let (va, ba) = (a.size.unwrap_or(f64::NAN), a.budget.unwrap_or(f64::NAN));
        let limit = limit_through((original.rtol, original.size), (a.rtol, va));
        return if holds_up(&with_original) && limit > ba {
            Decision::Confirmed(
                format!(
                    "confirmed by {} more accurate runs (original v = {:.3e}; {}); limit v∞ = \
                     {limit:.3e}",
                    counted.len(),
                    original.size,
                    all()
                ),
                Some(limit),
            )
        } else {
            Decision::Unsettled
        };
    }
    // final stage: the confirmation runs alone
    let limit = match same.as_slice() {
        [.., a, b] if a.rtol >= 10.0 * b.rtol => Some(limit_through(
            (a.rtol, a.size.unwrap_or(f64::NAN)),
            (b.rtol, b.size.unwrap_or(f64::NAN)),
        )),
        _ => None,
    };
    if !unfinished.is_empty() || counted.len() < 2 {
        let why: Vec<String> = runs
            .iter()
            .filter(|r| !(r.counts() && r.violated))
            .map(|r| {
                format!(
                    "{} rtol {:.0e}: {}",
                    method_name(r.method),
                    r.rtol,
                    if r.status != "completed" {
                        r.status.clone()
                    } else if !r.applicable {
                        "a hypothesis fails under this method".into()
                    } else if r.size.is_none() {
                        "never evaluated".into()
                    } else {
                        format!(
                            "within its budget (v = {:.3e}, budget {:.3e})",
                            r.size.unwrap_or(f64::NAN),
                            r.budget.unwrap_or(f64::NAN)
                        )
                    }
                )
            })
            .collect();
        return Decision::NotConfirmed(
            format!(
                "not confirmed: {} of {} confirmation runs reproduce the violation, {} could \
                 not finish ({})",
                counted.len(),
                runs.len(),
                unfinished.len(),
                why.join("; ")
            ),
            limit,
        );
    }
    if !holds_up(&sized) {
        return Decision::NotConfirmed(
            format!(
                "not confirmed: the violation's size changes with the tolerance (it shrinks \
                 by more than {AGREEMENT}× as the tolerance tightens: original v = {:.3e}; \
                 {}), as a numerical error does",
                original.size,
                all()
            ),
            limit,
        );
    }
    match (limit, same.last()) {
        (Some(l), Some(b)) => {
            let bt = b.budget.unwrap_or(f64::NAN);
            let beyond = l > bt;
            if beyond {
                Decision::Confirmed(
                    format!(
                        "confirmed by {} more accurate runs ({}); limit v∞ = {l:.3e}",
                        counted.len(),
                        all()
                    ),
                    limit,
                )
            } else {
                Decision::NotConfirmed(
                    format!(
                        "not confirmed: the violation's size extrapolates to {l:.3e} as the \
                         tolerance → 0, within the tightest run's budget {bt:.3e}"
                    ),
                    limit,
                )
            }
        }
        _ => {
            // no same-method pair 10× apart (the tolerance is near the floor): the runs and
            // the original hold up and every one exceeds its budget by the agreement factor
            let mut with_original = sized.clone();
            with_original.push((original.rtol, original.size));
            let clear = counted
                .iter()
                .all(|r| r.size.unwrap_or(f64::NAN) > AGREEMENT * r.budget.unwrap_or(f64::NAN));
            if holds_up(&with_original) && (clear || families_agree(&counted)) {
                Decision::Confirmed(
                    format!(
                        "confirmed by {} runs without a same-method pair (original v = {:.3e}; \
                         {}): each beyond {AGREEMENT}× its budget, or both method families \
                         agree in size within their budgets, one beyond {AGREEMENT}× its own",
                        counted.len(),
                        original.size,
                        all()
                    ),
                    None,
                )
            } else {
                Decision::NotConfirmed(
                    format!(
                        "not confirmed: near the tolerance floor the violation shrinks by more \
                         than {AGREEMENT}× with the tolerance or stays within {AGREEMENT}× the \
                         budgets (original v = \
                         {:.3e}; {})",
                        original.size,
                        all()
                    ),
                    None,
                )
            }
        }
    }
}

/// Whether the most accurate counted runs of the two method families establish the
/// violation together: both violated beyond their own budgets (they are counted), their sizes
/// equal within the sum of their budgets, and one of them beyond [`AGREEMENT`] × its budget.
/// Two families at tighter tolerances reproducing the same size are what an integration
/// artifact of one method at one tolerance cannot produce; this settles a low-order method
/// whose own budget shrinks slowly with the tolerance (GL2: `∝ tol^{1/2}`).
fn families_agree(counted: &[&RungResult]) -> bool {
    let tightest = |kind: RungKind| {
        counted
            .iter()
            .filter(|r| r.kind == kind)
            .min_by(|a, b| a.rtol.total_cmp(&b.rtol))
            .map(|r| (r.size.unwrap_or(f64::NAN), r.budget.unwrap_or(f64::NAN)))
    };
    let (Some((va, ba)), Some((vb, bb))) = (
        tightest(RungKind::Tightened),
        tightest(RungKind::SecondFamily),
    ) else {
        return false;
    };
    (va - vb).abs() <= ba + bb && (va > AGREEMENT * ba || vb > AGREEMENT * bb)
}

fn method_name(m: Method) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Confirms the violated verdicts among `verdicts` (of a check of `requests` on `cfg`) by
/// re-integration under `mode`: a confirmed one stays `violated` (its first violation
/// possibly moved to a later candidate, see the module documentation), an unconfirmed one
/// becomes `inconclusive`; both carry the [`Confirmation`].
pub fn confirm(
    cfg: &RunConfig,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    verdicts: &mut [ClaimVerdict],
    original_trials: u64,
    energy_integral: bool,
    mode: &ConfirmMode,
) {
    if matches!(mode, ConfirmMode::Off) {
        return;
    }
    // violations at the initial point need no re-integration
    for v in verdicts
        .iter_mut()
        .filter(|v| v.verdict == Verdict::Violated && at_initial_point(v))
    {
        v.confirmation = Some(Confirmation {
            confirmed: true,
            reason: "confirmed at the initial point (t = 0), where nothing has been \
                     integrated: the statement at θ(0) is the same at any tolerance, judged \
                     against its round-off budget"
                .into(),
            original_size: v
                .first_violation
                .as_ref()
                .map_or(f64::NAN, |f| size(v.info.form, f.at_step.slack)),
            original_budget: v
                .first_violation
                .as_ref()
                .map_or(f64::NAN, |f| f.at_step.budget),
            limit: None,
            runs: Vec::new(),
            plan: None,
        });
    }
    // the violations, and the inequalities that failed inside their budget (inconclusive as
    // computed): the more accurate runs' budgets may be fine enough to see them
    let idx: Vec<usize> = verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            (v.verdict == Verdict::Violated || v.failed_within_budget()) && v.confirmation.is_none()
        })
        .map(|(i, _)| i)
        .collect();
    if idx.is_empty() {
        return;
    }
    let plan = match mode {
        ConfirmMode::Plan(p) => Some(p.clone()),
        _ => {
            let vs: Vec<&ClaimVerdict> = idx.iter().map(|i| &verdicts[*i]).collect();
            plan(cfg, &vs, original_trials, energy_integral)
        }
    };
    let Some(plan) = plan else {
        return;
    };
    let sub: Vec<ClaimRequest> = idx.iter().map(|i| requests[*i].clone()).collect();
    let windows: Vec<f64> = idx.iter().map(|i| window(cfg, &verdicts[*i])).collect();
    let run_stage = |stage: u8, claims: &[usize]| -> Vec<Vec<RungResult>> {
        let reqs: Vec<ClaimRequest> = claims.iter().map(|k| sub[*k].clone()).collect();
        let wins: Vec<f64> = claims.iter().map(|k| windows[*k]).collect();
        plan.rungs
            .iter()
            .filter(|r| r.stage == stage)
            .map(|r| run_rung(cfg, &plan, r, &reqs, &wins, factory))
            .collect()
    };
    let originals: Vec<Original> = idx
        .iter()
        .map(|i| {
            let v = &verdicts[*i];
            let (row, h) = compared(v);
            Original {
                rtol: rtol_max(&cfg.rtol),
                size: row.map_or(f64::NAN, |r| size(v.info.form, r.slack)),
                budget: row.map_or(f64::NAN, |r| r.budget),
                step: (v.per_step && h > 0.0).then_some(h),
            }
        })
        .collect();
    // stage 1 for every claim, stage 2 for those it did not settle
    let all: Vec<usize> = (0..idx.len()).collect();
    let first = run_stage(1, &all);
    let mut runs: Vec<Vec<RungResult>> = all
        .iter()
        .map(|k| first.iter().map(|r| r[*k].clone()).collect())
        .collect();
    let mut decisions: Vec<Decision> = all
        .iter()
        .map(|k| decide(originals[*k], &runs[*k], false))
        .collect();
    let unsettled: Vec<usize> = all
        .iter()
        .copied()
        .filter(|k| decisions[*k] == Decision::Unsettled)
        .collect();
    if !unsettled.is_empty() {
        let second = run_stage(2, &unsettled);
        for (j, k) in unsettled.iter().enumerate() {
            runs[*k].extend(second.iter().map(|r| r[j].clone()));
            decisions[*k] = decide(originals[*k], &runs[*k], true);
        }
    }
    for (k, &i) in idx.iter().enumerate() {
        let runs = std::mem::take(&mut runs[k]);
        let (confirmed, reason, limit) = match decisions[k].clone() {
            Decision::Confirmed(why, l) => (true, why, l),
            Decision::NotConfirmed(why, l) => (false, why, l),
            // (the final stage always decides; kept total for safety)
            Decision::Unsettled => (
                false,
                "not confirmed: the ladder did not settle".into(),
                None,
            ),
        };
        let v = &mut verdicts[i];
        let within = v.verdict == Verdict::Inconclusive;
        if confirmed && within {
            // failed inside its own budget, beyond the more accurate runs' budgets: violated,
            // at the original run's tightest evaluation
            let row = v
                .min_slack
                .expect("a failure within the budget has a smallest slack");
            let at = Violation {
                t: row.t,
                t_bracket: [row.t, row.t],
                step: row.step,
                at_root: row,
                at_step: row,
            };
            v.first_violation = Some(at.clone());
            v.worst_violation = Some(at);
            v.verdict = Verdict::Violated;
            v.note = format!(
                "failed inside its error budget as computed (slack {:.3e}, budget {:.3e}); the \
                 more accurate runs' budgets resolve it: reported at the original run's tightest \
                 evaluation",
                row.slack, row.budget
            );
        } else if within {
            v.note = join(
                &v.note,
                &format!(
                    "failed inside its error budget as computed; re-integration did not settle \
                     it: {reason}"
                ),
            );
        } else if confirmed {
            // the first violation: the earliest candidate not earlier than the tightest
            // same-method run's own first violation
            let genuine_from = runs
                .iter()
                .filter(|r| r.kind == RungKind::Tightened && r.counts())
                .min_by(|a, b| a.rtol.total_cmp(&b.rtol))
                .and_then(|r| r.first_violation_t);
            if let (Some(t), Some(first)) = (genuine_from, v.first_violation.clone()) {
                if first.t_bracket[1] < t {
                    let later: Option<Violation> = v
                        .later_candidates
                        .iter()
                        .chain(v.worst_violation.iter())
                        .filter(|c| c.t_bracket[1] >= t)
                        .min_by(|a, b| a.t.total_cmp(&b.t))
                        .cloned();
                    if let Some(c) = later {
                        v.note = join(
                            &v.note,
                            &format!(
                                "an earlier failure at t = {:e} (slack {:.3e}, budget {:.3e}) \
                                 is not reproduced by the most accurate run, whose first \
                                 violation is at t = {t:e}",
                                first.t, first.at_root.slack, first.at_root.budget
                            ),
                        );
                        v.first_violation = Some(c);
                    }
                }
            }
        } else {
            v.verdict = Verdict::Inconclusive;
            v.note = join(
                &v.note,
                &format!("violated as computed, but the violation is {reason}"),
            );
        }
        v.confirmation = Some(Confirmation {
            confirmed,
            reason,
            original_size: originals[k].size,
            original_budget: originals[k].budget,
            limit,
            runs,
            plan: Some(plan.clone()),
        });
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: RungKind, rtol: f64, violated: bool, size: f64, budget: f64) -> RungResult {
        RungResult {
            kind,
            method: Method::Dopri5,
            rtol,
            status: "completed".into(),
            applicable: true,
            violated,
            size: Some(size),
            budget: Some(budget),
            step: None,
            at_t: Some(1.0),
            first_violation_t: violated.then_some(1.0),
            steps: 10,
            nfev: 60,
        }
    }

    fn original(size: f64) -> Original {
        Original {
            rtol: 1e-6,
            size,
            budget: 1e-7,
            step: None,
        }
    }

    #[test]
    fn a_stable_violation_is_confirmed_by_the_first_stage() {
        let runs = [
            run(RungKind::Tightened, 1e-8, true, 0.1001, 1e-9),
            run(RungKind::SecondFamily, 1e-8, true, 0.1, 1e-9),
        ];
        match decide(original(0.1002), &runs, false) {
            Decision::Confirmed(_, Some(l)) => assert!((l - 0.1001).abs() < 1e-4),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn a_violation_that_shrinks_with_the_tolerance_is_an_artifact() {
        // the budget model misses the error source: still violated, but 100× smaller
        let first = [
            run(RungKind::Tightened, 1e-8, true, 1e-12, 1e-14),
            run(RungKind::SecondFamily, 1e-8, true, 2e-13, 1e-14),
        ];
        assert_eq!(decide(original(1e-10), &first, false), Decision::Unsettled);
        let mut all = first.to_vec();
        all.push(run(RungKind::Tightened, 1e-10, true, 1e-14, 1e-16));
        match decide(original(1e-10), &all, true) {
            Decision::NotConfirmed(why, _) => assert!(why.contains("changes with"), "{why}"),
            d => panic!("{d:?}"),
        }
    }

    /// A false statement evaluated at accepted points: the accurate runs take smaller first
    /// steps and see the violation where it is larger (5×, 8×); it holds up, the limit is
    /// beyond the budget: confirmed. The same sizes in reverse order (shrinking) are not.
    #[test]
    fn a_violation_that_grows_as_the_tolerance_tightens_is_confirmed() {
        let runs = [
            run(RungKind::Tightened, 1e-8, true, 5e-3, 1e-9),
            run(RungKind::SecondFamily, 1e-8, true, 8e-3, 1e-9),
        ];
        match decide(original(1e-3), &runs, false) {
            Decision::Confirmed(_, Some(l)) => assert!(l > 5e-3, "{l}"),
            d => panic!("{d:?}"),
        }
        let shrinking = [
            run(RungKind::Tightened, 1e-8, true, 1e-4, 1e-9),
            run(RungKind::SecondFamily, 1e-8, true, 1e-4, 1e-9),
        ];
        assert_eq!(
            decide(original(1e-3), &shrinking, false),
            Decision::Unsettled
        );
    }

    /// Low-order methods get more confirmation work (their steps grow faster as the
    /// tolerance tightens); order ≥ 4 keeps the base factor.
    #[test]
    fn the_work_factor_follows_the_error_order() {
        assert_eq!(work_factor(Method::Gl2), 95);
        assert_eq!(work_factor(Method::Gl4), 30);
        for m in [
            Method::Dopri5,
            Method::Dop853,
            Method::Radau5,
            Method::Gl6,
            Method::Rock4,
        ] {
            assert_eq!(work_factor(m), WORK_FACTOR, "{m:?}");
        }
    }

    #[test]
    fn a_violation_not_reproduced_is_not_confirmed() {
        let runs = [
            run(RungKind::Tightened, 1e-8, false, -1e-3, 1e-9),
            run(RungKind::SecondFamily, 1e-8, true, 0.1, 1e-9),
        ];
        match decide(original(0.1), &runs, false) {
            Decision::NotConfirmed(why, _) => assert!(why.contains("not reproduced"), "{why}"),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn a_run_whose_budget_is_too_coarse_neither_confirms_nor_refutes() {
        // the second family's budget exceeds the violation: it cannot tell
        let coarse = run(RungKind::SecondFamily, 1e-8, false, 0.09, 0.5);
        let a = run(RungKind::Tightened, 1e-8, true, 0.1, 1e-9);
        assert_eq!(
            decide(original(0.1), &[a.clone(), coarse.clone()], false),
            Decision::Unsettled
        );
        let b = run(RungKind::Tightened, 1e-10, true, 0.1, 1e-11);
        assert!(matches!(
            decide(original(0.1), &[a.clone(), coarse, b], true),
            Decision::Confirmed(..)
        ));
        // a run fine enough to see the violation that does not is evidence against it
        let fine = run(RungKind::SecondFamily, 1e-8, false, 1e-4, 1e-3);
        assert!(matches!(
            decide(original(0.1), &[a, fine], false),
            Decision::NotConfirmed(..)
        ));
    }

    #[test]
    fn a_run_that_cannot_finish_is_not_a_confirmation() {
        let mut stopped = run(RungKind::Tightened, 1e-10, true, 0.1, 1e-11);
        stopped.status = "stopped: step limit".into();
        let mut na = run(RungKind::SecondFamily, 1e-8, true, 0.1, 1e-11);
        na.applicable = false;
        let runs = [run(RungKind::Tightened, 1e-8, true, 0.1, 1e-9), na, stopped];
        assert_eq!(
            decide(original(0.3), &runs[..2], false),
            Decision::Unsettled
        );
        match decide(original(0.3), &runs, true) {
            Decision::NotConfirmed(why, _) => assert!(why.contains("could not finish"), "{why}"),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn the_ladder_tightens_and_clamps_at_the_floor() {
        let (r, a) = tighten(&Tol::Scalar(1e-8), &Tol::Scalar(1e-10), 1e-2);
        assert_eq!(r, Tol::Scalar(1e-10));
        assert!(matches!(a, Tol::Scalar(v) if (v - 1e-12).abs() < 1e-25));
        let (r, _) = tighten(&Tol::Scalar(1e-11), &Tol::Scalar(1e-13), 1e-4);
        assert_eq!(r, Tol::Scalar(RTOL_FLOOR));
        assert_eq!(second_family(Method::Dopri5), Some(Method::Radau5));
        assert_eq!(second_family(Method::Radau5), Some(Method::Dop853));
        assert_eq!(second_family(Method::Gd), None);
    }
}
