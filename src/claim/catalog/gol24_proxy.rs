//! Paper 001 (Golikov 2024), the two halves of Theorem 5.2's proof measured separately
//! (catalog 001 §5.2 item 2): the proxy generalization gap `R^C_γ(g_κ) − R̂^C_γ(g_κ) ≤ Υ_κ`
//! (eq. (24), Lemma 7.2 with Hoeffding's inequality), the deviation terms against their
//! `Φ_κ`-bound (eqs. (20)–(21) for `κ = 1`, Lemma 7.3 (26)–(27) for `κ = 2`), and the
//! general proxy bound eq. (1) = (22) = (41) with the test set as the distribution (App. B's
//! "optimistic" bound, catalog C1).
//!
//! The proxies are built on the linear twin `θ⁰` of a `leaky_relu` run with `twin: true`
//! (eq. (25), row form): `g₁(x) = f^ε_{θ⁰}(x)`, `g₂(x) = g₁(x) + x c_corr` with
//! `c_corr = X̃⁺(f^ε_{θ^ε}(X̃) − g₁(X̃))`; `linear` is the linear network `f⁰_{θ⁰}`.
//! The ramp risk is `r^C_γ(y, ŷ) = 1[yŷ < 0] + (1 − yŷ/γ)·1[0 ≤ yŷ ≤ γ]` (§4, printed minus
//! sign restored), `[0, 1]`-valued and `1/γ`-Lipschitz in `ŷ`. The held-out set is the one of
//! Theorem 5.2's claim: for Gaussian data fresh population samples (same seed stream) whitened
//! with the population `Σ`; for `.npy` data the run's test split (`test`), whitened with the
//! training `Σ_X`, its size `m` in place of `test_points` (`.npy` data without one:
//! `not_applicable`, "no held-out split"). All statements are about the current weights, so they do not depend on the
//! loss convention except through `u, v` at the paper's time `τ = 2κ_loss n·t`.

use nalgebra::DMatrix;
use serde_json::Value;

use super::gol24::LxTracker;
use super::gol24_leaky::{
    bound_s_one, common_hypotheses, factor_prefix, h_held_out, h_split_mean_norm,
    lx_final_hypotheses_unless_s_one, margin_risk, run_scalars, test_set, twin_inputs, upsilon,
    VChoice,
};
use super::Params;
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Relation, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::model::data::{min_norm_solution, Dataset};
use crate::monitor::Point;

const PAPER: &str = "001";

/// The registered claims of this module.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "gol24.eq24.proxy_gen_gap",
            paper: PAPER,
            build: GenGap::build,
        },
        Entry {
            id: "gol24.thm5_2.deviation_terms",
            paper: PAPER,
            build: DeviationTerms::build,
        },
        Entry {
            id: "gol24.eq41.optimistic_bound",
            paper: PAPER,
            build: Optimistic::build,
        },
    ]
}

/// Which proxy a statement uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// `g₁ = f^ε_{θ⁰}` (κ = 1).
    G1,
    /// `g₂ = g₁ + x c_corr` (κ = 2, eq. (25)).
    G2,
    /// The linear network `f⁰_{θ⁰}` (App. B's third proxy; in the class of `g₁`).
    Linear,
}

impl Proxy {
    fn parse(pr: &Params<'_>, id: &str, allow_linear: bool) -> Result<Self, GradflowError> {
        match pr.str("proxy", "g2")? {
            "g1" => Ok(Self::G1),
            "g2" => Ok(Self::G2),
            "linear" if allow_linear => Ok(Self::Linear),
            other => Err(GradflowError::Config(format!(
                "claim {id}: proxy = {other:?}: expected \"g1\", \"g2\"{}",
                if allow_linear { " or \"linear\"" } else { "" }
            ))),
        }
    }
    /// The `κ` of the proxy's class (`|F_1| ≤ 2^{pd}`, `|F_2| ≤ 2^{2pd}`, Lemma 7.2, eq. (28)).
    pub fn kappa(self) -> u32 {
        match self {
            Self::G2 => 2,
            _ => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::G1 => "g₁",
            Self::G2 => "g₂",
            Self::Linear => "f⁰_{θ⁰}",
        }
    }
}

/// Ramp risk `r^C_γ(y, ŷ) = 1[yŷ < 0] + (1 − yŷ/γ)·1[0 ≤ yŷ ≤ γ]` (§4).
pub fn ramp(y: f64, yhat: f64, gamma: f64) -> f64 {
    let m = y * yhat;
    if m < 0.0 {
        1.0
    } else if m <= gamma {
        1.0 - m / gamma
    } else {
        0.0
    }
}

/// Mean ramp risk `(1/n)Σ_k r^C_γ(y_k, g_k)` over the rows.
pub fn ramp_risk(g: &DMatrix<f64>, y: &DMatrix<f64>, gamma: f64) -> f64 {
    let n = g.nrows();
    (0..n)
        .map(|i| ramp(y[(i, 0)], g[(i, 0)], gamma))
        .sum::<f64>()
        / n as f64
}

/// Mean and sample standard deviation of `|a_i − b_i|` over the rows.
pub fn abs_dev_stats(a: &DMatrix<f64>, b: &DMatrix<f64>) -> (f64, f64) {
    let n = a.nrows() as f64;
    let d: Vec<f64> = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).collect();
    let mean = d.iter().sum::<f64>() / n;
    let var = if n > 1.0 {
        d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// One-sided Hoeffding term `sqrt(ln(1/(1 − level))/(2M))` for the mean of `M` iid
/// `[0, 1]`-valued samples.
pub fn hoeffding(level: f64, m: usize) -> f64 {
    ((1.0 / (1.0 - level)).ln() / (2.0 * m as f64)).sqrt()
}

/// The trained network and a proxy, on the training inputs and on `test` inputs:
/// `(f(X̃), g(X̃), f(X_test), g(X_test))`.
fn outputs(
    s: &Setting,
    y: &[f64],
    theta0: &[f64],
    proxy: Proxy,
    test: &DMatrix<f64>,
) -> [DMatrix<f64>; 4] {
    let (ftr, fte) = (s.outputs(y), s.outputs_on(y, test));
    let lin = |x: &DMatrix<f64>| x * crate::model::net::end_to_end(&s.shape, &theta0[..s.params()]);
    let (mut gtr, mut gte) = match proxy {
        Proxy::Linear => (lin(&s.data.x), lin(test)),
        _ => (s.outputs(theta0), s.outputs_on(theta0, test)),
    };
    if proxy == Proxy::G2 {
        let c = min_norm_solution(&s.data.x, &(&ftr - &gtr)); // X̃⁺Δ (d×1)
        gtr += &s.data.x * &c;
        gte += test * &c;
    }
    [ftr, gtr, fte, gte]
}

/// Held-out data: the population of Gaussian data, or the test split of `.npy` data
/// ([`super::gol24_leaky::h_held_out`]).
fn h_population(s: &Setting) -> Hypothesis {
    h_held_out(
        s,
        "known population for the held-out estimate (synthetic Gaussian data)",
    )
}

fn h_rank(s: &Setting) -> Hypothesis {
    super::hyp::full_column_rank(s, "rank X = d (§5.1; X̃X̃⁺ = I_d)")
}

fn level(pr: &Params<'_>, id: &str) -> Result<f64, GradflowError> {
    let c = pr.f64("confidence", 0.95)?;
    if (0.5..1.0).contains(&c) {
        Ok(c)
    } else {
        Err(GradflowError::Config(format!(
            "claim {id}: confidence = {c}: need 0.5 ≤ confidence < 1"
        )))
    }
}

// ---------------------------------------------------------------------------------------
// Eq. (24): the proxy generalization gap
// ---------------------------------------------------------------------------------------

/// Eq. (24) (Lemma 7.2 and Hoeffding's inequality with a union bound over `|F_κ| ≤ 2^{κpd}`),
/// at `t = t_end`: with probability `≥ 1 − δ` over the sample,
/// `R^C_γ(g_κ) − R̂^C_γ(g_κ) ≤ Υ_κ = sqrt((κ p d ln 2 + ln(1/δ))/(2n))`, where `R^C_γ` is the
/// population ramp risk and `R̂^C_γ` the training one (`n = m` samples).
///
/// The left-hand side uses the one-sided Hoeffding upper limit of the population ramp risk
/// from `test_points` held-out samples at level `confidence`:
/// `R̂^C_{γ,test}(g_κ) + sqrt(ln(1/(1 − confidence))/(2M))`, so `holds` means the gap is below
/// `Υ_κ` with that confidence. The theorem's `δ` is over the training sample (a sweep over
/// seeds tests it, not one run). `union = false` replaces `Υ_κ` by the single-function
/// Hoeffding term `sqrt(ln(1/δ)/(2n))` — not a valid bound for the data-dependent proxy
/// (catalog T5.2: "violations should then appear when m ≈ d"). Parameters: `proxy` (`"g1"`,
/// `"g2"` default; fixes κ), `gamma` (0.05), `delta` (0.05), `bits` (`p`, 32), `test_points`
/// (20000), `confidence` (0.95), `union` (1 = true, default; 0 = false), `factor` (multiplies
/// `Υ`; `< 1` is a deliberately false variant). Hypotheses: the common ones of Theorem 5.2,
/// `rank X = d`, held-out data (a known population, or the test split of `.npy` data: its `m`
/// samples give the Hoeffding term), `γ > 0`. Budget: accumulated, at the scale of `Υ`.
pub struct GenGap {
    proxy: Proxy,
    gamma: f64,
    delta: f64,
    bits: f64,
    test_points: usize,
    confidence: f64,
    union: bool,
    factor: f64,
    test: Option<Option<Dataset>>,
}

impl GenGap {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = "gol24.eq24.proxy_gen_gap";
        let pr = Params::new(
            id,
            p,
            &[
                "proxy",
                "gamma",
                "delta",
                "bits",
                "test_points",
                "confidence",
                "union",
                "factor",
            ],
        )?;
        let delta = pr.f64("delta", 0.05)?;
        if !(delta > 0.0 && delta < 1.0) {
            return Err(GradflowError::Config(format!("claim {id}: need 0 < δ < 1")));
        }
        Ok(Box::new(Self {
            proxy: Proxy::parse(&pr, id, false)?,
            gamma: pr.f64("gamma", 0.05)?,
            delta,
            bits: pr.f64("bits", 32.0)?,
            test_points: pr.count("test_points", 20000.0)?,
            confidence: level(&pr, id)?,
            union: pr.f64("union", 1.0)? != 0.0,
            factor: pr.f64("factor", 1.0)?,
            test: None,
        }))
    }
    /// `Υ_κ` (or the single-function term without the union bound).
    fn upsilon(&self, s: &Setting) -> f64 {
        let n = s.data.n();
        if self.union {
            upsilon(
                self.proxy.kappa(),
                self.bits,
                s.shape.input(),
                self.delta,
                n,
            )
        } else {
            ((1.0 / self.delta).ln() / (2.0 * n as f64)).sqrt()
        }
    }
}

impl Claim for GenGap {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.eq24.proxy_gen_gap",
            PAPER,
            "eq. (24) (Lemma 7.2, Hoeffding + union bound)",
            format!(
                "R^C_γ({g}) (Hoeffding upper {c} limit; held-out: {m} population samples or \
                 the test split) − R̂^C_γ({g}) ≤ {f}{u} at t = t_end; γ = {gm}, δ = {d}, p = {p}",
                g = self.proxy.name(),
                c = self.confidence,
                m = self.test_points,
                f = factor_prefix(self.factor),
                u = if self.union {
                    format!("Υ_{}", self.proxy.kappa())
                } else {
                    "sqrt(ln(1/δ)/(2n)) (single function, no union bound: not a valid bound)".into()
                },
                gm = self.gamma,
                d = self.delta,
                p = self.bits,
            ),
        )
        .at_end()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let mut h = common_hypotheses(s, run_scalars(s).as_ref());
        h.push(h_rank(s));
        h.push(h_population(s));
        h.push(Hypothesis::new(
            "margin γ > 0",
            self.gamma,
            Relation::Gt,
            0.0,
        ));
        h
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let theta0 = s.layout.twin_theta(p.y)?;
        let (m, gamma, proxy) = (self.test_points, self.gamma, self.proxy);
        let test = test_set(&mut self.test, s, m)?;
        let [_, gtr, _, gte] = outputs(s, p.y, theta0, proxy, &test.x);
        let upper = ramp_risk(&gte, &test.y, gamma) + hoeffding(self.confidence, test.n());
        let lhs = upper - ramp_risk(&gtr, &s.data.y, gamma);
        let rhs = self.factor * self.upsilon(s);
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Accumulated { scale: rhs },
        })
    }
}

// ---------------------------------------------------------------------------------------
// The deviation terms of Theorem 5.2
// ---------------------------------------------------------------------------------------

/// The deviation terms of Theorem 5.2's proof (Sec. 4/7, with E‖x̃‖ ≤ √d and ‖z‖₁ ≤ √m‖z‖₂),
/// at every accepted step:
/// `E_D|f^ε_{θ^ε}(x̃) − g_κ(x̃)| + (1/n)‖f^ε_{θ^ε}(X̃) − g_κ(X̃)‖₁ ≤ Φ_κ u^{L−1} v ε^κ`
/// (the paper divides both sides by `γ`), from eqs. (20)–(21) for `κ = 1` and Lemma 7.3
/// (26)–(27) for `κ = 2`: `Φ_1 = L√d + 1 + (L−1)ρ`, `Φ_2 = (L−1)[(L + 1 + (L−1)ρ)√d +
/// 2(1 + (L−1)ρ)]`, `u, v` of eqs. (9)–(10) at `τ = 2κ_loss n·t`.
///
/// The population mean is estimated on the held-out set with a normal-approximation upper
/// limit `mean + z·sd/√M` at level `confidence` (`|f − g|` is not bounded a priori, so no
/// Hoeffding term; `M` the held-out samples used: `test_points` population samples, or the
/// test split's `m`; on a split also the measured `mean ‖x̃‖ ≤ √d` that `Φ_κ` rests on is a
/// hypothesis). Rests on Lemma 7.1, i.e. on Assumption 5.1 (a final hypothesis; not
/// needed with `bound.s_one`), and its printed `v` inherits the catalog's L7.1 flag (too small
/// by about `ρ` for `ρ > 1`). Parameters: `proxy` (`"g1"`, `"g2"` default), `v` (`"printed"`
/// default, `"ode"`), `test_points` (20000), `confidence` (0.95), `factor` (multiplies the
/// bound; `< 1` is a deliberately false variant). Budget: accumulated, round-off at the larger
/// of the bound and the mean `|f| + |g|` (the operands of the deviations; at `ε = 0` both sides
/// are 0).
pub struct DeviationTerms {
    proxy: Proxy,
    v: VChoice,
    test_points: usize,
    confidence: f64,
    factor: f64,
    test: Option<Option<Dataset>>,
    lx: LxTracker,
}

impl DeviationTerms {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = "gol24.thm5_2.deviation_terms";
        let pr = Params::new(
            id,
            p,
            &["proxy", "v", "test_points", "confidence", "factor"],
        )?;
        Ok(Box::new(Self {
            proxy: Proxy::parse(&pr, id, false)?,
            v: VChoice::parse(&pr)?,
            test_points: pr.count("test_points", 20000.0)?,
            confidence: level(&pr, id)?,
            factor: pr.f64("factor", 1.0)?,
            test: None,
            lx: LxTracker::default(),
        }))
    }
}

impl Claim for DeviationTerms {
    fn info(&self) -> ClaimInfo {
        let k = self.proxy.kappa();
        ClaimInfo::new(
            "gol24.thm5_2.deviation_terms",
            PAPER,
            if k == 1 {
                "Theorem 5.2 proof, eqs. (20)–(21) (κ = 1)"
            } else {
                "Theorem 5.2 proof, Lemma 7.3 (26)–(27) (κ = 2)"
            },
            format!(
                "E|f − {g}| (normal upper {c} limit; held-out: {m} population samples or the \
                 test split) + (1/n)‖f(X̃) − {g}(X̃)‖₁ \
                 ≤ {f}Φ_{k} u^{{L−1}} v ε^{k}; {v}, u, v at τ = 2κn·t",
                g = self.proxy.name(),
                c = self.confidence,
                m = self.test_points,
                f = factor_prefix(self.factor),
                v = match self.v {
                    VChoice::Ode => "v = solution of eq. (88) with v(0) = 0",
                    _ => "v of eq. (10) as printed",
                },
            ),
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let mut h = common_hypotheses(s, run_scalars(s).as_ref());
        if self.proxy == Proxy::G2 {
            h.push(h_rank(s));
        }
        h.push(h_population(s));
        h.extend(h_split_mean_norm(s));
        h
    }
    lx_final_hypotheses_unless_s_one!();
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if p.step == 0 || s.shape.depth() < 2 || s.shape.output() != 1 {
            return None;
        }
        let (sc, theta0, u, v) = twin_inputs(s, gf, p.y, self.v)?;
        let (m, proxy, level) = (self.test_points, self.proxy, self.confidence);
        let test = test_set(&mut self.test, s, m)?;
        let m = test.n();
        let [ftr, gtr, fte, gte] = outputs(s, p.y, theta0, proxy, &test.x);
        let (mean, sd) = abs_dev_stats(&fte, &gte);
        let z = {
            use statrs::distribution::{ContinuousCDF, Normal};
            Normal::standard().inverse_cdf(level)
        };
        let (train_mean, _) = abs_dev_stats(&ftr, &gtr);
        let lhs = mean + z * sd / (m as f64).sqrt() + train_mean;
        let k = proxy.kappa();
        let l = s.shape.depth() as f64;
        let rhs = self.factor
            * sc.phi_kappa(k, s.shape.input())
            * u.powf(l - 1.0)
            * v
            * s.eps.powi(k as i32);
        // round-off at the scale of the outputs subtracted (both sides are 0 at ε = 0)
        let mean_abs = |a: &DMatrix<f64>, b: &DMatrix<f64>| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| x.abs() + y.abs())
                .sum::<f64>()
                / a.nrows().max(1) as f64
        };
        let operands = mean_abs(&fte, &gte) * (1.0 + z / (m as f64).sqrt()) + mean_abs(&ftr, &gtr);
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Accumulated {
                scale: rhs.abs().max(operands),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Eq. (1)/(41): the optimistic bound
// ---------------------------------------------------------------------------------------

/// Eq. (1) = eq. (22) = eq. (41) (§4, catalog C1), with the held-out set as the distribution
/// (App. B's "optimistic" bound), at every accepted step: for every `f`, `g`, `γ > 0` and
/// every distribution,
/// `R[f] ≤ R̂_γ[f] + (R^C_γ[g] − R̂^C_γ[g]) + (1/γ)E|f − g| + (1/γ)(1/n)Σ_k|f(x̃_k) − g(x̃_k)|`,
/// with `R`, `R^C_γ`, `E` the frequencies and means on the `test_points` held-out samples,
/// `f = f^ε_{θ^ε(t)}` and `g` the chosen proxy. Deterministic (`R ≤ R^C_γ`, `R̂^C_γ ≤ R̂_γ`
/// and the `1/γ`-Lipschitz ramp), so a violation of the statement as given is a bug in the risk
/// or deviation code; the bound's value (the right-hand side) is App. B's Fig. 8–9 quantity
/// (non-vacuous when `< 1`). Parameters: `proxy` (`"g1"`, `"g2"` default, `"linear"`), `gamma`
/// (0.05), `test_points` (20000), `factor` (multiplies the right-hand side; `< 1` is a
/// deliberately false variant). Hypotheses: the twin state, `q = 1`, held-out data (a known
/// population, or the test split of `.npy` data), `γ > 0`. Budget: round-off, at the bound's scale (the inequality holds for any weights).
pub struct Optimistic {
    proxy: Proxy,
    gamma: f64,
    test_points: usize,
    factor: f64,
    test: Option<Option<Dataset>>,
}

impl Optimistic {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = "gol24.eq41.optimistic_bound";
        let pr = Params::new(id, p, &["proxy", "gamma", "test_points", "factor"])?;
        Ok(Box::new(Self {
            proxy: Proxy::parse(&pr, id, true)?,
            gamma: pr.f64("gamma", 0.05)?,
            test_points: pr.count("test_points", 20000.0)?,
            factor: pr.f64("factor", 1.0)?,
            test: None,
        }))
    }

    /// `(R_test[f], R̂_γ[f], R^C_{γ,test}[g] − R̂^C_γ[g], (1/γ)Ê_test|f − g|, (1/γ)Ê_train|f − g|)`.
    pub fn terms(&mut self, s: &Setting, y: &[f64]) -> Option<[f64; 5]> {
        let theta0 = s.layout.twin_theta(y)?;
        let (m, gamma, proxy) = (self.test_points, self.gamma, self.proxy);
        let test = test_set(&mut self.test, s, m)?;
        let [ftr, gtr, fte, gte] = outputs(s, y, theta0, proxy, &test.x);
        let gap = ramp_risk(&gte, &test.y, gamma) - ramp_risk(&gtr, &s.data.y, gamma);
        Some([
            margin_risk(&fte, &test.y, 0.0),
            margin_risk(&ftr, &s.data.y, gamma),
            gap,
            abs_dev_stats(&fte, &gte).0 / gamma,
            abs_dev_stats(&ftr, &gtr).0 / gamma,
        ])
    }
}

impl Claim for Optimistic {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.eq41.optimistic_bound",
            PAPER,
            "eq. (1) = (22) = (41), App. B (catalog C1)",
            format!(
                "R_test[f] ≤ {f}(R̂_γ[f] + R^C_γ,test[{g}] − R̂^C_γ[{g}] + Ê_test|f − {g}|/γ + \
                 Ê_train|f − {g}|/γ); γ = {gm}; held-out: {m} population samples or the test \
                 split",
                f = factor_prefix(self.factor),
                g = self.proxy.name(),
                gm = self.gamma,
                m = self.test_points,
            ),
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![
            super::hyp::twin(s),
            super::hyp::single_output(s, "scalar output q = 1"),
            h_population(s),
            Hypothesis::new("margin γ > 0", self.gamma, Relation::Gt, 0.0),
        ]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let [risk, train, gap, dte, dtr] = self.terms(s, p.y)?;
        let rhs = self.factor * (train + gap + dte + dtr);
        Some(Statement {
            lhs: risk,
            rhs,
            budget: Budget::RoundOff {
                scale: rhs.abs().max(1.0),
            },
        })
    }
}
