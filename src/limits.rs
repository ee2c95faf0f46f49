//! Resource limits: every size that comes from the input is computed with checked
//! arithmetic and compared against a stated limit before anything of that size is allocated
//! or started, and a violation is an input error ([`GradflowError::Config`]) naming the field,
//! the limit and the flag that raises it.
//!
//! | limit | default | raised with | checked |
//! |---|---|---|---|
//! | memory of one run (estimate) | 8 GiB | `--max-memory SIZE` | [`Footprint::check`], before the data are generated (Gaussian data) or after the `.npy` files are read, before the flow is built |
//! | trace rows on a time grid | 10,000,000 | `--max-trace-rows N` | `t_end/dt` in [`crate::config::RunConfig::validate`] |
//! | sweep grid points | 100,000 | `--max-sweep-points N` | the product of the axis lengths, before the grid is built |
//! | trial steps of one run | 1,000,000 | `--max-steps N` (`max_steps`) | while integrating: the run stops early with status `max_steps` (exit 3) |
//!
//! The limits are process-wide ([`current`], [`set`]); the command line sets them once at
//! start-up. The first three are policies against resource bombs (a mistyped size or time
//! step that would take the machine's memory or disk); the step limit is the default work
//! bound of every run that sets no `max_steps` (sweep points, claim checks and `replay`
//! included; confirmation runs take the limit of their recorded plan).

use std::sync::{PoisonError, RwLock};

use crate::config::{Method, ModelSpec, RunConfig};
use crate::error::GradflowError;
use crate::integrate::auto::StiffMethod;
use crate::model::data::DataSpec;
use crate::model::init::InitSpec;

/// Default of [`Limits::max_memory`]: 8 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 8 << 30;
/// Default of [`Limits::max_trace_rows`].
pub const DEFAULT_MAX_TRACE_ROWS: u64 = 10_000_000;
/// Default of [`Limits::max_sweep_points`].
pub const DEFAULT_MAX_SWEEP_POINTS: u64 = 100_000;
/// Default of [`Limits::max_steps`]: one million trial steps (accepted plus rejected; steps
/// for gradient descent).
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// The flag that raises [`Limits::max_memory`].
pub const MEMORY_FLAG: &str = "--max-memory SIZE";
/// The flag that raises [`Limits::max_trace_rows`].
pub const TRACE_ROWS_FLAG: &str = "--max-trace-rows N";
/// The flag that raises [`Limits::max_sweep_points`].
pub const SWEEP_POINTS_FLAG: &str = "--max-sweep-points N";
/// The flag (and configuration field) that sets a run's step limit.
pub const MAX_STEPS_FLAG: &str = "--max-steps N";

/// The limits in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest estimated memory of one run, in bytes ([`Footprint`]).
    pub max_memory: u64,
    /// Largest number of trace rows a `dt=X` trace may ask for (`t_end/dt`).
    pub max_trace_rows: u64,
    /// Largest number of points of a sweep grid.
    pub max_sweep_points: u64,
    /// Trial steps of a run that does not set `max_steps` itself.
    pub max_steps: u64,
}

impl Limits {
    /// The documented defaults.
    pub const DEFAULT: Limits = Limits {
        max_memory: DEFAULT_MAX_MEMORY,
        max_trace_rows: DEFAULT_MAX_TRACE_ROWS,
        max_sweep_points: DEFAULT_MAX_SWEEP_POINTS,
        max_steps: DEFAULT_MAX_STEPS,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

static CURRENT: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

/// The limits in force in this process (the defaults unless [`set`] changed them).
pub fn current() -> Limits {
    *CURRENT.read().unwrap_or_else(PoisonError::into_inner)
}

/// Replaces the limits in force in this process.
pub fn set(limits: Limits) {
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = limits;
}

/// Parses a memory size: a number of bytes, optionally with a binary suffix `K`, `M`, `G`,
/// `T` (also `KB`/`KiB`, …, any case; `16G` = 16·2³⁰ bytes). Fractions are allowed with a
/// suffix (`1.5G`); the result must be at least one byte and fit in 64 bits.
pub fn parse_size(s: &str) -> Result<u64, GradflowError> {
    let bad = |why: &str| {
        GradflowError::Config(format!(
            "--max-memory {:?}: {why}; expected bytes or a size such as 512M, 16G",
            shorten(s, 40)
        ))
    };
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let shift = match unit.trim() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad("unknown unit")),
    };
    if num.is_empty() {
        return Err(bad("no number"));
    }
    let bytes = if num.contains('.') {
        let v: f64 = num.parse().map_err(|_| bad("not a number"))?;
        let b = v * (1u64 << shift) as f64;
        if !(b.is_finite() && b < u64::MAX as f64) {
            return Err(bad("too large"));
        }
        b.floor() as u64
    } else {
        let v: u64 = num.parse().map_err(|_| bad("not a number or too large"))?;
        v.checked_mul(1u64 << shift)
            .ok_or_else(|| bad("too large"))?
    };
    if bytes == 0 {
        return Err(bad("must be at least 1 byte"));
    }
    Ok(bytes)
}

/// A byte count in binary units (`8 GiB`, `1.5 MiB`, `312 B`).
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut unit = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `s` cut to at most `max` characters (with `…`), control characters replaced by `?`:
/// input echoed in an error message stays short and on one line.
pub fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// One input size and the field it comes from (`data.n`, `model.hidden[0]`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dim {
    /// Where the value comes from, as the user would look it up.
    pub field: String,
    /// The value.
    pub value: usize,
}

impl Dim {
    /// A named size.
    pub fn new(field: impl Into<String>, value: usize) -> Self {
        Self {
            field: field.into(),
            value,
        }
    }
    fn label(&self) -> String {
        format!("{} = {}", self.field, self.value)
    }
}

/// One part of a run's memory estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// What the part holds (`data Y, n×q = 6×9 values`).
    pub what: String,
    /// The input size that makes this part large (`data.q = 9`).
    pub blame: String,
    /// Estimated bytes; `None` when the computation overflows 128 bits.
    pub bytes: Option<u128>,
}

/// Copies of the data matrices a run holds at once: the data set, the flow's copy, and the
/// generator's or whitening's temporaries.
const DATA_COPIES: u128 = 4;
/// `d×d` matrices (whitening's factors, row-space projectors of the claims).
const DXD_COPIES: u128 = 2;
/// `m_k×m_k` matrices per hidden layer (imbalance monitors, the orthogonal factors of the
/// balanced initialisation).
const SQUARE_COPIES: u128 = 4;
/// Copies of the forward/backward workspaces (gradient, Hessian-vector products).
const WORKSPACE_COPIES: u128 = 2;
/// Activation buffers of a leaky-ReLU network per layer (`Z, D, H, G` and their directional
/// versions, `n×m_k` each).
const LEAKY_BUFFERS: u128 = 7;
/// State-sized vectors held by the run besides the stepper (initial state, buffers,
/// tolerances, monitor and report copies).
const RUN_VECTORS: u128 = 16;
/// State-sized vectors of an explicit stepper (DOP853: 16 dense-output stages and the
/// driver's copies) or of ROCK4 (stages, spectral estimate).
const EXPLICIT_VECTORS: u128 = 32;
/// State-sized vectors of gradient descent.
const GD_VECTORS: u128 = 8;
/// State-sized vectors of an implicit collocation method at its largest: Lanczos basis of the
/// low-rank Jacobian model (up to 576), the model (up to 192 vectors and as many Ritz
/// vectors), GMRES (31 vectors of `s·n`) and Newton (`5·s·n`) with `s = 3`.
const IMPLICIT_VECTORS: u128 = 1100;
/// Lanczos basis of the sharpness monitor (its iteration limit) plus start vectors.
const SHARPNESS_BASIS: u128 = 204;
/// Bookkeeping bytes per layer (matrix headers, per-layer vectors of monitors).
const PER_LAYER_BYTES: u128 = 1024;
/// Scalar states appended to the weights (`I`, `J`, the twin's comparison scalars).
const EXTRA_STATES: u128 = 16;

/// The sizes that decide how much memory a run needs, with the fields they come from; see
/// [`Footprint::parts`] for what is counted.
#[derive(Clone, Debug)]
pub struct Footprint {
    /// Samples `n`.
    pub n: Dim,
    /// Input width `d`.
    pub d: Dim,
    /// Output width `q`.
    pub q: Dim,
    /// Hidden widths `m_1, …, m_{L−1}`; `None` while the network is not known (only the data
    /// are counted).
    pub hidden: Option<Vec<Dim>>,
    /// Copies of the weights in the ODE state: 1, 2 with the linear twin, 3 with the
    /// sensitivity.
    pub state_blocks: u128,
    /// Leaky-ReLU activations (per-sample buffers per layer).
    pub leaky: bool,
    /// The stepper.
    pub method: Method,
    /// The stiff method of `method = auto`.
    pub auto_stiff: StiffMethod,
    /// Eigenvalues the sharpness monitor records, when it is on.
    pub sharpness_k: Option<usize>,
    /// Gradient descent integrates the flow alongside (a second flow and an implicit stepper).
    pub gf_reference: bool,
    /// Samples `m` of the run's held-out split (`test`), when it has been read; its inputs
    /// and targets, and the network's activations on it, are counted too.
    pub test_rows: Option<Dim>,
}

fn mul(a: u128, b: u128) -> Option<u128> {
    a.checked_mul(b)
}

fn bytes_of(entries: Option<u128>, copies: u128) -> Option<u128> {
    entries.and_then(|e| mul(e, copies)).and_then(|e| mul(e, 8))
}

fn larger<'a>(a: &'a Dim, b: &'a Dim) -> &'a Dim {
    if b.value > a.value {
        b
    } else {
        a
    }
}

impl Footprint {
    /// The footprint of the run `cfg`. `data` is `(n, d, q)` when the data are known (read or
    /// generated); without it the sizes come from a Gaussian data specification (`None` for
    /// `.npy` data). `layer_widths` are the widths `[d, m_1, …, q]` read from `.npy` layer
    /// files when the configuration has no model; without either, only the data are counted.
    pub fn from_config(
        cfg: &RunConfig,
        data: Option<(usize, usize, usize)>,
        layer_widths: Option<&[usize]>,
    ) -> Option<Self> {
        let (n, d, q) = match (&cfg.data, data) {
            (DataSpec::Gaussian { n, d, q, .. }, None) => (
                Dim::new("data.n", *n),
                Dim::new("data.d", *d),
                Dim::new("data.q", *q),
            ),
            (DataSpec::Gaussian { .. }, Some((n, d, q))) => (
                Dim::new("data.n", n),
                Dim::new("data.d", d),
                Dim::new("data.q", q),
            ),
            (DataSpec::Npy { dir, .. }, Some((n, d, q))) => {
                let x = shorten(&dir.join("X.npy").display().to_string(), 200);
                let y = shorten(&dir.join("Y.npy").display().to_string(), 200);
                (
                    Dim::new(format!("{x}: rows n"), n),
                    Dim::new(format!("{x}: columns d"), d),
                    Dim::new(format!("{y}: columns q"), q),
                )
            }
            (DataSpec::Npy { .. }, None) => return None,
        };
        let hidden = match (&cfg.model, layer_widths, &cfg.init) {
            (Some(ModelSpec::DeepLinear { hidden }), ..)
            | (Some(ModelSpec::LeakyRelu { hidden, .. }), ..) => Some(
                hidden
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Dim::new(format!("model.hidden[{i}]"), *m))
                    .collect(),
            ),
            (Some(ModelSpec::TwoLayerUv { hidden }), ..) => {
                Some(vec![Dim::new("model.hidden", *hidden)])
            }
            (None, Some(w), InitSpec::Npy { dir }) if w.len() >= 2 => Some(
                w[1..w.len() - 1]
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let f = shorten(
                            &dir.join(format!("W{}.npy", i + 1)).display().to_string(),
                            200,
                        );
                        Dim::new(format!("{f}: rows m_{}", i + 1), *m)
                    })
                    .collect(),
            ),
            _ => None,
        };
        let state_blocks = 1
            + u128::from(cfg.model.as_ref().is_some_and(|m| m.twin()))
            + u128::from(cfg.model.as_ref().is_some_and(|m| m.sensitivity()));
        Some(Self {
            n,
            d,
            q,
            hidden,
            state_blocks,
            leaky: matches!(cfg.model, Some(ModelSpec::LeakyRelu { .. })),
            method: cfg.method,
            auto_stiff: cfg.auto_stiff.unwrap_or_default(),
            sharpness_k: cfg.sharpness_every.map(|_| cfg.sharpness_k.unwrap_or(1)),
            gf_reference: cfg.gf_reference,
            test_rows: None,
        })
    }

    /// The footprint with a held-out split of `m` samples (`label` names the file they come
    /// from).
    pub fn with_test_rows(self, label: impl Into<String>, m: usize) -> Self {
        Self {
            test_rows: Some(Dim::new(label, m)),
            ..self
        }
    }

    /// State-sized vectors the stepper keeps at most.
    fn stepper_vectors(&self) -> u128 {
        match self.method {
            Method::Dopri5 | Method::Tsit5 | Method::Dop853 | Method::Rock4 => EXPLICIT_VECTORS,
            Method::Radau5 | Method::Gl2 | Method::Gl4 | Method::Gl6 => IMPLICIT_VECTORS,
            Method::Auto => match self.auto_stiff {
                StiffMethod::Radau5 => EXPLICIT_VECTORS + IMPLICIT_VECTORS,
                StiffMethod::Rock4 => 2 * EXPLICIT_VECTORS,
            },
            Method::Gd => GD_VECTORS,
        }
    }

    /// The parts of the estimate (bytes of `f64` entries): the data `X` (`n×d`) and `Y`
    /// (`n×q`) in `DATA_COPIES` copies, `d×d` matrices, and with the network known: the
    /// state (`p = Σ m_k m_{k−1}` weights, times the copies in the state, times the
    /// state-sized vectors of the stepper, the run and the sharpness monitor's Lanczos basis),
    /// the forward/backward workspaces (prefix products `m_k×d`, suffix products
    /// `q×m_{k−1}`, residual `n×q`), the leaky network's activations (`n×m_k`), square
    /// `m_k×m_k` matrices of the hidden layers, and per-layer bookkeeping.
    pub fn parts(&self) -> Vec<Part> {
        let (n, d, q) = (&self.n, &self.d, &self.q);
        let (nv, dv, qv) = (n.value as u128, d.value as u128, q.value as u128);
        let mut parts = vec![
            Part {
                what: format!("data X, n×d = {}×{} values", n.value, d.value),
                blame: larger(n, d).label(),
                bytes: bytes_of(mul(nv, dv), DATA_COPIES),
            },
            Part {
                what: format!("data Y, n×q = {}×{} values", n.value, q.value),
                blame: larger(n, q).label(),
                bytes: bytes_of(mul(nv, qv), DATA_COPIES),
            },
            Part {
                what: format!("d×d matrices, d = {}", d.value),
                blame: d.label(),
                bytes: bytes_of(mul(dv, dv), DXD_COPIES),
            },
        ];
        if let Some(m) = &self.test_rows {
            let mv = m.value as u128;
            parts.push(Part {
                what: format!(
                    "held-out split X, Y, m×(d+q) = {}×{} values",
                    m.value,
                    dv.saturating_add(qv)
                ),
                blame: larger(m, larger(d, q)).label(),
                bytes: bytes_of(mul(mv, dv.saturating_add(qv)), DATA_COPIES),
            });
        }
        let Some(hidden) = &self.hidden else {
            return parts;
        };
        let mut widths: Vec<&Dim> = vec![d];
        widths.extend(hidden.iter());
        widths.push(q);
        let depth = widths.len() - 1;
        let widest = widths.iter().copied().fold(d, larger);
        // weights p = Σ m_k m_{k−1}; the blame goes to the wider side of the largest layer
        let mut p: Option<u128> = Some(0);
        let mut largest_layer: (u128, &Dim) = (0, d);
        let mut squares: Option<u128> = Some(0);
        let mut prefix_suffix: Option<u128> = Some(0);
        let mut activations: Option<u128> = Some(0);
        for k in 1..=depth {
            let (a, b) = (widths[k], widths[k - 1]);
            let (av, bv) = (a.value as u128, b.value as u128);
            let layer = mul(av, bv);
            p = p.zip(layer).and_then(|(s, l)| s.checked_add(l));
            let l = layer.unwrap_or(u128::MAX);
            if l >= largest_layer.0 {
                largest_layer = (l, larger(a, b));
            }
            if k < depth {
                squares = squares.zip(mul(av, av)).and_then(|(s, x)| s.checked_add(x));
            }
            // prefix m_k×d, suffix and tmp q×m_{k−1}
            let ps = mul(av, dv)
                .zip(mul(qv, bv).and_then(|x| mul(x, 2)))
                .and_then(|(x, y)| x.checked_add(y));
            prefix_suffix = prefix_suffix.zip(ps).and_then(|(s, x)| s.checked_add(x));
            activations = activations
                .zip(mul(nv, av))
                .and_then(|(s, x)| s.checked_add(x));
        }
        let sharpness = self
            .sharpness_k
            .map(|k| SHARPNESS_BASIS + 2 * (k as u128).min(200))
            .unwrap_or(0);
        let reference = if self.gf_reference {
            IMPLICIT_VECTORS
        } else {
            0
        };
        let vectors = self.stepper_vectors() + RUN_VECTORS + sharpness + reference;
        let state = p
            .and_then(|p| mul(p, self.state_blocks))
            .and_then(|s| s.checked_add(EXTRA_STATES));
        let p_shown = p.map_or_else(|| "more than 2^128".to_string(), |p| p.to_string());
        let flows = if self.gf_reference { 2 } else { 1 };
        parts.push(Part {
            what: format!(
                "the weights θ, p = Σ m_k·m_(k−1) = {p_shown}, in {vectors} state-sized vectors \
                 of method {} and the monitors",
                self.method.name()
            ),
            blame: largest_layer.1.label(),
            bytes: bytes_of(state, vectors),
        });
        let resid = mul(nv, qv)
            .zip(mul(qv, dv))
            .and_then(|(x, y)| x.checked_add(y));
        parts.push(Part {
            what: "the gradient's workspaces: prefix products m_k×d, suffix products q×m_(k−1)"
                .into(),
            blame: widest.label(),
            bytes: bytes_of(
                prefix_suffix.zip(resid).and_then(|(x, y)| x.checked_add(y)),
                WORKSPACE_COPIES * flows,
            ),
        });
        if self.leaky {
            let widest_hidden = widths[1..].iter().copied().fold(q, larger);
            parts.push(Part {
                what: format!(
                    "the leaky network's activations, n×m_k per layer with n = {}",
                    n.value
                ),
                blame: larger(n, widest_hidden).label(),
                bytes: bytes_of(activations, LEAKY_BUFFERS * flows),
            });
        }
        if let Some(m) = &self.test_rows {
            // the network's outputs on the split: one m×m_k activation per layer, twice
            // (the trained network and the proxies of the twin)
            let widest_hidden = widths[1..].iter().copied().fold(q, larger);
            let width_sum = widths[1..]
                .iter()
                .try_fold(0u128, |s, w| s.checked_add(w.value as u128));
            parts.push(Part {
                what: format!(
                    "the network's activations on the held-out split, m×m_k per layer with \
                     m = {}",
                    m.value
                ),
                blame: larger(m, widest_hidden).label(),
                bytes: bytes_of(width_sum.and_then(|w| mul(w, m.value as u128)), 2),
            });
        }
        parts.push(Part {
            what: "square m_k×m_k matrices of the hidden layers: imbalance monitors, \
                   orthogonal factors of the initialisation"
                .into(),
            blame: hidden.iter().fold(d, larger).label(),
            bytes: bytes_of(squares, SQUARE_COPIES),
        });
        parts.push(Part {
            what: format!("per-layer bookkeeping for depth L = {depth}"),
            blame: format!(
                "the depth L = {depth} (model.hidden has {} widths)",
                depth - 1
            ),
            bytes: mul(depth as u128, PER_LAYER_BYTES),
        });
        parts
    }

    /// The estimate in bytes (`None`: beyond 128 bits).
    pub fn total(&self) -> Option<u128> {
        self.parts()
            .iter()
            .try_fold(0u128, |s, p| p.bytes.and_then(|b| s.checked_add(b)))
    }

    /// An input error when the estimate exceeds `max_memory` bytes, naming the size behind
    /// the largest part, the estimate, the limit and [`MEMORY_FLAG`]; one line.
    pub fn check(&self, max_memory: u64) -> Result<(), GradflowError> {
        let total = self.total();
        if total.is_some_and(|t| t <= u128::from(max_memory)) {
            return Ok(());
        }
        let parts = self.parts();
        let worst = parts
            .iter()
            .max_by_key(|p| p.bytes.unwrap_or(u128::MAX))
            .expect("the data parts are always there");
        let need = match total {
            Some(t) => format!("about {}", format_bytes(t)),
            None => "more than 2^128 bytes".to_string(),
        };
        Err(GradflowError::Config(format!(
            "{}: the run would need {need}, over the memory limit of {} (largest part: {}); \
             raise the limit with {MEMORY_FLAG}",
            worst.blame,
            format_bytes(u128::from(max_memory)),
            worst.what
        )))
    }
}

/// An input error when a data set of `rows` samples with `cols` columns in total (inputs
/// plus outputs) would exceed the memory limit; `what` names the request (`gaussian data:
/// n = …`). For data drawn outside a run (held-out samples, generated corpora) where
/// [`Footprint`] does not apply.
pub fn check_data_size(what: &str, rows: usize, cols: usize) -> Result<(), GradflowError> {
    let limit = current().max_memory;
    let bytes = (rows as u128)
        .checked_mul(cols as u128)
        .and_then(|e| bytes_of(Some(e), DATA_COPIES));
    if bytes.is_some_and(|b| b <= u128::from(limit)) {
        return Ok(());
    }
    let need = bytes.map_or_else(
        || "more than 2^128 bytes".to_string(),
        |b| format!("about {}", format_bytes(b)),
    );
    Err(GradflowError::Config(format!(
        "{what}: {rows}×{cols} values need {need}, over the memory limit of {}; raise the \
         limit with {MEMORY_FLAG}",
        format_bytes(u128::from(limit))
    )))
}

/// An input error when a trace on the time grid `dt` over `[0, t_end]` would have more than
/// `max_rows` rows.
pub fn check_trace_rows(t_end: f64, dt: f64, max_rows: u64) -> Result<(), GradflowError> {
    let rows = (t_end / dt).floor() + 1.0;
    if rows.is_finite() && rows <= max_rows as f64 {
        return Ok(());
    }
    Err(GradflowError::Config(format!(
        "trace.dt = {dt:e}: a trace on the grid 0, dt, 2·dt, … up to t_end = {t_end} would have \
         {} rows, more than the limit of {max_rows} trace rows; use a coarser dt or every=N, or \
         raise the limit with {TRACE_ROWS_FLAG}",
        if rows.is_finite() {
            format!("{rows:.3e}")
        } else {
            "infinitely many".to_string()
        }
    )))
}

/// An input error when a sweep grid has more than `max_points` points (`points` is `None`
/// when the product of the axis lengths overflows).
pub fn check_sweep_points(
    origin: &str,
    points: Option<u128>,
    detail: &str,
    max_points: u64,
) -> Result<(), GradflowError> {
    if points.is_some_and(|p| p <= u128::from(max_points)) {
        return Ok(());
    }
    let shown = points.map_or_else(|| "more than 2^128".to_string(), |p| p.to_string());
    Err(GradflowError::Config(format!(
        "{origin}: {detail}: the sweep grid would have {shown} points, more than the limit of \
         {max_points}; raise the limit with {SWEEP_POINTS_FLAG}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> RunConfig {
        let mut base = json!({
            "data": {"kind": "gaussian", "n": 6, "d": 4, "q": 2,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "zero"},
                     "noise_std": 1.0},
            "model": {"kind": "deep_linear", "hidden": [3]},
            "init": {"kind": "gaussian", "std": [0.5]},
            "loss": "half_sum", "t_end": 1.0, "rtol": 1e-8, "atol": 1e-10
        });
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("1K").unwrap(), 1024);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("16G").unwrap(), 16 << 30);
        assert_eq!(parse_size("16gib").unwrap(), 16 << 30);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
        for bad in [
            "",
            "G",
            "0",
            "1X",
            "-1G",
            "99999999999999999999",
            "20000000T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_format_in_binary_units() {
        assert_eq!(format_bytes(312), "312 B");
        assert_eq!(format_bytes(8 << 30), "8 GiB");
        assert_eq!(format_bytes(3 << 19), "1.5 MiB");
    }

    #[test]
    fn a_small_run_fits_and_a_huge_output_width_is_blamed() {
        let f = Footprint::from_config(&cfg(json!({})), None, None).unwrap();
        assert!(f.total().unwrap() < 1 << 20);
        f.check(DEFAULT_MAX_MEMORY).unwrap();
        let big = cfg(json!({"data": {"kind": "gaussian", "n": 6, "d": 4,
            "q": 9223372036854775808u64, "spectrum": {"kind": "isotropic"},
            "teacher": {"kind": "zero"}, "noise_std": 1.0}}));
        let msg = Footprint::from_config(&big, None, None)
            .unwrap()
            .check(DEFAULT_MAX_MEMORY)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("invalid configuration: data.q = 9223372036854775808"));
        assert!(
            msg.contains("8 GiB") && msg.contains("--max-memory"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn overflowing_sizes_are_over_every_limit_and_name_the_field() {
        let big = cfg(json!({"model": {"kind": "deep_linear",
            "hidden": [usize::MAX, usize::MAX, usize::MAX]}}));
        let f = Footprint::from_config(&big, None, None).unwrap();
        assert_eq!(f.total(), None);
        let msg = f.check(u64::MAX).unwrap_err().to_string();
        assert!(msg.contains("model.hidden["), "{msg}");
    }

    #[test]
    fn the_implicit_methods_and_the_sharpness_monitor_count_more_vectors() {
        let base = cfg(json!({"model": {"kind": "deep_linear", "hidden": [1000]}}));
        let state = |c: &RunConfig| {
            let parts = Footprint::from_config(c, None, None).unwrap().parts();
            let p = parts.iter().find(|p| p.what.starts_with("the weights"));
            p.unwrap().bytes.unwrap()
        };
        let mut radau = base.clone();
        radau.method = Method::Radau5;
        let mut sharp = base.clone();
        sharp.sharpness_every = Some(1);
        assert!(state(&radau) > 10 * state(&base));
        assert!(state(&sharp) > 3 * state(&base));
    }

    #[test]
    fn trace_rows_and_sweep_points_are_checked_against_their_limits() {
        check_trace_rows(1.0, 1e-3, 10_000).unwrap();
        for dt in [5e-324, 1e-300, 1e-17] {
            let msg = check_trace_rows(1.0, dt, DEFAULT_MAX_TRACE_ROWS)
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("trace.dt") && msg.contains("--max-trace-rows"),
                "{msg}"
            );
        }
        check_sweep_points("f", Some(10), "x", 10).unwrap();
        assert!(check_sweep_points("f", Some(11), "x", 10).is_err());
        assert!(check_sweep_points("f", None, "x", 10).is_err());
    }
}
