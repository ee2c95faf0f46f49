//! Paper 000: Chatterji & Long, "Deep linear networks can benignly overfit when shallow ones
//! do" (2022). Catalog `claims/000.md`. Conventions: the bounds use `𝓛 = ‖Y − XΘ‖²` (the
//! `sum` loss) while the paper's flow is that of `½𝓛` (its gradient misses a factor 2, §2.3
//! FLAG); claims read the run's convention `κ` and state their constants for it.

use nalgebra::DMatrix;
use serde_json::Value;

use super::common::{Filing, ImbalanceConserved, LossNonIncreasing};
use super::Params;
use crate::claim::registry::Entry;
use crate::claim::{
    Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Schedule, Setting, Statement,
};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// The registered claims of paper 000.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "cl22.lemma5_4.null_space_conserved",
            paper: "000",
            build: |p| {
                Params::new("cl22.lemma5_4.null_space_conserved", p, &[])?;
                Ok(Box::new(NullSpaceConserved))
            },
        },
        Entry {
            id: "cl22.implied.imbalance_conserved",
            paper: "000",
            build: |p| {
                Params::new("cl22.implied.imbalance_conserved", p, &[])?;
                Ok(Box::new(ImbalanceConserved::new(Filing {
                    id: "cl22.implied.imbalance_conserved",
                    paper: "000",
                    result: "§3 implied invariant",
                })))
            },
        },
        Entry {
            id: "cl22.m5.loss_nonincreasing",
            paper: "000",
            build: |p| {
                Params::new("cl22.m5.loss_nonincreasing", p, &[])?;
                Ok(Box::new(LossNonIncreasing::new(Filing {
                    id: "cl22.m5.loss_nonincreasing",
                    paper: "000",
                    result: "gradient flow (catalog M5)",
                })))
            },
        },
        Entry {
            id: "cl22.lemma_b3.pl_core",
            paper: "000",
            build: PlCore::build,
        },
        Entry {
            id: "cl22.thm3_1.printed_theta_perp_zero",
            paper: "000",
            build: |p| {
                Params::new("cl22.thm3_1.printed_theta_perp_zero", p, &[])?;
                Ok(Box::new(ThetaPerpZero { corrected: false }))
            },
        },
        Entry {
            id: "cl22.thm3_1.corrected_theta_perp_zero",
            paper: "000",
            build: |p| {
                Params::new("cl22.thm3_1.corrected_theta_perp_zero", p, &[])?;
                Ok(Box::new(ThetaPerpZero { corrected: true }))
            },
        },
    ]
}

fn rank_deficient(s: &Setting) -> Hypothesis {
    Hypothesis::new(
        "rank X < d (a nontrivial null space)",
        s.rank as f64,
        Relation::Lt,
        s.shape.input() as f64,
    )
}

/// Lemma 5.4 (catalog M1): `W_1(t)(I − P_X) = W_1(0)(I − P_X)` for all t. A linear invariant
/// (the first-layer gradient `S_2ᵀE` has rows in the row space of `X`), kept by every
/// Runge–Kutta method to round-off: the budget is the round-off model at scale
/// `‖W_1(0)‖_F + ‖W_1(t)‖_F`. Anything above it is a bug or a perturbed flow.
pub struct NullSpaceConserved;

impl Claim for NullSpaceConserved {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "cl22.lemma5_4.null_space_conserved".into(),
            paper: "000",
            result: "Lemma 5.4",
            statement: "the first layer's null-space component is conserved: \
                        ‖W_1(t)(I − P_X) − W_1(0)(I − P_X)‖_F = 0"
                .into(),
            schedule: Schedule::Always,
            form: Form::Identity,
            printed_error: None,
        }
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![rank_deficient(s)]
    }
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
        let w1 = s.layer(p.y, 1);
        let w10 = s.layer(&s.theta0, 1);
        let drift = s.right_perp(&(&w1 - &w10)).norm();
        Some(Statement {
            lhs: drift,
            rhs: 0.0,
            budget: Budget::RoundOff {
                scale: w1.norm() + w10.norm(),
            },
        })
    }
}

/// Core of Lemma B.3 (catalog M6), in the run's convention `L = κ‖R‖²`:
/// `‖∇L‖² ≥ ‖∇_{W_1}L‖² ≥ 4κ² σ_q(W_L⋯W_2)² σ_n(X)² ‖R‖_F²`
/// (from `∇_{W_1}L = (W_L⋯W_2)ᵀ·2κRᵀX`). Hypotheses: rank X = n (so `‖XᵀR‖ ≥ σ_n(X)‖R‖`),
/// depth ≥ 2 and the first hidden width `m_1 ≥ q`. Parameter `factor` (default 1)
/// multiplies the right-hand side: `factor > 1` is a deliberately false variant.
pub struct PlCore {
    factor: f64,
}

impl PlCore {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new("cl22.lemma_b3.pl_core", p, &["factor"])?;
        Ok(Box::new(Self {
            factor: pr.f64("factor", 1.0)?,
        }))
    }
}

impl Claim for PlCore {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "cl22.lemma_b3.pl_core".into(),
            paper: "000",
            result: "Lemma B.3 (core, catalog M6)",
            statement: format!(
                "‖∇L‖² ≥ {}·4κ²·σ_q(W_L⋯W_2)²·σ_n(X)²·‖XΘ − Y‖_F²",
                self.factor
            ),
            schedule: Schedule::Always,
            form: Form::Inequality,
            printed_error: None,
        }
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![
            Hypothesis::new("rank X = n", s.rank as f64, Relation::Ge, s.data.n() as f64),
            Hypothesis::new("depth L ≥ 2", s.shape.depth() as f64, Relation::Ge, 2.0),
            Hypothesis::new(
                "m_1 ≥ q",
                s.shape.widths()[1.min(s.shape.depth())] as f64,
                Relation::Ge,
                s.shape.output() as f64,
            ),
        ]
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let l = s.shape.depth();
        if l < 2 {
            return None;
        }
        let np = s.params();
        let mut g = vec![0.0; np];
        gf.gradient(&p.y[..np], &mut g);
        let r = gf.residual().norm();
        let gn2: f64 = g.iter().map(|v| v * v).sum();
        let mut s2: DMatrix<f64> = s.layer(p.y, l);
        for k in (2..l).rev() {
            s2 *= s.layer(p.y, k);
        }
        let q = s.shape.output();
        let sv = s2.singular_values();
        let mut svs: Vec<f64> = sv.iter().copied().collect();
        svs.sort_by(|a, b| b.total_cmp(a));
        let sq = svs.get(q - 1).copied().unwrap_or(0.0);
        let rhs = self.factor * 4.0 * s.kappa * s.kappa * sq * sq * s.x_min_sv().powi(2) * r * r;
        Some(Statement {
            lhs: rhs,
            rhs: gn2,
            budget: Budget::Propagated { scale: gn2 + rhs },
        })
    }
}

/// Theorem 3.1's "Ξ = 0 case": the text says the null-space part of `Θ` stays zero when
/// `Θ_X⊥(0) = 0` (printed); the catalog (§2.5, FLAG; counterexample S1) shows the right
/// condition is `W_1(0)(I − P_X) = 0` (corrected), since `Θ_X⊥(t) = (W_{2:L}(t) W_1(0) P_⊥)ᵀ`
/// (Lemmas 5.3–5.4). Both are identities `‖(I − P_X)Θ(t)‖_F = 0` with a round-off budget,
/// under different hypotheses; with `W_L(0) = 0` the printed one is violated.
pub struct ThetaPerpZero {
    corrected: bool,
}

impl Claim for ThetaPerpZero {
    fn info(&self) -> ClaimInfo {
        let (id, st, err) = if self.corrected {
            (
                "cl22.thm3_1.corrected_theta_perp_zero",
                "if W_1(0)(I − P_X) = 0 then (I − P_X)Θ(t) = 0 for all t",
                None,
            )
        } else {
            (
                "cl22.thm3_1.printed_theta_perp_zero",
                "(as printed) if (I − P_X)Θ(0) = 0 then (I − P_X)Θ(t) = 0 for all t",
                Some(
                    "the hypothesis must be W_1(0)(I − P_X) = 0; with W_L(0) = 0, Θ(0) = 0 \
                     but (I − P_X)Θ(t) grows (catalog 000 §2.5, S1)",
                ),
            )
        };
        ClaimInfo {
            id: id.into(),
            paper: "000",
            result: "Theorem 3.1 (Ξ = 0 case)",
            statement: st.into(),
            schedule: Schedule::Always,
            form: Form::Identity,
            printed_error: err,
        }
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let w10 = s.layer(&s.theta0, 1);
        let tol = 1e-12 * (1.0 + w10.norm());
        let h = if self.corrected {
            Hypothesis::new(
                "‖W_1(0)(I − P_X)‖_F ≈ 0",
                s.right_perp(&w10).norm(),
                Relation::Le,
                tol,
            )
        } else {
            Hypothesis::new(
                "‖(I − P_X)Θ(0)‖_F ≈ 0",
                s.left_perp(&s.theta_e2e0).norm(),
                Relation::Le,
                1e-12 * (1.0 + s.theta_e2e0.norm()),
            )
        };
        vec![rank_deficient(s), h]
    }
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
        let theta = s.theta(p.y);
        let perp = s.left_perp(&theta).norm();
        let scale: f64 = (1..=s.shape.depth())
            .map(|k| s.layer(p.y, k).norm())
            .product();
        Some(Statement {
            lhs: perp,
            rhs: 0.0,
            budget: Budget::RoundOff {
                scale: scale + theta.norm(),
            },
        })
    }
}
