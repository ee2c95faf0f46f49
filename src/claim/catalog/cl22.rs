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
use crate::claim::{
    Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Schedule, Setting, Statement,
};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::model::init::{InitSpec, ScaleConvention};
use crate::monitor::Point;

/// The registered claims of paper 000.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "cl22.prop5_2.printed_lambda_bound",
            paper: "000",
            build: |p| PrintedProp52::build(Prop52Part::Lambda, p),
        },
        Entry {
            id: "cl22.prop5_2.printed_drift",
            paper: "000",
            build: |p| PrintedProp52::build(Prop52Part::Drift, p),
        },
        Entry {
            id: "cl22.lemma_b3.local_rate",
            paper: "000",
            build: LocalRate::build,
        },
        Entry {
            id: "cl22.lemma_b4.loss_decay",
            paper: "000",
            build: LossDecay::build,
        },
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

/// `σ_k(A)`, the `k`-th largest singular value (1-based); 0 when `A` has fewer than `k`.
fn sigma_k(a: &DMatrix<f64>, k: usize) -> f64 {
    if a.is_empty() || k == 0 {
        return 0.0;
    }
    crate::decompose::singular_values(a)
        .map_or(f64::NAN, |sv| sv.get(k - 1).copied().unwrap_or(0.0))
}

/// `Λ = Π_j max(1, ‖W_j‖_op)` from the layer norms.
fn lambda_of(ops: &[f64]) -> f64 {
    ops.iter().map(|o| o.max(1.0)).product()
}

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
    /// `‖W_k‖_op`, `k = 1..=L`.
    fn ops(&self) -> Vec<f64> {
        self.w.iter().map(spectral_norm).collect()
    }
    /// `Π_k ‖W_k‖_F + ‖Θ‖_F`: the magnitude behind products of all layers.
    fn product_scale(&self) -> f64 {
        self.w.iter().map(|w| w.norm()).product::<f64>() + self.pre[self.depth()].norm()
    }
    /// `‖W_j − W_j(0)‖_op` for every layer.
    fn drifts(&self, w0: &[DMatrix<f64>]) -> Vec<f64> {
        self.w
            .iter()
            .zip(w0)
            .map(|(w, w0)| spectral_norm(&(w - w0)))
            .collect()
    }
}

/// The initial layers `W_1(0), …, W_L(0)`.
fn initial_layers(s: &Setting) -> Vec<DMatrix<f64>> {
    (1..=s.shape.depth())
        .map(|k| s.layer(&s.theta0, k))
        .collect()
}

/// `R = XΘ − Y`.
fn residual(s: &Setting, theta: &DMatrix<f64>) -> DMatrix<f64> {
    &s.data.x * theta - &s.data.y
}

fn full_row_rank(s: &Setting) -> Hypothesis {
    hyp::full_row_rank(s, "rank X = n (assumption A.5)")
}

fn no_eval_at_start(p: &Point<'_>) -> bool {
    p.t == 0.0
}

/// Definition 2.3's scales in the analysis convention (catalog §2.4, conv. A), with the
/// hidden width `m`: `(α_A, β_A, m)`, `α_A = α√m` under the paper convention. `None` unless
/// the run's init is `chatterji_long`.
fn def23(s: &Setting) -> Option<(f64, f64, usize)> {
    match &s.cfg.init {
        InitSpec::ChatterjiLong {
            alpha,
            beta,
            convention,
        } if s.shape.depth() >= 2 => {
            let m = s.shape.widths()[1];
            let r = match convention {
                ScaleConvention::Paper => (m as f64).sqrt(),
                ScaleConvention::Analysis => 1.0,
            };
            Some((alpha * r, beta * r, m))
        }
        _ => None,
    }
}

fn def23_flag(s: &Setting) -> Hypothesis {
    Hypothesis::flag(
        "Definition 2.3 init (chatterji_long: W_1, W_L Gaussian, middle layers I)",
        def23(s).is_some(),
    )
}

/// Definition 5.1 with `c = 2` (Lemma B.1's constants), conv. A: `α/2 < σ_min(W_1(0))`,
/// `σ_max(W_1(0)) < 2α`, `β/2 < σ_min(W_L(0))`, `σ_max(W_L(0)) < 2β`; `σ_min(W_1) = σ_d`,
/// `σ_min(W_L) = σ_q`.
fn good_init(s: &Setting) -> Vec<Hypothesis> {
    let (a, b, _) = def23(s).unwrap_or((0.0, 0.0, 0));
    let l = s.shape.depth();
    let w1 = s.layer(&s.theta0, 1);
    let wl = s.layer(&s.theta0, l);
    let (d, q) = (s.shape.input(), s.shape.output());
    vec![
        def23_flag(s),
        Hypothesis::new(
            "σ_d(W_1(0)) > α/2 (Def 5.1, c = 2)",
            sigma_k(&w1, d),
            Relation::Gt,
            a / 2.0,
        ),
        Hypothesis::new(
            "‖W_1(0)‖_op < 2α (Def 5.1, c = 2)",
            sigma_k(&w1, 1),
            Relation::Lt,
            2.0 * a,
        ),
        Hypothesis::new(
            "σ_q(W_L(0)) > β/2 (Def 5.1, c = 2)",
            sigma_k(&wl, q),
            Relation::Gt,
            b / 2.0,
        ),
        Hypothesis::new(
            "‖W_L(0)‖_op < 2β (Def 5.1, c = 2)",
            sigma_k(&wl, 1),
            Relation::Lt,
            2.0 * b,
        ),
    ]
}

/// Proposition 5.2's hypotheses with the constant `c` and confidence `δ` (conv. A; the
/// β-condition read as `√(L‖X‖_op‖Y‖/σ_n(X)²)`, catalog §3 Prop 5.2 notes).
fn prop52_hyps(s: &Setting, c: f64, delta: f64) -> Vec<Hypothesis> {
    let (a, b, m) = def23(s).unwrap_or((0.0, 0.0, 0));
    let l = s.shape.depth() as f64;
    let (n, d, q) = (s.data.n() as f64, s.data.d() as f64, s.data.q() as f64);
    let (xop, xf, yf, sn) = (s.x_op(), s.data.x.norm(), s.data.y.norm(), s.x_min_sv());
    let beta_min = c * (l * xop * yf).sqrt().max(sn) / sn;
    let m1 = c * (d + q + (1.0 / delta).ln());
    let m2 = c * l * l * a * a * xop * xop * xf * xf * q * (n / delta).ln() / (b * b * sn.powi(4));
    vec![
        def23_flag(s),
        full_row_rank(s),
        Hypothesis::new("α ≤ 1 (conv. A)", a, Relation::Le, 1.0),
        Hypothesis::new(
            "β ≥ c·max{1, √(L‖X‖_op‖Y‖_F)/σ_n(X)} (conv. A)",
            b,
            Relation::Ge,
            beta_min,
        ),
        Hypothesis::new("m ≥ c(d + q + log(1/δ))", m as f64, Relation::Ge, m1),
        Hypothesis::new(
            "m ≥ c·L²α²‖X‖_op²‖X‖_F²q·log(n/δ)/(β²σ_n(X)⁴)",
            m as f64,
            Relation::Ge,
            if m2.is_finite() { m2 } else { f64::INFINITY },
        ),
    ]
}

/// Reads `factor` (default 1; must be finite).
fn factor_param(pr: &Params) -> Result<f64, GradflowError> {
    pr.f64("factor", 1.0)
}

// ---------------------------------------------------------------------------------------
// Lemmas 5.3, 4.4: exact identities.

// ---------------------------------------------------------------------------------------
// Proposition 5.2 and Lemmas B.3–B.5.

/// Which part of Proposition 5.2 (as printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prop52Part {
    /// Part 2: perpetually `c(α + 1/L)β` bounded.
    Lambda,
    /// The proof's drift claim `‖W_j(t) − W_j(0)‖_op < 1/(2L)`.
    Drift,
}

/// Proposition 5.2 as printed (conv. A; hypotheses with the constant `c`, parameter `c`,
/// default 10, and `δ`, parameter `delta`, default 0.05: Def 2.3 init, rank X = n, `α ≤ 1`,
/// `β ≥ c·max{1, √(L‖X‖_op‖Y‖_F)/σ_n(X)}`, `m ≥ c(d + q + log(1/δ))`,
/// `m ≥ c L²α²‖X‖_op²‖X‖_F² q log(n/δ)/(β²σ_n(X)⁴)`). Two statements, both independent of the
/// loss convention (no time constants):
/// - `printed_lambda_bound` (part 2, catalog M12): `Λ(t) ≤ c(α + 1/L)β` for all `t`
///   (perpetually `c(α + 1/L)β` bounded; `Λ(t) ≤ C ∀t` is `Λ*_t ≤ C`);
/// - `printed_drift` (the proof's claim, catalog M13): `max_j ‖W_j(t) − W_j(0)‖_op < 1/(2L)`.
///
/// The catalog (§3 Prop 5.2 FLAG, §6 item 5; S2, S2b, S3) shows both fail: `S = {L}` gives
/// `Λ ≥ ‖W_L‖_op ≈ β`, so `Λ*/((α + 1/L)β) ≳ L/(1 + αL)` grows with `L`; and since
/// `‖Θ(∞)‖_op ≥ ‖Θ_ℓ2‖_op ∝ ‖Y‖` while the β-threshold grows like `√‖Y‖`, scaling `Y` breaks
/// both at any `L` and any `c` (W_1's drift ≈ `‖Θ_ℓ2‖_op/β`). Budget: propagated.
pub struct PrintedProp52 {
    part: Prop52Part,
    c: f64,
    delta: f64,
    w0: Vec<DMatrix<f64>>,
}

impl PrintedProp52 {
    fn build(part: Prop52Part, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = match part {
            Prop52Part::Lambda => "cl22.prop5_2.printed_lambda_bound",
            Prop52Part::Drift => "cl22.prop5_2.printed_drift",
        };
        let pr = Params::new(id, p, &["c", "delta"])?;
        let c = pr.f64("c", 10.0)?;
        let delta = pr.f64("delta", 0.05)?;
        if !(c > 0.0 && delta > 0.0 && delta < 1.0) {
            return Err(GradflowError::Config(format!(
                "claim {id}: need c > 0 and 0 < delta < 1 (got c = {c}, delta = {delta})"
            )));
        }
        Ok(Box::new(Self {
            part,
            c,
            delta,
            w0: Vec::new(),
        }))
    }
}

impl Claim for PrintedProp52 {
    fn info(&self) -> ClaimInfo {
        let (id, result, st, err) = match self.part {
            Prop52Part::Lambda => (
                "cl22.prop5_2.printed_lambda_bound",
                "Proposition 5.2, part 2 (catalog M12)",
                format!(
                    "(as printed) training is perpetually c(α + 1/L)β bounded: \
                     Π_j max(1, ‖W_j(t)‖_op) ≤ {}(α + 1/L)β for all t",
                    self.c
                ),
                "not uniform in L: S = {L} gives Λ ≥ ‖W_L‖_op ≈ β, so no absolute c works \
                 once L > 2c + 1; and ‖Θ‖_op → ‖Θ_ℓ2‖_op ∝ ‖Y‖ outgrows the √‖Y‖ β-threshold \
                 (catalog 000 §3 Prop 5.2 FLAG, §6 item 5, S2, S2b)",
            ),
            Prop52Part::Drift => (
                "cl22.prop5_2.printed_drift",
                "Proposition 5.2, proof of parts 2–3 (catalog M13)",
                "(as printed) max_j ‖W_j(t) − W_j(0)‖_op < 1/(2L) for all t".to_string(),
                "W_1 must move by ≈ ‖Θ_ℓ2‖_op/β, which needs β ≳ L‖Θ_ℓ2‖_op (linear in L and \
                 ‖Y‖) rather than the stated √(L‖X‖_op‖Y‖)/σ_n(X) (catalog 000 §3 Prop 5.2 \
                 FLAG, §6 item 5, S3)",
            ),
        };
        ClaimInfo {
            id: id.into(),
            paper: "000".into(),
            result: result.into(),
            statement: st,
            schedule: Schedule::Always,
            form: Form::Inequality,
            empirical: None,
            printed_error: Some(String::from(err)),
            declaration: None,
        }
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        prop52_hyps(s, self.c, self.delta)
    }
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
        let net = Net::new(s, p.y);
        let l = net.depth() as f64;
        let (lhs, rhs) = match self.part {
            Prop52Part::Lambda => {
                let (a, b, _) = def23(s).unwrap_or((0.0, 0.0, 0));
                (lambda_of(&net.ops()), self.c * (a + 1.0 / l) * b)
            }
            Prop52Part::Drift => {
                if self.w0.is_empty() {
                    self.w0 = initial_layers(s);
                }
                let dr = net.drifts(&self.w0);
                (dr.iter().copied().fold(0.0, f64::max), 1.0 / (2.0 * l))
            }
        };
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Propagated { scale: lhs + rhs },
        })
    }
}

/// `max_j ‖W_j − W_j(0)‖_op < 1/(2L)` at a state (the drift condition of Lemmas B.3, B.4).
fn drift_holds(net: &Net, w0: &[DMatrix<f64>]) -> bool {
    let l = net.depth() as f64;
    net.drifts(w0).iter().all(|&d| d < 1.0 / (2.0 * l))
}

/// Hypotheses of Lemmas B.3 and B.4: Def 2.3 init, good init (Def 5.1 with Lemma B.1's
/// `c = 2`), `β ≥ 2` (conv. A), rank X = n.
fn b3_hyps(s: &Setting) -> Vec<Hypothesis> {
    let (_, b, _) = def23(s).unwrap_or((0.0, 0.0, 0));
    let mut h = good_init(s);
    h.push(Hypothesis::new("β ≥ 2 (conv. A)", b, Relation::Ge, 2.0));
    h.push(full_row_rank(s));
    h
}

/// The rate `β²σ_n(X)²/(4e)` of Lemmas B.3–B.4 (conv. A β) for the paper's `g = 1` flow.
fn b3_rate(s: &Setting) -> f64 {
    let (_, b, _) = def23(s).unwrap_or((0.0, 0.0, 0));
    b * b * s.x_min_sv().powi(2) / (4.0 * std::f64::consts::E)
}

/// Lemma B.3 (catalog M14, reconstructed), in the run's convention: if `β ≥ 2`, the init is
/// good (Def 5.1, `c = 2`) and at time `t` the drift condition
/// `max_j ‖W_j(t) − W_j(0)‖_op < 1/(2L)` holds, then
/// `−dL/dt ≥ factor · 2κ · β²σ_n(X)²/(4e) · L(t)` (the paper's `−d𝓛/ds ≥ β²σ_n²/(4e)·𝓛` for
/// its `g = 1` flow; the run is that flow at `s = 2κt`, and `L = κ𝓛`). The left side is
/// `−⟨∇L, θ̇⟩` with `θ̇` the integrated vector field (a slowed-down flow breaks it). The
/// statement is pointwise: it is not evaluated where the drift condition fails (then
/// `printed_drift` is violated). `factor > 1` is a deliberately false variant. Budget:
/// propagated.
pub struct LocalRate {
    factor: f64,
    w0: Vec<DMatrix<f64>>,
}

impl LocalRate {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new("cl22.lemma_b3.local_rate", p, &["factor"])?;
        Ok(Box::new(Self {
            factor: factor_param(&pr)?,
            w0: Vec::new(),
        }))
    }
}

impl Claim for LocalRate {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "cl22.lemma_b3.local_rate",
            "000",
            "Lemma B.3 (catalog M14)",
            format!(
                "while max_j ‖W_j(t) − W_j(0)‖_op < 1/(2L): \
                 −dL/dt ≥ {}·2κ·β²σ_n(X)²/(4e)·L(t)",
                self.factor
            ),
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        b3_hyps(s)
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if self.w0.is_empty() {
            self.w0 = initial_layers(s);
        }
        let net = Net::new(s, p.y);
        if !drift_holds(&net, &self.w0) {
            return None;
        }
        let np = s.params();
        let mut g = vec![0.0; np];
        let loss = gf.gradient(&p.y[..np], &mut g);
        let decay: f64 = -g.iter().zip(&p.f[..np]).map(|(a, b)| a * b).sum::<f64>();
        let lhs = self.factor * 2.0 * s.kappa * b3_rate(s) * loss;
        Some(Statement {
            lhs,
            rhs: decay,
            budget: Budget::Propagated {
                scale: lhs.abs() + decay.abs(),
            },
        })
    }
}

/// Lemma B.4 / Proposition 5.2 part 3 (catalog M15, reconstructed), in the run's convention:
/// if `β ≥ 2`, the init is good (Def 5.1, `c = 2`) and the drift condition held on `[0, t)`,
/// then `L(t) < L(0)·exp(−factor · 2κ · β²σ_n(X)² t/(4e))` (the paper's
/// `exp(−β²σ_n²s/(4e))` at `s = 2κt`). Evaluated for `t > 0` while the drift condition has
/// held at every accepted point so far and at the current point. `factor > 1` is a
/// deliberately false variant. Budget: propagated.
pub struct LossDecay {
    factor: f64,
    w0: Vec<DMatrix<f64>>,
    loss0: f64,
    drift_ok: bool,
}

impl LossDecay {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new("cl22.lemma_b4.loss_decay", p, &["factor"])?;
        Ok(Box::new(Self {
            factor: factor_param(&pr)?,
            w0: Vec::new(),
            loss0: 0.0,
            drift_ok: true,
        }))
    }
    fn init(&mut self, s: &Setting) {
        if self.w0.is_empty() {
            self.w0 = initial_layers(s);
            self.loss0 = s.kappa * residual(s, &s.theta_e2e0).norm_squared();
        }
    }
}

impl Claim for LossDecay {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "cl22.lemma_b4.loss_decay",
            "000",
            "Lemma B.4, Proposition 5.2 part 3 (catalog M15)",
            format!(
                "while max_j ‖W_j(s) − W_j(0)‖_op < 1/(2L) on [0, t]: \
                 L(t) < L(0)·exp(−{}·2κ·β²σ_n(X)²t/(4e))",
                self.factor
            ),
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        b3_hyps(s)
    }
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
        self.init(s);
        if no_eval_at_start(p) || !self.drift_ok {
            return None;
        }
        let net = Net::new(s, p.y);
        if !drift_holds(&net, &self.w0) {
            return None;
        }
        let lhs = s.kappa * residual(s, &net.theta()).norm_squared();
        let rhs = self.loss0 * (-self.factor * 2.0 * s.kappa * b3_rate(s) * p.t).exp();
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Propagated { scale: lhs + rhs },
        })
    }
    fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
        self.init(s);
        let net = Net::new(s, p.y);
        self.drift_ok &= drift_holds(&net, &self.w0);
    }
}

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
        ClaimInfo {
            id: Self::id(self.form).into(),
            paper: "000".into(),
            result: result.into(),
            statement: format!(
                "√Risk(Θ(T)) ≤ {}·[{main} + ‖Σ^{{1/2}}X⁺(XΘ − Y)‖_F], \
                 T_B = ‖Σ^{{1/2}}P_⊥(Θ* − Θ_X⊥)‖_F², T_V = ‖Σ^{{1/2}}X⁺(Y − XΘ*)‖_F²",
                self.factor
            ),
            schedule: Schedule::AtEnd,
            form: Form::Inequality,
            empirical: None,
            printed_error: None,
            declaration: None,
        }
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
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
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
    fn evaluate(
        &mut self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Option<Statement> {
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
