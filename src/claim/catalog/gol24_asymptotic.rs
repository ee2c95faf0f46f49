//! Paper 001 (Golikov 2024), §5.3 and App. D.2: the asymptotic formulas (16)–(19) (`L = 2`)
//! and (100)–(103) (`L ≥ 3`) for the bound's scalars at the linear learning time
//! `t*_α(β)` against their direct evaluation, as `β → 0` (catalog 001 §5.2 item 4; no
//! training needed: every quantity is a function of `β` and the run's `s, ρ, ε, d`).
//!
//! Setup (§5.3): `α = (r/s)β^λ` with `r > 1`, `γ = α^ν/q` (`ν, q ≥ 1`), `t = t*_α(β)` of
//! eq. (15)/(97) (paper time, [`learning_time`]); `λ ∈ (0, 2]` for `L = 2` (`λ = 2` in
//! (18)–(19)), `λ = L` in (100)–(103). The scalars `s̄, s̄_ρ, 1̄, ŝ, β̄` are those of
//! Theorem 5.2 ([`BoundScalars`], linear-`r` reading) at the same `β`, so each formula's
//! β-dependence through them is kept, as printed. The "direct" values are `u(t*)` (eq. (9)),
//! `v(t*)` of eq. (10) with the printed lower limit `w(β)` ([`BoundScalars::v_closed`]) and
//! `w(u) − w(β)` ([`BoundScalars::w_diff`], a quadrature with no cancellation).
//!
//! The statement. Each formula claims `direct(β) = asym(β)(1 + O(β^k))` (or `+ O(·)`
//! absolutely for `w`, whose leading term is `O(1)` or `O(β^{2−L})` and is compared
//! relatively). With `e(b) = |direct(b)/asym(b) − 1|` and the rate `ρ_k(b) = b^k` (or
//! `1/|ln b|`), the claim is that the normalised error `e(b)/ρ_k(b)` does not grow by more
//! than a factor 2 from `b = β` (the run's `max_l ‖W_l(0)‖₂`) to `b = β/4`:
//! `[e(β/4)/ρ_k(β/4)]/[e(β)/ρ_k(β)] ≤ 2`. At the true order the ratio tends to 1; one order
//! too high gives `4^{Δk}` (violated); a wrong constant (`factor ≠ 1` multiplying `asym`)
//! leaves `e → |1/factor − 1| > 0` and the ratio `→ 4^k` (violated).
//!
//! Orders (derived here; the paper prints weaker ones where marked):
//! - (16): exactly `u(t*) = asym·[(1 − β²/s)/(1 − rβ^λ/s)]^{s̄/(2s)}`, so `k = min(λ, 2)`
//!   (printed `O(β)`);
//! - (17) (`λ < 2`, `ν = 1`): `e = A/B′(1 + o(1))`, `A = ln((s̄_ρ²/s̄_1²)r^{s̄/s})`,
//!   `B′ = (s̄/s)(2 − λ)|ln β|`: exactly order `1/|ln β|`, as printed, plus power terms
//!   `O(β^λ)` (from `u`) and `O(u²) = O(β^{2 + (s̄/s)(λ − 2)})` (from `e^{u²/ŝ}`), which
//!   dominate at moderate `β` (at `s = 0.6, ρ = 3.7, ε = 0.01, λ = 1, r = 2`:
//!   `e·|ln β| = 2.23` at `β = 0.02`, `0.88` at `10⁻³`, `0.79` at `10⁻⁴`, limit `A s/s̄ ≈ 0.78`).
//!   The paper's remark that the same divergence holds for `1 + (s̄/s)(λ/2 − 1) ≤ 0` is not
//!   covered: there `u(t*) ↛ 0` and `e^{u²/ŝ}` does not tend to 1 (a hypothesis here);
//! - (18) (`w(u) − w(β)` and `2uv/γ`), (19): `k = 2` (printed `O(β)`);
//! - (100)–(103): `k = L` relative (printed `O(β²)` absolute for (100) and (102), the same
//!   order relative to their leading `β^{2−L}` terms).
//!
//! Readings (catalog §3 "Sec 5.3 / App D.2"): (17)'s printed `r^{z/s−1}` is `r^{s̄/s−1}`,
//! (18)'s printed exponents `s̄/s̄` are `s̄/s`, (19)'s `Λ_κ` is `Φ_κ`; with those readings every
//! formula holds at the order above (printed exponents taken literally are not encoded).

use serde_json::Value;

use super::gol24::{data_scalar, init_beta_rho, learning_time};
use super::gol24_leaky::VChoice;
use super::Params;
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Relation, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::nearly_linear::BoundScalars;
use crate::flow::GradientFlow;
use crate::monitor::Point;

const PAPER: &str = "001";

/// Largest `β` at which the asymptotic regime is tested (the formulas are statements about
/// `β → 0`; at larger `β` the next-order terms are not small).
pub const BETA_MAX: f64 = 0.05;
/// Smallest relative error `e(β/4)` that is compared: the quadrature of `w` (composite Simpson,
/// 2000 nodes) and round-off are below `1e-11` relative here, so an `e` above this floor is
/// the formula's error, not the evaluation's.
pub const E_FLOOR: f64 = 1e-9;

/// Which asymptotic formula a claim checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Formula {
    /// Eq. (16), `L = 2`: `u(t*) = (s̄_ρ/s̄_1) r^{s̄/(2s)} β^{1 + (s̄/s)(λ/2 − 1)}`.
    Eq16,
    /// Eq. (17), `L = 2`, `λ < 2`, `ν = 1`:
    /// `2uv/γ = (s̄_ρ²/s̄_1²) q r^{s̄/s − 1} 1̄ β^{−(s̄/s − 1)(2 − λ)} (λ/2 − 1) ln(β²)`.
    Eq17,
    /// Eq. (18), first part, `L = 2`, `λ = 2`: `w(u) − w(β) = (1̄/s̄) ln((s̄_ρ²/s̄_1²) r^{s̄/s})`.
    Eq18W,
    /// Eq. (18), `L = 2`, `λ = 2`:
    /// `2uv/γ = (s^ν s̄_ρ²/s̄_1³) q r^{s̄/s − ν} 1̄ ln((s̄_ρ²/s̄_1²) r^{s̄/s}) β^{2(1 − ν)}`.
    Eq18,
    /// Eq. (19), `L = 2`, `λ = 2`, `ν = 1`:
    /// `Δ_{κ,β}ε^κ/γ = (1̄ s s̄_ρ²/(2s̄_1³)) q r^{s̄/s − 1} Φ_κ ln((s̄_ρ²/s̄_1²) r^{s̄/s}) ε^κ`.
    Eq19,
    /// Eq. (100), `L ≥ 3`, `λ = L`: `t*_α = β^{2−L}(1 − r^{2/L − 1})/(s(L − 2))`.
    Eq100,
    /// Eq. (101), `L ≥ 3`, `λ = L`: `u(t*) = β B^{1/(2−L)}`,
    /// `B = (s̄_ρ/s̄_1)^{2−L} − (s̄/s)(1 − r^{2/L − 1})`.
    Eq101,
    /// Eq. (102), `L ≥ 3`, `λ = L`: `w(u) − w(β) = (1̄/s̄)(L/(2−L)) ŝ^{(L−2)/L} β^{2−L}(B − 1)`.
    Eq102,
    /// Eq. (103), `L ≥ 3`, `λ = L`:
    /// `L u^{L−1} v/γ = (q s^ν/r^ν)(1̄/s̄)(L(L−1)/(2−L)) β^{L(1−ν)} B^{(2L−2)/(2−L)}(B − 1)`.
    Eq103,
}

impl Formula {
    fn id(self) -> &'static str {
        match self {
            Self::Eq16 => "gol24.eq16.asymptotic_u",
            Self::Eq17 => "gol24.eq17.asymptotic_uv",
            Self::Eq18W => "gol24.eq18.asymptotic_w",
            Self::Eq18 => "gol24.eq18.asymptotic_uv",
            Self::Eq19 => "gol24.eq19.asymptotic_delta",
            Self::Eq100 => "gol24.eq100.asymptotic_time",
            Self::Eq101 => "gol24.eq101.asymptotic_u",
            Self::Eq102 => "gol24.eq102.asymptotic_w",
            Self::Eq103 => "gol24.eq103.asymptotic_uv",
        }
    }
    fn result(self) -> &'static str {
        match self {
            Self::Eq16 => "§5.3 eq. (16)",
            Self::Eq17 => "§5.3 eq. (17)",
            Self::Eq18W | Self::Eq18 => "§5.3 eq. (18)",
            Self::Eq19 => "§5.3 eq. (19)",
            Self::Eq100 => "App. D.2 eq. (100)",
            Self::Eq101 => "App. D.2 eq. (101)",
            Self::Eq102 => "App. D.2 eq. (102)",
            Self::Eq103 => "App. D.2 eq. (103)",
        }
    }
    fn deep(self) -> bool {
        matches!(self, Self::Eq100 | Self::Eq101 | Self::Eq102 | Self::Eq103)
    }
    const ALL: [Formula; 9] = [
        Self::Eq16,
        Self::Eq17,
        Self::Eq18W,
        Self::Eq18,
        Self::Eq19,
        Self::Eq100,
        Self::Eq101,
        Self::Eq102,
        Self::Eq103,
    ];
}

/// The registered claims of this module.
pub fn entries() -> Vec<Entry> {
    Formula::ALL
        .iter()
        .map(|&f| Entry {
            id: f.id(),
            paper: PAPER,
            build: match f {
                Formula::Eq16 => |p| Asymptotic::build(Formula::Eq16, p),
                Formula::Eq17 => |p| Asymptotic::build(Formula::Eq17, p),
                Formula::Eq18W => |p| Asymptotic::build(Formula::Eq18W, p),
                Formula::Eq18 => |p| Asymptotic::build(Formula::Eq18, p),
                Formula::Eq19 => |p| Asymptotic::build(Formula::Eq19, p),
                Formula::Eq100 => |p| Asymptotic::build(Formula::Eq100, p),
                Formula::Eq101 => |p| Asymptotic::build(Formula::Eq101, p),
                Formula::Eq102 => |p| Asymptotic::build(Formula::Eq102, p),
                Formula::Eq103 => |p| Asymptotic::build(Formula::Eq103, p),
            },
        })
        .collect()
}

/// The rate the normalised error divides by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// `b^k`.
    Power(f64),
    /// `1/|ln b|`.
    InverseLog,
}

impl Rate {
    fn at(self, b: f64) -> f64 {
        match self {
            Self::Power(k) => b.powf(k),
            Self::InverseLog => 1.0 / b.ln().abs(),
        }
    }
}

/// The run's inputs of the formulas: depth, `s`, `ρ`, `ε`, `d`, `β`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inputs {
    /// Depth `L`.
    pub depth: usize,
    /// Data scalar `s`.
    pub s: f64,
    /// `ρ = ‖W_1(0)‖_F/‖W_1(0)‖₂`.
    pub rho: f64,
    /// The network's `ε` (0 for a linear network).
    pub eps: f64,
    /// Input dimension `d` (in `Φ_κ`).
    pub d: usize,
    /// `β = max_l ‖W_l(0)‖₂`.
    pub beta: f64,
}

impl Inputs {
    /// The inputs of a run.
    pub fn of(s: &Setting) -> Self {
        let (beta, rho) = init_beta_rho(s);
        Self {
            depth: s.shape.depth(),
            s: data_scalar(s),
            rho,
            eps: s.eps,
            d: s.shape.input(),
            beta,
        }
    }
}

/// A §5.3 / App. D.2 asymptotic formula against its direct evaluation at `β` and `β/4`
/// (module doc): `[e(β/4)/ρ_k(β/4)]/[e(β)/ρ_k(β)] ≤ 2`, evaluated once at the end of the
/// run ([`crate::claim::Schedule::AtEnd`]; the run itself only supplies `s`, `ρ`, `ε`, `d`,
/// `β`). Parameters: `r` (default 2), `lambda` (eq. (16): default 2, `λ ∈ (0, 2]`; eq. (17):
/// default 1, `λ ∈ (0, 2)`; fixed by the formula elsewhere), `q` (10), `nu` (eqs. (18), (103):
/// default 1; fixed to 1 in (17), (19)), `kappa` (eq. (19): 1 or 2, default 2), `v`
/// (`"printed"`, default: eq. (10) with `w(β)`; `"ode"`: the `v(0) = 0` solution, lower limit
/// `w(β̄)`, for which the printed asymptotics do not hold when `β̄ ≠ β`), `order` (`k` of the
/// rate `β^k`; default the true order), `rate` (`"power"`, default except (17), or
/// `"inverse_log"`, the default of (17)), `factor` (multiplies the asymptotic formula;
/// `≠ 1` is a deliberately false constant). In (19) the common factor `ε^κ` cancels in `e`.
/// Hypotheses: the depth of the formula, `β ≤ 0.05`, `r > 1`, `ν, q ≥ 1`, `λ` in range,
/// `α = (r/s)β^λ < 1` (else `t*_α` is undefined), for `L ≥ 3` `B > 0` at `β` and `β/4` (else
/// `t*_α ≥ T_blow`: `u` has blown up before the learning time, `u(t*)` does not exist and
/// `B^{1/(2−L)}` is not real), and `e(β/4) ≥ 1e-9` (the error is above the evaluation's
/// accuracy). Budget: round-off of the ratio, `2(1 + 1/e_min)`.
pub struct Asymptotic {
    formula: Formula,
    r: f64,
    lambda: f64,
    q: f64,
    nu: f64,
    kappa: u32,
    v: VChoice,
    rate: Rate,
    factor: f64,
}

/// Direct and asymptotic values of one formula at `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Values {
    /// Direct evaluation.
    pub direct: f64,
    /// The asymptotic formula (times `factor`).
    pub asym: f64,
}

impl Asymptotic {
    fn build(formula: Formula, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        Ok(Box::new(Self::from_params(formula, p)?))
    }

    /// The claim for `formula` with parameters `p` (see the type's doc).
    pub fn from_params(formula: Formula, p: &Value) -> Result<Self, GradflowError> {
        let id = formula.id();
        let mut known = vec!["r", "q", "order", "rate", "factor", "v"];
        match formula {
            Formula::Eq16 | Formula::Eq17 => known.push("lambda"),
            Formula::Eq18 | Formula::Eq103 => known.push("nu"),
            Formula::Eq19 => known.push("kappa"),
            _ => {}
        }
        let pr = Params::new(id, p, &known)?;
        let lambda = pr.f64("lambda", if formula == Formula::Eq17 { 1.0 } else { 2.0 })?;
        let kappa = pr.f64("kappa", 2.0)?;
        if kappa != 1.0 && kappa != 2.0 {
            return Err(GradflowError::Config(format!(
                "claim {id}: kappa = {kappa}: expected 1 or 2"
            )));
        }
        let default_order = match formula {
            Formula::Eq16 => lambda.min(2.0),
            Formula::Eq17 => 0.0,
            Formula::Eq18W | Formula::Eq18 | Formula::Eq19 => 2.0,
            _ => f64::NAN, // L, known at evaluation
        };
        let order = pr.f64("order", default_order)?;
        let rate = pr.choice(
            "rate",
            if formula == Formula::Eq17 {
                "inverse_log"
            } else {
                "power"
            },
            &[
                ("power", Rate::Power(order)),
                ("inverse_log", Rate::InverseLog),
            ],
        )?;
        Ok(Self {
            formula,
            r: pr.f64("r", 2.0)?,
            lambda,
            q: pr.f64("q", 10.0)?,
            nu: pr.f64("nu", 1.0)?,
            kappa: kappa as u32,
            v: VChoice::parse(&pr)?,
            rate,
            factor: pr.f64("factor", 1.0)?,
        })
    }

    /// The `λ` of `α = (r/s)β^λ` for depth `depth`.
    fn lambda_for(&self, depth: usize) -> f64 {
        match self.formula {
            Formula::Eq16 | Formula::Eq17 => self.lambda,
            Formula::Eq18W | Formula::Eq18 | Formula::Eq19 => 2.0,
            _ => depth as f64,
        }
    }

    fn rate_for(&self, depth: usize) -> Rate {
        match self.rate {
            Rate::Power(k) if k.is_nan() => Rate::Power(depth as f64),
            r => r,
        }
    }

    /// `B = (s̄_ρ/s̄_1)^{2−L} − (s̄/s)(1 − r^{2/L−1})` of eqs. (101)–(103) at `b`.
    pub fn b_const(&self, inp: &Inputs, b: f64) -> f64 {
        let sc = BoundScalars::new(inp.depth, inp.s, inp.rho, b, inp.eps);
        let l = inp.depth as f64;
        (sc.s_bar_rho / sc.s_bar).powf(2.0 - l)
            - sc.s_bar / inp.s * (1.0 - self.r.powf(2.0 / l - 1.0))
    }

    /// The formula's direct and asymptotic values at `b` (`None` where the direct value does
    /// not exist: `t*_α ≥ T_blow`).
    pub fn values(&self, inp: &Inputs, b: f64) -> Option<Values> {
        let depth = inp.depth;
        let l = depth as f64;
        let s = inp.s;
        let r = self.r;
        let sc = BoundScalars::new(depth, s, inp.rho, b, inp.eps);
        let (sb, sr, one) = (sc.s_bar, sc.s_bar_rho, sc.one_bar());
        let lam = self.lambda_for(depth);
        let alpha = r / s * b.powf(lam);
        let nu = match self.formula {
            Formula::Eq17 | Formula::Eq19 => 1.0,
            _ => self.nu,
        };
        let gamma = alpha.powf(nu) / self.q;
        let t = learning_time(depth, s, b, alpha);
        let lower = match self.v {
            VChoice::Ode => sc.beta_bar,
            _ => b,
        };
        let u = || sc.u(t);
        let v = || sc.v_closed(t, lower);
        let log_factor = (sr * sr / (sb * sb) * r.powf(sb / s)).ln();
        let bc = || self.b_const(inp, b);
        let (direct, asym) = match self.formula {
            Formula::Eq16 => (
                u()?,
                sr / sb * r.powf(sb / (2.0 * s)) * b.powf(1.0 + sb / s * (lam / 2.0 - 1.0)),
            ),
            Formula::Eq17 => (
                2.0 * u()? * v()? / gamma,
                sr * sr / (sb * sb)
                    * self.q
                    * r.powf(sb / s - 1.0)
                    * one
                    * b.powf(-(sb / s - 1.0) * (2.0 - lam))
                    * (lam / 2.0 - 1.0)
                    * (b * b).ln(),
            ),
            Formula::Eq18W => (sc.w_diff(lower, u()?), one / sb * log_factor),
            Formula::Eq18 => (
                2.0 * u()? * v()? / gamma,
                s.powf(nu) * sr * sr / sb.powi(3)
                    * self.q
                    * r.powf(sb / s - nu)
                    * one
                    * log_factor
                    * b.powf(2.0 * (1.0 - nu)),
            ),
            Formula::Eq19 => {
                let phi = sc.phi_kappa(self.kappa, inp.d);
                (
                    phi * v()? * u()? / gamma,
                    one * s * sr * sr / (2.0 * sb.powi(3))
                        * self.q
                        * r.powf(sb / s - 1.0)
                        * phi
                        * log_factor,
                )
            }
            Formula::Eq100 => (
                t,
                b.powf(2.0 - l) * (1.0 - r.powf(2.0 / l - 1.0)) / (s * (l - 2.0)),
            ),
            Formula::Eq101 => (u()?, b * bc().powf(1.0 / (2.0 - l))),
            Formula::Eq102 => (
                sc.w_diff(lower, u()?),
                one / sb
                    * (l / (2.0 - l))
                    * sc.s_hat().powf((l - 2.0) / l)
                    * b.powf(2.0 - l)
                    * (bc() - 1.0),
            ),
            Formula::Eq103 => {
                let bb = bc();
                (
                    l * u()?.powf(l - 1.0) * v()? / gamma,
                    self.q * s.powf(nu) / r.powf(nu) * one / sb
                        * (l * (l - 1.0) / (2.0 - l))
                        * b.powf(l * (1.0 - nu))
                        * bb.powf((2.0 * l - 2.0) / (2.0 - l))
                        * (bb - 1.0),
                )
            }
        };
        Some(Values {
            direct,
            asym: self.factor * asym,
        })
    }

    /// Relative errors `e(β)`, `e(β/4)` and the ratio of the normalised errors.
    pub fn errors(&self, inp: &Inputs) -> Option<(f64, f64, f64)> {
        let rel = |b: f64| {
            self.values(inp, b)
                .map(|v| (v.direct / v.asym - 1.0).abs())
                .filter(|e| e.is_finite())
        };
        let (b1, b2) = (inp.beta, inp.beta / 4.0);
        let (e1, e2) = (rel(b1)?, rel(b2)?);
        let rate = self.rate_for(inp.depth);
        Some((e1, e2, (e2 / rate.at(b2)) / (e1 / rate.at(b1))))
    }
}

impl Claim for Asymptotic {
    fn info(&self) -> ClaimInfo {
        let rate = match self.rate {
            Rate::Power(k) if k.is_nan() => "β^L".to_string(),
            Rate::Power(k) => format!("β^{k}"),
            Rate::InverseLog => "1/|ln β|".to_string(),
        };
        ClaimInfo::new(
            self.formula.id(),
            PAPER,
            self.formula.result(),
            format!(
                "relative error of the asymptotic formula{} at t*_α, α = (r/s)β^λ, r = {}, \
                 q = {}: [e(β/4)/{rate}(β/4)] / [e(β)/{rate}(β)] ≤ 2 (error O({rate})){}",
                if self.factor == 1.0 {
                    String::new()
                } else {
                    format!(" × {}", self.factor)
                },
                self.r,
                self.q,
                if self.v == VChoice::Ode {
                    ", v with lower limit w(β̄)"
                } else {
                    ""
                }
            ),
        )
        .at_end()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let inp = Inputs::of(s);
        let mut h = Vec::new();
        if self.formula.deep() {
            h.push(Hypothesis::new(
                "depth L ≥ 3 (App. D.2)",
                inp.depth as f64,
                Relation::Ge,
                3.0,
            ));
        } else {
            h.push(Hypothesis::flag("depth L = 2 (§5.3)", inp.depth == 2));
        }
        h.push(Hypothesis::new(
            "β = max_l ‖W_l(0)‖₂ small (asymptotic regime)",
            inp.beta,
            Relation::Le,
            BETA_MAX,
        ));
        h.push(Hypothesis::new("r > 1 (§5.3)", self.r, Relation::Gt, 1.0));
        h.push(Hypothesis::new("q ≥ 1 (§5.3)", self.q, Relation::Ge, 1.0));
        h.push(Hypothesis::new("ν ≥ 1 (§5.3)", self.nu, Relation::Ge, 1.0));
        if matches!(self.formula, Formula::Eq16 | Formula::Eq17) {
            h.push(Hypothesis::new("λ > 0", self.lambda, Relation::Gt, 0.0));
        }
        match self.formula {
            Formula::Eq16 => {
                h.push(Hypothesis::new(
                    "λ ≤ 2 (§5.3)",
                    self.lambda,
                    Relation::Le,
                    2.0,
                ));
            }
            Formula::Eq17 => {
                h.push(Hypothesis::new(
                    "λ < 2 (eq. (17))",
                    self.lambda,
                    Relation::Lt,
                    2.0,
                ));
                let sb = BoundScalars::new(inp.depth, inp.s, inp.rho, inp.beta, inp.eps).s_bar;
                h.push(Hypothesis::new(
                    "1 + (s̄/s)(λ/2 − 1) > 0 (u(t*) → 0, so e^{u²/ŝ} → 1)",
                    1.0 + sb / inp.s * (self.lambda / 2.0 - 1.0),
                    Relation::Gt,
                    0.0,
                ));
            }
            _ => {}
        }
        let lam = self.lambda_for(inp.depth);
        h.push(Hypothesis::new(
            "α = (r/s)β^λ < 1 (t*_α defined)",
            self.r / inp.s * inp.beta.powf(lam),
            Relation::Lt,
            1.0,
        ));
        if self.formula.deep() && inp.depth >= 3 {
            let b = self
                .b_const(&inp, inp.beta)
                .min(self.b_const(&inp, inp.beta / 4.0));
            h.push(Hypothesis::new(
                "B = (s̄_ρ/s̄_1)^{2−L} − (s̄/s)(1 − r^{2/L−1}) > 0 at β, β/4 (t*_α < T_blow, eq. (101))",
                b,
                Relation::Gt,
                0.0,
            ));
        }
        let depth_ok = if self.formula.deep() {
            inp.depth >= 3
        } else {
            inp.depth == 2
        };
        if depth_ok {
            let e_min = self.errors(&inp).map_or(f64::NAN, |(e1, e2, _)| e1.min(e2));
            h.push(Hypothesis::new(
                "relative errors e(β), e(β/4) above the evaluation's accuracy",
                e_min,
                Relation::Ge,
                E_FLOOR,
            ));
        }
        h
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, _: &Point<'_>) -> Option<Statement> {
        let inp = Inputs::of(s);
        let (e1, e2, ratio) = self.errors(&inp)?;
        let rhs = 2.0;
        Some(Statement {
            lhs: ratio,
            rhs,
            budget: Budget::RoundOff {
                scale: rhs * (1.0 + 1.0 / e1.min(e2)),
            },
        })
    }
}
