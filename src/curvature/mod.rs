//! Curvature of the loss: extreme Hessian eigenvalues by Lanczos on the exact
//! Hessian-vector product ([`lanczos()`]), with the sharpness `λ_max(∇²L)` and `λ_min` (saddles)
//! of a gradient-flow state as the common case ([`hessian_extremes`]).

pub mod lanczos;

pub use lanczos::{lanczos, Eigenpairs, LanczosOptions, Which};

use crate::flow::GradientFlow;

/// Extreme eigenpairs of `∇²L(θ)` (weights only: `theta` holds the `p` weights) by Lanczos
/// on [`GradientFlow::hvp`]; `warm` (e.g. the previous top eigenvector along a trajectory)
/// starts the iteration. Each HVP is counted in the flow's counters and in
/// [`Eigenpairs::matvecs`].
pub fn hessian_extremes(
    gf: &mut GradientFlow,
    theta: &[f64],
    warm: Option<&[f64]>,
    opts: &LanczosOptions,
) -> Eigenpairs {
    let p = gf.shape().num_params();
    let theta = &theta[..p];
    lanczos(p, |v, out| gf.hvp(theta, v, out), warm, opts)
}
