//! Paper 003: Min, Tarmoun, Vidal & Mallada, "On the Explicit Role of Initialization on the
//! Convergence and Generalization Properties of Overparametrized Linear Networks" (ICLR 2021
//! submission). Catalog `claims/003.md`, checker section §5.
//!
//! **Notation** (catalog §2). The two-layer network `y = V Uᵀ x` is the depth-2 network with
//! `W_1 = Uᵀ` (`h × D`) and `W_2 = V` (`m × h`), so `Θ = U Vᵀ` (`D × m`). With `r = rank X`
//! and the compact SVD `X = W Σ_x^{1/2} Φ₁ᵀ` (`W` is `n × r`, `Φ₁ = Q` the row-space basis
//! of the [`Setting`], `s_1 ≥ … ≥ s_r > 0` the singular values of `X`, so
//! `σ_i(Σ_x) = s_i²`): `P_X = QQᵀ`, `P_⊥ = I − P_X`, `U₁ = Φ₁ᵀU = (W_1Q)ᵀ`, `U₂ = Φ₂ᵀU`
//! (`‖U₂·‖ = ‖W_1P_⊥·‖`), the error `E = Wᵀ(Y − XΘ)` (`r × m`; `‖E‖_F² = ‖R‖_F² −
//! ‖(I − WWᵀ)Y‖_F²`, i.e. `L − L* = κ‖E‖_F²`, App. B), the data-projected imbalance
//! `D_X = U₁ᵀU₁ − VᵀV = W_1P_XW_1ᵀ − W_2ᵀW_2` (eq. 9), Theorem 1's
//! `c = σ_{r+m−1}(D_X(0))` (eq. 10 / Thm B.1), `B = [V; U₁]` and the off-manifold matrix
//! `Z = [V U₂ᵀ; U₁U₂ᵀ]` (eq. 17), with `‖Z‖_F² = ‖W_2W_1P_⊥‖_F² + ‖(W_1Q)ᵀW_1P_⊥‖_F²`.
//! `Θ̂ = X⁺Y` (eq. 12). `W`, `Σ_x^{−1/2}E` and `Θ̂` are computed from the thin QR
//! factorisation `XQ = W R_M` (see [`Prep`]), which needs `Q` to span the row space but not
//! to hold exact singular vectors: the SVD of nalgebra 0.34 left `‖USVᵀ − X‖_F = 2.0e-11`
//! (`≈ 2·10⁴ ε‖X‖`) on a well-conditioned `3 × 7` Gaussian `X` (singular values 2.54, 2.50,
//! 1.17), and a `W = XQS⁻¹` built from it was orthonormal only to `2.5e-11`.
//!
//! **Convention** (catalog §2.2, loss-scale rule). The paper's loss is `½‖Y − XUVᵀ‖_F²`. The
//! run's loss `L = κ‖R‖_F²` has the flow `dθ/dt = −∇L = 2κ·(−∇ ½‖R‖²)`, so the run at time
//! `t` is the paper's flow at time `τ = 2κt`. Hence every rate `e^{−aτ}` of the paper becomes
//! `e^{−2κat}` (Theorem 1: `e^{−2σ_r c τ}` → `e^{−4κσ_r c t}`), every gradient is `2κ` times
//! the paper's, a Gronwall integral `∫_0^τ ‖E‖dτ'` becomes `2κ∫_0^t‖E‖ds`, and the
//! time-free statements (invariants, the Weyl bound, eq. 29 and eq. 44) are unchanged. For
//! `half_sum` (`κ = ½`) every formula below is the paper's. The Gronwall integrals use the
//! run's extra state `I(t) = ∫_0^t ‖R‖_F ds ≥ ∫_0^t ‖E‖_F ds` (equal when `rank X = n`).
//!
//! **Budgets.** Invariants kept exactly by every Runge–Kutta step (`U₂`, `Z = 0`) and
//! algebraic identities use round-off; the conserved quadratic `D_X` uses the accumulated
//! slack error; inequalities between functions of the state use the propagated model. The
//! round-off scale of a quantity computed from the residual `R = XΘ − Y` includes
//! `‖Y‖_F + s_1‖Θ‖_F`, the size of the terms that cancel in `R`.

use nalgebra::DMatrix;
use serde_json::Value;

use super::common::Filing;
use super::discrete::GdImbalanceStep;
use super::{hyp, spectral_norm, Params};
use crate::claim::registry::Entry;
use crate::claim::{
    Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Schedule, Setting, Statement,
};
use crate::error::GradflowError;
use crate::flow::GradientFlow;
use crate::monitor::Point;

/// Paper number.
const PAPER: &str = "003";

/// Largest exponent used in an exponential bound; beyond it the bound is replaced by
/// `e^{700}` times its prefactor, a smaller (hence stronger) right-hand side.
const MAX_EXPONENT: f64 = 700.0;

/// The encoded statements of paper 003. Each variant's documentation states the math in the
/// run's convention `L = κ‖R‖_F²` (module docs for the notation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Theorem 1 (eq. 11) and, for `rank X = r < n`, Theorem B.1 with the corrected constant
    /// `σ_r(Σ_x)` (catalog R4, R9): for `t > 0`,
    /// `‖E(t)‖_F² ≤ exp(−4κ σ_r(Σ_x) c t) ‖E(0)‖_F²` (i.e. `L − L* ≤ e^{−4κσ_r c t}(L(0) − L*)`).
    /// Hypotheses: depth 2, `rank X ≥ 1`, `h ≥ r + m − 1`, `c > 0`. Parameters (deliberately
    /// false variants, catalog §5.5): `factor` multiplies the exponent (CX3: `1.1`);
    /// `imbalance = "full"` takes `c` from `D_full = UᵀU − VᵀV` (CX1); `data_constant =
    /// "largest"` uses `σ_1(Σ_x)` (CX4); `gap = "raw"` compares `‖R‖_F²` instead of `‖E‖_F²`,
    /// i.e. ignores `L*` (CX2). Propagated budget.
    Theorem1Rate,
    /// Theorem B.1 as printed: the rate constant is `σ_n(Σ_x)`, read as the `n`-th eigenvalue
    /// of `XXᵀ` (`= s_n²` when `rank X = n`, `0` when `rank X < n`, which makes the bound the
    /// vacuous `‖E(t)‖² ≤ ‖E(0)‖²`). Same hypotheses and budget as [`Item::Theorem1Rate`].
    Theorem1PrintedB1,
    /// Proof of Theorem 1, eqs. (23)–(26) with the Weyl step (catalog R5, PL form):
    /// `‖∇L‖_F² ≥ 4κ² σ_r(Σ_x) c ‖E‖_F² = 4κ σ_r c (L − L*)`. Hypotheses as Theorem 1.
    /// Parameters: `factor` multiplies the right-hand side; `imbalance = "full"` takes `c`
    /// from `D_full` (CX1).
    PolyakLojasiewicz,
    /// Proof of Theorem 1, Weyl step (Lemma C.2 with conservation; catalog R6):
    /// `λ_r(U₁U₁ᵀ) + λ_m(VVᵀ) ≥ c` at every t. Hypotheses as Theorem 1. Parameters: `factor`
    /// multiplies `c`; `imbalance = "full"` takes `c` from `D_full` (CX1).
    WeylGram,
    /// Proof of Theorem 1, eq. (29) (reconstructed, catalog R7): `‖V‖_F² + ‖U₁‖_F² ≤
    /// exp(2 s_1 ‖E(0)‖_F / (σ_r(Σ_x) c)) (‖V(0)‖_F² + ‖U₁(0)‖_F²)` for all t (time-free).
    /// Hypotheses as Theorem 1. Parameter `factor` multiplies the exponent.
    ParamUniform,
    /// Eq. (44) with general `c` (catalog R13 (ii)): `‖Z(t)‖_F ≤ Z_bd :=
    /// exp(s_1 ‖E(0)‖_F / (σ_r(Σ_x) c)) ‖Z(0)‖_F` for all t (time-free). Hypotheses as
    /// Theorem 1, plus `rank X < D` and `Z(0) ≠ 0`. Parameter `factor` multiplies the exponent.
    OffManifoldUniform,
    /// Eqs. (13)–(15) at every t (derived per-time identity, catalog R11):
    /// `‖Θ(t) − Θ̂‖_F² = ‖Σ_x^{−1/2}E(t)‖_F² + ‖U₂(0)V(t)ᵀ‖_F²`. Round-off budget.
    /// Hypothesis: depth 2.
    ErrorDecomposition,
    /// Eq. (14) at finite t with Theorem 1's rate (catalog §5.3 item 2): for `t > 0`,
    /// `‖P_X(Θ(t) − Θ̂)‖_F = ‖Σ_x^{−1/2}E(t)‖_F ≤ s_r^{−1} exp(−2κσ_r(Σ_x)ct) ‖E(0)‖_F`.
    /// Hypotheses as Theorem 1. Parameter `factor` multiplies the exponent.
    RowSpaceConvergence,
    /// Text after the §3.2 Claim (catalog R3): `rank D_X ≤ r + m`, checked as
    /// `σ_{r+m+offset}(D_X(t)) = 0` on the `h × h` matrix. Round-off budget at the
    /// eigensolver's backward-error scale `h‖D_X‖_F` plus the round-off scale of `D_X`. Hypotheses: depth 2,
    /// `h ≥ r + m + offset`. Parameter `offset` (default 1; `0` is the false "rank ≤ r+m−1").
    ImbalanceRank,
    /// Theorem 1, second part (catalog R8, §5.3 item 1), at `t_end`: `‖E(t_end)‖_F ≤ tol`.
    /// Hypotheses as Theorem 1, plus that Theorem 1 guarantees it:
    /// `e^{−2κσ_r c t_end}‖E(0)‖_F ≤ tol`. Parameter `tol` (default `1e-6`).
    Converged,
    /// Eq. (15) at `t_end` (catalog §5.3 item 3):
    /// `| ‖Θ − Θ̂‖₂ − ‖U₂(0)V(t_end)ᵀ‖₂ | ≤ s_r^{−1}‖E(t_end)‖₂`. Hypotheses as Theorem 1.
    LimitIdentity,
    /// Deterministic backbone of Theorem 2 (catalog R13 (iii), §5.3 items 4–5), at `t_end`:
    /// `‖Θ(t_end) − Θ̂‖₂ ≤ Z_bd + s_r^{−1}‖E(t_end)‖₂` (`Z_bd = 0` on the manifold `Z(0) = 0`,
    /// CX8). Hypotheses as Theorem 1. Parameter `factor` multiplies `Z_bd`.
    GeneralizationBound,
}

impl Item {
    /// All encoded items.
    pub const ALL: [Item; 12] = [
        Item::Theorem1Rate,
        Item::Theorem1PrintedB1,
        Item::PolyakLojasiewicz,
        Item::WeylGram,
        Item::ParamUniform,
        Item::OffManifoldUniform,
        Item::ErrorDecomposition,
        Item::RowSpaceConvergence,
        Item::ImbalanceRank,
        Item::Converged,
        Item::LimitIdentity,
        Item::GeneralizationBound,
    ];

    /// The claim id.
    pub fn id(self) -> &'static str {
        match self {
            Item::Theorem1Rate => "mttvm21.thm1.rate",
            Item::Theorem1PrintedB1 => "mttvm21.thmB1.printed_rate",
            Item::PolyakLojasiewicz => "mttvm21.thm1.pl",
            Item::WeylGram => "mttvm21.thm1.weyl",
            Item::ParamUniform => "mttvm21.thm1.eq29_param_uniform",
            Item::OffManifoldUniform => "mttvm21.eq44.off_manifold_uniform",
            Item::ErrorDecomposition => "mttvm21.r11.error_decomposition",
            Item::RowSpaceConvergence => "mttvm21.eq14.row_space_convergence",
            Item::ImbalanceRank => "mttvm21.r3.imbalance_rank",
            Item::Converged => "mttvm21.thm1.converged",
            Item::LimitIdentity => "mttvm21.eq15.limit_identity",
            Item::GeneralizationBound => "mttvm21.r13.generalization_bound",
        }
    }

    fn result(self) -> &'static str {
        match self {
            Item::Theorem1Rate => "Theorem 1 (eq. 11) / Theorem B.1 (corrected σ_r)",
            Item::Theorem1PrintedB1 => "Theorem B.1 (as printed, σ_n(Σ_x))",
            Item::PolyakLojasiewicz => "proof of Theorem 1, eqs. (23)–(26)",
            Item::WeylGram => "proof of Theorem 1, Weyl step (Lemma C.2)",
            Item::ParamUniform => "proof of Theorem 1, eq. (29)",
            Item::OffManifoldUniform => "proof of Theorem F.1, eq. (44) (general c)",
            Item::ErrorDecomposition => "eqs. (13)–(15), per-time form (catalog R11)",
            Item::RowSpaceConvergence => "eq. (14) with Theorem 1's rate",
            Item::ImbalanceRank => "§3.2, rank D_X ≤ m + n (catalog R3)",
            Item::Converged => "Theorem 1, second part (catalog R8)",
            Item::LimitIdentity => "eq. (15)",
            Item::GeneralizationBound => "Theorem 2's deterministic part (catalog R13)",
        }
    }

    fn schedule(self) -> Schedule {
        match self {
            Item::Converged | Item::LimitIdentity | Item::GeneralizationBound => Schedule::AtEnd,
            _ => Schedule::Always,
        }
    }

    fn form(self) -> Form {
        match self {
            Item::ErrorDecomposition | Item::ImbalanceRank => Form::Identity,
            _ => Form::Inequality,
        }
    }

    /// The parameters the item accepts.
    fn params(self) -> &'static [&'static str] {
        match self {
            Item::Theorem1Rate => &["factor", "imbalance", "data_constant", "gap"],
            Item::PolyakLojasiewicz | Item::WeylGram => &["factor", "imbalance"],
            Item::Theorem1PrintedB1
            | Item::ParamUniform
            | Item::OffManifoldUniform
            | Item::RowSpaceConvergence
            | Item::GeneralizationBound => &["factor"],
            Item::ImbalanceRank => &["offset"],
            Item::Converged => &["tol"],
            Item::ErrorDecomposition | Item::LimitIdentity => &[],
        }
    }
}

/// Which imbalance Theorem 1's `c` is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImbalanceChoice {
    /// `D_X = U₁ᵀU₁ − VᵀV` (the paper's, eq. 9).
    Projected,
    /// `D_full = UᵀU − VᵀV` (wrong when `rank X < D`, catalog CX1).
    Full,
}

/// Which data constant multiplies the rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataConstant {
    /// `σ_r(Σ_x) = s_r²` (the paper's).
    Smallest,
    /// `σ_1(Σ_x) = s_1²` (wrong, catalog CX4).
    Largest,
}

/// What the rate bound is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// `‖E‖_F² = (L − L*)/κ` (the paper's).
    Excess,
    /// `‖R‖_F² = L/κ` (wrong when `L* > 0`, catalog CX2).
    Raw,
}

/// Parameters of a claim (defaults: the statement as published).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// Multiplier of an exponent or of a right-hand side (see each [`Item`]).
    pub factor: f64,
    /// Imbalance for `c`.
    pub imbalance: ImbalanceChoice,
    /// Data constant of the rate.
    pub data_constant: DataConstant,
    /// Gap of the rate bound.
    pub gap: Gap,
    /// Tolerance of [`Item::Converged`].
    pub tol: f64,
    /// Index offset of [`Item::ImbalanceRank`].
    pub offset: usize,
}

impl Default for Variant {
    fn default() -> Self {
        Self {
            factor: 1.0,
            imbalance: ImbalanceChoice::Projected,
            data_constant: DataConstant::Smallest,
            gap: Gap::Excess,
            tol: 1e-6,
            offset: 1,
        }
    }
}

/// One claim of paper 003: an [`Item`] with its [`Variant`].
pub struct Mttvm21Claim {
    item: Item,
    var: Variant,
    prep: Option<Prep>,
}

impl Mttvm21Claim {
    /// The claim `item` with parameters `var`.
    pub fn new(item: Item, var: Variant) -> Self {
        Self {
            item,
            var,
            prep: None,
        }
    }

    /// Builds `item` from its JSON parameters (unknown keys and values rejected).
    pub fn build(item: Item, p: &Value) -> Result<Box<dyn Claim>, GradflowError> {
        let id = item.id();
        let pr = Params::new(id, p, item.params())?;
        let d = Variant::default();
        let bad = |k: &str, v: &str, ok: &str| {
            GradflowError::Config(format!("claim {id}: {k} = {v:?}: expected {ok}"))
        };
        let imbalance = match pr.str("imbalance", "projected")? {
            "projected" => ImbalanceChoice::Projected,
            "full" => ImbalanceChoice::Full,
            v => return Err(bad("imbalance", v, "\"projected\" or \"full\"")),
        };
        let data_constant = match pr.str("data_constant", "smallest")? {
            "smallest" => DataConstant::Smallest,
            "largest" => DataConstant::Largest,
            v => return Err(bad("data_constant", v, "\"smallest\" or \"largest\"")),
        };
        let gap = match pr.str("gap", "excess")? {
            "excess" => Gap::Excess,
            "raw" => Gap::Raw,
            v => return Err(bad("gap", v, "\"excess\" or \"raw\"")),
        };
        let tol = pr.f64("tol", d.tol)?;
        if tol <= 0.0 {
            return Err(bad("tol", &tol.to_string(), "a number > 0"));
        }
        let off = pr.f64("offset", d.offset as f64)?;
        if off < 0.0 || off.fract() != 0.0 {
            return Err(bad("offset", &off.to_string(), "an integer ≥ 0"));
        }
        let var = Variant {
            factor: pr.f64("factor", d.factor)?,
            imbalance,
            data_constant,
            gap,
            tol,
            offset: off as usize,
        };
        Ok(Box::new(Self::new(item, var)))
    }

    fn statement_text(&self) -> String {
        let f = self.var.factor;
        let rate_const = match self.var.data_constant {
            DataConstant::Smallest => "σ_r(Σ_x)",
            DataConstant::Largest => "σ_1(Σ_x) [CX4 variant]",
        };
        let c_name = match self.var.imbalance {
            ImbalanceChoice::Projected => "c = σ_{r+m−1}(D_X(0))",
            ImbalanceChoice::Full => "c = σ_{r+m−1}(D_full(0)) [CX1 variant]",
        };
        let gap = match self.var.gap {
            Gap::Excess => "‖E(t)‖_F² = (L − L*)/κ",
            Gap::Raw => "‖R(t)‖_F² = L/κ [CX2 variant]",
        };
        match self.item {
            Item::Theorem1Rate => {
                format!("{gap} ≤ exp(−{f}·4κ·{rate_const}·c·t)·(same at 0) for t > 0, {c_name}")
            }
            Item::Theorem1PrintedB1 => format!(
                "(as printed) ‖E(t)‖_F² ≤ exp(−{f}·4κ·σ_n(Σ_x)·c·t)‖E(0)‖_F², σ_n(Σ_x) the \
                 n-th eigenvalue of XXᵀ (0 when rank X < n)"
            ),
            Item::PolyakLojasiewicz => {
                format!("‖∇L‖_F² ≥ {f}·4κ²·σ_r(Σ_x)·c·‖E‖_F² (= 4κσ_r c (L − L*)), {c_name}")
            }
            Item::WeylGram => format!("λ_r(U₁U₁ᵀ) + λ_m(VVᵀ) ≥ {f}·c, {c_name}"),
            Item::ParamUniform => {
                format!("‖V‖_F² + ‖U₁‖_F² ≤ exp({f}·2 s_1 ‖E(0)‖_F/(σ_r(Σ_x) c))·(same at 0)")
            }
            Item::OffManifoldUniform => {
                format!("‖Z(t)‖_F ≤ Z_bd = exp({f}·s_1‖E(0)‖_F/(σ_r(Σ_x) c))·‖Z(0)‖_F")
            }
            Item::ErrorDecomposition => {
                "‖Θ(t) − Θ̂‖_F² = ‖Σ_x^{−1/2}E(t)‖_F² + ‖U₂(0)V(t)ᵀ‖_F²".into()
            }
            Item::RowSpaceConvergence => {
                format!("‖P_X(Θ(t) − Θ̂)‖_F ≤ s_r^{{−1}}·exp(−{f}·2κ·σ_r(Σ_x)·c·t)·‖E(0)‖_F")
            }
            Item::ImbalanceRank => {
                let o = self.var.offset;
                if o == 0 {
                    "σ_{r+m}(D_X(t)) = 0 (rank D_X ≤ r + m − 1) [false variant]".into()
                } else {
                    format!("σ_{{r+m+{o}}}(D_X(t)) = 0 (rank D_X ≤ r + m + {})", o - 1)
                }
            }
            Item::Converged => format!("‖E(t_end)‖_F ≤ tol = {}", self.var.tol),
            Item::LimitIdentity => {
                "| ‖Θ(t_end) − Θ̂‖₂ − ‖U₂(0)V(t_end)ᵀ‖₂ | ≤ s_r^{−1}‖E(t_end)‖₂".into()
            }
            Item::GeneralizationBound => format!(
                "‖Θ(t_end) − Θ̂‖₂ ≤ {f}·Z_bd + s_r^{{−1}}‖E(t_end)‖₂, \
                 Z_bd = exp(s_1‖E(0)‖_F/(σ_r(Σ_x) c))·‖Z(0)‖_F"
            ),
        }
    }

    /// The constant `c` for this claim's variant (`None` when `h < r + m − 1`).
    fn c_of(&self, pr: &Prep) -> Option<f64> {
        match self.var.imbalance {
            ImbalanceChoice::Projected => pr.c,
            ImbalanceChoice::Full => pr.c_full,
        }
    }

    /// The data constant of the rate.
    fn sigma_of(&self, pr: &Prep) -> f64 {
        match (self.item, self.var.data_constant) {
            (Item::Theorem1PrintedB1, _) => pr.printed_sigma_n,
            (_, DataConstant::Smallest) => pr.sigma_r(),
            (_, DataConstant::Largest) => pr.sigma_1(),
        }
    }

    fn theorem1_hypotheses(&self, pr: &Prep, out: &mut Vec<Hypothesis>) {
        out.push(Hypothesis::new(
            "h ≥ r + m − 1",
            pr.h as f64,
            Relation::Ge,
            (pr.r + pr.m) as f64 - 1.0,
        ));
        let (c, tol, name) = match self.var.imbalance {
            ImbalanceChoice::Projected => (
                pr.c.unwrap_or(0.0),
                pr.c_tol,
                "c = σ_{r+m−1}(D_X(0)) > 0 (above 1e-10·(‖U₁(0)‖₂² + ‖V(0)‖₂²), the eigenvalue round-off)",
            ),
            ImbalanceChoice::Full => (
                pr.c_full.unwrap_or(0.0),
                pr.c_full_tol,
                "c = σ_{r+m−1}(D_full(0)) > 0 (above 1e-10·(‖U(0)‖₂² + ‖V(0)‖₂²))",
            ),
        };
        out.push(Hypothesis::new(name, c, Relation::Gt, tol));
    }

    fn z_hypothesis(pr: &Prep, zero: bool) -> Hypothesis {
        if zero {
            Hypothesis::new(
                "Z(0) = 0 (‖Z(0)‖_F ≤ 1e-12·(1 + ‖B(0)‖_F‖W_1(0)‖_F))",
                pr.z0,
                Relation::Le,
                pr.z_tol,
            )
        } else {
            Hypothesis::new(
                "Z(0) ≠ 0 (‖Z(0)‖_F > 1e-12·(1 + ‖B(0)‖_F‖W_1(0)‖_F))",
                pr.z0,
                Relation::Gt,
                pr.z_tol,
            )
        }
    }

    fn rank_deficient(s: &Setting) -> Hypothesis {
        hyp::rank_below_input(s, "rank X < D (a nontrivial Φ₂)")
    }
}

/// Depth-2 hypothesis (the paper's single-hidden-layer network `y = V Uᵀ x`).
fn two_layer(s: &Setting) -> Hypothesis {
    Hypothesis::flag(
        format!("depth L = 2 (y = V Uᵀ x); L = {}", s.shape.depth()),
        s.shape.depth() == 2,
    )
}

/// Exponential capped at [`MAX_EXPONENT`].
fn exp_capped(x: f64) -> f64 {
    x.min(MAX_EXPONENT).exp()
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

/// Smallest eigenvalue of a symmetric matrix (`0` for an empty one).
fn lambda_min(a: &DMatrix<f64>) -> f64 {
    if a.nrows() == 0 {
        return 0.0;
    }
    crate::decompose::symmetric_eigenvalues(a).map_or(f64::NAN, |ev| ev[0])
}

/// `σ_k` (1-based) of a descending list, `None` when `k = 0` or `k` exceeds its length.
fn sv_at(sv: &[f64], k: usize) -> Option<f64> {
    if k == 0 {
        None
    } else {
        sv.get(k - 1).copied()
    }
}

/// What a paper-003 claim precomputes from the setting and the initial point.
pub struct Prep {
    /// `r = rank X`.
    pub r: usize,
    /// `m = q`.
    pub m: usize,
    /// `h = m_1`.
    pub h: usize,
    /// `s_1 ≥ … ≥ s_r`.
    pub s: Vec<f64>,
    /// `W` (`n × r`): orthonormal basis of the column space of `X`, from the thin QR
    /// factorisation `XQ = W R_M` (so `X = W R_M Qᵀ` and `X⁺ = Q R_M⁻¹ Wᵀ`). It spans the
    /// same space as the paper's `W` (`W_paper = W O`, `O` orthogonal), so `E = Wᵀ(Y − XΘ)`
    /// has the paper's norms, and `R_M⁻¹E` has the norms of `Σ_x^{−1/2}E_paper`. The QR
    /// route does not rely on the accuracy of the singular vectors.
    pub w: DMatrix<f64>,
    /// `R_M` (`r × r`, invertible).
    pub rm: DMatrix<f64>,
    /// `Θ̂ = X⁺Y = Q R_M⁻¹ WᵀY` (`D × m`).
    pub theta_hat: DMatrix<f64>,
    /// `D_X(0)`.
    pub dx0: DMatrix<f64>,
    /// `c = σ_{r+m−1}(D_X(0))`.
    pub c: Option<f64>,
    /// `σ_{r+m−1}(D_full(0))`.
    pub c_full: Option<f64>,
    /// Hypothesis threshold of `c`: `1e-10(‖U₁(0)‖₂² + ‖V(0)‖₂²)`, far above the eigenvalue
    /// round-off of `D_X(0)` (an exactly balanced `D_X(0) = 0` computes to `O(ε‖U₁‖²)`).
    pub c_tol: f64,
    /// Hypothesis threshold of `c_full`.
    pub c_full_tol: f64,
    /// The printed Theorem B.1 constant: the `n`-th eigenvalue of `XXᵀ`.
    pub printed_sigma_n: f64,
    /// `‖E(0)‖_F`.
    pub e0: f64,
    /// `‖R(0)‖_F`.
    pub r0: f64,
    /// `‖Z(0)‖_F`.
    pub z0: f64,
    /// Threshold for `Z(0) = 0`.
    pub z_tol: f64,
    /// `‖V(0)‖_F² + ‖U₁(0)‖_F²`.
    pub b0: f64,
    /// `W_1(0)P_⊥` (`h × D`).
    pub w1_perp0: DMatrix<f64>,
    /// `‖Y‖_F`.
    pub y_norm: f64,
    /// `‖Θ̂‖_F`.
    pub theta_hat_norm: f64,
}

impl Prep {
    /// Precomputes from `s` (`None` unless the network has depth 2).
    pub fn new(s: &Setting) -> Option<Self> {
        if s.shape.depth() != 2 {
            return None;
        }
        let r = s.rank;
        let m = s.shape.output();
        let h = s.shape.widths()[1];
        let sv: Vec<f64> = s.x_singular[..r].to_vec();
        let n = s.data.n();
        let (w, rm) = if r == 0 {
            (DMatrix::zeros(n, 0), DMatrix::zeros(0, 0))
        } else {
            let qr = (&s.data.x * &s.row_basis).qr();
            (qr.q(), qr.r())
        };
        let theta_hat = match rm.solve_upper_triangular(&(w.transpose() * &s.data.y)) {
            Some(c) => &s.row_basis * c,
            None => s.theta_l2.clone(),
        };
        let w1 = s.layer(&s.theta0, 1);
        let w2 = s.layer(&s.theta0, 2);
        let u1t = &w1 * &s.row_basis;
        let dx0 = &u1t * u1t.transpose() - w2.transpose() * &w2;
        let dfull0 = &w1 * w1.transpose() - w2.transpose() * &w2;
        let dx_sv = sym_singular_values(&dx0);
        let dfull_sv = sym_singular_values(&dfull0);
        let k = r + m - 1;
        let c = if k <= h { sv_at(&dx_sv, k) } else { None };
        let c_full = if k <= h { sv_at(&dfull_sv, k) } else { None };
        let printed_sigma_n = if r == n { sv[n - 1] * sv[n - 1] } else { 0.0 };
        let theta0 = s.theta(&s.theta0);
        let resid = &s.data.y - &s.data.x * &theta0;
        let e0 = (w.transpose() * &resid).norm();
        let w1_perp0 = s.right_perp(&w1);
        let z0 = z_norm_parts(s, &w1, &w2, &u1t);
        let bnorm = (w2.norm_squared() + u1t.norm_squared()).sqrt();
        Some(Self {
            r,
            m,
            h,
            s: sv,
            w,
            rm,
            c_tol: 1e-10 * (spectral_norm(&u1t).powi(2) + spectral_norm(&w2).powi(2)),
            c_full_tol: 1e-10 * (spectral_norm(&w1).powi(2) + spectral_norm(&w2).powi(2)),
            dx0,
            c,
            c_full,
            printed_sigma_n,
            e0,
            r0: resid.norm(),
            z0,
            z_tol: 1e-12 * (1.0 + bnorm * w1.norm()),
            b0: bnorm * bnorm,
            w1_perp0,
            y_norm: s.data.y.norm(),
            theta_hat_norm: theta_hat.norm(),
            theta_hat,
        })
    }

    /// `s_1`.
    pub fn s1(&self) -> f64 {
        self.s.first().copied().unwrap_or(0.0)
    }
    /// `s_r`.
    pub fn sr(&self) -> f64 {
        self.s.last().copied().unwrap_or(0.0)
    }
    /// `σ_r(Σ_x) = s_r²`.
    pub fn sigma_r(&self) -> f64 {
        self.sr() * self.sr()
    }
    /// `σ_1(Σ_x) = s_1²`.
    pub fn sigma_1(&self) -> f64 {
        self.s1() * self.s1()
    }
    /// `E = Wᵀ(Y − XΘ)` (`r × m`).
    pub fn error(&self, s: &Setting, theta: &DMatrix<f64>) -> DMatrix<f64> {
        self.w.transpose() * (&s.data.y - &s.data.x * theta)
    }
    /// `R_M⁻¹E`, with the norms of the paper's `Σ_x^{−1/2}E` (`Q R_M⁻¹E = X⁺(Y − XΘ)`).
    pub fn whitened_error(&self, e: &DMatrix<f64>) -> DMatrix<f64> {
        self.rm
            .solve_upper_triangular(e)
            .unwrap_or_else(|| DMatrix::from_element(e.nrows(), e.ncols(), f64::NAN))
    }
    /// `Z_bd = exp(s_1‖E(0)‖_F/(σ_r c))‖Z(0)‖_F` with the exponent scaled by `factor`.
    fn z_bound(&self, c: f64, factor: f64) -> f64 {
        if self.z0 == 0.0 {
            return 0.0;
        }
        self.z0 * exp_capped(factor * self.s1() * self.e0 / (self.sigma_r() * c))
    }
}

/// `‖Z‖_F` from `W_1`, `W_2` and `U₁ᵀ = W_1Q`: `‖W_2W_1P_⊥‖_F² + ‖U₁W_1P_⊥‖_F²` under the
/// current `U₂`.
fn z_norm_parts(s: &Setting, w1: &DMatrix<f64>, w2: &DMatrix<f64>, u1t: &DMatrix<f64>) -> f64 {
    let w1p = s.right_perp(w1);
    let a = w2 * &w1p;
    let b = u1t.transpose() * &w1p;
    (a.norm_squared() + b.norm_squared()).sqrt()
}

/// Round-off scale of `D_X = (W_1Q)(W_1Q)ᵀ − W_2ᵀW_2` computed from the state:
/// `‖U₁‖_F² + 2‖W_1‖_F‖U₁‖_F + ‖W_2‖_F²`. The product `W_1Q` carries an error of the size of
/// `ε‖W_1‖`, not `ε‖U₁‖`: with a large part `U₂` orthogonal to the data (catalog CX1) the
/// drift of the computed `D_X` is dominated by `ε‖W_1‖‖U₁‖`.
fn dx_scale(w1: &DMatrix<f64>, u1t: &DMatrix<f64>, w2: &DMatrix<f64>) -> f64 {
    let u = u1t.norm();
    u * u + 2.0 * w1.norm() * u + w2.norm_squared()
}

/// Round-off scale of a squared norm `q = ‖A R̃‖²` of a computed residual: `q + 2√q·lin`,
/// `lin = ‖A‖·(‖Y‖_F + s_1‖Θ‖_F)` the size of the cancelling terms.
fn quad_scale(q: f64, lin: f64) -> f64 {
    q.abs() + 2.0 * q.abs().sqrt() * lin
}

impl Claim for Mttvm21Claim {
    fn info(&self) -> ClaimInfo {
        let printed_error = match self.item {
            Item::Theorem1PrintedB1 => Some(
                "Theorem B.1 prints σ_n(Σ_x), but Σ_x is r×r for rank X = r < n: read as the \
                 n-th eigenvalue of XXᵀ it is 0 and the bound is the vacuous ‖E(t)‖ ≤ ‖E(0)‖; \
                 the intended constant is σ_r(Σ_x) = s_r(X)² (catalog 003 R9, §5.6 item 4). \
                 The printed statement is weaker, not false: only a flow that increases the \
                 loss violates it",
            ),
            _ => None,
        };
        ClaimInfo {
            id: self.item.id().into(),
            paper: PAPER.into(),
            result: self.item.result().into(),
            statement: self.statement_text(),
            schedule: self.item.schedule(),
            form: self.item.form(),
            empirical: None,
            printed_error: printed_error.map(String::from),
            declaration: None,
        }
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let mut out = vec![two_layer(s)];
        let Some(pr) = Prep::new(s) else {
            return out;
        };
        match self.item {
            Item::ErrorDecomposition => {}
            Item::Theorem1Rate
            | Item::Theorem1PrintedB1
            | Item::PolyakLojasiewicz
            | Item::WeylGram
            | Item::ParamUniform
            | Item::RowSpaceConvergence
            | Item::LimitIdentity
            | Item::GeneralizationBound => self.theorem1_hypotheses(&pr, &mut out),
            Item::OffManifoldUniform => {
                self.theorem1_hypotheses(&pr, &mut out);
                out.push(Self::rank_deficient(s));
                out.push(Self::z_hypothesis(&pr, false));
            }
            Item::ImbalanceRank => out.push(Hypothesis::new(
                format!("h ≥ r + m + {}", self.var.offset),
                pr.h as f64,
                Relation::Ge,
                (pr.r + pr.m + self.var.offset) as f64,
            )),
            Item::Converged => {
                self.theorem1_hypotheses(&pr, &mut out);
                let c = pr.c.unwrap_or(0.0);
                let guaranteed = (-2.0 * s.kappa * pr.sigma_r() * c * s.cfg.t_end).exp() * pr.e0;
                out.push(Hypothesis::new(
                    "Theorem 1 guarantees it: e^{−2κσ_r c t_end}‖E(0)‖_F ≤ tol",
                    guaranteed,
                    Relation::Le,
                    self.var.tol,
                ));
            }
        }
        if pr.r == 0 {
            out.push(Hypothesis::new(
                "rank X ≥ 1",
                pr.r as f64,
                Relation::Ge,
                1.0,
            ));
        }
        out
    }

    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        if self.prep.is_none() {
            self.prep = Prep::new(s);
        }
        let pr = self.prep.as_ref()?;
        if pr.r == 0 {
            return None;
        }
        let np = s.params();
        let y = &p.y[..np];
        let kappa = s.kappa;
        let f = self.var.factor;
        let w1 = s.layer(y, 1);
        let w2 = s.layer(y, 2);
        let theta = s.theta(y);
        let rscale = pr.y_norm + pr.s1() * theta.norm();
        let u1t = &w1 * &s.row_basis;
        let positive_time = p.t > 0.0;
        let st = match self.item {
            Item::Theorem1Rate | Item::Theorem1PrintedB1 => {
                if !positive_time {
                    return None;
                }
                let c = self.c_of(pr)?;
                let sigma = self.sigma_of(pr);
                let (lhs, g0) = match self.var.gap {
                    Gap::Excess => (pr.error(s, &theta).norm_squared(), pr.e0 * pr.e0),
                    Gap::Raw => (
                        (&s.data.y - &s.data.x * &theta).norm_squared(),
                        pr.r0 * pr.r0,
                    ),
                };
                let rhs = g0 * (-f * 4.0 * kappa * sigma * c * p.t).exp();
                Statement {
                    lhs,
                    rhs,
                    budget: Budget::Propagated {
                        scale: quad_scale(lhs, rscale) + rhs,
                    },
                }
            }
            Item::PolyakLojasiewicz => {
                let mut g = vec![0.0; np];
                gf.gradient(y, &mut g);
                let grad: f64 = g.iter().map(|v| v * v).sum();
                let e2 = pr.error(s, &theta).norm_squared();
                let base = 4.0 * kappa * kappa * pr.sigma_r() * e2;
                let (coef, lin) = (self.c_of(pr)?, w1.norm() + w2.norm());
                let bound = f * base * coef;
                let lin_g = 2.0 * kappa * pr.s1() * lin * rscale;
                let lin_b = 2.0 * kappa * pr.sr() * coef.abs().sqrt() * rscale;
                Statement {
                    lhs: bound,
                    rhs: grad,
                    budget: Budget::Propagated {
                        scale: quad_scale(grad, lin_g) + quad_scale(bound, lin_b),
                    },
                }
            }
            Item::WeylGram => {
                let c = self.c_of(pr)?;
                let gram =
                    lambda_min(&(u1t.transpose() * &u1t)) + lambda_min(&(&w2 * w2.transpose()));
                Statement {
                    lhs: f * c,
                    rhs: gram,
                    budget: Budget::Propagated {
                        scale: gram.abs() + c + u1t.norm_squared() + w2.norm_squared(),
                    },
                }
            }
            Item::ParamUniform => {
                let lhs = w2.norm_squared() + u1t.norm_squared();
                let exponent = f * 2.0 * pr.s1() * pr.e0 / (pr.sigma_r() * self.c_of(pr)?);
                let rhs = pr.b0 * exp_capped(exponent);
                Statement {
                    lhs,
                    rhs,
                    budget: Budget::Propagated { scale: lhs + rhs },
                }
            }
            Item::OffManifoldUniform => {
                let lhs = z_norm_parts(s, &w1, &w2, &u1t);
                let rhs = pr.z_bound(self.c_of(pr)?, f);
                Statement {
                    lhs,
                    rhs,
                    budget: Budget::Propagated { scale: lhs + rhs },
                }
            }
            Item::ErrorDecomposition => {
                let lhs = (&theta - &pr.theta_hat).norm_squared();
                let se = pr.whitened_error(&pr.error(s, &theta));
                let off = (&w2 * &pr.w1_perp0).norm_squared();
                let rhs = se.norm_squared() + off;
                let cond = pr.s1() / pr.sr();
                let lin_l = (theta.norm() + pr.theta_hat_norm) * cond;
                let lin_r = rscale / pr.sr();
                Statement {
                    lhs,
                    rhs,
                    budget: Budget::RoundOff {
                        scale: quad_scale(lhs, lin_l) + quad_scale(rhs, lin_r),
                    },
                }
            }
            Item::RowSpaceConvergence => {
                if !positive_time {
                    return None;
                }
                let c = self.c_of(pr)?;
                let lhs = (s.row_basis.transpose() * (&theta - &pr.theta_hat)).norm();
                let rhs = pr.e0 / pr.sr() * (-f * 2.0 * kappa * pr.sigma_r() * c * p.t).exp();
                let cond = pr.s1() / pr.sr();
                Statement {
                    lhs,
                    rhs,
                    budget: Budget::Propagated {
                        scale: lhs + rhs + (theta.norm() + pr.theta_hat_norm) * cond,
                    },
                }
            }
            Item::ImbalanceRank => {
                let dx = &u1t * u1t.transpose() - w2.transpose() * &w2;
                let sv = sym_singular_values(&dx);
                let k = pr.r + pr.m + self.var.offset;
                Statement {
                    lhs: sv_at(&sv, k)?,
                    rhs: 0.0,
                    budget: Budget::RoundOff {
                        scale: pr.h as f64 * dx.norm() + dx_scale(&w1, &u1t, &w2),
                    },
                }
            }
            Item::Converged => {
                let lhs = pr.error(s, &theta).norm();
                Statement {
                    lhs,
                    rhs: self.var.tol,
                    budget: Budget::Propagated {
                        scale: lhs + rscale,
                    },
                }
            }
            Item::LimitIdentity | Item::GeneralizationBound => {
                let dist = spectral_norm(&(&theta - &pr.theta_hat));
                let e_spec = spectral_norm(&pr.error(s, &theta)) / pr.sr();
                let scale = theta.norm()
                    + pr.theta_hat_norm * pr.s1() / pr.sr()
                    + rscale / pr.sr()
                    + w2.norm() * pr.w1_perp0.norm();
                if self.item == Item::LimitIdentity {
                    let off = spectral_norm(&(&w2 * &pr.w1_perp0));
                    Statement {
                        lhs: (dist - off).abs(),
                        rhs: e_spec,
                        budget: Budget::Propagated { scale },
                    }
                } else {
                    let zbd = f * pr.z_bound(self.c_of(pr)?, 1.0);
                    Statement {
                        lhs: dist,
                        rhs: zbd + e_spec,
                        budget: Budget::Propagated { scale: scale + zbd },
                    }
                }
            }
        };
        Some(st)
    }
}

/// The registered Rust claims of paper 003: every [`Item`] and the gradient-descent step
/// statement. The full imbalance `D_full = UᵀU − VᵀV` and loss monotonicity (eq. 23) are
/// declared in `claims/003.claims`.
pub fn entries() -> Vec<Entry> {
    let mut v = vec![Entry {
        id: "mttvm21.cx5.gd_imbalance_step",
        paper: PAPER,
        build: |p| {
            let pr = Params::new("mttvm21.cx5.gd_imbalance_step", p, &["factor"])?;
            Ok(Box::new(GdImbalanceStep::new(
                Filing {
                    id: "mttvm21.cx5.gd_imbalance_step",
                    paper: PAPER,
                    result: "catalog 003 CX5 (derived): a GD step changes D_full = −(UᵀU − VᵀV) \
                                 by exactly η²(G_VᵀG_V − G_UᵀG_U)",
                },
                pr.f64("factor", 1.0)?,
            )))
        },
    }];
    macro_rules! item_entry {
        ($item:expr) => {
            Entry {
                id: $item.id(),
                paper: PAPER,
                build: |p| Mttvm21Claim::build($item, p),
            }
        };
    }
    v.extend([
        item_entry!(Item::Theorem1Rate),
        item_entry!(Item::Theorem1PrintedB1),
        item_entry!(Item::PolyakLojasiewicz),
        item_entry!(Item::WeylGram),
        item_entry!(Item::ParamUniform),
        item_entry!(Item::OffManifoldUniform),
        item_entry!(Item::ErrorDecomposition),
        item_entry!(Item::RowSpaceConvergence),
        item_entry!(Item::ImbalanceRank),
        item_entry!(Item::Converged),
        item_entry!(Item::LimitIdentity),
        item_entry!(Item::GeneralizationBound),
    ]);
    debug_assert_eq!(v.len(), Item::ALL.len() + 2);
    v
}
