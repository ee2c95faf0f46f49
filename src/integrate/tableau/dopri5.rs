//! Dormand–Prince 5(4), the method of Hairer's DOPRI5.
//!
//! Seven stages, first-same-as-last, propagating the 5th-order solution with a 4th-order
//! embedded estimate, and Shampine's 4th-order continuous extension. All coefficients are
//! rational and are written as exact quotients, so every `f64` below is the correctly rounded
//! value of the published rational.

use super::{DenseOutput, Tableau};

/// Dormand–Prince 5(4) (DOPRI5): order 5, embedded order 4, 7 stages, FSAL, dense output of
/// order 4.
///
/// Coefficients as in J. R. Dormand and P. J. Prince, "A family of embedded Runge–Kutta
/// formulae", J. Comput. Appl. Math. 6 (1980) 19–26, in the form used by E. Hairer,
/// S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed.
/// (Springer, 1993), Secs. II.5–II.6, and their code `dopri5.f`:
///
/// * `e` is Hairer's `e1..e7` (`err = h Σ e_i k_i`).
/// * The dense output is Hairer's `contd5` (coefficients `d1..d7` of L. F. Shampine, "Some
///   practical Runge–Kutta formulas", Math. Comp. 46 (1986) 135–150),
///   `y(θ) = r1 + θ(r2 + (1−θ)(r3 + θ(r4 + (1−θ) r5)))` with `r2 = y1 − y0`,
///   `r3 = h k1 − r2`, `r4 = r2 − h k7 − r3`, `r5 = h Σ d_i k_i`, expanded exactly into
///   `b_i(θ)` polynomials.
/// * The stiffness test compares stages 6 and 7 (both at `c = 1`): `‖k7 − k6‖ / ‖y1 − Y6‖`.
/// * The stability boundary is where `|R(z)| = 1` first on the negative real axis,
///   `z ≈ −3.3066` (Hairer's code uses the threshold 3.25 in its stiffness test).
/// * The controller exponent is `1/5` (Hairer: `expo1 = 0.2 − 0.75 β`).
pub static DOPRI5: Tableau = Tableau {
    name: "dopri5",
    reference: "Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19-26; Hairer, Norsett & \
         Wanner, Solving ODE I, 2nd ed. (1993), Secs. II.5-II.6, dopri5.f; dense output \
         of Shampine, Math. Comp. 46 (1986)",
    c: &[0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        &[],
        &[1.0 / 5.0],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[
            19372.0 / 6561.0,
            -25360.0 / 2187.0,
            64448.0 / 6561.0,
            -212.0 / 729.0,
        ],
        &[
            9017.0 / 3168.0,
            -355.0 / 33.0,
            46732.0 / 5247.0,
            49.0 / 176.0,
            -5103.0 / 18656.0,
        ],
        &[
            35.0 / 384.0,
            0.0,
            500.0 / 1113.0,
            125.0 / 192.0,
            -2187.0 / 6784.0,
            11.0 / 84.0,
        ],
    ],
    b: &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
        0.0,
    ],
    e: &[
        71.0 / 57600.0,
        0.0,
        -71.0 / 16695.0,
        71.0 / 1920.0,
        -17253.0 / 339200.0,
        22.0 / 525.0,
        -1.0 / 40.0,
    ],
    e3: None,
    order: 5,
    error_order: 5,
    fsal: true,
    stiffness_pair: (5, 6),
    stability_boundary: 3.306_567_892_634_95,
    dense: DenseOutput {
        order: 4,
        extra_c: &[],
        extra_a: &[],
        b_theta: &[
            &[
                1.0,
                -8048581381.0 / 2820520608.0,
                8663915743.0 / 2820520608.0,
                -12715105075.0 / 11282082432.0,
            ],
            &[0.0, 0.0, 0.0, 0.0],
            &[
                0.0,
                131558114200.0 / 32700410799.0,
                -68118460800.0 / 10900136933.0,
                87487479700.0 / 32700410799.0,
            ],
            &[
                0.0,
                -1754552775.0 / 470086768.0,
                14199869525.0 / 1410260304.0,
                -10690763975.0 / 1880347072.0,
            ],
            &[
                0.0,
                127303824393.0 / 49829197408.0,
                -318862633887.0 / 49829197408.0,
                701980252875.0 / 199316789632.0,
            ],
            &[
                0.0,
                -282668133.0 / 205662961.0,
                2019193451.0 / 616988883.0,
                -1453857185.0 / 822651844.0,
            ],
            &[
                0.0,
                40617522.0 / 29380423.0,
                -110615467.0 / 29380423.0,
                69997945.0 / 29380423.0,
            ],
        ],
    },
};
