//! Tsitouras 5(4), the pair known as `Tsit5`.
//!
//! Seven stages, first-same-as-last, 5th-order propagated solution, 4th-order embedded
//! estimate and a 4th-order continuous extension. The coefficients are irrational; they are
//! given here to 32 significant digits (far beyond `f64`), rounded from the high-precision
//! values of Tsitouras' construction as tabulated in OrdinaryDiffEq.jl and diffrax.

#![allow(clippy::excessive_precision)]

use super::{DenseOutput, Tableau};

/// Tsitouras 5(4) (Tsit5): order 5, embedded order 4, 7 stages, FSAL, dense output of order 4.
///
/// Ch. Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column
/// simplifying assumption", Comput. Math. Appl. 62 (2011) 770–775. Coefficients as in
/// OrdinaryDiffEq.jl (`Tsit5ConstantCacheActual`, `Tsit5Interp`) and diffrax (`Tsit5`):
///
/// * `e = b − b̂` (OrdinaryDiffEq's `btilde` is `b̂ − b`, i.e. `e = −btilde`); the
///   embedded solution `b − e` is of order 4.
/// * `b_i(θ)` are the expanded interpolation polynomials `r_i1 θ + r_i2 θ² + r_i3 θ³ + r_i4 θ⁴`.
/// * The stiffness pair is stages 6 and 7 (both at `c = 1`), as for DOPRI5.
/// * The stability boundary on the negative real axis is `z ≈ −3.5068`.
/// * The controller exponent is `1/5` (embedded order 4, plus one).
pub static TSIT5: Tableau = Tableau {
    name: "tsit5",
    reference: "Ch. Tsitouras, Runge-Kutta pairs of order 5(4) satisfying only the first column \
         simplifying assumption, Comput. Math. Appl. 62 (2011) 770-775; coefficients as \
         in OrdinaryDiffEq.jl and diffrax",
    c: &[
        0.0,
        161.0 / 1000.0,
        327.0 / 1000.0,
        9.0 / 10.0,
        9.8002554090450968572981028628702e-1,
        1.0,
        1.0,
    ],
    a: &[
        &[],
        &[161.0 / 1000.0],
        &[
            -8.4806554923569885444268742502308e-3,
            3.3548065549235698854442687425023e-1,
        ],
        &[
            2.8971530571054934321304325941929,
            -6.3594484899750748431481599123838,
            4.3622954328695814110177273181909,
        ],
        &[
            5.3258648284392566044288779208405,
            -1.1748883564062827877747170339786e1,
            7.4955393428898362083046047845644,
            -9.2495066361755249256502079332072e-2,
        ],
        &[
            5.8614554429464200286592514869826,
            -1.2920969317847109291706118681783e1,
            8.1593678985761586431804007945393,
            -7.158497328140099722453054252583e-2,
            -2.8269050394068382909003057212712e-2,
        ],
        &[
            9.6460766818065229518167313165129e-2,
            1.0 / 100.0,
            4.798896504144995747752495322906e-1,
            1.3790085741037418931922748218569,
            -3.2900695154360806799010475857114,
            2.3247105240997739824153559183988,
        ],
    ],
    b: &[
        9.6460766818065229518167313165129e-2,
        1.0 / 100.0,
        4.798896504144995747752495322906e-1,
        1.3790085741037418931922748218569,
        -3.2900695154360806799010475857114,
        2.3247105240997739824153559183988,
        0.0,
    ],
    e: &[
        1.7800110522257714433785506075395e-3,
        8.1643445965674690322363606335469e-4,
        -7.8808780102619960103147276725263e-3,
        1.4471100717326290753716514797264e-1,
        -5.8235716545255522501993761065204e-1,
        4.5808210592918694666163651883255e-1,
        -1.0 / 66.0,
    ],
    e3: None,
    order: 5,
    error_order: 5,
    fsal: true,
    stiffness_pair: (5, 6),
    stability_boundary: 3.506_846_993_804_93,
    dense: DenseOutput {
        order: 4,
        extra_c: &[],
        extra_a: &[],
        b_theta: &[
            &[
                9.9999999999999997428337247155991e-1,
                -2.7637061972748259113367359304814,
                2.9132554618219127437506809930681,
                -1.0530884977290216,
            ],
            &[
                0.0,
                1.3169999999999999727e-1,
                -2.2339999999999999818e-1,
                1.017e-1,
            ],
            &[
                0.0,
                3.9302962368947515285068744670981,
                -5.9410338721315047347024920258946,
                2.490627285651252793,
            ],
            &[
                0.0,
                -1.2411077166933676983734381540685e1,
                3.0338188630282321598172990369184e1,
                -1.654810288924490272e1,
            ],
            &[
                0.0,
                3.7509313416511039194969039653345e1,
                -8.8178904894766401101427669354121e1,
                4.737952196281928122e1,
            ],
            &[
                0.0,
                -2.7896526289197287805948263144599e1,
                6.5091894674793671526290219287166e1,
                -3.487065786149660974e1,
            ],
            &[0.0, 1.5, -4.0, 2.5],
        ],
    },
};
