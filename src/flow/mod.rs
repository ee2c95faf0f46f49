//! The gradient flow `dθ/dt = −∇L(θ)` of a deep linear network: loss conventions, the exact
//! gradient by product formulas, and the exact Hessian-vector product.

pub mod gradient;
pub mod hvp;
pub mod leaky;
pub mod linalg;
pub mod loss;
pub mod nearly_linear;
pub mod perturb;

pub use gradient::GradientFlow;
pub use loss::LossConvention;
