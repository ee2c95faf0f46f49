//! Everything a claim may read about a run, computed once: the configuration, the data and
//! their spectral quantities, the initial point.

use nalgebra::DMatrix;

use crate::config::RunConfig;
use crate::flow::nearly_linear::StateLayout;
use crate::flow::LossConvention;
use crate::model::data::{min_norm_solution, row_space_basis, Dataset};
use crate::model::net::{end_to_end, Shape};

/// The fixed objects of a run (precomputed once, read by every claim).
pub struct Setting {
    /// The run configuration.
    pub cfg: RunConfig,
    /// Network shape.
    pub shape: Shape,
    /// Data.
    pub data: Dataset,
    /// The held-out split of `.npy` data (`cfg.test`, preprocessed with the training rule);
    /// `None` without one, and always for Gaussian data (their held-out samples are drawn
    /// from the population, [`crate::model::data::held_out`]).
    pub test: Option<Dataset>,
    /// Initial weights (flat).
    pub theta0: Vec<f64>,
    /// Loss convention and its factor `κ` (`L = κ‖R‖_F²`).
    pub loss: LossConvention,
    /// `κ`.
    pub kappa: f64,
    /// Rank of `X`.
    pub rank: usize,
    /// Orthonormal basis `Q` (`d × rank`) of the row space of `X`; `P_X = QQᵀ`.
    pub row_basis: DMatrix<f64>,
    /// Singular values of `X`, descending.
    pub x_singular: Vec<f64>,
    /// `X⁺Y` (`d × q`), the minimum-norm least-squares solution.
    pub theta_l2: DMatrix<f64>,
    /// `Θ(0)` (`d × q`).
    pub theta_e2e0: DMatrix<f64>,
    /// Activation level `ε` of the run's hidden layers (0: linear network; paper 001).
    pub eps: f64,
    /// Where each block of the ODE state lives (the linear twin of paper 001, if any).
    pub layout: StateLayout,
    /// Values the declared claims share at the run's points ([`crate::spec::shared`]).
    pub shared: crate::spec::shared::SharedValues,
}

impl Setting {
    /// Precomputes the setting of a run, without a held-out split ([`Setting::of_problem`]
    /// carries the problem's).
    pub fn new(cfg: &RunConfig, shape: &Shape, data: &Dataset, theta0: &[f64]) -> Self {
        let (row_basis, rank) = row_space_basis(&data.x);
        // nonincreasing; a Dataset is finite
        let x_singular = crate::decompose::singular_values(&data.x)
            .expect("Setting::new: X must be finite")
            .as_slice()
            .to_vec();
        Self {
            cfg: cfg.clone(),
            shape: shape.clone(),
            theta_l2: min_norm_solution(&data.x, &data.y),
            theta_e2e0: end_to_end(shape, theta0),
            data: data.clone(),
            test: None,
            theta0: theta0.to_vec(),
            loss: cfg.loss,
            kappa: cfg.loss.scale(data.n()),
            rank,
            row_basis,
            x_singular,
            eps: cfg.model.as_ref().map_or(0.0, |m| m.epsilon()),
            layout: StateLayout::new(shape, cfg.model.as_ref().is_some_and(|m| m.twin()))
                .with_sensitivity(cfg.model.as_ref().is_some_and(|m| m.sensitivity())),
            shared: Default::default(),
        }
    }

    /// The setting of a built problem: [`Setting::new`] with the problem's held-out split.
    pub fn of_problem(cfg: &RunConfig, problem: &crate::run::Problem) -> Self {
        Self {
            test: problem.test.clone(),
            ..Self::new(cfg, &problem.shape, &problem.data, &problem.theta0)
        }
    }

    /// The network outputs `f(X) ∈ R^{n×q}` at weights `theta` (the first `p` entries are
    /// read): `XΘ` for the linear network, the leaky network's outputs for `ε > 0`.
    pub fn outputs(&self, theta: &[f64]) -> DMatrix<f64> {
        self.outputs_on(&theta[..self.params()], &self.data.x)
    }

    /// The run's network at weights `theta` applied to the rows of `x`.
    pub fn outputs_on(&self, theta: &[f64], x: &DMatrix<f64>) -> DMatrix<f64> {
        let theta = &theta[..self.params()];
        if self.eps > 0.0 {
            crate::flow::leaky::network_outputs(&self.shape, self.eps, theta, x)
        } else {
            x * end_to_end(&self.shape, theta)
        }
    }

    /// Number of weights.
    pub fn params(&self) -> usize {
        self.shape.num_params()
    }
    /// `‖X‖_op`.
    pub fn x_op(&self) -> f64 {
        self.x_singular.first().copied().unwrap_or(0.0)
    }
    /// The smallest nonzero singular value `σ_r(X)`, `r = rank X`.
    pub fn x_min_sv(&self) -> f64 {
        if self.rank == 0 {
            0.0
        } else {
            self.x_singular[self.rank - 1]
        }
    }
    /// `P_⊥ v = v − Q(Qᵀv)` applied to the rows of `m` (`m (I − P_X)`).
    pub fn right_perp(&self, m: &DMatrix<f64>) -> DMatrix<f64> {
        m - (m * &self.row_basis) * self.row_basis.transpose()
    }
    /// `(I − P_X) m` for a `d × ·` matrix.
    pub fn left_perp(&self, m: &DMatrix<f64>) -> DMatrix<f64> {
        m - &self.row_basis * (self.row_basis.transpose() * m)
    }
    /// Layer `W_k` of a state.
    pub fn layer(&self, y: &[f64], k: usize) -> DMatrix<f64> {
        self.shape.layer(y, k).into_owned()
    }
    /// `Θ = (W_L ⋯ W_1)ᵀ` of a state.
    pub fn theta(&self, y: &[f64]) -> DMatrix<f64> {
        end_to_end(&self.shape, &y[..self.params()])
    }
    /// `‖R‖_F = ‖XΘ − Y‖_F` read off the derivative at an accepted point.
    pub fn residual_norm(&self, f: &[f64]) -> f64 {
        f[self.params()]
    }
    /// The loss in the run's convention at a point with derivative `f`.
    pub fn loss_value(&self, f: &[f64]) -> f64 {
        let r = self.residual_norm(f);
        self.kappa * r * r
    }
    /// `‖∇L‖²` from the derivative at a point (valid for the unperturbed flow).
    pub fn grad_norm_sq(&self, f: &[f64]) -> f64 {
        f[..self.params()].iter().map(|v| v * v).sum()
    }
}
