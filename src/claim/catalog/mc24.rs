//! Paper 002: Marion & Chizat, "Deep linear networks for regression are implicitly
//! regularized towards flat minima" (NeurIPS 2024). Catalog `claims/002.md`.
//!
//! **Setting.** The paper's network is `x ↦ pᵀW_L⋯W_1x` with a fixed, untrained `p`. Its
//! small-scale results (Lemma 2, Theorem 3, Corollaries 1–2) take `d_L = 1` and `p = 1`:
//! gradflow's deep linear network with `q = 1`, which those claims check as a hypothesis.
//! The residual setting with `p ∈ R^d` (Theorem 4, Corollary 3) has no counterpart here; its
//! multivariate version with square layers (Theorem 5, `q = d`, no `p`) does.
//!
//! **Conventions.** The paper's risk is the `mean` loss `R = (1/n)‖y − Xw_prod‖²`, with
//! `w_prod = Θ = (W_L⋯W_1)ᵀ`. A run with loss `L = κ‖XΘ − Y‖²` has `L = ρR`, `ρ := κn`
//! (`ρ = 1` for `mean`, `n` for `sum`, `n/2` for `half_sum`, `1/2` for `half_mean`). Derived:
//! `∇L = ρ∇R`, every Hessian and the sharpness scale by `ρ` (`S_L = ρS_R`), a PL inequality
//! `Σ‖∇_kR‖² ≥ μ(R − R_min)` becomes `Σ‖∇_kL‖² ≥ ρμ(L − L_min)`, and the flow of `L` is the
//! flow of `R` run `ρ` times faster (`t_paper = ρ·t_run`), so the rate `e^{−μ t_paper}` reads
//! `e^{−ρμ t_run}`. Quantities of the weights and the data alone (`ε`, A1, A2, `ω_1`, the
//! singular values and vectors) are convention-free. Every claim states its constants for
//! the run's `ρ`.
//!
//! **Numerics** (catalog §2.2, §2.4). `L − L_min` is computed as `ρ‖X(Θ − Θ*)‖²/n` and
//! `R_0 − R` as `2ΘᵀΣ̂Θ* − ΘᵀΣ̂Θ`, never as differences of losses (the naive difference loses
//! all precision near convergence and at small initialisation). Gradients compared with the
//! gap use the same stable form `∂L/∂M = 2ρ(Θ − Θ*)ᵀΣ̂` (`M = Θᵀ`). The sharpness
//! `S(W) = λ_max(∇²L(W))` comes from Lanczos on the exact Hessian-vector product at any `D`
//! ([`sharpness`], its Ritz residual in the budget); the dense Hessian ([`sharpness_dense`])
//! and the closed form `2ρσ_max(FΣ̂^{1/2})²` at minimizers (catalog §2.4) are its oracles.
//!
//! **End-point claims** (Theorem 2, Corollaries 1–2) are evaluated once, at the final time.
//! Theorem 2 is a statement about global minimizers; it is evaluated at the minimizer nearest
//! the end point, obtained by correcting `W_1` so that `w_prod` becomes a least-squares
//! solution (`point = "minimizer"`, the default), at the explicit balanced minimizer
//! `W^bal` of the paper's upper-bound construction (`point = "balanced"`), or — as the
//! deliberately ungated check of catalog §5 counterexample 7 — at the raw end point
//! (`point = "end"`). Corollaries 1–2 are statements about the limit of the flow: they are
//! evaluated only when the end point has converged, `(L − L_min)/(L_0 − L_min) ≤ gap_tol`
//! (otherwise the claim is never evaluated and its verdict is inconclusive).

use nalgebra::{DMatrix, DVector};
use serde_json::Value;

use super::common::Filing;
use super::discrete::GdImbalanceStep;
use super::{hyp, prefixes, spectral_norm, suffixes, Params};
use crate::claim::budget::C_ROUNDOFF;
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Setting, Statement};
use crate::config::Method;
use crate::curvature::{lanczos, LanczosOptions, Which};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

const PAPER: &str = "002";

/// Default convergence gate of the end-point claims about the limit of the flow.
pub const GAP_TOL: f64 = 1e-12;

/// The registered claims of paper 002.
pub fn entries() -> Vec<Entry> {
    let mut v = Vec::new();
    v.extend(kind_entries(Step::ALL, Step::id));
    v.extend(kind_entries(End::ALL, End::id));
    v.push(Entry {
        id: "mc24.lemma1_gd.imbalance_step",
        paper: PAPER,
        build: |p| {
            GdImbalanceStep::build(
                Filing {
                    id: "mc24.lemma1_gd.imbalance_step",
                    paper: PAPER,
                    result: "Lemma 1, discrete counterpart for gradient descent (derived; catalog \
                             §3 Lemma 1 and §5 counterexample 3)",
                },
                p,
            )
        },
    });
    v.extend(kind_entries(Curv::ALL, Curv::id));
    v
}

/// Registered claims of the kinds in `all`, each with its id.
fn kind_entries<K: Copy>(
    all: &[(K, crate::claim::registry::Builder)],
    id: fn(K) -> &'static str,
) -> impl Iterator<Item = Entry> + '_ {
    all.iter().map(move |&(k, build)| Entry {
        id: id(k),
        paper: PAPER,
        build,
    })
}

/// Declares an enum of claim kinds, each variant a registered claim, with `ALL`: every kind in
/// registration order and the builder of its claim (a [`crate::claim::registry::Builder`] is a
/// plain `fn`, so one per kind).
macro_rules! claim_kinds {
    ($(#[$m:meta])* enum $kind:ident => $claim:ident { $($v:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum $kind {
            $($v),+
        }

        impl $kind {
            const ALL: &'static [($kind, crate::claim::registry::Builder)] =
                &[$(($kind::$v, |p| $claim::build($kind::$v, p))),+];
        }
    };
}

// ---------------------------------------------------------------------------------------
// Quantities of the data and of the initial point
// ---------------------------------------------------------------------------------------

/// The data and initial-point quantities of paper 002 (catalog §2.2, §2.5), computed once
/// per run. Risks are in the paper's `mean` convention `R`; `rho` converts (`L = ρR`).
#[derive(Clone, Debug)]
pub struct Quantities {
    /// `ρ = κn`: `L = ρR`.
    pub rho: f64,
    /// Number of samples `n`.
    pub n: usize,
    /// `Λ`, the largest eigenvalue of `Σ̂ = XᵀX/n`.
    pub lambda_max: f64,
    /// `λ`, the smallest nonzero eigenvalue of `Σ̂` (numerical rank of `X`).
    pub lambda_min: f64,
    /// Whether `Σ̂` has full rank `d`.
    pub full_rank: bool,
    /// `w* = X⁺Y` (`d × q`), the minimum-norm least-squares solution.
    pub wstar: DMatrix<f64>,
    /// `‖w*‖` (Frobenius).
    pub wstar_norm: f64,
    /// `a = (w*/‖w*‖)ᵀΣ̂(w*/‖w*‖)` (`q = 1`; `NaN` otherwise or when `w* = 0`).
    pub a: f64,
    /// `R_0 − R_min = ‖Xw*‖²/n` (the mean-convention excess risk of `W = 0`).
    pub excess0: f64,
    /// `ε = 3 max_k ‖W_k(0)‖_F² + 2 Σ_{k<L} ‖W_k(0)W_k(0)ᵀ − W_{k+1}(0)ᵀW_{k+1}(0)‖_2`.
    pub eps: f64,
    /// `ε̄ = max_k ‖W_k(0)‖_F² + Σ_{k<L} ‖W_{k+1}(0)ᵀW_{k+1}(0) − W_k(0)W_k(0)ᵀ‖_2 ≤ ε` (B.3).
    pub eps_bar: f64,
    /// `‖W_k(0)‖_2²`, `k = 1..L`.
    pub w0_op_sq: Vec<f64>,
    /// A1 margin `R_0 − R(W(0)) = 2ΘᵀΣ̂w* − ΘᵀΣ̂Θ` at `Θ = Θ(0)` (stable form).
    pub a1_margin: f64,
    /// `‖∇L(W(0))‖²` in the run's convention.
    pub grad0_sq: f64,
}

impl Quantities {
    /// Computes the quantities of a run's setting.
    pub fn new(s: &Setting) -> Self {
        let n = s.data.n();
        let rho = s.kappa * n as f64;
        let nf = n as f64;
        let lambda_max = s.x_op().powi(2) / nf;
        let lambda_min = s.x_min_sv().powi(2) / nf;
        let wstar = s.theta_l2.clone();
        let wstar_norm = wstar.norm();
        let xw = &s.data.x * &wstar;
        let excess0 = xw.norm_squared() / nf;
        let a = if s.shape.output() == 1 && wstar_norm > 0.0 {
            excess0 / (wstar_norm * wstar_norm)
        } else {
            f64::NAN
        };
        let l = s.shape.depth();
        let w0: Vec<DMatrix<f64>> = (1..=l).map(|k| s.layer(&s.theta0, k)).collect();
        let max_f2 = w0.iter().map(|w| w.norm_squared()).fold(0.0, f64::max);
        let imb: f64 = (0..l.saturating_sub(1))
            .map(|k| {
                let d = w0[k + 1].transpose() * &w0[k + 1] - &w0[k] * w0[k].transpose();
                spectral_norm(&d)
            })
            .sum();
        let w0_op_sq = w0.iter().map(|w| spectral_norm(w).powi(2)).collect();
        let theta0 = s.theta(&s.theta0);
        let a1_margin = risk_decrease(s, &wstar, &theta0);
        let mut gf = GradientFlow::new(s.shape.clone(), &s.data, s.loss)
            .expect("the setting's data fit its network");
        let grad0_sq = super::gradient_at(s, &mut gf, &s.theta0)
            .iter()
            .map(|v| v * v)
            .sum();
        Self {
            rho,
            n,
            lambda_max,
            lambda_min,
            full_rank: s.rank == s.shape.input(),
            wstar,
            wstar_norm,
            a,
            excess0,
            eps: 3.0 * max_f2 + 2.0 * imb,
            eps_bar: max_f2 + imb,
            w0_op_sq,
            a1_margin,
            grad0_sq,
        }
    }

    /// `L − L_min = ρ‖X(Θ − Θ*)‖²/n` (Lemma 8, stable form).
    pub fn gap(&self, s: &Setting, theta: &DMatrix<f64>) -> f64 {
        let xd = &s.data.x * (theta - &self.wstar);
        self.rho * xd.norm_squared() / self.n as f64
    }

    /// `∂L/∂M = 2ρ(Θ − Θ*)ᵀΣ̂` (`q × d`, `M = Θᵀ`), the stable form of `∇L^1`.
    pub fn grad_m(&self, s: &Setting, theta: &DMatrix<f64>) -> DMatrix<f64> {
        let xd = &s.data.x * (theta - &self.wstar);
        (xd.transpose() * &s.data.x) * (2.0 * self.rho / self.n as f64)
    }

    /// `LB = 2ρLa‖w*‖^{2−2/L}` (Theorem 2's uniform lower bound, `‖p‖ = 1`).
    pub fn lower_bound(&self, depth: usize) -> f64 {
        let l = depth as f64;
        2.0 * self.rho * l * self.a * self.wstar_norm.powf(2.0 - 2.0 / l)
    }

    /// `UB = 2ρ‖w*‖^{2−2/L}√((2L−1)Λ² + (L−1)²a²)` (Theorem 2's upper bound, `‖p‖ = 1`).
    pub fn upper_bound(&self, depth: usize) -> f64 {
        let l = depth as f64;
        let big = self.lambda_max;
        2.0 * self.rho
            * self.wstar_norm.powf(2.0 - 2.0 / l)
            * ((2.0 * l - 1.0) * big * big + (l - 1.0).powi(2) * self.a * self.a).sqrt()
    }

    /// `S(W^bal) = 2ρc λ_max(Σ̂ + (L−1)qqᵀ)`, `c = ‖w*‖^{2−2/L}`, `q = Σ̂^{1/2}w*/‖w*‖`
    /// (catalog §2.4, derived), computed as `2ρc σ_max(X(I + (√L − 1)ŵŵᵀ))²/n`.
    pub fn balanced_sharpness(&self, s: &Setting, depth: usize) -> f64 {
        let l = depth as f64;
        let d = s.shape.input();
        let w = &self.wstar / self.wstar_norm;
        let root = DMatrix::identity(d, d) + (&w * w.transpose()) * (l.sqrt() - 1.0);
        let m = &s.data.x * root;
        2.0 * self.rho * self.wstar_norm.powf(2.0 - 2.0 / l) * spectral_norm(&m).powi(2)
            / self.n as f64
    }

    /// `(L − L_min)/(L_0 − L_min)` at `Θ` (relative excess risk).
    pub fn relative_gap(&self, s: &Setting, theta: &DMatrix<f64>) -> f64 {
        self.gap(s, theta) / (self.rho * self.excess0)
    }
}

/// `R_0 − R(Θ) = 2tr(ΘᵀΣ̂Θ*) − tr(ΘᵀΣ̂Θ)` in the mean convention (stable form of
/// catalog §2.2: it is `O(‖Θ‖)` for small `Θ`, where the difference of losses cancels).
pub fn risk_decrease(s: &Setting, wstar: &DMatrix<f64>, theta: &DMatrix<f64>) -> f64 {
    let xt = &s.data.x * theta;
    let xw = &s.data.x * wstar;
    (2.0 * xt.dot(&xw) - xt.norm_squared()) / s.data.n() as f64
}

/// Top singular triplet of a layer.
struct Top {
    sigma: f64,
    u: DVector<f64>,
    v: DVector<f64>,
}

fn top(w: &DMatrix<f64>) -> Option<Top> {
    let svd = crate::decompose::svd(w).ok()?;
    let sv = &svd.singular_values;
    Some(Top {
        sigma: *sv.get(0)?,
        u: svd.u.column(0).into_owned(),
        v: svd.v_t.row(0).transpose(),
    })
}

/// The top singular value `σ_1(W)` and the tail `Σ_{i≥2} σ_i(W)²`, without vectors.
struct SigmaTail {
    sigma: f64,
    tail: f64,
}

fn sigma_tail(w: &DMatrix<f64>) -> Option<SigmaTail> {
    let sv = crate::decompose::singular_values(w).ok()?;
    Some(SigmaTail {
        sigma: *sv.get(0)?,
        tail: sv.iter().skip(1).map(|x| x * x).sum(),
    })
}

/// `1 − ⟨u, v⟩²` for unit vectors, computed without cancellation as `‖u − ⟨u, v⟩v‖²`.
fn misalignment(u: &DVector<f64>, v: &DVector<f64>) -> f64 {
    let c = u.dot(v);
    (u - v * c).norm_squared()
}

fn layers(s: &Setting, y: &[f64]) -> Vec<DMatrix<f64>> {
    (1..=s.shape.depth()).map(|k| s.layer(y, k)).collect()
}

fn pack(s: &Setting, ws: &[DMatrix<f64>]) -> Vec<f64> {
    s.shape.pack(ws).expect("layers keep the network's shapes")
}

/// The minimizer nearest the state `y` obtained by correcting the first layer: with
/// `M = Θᵀ`, the target `M_t = M − (M − M*)P_X` (`= M*` when `Σ̂` has full rank) is a
/// least-squares solution, and `W_1 ← W_1 + S_2ᵀ(S_2S_2ᵀ)^{-1}(M_t − M)`, `S_2 = W_L⋯W_2`,
/// makes `W_L⋯W_1 = M_t` (catalog §3 Theorem 2 check 3). `None` when `S_2S_2ᵀ` is singular.
pub fn nearest_minimizer(s: &Setting, y: &[f64]) -> Option<Vec<f64>> {
    let mut ws = layers(s, y);
    let m = s.theta(y).transpose();
    let mstar = s.theta_l2.transpose();
    let delta = -((&m - &mstar) * &s.row_basis) * s.row_basis.transpose();
    if ws.len() == 1 {
        ws[0] = &m + &delta;
        return Some(pack(s, &ws));
    }
    let suf = suffixes(&ws, s.shape.output());
    let s2 = &suf[1];
    let gram = s2 * s2.transpose();
    let inv = gram.clone().cholesky()?.inverse();
    if !inv.iter().all(|v| v.is_finite()) {
        return None;
    }
    ws[0] += s2.transpose() * inv * delta;
    Some(pack(s, &ws))
}

/// The balanced rank-one aligned minimizer `W^bal` of the paper's upper-bound construction
/// (proof of Theorem 2, catalog §2.4): `W_k = σ u_k v_kᵀ`, `σ = ‖w*‖^{1/L}`, `v_1 = w*/‖w*‖`,
/// `v_{k+1} = u_k = e_1`, `u_L = 1`, so `W_L⋯W_1 = w*ᵀ`. Needs `q = 1` and `w* ≠ 0`.
pub fn balanced_minimizer(s: &Setting, q: &Quantities) -> Option<Vec<f64>> {
    if s.shape.output() != 1 || q.wstar_norm <= 0.0 {
        return None;
    }
    let l = s.shape.depth();
    let sigma = q.wstar_norm.powf(1.0 / l as f64);
    let what = &q.wstar / q.wstar_norm;
    let ws: Vec<DMatrix<f64>> = (1..=l)
        .map(|k| {
            let (r, c) = s.shape.layer_shape(k);
            let mut w = DMatrix::zeros(r, c);
            if k == 1 {
                for j in 0..c {
                    w[(0, j)] = sigma * what[(j, 0)];
                }
            } else {
                w[(0, 0)] = sigma;
            }
            w
        })
        .collect();
    Some(pack(s, &ws))
}

/// `W^C = (C W_1, W_2/C, W_3, …)`: the same end-to-end map (catalog U2). Needs `L ≥ 2`.
fn rescaled(s: &Setting, y: &[f64], c: f64) -> Option<Vec<f64>> {
    if s.shape.depth() < 2 {
        return None;
    }
    let mut ws = layers(s, y);
    ws[0] *= c;
    ws[1] /= c;
    Some(pack(s, &ws))
}

/// The dense Hessian `∇²L(θ)` from `D` exact Hessian-vector products, symmetrised (the
/// test oracle of [`sharpness`]).
pub fn hessian(gf: &mut GradientFlow, theta: &[f64]) -> DMatrix<f64> {
    let np = theta.len();
    let mut h = DMatrix::zeros(np, np);
    let mut e = vec![0.0; np];
    let mut out = vec![0.0; np];
    for i in 0..np {
        e[i] = 1.0;
        gf.hvp(theta, &e, &mut out);
        e[i] = 0.0;
        h.column_mut(i).copy_from_slice(&out);
    }
    (&h + h.transpose()) * 0.5
}

/// `S(W) = λ_max(∇²L(W))` and `‖∇²L(W)‖_F` from the dense Hessian (`D` HVPs and an
/// `O(D³)` eigen-decomposition: the test oracle of [`sharpness`]).
pub fn sharpness_dense(gf: &mut GradientFlow, theta: &[f64]) -> (f64, f64) {
    let h = hessian(gf, theta);
    let fro = h.norm();
    let top = crate::decompose::symmetric_eigenvalues(&h).map_or(f64::NAN, |eig| {
        eig.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    });
    (top, fro)
}

/// The closed form of the sharpness at a global minimizer with `q = 1` (catalog §2.4,
/// derived): `S = 2ρσ_max(FΣ̂^{1/2})² = 2ρσ_max(FXᵀ)²/n`, `F = [‖b_1‖A_1; …; ‖b_L‖A_L]`,
/// `b_k = (W_L⋯W_{k+1})ᵀ`, `A_k = W_{k−1}⋯W_1`.
pub fn sharpness_closed_form(s: &Setting, q: &Quantities, theta: &[f64]) -> f64 {
    let ws = layers(s, theta);
    let d = s.shape.input();
    let pre = prefixes(&ws, d);
    let suf = suffixes(&ws, s.shape.output());
    let rows: usize = (0..ws.len()).map(|k| pre[k].nrows()).sum();
    let mut f = DMatrix::zeros(rows, d);
    let mut r0 = 0;
    for k in 0..ws.len() {
        let b = suf[k + 1].norm();
        let a = &pre[k];
        f.view_mut((r0, 0), (a.nrows(), d)).copy_from(&(a * b));
        r0 += a.nrows();
    }
    let fx = f * s.data.x.transpose();
    2.0 * q.rho * spectral_norm(&fx).powi(2) / q.n as f64
}

/// Largest Krylov dimension of the end-of-run sharpness (also capped by `D`, so it never
/// costs more Hessian-vector products than the dense Hessian).
pub const LANCZOS_MAX_ITER: usize = 400;

/// Relative Ritz-residual tolerance of the end-of-run sharpness.
pub const LANCZOS_TOL: f64 = 1e-13;

/// `S(W) = λ_max(∇²L(W))` by Lanczos on the exact Hessian-vector product (any `D`), with
/// the scale of its round-off budget. The top Ritz value `θ_1` lies below `λ_max` and within
/// its residual `r_1 = ‖Hx − θ_1x‖` of an eigenvalue (Parlett, *The Symmetric Eigenvalue
/// Problem*, Thm 4.5.1), so the error is at most `r_1` plus round-off: the returned scale is
/// `max_i |θ_i| + r_1/(C_ε ε)`, for which the round-off budget `C_ε ε · scale · √(N+1)`
/// covers both. Lanczos runs from a fixed seeded start to relative residual
/// [`LANCZOS_TOL`] or [`LANCZOS_MAX_ITER`] iterations; at a minimizer `∇²L` has rank
/// `≤ dq` and the Krylov space closes after about `dq + 1` products.
pub fn sharpness(gf: &mut GradientFlow, theta: &[f64]) -> (f64, f64) {
    let opts = LanczosOptions {
        k: 1,
        which: Which::Largest,
        max_iter: LANCZOS_MAX_ITER,
        tol: LANCZOS_TOL,
        ..LanczosOptions::default()
    };
    let eig = lanczos(theta.len(), |v, out| gf.hvp(theta, v, out), None, &opts);
    let norm = eig.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let r = eig.residuals.first().copied().unwrap_or(0.0);
    (eig.max(), norm + r / (C_ROUNDOFF * f64::EPSILON))
}

/// The constant of Theorem 3 (proof B.4) in the paper's convention: `μ = 4λμ_1` with
/// `√μ_1 = max_{C > L√(2ε)} min((C − L√(2ε))^{L−1}, ω_1/C)`, maximised by bisection on
/// `(C − L√(2ε))^{L−1}C = ω_1`. Returns 0 when `ω_1 ≤ 0`.
pub fn pl_constant(depth: usize, eps: f64, lambda_min: f64, omega1: f64) -> f64 {
    if omega1.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || depth < 2 {
        return 0.0;
    }
    let c0 = depth as f64 * (2.0 * eps).sqrt();
    let p = (depth - 1) as i32;
    let h = |c: f64| (c - c0).powi(p) * c - omega1;
    let (mut lo, mut hi) = (c0, c0 + 1.0 + omega1);
    while h(hi) <= 0.0 {
        hi = c0 + 2.0 * (hi - c0);
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if h(mid) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let sqrt_mu1 = ((hi - c0).powi(p)).min(omega1 / hi);
    4.0 * lambda_min * sqrt_mu1 * sqrt_mu1
}

/// `ω_1 = min((R_0 − R(W(t_0)))/(4Λ‖w*‖), ‖w*‖)` (proof of Theorem 3, eq. (29)).
pub fn omega1(q: &Quantities, risk_decrease_t0: f64) -> f64 {
    (risk_decrease_t0 / (4.0 * q.lambda_max * q.wstar_norm)).min(q.wstar_norm)
}

// ---------------------------------------------------------------------------------------
// Hypotheses
// ---------------------------------------------------------------------------------------

fn hyp_univariate(s: &Setting) -> Hypothesis {
    hyp::single_output(s, "d_L = q = 1 (univariate output, p = 1)")
}

fn hyp_depth2(s: &Setting) -> Hypothesis {
    hyp::depth_at_least(s, 2)
}

fn hyp_wstar(q: &Quantities) -> Hypothesis {
    Hypothesis::new("w* ≠ 0: ‖w*‖ > 0", q.wstar_norm, Relation::Gt, 0.0)
}

fn hyp_a1(q: &Quantities) -> Vec<Hypothesis> {
    vec![
        Hypothesis::new(
            "A1: R_0 − R(W(0)) = 2w_prodᵀΣ̂w* − w_prodᵀΣ̂w_prod ≥ 0",
            q.a1_margin,
            Relation::Ge,
            0.0,
        ),
        Hypothesis::new(
            "A1: ∇L(W(0)) ≠ 0: ‖∇L(W(0))‖² > 0",
            q.grad0_sq,
            Relation::Gt,
            0.0,
        ),
    ]
}

fn hyp_a2(s: &Setting, q: &Quantities) -> Vec<Hypothesis> {
    let l = s.shape.depth() as f64;
    vec![
        hyp::full_column_rank(s, "A2: Σ̂ full rank (rank X = d)"),
        Hypothesis::new("A2: ε ≤ 1", q.eps, Relation::Le, 1.0),
        Hypothesis::new("A2: ‖w*‖ ≥ 1", q.wstar_norm, Relation::Ge, 1.0),
        Hypothesis::new("A2: 32L√ε ≤ 1", 32.0 * l * q.eps.sqrt(), Relation::Le, 1.0),
    ]
}

// ---------------------------------------------------------------------------------------
// Claims evaluated at every step
// ---------------------------------------------------------------------------------------

/// The statements of paper 002 checked at every accepted step.
///
/// In the run's convention (`L = ρR`, `ρ = κn`, `λ`/`Λ` the smallest nonzero/largest
/// eigenvalue of `Σ̂`, `gap = L − L_min = ρ‖X(Θ − Θ*)‖²/n`), with a parameter `factor`
/// (default 1) multiplying the bound — `factor` values that tighten the bound are
/// deliberately false variants:
///
/// | id | result | statement |
/// |---|---|---|
/// | `mc24.thm3_proof.loss_nonincreasing` | Thm 3 proof (B.4) | `L(t_i) ≤ L(t_{i−1})`, through the stable forms of `L − L_min` or `L_0 − L` |
/// | `mc24.lemma1.trace_conserved` | Lemma 1 (trace) | `‖W_{k+1}‖_F² − ‖W_k‖_F²` is constant (identity, accumulated budget) |
/// | `mc24.lemma8.gap_identity` | Lemma 8 | `L − L_min` (difference of losses) `= ρ(Θ−Θ*)ᵀΣ̂(Θ−Θ*)` (identity, round-off) |
/// | `mc24.lemma8.gradient_lower` | Lemma 8 | `‖∇L^1‖² ≥ 4ρλ·gap` |
/// | `mc24.lemma8.gradient_upper` | Lemma 8 | `‖∇L^1‖² ≤ 4ρΛ·gap` |
/// | `mc24.lemma2.rank_one` | Lemma 2 (1st) | `‖W_k‖_F² − ‖W_k‖_2² ≤ ε` |
/// | `mc24.lemma2.equal_norms` | Lemma 2 (2nd) | `|σ_k² − σ_j²| ≤ ε` |
/// | `mc24.lemma2.alignment` | Lemma 2 (3rd) | `σ_{k+1}²(1 − ⟨v_{k+1}, u_k⟩²) ≤ ε` |
/// | `mc24.thm3.eq24_first_layer_gradient` | Thm 3 proof (24) | `‖∇_1L‖_F² = ‖W_L⋯W_2‖²‖∇L^1‖²` (identity) |
/// | `mc24.thm3.eq28_suffix_norm` | Thm 3 proof (28) | `σ_1 > L√(2ε) ⇒ ‖W_L⋯W_2‖ ≥ (σ_1 − L√(2ε))^{L−1}` |
/// | `mc24.thm3.eq29_product_norm` | Thm 3 proof (29) | `t ≥ t_0 ⇒ ‖w_prod(t)‖ ≥ ω_1` |
/// | `mc24.thm3.pl` | Theorem 3 | `t ≥ t_0 ⇒ Σ_k‖∇_kL‖² ≥ ρμ·gap` (explicit μ of B.4) |
/// | `mc24.lemma7.rate` | Lemma 7 + Thm 3 | `gap(t) ≤ gap(t_0)e^{−ρμ(t−t_0)}` |
/// | `mc24.lemma7.path_length` | Lemma 7 + Thm 3 | `‖θ(t) − θ(t_0)‖ ≤ 2√(gap(t_0)/(ρμ))` |
/// | `mc24.cor1_proof.rank_one_product` | Cor 1 proof (B.5) | `‖w_prod − ∏σ_k v_1∏⟨u_k,v_{k+1}⟩u_L‖ ≤ √ε Σ_k∏_{j≠k}σ_j` |
/// | `mc24.thm5.gradient_lower` | Thm 5 (square) | `‖∇_kL‖² ≥ 4ρλσ_min(W_L⋯W_{k+1})²σ_min(W_{k−1}⋯W_1)²·gap` |
/// | `mc24.thm5.gradient_upper` | Thm 5 (square) | `‖∇_kL‖² ≤ 4ρΛ‖W_L⋯W_{k+1}‖²‖W_{k−1}⋯W_1‖²·gap` |
/// | `mc24.lemma9.products` | Lemma 9 | inside the ball `max‖θ_k‖_2 ≤ m²/(4M²)`: `‖Π_k‖ ≤ 2M`, `σ_min(Π_k) ≥ m/2` |
///
/// The time `t_0` (parameter `t0`, run time) defaults to `1/ρ`, the paper's `t = 1`; the
/// proof of Theorem 3 holds for any `t_0 > 0` with `W(t_0)` in place of `W(1)`, taken at the
/// first accepted step at or after `t0` — which is `t0` itself: the claim asks the run to
/// step there ([`Claim::stops`]).
pub struct StepClaim {
    kind: Step,
    factor: f64,
    sharp: bool,
    t0: Option<f64>,
    q: Option<Quantities>,
    anchor: Option<Anchor>,
}

/// The state at `t_0` that Theorem 3's constant depends on.
#[derive(Clone, Debug)]
struct Anchor {
    t: f64,
    gap: f64,
    omega: f64,
    mu: f64,
    theta: Vec<f64>,
}

claim_kinds! {
    /// Kinds of [`StepClaim`].
    enum Step => StepClaim {
        RankOne,
        Alignment,
        Eq29,
        Pl,
        Rate,
        PathLength,
        RankOneProduct,
    }
}

impl Step {
    fn id(self) -> &'static str {
        match self {
            Step::RankOne => "mc24.lemma2.rank_one",
            Step::Alignment => "mc24.lemma2.alignment",
            Step::Eq29 => "mc24.thm3.eq29_product_norm",
            Step::Pl => "mc24.thm3.pl",
            Step::Rate => "mc24.lemma7.rate",
            Step::PathLength => "mc24.lemma7.path_length",
            Step::RankOneProduct => "mc24.cor1_proof.rank_one_product",
        }
    }

    fn result(self) -> &'static str {
        match self {
            Step::RankOne => "Lemma 2 (first bound)",
            Step::Alignment => "Lemma 2 (third bound)",
            Step::Eq29 => "Theorem 3 proof (B.4), eq. (29)",
            Step::Pl => "Theorem 3 (explicit μ of proof B.4)",
            Step::Rate => "Lemma 7 with Theorem 3 (exponential convergence)",
            Step::PathLength => "Lemma 7 with Theorem 3 (finite path length)",
            Step::RankOneProduct => "Corollary 1 proof (B.5), rank-one product error",
        }
    }

    fn known(self) -> &'static [&'static str] {
        match self {
            Step::RankOne | Step::Alignment => &["factor", "eps"],
            Step::Eq29 | Step::Pl | Step::Rate | Step::PathLength => &["factor", "t0"],
            _ => &["factor"],
        }
    }

    fn uses_anchor(self) -> bool {
        matches!(self, Step::Eq29 | Step::Pl | Step::Rate | Step::PathLength)
    }
}

impl StepClaim {
    fn build(kind: Step, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new(kind.id(), p, kind.known())?;
        let factor = pr.f64("factor", 1.0)?;
        let sharp = match pr.str("eps", "paper")? {
            "paper" => false,
            "sharp" => true,
            other => {
                return Err(GradflowError::Config(format!(
                    "claim {}: eps = {other:?}: expected \"paper\" (ε) or \"sharp\" (ε̄, proof B.3)",
                    kind.id()
                )))
            }
        };
        let t0 = match p.get("t0") {
            None => None,
            Some(_) => {
                let t = pr.f64("t0", 0.0)?;
                if t <= 0.0 {
                    return Err(GradflowError::Config(format!(
                        "claim {}: t0 = {t}: must be > 0",
                        kind.id()
                    )));
                }
                Some(t)
            }
        };
        Ok(Box::new(Self {
            kind,
            factor,
            sharp,
            t0,
            q: None,
            anchor: None,
        }))
    }

    fn quantities(&mut self, s: &Setting) -> Quantities {
        self.q.get_or_insert_with(|| Quantities::new(s)).clone()
    }

    fn statement(&self) -> String {
        let f = self.factor;
        let e = if self.sharp { "ε̄" } else { "ε" };
        let t0 = match self.t0 {
            Some(t) => format!("t_0 = {t}"),
            None => "t_0 = 1/ρ (the paper's t = 1)".into(),
        };
        match self.kind {
            Step::RankOne => {
                format!("for every k: ‖W_k(t)‖_F² − ‖W_k(t)‖_2² = Σ_{{i≥2}} σ_i(W_k)² ≤ {f}·{e}")
            }
            Step::Alignment => {
                let rhs = if self.sharp {
                    "(2ε̄ + ‖W_k(0)‖_2²)"
                } else {
                    "ε"
                };
                format!(
                    "for k < L: σ_{{k+1}}(t)²(1 − ⟨v_{{k+1}}(t), u_k(t)⟩²) ≤ {f}·{rhs} (the printed \
                     ⟨v_{{k+1}}, u_k⟩² ≥ 1 − ε/σ_{{k+1}}² times σ_{{k+1}}²)"
                )
            }
            Step::Eq29 => format!(
                "for t ≥ t_0: ‖w_prod(t)‖ ≥ {f}·ω_1, ω_1 = min((R_0 − R(W(t_0)))/(4Λ‖w*‖), ‖w*‖), \
                 {t0}"
            ),
            Step::Pl => format!(
                "for t ≥ t_0: Σ_k ‖∇_kL‖_F² ≥ {f}·ρμ(L − L_min), μ = 4λμ_1, √μ_1 = \
                 max_{{C > L√(2ε)}} min((C − L√(2ε))^{{L−1}}, ω_1/C), {t0}"
            ),
            Step::Rate => format!(
                "for t ≥ t_0: L(t) − L_min ≤ (L(t_0) − L_min)·exp(−{f}·ρμ(t − t_0)), μ of \
                 Theorem 3, {t0}"
            ),
            Step::PathLength => format!(
                "for t ≥ t_0: ‖θ(t) − θ(t_0)‖ ≤ ∫‖θ̇‖ ≤ 2√((L(t_0) − L_min)/({f}·ρμ)), μ of \
                 Theorem 3, {t0}"
            ),
            Step::RankOneProduct => format!(
                "‖w_prod − σ_1⋯σ_L v_1 ∏_{{k<L}}⟨u_k, v_{{k+1}}⟩ u_L‖ ≤ {f}·√ε Σ_k ∏_{{j≠k}} σ_j"
            ),
        }
    }

    /// The stable per-layer gradients `∇_kL = S_{k+1}ᵀ G P_{k−1}ᵀ`, `G = 2ρ(Θ − Θ*)ᵀΣ̂`.
    fn stable_layer_grads(
        s: &Setting,
        q: &Quantities,
        y: &[f64],
        pre: &[DMatrix<f64>],
        suf: &[DMatrix<f64>],
    ) -> Vec<f64> {
        let g = q.grad_m(s, &s.theta(y));
        (1..=s.shape.depth())
            .map(|k| (suf[k].transpose() * &g * pre[k - 1].transpose()).norm_squared())
            .collect()
    }

    fn anchor_at(&self, s: &Setting, q: &Quantities, p: &Point<'_>) -> Anchor {
        let np = s.params();
        let theta = s.theta(p.y);
        let dec = risk_decrease(s, &q.wstar, &theta);
        let omega = omega1(q, dec);
        let mu = q.rho * pl_constant(s.shape.depth(), q.eps, q.lambda_min, omega);
        Anchor {
            t: p.t,
            gap: q.gap(s, &theta),
            omega,
            mu,
            theta: p.y[..np].to_vec(),
        }
    }
}

impl Claim for StepClaim {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(self.kind.id(), PAPER, self.kind.result(), self.statement())
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let q = Quantities::new(s);
        let mut h = Vec::new();
        match self.kind {
            Step::RankOne | Step::RankOneProduct => h.push(hyp_univariate(s)),
            Step::Alignment => {
                h.push(hyp_univariate(s));
                h.push(hyp_depth2(s));
            }
            Step::Eq29 | Step::Pl | Step::Rate | Step::PathLength => {
                h.push(hyp_univariate(s));
                if self.kind != Step::Eq29 {
                    h.push(hyp_depth2(s));
                }
                h.push(hyp_wstar(&q));
                h.extend(hyp_a1(&q));
            }
        }
        h
    }

    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let q = self.quantities(s);
        let np = s.params();
        let y = &p.y[..np];
        let l = s.shape.depth();
        let f = self.factor;
        match self.kind {
            Step::RankOne => {
                if s.shape.output() != 1 {
                    return None;
                }
                let e = if self.sharp { q.eps_bar } else { q.eps };
                // singular values only (no vectors: the statement needs none, and this runs
                // three times per accepted step for the accumulated budget)
                let tops: Vec<SigmaTail> =
                    layers(s, y).iter().map(sigma_tail).collect::<Option<_>>()?;
                let scale = tops.iter().map(|t| t.sigma * t.sigma).fold(0.0, f64::max);
                let lhs = tops.iter().map(|t| t.tail).fold(0.0, f64::max);
                Some(Statement {
                    lhs,
                    rhs: f * e,
                    budget: Budget::Accumulated { scale },
                })
            }
            Step::Alignment => {
                if s.shape.output() != 1 || l < 2 {
                    return None;
                }
                let tops: Vec<Top> = layers(s, y).iter().map(top).collect::<Option<_>>()?;
                let mut best: Option<(f64, f64, f64)> = None;
                for k in 0..l - 1 {
                    let s2 = tops[k + 1].sigma.powi(2);
                    let lhs = s2 * misalignment(&tops[k].u, &tops[k + 1].v);
                    let rhs = f * if self.sharp {
                        2.0 * q.eps_bar + q.w0_op_sq[k]
                    } else {
                        q.eps
                    };
                    if best.is_none_or(|(bl, br, _)| rhs - lhs < br - bl) {
                        best = Some((lhs, rhs, s2));
                    }
                }
                let (lhs, rhs, s2) = best?;
                Some(Statement {
                    lhs,
                    rhs,
                    budget: Budget::Accumulated { scale: s2 },
                })
            }
            Step::Eq29 | Step::Pl | Step::Rate | Step::PathLength => {
                let a = self.anchor.as_ref()?;
                if p.t <= a.t {
                    return None;
                }
                let theta = s.theta(y);
                let (lhs, rhs) = match self.kind {
                    Step::Eq29 => (f * a.omega, theta.norm()),
                    Step::Pl => {
                        let ws = layers(s, y);
                        let pre = prefixes(&ws, s.shape.input());
                        let suf = suffixes(&ws, s.shape.output());
                        let g2: f64 = Self::stable_layer_grads(s, &q, y, &pre, &suf).iter().sum();
                        (f * a.mu * q.gap(s, &theta), g2)
                    }
                    Step::Rate => (q.gap(s, &theta), a.gap * (-f * a.mu * (p.t - a.t)).exp()),
                    _ => {
                        let disp: f64 = y
                            .iter()
                            .zip(&a.theta)
                            .map(|(u, v)| (u - v) * (u - v))
                            .sum::<f64>()
                            .sqrt();
                        (disp, 2.0 * (a.gap / (f * a.mu)).sqrt())
                    }
                };
                Some(Statement {
                    lhs,
                    rhs,
                    budget: Budget::Propagated { scale: lhs + rhs },
                })
            }
            Step::RankOneProduct => {
                if s.shape.output() != 1 {
                    return None;
                }
                let tops: Vec<Top> = layers(s, y).iter().map(top).collect::<Option<_>>()?;
                let prod: f64 = tops.iter().map(|t| t.sigma).product();
                let mut coef = prod * tops[l - 1].u[0];
                for k in 0..l - 1 {
                    coef *= tops[k].u.dot(&tops[k + 1].v);
                }
                let approx = &tops[0].v * coef;
                let w = s.theta(y).column(0).into_owned();
                let lhs = (&w - &approx).norm();
                let sum: f64 = (0..l)
                    .map(|k| {
                        (0..l)
                            .filter(|&j| j != k)
                            .map(|j| tops[j].sigma)
                            .product::<f64>()
                    })
                    .sum();
                let rhs = f * q.eps.sqrt() * sum;
                // operands: the product, its rank-one approximation and the σ-products of
                // the bound (all of w, ∏σ vanish while one layer is 0)
                Some(Statement {
                    lhs,
                    rhs,
                    budget: Budget::Accumulated {
                        scale: w.norm() + approx.norm() + prod + sum,
                    },
                })
            }
        }
    }

    fn stops(&self, s: &Setting) -> Vec<f64> {
        if !self.kind.uses_anchor() {
            return Vec::new();
        }
        // the anchor t_0 is a step of every run, so W(t_0) does not depend on the steps
        vec![self.t0.unwrap_or_else(|| 1.0 / Quantities::new(s).rho)]
    }

    fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
        if !self.kind.uses_anchor() || self.anchor.is_some() {
            return;
        }
        let q = self.quantities(s);
        let t0 = self.t0.unwrap_or(1.0 / q.rho);
        if p.t >= t0 {
            self.anchor = Some(self.anchor_at(s, &q, p));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Claims evaluated at the end
// ---------------------------------------------------------------------------------------

/// Where an end-point claim about minimizers is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// The minimizer nearest the end point ([`nearest_minimizer`]).
    Minimizer,
    /// The raw end point (not a minimizer unless converged; catalog §5 counterexample 7).
    End,
    /// The balanced minimizer `W^bal` ([`balanced_minimizer`]).
    Balanced,
}

/// The statements of paper 002 checked once, at the final time (`ρ = κn`, `‖p‖ = 1`,
/// `LB = 2ρLa‖w*‖^{2−2/L}`, `UB = 2ρ‖w*‖^{2−2/L}√((2L−1)Λ² + (L−1)²a²)`, `S` the sharpness
/// of `∇²L`), each with a `factor` (default 1) multiplying its bound:
///
/// | id | result | statement |
/// |---|---|---|
/// | `mc24.thm2.lower_uniform` | Thm 2 (2nd lower) / Thm 1 | `S(W) ≥ LB` at a minimizer |
/// | `mc24.thm2.lower_per_minimizer` | Thm 2 (1st lower, per minimizer) | `S(W) ≥ 2ρa‖w*‖^{2−1/L}Σ_k 1/‖W_k‖_F` |
/// | `mc24.thm2.printed_lower_norms` | Thm 2 (1st lower, as printed) | `S_min ≥ 2ρa‖w*‖^{2−1/L}Σ_k 1/‖W_k‖_F`, refuted when the bound exceeds `S(W^bal) ≥ S_min` |
/// | `mc24.thm2.upper` | Thm 2 (upper) / Thm 1 | `S(W^bal) ≤ UB`, so `S_min ≤ UB` |
/// | `mc24.thm2_proof.balanced_sharpness` | Thm 2 proof (B.2) | `S(W^bal) = 2ρ‖w*‖^{2−2/L}λ_max(Σ̂ + (L−1)qqᵀ)` (identity) |
/// | `mc24.thm2_proof.minimizer_closed_form` | Thm 2 proof (B.1) | at a minimizer `S = 2ρσ_max(FΣ̂^{1/2})²` (identity) |
/// | `mc24.cor1.spectral_band` | Corollary 1 | `(‖w*‖/2)^{1/L} ≤ σ_k ≤ (2‖w*‖)^{1/L}` |
/// | `mc24.cor1.alignment` | Cor 1 proof (B.5) | `1 − ⟨v_{k+1}, u_k⟩² ≤ ε(2/‖w*‖)^{2/L}` |
/// | `mc24.cor1.rank_one_product` | Cor 1 proof (B.5) | `‖w_prod − ∏σ_k v_1∏⟨u_k,v_{k+1}⟩u_L‖ ≤ L√ε(2/‖w*‖)^{1/L}∏σ_k` |
/// | `mc24.cor1.product_norm` | Cor 1 proof (B.5) | `(3/4)∏σ_k ≤ ‖w_prod‖` |
/// | `mc24.cor1.first_layer_angle` | Cor 1 (derived, catalog) | `sin∠(v_1, w_prod) ≤ (4/3)L√ε(2/‖w*‖)^{1/L}` |
/// | `mc24.cor2.proof_bound` | Cor 2 proof (B.6) | `S(W^SI) ≤ 8ρLΛ‖w*‖^{2−2/L}` |
/// | `mc24.cor2.ratio_via_lower_bound` | Corollary 2 (sufficient) | `S(W^SI) ≤ 4(Λ/λ)·LB` |
/// | `mc24.cor2.ratio_via_balanced` | Corollary 2 (necessary) | `S(W^SI) ≤ 4(Λ/λ)·S(W^bal)` |
/// | `mc24.cor2_proof.layer_norm_bound` | Cor 2 proof (B.6) / Cor 3 (derived) | `S(W) ≤ 2ρΛΣ_k‖W_L⋯W_{k+1}‖²‖W_{k−1}⋯W_1‖²` at a minimizer |
///
/// Corollaries 1 and 2 (`W^SI = lim W(t)`) are evaluated at the end point (Cor 1) or at the
/// minimizer nearest it (Cor 2) only when it has converged (parameter `gap_tol`, default
/// [`GAP_TOL`], on `(L − L_min)/(L_0 − L_min)`). Parameters `point` (`"minimizer"`, `"end"`,
/// `"balanced"`) and `rescale` (`C`: evaluate at `W^C = (CW_1, W_2/C, …)`, catalog U2) choose
/// the point of the claims about minimizers.
pub struct EndClaim {
    kind: End,
    factor: f64,
    at: At,
    rescale: f64,
    gap_tol: f64,
    q: Option<Quantities>,
}

claim_kinds! {
    /// Kinds of [`EndClaim`].
    enum End => EndClaim {
        T2b,
        T2a,
        T2aPrinted,
        T2c,
        BalancedIdentity,
        ClosedForm,
        Cor1Band,
        Cor1Alignment,
        Cor1RankOne,
        Cor1ProductNorm,
        Cor1Angle,
        Cor2Proof,
        Cor2ViaLower,
        Cor2ViaBalanced,
        LayerNormBound,
    }
}

impl End {
    fn id(self) -> &'static str {
        match self {
            End::T2b => "mc24.thm2.lower_uniform",
            End::T2a => "mc24.thm2.lower_per_minimizer",
            End::T2aPrinted => "mc24.thm2.printed_lower_norms",
            End::T2c => "mc24.thm2.upper",
            End::BalancedIdentity => "mc24.thm2_proof.balanced_sharpness",
            End::ClosedForm => "mc24.thm2_proof.minimizer_closed_form",
            End::Cor1Band => "mc24.cor1.spectral_band",
            End::Cor1Alignment => "mc24.cor1.alignment",
            End::Cor1RankOne => "mc24.cor1.rank_one_product",
            End::Cor1ProductNorm => "mc24.cor1.product_norm",
            End::Cor1Angle => "mc24.cor1.first_layer_angle",
            End::Cor2Proof => "mc24.cor2.proof_bound",
            End::Cor2ViaLower => "mc24.cor2.ratio_via_lower_bound",
            End::Cor2ViaBalanced => "mc24.cor2.ratio_via_balanced",
            End::LayerNormBound => "mc24.cor2_proof.layer_norm_bound",
        }
    }

    fn result(self) -> &'static str {
        match self {
            End::T2b => "Theorem 2 (second lower bound) / Theorem 1 (lower bound)",
            End::T2a => "Theorem 2 (first lower bound, read per minimizer)",
            End::T2aPrinted => "Theorem 2 (first lower bound, as printed)",
            End::T2c => "Theorem 2 (upper bound) / Theorem 1 (upper bound)",
            End::BalancedIdentity => "Theorem 2 proof (B.2): sharpness of W^bal (catalog §2.4)",
            End::ClosedForm => "Theorem 2 proof (B.1): H = 2ρJᵀΣ̂J at minimizers (catalog §2.4)",
            End::Cor1Band => "Corollary 1",
            End::Cor1Alignment => "Corollary 1 proof (B.5): alignment",
            End::Cor1RankOne => "Corollary 1 proof (B.5): rank-one product error",
            End::Cor1ProductNorm => "Corollary 1 proof (B.5): (3/4)∏σ_k ≤ ‖w_prod‖",
            End::Cor1Angle => "Corollary 1 (derived in the catalog): first-layer alignment",
            End::Cor2Proof => "Corollary 2 proof (B.6): S(W^SI) ≤ 8LΛ‖w*‖^{2−2/L}",
            End::Cor2ViaLower => "Corollary 2 (sufficient form S/LB ≤ 4Λ/λ)",
            End::Cor2ViaBalanced => "Corollary 2 (necessary form S/S(W^bal) ≤ 4Λ/λ)",
            End::LayerNormBound => "Corollary 2 proof (B.6) / Corollary 3 (derived in the catalog)",
        }
    }

    fn known(self) -> &'static [&'static str] {
        match self {
            End::T2b | End::T2a | End::LayerNormBound => &["factor", "point", "rescale"],
            End::T2aPrinted => &["point", "rescale"],
            End::ClosedForm => &["factor", "point", "rescale"],
            End::T2c | End::BalancedIdentity => &["factor"],
            End::Cor2Proof | End::Cor2ViaLower | End::Cor2ViaBalanced => {
                &["factor", "rescale", "gap_tol"]
            }
            _ => &["factor", "gap_tol"],
        }
    }

    fn form(self) -> Form {
        match self {
            End::BalancedIdentity | End::ClosedForm => Form::Identity,
            _ => Form::Inequality,
        }
    }

    fn limit_of_flow(self) -> bool {
        matches!(
            self,
            End::Cor1Band
                | End::Cor1Alignment
                | End::Cor1RankOne
                | End::Cor1ProductNorm
                | End::Cor1Angle
                | End::Cor2Proof
                | End::Cor2ViaLower
                | End::Cor2ViaBalanced
        )
    }
}

impl EndClaim {
    fn build(kind: End, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new(kind.id(), p, kind.known())?;
        let at = pr.choice(
            "point",
            "minimizer",
            &[
                ("minimizer", At::Minimizer),
                ("end", At::End),
                ("balanced", At::Balanced),
            ],
        )?;
        let rescale = pr.f64("rescale", 1.0)?;
        if rescale == 0.0 {
            return Err(GradflowError::Config(format!(
                "claim {}: rescale = 0: must be nonzero",
                kind.id()
            )));
        }
        let gap_tol = pr.f64("gap_tol", GAP_TOL)?;
        Ok(Box::new(Self {
            kind,
            factor: pr.f64("factor", 1.0)?,
            at,
            rescale,
            gap_tol,
            q: None,
        }))
    }

    fn quantities(&mut self, s: &Setting) -> Quantities {
        self.q.get_or_insert_with(|| Quantities::new(s)).clone()
    }

    fn point_text(&self) -> String {
        let base = match self.at {
            At::Minimizer => "the minimizer nearest the end point",
            At::End => "the raw end point W(T) (ungated)",
            At::Balanced => "the balanced minimizer W^bal",
        };
        if self.rescale == 1.0 {
            base.into()
        } else {
            format!("W^C (C = {}) of {base}", self.rescale)
        }
    }

    fn statement(&self) -> String {
        let f = self.factor;
        let at = self.point_text();
        let gate = format!(
            "evaluated when (L − L_min)/(L_0 − L_min) ≤ {:e} at the end",
            self.gap_tol
        );
        match self.kind {
            End::T2b => format!("S(W) ≥ {f}·2ρLa‖w*‖^{{2−2/L}} at W = {at}"),
            End::T2a => format!("S(W) ≥ {f}·2ρa‖w*‖^{{2−1/L}} Σ_k 1/‖W_k‖_F at W = {at}"),
            End::T2aPrinted => format!(
                "(as printed) S_min ≥ 2ρa‖w*‖^{{2−1/L}} Σ_k 1/‖W_k‖_F for W = {at}; checked \
                 through S_min ≤ S(W^bal): the bound must not exceed S(W^bal)"
            ),
            End::T2c => format!("S_min ≤ S(W^bal) ≤ {f}·2ρ‖w*‖^{{2−2/L}}√((2L−1)Λ² + (L−1)²a²)"),
            End::BalancedIdentity => format!(
                "S(W^bal) (dense Hessian) = {f}·2ρ‖w*‖^{{2−2/L}} λ_max(Σ̂ + (L−1)qqᵀ), q = \
                 Σ̂^{{1/2}}w*/‖w*‖"
            ),
            End::ClosedForm => format!(
                "S(W) (dense Hessian) = {f}·2ρσ_max(FΣ̂^{{1/2}})², F = [‖b_k‖A_k]_k, at W = {at}"
            ),
            End::Cor1Band => {
                format!("for every k: (‖w*‖/2)^{{1/L}}·{f} ≤ σ_k(T) ≤ (2‖w*‖)^{{1/L}}/{f}; {gate}")
            }
            End::Cor1Alignment => {
                format!("for k < L: 1 − ⟨v_{{k+1}}(T), u_k(T)⟩² ≤ {f}·ε(2/‖w*‖)^{{2/L}}; {gate}")
            }
            End::Cor1RankOne => format!(
                "‖w_prod − σ_1⋯σ_L v_1∏_{{k<L}}⟨u_k, v_{{k+1}}⟩u_L‖ ≤ {f}·L√ε(2/‖w*‖)^{{1/L}}∏σ_k \
                 at T; {gate}"
            ),
            End::Cor1ProductNorm => format!("{f}·(3/4)∏_k σ_k(T) ≤ ‖w_prod(T)‖; {gate}"),
            End::Cor1Angle => {
                format!("sin∠(v_1(T), w_prod(T)) ≤ {f}·(4/3)L√ε(2/‖w*‖)^{{1/L}}; {gate}")
            }
            End::Cor2Proof => format!("S(W^SI) ≤ {f}·8ρLΛ‖w*‖^{{2−2/L}}, W^SI ≈ {at}; {gate}"),
            End::Cor2ViaLower => format!(
                "S(W^SI) ≤ {f}·4(Λ/λ)·2ρLa‖w*‖^{{2−2/L}} (implies S(W^SI)/S_min ≤ 4Λ/λ), W^SI ≈ \
                 {at}; {gate}"
            ),
            End::Cor2ViaBalanced => format!(
                "S(W^SI) ≤ {f}·4(Λ/λ)·S(W^bal) (a violation refutes S(W^SI)/S_min ≤ 4Λ/λ, since \
                 S_min ≤ S(W^bal)), W^SI ≈ {at}; {gate}"
            ),
            End::LayerNormBound => {
                format!("S(W) ≤ {f}·2ρΛ Σ_k ‖W_L⋯W_{{k+1}}‖_2² ‖W_{{k−1}}⋯W_1‖_2² at W = {at}")
            }
        }
    }

    /// The point of a claim about minimizers, and whether it is a minimizer.
    fn point(&self, s: &Setting, q: &Quantities, y: &[f64]) -> Option<(Vec<f64>, bool)> {
        let (base, minimizer) = match self.at {
            At::Minimizer => (nearest_minimizer(s, y)?, true),
            At::End => (y.to_vec(), false),
            At::Balanced => (balanced_minimizer(s, q)?, true),
        };
        if self.rescale == 1.0 {
            Some((base, minimizer))
        } else {
            Some((rescaled(s, &base, self.rescale)?, minimizer))
        }
    }

    fn converged(&self, s: &Setting, q: &Quantities, y: &[f64]) -> bool {
        q.relative_gap(s, &s.theta(y)) <= self.gap_tol
    }
}

impl Claim for EndClaim {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(self.kind.id(), PAPER, self.kind.result(), self.statement())
            .at_end()
            .with_form(self.kind.form())
            .printed((self.kind == End::T2aPrinted).then_some(
                "the right-hand side depends on a minimizer W, and as a bound on S_min it fails \
                 for unbalanced minimizers (a small ‖W_k‖_F makes it exceed S(W^bal) ≥ S_min); \
                 the bound holds per minimizer, S(W) ≥ 2a‖w*‖^{2−1/L}‖p‖^{1/L}Σ_k 1/‖W_k‖_F \
                 (catalog 002, typos 1)",
            ))
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        if self.kind == End::LayerNormBound {
            // any widths and outputs: a bound on the Gauss–Newton part at a minimizer
            return Vec::new();
        }
        let q = Quantities::new(s);
        let mut h = vec![hyp_univariate(s), hyp_wstar(&q)];
        if self.kind.limit_of_flow() {
            if matches!(self.kind, End::Cor1Alignment) {
                h.push(hyp_depth2(s));
            }
            h.extend(hyp_a1(&q));
            h.extend(hyp_a2(s, &q));
        }
        h
    }

    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let q = self.quantities(s);
        let np = s.params();
        let y = &p.y[..np];
        let l = s.shape.depth();
        let lf = l as f64;
        let f = self.factor;
        let univariate = s.shape.output() == 1 && q.wstar_norm > 0.0;
        if self.kind.limit_of_flow() && !self.converged(s, &q, y) {
            return None;
        }
        // statements about the final state (or a point computed from it: the nearest
        // minimizer, a rescaling): the state's accumulated error enters through the
        // statement's sensitivity at the end (the nearest minimizer can be ill-conditioned:
        // on a rank-deficient run, n = 2, d = 6, q = 3, Corollary 2's bound at it changed
        // 2.6× between rtol 5e-10 and 5e-12, against a round-off budget of 1e-3)
        let ineq = |lhs: f64, rhs: f64, scale: f64| {
            Some(Statement {
                lhs,
                rhs,
                budget: Budget::Propagated { scale },
            })
        };
        match self.kind {
            End::T2b | End::T2a | End::T2aPrinted => {
                if !univariate {
                    return None;
                }
                let (th, _) = self.point(s, &q, y)?;
                let bound = if self.kind == End::T2b {
                    q.lower_bound(l)
                } else {
                    let inv: f64 = layers(s, &th).iter().map(|w| 1.0 / w.norm()).sum();
                    2.0 * q.rho * q.a * q.wstar_norm.powf(2.0 - 1.0 / lf) * inv
                };
                if self.kind == End::T2aPrinted {
                    let sbal = q.balanced_sharpness(s, l);
                    return ineq(bound, sbal, bound + sbal);
                }
                let (sh, fro) = sharpness(gf, &th);
                ineq(f * bound, sh, fro + f * bound)
            }
            End::T2c | End::BalancedIdentity => {
                if !univariate {
                    return None;
                }
                let th = balanced_minimizer(s, &q)?;
                let (sh, fro) = sharpness(gf, &th);
                if self.kind == End::T2c {
                    let ub = f * q.upper_bound(l);
                    ineq(sh, ub, fro + ub)
                } else {
                    ineq(sh, f * q.balanced_sharpness(s, l), fro)
                }
            }
            End::ClosedForm => {
                if !univariate {
                    return None;
                }
                let (th, _) = self.point(s, &q, y)?;
                let (sh, fro) = sharpness(gf, &th);
                ineq(sh, f * sharpness_closed_form(s, &q, &th), fro)
            }
            End::Cor1Band
            | End::Cor1Alignment
            | End::Cor1RankOne
            | End::Cor1ProductNorm
            | End::Cor1Angle => {
                if !univariate {
                    return None;
                }
                let tops: Vec<Top> = layers(s, y).iter().map(top).collect::<Option<_>>()?;
                let prod: f64 = tops.iter().map(|t| t.sigma).product();
                let w = s.theta(y).column(0).into_owned();
                let up = (2.0 / q.wstar_norm).powf(1.0 / lf);
                match self.kind {
                    End::Cor1Band => {
                        let lo = f * (q.wstar_norm / 2.0).powf(1.0 / lf);
                        let hi = (2.0 * q.wstar_norm).powf(1.0 / lf) / f;
                        // the tightest of the 2L inequalities lo ≤ σ_k, σ_k ≤ hi
                        let (mut lhs, mut rhs) = (lo, f64::INFINITY);
                        for t in &tops {
                            if t.sigma - lo < rhs - lhs {
                                (lhs, rhs) = (lo, t.sigma);
                            }
                            if hi - t.sigma < rhs - lhs {
                                (lhs, rhs) = (t.sigma, hi);
                            }
                        }
                        ineq(lhs, rhs, hi)
                    }
                    End::Cor1Alignment => {
                        if l < 2 {
                            return None;
                        }
                        let lhs = (0..l - 1)
                            .map(|k| misalignment(&tops[k].u, &tops[k + 1].v))
                            .fold(0.0, f64::max);
                        ineq(lhs, f * q.eps * up * up, 1.0)
                    }
                    End::Cor1RankOne => {
                        let mut coef = prod * tops[l - 1].u[0];
                        for k in 0..l - 1 {
                            coef *= tops[k].u.dot(&tops[k + 1].v);
                        }
                        let lhs = (&w - &tops[0].v * coef).norm();
                        let rhs = f * lf * q.eps.sqrt() * up * prod;
                        ineq(lhs, rhs, w.norm() + prod)
                    }
                    End::Cor1ProductNorm => ineq(f * 0.75 * prod, w.norm(), w.norm() + prod),
                    _ => {
                        let wn = w.norm();
                        if wn == 0.0 {
                            return None;
                        }
                        let sin = misalignment(&(&w / wn), &tops[0].v).sqrt();
                        ineq(sin, f * 4.0 / 3.0 * lf * q.eps.sqrt() * up, 1.0)
                    }
                }
            }
            End::Cor2Proof | End::Cor2ViaLower | End::Cor2ViaBalanced => {
                if !univariate {
                    return None;
                }
                let (th, _) = self.point(s, &q, y)?;
                let (sh, fro) = sharpness(gf, &th);
                let ratio = 4.0 * q.lambda_max / q.lambda_min;
                let bound = f * match self.kind {
                    End::Cor2Proof => {
                        8.0 * q.rho * lf * q.lambda_max * q.wstar_norm.powf(2.0 - 2.0 / lf)
                    }
                    End::Cor2ViaLower => ratio * q.lower_bound(l),
                    _ => ratio * q.balanced_sharpness(s, l),
                };
                ineq(sh, bound, fro + bound)
            }
            End::LayerNormBound => {
                let (th, _) = self.point(s, &q, y)?;
                let ws = layers(s, &th);
                let pre = prefixes(&ws, s.shape.input());
                let suf = suffixes(&ws, s.shape.output());
                let sum: f64 = (1..=l)
                    .map(|k| spectral_norm(&suf[k]).powi(2) * spectral_norm(&pre[k - 1]).powi(2))
                    .sum();
                let bound = f * 2.0 * q.rho * q.lambda_max * sum;
                let (sh, fro) = sharpness(gf, &th);
                ineq(sh, bound, fro + bound)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sharpness along the run: gradient descent's stability line and progressive sharpening
// ---------------------------------------------------------------------------------------

/// Default gate of [`CurvatureClaim`]'s `gd_stable_minimum`: `‖∇L(θ_T)‖ ≤ 1e-6 ‖∇L(θ_0)‖`.
pub const GRAD_TOL: f64 = 1e-6;

/// Statements about the sharpness `S = λ_max(∇²L)` along a run, checked once at the end
/// (sharpness by Lanczos, [`sharpness`]; `factor` f, default 1, multiplies the bound):
///
/// | id | result | statement |
/// |---|---|---|
/// | `mc24.u4.gd_stable_minimum` | unnumbered claim U4 / eq. (1), edge of stability | a point gradient descent converges to has `S(θ_T) ≤ f·2/η` |
/// | `mc24.u5.progressive_sharpening` | unnumbered claim U5 | from small initialisation, `f·S(W(0)) ≤ S(W(T))` at convergence |
/// | `mc24.fig1d.eos_plateau` | Fig. 1b/1d (experimental), catalog §5 counterexample 3 | once GD has reached the edge of stability, `|ηS(θ_T)/2 − 1| ≤ band` |
///
/// **U4** (the heuristic "GD solves min R s.t. S ≤ 2/η" of eq. (1), Damian et al. 2023,
/// rests on this fact; catalog §5 counterexample 3). The GD map `θ ↦ θ − η∇L(θ)` has
/// Jacobian `I − η∇²L(θ*)` at a critical point `θ*`, with eigenvalue `1 − ηS` along the top
/// eigenvector: `|1 − ηS| > 1` when `ηS > 2`, so `θ*` is linearly unstable and GD converges
/// to it only from a measure-zero set of starting points (stable-manifold theorem). So a
/// run that converges has `ηS(θ*) ≤ 2`. The run's convention needs no conversion (`η` and
/// `S` are both of the run's `L`). Checked at `θ_T`, the approximation of `θ* = lim θ_j`,
/// when the run has converged: final hypothesis `‖∇L(θ_T)‖ ≤ grad_tol·‖∇L(θ_0)‖` (parameter
/// `grad_tol`, default [`GRAD_TOL`]; a run oscillating at the edge of stability fails it).
/// Hypothesis: the run is gradient descent. With the uniform lower bound of Theorem 2
/// (`S ≥ LB` at every minimizer) it gives U4's critical learning rate: GD with `η > 2/LB`
/// cannot converge to a global minimizer.
///
/// **U5** ("S(W(0)) can be made arbitrarily small via the init scale, while
/// S(W^SI) = Θ(L)": progressive sharpening, no monotonicity claimed). Derived support: at
/// the limit `S(W^SI) ≥ LB = 2ρLa‖w*‖^{2−2/L}` (Theorem 2), while for `L ≥ 3` every block
/// of `∇²L(W(0))` carries at least `L − 2` factors of size `O(√ε)`, so
/// `S(W(0)) = O(ρΛ‖w*‖ L ε^{(L−2)/2})` — under A2 (`√ε ≤ 1/(32L)`) far below `LB` unless
/// `Λ/a` is large. Hypotheses: `q = 1`, `L ≥ 3`, A1, A2; final hypothesis: the end point has
/// converged, `(L − L_min)/(L_0 − L_min) ≤ gap_tol` (default [`GAP_TOL`]). `S(W(T))` stands
/// for `S(W^SI)`.
///
/// **Edge of stability** (Fig. 1d: with η = 0.1 "the network enters EoS: sharpness
/// oscillates around 2/η"; Fig. 1b: the final sharpness "plateaus at 2/η"; Cohen et al.
/// 2021). An experimental statement, not a theorem: once GD's sharpness has reached the line
/// `ηS = 2`, it stays there — at the end `|ηS(θ_T)/2 − 1| ≤ band` (parameter `band`, default
/// [`EOS_BAND`]). The claim measures `ηS(θ_j)` by Lanczos every `every` steps (default
/// [`EOS_EVERY`], warm-started) to test its final hypothesis, "GD reached the edge:
/// `max_j ηS(θ_j) ≥ 2`"; hypothesis: the run is gradient descent. A catapult (GD starting
/// far above the line and landing well below it) is a genuine counterexample.
pub struct CurvatureClaim {
    kind: Curv,
    factor: f64,
    grad_tol: f64,
    gap_tol: f64,
    band: f64,
    every: u64,
    max_eta_s: f64,
    warm: Option<Vec<f64>>,
    q: Option<Quantities>,
}

/// Why `mc24.fig1d.eos_plateau` is an observation, not a theorem (catalog 002 §4, Fig. 1b/1d:
/// the plateau of the final sharpness at `2/η` is a trend of averaged runs). GD started above
/// the stability line (`ηS(θ_0) > 2`) is thrown out of the sharp region (a catapult) and may
/// settle in a flatter basin far below the line: random runs with `ηS(θ_0) = 2.08` and `2.45`
/// ended at `ηS(θ_T) = 1.54` and `1.07`, each reproduced step by step — true counterexamples
/// to the observation, not numerical artefacts.
pub const EOS_EMPIRICAL: &str = "an experimental trend of Fig. 1b/1d, not a theorem: GD started \
    above the stability line can catapult into a flatter basin and end with ηS well below 2";

/// Default half-width of the band around `ηS = 2` of `mc24.fig1d.eos_plateau`.
pub const EOS_BAND: f64 = 0.05;

/// Default interval (in steps) of the sharpness evaluations of `mc24.fig1d.eos_plateau`.
pub const EOS_EVERY: u64 = 10;

claim_kinds! {
    /// Kinds of [`CurvatureClaim`].
    enum Curv => CurvatureClaim {
        GdStable,
        Sharpening,
        EosPlateau,
    }
}

impl Curv {
    fn id(self) -> &'static str {
        match self {
            Curv::GdStable => "mc24.u4.gd_stable_minimum",
            Curv::Sharpening => "mc24.u5.progressive_sharpening",
            Curv::EosPlateau => "mc24.fig1d.eos_plateau",
        }
    }

    fn result(self) -> &'static str {
        match self {
            Curv::GdStable => {
                "unnumbered claim U4 / eq. (1): edge of stability, S ≤ 2/η at a GD limit"
            }
            Curv::Sharpening => "unnumbered claim U5: progressive sharpening from small init",
            Curv::EosPlateau => {
                "Fig. 1b/1d (experimental): GD's sharpness stays at 2/η once it reaches it"
            }
        }
    }
}

impl CurvatureClaim {
    fn build(kind: Curv, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let known: &[&str] = match kind {
            Curv::GdStable => &["factor", "grad_tol"],
            Curv::Sharpening => &["factor", "gap_tol"],
            Curv::EosPlateau => &["band", "every"],
        };
        let pr = Params::new(kind.id(), p, known)?;
        let every = pr.f64("every", EOS_EVERY as f64)?;
        if !(every >= 1.0 && every.fract() == 0.0) {
            return Err(GradflowError::Config(format!(
                "claim {}: every = {every}: expected a whole number ≥ 1",
                kind.id()
            )));
        }
        Ok(Box::new(Self {
            kind,
            factor: pr.f64("factor", 1.0)?,
            grad_tol: pr.f64("grad_tol", GRAD_TOL)?,
            gap_tol: pr.f64("gap_tol", GAP_TOL)?,
            band: pr.f64("band", EOS_BAND)?,
            every: every as u64,
            max_eta_s: f64::NEG_INFINITY,
            warm: None,
            q: None,
        }))
    }

    fn quantities(&mut self, s: &Setting) -> Quantities {
        self.q.get_or_insert_with(|| Quantities::new(s)).clone()
    }
}

impl Claim for CurvatureClaim {
    fn info(&self) -> ClaimInfo {
        let f = self.factor;
        let statement = match self.kind {
            Curv::GdStable => format!(
                "gradient descent converges only to points with S(θ*) = λ_max(∇²L(θ*)) ≤ {f}·2/η:                  S(θ_T) ≤ {f}·2/η, evaluated when ‖∇L(θ_T)‖ ≤ {:e}·‖∇L(θ_0)‖",
                self.grad_tol
            ),
            Curv::Sharpening => format!(
                "{f}·S(W(0)) ≤ S(W(T)) (sharpness by Lanczos), evaluated when \
                 (L − L_min)/(L_0 − L_min) ≤ {:e} at the end",
                self.gap_tol
            ),
            Curv::EosPlateau => format!(
                "after GD reaches the edge of stability (max_j ηS(θ_j) ≥ 2, S by Lanczos every {} \
                 steps), its sharpness stays there: |ηS(θ_T)/2 − 1| ≤ {}",
                self.every, self.band
            ),
        };
        ClaimInfo::new(self.kind.id(), PAPER, self.kind.result(), statement)
            .at_end()
            .empirical((self.kind == Curv::EosPlateau).then_some(EOS_EMPIRICAL))
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        match self.kind {
            Curv::GdStable | Curv::EosPlateau => vec![Hypothesis::flag(
                "the run is gradient descent (method gd)",
                s.cfg.method == Method::Gd,
            )],
            Curv::Sharpening => {
                let q = Quantities::new(s);
                let mut h = vec![hyp_univariate(s), hyp_wstar(&q), hyp::depth_at_least(s, 3)];
                h.extend(hyp_a1(&q));
                h.extend(hyp_a2(s, &q));
                h
            }
        }
    }

    fn final_hypotheses(
        &self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        let np = s.params();
        match self.kind {
            Curv::GdStable => {
                let norm = |g: Vec<f64>| g.iter().map(|v| v * v).sum::<f64>().sqrt();
                let gn = norm(super::gradient_at(s, gf, p.y));
                let g0n = norm(super::gradient_at(s, gf, &s.theta0));
                vec![
                    Hypothesis::new(
                        "GD has converged: ‖∇L(θ_T)‖/‖∇L(θ_0)‖ ≤ grad_tol",
                        match (g0n > 0.0, gn > 0.0) {
                            (true, _) => gn / g0n,
                            (false, false) => 0.0,
                            (false, true) => f64::INFINITY,
                        },
                        Relation::Le,
                        self.grad_tol,
                    ),
                    // a small gradient also holds on a saddle plateau, which GD leaves
                    super::second_order_hypothesis(gf, &p.y[..np], "GD has converged"),
                ]
            }
            Curv::Sharpening => {
                let q = Quantities::new(s);
                vec![Hypothesis::new(
                    "the end point has converged: (L − L_min)/(L_0 − L_min) ≤ gap_tol",
                    q.relative_gap(s, &s.theta(p.y)),
                    Relation::Le,
                    self.gap_tol,
                )]
            }
            Curv::EosPlateau => {
                let lr = s.cfg.lr.unwrap_or(f64::NAN);
                let (st, _) = sharpness(gf, &p.y[..np]);
                vec![Hypothesis::new(
                    "GD reached the edge of stability: max_j η·S(θ_j) ≥ 2",
                    self.max_eta_s.max(lr * st),
                    Relation::Ge,
                    2.0,
                )]
            }
        }
    }

    fn advance(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) {
        if self.kind != Curv::EosPlateau || !p.step.is_multiple_of(self.every) {
            return;
        }
        let Some(lr) = s.cfg.lr else {
            return;
        };
        let np = s.params();
        let theta = &p.y[..np];
        let eig = lanczos(
            np,
            |v, out| gf.hvp(theta, v, out),
            self.warm.as_deref(),
            &LanczosOptions::default(),
        );
        self.max_eta_s = self.max_eta_s.max(lr * eig.max());
        self.warm = eig.top_vectors.into_iter().next();
    }

    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let np = s.params();
        let f = self.factor;
        let (st, sc) = sharpness(gf, &p.y[..np]);
        match self.kind {
            Curv::GdStable => {
                let lr = s.cfg.lr?;
                let bound = f * 2.0 / lr;
                Some(Statement {
                    lhs: st,
                    rhs: bound,
                    budget: Budget::RoundOff { scale: sc + bound },
                })
            }
            Curv::EosPlateau => {
                let lr = s.cfg.lr?;
                Some(Statement {
                    lhs: (lr * st / 2.0 - 1.0).abs(),
                    rhs: self.band,
                    budget: Budget::RoundOff {
                        scale: lr * sc / 2.0 + 1.0,
                    },
                })
            }
            Curv::Sharpening => {
                let q = self.quantities(s);
                if q.wstar_norm == 0.0 {
                    return None;
                }
                let (s0, sc0) = sharpness(gf, &s.theta0[..np]);
                Some(Statement {
                    lhs: f * s0,
                    rhs: st,
                    budget: Budget::RoundOff {
                        scale: f.abs() * sc0 + sc,
                    },
                })
            }
        }
    }
}
