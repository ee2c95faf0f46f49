//! Data series for the figures, read from gradflow's output files: the trace
//! (`trace.jsonl`), the run summary and manifest, `verdicts.json`, counterexample reports and
//! `sweep_verdicts.json`. Everything here is a pure function from parsed files to
//! [`Figure`] descriptions (panels of lines, bands and marks); [`super::figure`] draws them.
//! Reading a file is separate from building its series, so the series can be tested on text.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::GradflowError;

/// Axis scale of a panel's y axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic (only positive values are drawn).
    Log,
}

/// A polyline with its legend label.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// The points `(x, y)`, in x order (non-finite values already removed).
    pub points: Vec<(f64, f64)>,
    /// Draw markers at the points instead of a line (e.g. measured sweep points).
    pub markers: bool,
    /// Draw dashed (reference lines: a claimed exponent, a budget).
    pub dashed: bool,
    /// Colour index shared with other lines and bands of the same group (a replicate);
    /// `None`: the next colour.
    pub group: Option<usize>,
}

/// A shaded band between a lower and an upper curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// Legend label.
    pub label: String,
    /// `(x, lower, upper)`, in x order.
    pub points: Vec<(f64, f64, f64)>,
    /// Colour index shared with the lines of the same group; `None`: its own colour.
    pub group: Option<usize>,
}

/// A vertical interval at one x (an error bar: a confidence interval).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBar {
    /// Position.
    pub x: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// A marked position on one axis (a stability boundary, a method switch, a first violation).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Legend label.
    pub label: String,
    /// Position on the axis.
    pub value: f64,
}

/// One panel: axes with labels, the lines, bands and marks drawn in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// x-axis label (with units or convention).
    pub x_label: String,
    /// y-axis label (with units or convention).
    pub y_label: String,
    /// x-axis scale.
    pub x_scale: Scale,
    /// y-axis scale.
    pub y_scale: Scale,
    /// Lines, drawn over the bands.
    pub lines: Vec<Line>,
    /// Shaded bands (budgets, confidence bands).
    pub bands: Vec<Band>,
    /// Error bars (drawn with the first line's colour).
    pub error_bars: Vec<ErrorBar>,
    /// Horizontal marks (y values).
    pub h_marks: Vec<Mark>,
    /// Vertical marks (x values).
    pub v_marks: Vec<Mark>,
    /// Legend in the upper left corner; otherwise in the corner with the fewest points
    /// ([`Panel::legend_corner`]).
    pub legend_left: bool,
}

impl Panel {
    /// An empty panel with its title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            lines: Vec::new(),
            bands: Vec::new(),
            error_bars: Vec::new(),
            h_marks: Vec::new(),
            v_marks: Vec::new(),
            legend_left: false,
        }
    }

    /// The panel's y values (lines, bands, error bars, horizontal marks), for the range.
    pub fn y_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .chain(self.bands.iter().flat_map(|b| {
                b.points.iter().flat_map(|p| [p.1, p.2]) // both edges
            }))
            .chain(self.error_bars.iter().flat_map(|e| [e.lo, e.hi]))
            .chain(self.h_marks.iter().map(|m| m.value))
    }

    /// The corner of the plot the legend covers the fewest line points in, as
    /// `(upper, right)`; upper right on a tie. Positions are taken relative to the ranges
    /// `x` and `y` on the panel's scales.
    pub fn legend_corner(&self, x: (f64, f64), y: (f64, f64)) -> (bool, bool) {
        let rel = |v: f64, (lo, hi): (f64, f64), scale: Scale| match scale {
            Scale::Linear => (v - lo) / (hi - lo),
            Scale::Log => (v.ln() - lo.ln()) / (hi.ln() - lo.ln()),
        };
        let mut count = [0usize; 4]; // upper right, upper left, lower right, lower left
        for l in &self.lines {
            // a two-point line (a fit, a reference) counts along its length
            let pts: Vec<(f64, f64)> = if l.points.len() == 2 && !l.markers {
                let (a, b) = (l.points[0], l.points[1]);
                let (ra, rb) = (
                    (rel(a.0, x, self.x_scale), rel(a.1, y, self.y_scale)),
                    (rel(b.0, x, self.x_scale), rel(b.1, y, self.y_scale)),
                );
                (0..=20)
                    .map(|i| {
                        let s = i as f64 / 20.0;
                        (ra.0 + s * (rb.0 - ra.0), ra.1 + s * (rb.1 - ra.1))
                    })
                    .collect()
            } else {
                l.points
                    .iter()
                    .map(|p| (rel(p.0, x, self.x_scale), rel(p.1, y, self.y_scale)))
                    .collect()
            };
            for (px, py) in pts {
                let (right, left) = (px > 0.5, px < 0.5);
                let (upper, lower) = (py > 0.6, py < 0.4);
                if upper && right {
                    count[0] += 1;
                }
                if upper && left {
                    count[1] += 1;
                }
                if lower && right {
                    count[2] += 1;
                }
                if lower && left {
                    count[3] += 1;
                }
            }
        }
        let best = (0..4).min_by_key(|&i| (count[i], i)).unwrap_or(0);
        (best < 2, best % 2 == 0)
    }

    /// The panel's x values (lines, bands, error bars, vertical marks), for the range.
    pub fn x_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .chain(self.bands.iter().flat_map(|b| b.points.iter().map(|p| p.0)))
            .chain(self.error_bars.iter().map(|e| e.x))
            .chain(self.v_marks.iter().map(|m| m.value))
    }
}

/// A figure: a title, panels laid out in a grid, and a caption line naming the command and
/// the configuration hash.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem of the figure (`run`, `claims`, `counterexample-<id>`, `fit-<id>`, …).
    pub name: String,
    /// Title over the figure.
    pub title: String,
    /// Caption line under the figure.
    pub caption: String,
    /// The panels, row by row.
    pub panels: Vec<Panel>,
}

/// A method switch of an `--method auto` run (an event row of the trace).
#[derive(Clone, Debug, PartialEq)]
pub struct Switch {
    /// Time of the switch.
    pub t: f64,
    /// Method switched from.
    pub from: String,
    /// Method switched to.
    pub to: String,
}

/// A trace (`trace.jsonl`) as columns: step, time, step size and every monitor column, one
/// value per row (`null`, a non-finite value, as NaN), and the method-switch events.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Trace {
    /// Accepted-step index of each row.
    pub step: Vec<u64>,
    /// Time of each row.
    pub t: Vec<f64>,
    /// Step size that led to each row (0 at the initial point).
    pub h: Vec<f64>,
    /// The other numeric columns, by name, each with one value per row.
    pub columns: BTreeMap<String, Vec<f64>>,
    /// Method switches (event rows).
    pub switches: Vec<Switch>,
}

impl Trace {
    /// Parses the text of a trace; `path` names it in errors. A line that is not a JSON
    /// object, a row without a finite `t` or an integer `step`, a non-numeric column, and a
    /// trace without rows are errors naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<Self, GradflowError> {
        let mut tr = Trace::default();
        let data = |msg: String| GradflowError::Data(format!("{}: {msg}", path.display()));
        for (i, line) in text.lines().enumerate() {
            let ln = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).map_err(|e| GradflowError::Json {
                path: format!("{}: line {ln}", path.display()),
                message: e.to_string(),
            })?;
            let Some(obj) = v.as_object() else {
                return Err(data(format!("line {ln}: not a JSON object")));
            };
            let t = obj.get("t").and_then(Value::as_f64);
            let t = match t {
                Some(t) if t.is_finite() => t,
                _ => return Err(data(format!("line {ln}: no finite time \"t\""))),
            };
            if obj.get("event").is_some() {
                if obj["event"] == "method_switch" {
                    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("?").into();
                    tr.switches.push(Switch {
                        t,
                        from: s("from"),
                        to: s("to"),
                    });
                }
                continue;
            }
            let Some(step) = obj.get("step").and_then(Value::as_u64) else {
                return Err(data(format!("line {ln}: no step index \"step\"")));
            };
            let row = tr.t.len();
            for (k, val) in obj {
                if k == "step" || k == "t" {
                    continue;
                }
                let x = match val {
                    Value::Null => f64::NAN,
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    _ => return Err(data(format!("line {ln}: column {k:?} is not a number"))),
                };
                if k == "h" {
                    continue;
                }
                let col = tr
                    .columns
                    .entry(k.clone())
                    .or_insert_with(|| vec![f64::NAN; row]);
                col.resize(row, f64::NAN);
                col.push(x);
            }
            tr.step.push(step);
            tr.t.push(t);
            tr.h.push(obj.get("h").and_then(Value::as_f64).unwrap_or(f64::NAN));
        }
        if tr.t.is_empty() {
            return Err(data("the trace has no rows".into()));
        }
        let n = tr.t.len();
        for col in tr.columns.values_mut() {
            col.resize(n, f64::NAN);
        }
        Ok(tr)
    }

    /// Reads and parses `path` ([`Trace::parse`]).
    pub fn read(path: &Path) -> Result<Self, GradflowError> {
        let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Column `name`, if the trace has it.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.columns.get(name).map(Vec::as_slice)
    }

    /// `(t, y)` pairs of column values `ys` where both are finite (and `y > 0` on a log axis).
    pub fn pairs(&self, ys: &[f64], scale: Scale) -> Vec<(f64, f64)> {
        finite_pairs(&self.t, ys, scale)
    }
}

/// `(x, y)` pairs where both are finite (and `y > 0` when `scale` is [`Scale::Log`]).
pub fn finite_pairs(xs: &[f64], ys: &[f64], scale: Scale) -> Vec<(f64, f64)> {
    xs.iter()
        .zip(ys)
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (scale == Scale::Linear || **y > 0.0))
        .map(|(x, y)| (*x, *y))
        .collect()
}

/// The scale for values `ys`: logarithmic when they are all positive (ignoring non-finite
/// ones and, with `ignore_zero`, zeros) and span more than two decades.
pub fn scale_for(ys: impl IntoIterator<Item = f64>, ignore_zero: bool) -> Scale {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for y in ys.into_iter().filter(|y| y.is_finite()) {
        if y == 0.0 && ignore_zero {
            continue;
        }
        if y <= 0.0 {
            return Scale::Linear;
        }
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if lo.is_finite() && hi / lo > 100.0 {
        Scale::Log
    } else {
        Scale::Linear
    }
}

/// What the caption and titles say about the output set: the command that wrote it, the
/// configuration's name, method, loss convention and hash.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Provenance {
    /// The command recorded in `manifest.json` (`run`, `check`, …), if any.
    pub command: String,
    /// The configuration's name (`summary.json`'s `name`, or the example's).
    pub name: String,
    /// The method (`dopri5`, `auto`, …).
    pub method: String,
    /// The loss convention (`half_sum`, …).
    pub loss: String,
    /// The first 12 hex digits of the SHA-256 of the configuration echo (compact JSON).
    pub config_hash: String,
}

impl Provenance {
    /// From a parsed `summary.json` and, if present, `manifest.json`.
    pub fn from_summary(summary: &Value, manifest: Option<&Value>) -> Self {
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        let config = &summary["config"];
        Self {
            command: manifest.map(|m| s(&m["command"])).unwrap_or_default(),
            name: s(&summary["name"])
                .chars()
                .chain(s(&config["name"]).chars())
                .collect::<String>(),
            method: s(&summary["method"])
                .chars()
                .chain(
                    if summary["method"].is_null() {
                        s(&config["method"])
                    } else {
                        String::new()
                    }
                    .chars(),
                )
                .collect(),
            loss: {
                let l = s(&summary["loss_convention"]);
                if l.is_empty() {
                    s(&config["loss"])
                } else {
                    l
                }
            },
            config_hash: config_hash(config),
        }
    }

    /// From a counterexample report (its `config`, `method`, `loss_convention`).
    pub fn from_report(report: &Value) -> Self {
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        Self {
            command: "check".into(),
            name: s(&report["config"]["name"]),
            method: s(&report["method"]),
            loss: s(&report["loss_convention"]),
            config_hash: config_hash(&report["config"]),
        }
    }

    /// The caption line: `gradflow <command> · <name> · <method> · loss <convention> ·
    /// config sha256 <hash>`, skipping what is unknown.
    pub fn caption(&self, what: &str) -> String {
        let mut parts = vec![format!(
            "gradflow {}",
            if self.command.is_empty() {
                "?"
            } else {
                &self.command
            }
        )];
        for (k, v) in [
            ("", &self.name),
            ("method ", &self.method),
            ("loss ", &self.loss),
            ("config sha256 ", &self.config_hash),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}{v}"));
            }
        }
        parts.push(what.to_string());
        parts.join(" · ")
    }
}

/// The first 12 hex digits of the SHA-256 of `config` as compact JSON ("" for null).
pub fn config_hash(config: &Value) -> String {
    if config.is_null() {
        return String::new();
    }
    let text = serde_json::to_string(config).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The label of the time axis.
pub const T_LABEL: &str = "t (gradient-flow time)";

/// Layer columns `<stem><k>` of the trace (`imbalance_drift_1`, …, not `…_rel_1`), in layer
/// order.
fn layer_columns<'a>(tr: &'a Trace, stem: &str) -> Vec<(usize, &'a str)> {
    let mut v: Vec<(usize, &str)> = tr
        .columns
        .keys()
        .filter_map(|n| {
            let k = n.strip_prefix(stem)?;
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((k.parse().ok()?, n.as_str()))
        })
        .collect();
    v.sort();
    v
}

/// The real-axis stability boundary of `method`'s `h|λ|` (explicit pairs, ROCK4's largest
/// stage count, gradient descent's 2; `None` for A-stable implicit methods). For `auto`, the
/// boundary of its explicit method (DOPRI5).
pub fn stability_boundary(method: &str) -> Option<f64> {
    use crate::config::Method;
    let m: Method = serde_json::from_value(Value::String(method.into())).ok()?;
    match m {
        Method::Auto => Method::Dopri5.tableau().map(|t| t.stability_boundary),
        Method::Gd => Some(2.0),
        Method::Rock4 => Some(crate::integrate::rock::stability_bound(
            crate::integrate::rock::MAX_STAGES,
        )),
        m => m.tableau().map(|t| t.stability_boundary),
    }
}

/// Budget columns of claims about imbalances written by a check's trace (`budget:<id>` with
/// `imbalance` in the id).
fn imbalance_budgets(tr: &Trace) -> Vec<(&str, &[f64])> {
    tr.columns
        .iter()
        .filter_map(|(n, v)| {
            let id = n.strip_prefix(BUDGET_PREFIX)?;
            id.contains("imbalance_conserved")
                .then_some((id, v.as_slice()))
        })
        .collect()
}

/// Prefix of a claim's slack column in a check's trace.
pub const SLACK_PREFIX: &str = "slack:";
/// Prefix of a claim's budget column in a check's trace.
pub const BUDGET_PREFIX: &str = "budget:";

/// The standard panels of a run's trace: the loss; the gradient norm; the imbalance drifts
/// (with the budget of an imbalance claim when a check's trace carries it); the step size,
/// and `h|λ|` with the method's stability boundary when the trace has it (method switches
/// marked on both); the sharpness when monitored. `t` is on every x axis.
pub fn run_figure(tr: &Trace, prov: &Provenance) -> Figure {
    let mut panels = Vec::new();
    let loss_label = if prov.loss.is_empty() {
        "L(t)".to_string()
    } else {
        format!("L(t), convention {}", prov.loss)
    };
    if let Some(loss) = tr.column("loss") {
        let mut p = Panel::new("loss", T_LABEL, &loss_label);
        p.y_scale = scale_for(loss.iter().copied(), false);
        p.lines.push(line("L(t)", tr.pairs(loss, p.y_scale)));
        panels.push(p);
    }
    if let Some(g2) = tr.column("grad_norm_sq") {
        let g: Vec<f64> = g2.iter().map(|v| v.sqrt()).collect();
        let mut p = Panel::new("gradient norm", T_LABEL, "‖∇L(θ)‖ (Frobenius, all layers)");
        p.y_scale = scale_for(g.iter().copied(), false);
        p.lines.push(line("‖∇L‖", tr.pairs(&g, p.y_scale)));
        panels.push(p);
    }
    let drifts = layer_columns(tr, "imbalance_drift_");
    let extra: Vec<&str> = ["projected_imbalance_drift", "null_space_drift"]
        .into_iter()
        .filter(|c| tr.column(c).is_some())
        .collect();
    if !drifts.is_empty() || !extra.is_empty() {
        let mut p = Panel::new(
            "conserved quantities: drift from t = 0",
            T_LABEL,
            "drift (Frobenius norm)",
        );
        p.y_scale = Scale::Log;
        for (k, name) in &drifts {
            p.lines.push(line(
                &format!(
                    "‖D_{k}(t) − D_{k}(0)‖, D_{k} = W_{}ᵀW_{} − W_{k}W_{k}ᵀ",
                    k + 1,
                    k + 1
                ),
                tr.pairs(&tr.columns[*name], Scale::Log),
            ));
        }
        for name in extra {
            p.lines
                .push(line(name, tr.pairs(&tr.columns[name], Scale::Log)));
        }
        for (id, b) in imbalance_budgets(tr) {
            p.bands.push(Band {
                label: format!("error budget of {id}"),
                points: tr
                    .t
                    .iter()
                    .zip(b)
                    .filter(|(t, b)| t.is_finite() && b.is_finite() && **b > 0.0)
                    .map(|(t, b)| (*t, 0.0, *b))
                    .collect(),
                group: None,
            });
        }
        panels.push(p);
    }
    let switches: Vec<Mark> = tr
        .switches
        .iter()
        .map(|s| Mark {
            label: format!("switch {} → {}", s.from, s.to),
            value: s.t,
        })
        .collect();
    {
        // the initial row has h = 0: not a step
        let hs: Vec<f64> =
            tr.h.iter()
                .map(|h| if *h > 0.0 { *h } else { f64::NAN })
                .collect();
        let mut p = Panel::new("step size", T_LABEL, "accepted step size h");
        p.y_scale = scale_for(hs.iter().copied(), false);
        p.lines.push(line("h", tr.pairs(&hs, p.y_scale)));
        p.v_marks = switches.clone();
        panels.push(p);
    }
    // gradient descent does not estimate h|λ| (its column is 0); with the sharpness
    // monitor, h·λ_max (`h_sharpness`) is the quantity its stability is about
    let nonzero = |c: &&[f64]| c.iter().any(|v| v.is_finite() && *v != 0.0);
    let hl = tr.column("h_lambda").filter(nonzero);
    let hs = tr.column("h_sharpness").filter(nonzero);
    if hl.is_some() || hs.is_some() {
        let steps = |c: &[f64]| -> Vec<f64> {
            c.iter()
                .zip(&tr.h)
                .map(|(v, h)| if *h > 0.0 { *v } else { f64::NAN })
                .collect()
        };
        let mut p = Panel::new(
            "stiffness estimate",
            T_LABEL,
            "h·|λ| (λ: the step's stiffness estimate)",
        );
        if let Some(hl) = hl {
            p.lines
                .push(line("h·|λ|", tr.pairs(&steps(hl), Scale::Linear)));
        }
        if let Some(hs) = hs {
            p.lines.push(line(
                "h·λ_max (sharpness monitor)",
                tr.pairs(&steps(hs), Scale::Linear),
            ));
        }
        if let Some(b) = stability_boundary(&prov.method) {
            let of = if prov.method == "auto" {
                "dopri5, auto's explicit method".to_string()
            } else {
                prov.method.clone()
            };
            p.h_marks.push(Mark {
                label: format!("real-axis stability boundary of {of} ({b:.3})"),
                value: b,
            });
        }
        p.y_scale = scale_for(p.y_values(), true);
        if p.y_scale == Scale::Log {
            for l in &mut p.lines {
                l.points.retain(|q| q.1 > 0.0);
            }
        }
        p.v_marks = switches;
        panels.push(p);
    }
    if let Some(s) = tr.column("sharpness") {
        let mut p = Panel::new("sharpness", T_LABEL, "λ_max(∇²L) (Lanczos)");
        p.lines.push(line("λ_max", tr.pairs(s, Scale::Linear)));
        if let Some(m) = tr.column("sharpness_min") {
            p.lines.push(line("λ_min", tr.pairs(m, Scale::Linear)));
        }
        p.y_scale = scale_for(p.y_values(), false);
        panels.push(p);
    }
    Figure {
        name: "run".into(),
        title: format!("{} — trajectory", title_name(prov)),
        caption: prov.caption(&format!("{} trace rows", tr.t.len())),
        panels,
    }
}

fn title_name(prov: &Provenance) -> String {
    if prov.name.is_empty() {
        "gradflow".into()
    } else {
        prov.name.clone()
    }
}

fn line(label: &str, points: Vec<(f64, f64)>) -> Line {
    Line {
        label: label.into(),
        points,
        markers: false,
        dashed: false,
        group: None,
    }
}

/// What `verdicts.json` says of one claim, for its panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimSummary {
    /// The claim's id.
    pub id: String,
    /// Its name in the trace's columns: the id, with `#2`, `#3`, … for a repeated id.
    pub key: String,
    /// `inequality` or `identity`.
    pub form: String,
    /// The verdict.
    pub verdict: String,
    /// Time of the first violation, if violated.
    pub first_violation: Option<f64>,
}

/// The claims of a parsed `verdicts.json`.
pub fn claim_summaries(verdicts: &Value) -> Vec<ClaimSummary> {
    let mut seen: Vec<String> = Vec::new();
    verdicts["verdicts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| ClaimSummary {
                    id: v["info"]["id"].as_str().unwrap_or("?").into(),
                    key: {
                        let id = v["info"]["id"].as_str().unwrap_or("?").to_string();
                        let k = seen.iter().filter(|s| **s == id).count();
                        seen.push(id.clone());
                        if k == 0 {
                            id
                        } else {
                            format!("{id}#{}", k + 1)
                        }
                    },
                    form: v["info"]["form"].as_str().unwrap_or("inequality").into(),
                    verdict: v["verdict"].as_str().unwrap_or("?").into(),
                    first_violation: v["first_violation"]["t"].as_f64(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One panel per checked claim whose slack the trace carries (`slack:<id>`, `budget:<id>`
/// columns, written by `gradflow check --trace every=N`): for an inequality the slack
/// `rhs − lhs` against `t` with the band `±budget` (a violation is a slack below
/// `−budget`); for an identity `|lhs − rhs|` on a log axis with the band `[0, budget]`. The
/// first violation is marked. `None` when the trace has no slack columns.
pub fn claims_figure(tr: &Trace, claims: &[ClaimSummary], prov: &Provenance) -> Option<Figure> {
    let mut panels = Vec::new();
    for c in claims {
        let (Some(slack), Some(budget)) = (
            tr.column(&format!("{SLACK_PREFIX}{}", c.key)),
            tr.column(&format!("{BUDGET_PREFIX}{}", c.key)),
        ) else {
            continue;
        };
        let identity = c.form == "identity";
        let title = format!("{} — {}", c.key, c.verdict);
        let mut p = if identity {
            Panel::new(&title, T_LABEL, "|lhs − rhs| (identity)")
        } else {
            Panel::new(&title, T_LABEL, "slack rhs − lhs (inequality)")
        };
        let vals: Vec<f64> = if identity {
            slack.iter().map(|s| s.abs()).collect()
        } else {
            slack.to_vec()
        };
        let band: Vec<(f64, f64, f64)> =
            tr.t.iter()
                .zip(budget)
                .filter(|(t, b)| t.is_finite() && b.is_finite())
                .map(|(t, b)| {
                    if identity {
                        (*t, 0.0, *b)
                    } else {
                        (*t, -b, *b)
                    }
                })
                .collect();
        // a statement evaluated at fewer than two rows (an end-of-run statement, one whose
        // hypotheses fail) has no series to draw
        if tr.pairs(&vals, Scale::Linear).len() < 2 {
            continue;
        }
        // an identity's deviation, and an inequality's slack when it stays positive, are
        // drawn on a log axis when they span decades
        p.y_scale = scale_for(
            vals.iter().copied().chain(band.iter().map(|b| b.2)),
            identity,
        );
        p.bands.push(Band {
            label: "error budget".into(),
            points: band,
            group: None,
        });
        let label = if identity { "|lhs − rhs|" } else { "slack" };
        p.lines.push(line(label, tr.pairs(&vals, p.y_scale)));
        if let Some(t) = c.first_violation.filter(|_| c.verdict == "violated") {
            p.v_marks.push(Mark {
                label: format!("first violation t = {t:.4e}"),
                value: t,
            });
        }
        panels.push(p);
    }
    (!panels.is_empty()).then(|| Figure {
        name: "claims".into(),
        title: format!("{} — claims along the run", title_name(prov)),
        caption: prov.caption(&if panels.len() == claims.len() {
            format!("{} claims", panels.len())
        } else {
            format!(
                "{} of {} claims (the others have no series along the run: evaluated at the \
                 end, or not applicable)",
                panels.len(),
                claims.len()
            )
        }),
        panels,
    })
}

/// The figure of a counterexample report: lhs and rhs of the statement against `t` over
/// the report's trajectory excerpt (around the first violation), with the first violation
/// marked; and the slack with its budget band.
pub fn counterexample_figure(report: &Value) -> Result<Figure, String> {
    let claim = &report["claim"];
    let id = claim["info"]["id"].as_str().unwrap_or("claim").to_string();
    let rows = claim["excerpt"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("the report has no trajectory excerpt (\"claim.excerpt\")")?;
    let get = |r: &Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let ts: Vec<f64> = rows.iter().map(|r| get(r, "t")).collect();
    let lhs: Vec<f64> = rows.iter().map(|r| get(r, "lhs")).collect();
    let rhs: Vec<f64> = rows.iter().map(|r| get(r, "rhs")).collect();
    let slack: Vec<f64> = rows.iter().map(|r| get(r, "slack")).collect();
    let budget: Vec<f64> = rows.iter().map(|r| get(r, "budget")).collect();
    if ts.iter().any(|t| !t.is_finite()) {
        return Err("the excerpt has a row without a finite time".into());
    }
    let identity = claim["info"]["form"] == "identity";
    let first = claim["first_violation"]["t"].as_f64();
    let mark = first.map(|t| Mark {
        label: format!("first violation t = {t:.6e}"),
        value: t,
    });
    let mut sides = Panel::new(
        &format!("{id}: both sides"),
        T_LABEL,
        if identity {
            "lhs, rhs (statement lhs = rhs)"
        } else {
            "lhs, rhs (statement lhs ≤ rhs)"
        },
    );
    sides.y_scale = scale_for(lhs.iter().chain(&rhs).copied(), false);
    sides
        .lines
        .push(line("lhs", finite_pairs(&ts, &lhs, sides.y_scale)));
    sides
        .lines
        .push(line("rhs", finite_pairs(&ts, &rhs, sides.y_scale)));
    if let Some(at) = claim["first_violation"]["at_root"].as_object() {
        for (k, label) in [("lhs", "lhs at the root-found violation")] {
            if let (Some(t), Some(v)) = (at["t"].as_f64(), at[k].as_f64()) {
                sides.lines.push(Line {
                    label: label.into(),
                    points: vec![(t, v)],
                    markers: true,
                    dashed: false,
                    group: None,
                });
            }
        }
    }
    sides.v_marks.extend(mark.clone());
    let mut sl = Panel::new(
        &format!("{id}: slack and budget"),
        T_LABEL,
        if identity {
            "rhs − lhs (violated beyond ±budget)"
        } else {
            "slack rhs − lhs (violated below −budget)"
        },
    );
    sl.bands.push(Band {
        label: "±error budget".into(),
        points: ts
            .iter()
            .zip(&budget)
            .filter(|(_, b)| b.is_finite())
            .map(|(t, b)| (*t, -b, *b))
            .collect(),
        group: None,
    });
    sl.lines
        .push(line("slack", finite_pairs(&ts, &slack, Scale::Linear)));
    sl.v_marks.extend(mark);
    let prov = Provenance::from_report(report);
    Ok(Figure {
        name: format!("counterexample-{id}"),
        title: format!(
            "counterexample: {id} ({})",
            claim["verdict"].as_str().unwrap_or("?")
        ),
        caption: prov.caption(&format!("excerpt of {} rows", ts.len())),
        panels: vec![sides, sl],
    })
}

/// The figures of `sweep_verdicts.json`: for each power-law claim (details rows with `x`
/// and `q`), the log–log points per replicate, the fitted line per replicate (the common
/// slope `b̂` through each replicate's mean point), the band of slopes in its confidence
/// interval and the claimed exponent; for each violation-frequency claim (details rows
/// with `delta` and `clopper_pearson`), the observed frequency with its Clopper–Pearson
/// interval against `δ` and the line `frequency = δ`.
pub fn sweep_figures(verdicts: &Value, caption: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    let claims = verdicts["claims"]
        .as_array()
        .or_else(|| verdicts["verdicts"].as_array())
        .cloned()
        .unwrap_or_default();
    for c in &claims {
        let id = c["info"]["id"]
            .as_str()
            .unwrap_or("sweep claim")
            .to_string();
        // a claim id may repeat (one generic claim with several parameter sets)
        let k = claims
            .iter()
            .take_while(|o| !std::ptr::eq(*o, c))
            .filter(|o| o["info"]["id"] == c["info"]["id"])
            .count();
        let id = if k == 0 {
            id
        } else {
            format!("{id}#{}", k + 1)
        };
        let details = c["details"].as_array().cloned().unwrap_or_default();
        if details
            .iter()
            .any(|d| d.get("q").is_some() && d.get("x").is_some())
        {
            if let Some(f) = fit_figure(&id, c, &details, caption) {
                out.push(f);
            }
        } else if details.iter().any(|d| d.get("clopper_pearson").is_some()) {
            out.push(frequency_figure(&id, c, &details, caption));
        }
    }
    out
}

fn fit_figure(id: &str, c: &Value, details: &[Value], caption: &str) -> Option<Figure> {
    let axis = c["params"]["axis"]
        .as_str()
        .map(str::to_string)
        .or_else(|| fitted_axis(details))
        .unwrap_or_else(|| "x".into());
    // replicate = the coordinates other than the fitted axis
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for d in details {
        let (Some(x), Some(q)) = (d["x"].as_f64(), d["q"].as_f64()) else {
            continue;
        };
        if !(x > 0.0 && q > 0.0 && x.is_finite() && q.is_finite()) {
            continue;
        }
        let rest: Vec<String> = d["coords"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p[0].as_str() != Some(axis.as_str()))
                    .map(|p| format!("{} = {}", p[0].as_str().unwrap_or("?"), p[1]))
                    .collect()
            })
            .unwrap_or_default();
        let key = if rest.is_empty() {
            "all points".to_string()
        } else {
            rest.join(", ")
        };
        groups.entry(key).or_default().push((x, q));
    }
    if groups.is_empty() {
        return None;
    }
    let slope = c["estimate"].as_f64();
    let ci = [c["interval"][0].as_f64(), c["interval"][1].as_f64()];
    let claimed = c["target"].as_f64();
    let mut p = Panel::new(
        &format!("{id}: fitted exponent{}", params_note(c)),
        &format!("{axis} (log scale)"),
        &format!(
            "q = {} at t_end (log scale)",
            c["params"]["of"]["id"]
                .as_str()
                .map_or("measured quantity".to_string(), |m| format!("lhs of {m}"))
        ),
    );
    p.x_scale = Scale::Log;
    p.y_scale = Scale::Log;
    let (mut all_lx, mut all_ly, mut n) = (0.0, 0.0, 0.0);
    let level = c["params"]["confidence"].as_f64().unwrap_or(0.95) * 100.0;
    for (gi, (g, pts)) in groups.iter().enumerate() {
        let mut pts = pts.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        p.lines.push(Line {
            label: format!("measured, {g}"),
            points: pts.clone(),
            markers: true,
            dashed: false,
            group: Some(gi),
        });
        let m = pts.len() as f64;
        let mx = pts.iter().map(|q| q.0.ln()).sum::<f64>() / m;
        let my = pts.iter().map(|q| q.1.ln()).sum::<f64>() / m;
        all_lx += mx * m;
        all_ly += my * m;
        n += m;
        let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
        let at = |b: f64, x: f64| (my + b * (x.ln() - mx)).exp();
        // one legend entry for the fitted lines and one for the bands (same slope for all)
        if let Some(b) = slope.filter(|b| b.is_finite()) {
            p.lines.push(Line {
                label: if gi == 0 {
                    format!("fitted exponent {b:.3} (one intercept per replicate)")
                } else {
                    String::new()
                },
                points: vec![(x0, at(b, x0)), (x1, at(b, x1))],
                markers: false,
                dashed: false,
                group: Some(gi),
            });
        }
        if let [Some(lo), Some(hi)] = ci {
            if lo.is_finite() && hi.is_finite() {
                let xs: Vec<f64> = (0..=20)
                    .map(|i| (x0.ln() + (x1.ln() - x0.ln()) * i as f64 / 20.0).exp())
                    .collect();
                p.bands.push(Band {
                    label: if gi == 0 {
                        format!("slopes in its {level:.0} % interval [{lo:.3}, {hi:.3}]")
                    } else {
                        String::new()
                    },
                    points: xs
                        .iter()
                        .map(|&x| {
                            let (a, b) = (at(lo, x), at(hi, x));
                            (x, a.min(b), a.max(b))
                        })
                        .collect(),
                    group: Some(gi),
                });
            }
        }
    }
    p.legend_left = slope.is_some_and(|b| b > 0.0);
    if let Some(b) = claimed.filter(|b| b.is_finite()) {
        let (mx, my) = (all_lx / n, all_ly / n);
        let xs = p.x_values().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        p.lines.push(Line {
            label: format!("claimed exponent {b}"),
            points: vec![
                (xs.0, (my + b * (xs.0.ln() - mx)).exp()),
                (xs.1, (my + b * (xs.1.ln() - mx)).exp()),
            ],
            markers: false,
            dashed: true,
            group: None,
        });
    }
    Some(Figure {
        name: format!("fit-{id}"),
        title: format!(
            "{id}: {} (fitted exponent {}, claimed {})",
            c["verdict"].as_str().unwrap_or("?"),
            slope.map_or("?".into(), |b| format!("{b:.3}")),
            claimed.map_or("?".into(), |b| format!("{b}")),
        ),
        caption: caption.into(),
        panels: vec![p],
    })
}

/// The claim's parameters as ` (params {…})`, or nothing.
fn params_note(c: &Value) -> String {
    match c["params"].as_object() {
        Some(m) if !m.is_empty() => {
            let text = serde_json::to_string(&c["params"]).unwrap_or_default();
            let short: String = text.chars().take(90).collect();
            let more = if short.len() < text.len() { "…" } else { "" };
            format!(" ({short}{more})")
        }
        _ => String::new(),
    }
}

/// The coordinate whose value is the fitted `x` at every row (when the claim's parameters
/// do not name the axis).
fn fitted_axis(details: &[Value]) -> Option<String> {
    let first = details.first()?["coords"].as_array()?;
    first
        .iter()
        .filter_map(|p| p[0].as_str())
        .find(|name| {
            details.iter().all(|d| {
                d["coords"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|p| p[0].as_str() == Some(name) && p[1].as_f64() == d["x"].as_f64())
                })
            })
        })
        .map(str::to_string)
}

fn frequency_figure(id: &str, c: &Value, details: &[Value], caption: &str) -> Figure {
    let mut p = Panel::new(
        &format!("{id}: violation frequency{}", params_note(c)),
        "δ (claimed bound on P(violation))",
        "violation frequency, Clopper–Pearson limits",
    );
    let mut pts = Vec::new();
    for d in details {
        let (Some(delta), Some(f)) = (d["delta"].as_f64(), d["frequency"].as_f64()) else {
            continue;
        };
        pts.push((delta, f));
        if let (Some(lo), Some(hi)) = (
            d["clopper_pearson"][0].as_f64(),
            d["clopper_pearson"][1].as_f64(),
        ) {
            p.error_bars.push(ErrorBar { x: delta, lo, hi });
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let points = details
        .iter()
        .find_map(|d| d["points"].as_u64())
        .unwrap_or(0);
    p.lines.push(Line {
        label: format!("observed frequency ({points} points)"),
        points: pts.clone(),
        markers: true,
        dashed: false,
        group: None,
    });
    if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
        p.lines.push(Line {
            label: "frequency = δ".into(),
            points: vec![(0.0f64.min(a.0), 0.0f64.min(a.0)), (b.0, b.0)],
            markers: false,
            dashed: true,
            group: None,
        });
    }
    Figure {
        name: format!("frequency-{id}"),
        title: format!("{id}: {}", c["verdict"].as_str().unwrap_or("?")),
        caption: caption.into(),
        panels: vec![p],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trace(text: &str) -> Result<Trace, GradflowError> {
        Trace::parse(text, Path::new("o/trace.jsonl"))
    }

    const RUN: &str = r#"{"step":0,"t":0e0,"h":0e0,"h_lambda":0e0,"loss":1e2,"grad_norm_sq":4e0,"imbalance_drift_1":0e0,"imbalance_drift_rel_1":0e0,"imbalance_drift_2":0e0,"null_space_drift":null}
{"step":10,"t":1e-1,"h":1e-2,"h_lambda":2e0,"loss":1e0,"grad_norm_sq":1e0,"imbalance_drift_1":1e-12,"imbalance_drift_rel_1":1e-13,"imbalance_drift_2":2e-12,"null_space_drift":1e-15}
{"event":"method_switch","step":15,"t":1.5e-1,"from":"dopri5","to":"radau5","reason":"stability_limited","h_lambda":3.2e0}
{"step":20,"t":1e0,"h":5e-1,"h_lambda":4e1,"loss":1e-3,"grad_norm_sq":1e-4,"imbalance_drift_1":2e-12,"imbalance_drift_rel_1":2e-13,"imbalance_drift_2":3e-12,"null_space_drift":2e-15}
"#;

    fn prov(method: &str) -> Provenance {
        Provenance {
            command: "run".into(),
            name: "ex".into(),
            method: method.into(),
            loss: "half_sum".into(),
            config_hash: "0123456789ab".into(),
        }
    }

    #[test]
    fn a_trace_parses_into_columns_with_null_as_nan_and_events_apart() {
        let tr = trace(RUN).unwrap();
        assert_eq!(tr.step, vec![0, 10, 20]);
        assert_eq!(tr.t, vec![0.0, 0.1, 1.0]);
        assert_eq!(tr.h, vec![0.0, 0.01, 0.5]);
        assert!(tr.column("null_space_drift").unwrap()[0].is_nan());
        assert_eq!(tr.column("loss").unwrap(), &[1e2, 1.0, 1e-3]);
        assert_eq!(
            tr.switches,
            vec![Switch {
                t: 0.15,
                from: "dopri5".into(),
                to: "radau5".into()
            }]
        );
        // a column that appears late is NaN before
        let tr = trace("{\"step\":0,\"t\":0}\n{\"step\":1,\"t\":1,\"x\":2}\n").unwrap();
        assert!(tr.column("x").unwrap()[0].is_nan());
        assert_eq!(tr.column("x").unwrap()[1], 2.0);
    }

    #[test]
    fn bad_traces_are_one_line_errors_naming_the_file_and_line() {
        let cases = [
            ("", "no rows"),
            ("{\"step\":0,\"t\":NaN}\n", "line 1"),
            (
                "{\"step\":0,\"t\":0}\n{\"step\":1}\n",
                "line 2: no finite time",
            ),
            ("[1,2]\n", "not a JSON object"),
            (
                "{\"step\":0,\"t\":0,\"loss\":\"x\"}\n",
                "\"loss\" is not a number",
            ),
            ("{\"t\":0}\n", "no step index"),
        ];
        for (text, want) in cases {
            let e = trace(text).unwrap_err().to_string();
            assert!(e.contains("o/trace.jsonl") && e.contains(want), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn run_panels_are_loss_gradient_drifts_step_size_and_stiffness() {
        let tr = trace(RUN).unwrap();
        let f = run_figure(&tr, &prov("dopri5"));
        let titles: Vec<&str> = f.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "loss",
                "gradient norm",
                "conserved quantities: drift from t = 0",
                "step size",
                "stiffness estimate"
            ]
        );
        // loss spans 5 decades: log scale, every point
        assert_eq!(f.panels[0].y_scale, Scale::Log);
        assert_eq!(
            f.panels[0].lines[0].points,
            vec![(0.0, 1e2), (0.1, 1.0), (1.0, 1e-3)]
        );
        // ‖∇L‖ = sqrt(grad_norm_sq)
        assert_eq!(
            f.panels[1].lines[0].points,
            vec![(0.0, 2.0), (0.1, 1.0), (1.0, 1e-2)]
        );
        // one line per layer pair (not the relative drifts) and the null-space drift; the
        // zero drifts at t = 0 cannot be drawn on the log axis
        let drift = &f.panels[2];
        assert_eq!(drift.lines.len(), 3);
        assert!(drift.lines[0].label.starts_with("‖D_1(t) − D_1(0)‖"));
        assert_eq!(drift.lines[0].points, vec![(0.1, 1e-12), (1.0, 2e-12)]);
        assert_eq!(drift.lines[2].label, "null_space_drift");
        // the initial row (h = 0) is no step; the switch is marked
        let h = &f.panels[3];
        assert_eq!(h.lines[0].points, vec![(0.1, 0.01), (1.0, 0.5)]);
        assert_eq!(h.v_marks.len(), 1);
        assert_eq!(h.v_marks[0].value, 0.15);
        // h|λ| with DOPRI5's real-axis stability boundary
        let s = &f.panels[4];
        assert_eq!(s.lines[0].points, vec![(0.1, 2.0), (1.0, 40.0)]);
        assert!((s.h_marks[0].value - 3.306_567_892_634_95).abs() < 1e-12);
        assert!(f.caption.contains("gradflow run") && f.caption.contains("0123456789ab"));
    }

    #[test]
    fn stability_boundaries_follow_the_method() {
        assert!((stability_boundary("dop853").unwrap() - 6.393_651_522_851_06).abs() < 1e-12);
        assert_eq!(stability_boundary("auto"), stability_boundary("dopri5"));
        assert_eq!(stability_boundary("gd"), Some(2.0));
        assert_eq!(stability_boundary("radau5"), None);
        assert_eq!(stability_boundary("nonsense"), None);
        // no stiffness panel for an implicit method without h_lambda, nor for gd's zeros
        let tr = trace("{\"step\":0,\"t\":0,\"h\":0,\"h_lambda\":0,\"loss\":1}\n{\"step\":1,\"t\":1,\"h\":1,\"h_lambda\":0,\"loss\":0.5}\n").unwrap();
        let f = run_figure(&tr, &prov("gd"));
        assert!(f.panels.iter().all(|p| p.title != "stiffness estimate"));
    }

    fn verdicts() -> Value {
        json!({"verdicts": [
            {"info": {"id": "a.identity", "form": "identity"}, "verdict": "violated",
             "first_violation": {"t": 0.5}},
            {"info": {"id": "b.ineq", "form": "inequality"}, "verdict": "holds"},
            {"info": {"id": "b.ineq", "form": "inequality"}, "verdict": "not_applicable",
             "first_violation": {"t": 0.0}},
            {"info": {"id": "c.at_end", "form": "inequality"}, "verdict": "holds"},
        ]})
    }

    #[test]
    fn claim_panels_draw_slack_with_the_budget_band_and_mark_the_first_violation() {
        let text = r#"{"step":0,"t":0,"h":0,"slack:a.identity":0,"budget:a.identity":1e-9,"slack:b.ineq":2,"budget:b.ineq":0.1,"slack:b.ineq#2":-1,"budget:b.ineq#2":0.1,"slack:c.at_end":null,"budget:c.at_end":null}
{"step":5,"t":1,"h":1,"slack:a.identity":-1e-3,"budget:a.identity":2e-9,"slack:b.ineq":-0.05,"budget:b.ineq":0.1,"slack:b.ineq#2":null,"budget:b.ineq#2":null,"slack:c.at_end":null,"budget:c.at_end":null}
"#;
        let tr = trace(text).unwrap();
        let claims = claim_summaries(&verdicts());
        assert_eq!(claims[2].key, "b.ineq#2");
        let f = claims_figure(&tr, &claims, &prov("dopri5")).unwrap();
        // c.at_end and the second b.ineq (one evaluation) have no series
        assert_eq!(f.panels.len(), 2);
        assert!(f.caption.contains("2 of 4 claims"));
        let id = &f.panels[0];
        assert_eq!(id.y_label, "|lhs − rhs| (identity)");
        assert_eq!(id.lines[0].points, vec![(1.0, 1e-3)]); // 0 is off the log axis
        assert_eq!(id.y_scale, Scale::Log);
        assert_eq!(id.bands[0].points, vec![(0.0, 0.0, 1e-9), (1.0, 0.0, 2e-9)]);
        assert_eq!(id.v_marks[0].value, 0.5);
        let ineq = &f.panels[1];
        assert_eq!(ineq.y_scale, Scale::Linear);
        assert_eq!(ineq.lines[0].points, vec![(0.0, 2.0), (1.0, -0.05)]);
        assert_eq!(
            ineq.bands[0].points,
            vec![(0.0, -0.1, 0.1), (1.0, -0.1, 0.1)]
        );
        assert!(ineq.v_marks.is_empty());
        // a trace without slack columns has no claims figure
        assert!(claims_figure(&trace(RUN).unwrap(), &claims, &prov("x")).is_none());
    }

    #[test]
    fn a_counterexample_figure_has_both_sides_and_the_slack_around_the_violation() {
        let report = json!({
            "kind": "gradflow_counterexample", "method": "dopri5", "loss_convention": "half_sum",
            "config": {"seed": 1},
            "claim": {
                "info": {"id": "x.y", "form": "inequality"}, "verdict": "violated",
                "first_violation": {"t": 1.5, "at_root": {"t": 1.5, "lhs": 2.0, "rhs": 2.0}},
                "excerpt": [
                    {"step": 1, "t": 1.0, "lhs": 1.0, "rhs": 2.0, "slack": 1.0, "budget": 0.1},
                    {"step": 2, "t": 2.0, "lhs": 3.0, "rhs": 2.0, "slack": -1.0, "budget": 0.1}
                ]
            }
        });
        let f = counterexample_figure(&report).unwrap();
        assert_eq!(f.name, "counterexample-x.y");
        assert_eq!(f.panels.len(), 2);
        let sides = &f.panels[0];
        assert_eq!(sides.lines[0].points, vec![(1.0, 1.0), (2.0, 3.0)]);
        assert_eq!(sides.lines[1].points, vec![(1.0, 2.0), (2.0, 2.0)]);
        assert_eq!(sides.lines[2].points, vec![(1.5, 2.0)]);
        assert_eq!(sides.v_marks[0].value, 1.5);
        assert_eq!(f.panels[1].lines[0].points, vec![(1.0, 1.0), (2.0, -1.0)]);
        assert_eq!(f.panels[1].bands[0].points[0], (1.0, -0.1, 0.1));
        assert!(f.caption.contains(&config_hash(&json!({"seed": 1}))));
        let mut bad = report.clone();
        bad["claim"]["excerpt"] = json!([]);
        assert!(counterexample_figure(&bad).is_err());
    }

    #[test]
    fn sweep_figures_fit_per_replicate_and_frequencies_with_intervals() {
        let row = |a: f64, seed: u64, q: f64| json!({"coords": [["init.alpha", a], ["seed", seed]], "x": a, "q": q, "budget": 1e-9});
        let v = json!({"sweep": "s", "verdicts": [
            {"info": {"id": "sweep.power_law"}, "verdict": "holds",
             "params": {"axis": "init.alpha", "exponent": 1},
             "estimate": 1.0, "interval": [0.9, 1.1], "target": 1.0,
             "details": [row(0.1, 1, 1.0), row(0.01, 1, 0.1), row(0.1, 2, 2.0), row(0.01, 2, 0.2)]},
            {"info": {"id": "sweep.power_law"}, "verdict": "violated",
             "params": {"exponent": 2},
             "estimate": 1.0, "interval": [0.9, 1.1], "target": 2.0,
             "details": [row(0.1, 1, 1.0), row(0.01, 1, 0.1)]},
            {"info": {"id": "gol24.thm5_2.violation_frequency"}, "verdict": "holds",
             "details": [
                {"delta": 0.5, "points": 30, "frequency": 0.0, "clopper_pearson": [0.0, 0.095]},
                {"delta": 0.2, "points": 30, "frequency": 0.1, "clopper_pearson": [0.03, 0.24]}
             ]}
        ]});
        let figs = sweep_figures(&v, "cap");
        let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fit-sweep.power_law",
                "fit-sweep.power_law#2",
                "frequency-gol24.thm5_2.violation_frequency"
            ]
        );
        let p = &figs[0].panels[0];
        assert_eq!((p.x_scale, p.y_scale), (Scale::Log, Scale::Log));
        assert_eq!(p.x_label, "init.alpha (log scale)");
        // per replicate: points, fitted line; one band each; then the claimed exponent
        let markers: Vec<&Line> = p.lines.iter().filter(|l| l.markers).collect();
        assert_eq!(markers.len(), 2);
        assert_eq!(markers[0].label, "measured, seed = 1");
        assert_eq!(markers[0].points, vec![(0.01, 0.1), (0.1, 1.0)]);
        assert_eq!(p.bands.len(), 2);
        let fit = &p.lines[1];
        assert_eq!(fit.group, Some(0));
        // slope 1 through the replicate's mean point passes through its points here
        for (x, y) in &fit.points {
            assert!((y / x - 10.0).abs() < 1e-9, "{x} {y}");
        }
        let claimed = p.lines.last().unwrap();
        assert!(claimed.dashed && claimed.label == "claimed exponent 1");
        // the axis is found from the coordinates when the parameters do not name it
        assert_eq!(figs[1].panels[0].x_label, "init.alpha (log scale)");
        let fr = &figs[2].panels[0];
        assert_eq!(fr.lines[0].points, vec![(0.2, 0.1), (0.5, 0.0)]);
        assert_eq!(fr.error_bars.len(), 2);
        assert_eq!(
            fr.error_bars[1],
            ErrorBar {
                x: 0.2,
                lo: 0.03,
                hi: 0.24
            }
        );
        assert!(fr.lines[1].dashed); // frequency = δ
        assert_eq!(figs[2].caption, "cap");
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        let mut p = Panel::new("p", "x", "y");
        // a decaying curve fills the upper left and lower right: the legend goes upper right
        p.lines.push(line(
            "decay",
            (0..=10).map(|i| (i as f64, (-(i as f64)).exp())).collect(),
        ));
        assert_eq!(p.legend_corner((0.0, 10.0), (0.0, 1.0)), (true, true));
        // a flat line high up: the legend goes to a lower corner
        let mut q = Panel::new("q", "x", "y");
        q.lines
            .push(line("flat", (0..=10).map(|i| (i as f64, 0.9)).collect()));
        assert!(!q.legend_corner((0.0, 10.0), (0.0, 1.0)).0);
        // on a log axis, positions are taken in decades
        q.y_scale = Scale::Log;
        q.lines[0].points = (0..=10).map(|i| (i as f64, 1e-1)).collect();
        assert!(!q.legend_corner((0.0, 10.0), (1e-9, 1.0)).0);
    }

    #[test]
    fn scales_and_hashes() {
        assert_eq!(scale_for([1.0, 1e3], false), Scale::Log);
        assert_eq!(scale_for([1.0, 10.0], false), Scale::Linear);
        assert_eq!(scale_for([0.0, 1.0, 1e3], false), Scale::Linear);
        assert_eq!(scale_for([0.0, 1.0, 1e3], true), Scale::Log);
        assert_eq!(scale_for([-1.0, 1e3], true), Scale::Linear);
        let a = config_hash(&json!({"a": 1, "b": [1, 2]}));
        assert_eq!(a.len(), 12);
        assert_eq!(a, config_hash(&json!({"a": 1, "b": [1, 2]})));
        assert_ne!(a, config_hash(&json!({"a": 2, "b": [1, 2]})));
        assert_eq!(config_hash(&Value::Null), "");
    }
}
