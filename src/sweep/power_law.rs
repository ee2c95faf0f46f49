//! Power laws across a sweep: `q ∝ x^b` for a measured quantity `q` (a trajectory claim's
//! left-hand side at `t_end`) against one axis `x` of the grid, the other axes (seeds,
//! widths) acting as replicates with their own prefactor.

use serde_json::{json, Value};

use super::claim::{failed_hypotheses, judge_margin, SweepClaimInfo, SweepTable, SweepVerdict};
use super::stats::{grouped_slope, SlopeFit};
use super::store::{FailedHypothesis, PointStatus};
use crate::check::ClaimRequest;
use crate::claim::catalog::Params;
use crate::claim::Verdict;
use crate::error::GradflowError;

/// The outcome of fitting an exponent.
pub struct ExponentFit {
    /// The fit (`None` when fewer than two distinct axis values had a positive measurement).
    pub fit: Option<SlopeFit>,
    /// One row per point: coordinates, axis value, measured quantity, its budget.
    pub rows: Vec<Value>,
    /// The failing hypotheses of the first point where the measured claim was not applicable.
    pub not_applicable: Option<(String, Vec<FailedHypothesis>)>,
    /// Points whose quantity was not positive and finite (cannot enter a log-log fit).
    pub unusable: Vec<String>,
}

/// Which side of a measured statement's last evaluation is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The left-hand side (recorded with the statement's budget).
    Lhs,
    /// The right-hand side (the statement's budget says nothing about it: none recorded).
    Rhs,
}

/// Fits `ln q = a_g + b ln x` where `x` is the value of axis `axis` and `q` the last
/// left- or right-hand side (`side`) of `request` at each completed point.
pub fn fit_exponent(
    table: &SweepTable<'_>,
    request: &ClaimRequest,
    axis: &str,
    confidence: f64,
    side: Side,
) -> ExponentFit {
    let mut groups: Vec<String> = Vec::new();
    let mut pts = Vec::new();
    let mut rows = Vec::new();
    let mut not_applicable = None;
    let mut unusable = Vec::new();
    for r in table.records {
        if r.status != PointStatus::Completed {
            continue;
        }
        let label = super::coords_label(&r.coords);
        let x = r
            .coords
            .iter()
            .find(|(p, _)| p == axis)
            .and_then(|(_, v)| v.as_f64());
        let m = r.get(request);
        let last = m.and_then(|m| m.last);
        let q = last.map(|e| if side == Side::Lhs { e.lhs } else { e.rhs });
        let budget = last.filter(|_| side == Side::Lhs).map(|e| e.budget);
        if let Some(m) = m {
            if m.verdict == Verdict::NotApplicable && not_applicable.is_none() {
                not_applicable = Some((label.clone(), m.failing.clone()));
            }
        }
        rows.push(json!({
            "coords": r.coords,
            "x": x,
            "q": q,
            "budget": budget,
        }));
        match (x, q) {
            (Some(x), Some(q)) if x > 0.0 && q > 0.0 && q.is_finite() => {
                let rest = super::coords_label(
                    &r.coords
                        .iter()
                        .filter(|(p, _)| p != axis)
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let g = groups.iter().position(|s| *s == rest).unwrap_or_else(|| {
                    groups.push(rest);
                    groups.len() - 1
                });
                pts.push((g, x.ln(), q.ln()));
            }
            _ => unusable.push(label),
        }
    }
    ExponentFit {
        fit: grouped_slope(&pts, confidence),
        rows,
        not_applicable,
        unusable,
    }
}

/// The test of a fitted exponent shared by the power-law sweep claims: `b̂` of `q ∝ x^b`
/// over the values `x` of `axis`, with its Student-t interval at `confidence`, against
/// `exponent ± band` ([`verdict_of_fit`]).
#[derive(Clone, Debug)]
pub struct ExponentTest {
    /// The fitted axis.
    pub axis: String,
    /// The expected exponent `b`.
    pub exponent: f64,
    /// Half-width of the accepted band around `b`.
    pub band: f64,
    /// Level of the interval of `b̂`.
    pub confidence: f64,
}

impl ExponentTest {
    /// Parameters `band` (default 0.25) and `confidence` (default 0.95) of sweep claim `id`:
    /// `band > 0` and `0.5 ≤ confidence < 1`.
    pub fn band_and_confidence(pr: &Params<'_>, id: &str) -> Result<(f64, f64), GradflowError> {
        let band = pr.f64("band", 0.25)?;
        let confidence = pr.f64("confidence", 0.95)?;
        if band > 0.0 && (0.5..1.0).contains(&confidence) {
            Ok((band, confidence))
        } else {
            Err(GradflowError::Config(format!(
                "sweep claim {id}: need band > 0 and 0.5 ≤ confidence < 1"
            )))
        }
    }

    /// Fits the `side` of `request` across the table ([`fit_exponent`]) and judges it.
    pub fn judge(
        &self,
        info: SweepClaimInfo,
        table: &SweepTable<'_>,
        request: &ClaimRequest,
        side: Side,
    ) -> SweepVerdict {
        let f = fit_exponent(table, request, &self.axis, self.confidence, side);
        verdict_of_fit(info, f, table, self.exponent, self.band, self.confidence)
    }
}

/// The fitted axis must be one of the sweep's axes.
pub fn require_axis(id: &str, axis: &str, axes: &[String]) -> Result<(), GradflowError> {
    if axes.iter().any(|a| a == axis) {
        Ok(())
    } else {
        Err(GradflowError::Config(format!(
            "sweep claim {id}: fits against axis {axis:?}, which the sweep does not vary \
             (its axes: {axes:?})"
        )))
    }
}

/// The margin of `|b̂ − b| ≤ band`: `slack = band − |b̂ − b|`, judged against the
/// interval's half-width (holds: the whole interval lies within `b ± band`; violated: it
/// lies wholly outside).
pub fn exponent_margin(fit: &SlopeFit, expected: f64, band: f64) -> (f64, f64, Verdict) {
    let slack = band - (fit.slope - expected).abs();
    let half = (fit.interval[1] - fit.interval[0]) / 2.0;
    (slack, half, judge_margin(slack, half))
}

/// The verdict of `q ∝ x^exponent` from a fit: the margin of [`exponent_margin`], then
/// `not_applicable` when the measured claim was not applicable at some point (its failing
/// hypotheses reported), `inconclusive` when a point did not complete, had no usable
/// measurement, or a measurement not above its evaluation budget. The note states the fit.
pub fn verdict_of_fit(
    info: SweepClaimInfo,
    f: ExponentFit,
    table: &SweepTable<'_>,
    exponent: f64,
    band: f64,
    confidence: f64,
) -> SweepVerdict {
    let mut out = SweepVerdict::empty(info, Verdict::Inconclusive);
    out.target = exponent;
    out.details = f.rows;
    let incomplete = table.incomplete();
    let mut notes = incomplete.clone();
    let below_budget: Vec<String> = out
        .details
        .iter()
        .filter(|r| match (r["q"].as_f64(), r["budget"].as_f64()) {
            (Some(q), Some(b)) => q <= b,
            _ => false,
        })
        .map(|r| r["coords"].to_string())
        .collect();
    if !below_budget.is_empty() {
        notes.push(format!(
            "measurement not above its evaluation budget at {}",
            below_budget.join(", ")
        ));
    }
    if !f.unusable.is_empty() {
        notes.push(format!(
            "no positive finite measurement at [{}]",
            f.unusable.join("], [")
        ));
    }
    if let Some(fit) = f.fit {
        out.estimate = fit.slope;
        out.interval = fit.interval;
        out.points = fit.points;
        let (slack, half, v) = exponent_margin(&fit, exponent, band);
        out.slack = slack;
        out.budget = half;
        out.verdict = v;
        notes.push(format!(
            "fitted exponent {:.4} ({} % interval [{:.4}, {:.4}], {} points, {} replicates, \
             {} residual dof)",
            fit.slope,
            confidence * 100.0,
            fit.interval[0],
            fit.interval[1],
            fit.points,
            fit.groups,
            fit.dof
        ));
    } else {
        notes.push("no fit: fewer than two axis values with a usable measurement".into());
    }
    if let Some((at, failing)) = &f.not_applicable {
        out.hypotheses = failed_hypotheses(at, failing);
        out.verdict = Verdict::NotApplicable;
    } else if out.verdict != Verdict::Inconclusive
        && (!incomplete.is_empty() || !below_budget.is_empty() || !f.unusable.is_empty())
    {
        out.verdict = Verdict::Inconclusive;
    }
    out.note = notes.join("; ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::store::{Measured, PointRecord, Row};

    fn rec(eps: f64, seed: u64, q: f64, req: &ClaimRequest) -> PointRecord {
        PointRecord {
            key: format!("{eps}-{seed}"),
            index: 0,
            coords: vec![
                ("model.epsilon".into(), json!(eps)),
                ("seed".into(), json!(seed)),
            ],
            status: PointStatus::Completed,
            t: 1.0,
            steps: 1,
            rhs_evaluations: 1,
            measured: vec![Measured {
                request: req.clone(),
                verdict: Verdict::Holds,
                failing: vec![],
                last: Some(Row {
                    t: 1.0,
                    lhs: q,
                    rhs: 1.0,
                    budget: 1e-12,
                }),
                min_slack: None,
                note: String::new(),
            }],
        }
    }

    #[test]
    fn recovers_exponent_across_seeds_and_judges_the_band() {
        let req = ClaimRequest {
            id: "x".into(),
            params: json!({}),
        };
        // q = c_seed ε² (1 + small seed-dependent wobble)
        let mut recs = Vec::new();
        for seed in 1..=3u64 {
            for (i, eps) in [0.1, 0.03, 0.01, 0.003].into_iter().enumerate() {
                let wobble = 1.0 + 0.01 * ((seed as f64) * (i as f64)).sin();
                recs.push(rec(eps, seed, seed as f64 * eps * eps * wobble, &req));
            }
        }
        let t = SweepTable { records: &recs };
        let f = fit_exponent(&t, &req, "model.epsilon", 0.95, Side::Lhs);
        let fit = f.fit.unwrap();
        assert_eq!(fit.groups, 3);
        assert!((fit.slope - 2.0).abs() < 0.01, "{fit:?}");
        assert_eq!(exponent_margin(&fit, 2.0, 0.25).2, Verdict::Holds);
        assert_eq!(exponent_margin(&fit, 1.0, 0.25).2, Verdict::Violated);
        assert_eq!(exponent_margin(&fit, 3.0, 0.25).2, Verdict::Violated);
    }

    #[test]
    fn non_positive_measurements_are_listed_not_fitted() {
        let req = ClaimRequest {
            id: "x".into(),
            params: json!({}),
        };
        let recs = vec![rec(0.1, 1, 0.0, &req), rec(0.01, 1, 1e-4, &req)];
        let f = fit_exponent(
            &SweepTable { records: &recs },
            &req,
            "model.epsilon",
            0.95,
            Side::Lhs,
        );
        assert!(f.fit.is_none());
        assert_eq!(f.unusable.len(), 1);
    }
}
