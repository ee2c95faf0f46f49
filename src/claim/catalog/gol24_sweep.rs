//! Paper 001 (Golikov 2024), the statements about families of runs (catalog 001 §5.2 items 1
//! and 5): the order in `ε` of the proxies' deviation, and the frequency with which Theorem
//! 5.2's bound fails over resampled training sets. Each is a [`SweepClaim`]: it names the
//! trajectory claims measured at every grid point and judges the table.

use serde_json::{json, Value};

use super::Params;
use crate::check::ClaimRequest;
use crate::claim::Verdict;
use crate::error::GradflowError;
use crate::sweep::claim::{
    failed_hypotheses, SweepClaim, SweepClaimInfo, SweepEntry, SweepTable, SweepVerdict,
};
use crate::sweep::frequency;
use crate::sweep::power_law::{ExponentTest, Side};

const PAPER: &str = "001";

/// The registered sweep claims of paper 001.
pub fn entries() -> Vec<SweepEntry> {
    vec![
        SweepEntry {
            id: "gol24.eq20.deviation_order",
            paper: PAPER,
            build: |p| DeviationOrder::build(1, p),
        },
        SweepEntry {
            id: "gol24.lemma7_3.deviation_order",
            paper: PAPER,
            build: |p| DeviationOrder::build(2, p),
        },
        SweepEntry {
            id: "gol24.thm5_2.violation_frequency",
            paper: PAPER,
            build: ViolationFrequency::build,
        },
    ]
}

/// The order in `ε` of the proxy deviation at a fixed time (catalog 001 §5.2 item 5; the
/// scaling check of L7.3): `max_x |f^ε_{θ^ε(t)}(x) − g_κ(x)|/‖x‖ ∝ ε^κ` as `ε → 0`, with
/// `g₁ = f^ε_{θ⁰}` (eq. (20): the trajectories differ by `O(ε)`) and `g₂ = g₁ + c_corr x`
/// (Lemma 7.3: the first-order term is linear in `x` and cancels through `X̃X̃⁺ = I_d`).
///
/// At every grid point the last left-hand side of `gol24.eq20.pointwise_deviation` (κ = 1)
/// or `gol24.lemma7_3.pointwise` (κ = 2) is the measured `q` (max over the training inputs
/// and a held-out batch, at `t_end`), checked with `factor: 0` so that its recorded budget
/// is the accumulated local error of `q` itself; `ln q = a_g + b ln ε` is fitted with one intercept per
/// replicate (the other axes: seeds, widths), and `b̂` with its Student-t interval at
/// `confidence` is compared with the exponent: holds when the whole interval lies in
/// `exponent ± band`, violated when it lies wholly outside, inconclusive otherwise.
/// Hypotheses: the measured claim's, at every point (for κ = 2 this includes
/// `rank X̃ = d`: with `m < d` the first-order term survives and `b̂ ≈ 1`, catalog §5.3
/// scenario 3 — reported in the note, verdict `not_applicable`). A point whose `q` is not
/// above its evaluation budget, or whose run did not complete, makes the verdict
/// inconclusive. Parameters: `exponent` (default κ; another value is a deliberately false
/// variant), `band` (0.25), `confidence` (0.95), `axis` (`"model.epsilon"`), `test_points`
/// (passed to the measured claim).
pub struct DeviationOrder {
    kappa: u32,
    test: ExponentTest,
    measured: ClaimRequest,
}

impl DeviationOrder {
    fn id(kappa: u32) -> &'static str {
        if kappa == 1 {
            "gol24.eq20.deviation_order"
        } else {
            "gol24.lemma7_3.deviation_order"
        }
    }
    fn build(kappa: u32, p: &Value) -> Result<Box<dyn SweepClaim>, GradflowError> {
        let id = Self::id(kappa);
        let pr = Params::new(
            id,
            p,
            &["exponent", "band", "confidence", "axis", "test_points"],
        )?;
        let (band, confidence) = ExponentTest::band_and_confidence(&pr, id)?;
        // factor 0: the statement becomes `q ≤ 0`, so its recorded budget is the accumulated
        // local error of `q` alone (with the bound's factor it would be the error of the
        // bound, which grows with `u, v` and says nothing about `q`)
        let mut mp = json!({"factor": 0.0});
        if let Some(tp) = p.get("test_points") {
            mp["test_points"] = tp.clone();
        }
        Ok(Box::new(Self {
            kappa,
            test: ExponentTest {
                exponent: pr.f64("exponent", f64::from(kappa))?,
                band,
                confidence,
                axis: pr.str("axis", "model.epsilon")?.to_string(),
            },
            measured: ClaimRequest {
                id: if kappa == 1 {
                    "gol24.eq20.pointwise_deviation".into()
                } else {
                    "gol24.lemma7_3.pointwise".into()
                },
                params: mp,
            },
        }))
    }
}

impl SweepClaim for DeviationOrder {
    fn info(&self) -> SweepClaimInfo {
        let proxy = if self.kappa == 1 {
            "g₁ = f^ε_{θ⁰}"
        } else {
            "g₂ = f^ε_{θ⁰} + c_corr x"
        };
        SweepClaimInfo {
            id: Self::id(self.kappa).into(),
            paper: PAPER,
            result: if self.kappa == 1 {
                "eq. (20), order in ε (catalog §5.2 item 5)"
            } else {
                "Lemma 7.3, order in ε (catalog §5.2 item 5)"
            },
            statement: format!(
                "max_x |f^ε_{{θ^ε(t)}}(x) − g(x)|/‖x‖ ∝ ε^{} at t = t_end, {proxy}: fitted \
                 exponent over {} within {} ± {} ({} % interval)",
                self.test.exponent,
                self.test.axis,
                self.test.exponent,
                self.test.band,
                self.test.confidence * 100.0
            ),
        }
    }
    fn requests(&self) -> Vec<ClaimRequest> {
        vec![self.measured.clone()]
    }
    fn validate(&self, axes: &[String]) -> Result<(), GradflowError> {
        crate::sweep::power_law::require_axis(Self::id(self.kappa), &self.test.axis, axes)
    }
    fn judge(&self, table: &SweepTable<'_>) -> SweepVerdict {
        self.test
            .judge(self.info(), table, &self.measured, Side::Lhs)
    }
}

/// Theorem 5.2 over resampled training sets (catalog 001 §5.2 item 1, the T5.2 Monte Carlo
/// protocol): for each `δ`, the frequency over the sweep's seeds (independent samples
/// `(X, Y)` with a data-independent init) of `R^ε(t) > R̂_γ(t) + Υ_κ + Δ ε^κ/γ` is at most `δ`.
/// The sweep must vary `seed` only (any other axis would make the points something other
/// than independent draws of the same statement).
///
/// Each point checks `gol24.thm5_2.bound` twice per `δ`: with the held-out risk's Wilson
/// lower limit at `point_confidence` (a violation there is a confident violation) and its
/// upper limit (holding there is a confident hold); see [`frequency`] for the classification
/// and the Clopper–Pearson verdict, which is shifted by `1 − point_confidence`. The
/// Clopper–Pearson limits are at `1 − (1 − confidence)/k` for `k` values of `δ` (Bonferroni).
/// When the teacher is drawn from the seed the population changes with the seed too; the
/// statement still applies (`P(violation) = E_D P(violation | D) ≤ δ`). The verdict is
/// `violated` if some `δ` is, `holds` if every `δ` holds, `inconclusive` otherwise; the
/// headline numbers are those of the `δ` that decided it (the most clearly violated one, the
/// least clearly holding one, or the first undecided one).
/// Parameters: `deltas` (default `[0.05]`), `kappa`, `gamma`, `bits`, `test_points`, `v`,
/// `factor`, `union` (passed to the bound; `union: 0` is the single-function Hoeffding
/// variant, not a valid bound, whose failures show that the union bound matters),
/// `confidence` (0.95), `point_confidence` (0.999).
pub struct ViolationFrequency {
    deltas: Vec<f64>,
    confidence: f64,
    point_confidence: f64,
    /// Per `δ`: the (lower, upper) requests.
    checks: Vec<(ClaimRequest, ClaimRequest)>,
    union: bool,
}

impl ViolationFrequency {
    const ID: &'static str = "gol24.thm5_2.violation_frequency";
    const PASSED: [&'static str; 7] = [
        "kappa",
        "gamma",
        "bits",
        "test_points",
        "v",
        "factor",
        "union",
    ];

    fn build(p: &Value) -> Result<Box<dyn SweepClaim>, GradflowError> {
        let mut known = vec!["deltas", "confidence", "point_confidence"];
        known.extend(Self::PASSED);
        let pr = Params::new(Self::ID, p, &known)?;
        let err = |m: String| GradflowError::Config(format!("sweep claim {}: {m}", Self::ID));
        let deltas: Vec<f64> = match p.get("deltas") {
            None => vec![0.05],
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| err("deltas must be an array of numbers".into()))?,
        };
        if deltas.is_empty() || deltas.iter().any(|d| !(*d > 0.0 && *d < 1.0)) {
            return Err(err(format!(
                "deltas = {deltas:?}: need a non-empty list in (0, 1)"
            )));
        }
        let confidence = pr.f64("confidence", 0.95)?;
        let point_confidence = pr.f64("point_confidence", 0.999)?;
        if !((0.5..1.0).contains(&confidence) && (0.5..1.0).contains(&point_confidence)) {
            return Err(err(format!(
                "confidence = {confidence}, point_confidence = {point_confidence}: need both \
                 in [0.5, 1)"
            )));
        }
        let mut base = json!({"confidence": point_confidence});
        for k in Self::PASSED {
            if let Some(v) = p.get(k) {
                base[k] = v.clone();
            }
        }
        let union = pr.f64("union", 1.0)? != 0.0;
        let checks = deltas
            .iter()
            .map(|&d| {
                let req = |side: &str| {
                    let mut params = base.clone();
                    params["delta"] = json!(d);
                    params["estimate"] = json!(side);
                    ClaimRequest {
                        id: "gol24.thm5_2.bound".into(),
                        params,
                    }
                };
                (req("lower"), req("upper"))
            })
            .collect();
        Ok(Box::new(Self {
            deltas,
            confidence,
            point_confidence,
            checks,
            union,
        }))
    }

    /// Clopper–Pearson confidence per `δ` (Bonferroni over the `δ`s).
    fn cp_confidence(&self) -> f64 {
        1.0 - (1.0 - self.confidence) / self.deltas.len() as f64
    }
}

/// One `δ`'s outcome: verdict, estimate, `δ`, interval, points.
type DeltaOutcome = (Verdict, f64, f64, [f64; 2], usize);

impl SweepClaim for ViolationFrequency {
    fn info(&self) -> SweepClaimInfo {
        SweepClaimInfo {
            id: Self::ID.into(),
            paper: PAPER,
            result: "Theorem 5.2, Monte Carlo over samples (catalog §5.2 item 1)",
            statement: format!(
                "P_sample(R^ε(t) > R̂_γ(t) + {} + Δε^κ/γ) ≤ δ for δ ∈ {:?}: violation \
                 frequency over the sweep's seeds, Clopper–Pearson limits at {} % jointly, \
                 per-point Wilson limits at {} %",
                if self.union {
                    "Υ_κ"
                } else {
                    "sqrt(ln(1/δ)/(2n)) (no union bound: not a valid bound)"
                },
                self.deltas,
                self.confidence * 100.0,
                self.point_confidence * 100.0
            ),
        }
    }
    fn requests(&self) -> Vec<ClaimRequest> {
        self.checks
            .iter()
            .flat_map(|(lo, hi)| [lo.clone(), hi.clone()])
            .collect()
    }
    fn validate(&self, axes: &[String]) -> Result<(), GradflowError> {
        if axes != ["seed"] {
            return Err(GradflowError::Config(format!(
                "sweep claim {}: the sweep must vary `seed` only (each point an independent \
                 training set of the same statement); its axes are {axes:?}",
                Self::ID
            )));
        }
        Ok(())
    }
    fn judge(&self, table: &SweepTable<'_>) -> SweepVerdict {
        let mut out = SweepVerdict::empty(self.info(), Verdict::Holds);
        let e_pt = 1.0 - self.point_confidence;
        let mut per_delta: Vec<DeltaOutcome> = Vec::new();
        for (&delta, (lo, hi)) in self.deltas.iter().zip(&self.checks) {
            let c = frequency::count(table, lo, hi);
            if let Some((at, failing)) = &c.not_applicable {
                if out.hypotheses.is_empty() {
                    out.hypotheses = failed_hypotheses(at, failing);
                }
            }
            let (v, phat, ci, row) = frequency::judge(&c, delta, self.cp_confidence(), e_pt);
            out.details.push(row);
            per_delta.push((v, phat, delta, ci, c.n));
        }
        let any_violated = per_delta.iter().any(|d| d.0 == Verdict::Violated);
        let all_hold = per_delta.iter().all(|d| d.0 == Verdict::Holds);
        // the δ that decided the verdict
        let by = |f: &dyn Fn(&DeltaOutcome) -> f64, want: Verdict| {
            per_delta
                .iter()
                .filter(|d| d.0 == want)
                .max_by(|a, b| f(a).total_cmp(&f(b)))
                .copied()
        };
        let decisive = if any_violated {
            by(&|d| d.3[0] - d.2, Verdict::Violated)
        } else if all_hold {
            by(&|d| d.3[1] - d.2, Verdict::Holds)
        } else {
            per_delta.iter().find(|d| d.0 != Verdict::Holds).copied()
        };
        if let Some((_, phat, delta, ci, n)) = decisive {
            out.estimate = phat;
            out.target = delta;
            out.interval = ci;
            out.slack = delta - phat;
            // the side of the interval the verdict is decided on, plus the per-point error
            out.budget = if any_violated {
                phat - ci[0] + e_pt
            } else {
                ci[1] - phat + e_pt
            };
            out.points = n;
        }
        let incomplete = table.incomplete();
        out.verdict = if !out.hypotheses.is_empty() {
            Verdict::NotApplicable
        } else if !incomplete.is_empty() {
            Verdict::Inconclusive
        } else if any_violated {
            Verdict::Violated
        } else if all_hold {
            Verdict::Holds
        } else {
            Verdict::Inconclusive
        };
        let mut notes = incomplete;
        for r in &out.details {
            if r["points"] == 0 {
                notes.push(format!("δ = {}: no applicable point", r["delta"]));
                continue;
            }
            let tight = &r["tightest"];
            notes.push(format!(
                "δ = {}: {} confident violations and {} ambiguous of {} points, frequency {}, \
                 interval {} → {} (tightest point {}: risk upper limit {} vs bound {})",
                r["delta"],
                r["violations"],
                r["ambiguous"],
                r["points"],
                r["frequency"],
                r["clopper_pearson"],
                r["verdict"],
                tight["coords"],
                tight["risk_upper"],
                tight["bound"]
            ));
        }
        out.note = notes.join("; ");
        out
    }
}
