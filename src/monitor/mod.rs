//! Monitors: called at every **accepted** step (as argmin's observers are called at every
//! iteration), each measuring a few scalars and keeping an O(1) [`Summary`] per scalar.
//! Nothing stores the trajectory; rows can be streamed to a JSONL trace ([`trace`]). The
//! [`MonitorSet`] takes part in a run as an [`Observer`] ([`crate::observe`]), the first
//! one called at every point.

pub mod gd_gf;
pub mod quantities;
pub mod sharpness;
pub mod summary;
pub mod trace;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::flow::GradientFlow;
use crate::integrate::AcceptedStep;
use crate::observe::{Observed, Observer};
pub use summary::{Crossing, Summary, Threshold};

/// What a monitor sees: one point of the trajectory (an accepted step, or a dense-output
/// sample when tracing on a time grid).
#[derive(Clone, Copy, Debug)]
pub struct Point<'a> {
    /// Accepted-step index (0 = initial point).
    pub step: u64,
    /// Time.
    pub t: f64,
    /// Step size that led here (0 at the initial point).
    pub h: f64,
    /// Scaled error estimate of that step.
    pub err: f64,
    /// Stiffness estimate `h|λ|` of that step.
    pub h_lambda: f64,
    /// ODE state `[θ, ∫‖R‖_F dt]`.
    pub y: &'a [f64],
    /// Its derivative `[−∇L(θ), ‖R‖_F]`.
    pub f: &'a [f64],
}

impl<'a> Point<'a> {
    /// A point reached without a step of its own (the initial point, or the end of a run):
    /// `h`, `err` and `h_lambda` are 0.
    pub fn resting(step: u64, t: f64, y: &'a [f64], f: &'a [f64]) -> Self {
        Self {
            step,
            t,
            h: 0.0,
            err: 0.0,
            h_lambda: 0.0,
            y,
            f,
        }
    }

    /// A point at time `t` inside (or at the end of) the accepted step `st`.
    pub fn in_step(
        st: &crate::integrate::AcceptedStep,
        t: f64,
        y: &'a [f64],
        f: &'a [f64],
    ) -> Self {
        Self {
            step: st.index,
            t,
            h: st.h,
            err: st.err,
            h_lambda: st.h_lambda,
            y,
            f,
        }
    }
}

/// A monitor measures named scalars at a point. Buffers are allocated at construction;
/// `measure` must not allocate.
pub trait Monitor {
    /// Names of the scalars, in the order `measure` writes them.
    fn columns(&self) -> Vec<String>;
    /// Thresholds whose first crossing is recorded, one entry per column.
    fn thresholds(&self) -> Vec<Option<Threshold>> {
        vec![None; self.columns().len()]
    }
    /// Writes the scalars at `p` into `out` (`out.len() == columns().len()`).
    fn measure(&mut self, gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]);
    /// Measures at an accepted point (the initial point or an accepted step), where a
    /// monitor may also update state or do periodic work (the sharpness monitor runs
    /// Lanczos here, never at dense-output samples). Default: [`Monitor::measure`].
    fn observe(&mut self, gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        self.measure(gf, p, out);
    }
    /// A section for `summary.json` (its key and value) beyond the per-column summaries,
    /// e.g. the work the monitor spent. Default: none.
    fn report(&self) -> Option<(&'static str, Value)> {
        None
    }
}

/// A collection of monitors with one running summary per column.
pub struct MonitorSet {
    monitors: Vec<Box<dyn Monitor>>,
    widths: Vec<usize>,
    names: Vec<String>,
    values: Vec<f64>,
    summaries: Vec<Summary>,
}

impl MonitorSet {
    /// Collects `monitors`; column names must be unique.
    pub fn new(monitors: Vec<Box<dyn Monitor>>) -> Self {
        let mut names = Vec::new();
        let mut summaries = Vec::new();
        let mut widths = Vec::new();
        for m in &monitors {
            let cols = m.columns();
            let ths = m.thresholds();
            widths.push(cols.len());
            for (c, th) in cols.into_iter().zip(ths) {
                assert!(!names.contains(&c), "duplicate monitor column {c}");
                names.push(c);
                summaries.push(Summary::new(th));
            }
        }
        Self {
            values: vec![f64::NAN; names.len()],
            monitors,
            widths,
            names,
            summaries,
        }
    }

    /// Adds a monitor after construction (its columns come last; names must stay unique).
    pub fn push(&mut self, m: Box<dyn Monitor>) {
        let cols = m.columns();
        let ths = m.thresholds();
        self.widths.push(cols.len());
        for (c, th) in cols.into_iter().zip(ths) {
            assert!(!self.names.contains(&c), "duplicate monitor column {c}");
            self.names.push(c);
            self.summaries.push(Summary::new(th));
            self.values.push(f64::NAN);
        }
        self.monitors.push(m);
    }

    /// The monitors' own `summary.json` sections ([`Monitor::report`]), keyed by name.
    pub fn reports(&self) -> Map<String, Value> {
        self.monitors
            .iter()
            .filter_map(|m| m.report())
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// Lets `f` write each monitor's columns of the values, in column order.
    fn fill(&mut self, mut f: impl FnMut(&mut dyn Monitor, &mut [f64])) {
        let mut off = 0;
        for (m, &w) in self.monitors.iter_mut().zip(&self.widths) {
            f(m.as_mut(), &mut self.values[off..off + w]);
            off += w;
        }
    }

    /// Column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Measures every monitor at `p` without touching the summaries (dense samples).
    pub fn measure(&mut self, gf: &mut GradientFlow, p: &Point<'_>) -> &[f64] {
        self.fill(|m, out| m.measure(gf, p, out));
        &self.values
    }

    /// Measures at an accepted step ([`Monitor::observe`]) and updates every summary.
    pub fn observe(&mut self, gf: &mut GradientFlow, p: &Point<'_>) -> &[f64] {
        self.fill(|m, out| m.observe(gf, p, out));
        for (s, &v) in self.summaries.iter_mut().zip(&self.values) {
            s.push(p.t, v);
        }
        &self.values
    }

    /// The last measured values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The summary of column `name`.
    pub fn summary(&self, name: &str) -> Option<&Summary> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.summaries[i])
    }

    /// Largest value over the run of the per-layer columns `<stem><k>` (`k` a layer index:
    /// `imbalance_drift_` takes `imbalance_drift_1`, `imbalance_drift_2`, … and not
    /// `imbalance_drift_rel_1`).
    pub fn max_over_layers(&self, stem: &str) -> Option<f64> {
        self.names
            .iter()
            .zip(&self.summaries)
            .filter(|(n, _)| {
                n.strip_prefix(stem)
                    .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(_, s)| s.max)
            .reduce(f64::max)
    }

    /// All summaries keyed by column name.
    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        self.names
            .iter()
            .cloned()
            .zip(self.summaries.iter().cloned())
            .collect()
    }

    /// All summaries as a JSON object keyed by column name.
    pub fn summaries_json(&self) -> Value {
        let mut map = Map::new();
        for (n, s) in self.names.iter().zip(&self.summaries) {
            map.insert(
                n.clone(),
                serde_json::to_value(s).expect("summaries serialise"),
            );
        }
        Value::Object(map)
    }
}

/// The monitor set observes the initial point and every accepted step
/// ([`MonitorSet::observe`]: measure, then update the summaries); the run's driver calls it
/// before every other observer and hands them its values ([`Observed::values`]). Grid
/// samples are measured by [`MonitorSet::measure`], without the summaries.
impl Observer for MonitorSet {
    fn on_start(&mut self, run: &mut Observed<'_>, p: &Point<'_>) -> Result<()> {
        self.observe(run.stepper.system_mut(), p);
        Ok(())
    }
    fn on_step(&mut self, run: &mut Observed<'_>, _st: &AcceptedStep, p: &Point<'_>) -> Result<()> {
        self.observe(run.stepper.system_mut(), p);
        Ok(())
    }
}
