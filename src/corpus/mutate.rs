//! Mutation tests of the checker on corpus runs: a verdict of `holds` is only worth
//! something if a false statement on the same run comes out `violated`.
//!
//! Two kinds:
//!
//! - **Shifted statements** ([`Shifted`]): any registered inequality claim `lhs ≤ rhs` that
//!   holds on a run is wrapped into `lhs ≤ rhs − δ`, with the constant `δ` chosen from that
//!   run's tightest point (the evaluation of smallest slack `s* = rhs* − lhs*`):
//!   `δ = s* + 0.05·max(|lhs*|, |rhs*|)`, so the variant fails there by 5 % of the compared
//!   magnitude, and nowhere by more. The shift leaves the claim's hypotheses, schedule and
//!   error model alone (a constant cancels in the slack's local error), so the variant is
//!   judged by the same budget, on the same trajectory: it is caught exactly when the
//!   claim's budget at its tightest point resolves 5 % of the compared magnitude. It is
//!   *non-degenerate* when both sides at the tightest point are well above round-off and
//!   the run's resolution: `|lhs*|, |rhs*| > 10⁻⁸·S`, `S` the largest of the claim's own
//!   operand scale (its budget's `scale`) and of `|lhs|, |rhs|` along the run (a loss
//!   decrease of 10⁻²² after a loss of 1 is not a comparison the run resolves). A
//!   non-degenerate variant must be `violated`.
//! - **Perturbed flows** ([`PerturbationCase`]): the run's configuration with a
//!   `perturbation` of the vector field ([`crate::flow::perturb`]) — weight decay or a
//!   per-layer gradient scale on one layer, a global gradient scale, a drift out of the row
//!   space of `X` (when `rank X < d`) — checked with the conservation laws of the catalog
//!   ([`CONSERVATION_LAWS`]) that held on the unperturbed run. A case is non-degenerate when
//!   the perturbed run completes and moves the conserved quantity by more than 10× the error
//!   budget for it of either run (a perturbation that does not touch a law — a global
//!   gradient scale and the imbalance, say — only moves it by the runs' numerical drift, and
//!   is degenerate); a non-degenerate case must be `violated`.

use std::cell::RefCell;
use std::rc::Rc;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::Value;

use crate::check::{run_check, ClaimRequest, ClaimVerdict};
use crate::claim::{
    registry, Budget, Claim, ClaimInfo, Form, Hypothesis, Setting, Statement, Verdict,
};
use crate::config::RunConfig;
use crate::error::GradflowError;
use crate::flow::perturb::Perturbation;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// How far beyond the threshold a shifted variant is at the tightest point (5 %).
pub const SHIFT_MARGIN: f64 = 0.05;
/// Both sides of a non-degenerate variant exceed this fraction of the operand scale.
pub const DEGENERATE_REL: f64 = 1e-8;
/// A perturbed case is non-degenerate when it moves the law by this many unperturbed budgets.
pub const PERTURBATION_FACTOR: f64 = 10.0;

/// The conserved quantities of the catalog that a perturbation of the flow can break (the
/// layer imbalances and their traces and per-neuron forms, the null-space component of the
/// first layer, the energy identities, and gradient descent's exact one-step imbalance
/// change).
pub const CONSERVATION_LAWS: [&str; 14] = [
    "cl22.implied.imbalance_conserved",
    "gol24.a0.imbalance_conserved",
    "gol24.a0.neuron_balance_conserved",
    "mc24.lemma1.imbalance_conserved",
    "mc24.lemma1.trace_conserved",
    "mc24.lemma1.imbalance_roundoff_gauss",
    "mttvm21.claim3_2.full_imbalance_conserved",
    "mttvm21.claim3_2.imbalance_conserved",
    "cl22.lemma5_4.null_space_conserved",
    "mttvm21.eq7.u2_frozen",
    "mc24.u8.energy_identity",
    "gol24.a0.energy_identity",
    "mc24.lemma1_gd.imbalance_step",
    "mttvm21.cx5.gd_imbalance_step",
];

/// What a [`Shifted`] claim saw of its inner statement at the inner claim's tightest
/// evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe {
    /// Smallest inner slack seen (`+∞` before the first finite evaluation).
    pub slack: f64,
    /// Inner left-hand side there.
    pub lhs: f64,
    /// Inner right-hand side there.
    pub rhs: f64,
    /// The inner statement's operand scale there (its budget's `scale`).
    pub scale: f64,
    /// The largest `max(|lhs|, |rhs|)` of the inner statement along the run.
    pub max_magnitude: f64,
}

/// `lhs ≤ rhs − shift`: a registered claim with its right-hand side lowered by a constant.
/// Same id, hypotheses, schedule and error model as the inner claim.
pub struct Shifted {
    inner: Box<dyn Claim>,
    shift: f64,
    probe: Rc<RefCell<Probe>>,
}

impl Shifted {
    /// Wraps `inner`; `probe` records the inner statement at its tightest evaluation.
    pub fn new(inner: Box<dyn Claim>, shift: f64, probe: Rc<RefCell<Probe>>) -> Self {
        probe.borrow_mut().slack = f64::INFINITY;
        Self {
            inner,
            shift,
            probe,
        }
    }
}

/// The operand scale of an error model.
fn budget_scale(b: Budget) -> f64 {
    match b {
        Budget::RoundOff { scale }
        | Budget::Accumulated { scale }
        | Budget::Propagated { scale }
        | Budget::Local { scale } => scale,
    }
}

impl Claim for Shifted {
    fn info(&self) -> ClaimInfo {
        let mut info = self.inner.info();
        info.statement = format!(
            "(false variant, right-hand side lowered by {:e}) {}",
            self.shift, info.statement
        );
        info
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        self.inner.hypotheses(s)
    }
    fn final_hypotheses(
        &self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        self.inner.final_hypotheses(s, gf, p)
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let st = self.inner.evaluate(s, gf, p)?;
        let slack = st.rhs - st.lhs;
        let mut probe = self.probe.borrow_mut();
        if slack.is_finite() {
            probe.max_magnitude = probe.max_magnitude.max(st.lhs.abs()).max(st.rhs.abs());
            if slack < probe.slack {
                probe.slack = slack;
                probe.lhs = st.lhs;
                probe.rhs = st.rhs;
                probe.scale = budget_scale(st.budget);
            }
        }
        Some(Statement {
            rhs: st.rhs - self.shift,
            ..st
        })
    }
    fn advance(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) {
        self.inner.advance(s, gf, p);
    }
    fn needs_energy_integral(&self) -> bool {
        self.inner.needs_energy_integral()
    }
    fn stops(&self, s: &Setting) -> Vec<f64> {
        self.inner.stops(s)
    }
}

/// Whether some claim of `requests` reads the energy integral.
pub fn needs_energy(requests: &[ClaimRequest]) -> Result<bool, GradflowError> {
    for r in requests {
        if registry::build(&r.id, &r.params)?.needs_energy_integral() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One evaluation, for the report.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Point4 {
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

/// A shifted variant of a claim that held, and what the checker made of it.
#[derive(Clone, Debug, Serialize)]
pub struct MutationCase {
    /// The claim.
    pub claim: String,
    /// Its parameters.
    pub params: Value,
    /// `δ`: the variant is `lhs ≤ rhs − δ`.
    pub shift: f64,
    /// The unmutated claim's tightest evaluation on the run.
    pub tightest: Point4,
    /// The claim's operand scale: the larger of its budget's scale at the tightest point and
    /// the largest `|lhs|, |rhs|` along the run.
    pub scale: f64,
    /// Both sides well above round-off.
    pub non_degenerate: bool,
    /// The variant's verdict.
    pub verdict: Verdict,
    /// The checker's note on it (e.g. why a violation as computed was not confirmed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// `verdict == violated`.
    pub caught: bool,
    /// The variant's tightest evaluation (budget included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_tightest: Option<Point4>,
}

/// Builds and checks the shifted variants of every inequality claim of `baseline` that
/// holds (one-step statements excepted), on `cfg` (one run for all of them). `energy`: whether
/// the baseline integrated the
/// energy integral.
pub fn shifted_variants(
    cfg: &RunConfig,
    baseline: &[ClaimVerdict],
    energy: bool,
) -> Result<Vec<MutationCase>, GradflowError> {
    let mut requests: Vec<ClaimRequest> = Vec::new();
    let mut shifts: Vec<f64> = Vec::new();
    let mut cases = Vec::new();
    let mut probes = Vec::new();
    for v in baseline {
        // a one-step difference (monotone loss) scales with the step: a constant shift of it
        // is a statement about the step sequence, not about the flow
        if v.verdict != Verdict::Holds || v.info.form != Form::Inequality || v.per_step {
            continue;
        }
        let Some(m) = v.min_slack else { continue };
        if !(m.lhs.is_finite() && m.rhs.is_finite()) {
            continue;
        }
        let mag = m.lhs.abs().max(m.rhs.abs());
        let shift = m.slack + SHIFT_MARGIN * mag;
        requests.push(ClaimRequest {
            id: v.info.id.clone(),
            params: v.params.clone(),
        });
        shifts.push(shift);
        probes.push(Rc::new(RefCell::new(Probe::default())));
        cases.push(MutationCase {
            claim: v.info.id.clone(),
            params: v.params.clone(),
            shift,
            tightest: Point4 {
                t: m.t,
                lhs: m.lhs,
                rhs: m.rhs,
                slack: m.slack,
                budget: m.budget,
            },
            scale: f64::NAN,
            non_degenerate: false,
            verdict: Verdict::Inconclusive,
            caught: false,
            variant_tightest: None,
            note: String::new(),
        });
    }
    if requests.is_empty() {
        return Ok(cases);
    }
    // the checked run's claims record their tightest point in `probes`; the confirmation
    // runs build fresh ones
    let built = std::cell::Cell::new(0usize);
    let factory = |r: &ClaimRequest| -> Result<Box<dyn Claim>, GradflowError> {
        let k = requests
            .iter()
            .position(|q| q == r)
            .ok_or_else(|| GradflowError::Config(format!("no shifted variant of {}", r.id)))?;
        let n = built.get();
        built.set(n + 1);
        let probe = if n < requests.len() {
            probes[k].clone()
        } else {
            Rc::new(RefCell::new(Probe::default()))
        };
        Ok(Box::new(Shifted::new(
            registry::build(&r.id, &r.params)?,
            shifts[k],
            probe,
        )))
    };
    let out = crate::check::run_check_claims(
        cfg,
        &requests,
        &factory,
        None,
        &crate::confirm::ConfirmMode::Auto,
        energy,
    )?;
    for ((case, v), probe) in cases.iter_mut().zip(&out.verdicts).zip(&probes) {
        let p = *probe.borrow();
        let (lhs, rhs) = (case.tightest.lhs, case.tightest.rhs);
        let scale = if p.slack.is_finite() && p.scale.is_finite() {
            p.scale.abs().max(p.max_magnitude)
        } else {
            0.0
        };
        let operand = scale.max(lhs.abs()).max(rhs.abs());
        case.scale = scale;
        case.non_degenerate = operand > 0.0
            && lhs.abs() > DEGENERATE_REL * operand
            && rhs.abs() > DEGENERATE_REL * operand;
        case.verdict = v.verdict;
        case.note = v.note.clone();
        case.caught = v.verdict == Verdict::Violated;
        case.variant_tightest = v.min_slack.map(|r| Point4 {
            t: r.t,
            lhs: r.lhs,
            rhs: r.rhs,
            slack: r.slack,
            budget: r.budget,
        });
    }
    Ok(cases)
}

/// A perturbed flow checked with a conservation law that held on the unperturbed run.
#[derive(Clone, Debug, Serialize)]
pub struct PerturbationCase {
    /// The perturbation (as in the configuration).
    pub perturbation: Perturbation,
    /// The law.
    pub claim: String,
    /// How far the perturbed run moved it: the largest `|lhs − rhs|` of an identity, the
    /// largest `lhs − rhs` of an inequality.
    pub deviation: f64,
    /// The unperturbed run's budget for it (the larger of its tightest and last).
    pub baseline_budget: f64,
    /// The perturbed run's budget for it (the larger of its tightest and last).
    pub perturbed_budget: f64,
    /// `deviation > 10 × max(baseline_budget, perturbed_budget)`, the law applicable on the
    /// perturbed run, and that run completed.
    pub non_degenerate: bool,
    /// The verdict on the perturbed run.
    pub verdict: Verdict,
    /// `verdict == violated`.
    pub caught: bool,
    /// The perturbed run stopped early (why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The perturbations tried on a run: weight decay and a gradient scale on one random layer,
/// a global gradient scale, and (when `rank X < d`) a drift out of the row space. Sizes are
/// relative to the run's time span `T`: weight decay `0.2/T`, leak `10⁻³/T`; gradient scales
/// 0.5 or 1.5.
pub fn perturbations(cfg: &RunConfig, gen_seed: u64, rank_deficient: bool) -> Vec<Perturbation> {
    let mut rng = StdRng::seed_from_u64(gen_seed ^ 0x0070_6572_7475_7262);
    let depth = super::generate::depth(cfg).max(1);
    let t = cfg.t_end;
    let mut out = vec![
        Perturbation::WeightDecay {
            eps: 0.2 / t,
            layer: rng.random_range(1..=depth),
        },
        Perturbation::LayerScale {
            g: if rng.random::<bool>() { 0.5 } else { 1.5 },
            layer: rng.random_range(1..=depth),
        },
        Perturbation::GradientScale {
            g: if rng.random::<bool>() { 0.5 } else { 1.5 },
        },
    ];
    if rank_deficient {
        out.push(Perturbation::NullSpaceLeak { eps: 1e-3 / t });
    }
    out
}

/// Checks `cfg` under each perturbation with the conservation laws that held on the
/// unperturbed run (`baseline`).
pub fn perturbed_cases(
    cfg: &RunConfig,
    baseline: &[ClaimVerdict],
    perturbations: &[Perturbation],
) -> Result<Vec<PerturbationCase>, GradflowError> {
    let laws: Vec<&ClaimVerdict> = baseline
        .iter()
        .filter(|v| v.verdict == Verdict::Holds && CONSERVATION_LAWS.contains(&v.info.id.as_str()))
        .collect();
    let mut cases = Vec::new();
    if laws.is_empty() {
        return Ok(cases);
    }
    let requests: Vec<ClaimRequest> = laws
        .iter()
        .map(|v| ClaimRequest {
            id: v.info.id.clone(),
            params: v.params.clone(),
        })
        .collect();
    for p in perturbations {
        let mut pc = cfg.clone();
        pc.perturbation = Some(p.clone());
        let out = run_check(&pc, &requests, None)?;
        let stopped = match &out.run.status {
            crate::run::Status::Completed => None,
            crate::run::Status::Stopped(f) => Some(f.to_string()),
        };
        for (law, v) in laws.iter().zip(&out.verdicts) {
            let deviation = v.min_slack.map_or(0.0, |m| match v.info.form {
                Form::Identity => m.slack.abs(),
                Form::Inequality => -m.slack,
            });
            let budget = |c: &ClaimVerdict| {
                c.min_slack
                    .map_or(0.0, |m| m.budget)
                    .max(c.last.map_or(0.0, |m| m.budget))
            };
            let (baseline_budget, perturbed_budget) = (budget(law), budget(v));
            // a run that diverged moved everything by its blow-up, not by the perturbation;
            // a move within either run's own error budget is that run's numerical drift (a
            // global gradient scale keeps the imbalance, and the slower perturbed run may
            // drift by more than the unperturbed one's budget: Radau, 1.5e-13 against 1.2e-14)
            let non_degenerate = v.verdict != Verdict::NotApplicable
                && stopped.is_none()
                && deviation.is_finite()
                && deviation > PERTURBATION_FACTOR * baseline_budget.max(perturbed_budget);
            cases.push(PerturbationCase {
                perturbation: p.clone(),
                claim: v.info.id.clone(),
                deviation,
                baseline_budget,
                perturbed_budget,
                non_degenerate,
                verdict: v.verdict,
                caught: v.verdict == Verdict::Violated,
                stopped: stopped.clone(),
            });
        }
    }
    Ok(cases)
}

/// The JSON of a perturbation (for reports).
pub fn perturbation_json(p: &Perturbation) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}
