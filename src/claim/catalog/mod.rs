//! The encoded claims, one module per paper, plus shared statements (`common`) that several
//! papers state (imbalance conservation, loss monotonicity), and statements about discrete
//! gradient descent (`discrete`).

pub mod cl22;
pub mod common;
pub mod discrete;
pub mod gol24;
pub mod gol24_asymptotic;
pub mod gol24_leaky;
pub mod gol24_proxy;
pub mod gol24_sweep;
pub mod mc24;
pub mod mttvm21;

use nalgebra::DMatrix;
use serde_json::{Map, Value};

use crate::error::GradflowError;

/// Typed access to a claim's parameters, rejecting unknown keys.
pub struct Params<'a> {
    id: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Parameters of claim `id`; `known` lists the accepted keys.
    pub fn new(id: &'a str, v: &'a Value, known: &[&str]) -> Result<Self, GradflowError> {
        let obj = v.as_object().ok_or_else(|| {
            GradflowError::Config(format!("claim {id}: params must be a JSON object"))
        })?;
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(GradflowError::Config(format!(
                "claim {id}: unknown parameter {k:?} (accepted: {known:?})"
            )));
        }
        Ok(Self { id, obj })
    }

    /// A finite number, or `default` when absent.
    pub fn f64(&self, key: &str, default: f64) -> Result<f64, GradflowError> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                GradflowError::Config(format!(
                    "claim {}: parameter {key} = {v}: expected a finite number",
                    self.id
                ))
            }),
        }
    }

    /// A positive integer given as a number, or `default` when absent.
    pub fn count(&self, key: &str, default: f64) -> Result<usize, GradflowError> {
        let v = self.f64(key, default)?;
        if v >= 1.0 && v.fract() == 0.0 {
            Ok(v as usize)
        } else {
            Err(GradflowError::Config(format!(
                "claim {}: {key} = {v}: need a positive integer",
                self.id
            )))
        }
    }

    /// The value of the option a string names (`options`: name and value), or of the
    /// option named `default` when absent.
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        default: &'a str,
        options: &[(&str, T)],
    ) -> Result<T, GradflowError> {
        let name = self.str(key, default)?;
        match options.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(*v),
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
                let (last, rest) = names.split_last().expect("at least one option");
                Err(GradflowError::Config(format!(
                    "claim {}: {key} = {name:?}: expected {}{last}",
                    self.id,
                    if rest.is_empty() {
                        String::new()
                    } else {
                        format!("{} or ", rest.join(", "))
                    }
                )))
            }
        }
    }

    /// A string, or `default` when absent.
    pub fn str(&self, key: &str, default: &'a str) -> Result<&'a str, GradflowError> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| {
                GradflowError::Config(format!(
                    "claim {}: parameter {key} = {v}: expected a string",
                    self.id
                ))
            }),
        }
    }
}

/// The parameter of claim `id` when `factor` is its only one (default 1; it multiplies one
/// side of the statement, and any other value makes a deliberately false variant).
pub fn only_factor(id: &str, p: &Value) -> Result<f64, GradflowError> {
    Params::new(id, p, &["factor"])?.f64("factor", 1.0)
}

/// Spectral norm `‖A‖₂` (largest singular value), from the eigenvalues of the smaller Gram
/// matrix (`AAᵀ` or `AᵀA`; relative error `O(ε)` for the largest one); 0 for an empty
/// matrix, NaN for a non-finite one.
pub fn spectral_norm(a: &DMatrix<f64>) -> f64 {
    crate::decompose::op_norm(a).unwrap_or(f64::NAN)
}

/// The scale of the operands of the gradient `∇_l L = 2κ S_{l+1}ᵀ Rᵀ X P_{l−1}ᵀ` at weights
/// `theta` (the first `p` entries are read): `2κ‖X‖_F(‖X‖_F Π_k‖W_k‖_F + ‖Y‖_F) Σ_l Π_{k≠l}‖W_k‖_F`
/// (φ^ε is 1-Lipschitz, so the same bound serves the leaky network). The round-off of a
/// computed gradient is relative to this, not to `‖∇L‖`, which vanishes at a critical point.
pub fn gradient_operand_scale(s: &crate::claim::Setting, theta: &[f64]) -> f64 {
    let norms: Vec<f64> = s
        .shape
        .unpack(&theta[..s.params()])
        .iter()
        .map(|w| w.norm())
        .collect();
    let prod: f64 = norms.iter().product();
    let others: f64 = (0..norms.len())
        .map(|l| {
            norms
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != l)
                .map(|(_, v)| *v)
                .product::<f64>()
        })
        .sum();
    let xf = s.data.x.norm();
    2.0 * s.kappa * xf * (xf * prod + s.data.y.norm()) * others
}

/// `∇L` of the run's loss at the weights `θ`, the first `p` entries of `y`.
pub fn gradient_at(
    s: &crate::claim::Setting,
    gf: &mut crate::flow::GradientFlow,
    y: &[f64],
) -> Vec<f64> {
    let np = s.params();
    let mut g = vec![0.0; np];
    gf.gradient(&y[..np], &mut g);
    g
}

/// Relative tolerance of [`second_order_hypothesis`]: a point counts as a minimum when
/// `λ_min(∇²L) ≥ −SECOND_ORDER_TOL · λ_max(∇²L)`.
pub const SECOND_ORDER_TOL: f64 = 1e-3;

/// The second-order half of "the run has converged": a small gradient also holds on a saddle
/// plateau (a deep linear network from a small init rests near `Θ = 0` for a long time), so a
/// statement about the limit of the flow also needs `∇²L(θ_T)` to have no direction of
/// negative curvature beyond the tolerance, `λ_min ≥ −SECOND_ORDER_TOL · λ_max` (extreme
/// eigenvalues by Lanczos on the exact HVP, [`crate::curvature::hessian_extremes`]). At the
/// strict saddles of these losses the spectrum is nearly symmetric (`λ_min/λ_max ≈ −1`); at a
/// minimum `λ_min` is 0 (the rescaling symmetries) up to the Lanczos tolerance and the
/// distance to the minimum manifold. The value reported is `λ_min/λ_max` (0 when the Hessian
/// vanishes, `−∞` when it is negative semidefinite and nonzero).
pub fn second_order_hypothesis(
    gf: &mut crate::flow::GradientFlow,
    theta: &[f64],
    what: &str,
) -> crate::claim::Hypothesis {
    use crate::curvature::{hessian_extremes, LanczosOptions, Which};
    let p = gf.shape().num_params();
    let ev = hessian_extremes(
        gf,
        &theta[..p],
        None,
        &LanczosOptions {
            k: 1,
            which: Which::Both,
            max_iter: p.min(400),
            tol: 1e-10,
            ..LanczosOptions::default()
        },
    );
    let (lmin, lmax) = (ev.min(), ev.max());
    let ratio = if lmax > 0.0 {
        lmin / lmax
    } else if lmin < 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    crate::claim::Hypothesis::new(
        format!(
            "{what}: a minimum, not a saddle: λ_min(∇²L)/λ_max(∇²L) at the final point \
             (λ_min = {lmin:.3e}, λ_max = {lmax:.3e})"
        ),
        ratio,
        crate::claim::Relation::Ge,
        -SECOND_ORDER_TOL,
    )
}

/// Prefix products `[P_0, …, P_L]`, `P_k = W_k ⋯ W_1` (`m_k × d`), `P_0 = I_d`.
pub fn prefixes(ws: &[DMatrix<f64>], d: usize) -> Vec<DMatrix<f64>> {
    let mut out = vec![DMatrix::identity(d, d)];
    for w in ws {
        let next = w * out.last().expect("non-empty");
        out.push(next);
    }
    out
}

/// Suffix products: entry `k` is `W_L ⋯ W_{k+1}` (`q × m_k`), `k = 0..=L`, entry `L` = `I_q`.
pub fn suffixes(ws: &[DMatrix<f64>], q: usize) -> Vec<DMatrix<f64>> {
    let l = ws.len();
    let mut out = vec![DMatrix::identity(q, q); l + 1];
    for k in (0..l).rev() {
        out[k] = &out[k + 1] * &ws[k];
    }
    out
}

/// Hypotheses on the network and the data that several papers share; each reports its value
/// and threshold, `what` names the paper's own wording (assumption number, symbol).
pub mod hyp {
    use crate::claim::{Hypothesis, Relation, Setting};

    /// Depth `L ≥ min`.
    pub fn depth_at_least(s: &Setting, min: usize) -> Hypothesis {
        Hypothesis::new(
            format!("depth L ≥ {min}"),
            s.shape.depth() as f64,
            Relation::Ge,
            min as f64,
        )
    }
    /// Depth `L ≤ max` (a statement made for shallow networks only).
    pub fn depth_at_most(s: &Setting, max: usize, what: &str) -> Hypothesis {
        Hypothesis::new(what, s.shape.depth() as f64, Relation::Le, max as f64)
    }
    /// A single output, `q = 1`.
    pub fn single_output(s: &Setting, what: &str) -> Hypothesis {
        Hypothesis::new(what, s.shape.output() as f64, Relation::Le, 1.0)
    }
    /// `rank X < d`: the inputs leave a nontrivial null space.
    pub fn rank_below_input(s: &Setting, what: &str) -> Hypothesis {
        Hypothesis::new(what, s.rank as f64, Relation::Lt, s.shape.input() as f64)
    }
    /// `rank X = d`: the inputs span `R^d`.
    pub fn full_column_rank(s: &Setting, what: &str) -> Hypothesis {
        Hypothesis::new(what, s.rank as f64, Relation::Ge, s.shape.input() as f64)
    }
    /// `rank X = n`: the samples are linearly independent.
    pub fn full_row_rank(s: &Setting, what: &str) -> Hypothesis {
        Hypothesis::new(what, s.rank as f64, Relation::Ge, s.data.n() as f64)
    }
    /// The state carries the linear twin `θ⁰` (paper 001: a `leaky_relu` model with
    /// `twin: true`), for statements about the twin.
    pub fn twin(s: &Setting) -> Hypothesis {
        Hypothesis::flag(
            "the state carries the linear twin θ⁰ (model leaky_relu with twin: true)",
            s.layout.twin,
        )
    }
    /// `h`, followed by [`twin`] for the variant of a statement that reads the linear twin.
    pub fn with_twin(s: &Setting, mut h: Vec<Hypothesis>, on_twin: bool) -> Vec<Hypothesis> {
        if on_twin {
            h.push(twin(s));
        }
        h
    }
}
