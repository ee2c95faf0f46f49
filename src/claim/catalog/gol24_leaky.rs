//! Paper 001 (Golikov 2024), the statements that need the leaky-ReLU network (`ε > 0`): the
//! deviation of the trained network `f^ε_{θ^ε}` from the proxies built on its linear twin
//! `θ⁰` (eqs. (20)–(21), Lemma 7.3), the integrated half of Lemma 7.1 (`‖W^ε − W⁰‖ ≤ εv`,
//! catalog L7.1-int), the tight comparison bounds `g₂`, the comparison scalars against their
//! closed forms, and Theorem 5.2's bound against the measured risk on held-out data.
//!
//! All of them read the joint state of a `leaky_relu` run with `twin: true`
//! ([`crate::flow::nearly_linear`]): `θ^ε`, `θ⁰` and the scalars `u, v, v_printed, v_repaired,
//! g₁, g₂` integrated as one ODE system, so the statements are evaluated at every accepted
//! step with the adaptive error control covering all of it. The scalars are those of
//! Theorem 5.2 (catalog §2.8) for the run's `ε`, `β = max_l ‖W_l(0)‖₂`, `ρ = ‖W_1(0)‖_F/‖W_1(0)‖₂`
//! and `s` unless the model's `bound` overrides them.
//!
//! Conventions. Row samples (`X̃ ∈ R^{n×d}`, `X̃ᵀX̃ = nI_d`, `m = n`); every bound below is a
//! statement about the current weights, so it is convention-free, and the comparison
//! functions are evaluated at the paper's time `τ = λt`, `λ = 2κn` (the scalars' ODEs are
//! integrated as `d/dt = λ d/dτ`). The network's `ε` multiplies the deviations; the scalars'
//! `ε` (equal unless overridden) enters `u, v`.
//!
//! Paper error (catalog L7.1 FLAG, §6 item 11): eqs. (61)/(88) bound `‖W_1X̃‖_F` by `√m·u`
//! instead of `√m·ρu`, so `v` (printed or as the ODE's solution) is too small by about `ρ`
//! for `ρ > 1`; every statement using it is encoded as printed (with `printed_error`) and
//! with the catalog's candidate repair `v_rep` (not re-derived term by term).

use nalgebra::DMatrix;
use serde_json::Value;

use super::gol24::{init_beta_rho, label_defect, whitening_defect, LxTracker};
use super::{spectral_norm, Params};
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Hypothesis, Relation, Schedule, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::nearly_linear::{BoundScalars, Scalar, SCALAR_CAP, U_CAP};
use crate::flow::GradientFlow;
use crate::model::data::{held_out, min_norm_solution, Dataset};
use crate::monitor::Point;

const PAPER: &str = "001";

/// Seed stream of the held-out batch of the pointwise deviation bounds.
const DEVIATION_STREAM: u64 = 1;
/// Seed stream of the Monte Carlo test set of Theorem 5.2.
const RISK_STREAM: u64 = 2;

/// The held-out set of Theorem 5.2 and the proxy claims: for Gaussian data `m` fresh
/// population samples (drawn on first use into `cache`), for `.npy` data the run's test split
/// (all of it, whatever `m`); `None` for `.npy` data without one.
pub(crate) fn test_set<'a>(
    cache: &'a mut Option<Option<Dataset>>,
    s: &'a Setting,
    m: usize,
) -> Option<&'a Dataset> {
    if let Some(split) = &s.test {
        return Some(split);
    }
    cache
        .get_or_insert_with(|| {
            held_out(&s.cfg.data, s.cfg.seed, m, RISK_STREAM)
                .ok()
                .flatten()
        })
        .as_ref()
}

/// The hypothesis text of `.npy` data without a held-out split.
pub const NO_HELD_OUT_SPLIT: &str = "no held-out split: give --test DIR or a `test` key";

/// The hypothesis that the run has held-out data: for Gaussian data the population (a flag
/// named `population`, the wording of each claim), for `.npy` data the test split, with its
/// size `m` as the value (the held-out estimates and their confidence limits use those `m`
/// samples), or [`NO_HELD_OUT_SPLIT`], failing, without one.
pub(crate) fn h_held_out(s: &Setting, population: &str) -> Hypothesis {
    match (&s.cfg.data, &s.test, &s.cfg.test) {
        (crate::model::data::DataSpec::Gaussian { .. }, ..) => Hypothesis::flag(population, true),
        (_, Some(split), Some(spec)) => Hypothesis::new(
            format!(
                "held-out split {} (m samples; the held-out estimate and its confidence limits \
                 use them, inputs preprocessed with the training rule)",
                spec.dir().display()
            ),
            split.n() as f64,
            Relation::Ge,
            1.0,
        ),
        _ => Hypothesis::flag(NO_HELD_OUT_SPLIT, false),
    }
}

/// For a test split only (Gaussian data: none): `Φ_κ`'s `E‖x̃‖ ≤ √d` (eq. (23), catalog §2.2)
/// as measured on the split, whose inputs are whitened with the training `Σ_X` rather than
/// the population `Σ` (for which `E‖x̃‖² = d` exactly); the catalog's remedy when `Σ_X` is
/// used on test points is to compare with the measured mean.
pub(crate) fn h_split_mean_norm(s: &Setting) -> Option<Hypothesis> {
    let split = s.test.as_ref()?;
    let mean = (0..split.n()).map(|i| split.x.row(i).norm()).sum::<f64>() / split.n() as f64;
    Some(Hypothesis::new(
        "mean ‖x̃‖ over the held-out split ≤ √d (Φ_κ's E‖x̃‖ ≤ √d, eq. (23); the split is \
         whitened with the training Σ_X)",
        mean,
        Relation::Le,
        (split.d() as f64).sqrt(),
    ))
}

/// Which `v` a statement uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VChoice {
    /// Eq. (10) as printed (lower limit `w(β)`).
    Printed,
    /// The solution of eq. (88) with `v(0) = 0` (lower limit `w(β̄)`).
    Ode,
    /// The catalog's candidate repair (factor ρ restored).
    Repaired,
}

impl VChoice {
    pub(crate) fn parse(pr: &Params<'_>) -> Result<Self, GradflowError> {
        match pr.str("v", "printed")? {
            "printed" => Ok(Self::Printed),
            "ode" => Ok(Self::Ode),
            other => Err(GradflowError::Config(format!(
                "v = {other:?}: expected \"printed\" or \"ode\""
            ))),
        }
    }
    pub(crate) fn scalar(self) -> Scalar {
        match self {
            Self::Printed => Scalar::VPrinted,
            Self::Ode => Scalar::V,
            Self::Repaired => Scalar::VRepaired,
        }
    }
}

const PRINTED_V_ERROR: &str = "eqs. (61)/(88) bound ‖W_1X̃‖_F by √m·u instead of √m·ρu, so v is \
     too small by about ρ for ρ > 1 (catalog 001 L7.1 FLAG, §6 item 11); the `_repaired` claim \
     uses the catalog's candidate repair";

/// The registered claims of this module.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            id: "gol24.eq20.pointwise_deviation",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::Eq20, false, p),
        },
        Entry {
            id: "gol24.eq20.pointwise_deviation_repaired",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::Eq20, true, p),
        },
        Entry {
            id: "gol24.eq21.train_deviation",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::Eq21, false, p),
        },
        Entry {
            id: "gol24.eq21.train_deviation_repaired",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::Eq21, true, p),
        },
        Entry {
            id: "gol24.lemma7_3.pointwise",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::L73Pointwise, false, p),
        },
        Entry {
            id: "gol24.lemma7_3.train",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::L73Train, false, p),
        },
        Entry {
            id: "gol24.lemma7_1.int_deviation",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::L71Int, false, p),
        },
        Entry {
            id: "gol24.lemma7_1.int_deviation_repaired",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::L71Int, true, p),
        },
        Entry {
            id: "gol24.lemma7_1.d1_d2",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::D1D2, false, p),
        },
        Entry {
            id: "gol24.lemma7_1.d1_d2_repaired",
            paper: PAPER,
            build: |p| Deviation::build(DevKind::D1D2, true, p),
        },
        Entry {
            id: "gol24.lemma7_1.tight_g2",
            paper: PAPER,
            build: |p| {
                Ok(Box::new(TightG2 {
                    factor: super::only_factor("gol24.lemma7_1.tight_g2", p)?,
                    lx: LxTracker::default(),
                }))
            },
        },
        Entry {
            id: "gol24.sec2_8.scalars_closed_form",
            paper: PAPER,
            build: |p| {
                let pr = Params::new("gol24.sec2_8.scalars_closed_form", p, &["ode_lower"])?;
                let swap = match pr.str("ode_lower", "beta_bar")? {
                    "beta_bar" => false,
                    "beta" => true,
                    other => {
                        return Err(GradflowError::Config(format!(
                            "ode_lower = {other:?}: expected \"beta_bar\" or \"beta\""
                        )))
                    }
                };
                Ok(Box::new(ScalarsClosedForm { swap }))
            },
        },
        Entry {
            id: "gol24.thm5_2.bound",
            paper: PAPER,
            build: |p| Theorem52::build(p, Schedule::AtEnd),
        },
        Entry {
            id: "gol24.thm5_2.bound_series",
            paper: PAPER,
            build: |p| Theorem52::build(p, Schedule::Always),
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// Whether Theorem 5.2's bound is the assumption-free App. A.1 variant (`bound.s_one`), for
/// which the statements here need no Assumption 5.1 (otherwise a final hypothesis, see
/// [`LxTracker`]).
pub(crate) fn bound_s_one(s: &Setting) -> bool {
    matches!(
        &s.cfg.model,
        Some(crate::config::ModelSpec::LeakyRelu { bound, .. }) if bound.s_one
    )
}

/// The `final_hypotheses` and `advance` of a claim that needs Assumption 5.1 unless the bound
/// is the assumption-free variant ([`bound_s_one`]): its `lx` tracker ([`LxTracker`]) follows
/// the trained trajectory, and Assumption 5.1 along the run is then a final hypothesis.
macro_rules! lx_final_hypotheses_unless_s_one {
    () => {
        fn final_hypotheses(
            &self,
            s: &Setting,
            _gf: &mut GradientFlow,
            _p: &Point<'_>,
        ) -> Vec<Hypothesis> {
            self.lx.final_hypotheses(!bound_s_one(s))
        }
        fn advance(&mut self, s: &Setting, _gf: &mut GradientFlow, p: &Point<'_>) {
            self.lx.advance(s, p.y);
        }
    };
}
pub(crate) use lx_final_hypotheses_unless_s_one;

/// The hypotheses every statement here shares: the twin state, whitened data, `y = ±1`,
/// `q = 1`, `L ≥ 2`, and `max_l ‖W_l(0)‖₂ ≤ β` for the scalars' `β`.
pub(crate) fn common_hypotheses(s: &Setting, sc: Option<&BoundScalars>) -> Vec<Hypothesis> {
    let Some(sc) = sc else {
        // without the twin's scalars only the missing twin is worth reporting
        return vec![super::hyp::twin(s)];
    };
    let sc = Some(sc);
    let (b0, rho0) = init_beta_rho(s);
    vec![
        super::hyp::twin(s),
        Hypothesis::new(
            "whitened inputs (§5.1): ‖X̃ᵀX̃/n − I_d‖_F",
            whitening_defect(s),
            Relation::Le,
            super::gol24::WHITENING_TOL,
        ),
        Hypothesis::new(
            "labels y ∈ {−1, +1} (§5.1)",
            label_defect(s),
            Relation::Le,
            0.0,
        ),
        super::hyp::single_output(s, "scalar output q = 1"),
        super::hyp::depth_at_least(s, 2),
        // the default β is max_l ‖W_l(0)‖₂ itself (by another SVD: equal to round-off)
        Hypothesis::new(
            "max_l ‖W_l(0)‖₂ ≤ β (Theorem 5.2)",
            b0,
            Relation::Le,
            sc.map_or(f64::NAN, |c| c.beta * (1.0 + 1e-12)),
        ),
        // a supplied ρ (model.bound.rho) below the init's ‖W_1(0)‖_F/‖W_1(0)‖₂ makes the
        // bound's premise ‖W_1‖_F ≤ ρ‖W_1‖ false at t = 0
        Hypothesis::new(
            "‖W_1(0)‖_F/‖W_1(0)‖₂ ≤ ρ (Theorem 5.2)",
            rho0,
            Relation::Le,
            sc.map_or(f64::NAN, |c| c.rho * (1.0 + 1e-12)),
        ),
        Hypothesis::new(
            "scalars' ε ≥ network's ε (monotonicity in ε, catalog §6 item 9)",
            sc.map_or(f64::NAN, |c| c.eps),
            Relation::Ge,
            s.eps,
        ),
    ]
}

/// The scalars the flow integrates (recomputed from the run for the hypotheses).
pub(crate) fn run_scalars(s: &Setting) -> Option<BoundScalars> {
    let Some(crate::config::ModelSpec::LeakyRelu { bound, .. }) = &s.cfg.model else {
        return None;
    };
    crate::flow::nearly_linear::run_scalars(&s.shape, &s.data.x, &s.data.y, &s.theta0, s.eps, bound)
        .ok()
}

/// What the deviation bounds read at a twin state: Theorem 5.2's scalars, the linear twin's
/// weights `θ⁰`, the integrated `u` and the chosen `v` (`None` without the twin).
pub(crate) fn twin_inputs<'a>(
    s: &Setting,
    gf: &GradientFlow,
    y: &'a [f64],
    v: VChoice,
) -> Option<(BoundScalars, &'a [f64], f64, f64)> {
    let sc = gf.twin()?.scalars;
    let theta0 = s.layout.twin_theta(y)?;
    Some((
        sc,
        theta0,
        scalar(s, y, Scalar::U)?,
        scalar(s, y, v.scalar())?,
    ))
}

/// A comparison scalar at a point, `None` once frozen (vacuous bound).
pub(crate) fn scalar(s: &Setting, y: &[f64], which: Scalar) -> Option<f64> {
    let v = s.layout.scalar(y, which)?;
    let u = s.layout.scalar(y, Scalar::U)?;
    (v.is_finite() && v.abs() < SCALAR_CAP && u.abs() < U_CAP).then_some(v)
}

fn layers(s: &Setting, theta: &[f64]) -> Vec<DMatrix<f64>> {
    s.shape.unpack(&theta[..s.params()])
}

// ---------------------------------------------------------------------------------------
// Deviation bounds: eqs. (20)–(21), Lemma 7.3, Lemma 7.1 (integrated)
// ---------------------------------------------------------------------------------------

/// Which deviation statement a [`Deviation`] claim checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    /// Eq. (20): `|f^ε_{θ^ε}(x) − f^ε_{θ⁰}(x)| ≤ εLu^{L−1}v‖x‖` for all `x`.
    Eq20,
    /// Eq. (21): `‖f^ε_{θ^ε}(X̃) − f^ε_{θ⁰}(X̃)‖₂ ≤ ε√m(1 + (L−1)ρ)u^{L−1}v`.
    Eq21,
    /// Lemma 7.3 (26): `|f^ε_{θ^ε}(x) − g₂(x)| ≤ (L−1)(L + 1 + ρ(L−1))u^{L−1}v‖x‖ε²`.
    L73Pointwise,
    /// Lemma 7.3 (27): `‖f^ε_{θ^ε}(X̃) − g₂(X̃)‖₂ ≤ 2(L−1)(1 + ρ(L−1))u^{L−1}v√m ε²`.
    L73Train,
    /// Lemma 7.1 integrated (catalog L7.1-int, derived from D1/D2):
    /// `max(max_l ‖W_l^ε − W_l⁰‖₂, ‖W_1^ε − W_1⁰‖_F) ≤ εv`.
    L71Int,
    /// Lemma 7.1 (D1, D2) at `τ = ε`: `max(max_l ‖∂W_l/∂τ‖₂, ‖∂W_1/∂τ‖_F) ≤ v`, with the
    /// integrated sensitivity `V = ∂θ^ε/∂ε`.
    D1D2,
}

/// Deviation of the trained network from its twin-based proxy, against the bound of the paper
/// (catalog 001 Eq20/Eq21, L7.3, L7.1-int), at every accepted step.
///
/// - Eq. (20) (Sec. 5, with Lemma 7.1): `max_x |f^ε_{θ^ε}(x) − f^ε_{θ⁰}(x)|/‖x‖ ≤ εLu^{L−1}v`,
///   the maximum over the training inputs, a held-out batch (`test_points` fresh population
///   samples, whitened with the population `Σ`; the test split of `.npy` data, whitened with
///   the training `Σ_X`; Gaussian directions for `.npy` data without one) and `±w/‖w‖` with `wᵀ = W_L^ε⋯W_1^ε − W_L⁰⋯W_1⁰` (the maximiser of the
///   difference's linear part; the supremum over all `x` is not computed);
/// - Eq. (21): `‖f^ε_{θ^ε}(X̃) − f^ε_{θ⁰}(X̃)‖₂ ≤ ε√n(1 + (L−1)ρ)u^{L−1}v`;
/// - Lemma 7.3, with the κ = 2 proxy `g₂(x) = f^ε_{θ⁰}(x) + x c_corrᵀ`,
///   `c_corrᵀ = X̃⁺Δ`, `Δ = f^ε_{θ^ε}(X̃) − f^ε_{θ⁰}(X̃)` (eq. (25), row form):
///   (26) `max_x |f^ε_{θ^ε}(x) − g₂(x)|/‖x‖ ≤ (L−1)(L + 1 + ρ(L−1))u^{L−1}vε²` (same points,
///   `w` the linear part of `f − g₂`) and
///   (27) `‖(I − X̃X̃⁺)Δ‖₂ ≤ 2(L−1)(1 + ρ(L−1))u^{L−1}v√n ε²`; both need `rank X̃ = d` (the
///   first-order term cancels through `X̃X̃⁺ = I_d`, catalog §5.3 scenario 3);
/// - Lemma 7.1 integrated: `max(max_l ‖W_l^ε − W_l⁰‖₂, ‖W_1^ε − W_1⁰‖_F) ≤ εv`;
/// - Lemma 7.1 (D1, D2) at `τ = ε` (model `sensitivity: true`):
///   `max(max_l ‖V_l‖₂, ‖V_1‖_F) ≤ v`, `V = ∂θ^τ/∂τ` integrated in the state (at a
///   fixed activation pattern; switching terms ignored as in the paper).
///
/// `u, v` are the integrated comparison scalars at `τ = λt` (for `L ≥ 3` not evaluated once
/// frozen near `T_blow`: vacuous). The statements rest on Lemma 7.1, i.e. on Assumption 5.1
/// (a final hypothesis: its running value on `θ^ε`; not needed with `bound.s_one`).
/// Parameters: `v` (`"printed"`, default, or `"ode"`; the `_repaired` ids use the candidate
/// repair), `factor` (multiplies the bound; `< 1` is a deliberately false variant),
/// `test_points` (held-out batch size, default 200). Budget: accumulated, with round-off at
/// the larger of the bound and the operands of the difference (the norms of the two outputs
/// or weights subtracted; at `ε = 0` the difference and the bound are both 0).
pub struct Deviation {
    kind: DevKind,
    v: VChoice,
    factor: f64,
    test_points: usize,
    batch: Option<DMatrix<f64>>,
    lx: LxTracker,
}

impl Deviation {
    fn id(kind: DevKind, repaired: bool) -> &'static str {
        match (kind, repaired) {
            (DevKind::Eq20, false) => "gol24.eq20.pointwise_deviation",
            (DevKind::Eq20, true) => "gol24.eq20.pointwise_deviation_repaired",
            (DevKind::Eq21, false) => "gol24.eq21.train_deviation",
            (DevKind::Eq21, true) => "gol24.eq21.train_deviation_repaired",
            (DevKind::L73Pointwise, _) => "gol24.lemma7_3.pointwise",
            (DevKind::L73Train, _) => "gol24.lemma7_3.train",
            (DevKind::L71Int, false) => "gol24.lemma7_1.int_deviation",
            (DevKind::L71Int, true) => "gol24.lemma7_1.int_deviation_repaired",
            (DevKind::D1D2, false) => "gol24.lemma7_1.d1_d2",
            (DevKind::D1D2, true) => "gol24.lemma7_1.d1_d2_repaired",
        }
    }
    fn build(kind: DevKind, repaired: bool, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = Self::id(kind, repaired);
        let known: &[&str] = if repaired {
            &["factor", "test_points"]
        } else {
            &["v", "factor", "test_points"]
        };
        let pr = Params::new(id, p, known)?;
        let v = if repaired {
            VChoice::Repaired
        } else {
            VChoice::parse(&pr)?
        };
        let test_points = pr.count("test_points", 200.0)?;
        Ok(Box::new(Self {
            kind,
            v,
            factor: pr.f64("factor", 1.0)?,
            test_points,
            batch: None,
            lx: LxTracker::default(),
        }))
    }

    /// Training inputs stacked on the held-out batch.
    fn batch(&mut self, s: &Setting) -> &DMatrix<f64> {
        let tp = self.test_points;
        self.batch.get_or_insert_with(|| {
            let d = s.shape.input();
            let test = s
                .test
                .as_ref()
                .map(|split| split.x.clone())
                .or_else(|| {
                    held_out(&s.cfg.data, s.cfg.seed, tp, DEVIATION_STREAM)
                        .ok()
                        .flatten()
                        .map(|ds| ds.x)
                })
                .unwrap_or_else(|| {
                    use rand::SeedableRng;
                    crate::model::data::standard_normal_rows(
                        &mut rand::rngs::StdRng::seed_from_u64(s.cfg.seed ^ 0x5EED),
                        tp,
                        d,
                    )
                });
            let n = s.data.n();
            DMatrix::from_fn(n + test.nrows(), d, |i, j| {
                if i < n {
                    s.data.x[(i, j)]
                } else {
                    test[(i - n, j)]
                }
            })
        })
    }
}

/// `x` with the two rows `±wᵀ/‖w‖` appended (`w` a `d×1` direction; skipped when zero).
fn with_direction(x: &DMatrix<f64>, w: &DMatrix<f64>) -> DMatrix<f64> {
    let nw = w.norm();
    if nw == 0.0 {
        return x.clone();
    }
    let (n, d) = x.shape();
    DMatrix::from_fn(n + 2, d, |i, j| {
        if i < n {
            x[(i, j)]
        } else if i == n {
            w[(j, 0)] / nw
        } else {
            -w[(j, 0)] / nw
        }
    })
}

/// `(W_L ⋯ W_1)ᵀ` of a weight vector (`d × 1`): the linear part of the network.
fn linear_part(s: &Setting, theta: &[f64]) -> DMatrix<f64> {
    crate::model::net::end_to_end(&s.shape, &theta[..s.params()])
}

/// `max_i |a_i − b_i| / ‖x_i‖` over the rows.
fn max_ratio(a: &DMatrix<f64>, b: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (0..x.nrows())
        .map(|i| {
            let nx = x.row(i).norm();
            if nx > 0.0 {
                (a[(i, 0)] - b[(i, 0)]).abs() / nx
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

impl Claim for Deviation {
    fn info(&self) -> ClaimInfo {
        let repaired = self.v == VChoice::Repaired;
        let (result, statement) = match self.kind {
            DevKind::Eq20 => (
                "eq. (20) with Lemma 7.1",
                "max_x |f^ε_{θ^ε}(x) − f^ε_{θ⁰}(x)|/‖x‖ ≤ εL u^{L−1} v (train + held-out x)",
            ),
            DevKind::Eq21 => (
                "eq. (21) with Lemma 7.1",
                "‖f^ε_{θ^ε}(X̃) − f^ε_{θ⁰}(X̃)‖₂ ≤ ε√n(1 + (L−1)ρ) u^{L−1} v",
            ),
            DevKind::L73Pointwise => (
                "Lemma 7.3 (26)",
                "max_x |f^ε_{θ^ε}(x) − g₂(x)|/‖x‖ ≤ (L−1)(L+1+ρ(L−1)) u^{L−1} v ε²",
            ),
            DevKind::L73Train => (
                "Lemma 7.3 (27)",
                "‖f^ε_{θ^ε}(X̃) − g₂(X̃)‖₂ = ‖(I − X̃X̃⁺)Δ‖ ≤ 2(L−1)(1+ρ(L−1)) u^{L−1} v √n ε²",
            ),
            DevKind::L71Int => (
                "Lemma 7.1 (D1, D2) integrated over τ ∈ [0, ε] (catalog L7.1-int)",
                "max(max_l ‖W_l^ε − W_l⁰‖₂, ‖W_1^ε − W_1⁰‖_F) ≤ ε v",
            ),
            DevKind::D1D2 => (
                "Lemma 7.1 (D1, D2)",
                "max(max_l ‖∂W_l/∂τ‖₂, ‖∂W_1/∂τ‖_F) ≤ v at τ = ε (integrated sensitivity)",
            ),
        };
        let vname = match self.v {
            VChoice::Printed => "v of eq. (10) as printed",
            VChoice::Ode => "v = solution of eq. (88) with v(0) = 0",
            VChoice::Repaired => "candidate repaired v (factor ρ restored)",
        };
        ClaimInfo::new(
            Self::id(self.kind, repaired),
            PAPER,
            result,
            format!(
                "{statement}{}; {vname}, u, v at τ = 2κn·t",
                if self.factor == 1.0 {
                    String::new()
                } else {
                    format!(" (bound × {})", self.factor)
                }
            ),
        )
        .printed((!repaired).then_some(PRINTED_V_ERROR))
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let sc = run_scalars(s);
        let mut h = common_hypotheses(s, sc.as_ref());
        if matches!(self.kind, DevKind::L73Pointwise | DevKind::L73Train) {
            h.push(super::hyp::full_column_rank(
                s,
                "rank X̃ = d (X̃X̃⁺ = I_d, Lemma 7.3)",
            ));
        }
        if self.kind == DevKind::D1D2 {
            h.push(Hypothesis::flag(
                "the state carries ∂θ^ε/∂ε (model sensitivity: true)",
                s.layout.sensitivity,
            ));
        }
        if self.v == VChoice::Repaired {
            h.push(super::hyp::depth_at_most(
                s,
                2,
                "depth L = 2 (the candidate repair is stated for L = 2)",
            ));
        }
        h
    }
    lx_final_hypotheses_unless_s_one!();
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if p.step == 0 || s.shape.depth() < 2 || s.shape.output() != 1 {
            return None;
        }
        let (sc, theta0, u, v) = twin_inputs(s, gf, p.y, self.v)?;
        let l = s.shape.depth() as f64;
        let (eps, rho) = (s.eps, sc.rho);
        let n = s.data.n() as f64;
        let ul1 = u.powf(l - 1.0);
        // each lhs is the norm of a difference (θ^ε's outputs or weights minus θ⁰'s): its
        // round-off is at the scale of the two things subtracted (`operands`), not of the
        // difference, which is 0 at ε = 0 (θ^ε = θ⁰ exactly)
        let (lhs, bound, operands) = match self.kind {
            DevKind::Eq20 => {
                // the batch plus ±the direction maximising the linear part of the difference
                let w = linear_part(s, p.y) - linear_part(s, theta0);
                let x = with_direction(self.batch(s), &w);
                let fe = s.outputs_on(p.y, &x);
                let f0 = s.outputs_on(theta0, &x);
                (
                    max_ratio(&fe, &f0, &x),
                    eps * l * ul1 * v,
                    max_ratio_sum(&fe, &f0, &x),
                )
            }
            DevKind::Eq21 => {
                let (fe, f0) = (s.outputs(p.y), s.outputs(theta0));
                (
                    (&fe - &f0).norm(),
                    eps * n.sqrt() * (1.0 + (l - 1.0) * rho) * ul1 * v,
                    fe.norm() + f0.norm(),
                )
            }
            DevKind::L73Pointwise | DevKind::L73Train => {
                let (fe, f0) = (s.outputs(p.y), s.outputs(theta0));
                let delta = &fe - &f0;
                let c = min_norm_solution(&s.data.x, &delta); // X̃⁺Δ (d×1)
                let train_scale = fe.norm() + f0.norm();
                if self.kind == DevKind::L73Train {
                    let resid = &delta - &s.data.x * &c;
                    (
                        resid.norm(),
                        2.0 * (l - 1.0) * (1.0 + rho * (l - 1.0)) * ul1 * v * n.sqrt() * eps * eps,
                        train_scale,
                    )
                } else {
                    let w = linear_part(s, p.y) - linear_part(s, theta0) - &c;
                    let x = with_direction(self.batch(s), &w);
                    let fe = s.outputs_on(p.y, &x);
                    let g2 = s.outputs_on(theta0, &x) + &x * &c;
                    (
                        max_ratio(&fe, &g2, &x),
                        (l - 1.0) * (l + 1.0 + rho * (l - 1.0)) * ul1 * v * eps * eps,
                        max_ratio_sum(&fe, &g2, &x) + train_scale / n.sqrt(),
                    )
                }
            }
            DevKind::L71Int => {
                let (we, w0) = (layers(s, p.y), layers(s, theta0));
                let spec = we
                    .iter()
                    .zip(&w0)
                    .map(|(a, b)| spectral_norm(&(a - b)))
                    .fold(0.0, f64::max);
                let operands = we
                    .iter()
                    .zip(&w0)
                    .map(|(a, b)| a.norm() + b.norm())
                    .fold(0.0, f64::max);
                (spec.max((&we[0] - &w0[0]).norm()), eps * v, operands)
            }
            DevKind::D1D2 => {
                let vs = layers(s, s.layout.sensitivity(p.y)?);
                let spec = vs.iter().map(spectral_norm).fold(0.0, f64::max);
                let lhs = spec.max(vs[0].norm());
                (lhs, v, lhs)
            }
        };
        let rhs = self.factor * bound;
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Accumulated {
                scale: rhs.abs().max(operands),
            },
        })
    }
}

/// `max_i (|a_i| + |b_i|) / ‖x_i‖` over the rows: the operand scale of [`max_ratio`].
fn max_ratio_sum(a: &DMatrix<f64>, b: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (0..x.nrows())
        .map(|i| {
            let nx = x.row(i).norm();
            if nx > 0.0 {
                (a[(i, 0)].abs() + b[(i, 0)].abs()) / nx
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------
// Tight comparison bounds (eqs. (35)–(37), (73), (80))
// ---------------------------------------------------------------------------------------

/// Lemma 7.1's tighter intermediate bounds (eqs. (37)/(39)/(80) and (73)): `‖W_1^ε(t)‖₂ ≤
/// β − β̄ + u(τ)` and `‖W_l^ε(t)‖₂ ≤ g₂(τ)` for `l ∈ [2, L]`, with `g₁' = s̄²g₂^{L−1}`,
/// `g₂' = g₁g₂^{L−2}`, `g₁(0) = βs̄_ρ`, `g₂(0) = β` integrated in the state. Encoded as
/// `max_l (‖W_l‖ − b_l) ≤ 0` (`b_1 = factor·(β − β̄ + u)`, `b_l = factor·g₂`). Needs Assumption 5.1
/// (final hypothesis). Budget: accumulated, round-off at the scale of the norms and bounds
/// subtracted.
pub struct TightG2 {
    factor: f64,
    lx: LxTracker,
}

impl Claim for TightG2 {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.lemma7_1.tight_g2",
            PAPER,
            "Lemma 7.1 proof, eqs. (37), (39)/(80), (73)",
            format!(
                "‖W_1^ε‖₂ ≤ β − β̄ + u(τ) and ‖W_l^ε‖₂ ≤ g₂(τ) (l ≥ 2), τ = 2κn·t{}",
                if self.factor == 1.0 {
                    String::new()
                } else {
                    format!(", bounds × {}", self.factor)
                }
            ),
        )
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        common_hypotheses(s, run_scalars(s).as_ref())
    }
    lx_final_hypotheses_unless_s_one!();
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if p.step == 0 || s.shape.depth() < 2 {
            return None;
        }
        let sc = gf.twin()?.scalars;
        let u = scalar(s, p.y, Scalar::U)?;
        let g2 = scalar(s, p.y, Scalar::G2)?;
        let ws = layers(s, p.y);
        let mut worst = spectral_norm(&ws[0]) - self.factor * (sc.beta - sc.beta_bar + u);
        for w in &ws[1..] {
            worst = worst.max(spectral_norm(w) - self.factor * g2);
        }
        // operands: the norms and the bounds subtracted from them
        let norms = ws.iter().map(|w| w.norm()).fold(0.0, f64::max);
        Some(Statement {
            lhs: worst,
            rhs: 0.0,
            budget: Budget::Accumulated {
                scale: norms + self.factor.abs() * (u + g2.abs() + sc.beta + sc.beta_bar),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// The comparison scalars against their closed forms (§2.8)
// ---------------------------------------------------------------------------------------

/// Catalog §2.8 (eqs. (9)–(10), (88)): the integrated comparison scalars equal their closed
/// forms, `u(τ) = β̄e^{s̄τ}` (`L = 2`) / `(β̄^{2−L} − (L−2)s̄τ)^{1/(2−L)}`,
/// `v = G(u) = ((L−1)/L)ŝ^{(2−L)/L}u^{L−1}[w(u) − w(β̄)]e^{u^L/ŝ}` (the ODE's solution, `v(0) = 0`)
/// and `v_printed = G_p(u)`, the same with `w(β)` (eq. (10) as printed), at `τ = 2κn·t`. An
/// oracle for the joint integration (the ODE states are integrated with the network).
///
/// The identity is checked in the coordinates the comparison ODEs conserve, so that the
/// checker's accumulated model (a sum of the slack's local errors) is the right error model.
/// A relative difference `u/u_cf − 1` is not conserved: `du/dτ = s̄u^{L−1}` carries a local
/// error `δu` forward as a time lag `δu/u'`, i.e. a relative error growing like `(u/β̄)^{L−2}`
/// towards `T_blow`, and `v ∝ e^{u^L/ŝ}` turns it into `(Lu^L/ŝ)·δu/u` in `v` — an expansion
/// the checker's growth factor (measured on the weights) does not see. The conserved forms:
/// - `e_u = s̄β̄^{L−2}(T(u) − τ)`, `T(u)` the closed form's time to reach `u` (`L = 2`:
///   `e_u = ln(u/β̄) − s̄τ`; `L ≥ 3`: `(1 − (β̄/u)^{L−2})/(L−2) − s̄β̄^{L−2}τ`): a time lag, which
///   the flow of `u` keeps, in units of the initial e-folding time (= `u/u_cf − 1` at first);
/// - `e_v = (v − G(u))/G(u)` and `e_p = (v_p − G_p(u))/G_p(u)` with the *integrated* `u`: the
///   part of `v`'s error transverse to the solution curve `v = G(u)`, which
///   `dv/dτ = av + f(u)` multiplies by `e^{∫a}` while `G` grows at least as fast, so
///   `|e_v|` does not grow.
///
/// The statement (identity) is the largest of them, signed: `max(|e_u|, |e_v|, |e_p|) = 0`.
/// `G` is evaluated with an independent, accurate quadrature (composite 8-point
/// Gauss–Legendre in `ln t`, [`w_diff_accurate`]; the flow's own Simpson rule is off by up
/// to ~1e-12 relative for `L ≥ 3`). The `v` parts are compared once the log-interval
/// `L ln(u/β̄)` is at least 1e-8. Budget: accumulated, with round-off at the operands' scale:
/// `ln z_u − ln z_a` (`z = x^L/ŝ`) is a difference of logarithms of size `|ln z|`, so its
/// relative round-off is `ε(|ln z_a| + |ln z_u|)/(ln z_u − ln z_a)`, not `ε/(ln z_u − ln z_a)`;
/// `e^{u^L/ŝ}` adds `u^L/ŝ`; `e_u` is a difference of `ln u`, `ln β̄` and `s̄τ`.
/// Parameter `ode_lower = "beta"` compares the `v(0) = 0` solution with the closed form of
/// lower limit `w(β)` instead (the false statement "printed eq. (10) solves eq. (88) from
/// `v(0) = 0`", catalog §2.8: they differ when `β̄ ≠ β`, i.e. `ρ > 1` and `ε > 0`).
pub struct ScalarsClosedForm {
    swap: bool,
}

/// 8-point Gauss–Legendre nodes (positive half) and weights on `[−1, 1]`.
const GL8: [(f64, f64); 4] = [
    (0.183_434_642_495_649_8, 0.362_683_783_378_362),
    (0.525_532_409_916_329, 0.313_706_645_877_887_3),
    (0.796_666_477_413_626_7, 0.222_381_034_453_374_5),
    (0.960_289_856_497_536_3, 0.101_228_536_290_376_26),
];

/// `w(b) − w(a)` of eq. (10) (see [`BoundScalars::w_diff`]) by composite 8-point
/// Gauss–Legendre in `σ = ln t` on panels of width ≤ 1/4 (the integrand
/// `(c₁e^{a₁σ} + c₂e^{a₂σ})e^{−e^σ}` varies on scales ≥ 1 in `σ`, so the rule is exact to
/// round-off), with the relative round-off scale of the result,
/// `(|ln z_a| + |ln z_b|)/|ln z_b − ln z_a|`.
pub fn w_diff_accurate(sc: &BoundScalars, a: f64, b: f64) -> (f64, f64) {
    let l = sc.depth as f64;
    let sh = sc.s_hat();
    let (za, zb) = (a.powf(l) / sh, b.powf(l) / sh);
    if !(za > 0.0 && zb > 0.0) || za == zb {
        return (0.0, f64::INFINITY);
    }
    let (a1, a2) = ((2.0 - l) / l, 2.0 / l);
    let (c1, c2) = (sc.one_bar() / sc.s_bar, sc.rho * sh / sc.s_bar);
    let (la, lb) = (za.ln(), zb.ln());
    let f = |sg: f64| (c1 * (a1 * sg).exp() + c2 * (a2 * sg).exp()) * (-sg.exp()).exp();
    let panels = ((lb - la).abs() * 4.0).ceil().max(1.0) as usize;
    let h = (lb - la) / panels as f64;
    let mut acc = 0.0;
    for k in 0..panels {
        let mid = la + (k as f64 + 0.5) * h;
        for (x, w) in GL8 {
            acc += w * (f(mid + 0.5 * h * x) + f(mid - 0.5 * h * x));
        }
    }
    (acc * 0.5 * h, (la.abs() + lb.abs()) / (lb - la).abs())
}

/// Eq. (10) as a function of `u`, `G(u) = ((L−1)/L)ŝ^{(2−L)/L}u^{L−1}[w(u) − w(lower)]e^{u^L/ŝ}`,
/// with its relative round-off scale (see [`w_diff_accurate`], plus `u^L/ŝ` for the
/// exponential).
pub fn v_of_u(sc: &BoundScalars, u: f64, lower: f64) -> (f64, f64) {
    let l = sc.depth as f64;
    let sh = sc.s_hat();
    let (w, rel) = w_diff_accurate(sc, lower, u);
    let ul = u.powf(l) / sh;
    (
        (l - 1.0) / l * sh.powf((2.0 - l) / l) * u.powf(l - 1.0) * w * ul.exp(),
        2.0 + rel + ul,
    )
}

/// The time lag `e_u = s̄β̄^{L−2}(T(u) − τ)` of an integrated `u` (see [`ScalarsClosedForm`])
/// with its round-off scale.
pub fn u_time_lag(sc: &BoundScalars, u: f64, tau: f64) -> (f64, f64) {
    let l = sc.depth as f64;
    let rate = sc.s_bar * sc.beta_bar.powf(l - 2.0);
    if sc.depth <= 2 {
        let lag = (u / sc.beta_bar).ln() - rate * tau;
        (
            lag,
            1.0 + u.ln().abs() + sc.beta_bar.ln().abs() + rate * tau,
        )
    } else {
        let q = (sc.beta_bar / u).powf(l - 2.0);
        let lag = (1.0 - q) / (l - 2.0) - rate * tau;
        (lag, (1.0 + q) / (l - 2.0) + rate * tau)
    }
}

impl Claim for ScalarsClosedForm {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "gol24.sec2_8.scalars_closed_form",
            PAPER,
            "eqs. (9)–(10), (88) (catalog §2.8)",
            if self.swap {
                "(false variant) integrated v with v(0) = 0 equals eq. (10) with lower limit w(β)"
            } else {
                "integrated u, v (v(0) = 0) and printed v equal their closed forms: time lag of \
                 u and relative distance of v, v_p from eq. (10) at the integrated u are 0"
            },
        )
        .identity()
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        vec![super::hyp::twin(s)]
    }
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let tw = *gf.twin()?;
        let sc = tw.scalars;
        let tau = tw.lambda * p.t;
        sc.u(tau)?;
        let u = scalar(s, p.y, Scalar::U)?;
        let (lag, mut scale) = u_time_lag(&sc, u, tau);
        let mut dev = lag;
        let width = s.shape.depth() as f64 * (u / sc.beta_bar).ln().abs();
        if width >= 1e-8 {
            let v = scalar(s, p.y, Scalar::V)?;
            let vp = scalar(s, p.y, Scalar::VPrinted)?;
            let lower = if self.swap { sc.beta } else { sc.beta_bar };
            for (x, (g, sg)) in [(v, v_of_u(&sc, u, lower)), (vp, v_of_u(&sc, u, sc.beta))] {
                let e = if g == 0.0 { x } else { (x - g) / g };
                if e.abs() > dev.abs() {
                    dev = e;
                }
                scale = scale.max(sg);
            }
        }
        Some(Statement {
            lhs: dev,
            rhs: 0.0,
            budget: Budget::Accumulated { scale },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Theorem 5.2
// ---------------------------------------------------------------------------------------

/// Which estimate of the held-out risk is compared with the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RiskSide {
    Upper,
    Lower,
    Point,
}

/// Theorem 5.2 at the final time `t` (catalog T5.2): with probability `≥ 1 − δ` over the
/// sample, `R^ε(t) ≤ R̂^ε_γ(t) + Υ_κ + Δ_{κ,β}(t)ε^κ/γ`, where `R^ε(t) = P(y f^ε_{θ^ε(t)}(x̃) < 0)`
/// (population risk, `x̃ = Σ^{-1/2}x`), `R̂_γ = (1/n)Σ_k 1[y_k f(x̃_k) < γ]` (train margin risk),
/// `Υ_κ = sqrt((κ p d ln 2 + ln(1/δ))/(2n))`, `Δ_{κ,β} = Φ_κ v u^{L−1}` with
/// `Φ_1 = L√d + 1 + (L−1)ρ`, `Φ_2 = (L−1)[(L + 1 + (L−1)ρ)√d + 2(1 + (L−1)ρ)]` and `u, v` of
/// eqs. (9)–(10) at `τ = 2κ_loss n·t` (catalog §2.8).
///
/// The left-hand side is a held-out estimate of the risk: on `test_points` fresh population
/// samples for synthetic Gaussian data, on the run's test split (`test`, all its `m` samples,
/// whitened with the training `Σ_X`) for `.npy` data: by default the one-sided Wilson upper
/// confidence limit at level `confidence` (normal quantile from `statrs`) from the number of
/// samples used, so `holds` means the bound exceeds the risk with that confidence;
/// `estimate = "point"` compares the plain frequency. On a test split the comparison is with
/// the risk of the deployed classifier `f(Σ_X^{-1/2}x)`, the paper's substitute for the
/// unknown `Σ` (catalog §2.2). The theorem's own probability `δ` is over the training sample
/// and is not tested by one run (a sweep over seeds is). Hypotheses: the common ones,
/// `rank X = d`, held-out data (a known population, or a test split with its size `m` as the
/// value; `.npy` data without one: `not_applicable`, "no held-out split"), on a test split the
/// measured mean `‖x̃‖ ≤ √d` that `Φ_κ` rests on, `γ > 0`, and at the end Assumption 5.1 along
/// the run (not needed with `bound.s_one`, App. A.1). For `L ≥ 3` past `T_blow` the bound is vacuous and not
/// evaluated. Parameters: `kappa` (1 or 2, default 2), `gamma` (default 0.05), `delta`
/// (0.05), `bits` (`p`, 32), `test_points` (20000), `confidence` (0.95), `estimate`
/// (`"upper"`, `"lower"` — the Wilson lower limit, so `violated` is a sure violation — or
/// `"point"`), `factor` (multiplies the bound; `< 1` is a deliberately false variant), `v`
/// (`"printed"` or `"ode"`), `union` (1, default; 0 replaces `Υ_κ` by the single-function
/// Hoeffding term `sqrt(ln(1/δ)/(2n))`, which ignores that the proxy depends on the sample:
/// the catalog's "more sensitive but not guaranteed" variant). Budget: accumulated local error of the slack, at the bound's scale.
///
/// Two ids share this type: `gol24.thm5_2.bound` evaluates the statement once at `t_end`
/// ([`Schedule::AtEnd`]); `gol24.thm5_2.bound_series` evaluates the same statement at every
/// accepted step (catalog §5.1 item 8, the bound time series `B_κ(t)` against the held-out risk
/// `R(t)`; each `t` separately is a `1 − δ` statement, so the series is a multiple-testing
/// report, not a uniform-in-`t` guarantee).
pub struct Theorem52 {
    schedule: Schedule,
    kappa: u32,
    gamma: f64,
    delta: f64,
    bits: f64,
    test_points: usize,
    confidence: f64,
    side: RiskSide,
    factor: f64,
    v: VChoice,
    union: bool,
    test: Option<Option<crate::model::data::Dataset>>,
    lx: LxTracker,
}

/// Margin risk `(1/n)Σ 1[y_k f_k < γ]` (`γ = 0`: the 0-1 risk with `ŷ = 0` counted correct).
pub fn margin_risk(f: &DMatrix<f64>, y: &DMatrix<f64>, gamma: f64) -> f64 {
    let n = f.nrows();
    let bad = (0..n)
        .filter(|&i| {
            let m = y[(i, 0)] * f[(i, 0)];
            if gamma == 0.0 {
                m < 0.0
            } else {
                m < gamma
            }
        })
        .count();
    bad as f64 / n as f64
}

/// One-sided Wilson score upper limit of a binomial proportion `phat` from `m` trials at
/// confidence `level` (normal quantile `z = Φ^{-1}(level)`).
pub fn wilson_upper(phat: f64, m: usize, level: f64) -> f64 {
    wilson(phat, m, level, 1.0).min(1.0)
}

/// One-sided Wilson score lower limit (the mirror of [`wilson_upper`]).
pub fn wilson_lower(phat: f64, m: usize, level: f64) -> f64 {
    wilson(phat, m, level, -1.0).max(0.0)
}

fn wilson(phat: f64, m: usize, level: f64, side: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    let z = Normal::standard().inverse_cdf(level);
    let m = m as f64;
    let z2 = z * z;
    let centre = phat + z2 / (2.0 * m);
    let half = z * (phat * (1.0 - phat) / m + z2 / (4.0 * m * m)).sqrt();
    (centre + side * half) / (1.0 + z2 / m)
}

/// `"f × "` in front of a bound multiplied by `f` (the deliberately false variants), nothing
/// for `f = 1`.
pub(crate) fn factor_prefix(f: f64) -> String {
    if f == 1.0 {
        String::new()
    } else {
        format!("{f} × ")
    }
}

/// `Υ_κ = sqrt((κ p d ln 2 + ln(1/δ))/(2m))` (Theorem 5.2).
pub fn upsilon(kappa: u32, bits: f64, d: usize, delta: f64, m: usize) -> f64 {
    ((f64::from(kappa) * bits * d as f64 * std::f64::consts::LN_2 + (1.0 / delta).ln())
        / (2.0 * m as f64))
        .sqrt()
}

impl Theorem52 {
    fn id(schedule: Schedule) -> &'static str {
        match schedule {
            Schedule::AtEnd => "gol24.thm5_2.bound",
            _ => "gol24.thm5_2.bound_series",
        }
    }
    fn build(p: &Value, schedule: Schedule) -> Result<Box<dyn Claim>, GradflowError> {
        let id = Self::id(schedule);
        let pr = Params::new(
            id,
            p,
            &[
                "kappa",
                "gamma",
                "delta",
                "bits",
                "test_points",
                "confidence",
                "estimate",
                "factor",
                "v",
                "union",
            ],
        )?;
        let kappa = pr.f64("kappa", 2.0)?;
        if kappa != 1.0 && kappa != 2.0 {
            return Err(GradflowError::Config(format!(
                "claim {id}: kappa = {kappa}: expected 1 or 2"
            )));
        }
        let test_points = pr.count("test_points", 20000.0)?;
        let confidence = pr.f64("confidence", 0.95)?;
        let delta = pr.f64("delta", 0.05)?;
        if !((0.5..1.0).contains(&confidence) && delta > 0.0 && delta < 1.0) {
            return Err(GradflowError::Config(format!(
                "claim {id}: need 0.5 ≤ confidence < 1 and 0 < δ < 1"
            )));
        }
        let side = pr.choice(
            "estimate",
            "upper",
            &[
                ("upper", RiskSide::Upper),
                ("lower", RiskSide::Lower),
                ("point", RiskSide::Point),
            ],
        )?;
        Ok(Box::new(Self {
            schedule,
            kappa: kappa as u32,
            gamma: pr.f64("gamma", 0.05)?,
            delta,
            bits: pr.f64("bits", 32.0)?,
            test_points,
            confidence,
            side,
            factor: pr.f64("factor", 1.0)?,
            v: VChoice::parse(&pr)?,
            union: pr.f64("union", 1.0)? != 0.0,
            test: None,
            lx: LxTracker::default(),
        }))
    }

    /// The bound's three terms `(R̂_γ, Υ_κ, Δε^κ/γ)`, the held-out risk estimate at a point
    /// and the number of held-out samples it is from; `None` when the bound is vacuous or
    /// there are no held-out data.
    pub fn terms(
        &mut self,
        s: &Setting,
        gf: &GradientFlow,
        y: &[f64],
    ) -> Option<([f64; 4], usize)> {
        let sc = gf.twin()?.scalars;
        let u = scalar(s, y, Scalar::U)?;
        let v = scalar(s, y, self.v.scalar())?;
        let test = test_set(&mut self.test, s, self.test_points)?;
        let l = s.shape.depth() as f64;
        let n = s.data.n();
        let train = margin_risk(&s.outputs(y), &s.data.y, self.gamma);
        let ups = if self.union {
            upsilon(self.kappa, self.bits, s.shape.input(), self.delta, n)
        } else {
            super::gol24_proxy::hoeffding(1.0 - self.delta, n)
        };
        let dev = sc.phi_kappa(self.kappa, s.shape.input())
            * v
            * u.powf(l - 1.0)
            * s.eps.powi(self.kappa as i32)
            / self.gamma;
        let risk = margin_risk(&s.outputs_on(y, &test.x), &test.y, 0.0);
        Some(([train, ups, dev, risk], test.n()))
    }
}

impl Claim for Theorem52 {
    fn info(&self) -> ClaimInfo {
        let info = ClaimInfo::new(
            Self::id(self.schedule),
            PAPER,
            match self.schedule {
                Schedule::AtEnd => "Theorem 5.2",
                _ => "Theorem 5.2, as a time series (catalog §5.1 item 8)",
            },
            format!(
                "R^ε(t) {} ≤ {}R̂_γ(t) + {} + Φ_κ v u^{{L−1}} ε^κ/γ {}; κ = {}, γ = {}, \
                 δ = {}, p = {}, held-out: {} population samples (Gaussian data) or the \
                 test split (.npy data)",
                match self.side {
                    RiskSide::Upper => format!("(Wilson upper {} limit)", self.confidence),
                    RiskSide::Lower => format!("(Wilson lower {} limit)", self.confidence),
                    RiskSide::Point => "(Monte Carlo frequency)".to_string(),
                },
                factor_prefix(self.factor),
                if self.union {
                    "Υ_κ"
                } else {
                    "sqrt(ln(1/δ)/(2n)) (single function, no union bound: not a valid bound)"
                },
                match self.schedule {
                    Schedule::AtEnd => "at t = t_end",
                    _ => "at every accepted step",
                },
                self.kappa,
                self.gamma,
                self.delta,
                self.bits,
                self.test_points
            ),
        );
        ClaimInfo {
            schedule: self.schedule,
            ..info
        }
    }
    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let mut h = common_hypotheses(s, run_scalars(s).as_ref());
        h.push(super::hyp::full_column_rank(s, "rank X = d (§5.1)"));
        h.push(h_held_out(
            s,
            "known population for the held-out risk (synthetic Gaussian data)",
        ));
        h.extend(h_split_mean_norm(s));
        h.push(Hypothesis::new(
            "margin γ > 0",
            self.gamma,
            Relation::Gt,
            0.0,
        ));
        h
    }
    lx_final_hypotheses_unless_s_one!();
    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let ([train, ups, dev, risk], m) = self.terms(s, gf, p.y)?;
        let lhs = match self.side {
            RiskSide::Upper => wilson_upper(risk, m, self.confidence),
            RiskSide::Lower => wilson_lower(risk, m, self.confidence),
            RiskSide::Point => risk,
        };
        let rhs = self.factor * (train + ups + dev);
        Some(Statement {
            lhs,
            rhs,
            budget: Budget::Accumulated { scale: rhs },
        })
    }
}
