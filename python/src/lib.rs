//! `gradflow._gradflow`: the native module of the Python package, a thin layer over the
//! `gradflow` crate. Every entry point calls the library function the command line calls
//! (`run::execute`, `check::check_confirmed`, `replay::replay`, `sweep::run_sweep`, the
//! claim registry, the examples); the Python package (`gradflow/__init__.py`) shapes the
//! arguments and results.
//!
//! Conventions of this layer:
//! - a configuration comes in as JSON text and is validated by
//!   `RunConfig::from_value`, as the command line's;
//! - arrays come in as float64 NumPy arrays (any memory order) and are checked by the
//!   library (`Dataset::new`, `Shape::from_layers`, `init::check_data_fits`) before they are
//!   written as `.npy` inputs of the run, so the run is the command line's `--data/--init`
//!   run on the same bytes;
//! - a library error is raised as `NativeError(kind, message)` (the Python package raises
//!   its typed exception from it) with the command line's one-line message; a panic is
//!   caught and raised as `NativeError("internal", …)`;
//! - the work runs on its own thread with the GIL released; the calling thread waits for
//!   it, checking for signals, and a `KeyboardInterrupt` asks the run to stop
//!   (`gradflow::cancel`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use gradflow::check::ClaimRequest;
use gradflow::config::RunConfig;
use gradflow::error::one_line;
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use gradflow::GradflowError;
use nalgebra::DMatrix;
use numpy::ndarray::{Array2, ShapeBuilder};
use numpy::{PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use serde_json::{json, Value};

pyo3::create_exception!(
    _gradflow,
    NativeError,
    PyException,
    "A gradflow error: args are (kind, one-line message)."
);

/// How often the waiting thread looks for signals (Ctrl-C) while a call runs.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// An error of this layer: a library error, an argument error of the binding, or a panic.
enum Failure {
    Library(GradflowError),
    Usage(String),
    Panic(String),
}

impl From<GradflowError> for Failure {
    fn from(e: GradflowError) -> Self {
        Failure::Library(e)
    }
}

/// The kind of a library error, as the Python package names its exception classes.
fn kind(e: &GradflowError) -> &'static str {
    match e {
        GradflowError::Config(_) => "config",
        GradflowError::Shape(_) => "shape",
        GradflowError::Data(_) => "data",
        GradflowError::Io { .. } => "io",
        GradflowError::Json { .. } => "json",
        GradflowError::Write { .. } => "write",
        GradflowError::OutputSet { .. } => "output_set",
        GradflowError::Claims { .. } => "claims",
        GradflowError::Integration { .. } => "integration",
        GradflowError::Interrupted => "interrupted",
        _ => "other",
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        let (k, m) = match f {
            Failure::Library(e) => (kind(&e), one_line(&e.to_string())),
            Failure::Usage(m) => ("usage", one_line(&m)),
            Failure::Panic(m) => ("internal", one_line(&format!("internal error: {m}"))),
        };
        NativeError::new_err((k, m))
    }
}

type Res<T> = Result<T, Failure>;

/// Runs `work` on a thread of its own with the GIL released, and waits for it while
/// checking for signals: on a `KeyboardInterrupt` (or another signal handler's exception)
/// the runs in progress are asked to stop ([`gradflow::cancel::request`]), the work is
/// waited for, and the signal's exception is raised. A panic of the work becomes a
/// [`Failure::Panic`]; it never unwinds into Python.
fn blocking<T: Send>(py: Python<'_>, work: impl FnOnce() -> Res<T> + Send) -> PyResult<T> {
    gradflow::cancel::clear();
    let (tx, mut rx) = mpsc::channel();
    let outcome = std::thread::scope(|s| {
        s.spawn(move || {
            // a run on this thread takes all cores when its gradient is large enough to gain
            // from them, as `gradflow run` does (config `threads` overrides)
            gradflow::flow::linalg::set_available_threads(
                std::thread::available_parallelism().map_or(1, usize::from),
            );
            let r = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|p| {
                let m = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without message".into());
                Err(Failure::Panic(m))
            });
            let _ = tx.send(r);
        });
        let mut signal: Option<PyErr> = None;
        loop {
            let (got, back) = py.detach(move || {
                let got = rx.recv_timeout(SIGNAL_POLL);
                (got, rx)
            });
            rx = back;
            match got {
                Ok(r) => break (r, signal),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break (
                        Err(Failure::Panic("the worker thread ended".into())),
                        signal,
                    )
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if signal.is_none() {
                        if let Err(e) = py.check_signals() {
                            gradflow::cancel::request();
                            signal = Some(e);
                        }
                    }
                }
            }
        }
    });
    gradflow::cancel::clear();
    match outcome {
        (_, Some(sig)) => Err(sig),
        (r, None) => r.map_err(PyErr::from),
    }
}

/// A NumPy array (any strides) as a column-major matrix.
fn matrix(a: &PyReadonlyArray2<'_, f64>) -> DMatrix<f64> {
    let v = a.as_array();
    let (r, c) = v.dim();
    DMatrix::from_fn(r, c, |i, j| v[[i, j]])
}

/// A matrix as a NumPy array, moving its column-major buffer (no copy).
fn to_numpy<'py>(py: Python<'py>, m: DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    let (r, c) = m.shape();
    let a = Array2::from_shape_vec((r, c).f(), m.data.into())
        .expect("a matrix's buffer has rows × cols entries");
    PyArray2::from_owned_array(py, a)
}

/// The configuration `config_json` with the given arrays as its data (`X`, `Y`) and initial
/// weights (`W1`, …), as `.npy` files in `inputs` (created if missing). The arrays are
/// checked as the library checks them, before anything is written: `Dataset::new` (shapes
/// and finiteness of `X`, `Y`), `Shape::from_layers` (consecutive layers), and, when the
/// configuration gives no model (the weights decide the shape),
/// `init::check_data_fits` (the data against the network's widths).
fn with_arrays(
    mut v: Value,
    x: Option<DMatrix<f64>>,
    y: Option<DMatrix<f64>>,
    weights: Option<Vec<DMatrix<f64>>>,
    inputs: Option<&Path>,
) -> Res<Value> {
    if x.is_none() && y.is_none() && weights.is_none() {
        return Ok(v);
    }
    let dir = inputs.ok_or_else(|| Failure::Usage("arrays need an inputs directory".into()))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| GradflowError::Config("the configuration must be a JSON object".into()))?;
    let data = match (x, y) {
        (Some(x), Some(y)) => Some(Dataset::new(x, y)?),
        (None, None) => None,
        _ => return Err(Failure::Usage("give both X and Y, or neither".into())),
    };
    if let Some(layers) = &weights {
        if layers.is_empty() {
            return Err(Failure::Usage("weights: give at least one layer".into()));
        }
        let shape = Shape::from_layers(layers)?;
        if let (Some(d), None) = (&data, obj.get("model")) {
            gradflow::model::init::check_data_fits(&shape, d)?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| GradflowError::write(dir, e))?;
    // stale layer files of an earlier call would change the depth read back
    if weights.is_some() {
        let entries = std::fs::read_dir(dir).map_err(|e| GradflowError::io(dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('W') && name.ends_with(".npy") {
                std::fs::remove_file(e.path())
                    .map_err(|err| GradflowError::write(e.path(), err))?;
            }
        }
    }
    // the library's .npy encoding, written plainly: the run reads the files back at once,
    // and an atomic, synced write (`npy::write_matrix`) would cost a few ms per file
    let write = |name: String, m: &DMatrix<f64>| -> Res<()> {
        let path = dir.join(name);
        std::fs::write(&path, gradflow::model::npy::to_npy_bytes(m))
            .map_err(|e| Failure::Library(GradflowError::write(&path, e)))
    };
    if let Some(d) = &data {
        write("X.npy".into(), &d.x)?;
        write("Y.npy".into(), &d.y)?;
        obj.insert("data".into(), json!({"kind": "npy", "dir": dir}));
    }
    if let Some(layers) = &weights {
        for (k, w) in layers.iter().enumerate() {
            write(format!("W{}.npy", k + 1), w)?;
        }
        obj.insert("init".into(), json!({"kind": "npy", "dir": dir}));
    }
    Ok(v)
}

/// Parses the configuration text and lays the arrays over it.
fn config_of(
    config_json: &str,
    origin: &str,
    x: Option<DMatrix<f64>>,
    y: Option<DMatrix<f64>>,
    weights: Option<Vec<DMatrix<f64>>>,
    inputs: Option<&Path>,
) -> Res<RunConfig> {
    let v: Value = serde_json::from_str(config_json).map_err(|e| GradflowError::Json {
        path: origin.into(),
        message: e.to_string(),
    })?;
    let v = with_arrays(v, x, y, weights, inputs)?;
    Ok(RunConfig::from_value(v, origin)?)
}

/// What a run hands back to Python: summary (JSON text), final layers, final time.
struct RunParts {
    summary: String,
    layers: Vec<DMatrix<f64>>,
    t: f64,
}

fn run_parts(o: &gradflow::run::RunOutcome) -> Res<RunParts> {
    let shape = Shape::new(o.record.shape.widths.clone())?;
    Ok(RunParts {
        summary: o.summary.to_string(),
        layers: shape.unpack(&o.theta),
        t: o.t,
    })
}

/// `(summary_json, final_layers, final_time)`.
type RunTuple<'py> = (String, Vec<Bound<'py, PyArray2<f64>>>, f64);

/// A [`RunTuple`] with the verdicts' JSON.
type CheckTuple<'py> = (String, Vec<Bound<'py, PyArray2<f64>>>, f64, String);

fn run_tuple(py: Python<'_>, p: RunParts) -> RunTuple<'_> {
    let layers = p.layers.into_iter().map(|m| to_numpy(py, m)).collect();
    (p.summary, layers, p.t)
}

/// The arrays of a call, converted while the GIL is held.
type Arrays = (
    Option<DMatrix<f64>>,
    Option<DMatrix<f64>>,
    Option<Vec<DMatrix<f64>>>,
);

fn arrays(
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
    weights: Option<Vec<PyReadonlyArray2<'_, f64>>>,
) -> Arrays {
    (
        x.as_ref().map(matrix),
        y.as_ref().map(matrix),
        weights.map(|w| w.iter().map(matrix).collect()),
    )
}

/// Integrates the gradient flow of a configuration (`run::execute`), optionally writing
/// the output set `out`. Returns `(summary_json, final_layers, final_time)`.
#[pyfunction]
#[pyo3(signature = (config_json, origin, x=None, y=None, weights=None, inputs=None, out=None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    config_json: String,
    origin: String,
    x: Option<PyReadonlyArray2<'py, f64>>,
    y: Option<PyReadonlyArray2<'py, f64>>,
    weights: Option<Vec<PyReadonlyArray2<'py, f64>>>,
    inputs: Option<PathBuf>,
    out: Option<PathBuf>,
) -> PyResult<RunTuple<'py>> {
    let (x, y, w) = arrays(x, y, weights);
    let parts = blocking(py, move || {
        let cfg = config_of(&config_json, &origin, x, y, w, inputs.as_deref())?;
        let o = gradflow::run::execute(&cfg, out.as_deref())?;
        run_parts(&o)
    })?;
    Ok(run_tuple(py, parts))
}

/// The claim ids `claims`/`paper` select among the catalog's and a claim file's `user`:
/// each item of `claims` names a claim of the file or what the catalog's selector takes (an
/// id, a paper, `all`), as `gradflow check --claims` does.
fn select(
    claims: Option<Vec<String>>,
    paper: Option<String>,
    user: &[std::sync::Arc<gradflow::spec::Definition>],
) -> Res<Vec<String>> {
    let mut ids = Vec::new();
    match (claims, paper) {
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "give either claims= or paper=, not both".into(),
            ))
        }
        (Some(items), None) => {
            for item in items.iter().map(|s| s.trim()) {
                if user.iter().any(|d| d.id() == item) {
                    ids.push(item.to_string());
                } else {
                    ids.extend(gradflow::claim::registry::select(item)?);
                }
            }
        }
        (None, Some(p)) => ids = gradflow::claim::registry::select(&p)?,
        (None, None) if !user.is_empty() => ids = user.iter().map(|d| d.id().into()).collect(),
        (None, None) => {
            return Err(Failure::Usage(
                "give claims=[ID, …] or 'all', paper='000'…'003', or claims_file=FILE".into(),
            ))
        }
    }
    if ids.is_empty() {
        return Err(Failure::Usage("no claims selected".into()));
    }
    Ok(ids)
}

/// Checks claims along a run (`check::check_confirmed`, violations confirmed by
/// re-integration), optionally writing the output set `out` with `verdicts.json` and
/// counterexample reports. Returns `(summary_json, final_layers, final_time,
/// verdicts_json)`.
#[pyfunction]
#[pyo3(signature = (config_json, origin, x=None, y=None, weights=None, inputs=None, out=None, claims=None, paper=None, claims_file=None))]
#[allow(clippy::too_many_arguments)]
fn check<'py>(
    py: Python<'py>,
    config_json: String,
    origin: String,
    x: Option<PyReadonlyArray2<'py, f64>>,
    y: Option<PyReadonlyArray2<'py, f64>>,
    weights: Option<Vec<PyReadonlyArray2<'py, f64>>>,
    inputs: Option<PathBuf>,
    out: Option<PathBuf>,
    claims: Option<Vec<String>>,
    paper: Option<String>,
    claims_file: Option<PathBuf>,
) -> PyResult<CheckTuple<'py>> {
    let (x, y, w) = arrays(x, y, weights);
    let (parts, verdicts) = blocking(py, move || {
        let user = match &claims_file {
            Some(f) => gradflow::spec::load_user_file(f)?,
            None => Vec::new(),
        };
        let requests: Vec<ClaimRequest> = select(claims, paper, &user)?
            .into_iter()
            .map(|id| ClaimRequest {
                id,
                params: json!({}),
            })
            .collect();
        let cfg = config_of(&config_json, &origin, x, y, w, inputs.as_deref())?;
        let factory = gradflow::spec::factory(user);
        let o = gradflow::check::check_confirmed(&cfg, &requests, &factory, out.as_deref())?;
        let verdicts = serde_json::to_string(&o.verdicts)
            .map_err(|e| Failure::Panic(format!("verdicts as JSON: {e}")))?;
        Ok((run_parts(&o.run)?, verdicts))
    })?;
    let (s, l, t) = run_tuple(py, parts);
    Ok((s, l, t, verdicts))
}

/// Reruns a counterexample report and compares it bit for bit (`replay::replay`), after
/// vouching for it against its output set's manifest as `gradflow replay` does. Returns a
/// JSON object: `reproduced`, `differences`, `claim`, `expected`, `got`, `other_version`.
#[pyfunction]
fn replay(py: Python<'_>, report: PathBuf) -> PyResult<String> {
    blocking(py, move || {
        gradflow::report::output_set::vouch(&report)?;
        let r = gradflow::replay::replay(&report)?;
        Ok(json!({
            "reproduced": r.reproduced(),
            "differences": r.differences,
            "claim": r.request.id,
            "expected": r.expected,
            "got": r.got,
            "other_version": r.other_version,
        })
        .to_string())
    })
}

/// Runs a sweep (`sweep::run_sweep`) given as the text of a sweep file (`origin` names it
/// in messages), or as the file `path`, with point records and verdicts under `out` when
/// given. Returns the JSON of `sweep_verdicts.json` with `resumed` (points taken from
/// stored records).
#[pyfunction]
#[pyo3(signature = (text=None, origin=None, path=None, out=None, jobs=None, fresh=false))]
fn sweep(
    py: Python<'_>,
    text: Option<String>,
    origin: Option<String>,
    path: Option<PathBuf>,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    fresh: bool,
) -> PyResult<String> {
    blocking(py, move || {
        if jobs == Some(0) {
            return Err(Failure::Usage("jobs=0: must be ≥ 1".into()));
        }
        let (text, origin) = match (text, path) {
            (Some(t), None) => (t, origin.unwrap_or_else(|| "python".into())),
            (None, Some(p)) => {
                let origin = p.display().to_string();
                // worded as `gradflow sweep` words it: "reading FILE: <the OS's message>"
                let t = std::fs::read_to_string(&p).map_err(|e| {
                    Failure::Library(GradflowError::io(format!("reading {origin}"), e))
                })?;
                (t, origin)
            }
            _ => return Err(Failure::Usage("give a sweep file or its content".into())),
        };
        let spec = gradflow::sweep::SweepSpec::parse(&text, &origin)?;
        if let (true, Some(out)) = (fresh, &out) {
            let points = out.join("points");
            if points.exists() {
                std::fs::remove_dir_all(&points).map_err(|e| GradflowError::write(&points, e))?;
            }
        }
        let o = gradflow::sweep::run_sweep(
            &spec,
            &origin,
            &gradflow::sweep::runner::SweepOptions {
                out: out.as_deref(),
                jobs,
                progress: None,
            },
        )?;
        let mut v = gradflow::sweep::runner::verdicts_json(&spec, &o.records, &o.verdicts);
        v["resumed"] = json!(o.resumed);
        Ok(v.to_string())
    })
}

/// The encoded claims (or, with `claims_file`, that file's claims, type-checked) as a JSON
/// list of `{id, paper, result, statement, sweep}`, as `gradflow claims` lists them.
#[pyfunction]
#[pyo3(signature = (paper=None, claims_file=None))]
fn claims(py: Python<'_>, paper: Option<String>, claims_file: Option<PathBuf>) -> PyResult<String> {
    blocking(py, move || {
        if let Some(p) = &paper {
            if !["000", "001", "002", "003"].contains(&p.as_str()) {
                return Err(Failure::Usage(format!(
                    "paper={p:?}: the catalogued papers are 000, 001, 002 and 003"
                )));
            }
        }
        let item = |id: &str, paper: &str, result: &str, statement: &str, sweep: bool| {
            json!({"id": id, "paper": paper, "result": result, "statement": statement,
                   "sweep": sweep})
        };
        let mut list = Vec::new();
        if let Some(f) = &claims_file {
            for d in gradflow::spec::load_file(f)? {
                let info = gradflow::claim::Claim::info(&d.instantiate(&json!({}))?);
                list.push(item(
                    d.id(),
                    &info.paper,
                    &info.result,
                    &info.statement,
                    false,
                ));
            }
            return Ok(Value::Array(list).to_string());
        }
        let selected = |of: &str| paper.as_deref().is_none_or(|p| p == of);
        for e in gradflow::claim::registry::catalog() {
            if selected(&e.paper) {
                let info = gradflow::claim::registry::build(&e.id, &json!({}))?.info();
                list.push(item(&e.id, &e.paper, &info.result, &info.statement, false));
            }
        }
        for e in gradflow::sweep::claim::entries() {
            if selected(e.paper) {
                let info = (e.build)(&json!({}))?.info();
                list.push(item(e.id, e.paper, info.result, &info.statement, true));
            }
        }
        Ok(Value::Array(list).to_string())
    })
}

/// A claim's declaration in the claim language (`gradflow claims --show ID`), or for a
/// claim written in Rust its paper, result and statement.
#[pyfunction]
#[pyo3(signature = (id, claims_file=None))]
fn claim_source(py: Python<'_>, id: String, claims_file: Option<PathBuf>) -> PyResult<String> {
    blocking(py, move || {
        let user = match &claims_file {
            Some(f) => gradflow::spec::load_file(f)?,
            None => Vec::new(),
        };
        let def = user
            .iter()
            .find(|d| d.id() == id)
            .or_else(|| gradflow::spec::find_builtin(&id));
        Ok(match def {
            Some(d) => format!("# {}\n{}", d.origin, d.decl),
            None => {
                let info = gradflow::claim::registry::build(&id, &json!({}))?.info();
                format!(
                    "# {id}: a Rust claim (src/claim/catalog/), paper {} {}\n# {}",
                    info.paper, info.result, info.statement
                )
            }
        })
    })
}

/// A run configuration file as JSON text, read as `gradflow run --config FILE` reads it
/// (`RunConfig::from_file`: the same messages for a missing file or malformed JSON).
#[pyfunction]
fn read_config(path: PathBuf) -> PyResult<String> {
    RunConfig::from_file(&path)
        .map(|v| v.to_string())
        .map_err(|e| Failure::Library(e).into())
}

/// The built-in examples as `(name, paper, description)`.
#[pyfunction]
fn examples() -> Vec<(&'static str, &'static str, &'static str)> {
    gradflow::examples::EXAMPLES.to_vec()
}

/// One built-in example's run configuration as JSON text.
#[pyfunction]
fn example_json(name: &str) -> PyResult<String> {
    gradflow::examples::example_json(name)
        .map(|v| v.to_string())
        .map_err(|e| Failure::Library(e).into())
}

/// Sets the process's limits as the command line's global flags do (`--max-memory SIZE`,
/// `--max-trace-rows N`, `--max-sweep-points N`); `None` keeps a limit as it is.
#[pyfunction]
#[pyo3(signature = (max_memory=None, max_trace_rows=None, max_sweep_points=None))]
fn set_limits(
    max_memory: Option<String>,
    max_trace_rows: Option<u64>,
    max_sweep_points: Option<u64>,
) -> PyResult<()> {
    let mut limits = gradflow::limits::current();
    if let Some(s) = &max_memory {
        limits.max_memory = gradflow::limits::parse_size(s).map_err(Failure::Library)?;
    }
    for (name, v) in [
        ("max_trace_rows", max_trace_rows),
        ("max_sweep_points", max_sweep_points),
    ] {
        if v == Some(0) {
            return Err(Failure::Usage(format!("{name}=0: must be ≥ 1")).into());
        }
    }
    if let Some(n) = max_trace_rows {
        limits.max_trace_rows = n;
    }
    if let Some(n) = max_sweep_points {
        limits.max_sweep_points = n;
    }
    gradflow::limits::set(limits);
    Ok(())
}

/// Panics inside [`blocking`], as a bug of the library would: for the test that a panic
/// reaches Python as an `InternalError`, never as an unwinding panic.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    blocking(py, || -> Res<()> {
        panic!("a panic raised on purpose by the test suite")
    })
}

/// The native module.
#[pymodule]
fn _gradflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(claims, m)?)?;
    m.add_function(wrap_pyfunction!(claim_source, m)?)?;
    m.add_function(wrap_pyfunction!(read_config, m)?)?;
    m.add_function(wrap_pyfunction!(examples, m)?)?;
    m.add_function(wrap_pyfunction!(example_json, m)?)?;
    m.add_function(wrap_pyfunction!(set_limits, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
