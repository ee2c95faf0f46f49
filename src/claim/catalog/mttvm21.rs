//! Paper 003: Min, Tarmoun, Vidal & Mallada, "On the Explicit Role of Initialization on the
//! Convergence and Generalization Properties of Overparametrized Linear Networks" (ICLR 2021
//! submission). Catalog `claims/003.md`, checker section §5.
//!
//! Every statement of the paper that gradflow checks is declared in `claims/003.claims`
//! (Theorem 1's rate, its proof's PL, Weyl, Gronwall and uniform bounds, the error
//! decomposition, the limit identity and the generalization bound, the invariants), with the
//! notation of the paper: the depth-2 network `y = V Uᵀ x` has `W_1 = Uᵀ` (`h × D`) and
//! `W_2 = V` (`m × h`), `D_X = U₁ᵀU₁ − VᵀV = W_1P_XW_1ᵀ − W_2ᵀW_2` (eq. 9). What stays here:
//! the rank statement of §3.2, whose singular-value index `r + m + offset` carries a
//! parameter (an index of the claim language is an integer expression in the sizes only),
//! and the gradient-descent step identity of catalog CX5.

use nalgebra::DMatrix;
use serde_json::Value;

use super::common::Filing;
use super::discrete::GdImbalanceStep;
use super::Params;
use crate::claim::registry::Entry;
use crate::claim::{Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Setting, Statement};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// Paper number.
const PAPER: &str = "003";

/// Depth-2 hypothesis (the paper's single-hidden-layer network `y = V Uᵀ x`).
fn two_layer(s: &Setting) -> Hypothesis {
    Hypothesis::flag(
        format!("depth L = 2 (y = V Uᵀ x); L = {}", s.shape.depth()),
        s.shape.depth() == 2,
    )
}

/// Singular values of a symmetric matrix (absolute eigenvalues), descending.
fn sym_singular_values(a: &DMatrix<f64>) -> Vec<f64> {
    let Ok(ev) = crate::decompose::symmetric_eigenvalues(a) else {
        return vec![f64::NAN; a.nrows()];
    };
    let mut v: Vec<f64> = ev.iter().map(|e| e.abs()).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    v
}

/// `σ_k` (1-based) of a descending list, `None` when `k = 0` or `k` exceeds its length.
fn sv_at(sv: &[f64], k: usize) -> Option<f64> {
    if k == 0 {
        None
    } else {
        sv.get(k - 1).copied()
    }
}

/// Round-off scale of `D_X = (W_1Q)(W_1Q)ᵀ − W_2ᵀW_2` computed from the state:
/// `‖U₁‖_F² + 2‖W_1‖_F‖U₁‖_F + ‖W_2‖_F²`. The product `W_1Q` carries an error of the size of
/// `ε‖W_1‖`, not `ε‖U₁‖`: with a large part `U₂` orthogonal to the data (catalog CX1) the
/// drift of the computed `D_X` is dominated by `ε‖W_1‖‖U₁‖`.
fn dx_scale(w1: &DMatrix<f64>, u1t: &DMatrix<f64>, w2: &DMatrix<f64>) -> f64 {
    let u = u1t.norm();
    u * u + 2.0 * w1.norm() * u + w2.norm_squared()
}

/// §3.2's rank statement (catalog R3): `rank D_X ≤ r + m`, checked as
/// `σ_{r+m+offset}(D_X(t)) = 0` on the `h × h` matrix (`|eigenvalues|`, descending). Round-off
/// budget at the eigensolver's backward-error scale `h‖D_X‖_F` plus the round-off scale of
/// `D_X` (`dx_scale`). Hypotheses: depth 2, `rank X ≥ 1`, `h ≥ r + m + offset`. Parameter
/// `offset` (default 1; `0` is the false "rank ≤ r + m − 1").
pub struct ImbalanceRank {
    offset: usize,
}

const RANK_ID: &str = "mttvm21.r3.imbalance_rank";

impl ImbalanceRank {
    fn build(p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let pr = Params::new(RANK_ID, p, &["offset"])?;
        let off = pr.f64("offset", 1.0)?;
        if off < 0.0 || off.fract() != 0.0 || off > 1e6 {
            return Err(GradflowError::Config(format!(
                "claim {RANK_ID}: offset = {off}: expected an integer ≥ 0"
            )));
        }
        Ok(Box::new(Self {
            offset: off as usize,
        }))
    }
}

impl Claim for ImbalanceRank {
    fn info(&self) -> ClaimInfo {
        let o = self.offset;
        let statement = if o == 0 {
            "σ_{r+m}(D_X(t)) = 0 (rank D_X ≤ r + m − 1) [false variant]".into()
        } else {
            format!("σ_{{r+m+{o}}}(D_X(t)) = 0 (rank D_X ≤ r + m + {})", o - 1)
        };
        let mut info = ClaimInfo::new(
            RANK_ID,
            PAPER,
            "§3.2, rank D_X ≤ m + n (catalog R3)",
            statement,
        );
        info.form = Form::Identity;
        info
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let (r, m, h) = (
            s.rank,
            s.shape.output(),
            s.shape.widths().get(1).copied().unwrap_or(0),
        );
        vec![
            two_layer(s),
            Hypothesis::new("rank X ≥ 1", r as f64, Relation::Ge, 1.0),
            Hypothesis::new(
                format!("h ≥ r + m + {}", self.offset),
                h as f64,
                Relation::Ge,
                (r + m + self.offset) as f64,
            ),
        ]
    }

    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if s.shape.depth() != 2 || s.rank == 0 {
            return None;
        }
        let y = &p.y[..s.params()];
        let (w1, w2) = (s.layer(y, 1), s.layer(y, 2));
        let u1t = &w1 * &s.row_basis;
        let dx = &u1t * u1t.transpose() - w2.transpose() * &w2;
        let sv = sym_singular_values(&dx);
        let k = s.rank + s.shape.output() + self.offset;
        Some(Statement {
            lhs: sv_at(&sv, k)?,
            rhs: 0.0,
            budget: Budget::RoundOff {
                scale: w1.nrows() as f64 * dx.norm() + dx_scale(&w1, &u1t, &w2),
            },
        })
    }
}

/// The registered Rust claims of paper 003: the rank statement and the gradient-descent step
/// statement (the rest is declared in `claims/003.claims`).
pub fn entries() -> Vec<Entry> {
    let mut v = vec![Entry {
        id: "mttvm21.cx5.gd_imbalance_step",
        paper: PAPER,
        build: |p| {
            GdImbalanceStep::build(
                Filing {
                    id: "mttvm21.cx5.gd_imbalance_step",
                    paper: PAPER,
                    result: "catalog 003 CX5 (derived): a GD step changes D_full = −(UᵀU − VᵀV) \
                                 by exactly η²(G_VᵀG_V − G_UᵀG_U)",
                },
                p,
            )
        },
    }];
    v.push(Entry {
        id: RANK_ID,
        paper: PAPER,
        build: ImbalanceRank::build,
    });
    v
}
