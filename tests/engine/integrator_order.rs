//! Observed convergence orders of the built-in explicit Runge–Kutta methods.
//!
//! * Fixed steps on `y' = Ay` (4×4, exact solution `exp(tA) y0` from nalgebra): the global
//!   error at `t_end` falls like `h^p` with `p` = 5, 5, 8 for DOPRI5, Tsit5, DOP853.
//! * Dense output: inside every step the interpolant at `θ = 0.5` is compared with the exact
//!   flow of the step's own initial state, `exp(θhA) y_prev`. That local defect is
//!   `O(h^{p*+1})` for an interpolant of order `p*` = 4, 4, 7. (The *global* error of the
//!   dense output inside a step is `O(h^p) + O(h^{p*+1})`, so it would hide `p*` behind the
//!   propagated error of DOPRI5 and Tsit5; the local defect measures the interpolant alone.)
//! * Adaptive runs on the closed-form two-layer Saxe trajectory (aligned balanced rank-one
//!   init, whitened data, `half_mean` loss): the error in `‖W_2 W_1‖ = ū²(T)` follows the
//!   tolerance, and the work (right-hand-side evaluations) grows roughly like
//!   `rtol^{−1/q}` with `q` the controller exponent (5, 5, 8).
//!
//! Fixed steps use the adaptive driver with `h0 = h_max = h` and `rtol = atol = 1e300`: every
//! scaled error is then ≈ 0, every trial step is accepted, and the controller's proposal is
//! clipped back to `h_max`. The helper asserts exactly that (no rejection, `next_h() == h`).
//! Work is counted in steps and RHS evaluations, never in time.

use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::integrate::system::LinearSystem;
use gradflow::integrate::tableau::{dop853::DOP853, dopri5::DOPRI5, tsit5::TSIT5, Tableau};
use gradflow::integrate::{Integrator, Options, Stats, Tolerances};
use gradflow::model::data::Dataset;
use gradflow::model::net::{end_to_end, Shape};
use nalgebra::{DMatrix, DVector};

use crate::problems::{non_normal_matrix, Y0};

/// Allowed distance between an observed and a theoretical order.
const ORDER_SLACK: f64 = 0.3;

/// Tolerances so loose that the controller accepts every trial step.
const NEVER_REJECT: f64 = 1e300;

const T_END: f64 = 4.0;

/// Errors of one fixed-step run of `y' = Ay` over `[0, T_END]` with `n_steps` equal steps.
struct FixedStepErrors {
    /// `‖y_N − exp(T A) y0‖ / ‖exp(T A) y0‖`.
    global: f64,
    /// `max_steps ‖dense(t_prev + h/2) − exp(hA/2) y_prev‖ / ‖y_prev‖`.
    dense_mid_defect: f64,
}

/// Integrates with exactly `n_steps` steps of `h = T_END / n_steps` and checks that the
/// driver really took fixed steps.
fn fixed_step_run(tab: &'static Tableau, n_steps: usize) -> FixedStepErrors {
    let a = non_normal_matrix();
    let h = T_END / n_steps as f64;
    let opts = Options {
        h0: Some(h),
        h_max: Some(h),
        ..Options::new(0.0, T_END)
    };
    let tol = Tolerances::scalar(Y0.len(), NEVER_REJECT, NEVER_REJECT);
    let mut it = Integrator::new(LinearSystem { a: a.clone() }, tab, &Y0, tol, opts);
    let half_step_flow = (&a * (0.5 * h)).exp();
    let mut mid = vec![0.0; Y0.len()];
    let mut dense_mid_defect = 0.0_f64;
    while let Some(step) = it.step().expect("fixed-step run failed") {
        assert!(
            (step.h - h).abs() <= 1e-12 * h,
            "{}: step {} has h = {:e}, expected {h:e}",
            tab.name,
            step.index,
            step.h
        );
        if !it.finished() {
            assert_eq!(it.next_h(), h, "{}: controller moved h off h_max", tab.name);
        }
        let y_prev = DVector::from_column_slice(it.y_prev());
        it.dense(step.t_prev + 0.5 * step.h, &mut mid);
        let exact_mid = &half_step_flow * &y_prev;
        let defect = (DVector::from_column_slice(&mid) - exact_mid).norm() / y_prev.norm();
        dense_mid_defect = dense_mid_defect.max(defect);
    }
    let stats = it.stats();
    assert_eq!(stats.accepted, n_steps as u64, "{}: step count", tab.name);
    assert_eq!(stats.rejected, 0, "{}: a fixed step was rejected", tab.name);
    assert_eq!(it.t(), T_END);
    let exact = (&a * T_END).exp() * DVector::from_column_slice(&Y0);
    let global = (DVector::from_column_slice(it.y()) - &exact).norm() / exact.norm();
    FixedStepErrors {
        global,
        dense_mid_defect,
    }
}

/// Least-squares slope of `ln y` against `ln x`.
fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Step counts per method: in the asymptotic range and well above round-off (the smallest
/// errors are ≈ 1e-11 for DOPRI5/Tsit5 and ≈ 4e-12 for DOP853). Tsit5's interpolant reaches
/// its asymptotic rate later than DOPRI5's, hence its finer grid.
fn step_counts(tab: &Tableau) -> [usize; 5] {
    match tab.name {
        "dopri5" => [16, 24, 32, 48, 64],
        "tsit5" => [64, 96, 128, 192, 256],
        "dop853" => [8, 12, 16, 24, 32],
        other => panic!("no step grid for {other}"),
    }
}

/// `(step sizes, global errors, mid-step dense defects)` of the fixed-step sweep of `tab`.
fn fixed_step_sweep(tab: &'static Tableau) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let counts = step_counts(tab);
    let hs: Vec<f64> = counts.iter().map(|&n| T_END / n as f64).collect();
    let runs: Vec<FixedStepErrors> = counts.iter().map(|&n| fixed_step_run(tab, n)).collect();
    (
        hs,
        runs.iter().map(|r| r.global).collect(),
        runs.iter().map(|r| r.dense_mid_defect).collect(),
    )
}

/// With `h0 = h_max = h` and tolerances of 1e300 the driver takes exactly `T/h` steps of size
/// `h` and never rejects (the premise of the fixed-step order tests, checked for all methods).
#[test]
fn huge_tolerances_and_h_max_equal_h0_give_exact_fixed_steps() {
    for tab in [&DOPRI5, &TSIT5, &DOP853] {
        for n in [3, 7, 40] {
            // fixed_step_run asserts the step sizes, counts, rejections and t_end
            let errs = fixed_step_run(tab, n);
            assert!(errs.global.is_finite() && errs.dense_mid_defect.is_finite());
        }
    }
}

/// Global error at `t_end` of fixed-step runs on `y' = Ay` decays like `h^p`, p = 5, 5, 8.
#[test]
fn fixed_step_global_error_converges_at_the_method_order() {
    for tab in [&DOPRI5, &TSIT5, &DOP853] {
        let (hs, global, _) = fixed_step_sweep(tab);
        let observed = log_log_slope(&hs, &global);
        let p = f64::from(tab.order);
        assert!(
            (observed - p).abs() <= ORDER_SLACK,
            "{}: observed order {observed:.3}, expected {p} (errors {global:?})",
            tab.name
        );
        assert!(
            global.windows(2).all(|w| w[1] < w[0]),
            "{}: {global:?}",
            tab.name
        );
    }
}

/// The dense output at `θ = 0.5` deviates from the exact flow of the step's initial state
/// by `O(h^{p*+1})`: the interpolants have order `p*` = 4, 4, 7.
#[test]
fn dense_output_at_mid_step_converges_at_the_interpolant_order() {
    for tab in [&DOPRI5, &TSIT5, &DOP853] {
        let (hs, _, dense) = fixed_step_sweep(tab);
        let observed = log_log_slope(&hs, &dense) - 1.0;
        let p_dense = f64::from(tab.dense.order);
        assert!(
            (observed - p_dense).abs() <= ORDER_SLACK,
            "{}: observed dense order {observed:.3}, expected {p_dense} (defects {dense:?})",
            tab.name
        );
    }
}

// ---------------------------------------------------------------------------------------
// Saxe et al.'s closed-form two-layer trajectory
// ---------------------------------------------------------------------------------------

/// Data, initial state and closed form of the aligned two-layer problem.
struct SaxeProblem {
    shape: Shape,
    data: Dataset,
    y0: Vec<f64>,
    /// `s = ‖c*‖`, `c* = YᵀX/n = (X⁺Y)ᵀ`.
    s: f64,
    beta: f64,
    n: usize,
}

fn unit(v: &[f64]) -> DVector<f64> {
    let v = DVector::from_column_slice(v);
    let norm = v.norm();
    v / norm
}

/// `n = 8` whitened samples in `d = 4` (`X = √n Q`, `QᵀQ = I`, so `XᵀX = nI`), one output,
/// hidden width 3, targets `Y = X c*ᵀ` in the column space of `X` with `‖c*‖ = s = 1.5`, and
/// the aligned balanced init `W_1 = β r q̂ᵀ`, `W_2 = β rᵀ` with `q̂ = c*ᵀ/s`, `β = 0.1`.
fn saxe_problem() -> SaxeProblem {
    let (n, d, hidden) = (8usize, 4usize, 3usize);
    let (s, beta) = (1.5, 0.1);
    let raw = DMatrix::from_fn(n, d, |i, j| {
        ((1.0 + i as f64) * (0.7 + j as f64)).sin() + 0.1 * (i as f64 - j as f64)
    });
    let x = raw.qr().q() * (n as f64).sqrt();
    let q_hat = unit(&[0.3, -0.5, 0.8, 0.1]);
    let c_star = &q_hat * s; // d-vector
    let y = DMatrix::from_column_slice(n, 1, (&x * &c_star).as_slice());
    // the catalog's s = ‖c*‖ with c* = X⁺Y = XᵀY/n on whitened data
    let c_check = x.transpose() * &y / n as f64;
    assert!((c_check.norm() - s).abs() < 1e-12, "data are not whitened");
    let data = Dataset::new(x, y).expect("valid data");
    let r = unit(&[0.6, -0.2, 0.75]);
    let w1 = &r * q_hat.transpose() * beta;
    let w2 = DMatrix::from_row_slice(1, hidden, r.as_slice()) * beta;
    let shape = Shape::new(vec![d, hidden, 1]).expect("valid shape");
    let mut y0 = shape.pack(&[w1, w2]).expect("layers fit");
    y0.extend([0.0; EXTRA_STATES]); // ∫‖R‖_F dt, ∫‖∇L‖² dt
    SaxeProblem {
        shape,
        data,
        y0,
        s,
        beta,
        n,
    }
}

impl SaxeProblem {
    /// `ū²(t) = s e^{2st} / (e^{2st} − 1 + s/β²)` (claims/001.md §2.6, L = 2).
    fn u_squared(&self, t: f64) -> f64 {
        let e = (2.0 * self.s * t).exp();
        self.s * e / (e - 1.0 + self.s / (self.beta * self.beta))
    }

    /// `∫_0^T ‖R‖_F dt` in closed form: with `Y` in the column space of whitened `X`,
    /// `‖R‖_F = √n (s − ū²)` and `∫ ū² dt = ½ ln(D(T)/D(0))`, `D(t) = e^{2st} − 1 + s/β²`.
    fn residual_integral(&self, t: f64) -> f64 {
        let big_d = |t: f64| (2.0 * self.s * t).exp() - 1.0 + self.s / (self.beta * self.beta);
        (self.n as f64).sqrt() * (self.s * t - 0.5 * (big_d(t) / big_d(0.0)).ln())
    }
}

/// End time in the second half of the learning transition (`ū² ≈ 0.92 s`), where the
/// trajectory is most sensitive to integration error.
const SAXE_T: f64 = 2.5;

/// Relative tolerances of the adaptive sweep (`atol = rtol`; the weights are O(0.1–1)).
const SAXE_RTOLS: [f64; 7] = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10];

/// One adaptive run on the Saxe problem.
struct SaxeRun {
    /// `|‖W_2 W_1‖ − ū²(T)| / ū²(T)`.
    product_err: f64,
    /// `max_l |‖W_l‖ − ū(T)| / ū(T)` (balancedness and rank one are preserved).
    layer_err: f64,
    /// Relative error of the integrated residual norm.
    integral_err: f64,
    stats: Stats,
}

fn saxe_run(p: &SaxeProblem, tab: &'static Tableau, rtol: f64) -> SaxeRun {
    let sys = GradientFlow::new(p.shape.clone(), &p.data, LossConvention::HalfMean)
        .expect("data fit the network");
    let dim = sys.state_dim();
    let tol = Tolerances::scalar(dim, rtol, rtol);
    let mut it = Integrator::new(sys, tab, &p.y0, tol, Options::new(0.0, SAXE_T));
    while it.step().expect("Saxe run failed").is_some() {}
    let np = dim - EXTRA_STATES;
    let weights = &it.y()[..np];
    let u2 = p.u_squared(SAXE_T);
    let product = end_to_end(&p.shape, weights).norm(); // rank one: Frobenius = spectral
    let layer_err = (1..=2)
        .map(|k| (p.shape.layer(weights, k).norm() - u2.sqrt()).abs() / u2.sqrt())
        .fold(0.0, f64::max);
    let integral = p.residual_integral(SAXE_T);
    SaxeRun {
        product_err: (product - u2).abs() / u2,
        layer_err,
        integral_err: (it.y()[np] - integral).abs() / integral,
        stats: it.stats(),
    }
}

/// On the closed-form L = 2 Saxe trajectory the adaptive error follows the tolerance: it never
/// grows by more than ×2 from one decade of `rtol` to the next, falls ×5 over every two decades,
/// stays below 20·rtol, and at `rtol = 1e-10` the product `‖W_2 W_1‖`, both layer norms and
/// `∫‖R‖_F dt` are within 1e-8 (relative) of the closed form.
#[test]
fn saxe_two_layer_adaptive_error_follows_rtol_down_to_1e_8_at_rtol_1e_10() {
    let p = saxe_problem();
    for tab in [&DOPRI5, &TSIT5, &DOP853] {
        let runs: Vec<SaxeRun> = SAXE_RTOLS.iter().map(|&r| saxe_run(&p, tab, r)).collect();
        let errs: Vec<f64> = runs.iter().map(|r| r.product_err).collect();
        for (e, rtol) in errs.iter().zip(SAXE_RTOLS) {
            assert!(
                *e <= 20.0 * rtol,
                "{}: error {e:e} at rtol {rtol:e}",
                tab.name
            );
        }
        assert!(
            errs.windows(2).all(|w| w[1] <= 2.0 * w[0]),
            "{}: {errs:?}",
            tab.name
        );
        assert!(
            errs.windows(3).all(|w| w[2] <= w[0] / 5.0),
            "{}: {errs:?}",
            tab.name
        );
        let tight = runs.last().unwrap();
        assert!(
            tight.product_err <= 1e-8,
            "{}: {:e}",
            tab.name,
            tight.product_err
        );
        assert!(
            tight.layer_err <= 1e-8,
            "{}: {:e}",
            tab.name,
            tight.layer_err
        );
        assert!(
            tight.integral_err <= 1e-8,
            "{}: {:e}",
            tab.name,
            tight.integral_err
        );
    }
}

/// Work on the Saxe problem grows roughly like `rtol^{−1/q}` (q = 5, 5, 8): the fitted exponent
/// of `nfev` against `1/rtol` over 1e-4…1e-10 lies in `[0.5/q, 1.5/q]`, the number of accepted
/// steps never decreases as `rtol` tightens, and at `rtol = 1e-10` DOP853 needs fewer
/// evaluations than the 5(4) pairs. (`nfev` itself need not be monotone over runs of 4–14
/// steps: one rejected step costs a whole step's stages — 12 for DOP853 — and which runs
/// reject depends on the initial step; e.g. DOP853 takes 6 accepted steps at both 1e-6 and
/// 1e-7, with 2 and 1 rejections, 96 and 85 evaluations.)
#[test]
fn saxe_two_layer_work_grows_like_rtol_to_the_minus_one_over_error_order() {
    let p = saxe_problem();
    let inv_rtol: Vec<f64> = SAXE_RTOLS.iter().map(|r| 1.0 / r).collect();
    let mut tight_nfev = Vec::new();
    for tab in [&DOPRI5, &TSIT5, &DOP853] {
        let stats: Vec<_> = SAXE_RTOLS
            .iter()
            .map(|&r| saxe_run(&p, tab, r).stats)
            .collect();
        let nfev: Vec<f64> = stats.iter().map(|s| s.nfev as f64).collect();
        let accepted: Vec<u64> = stats.iter().map(|s| s.accepted).collect();
        assert!(
            accepted.windows(2).all(|w| w[1] >= w[0]),
            "{}: accepted {accepted:?}, nfev {nfev:?}",
            tab.name
        );
        let exponent = log_log_slope(&inv_rtol, &nfev);
        let q = f64::from(tab.error_order);
        assert!(
            (0.5 / q..=1.5 / q).contains(&exponent),
            "{}: nfev ∝ rtol^-{exponent:.3}, expected about rtol^-{:.3} (nfev {nfev:?})",
            tab.name,
            1.0 / q
        );
        tight_nfev.push(*nfev.last().unwrap());
    }
    assert!(
        tight_nfev[2] < tight_nfev[0] && tight_nfev[2] < tight_nfev[1],
        "{tight_nfev:?}"
    );
}
