//! Fixed-step mode and the chattering detector of adaptive control, modes of the one
//! integration loop that every method gets (`src/integrate/driver.rs`,
//! `src/integrate/chatter.rs`).
//!
//! - fixed steps: exactly `⌈T/h⌉` steps, the last one truncated to `T`, no rejections even
//!   when the embedded estimate exceeds the tolerance, and `1 + (s − 1)·N` RHS evaluations
//!   for an FSAL pair with `s` stages (`1 + s·N` for DOP853, which evaluates `f(t + h, y_1)`
//!   after its 12 stages), counted by the system itself;
//! - the observed order of a smooth problem at fixed steps is the tableau's order;
//! - `y' = −sign(y)`, `y(0) = 1` reaches `y = 0` at `t = 1` and slides there: adaptive control
//!   collapses and is detected (stop by default; with the fallback the run completes on
//!   fixed steps and stays within one step's motion of the surface);
//! - smooth non-stiff problems and a finite-time blow-up are never flagged;
//! - ROCK4 and the implicit methods take fixed steps on the same grid; Radau IIA passes a
//!   fixed step at `h λ = 10` where DOPRI5 stops as unstable; ROCK4's fixed steps are stable
//!   up to its 152 stages and stop beyond; ROCK4 detects the sliding collapse and falls
//!   back to fixed steps like the explicit pairs.

use gradflow::integrate::chatter::{ChatterParams, OnChatter};
use gradflow::integrate::implicit::{gauss::GL4, radau5::RADAU5, ImplicitOptions, ImplicitRk};
use gradflow::integrate::rock::Rock4;
use gradflow::integrate::system::LinearSystem;
use gradflow::integrate::tableau::{dop853::DOP853, dopri5::DOPRI5, tsit5::TSIT5, Tableau};
use gradflow::integrate::{Integrator, OdeSystem, Options, StepFailure, Stepper, Tolerances};
use nalgebra::{DMatrix, DVector};

/// A plain right-hand side.
type Rhs = fn(f64, &[f64], &mut [f64]);

/// Wraps a right-hand side and counts its evaluations.
struct Counted<F: FnMut(f64, &[f64], &mut [f64])> {
    dim: usize,
    f: F,
    calls: u64,
}

impl<F: FnMut(f64, &[f64], &mut [f64])> OdeSystem for Counted<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        self.calls += 1;
        (self.f)(t, y, dy);
    }
}

fn counted<F: FnMut(f64, &[f64], &mut [f64])>(dim: usize, f: F) -> Counted<F> {
    Counted { dim, f, calls: 0 }
}

/// The harmonic oscillator `y'' = −y` as a first-order system.
fn oscillator(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = y[1];
    dy[1] = -y[0];
}

/// The logistic equation `y' = y(1 − y)`, `y(0) = 1/2`: `y(t) = 1/(1 + e^{−t})`.
fn logistic(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = y[0] * (1.0 - y[0]);
}

/// `y' = −sign(y)` (with `sign(0) = 0`): from `y(0) = 1` it reaches the surface `y = 0` at
/// `t = 1`, where both one-sided fields point into the surface (Filippov sliding).
fn sliding(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = if y[0] > 0.0 {
        -1.0
    } else if y[0] < 0.0 {
        1.0
    } else {
        0.0
    };
}

fn fixed(t_end: f64, h: f64) -> Options {
    Options {
        fixed_step: Some(h),
        ..Options::new(0.0, t_end)
    }
}

/// RHS evaluations per fixed step: the stages after the first (FSAL reuses the last one), or
/// for a non-FSAL pair all stages but the first plus `f(t + h, y_1)`.
fn evals_per_step(tab: &Tableau) -> u64 {
    let s = tab.stages() as u64;
    if tab.fsal {
        s - 1
    } else {
        s
    }
}

#[test]
fn fixed_steps_take_ceil_t_over_h_steps_and_the_stage_count_of_evaluations() {
    // (T, h, ⌈T/h⌉): a remainder, an exact multiple (1/0.1 is not exactly 10 in binary), and
    // a step longer than the span
    for (t_end, h, n) in [
        (1.0, 0.3, 4u64),
        (1.0, 0.1, 10),
        (2.5, 0.01, 250),
        (0.5, 2.0, 1),
    ] {
        for tab in [&DOPRI5, &TSIT5, &DOP853] {
            // a tolerance no step of this size meets: adaptive control would reject every one
            let tol = Tolerances::scalar(2, 1e-15, 1e-15);
            let mut integ = Integrator::new(
                counted(2, oscillator),
                tab,
                &[1.0, 0.0],
                tol,
                fixed(t_end, h),
            );
            let mut steps = 0u64;
            let mut max_err: f64 = 0.0;
            let mut t_prev = 0.0;
            while let Some(st) = integ.step().unwrap() {
                steps += 1;
                assert_eq!(st.t_prev, t_prev);
                t_prev = st.t;
                if steps < n {
                    assert!((st.h - h).abs() <= 1e-12 * h, "{}: step {steps}", tab.name);
                } else {
                    assert!(st.h <= h * (1.0 + 1e-12));
                }
                max_err = max_err.max(st.err);
                assert!(integ.local_error().iter().any(|e| *e != 0.0));
            }
            assert_eq!(steps, n, "{}: T = {t_end}, h = {h}", tab.name);
            assert_eq!(integ.t(), t_end, "the last step lands on t_end");
            let stats = integ.stats();
            assert_eq!(stats.accepted, n);
            assert_eq!(stats.rejected, 0);
            if h >= 0.1 {
                assert!(
                    max_err > 1.0,
                    "{}: the estimate exceeded the tolerance",
                    tab.name
                );
            }
            let expected = 1 + evals_per_step(tab) * n;
            assert_eq!(stats.nfev, expected, "{}", tab.name);
            assert_eq!(integ.system().calls, expected, "{}", tab.name);
            let rec = integ.method_stats().expect("fixed-step record");
            assert_eq!(rec["fixed_step"], serde_json::json!(h));
        }
    }
}

/// State at `t_end` of Lotka–Volterra from `(2, 1)` with `n` fixed steps.
fn lv_state(tab: &'static Tableau, t_end: f64, n: u32) -> Vec<f64> {
    let tol = Tolerances::scalar(2, 1e-6, 1e-6);
    let mut integ = Integrator::new(
        counted(2, lotka_volterra),
        tab,
        &[2.0, 1.0],
        tol,
        fixed(t_end, t_end / f64::from(n)),
    );
    while integ.step().unwrap().is_some() {}
    integ.y().to_vec()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Global errors at `T = 20` (about three periods) against DOP853 with 20 000 steps (whose
/// own error is at round-off, ≈ 1e-13 here). Measured observed orders `log2(e(n)/e(2n))`:
/// DOPRI5 6.59, 5.86, 5.46, 5.30 for n = 50 … 800, Tsit5 6.63, 5.99, 5.75, 5.43, DOP853 7.82,
/// 7.91 for n = 50 … 200; the approach to `p` is from above. A pair clear of round-off
/// must lie in `[p − 0.25, p + 0.5]`.
#[test]
fn observed_order_at_fixed_steps_is_the_tableau_order() {
    let t_end = 20.0;
    let reference = lv_state(&DOP853, t_end, 20_000);
    for (tab, n) in [(&DOPRI5, 400u32), (&TSIT5, 400), (&DOP853, 50)] {
        let e1 = dist(&lv_state(tab, t_end, n), &reference);
        let e2 = dist(&lv_state(tab, t_end, 2 * n), &reference);
        let p = (e1 / e2).log2();
        let order = f64::from(tab.order);
        assert!(
            (order - 0.25..=order + 0.5).contains(&p),
            "{}: observed order {p:.2} (errors {e1:e}, {e2:e}), tableau order {order}",
            tab.name
        );
        assert!(
            e2 > 1e-12,
            "{}: the finer error {e2:e} is above round-off",
            tab.name
        );
    }
}

fn sliding_run(on_chatter: OnChatter, max_steps: u64) -> Integrator<Counted<Rhs>> {
    let opts = Options {
        on_chatter,
        max_steps,
        ..Options::new(0.0, 3.0)
    };
    Integrator::new(
        counted(1, sliding as Rhs),
        &DOPRI5,
        &[1.0],
        Tolerances::scalar(1, 1e-8, 1e-10),
        opts,
    )
}

#[test]
fn sliding_mode_collapse_stops_the_run_with_a_typed_error_by_default() {
    let mut integ = sliding_run(OnChatter::default(), 10_000_000);
    let mut accepted = 0u64;
    let err = loop {
        match integ.step() {
            Ok(Some(_)) => accepted += 1,
            Ok(None) => panic!("the sliding run completed adaptively"),
            Err(e) => break e,
        }
    };
    let StepFailure::Chattering {
        t,
        h_ref,
        median_h,
        accepted: collapsed,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    let p = ChatterParams::default();
    // detected on the surface, one detection length after the collapse at t = 1
    assert!((1.0..1.01).contains(&t), "t = {t}");
    assert_eq!(collapsed, (p.window * p.windows) as u64);
    assert!(median_h < p.collapse * h_ref);
    assert!(accepted < 400, "{accepted} accepted steps before the stop");
    assert!(err.to_string().contains("--fixed-step"));
    assert!(
        integ.y()[0].abs() < 1e-6,
        "the state is the last accepted one, on the surface"
    );
}

#[test]
fn sliding_mode_fallback_completes_on_fixed_steps_and_records_the_switches() {
    let mut integ = sliding_run(OnChatter::FixedStep, 10_000_000);
    while integ.step().unwrap().is_some() {}
    assert_eq!(integ.t(), 3.0);
    let rec = integ.method_stats().expect("chatter record");
    let detections = rec["chatter_detections"].as_u64().unwrap();
    let fallback = rec["fallback_steps"].as_u64().unwrap();
    assert!(detections >= 1);
    assert!(fallback >= ChatterParams::default().fixed_steps);
    let h_fix = rec["chatter_events"][0]["h_fixed"].as_f64().unwrap();
    // the fixed steps cross the surface back and forth: |y| stays within one step's motion
    assert!(
        integ.y()[0].abs() <= h_fix,
        "y(3) = {} with fixed step {h_fix}",
        integ.y()[0]
    );
    let sw = integ.switches();
    assert_eq!(sw[0].reason, "chattering");
    assert_eq!(sw[0].to, "dopri5_fixed_step");
    assert!(sw.len() as u64 >= 2 * detections - 1);
    // far fewer steps than the collapsed step size allows over [1, 3]
    assert!(integ.stats().accepted < 10_000, "{:?}", integ.stats());
}

#[test]
fn ignoring_chattering_keeps_the_crawl() {
    let mut integ = sliding_run(OnChatter::Ignore, 20_000);
    let err = loop {
        match integ.step() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("completed"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, StepFailure::MaxSteps { .. }), "{err:?}");
    assert!(integ.t() < 1.1, "t = {}", integ.t());
    assert!(integ.method_stats().unwrap()["chatter_detections"] == 0);
}

/// Lotka–Volterra `x' = x(1 − y)`, `y' = y(x − 1)`: periodic, smooth.
fn lotka_volterra(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = y[0] * (1.0 - y[1]);
    dy[1] = y[1] * (y[0] - 1.0);
}

/// Van der Pol with `μ = 1` (non-stiff relaxation oscillation).
fn van_der_pol(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = y[1];
    dy[1] = (1.0 - y[0] * y[0]) * y[1] - y[0];
}

#[test]
fn smooth_problems_never_trigger_the_detector() {
    let problems: [(&str, Rhs, Vec<f64>, f64); 4] = [
        ("oscillator", oscillator, vec![1.0, 0.0], 200.0),
        ("logistic", logistic, vec![0.5], 50.0),
        ("lotka_volterra", lotka_volterra, vec![3.0, 0.5], 100.0),
        ("van_der_pol", van_der_pol, vec![2.0, 0.0], 100.0),
    ];
    for (name, f, y0, t_end) in problems {
        for tab in [&DOPRI5, &TSIT5, &DOP853] {
            for rtol in [1e-6, 1e-10] {
                let mut integ = Integrator::new(
                    counted(y0.len(), f),
                    tab,
                    &y0,
                    Tolerances::scalar(y0.len(), rtol, rtol * 1e-2),
                    Options::new(0.0, t_end),
                );
                while integ
                    .step()
                    .unwrap_or_else(|e| panic!("{name}/{}: {e}", tab.name))
                    .is_some()
                {}
                assert!(integ.method_stats().is_none(), "{name}/{}", tab.name);
                assert!(integ.switches().is_empty());
            }
        }
    }
}

/// `y' = y²` from `y(0) = 1` blows up at `t = 1`: the step shrinks geometrically with few
/// rejections, which is not a collapse; the run ends in underflow or divergence.
#[test]
fn a_finite_time_blow_up_is_not_chattering() {
    for tab in [&DOPRI5, &DOP853] {
        let mut integ = Integrator::new(
            counted(1, |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = y[0] * y[0]),
            tab,
            &[1.0],
            Tolerances::scalar(1, 1e-8, 1e-10),
            Options::new(0.0, 2.0),
        );
        let err = loop {
            match integ.step() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("integrated through the pole"),
                Err(e) => break e,
            }
        };
        crate::problems::assert_stopped_at_the_pole(&err, tab.name);
    }
}

/// A smooth flow that turns stiff: `u' = −λ(v)(u − cos v)`, `v' = 1`, with `λ` rising from
/// 1 to 10⁶ around `v = 1` (width 10⁻³). The step collapses 10⁴-fold at the stability
/// boundary — stiffness, not chattering: the detector must stay quiet and the run complete
/// (on the slow manifold `u ≈ cos v`).
fn stiff_onset(_t: f64, y: &[f64], dy: &mut [f64]) {
    let lambda = 1.0 + 1e6 * 0.5 * (1.0 + ((y[1] - 1.0) / 1e-3).tanh());
    dy[0] = -lambda * (y[0] - y[1].cos());
    dy[1] = 1.0;
}

#[test]
fn a_smooth_stiffness_onset_is_not_chattering() {
    for rtol in [1e-6, 1e-9] {
        let mut integ = Integrator::new(
            counted(2, stiff_onset as Rhs),
            &DOPRI5,
            &[1.0, 0.0],
            Tolerances::scalar(2, rtol, rtol * 1e-2),
            Options::new(0.0, 1.2),
        );
        while integ
            .step()
            .unwrap_or_else(|e| panic!("rtol {rtol}: {e}"))
            .is_some()
        {}
        assert!(integ.method_stats().is_none(), "rtol {rtol}: flagged");
        let y = integ.y();
        assert!((y[0] - y[1].cos()).abs() < 1e-4, "rtol {rtol}: {y:?}");
        assert!(integ.stats().stability_limited > 1000);
    }
}

/// `y' = −1000 y` at a fixed step of 0.01 has `h|λ| = 10`, beyond DOPRI5's stability
/// boundary (≈ 3.3): the run stops with a typed error at the last good state instead of
/// returning amplified numbers; at 0.002 (`h|λ| = 2`) it completes.
#[test]
fn a_fixed_step_beyond_the_stability_boundary_is_an_error() {
    let decay = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = -1000.0 * y[0];
    let run = |h: f64| {
        let mut integ = Integrator::new(
            counted(1, decay),
            &DOPRI5,
            &[1.0],
            Tolerances::scalar(1, 1e-6, 1e-9),
            fixed(0.1, h),
        );
        loop {
            match integ.step() {
                Ok(Some(_)) => {}
                Ok(None) => return (Ok(()), integ.t(), integ.y()[0]),
                Err(e) => return (Err(e), integ.t(), integ.y()[0]),
            }
        }
    };
    let (res, t, y) = run(0.01);
    let err = res.expect_err("unstable fixed steps must not complete");
    let StepFailure::FixedStepUnstable {
        h_lambda, boundary, ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(
        h_lambda > boundary && (h_lambda - 10.0).abs() < 1.0,
        "{h_lambda}"
    );
    assert_eq!(t, 0.0, "the state is the last good one");
    assert_eq!(y, 1.0);
    let (res, t, y) = run(0.002);
    res.unwrap();
    assert_eq!(t, 0.1);
    assert!(y.abs() < 1e-10, "{y}");
}

/// `y' = A y` with `A = diag(−1, −λ)`: one slow and one stiff decaying mode.
fn stiff_pair(lambda: f64) -> LinearSystem {
    LinearSystem {
        a: DMatrix::from_diagonal(&DVector::from_vec(vec![-1.0, -lambda])),
    }
}

/// Runs a stepper to its end; the accepted steps' end times, or the failure.
fn run_all<S: OdeSystem>(st: &mut dyn Stepper<S>) -> Result<Vec<f64>, StepFailure> {
    let mut ts = Vec::new();
    while let Some(s) = st.step()? {
        ts.push(s.t);
    }
    Ok(ts)
}

#[test]
fn every_method_takes_fixed_steps_on_the_same_grid_without_rejections() {
    // (T, h) with a remainder: ⌈2.05/0.1⌉ = 21 steps, the last one 0.05 long
    let (t_end, h) = (2.05, 0.1);
    let y0 = [1.0, 1.0];
    let tol = || Tolerances::scalar(2, 1e-8, 1e-10);
    let mut steppers: Vec<Box<dyn Stepper<LinearSystem>>> = vec![
        Box::new(Integrator::new(
            stiff_pair(2.0),
            &DOPRI5,
            &y0,
            tol(),
            fixed(t_end, h),
        )),
        Box::new(Rock4::new(stiff_pair(2.0), &y0, tol(), fixed(t_end, h))),
        Box::new(ImplicitRk::new(
            stiff_pair(2.0),
            &RADAU5,
            &y0,
            tol(),
            fixed(t_end, h),
            ImplicitOptions::default(),
        )),
        Box::new(ImplicitRk::new(
            stiff_pair(2.0),
            &GL4,
            &y0,
            tol(),
            fixed(t_end, h),
            ImplicitOptions::default(),
        )),
    ];
    for st in &mut steppers {
        let name = st.method_name();
        let ts = run_all(st.as_mut()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ts.len(), 21, "{name}");
        for (k, t) in ts.iter().take(20).enumerate() {
            assert_eq!(*t, (k + 1) as f64 * h, "{name}: step {k}");
        }
        assert_eq!(ts[20], t_end, "{name}");
        assert_eq!(st.stats().rejected, 0, "{name}");
        // order ≥ 4 at h = 0.1 on modes of rate 1 and 2: the error is far below h
        let exact = [(-t_end).exp(), (-2.0 * t_end).exp()];
        let e = dist(st.y(), &exact);
        assert!(e < 1e-4, "{name}: error {e:e}");
        let rec = st.method_stats().expect("fixed-step record");
        assert_eq!(rec["fixed_step"].as_f64(), Some(h), "{name}");
    }
}

#[test]
fn fixed_steps_of_an_a_stable_method_pass_where_an_explicit_pair_is_unstable() {
    // h λ = 10: three times DOPRI5's boundary, nothing for Radau IIA
    let (t_end, h) = (1.0, 0.01);
    let y0 = [1.0, 1.0];
    let tol = || Tolerances::scalar(2, 1e-6, 1e-9);
    let mut erk = Integrator::new(stiff_pair(1000.0), &DOPRI5, &y0, tol(), fixed(t_end, h));
    let err = run_all(&mut erk).expect_err("DOPRI5 at h λ = 10");
    assert!(
        matches!(err, StepFailure::FixedStepUnstable { .. }),
        "{err:?}"
    );
    let mut radau = ImplicitRk::new(
        stiff_pair(1000.0),
        &RADAU5,
        &y0,
        tol(),
        fixed(t_end, h),
        ImplicitOptions::default(),
    );
    let ts = run_all(&mut radau).expect("Radau IIA is A-stable");
    assert_eq!(ts.len(), 100);
    assert!(
        (radau.y()[0] - (-1.0f64).exp()).abs() < 1e-8,
        "{:?}",
        radau.y()
    );
    // L-stable: the stiff mode is damped, not merely bounded
    assert!(radau.y()[1].abs() < 1e-12, "{:?}", radau.y());
}

#[test]
fn rock4_fixed_steps_are_stable_up_to_its_152_stages_and_stop_beyond() {
    let y0 = [1.0, 1.0];
    let tol = || Tolerances::scalar(2, 1e-6, 1e-9);
    // h ρ = 1000: within the 152-stage bound 0.353·152² − 3 ≈ 8153
    let mut ok = Rock4::new(stiff_pair(1e5), &y0, tol(), fixed(0.5, 0.01));
    assert_eq!(run_all(&mut ok).expect("h ρ = 1000").len(), 50);
    assert!(ok.max_stages_used() > 50, "{}", ok.max_stages_used());
    assert!(ok.y()[1].abs() < 1e-6, "{:?}", ok.y());
    // h ρ = 10⁵: beyond any stage count; adaptive control would cut the step, fixed steps stop
    let mut over = Rock4::new(stiff_pair(1e7), &y0, tol(), fixed(0.5, 0.01));
    let err = run_all(&mut over).expect_err("h ρ = 1e5");
    let StepFailure::FixedStepUnstable {
        t,
        h_lambda,
        boundary,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(h_lambda > boundary, "{h_lambda} vs {boundary}");
    assert_eq!(
        (t, over.y()),
        (0.0, &y0[..]),
        "the state is the last good one"
    );
}

#[test]
fn the_chattering_detector_and_fallback_serve_rock4_as_they_serve_the_explicit_pairs() {
    let run = |on_chatter: OnChatter| {
        let opts = Options {
            on_chatter,
            ..Options::new(0.0, 3.0)
        };
        let mut r = Rock4::new(
            counted(1, sliding as Rhs),
            &[1.0],
            Tolerances::scalar(1, 1e-8, 1e-10),
            opts,
        );
        let res = run_all(&mut r);
        (r, res)
    };
    let (_, stopped) = run(OnChatter::Stop);
    let err = stopped.expect_err("the sliding run collapses");
    let StepFailure::Chattering { t, .. } = err else {
        panic!("{err:?}");
    };
    assert!((1.0..1.01).contains(&t), "t = {t}");
    let (r, done) = run(OnChatter::FixedStep);
    done.expect("the fallback completes");
    assert_eq!(r.t(), 3.0);
    let sw = r.switches();
    assert_eq!(sw[0].reason, "chattering");
    assert_eq!(sw[0].to, "rock4_fixed_step");
    let h_fix = r.method_stats().unwrap()["chatter_events"][0]["h_fixed"]
        .as_f64()
        .unwrap();
    // the fixed steps cross the surface back and forth and stay O(h) from it; a ROCK4 step
    // is not a convex combination of Euler moves (its finishing stages overshoot), so the
    // bound is two steps' motion rather than one (measured: 1.22 h)
    assert!(
        r.y()[0].abs() <= 2.0 * h_fix,
        "y(3) = {} with h {h_fix}",
        r.y()[0]
    );
}
