//! Radau IIA of order 5 (3 stages, stage order 3, L-stable; Hairer–Wanner, *Solving ODEs
//! II*, §IV.5 Table 5.6 and §IV.8): nodes `c = ((4 − √6)/10, (4 + √6)/10, 1)`, stiffly
//! accurate (`b` is the last row of `A`, so `y_1 = Y_3`). The error estimate uses
//! `γ_0 = 1/γ`, `γ = 3 + 3^{2/3} − 3^{1/3}` the real eigenvalue of `A⁻¹` (RADAU5's `U1`).

use std::sync::LazyLock;

use super::tableau::CollocationTableau;

/// The real eigenvalue `γ = 3 + 3^{2/3} − 3^{1/3}` of `A⁻¹` (RADAU5's `U1`).
pub fn real_eigenvalue_of_a_inv() -> f64 {
    3.0 + 3f64.powf(2.0 / 3.0) - 3f64.powf(1.0 / 3.0)
}

/// Radau IIA order 5.
pub static RADAU5: LazyLock<CollocationTableau> = LazyLock::new(|| {
    let s6 = 6f64.sqrt();
    CollocationTableau::new(
        "radau5",
        "Hairer–Wanner, Solving ODEs II, §IV.5 Table 5.6; error estimate §IV.8 (RADAU5)",
        vec![(4.0 - s6) / 10.0, (4.0 + s6) / 10.0, 1.0],
        &[
            &[
                (88.0 - 7.0 * s6) / 360.0,
                (296.0 - 169.0 * s6) / 1800.0,
                (-2.0 + 3.0 * s6) / 225.0,
            ],
            &[
                (296.0 + 169.0 * s6) / 1800.0,
                (88.0 + 7.0 * s6) / 360.0,
                (-2.0 - 3.0 * s6) / 225.0,
            ],
            &[(16.0 - s6) / 36.0, (16.0 + s6) / 36.0, 1.0 / 9.0],
        ],
        vec![(16.0 - s6) / 36.0, (16.0 + s6) / 36.0, 1.0 / 9.0],
        5,
        1.0 / real_eigenvalue_of_a_inv(),
    )
});
