//! Violation frequencies across a sweep: how often a "with probability ≥ 1 − δ" statement
//! fails over resampled training sets, with an exact binomial interval, compared with `δ`.
//!
//! Each point's statement compares a Monte Carlo estimate with a bound, so each point is
//! classified with two checks of the same statement: one whose left-hand side is the
//! estimate's *lower* confidence limit (its violation is a sure violation) and one with the
//! *upper* limit (its holding is a sure hold). Points that are neither are ambiguous: they
//! count as violations when deciding `holds` and as non-violations when deciding `violated`.

use serde_json::{json, Value};

use super::claim::SweepTable;
use super::stats::clopper_pearson;
use super::store::{FailedHypothesis, PointStatus};
use crate::check::ClaimRequest;
use crate::claim::Verdict;

/// The counts for one `δ`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrequencyCount {
    /// Completed points classified.
    pub n: usize,
    /// Sure violations.
    pub violations: usize,
    /// Ambiguous points (estimate's interval straddles the bound, or inside the budget).
    pub ambiguous: usize,
    /// The failing hypotheses of the first point where the statement was not applicable.
    pub not_applicable: Option<(String, Vec<FailedHypothesis>)>,
    /// The point closest to violating the sure-hold check: `(coords, lhs, rhs)` of its last
    /// evaluation (the estimate's upper limit and the bound).
    pub tightest: Option<(String, f64, f64)>,
    /// Range `[min, max]` over the points of the sure-hold check's left-hand side (the
    /// estimate's upper limit) and right-hand side (the bound).
    pub ranges: Option<([f64; 2], [f64; 2])>,
}

/// Classifies every completed point by the sure-violation check `lower` and the sure-hold
/// check `upper`.
pub fn count(table: &SweepTable<'_>, lower: &ClaimRequest, upper: &ClaimRequest) -> FrequencyCount {
    let mut c = FrequencyCount {
        n: 0,
        violations: 0,
        ambiguous: 0,
        not_applicable: None,
        tightest: None,
        ranges: None,
    };
    for r in table.records {
        if r.status != PointStatus::Completed {
            continue;
        }
        let (Some(lo), Some(hi)) = (r.get(lower), r.get(upper)) else {
            continue;
        };
        if lo.verdict == Verdict::NotApplicable || hi.verdict == Verdict::NotApplicable {
            if c.not_applicable.is_none() {
                let failing = if lo.failing.is_empty() {
                    &hi.failing
                } else {
                    &lo.failing
                };
                c.not_applicable = Some((super::coords_label(&r.coords), failing.clone()));
            }
            continue;
        }
        c.n += 1;
        if let Some(e) = hi.last {
            if c.tightest
                .as_ref()
                .is_none_or(|t| e.rhs - e.lhs < t.2 - t.1)
            {
                c.tightest = Some((super::coords_label(&r.coords), e.lhs, e.rhs));
            }
            let ([a0, a1], [b0, b1]) = c.ranges.unwrap_or((
                [f64::INFINITY, f64::NEG_INFINITY],
                [f64::INFINITY, f64::NEG_INFINITY],
            ));
            c.ranges = Some((
                [a0.min(e.lhs), a1.max(e.lhs)],
                [b0.min(e.rhs), b1.max(e.rhs)],
            ));
        }
        if lo.verdict == Verdict::Violated {
            c.violations += 1;
        } else if hi.verdict != Verdict::Holds {
            c.ambiguous += 1;
        }
    }
    c
}

/// The verdict of `P(violation) ≤ δ` from the counts at `confidence`: `holds` when the
/// Clopper–Pearson upper limit of `(violations + ambiguous)/n` is at most `δ`, `violated`
/// when the lower limit of `violations/n` exceeds `δ`, `inconclusive` otherwise. Returns the
/// verdict, the point estimate `violations/n`, the interval `[lower, upper]` and a details row.
pub fn judge(c: &FrequencyCount, delta: f64, confidence: f64) -> (Verdict, f64, [f64; 2], Value) {
    if c.n == 0 {
        return (
            Verdict::Inconclusive,
            f64::NAN,
            [0.0, 1.0],
            json!({"delta": delta, "points": 0}),
        );
    }
    let lower = clopper_pearson(c.violations, c.n, confidence)[0];
    let upper = clopper_pearson(c.violations + c.ambiguous, c.n, confidence)[1];
    let verdict = if upper <= delta {
        Verdict::Holds
    } else if lower > delta {
        Verdict::Violated
    } else {
        Verdict::Inconclusive
    };
    let phat = c.violations as f64 / c.n as f64;
    let row = json!({
        "delta": delta,
        "points": c.n,
        "violations": c.violations,
        "ambiguous": c.ambiguous,
        "frequency": phat,
        "clopper_pearson": [lower, upper],
        "confidence": confidence,
        "verdict": verdict,
        "risk_upper_range": c.ranges.map(|r| r.0),
        "bound_range": c.ranges.map(|r| r.1),
        "tightest": c.tightest.as_ref().map(|(at, lhs, rhs)| json!({
            "coords": at, "risk_upper": lhs, "bound": rhs, "slack": rhs - lhs,
        })),
    });
    (verdict, phat, [lower, upper], row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n: usize, violations: usize, ambiguous: usize) -> FrequencyCount {
        FrequencyCount {
            n,
            violations,
            ambiguous,
            not_applicable: None,
            tightest: None,
            ranges: None,
        }
    }

    #[test]
    fn zero_violations_hold_only_with_enough_points() {
        // 0 of 59: upper limit 1 − 0.05^{1/59} = 0.0495 ≤ 0.05; 0 of 30: 0.095 > 0.05
        assert_eq!(judge(&counts(59, 0, 0), 0.05, 0.95).0, Verdict::Holds);
        assert_eq!(
            judge(&counts(30, 0, 0), 0.05, 0.95).0,
            Verdict::Inconclusive
        );
        assert_eq!(judge(&counts(30, 0, 0), 0.2, 0.95).0, Verdict::Holds);
    }

    #[test]
    fn ambiguous_points_count_against_holding_but_not_for_violating() {
        assert_eq!(
            judge(&counts(30, 0, 10), 0.2, 0.95).0,
            Verdict::Inconclusive
        );
        assert_eq!(judge(&counts(30, 25, 0), 0.5, 0.95).0, Verdict::Violated);
        // 12 sure of 30 (0.4): lower limit 0.25 > 0.2 → violated, whatever the ambiguous
        assert_eq!(judge(&counts(30, 12, 18), 0.2, 0.95).0, Verdict::Violated);
        assert_eq!(judge(&counts(0, 0, 0), 0.2, 0.95).0, Verdict::Inconclusive);
    }
}
