//! Deep linear network `x ↦ W_L ⋯ W_1 x` and the layout of its weights in a flat state vector.
//!
//! Layer `k` (1-based) is `W_k ∈ R^{m_k × m_{k−1}}` with `m_0 = d` (input) and `m_L = q`
//! (output). The end-to-end map is `Θ = (W_L ⋯ W_1)ᵀ ∈ R^{d×q}`, so that a row sample `x`
//! is predicted as `xΘ` and the data matrix `X ∈ R^{n×d}` as `XΘ` (row-sample convention,
//! see `../shared/design.md` §2).
//!
//! The weights live in one flat `&[f64]`: `W_1` first, each layer column-major (nalgebra's
//! storage order), so a layer is a zero-copy [`DMatrixView`] of a sub-slice.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use serde::{Deserialize, Serialize};

use crate::error::GradflowError;

/// The widths `[d, m_1, …, m_{L−1}, q]` of a deep linear network (depth `L = widths.len() − 1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    widths: Vec<usize>,
    offsets: Vec<usize>,
}

impl Shape {
    /// A network with the given widths `[d, m_1, …, q]`; needs depth ≥ 1, every width ≥ 1,
    /// and a number of weights `Σ_k m_k m_{k−1}` that fits in `usize` (checked arithmetic;
    /// the memory limit of a run is checked before, by [`crate::limits::Footprint`]).
    pub fn new(widths: Vec<usize>) -> Result<Self, GradflowError> {
        if widths.len() < 2 {
            return Err(GradflowError::Config(format!(
                "widths {}: need at least [d, q] (depth ≥ 1)",
                show_widths(&widths)
            )));
        }
        if let Some(pos) = widths.iter().position(|&w| w == 0) {
            return Err(GradflowError::Config(format!(
                "widths {}: {} is zero",
                show_widths(&widths),
                match pos {
                    0 => "the input width d".to_string(),
                    p if p == widths.len() - 1 => "the output width q".to_string(),
                    p => format!("hidden width m_{p} (layer {p}'s output)"),
                }
            )));
        }
        let mut offsets = Vec::with_capacity(widths.len());
        let mut off: usize = 0;
        offsets.push(0);
        for k in 1..widths.len() {
            off = widths[k]
                .checked_mul(widths[k - 1])
                .and_then(|layer| off.checked_add(layer))
                .ok_or_else(|| {
                    GradflowError::Config(format!(
                        "widths {}: the number of weights Σ m_k·m_(k−1) overflows at layer {k}                          ({}×{})",
                        show_widths(&widths),
                        widths[k],
                        widths[k - 1]
                    ))
                })?;
            offsets.push(off);
        }
        Ok(Self { widths, offsets })
    }

    /// The two-layer parametrisation `y = V Uᵀ x` of paper 003 (Min et al.): `U ∈ R^{D×h}`,
    /// `V ∈ R^{m×h}`, i.e. the depth-2 network with `W_1 = Uᵀ`, `W_2 = V`.
    pub fn two_layer_uv(input: usize, hidden: usize, output: usize) -> Result<Self, GradflowError> {
        Self::new(vec![input, hidden, output])
    }

    /// Depth `L`.
    pub fn depth(&self) -> usize {
        self.widths.len() - 1
    }
    /// Input dimension `d = m_0`.
    pub fn input(&self) -> usize {
        self.widths[0]
    }
    /// Output dimension `q = m_L`.
    pub fn output(&self) -> usize {
        self.widths[self.depth()]
    }
    /// All widths `[d, m_1, …, q]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }
    /// The widths for a message: all of them up to 12, else the first and last few.
    pub fn widths_label(&self) -> String {
        show_widths(&self.widths)
    }
    /// `(rows, cols)` of `W_k`, `k ∈ 1..=L`.
    pub fn layer_shape(&self, k: usize) -> (usize, usize) {
        (self.widths[k], self.widths[k - 1])
    }
    /// Index range of `W_k` in the flat parameter vector.
    pub fn layer_range(&self, k: usize) -> std::ops::Range<usize> {
        self.offsets[k - 1]..self.offsets[k]
    }
    /// Number of parameters `Σ_k m_k m_{k−1}`.
    pub fn num_params(&self) -> usize {
        self.offsets[self.depth()]
    }
    /// `W_k` as a view of the flat vector `theta`.
    pub fn layer<'a>(&self, theta: &'a [f64], k: usize) -> DMatrixView<'a, f64> {
        let (r, c) = self.layer_shape(k);
        DMatrixView::from_slice(&theta[self.layer_range(k)], r, c)
    }
    /// `W_k` as a mutable view of the flat vector `theta`.
    pub fn layer_mut<'a>(&self, theta: &'a mut [f64], k: usize) -> DMatrixViewMut<'a, f64> {
        let (r, c) = self.layer_shape(k);
        DMatrixViewMut::from_slice(&mut theta[self.layer_range(k)], r, c)
    }
    /// Packs layers `[W_1, …, W_L]` into a flat vector, checking every shape.
    pub fn pack(&self, layers: &[DMatrix<f64>]) -> Result<Vec<f64>, GradflowError> {
        if layers.len() != self.depth() {
            return Err(GradflowError::Shape(format!(
                "expected {} layers, got {}",
                self.depth(),
                layers.len()
            )));
        }
        let mut theta = Vec::with_capacity(self.num_params());
        for (i, w) in layers.iter().enumerate() {
            let want = self.layer_shape(i + 1);
            if w.shape() != want {
                return Err(GradflowError::Shape(format!(
                    "W{} is {}×{}, expected {}×{}",
                    i + 1,
                    w.nrows(),
                    w.ncols(),
                    want.0,
                    want.1
                )));
            }
            theta.extend_from_slice(w.as_slice());
        }
        Ok(theta)
    }
    /// Copies the layers out of a flat vector.
    pub fn unpack(&self, theta: &[f64]) -> Vec<DMatrix<f64>> {
        (1..=self.depth())
            .map(|k| self.layer(theta, k).into_owned())
            .collect()
    }
    /// The widths of a network built from layer matrices `[W_1, …, W_L]`, checking that
    /// consecutive layers chain (`cols(W_{k+1}) = rows(W_k)`).
    pub fn from_layers(layers: &[DMatrix<f64>]) -> Result<Self, GradflowError> {
        let first = layers
            .first()
            .ok_or_else(|| GradflowError::Shape("no layers given".into()))?;
        let mut widths = vec![first.ncols()];
        for (i, w) in layers.iter().enumerate() {
            if w.ncols() != *widths.last().unwrap() {
                return Err(GradflowError::Shape(format!(
                    "W{} has {} columns but W{} has {} rows",
                    i + 1,
                    w.ncols(),
                    i,
                    widths.last().unwrap()
                )));
            }
            widths.push(w.nrows());
        }
        Self::new(widths)
    }
}

/// The widths for a message: all of them up to 12, else the first and last few.
fn show_widths(widths: &[usize]) -> String {
    if widths.len() <= 12 {
        return format!("{widths:?}");
    }
    let head: Vec<String> = widths[..6].iter().map(|w| w.to_string()).collect();
    let tail: Vec<String> = widths[widths.len() - 3..]
        .iter()
        .map(|w| w.to_string())
        .collect();
    format!(
        "[{}, …, {}] ({} widths)",
        head.join(", "),
        tail.join(", "),
        widths.len()
    )
}

/// End-to-end matrix `Θ = (W_L ⋯ W_1)ᵀ ∈ R^{d×q}` (allocates; not for the hot path).
pub fn end_to_end(shape: &Shape, theta: &[f64]) -> DMatrix<f64> {
    let mut m = shape.layer(theta, 1).into_owned();
    for k in 2..=shape.depth() {
        m = shape.layer(theta, k) * m;
    }
    m.transpose()
}
