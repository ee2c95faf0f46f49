//! Loss normalisations. Every constant in a rate or a bound depends on which one is used,
//! so a run must name it; there is no default (`../shared/design.md` §2).

use serde::{Deserialize, Serialize};

use crate::error::GradflowError;

/// The four normalisations of the squared loss `‖Y − XΘ‖_F²` used by the papers.
///
/// | name | loss | used by |
/// |---|---|---|
/// | `sum` | `‖Y − XΘ‖²` | paper 000 (Chatterji–Long), the quantity in its bounds |
/// | `half_sum` | `½‖Y − XΘ‖²` | paper 003 (Min et al.); paper 000's printed gradient |
/// | `mean` | `(1/n)‖Y − XΘ‖²` | paper 002 (Marion–Chizat) |
/// | `half_mean` | `(1/2n)‖Y − XΘ‖²` | paper 001 (Golikov) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossConvention {
    /// `‖Y − XΘ‖_F²`.
    Sum,
    /// `½‖Y − XΘ‖_F²`.
    HalfSum,
    /// `(1/n)‖Y − XΘ‖_F²`.
    Mean,
    /// `(1/2n)‖Y − XΘ‖_F²`.
    HalfMean,
}

impl LossConvention {
    /// All conventions, for property tests and `--help`.
    pub const ALL: [LossConvention; 4] = [Self::Sum, Self::HalfSum, Self::Mean, Self::HalfMean];

    /// The factor `κ` in `L = κ‖Y − XΘ‖_F²` for `n` samples.
    pub fn scale(self, n: usize) -> f64 {
        let n = n as f64;
        match self {
            Self::Sum => 1.0,
            Self::HalfSum => 0.5,
            Self::Mean => 1.0 / n,
            Self::HalfMean => 0.5 / n,
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::HalfSum => "half_sum",
            Self::Mean => "mean",
            Self::HalfMean => "half_mean",
        }
    }
}

impl std::str::FromStr for LossConvention {
    type Err = GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                GradflowError::Config(format!(
                    "unknown loss convention {s:?}: expected one of sum, half_sum, mean, half_mean"
                ))
            })
    }
}

impl std::fmt::Display for LossConvention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected_with_the_choices() {
        for c in LossConvention::ALL {
            assert_eq!(c.name().parse::<LossConvention>().unwrap(), c);
        }
        let err = "l2".parse::<LossConvention>().unwrap_err().to_string();
        assert!(err.contains("\"l2\"") && err.contains("half_mean"), "{err}");
    }

    #[test]
    fn scale_factors_match_their_definitions() {
        assert_eq!(LossConvention::Sum.scale(10), 1.0);
        assert_eq!(LossConvention::HalfSum.scale(10), 0.5);
        assert_eq!(LossConvention::Mean.scale(10), 0.1);
        assert_eq!(LossConvention::HalfMean.scale(10), 0.05);
    }
}
