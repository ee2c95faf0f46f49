//! Paper 000: Chatterji & Long, "Deep linear networks can benignly overfit when shallow ones
//! do" (2022). Catalog `claims/000.md`. Conventions: the bounds use `𝓛 = ‖Y − XΘ‖²` (the
//! `sum` loss) while the paper's flow is that of `½𝓛` (its gradient misses a factor 2, §2.3
//! FLAG); claims read the run's convention `κ` and state their constants for it.
//!
//! **Time scale.** The run integrates `dW_j/dt = −∇_{W_j}(κ‖XΘ − Y‖²) = −2κ G_j`, with `G_j`
//! the paper's eq. (4) product `W_{j+1:L}ᵀ RᵀX W_{1:j−1}ᵀ` (`R = XΘ − Y`). The paper's flow is
//! `dW_j/ds = −G_j` (catalog `g = 1`), so the run is the paper's flow at time `s = 2κt`
//! (`g = 2κ`: `g = 1` for `half_sum`, `2` for `sum`, `2/n` for `mean`, `1/n` for
//! `half_mean`). Consequently every `∫√𝓛 ds` of the paper becomes `2κ∫‖R‖_F dt`, every rate
//! `e^{−cs}` becomes `e^{−2κct}`, and every bound on `d/ds` is multiplied by `2κ` for `d/dt`.
//! The integral `I(t) = ∫_0^t ‖R(τ)‖_F dτ` is the extra ODE state `y[params]`, so the
//! adaptive error control covers it.
//!
//! **Notation.** `W_{a:b} = W_b⋯W_a` (empty products are identities), `P_j = W_{1:j}`
//! (`P_0 = I_d`), `S_j = W_{j:L}` (`S_{L+1} = I_q`), `Θ = P_Lᵀ`, `P_⊥ = I − P_X`,
//! `Θ_X⊥ = P_⊥Θ`, `W1⊥0 = W_1(0)P_⊥`, `Λ(t) = Π_j max(1, ‖W_j(t)‖_op)` (the smallest `Λ`
//! of Definition 2.4 at time `t`), `σ_n(X)` the smallest nonzero singular value of `X`.
//!
//! **Running maxima.** Integral bounds (Lemmas 4.5, 5.5, B.5) use
//! `∫_0^t c(τ)‖R(τ)‖_F dτ ≤ (max_{τ≤t} c(τ))·I(t)` with the maximum taken over the accepted
//! points (kept in `advance`) and the current point. Between two accepted points `c` is not
//! sampled; for a smooth `c` the unsampled excess of its maximum over a step of size `h` is
//! at most `h²·max|c''|/8`. The error budgets do not contain it: a violation whose slack is
//! comparable to the step-to-step change of `c` should be confirmed with a smaller `h_max`.

use nalgebra::DMatrix;
use serde_json::Value;

use super::{hyp, spectral_norm, Params};
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Relation, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// The registered claims of paper 000.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "cl22.lemma4_2.risk_decomposition",
            paper: "000",
            build: |p| RiskBound::build(RiskForm::Lemma42, p),
        },
        Entry {
            id: "cl22.thm3_1.risk_skeleton",
            paper: "000",
            build: |p| RiskBound::build(RiskForm::Thm31, p),
        },
        Entry {
            id: "cl22.sec8.modified_identity_row_space",
            paper: "000",
            build: |p| {
                Params::new("cl22.sec8.modified_identity_row_space", p, &[])?;
                Ok(Box::new(ModifiedIdentityRowSpace))
            },
        },
    ]
}

fn rank_deficient(s: &Setting) -> Hypothesis {
    hyp::rank_below_input(s, "rank X < d (a nontrivial null space)")
}

// ---------------------------------------------------------------------------------------
// Linear algebra of the network at one point, shared by the claims below.

/// Layers and prefix products `P_j = W_j⋯W_1` (`P_0 = I_d`) at one state.
struct Net {
    /// `w[k − 1] = W_k`.
    w: Vec<DMatrix<f64>>,
    /// `pre[j] = P_j`, `j = 0..=L`.
    pre: Vec<DMatrix<f64>>,
}

impl Net {
    fn new(s: &Setting, y: &[f64]) -> Self {
        let l = s.shape.depth();
        let d = s.shape.input();
        let w: Vec<DMatrix<f64>> = (1..=l).map(|k| s.layer(y, k)).collect();
        let mut pre = Vec::with_capacity(l + 1);
        pre.push(DMatrix::identity(d, d));
        for k in 0..l {
            let next = &w[k] * &pre[k];
            pre.push(next);
        }
        Self { w, pre }
    }
    fn depth(&self) -> usize {
        self.w.len()
    }
    /// `Θ = (W_L⋯W_1)ᵀ`.
    fn theta(&self) -> DMatrix<f64> {
        self.pre[self.depth()].transpose()
    }
    /// `Π_k ‖W_k‖_F + ‖Θ‖_F`: the magnitude behind products of all layers.
    fn product_scale(&self) -> f64 {
        self.w.iter().map(|w| w.norm()).product::<f64>() + self.pre[self.depth()].norm()
    }
}

fn full_row_rank(s: &Setting) -> Hypothesis {
    hyp::full_row_rank(s, "rank X = n (assumption A.5)")
}

/// Reads `factor` (default 1; must be finite).
fn factor_param(pr: &Params) -> Result<f64, GradflowError> {
    pr.f64("factor", 1.0)
}

// ---------------------------------------------------------------------------------------
// Lemmas 5.3, 4.4: exact identities.

// ---------------------------------------------------------------------------------------
// Proposition 5.2 and Lemmas B.3–B.5.

// ---------------------------------------------------------------------------------------
// End-point checks: the risk decomposition.

/// Which risk bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskForm {
    /// Lemma 4.2's deterministic part: `2T_B + 2T_V`.
    Lemma42,
    /// Theorem 3.1's skeleton: `4‖B‖_op(‖Θ*‖² + ‖Θ_X⊥‖²) + 2T_V`.
    Thm31,
}

/// Lemma 4.2's deterministic part (catalog E3) and Theorem 3.1's deterministic skeleton
/// (catalog E4, form T3.1-D), at the final time, for synthetic data with known `Σ` and `Θ*`
/// (independent of the loss convention). With `Ω = Y − XΘ*` and `R = XΘ − Y`,
/// `Θ − Θ* = −P_⊥(Θ* − Θ_X⊥) + X⁺Ω + X⁺R` exactly (Lemma 4.2's proof, plus the residual for
/// a `Θ` that interpolates only up to `R`), hence
/// `√Risk(Θ) ≤ factor·[√(2T_B + 2T_V) + ‖Σ^{1/2}X⁺R‖_F]` (`lemma4_2.risk_decomposition`) and,
/// as `T_B ≤ ‖B‖_op‖Θ* − Θ_X⊥‖² ≤ 2‖B‖_op(‖Θ*‖² + ‖Θ_X⊥‖²)`,
/// `√Risk(Θ) ≤ factor·[√(4‖B‖_op(‖Θ*‖_F² + ‖Θ_X⊥‖_F²) + 2T_V) + ‖Σ^{1/2}X⁺R‖_F]`
/// (`thm3_1.risk_skeleton`), where `Risk(Θ) = ‖Σ^{1/2}(Θ − Θ*)‖_F²` (eq. (3)),
/// `T_B = ‖Σ^{1/2}P_⊥(Θ* − Θ_X⊥)‖_F²`, `T_V = ‖Σ^{1/2}X⁺Ω‖_F²` and
/// `‖B‖_op = ‖P_⊥ΣP_⊥‖_op`. At interpolation (`R = 0`) these are the paper's
/// `Risk ≤ 2T_B + 2T_V` (its `c = 2`) and the skeleton before the statistical Lemmas.
/// `factor < 1` is a deliberately false variant. Budget: round-off. Hypotheses: the
/// population is known (synthetic, unwhitened regression data), rank X = n, and, on the
/// final state, Theorem 3.1's hypothesis that gradient flow has reached its interpolating
/// limit (catalog E1): `𝓛(T) = ‖XΘ(T) − Y‖_F² ≤ tol_interp`, always in the sum
/// convention of the paper's bounds (independent of the run's `κ`), with the parameter
/// `tol_interp` an absolute threshold on `𝓛(T)`, by default `1e-8·(1 + ‖Y‖_F²)`. A run
/// stopped before interpolation (short `t_end`, a saddle) makes the claims
/// `not_applicable`, not `violated`.
pub struct RiskBound {
    form: RiskForm,
    factor: f64,
    /// `None`: the default `1e-8·(1 + ‖Y‖_F²)`.
    tol_interp: Option<f64>,
}

/// Default interpolation threshold on `𝓛(T) = ‖XΘ(T) − Y‖_F²`: `1e-8·(1 + ‖Y‖_F²)`.
fn default_tol_interp(s: &Setting) -> f64 {
    1e-8 * (1.0 + s.data.y.norm_squared())
}

impl RiskBound {
    fn build(form: RiskForm, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = Self::id(form);
        let pr = Params::new(id, p, &["factor", "tol_interp"])?;
        // absent: NaN (a JSON parameter is always finite), replaced by the default
        let tol = pr.f64("tol_interp", f64::NAN)?;
        if tol < 0.0 {
            return Err(GradflowError::Config(format!(
                "claim {id}: parameter tol_interp = {tol}: expected a number ≥ 0"
            )));
        }
        Ok(Box::new(Self {
            form,
            factor: factor_param(&pr)?,
            tol_interp: (!tol.is_nan()).then_some(tol),
        }))
    }
    fn id(form: RiskForm) -> &'static str {
        match form {
            RiskForm::Lemma42 => "cl22.lemma4_2.risk_decomposition",
            RiskForm::Thm31 => "cl22.thm3_1.risk_skeleton",
        }
    }
}

impl Claim for RiskBound {
    fn info(&self) -> ClaimInfo {
        let (result, main) = match self.form {
            RiskForm::Lemma42 => (
                "Lemma 4.2, deterministic part (catalog E3)",
                "√(2T_B + 2T_V)",
            ),
            RiskForm::Thm31 => (
                "Theorem 3.1, deterministic skeleton T3.1-D (catalog E4)",
                "√(4‖P_⊥ΣP_⊥‖_op(‖Θ*‖_F² + ‖Θ_X⊥‖_F²) + 2T_V)",
            ),
        };
        ClaimInfo::new(
            Self::id(self.form),
            "000",
            result,
            format!(
                "√Risk(Θ(T)) ≤ {}·[{main} + ‖Σ^{{1/2}}X⁺(XΘ − Y)‖_F], \
                 T_B = ‖Σ^{{1/2}}P_⊥(Θ* − Θ_X⊥)‖_F², T_V = ‖Σ^{{1/2}}X⁺(Y − XΘ*)‖_F²",
                self.factor
            ),
        )
        .at_end()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![
            Hypothesis::flag("population (Σ, Θ*) known", s.data.population.is_some()),
            full_row_rank(s),
        ]
    }
    fn final_hypotheses(
        &self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        let theta = s.theta(p.y);
        let loss = (&s.data.x * &theta - &s.data.y).norm_squared();
        vec![Hypothesis::new(
            "converged to interpolation: 𝓛(T) = ‖XΘ(T) − Y‖_F² ≤ tol_interp (Theorem 3.1, catalog E1)",
            loss,
            Relation::Le,
            self.tol_interp.unwrap_or_else(|| default_tol_interp(s)),
        )]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let pop = s.data.population.as_ref()?;
        let theta = s.theta(p.y);
        let risk = pop.excess_risk(&theta).ok()?;
        let sqrt_sigma = |m: &DMatrix<f64>| {
            let mut o = m.clone();
            for (i, &l) in pop.sigma_eigs.iter().enumerate() {
                o.row_mut(i).scale_mut(l.sqrt());
            }
            o
        };
        let ts = &pop.theta_star;
        let t_b = sqrt_sigma(&s.left_perp(&(ts - &theta))).norm_squared();
        let px_ts = ts - s.left_perp(ts);
        let t_v = sqrt_sigma(&(&s.theta_l2 - px_ts)).norm_squared();
        let px_t = &theta - s.left_perp(&theta);
        let t_r = sqrt_sigma(&(px_t - &s.theta_l2)).norm();
        let main = match self.form {
            RiskForm::Lemma42 => 2.0 * t_b + 2.0 * t_v,
            RiskForm::Thm31 => {
                let d = s.shape.input();
                let sp = sqrt_sigma(&s.left_perp(&DMatrix::identity(d, d)));
                let b_op = spectral_norm(&sp).powi(2);
                let perp = s.left_perp(&theta).norm_squared();
                4.0 * b_op * (ts.norm_squared() + perp) + 2.0 * t_v
            }
        };
        let lhs = risk.sqrt();
        let rhs = self.factor * (main.sqrt() + t_r);
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::RoundOff {
                scale: lhs + rhs + theta.norm() + ts.norm(),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// §8: the modified-identity initialisation.

/// Whether `W(0)` is the modified-identity init of §8 ([ZLG20]): `m = d + q`,
/// `W_1 = [I_d; 0]`, `W_2 = … = W_{L−1} = I_{d+q}`, `W_L = [0, I_q]` (exactly).
fn is_modified_identity(s: &Setting) -> bool {
    let l = s.shape.depth();
    let (d, q) = (s.shape.input(), s.shape.output());
    if l < 2 || s.shape.widths()[1..l].iter().any(|&m| m != d + q) {
        return false;
    }
    let mut w1 = DMatrix::zeros(d + q, d);
    w1.view_mut((0, 0), (d, d)).fill_with_identity();
    let mut wl = DMatrix::zeros(q, d + q);
    wl.view_mut((0, d), (q, q)).fill_with_identity();
    let id = DMatrix::<f64>::identity(d + q, d + q);
    (1..=l).all(|k| {
        let w = s.layer(&s.theta0, k);
        if k == 1 {
            w == w1
        } else if k == l {
            w == wl
        } else {
            w == id
        }
    })
}

/// §8 (Discussion; catalog E7, S9): from the modified-identity init (ZLG20; `m = d + q`,
/// `W_1 = [I_d; 0]`, middle layers `I`, `W_L = [0, I_q]`) gradient flow stays in the row
/// space, `(I − P_X)Θ(t) = 0` for all `t`, so its limit is `Θ_ℓ2` ("the GF output equals
/// Θ_ℓ2"; with Lemma 4.1's `cl22.lemma4_1.projection_residual`,
/// `‖Θ(T) − Θ_ℓ2‖_F ≤ ‖R(T)‖_F/σ_n(X)`). The paper derives it from Theorem 3.1's flawed
/// Case 1; it is true by symmetry (catalog §3 §8: the map `W_1 ↦ QW_1Uᵀ`, `W_mid ↦ QW_midQᵀ`,
/// `W_L ↦ W_LQᵀ` with `U = P_X − P_⊥`, `Q = blockdiag(U, I_q)` preserves the loss and fixes
/// the init, so it commutes with the flow and `P_⊥Θ = −P_⊥Θ`), although `W_1(0)P_⊥ ≠ 0`.
/// The symmetry is linear, so Runge–Kutta steps preserve it up to round-off: identity with
/// the round-off budget at scale `Π_k‖W_k‖_F + ‖Θ‖_F`; independent of the loss convention.
/// Hypotheses: the modified-identity init, `rank X < d`.
pub struct ModifiedIdentityRowSpace;

impl Claim for ModifiedIdentityRowSpace {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "cl22.sec8.modified_identity_row_space",
            "000",
            "§8 Discussion, modified-identity init (catalog E7, S9)",
            "from W_1 = [I; 0], W_mid = I, W_L = [0, I]: ‖(I − P_X)Θ(t)‖_F = 0 for all t",
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![
            Hypothesis::flag(
                "modified-identity init (m = d + q, W_1 = [I; 0], W_mid = I, W_L = [0, I])",
                is_modified_identity(s),
            ),
            rank_deficient(s),
        ]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let net = Net::new(s, p.y);
        let lhs = s.left_perp(&net.theta()).norm();
        Some(Statement {
            lhs,
            rhs: 0.0,
            budget: Budget::RoundOff {
                scale: net.product_scale(),
            },
        })
    }
}
