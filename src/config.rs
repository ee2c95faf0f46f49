//! Run configuration: what a `gradflow run` integrates, read from JSON (`--config FILE`) and
//! command-line flags. The loss convention and the tolerances are required: every constant
//! of a theorem depends on the former, and choosing the latter is the user's job.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::GradflowError;
use crate::flow::LossConvention;
use crate::integrate::implicit::CollocationTableau;
use crate::integrate::tableau::{self, Tableau};
use crate::model::data::DataSpec;
use crate::model::init::InitSpec;
use crate::model::net::Shape;
use crate::monitor::trace::TracePolicy;

/// The network architecture (`d` and `q` come from the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// Deep linear network `x ↦ W_L ⋯ W_1 x` with hidden widths `m_1, …, m_{L−1}`
    /// (empty: the linear model, depth 1).
    DeepLinear {
        /// Hidden widths.
        hidden: Vec<usize>,
    },
    /// Paper 003's two-layer parametrisation `y = V Uᵀ x`, `U ∈ R^{d×h}`, `V ∈ R^{q×h}`
    /// (depth 2 with `W_1 = Uᵀ`, `W_2 = V`); `U.npy`/`V.npy` are written beside `W1.npy`/`W2.npy`.
    TwoLayerUv {
        /// Hidden width `h`.
        hidden: usize,
    },
    /// Paper 001's bias-free network `x ↦ W_L φ^ε(W_{L−1} ⋯ φ^ε(W_1 x))` with the leaky ReLU
    /// `φ^ε(z) = z − ε·min(0, z)` (negative slope `1 − ε`, `ε ∈ [0, 1]`) on the hidden layers
    /// (see [`crate::flow::leaky`]). `ε = 0` integrates exactly the [`ModelSpec::DeepLinear`]
    /// flow. With `twin`, the state also carries the linear twin `θ⁰(t)` from the same `θ(0)`
    /// and the comparison scalars `u, v, …` of Theorem 5.2 (see
    /// [`crate::flow::nearly_linear`]), whose parameters `bound` may override.
    /// JSON: `{"kind": "leaky_relu", "hidden": [64], "epsilon": 0.3, "twin": true}`.
    LeakyRelu {
        /// Hidden widths `m_1, …, m_{L−1}`.
        hidden: Vec<usize>,
        /// The nonlinearity level `ε ∈ [0, 1]`.
        epsilon: f64,
        /// Integrate the linear twin and the comparison scalars jointly; default `false`.
        #[serde(default)]
        twin: bool,
        /// Also integrate the sensitivity `V = ∂θ^ε/∂ε` (needs `twin`); default `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sensitivity: bool,
        /// Overrides of the bound's parameters (default: the run's own values).
        #[serde(default, skip_serializing_if = "is_default_bound")]
        bound: crate::flow::nearly_linear::BoundSpec,
    },
}

fn is_default_bound(b: &crate::flow::nearly_linear::BoundSpec) -> bool {
    *b == crate::flow::nearly_linear::BoundSpec::default()
}

impl ModelSpec {
    /// The widths `[d, …, q]` for data of input width `d` and output width `q`.
    pub fn shape(&self, d: usize, q: usize) -> Result<Shape, GradflowError> {
        match self {
            Self::DeepLinear { hidden } => {
                let mut w = vec![d];
                w.extend(hidden);
                w.push(q);
                Shape::new(w)
            }
            Self::TwoLayerUv { hidden } => Shape::two_layer_uv(d, *hidden, q),
            Self::LeakyRelu { hidden, .. } => {
                let mut w = vec![d];
                w.extend(hidden);
                w.push(q);
                Shape::new(w)
            }
        }
    }
    /// The activation level `ε` (0 for the linear models).
    pub fn epsilon(&self) -> f64 {
        match self {
            Self::LeakyRelu { epsilon, .. } => *epsilon,
            _ => 0.0,
        }
    }
    /// Whether the state carries the linear twin.
    pub fn twin(&self) -> bool {
        matches!(self, Self::LeakyRelu { twin: true, .. })
    }
    /// Whether the state carries the sensitivity `∂θ^ε/∂ε`.
    pub fn sensitivity(&self) -> bool {
        matches!(
            self,
            Self::LeakyRelu {
                twin: true,
                sensitivity: true,
                ..
            }
        )
    }
}

/// The time steppers: adaptive explicit Runge–Kutta pairs, implicit collocation methods, the
/// stabilized explicit ROCK4 and its automatic switch, and discrete gradient descent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Dormand–Prince 5(4).
    #[default]
    Dopri5,
    /// Tsitouras 5(4).
    Tsit5,
    /// Hairer's DOP853, 8(5,3).
    Dop853,
    /// Radau IIA order 5 (implicit, L-stable; Hairer–Wanner IV.8).
    Radau5,
    /// Gauss–Legendre, 1 stage (implicit midpoint, order 2).
    Gl2,
    /// Gauss–Legendre, 2 stages (order 4).
    Gl4,
    /// Gauss–Legendre, 3 stages (order 6).
    Gl6,
    /// Abdulle's stabilized explicit ROCK4 (order 4, stages from a spectral estimate).
    Rock4,
    /// DOPRI5, switching to a stiff method (Radau IIA 5 or ROCK4, `auto_stiff`) while the
    /// explicit steps are stability-limited.
    Auto,
    /// Full-batch gradient descent `θ_{j+1} = θ_j − η∇L(θ_j)` with learning rate `lr`
    /// ([`crate::integrate::gd`]); not an integrator of the flow, its discretisation.
    Gd,
}

impl Method {
    /// The tableau of an explicit Runge–Kutta pair; `None` for the other steppers.
    pub fn tableau(self) -> Option<&'static Tableau> {
        match self {
            Self::Dopri5 => Some(&tableau::dopri5::DOPRI5),
            Self::Tsit5 => Some(&tableau::tsit5::TSIT5),
            Self::Dop853 => Some(&tableau::dop853::DOP853),
            _ => None,
        }
    }

    /// The tableau of an implicit collocation method (`None` for the explicit ones).
    pub fn collocation(self) -> Option<&'static CollocationTableau> {
        use crate::integrate::implicit::{gauss, radau5};
        match self {
            Self::Radau5 => Some(&radau5::RADAU5),
            Self::Gl2 => Some(&gauss::GL2),
            Self::Gl4 => Some(&gauss::GL4),
            Self::Gl6 => Some(&gauss::GL6),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dopri5 => "dopri5",
            Self::Tsit5 => "tsit5",
            Self::Dop853 => "dop853",
            Self::Radau5 => "radau5",
            Self::Gl2 => "gl2",
            Self::Gl4 => "gl4",
            Self::Gl6 => "gl6",
            Self::Rock4 => "rock4",
            Self::Auto => "auto",
            Self::Gd => "gd",
        }
    }

    /// Whether the method is a Gauss–Legendre method (quadratic invariants to round-off).
    pub fn is_gauss_legendre(self) -> bool {
        matches!(self, Self::Gl2 | Self::Gl4 | Self::Gl6)
    }
}

impl std::str::FromStr for Method {
    type Err = GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dopri5" => Ok(Self::Dopri5),
            "tsit5" => Ok(Self::Tsit5),
            "dop853" => Ok(Self::Dop853),
            "radau5" => Ok(Self::Radau5),
            "gl2" => Ok(Self::Gl2),
            "gl4" => Ok(Self::Gl4),
            "gl6" => Ok(Self::Gl6),
            "rock4" => Ok(Self::Rock4),
            "auto" => Ok(Self::Auto),
            "gd" => Ok(Self::Gd),
            _ => Err(GradflowError::Config(format!(
                "unknown method {s:?}: expected dopri5, tsit5, dop853, radau5, gl2, gl4, gl6, rock4, auto or gd"
            ))),
        }
    }
}

/// A tolerance: one value for every weight, or one per layer (`W_1` first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tol {
    /// Same value for all components.
    Scalar(f64),
    /// One value per layer.
    PerLayer(Vec<f64>),
}

impl Tol {
    /// Expands to one value per ODE component (`[θ, extras]`); the extra states get the
    /// smallest per-layer value.
    pub fn expand(
        &self,
        name: &str,
        shape: &Shape,
        extras: usize,
    ) -> Result<Vec<f64>, GradflowError> {
        let per_layer = match self {
            Tol::Scalar(v) => vec![*v; shape.depth()],
            Tol::PerLayer(v) => v.clone(),
        };
        if per_layer.len() != shape.depth() {
            return Err(GradflowError::Config(format!(
                "{name}: {} values given for {} layers",
                per_layer.len(),
                shape.depth()
            )));
        }
        if let Some(bad) = per_layer.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(GradflowError::Config(format!(
                "{name} = {bad}: must be finite and ≥ 0"
            )));
        }
        let mut out = Vec::with_capacity(shape.num_params() + extras);
        for (k, v) in per_layer.iter().enumerate() {
            out.extend(std::iter::repeat_n(*v, shape.layer_range(k + 1).len()));
        }
        let min = per_layer.iter().copied().fold(f64::INFINITY, f64::min);
        out.extend(std::iter::repeat_n(min, extras));
        Ok(out)
    }
}

/// Most `tstops` a configuration may give (each is at least one accepted step).
pub const MAX_TSTOPS: usize = 100_000;

/// Everything a run needs; serialised into `summary.json` as the config echo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Training data.
    pub data: DataSpec,
    /// A held-out split for `.npy` training data (`{"kind": "npy", "dir": …}`, the CLI's
    /// `--test DIR`; [`crate::model::data::TestSpec`]): the claims that need a held-out risk
    /// or held-out points (paper 001's Theorem 5.2 and its proxy claims) use it, preprocessed
    /// with the training data's rule. Rejected with Gaussian data, whose held-out samples
    /// come from their population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<crate::model::data::TestSpec>,
    /// Architecture; may be omitted when `init` reads weights from `.npy` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// Initial weights.
    pub init: InitSpec,
    /// Loss normalisation (required).
    pub loss: LossConvention,
    /// Final time `T > 0`.
    pub t_end: f64,
    /// Integrator.
    #[serde(default)]
    pub method: Method,
    /// The stiff method of `method = "auto"` (`"radau5"`, the default, or `"rock4"`;
    /// [`crate::integrate::auto::StiffMethod`]); rejected with other methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_stiff: Option<crate::integrate::auto::StiffMethod>,
    /// Relative tolerance (required).
    pub rtol: Tol,
    /// Absolute tolerance (required).
    pub atol: Tol,
    /// Seed of the data and initialisation draws.
    #[serde(default)]
    pub seed: u64,
    /// Largest number of trial steps (gradient-descent steps for `method = "gd"`); default
    /// the work limit [`crate::limits::Limits::max_steps`] (one million). A run that reaches
    /// it stops early with status `max_steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// Largest step size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h_max: Option<f64>,
    /// Fixed step size of any single method (no error control, no rejections; the last step
    /// is truncated to `t_end`); [`crate::integrate::driver`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_step: Option<f64>,
    /// What adaptive control does on detected chattering (`"stop"`, the default;
    /// `"fixed_step"`; `"ignore"`; method auto: `"stop"` or `"ignore"`);
    /// [`crate::integrate::chatter`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_chatter: Option<crate::integrate::chatter::OnChatter>,
    /// Thresholds of the chattering detector and the fallback's length and step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatter: Option<crate::integrate::chatter::ChatterParams>,
    /// Streamed trace policy (`{"every": N}` or `{"dt": X}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TracePolicy>,
    /// Record the first time the loss falls to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_threshold: Option<f64>,
    /// A deliberate perturbation of the flow (mutation tests of claims).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturbation: Option<crate::flow::perturb::Perturbation>,
    /// Learning rate `η > 0` of `method = "gd"` (required there, rejected otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Number of gradient-descent steps `N` (`method = "gd"`); sets `t_end = N·η`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Record the sharpness `λ_max(∇²L)` (and `λ_min`) by Lanczos every N accepted steps
    /// ([`crate::monitor::sharpness`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpness_every: Option<u64>,
    /// Number of top Hessian eigenvalues the sharpness monitor records (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpness_k: Option<usize>,
    /// With `method = "gd"`: integrate the gradient flow alongside at tight tolerance and
    /// monitor `‖θ_GD(jη) − θ_GF(jη)‖` ([`crate::monitor::gd_gf`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gf_reference: bool,
    /// Times in `(0, t_end)` the adaptive integrators step to exactly, so that monitors and
    /// claims are evaluated there (the confirmation runs of a violation land on the original
    /// run's violation times); fixed steps and gradient descent ignore them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tstops: Option<Vec<f64>>,
    /// Threads of the run's matrix products (1…[`MAX_THREADS`]). Unset: the process
    /// default — for `gradflow run`, `check` and `replay` their `--threads`, or all cores
    /// when one gradient costs at least [`crate::flow::linalg::PARALLEL_MIN_COST`]
    /// multiply-adds; one for each run of a parallel sweep, suite or search
    /// ([`crate::flow::linalg::threads_for`]).
    /// Results are bit for bit the same for every thread count (faer splits a product's
    /// output blocks between threads, never a sum), so the setting changes wall time only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

/// Largest `threads` of a run.
pub const MAX_THREADS: usize = 1024;

impl RunConfig {
    /// Parses a configuration from a JSON value; `origin` names it in error messages.
    pub fn from_value(mut v: serde_json::Value, origin: &str) -> Result<Self, GradflowError> {
        gd_time_span(&mut v);
        let cfg: RunConfig = serde_json::from_value(v).map_err(|e| {
            GradflowError::Config(format!("{origin}: {}", explain_missing(&e.to_string())))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a JSON configuration file.
    pub fn from_file(path: &Path) -> Result<serde_json::Value, GradflowError> {
        let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| GradflowError::Json {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Checks the values serde cannot (`t_end > 0`, tolerances, thresholds).
    pub fn validate(&self) -> Result<(), GradflowError> {
        self.validate_gd()?;
        if self.test.is_some() && matches!(self.data, DataSpec::Gaussian { .. }) {
            return Err(GradflowError::Config(
                crate::model::data::TEST_WITH_GAUSSIAN.into(),
            ));
        }
        if let DataSpec::Npy {
            binarize: Some(t), ..
        } = &self.data
        {
            if !t.is_finite() {
                return Err(GradflowError::Config(format!(
                    "data.binarize = {t}: need a finite threshold"
                )));
            }
        }
        if let Some(n) = self.threads {
            if !(1..=MAX_THREADS).contains(&n) {
                return Err(GradflowError::Config(format!(
                    "threads = {n}: need 1 ≤ threads ≤ {MAX_THREADS}"
                )));
            }
        }
        if let (Some(m), false) = (self.auto_stiff, self.method == Method::Auto) {
            return Err(GradflowError::Config(format!(
                "auto_stiff = {} chooses the stiff method of method auto; method {} has none",
                m.name(),
                self.method.name()
            )));
        }
        if !(self.t_end.is_finite() && self.t_end > 0.0) {
            return Err(GradflowError::Config(format!(
                "t_end = {}: must be finite and > 0",
                self.t_end
            )));
        }
        for (name, tol) in [("rtol", &self.rtol), ("atol", &self.atol)] {
            let vals = match tol {
                Tol::Scalar(v) => vec![*v],
                Tol::PerLayer(v) => v.clone(),
            };
            if vals.is_empty() || vals.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(GradflowError::Config(format!(
                    "{name} = {vals:?}: must be finite and ≥ 0"
                )));
            }
        }
        if let (Tol::Scalar(r), Tol::Scalar(a)) = (&self.rtol, &self.atol) {
            if *r == 0.0 && *a == 0.0 {
                return Err(GradflowError::Config("rtol and atol are both 0".into()));
            }
        }
        if let Some(ModelSpec::LeakyRelu { epsilon, .. }) = &self.model {
            if !(0.0..=1.0).contains(epsilon) {
                return Err(GradflowError::Config(format!(
                    "model.epsilon = {epsilon}: need 0 ≤ ε ≤ 1"
                )));
            }
        }
        if let Some(n) = self.sharpness_every {
            if n == 0 {
                return Err(GradflowError::Config(
                    "sharpness_every = 0: must be ≥ 1".into(),
                ));
            }
        }
        if let Some(k) = self.sharpness_k {
            if k == 0 {
                return Err(GradflowError::Config("sharpness_k = 0: must be ≥ 1".into()));
            }
            if self.sharpness_every.is_none() {
                return Err(GradflowError::Config(
                    "sharpness_k sets how many eigenvalues the sharpness monitor records; \
                     turn the monitor on with sharpness_every (--sharpness-every N)"
                        .into(),
                ));
            }
        }
        if let Some(x) = self.loss_threshold {
            if !x.is_finite() {
                return Err(GradflowError::Config(format!(
                    "loss_threshold = {x}: must be finite"
                )));
            }
        }
        if let Some(h) = self.h_max {
            if !(h.is_finite() && h > 0.0) {
                return Err(GradflowError::Config(format!("h_max = {h}: must be > 0")));
            }
        }
        self.validate_limits()?;
        if let Some(stops) = &self.tstops {
            if stops.len() > MAX_TSTOPS {
                return Err(GradflowError::Config(format!(
                    "tstops: {} times; at most {MAX_TSTOPS}",
                    stops.len()
                )));
            }
            if let Some(bad) = stops
                .iter()
                .find(|t| !(t.is_finite() && **t > 0.0 && **t < self.t_end))
            {
                return Err(GradflowError::Config(format!(
                    "tstops: {bad} is not inside (0, t_end = {})",
                    self.t_end
                )));
            }
        }
        self.validate_fixed_step()
    }

    /// The sizes the configuration asks for against [`crate::limits::current`]: the rows of a
    /// `dt` trace (`t_end/dt`, a finite `dt > 0`; `every ≥ 1`), `max_steps ≥ 1`, and the
    /// steps of gradient descent (`t_end/lr`) against the default work limit when the
    /// configuration sets no `max_steps` (a known step count over the limit is refused
    /// before the run instead of stopping it there).
    fn validate_limits(&self) -> Result<(), GradflowError> {
        let limits = crate::limits::current();
        match self.trace {
            Some(TracePolicy::Dt(dt)) => {
                if !(dt.is_finite() && dt > 0.0) {
                    return Err(GradflowError::Config(format!(
                        "trace.dt = {dt}: must be finite and > 0"
                    )));
                }
                crate::limits::check_trace_rows(self.t_end, dt, limits.max_trace_rows)?;
            }
            Some(TracePolicy::Every(0)) => {
                return Err(GradflowError::Config("trace.every = 0: must be ≥ 1".into()));
            }
            _ => {}
        }
        if self.max_steps == Some(0) {
            return Err(GradflowError::Config("max_steps = 0: must be ≥ 1".into()));
        }
        if let (Method::Gd, Some(lr), None) = (self.method, self.lr, self.max_steps) {
            // the steps gradient descent takes to reach t_end (the last one may be shorter)
            let steps = (self.t_end / lr * (1.0 - 4.0 * f64::EPSILON)).ceil();
            // t_end and lr are finite and > 0 here, so is their quotient or it is +∞
            if steps > limits.max_steps as f64 {
                let field = match self.steps {
                    Some(n) => format!("steps = {n}"),
                    None => format!("t_end/lr = {}/{lr} = {steps:e} steps", self.t_end),
                };
                return Err(GradflowError::Config(format!(
                    "{field}: more than the default work limit of {} steps; raise it with \
                     {} (max_steps in the configuration)",
                    limits.max_steps,
                    crate::limits::MAX_STEPS_FLAG
                )));
            }
        }
        Ok(())
    }

    /// `fixed_step`, `on_chatter` and `chatter` are modes of the one integration loop, so
    /// every method takes them except gradient descent (its steps are the learning rate) and
    /// `auto` (fixed steps of two methods in turn are neither; its switch record has no
    /// place for fallbacks, so it takes `on_chatter` stop or ignore); `fixed_step` is finite
    /// and `> 0` and excludes the chattering options (fixed steps never reject).
    fn validate_fixed_step(&self) -> Result<(), GradflowError> {
        let chatter_set = self.on_chatter.is_some() || self.chatter.is_some();
        if let Some(h) = self.fixed_step {
            if matches!(self.method, Method::Gd | Method::Auto) {
                return Err(GradflowError::Config(format!(
                    "fixed_step is a mode of a single method (dopri5, tsit5, dop853, rock4, \
                     radau5, gl2, gl4, gl6); method {} has {}",
                    self.method.name(),
                    if self.method == Method::Gd {
                        "fixed steps of its own (lr)"
                    } else {
                        "two methods in turn"
                    }
                )));
            }
            if !(h.is_finite() && h > 0.0) {
                return Err(GradflowError::Config(format!(
                    "fixed_step = {h}: must be finite and > 0"
                )));
            }
            if chatter_set {
                return Err(GradflowError::Config(
                    "on_chatter/chatter configure adaptive control; fixed_step has none \
                     (give one or the other)"
                        .into(),
                ));
            }
        }
        let auto_ok = self.method == Method::Auto
            && self.on_chatter != Some(crate::integrate::chatter::OnChatter::FixedStep);
        if chatter_set && (self.method == Method::Gd || (self.method == Method::Auto && !auto_ok)) {
            return Err(GradflowError::Config(format!(
                "on_chatter/chatter configure adaptive control (method auto takes on_chatter \
                 stop or ignore); method {} has {}",
                self.method.name(),
                if self.method == Method::Gd {
                    "none"
                } else {
                    "no fixed-step fallback"
                }
            )));
        }
        if let Some(p) = &self.chatter {
            p.validate()?;
            use crate::integrate::chatter::{ChatterParams, OnChatter};
            let action = self.on_chatter.unwrap_or_default();
            if action == OnChatter::Ignore {
                return Err(GradflowError::Config(
                    "chatter: on_chatter ignore runs no detector, so its knobs have no effect"
                        .into(),
                ));
            }
            let fallback_knobs =
                p.h.is_some() || p.fixed_steps != ChatterParams::default().fixed_steps;
            if fallback_knobs && action != OnChatter::FixedStep {
                return Err(GradflowError::Config(
                    "chatter: h and fixed_steps configure the fallback of on_chatter fixed_step, \
                     which this run does not take"
                        .into(),
                ));
            }
        }
        if self.fixed_step.is_some() && self.h_max.is_some() {
            return Err(GradflowError::Config(
                "h_max has no effect with fixed_step (every step is the fixed one); give one \
                 or the other"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl RunConfig {
    /// The gradient-descent fields: `lr` finite and `> 0` exactly when `method = "gd"`,
    /// `steps ≥ 1` only with it, and `t_end = steps·lr` when `steps` is given.
    fn validate_gd(&self) -> Result<(), GradflowError> {
        let gd = self.method == Method::Gd;
        match (gd, self.lr) {
            (true, None) => {
                return Err(GradflowError::Config(
                    "method gd needs a learning rate (lr in the config, or --lr)".into(),
                ))
            }
            (true, Some(lr)) if !(lr.is_finite() && lr > 0.0) => {
                return Err(GradflowError::Config(format!(
                    "lr = {lr}: must be finite and > 0"
                )))
            }
            (false, Some(_)) => {
                return Err(GradflowError::Config(format!(
                    "lr is the learning rate of method gd; method {} has none",
                    self.method.name()
                )))
            }
            _ => {}
        }
        match (gd, self.steps, self.lr) {
            (false, Some(_), _) => Err(GradflowError::Config(format!(
                "steps counts gradient-descent steps; method {} takes t_end",
                self.method.name()
            ))),
            (true, Some(0), _) => Err(GradflowError::Config("steps = 0: must be ≥ 1".into())),
            (true, Some(n), Some(lr))
                if (self.t_end - n as f64 * lr).abs() > 1e-12 * self.t_end.abs() =>
            {
                Err(GradflowError::Config(format!(
                    "t_end = {} but steps·lr = {n}·{lr} = {}: give one of them",
                    self.t_end,
                    n as f64 * lr
                )))
            }
            _ => Ok(()),
        }
    }
}

/// With `method = "gd"` and `steps`, `t_end` is `steps·lr`: filled in when the JSON does
/// not give it or gives `null` (the command line's `--steps` sets it to `null`).
fn gd_time_span(v: &mut serde_json::Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    let gd = obj.get("method").and_then(|m| m.as_str()) == Some("gd");
    let steps = obj.get("steps").and_then(|s| s.as_u64());
    let lr = obj.get("lr").and_then(|s| s.as_f64());
    let no_t_end = obj.get("t_end").is_none_or(|t| t.is_null());
    if let (true, Some(n), Some(lr), true) = (gd, steps, lr, no_t_end) {
        obj.insert("t_end".into(), serde_json::json!(n as f64 * lr));
    }
}

fn explain_missing(msg: &str) -> String {
    for (field, flag) in [
        ("loss", "--loss {sum,half_sum,mean,half_mean}"),
        ("rtol", "--rtol"),
        ("atol", "--atol"),
        ("t_end", "--t-end"),
        ("data", "--data DIR"),
        ("init", "--init DIR"),
    ] {
        if msg.starts_with(&format!("missing field `{field}`")) {
            return format!("{msg} (set it in the config or give {flag})");
        }
    }
    msg.to_string()
}
