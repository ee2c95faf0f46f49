//! Gauss–Legendre collocation methods GL2, GL4, GL6 (1, 2, 3 stages; order `2s`, A-stable,
//! symmetric and symplectic; Hairer–Wanner, *Solving ODEs II*, §IV.5 Tables 5.1–5.2;
//! Hairer–Lubich–Wanner, *Geometric Numerical Integration*, §II.1.3). They conserve every
//! quadratic invariant `yᵀCy` of the flow exactly for any step-size sequence (GNI Thm IV.2.2,
//! since `b_i a_ij + b_j a_ji = b_i b_j`), provided the stage equations are solved exactly:
//! the Newton iteration of [`super::newton`] runs them to round-off for these methods. The
//! error estimate ([`super::tableau`]) uses `γ_0 = 1/5` (a free parameter of the embedded
//! formula; the estimate scales with it).

use std::sync::LazyLock;

use super::tableau::CollocationTableau;

/// Weight `γ_0` of the embedded formula of the Gauss methods.
pub const GAMMA0: f64 = 0.2;

const REF: &str = "Hairer–Wanner, Solving ODEs II, §IV.5 Tables 5.1–5.2; GNI Thm IV.2.2";

/// GL2, the implicit midpoint rule (order 2).
pub static GL2: LazyLock<CollocationTableau> = LazyLock::new(|| {
    CollocationTableau::new("gl2", REF, vec![0.5], &[&[0.5]], vec![1.0], 2, GAMMA0)
});

/// GL4 (2 stages, order 4).
pub static GL4: LazyLock<CollocationTableau> = LazyLock::new(|| {
    let r = 3f64.sqrt() / 6.0;
    CollocationTableau::new(
        "gl4",
        REF,
        vec![0.5 - r, 0.5 + r],
        &[&[0.25, 0.25 - r], &[0.25 + r, 0.25]],
        vec![0.5, 0.5],
        4,
        GAMMA0,
    )
});

/// GL6 (3 stages, order 6).
pub static GL6: LazyLock<CollocationTableau> = LazyLock::new(|| {
    let s15 = 15f64.sqrt();
    CollocationTableau::new(
        "gl6",
        REF,
        vec![0.5 - s15 / 10.0, 0.5, 0.5 + s15 / 10.0],
        &[
            &[5.0 / 36.0, 2.0 / 9.0 - s15 / 15.0, 5.0 / 36.0 - s15 / 30.0],
            &[5.0 / 36.0 + s15 / 24.0, 2.0 / 9.0, 5.0 / 36.0 - s15 / 24.0],
            &[5.0 / 36.0 + s15 / 30.0, 2.0 / 9.0 + s15 / 15.0, 5.0 / 36.0],
        ],
        vec![5.0 / 18.0, 4.0 / 9.0, 5.0 / 18.0],
        6,
        GAMMA0,
    )
});
