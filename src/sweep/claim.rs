//! Claims about a family of runs: a statistic of per-point measurements (a fitted exponent,
//! a violation frequency) compared with the paper's value, judged against its confidence
//! interval the way trajectory claims are judged against their error budgets.

use serde::Serialize;
use serde_json::Value;

use super::store::{PointRecord, PointStatus};
use crate::check::ClaimRequest;
use crate::claim::{Hypothesis, Verdict};
use crate::error::GradflowError;

/// Static description of a sweep claim.
#[derive(Clone, Debug, Serialize)]
pub struct SweepClaimInfo {
    /// Identifier.
    pub id: String,
    /// Paper number in the catalog.
    pub paper: &'static str,
    /// Result number in the paper (and the catalog item).
    pub result: &'static str,
    /// The statement in words.
    pub statement: String,
}

/// The checker's finding for one sweep claim.
///
/// `estimate` is the statistic, `target` the paper's value, `interval` the statistic's
/// confidence interval and `slack`/`budget` the margin in the trajectory claims' sense:
/// holds when `slack > budget`, violated when `slack < −budget`.
#[derive(Clone, Debug, Serialize)]
pub struct SweepVerdict {
    /// Static description.
    pub info: SweepClaimInfo,
    /// Parameters it was built with.
    pub params: Value,
    /// The verdict.
    pub verdict: Verdict,
    /// Hypotheses with their values (over all points).
    pub hypotheses: Vec<Hypothesis>,
    /// The statistic (left-hand side).
    pub estimate: f64,
    /// The value it is compared with (right-hand side).
    pub target: f64,
    /// Confidence interval of the statistic.
    pub interval: [f64; 2],
    /// Signed margin (positive: the statement holds as estimated).
    pub slack: f64,
    /// The statistical error budget the slack is judged against.
    pub budget: f64,
    /// Points that entered the statistic.
    pub points: usize,
    /// Per-group details (e.g. one row per `δ`, one fitted slope per seed).
    pub details: Vec<Value>,
    /// Remarks (why inconclusive, which points failed, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl SweepVerdict {
    /// A verdict with no statistic yet (NaN numbers, no points, no details).
    pub fn empty(info: SweepClaimInfo, verdict: Verdict) -> Self {
        Self {
            info,
            params: Value::Object(Default::default()),
            verdict,
            hypotheses: Vec::new(),
            estimate: f64::NAN,
            target: f64::NAN,
            interval: [f64::NAN, f64::NAN],
            slack: f64::NAN,
            budget: f64::NAN,
            points: 0,
            details: Vec::new(),
            note: String::new(),
        }
    }
}

/// A point's failing hypotheses as a sweep claim's (named with the point); a point that was
/// not applicable without a failing hypothesis is reported as such.
pub fn failed_hypotheses(at: &str, failing: &[super::store::FailedHypothesis]) -> Vec<Hypothesis> {
    let mut v: Vec<Hypothesis> = failing
        .iter()
        .map(|h| {
            let mut hyp = Hypothesis::new(
                format!("{} (at {at})", h.name),
                h.value,
                h.relation,
                h.threshold,
            );
            hyp.holds = false;
            hyp
        })
        .collect();
    if v.is_empty() {
        v.push(Hypothesis::flag(
            format!("the measured claim applies (at {at})"),
            false,
        ));
    }
    v
}

/// The per-point records of a sweep, in grid order.
pub struct SweepTable<'a> {
    /// One record per grid point.
    pub records: &'a [PointRecord],
}

impl SweepTable<'_> {
    /// Points whose run did not complete, as `coords: reason` lines.
    pub fn incomplete(&self) -> Vec<String> {
        self.records
            .iter()
            .filter_map(|r| match &r.status {
                PointStatus::Completed => None,
                PointStatus::Stopped { reason } => Some(format!(
                    "[{}] stopped: {reason}",
                    super::coords_label(&r.coords)
                )),
                PointStatus::Failed { error } => Some(format!(
                    "[{}] failed: {error}",
                    super::coords_label(&r.coords)
                )),
            })
            .collect()
    }
}

/// A statement about a family of runs.
pub trait SweepClaim: Send + Sync {
    /// Static description.
    fn info(&self) -> SweepClaimInfo;
    /// The trajectory claims it measures at every point.
    fn requests(&self) -> Vec<ClaimRequest>;
    /// The verdict from the per-point records. Implementations report a point whose run
    /// did not complete as `inconclusive` (a dropped point can bias a frequency or a fit).
    fn judge(&self, table: &SweepTable<'_>) -> SweepVerdict;
}

/// Builds a sweep claim from its parameters.
pub type SweepBuilder = fn(&Value) -> Result<Box<dyn SweepClaim>, GradflowError>;

/// One registered sweep claim.
#[derive(Clone, Copy)]
pub struct SweepEntry {
    /// Claim id.
    pub id: &'static str,
    /// Paper.
    pub paper: &'static str,
    /// Constructor.
    pub build: SweepBuilder,
}

/// Every registered sweep claim.
pub fn entries() -> Vec<SweepEntry> {
    let mut v = Vec::new();
    v.extend(crate::claim::catalog::gol24_sweep::entries());
    v.extend(super::generic::entries());
    v
}

/// Builds sweep claim `id` with `params`.
pub fn build(id: &str, params: &Value) -> Result<Box<dyn SweepClaim>, GradflowError> {
    let all = entries();
    let e = all.iter().find(|e| e.id == id).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|e| e.id).collect();
        GradflowError::Config(format!(
            "unknown sweep claim {id:?} (sweep claims: {})",
            known.join(", ")
        ))
    })?;
    if !params.is_object() {
        return Err(GradflowError::Config(format!(
            "sweep claim {id}: params must be a JSON object"
        )));
    }
    (e.build)(params)
}

/// The verdict rule shared by sweep claims: `holds` when `slack > budget`, `violated` when
/// `slack < −budget`, `inconclusive` otherwise (and whenever the slack is not finite).
pub fn judge_margin(slack: f64, budget: f64) -> Verdict {
    if !slack.is_finite() || !budget.is_finite() {
        Verdict::Inconclusive
    } else if slack > budget {
        Verdict::Holds
    } else if slack < -budget {
        Verdict::Violated
    } else {
        Verdict::Inconclusive
    }
}
