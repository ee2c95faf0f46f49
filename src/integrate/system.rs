//! The ODE interface the integrators drive.

/// An autonomous or time-dependent system `y' = f(t, y)` on `R^dim`.
///
/// `rhs` takes `&mut self` so a system can keep its own work buffers (the gradient flow
/// allocates its products once and reuses them at every stage).
pub trait OdeSystem {
    /// Dimension of the state.
    fn dim(&self) -> usize;
    /// Writes `f(t, y)` into `dy` (`y.len() == dy.len() == dim`).
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]);
    /// Writes a Jacobian-vector product `J(t, y)·v ≈ ∂f/∂y·v` into `out` and returns `true`,
    /// or returns `false` when the system offers none (the default). Implicit and stabilized
    /// methods use it for Newton–Krylov iterations and spectral estimates; an approximate
    /// Jacobian only slows Newton's convergence, it does not change the solution.
    fn jvp(&mut self, _t: f64, _y: &[f64], _v: &[f64], _out: &mut [f64]) -> bool {
        false
    }
    /// Number of trailing components that are quadratures `q' = g(y)` of the others and
    /// never feed back into them (default 0). The initial-step heuristic ignores them: a
    /// quadrature starting at 0 with a large rate says nothing about the step the dynamics
    /// need (their accuracy is still controlled by the error norm).
    fn quadrature_states(&self) -> usize {
        0
    }
    /// Multiply-adds of one [`OdeSystem::rhs`] evaluation, when the system can say (default
    /// `None`). The implicit methods' work guard ([`super::implicit::guard`]) converts the
    /// orthogonalization work of a Lanczos refresh into evaluations with it.
    fn rhs_cost(&self) -> Option<f64> {
        None
    }
}

/// A linear system `y' = A y` with a dense matrix `A` (test problem with the closed-form
/// solution `y(t) = exp(tA) y_0`).
#[derive(Clone, Debug)]
pub struct LinearSystem {
    /// The matrix `A`.
    pub a: nalgebra::DMatrix<f64>,
}

impl OdeSystem for LinearSystem {
    fn dim(&self) -> usize {
        self.a.nrows()
    }
    fn rhs(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let y = nalgebra::DVectorView::from_slice(y, y.len());
        let mut out = nalgebra::DVectorViewMut::from_slice(dy, y.len());
        out.gemv(1.0, &self.a, &y, 0.0);
    }
    fn jvp(&mut self, _t: f64, _y: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        self.rhs(0.0, v, out);
        true
    }
    fn rhs_cost(&self) -> Option<f64> {
        Some((self.a.nrows() * self.a.ncols()) as f64)
    }
}
