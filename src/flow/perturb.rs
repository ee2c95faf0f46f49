//! Deliberate perturbations of the gradient flow, for mutation tests of the checker: a
//! claim that is "checked" must be seen to fail when the flow no longer satisfies it.
//!
//! Each perturbation adds a small term to the right-hand side `−∇L(θ)`:
//!
//! | kind | added term | breaks |
//! |---|---|---|
//! | `null_space_leak {eps}` | `dW_1 += ε · 1 (I − P_X)` (all-ones `m_1 × d` matrix projected) | paper 000 Lemma 5.4 (`W_1 P_⊥` conserved) |
//! | `weight_decay {eps, layer}` | `dW_k −= ε W_k` on one layer | the imbalance conservation `D_k(t) = D_k(0)` |
//! | `gradient_scale {g}` | `dθ/dt = −g ∇L` | constants stated for `g = 1` (paper 000's factor-2 flag); the energy identity `L(t) + ∫‖∇L‖² = L(0)` |
//! | `layer_scale {g, layer}` | `dW_k/dt = −g ∇_{W_k} L` on one layer | the imbalance conservation `D_k(t) = D_k(0)` (paper 002 catalog §5 counterexample 4: per-layer learning rates conserve `W_{k+1}ᵀW_{k+1}/η_{k+1} − W_kW_kᵀ/η_k` instead); the energy identity |
//!
//! The energy integral `J = ∫‖∇L‖² dt` of [`super::GradientFlow`] (integrated when a checked
//! claim reads it) integrates the unperturbed gradient, so every perturbation that changes `dL/dt = −‖∇L‖²` breaks
//! `L(t) + J(t) = L(0)`.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// A perturbation of the gradient-flow vector field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Perturbation {
    /// Adds `ε (𝟙 P_⊥)` to `dW_1/dt`: a drift out of the row space of `X`.
    NullSpaceLeak {
        /// Size `ε`.
        eps: f64,
    },
    /// Adds `−ε W_k` to `dW_k/dt` for one layer `k` (1-based).
    WeightDecay {
        /// Size `ε`.
        eps: f64,
        /// The layer.
        layer: usize,
    },
    /// Multiplies the whole gradient by `g`.
    GradientScale {
        /// The factor.
        g: f64,
    },
    /// Multiplies `dW_k/dt` of one layer `k` (1-based) by `g`: a per-layer learning rate
    /// `η_k = g` (the other layers keep `η = 1`).
    LayerScale {
        /// The factor.
        g: f64,
        /// The layer.
        layer: usize,
    },
}

/// A perturbation prepared for a given problem (projected direction precomputed).
#[derive(Clone, Debug)]
pub(crate) enum Prepared {
    NullSpace {
        dir: Vec<f64>,
    },
    Decay {
        eps: f64,
        range: std::ops::Range<usize>,
    },
    Scale {
        g: f64,
    },
    LayerScale {
        g: f64,
        range: std::ops::Range<usize>,
    },
}

impl Perturbation {
    /// Prepares the perturbation for `W_1 ∈ R^{m_1×d}` and the row-space basis `q` of `X`.
    pub(crate) fn prepare(
        &self,
        shape: &crate::model::net::Shape,
        row_basis: &DMatrix<f64>,
    ) -> Result<Prepared, crate::error::GradflowError> {
        Ok(match *self {
            Perturbation::NullSpaceLeak { eps } => {
                let (m1, d) = shape.layer_shape(1);
                let ones = DMatrix::from_element(m1, d, 1.0);
                let proj = &ones - (&ones * row_basis) * row_basis.transpose();
                Prepared::NullSpace {
                    dir: (proj * eps).as_slice().to_vec(),
                }
            }
            Perturbation::WeightDecay { eps, layer } => Prepared::Decay {
                eps,
                range: checked_layer_range(shape, layer)?,
            },
            Perturbation::GradientScale { g } => Prepared::Scale { g },
            Perturbation::LayerScale { g, layer } => Prepared::LayerScale {
                g,
                range: checked_layer_range(shape, layer)?,
            },
        })
    }
}

/// The flat index range of layer `layer` (1-based), or a config error when out of range.
fn checked_layer_range(
    shape: &crate::model::net::Shape,
    layer: usize,
) -> Result<std::ops::Range<usize>, crate::error::GradflowError> {
    if layer == 0 || layer > shape.depth() {
        return Err(crate::error::GradflowError::Config(format!(
            "perturbation.layer = {layer}: must be in 1..={}",
            shape.depth()
        )));
    }
    Ok(shape.layer_range(layer))
}

impl Prepared {
    /// Applies the perturbation to `dy` (weights part) at `theta`.
    pub(crate) fn apply(&self, theta: &[f64], dy: &mut [f64]) {
        match self {
            Prepared::NullSpace { dir } => {
                for (o, v) in dy.iter_mut().zip(dir) {
                    *o += v;
                }
            }
            Prepared::Decay { eps, range } => {
                for i in range.clone() {
                    dy[i] -= eps * theta[i];
                }
            }
            Prepared::Scale { g } => {
                for o in dy.iter_mut() {
                    *o *= g;
                }
            }
            Prepared::LayerScale { g, range } => {
                for o in &mut dy[range.clone()] {
                    *o *= g;
                }
            }
        }
    }
}
