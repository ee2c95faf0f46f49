//! Claims: hypotheses plus a statement `lhs ≤ rhs` (or an identity `|lhs − rhs| ≤ tol`)
//! evaluated at every accepted step or at the end, with signed slack `rhs − lhs` as in
//! signal-temporal-logic monitors (RTAMT): `l ≤ r` has robustness `r − l`, `always` is the
//! running minimum, and a negative slack beyond the error budget is a counterexample.
//!
//! Each claim carries its paper and result number in its id (`cl22.lemma5_4.…` for paper
//! 000, Chatterji & Long 2022; `gol24.…` for paper 001, Golikov 2024; `mc24.…` for paper
//! 002, Marion & Chizat 2024; `mttvm21.…` for paper 003, Min, Tarmoun, Vidal & Mallada 2021).

pub mod budget;
pub mod catalog;
pub mod registry;
pub mod setting;

use serde::{Deserialize, Serialize};

use crate::flow::GradientFlow;
use crate::monitor::Point;
pub use budget::{Budget, ErrorState};
pub use setting::Setting;

/// When a claim's statement is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// At every accepted step (and the initial point): `always (lhs ≤ rhs)`.
    Always,
    /// Once, at the final time.
    AtEnd,
    /// At every accepted step up to a deadline, satisfied by one: `eventually (lhs ≤ rhs)`,
    /// robustness the largest slack (a declared claim's `eventually by T:`). Holds when some
    /// evaluation has `slack > budget`; violated when the run reaches the deadline (the
    /// claim's [`Claim::stops`]) and every evaluation had `slack < −budget`.
    Eventually,
}

/// The form of a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `lhs ≤ rhs`: holds when `rhs − lhs > budget` at every evaluation, violated when
    /// `rhs − lhs < −budget` at some evaluation, inconclusive otherwise.
    Inequality,
    /// `lhs = rhs` for the exact flow: the budget is the tolerance of the identity; holds
    /// when `|lhs − rhs| ≤ budget` at every evaluation, violated otherwise.
    Identity,
}

/// Static description of a claim.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimInfo {
    /// Identifier, e.g. `cl22.lemma5_4.null_space_conserved`.
    pub id: String,
    /// Paper number in the catalog (`000` … `003`; `user` for a user's claim file).
    pub paper: String,
    /// Result number in the paper (`Lemma 5.4`).
    pub result: String,
    /// The statement in words, with its convention.
    pub statement: String,
    /// When it is evaluated.
    pub schedule: Schedule,
    /// Inequality or identity.
    pub form: Form,
    /// For a statement printed wrongly in the paper: what the catalog says is wrong
    /// (the corrected statement is a separate claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_error: Option<String>,
    /// For an experimental observation (a figure's trend), not a theorem: why a violation
    /// can be a true counterexample to the observation on a setting the paper did not show.
    /// The checker judges it like any statement; the random-run corpus counts its
    /// violations as explained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empirical: Option<String>,
    /// A declared claim's declaration in the claim language ([`crate::spec`]): what
    /// `replay` rebuilds it from, so a report of a user's claim replays without its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declaration: Option<String>,
}

impl ClaimInfo {
    /// An inequality checked at every accepted step ([`Schedule::Always`],
    /// [`Form::Inequality`], no printed error); the builders below change that.
    pub fn new(
        id: impl Into<String>,
        paper: impl Into<String>,
        result: impl Into<String>,
        statement: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            paper: paper.into(),
            result: result.into(),
            statement: statement.into(),
            schedule: Schedule::Always,
            form: Form::Inequality,
            empirical: None,
            printed_error: None,
            declaration: None,
        }
    }
    /// Evaluated once, at the end of the run.
    pub fn at_end(self) -> Self {
        Self {
            schedule: Schedule::AtEnd,
            ..self
        }
    }
    /// An identity `|lhs − rhs| ≤ budget`.
    pub fn identity(self) -> Self {
        Self {
            form: Form::Identity,
            ..self
        }
    }
    /// A statement printed wrongly in the paper, with what the catalog says is wrong.
    pub fn printed(self, error: Option<&'static str>) -> Self {
        Self {
            printed_error: error.map(String::from),
            ..self
        }
    }
    /// The statement's form, when it depends on the claim's variant.
    pub fn with_form(self, form: Form) -> Self {
        Self { form, ..self }
    }
    /// An experimental observation, with why a violation can be a true counterexample.
    pub fn empirical(self, why: Option<&'static str>) -> Self {
        Self {
            empirical: why.map(String::from),
            ..self
        }
    }
}

/// Relation of a hypothesis value to its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// `value ≤ threshold`.
    #[serde(rename = "<=")]
    Le,
    /// `value ≥ threshold`.
    #[serde(rename = ">=")]
    Ge,
    /// `value < threshold`.
    #[serde(rename = "<")]
    Lt,
    /// `value > threshold`.
    #[serde(rename = ">")]
    Gt,
}

/// One hypothesis with its measured value, its threshold and whether it holds.
#[derive(Clone, Debug, Serialize)]
pub struct Hypothesis {
    /// What is assumed (e.g. `h ≥ m + n − 1`).
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Relation to the threshold.
    pub relation: Relation,
    /// The threshold.
    pub threshold: f64,
    /// Whether it holds.
    pub holds: bool,
}

impl Hypothesis {
    /// A hypothesis `value REL threshold`.
    pub fn new(name: impl Into<String>, value: f64, relation: Relation, threshold: f64) -> Self {
        let holds = match relation {
            Relation::Le => value <= threshold,
            Relation::Ge => value >= threshold,
            Relation::Lt => value < threshold,
            Relation::Gt => value > threshold,
        };
        Self {
            name: name.into(),
            value,
            relation,
            threshold,
            holds,
        }
    }
    /// A yes/no hypothesis (value 1 when true, threshold 1).
    pub fn flag(name: impl Into<String>, holds: bool) -> Self {
        Self::new(name, f64::from(u8::from(holds)), Relation::Ge, 1.0)
    }
}

/// What a claim computes at a point: both sides and the error model to judge them by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Statement {
    /// Left-hand side.
    pub lhs: f64,
    /// Right-hand side.
    pub rhs: f64,
    /// Error model.
    pub budget: Budget,
}

/// One evaluation of a statement `lhs ≤ rhs`: slack `rhs − lhs` and the error budget it
/// is judged against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Left-hand side.
    pub lhs: f64,
    /// Right-hand side.
    pub rhs: f64,
    /// Error budget (≥ 0).
    pub budget: f64,
}

impl Evaluation {
    /// Signed slack `rhs − lhs` (negative: the inequality fails as computed).
    pub fn slack(&self) -> f64 {
        self.rhs - self.lhs
    }
}

/// The four-valued verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// All hypotheses hold and the minimum slack exceeds the error budget.
    Holds,
    /// All hypotheses hold and the slack fell below −budget.
    Violated,
    /// A hypothesis fails.
    NotApplicable,
    /// The slack stayed within the error budget somewhere.
    Inconclusive,
}

impl std::str::FromStr for Verdict {
    type Err = crate::error::GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            crate::error::GradflowError::Config(format!(
                "unknown verdict {s:?}: expected holds, violated, not_applicable or inconclusive"
            ))
        })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::NotApplicable => "not_applicable",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// A checkable statement about a gradient-flow run.
///
/// `evaluate` must be a function of the point and the claim's accumulated state only: it is
/// also called at the embedded solution of each step (to estimate the local error of the
/// slack, see [`budget`]) and on dense-output points (to locate a violation); `advance`
/// updates that state once per accepted step, after `evaluate`.
pub trait Claim {
    /// Id, paper, result, statement and schedule.
    fn info(&self) -> ClaimInfo;
    /// Hypotheses on the configuration, data and initial point.
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis>;
    /// Hypotheses on the final state (e.g. "the run has converged: `𝓛(T) ≤ tol`"), evaluated
    /// once at the end of the run at the final point, before the end-of-run statements, and
    /// appended to [`Claim::hypotheses`]: a failing one makes the verdict `not_applicable`
    /// (for `Always` and `AtEnd` claims alike). Default: none.
    fn final_hypotheses(
        &self,
        _s: &Setting,
        _gf: &mut GradientFlow,
        _p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        Vec::new()
    }
    /// The statement at `p` (`None`: not evaluated at this point).
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement>;
    /// Updates running state after an accepted step (default: nothing).
    fn advance(&mut self, _s: &Setting, _gf: &mut GradientFlow, _p: &Point<'_>) {}
    /// Times the statement is anchored at (Theorem 3's `t_0`, say): the run steps to each
    /// exactly, so the claim's value is a property of the trajectory and not of where the
    /// accepted steps happened to fall. Default: none.
    fn stops(&self, _s: &Setting) -> Vec<f64> {
        Vec::new()
    }
    /// Whether the claim reads the energy integral `J = ∫‖∇L‖² dt` (state index
    /// `p + ENERGY_STATE`); the checker then has the run integrate it.
    fn needs_energy_integral(&self) -> bool {
        false
    }
}
