//! Test problems shared by the engine tests.

use gradflow::integrate::{Integrator, OdeSystem, StepFailure};
use nalgebra::DMatrix;

/// A non-normal 4×4 matrix with eigenvalues of both signs of real part and nonzero imaginary
/// parts (a mix of decay, growth and rotation), so no error term of `y' = Ay` vanishes by
/// symmetry; its exact solution is `exp(tA) y0` (nalgebra's matrix exponential).
pub fn non_normal_matrix() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        4,
        4,
        &[
            -0.5, 2.0, 0.3, 0.0, //
            -2.0, -0.4, 0.0, 0.5, //
            0.1, 0.0, -1.0, 1.5, //
            0.0, -0.3, -1.5, 0.2,
        ],
    )
}

/// The initial state used with [`non_normal_matrix`].
pub const Y0: [f64; 4] = [1.0, -0.5, 0.25, 2.0];

/// `y' = y²`, `y(0) = 1`: the solution `1/(1 − t)` blows up at `t = 1`.
pub struct BlowUp;
impl OdeSystem for BlowUp {
    fn dim(&self) -> usize {
        1
    }
    fn rhs(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[0] * y[0];
    }
}

/// Steps until the integrator reaches its end (the number of accepted steps) or fails.
pub fn run_to_end<S: OdeSystem>(integ: &mut Integrator<S>) -> Result<u64, StepFailure> {
    let mut n = 0;
    while integ.step()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A run through a finite-time singularity must end in a step-size underflow or divergence.
pub fn assert_stopped_at_the_pole(err: &StepFailure, method: &str) {
    assert!(
        matches!(
            err,
            StepFailure::StepSizeUnderflow { .. } | StepFailure::Diverged { .. }
        ),
        "{method}: {err:?}"
    );
}
