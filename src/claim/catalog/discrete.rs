//! Statements about discrete gradient descent (`method = "gd"`), shared by the papers whose
//! experiments train by gradient descent, parametrised by the id and result they are filed
//! under.

use nalgebra::DMatrix;
use serde_json::Value;

use super::common::{imbalance, Filing};
use super::only_factor;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Setting, Statement};
use crate::config::Method;
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// The exact change of every layer imbalance over one gradient-descent step (derived;
/// `gradflow` design notes §3; catalog 002 §3 Lemma 1 "GD drifts by O(η²) per step", catalog
/// 003 CX5): with `θ_{j+1} = θ_j − η∇L(θ_j)`, `G_k = ∇_{W_k}L(θ_j)` and
/// `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ`,
///
/// ```text
/// D_k(θ_{j+1}) − D_k(θ_j) = η² (G_{k+1}ᵀG_{k+1} − G_kG_kᵀ),   k = 1, …, L − 1,
/// ```
///
/// because the first-order terms cancel: `W_{k+1}ᵀG_{k+1} = S_{k+1}ᵀ E P_kᵀ = G_kW_kᵀ`
/// (the identity that makes `D_k` a conserved quantity of the flow). It holds for every
/// loss convention (the `κ` is inside `G`) and every step size. The statement is
/// `max_k ‖D_k(θ_{j+1}) − D_k(θ_j) − f·η²(G_{k+1}ᵀG_{k+1} − G_kG_kᵀ)‖_F = 0` at every step,
/// with `f` = `factor` (default 1; any other value is a deliberately false variant), judged
/// against round-off at the scale `Σ (‖W_k‖_F² + ‖W_{k+1}‖_F²)` over both iterates plus
/// `η²(‖G_k‖_F² + ‖G_{k+1}‖_F²)`. At a point inside a step (the checker's bisection, on the
/// linear dense output `θ_j − s∇L(θ_j)`) the same identity holds with `η` replaced by `s`.
/// A perturbed vector field (weight decay, a per-layer gradient scale) breaks it at first
/// order. Hypothesis: the run is gradient descent (an adaptive integrator's step is not a
/// GD step).
pub struct GdImbalanceStep {
    /// Filing.
    pub filing: Filing,
    factor: f64,
    prev: Option<Prev>,
}

/// The iterate a step starts from.
struct Prev {
    t: f64,
    /// `D_k(θ_j)`, `k = 1..L−1`.
    d: Vec<DMatrix<f64>>,
    /// `G_k = ∇_{W_k}L(θ_j)`, `k = 1..L`.
    g: Vec<DMatrix<f64>>,
    /// `‖W_k(θ_j)‖_F²`, `k = 1..L`.
    w_sq: Vec<f64>,
}

impl GdImbalanceStep {
    /// The claim filed under `filing`, with the factor `factor` on the right-hand side.
    pub fn new(filing: Filing, factor: f64) -> Self {
        Self {
            filing,
            factor,
            prev: None,
        }
    }
    /// The claim filed under `filing` with its parameters: `factor` (default 1).
    pub fn build(filing: Filing, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        Ok(Box::new(Self::new(filing, only_factor(filing.id, p)?)))
    }
}

impl Claim for GdImbalanceStep {
    fn info(&self) -> ClaimInfo {
        self.filing
            .info(format!(
                "each gradient-descent step changes every layer imbalance by exactly \
                 {}·η²(G_{{k+1}}ᵀG_{{k+1}} − G_kG_kᵀ), G_k = ∇_{{W_k}}L(θ_j): \
                 max_k ‖ΔD_k − {}·η²(G_{{k+1}}ᵀG_{{k+1}} − G_kG_kᵀ)‖_F = 0",
                self.factor, self.factor
            ))
            .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![
            Hypothesis::flag(
                "the run is gradient descent (method gd)",
                s.cfg.method == Method::Gd,
            ),
            super::hyp::depth_at_least(s, 2),
        ]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let prev = self.prev.as_ref()?;
        let l = s.shape.depth();
        let h = p.t - prev.t;
        if l < 2 || h <= 0.0 {
            return None;
        }
        let h2 = self.factor * h * h;
        let mut worst: f64 = 0.0;
        let mut scale: f64 = 0.0;
        for k in 1..l {
            let (gk, gk1) = (&prev.g[k - 1], &prev.g[k]);
            let predicted = (gk1.transpose() * gk1 - gk * gk.transpose()) * h2;
            let change = imbalance(s, p.y, k) - &prev.d[k - 1];
            worst = worst.max((change - predicted).norm());
            let (a, b) = (s.layer(p.y, k + 1).norm(), s.layer(p.y, k).norm());
            let sc = a * a
                + b * b
                + prev.w_sq[k - 1]
                + prev.w_sq[k]
                + h * h * (gk.norm_squared() + gk1.norm_squared());
            scale = scale.max(sc);
        }
        Some(Statement {
            lhs: worst,
            rhs: 0.0,
            budget: Budget::RoundOff { scale },
        })
    }
    fn advance(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) {
        let l = s.shape.depth();
        let grad = super::gradient_at(s, gf, p.y);
        self.prev = Some(Prev {
            t: p.t,
            d: (1..l).map(|k| imbalance(s, p.y, k)).collect(),
            g: (1..=l).map(|k| s.layer(&grad, k)).collect(),
            w_sq: (1..=l).map(|k| s.layer(p.y, k).norm_squared()).collect(),
        });
    }
}
