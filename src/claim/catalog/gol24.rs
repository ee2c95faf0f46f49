//! Paper 001: Golikov, "A Generalization Bound for Nearly-Linear Networks" (TMLR 2025,
//! arXiv 2407.06765). Catalog `claims/001.md`.
//!
//! Scope. The paper studies leaky-ReLU networks `φ^ε` (ε > 0) as perturbations of the linear
//! network (ε = 0, its "linear twin" `θ⁰`). The engine integrates deep linear networks, so the
//! claims here are the statements that specialise to ε = 0: the linear twin trained on whitened
//! data, its closed-form (Saxe) trajectory, the data scalar `s`, the limit loss, Assumption 5.1
//! and Conjecture E.1 (both proven for ε = 0, App. E), Lemma 7.4 and the weight-norm half of
//! Lemma 7.1, the data-through-`c*` structure behind Lemma 7.2, and the standard invariants of
//! catalog A0.
//!
//! Conventions (catalog §2.2–2.3, row form). The paper writes samples as columns, `X ∈ R^{d×m}`;
//! gradflow writes them as rows, `X ∈ R^{n×d}` with `n = m`. The paper's whitened
//! `X̃ = Σ_X^{-1/2}X` (`X̃X̃ᵀ = mI_d`) is `X̃ = XΣ_X^{-1/2}` here (`X̃ᵀX̃ = nI_d`); its
//! `c* = YX̃⁺ ∈ R^{1×d}` is `c*ᵀ = X̃⁺Y = X̃ᵀY/n ∈ R^{d×1}` (the run's `X⁺Y`); its residual
//! `Ξ = (Y − f(X̃))/m ∈ R^{1×m}` is `Ξ = (Y − X̃Θ)/n ∈ R^{n×1}` and `ΞX̃ᵀ` is `X̃ᵀΞ = c*ᵀ − Θ`.
//! The data scalar, with the catalog's reconstructed `1/m`:
//! `s = ‖YX̃⁺‖ = (1/√n)‖(XᵀX)^{-1/2}XᵀY‖ = ‖P Y‖/√n` (`P` the projector on the column space
//! of `X`, so `s` is the same for `X` and its whitened version); Theorem 5.2 prints
//! `s = ‖YXᵀΣ_X^{-1/2}‖`, which is `n·s` (catalog §6 item 1).
//!
//! Loss convention. The paper's loss is `𝓛 = (1/2m)‖Y − f(X̃)‖²` (`half_mean`). A run with
//! `L = κ‖XΘ − Y‖²` has `∇L = 2κn ∇𝓛`, so its flow is the paper's flow at time `λt`,
//! `λ := 2κn` (`λ = 1` for `half_mean`, `2` for `mean`, `n` for `half_sum`, `2n` for `sum`).
//! Every time-dependent formula of the paper (`ū`, `t*_α`, `u`) is evaluated at `τ = λt`;
//! state-only statements (norm bounds, signs) do not depend on the convention, and loss
//! values scale as `L = 2κn·𝓛`.

use nalgebra::DMatrix;
use serde_json::Value;

use super::common::{Filing, LossNonIncreasing};
use super::{only_factor, prefixes, spectral_norm, suffixes, Params};
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Relation, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

const PAPER: &str = "001";

/// Tolerance of the whitening hypothesis `‖X̃ᵀX̃/n − I_d‖_F ≤ tol`.
pub const WHITENING_TOL: f64 = 1e-10;
/// Tolerance of the aligned-initialisation hypothesis (relative defects of rank one, equal
/// norms, balance and alignment with `c*`).
pub const ALIGNED_TOL: f64 = 1e-10;

/// Largest product of the RK4 substep with the local rate of the scalar Saxe ODE (`L ≥ 3`).
pub const SAXE_SUBSTEP: f64 = 1e-3;

/// Paper 001 claims that are statements about the linear network only (the checker makes
/// them not applicable on a leaky-ReLU run with `ε > 0`); the others hold for every `ε` or
/// check `ε` themselves.
pub const LINEAR_ONLY: &[&str] = &[
    "gol24.a0.imbalance_conserved",
    "gol24.thm5_2.printed_s_saxe_norms",
    "gol24.eq14.printed_saxe_closed_form",
    "gol24.eq15.learning_time",
    "gol24.lemma7_2.rhs_via_c_star",
    "gol24.lemma7_2.loss_via_c_star",
    "gol24.sec5_3.limit_train_loss",
];

/// The registered claims of paper 001.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "gol24.a0.energy_identity",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(EnergyIdentity {
                    twin: reads_twin("gol24.a0.energy_identity", p)?,
                }))
            },
        },
        Entry {
            id: "gol24.a0.loss_nonincreasing",
            paper: PAPER,
            build: |p| {
                let c = LossNonIncreasing::new(Filing {
                    id: "gol24.a0.loss_nonincreasing",
                    paper: PAPER,
                    result: "§2.3 gradient flow, used in the proof of Lemma 7.4 (catalog A0.1)",
                });
                Ok(Box::new(if reads_twin("gol24.a0.loss_nonincreasing", p)? {
                    c.on_twin()
                } else {
                    c
                }))
            },
        },
        Entry {
            id: "gol24.a0.neuron_balance_conserved",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(NeuronBalance {
                    c0: Vec::new(),
                    twin: reads_twin("gol24.a0.neuron_balance_conserved", p)?,
                }))
            },
        },
        Entry {
            id: "gol24.sec5_1.whitening_identities",
            paper: PAPER,
            build: |p| {
                Params::new("gol24.sec5_1.whitening_identities", p, &[])?;
                Ok(Box::new(WhiteningIdentities))
            },
        },
        Entry {
            id: "gol24.sec5_3.s_le_one",
            paper: PAPER,
            build: |p| {
                let pr = Params::new("gol24.sec5_3.s_le_one", p, &["bound"])?;
                Ok(Box::new(SLeOne {
                    printed: false,
                    bound: pr.f64("bound", 1.0)?,
                }))
            },
        },
        Entry {
            id: "gol24.thm5_2.printed_s_le_one",
            paper: PAPER,
            build: |p| {
                Params::new("gol24.thm5_2.printed_s_le_one", p, &[])?;
                Ok(Box::new(SLeOne {
                    printed: true,
                    bound: 1.0,
                }))
            },
        },
        Entry {
            id: "gol24.sec5_3.saxe_norms",
            paper: PAPER,
            build: |p| {
                let c = SaxeNorms::new(SaxeVariant::Corrected);
                Ok(Box::new(if reads_twin("gol24.sec5_3.saxe_norms", p)? {
                    c.on_twin()
                } else {
                    c
                }))
            },
        },
        Entry {
            id: "gol24.thm5_2.printed_s_saxe_norms",
            paper: PAPER,
            build: |p| {
                Params::new("gol24.thm5_2.printed_s_saxe_norms", p, &[])?;
                Ok(Box::new(SaxeNorms::new(SaxeVariant::PrintedS)))
            },
        },
        Entry {
            id: "gol24.eq14.printed_saxe_closed_form",
            paper: PAPER,
            build: |p| {
                Params::new("gol24.eq14.printed_saxe_closed_form", p, &[])?;
                Ok(Box::new(SaxeNorms::new(SaxeVariant::PrintedEq14)))
            },
        },
        Entry {
            id: "gol24.eq15.learning_time",
            paper: PAPER,
            build: LearningTime::build,
        },
        Entry {
            id: "gol24.lemma7_2.rhs_via_c_star",
            paper: PAPER,
            build: |p| {
                Params::new("gol24.lemma7_2.rhs_via_c_star", p, &[])?;
                Ok(Box::new(RhsViaCStar))
            },
        },
        Entry {
            id: "gol24.lemma7_2.loss_via_c_star",
            paper: PAPER,
            build: LossViaCStar::build,
        },
        Entry {
            id: "gol24.sec5_3.limit_train_loss",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(LimitTrainLoss {
                    factor: only_factor("gol24.sec5_3.limit_train_loss", p)?,
                }))
            },
        },
        Entry {
            id: "gol24.assumption5_1.lx_below_initial",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(LxBelowInitial {
                    lx0: None,
                    twin: reads_twin("gol24.assumption5_1.lx_below_initial", p)?,
                }))
            },
        },
        Entry {
            id: "gol24.conj_e1.lx_nonincreasing",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(LxNonIncreasing {
                    twin: reads_twin("gol24.conj_e1.lx_nonincreasing", p)?,
                }))
            },
        },
        Entry {
            id: "gol24.lemma7_4.residual_norm",
            paper: PAPER,
            build: |p| Lemma74::build("gol24.lemma7_4.residual_norm", false, p),
        },
        Entry {
            id: "gol24.lemma7_4.projected_residual",
            paper: PAPER,
            build: |p| Lemma74::build("gol24.lemma7_4.projected_residual", true, p),
        },
        Entry {
            id: "gol24.lemma7_1.n1_weight_norms",
            paper: PAPER,
            build: |p| Lemma71::build(NormBound::N1, p),
        },
        Entry {
            id: "gol24.lemma7_1.n2_first_layer_frobenius",
            paper: PAPER,
            build: |p| Lemma71::build(NormBound::N2, p),
        },
        Entry {
            id: "gol24.lemma7_1.n2_tight",
            paper: PAPER,
            build: |p| Lemma71::build(NormBound::N2Tight, p),
        },
    ]
}

/// Parameter `trajectory`: `"trained"` (default; the run's network `θ^ε`) or `"twin"` (the
/// linear twin `θ⁰` of a leaky-ReLU run with `twin: true`).
pub fn trajectory_is_twin(pr: &Params<'_>) -> Result<bool, GradflowError> {
    match pr.str("trajectory", "trained")? {
        "trained" => Ok(false),
        "twin" => Ok(true),
        other => Err(GradflowError::Config(format!(
            "trajectory = {other:?}: expected \"trained\" or \"twin\""
        ))),
    }
}

/// Whether claim `id`, whose only parameter is `trajectory` (see [`trajectory_is_twin`]),
/// reads the linear twin with the parameters `p`.
fn reads_twin(id: &str, p: &Value) -> Result<bool, GradflowError> {
    trajectory_is_twin(&Params::new(id, p, &["trajectory"])?)
}

/// The weights a claim reads: `θ` of the state, or the twin block `θ⁰`.
fn trajectory<'a>(st: &Setting, y: &'a [f64], twin: bool) -> Option<&'a [f64]> {
    if twin {
        st.layout.twin_theta(y)
    } else {
        Some(y)
    }
}

// ---------------------------------------------------------------------------------------
// Data scalars and hypotheses
// ---------------------------------------------------------------------------------------

/// `λ = 2κn`: the run's flow at time `t` is the paper's (`half_mean`) flow at time `λt`.
pub fn time_factor(st: &Setting) -> f64 {
    2.0 * st.kappa * st.data.n() as f64
}

/// The data scalar `s = ‖YX̃⁺‖ = ‖X X⁺ Y‖_F/√n` (§5.3, with the catalog's reconstructed `1/m`;
/// for whitened data `s = ‖X̃ᵀY‖/n = ‖c*‖`).
pub fn data_scalar(st: &Setting) -> f64 {
    (&st.data.x * &st.theta_l2).norm() / (st.data.n() as f64).sqrt()
}

/// `‖X̃ᵀX̃/n − I_d‖_F` (zero for whitened inputs, §5.1).
pub fn whitening_defect(st: &Setting) -> f64 {
    let n = st.data.n() as f64;
    let d = st.data.d();
    (st.data.x.transpose() * &st.data.x / n - DMatrix::<f64>::identity(d, d)).norm()
}

/// `max_i ||y_i| − 1|` (zero for `±1` labels).
pub(crate) fn label_defect(st: &Setting) -> f64 {
    st.data
        .y
        .iter()
        .fold(0.0, |a: f64, v| a.max((v.abs() - 1.0).abs()))
}

fn h_whitened(st: &Setting) -> Hypothesis {
    Hypothesis::new(
        "whitened inputs X̃ᵀX̃ = n I_d (§5.1): ‖X̃ᵀX̃/n − I_d‖_F",
        whitening_defect(st),
        Relation::Le,
        WHITENING_TOL,
    )
}

fn h_sign_labels(st: &Setting) -> Hypothesis {
    Hypothesis::new(
        "labels y ∈ {−1, +1} (§5.1): max_i ||y_i| − 1|",
        label_defect(st),
        Relation::Le,
        0.0,
    )
}

fn h_scalar_output(st: &Setting) -> Hypothesis {
    super::hyp::single_output(st, "scalar output q = 1 (§2.1)")
}

fn h_depth(st: &Setting) -> Hypothesis {
    super::hyp::depth_at_least(st, 2)
}

fn h_full_rank(st: &Setting) -> Hypothesis {
    super::hyp::full_column_rank(st, "rank X = d (§5.1)")
}

fn layers(st: &Setting, y: &[f64]) -> Vec<DMatrix<f64>> {
    st.shape.unpack(&y[..st.params()])
}

/// `Ṁ = Σ_l S_{l+1} Ẇ_l P_{l−1}`, the velocity of `M = W_L⋯W_1` along `θ̇ = f`.
fn end_to_end_velocity(st: &Setting, y: &[f64], f: &[f64]) -> DMatrix<f64> {
    let ws = layers(st, y);
    let dws = layers(st, f);
    let pre = prefixes(&ws, st.shape.input());
    let suf = suffixes(&ws, st.shape.output());
    let mut m = DMatrix::<f64>::zeros(st.shape.output(), st.shape.input());
    for l in 1..=ws.len() {
        m += &suf[l] * &dws[l - 1] * &pre[l - 1];
    }
    m
}

/// `β` and `ρ` of an initial point: `β = max_l ‖W_l(0)‖₂` (the smallest `β` with
/// `‖W_l(0)‖ ≤ β`, Theorem 5.2's hypothesis) and `ρ = ‖W_1(0)‖_F/‖W_1(0)‖₂` (Theorem 5.2).
pub fn init_beta_rho(st: &Setting) -> (f64, f64) {
    let ws = layers(st, &st.theta0);
    let beta = ws.iter().map(spectral_norm).fold(0.0, f64::max);
    let n1 = spectral_norm(&ws[0]);
    let rho = if n1 > 0.0 { ws[0].norm() / n1 } else { 1.0 };
    (beta, rho)
}

// ---------------------------------------------------------------------------------------
// Closed forms: the Saxe trajectory ū(τ), the learning time t*_α, the bound functions u(τ)
// ---------------------------------------------------------------------------------------

/// One RK4 integration of the Saxe ODE in `z = ln ū`:
/// `dz/dτ = g(z) = ū^{L−2}(s − ū^L)` (eq. (95): `dū/dτ = ū^{L−1}(s − ū^L)`), from `(τ0, z0)`
/// to `τ`, with local substeps `h = SAXE_SUBSTEP / max(|g′(z)|, |g(z)|/max(1, |z|))`: the
/// linearised rate `|g′|` and the relative change of `z` per substep both stay ≤ 1e-3, so the
/// local error is `O(1e-15)` relative, and the slow escape from a small `ū(0)` (where
/// `|g′| ≈ (L−2)ū^{L−2}s` is small) takes long substeps. Within 1e-8 of the attracting
/// fixed point `z* = ln(s)/L` the linearised solution `z* + (z − z*)e^{g′(z*)(τ − t)}` takes
/// over (exact to `O((z − z*)²)`; RK4 would need `~|g′|/1e-3` substeps per unit time there).
fn saxe_log_rk4(depth: usize, s: f64, tau0: f64, z0: f64, tau: f64) -> f64 {
    if tau <= tau0 {
        return z0;
    }
    let l = depth as f64;
    let g = |z: f64| ((l - 2.0) * z).exp() * (s - (l * z).exp());
    let dg = |z: f64| {
        (l - 2.0) * ((l - 2.0) * z).exp() * (s - (l * z).exp()) - l * ((2.0 * l - 2.0) * z).exp()
    };
    let z_fixed = s.ln() / l;
    let mut z = z0;
    let mut t = tau0;
    while t < tau {
        // within 1e-8 of the attracting fixed point the linearised flow
        // z* + (z − z*)·e^{g′(z*)(τ − t)} is exact to O((z − z*)²) = O(1e-16)
        if (z - z_fixed).abs() <= 1e-8 * z_fixed.abs().max(1.0) {
            return z_fixed + (z - z_fixed) * (dg(z_fixed) * (tau - t)).exp();
        }
        let rate = dg(z).abs().max(g(z).abs() / z.abs().max(1.0));
        let h = if rate > 0.0 {
            (SAXE_SUBSTEP / rate).min(tau - t)
        } else {
            tau - t
        };
        let k1 = g(z);
        let k2 = g(z + 0.5 * h * k1);
        let k3 = g(z + 0.5 * h * k2);
        let k4 = g(z + h * k3);
        z += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        t = if tau - t <= h { tau } else { t + h };
    }
    z
}

/// The L = 2 closed form (eq. (14), corrected: the printed left-hand side `ū` is `ū²`,
/// catalog §2.6): `ū²(τ) = s e^{2sτ}/(e^{2sτ} − 1 + s/β²)`, written as
/// `s/(1 + (s/β² − 1)e^{−2sτ})` (no overflow for large `τ`).
pub fn saxe_u_squared_l2(s: f64, beta: f64, tau: f64) -> f64 {
    s / (1.0 + (s / (beta * beta) - 1.0) * (-2.0 * s * tau).exp())
}

/// `ū(τ)` of the Saxe trajectory (§5.3 eq. (12)–(14), App. D.2 eq. (95)):
/// `dū/dτ = ū^{L−1}(s − ū^L)`, `ū(0) = β`. `L = 2`: the closed form
/// [`saxe_u_squared_l2`]; otherwise RK4 on `ln ū` from 0 (see [`SAXE_SUBSTEP`]).
pub fn saxe_u(depth: usize, s: f64, beta: f64, tau: f64) -> f64 {
    if depth == 2 {
        saxe_u_squared_l2(s, beta, tau).sqrt()
    } else {
        saxe_log_rk4(depth, s, 0.0, beta.ln(), tau).exp()
    }
}

/// Digamma `ψ(x)` for real `x` that is not a non-positive integer: recurrence
/// `ψ(x) = ψ(x + 1) − 1/x` up to `x ≥ 20`, then the asymptotic series (error < 1e-17).
pub fn digamma(x: f64) -> f64 {
    let mut x = x;
    let mut acc = 0.0;
    while x < 20.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln()
        - 0.5 / x
        - x2 * (1.0 / 12.0
            - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 * (1.0 / 240.0 - x2 / 132.0))))
}

/// `₂F₁(1, b; b + 1; z)` for `0 ≤ z < 1` and non-integer `b` (the function of eqs. (96)–(97)
/// with `b = 2/L − 1`). For `z ≤ 1/2` the power series `b Σ_{k≥0} zᵏ/(b + k)`; for `z > 1/2`
/// the logarithmic expansion about `z = 1` (`c = a + b`, Abramowitz & Stegun 15.3.10):
/// `b Σ_{n≥0} ((b)_n/n!) [ψ(n + 1) − ψ(b + n) − ln(1 − z)] (1 − z)ⁿ`. NaN outside `[0, 1)`.
pub fn hyp2f1_1_b_b1(b: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) {
        return f64::NAN;
    }
    if z <= 0.5 {
        let mut sum = 0.0;
        let mut zk = 1.0;
        for k in 0..200u32 {
            sum += zk / (b + f64::from(k));
            zk *= z;
            if zk <= 1e-18 * sum.abs() {
                break;
            }
        }
        return b * sum;
    }
    let w = 1.0 - z;
    let lw = w.ln();
    let mut sum = 0.0;
    let mut coef = 1.0; // (b)_n / n!
    let mut wn = 1.0;
    let mut psi_n1 = digamma(1.0); // ψ(n + 1)
    let mut psi_bn = digamma(b); // ψ(b + n)
    for n in 0..200u32 {
        let nf = f64::from(n);
        let term = coef * (psi_n1 - psi_bn - lw) * wn;
        sum += term;
        if term.abs() <= 1e-18 * sum.abs() && n > 2 {
            break;
        }
        psi_n1 += 1.0 / (nf + 1.0);
        psi_bn += 1.0 / (b + nf);
        coef *= (b + nf) / (nf + 1.0);
        wn *= w;
    }
    b * sum
}

/// The learning time `t*_α(β)` of the Saxe trajectory, `ū^L(t*_α) = αs` (paper time):
/// `L = 2` (eq. (15)): `(1/(2s)) ln(α(s − β²)/((1 − α)β²))`;
/// `L ≥ 3` (eq. (97)): `[β^{2−L} ₂F₁(1, 2/L−1; 2/L; β^L/s) − (αs)^{2/L−1} ₂F₁(1, 2/L−1; 2/L; α)] / (s(L−2))`.
/// Needs `α ∈ [β^L/s, 1)`.
pub fn learning_time(depth: usize, s: f64, beta: f64, alpha: f64) -> f64 {
    let l = depth as f64;
    if depth == 2 {
        (alpha * (s - beta * beta) / ((1.0 - alpha) * beta * beta)).ln() / (2.0 * s)
    } else {
        let b = 2.0 / l - 1.0;
        (beta.powf(2.0 - l) * hyp2f1_1_b_b1(b, beta.powf(l) / s)
            - (alpha * s).powf(b) * hyp2f1_1_b_b1(b, alpha))
            / (s * (l - 2.0))
    }
}

/// The antiderivative `F(u)` of `1/(u^{L−1}(s − u^L))` (eq. (96)), `t(ū) = F(ū) − F(β)`:
/// `L = 2`: `F(u) = (1/(2s)) ln(u²/(s − u²))` (eq. (13)); `L ≥ 3`:
/// `F(u) = u^{2−L}₂F₁(1, 2/L−1; 2/L; u^L/s)/(s(2−L))`.
pub fn saxe_time_potential(depth: usize, s: f64, u: f64) -> f64 {
    let l = depth as f64;
    if depth == 2 {
        (u * u / (s - u * u)).ln() / (2.0 * s)
    } else {
        u.powf(2.0 - l) * hyp2f1_1_b_b1(2.0 / l - 1.0, u.powf(l) / s) / (s * (2.0 - l))
    }
}

/// Theorem 5.2's scalars (moved to [`crate::flow::nearly_linear`], where the twin integration
/// uses them).
pub use crate::flow::nearly_linear::BoundScalars;

// ---------------------------------------------------------------------------------------
// A0: invariants
// ---------------------------------------------------------------------------------------

/// Catalog A0.1 (energy identity of gradient flow, §2.3): `d𝓛/dt = −Σ_l ‖dW_l/dt‖_F²`, i.e.
/// `⟨∇L(θ), θ̇⟩ = −‖θ̇‖²` at every point, for the integrated field `θ̇` (any loss convention:
/// both sides scale as `(2κn)²`). Holds to round-off when `θ̇ = −∇L`; any other field
/// (a perturbed flow) breaks it. Budget: round-off at scale `(‖∇L‖ + G)‖θ̇‖ + ‖θ̇‖²`, `G` the
/// gradient's operand scale ([`super::gradient_operand_scale`]).
/// Parameter `trajectory = "twin"`: the linear twin's identity `⟨∇L⁰(θ⁰), θ̇⁰⟩ = −‖θ̇⁰‖²`
/// (catalog §5.1 item 1, both trajectories).
pub struct EnergyIdentity {
    twin: bool,
}

impl Claim for EnergyIdentity {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.a0.energy_identity",
            PAPER,
            "§2.3 gradient flow (catalog A0.1)",
            if self.twin {
                "linear twin: dL⁰/dt = ⟨∇L⁰(θ⁰), θ̇⁰⟩ = −Σ_l ‖dW⁰_l/dt‖_F²"
            } else {
                "energy identity dL/dt = ⟨∇L, θ̇⟩ = −Σ_l ‖dW_l/dt‖_F²"
            },
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        super::hyp::with_twin(s, Vec::new(), self.twin)
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let np = s.params();
        let mut g = vec![0.0; np];
        let y = trajectory(s, p.y, self.twin)?;
        if self.twin {
            gf.linear_gradient_scaled(&y[..np], 1.0, &mut g);
        } else {
            gf.gradient(&y[..np], &mut g);
        }
        let f = &trajectory(s, p.f, self.twin)?[..np];
        let dot: f64 = g.iter().zip(f).map(|(a, b)| a * b).sum();
        let ff: f64 = f.iter().map(|v| v * v).sum();
        let gg: f64 = g.iter().map(|v| v * v).sum();
        // ⟨g, θ̇⟩ and ‖θ̇‖² at the scale of their factors, and the gradient's own round-off
        // at its operands' scale (both sides vanish at a critical point)
        let gop = super::gradient_operand_scale(s, y);
        Some(Statement {
            lhs: dot,
            rhs: -ff,
            budget: Budget::RoundOff {
                scale: (gg.sqrt() + gop) * ff.sqrt() + ff,
            },
        })
    }
}

/// Catalog A0.2 (per-neuron balance; φ^ε is positively homogeneous, so it holds for every ε,
/// here ε = 0): for each hidden layer `l = 1..L−1` and unit `i`,
/// `C_{l,i} = ‖W_l[i,:]‖² − ‖W_{l+1}[:,i]‖²` is conserved: `max_{l,i} |C_{l,i}(t) − C_{l,i}(0)| = 0`.
/// (The diagonal of the matrix balance `W_lW_lᵀ − W_{l+1}ᵀW_{l+1}`; convention-free.)
/// Budget: the accumulated local error of the drift, at scale `max_l ‖W_l‖_F² + ‖W_{l+1}‖_F²`.
/// Parameter `trajectory = "twin"` checks the linear twin `θ⁰` of a leaky-ReLU run instead.
#[derive(Default)]
pub struct NeuronBalance {
    c0: Vec<Vec<f64>>,
    twin: bool,
}

/// `C_{l,i}` for `l = 1..L−1` (outer index `l − 1`).
pub fn neuron_balances(st: &Setting, y: &[f64]) -> Vec<Vec<f64>> {
    let ws = layers(st, y);
    (1..ws.len())
        .map(|l| {
            let (a, b) = (&ws[l - 1], &ws[l]);
            (0..a.nrows())
                .map(|i| a.row(i).norm_squared() - b.column(i).norm_squared())
                .collect()
        })
        .collect()
}

impl Claim for NeuronBalance {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.a0.neuron_balance_conserved",
            PAPER,
            "per-neuron balance (catalog A0.2)",
            "per-neuron balance C_{l,i} = ‖W_l[i,:]‖² − ‖W_{l+1}[:,i]‖² is conserved: \
                        max_{l,i} |C_{l,i}(t) − C_{l,i}(0)| = 0",
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        super::hyp::with_twin(s, vec![h_depth(s)], self.twin)
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if s.shape.depth() < 2 {
            return None;
        }
        if self.c0.is_empty() {
            self.c0 = neuron_balances(s, &s.theta0);
        }
        let y = trajectory(s, p.y, self.twin)?;
        let c = neuron_balances(s, y);
        let drift = c
            .iter()
            .flatten()
            .zip(self.c0.iter().flatten())
            .fold(0.0, |a: f64, (x, y)| a.max((x - y).abs()));
        let ws = layers(s, y);
        let scale = (1..ws.len())
            .map(|l| ws[l - 1].norm_squared() + ws[l].norm_squared())
            .fold(0.0, f64::max);
        Some(Statement {
            lhs: drift,
            rhs: 0.0,
            budget: Budget::Accumulated { scale },
        })
    }
}

/// §5.1 / catalog A0.4 (the whitening identities the proofs use). For whitened inputs
/// `X̃X̃ᵀ = mI_d` (row form `X̃ᵀX̃ = nI_d`) the proofs use three consequences: every singular
/// value of `X̃` is `√n` (`‖X̃‖ = √m`), `X̃⁺ = X̃ᵀ/n` (`‖X̃⁺‖ = 1/√m`), and
/// `‖WX̃ᵀ‖_F = √n‖W‖_F` for every `W` (here `W_1(T)`, "(1/√m)‖W_1X̃‖_F = ‖W_1‖_F").
///
/// §5.1 assumes whitened inputs and says nothing about other data: the whitening defect
/// `δ = ‖X̃ᵀX̃/n − I_d‖_F` is a hypothesis (`δ ≤` [`WHITENING_TOL`], as for every statement of
/// the paper that needs whitening), so unwhitened data are not applicable, never a violation.
/// Under it the identities hold up to `δ` in exact arithmetic (`G = X̃ᵀX̃/n = I + E`,
/// `‖E‖₂ ≤ δ`): `|σ_i²/n − 1| ≤ δ`, `|‖WX̃ᵀ‖_F²/(n‖W‖_F²) − 1| = |tr(WEWᵀ)|/‖W‖_F² ≤ δ`, and
/// `√n‖X̃⁺ − X̃ᵀ/n‖₂ = √n‖(G⁻¹ − I)X̃ᵀ/n‖₂ ≤ δ√(1 + δ)/(1 − δ)`. The statement (identity,
/// checked once at the end) is that no identity exceeds its bound:
/// `max(0, max_k (defect_k − bound_k)) = 0`. `X̃⁺ = R⁻¹Qᵀ` comes from a QR factorisation
/// (`X̃ = QR`, so `√n‖X̃⁺ − X̃ᵀ/n‖₂ = √n‖R⁻¹ − Rᵀ/n‖₂`), not from the Gram matrix, and the
/// singular values from `R`. Hypotheses: rank X = d, whitened inputs. Budget: round-off at
/// the operands' scale `n√d` (Gram and QR entries are length-`n` dot products), never at
/// the defects' own (zero) scale.
pub struct WhiteningIdentities;

/// The three whitening identities' defects, each minus the bound the whitening defect `δ`
/// implies for it (see [`WhiteningIdentities`]): `[singular values, pseudo-inverse,
/// ‖W_1X̃ᵀ‖_F]`. `None` when `X̃` has fewer rows than columns or `W_1 = 0`.
pub fn whitening_excess(st: &Setting, w1: &DMatrix<f64>) -> Option<[f64; 3]> {
    let (n, d) = st.data.x.shape();
    if n < d || d == 0 {
        return None;
    }
    let nf = n as f64;
    let delta = whitening_defect(st);
    let qr = st.data.x.clone().qr();
    let r = qr.r();
    let sv = crate::decompose::singular_values(&r.clone_owned()).ok()?;
    let sing = sv
        .iter()
        .fold(0.0, |a: f64, s| a.max((s * s / nf - 1.0).abs()));
    let rinv = r.clone().try_inverse()?;
    let pinv = nf.sqrt() * spectral_norm(&(rinv - r.transpose() / nf));
    let pinv_bound = delta * (1.0 + delta).sqrt() / (1.0 - delta).max(f64::MIN_POSITIVE);
    let wn = w1.norm_squared();
    let frob = if wn > 0.0 {
        ((w1 * st.data.x.transpose()).norm_squared() / (nf * wn) - 1.0).abs()
    } else {
        0.0
    };
    Some([sing - delta, pinv - pinv_bound, frob - delta])
}

impl Claim for WhiteningIdentities {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.sec5_1.whitening_identities",
            PAPER,
            "§5.1 whitened data (catalog A0.4)",
            "whitened inputs (‖X̃ᵀX̃/n − I_d‖_F = δ ≤ tol): σ_i(X̃)² = n, X̃⁺ = X̃ᵀ/n and \
             ‖W_1X̃ᵀ‖_F = √n‖W_1‖_F, each up to its bound in δ (paper: X̃X̃ᵀ = mI_d, ‖X̃‖ = √m, \
             X̃⁺ = X̃ᵀ/m, (1/√m)‖W_1X̃‖_F = ‖W_1‖_F)",
        )
        .at_end()
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![h_full_rank(s), h_whitened(s)]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let n = s.data.n() as f64;
        let d = s.data.d() as f64;
        let excess = whitening_excess(s, &s.layer(p.y, 1))?;
        Some(Statement {
            lhs: excess.iter().fold(0.0, |a: f64, e| a.max(*e)),
            rhs: 0.0,
            budget: Budget::RoundOff {
                scale: n * d.sqrt(),
            },
        })
    }
}

/// §5.3: `s = ‖YX̃⁺‖ ≤ ‖Y‖‖X̃⁺‖ = √m·(1/√m) = 1` for labels `y = ±1` (with the catalog's
/// reconstructed `s = (1/m)‖YXᵀΣ_X^{-1/2}‖ = ‖PY‖/√n`; equality iff `Y` lies in the column space
/// of `X`, e.g. when `m = d`). The printed variant uses Theorem 5.2's definition
/// `s = ‖YXᵀΣ_X^{-1/2}‖`, which is `n·s` and exceeds 1 as soon as `s > 1/n`.
/// Hypotheses: `y ∈ {±1}`, `q = 1`, rank X = d. Evaluated once (at the end); budget: round-off
/// at scale 1. Parameter (corrected claim): `bound` (default 1; a smaller value is a
/// deliberately false variant).
pub struct SLeOne {
    printed: bool,
    bound: f64,
}

impl Claim for SLeOne {
    fn info(&self) -> ClaimInfo {
        let (id, result, statement, err) = if self.printed {
            (
                "gol24.thm5_2.printed_s_le_one",
                "Theorem 5.2 (definition of s) with §5.3 (s ≤ 1)",
                "(as printed) s = ‖YXᵀΣ_X^{-1/2}‖ ≤ 1",
                Some(
                    "Theorem 5.2 defines s = ‖YXᵀΣ_X^{-1/2}‖ without the factor 1/m; §5.3, the \
                     proof of Lemma 7.4 (YX̃ᵀ = ms) and s ≤ 1 need s = (1/m)‖YXᵀΣ_X^{-1/2}‖ \
                     (catalog 001 §2.2, §6 item 1)",
                ),
            )
        } else {
            (
                "gol24.sec5_3.s_le_one",
                "§5.3 (s ≤ 1)",
                "s = ‖YX̃⁺‖ = (1/m)‖YXᵀΣ_X^{-1/2}‖ ≤ 1",
                None,
            )
        };
        let statement = if self.bound == 1.0 {
            statement.to_string()
        } else {
            format!("{} (bound {} instead of 1)", statement, self.bound)
        };
        ClaimInfo::new(id, PAPER, result, statement)
            .at_end()
            .printed(err)
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![h_sign_labels(s), h_scalar_output(s), h_full_rank(s)]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, _: &Point<'_>) -> Option<Statement> {
        let sv = data_scalar(s);
        let lhs = if self.printed {
            s.data.n() as f64 * sv
        } else {
            sv
        };
        Some(Statement {
            lhs,
            rhs: self.bound,
            budget: Budget::RoundOff { scale: 1.0 },
        })
    }
}

// ---------------------------------------------------------------------------------------
// The Saxe trajectory and the learning time
// ---------------------------------------------------------------------------------------

/// The aligned balanced rank-one initialisation of §2.5 (footnote 4), as hypotheses on
/// `θ(0)`: every `W_l(0)` rank one with `‖W_l(0)‖₂ = β`, balanced (`D_k(0) = 0`), and
/// `W_L(0)⋯W_1(0) = β^L c*/s`. Returns the hypotheses (whitened data, `q = 1`, `L ≥ 2`,
/// the init) and `β = ‖W_1(0)‖₂`.
fn saxe_hypotheses(st: &Setting) -> (Vec<Hypothesis>, f64) {
    let mut hs = vec![h_whitened(st), h_scalar_output(st), h_depth(st)];
    let ws = layers(st, &st.theta0);
    let beta = spectral_norm(&ws[0]);
    let mut defect: f64 = if beta > 0.0 { 0.0 } else { f64::INFINITY };
    if beta > 0.0 {
        for w in &ws {
            let n2 = spectral_norm(w);
            defect = defect.max((w.norm() - n2).abs() / beta); // rank one
            defect = defect.max((n2 - beta).abs() / beta); // equal norms
        }
        for k in 1..ws.len() {
            let dk = ws[k].transpose() * &ws[k] - &ws[k - 1] * ws[k - 1].transpose();
            defect = defect.max(dk.norm() / (beta * beta)); // balanced
        }
        let c = &st.theta_l2;
        let cn = c.norm();
        let bl = beta.powi(ws.len() as i32);
        if cn > 0.0 && st.theta_e2e0.shape() == c.shape() {
            defect = defect.max((&st.theta_e2e0 - c * (bl / cn)).norm() / bl); // aligned
        } else {
            defect = f64::INFINITY;
        }
    }
    hs.push(Hypothesis::new(
        "aligned balanced rank-one init (§2.5, fn. 4): W_l(0) = β r_l r_{l−1}ᵀ, \
         W_L(0)⋯W_1(0) = β^L c*/s (max relative defect)",
        defect,
        Relation::Le,
        ALIGNED_TOL,
    ));
    hs.push(Hypothesis::new("β > 0", beta, Relation::Gt, 0.0));
    (hs, beta)
}

/// `β = ‖W_1(0)‖₂` of the aligned initialisation where the Saxe trajectory is defined
/// (`q = 1`, `L ≥ 2`), `None` elsewhere.
fn saxe_beta(st: &Setting) -> Option<f64> {
    if st.shape.output() != 1 || st.shape.depth() < 2 {
        return None;
    }
    Some(spectral_norm(&st.layer(&st.theta0, 1)))
}

/// Which `ū(τ)` a [`SaxeNorms`] claim compares with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaxeVariant {
    /// The reconstructed statement: `s` with the `1/m`, eq. (14) for `ū²`.
    Corrected,
    /// Theorem 5.2's printed `s = ‖YXᵀΣ_X^{-1/2}‖ = n·s` in the Saxe ODE.
    PrintedS,
    /// Eq. (14) as printed: `ū(τ) = s e^{2sτ}/(e^{2sτ} − 1 + s/β²)` (that is `ū²`), `L = 2`.
    PrintedEq14,
}

/// §5.3 eqs. (12)–(14) (L = 2) and App. D.2 eq. (95) (L ≥ 3), from Saxe et al. (2013): with
/// whitened data, ε = 0 and the aligned balanced rank-one init of §2.5, the rank-one form is
/// invariant and `‖W_l⁰(t)‖ = ū(λt)` for every layer, where `dū/dτ = ū^{L−1}(s − ū^L)`,
/// `ū(0) = β`; for `L = 2`, `ū²(τ) = s e^{2sτ}/(e^{2sτ} − 1 + s/β²)` (eq. (14) with the
/// catalog's correction ū → ū²). In the run's convention `τ = λt`, `λ = 2κn`.
/// Statement (identity): `max_l |‖W_l(t)‖₂ − ū(λt)| = 0`.
///
/// Variants: [`SaxeVariant::PrintedS`] (`gol24.thm5_2.printed_s_saxe_norms`) integrates the
/// ODE with Theorem 5.2's printed `s` (`= n·s`); [`SaxeVariant::PrintedEq14`]
/// (`gol24.eq14.printed_saxe_closed_form`) uses eq. (14)'s printed left-hand side `ū`.
/// Both are violated on the aligned init, except in the degenerate cases `m = 1` (printed `s`
/// equals `s`) and the fixed point `β = s = 1` (`ū ≡ 1 = ū²`).
///
/// Budget: accumulated. `‖W_l(t)‖₂ − ū(λt)` is a time-dependent invariant of the exact flow
/// (zero for all t), so its computed value drifts by the local errors of the integrated
/// weights, step by step, like a conserved quantity; `ū` itself is computed to ~1e-13 by the
/// closed form or by RK4 on `ln ū` with substeps ≤ [`SAXE_SUBSTEP`]. For `L ≥ 3` the claim
/// keeps `(τ, ln ū)` at the last accepted step and integrates from there.
pub struct SaxeNorms {
    variant: SaxeVariant,
    cache: Option<(f64, f64)>,
    twin: bool,
}

impl SaxeNorms {
    /// The claim for a variant.
    pub fn new(variant: SaxeVariant) -> Self {
        Self {
            variant,
            cache: None,
            twin: false,
        }
    }

    /// The same claim on the linear twin `θ⁰` of a leaky-ReLU run (`trajectory = "twin"`):
    /// the integrated linear network of the joint system against the closed form.
    pub fn on_twin(mut self) -> Self {
        self.twin = true;
        self
    }

    fn s_used(&self, st: &Setting) -> f64 {
        match self.variant {
            SaxeVariant::PrintedS => st.data.n() as f64 * data_scalar(st),
            _ => data_scalar(st),
        }
    }

    /// `ū` at paper time `tau` for this variant.
    fn u_bar(&self, st: &Setting, beta: f64, tau: f64) -> f64 {
        let s = self.s_used(st);
        let depth = st.shape.depth();
        match self.variant {
            SaxeVariant::PrintedEq14 => saxe_u_squared_l2(s, beta, tau),
            _ if depth == 2 => saxe_u_squared_l2(s, beta, tau).sqrt(),
            _ => {
                let (t0, z0) = match self.cache {
                    Some((t0, z0)) if t0 <= tau => (t0, z0),
                    _ => (0.0, beta.ln()),
                };
                saxe_log_rk4(depth, s, t0, z0, tau).exp()
            }
        }
    }
}

impl Claim for SaxeNorms {
    fn info(&self) -> ClaimInfo {
        let (id, result, statement, err) = match self.variant {
            SaxeVariant::Corrected => (
                "gol24.sec5_3.saxe_norms",
                "§5.3 eqs. (12)–(14), App. D.2 eq. (95) (Saxe et al. 2013)",
                "aligned init, ε = 0: ‖W_l(t)‖₂ = ū(λt) for all l, dū/dτ = ū^{L−1}(s − ū^L), \
                 ū(0) = β (L = 2: ū² = s e^{2sτ}/(e^{2sτ} − 1 + s/β²)), λ = 2κn",
                None,
            ),
            SaxeVariant::PrintedS => (
                "gol24.thm5_2.printed_s_saxe_norms",
                "§5.3 eq. (12)/App. D.2 eq. (95) with Theorem 5.2's printed s",
                "(as printed) ‖W_l(t)‖₂ = ū(λt) with dū/dτ = ū^{L−1}(s_p − ū^L), \
                 s_p = ‖YXᵀΣ_X^{-1/2}‖",
                Some(
                    "Theorem 5.2 prints s = ‖YXᵀΣ_X^{-1/2}‖, which is m times the s of §5.3 \
                     (s = ‖YX̃⁺‖); the flow of eq. (4) has the 1/m (catalog 001 §6 item 1)",
                ),
            ),
            SaxeVariant::PrintedEq14 => (
                "gol24.eq14.printed_saxe_closed_form",
                "§5.3 eq. (14) as printed",
                "(as printed) L = 2: ‖W_l(t)‖₂ = s e^{2sτ}/(e^{2sτ} − 1 + s/β²), τ = λt",
                Some(
                    "eq. (14) solves eq. (13) for ū² (the right-hand side is β² at τ = 0), not ū \
                     (catalog 001 §2.6, §6 item 5)",
                ),
            ),
        };
        ClaimInfo::new(id, PAPER, result, statement)
            .identity()
            .printed(err)
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let (mut hs, _) = saxe_hypotheses(s);
        if self.twin {
            hs.push(super::hyp::twin(s));
        } else {
            hs.push(Hypothesis::new(
                "linear network ε = 0 (the closed form is the linear flow's)",
                s.eps,
                Relation::Le,
                0.0,
            ));
        }
        if self.variant == SaxeVariant::PrintedEq14 {
            hs.push(super::hyp::depth_at_most(s, 2, "depth L = 2 (eq. (14))"));
        }
        hs
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let beta = saxe_beta(s)?;
        let ub = self.u_bar(s, beta, time_factor(s) * p.t);
        let ws = layers(s, trajectory(s, p.y, self.twin)?);
        let dev = ws
            .iter()
            .map(|w| (spectral_norm(w) - ub).abs())
            .fold(0.0, f64::max);
        // operands: the norms and ū (eq. (14) as printed compares ‖W‖ ≈ β with ū² ≈ β²)
        let norms = ws.iter().map(|w| w.norm()).fold(0.0, f64::max);
        Some(Statement {
            lhs: dev,
            rhs: 0.0,
            budget: Budget::Accumulated { scale: norms + ub },
        })
    }
    fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
        if s.shape.depth() < 3 || self.variant == SaxeVariant::PrintedEq14 {
            return;
        }
        if let Some(beta) = saxe_beta(s) {
            let tau = time_factor(s) * p.t;
            let ub = self.u_bar(s, beta, tau);
            self.cache = Some((tau, ub.ln()));
        }
    }
}

/// §5.3 eq. (15) (L = 2) and App. D.2 eq. (97) (L ≥ 3): on the Saxe trajectory a fraction
/// `α` of the mode, `ū^L = αs`, is learnt at `t*_α(β)`:
/// `L = 2`: `t*_α = (1/(2s)) ln(α(s − β²)/((1 − α)β²))`;
/// `L ≥ 3`: `t*_α = [β^{2−L}₂F₁(1, 2/L−1; 2/L; β^L/s) − (αs)^{2/L−1}₂F₁(1, 2/L−1; 2/L; α)]/(s(L−2))`.
/// Checked along the run with `α(t) = ‖Θ(t)‖/s = ‖W_L⋯W_1‖/s` (`= ū^L/s` on the aligned
/// trajectory): the identity `t*_{α(t)}(β)/λ = t` (`λ = 2κn`). Hypotheses: those of
/// [`SaxeNorms`] and `β^L < s` (so that `α ∈ (β^L/s, 1)` along the flow). Evaluated while
/// `α(t) ≤ alpha_max` (parameter, default 0.99): as `α → 1`, `dt*/dα = ū^{2−L}/(Lsα(1 − α))`
/// diverges and the integrated `α` is dominated by the integration error of `Θ` near `c*`, so
/// the identity carries no information there (§5.3 uses `t*_α` at small `α ∝ β^λ`).
/// Budget: accumulated (`t*_{α(t)}/λ − t` is a time-dependent invariant of the exact flow, as
/// for [`SaxeNorms`]), with the round-off part at the scale of the terms of `t*`,
/// `(|F(ū)| + |F(β)| + α dt*/dα)/λ`, `α dt*/dα = ū^{2−L}/(Ls(1 − α))` (see
/// [`saxe_time_potential`]).
pub struct LearningTime {
    alpha_max: f64,
}

impl LearningTime {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new("gol24.eq15.learning_time", p, &["alpha_max"])?;
        let alpha_max = pr.f64("alpha_max", 0.99)?;
        if !(alpha_max > 0.0 && alpha_max < 1.0) {
            return Err(GradflowError::Config(format!(
                "claim gol24.eq15.learning_time: alpha_max = {alpha_max}: need 0 < α_max < 1"
            )));
        }
        Ok(Box::new(Self { alpha_max }))
    }
}

impl Claim for LearningTime {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.eq15.learning_time",
            PAPER,
            "§5.3 eq. (15), App. D.2 eq. (97)",
            format!(
                "aligned init, ε = 0: t*_{{α(t)}}(β)/λ = t while α(t) = ‖W_L⋯W_1(t)‖/s ≤ {}, \
                 t*_α = (1/2s) ln(α(s−β²)/((1−α)β²)) (L = 2), eq. (97) (L ≥ 3)",
                self.alpha_max
            ),
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let (mut hs, beta) = saxe_hypotheses(s);
        hs.push(Hypothesis::new(
            "β^L < s (α ∈ (β^L/s, 1) along the flow)",
            beta.powi(s.shape.depth() as i32),
            Relation::Lt,
            data_scalar(s),
        ));
        hs
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let beta = saxe_beta(s)?;
        let sv = data_scalar(s);
        let alpha = s.theta(p.y).norm() / sv;
        if alpha > self.alpha_max {
            return None;
        }
        let depth = s.shape.depth();
        let lam = time_factor(s);
        let t_star = learning_time(depth, sv, beta, alpha) / lam;
        let l = depth as f64;
        let ub = (alpha * sv).powf(1.0 / l);
        let scale = (saxe_time_potential(depth, sv, ub).abs()
            + saxe_time_potential(depth, sv, beta).abs()
            + ub.powf(2.0 - l) / (l * sv * (1.0 - alpha)).abs())
            / lam;
        Some(Statement {
            lhs: t_star,
            rhs: p.t,
            budget: Budget::Accumulated { scale },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Lemma 7.2's structure: the linear twin sees the data only through c*
// ---------------------------------------------------------------------------------------

/// Lemma 7.2 (basis; catalog §2.3 and L7.2): for whitened data the linear network's flow
/// depends on `(X, Y)` only through `c* = YX̃ᵀ/m`:
/// `dW_l/dt = (W_L⋯W_{l+1})ᵀ(c* − W_L⋯W_1)(W_{l−1}⋯W_1)ᵀ` (paper time), i.e. in the run's
/// convention `θ̇_l = 2κn S_{l+1}ᵀ(c* − M)P_{l−1}ᵀ` (`M = W_L⋯W_1 = Θᵀ`). Statement (identity):
/// `‖θ̇ − θ̇_{c*}‖ = 0` for the integrated field `θ̇`. Hypothesis: whitened data. A perturbed
/// flow violates it. Budget: round-off at the scale of the computed products,
/// `2κ Σ_l ‖S_{l+1}‖_F‖P_{l−1}‖_F (‖R‖_F‖X̃‖_F + n‖Θ‖ + n‖c*‖) + ‖θ̇‖`.
pub struct RhsViaCStar;

impl Claim for RhsViaCStar {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.lemma7_2.rhs_via_c_star",
            PAPER,
            "Lemma 7.2 (the linear twin depends on the data only through c*)",
            "whitened data, ε = 0: dW_l/dt = 2κn (W_L⋯W_{l+1})ᵀ(c* − W_L⋯W_1)\
                        (W_{l−1}⋯W_1)ᵀ for every l",
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![h_whitened(s)]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let np = s.params();
        let ws = layers(s, p.y);
        let pre = prefixes(&ws, s.shape.input());
        let suf = suffixes(&ws, s.shape.output());
        let lam = time_factor(s);
        let m = &pre[ws.len()];
        let e = s.theta_l2.transpose() - m; // c* − M (q×d)
        let mut red = Vec::with_capacity(np);
        let mut prod_scale = 0.0;
        for l in 1..=ws.len() {
            let g = suf[l].transpose() * &e * pre[l - 1].transpose() * lam;
            red.extend_from_slice(g.as_slice());
            prod_scale += suf[l].norm() * pre[l - 1].norm();
        }
        let f = &p.f[..np];
        let diff = f
            .iter()
            .zip(&red)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let fnorm = f.iter().map(|v| v * v).sum::<f64>().sqrt();
        let n = s.data.n() as f64;
        let theta = m.norm();
        let resid = (&s.data.x * m.transpose() - &s.data.y).norm();
        let scale = 2.0
            * s.kappa
            * prod_scale
            * (resid * s.data.x.norm() + n * theta + n * s.theta_l2.norm())
            + fnorm;
        Some(Statement {
            lhs: diff,
            rhs: 0.0,
            budget: Budget::RoundOff { scale },
        })
    }
}

/// Lemma 7.2 / §5.3 (derived, catalog §2.2): for whitened data and labels `±1` the loss is a
/// function of `Θ` and `c*` only, `𝓛 = (1 − s²)/2 + ½‖W_L⋯W_1 − c*‖²`; in the run's convention
/// `L(θ) = κn[(1 − s²) + ‖Θ − c*ᵀ‖²]`. Statement (identity) with parameter `factor` (default 1)
/// multiplying `‖Θ − c*ᵀ‖²`: `factor ≠ 1` is a deliberately false variant. Budget: round-off at
/// scale `κn(1 + √d‖Θ‖ + ‖Θ − c*ᵀ‖² + ‖R‖²/n)`.
pub struct LossViaCStar {
    factor: f64,
}

impl LossViaCStar {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        Ok(Box::new(Self {
            factor: only_factor("gol24.lemma7_2.loss_via_c_star", p)?,
        }))
    }
}

impl Claim for LossViaCStar {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.lemma7_2.loss_via_c_star",
            PAPER,
            "Lemma 7.2 / §5.3 (loss through c*, derived)",
            format!(
                "whitened data, y = ±1: L(θ) = κn[(1 − s²) + {}·‖Θ − c*ᵀ‖²]",
                self.factor
            ),
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![h_whitened(s), h_sign_labels(s)]
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let np = s.params();
        let loss = gf.loss(&p.y[..np]);
        let theta = s.theta(p.y);
        let gap = (&theta - &s.theta_l2).norm_squared();
        let n = s.data.n() as f64;
        let sv = data_scalar(s);
        let kn = s.kappa * n;
        let rhs = kn * ((1.0 - sv * sv) + self.factor * gap);
        let d = s.data.d() as f64;
        let scale = kn * (1.0 + d.sqrt() * theta.norm() + gap) + loss;
        Some(Statement {
            lhs: loss,
            rhs,
            budget: Budget::RoundOff { scale },
        })
    }
}

/// §5.3 / §2.6 (and catalog §5.2 item 3): the linear twin converges to `c*` and its train
/// loss to the optimal linear loss `𝓛 → (1 − s²)/2`; in the run's convention
/// `L(θ(T)) = κn(1 − s²)` at the end of a run long enough for the gap `κn‖Θ − c*ᵀ‖²` to reach
/// round-off. Identity checked once at the end; hypotheses: whitened data, `y = ±1`, `q = 1`,
/// and at the end that the run has converged: `|dL/dt|` small, a minimum (not a saddle
/// plateau), and the gap `L(T) − κn(1 − s²) ≤ |dL/dt|/(4κn‖W_L⋯W_2‖²)` below round-off (a
/// smaller `|dL/dt|` threshold alone admitted gaps of 4e-13 against a round-off budget of
/// 3e-13).
/// Budget: round-off at scale `κn(1 + √d‖Θ‖)` (at a stable minimum the integration error
/// contracts; the checker keeps no local errors for end-of-run claims).
/// `factor` multiplies the limit `κn(1 − s²)` (a deliberately false variant when `≠ 1`).
pub struct LimitTrainLoss {
    factor: f64,
}

impl LimitTrainLoss {
    /// Round-off scale of the statement, `κn(1 + √d‖Θ‖)`.
    fn roundoff_scale(&self, s: &Setting, y: &[f64]) -> f64 {
        let kn = s.kappa * s.data.n() as f64;
        kn * (1.0 + (s.data.d() as f64).sqrt() * s.theta(y).norm())
    }
}

/// Relative rate `|dL/dt(T)|/max(L(0), κn)` below which a run's loss counts as converged
/// for [`LimitTrainLoss`].
pub const LIMIT_RATE_TOL: f64 = 1e-10;

impl Claim for LimitTrainLoss {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.sec5_3.limit_train_loss",
            PAPER,
            "§5.3 / App. B (limit of the linear twin's train loss)",
            format!(
                "ε = 0, whitened data, y = ±1: L(θ(T)) = {}·κn(1 − s²) (paper: 𝓛 → (1 − s²)/2)",
                self.factor
            ),
        )
        .at_end()
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![h_whitened(s), h_sign_labels(s), h_scalar_output(s)]
    }
    /// The statement is about the limit: the loss must have stopped moving,
    /// `|dL/dt(T)| = |⟨∇L(θ(T)), θ̇(T)⟩| ≤ LIMIT_RATE_TOL·max(L(0), κn)` along the run's own
    /// field (where it converged is the claim's content: a perturbed flow whose loss settles
    /// elsewhere violates it; the weights themselves may still drift along a level set), and
    /// at a minimum, not on a saddle plateau ([`super::second_order_hypothesis`]: from a
    /// small init a deep network rests near `Θ = 0` with `|dL/dt| ≈ 0` and `L = κn`).
    fn final_hypotheses(
        &self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        let np = s.params();
        let g = super::gradient_at(s, gf, p.y);
        let rate: f64 = g.iter().zip(&p.f[..np]).map(|(a, b)| a * b).sum();
        let scale = gf.loss(&s.theta0).max(s.kappa * s.data.n() as f64);
        // L − κn(1 − s²) = κn‖Θ − c*ᵀ‖² ≤ |dL/dt|/(4κn‖W_L⋯W_2‖²) (whitened, q = 1: the
        // first layer's gradient alone is ‖W_L⋯W_2‖·2κn‖Θ − c*ᵀ‖): the identity is checked
        // to round-off, so the gap left must be below its round-off floor
        let ws = layers(s, p.y);
        let s2 = suffixes(&ws, s.shape.output())[1].norm_squared();
        let kn = s.kappa * s.data.n() as f64;
        let gap = if s2 > 0.0 {
            rate.abs() / (4.0 * kn * s2)
        } else {
            f64::INFINITY
        };
        let floor = crate::claim::budget::C_ROUNDOFF * f64::EPSILON * self.roundoff_scale(s, p.y);
        vec![
            Hypothesis::new(
                "the loss has converged: |dL/dt(T)|/max(L(0), κn)",
                rate.abs() / scale,
                Relation::Le,
                LIMIT_RATE_TOL,
            ),
            super::second_order_hypothesis(gf, p.y, "the loss has converged"),
            Hypothesis::new(
                "the gap left is below round-off: |dL/dt(T)|/(4κn‖W_L⋯W_2‖²) ≥ \
                 L(T) − κn(1 − s²), against 64ε·κn(1 + √d‖Θ‖)",
                gap,
                Relation::Le,
                floor,
            ),
        ]
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let np = s.params();
        let loss = gf.loss(&p.y[..np]);
        let sv = data_scalar(s);
        let kn = s.kappa * s.data.n() as f64;
        Some(Statement {
            lhs: loss,
            rhs: self.factor * kn * (1.0 - sv * sv),
            budget: Budget::RoundOff {
                scale: self.roundoff_scale(s, p.y),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Assumption 5.1 and Conjecture E.1 (proven for ε = 0)
// ---------------------------------------------------------------------------------------

/// `𝓛_X(θ) = (1/2m)‖(Y − f(X̃))X̃ᵀ‖²`, row form `(1/2n)‖X̃ᵀ(X̃Θ − Y)‖²` (Fig. 7's normalisation;
/// convention-free), and its gradient in `M = Θᵀ`: `(1/n)(X̃ᵀX̃ X̃ᵀ(X̃Θ − Y))ᵀ`.
fn lx_and_grad(st: &Setting, y: &[f64]) -> (f64, DMatrix<f64>) {
    lx_and_grad_of(st, st.outputs(y))
}

/// [`lx_and_grad`] of the linear network `X̃Θ` at `y` whatever the activation (the linear
/// twin's `𝓛_X`).
fn lx_and_grad_linear(st: &Setting, y: &[f64]) -> (f64, DMatrix<f64>) {
    lx_and_grad_of(st, &st.data.x * st.theta(y))
}

fn lx_and_grad_of(st: &Setting, outputs: DMatrix<f64>) -> (f64, DMatrix<f64>) {
    let n = st.data.n() as f64;
    let x = &st.data.x;
    let r = outputs - &st.data.y;
    let g = x.transpose() * r; // d×q
    let lx = g.norm_squared() / (2.0 * n);
    let grad = (x.transpose() * (x * &g) / n).transpose(); // q×d
    (lx, grad)
}

/// `𝓛_X` (see `lx_and_grad`); for `ε > 0` with the leaky network's outputs `f^ε(X̃)`.
pub fn lx(st: &Setting, y: &[f64]) -> f64 {
    lx_and_grad(st, y).0
}

/// `d𝓛_X/dt = (1/n)⟨X̃ᵀR, X̃ᵀḞ⟩` along the integrated field `θ̇ = f` for the leaky network
/// (`Ḟ = J_F θ̇` at the current activation pattern), with its scale `‖X̃ᵀR‖‖X̃ᵀḞ‖/n`.
fn lx_rate_leaky(st: &Setting, y: &[f64], f: &[f64]) -> (f64, f64) {
    let n = st.data.n() as f64;
    let p = st.params();
    let x = &st.data.x;
    let r = st.outputs(y) - &st.data.y;
    let fdot = crate::flow::leaky::output_jvp(&st.shape, st.eps, &y[..p], &f[..p], x);
    let op = x.norm() * (st.outputs(y).norm() + st.data.y.norm());
    let (a, b) = (x.transpose() * r, x.transpose() * fdot);
    (a.dot(&b) / n, (a.norm() + op) * b.norm() / n)
}

/// The hypotheses of Assumption 5.1 and Conjecture E.1 at `ε = 0` (App. E): whitened data,
/// `q = 1`, and the twin state when the statement reads the linear twin.
fn lx_hypotheses(st: &Setting, twin: bool) -> Vec<Hypothesis> {
    super::hyp::with_twin(st, vec![h_whitened(st), h_scalar_output(st)], twin)
}

/// `n` as a float.
fn n_of(st: &Setting) -> f64 {
    st.data.n() as f64
}

/// The operand scale of `∂𝓛_X/∂M = (X̃ᵀX̃X̃ᵀ(F − Y))ᵀ/n` for outputs `F`:
/// `‖X̃‖_F³(‖F‖ + ‖Y‖)/n` (the gradient itself vanishes at `c*`).
fn lx_grad_operands(st: &Setting, outputs: &DMatrix<f64>) -> f64 {
    let xf = st.data.x.norm();
    xf * xf * xf * (outputs.norm() + st.data.y.norm()) / n_of(st)
}

/// Running maximum of `𝓛_X(t)/𝓛_X(0)` along the trained trajectory (Assumption 5.1), for
/// the `ε > 0` statements that rest on it.
#[derive(Default)]
pub(crate) struct LxTracker {
    lx0: Option<f64>,
    ratio_max: f64,
}

impl LxTracker {
    /// Takes the state `y` of an accepted step into the running maximum.
    pub(crate) fn advance(&mut self, s: &Setting, y: &[f64]) {
        let lx0 = *self.lx0.get_or_insert_with(|| lx(s, &s.theta0));
        self.ratio_max = self.ratio_max.max(lx(s, y) / lx0);
    }
    /// Assumption 5.1 along the run ([`h_assumption5_1`]) as a final hypothesis when the
    /// statement `needs` it, none otherwise.
    pub(crate) fn final_hypotheses(&self, needs: bool) -> Vec<Hypothesis> {
        if needs {
            vec![h_assumption5_1(self.ratio_max)]
        } else {
            Vec::new()
        }
    }
}

/// Final hypothesis of the `ε > 0` statements that need Assumption 5.1: the running maximum
/// of `𝓛_X(t)/𝓛_X(0)` along the run was `≤ 1` (catalog A5.1: the assumption can fail for
/// whitened nonlinear nets, and the statement is then not applicable, never violated).
pub fn h_assumption5_1(ratio_max: f64) -> Hypothesis {
    Hypothesis::new(
        "Assumption 5.1 along the run: max_t 𝓛_X(t)/𝓛_X(0)",
        ratio_max,
        Relation::Le,
        1.0,
    )
}

/// Assumption 5.1 (proven for ε = 0 in App. E): `‖(Y − f(X̃(t)))X̃ᵀ‖_F² ≤ ‖(Y − f(X̃(0)))X̃ᵀ‖_F²`,
/// i.e. `𝓛_X(t) ≤ 𝓛_X(0)` with `𝓛_X = (1/2n)‖X̃ᵀ(X̃Θ − Y)‖²` (convention-free; for whitened data
/// `𝓛_X = (n/2)‖Θ − c*ᵀ‖²`). At `t = 0` the statement is an equality and is not evaluated.
/// Hypotheses: whitened data, `q = 1` (the App. E proof). Budget: propagated. On a leaky
/// run the statement is evaluated for `θ^ε` (catalog §5.1 item 3: report-only there, it can
/// fail — catalog §5.3 scenario 1); `trajectory = "twin"` evaluates it for the linear twin
/// `θ⁰`, where App. E proves it.
pub struct LxBelowInitial {
    lx0: Option<f64>,
    twin: bool,
}

/// `𝓛_X` at weights `theta`: of the run's network, or (`linear`) of the linear network
/// with these weights (the twin's).
fn lx_of(st: &Setting, theta: &[f64], linear: bool) -> f64 {
    if linear {
        lx_and_grad_linear(st, theta).0
    } else {
        lx(st, theta)
    }
}

impl Claim for LxBelowInitial {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.assumption5_1.lx_below_initial",
            PAPER,
            "Assumption 5.1 (proven for ε = 0, App. E)",
            if self.twin {
                "linear twin θ⁰, whitened data: 𝓛_X(t) ≤ 𝓛_X(0), 𝓛_X = (1/2n)‖X̃ᵀ(X̃Θ⁰ − Y)‖²"
            } else {
                "ε = 0, whitened data: 𝓛_X(t) ≤ 𝓛_X(0), 𝓛_X = (1/2n)‖X̃ᵀ(X̃Θ − Y)‖²"
            },
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        lx_hypotheses(s, self.twin)
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let lx0 = *self
            .lx0
            .get_or_insert_with(|| lx_of(s, &s.theta0, self.twin));
        if p.step == 0 {
            return None;
        }
        let theta = trajectory(s, p.y, self.twin)?;
        // 𝓛_X = ‖X̃ᵀ(f − Y)‖²/2n: round-off at the scale of the residual's operands
        let out = if self.twin {
            &s.data.x * s.theta(theta)
        } else {
            s.outputs(theta)
        };
        let operands = (s.data.x.norm() * (out.norm() + s.data.y.norm())).powi(2) / (2.0 * n_of(s));
        Some(Statement {
            lhs: lx_of(s, theta, self.twin),
            rhs: lx0,
            budget: Budget::Propagated {
                scale: lx0.max(operands),
            },
        })
    }
}

/// Conjecture E.1 (proven for ε = 0 in App. E, eqs. (104)–(108)):
/// `Σ_l tr[∇_l^X ∇_lᵀ] ≥ 0`, equivalently `d𝓛_X/dt ≤ 0` along gradient flow. Encoded on the
/// integrated field: `d𝓛_X/dt = ⟨∂𝓛_X/∂M, Ṁ⟩ ≤ 0` with `Ṁ = Σ_l S_{l+1}Ẇ_lP_{l−1}`
/// (convention-free sign). A gradient-ascent flow violates it. Hypotheses: whitened data,
/// `q = 1`. Budget: propagated, scale `‖∂𝓛_X/∂M‖‖Ṁ‖`. Parameter `trajectory = "twin"`: the
/// linear twin's `d𝓛_X/dt` (proven there; catalog §5.1 item 3).
pub struct LxNonIncreasing {
    twin: bool,
}

impl Claim for LxNonIncreasing {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.conj_e1.lx_nonincreasing",
            PAPER,
            "Conjecture E.1 (proven for ε = 0, App. E)",
            if self.twin {
                "linear twin θ⁰, whitened data: d𝓛_X/dt = −Σ_l tr[∇_l^X ∇_lᵀ] ≤ 0"
            } else {
                "ε = 0, whitened data: d𝓛_X/dt = −Σ_l tr[∇_l^X ∇_lᵀ] ≤ 0"
            },
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        lx_hypotheses(s, self.twin)
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if self.twin {
            let (y, f) = (s.layout.twin_theta(p.y)?, s.layout.twin_theta(p.f)?);
            let (_, grad) = lx_and_grad_linear(s, y);
            let mdot = end_to_end_velocity(s, y, f);
            let op = lx_grad_operands(s, &(&s.data.x * s.theta(y)));
            return Some(Statement {
                lhs: grad.dot(&mdot),
                rhs: 0.0,
                budget: Budget::Propagated {
                    scale: (grad.norm() + op) * mdot.norm(),
                },
            });
        }
        if s.eps > 0.0 {
            let (rate, scale) = lx_rate_leaky(s, p.y, p.f);
            return Some(Statement {
                lhs: rate,
                rhs: 0.0,
                budget: Budget::Propagated { scale },
            });
        }
        let (_, grad) = lx_and_grad(s, p.y);
        let mdot = end_to_end_velocity(s, p.y, p.f);
        let rate = grad.dot(&mdot);
        let op = lx_grad_operands(s, &s.outputs(p.y));
        Some(Statement {
            lhs: rate,
            rhs: 0.0,
            budget: Budget::Propagated {
                scale: (grad.norm() + op) * mdot.norm(),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Lemma 7.4 and Lemma 7.1 at ε = 0
// ---------------------------------------------------------------------------------------

/// `β` (parameter, default `max_l ‖W_l(0)‖₂`) with the hypotheses common to Lemmas 7.1 and
/// 7.4: whitened data, `y = ±1`, `q = 1`, `L ≥ 2`, `‖W_l(0)‖₂ ≤ β`.
fn lemma_hypotheses(st: &Setting, beta: Option<f64>) -> (Vec<Hypothesis>, f64, f64) {
    let (b0, rho) = init_beta_rho(st);
    let beta = beta.unwrap_or(b0);
    (
        vec![
            h_whitened(st),
            h_sign_labels(st),
            h_scalar_output(st),
            h_depth(st),
            Hypothesis::new("max_l ‖W_l(0)‖₂ ≤ β", b0, Relation::Le, beta),
        ],
        beta,
        rho,
    )
}

fn optional_beta(pr: &Params<'_>) -> Result<Option<f64>, GradflowError> {
    let b = pr.f64("beta", f64::NAN)?;
    Ok((!b.is_nan()).then_some(b))
}

/// Lemma 7.4 at ε = 0 (catalog L7.4; the proof's "=" read as "≤"):
/// (i) `‖Ξ(t)‖ ≤ (1 + ρβ^L)/√m`, row form `‖X̃Θ − Y‖/n ≤ (1 + ρβ^L)/√n` (loss monotonicity,
/// `‖Ξ(t)‖ ≤ ‖Ξ(0)‖`);
/// (ii) under Assumption 5.1 (proven for ε = 0): `‖ΞX̃ᵀ‖ ≤ s + ρβ^L`, row form
/// `‖X̃ᵀ(X̃Θ − Y)‖/n ≤ s + ρβ^L`.
/// Both are state-only (convention-free). Parameter `beta` (default `max_l ‖W_l(0)‖₂`): a value
/// below the initial norms makes the hypothesis `‖W_l(0)‖ ≤ β` fail. Budget: propagated.
pub struct Lemma74 {
    projected: bool,
    beta: Option<f64>,
    lx: LxTracker,
}

impl Lemma74 {
    fn build(id: &str, projected: bool, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new(id, p, &["beta"])?;
        Ok(Box::new(Self {
            projected,
            beta: optional_beta(&pr)?,
            lx: LxTracker::default(),
        }))
    }
}

impl Claim for Lemma74 {
    fn info(&self) -> ClaimInfo {
        let (id, result, statement) = if self.projected {
            (
                "gol24.lemma7_4.projected_residual",
                "Lemma 7.4 (ii)",
                "‖ΞX̃ᵀ‖ = ‖X̃ᵀ(f(X̃) − Y)‖/n ≤ s + ρβ^L (ε > 0: under Assumption 5.1)",
            )
        } else {
            (
                "gol24.lemma7_4.residual_norm",
                "Lemma 7.4 (i)",
                "‖Ξ‖ = ‖f(X̃) − Y‖/n ≤ (1 + ρβ^L)/√n",
            )
        };
        ClaimInfo::new(id, PAPER, result, statement)
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        lemma_hypotheses(s, self.beta).0
    }
    fn final_hypotheses(
        &self,
        s: &Setting,
        _gf: &mut GradientFlow,
        _p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        // (ii) rests on Assumption 5.1, proven only for ε = 0 (App. E)
        self.lx.final_hypotheses(self.projected && s.eps > 0.0)
    }
    fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
        if self.projected && s.eps > 0.0 {
            self.lx.advance(s, p.y);
        }
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let (_, beta, rho) = lemma_hypotheses(s, self.beta);
        let n = s.data.n() as f64;
        let bl = beta.powi(s.shape.depth() as i32);
        let out = s.outputs(p.y);
        // operands of the residual f(X̃) − Y
        let operands = (out.norm() + s.data.y.norm()) / n;
        let r = out - &s.data.y;
        let (lhs, rhs, operands) = if self.projected {
            (
                (s.data.x.transpose() * r).norm() / n,
                data_scalar(s) + rho * bl,
                operands * s.data.x.norm(),
            )
        } else {
            (r.norm() / n, (1.0 + rho * bl) / n.sqrt(), operands)
        };
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Propagated {
                scale: rhs.max(operands),
            },
        })
    }
}

/// Which weight-norm bound of Lemma 7.1 a [`Lemma71`] claim checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormBound {
    /// (N1) `‖W_l(t)‖₂ ≤ u(λt)` for every `l`.
    N1,
    /// (N2) `(1/√m)‖W_1(t)X̃‖_F = ‖W_1(t)‖_F ≤ ρ u(λt)`.
    N2,
    /// eq. (81) (L = 2: text after eq. (39), "=" read as "≤"): `‖W_1(t)‖_F ≤ ρβ − β̄ + u(λt)`.
    N2Tight,
}

/// Lemma 7.1, weight-norm half, on the linear twin (ε = 0; Assumption 5.1 is proven there):
/// with `u` of eq. (9) (see [`BoundScalars`]), in the run's convention at `τ = λt`:
/// (N1) `max_l ‖W_l(t)‖₂ ≤ u(λt)`; (N2) `‖W_1(t)‖_F ≤ ρu(λt)`; eq. (81)
/// `‖W_1(t)‖_F ≤ ρβ − β̄ + u(λt)`. For `L ≥ 3` only `τ < T_blow` is evaluated (beyond, `u = ∞`
/// and the bound is vacuous). At `t = 0` the statements reduce to the hypothesis
/// `‖W_l(0)‖ ≤ β` (an equality for the default `β`) and are not evaluated.
/// For a leaky-ReLU run (`ε > 0`) the statements are Lemma 7.1 on the trained network and rest
/// on Assumption 5.1: its running value is a final hypothesis (a failure makes the verdict
/// not applicable).
/// Parameters: `eps` (default: the run's ε, 0 for linear runs; `u` computed with ε-parameters
/// bounds every trajectory of level `τ ≤ ε` by monotonicity in ε, catalog §6 item 9), `beta` (default `max_l ‖W_l(0)‖₂`) and `rho`
/// (default `‖W_1(0)‖_F/‖W_1(0)‖₂`; a smaller value is the deliberately false variant of
/// catalog §5.3 scenario 5, "ρ supplied as 1 for a full-rank W_1(0)"), `sqrt_rho` (1: the
/// theorem's printed `ε√r` in `s̄_r`, catalog §5.3 scenario 8) and `s_one` (1: App. A.1's `s → 1`
/// version, which needs no Assumption 5.1).
/// Budget: propagated.
pub struct Lemma71 {
    which: NormBound,
    eps: f64,
    beta: Option<f64>,
    rho: Option<f64>,
    sqrt_rho: bool,
    s_one: bool,
    lx: LxTracker,
}

impl Lemma71 {
    fn id(which: NormBound) -> &'static str {
        match which {
            NormBound::N1 => "gol24.lemma7_1.n1_weight_norms",
            NormBound::N2 => "gol24.lemma7_1.n2_first_layer_frobenius",
            NormBound::N2Tight => "gol24.lemma7_1.n2_tight",
        }
    }
    fn build(which: NormBound, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = Self::id(which);
        let pr = Params::new(id, p, &["eps", "beta", "rho", "sqrt_rho", "s_one"])?;
        let eps = pr.f64("eps", f64::NAN)?;
        if !eps.is_nan() && !(0.0..=1.0).contains(&eps) {
            return Err(GradflowError::Config(format!(
                "claim {id}: eps = {eps}: need 0 ≤ ε ≤ 1"
            )));
        }
        let rho = pr.f64("rho", f64::NAN)?;
        Ok(Box::new(Self {
            which,
            eps,
            beta: optional_beta(&pr)?,
            rho: (!rho.is_nan()).then_some(rho),
            sqrt_rho: pr.f64("sqrt_rho", 0.0)? != 0.0,
            s_one: pr.f64("s_one", 0.0)? != 0.0,
            lx: LxTracker::default(),
        }))
    }
    fn scalars(&self, s: &Setting) -> BoundScalars {
        let (_, beta, rho) = lemma_hypotheses(s, self.beta);
        let rho = self.rho.unwrap_or(rho);
        let eps = if self.eps.is_nan() { s.eps } else { self.eps };
        let sv = if self.s_one { 1.0 } else { data_scalar(s) };
        BoundScalars::with_reading(s.shape.depth(), sv, rho, beta, eps, self.sqrt_rho)
    }
}

impl Claim for Lemma71 {
    fn info(&self) -> ClaimInfo {
        let (result, statement) = match self.which {
            NormBound::N1 => ("Lemma 7.1 (N1)", "max_l ‖W_l(t)‖₂ ≤ u(λt)"),
            NormBound::N2 => ("Lemma 7.1 (N2)", "‖W_1(t)‖_F = ‖W_1X̃‖_F/√m ≤ ρ u(λt)"),
            NormBound::N2Tight => (
                "Lemma 7.1, eq. (81) (L = 2: text after eq. (39))",
                "‖W_1(t)‖_F ≤ ρβ − β̄ + u(λt)",
            ),
        };
        ClaimInfo::new(
            Self::id(self.which),
            PAPER,
            result,
            format!(
                "u of eq. (9) with ε = {}{}: {statement}, λ = 2κn",
                if self.eps.is_nan() {
                    "the run's ε".to_string()
                } else {
                    self.eps.to_string()
                },
                self.rho.map(|r| format!(", ρ = {r}")).unwrap_or_default()
            ) + if self.sqrt_rho {
                "; s̄_r with the printed ε√r(L−1)(1+ρβ^L) (√ρ reading)"
            } else {
                ""
            } + if self.s_one {
                "; s replaced by 1 (App. A.1, no Assumption 5.1)"
            } else {
                ""
            },
        )
        .printed(self.sqrt_rho.then_some(
            "Theorem 5.2 prints ε√r(L−1)(1+ρβ^L) in s̄_r; the proof (eqs. 35, 73, 77) needs the \
             linear factor r = ρ (catalog 001 §2.8, §6 item 2)",
        ))
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        lemma_hypotheses(s, self.beta).0
    }
    fn final_hypotheses(
        &self,
        s: &Setting,
        _gf: &mut GradientFlow,
        _p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        self.lx.final_hypotheses(s.eps > 0.0 && !self.s_one)
    }
    fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
        if s.eps > 0.0 {
            self.lx.advance(s, p.y);
        }
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if p.step == 0 || s.shape.depth() < 2 {
            return None;
        }
        let sc = self.scalars(s);
        let u = sc.u(time_factor(s) * p.t)?;
        let (lhs, rhs) = match self.which {
            NormBound::N1 => (
                layers(s, p.y).iter().map(spectral_norm).fold(0.0, f64::max),
                u,
            ),
            NormBound::N2 => (s.layer(p.y, 1).norm(), sc.rho * u),
            NormBound::N2Tight => (s.layer(p.y, 1).norm(), sc.rho * sc.beta - sc.beta_bar + u),
        };
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Propagated { scale: rhs },
        })
    }
}
