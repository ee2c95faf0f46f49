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
//! `T_k = E P_{k−1}ᵀ = 2κ Rᵀ Z_{k−1}` with the activations `Z_k = X P_kᵀ = Z_{k−1} W_kᵀ`
//! (`Z_0 = X`), so the same gradient has two association orders ([`Association`]): through
//! the prefix products (`d Σ_{k≥2} m_k m_{k−1}` multiply-adds for the chain) or data-forward
//! through the activations (`n Σ_{k≥1} m_k m_{k−1}`), then the rank-`q` back-propagation
//! `S_{k+1}ᵀ T_k` shared by both. [`GradientFlow::new`] plans the cheaper one from the shapes
//! once; all buffers are allocated there, so [`GradientFlow::gradient`] never allocates.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};

use super::linalg::{gemm, gemm_into, m, pull_back, sq_norm, Mat};
use super::loss::LossConvention;
use crate::error::GradflowError;
use crate::integrate::system::OdeSystem;
use crate::model::data::Dataset;
use crate::model::net::Shape;

/// The association order of the linear network's forward pass, planned once per problem
/// from its shapes ([`Association::cheapest`]); both give the same gradient and HVP up to
/// round-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Association {
    /// Prefix products `P_k = W_k ⋯ W_1` (`m_k × d`), `R = X P_Lᵀ − Y`, `E = 2κ RᵀX`,
    /// `T_k = E P_{k−1}ᵀ`: `d Σ_{k≥2} m_k m_{k−1} + 2ndq + qd Σ_{k≥2} m_{k−1}` multiply-adds.
    Prefix,
    /// Activations `Z_k = Z_{k−1} W_kᵀ` (`n × m_k`, `Z_0 = X`), `R = Z_L − Y`,
    /// `T_k = 2κ Rᵀ Z_{k−1}`: `n Σ_{k≥1} m_k m_{k−1} + qn Σ_{k≥1} m_{k−1}` multiply-adds.
    DataForward,
}

impl Association {
    /// Multiply-adds of one gradient in this order: [`Association::cost`] plus the parts
    /// both orders share (the suffix products `S_k` and the layer gradients `S_{k+1}ᵀ T_k`).
    pub fn gradient_cost(self, shape: &Shape, n: usize) -> u128 {
        let w: Vec<u128> = shape.widths().iter().map(|&v| v as u128).collect();
        let l = shape.depth();
        let q = w[l];
        let shared: u128 = (1..l).map(|k| q * w[k] * w[k - 1]).sum::<u128>()
            + (2..l).map(|k| q * w[k] * w[k - 1]).sum::<u128>();
        self.cost(shape, n) + shared
    }

    /// Multiply-adds of this order's forward pass and `T_k` for `n` samples (the suffix
    /// products and the final `S_{k+1}ᵀ T_k` are common to both orders and left out).
    pub fn cost(self, shape: &Shape, n: usize) -> u128 {
        let w: Vec<u128> = shape.widths().iter().map(|&v| v as u128).collect();
        let (l, n) = (shape.depth(), n as u128);
        let (d, q) = (w[0], w[l]);
        match self {
            Self::Prefix => {
                (2..=l)
                    .map(|k| d * w[k] * w[k - 1] + q * d * w[k - 1])
                    .sum::<u128>()
                    + 2 * n * d * q
            }
            Self::DataForward => (1..=l)
                .map(|k| n * w[k] * w[k - 1] + q * n * w[k - 1])
                .sum(),
        }
    }

    /// The cheaper order by [`Association::cost`] (prefix products on a tie).
    pub fn cheapest(shape: &Shape, n: usize) -> Self {
        if Self::DataForward.cost(shape, n) < Self::Prefix.cost(shape, n) {
            Self::DataForward
        } else {
            Self::Prefix
        }
    }

    /// The name used in summaries (`prefix`, `data_forward`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::DataForward => "data_forward",
        }
    }
}

/// Work buffers for one forward/backward pass (allocated once).
#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    /// `prefix[k−1] = P_k = W_k ⋯ W_1` (`m_k × d`), `k = 1..=L`.
    pub prefix: Vec<DMatrix<f64>>,
    /// Data-forward order: `act[k−1] = Z_k = X P_kᵀ` (`n × m_k`), `k = 1..L` (empty for the
    /// prefix order).
    pub act: Vec<DMatrix<f64>>,
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
    fn new(shape: &Shape, n: usize, order: Association) -> Self {
        let l = shape.depth();
        let (d, q) = (shape.input(), shape.output());
        let w = shape.widths();
        Self {
            prefix: (1..=l).map(|k| DMatrix::zeros(w[k], d)).collect(),
            act: match order {
                Association::Prefix => Vec::new(),
                Association::DataForward => (1..l).map(|k| DMatrix::zeros(n, w[k])).collect(),
            },
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
    order: Association,
    pub(crate) ws: Workspace,
    pub(crate) hvp_ws: Option<super::hvp::HvpWorkspace>,
    counters: Counters,
    perturbation: Option<super::perturb::Prepared>,
    /// Activation level `ε` of the hidden layers (0: the linear network).
    eps: f64,
    /// Buffers of the leaky-ReLU passes (`ε > 0`).
    leaky: Option<Box<super::leaky::LeakyWorkspace>>,
    /// The linear twin and its comparison scalars (paper 001), when integrated jointly.
    twin: Option<super::nearly_linear::TwinScalars>,
    /// Buffers of the sensitivity `V = ∂θ^ε/∂ε` (workspace, scratch output, scratch residual).
    sens: Option<Box<SensBuffers>>,
    energy_integral: bool,
}

/// Buffers of the sensitivity pass (paper 001's `V = ∂θ^ε/∂ε`).
#[derive(Clone, Debug)]
struct SensBuffers {
    ws: super::leaky::LeakyWorkspace,
    out: Vec<f64>,
    resid: DMatrix<f64>,
}

/// Number of extra scalar states after the weights that every run carries (`∫‖R‖_F dt`).
pub const EXTRA_STATES: usize = 1;

/// Index (after the weights) of the energy integral `J = ∫‖∇L‖² dt` when it is integrated.
pub const ENERGY_STATE: usize = EXTRA_STATES;

impl GradientFlow {
    /// Builds the problem, checking that the data fit the network (`X` has `d` columns,
    /// `Y` has `q` columns).
    pub fn new(shape: Shape, data: &Dataset, loss: LossConvention) -> Result<Self, GradflowError> {
        check_columns("X", &data.x, "input width is d", shape.input())?;
        check_columns("Y", &data.y, "output width is q", shape.output())?;
        let n = data.x.nrows();
        let order = Association::cheapest(&shape, n);
        Ok(Self {
            ws: Workspace::new(&shape, n, order),
            order,
            shape,
            x: data.x.clone(),
            y: data.y.clone(),
            loss,
            hvp_ws: None,
            counters: Counters::default(),
            perturbation: None,
            eps: 0.0,
            leaky: None,
            twin: None,
            sens: None,
            energy_integral: false,
        })
    }

    /// Uses the leaky-ReLU activation `φ^ε` on the hidden layers (paper 001, see
    /// [`super::leaky`]); `ε = 0` keeps the linear network's code path (bit for bit).
    pub fn set_activation(&mut self, eps: f64) -> Result<(), GradflowError> {
        if !(0.0..=1.0).contains(&eps) {
            return Err(GradflowError::Config(format!(
                "activation ε = {eps}: need 0 ≤ ε ≤ 1"
            )));
        }
        self.eps = eps;
        self.leaky = (eps > 0.0).then(|| {
            Box::new(super::leaky::LeakyWorkspace::new(
                &self.shape,
                self.x.nrows(),
            ))
        });
        self.invalidate_hvp_cache();
        Ok(())
    }

    /// Integrates the linear twin `θ⁰` and the comparison scalars jointly (state layout of
    /// [`super::nearly_linear`]).
    pub fn set_twin(&mut self, twin: super::nearly_linear::TwinScalars) {
        self.twin = Some(twin);
    }

    /// Also integrates the sensitivity `V = ∂θ^ε/∂ε` (needs the twin; see
    /// [`super::nearly_linear`]); valid for any `ε ∈ [0, 1]` (at `ε = 0` it is `∂θ^τ/∂τ` at
    /// `τ = 0`, the catalog's D1 measurement).
    pub fn set_sensitivity(&mut self) -> Result<(), GradflowError> {
        if self.twin.is_none() {
            return Err(GradflowError::Config(
                "sensitivity needs the twin (model leaky_relu with twin: true)".into(),
            ));
        }
        self.sens = Some(Box::new(SensBuffers {
            ws: super::leaky::LeakyWorkspace::new(&self.shape, self.x.nrows()),
            out: vec![0.0; self.shape.num_params()],
            resid: DMatrix::zeros(self.x.nrows(), self.shape.output()),
        }));
        Ok(())
    }

    /// Uses the association order `order` instead of the planned one (both give the gradient
    /// and HVP up to round-off; for comparisons and benchmarks).
    pub fn set_association(&mut self, order: Association) {
        self.order = order;
        self.ws = Workspace::new(&self.shape, self.x.nrows(), order);
        self.hvp_ws = None;
    }

    /// The association order of the linear network's products.
    pub fn association(&self) -> Association {
        self.order
    }

    /// The activation level `ε`.
    pub fn epsilon(&self) -> f64 {
        self.eps
    }

    /// The twin's comparison system, if the state carries one.
    pub fn twin(&self) -> Option<&super::nearly_linear::TwinScalars> {
        self.twin.as_ref()
    }

    /// Where each block of this flow's state lives.
    pub fn layout(&self) -> super::nearly_linear::StateLayout {
        super::nearly_linear::StateLayout::new(&self.shape, self.twin.is_some())
            .with_extras(self.extra_states())
            .with_sensitivity(self.sens.is_some())
    }

    /// The initial ODE state for weights `theta0`: `[θ(0), 0 (, 0)]` (the quadratures), and
    /// with the twin `[θ(0), 0 (, 0), θ(0), u(0), v(0), …]`.
    pub fn initial_state(&self, theta0: &[f64]) -> Vec<f64> {
        let mut y0 = theta0.to_vec();
        y0.extend(std::iter::repeat_n(0.0, self.extra_states()));
        if let Some(tw) = &self.twin {
            y0.extend_from_slice(theta0);
            y0.extend_from_slice(&tw.scalars.initial());
            if self.sens.is_some() {
                y0.extend(std::iter::repeat_n(0.0, theta0.len()));
            }
        }
        y0
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
    /// Number of ODE states: weights plus [`GradientFlow::extra_states`] (plus the twin block).
    pub fn state_dim(&self) -> usize {
        self.layout().dim()
    }

    /// Forward pass at `theta` of the run's network (the linear one for `ε = 0`, else
    /// [`super::leaky::forward`]): fills the residual. Returns `‖R‖_F²` (the `sum` loss).
    pub(crate) fn forward(&mut self, theta: &[f64]) -> f64 {
        if self.eps > 0.0 {
            self.invalidate_hvp_cache();
            let kappa = self.loss.scale(self.x.nrows());
            let lw = self.leaky.as_mut().expect("leaky workspace");
            return super::leaky::forward(
                &self.shape,
                self.eps,
                kappa,
                &self.x,
                &self.y,
                theta,
                lw,
                &mut self.ws.resid,
            );
        }
        self.linear_forward(theta)
    }

    /// Forward pass of the linear network at `theta` in the planned [`Association`]: fills the
    /// prefix products and `E` (prefix order) or the activations `Z_k` (data-forward), and
    /// the residual. Returns `‖R‖_F²`.
    pub(crate) fn linear_forward(&mut self, theta: &[f64]) -> f64 {
        self.invalidate_hvp_cache();
        let l = self.shape.depth();
        let ws = &mut self.ws;
        ws.resid.copy_from(&self.y);
        match self.order {
            Association::Prefix => {
                self.prefix_products(theta);
                let ws = &mut self.ws;
                gemm_into(
                    1.0,
                    m(&self.x),
                    m(&ws.prefix[l - 1]).t(),
                    -1.0,
                    &mut ws.resid,
                );
                let kappa = self.loss.scale(self.x.nrows());
                gemm_into(2.0 * kappa, m(&ws.resid).t(), m(&self.x), 0.0, &mut ws.e);
            }
            Association::DataForward => {
                for k in 1..l {
                    let (done, rest) = ws.act.split_at_mut(k - 1);
                    gemm_into(
                        1.0,
                        activation(&self.x, done, k - 1),
                        layer_mat(&self.shape, theta, k).t(),
                        0.0,
                        &mut rest[0],
                    );
                }
                gemm_into(
                    1.0,
                    activation(&self.x, &ws.act, l - 1),
                    layer_mat(&self.shape, theta, l).t(),
                    -1.0,
                    &mut ws.resid,
                );
            }
        }
        sq_norm(self.ws.resid.as_slice())
    }

    /// The prefix products `P_k = W_k ⋯ W_1` at `theta` into the workspace.
    fn prefix_products(&mut self, theta: &[f64]) {
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
    }

    /// `Z_k` (`Z_0 = X`) of the last data-forward pass.
    pub(crate) fn activation(&self, k: usize) -> Mat<'_> {
        activation(&self.x, &self.ws.act, k)
    }

    /// Backward pass after [`Self::forward`]: suffix products `S_k` and `tmp_k = T_k`.
    pub(crate) fn prepare_suffix_and_tmp(&mut self, theta: &[f64]) {
        let l = self.shape.depth();
        let kappa = self.loss.scale(self.x.nrows());
        let ws = &mut self.ws;
        if l >= 2 {
            ws.suffix[l - 1].copy_from(&self.shape.layer(theta, l));
            for k in (2..l).rev() {
                pull_back(&mut ws.suffix, k, layer_mat(&self.shape, theta, k));
            }
        }
        match self.order {
            Association::Prefix => {
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
            Association::DataForward => {
                for (k, t) in ws.tmp.iter_mut().enumerate() {
                    let z = activation(&self.x, &ws.act, k);
                    gemm_into(2.0 * kappa, m(&ws.resid).t(), z, 0.0, t);
                }
            }
        }
    }

    /// Writes `alpha · ∇_{W_k} L` for every layer into `out` (flat layout) and returns the
    /// `sum` loss `‖R‖_F²` at `theta`.
    pub fn gradient_scaled(&mut self, theta: &[f64], alpha: f64, out: &mut [f64]) -> f64 {
        if self.eps > 0.0 {
            self.counters.gradients += 1;
            let r2 = self.forward(theta);
            let lw = self.leaky.as_mut().expect("leaky workspace");
            super::leaky::backprop(&self.shape, theta, lw);
            super::leaky::weight_gradients(&self.shape, &self.x, lw, alpha, out);
            super::leaky::mark_cached(lw, theta);
            return r2;
        }
        self.linear_gradient_scaled(theta, alpha, out)
    }

    /// [`Self::gradient_scaled`] of the linear network (`ε = 0`) whatever the activation: the
    /// linear twin's field.
    pub fn linear_gradient_scaled(&mut self, theta: &[f64], alpha: f64, out: &mut [f64]) -> f64 {
        self.counters.gradients += 1;
        let r2 = self.linear_forward(theta);
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

    /// The leaky network's exact Hessian-vector product at the activation pattern of `theta`
    /// ([`super::leaky::hvp`]); the forward/backward pass at `theta` is cached.
    pub(crate) fn leaky_hvp(&mut self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        self.count_hvp();
        let kappa = self.loss.scale(self.x.nrows());
        let cached = self
            .leaky
            .as_ref()
            .is_some_and(|lw| super::leaky::cached_at(lw, theta));
        if !cached {
            self.forward(theta);
            let lw = self.leaky.as_mut().expect("leaky workspace");
            super::leaky::backprop(&self.shape, theta, lw);
            super::leaky::mark_cached(lw, theta);
        }
        let lw = self.leaky.as_mut().expect("leaky workspace");
        super::leaky::hvp(&self.shape, kappa, &self.x, theta, v, 0.0, lw, out);
    }

    /// `∇L(θ)` into `out`; returns the loss `L(θ)` in this problem's convention.
    pub fn gradient(&mut self, theta: &[f64], out: &mut [f64]) -> f64 {
        let r2 = self.gradient_scaled(theta, 1.0, out);
        self.loss.scale(self.x.nrows()) * r2
    }

    /// The linear network's loss `L⁰(θ) = κ‖XΘ − Y‖_F²` whatever the activation (the linear
    /// twin's loss; counts as no gradient evaluation).
    pub fn linear_loss(&mut self, theta: &[f64]) -> f64 {
        let r2 = self.linear_forward(theta);
        self.loss.scale(self.x.nrows()) * r2
    }

    /// The loss `L(θ) = κ‖XΘ − Y‖_F²` (counts as no gradient evaluation).
    pub fn loss(&mut self, theta: &[f64]) -> f64 {
        let r2 = self.forward(theta);
        self.loss.scale(self.x.nrows()) * r2
    }

    /// The end-to-end matrix `M = W_L ⋯ W_1 = Θᵀ` (`q × d`) at `theta`: the prefix products
    /// (for `ε > 0` this is the product of the weights, i.e. the linear network with the same
    /// weights). Leaves [`Self::residual`] unspecified.
    pub fn end_to_end_t(&mut self, theta: &[f64]) -> &DMatrix<f64> {
        match self.order {
            Association::Prefix => {
                self.linear_forward(theta);
            }
            Association::DataForward => {
                self.invalidate_hvp_cache();
                self.prefix_products(theta);
            }
        }
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

/// `Ok` when the data matrix `name` has `want` columns, the network's `width` (`"input width
/// is d"`); otherwise the shape error naming both.
fn check_columns(
    name: &str,
    a: &DMatrix<f64>,
    width: &str,
    want: usize,
) -> Result<(), GradflowError> {
    if a.ncols() != want {
        return Err(GradflowError::Shape(format!(
            "{name} is {}×{} but the network {width} = {want}",
            a.nrows(),
            a.ncols()
        )));
    }
    Ok(())
}

/// `Z_k` among the activations `act` (`act[k−1] = Z_k`), `Z_0 = X`.
fn activation<'a>(x: &'a DMatrix<f64>, act: &'a [DMatrix<f64>], k: usize) -> Mat<'a> {
    if k == 0 {
        m(x)
    } else {
        m(&act[k - 1])
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

    /// `dθ/dt = −∇L(θ)` (plus the perturbation, if one is set), `dI/dt = ‖R‖_F`, `dJ/dt = ‖∇L(θ)‖²` when the energy
    /// integral is on; with the
    /// twin also `dθ⁰/dt = −∇L⁰(θ⁰)` (the linear network's field, same perturbation) and the
    /// comparison scalars' `λ·d/dτ` ([`super::nearly_linear`]).
    fn rhs(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let p = self.shape.num_params();
        if let Some(tw) = self.twin {
            let lay = self.layout();
            let (tr, sr) = (
                lay.twin_range().expect("twin"),
                lay.scalar_range().expect("twin"),
            );
            self.linear_gradient_scaled(&y[tr.clone()], -1.0, &mut dy[tr.clone()]);
            if let Some(pert) = &self.perturbation {
                pert.apply(&y[tr.clone()], &mut dy[tr]);
            }
            tw.scalars.derivatives(&y[sr.clone()], &mut dy[sr.clone()]);
            for v in &mut dy[sr] {
                *v *= tw.lambda;
            }
            if let (Some(vr), Some(sb)) = (lay.sensitivity_range(), self.sens.as_mut()) {
                // dV/dt = −(∇²L·V + ∂_ε∇L) at θ^ε (the perturbation is not differentiated)
                let kappa = self.loss.scale(self.x.nrows());
                let SensBuffers { ws, out, resid } = &mut **sb;
                let th = &y[..p];
                super::leaky::forward(
                    &self.shape,
                    self.eps,
                    kappa,
                    &self.x,
                    &self.y,
                    th,
                    ws,
                    resid,
                );
                super::leaky::backprop(&self.shape, th, ws);
                super::leaky::hvp(
                    &self.shape,
                    kappa,
                    &self.x,
                    th,
                    &y[vr.clone()],
                    1.0,
                    ws,
                    out,
                );
                for (d, o) in dy[vr].iter_mut().zip(out.iter()) {
                    *d = -*o;
                }
                self.counters.gradients += 1;
                self.counters.hvps += 1;
            }
        }
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
        // with the twin the trailing states are the comparison scalars, which do not feed
        // back either (v starts at 0 with a large rate)
        if self.twin.is_some() {
            super::nearly_linear::NUM_SCALARS
                + if self.sens.is_some() {
                    self.shape.num_params()
                } else {
                    0
                }
        } else {
            self.extra_states()
        }
    }

    /// One gradient in the planned order ([`Association::gradient_cost`]), twice with the
    /// twin, four times with the sensitivity (a gradient and a Hessian-vector product more).
    fn rhs_cost(&self) -> Option<f64> {
        let one = self.order.gradient_cost(&self.shape, self.x.nrows()) as f64;
        let copies = 1 + usize::from(self.twin.is_some()) + 2 * usize::from(self.sens.is_some());
        Some(one * copies as f64)
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
        if self.twin.is_some() {
            // the twin's block: −∇²L⁰·v at θ⁰ (the comparison scalars' Jacobian is left out)
            let tr = self.layout().twin_range().expect("twin");
            let eps = self.eps;
            self.eps = 0.0;
            self.hvp(&y[tr.clone()], &v[tr.clone()], &mut out[tr.clone()]);
            self.eps = eps;
            self.invalidate_hvp_cache();
            for o in &mut out[tr] {
                *o = -*o;
            }
        }
        true
    }
}
