//! Sweep claims that are not tied to one paper: a user names the trajectory claim whose
//! measurement is fitted.

use serde_json::{json, Value};

use super::claim::{SweepClaim, SweepClaimInfo, SweepEntry, SweepTable, SweepVerdict};
use super::power_law::{ExponentTest, Side};
use crate::check::ClaimRequest;
use crate::claim::catalog::Params;
use crate::error::GradflowError;

/// The generic sweep claims.
pub fn entries() -> Vec<SweepEntry> {
    vec![SweepEntry {
        id: "sweep.power_law",
        paper: "any",
        build: PowerLaw::build,
    }]
}

/// `q ∝ x^b` across the grid, for `q` the last left- (or right-) hand side of any trajectory
/// claim `of` (`{"id": …, "params": {…}}`) and `x` the values of `axis`; the other axes are
/// replicates with their own prefactor (fixed-effects fit of `ln q` on `ln x`, Student-t
/// interval at `confidence`). Holds when the interval lies within `exponent ± band`, violated
/// when it lies wholly outside, inconclusive otherwise or when a point did not complete, had
/// no positive measurement or (`quantity = "lhs"`) a left-hand side not above its evaluation
/// budget; not applicable when the measured claim was not applicable at some point.
/// The budget recorded with a left-hand side is that of the measured statement `lhs ≤ rhs`;
/// give the measured claim `"factor": 0` where it has one so that the budget is the error of
/// `lhs` alone. Parameters: `of` (required), `axis` (required), `exponent` (required),
/// `band` (0.25), `confidence` (0.95), `quantity` (`"lhs"` or `"rhs"`).
pub struct PowerLaw {
    of: ClaimRequest,
    test: ExponentTest,
    quantity: Side,
}

impl PowerLaw {
    const ID: &'static str = "sweep.power_law";

    fn build(p: &Value) -> Result<Box<dyn SweepClaim>, GradflowError> {
        let pr = Params::new(
            Self::ID,
            p,
            &["of", "axis", "exponent", "band", "confidence", "quantity"],
        )?;
        let err = |m: &str| GradflowError::Config(format!("sweep claim {}: {m}", Self::ID));
        // listing the claims builds every one with `{}`: show the shape of the statement then
        let of: ClaimRequest = match p.get("of") {
            None => ClaimRequest {
                id: "<of>".into(),
                params: json!({}),
            },
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                err(&format!(
                    "of: {e} (expected {{\"id\": …, \"params\": {{…}}}})"
                ))
            })?,
        };
        let quantity = match pr.str("quantity", "lhs")? {
            "lhs" => Side::Lhs,
            "rhs" => Side::Rhs,
            other => {
                return Err(err(&format!(
                    "quantity = {other:?}: expected \"lhs\" or \"rhs\""
                )))
            }
        };
        let (band, confidence) = ExponentTest::band_and_confidence(&pr, Self::ID)?;
        let exponent = pr.f64("exponent", f64::NAN)?;
        if p.get("of").is_some() && (exponent.is_nan() || p.get("axis").is_none()) {
            return Err(err("give `of`, `axis` and `exponent`"));
        }
        Ok(Box::new(Self {
            of,
            test: ExponentTest {
                axis: pr.str("axis", "<axis>")?.to_string(),
                exponent,
                band,
                confidence,
            },
            quantity,
        }))
    }
}

impl SweepClaim for PowerLaw {
    fn info(&self) -> SweepClaimInfo {
        SweepClaimInfo {
            id: Self::ID.into(),
            paper: "any",
            result: "fitted exponent of a claim's measurement",
            statement: format!(
                "{} of {} ∝ {}^{} at t_end: fitted exponent within ± {} ({} % interval)",
                if self.quantity == Side::Lhs {
                    "lhs"
                } else {
                    "rhs"
                },
                self.of.id,
                self.test.axis,
                self.test.exponent,
                self.test.band,
                self.test.confidence * 100.0
            ),
        }
    }
    fn requests(&self) -> Vec<ClaimRequest> {
        vec![self.of.clone()]
    }
    fn validate(&self, axes: &[String]) -> Result<(), GradflowError> {
        if self.of.id == "<of>" || self.test.exponent.is_nan() {
            return Err(GradflowError::Config(format!(
                "sweep claim {}: give `of` (the measured claim), `axis` and `exponent`",
                Self::ID
            )));
        }
        super::power_law::require_axis(Self::ID, &self.test.axis, axes)
    }
    fn judge(&self, table: &SweepTable<'_>) -> SweepVerdict {
        self.test.judge(self.info(), table, &self.of, self.quantity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_its_target_claim_axis_and_exponent() {
        assert!(
            PowerLaw::build(&json!({})).is_ok(),
            "listing builds it with {{}}"
        );
        let e = PowerLaw::build(&json!({"of": {"id": "x"}})).err().unwrap();
        assert!(e.to_string().contains("axis"), "{e}");
        let e = PowerLaw::build(&json!({"of": 3, "axis": "a", "exponent": 1}))
            .err()
            .unwrap();
        assert!(e.to_string().contains("of:"), "{e}");
        assert!(PowerLaw::build(
            &json!({"of": {"id": "x"}, "axis": "seed", "exponent": 1, "quantity": "mid"})
        )
        .is_err());
    }
}
