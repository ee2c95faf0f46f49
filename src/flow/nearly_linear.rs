//! Paper 001 (Golikov, "A Generalization Bound for Nearly-Linear Networks"): the scalars of
//! Theorem 5.2 (catalog 001 §2.8), the state layout of the joint ("twin") integration of the
//! leaky-ReLU trajectory `θ^ε(t)` with its linear twin `θ⁰(t)`, and the comparison ODEs of the
//! bound functions integrated alongside.
//!
//! Twin state (`p` weights): `[θ^ε (p), I (1), θ⁰ (p), u, v, v_printed, v_repaired, g₁, g₂]`.
//! The first `p + 1` entries are the plain gradient-flow state (`I = ∫‖R^ε‖_F dt`), so every
//! reader of `[θ, I]` sees the trained network. Both weight blocks start at `θ(0)`.
//!
//! Time. The paper's loss is `𝓛 = (1/2m)‖Y − f(X̃)‖²` (`half_mean`); a run with
//! `L = κ‖F − Y‖²` has `∇L = λ∇𝓛`, `λ = 2κn`, so it is the paper's flow at time `τ = λt`,
//! and each comparison ODE below is integrated as `d/dt = λ·d/dτ`.
//!
//! Comparison ODEs (paper time `τ`):
//! - `du/dτ = s̄ u^{L−1}`, `u(0) = β̄` (eq. (9); closed form [`BoundScalars::u`]);
//! - `dv/dτ = v[(1 + (L−1)ρ)u^{2L−2} + (L−1)s̄u^{L−2}] + (L−1)u^{L−1}[1̄ + ρu^L]` (eq. (88);
//!   L = 2: eq. (40)/(62)), integrated twice: `v(0) = 0` (the ODE's own solution, = eq. (10)
//!   with lower limit `w(β̄)`) and `v_printed(0) = v₁₀(0)` of eq. (10) as printed (lower limit
//!   `w(β)`, [`BoundScalars::v_printed_initial`]); the two coincide when `β̄ = β`;
//! - `dv_rep/dτ = v_rep[(L−1)s̄u^{L−2} + ρ(1 + (L−1)ρ)u^{2L−2}] + (L−1)ρu^{L−1}[1̄ + ρu^L]`,
//!   `v_rep(0) = 0`: the catalog's candidate repair of the dropped factor ρ (eq. (61)/(88)
//!   bound `‖W_1X̃‖_F` by `√m u` instead of `√m ρu`; L = 2: `dv/dτ = v[s̄ + ρ(1+ρ)u²] + ρu(1̄ + ρu²)`),
//!   not re-derived term by term;
//! - `dg₁/dτ = s̄² g₂^{L−1}`, `dg₂/dτ = g₁ g₂^{L−2}`, `g₁(0) = βs̄_ρ`, `g₂(0) = β` (eqs. (35)–(37),
//!   (73)): `‖W_l(τ)‖ ≤ g₂(τ)` for `l ≥ 2`.
//!
//! Optionally (`sensitivity: true`) the state ends with `V = ∂θ^ε/∂ε` (`p` entries, `V(0) = 0`),
//! `dV/dt = −∇²L(θ^ε)·V − ∂_ε∇L(θ^ε)` at the current activation pattern (catalog 001 §2.3's
//! sensitivity ODE; switching/saltation terms across kinks are ignored, as in the paper), for
//! Lemma 7.1's D1/D2 directly.
//!
//! `v` grows super-exponentially (`∝ e^{u^L/ŝ}`) and, for `L ≥ 3`, `u` blows up at
//! `T_blow`; a scalar whose value reaches [`SCALAR_CAP`] is frozen there (its derivative is set
//! to zero), and claims read a frozen bound as vacuous (`+∞`, not evaluated).

use serde::{Deserialize, Serialize};

use crate::error::GradflowError;
use crate::model::net::Shape;

/// Value of `v` (any variant) at which it is frozen (the bound is vacuous beyond it).
pub const SCALAR_CAP: f64 = 1e200;
/// Value of `u` at which every comparison scalar is frozen: for `L ≥ 3`, `u ∝ 1/(T_blow − τ)`
/// cannot be followed to `SCALAR_CAP` in floating-point time, and a bound with `u ≥ 10⁸` is
/// vacuous anyway.
pub const U_CAP: f64 = 1e8;

/// Number of comparison scalars in the twin state.
pub const NUM_SCALARS: usize = 6;

/// Index of a comparison scalar in the twin state (after `θ⁰`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// `u(τ)`.
    U = 0,
    /// `v(τ)` with `v(0) = 0` (eq. (88)'s solution).
    V = 1,
    /// `v(τ)` of eq. (10) as printed (lower limit `w(β)`).
    VPrinted = 2,
    /// The candidate repaired `v` (factor ρ restored).
    VRepaired = 3,
    /// `g₁(τ)`.
    G1 = 4,
    /// `g₂(τ)`.
    G2 = 5,
}

/// Overrides of the bound's parameters (the `bound` field of a `leaky_relu` model). Each
/// default is the run's own value: `epsilon` the network's ε, `beta = max_l ‖W_l(0)‖₂`,
/// `rho = ‖W_1(0)‖_F/‖W_1(0)‖₂`. `s_one` is App. A.1's assumption-free variant (`s` replaced
/// by 1, valid without Assumption 5.1); `sqrt_rho` uses Theorem 5.2's printed `ε√r` in `s̄_r`
/// instead of the reconstructed `εr` (catalog §2.8, §6 item 2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundSpec {
    /// `ε` of the scalars (a value below the network's is the "wrong nonlinearity" variant,
    /// catalog §5.3 scenario 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// `β`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// `ρ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Replace `s` by 1 (App. A.1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub s_one: bool,
    /// Printed `√r` reading of `s̄_r`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sqrt_rho: bool,
}

/// The scalars of Theorem 5.2 (catalog 001 §2.8), with the reconstructed linear `r` in `s̄_r`
/// unless built with the printed `√r` reading:
/// `1̄ = 1 + ρβ^L`, `s̄_r = (1−ε)(s + ρβ^L) + ε r (L−1)(1 + ρβ^L)`, `s̄ = s̄_1`,
/// `ŝ = L s̄/(1 + (L−1)ρ)`, `β̄ = β s̄_ρ/s̄_1`, and `u(τ) = β̄ e^{s̄τ}` (`L = 2`),
/// `u(τ) = (β̄^{2−L} − (L−2)s̄τ)^{1/(2−L)}` (`L ≥ 3`, for `τ < T_blow = β̄^{2−L}/((L−2)s̄)`),
/// the solution of `du/dτ = s̄u^{L−1}`, `u(0) = β̄` (eq. (9)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundScalars {
    /// Depth `L`.
    pub depth: usize,
    /// `s`.
    pub s: f64,
    /// `ρ`.
    pub rho: f64,
    /// `β`.
    pub beta: f64,
    /// `ε`.
    pub eps: f64,
    /// `s̄ = s̄_1`.
    pub s_bar: f64,
    /// `s̄_ρ`.
    pub s_bar_rho: f64,
    /// `β̄`.
    pub beta_bar: f64,
}

impl BoundScalars {
    /// The scalars for depth `L`, data scalar `s`, `ρ`, `β` and `ε` (linear-`r` reading).
    pub fn new(depth: usize, s: f64, rho: f64, beta: f64, eps: f64) -> Self {
        Self::with_reading(depth, s, rho, beta, eps, false)
    }
    /// As [`Self::new`]; `sqrt_rho` selects the printed `ε√r(L−1)(1+ρβ^L)` term of `s̄_r`.
    pub fn with_reading(
        depth: usize,
        s: f64,
        rho: f64,
        beta: f64,
        eps: f64,
        sqrt_rho: bool,
    ) -> Self {
        let l = depth as f64;
        let bl = beta.powi(depth as i32);
        let s_r = |r: f64| {
            let r = if sqrt_rho { r.sqrt() } else { r };
            (1.0 - eps) * (s + rho * bl) + eps * r * (l - 1.0) * (1.0 + rho * bl)
        };
        let s_bar = s_r(1.0);
        let s_bar_rho = s_r(rho);
        Self {
            depth,
            s,
            rho,
            beta,
            eps,
            s_bar,
            s_bar_rho,
            beta_bar: beta * s_bar_rho / s_bar,
        }
    }
    /// `1̄ = 1 + ρβ^L`.
    pub fn one_bar(&self) -> f64 {
        1.0 + self.rho * self.beta.powi(self.depth as i32)
    }
    /// `ŝ = L s̄/(1 + (L−1)ρ)`.
    pub fn s_hat(&self) -> f64 {
        let l = self.depth as f64;
        l * self.s_bar / (1.0 + (l - 1.0) * self.rho)
    }
    /// `T_blow = β̄^{2−L}/((L−2)s̄)` (`+∞` for `L = 2`).
    pub fn t_blow(&self) -> f64 {
        if self.depth <= 2 {
            f64::INFINITY
        } else {
            let l = self.depth as f64;
            self.beta_bar.powf(2.0 - l) / ((l - 2.0) * self.s_bar)
        }
    }
    /// `u(τ)`; `None` for `τ ≥ T_blow` (the bound is vacuous there).
    pub fn u(&self, tau: f64) -> Option<f64> {
        if self.depth <= 2 {
            return Some(self.beta_bar * (self.s_bar * tau).exp());
        }
        if tau >= self.t_blow() {
            return None;
        }
        let l = self.depth as f64;
        let base = self.beta_bar.powf(2.0 - l) - (l - 2.0) * self.s_bar * tau;
        Some(base.powf(1.0 / (2.0 - l)))
    }
    /// `w(b) − w(a)` for eq. (10)'s `w(x) = −(1̄/s̄)Γ((2−L)/L, x^L/ŝ) − ρ(ŝ/s̄)Γ(2/L, x^L/ŝ)`:
    /// `(1̄/s̄)∫_{z_a}^{z_b} t^{(2−L)/L − 1}e^{−t}dt + ρ(ŝ/s̄)∫_{z_a}^{z_b} t^{2/L − 1}e^{−t}dt`,
    /// `z_x = x^L/ŝ`, by composite Simpson in `ln t` (smooth integrand; no incomplete gamma of
    /// negative order needed).
    pub fn w_diff(&self, a: f64, b: f64) -> f64 {
        let l = self.depth as f64;
        let sh = self.s_hat();
        let (za, zb) = (a.powf(l) / sh, b.powf(l) / sh);
        if !(za > 0.0 && zb > 0.0) || za == zb {
            return 0.0;
        }
        let (a1, a2) = ((2.0 - l) / l, 2.0 / l);
        let (c1, c2) = (self.one_bar() / self.s_bar, self.rho * sh / self.s_bar);
        let (la, lb) = (za.ln(), zb.ln());
        let n = 2000usize;
        let h = (lb - la) / n as f64;
        let f = |sg: f64| {
            let t = sg.exp();
            (c1 * (a1 * sg).exp() + c2 * (a2 * sg).exp()) * (-t).exp()
        };
        let mut acc = f(la) + f(lb);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            acc += w * f(la + i as f64 * h);
        }
        acc * h / 3.0
    }
    /// Eq. (10) with lower limit `lower` (`β` as printed, `β̄` for the ODE's solution):
    /// `v(τ) = ((L−1)/L) ŝ^{(2−L)/L} u^{L−1} [w(u) − w(lower)] e^{u^L/ŝ}`, `u = u(τ)`.
    pub fn v_closed(&self, tau: f64, lower: f64) -> Option<f64> {
        let u = self.u(tau)?;
        Some(self.v_at(u, lower))
    }
    fn v_at(&self, u: f64, lower: f64) -> f64 {
        let l = self.depth as f64;
        let sh = self.s_hat();
        (l - 1.0) / l
            * sh.powf((2.0 - l) / l)
            * u.powf(l - 1.0)
            * self.w_diff(lower, u)
            * (u.powf(l) / sh).exp()
    }
    /// The printed eq. (10)'s value at `τ = 0`: `((L−1)/L)ŝ^{(2−L)/L}β̄^{L−1}[w(β̄) − w(β)]e^{β̄^L/ŝ} ≥ 0`.
    pub fn v_printed_initial(&self) -> f64 {
        self.v_at(self.beta_bar, self.beta)
    }
    /// `Φ_1 = L√d + 1 + (L−1)ρ`, `Φ_2 = (L−1)[(L + 1 + (L−1)ρ)√d + 2(1 + (L−1)ρ)]` (Theorem 5.2).
    pub fn phi_kappa(&self, kappa: u32, d: usize) -> f64 {
        let l = self.depth as f64;
        let sd = (d as f64).sqrt();
        let r = self.rho;
        if kappa == 1 {
            l * sd + 1.0 + (l - 1.0) * r
        } else {
            (l - 1.0) * ((l + 1.0 + (l - 1.0) * r) * sd + 2.0 * (1.0 + (l - 1.0) * r))
        }
    }
    /// Initial values of the comparison scalars (order of [`Scalar`]).
    pub fn initial(&self) -> [f64; NUM_SCALARS] {
        [
            self.beta_bar,
            0.0,
            self.v_printed_initial(),
            0.0,
            self.beta * self.s_bar_rho,
            self.beta,
        ]
    }
    /// Paper-time derivatives of the comparison scalars `c` (order of [`Scalar`]); a scalar at
    /// or beyond [`SCALAR_CAP`] (or not finite) is frozen.
    pub fn derivatives(&self, c: &[f64], out: &mut [f64]) {
        let l = self.depth as f64;
        let (r, sb, one) = (self.rho, self.s_bar, self.one_bar());
        let u = c[Scalar::U as usize];
        let ul1 = u.powf(l - 1.0);
        let ul2 = u.powf(l - 2.0);
        let a = (1.0 + (l - 1.0) * r) * ul1 * ul1 + (l - 1.0) * sb * ul2;
        let force = (l - 1.0) * ul1 * (one + r * u.powf(l));
        let a_rep = (l - 1.0) * sb * ul2 + r * (1.0 + (l - 1.0) * r) * ul1 * ul1;
        let (g1, g2) = (c[Scalar::G1 as usize], c[Scalar::G2 as usize]);
        out[Scalar::U as usize] = sb * ul1;
        out[Scalar::V as usize] = c[Scalar::V as usize] * a + force;
        out[Scalar::VPrinted as usize] = c[Scalar::VPrinted as usize] * a + force;
        out[Scalar::VRepaired as usize] = c[Scalar::VRepaired as usize] * a_rep + r * force;
        out[Scalar::G1 as usize] = sb * sb * g2.powf(l - 1.0);
        out[Scalar::G2 as usize] = g1 * g2.powf(l - 2.0);
        let frozen_u = !(u.is_finite() && u.abs() < U_CAP);
        for (o, v) in out.iter_mut().zip(c) {
            if frozen_u || !(v.is_finite() && v.abs() < SCALAR_CAP) {
                *o = 0.0;
            }
        }
    }
}

/// Where each block of a gradient-flow state lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateLayout {
    /// Number of weights `p`.
    pub params: usize,
    /// Whether the state carries the linear twin and the comparison scalars.
    pub twin: bool,
    /// Quadrature states after the weights (`I`, and `J` when the energy integral is on).
    pub extras: usize,
    /// Whether the state ends with the sensitivity `V = ∂θ^ε/∂ε` (`p` entries, needs the twin).
    pub sensitivity: bool,
}

impl StateLayout {
    /// Layout for `shape`, with or without the twin, with the one quadrature `I`.
    pub fn new(shape: &Shape, twin: bool) -> Self {
        Self {
            params: shape.num_params(),
            twin,
            extras: crate::flow::gradient::EXTRA_STATES,
            sensitivity: false,
        }
    }
    /// The same layout with (or without) the sensitivity block.
    pub fn with_sensitivity(self, sensitivity: bool) -> Self {
        Self {
            sensitivity: sensitivity && self.twin,
            ..self
        }
    }
    /// Range of the sensitivity `V = ∂θ^ε/∂ε` (after the comparison scalars).
    pub fn sensitivity_range(&self) -> Option<std::ops::Range<usize>> {
        let a = 2 * self.params + self.extras + NUM_SCALARS;
        self.sensitivity.then(|| a..a + self.params)
    }
    /// The same layout with `extras` quadrature states.
    pub fn with_extras(self, extras: usize) -> Self {
        Self { extras, ..self }
    }
    /// Total state dimension: `p + extras`, or `2p + extras + NUM_SCALARS` with the twin
    /// (`+ p` with the sensitivity).
    pub fn dim(&self) -> usize {
        if self.twin {
            2 * self.params
                + self.extras
                + NUM_SCALARS
                + if self.sensitivity { self.params } else { 0 }
        } else {
            self.params + self.extras
        }
    }
    /// Range of the linear twin's weights `θ⁰`.
    pub fn twin_range(&self) -> Option<std::ops::Range<usize>> {
        let a = self.params + self.extras;
        self.twin.then(|| a..a + self.params)
    }
    /// Range of the comparison scalars.
    pub fn scalar_range(&self) -> Option<std::ops::Range<usize>> {
        let a = 2 * self.params + self.extras;
        self.twin.then(|| a..a + NUM_SCALARS)
    }
    /// The ranges holding network weights (`θ`, and `θ⁰` with the twin): the states whose
    /// local errors the checker propagates.
    pub fn weight_ranges(&self) -> Vec<std::ops::Range<usize>> {
        std::iter::once(0..self.params)
            .chain(self.twin_range())
            .collect()
    }
    /// `V = ∂θ^ε/∂ε` of a state with the sensitivity block.
    pub fn sensitivity<'a>(&self, y: &'a [f64]) -> Option<&'a [f64]> {
        self.sensitivity_range().map(|r| &y[r])
    }
    /// `θ⁰` of a twin state.
    pub fn twin_theta<'a>(&self, y: &'a [f64]) -> Option<&'a [f64]> {
        self.twin_range().map(|r| &y[r])
    }
    /// A comparison scalar of a twin state.
    pub fn scalar(&self, y: &[f64], which: Scalar) -> Option<f64> {
        self.scalar_range().map(|r| y[r.start + which as usize])
    }
}

/// The twin's comparison system: the scalars and the time factor `λ = 2κn`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwinScalars {
    /// Theorem 5.2's scalars.
    pub scalars: BoundScalars,
    /// `λ = 2κn`.
    pub lambda: f64,
}

/// `s = ‖X X⁺ Y‖_F/√n` (catalog 001 §2.2 with the reconstructed `1/m`; for whitened data
/// `‖X̃ᵀY‖/n`), `ρ = ‖W_1(0)‖_F/‖W_1(0)‖₂` and `β = max_l ‖W_l(0)‖₂` of a run, and the
/// [`BoundScalars`] they give under `spec` for a network of activation `eps`.
pub fn run_scalars(
    shape: &Shape,
    x: &nalgebra::DMatrix<f64>,
    y: &nalgebra::DMatrix<f64>,
    theta0: &[f64],
    eps: f64,
    spec: &BoundSpec,
) -> Result<BoundScalars, GradflowError> {
    let theta_l2 = crate::model::data::min_norm_solution(x, y);
    let s_data = (x * theta_l2).norm() / (x.nrows() as f64).sqrt();
    let ws = shape.unpack(theta0);
    let spec_norm = crate::decompose::spectral_norm;
    let mut beta0: f64 = 0.0;
    for w in &ws {
        beta0 = beta0.max(spec_norm(w)?);
    }
    let n1 = spec_norm(&ws[0])?;
    let rho0 = if n1 > 0.0 { ws[0].norm() / n1 } else { 1.0 };
    let be = spec.epsilon.unwrap_or(eps);
    if !(0.0..=1.0).contains(&be) {
        return Err(GradflowError::Config(format!(
            "model.bound.epsilon = {be}: need 0 ≤ ε ≤ 1"
        )));
    }
    if let Some(r) = spec.rho {
        if !(r.is_finite() && r >= 1.0) {
            return Err(GradflowError::Config(format!(
                "model.bound.rho = {r}: need a finite ρ ≥ 1 (ρ bounds ‖W_1‖_F/‖W_1‖₂ ≥ 1)"
            )));
        }
    }
    if let Some(b) = spec.beta {
        if !(b.is_finite() && b > 0.0 && b <= 1e3) {
            return Err(GradflowError::Config(format!(
                "model.bound.beta = {b}: need 0 < β ≤ 1e3 (β bounds the initial spectral norms; \
                 the comparison scalars grow like e^{{β^L t}})"
            )));
        }
    }
    let s = if spec.s_one { 1.0 } else { s_data };
    Ok(BoundScalars::with_reading(
        shape.depth(),
        s,
        spec.rho.unwrap_or(rho0),
        spec.beta.unwrap_or(beta0),
        be,
        spec.sqrt_rho,
    ))
}
