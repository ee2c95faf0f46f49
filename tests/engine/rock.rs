//! ROCK4 (Abdulle 2002) and the automatic switch from DOPRI5 to a stiff method (ROCK4 or
//! Radau IIA 5).
//!
//! * Every tabulated method (50 degrees, 5 … 152 stages) has order 4: applied with fixed `h`
//!   to `y' = λy` it reproduces `exp(z)` to `O(z⁵)` (observed slope of `|R(z) − e^z|` ≈ 5 for
//!   small `|z|`), and the observed global order on a nonlinear, non-autonomous problem with a
//!   closed form is ≈ 4 for small, middle and largest stage counts.
//! * The stability interval of each method covers what the stage selection assumes:
//!   `|R(z)| ≤ 1` on `[−ℓ_s, −12]`, `ℓ_s = 0.353 s² − 3`, sampled finer than the oscillations of
//!   `R`; near the origin (`z ∈ [−12, 0]`, where the finishing procedure shapes `R`) the
//!   published polynomials for `s ≥ 133` exceed 1 by at most 0.8 % around `z ≈ −8.4` — this is
//!   a property of the tabulated data (it varies smoothly with `s`, and any error in the
//!   tables large enough to cause it would break the order test), asserted here as `≤ 1.01`
//!   and `≤ 1` for `s ≤ 124`. The stage selection maps every `hρ` to a method whose `ℓ_s`
//!   exceeds it.
//! * The dense output (cubic Hermite) has a local defect `O(h⁴)` (order 3).
//! * Work on stiff problems (spectral work counted: one JVP/HVP = one RHS). DOPRI5 is
//!   stability-limited, `≈ 6ρ/3.3` evaluations per unit time; ROCK4 with accuracy-limited steps
//!   `h` pays `≈ √(hρ/0.35)/h`, so its advantage is `≈ 1.8 √(0.35 hρ)` — it grows with the
//!   stiffness and with the step accuracy allows, and is ≈ 75× once the 152-stage cap is
//!   reached. On a linear system with real spectrum in `[−1e4, −1]` over `[0, 40]` (transient,
//!   then a decayed tail at the cap) ROCK4 needs ≥ 50× fewer evaluations than DOPRI5 at
//!   tol 1e-6; on the project's stiff gradient flow over `[0, 20]` at rtol 1e-6 the steps stay
//!   accuracy-limited (`hρ ≲ 1.4e3`) and the measured advantage is ≈ 20× (asserted ≥ 15×).
//!   Final errors are within 10 × tol of the closed form (linear) or of a tight DOP853
//!   reference (gradient flow).
//! * `auto`, with either stiff method, switches on the stiff linear problem and on the stiff
//!   gradient flow (to the method asked for; Radau's switch-back test uses the top eigenvalue
//!   of its own Lanczos model) and stays within 10 × tol of the closed form / the reference,
//!   and reproduces DOPRI5 exactly, without a switch, on a non-stiff problem.
//!
//! Work is asserted in evaluation counts, never in time.

use gradflow::config::RunConfig;
use gradflow::flow::GradientFlow;
use gradflow::integrate::auto::{AutoParams, AutoSwitch, StiffMethod};
use gradflow::integrate::rock::coefficients::MS;
use gradflow::integrate::rock::{
    fixed_step, select_degree, stability_bound, stability_function, Rock4,
};
use gradflow::integrate::system::LinearSystem;
use gradflow::integrate::tableau::{dop853::DOP853, dopri5::DOPRI5};
use gradflow::integrate::{Integrator, OdeSystem, Options, Stepper, Tolerances};
use gradflow::run::Problem;
use nalgebra::{DMatrix, DVector};
use serde_json::json;

#[test]
fn every_tabulated_method_matches_exp_to_fifth_order() {
    let err = |idx: usize, z: f64| (stability_function(idx, z) - z.exp()).abs();
    for (idx, m) in MS.iter().enumerate() {
        let (e1, e2, e3) = (err(idx, -0.1), err(idx, -0.05), err(idx, -0.025));
        let (s1, s2) = ((e1 / e2).log2(), (e2 / e3).log2());
        assert!(
            (4.8..5.2).contains(&s1) && (4.8..5.2).contains(&s2),
            "degree index {idx} (s = {}): slopes {s1:.3}, {s2:.3}",
            m + 4
        );
        // and R is not exp to higher order: the leading error term is z⁵
        assert!(e1 > 1e-10, "idx {idx}: e1 = {e1:e}");
    }
}

#[test]
fn stability_intervals_cover_the_stage_selection() {
    for (idx, m) in MS.iter().enumerate() {
        let s = m + 4;
        let l = stability_bound(s) * (1.0 - 1e-4);
        let n = (20.0 * l) as usize + 2000;
        let mut far: f64 = 0.0;
        let mut near: f64 = 0.0;
        for k in 0..=n {
            let z = -l * k as f64 / n as f64;
            let r = stability_function(idx, z).abs();
            if z <= -12.0 {
                far = far.max(r);
            } else {
                near = near.max(r);
            }
        }
        assert!(far <= 1.0, "s = {s}: max |R| = {far} on [−ℓ_s, −12]");
        let near_bound = if s <= 124 { 1.0 + 1e-12 } else { 1.01 };
        assert!(near <= near_bound, "s = {s}: max |R| = {near} on [−12, 0]");
    }
    // the selection rule picks a method whose interval contains hρ
    let mut hr = 0.0;
    while hr < stability_bound(152) {
        let (idx, over) = select_degree(hr);
        assert!(
            !over && hr < stability_bound(MS[idx] + 4),
            "hρ = {hr}: idx {idx}"
        );
        hr += 0.37;
    }
    assert!(select_degree(stability_bound(152) + 1.0).1);
}

/// `y' = y(1 − y)`, `z' = cos(t) z`: closed form `y = 1/(1 + (1/y0 − 1)e^{−t})`,
/// `z = z0 e^{sin t}` (nonlinear, and non-autonomous to exercise the stage times).
struct LogisticCos;
impl OdeSystem for LogisticCos {
    fn dim(&self) -> usize {
        2
    }
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[0] * (1.0 - y[0]);
        dy[1] = t.cos() * y[1];
    }
}
fn logistic_cos_exact(t: f64) -> [f64; 2] {
    let y0: f64 = 0.2;
    [
        1.0 / (1.0 + (1.0 / y0 - 1.0) * (-t).exp()),
        0.5 * t.sin().exp(),
    ]
}

#[test]
fn observed_global_order_is_four_for_small_middle_and_largest_stage_counts() {
    let t_end = 2.0;
    for idx in [0usize, 20, 49] {
        let mut errs = Vec::new();
        for n in [8usize, 16, 32, 64] {
            let h = t_end / n as f64;
            let mut y = vec![0.2, 0.5];
            let mut sys = LogisticCos;
            for k in 0..n {
                y = fixed_step(&mut sys, idx, k as f64 * h, &y, h);
            }
            let ex = logistic_cos_exact(t_end);
            errs.push(((y[0] - ex[0]).powi(2) + (y[1] - ex[1]).powi(2)).sqrt());
        }
        for w in errs.windows(2) {
            let p = (w[0] / w[1]).log2();
            assert!((3.7..4.4).contains(&p), "idx {idx}: errors {errs:?}");
        }
    }
}

#[test]
fn dense_output_is_third_order() {
    let a = DMatrix::from_row_slice(2, 2, &[-0.5, 2.0, -2.0, -0.4]);
    let defect = |h: f64| {
        let sys = LinearSystem { a: a.clone() };
        let mut opts = Options::new(0.0, 1.0);
        opts.h0 = Some(h);
        opts.h_max = Some(h);
        let mut r = Rock4::new(sys, &[1.0, 0.5], Tolerances::scalar(2, 1e300, 1e300), opts);
        r.step().unwrap().unwrap();
        let y0 = DVector::from_column_slice(r.y_prev());
        let exact = (&a * (0.5 * h)).exp() * y0;
        let mut out = [0.0; 2];
        r.dense(0.5 * h, &mut out);
        (DVector::from_column_slice(&out) - exact).norm()
    };
    let (d1, d2, d3) = (defect(0.1), defect(0.05), defect(0.025));
    for p in [(d1 / d2).log2(), (d2 / d3).log2()] {
        assert!((3.7..4.3).contains(&p), "defects {d1:e} {d2:e} {d3:e}");
    }
}

/// Symmetric `A = Q diag(λ) Qᵀ`, `λ` log-spaced in `[−1e4, −1]`, `Q` orthogonal from a QR of a
/// fixed pseudo-random matrix. Returns `A` and `exp(T A) y0`.
fn stiff_linear(n: usize, t_end: f64, y0: &[f64]) -> (DMatrix<f64>, DVector<f64>) {
    let mut s: u64 = 12345;
    let m = DMatrix::from_fn(n, n, |_, _| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    });
    let q = m.qr().q();
    let lam: Vec<f64> = (0..n)
        .map(|i| -(10f64.powf(4.0 * i as f64 / (n - 1) as f64)))
        .collect();
    let d = DMatrix::from_diagonal(&DVector::from_vec(lam.clone()));
    let a = &q * d * q.transpose();
    let e = DMatrix::from_diagonal(&DVector::from_iterator(
        n,
        lam.iter().map(|l| (l * t_end).exp()),
    ));
    let exact = &q * e * q.transpose() * DVector::from_column_slice(y0);
    (a, exact)
}

/// Counts JVPs of a linear system.
struct Counted {
    sys: LinearSystem,
    jvps: u64,
}
impl OdeSystem for Counted {
    fn dim(&self) -> usize {
        self.sys.dim()
    }
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        self.sys.rhs(t, y, dy)
    }
    fn jvp(&mut self, t: f64, y: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        self.jvps += 1;
        self.sys.jvp(t, y, v, out)
    }
}

#[test]
fn stiff_linear_problem_rock4_needs_50x_fewer_evaluations_than_dopri5() {
    let (n, t_end, tol) = (40, 40.0, 1e-6);
    let y0 = vec![1.0; n];
    let (a, exact) = stiff_linear(n, t_end, &y0);
    let tols = || Tolerances::scalar(n, tol, tol);
    let opts = Options::new(0.0, t_end);

    let mut dp = Integrator::new(
        LinearSystem { a: a.clone() },
        &DOPRI5,
        &y0,
        tols(),
        opts.clone(),
    );
    while dp.step().unwrap().is_some() {}
    let dp_evals = dp.stats().nfev;

    let sys = Counted {
        sys: LinearSystem { a: a.clone() },
        jvps: 0,
    };
    let mut r = Rock4::new(sys, &y0, tols(), opts.clone());
    while r.step().unwrap().is_some() {}
    let rock_evals = r.stats().nfev + r.system().jvps;
    let err_rock = (DVector::from_column_slice(r.y()) - &exact).amax();
    let err_dp = (DVector::from_column_slice(dp.y()) - &exact).amax();
    println!(
        "dopri5 {dp_evals} evals (err {err_dp:e}); rock4 {} RHS + {} JVP = {rock_evals} \
         ({} steps, max {} stages, err {err_rock:e})",
        r.stats().nfev,
        r.system().jvps,
        r.stats().accepted,
        r.max_stages_used()
    );
    assert!(
        dp_evals >= 50 * rock_evals,
        "dopri5 {dp_evals} vs rock4 {rock_evals}"
    );
    // errors relative to the tolerance: the solution decays to ~e^{−10}, so the error is
    // bounded by the accumulated local errors, each ≤ tol in the weighted norm
    assert!(err_rock <= 10.0 * tol, "rock4 error {err_rock:e}");

    // auto switches to the stiff method and stays accurate
    for stiff in [StiffMethod::Rock4, StiffMethod::Radau5] {
        let sys = Counted {
            sys: LinearSystem { a: a.clone() },
            jvps: 0,
        };
        let params = AutoParams {
            stiff,
            ..AutoParams::default()
        };
        let mut au = AutoSwitch::new(sys, &y0, tols(), opts.clone(), params);
        while au.step().unwrap().is_some() {}
        let sw = au.switches();
        assert!(!sw.is_empty(), "auto ({}) never switched", stiff.name());
        assert_eq!(
            (sw[0].from.as_str(), sw[0].to.as_str()),
            ("dopri5", stiff.name())
        );
        assert_eq!(sw[0].reason, "stability_limited");
        let err_auto = (DVector::from_column_slice(au.y()) - &exact).amax();
        let au_evals = au.stats().nfev + au.system().jvps;
        println!(
            "auto ({}) {au_evals} evals, switches {sw:?}, err {err_auto:e}",
            stiff.name()
        );
        assert!(err_auto <= 10.0 * tol, "auto error {err_auto:e}");
        assert!(dp_evals >= 20 * au_evals, "auto {au_evals}");
    }
}

#[test]
fn auto_reproduces_dopri5_without_switching_on_a_non_stiff_problem() {
    let opts = Options::new(0.0, 6.0);
    let tol = Tolerances::scalar(2, 1e-8, 1e-10);
    let mut dp = Integrator::new(LogisticCos, &DOPRI5, &[0.2, 0.5], tol.clone(), opts.clone());
    while dp.step().unwrap().is_some() {}
    for stiff in [StiffMethod::Rock4, StiffMethod::Radau5] {
        let params = AutoParams {
            stiff,
            ..AutoParams::default()
        };
        let mut au = AutoSwitch::new(LogisticCos, &[0.2, 0.5], tol.clone(), opts.clone(), params);
        let mut steps = 0;
        while au.step().unwrap().is_some() {
            steps += 1;
        }
        assert!(au.switches().is_empty());
        assert_eq!(au.y(), dp.y());
        assert_eq!(steps, dp.stats().accepted);
        assert_eq!(au.stats().nfev, dp.stats().nfev);
        let ex = logistic_cos_exact(6.0);
        assert!((au.y()[0] - ex[0]).abs() < 1e-7 && (au.y()[1] - ex[1]).abs() < 1e-7);
    }
}

/// The stiff reference case of the project (n = 20, d = 40, widths [40, 30, 30, 1], half_sum,
/// W_1 std 0.1, middle identity, last std 1), over a shorter horizon.
fn stiff_flow(t_end: f64) -> (GradientFlow, Vec<f64>) {
    let cfg = RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 1,
                     "spectrum": {"kind": "isotropic"},
                     "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.0},
            "model": {"kind": "deep_linear", "hidden": [30, 30]},
            "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
            "loss": "half_sum", "rtol": 1e-6, "atol": 1e-8, "t_end": t_end, "seed": 0
        }),
        "test",
    )
    .unwrap();
    let p = Problem::build(&cfg).unwrap();
    let mut y0 = p.theta0.clone();
    y0.push(0.0);
    (p.flow, y0)
}

#[test]
fn stiff_gradient_flow_rock4_needs_15x_fewer_gradient_evaluations_than_dopri5_and_auto_switches() {
    let t_end = 20.0;
    let (flow, y0) = stiff_flow(t_end);
    let n = y0.len();
    let p = n - 1;
    let tol = 1e-6;
    let tols = || {
        let mut t = Tolerances::scalar(n, tol, 1e-8);
        t.rtol[p] = tol;
        t
    };
    let opts = Options::new(0.0, t_end);
    let mut dp = Integrator::new(flow.clone(), &DOPRI5, &y0, tols(), opts.clone());
    while dp.step().unwrap().is_some() {}
    let dp_work = dp.system().counters().gradients;

    let mut r = Rock4::new(flow.clone(), &y0, tols(), opts.clone());
    while r.step().unwrap().is_some() {}
    let c = r.system().counters();
    let rock_work = c.gradients + c.hvps;

    let autos: Vec<(StiffMethod, AutoSwitch<GradientFlow>)> =
        [StiffMethod::Rock4, StiffMethod::Radau5]
            .into_iter()
            .map(|stiff| {
                let params = AutoParams {
                    stiff,
                    ..AutoParams::default()
                };
                let mut au = AutoSwitch::new(flow.clone(), &y0, tols(), opts.clone(), params);
                while au.step().unwrap().is_some() {}
                (stiff, au)
            })
            .collect();

    let mut reference = Integrator::new(
        flow,
        &DOP853,
        &y0,
        Tolerances::scalar(n, 1e-10, 1e-12),
        opts,
    );
    while reference.step().unwrap().is_some() {}
    let dist = |a: &[f64]| {
        a[..p]
            .iter()
            .zip(&reference.y()[..p])
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let wnorm = dist(&vec![0.0; p]);
    let (e_rock, e_dp) = (dist(r.y()) / wnorm, dist(dp.y()) / wnorm);
    println!(
        "dopri5 {dp_work} gradients (rel err {e_dp:e}); rock4 {} gradients + {} HVPs, {} steps, \
         max {} stages, ρ = {:.1}, rel err {e_rock:e}",
        c.gradients,
        c.hvps,
        r.stats().accepted,
        r.max_stages_used(),
        r.spectral_radius()
    );
    assert!(
        dp_work >= 15 * rock_work,
        "dopri5 {dp_work} vs rock4 {rock_work}"
    );
    assert!(e_rock <= 10.0 * tol, "rock4 relative error {e_rock:e}");
    for (stiff, au) in &autos {
        let sw = au.switches();
        let c = au.system().counters();
        let e = dist(au.y()) / wnorm;
        println!(
            "auto ({}): {} gradients + {} HVPs, {} steps, switches {sw:?}, rel err {e:e}",
            stiff.name(),
            c.gradients,
            c.hvps,
            au.stats().accepted
        );
        assert!(!sw.is_empty(), "auto ({}) never switched", stiff.name());
        assert_eq!(sw[0].to, stiff.name());
        assert!(
            e <= 10.0 * tol,
            "auto ({}) relative error {e:e}",
            stiff.name()
        );
    }
}

/// `gradflow run --method auto` on the stiff case: the switch is in summary.json
/// (`method_switches`) and in the trace as an event row; `--method rock4` completes too.
#[test]
fn cli_auto_records_the_switch_in_summary_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = json!({
        "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 1,
                 "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.0},
        "model": {"kind": "deep_linear", "hidden": [30, 30]},
        "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
        "loss": "half_sum", "rtol": 1e-6, "atol": 1e-8, "t_end": 2.0, "seed": 0
    });
    std::fs::write(dir.path().join("stiff.json"), cfg.to_string()).unwrap();
    for (method, stiff, to) in [
        ("auto", None, "radau5"),
        ("auto", Some("rock4"), "rock4"),
        ("rock4", None, ""),
    ] {
        let out_name = format!("{method}-{}", stiff.unwrap_or("default"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gradflow"))
            .args([
                "run",
                "--config",
                "stiff.json",
                "--method",
                method,
                "--out",
                &out_name,
            ])
            .args(stiff.map(|s| ["--auto-stiff", s]).iter().flatten())
            .args(["--trace", "every=1"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = dir.path().join(&out_name);
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(s["status"], "completed");
        assert_eq!(s["method"], method);
        let sw = s["method_switches"].as_array().unwrap();
        let trace = std::fs::read_to_string(out.join("trace.jsonl")).unwrap();
        let events: Vec<serde_json::Value> = trace
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r.get("event").is_some())
            .collect();
        if method == "auto" {
            assert!(!sw.is_empty(), "no switch recorded");
            assert_eq!(sw[0]["from"], "dopri5");
            assert_eq!(sw[0]["to"], to);
            assert_eq!(events.len(), sw.len());
            assert_eq!(events[0]["event"], "method_switch");
            assert_eq!(events[0]["step"], sw[0]["step"]);
            assert_eq!(events[0]["reason"], "stability_limited");
        } else {
            assert!(sw.is_empty() && events.is_empty());
        }
    }
}

/// `y_i' = −s(t) λ_i (y_i − cos t)`, `λ_i` log-spaced in `[1, 1e4]`, with a stiffness factor
/// `s(t) = ε + (1 − ε)/(1 + e^{(t − 1)/w})` that fades from 1 to `ε = 1e-4` around `t = 1`;
/// the forcing keeps the steps accuracy-limited once the stiffness is gone.
struct FadingStiffness {
    lam: Vec<f64>,
}
impl FadingStiffness {
    fn s(t: f64) -> f64 {
        let eps = 1e-4;
        eps + (1.0 - eps) / (1.0 + ((t - 1.0) / 0.02).exp())
    }
}
impl OdeSystem for FadingStiffness {
    fn dim(&self) -> usize {
        self.lam.len()
    }
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
        let (s, c) = (Self::s(t), t.cos());
        for ((d, y), l) in dy.iter_mut().zip(y).zip(&self.lam) {
            *d = -s * l * (y - c);
        }
    }
    fn jvp(&mut self, t: f64, _y: &[f64], v: &[f64], out: &mut [f64]) -> bool {
        let s = Self::s(t);
        for ((o, v), l) in out.iter_mut().zip(v).zip(&self.lam) {
            *o = -s * l * v;
        }
        true
    }
}

/// The switch back: on a problem whose stiffness fades, `auto` goes DOPRI5 → stiff method →
/// DOPRI5 (reason `not_stiff`, from ROCK4's refreshed `ρ` or the top eigenvalue of Radau's
/// Lanczos model) and stays within 10 × tol of a tight DOP853 reference.
#[test]
fn auto_switches_back_to_dopri5_when_the_stiffness_fades() {
    let n = 30;
    let lam: Vec<f64> = (0..n)
        .map(|i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64))
        .collect();
    let (t_end, tol) = (4.0, 1e-6);
    let y0 = vec![0.0; n];
    let mut reference = Integrator::new(
        FadingStiffness { lam: lam.clone() },
        &DOP853,
        &y0,
        Tolerances::scalar(n, 1e-12, 1e-14),
        Options::new(0.0, t_end),
    );
    while reference.step().unwrap().is_some() {}
    for stiff in [StiffMethod::Rock4, StiffMethod::Radau5] {
        let params = AutoParams {
            stiff,
            ..AutoParams::default()
        };
        let mut au = AutoSwitch::new(
            FadingStiffness { lam: lam.clone() },
            &y0,
            Tolerances::scalar(n, tol, tol),
            Options::new(0.0, t_end),
            params,
        );
        while au.step().unwrap().is_some() {}
        let sw: Vec<(&str, &str, &str)> = au
            .switches()
            .iter()
            .map(|s| (s.from.as_str(), s.to.as_str(), s.reason.as_str()))
            .collect();
        let err = au
            .y()
            .iter()
            .zip(reference.y())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!(
            "auto ({}): {} RHS, {} steps, switches {:?}, err {err:e}",
            stiff.name(),
            au.stats().nfev,
            au.stats().accepted,
            au.switches()
        );
        assert!(sw.len() >= 2, "auto ({}): switches {sw:?}", stiff.name());
        assert_eq!(sw[0], ("dopri5", stiff.name(), "stability_limited"));
        assert_eq!(sw[1], (stiff.name(), "dopri5", "not_stiff"));
        assert!(
            au.switches()[1].t > 1.0,
            "switched back before the stiffness faded"
        );
        assert!(err <= 10.0 * tol, "auto ({}) error {err:e}", stiff.name());
    }
}
