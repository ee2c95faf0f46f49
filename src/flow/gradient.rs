//! Loss and exact gradient of a deep linear network by prefix/suffix products.
//!
//! With `M = W_L ⋯ W_1 ∈ R^{q×d}` (so `Θ = Mᵀ`), residual `R = XΘ − Y ∈ R^{n×q}` and loss
//! `L = κ‖R‖_F²` (`κ` from [`LossConvention::scale`]):
//!
//! ```text
//! E   = ∂L/∂M = 2κ RᵀX                               (q×d)
//! P_k = W_k ⋯ W_1  (P_0 = I_d),   S_k = W_L ⋯ W_k  (S_{L+1} = I_q)
//! ∇_{W_k} L = S_{k+1}ᵀ · E · P_{k−1}ᵀ                (m_k × m_{k−1})
//! ```
//!
//! (paper 000 eq. (4) is this with `2κ` replaced by 1: the catalog's "missing factor 2").
//! One evaluation costs `O(Σ_k m_k m_{k−1} d + n d q)`; all buffers are allocated once in
//! [`GradientFlow::new`], so [`GradientFlow::gradient`] never allocates.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};

use super::linalg::{gemm, gemm_into, m, sq_norm, Mat};
use super::loss::LossConvention;
use crate::error::GradflowError;
use crate::integrate::system::OdeSystem;
use crate::model::data::Dataset;
use crate::model::net::Shape;

/// Work buffers for one forward/backward pass (allocated once).
#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    /// `prefix[k−1] = P_k = W_k ⋯ W_1` (`m_k × d`), `k = 1..=L`.
    pub prefix: Vec<DMatrix<f64>>,
    /// `suffix[k−1] = S_k = W_L ⋯ W_k` (`q × m_{k−1}`), `k = 2..=L` (entry 0 unused).
    pub suffix: Vec<DMatrix<f64>>,
    /// `R = XΘ − Y` (`n × q`).
    pub resid: DMatrix<f64>,
    /// `E = 2κ RᵀX` (`q × d`).
    pub e: DMatrix<f64>,
    /// `tmp[k−1] = E P_{k−1}ᵀ` (`q × m_{k−1}`).
    pub tmp: Vec<DMatrix<f64>>,
}

impl Workspace {
    fn new(shape: &Shape, n: usize) -> Self {
        let l = shape.depth();
        let (d, q) = (shape.input(), shape.output());
        let w = shape.widths();
        Self {
            prefix: (1..=l).map(|k| DMatrix::zeros(w[k], d)).collect(),
            suffix: (1..=l).map(|k| DMatrix::zeros(q, w[k - 1])).collect(),
            resid: DMatrix::zeros(n, q),
            e: DMatrix::zeros(q, d),
            tmp: (1..=l).map(|k| DMatrix::zeros(q, w[k - 1])).collect(),
        }
    }
}

/// Counts of the work done, in evaluations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Gradient (right-hand side) evaluations.
    pub gradients: u64,
    /// Hessian-vector products.
    pub hvps: u64,
}

/// The gradient-flow problem: network shape, data, loss convention and work buffers.
///
/// As an [`OdeSystem`] its state is `[θ, I]` where `θ` holds the weights (layout of
/// [`Shape`]) and `I(t) = ∫_0^t ‖XΘ(s) − Y‖_F ds` is integrated alongside (paper 000
/// Thm 3.1's `∫√𝓛 dt` with 𝓛 the `sum` loss), so the adaptive error control covers it.
/// With [`GradientFlow::set_energy_integral`] the state is `[θ, I, J]` with
/// `J(t) = ∫_0^t ‖∇L(θ(s))‖² ds` (paper 002's energy identity `L(t) + J(t) = L(0)`, U8).
/// The trailing scalars are quadratures: they never feed back into `θ`.
#[derive(Clone, Debug)]
pub struct GradientFlow {
    shape: Shape,
    x: DMatrix<f64>,
    y: DMatrix<f64>,
    loss: LossConvention,
    pub(crate) ws: Workspace,
    pub(crate) hvp_ws: Option<super::hvp::HvpWorkspace>,
    counters: Counters,
    perturbation: Option<super::perturb::Prepared>,
    energy_integral: bool,
}

/// Number of extra scalar states after the weights that every run carries (`∫‖R‖_F dt`).
pub const EXTRA_STATES: usize = 1;

/// Index (after the weights) of the energy integral `J = ∫‖∇L‖² dt` when it is integrated.
pub const ENERGY_STATE: usize = EXTRA_STATES;

impl GradientFlow {
    /// Builds the problem, checking that the data fit the network (`X` has `d` columns,
    /// `Y` has `q` columns).
    pub fn new(shape: Shape, data: &Dataset, loss: LossConvention) -> Result<Self, GradflowError> {
        if data.x.ncols() != shape.input() {
            return Err(GradflowError::Shape(format!(
                "X is {}×{} but the network input width is d = {}",
                data.x.nrows(),
                data.x.ncols(),
                shape.input()
            )));
        }
        if data.y.ncols() != shape.output() {
            return Err(GradflowError::Shape(format!(
                "Y is {}×{} but the network output width is q = {}",
                data.y.nrows(),
                data.y.ncols(),
                shape.output()
            )));
        }
        let n = data.x.nrows();
        Ok(Self {
            ws: Workspace::new(&shape, n),
            shape,
            x: data.x.clone(),
            y: data.y.clone(),
            loss,
            hvp_ws: None,
            counters: Counters::default(),
            perturbation: None,
            energy_integral: false,
        })
    }

    /// Adds a deliberate perturbation to the vector field (mutation tests; see
    /// [`super::perturb`]). The exact gradient and HVP are unaffected.
    pub fn set_perturbation(
        &mut self,
        p: &super::perturb::Perturbation,
    ) -> Result<(), GradflowError> {
        let (basis, _) = crate::model::data::row_space_basis(&self.x);
        self.perturbation = Some(p.prepare(&self.shape, &basis)?);
        Ok(())
    }

    /// The network shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The inputs `X` (`n × d`).
    pub fn x(&self) -> &DMatrix<f64> {
        &self.x
    }
    /// The targets `Y` (`n × q`).
    pub fn y(&self) -> &DMatrix<f64> {
        &self.y
    }
    /// The loss convention.
    pub fn loss_convention(&self) -> LossConvention {
        self.loss
    }
    /// Evaluation counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    pub(crate) fn count_hvp(&mut self) {
        self.counters.hvps += 1;
    }
    /// Also integrate `J(t) = ∫_0^t ‖∇L‖² dt` (the unperturbed gradient's squared norm) as
    /// the state after `I`; off by default, so runs that do not need it keep their state and
    /// step sequence.
    pub fn set_energy_integral(&mut self, on: bool) {
        self.energy_integral = on;
    }
    /// Whether `J` is integrated.
    pub fn energy_integral(&self) -> bool {
        self.energy_integral
    }
    /// Number of scalar quadrature states after the weights (`I`, and `J` when on).
    pub fn extra_states(&self) -> usize {
        EXTRA_STATES + usize::from(self.energy_integral)
    }
    /// Number of ODE states: weights plus [`GradientFlow::extra_states`].
    pub fn state_dim(&self) -> usize {
        self.shape.num_params() + self.extra_states()
    }

    /// Forward pass at `theta`: fills the prefix products, the residual and `E`.
    /// Returns `‖R‖_F²` (the `sum` loss).
    pub(crate) fn forward(&mut self, theta: &[f64]) -> f64 {
        self.invalidate_hvp_cache();
        let l = self.shape.depth();
        let ws = &mut self.ws;
        ws.prefix[0].copy_from(&self.shape.layer(theta, 1));
        for k in 2..=l {
            let (done, rest) = ws.prefix.split_at_mut(k - 1);
            gemm_into(
                1.0,
                layer_mat(&self.shape, theta, k),
                m(&done[k - 2]),
                0.0,
                &mut rest[0],
            );
        }
        ws.resid.copy_from(&self.y);
        gemm_into(
            1.0,
            m(&self.x),
            m(&ws.prefix[l - 1]).t(),
            -1.0,
            &mut ws.resid,
        );
        let kappa = self.loss.scale(self.x.nrows());
        gemm_into(2.0 * kappa, m(&ws.resid).t(), m(&self.x), 0.0, &mut ws.e);
        sq_norm(ws.resid.as_slice())
    }

    /// Backward pass after [`Self::forward`]: suffix products `S_k` and `tmp_k = E P_{k−1}ᵀ`.
    pub(crate) fn prepare_suffix_and_tmp(&mut self, theta: &[f64]) {
        let l = self.shape.depth();
        let ws = &mut self.ws;
        if l >= 2 {
            ws.suffix[l - 1].copy_from(&self.shape.layer(theta, l));
            for k in (2..l).rev() {
                let (lo, hi) = ws.suffix.split_at_mut(k);
                gemm_into(
                    1.0,
                    m(&hi[0]),
                    layer_mat(&self.shape, theta, k),
                    0.0,
                    &mut lo[k - 1],
                );
            }
        }
        ws.tmp[0].copy_from(&ws.e);
        for k in 2..=l {
            gemm_into(
                1.0,
                m(&ws.e),
                m(&ws.prefix[k - 2]).t(),
                0.0,
                &mut ws.tmp[k - 1],
            );
        }
    }

    /// Writes `alpha · ∇_{W_k} L` for every layer into `out` (flat layout) and returns the
    /// `sum` loss `‖R‖_F²` at `theta`.
    pub fn gradient_scaled(&mut self, theta: &[f64], alpha: f64, out: &mut [f64]) -> f64 {
        self.counters.gradients += 1;
        let r2 = self.forward(theta);
        self.prepare_suffix_and_tmp(theta);
        let l = self.shape.depth();
        for k in 1..=l {
            let (r, c) = self.shape.layer_shape(k);
            let g = &mut out[self.shape.layer_range(k)];
            if k == l {
                for (o, v) in g.iter_mut().zip(self.ws.tmp[k - 1].iter()) {
                    *o = alpha * v;
                }
            } else {
                gemm(
                    alpha,
                    m(&self.ws.suffix[k]).t(),
                    m(&self.ws.tmp[k - 1]),
                    0.0,
                    g,
                    r,
                    c,
                );
            }
        }
        r2
    }

    /// `∇L(θ)` into `out`; returns the loss `L(θ)` in this problem's convention.
    pub fn gradient(&mut self, theta: &[f64], out: &mut [f64]) -> f64 {
        let r2 = self.gradient_scaled(theta, 1.0, out);
        self.loss.scale(self.x.nrows()) * r2
    }

    /// The loss `L(θ) = κ‖XΘ − Y‖_F²` (counts as no gradient evaluation).
    pub fn loss(&mut self, theta: &[f64]) -> f64 {
        let r2 = self.forward(theta);
        self.loss.scale(self.x.nrows()) * r2
    }

    /// The end-to-end matrix `M = W_L ⋯ W_1 = Θᵀ` (`q × d`) at `theta` (one forward pass).
    pub fn end_to_end_t(&mut self, theta: &[f64]) -> &DMatrix<f64> {
        self.forward(theta);
        &self.ws.prefix[self.shape.depth() - 1]
    }

    /// The residual `R = XΘ − Y` of the last forward pass.
    pub fn residual(&self) -> DMatrixView<'_, f64> {
        self.ws.resid.as_view()
    }

    /// `W_k` of `theta` as a view.
    pub fn layer<'a>(&self, theta: &'a [f64], k: usize) -> DMatrixView<'a, f64> {
        self.shape.layer(theta, k)
    }

    /// `W_k` of `theta` as a mutable view.
    pub fn layer_mut<'a>(&self, theta: &'a mut [f64], k: usize) -> DMatrixViewMut<'a, f64> {
        self.shape.layer_mut(theta, k)
    }
}

/// `W_k` of the flat vector `theta` as a [`Mat`].
pub(crate) fn layer_mat<'a>(shape: &Shape, theta: &'a [f64], k: usize) -> Mat<'a> {
    let (r, c) = shape.layer_shape(k);
    Mat::new(&theta[shape.layer_range(k)], r, c)
}

impl OdeSystem for GradientFlow {
    fn dim(&self) -> usize {
        self.state_dim()
    }

    /// `dθ/dt = −∇L(θ)` (plus the perturbation, if one is set), `dI/dt = ‖XΘ − Y‖_F`, and
    /// `dJ/dt = ‖∇L(θ)‖²` when the energy integral is on.
    fn rhs(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let p = self.shape.num_params();
        let r2 = self.gradient_scaled(&y[..p], -1.0, &mut dy[..p]);
        if self.energy_integral {
            dy[p + ENERGY_STATE] = dy[..p].iter().map(|g| g * g).sum();
        }
        if let Some(pert) = &self.perturbation {
            pert.apply(&y[..p], &mut dy[..p]);
        }
        dy[p] = r2.sqrt();
    }

    /// `J·v` with `J ≈ [[−∇²L, 0], [0, 0]]`: the exact Hessian action on the weights (one
    /// HVP, counted in [`Counters`]); the quadrature row `d‖R‖/dθ` and a perturbation's own
    /// Jacobian are left out. The quadrature states do not feed back into the weights, so
    /// Newton iterations with this Jacobian still converge to the exact stage solution.
    fn quadrature_states(&self) -> usize {
        self.extra_states()
    }

    fn jvp(&mut self, _t: f64, y: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        let p = self.shape.num_params();
        self.hvp(&y[..p], &v[..p], &mut out[..p]);
        for o in &mut out[..p] {
            *o = -*o;
        }
        for o in &mut out[p..] {
            *o = 0.0;
        }
        true
    }
}
