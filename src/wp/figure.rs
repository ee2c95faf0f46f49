//! The figure of a work-precision diagram, built from its `wp.json` as a pure function (as
//! [`crate::plot::series`] builds the other figures from their files) and drawn by
//! [`crate::plot::figure`]: two panels, the error of the final weights against the work
//! (gradient-equivalents) and against the wall time, both log–log, one line with markers
//! per method joining its rungs in ladder order (the `ode_solvers` peers dashed, in the
//! colour of gradflow's method of the same name), the legend in the first panel, and the
//! caption naming the command, the configuration's hash, the reference run and the budget.
//! `gradflow plot DIR` redraws it from `DIR/wp.json`.

use serde_json::Value;

use crate::plot::series::{Figure, Line, Panel, Provenance, Scale};

/// The y-axis label of both panels.
pub const ERROR_LABEL: &str = "relative error of the final weights ‖θ − θ_ref‖ / ‖θ_ref‖";
/// The x-axis label of the work panel.
pub const WORK_LABEL: &str = "work (gradient-equivalents: gradients + HVPs)";
/// The x-axis label of the wall-time panel.
pub const WALL_LABEL: &str = "wall time (s)";

/// The colour group of each method: its position among gradflow's methods; a peer takes
/// the group of gradflow's method of the same name when that is drawn too.
fn groups(methods: &[&str]) -> Vec<usize> {
    let ours: Vec<&str> = methods
        .iter()
        .copied()
        .filter(|m| !m.starts_with("ode_solvers/"))
        .collect();
    let mut extra = ours.len();
    methods
        .iter()
        .map(|m| match m.strip_prefix("ode_solvers/") {
            None => ours.iter().position(|o| o == m).unwrap_or(0),
            Some(base) => ours.iter().position(|o| *o == base).unwrap_or_else(|| {
                extra += 1;
                extra - 1
            }),
        })
        .collect()
}

/// Whether a point of `wp.json` belongs on its line: completed, with an error > 0.
fn on_line(p: &Value) -> bool {
    p["status"] == "completed"
        && p["error"]
            .as_f64()
            .is_some_and(|e| e.is_finite() && e > 0.0)
}

/// The methods of the points, in the order of their first point.
fn methods(points: &[Value]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for m in points.iter().filter_map(|p| p["method"].as_str()) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The legend label of a method: its name, and how many of its runs are left out.
fn label(method: &str, pts: &[&Value]) -> String {
    let name = match method.strip_prefix("ode_solvers/") {
        Some(m) => format!("ode_solvers {m} (dashed)"),
        None => method.to_string(),
    };
    let off = pts.iter().filter(|p| !on_line(p)).count();
    if off == 0 {
        name
    } else {
        format!("{name} ({off} of {} not completed)", pts.len())
    }
}

/// The panel of error against the field `x` (`work`, `wall_s`) for every method; with the
/// legend when `legend`.
fn panel(points: &[Value], title: &str, x_label: &str, x: &str, legend: bool) -> Panel {
    let mut p = Panel::new(title, x_label, ERROR_LABEL);
    p.x_scale = Scale::Log;
    p.y_scale = Scale::Log;
    let ms = methods(points);
    for (m, g) in ms.iter().zip(groups(&ms)) {
        let pts: Vec<&Value> = points.iter().filter(|q| q["method"] == *m).collect();
        // the rungs in ladder order (loosest first), as DiffEqDevTools joins them: wall
        // times need not grow with the tolerance
        let mut rungs: Vec<(f64, f64, f64)> = pts
            .iter()
            .filter(|q| on_line(q))
            .filter_map(|q| Some((q["rtol"].as_f64()?, q[x].as_f64()?, q["error"].as_f64()?)))
            .filter(|r| r.1.is_finite() && r.1 > 0.0)
            .collect();
        rungs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let line: Vec<(f64, f64)> = rungs.iter().map(|r| (r.1, r.2)).collect();
        p.lines.push(Line {
            label: if legend {
                label(m, &pts)
            } else {
                String::new()
            },
            points: line.clone(),
            markers: false,
            dashed: m.starts_with("ode_solvers/"),
            group: Some(g),
        });
        p.lines.push(Line {
            label: String::new(),
            points: line,
            markers: true,
            dashed: false,
            group: Some(g),
        });
    }
    p
}

/// The figure `wp` of a parsed `wp.json`: error against work and against wall time.
pub fn wp_figure(report: &Value) -> Figure {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let name = s(&report["name"]);
    let prov = Provenance {
        command: "wp".into(),
        name: name.clone(),
        method: String::new(),
        loss: s(&report["config"]["loss"]),
        config_hash: s(&report["config_hash"]),
    };
    let r = &report["reference"];
    let caption = prov.caption(&format!(
        "reference {} rtol {:.0e} · budget {} gradient-equivalents per run",
        s(&r["method"]),
        r["rtol"].as_f64().unwrap_or(f64::NAN),
        report["rhs_budget"]
    ));
    let rtols: Vec<f64> = report["rtols"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let (lo, hi) = rtols.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(*r), hi.max(*r))
    });
    let points = report["points"].as_array().cloned().unwrap_or_default();
    Figure {
        name: "wp".into(),
        title: format!(
            "Work-precision: {name} (t_end = {}), rtol {hi:.0e} … {lo:.0e}, atol = rtol·{:.0e}",
            report["config"]["t_end"],
            report["atol_factor"].as_f64().unwrap_or(f64::NAN)
        ),
        caption,
        panels: vec![
            panel(&points, "error against work", WORK_LABEL, "work", true),
            panel(
                &points,
                "error against wall time (methods as on the left)",
                WALL_LABEL,
                "wall_s",
                false,
            ),
        ],
    }
}
