//! The sharpness monitor: its `λ_max`, top-k and `λ_min` equal the dense Hessian's
//! eigenvalues (assembled from exact HVPs) at several points of a trajectory, it runs
//! Lanczos only every N accepted steps and never at dense-output samples, `h·λ_max` uses the
//! latest estimate, warm starts save Hessian-vector products, and paper 002's end-of-run
//! sharpness (Lanczos) agrees with the dense oracle.

use gradflow::claim::catalog::mc24::{hessian, sharpness, sharpness_dense};
use gradflow::config::RunConfig;
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::integrate::{Options, Tolerances};
use gradflow::monitor::sharpness::SharpnessMonitor;
use gradflow::monitor::{Monitor, Point};
use gradflow::run::{execute, make_stepper, Problem};
use serde_json::json;

fn config(hidden: &[usize], std: f64, seed: u64) -> RunConfig {
    let l = hidden.len() + 1;
    RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 15, "d": 6, "q": 2,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0},
                     "noise_std": 0.1},
            "model": {"kind": "deep_linear", "hidden": hidden},
            "init": {"kind": "gaussian", "std": vec![std; l]},
            "loss": "half_sum", "t_end": 2.0, "method": "dopri5",
            "rtol": 1e-8, "atol": 1e-10, "seed": seed
        }),
        "test",
    )
    .unwrap()
}

/// Descending eigenvalues of the dense Hessian at `theta`.
fn dense_eigs(gf: &mut gradflow::flow::GradientFlow, theta: &[f64]) -> Vec<f64> {
    let mut e: Vec<f64> = gradflow::decompose::symmetric_eigenvalues(&hessian(gf, theta))
        .unwrap()
        .iter()
        .copied()
        .collect();
    e.sort_by(|a, b| b.total_cmp(a));
    e
}

#[test]
fn monitor_matches_the_dense_hessian_along_a_trajectory() {
    let cfg = config(&[7, 5], 0.6, 11);
    let p = Problem::build(&cfg).unwrap();
    let mut mon = SharpnessMonitor::new(&p.flow, 5, 3, true);
    let cols = mon.columns();
    assert_eq!(
        cols,
        [
            "sharpness",
            "sharpness_2",
            "sharpness_3",
            "sharpness_min",
            "h_sharpness"
        ]
    );
    let mut y0 = p.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let n = y0.len();
    let np = p.shape.num_params();
    let tol = Tolerances::scalar(n, 1e-8, 1e-10);
    let mut integ = make_stepper(&cfg, p.flow.clone(), &y0, tol, Options::new(0.0, 2.0)).unwrap();
    let mut oracle = p.flow.clone();
    let mut out = vec![0.0; cols.len()];
    let f0 = integ.f().to_vec();
    mon.observe(
        integ.system_mut(),
        &Point::resting(0, 0.0, &y0, &f0),
        &mut out,
    );
    let mut checked = 0;
    let check = |out: &[f64], y: &[f64], oracle: &mut gradflow::flow::GradientFlow| {
        let e = dense_eigs(oracle, &y[..np]);
        let scale = e[0].abs().max(e[e.len() - 1].abs());
        for (i, want) in [e[0], e[1], e[2], e[e.len() - 1]].iter().enumerate() {
            assert!(
                (out[i] - want).abs() <= 1e-7 * scale,
                "column {i}: Lanczos {} vs dense {want}",
                out[i]
            );
        }
    };
    check(&out, &y0, &mut oracle);
    let mut ybuf = vec![0.0; n];
    while let Some(st) = integ.step().unwrap() {
        let y = integ.y().to_vec();
        let f = integ.f().to_vec();
        // a dense sample inside the step reports the latest estimate without new work
        let before = mon.matvecs();
        integ.dense(0.5 * (st.t_prev + st.t), &mut ybuf);
        let pd = Point::in_step(&st, 0.5 * (st.t_prev + st.t), &ybuf, &f);
        mon.measure(integ.system_mut(), &pd, &mut out);
        assert_eq!(mon.matvecs(), before);
        let p = Point::in_step(&st, st.t, &y, &f);
        mon.observe(integ.system_mut(), &p, &mut out);
        assert_eq!(out[4], st.h * out[0], "h·λ_max with the latest estimate");
        if st.index % 5 == 0 {
            check(&out, &y, &mut oracle);
            checked += 1;
        }
        if checked == 4 {
            break;
        }
    }
    assert_eq!(checked, 4, "compared at steps 0, 5, 10, 15, 20");
    assert_eq!(mon.evaluations(), 5);
}

/// Along one trajectory the warm-started monitor spends fewer Hessian-vector products than
/// cold starts at the same points, and finds the same eigenvalues.
#[test]
fn warm_starts_save_hessian_vector_products() {
    let cfg = config(&[20, 20], 0.4, 2);
    let p = Problem::build(&cfg).unwrap();
    let mut warm = SharpnessMonitor::new(&p.flow, 1, 1, true);
    let mut cold = SharpnessMonitor::new(&p.flow, 1, 1, false);
    let mut y0 = p.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let tol = Tolerances::scalar(y0.len(), 1e-8, 1e-10);
    let mut integ = make_stepper(&cfg, p.flow.clone(), &y0, tol, Options::new(0.0, 2.0)).unwrap();
    let mut gf = p.flow.clone();
    let (mut ow, mut oc) = (vec![0.0; 3], vec![0.0; 3]);
    let mut steps = 0;
    while let Some(st) = integ.step().unwrap() {
        let (y, f) = (integ.y().to_vec(), integ.f().to_vec());
        let pt = Point::in_step(&st, st.t, &y, &f);
        warm.observe(&mut gf, &pt, &mut ow);
        cold.observe(&mut gf, &pt, &mut oc);
        assert!(
            (ow[0] - oc[0]).abs() <= 1e-7 * ow[0].abs(),
            "{ow:?} vs {oc:?}"
        );
        steps += 1;
        if steps == 30 {
            break;
        }
    }
    assert_eq!(warm.evaluations(), 30);
    assert!(
        warm.matvecs() < cold.matvecs(),
        "warm {} vs cold {} HVPs over 30 evaluations",
        warm.matvecs(),
        cold.matvecs()
    );
}

/// The run loop records the sharpness every N steps and reports its Lanczos work.
#[test]
fn run_reports_sharpness_columns_and_their_cost() {
    let mut cfg = config(&[7, 5], 0.6, 11);
    cfg.sharpness_every = Some(4);
    let out = execute(&cfg, None).unwrap();
    let acc = out.stats.accepted;
    let rep = &out.summary["sharpness"];
    assert_eq!(rep["evaluations"].as_u64().unwrap(), acc / 4 + 1);
    let hvps = rep["hvps"].as_u64().unwrap();
    assert_eq!(
        out.summary["stats"]["hvp_evaluations"].as_u64().unwrap(),
        hvps
    );
    let s = out.monitors.summary("sharpness").unwrap();
    assert!(s.max >= s.last && s.t_max.is_finite());
    let h = out.monitors.summary("h_sharpness").unwrap();
    assert!(
        h.max > 0.0 && h.max < 3.4,
        "Dopri5 stays inside its stability region"
    );
}

/// Paper 002's end-of-run sharpness by Lanczos equals the dense oracle, and its budget
/// scale covers the Ritz residual.
#[test]
fn claim_sharpness_by_lanczos_matches_the_dense_oracle() {
    for seed in 0..4 {
        let cfg = config(&[4, 3], 0.7, seed);
        let mut p = Problem::build(&cfg).unwrap();
        let (sl, scale) = sharpness(&mut p.flow, &p.theta0);
        let (sd, _) = sharpness_dense(&mut p.flow, &p.theta0);
        assert!(
            (sl - sd).abs() <= 64.0 * f64::EPSILON * scale,
            "seed {seed}: {sl} vs {sd}"
        );
        assert!(scale >= sd.abs());
    }
}
