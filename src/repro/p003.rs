//! Paper 003 (Min, Tarmoun, Vidal & Mallada), Appendix A (catalog 003 §4, E1 and E2): the
//! convergence rate of the two-layer network `y = V Uᵀx` against the initial imbalance, and
//! the distance of the end point to the minimum-norm solution `Θ̂` against the width `h`.
//!
//! Scaled protocol: `D = 100`, `n = 25`, `m = 1` (the paper: 400, 100, 1), `X` with
//! i.i.d. `N(0, 1)` entries (E2 draws `N(0, 1/D)`; the scale only sets the time unit: rates
//! are reported in units of `σ_n(Σ_x) = λ_min(XXᵀ)`), teacher `N(0, 1/D)`, noise `0.01`;
//! gradient flow on `½‖Y − XUVᵀ‖²` (the catalog's convention for Theorem 1).
//!
//! - **E1** (rate against imbalance): `h = 125`, `U ~ N(0, σ_U²)`, `V ~ N(0, σ_V²)` over
//!   `σ_U ∈ {0.05 … 0.5}` and `σ_V ∈ {0.02, 0.1}` (the paper's cases 1 and 2 are
//!   `(0.1, 0.1)` and `(0.5, 0.02)`). Theorem 1: `‖E(t)‖² ≤ e^{−2σ_n(Σ_x)c t}‖E(0)‖²` with
//!   `c = σ_{n+m−1}(U₁(0)ᵀU₁(0) − V(0)ᵀV(0))`. Measured: the mean rate
//!   `−ln(‖E(T)‖²/‖E(0)‖²)/T` up to the first accepted step `T` where `‖E‖²` is `10⁻¹⁰`
//!   of its start (where the run ends: [`super::Point::settle`]), and the late rate (the
//!   slope of `ln‖E‖²` over the last two decades before `T`).
//! - **E2** (implicit regularisation against width): `U, V ~ N(0, 1/h)` over
//!   `h ∈ {50 … 800}`; the final `‖UVᵀ − Θ̂‖₂` against `h` with its fitted exponent
//!   (catalog: `≈ √(m(D − n)/h)`, exponent `−1/2`, because `U₂ = Φ₂ᵀU` is frozen).

use nalgebra::DMatrix;
use serde_json::json;

use super::{
    config, mean_reference, measured, measured_points, push_measured, reference, replicate_means,
    requests, Experiment, Finding, Finished, Metrics, Point, PointResult, Size,
};
use crate::error::GradflowError;
use crate::model::data::min_norm_solution;
use crate::plot::series::{Figure, Panel, Scale, Trace};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    paper: "003",
    title: "Min et al., App. A (Figs. 2, 3): convergence rate against the imbalance c, \
            distance to Θ̂ against the width h",
    points,
    measure,
    conclude,
};

const D: usize = 100;
const N: usize = 25;
const H_E1: usize = 125;
const T_END: f64 = 5.0;
/// `‖E‖²` relative to its start below which the rate is no longer measured.
const FLOOR: f64 = 1e-10;

const CLAIMS_E1: [&str; 4] = [
    "mttvm21.claim3_2.imbalance_conserved",
    "mttvm21.eq23.loss_nonincreasing",
    "mttvm21.eq7.u2_frozen",
    "mttvm21.thm1.rate",
];
/// At the larger widths the `h×h` imbalance checks dominate the run; the width sweep
/// keeps the claims its measurement rests on.
const CLAIMS_E2: [&str; 3] = [
    "mttvm21.eq23.loss_nonincreasing",
    "mttvm21.eq7.u2_frozen",
    "mttvm21.thm1.rate",
];

fn run(
    h: usize,
    init: serde_json::Value,
    seed: u64,
) -> Result<crate::config::RunConfig, GradflowError> {
    config(
        json!({
            "data": {"kind": "gaussian", "n": N, "d": D, "q": 1,
                     "spectrum": {"kind": "isotropic"},
                     "teacher": {"kind": "gaussian", "std": 0.1}, "noise_std": 0.01},
            "model": {"kind": "two_layer_uv", "hidden": h},
            "init": init,
            "loss": "half_sum",
            "t_end": T_END, "method": "auto", "rtol": 1e-9, "atol": 1e-12, "seed": seed,
            "trace": {"every": 1}
        }),
        &format!("repro 003 (h = {h}, seed {seed})"),
    )
}

fn points(size: Size, _out: &std::path::Path) -> Result<Vec<Point>, GradflowError> {
    let (sigma_u, sigma_v, widths, seeds): (Vec<f64>, Vec<f64>, Vec<usize>, u64) = match size {
        Size::Full => (
            vec![0.05, 0.1, 0.2, 0.3, 0.5],
            vec![0.02, 0.1],
            vec![50, 100, 200, 400, 800],
            3,
        ),
        Size::Quick => (vec![0.1, 0.5], vec![0.02], vec![50, 200], 1),
    };
    let mut pts = Vec::new();
    for &sv in &sigma_v {
        for &su in &sigma_u {
            for s in 1..=seeds {
                pts.push(Point {
                    key: format!("imbalance-su{su}-sv{sv}-seed-{s}"),
                    panel: "imbalance".into(),
                    series: format!("σ_V = {sv}"),
                    // the abscissa is the measured c; the grid value orders the points
                    x: su,
                    cfg: run(H_E1, json!({"kind": "gaussian", "std": [su, sv]}), s)?,
                    claims: requests(&CLAIMS_E1),
                    settle: Some(1e-10),
                });
            }
        }
    }
    for &h in &widths {
        for s in 1..=seeds {
            pts.push(Point {
                key: format!("width-{h}-seed-{s}"),
                panel: "width".into(),
                series: "N(0, 1/h)".into(),
                x: h as f64,
                cfg: run(h, json!({"kind": "min_gaussian"}), 10 + s)?,
                claims: requests(&CLAIMS_E2),
                settle: Some(1e-10),
            });
        }
    }
    Ok(pts)
}

/// `c = σ_{n+m−1}(D_X)` with `D_X = W₁P_XW₁ᵀ − W₂ᵀW₂` (catalog §2.5, eq. 10), `W₁ = Uᵀ`.
fn imbalance_c(
    x: &DMatrix<f64>,
    w1: &DMatrix<f64>,
    w2: &DMatrix<f64>,
) -> Result<f64, GradflowError> {
    // W₁P_X = (P_X W₁ᵀ)ᵀ, P_X W₁ᵀ = X⁺XW₁ᵀ
    let w1_px = min_norm_solution(x, &(x * w1.transpose())).transpose();
    let dx = &w1_px * w1.transpose() - w2.transpose() * w2;
    let dx = (&dx + dx.transpose()) * 0.5;
    let mut ev: Vec<f64> = crate::decompose::symmetric_eigenvalues(&dx)?
        .iter()
        .map(|v| v.abs())
        .collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    let idx = x.nrows() + w2.nrows() - 1;
    Ok(ev.get(idx - 1).copied().unwrap_or(0.0))
}

/// The mean and the late rate of `ln loss` over the trace, up to the floor.
fn rates(trace: &Trace) -> (f64, f64, f64) {
    let loss = trace.column("loss").unwrap_or(&[]);
    let t = &trace.t;
    let Some(&l0) = loss.first() else {
        return (f64::NAN, f64::NAN, f64::NAN);
    };
    let end = loss
        .iter()
        .position(|&l| l <= FLOOR * l0)
        .unwrap_or(loss.len() - 1);
    let mean = -(loss[end] / l0).ln() / t[end];
    // late rate: from where the loss is 100× above the end point's value to the end point
    let start = loss[..end]
        .iter()
        .rposition(|&l| l >= 100.0 * loss[end])
        .unwrap_or(0);
    let late = if end > start {
        -(loss[end] / loss[start]).ln() / (t[end] - t[start])
    } else {
        f64::NAN
    };
    (mean, late, t[end])
}

fn measure(f: &mut Finished<'_>) -> Result<Metrics, GradflowError> {
    let data = &f.problem.data;
    let shape = &f.problem.shape;
    let w1_0 = shape.layer(&f.problem.theta0, 1).into_owned();
    let w2_0 = shape.layer(&f.problem.theta0, 2).into_owned();
    let p = shape.num_params();
    let theta = &f.run.theta[..p];
    let w1 = shape.layer(theta, 1).into_owned();
    let w2 = shape.layer(theta, 2).into_owned();
    let xxt = &data.x * data.x.transpose();
    let sigma_n = crate::decompose::symmetric_eigenvalues(&xxt)?.min();
    let c = imbalance_c(&data.x, &w1_0, &w2_0)?;
    let trace = Trace::read(&f.dir.join("trace.jsonl"))?;
    let (mean, late, t_floor) = rates(&trace);
    // end-to-end Θ = UVᵀ = W₁ᵀW₂ᵀ (D×m) and the minimum-norm solution Θ̂ = X⁺Y
    let theta_end = w1.transpose() * w2.transpose();
    let theta_hat = min_norm_solution(&data.x, &data.y);
    let z0 = {
        let t0 = w1_0.transpose() * w2_0.transpose();
        &t0 - min_norm_solution(&data.x, &(&data.x * &t0))
    };
    let mut m = Metrics::new();
    m.insert("c".into(), c);
    m.insert("sigma_n".into(), sigma_n);
    m.insert("bound_rate".into(), 2.0 * sigma_n * c);
    m.insert("mean_rate".into(), mean);
    m.insert("mean_rate_norm".into(), mean / sigma_n);
    m.insert("bound_rate_norm".into(), 2.0 * c);
    m.insert("late_rate".into(), late);
    m.insert("t_floor".into(), t_floor);
    m.insert(
        "distance".into(),
        crate::decompose::singular_values(&(&theta_end - &theta_hat))?.max(),
    );
    m.insert("z0".into(), crate::decompose::singular_values(&z0)?.max());
    m.insert(
        "predicted_distance".into(),
        ((D - N) as f64 / shape.widths()[1] as f64).sqrt(),
    );
    Ok(m)
}

fn conclude(results: &[PointResult], caption: &str) -> (Figure, Vec<Finding>) {
    let mut rate = Panel::new(
        &format!("Convergence rate against the imbalance (h = {H_E1})"),
        "c = σ_{n+m−1}(U₁(0)ᵀU₁(0) − V(0)ᵀV(0))",
        "rate / σ_n(Σ_x)",
    );
    rate.x_scale = Scale::Log;
    rate.y_scale = Scale::Log;
    let series = series_of(results, "imbalance");
    let mut all_c = Vec::new();
    for (g, s) in series.iter().enumerate() {
        let mut pts: Vec<&PointResult> = measured_points(results, "imbalance")
            .filter(|r| r.series == *s)
            .collect();
        pts.sort_by(|a, b| {
            a.metric("c")
                .unwrap_or(0.0)
                .total_cmp(&b.metric("c").unwrap_or(0.0))
        });
        let per = |name: &str| -> Vec<(f64, f64)> {
            pts.iter()
                .filter_map(|r| Some((r.metric("c")?, r.metric(name)? / r.metric("sigma_n")?)))
                .collect()
        };
        all_c.extend(pts.iter().filter_map(|r| r.metric("c")));
        rate.lines.push(crate::plot::series::Line {
            label: format!("{s}: mean rate"),
            points: per("mean_rate"),
            markers: true,
            dashed: false,
            group: Some(2 * g),
        });
        rate.lines.push(crate::plot::series::Line {
            label: format!("{s}: late rate"),
            points: per("late_rate"),
            markers: true,
            dashed: false,
            group: Some(2 * g + 1),
        });
    }
    all_c.sort_by(f64::total_cmp);
    if let (Some(&lo), Some(&hi)) = (all_c.first(), all_c.last()) {
        rate.lines.push(reference(
            "Theorem 1: 2c",
            vec![(lo, 2.0 * lo), (hi, 2.0 * hi)],
            2 * series.len(),
        ));
    }
    let mut dist = Panel::new(
        &format!("Distance to the minimum-norm solution (D = {D}, n = {N})"),
        "width h",
        "‖U(T)V(T)ᵀ − Θ̂‖₂",
    );
    dist.x_scale = Scale::Log;
    dist.y_scale = Scale::Log;
    push_measured(
        &mut dist,
        results,
        "width",
        "N(0, 1/h)",
        "distance",
        "gradient flow",
        0,
    );
    let (l, _) = measured(results, "width", "N(0, 1/h)", "z0", "‖U₂(0)V(0)ᵀ‖₂", 1);
    dist.lines.push(l);
    dist.lines.push(mean_reference(
        results,
        "width",
        "N(0, 1/h)",
        "predicted_distance",
        "√(m(D − n)/h)",
        2,
    ));
    let mut width_rate = Panel::new(
        "Convergence rate against the width",
        "width h",
        "rate / σ_n(Σ_x)",
    );
    width_rate.x_scale = Scale::Log;
    push_measured(
        &mut width_rate,
        results,
        "width",
        "N(0, 1/h)",
        "mean_rate_norm",
        "mean rate",
        0,
    );
    let (l, _) = measured(
        results,
        "width",
        "N(0, 1/h)",
        "bound_rate_norm",
        "Theorem 1: 2c",
        1,
    );
    width_rate.lines.push(crate::plot::series::Line {
        dashed: true,
        markers: false,
        ..l
    });
    let figure = Figure {
        name: "repro-003".into(),
        title: EXPERIMENT.title.into(),
        caption: caption.into(),
        panels: vec![rate, dist, width_rate],
    };
    (figure, findings(results, &series))
}

fn series_of(results: &[PointResult], panel: &str) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    for r in measured_points(results, panel) {
        if !s.contains(&r.series) {
            s.push(r.series.clone());
        }
    }
    s
}

fn findings(results: &[PointResult], series: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    // Theorem 1 on every run: the mean rate is at least the bound's
    let ratios: Vec<(String, f64)> = measured_points(results, "imbalance")
        .chain(measured_points(results, "width"))
        .filter_map(|r| {
            Some((
                r.key.clone(),
                r.metric("mean_rate")? / r.metric("bound_rate")?,
            ))
        })
        .collect();
    let worst = ratios
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();
    out.push(Finding {
        statement: "Theorem 1: ‖E(t)‖² ≤ e^{−2σ_n(Σ_x)ct}‖E(0)‖², so the mean rate is at \
                    least 2σ_n(Σ_x)c"
            .into(),
        matches: !ratios.is_empty() && worst.1 >= 1.0,
        evidence: format!(
            "mean rate / bound ≥ {:.3} over {} runs (smallest at {})",
            worst.1,
            ratios.len(),
            worst.0
        ),
    });
    // faster with larger c (within a σ_V series)
    let mut monotone = true;
    let mut text = Vec::new();
    for s in series {
        let mut pts: Vec<(f64, f64)> = measured_points(results, "imbalance")
            .filter(|r| r.series == *s)
            .filter_map(|r| Some((r.metric("c")?, r.metric("mean_rate")?)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rank_ok = pts.first().zip(pts.last()).is_some_and(|(a, b)| b.1 > a.1);
        monotone &= rank_ok;
        if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
            text.push(format!(
                "{s}: rate {:.3} at c = {:.3} → {:.3} at c = {:.3}",
                a.1, a.0, b.1, b.0
            ));
        }
    }
    out.push(Finding {
        statement: "Fig. 2: a larger imbalance c converges faster".into(),
        matches: monotone && !text.is_empty(),
        evidence: text.join("; "),
    });
    // tight in case 2 (large c, small V), loose in case 1
    let case = |su: f64, sv: f64| -> Option<f64> {
        let rs: Vec<f64> = measured_points(results, "imbalance")
            .filter(|r| r.x == su && r.series == format!("σ_V = {sv}"))
            .filter_map(|r| Some(r.metric("late_rate")? / r.metric("bound_rate")?))
            .collect();
        (!rs.is_empty()).then(|| rs.iter().sum::<f64>() / rs.len() as f64)
    };
    if let (Some(c2), Some(c1)) = (case(0.5, 0.02), case(0.1, 0.1)) {
        out.push(Finding {
            statement: "App. A.1: the bound is almost tight for the asymptotic rate in case 2 \
                        (σ_U = 0.5, σ_V = 0.02) and loose in case 1 (σ_U = σ_V = 0.1)"
                .into(),
            matches: c2 < 1.15 && c1 > 1.5,
            evidence: format!("late rate / 2σ_n c: case 2 {c2:.3}, case 1 {c1:.3}"),
        });
    }
    // the distance falls as h^{-1/2}
    let pts: Vec<(usize, f64, f64)> = measured_points(results, "width")
        .filter_map(|r| Some((r.seed as usize, r.x.ln(), r.metric("distance")?.ln())))
        .collect();
    if let Some(fit) = crate::sweep::stats::grouped_slope(&pts, 0.95) {
        out.push(Finding {
            statement: "Fig. 3: the distance to the minimum-norm solution decreases with h, \
                        linearly in 1/√h (exponent −1/2)"
                .into(),
            matches: fit.interval[0].is_finite()
                && fit.interval[1].is_finite()
                && fit.interval[0] <= -0.5
                && -0.5 <= fit.interval[1],
            evidence: format!(
                "fitted exponent {:.3} [{:.3}, {:.3}] over {} runs",
                fit.slope, fit.interval[0], fit.interval[1], fit.points
            ),
        });
    }
    // the rate approaches a constant as h grows
    let wr = replicate_means(results, "width", "N(0, 1/h)", "mean_rate_norm");
    if wr.len() >= 3 {
        let n = wr.len();
        let step_last = (wr[n - 1].1 - wr[n - 2].1).abs() / wr[n - 1].1;
        let step_first = (wr[1].1 - wr[0].1).abs() / wr[1].1;
        out.push(Finding {
            statement: "Fig. 3 (right): the convergence rate approaches a constant as h grows \
                        (Lemma 1)"
                .into(),
            matches: step_last < step_first && step_last < 0.1,
            evidence: format!(
                "mean rate / σ_n(Σ_x): {}",
                wr.iter()
                    .map(|r| format!("{:.3} (h = {})", r.1, r.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repro::fake_point;

    fn run(su: f64, c: f64, mean: f64, late: f64) -> PointResult {
        fake_point(
            "imbalance",
            "σ_V = 0.02",
            su,
            1,
            &[
                ("c", c),
                ("sigma_n", 1.0),
                ("bound_rate", 2.0 * c),
                ("mean_rate", mean),
                ("late_rate", late),
            ],
        )
    }

    #[test]
    fn theorem_1_finding_fails_when_a_run_converges_slower_than_the_bound() {
        let ok = [run(0.1, 1.0, 3.0, 3.1), run(0.5, 4.0, 8.5, 8.2)];
        assert!(findings(&ok, &["σ_V = 0.02".into()])[0].matches);
        let slow = [run(0.1, 1.0, 3.0, 3.1), run(0.5, 4.0, 7.6, 8.2)];
        let f = findings(&slow, &["σ_V = 0.02".into()]);
        assert!(!f[0].matches, "{:?}", f[0]);
        assert!(f[0].evidence.contains("0.950"), "{}", f[0].evidence);
    }

    #[test]
    fn rate_is_the_mean_and_the_late_slope_of_the_log_loss_up_to_the_floor() {
        // loss e^{−2t} until the floor, then flat: the mean rate is 2, the late one too
        let mut tr = Trace::default();
        for i in 0..=200 {
            let t = i as f64 * 0.1;
            tr.t.push(t);
            tr.columns
                .entry("loss".into())
                .or_default()
                .push((-2.0 * t).exp().max(1e-14));
        }
        let (mean, late, t_floor) = rates(&tr);
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
        assert!((late - 2.0).abs() < 0.02, "{late}");
        assert!((t_floor - 11.6).abs() < 1e-9, "{t_floor}");
    }

    #[test]
    fn c_is_the_n_plus_m_minus_1_th_singular_value_of_the_data_imbalance() {
        // X = [I_2 0] (n = 2, D = 3): P_X keeps the first two coordinates of W₁'s rows
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let w1 = DMatrix::from_row_slice(3, 3, &[3.0, 0.0, 5.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        let w2 = DMatrix::from_row_slice(1, 3, &[0.0, 0.0, 1.0]);
        // D_X = diag(9, 4, 0) − diag(0, 0, 1): |eigenvalues| 9, 4, 1; σ_{n+m−1} = σ_2 = 4
        assert!((imbalance_c(&x, &w1, &w2).unwrap() - 4.0).abs() < 1e-12);
    }
}
