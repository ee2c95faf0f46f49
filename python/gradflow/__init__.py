"""gradflow: the gradient flow of deep linear networks as an ODE, with theorem checks.

Python bindings of the Rust library ``gradflow`` (the same core as the ``gradflow``
command line, called in-process through PyO3; no subprocess). Main entry points:

- :func:`run` integrates a gradient flow (``gradflow run``) and returns a :class:`RunResult`;
- :func:`check` checks claims along a run (``gradflow check``) and returns a
  :class:`CheckResult` with one :class:`Verdict` per claim;
- :func:`replay` reruns a counterexample report (``gradflow replay``);
- :func:`sweep` runs a sweep file (``gradflow sweep``);
- :func:`claims`, :func:`claim_source`, :func:`examples`, :func:`example` list what is
  built in;
- :func:`set_limits` sets the global limits (``--max-memory`` …).

Configurations are the command line's JSON run configurations (``docs/guide/running.md``)
as dicts; keyword options set top-level fields of the configuration, like the command
line's flags. Errors are :class:`GradflowError` subclasses (also ``ValueError`` or
``OSError`` as fits) carrying the command line's one-line message. Long calls release the
GIL, and Ctrl-C stops a run at its next step (``KeyboardInterrupt``).
See ``docs/guide/python.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _gradflow

__version__ = _gradflow.__version__

__all__ = [
    "run",
    "check",
    "replay",
    "sweep",
    "claims",
    "claim_source",
    "examples",
    "example",
    "set_limits",
    "RunResult",
    "CheckResult",
    "Verdict",
    "ReplayResult",
    "GradflowError",
    "ConfigError",
    "ShapeError",
    "DataError",
    "ClaimsError",
    "UsageError",
    "InputFileError",
    "WriteError",
    "OutputSetError",
    "IntegrationError",
    "InternalError",
]

# ---------------------------------------------------------------------------------------
# errors


class GradflowError(Exception):
    """Base class of every error gradflow raises; ``str(e)`` is the command line's one-line
    message (without its ``gradflow: error:`` prefix)."""


class ConfigError(GradflowError, ValueError):
    """An invalid configuration value (``invalid configuration: …``), also malformed JSON."""


class ShapeError(GradflowError, ValueError):
    """Arrays whose shapes do not fit together (``shape mismatch: …``)."""


class DataError(GradflowError, ValueError):
    """Non-finite or otherwise invalid numbers in data or weights (``invalid data: …``)."""


class ClaimsError(GradflowError, ValueError):
    """A claim file that does not parse or type-check (``file:line:column: …``)."""


class UsageError(GradflowError, ValueError):
    """Arguments of a Python call that do not go together (claims and paper, …)."""


class InputFileError(GradflowError, OSError):
    """An input file that could not be read (``path: message``)."""


class WriteError(GradflowError, OSError):
    """An output that could not be written (``path: cannot write: …``; the command line's
    exit status 4)."""


class OutputSetError(GradflowError, OSError):
    """An output directory that may not be replaced, or a file that differs from its
    output set's ``manifest.json``."""


class IntegrationError(GradflowError):
    """The integration could not continue."""


class InternalError(GradflowError):
    """A bug of gradflow (a Rust panic, caught before it reached Python)."""


_KINDS = {
    "config": ConfigError,
    "json": ConfigError,
    "shape": ShapeError,
    "data": DataError,
    "claims": ClaimsError,
    "usage": UsageError,
    "io": InputFileError,
    "write": WriteError,
    "output_set": OutputSetError,
    "integration": IntegrationError,
    "internal": InternalError,
}


def _native(fn, *args, **kwargs):
    """Calls a native function, raising its error as the typed exception."""
    try:
        return fn(*args, **kwargs)
    except _gradflow.NativeError as e:
        kind, message = e.args
        if kind == "interrupted":
            raise KeyboardInterrupt() from None
        raise _KINDS.get(kind, GradflowError)(message) from None


# ---------------------------------------------------------------------------------------
# results


@dataclass
class RunResult:
    """The outcome of :func:`run` (and the run of a :func:`check`).

    Attributes:
        weights: the final (last good) weights ``[W1, …, WL]``, ``W1`` of shape ``m1×d``.
        summary: the content of ``summary.json`` (a dict).
        status: ``"completed"``, or how the run stopped early (``"diverged"``,
            ``"max_steps"``, …): ``summary["status"]``.
        message: why the run stopped early (``summary["message"]``; empty when completed).
        t: the final (last good) time.
        trace: with ``trace_every``/``trace_dt``, the trace as a dict of NumPy columns
            (``step``, ``t``, ``h`` and one column per monitor), else ``None``.
        trace_events: the trace's event rows (method switches), as dicts.
        out: the output directory, when one was written.
    """

    weights: List[np.ndarray]
    summary: Dict[str, Any]
    status: str
    message: str
    t: float
    trace: Optional[Dict[str, np.ndarray]] = None
    trace_events: List[Dict[str, Any]] = field(default_factory=list)
    out: Optional[Path] = None

    @property
    def success(self) -> bool:
        """Whether the run reached ``t_end`` (as ``solve_ivp``'s ``success``)."""
        return self.status == "completed"


@dataclass
class Verdict:
    """One claim's verdict along a run (an entry of ``verdicts.json``).

    Attributes:
        id: the claim id.
        verdict: ``"holds"``, ``"violated"``, ``"inconclusive"`` or ``"not_applicable"``.
        lhs, rhs, slack, budget: the evaluation closest to failing (``min_slack``):
            ``slack = rhs − lhs`` against the error budget (``None`` if nothing was
            evaluated).
        t: the time of that evaluation.
        first_violation: where the statement first failed (a dict with ``t``,
            ``t_bracket``, ``step``, ``at_root``, ``at_step``), or ``None``.
        excerpt: the trajectory excerpt as a dict of NumPy columns (``step``, ``t``,
            ``lhs``, ``rhs``, ``slack``, ``budget``).
        note: remarks (why inconclusive, …).
        raw: the whole entry as written to ``verdicts.json``.
    """

    id: str
    verdict: str
    lhs: Optional[float]
    rhs: Optional[float]
    slack: Optional[float]
    budget: Optional[float]
    t: Optional[float]
    first_violation: Optional[Dict[str, Any]]
    excerpt: Dict[str, np.ndarray]
    note: str
    raw: Dict[str, Any]

    @classmethod
    def _from_json(cls, v: Dict[str, Any]) -> "Verdict":
        ms = v.get("min_slack") or {}
        rows = v.get("excerpt", [])
        cols = ("step", "t", "lhs", "rhs", "slack", "budget")
        excerpt = {c: np.array([_num(r[c]) for r in rows], dtype=float) for c in cols}
        return cls(
            id=v["info"]["id"],
            verdict=v["verdict"],
            lhs=_num(ms.get("lhs")),
            rhs=_num(ms.get("rhs")),
            slack=_num(ms.get("slack")),
            budget=_num(ms.get("budget")),
            t=_num(ms.get("t")),
            first_violation=v.get("first_violation"),
            excerpt=excerpt,
            note=v.get("note", ""),
            raw=v,
        )


@dataclass
class CheckResult:
    """The outcome of :func:`check`: the run and one :class:`Verdict` per claim.

    ``violated`` lists the claims whose verdict is ``"violated"`` (the command line's exit
    status 1); ``out`` is the output directory, whose ``counterexamples/<id>.json`` reports
    :func:`replay` reruns.
    """

    run: RunResult
    verdicts: List[Verdict]
    out: Optional[Path] = None

    @property
    def violated(self) -> List[Verdict]:
        """The verdicts that are ``"violated"``."""
        return [v for v in self.verdicts if v.verdict == "violated"]

    def counterexample(self, claim_id: str) -> Optional[Path]:
        """The counterexample report of a violated claim, when an output set was written."""
        if self.out is None:
            return None
        p = self.out / "counterexamples" / f"{claim_id}.json"
        return p if p.exists() else None


@dataclass
class ReplayResult:
    """The outcome of :func:`replay`: ``reproduced`` is true when every number, string and
    key of the report is reproduced bit for bit; ``differences`` lists each difference as
    ``/json/pointer: report X, rerun Y``."""

    reproduced: bool
    differences: List[str]
    claim: str
    expected: Dict[str, Any]
    got: Dict[str, Any]
    other_version: Optional[str]


def _num(x):
    """A JSON number as a float; ``None`` (absent, or a non-finite value) stays ``None``."""
    return None if x is None else float(x)


# ---------------------------------------------------------------------------------------
# arguments

ArrayLike = Any
ConfigLike = Union[Mapping[str, Any], str, os.PathLike]


def _matrix(name: str, a: ArrayLike, column: bool = False) -> np.ndarray:
    """``a`` as a 2-D float64 array (any memory order), with a warning for a narrower
    float type; a 1-D ``Y`` is a column, as the ``.npy`` reader takes it."""
    arr = np.asarray(a)
    if arr.dtype != np.float64:
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
            warnings.warn(
                f"gradflow: {name} is {arr.dtype}; converted to float64",
                stacklevel=3,
            )
        elif arr.dtype.kind not in "biuf":
            raise DataError(f"{name}: expected a real array, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    if arr.ndim == 1 and column:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ShapeError(f"shape mismatch: {name} has {arr.ndim} dimensions; expected a matrix")
    return arr


def _base_config(config: Optional[ConfigLike]) -> "tuple[Dict[str, Any], str]":
    """The configuration dict and its origin (for messages) from a dict, a JSON file path,
    or nothing (an empty configuration)."""
    if config is None:
        return {}, "python"
    if isinstance(config, Mapping):
        return json.loads(json.dumps(dict(config), default=_json_default)), "python"
    path = Path(config)
    # read by the library, as --config FILE: the same messages for a missing or malformed file
    v = json.loads(_native(_gradflow.read_config, str(path)))
    if not isinstance(v, dict):
        raise ConfigError("invalid configuration: the configuration must be a JSON object")
    return v, str(path)


def _overlay(
    cfg: Dict[str, Any],
    *,
    hidden=None,
    loss=None,
    t_end=None,
    method=None,
    rtol=None,
    atol=None,
    seed=None,
    trace_every=None,
    trace_dt=None,
    options: Mapping[str, Any],
) -> Dict[str, Any]:
    """Lays the keyword options over the configuration, field by field, as the command
    line's flags: the configuration's own validation then judges the values."""
    if hidden is not None:
        model = cfg.get("model")
        if isinstance(model, dict) and model.get("kind") == "leaky_relu":
            model = dict(model, hidden=list(hidden))
        else:
            model = {"kind": "deep_linear", "hidden": [int(h) for h in hidden]}
        cfg["model"] = model
    for key, val in (
        ("loss", loss),
        ("method", method),
        ("seed", seed),
    ):
        if val is not None:
            cfg[key] = val
    for key, val in (("rtol", rtol), ("atol", atol)):
        if val is not None:
            cfg[key] = np.asarray(val, dtype=float).tolist()
    if t_end is not None:
        cfg["t_end"] = float(t_end)
    if trace_every is not None and trace_dt is not None:
        raise UsageError("give either trace_every or trace_dt, not both")
    if trace_every is not None:
        cfg["trace"] = {"every": int(trace_every)}
    if trace_dt is not None:
        cfg["trace"] = {"dt": float(trace_dt)}
    for key, val in options.items():
        cfg[key] = val.tolist() if isinstance(val, np.ndarray) else val
    # gradient descent with a step count and no t_end: t_end = steps·lr (as --steps does)
    if cfg.get("method") == "gd" and "steps" in options and t_end is None:
        cfg["t_end"] = None
    return cfg


class _Call:
    """The arrays, the configuration and the directories of one run or check."""

    def __init__(self, X, Y, weights, config, out, inputs_dir, kw):
        base, self.origin = _base_config(config)
        self.trace_asked = any(kw.get(k) is not None for k in ("trace_every", "trace_dt"))
        self.cfg = _overlay(base, **kw)
        self.trace_asked = self.trace_asked or self.cfg.get("trace") is not None
        self.X = None if X is None else _matrix("X", X)
        self.Y = None if Y is None else _matrix("Y", Y, column=True)
        self.W = None if weights is None else [_matrix(f"W{k + 1}", w) for k, w in enumerate(weights)]
        self.out = None if out is None else Path(out)
        self._tmp: List[str] = []
        self.inputs = None
        if self.X is not None or self.Y is not None or self.W is not None:
            if inputs_dir is not None:
                self.inputs = Path(inputs_dir)
            elif self.out is not None:
                self.inputs = self.out.with_name(self.out.name + ".inputs")
            else:
                self.inputs = Path(self._tempdir())
        # a trace needs an output set to be written into
        self.write_to = self.out
        if self.write_to is None and self.trace_asked:
            self.write_to = Path(self._tempdir()) / "run"

    def _tempdir(self) -> str:
        d = tempfile.mkdtemp(prefix="gradflow-")
        self._tmp.append(d)
        return d

    def native_args(self):
        return dict(
            config_json=json.dumps(self.cfg, default=_json_default),
            origin=self.origin,
            x=self.X,
            y=self.Y,
            weights=self.W,
            inputs=None if self.inputs is None else str(self.inputs),
            out=None if self.write_to is None else str(self.write_to),
        )

    def result(self, summary_json: str, layers, t: float) -> RunResult:
        summary = json.loads(summary_json)
        trace, events = None, []
        if self.trace_asked and self.write_to is not None:
            trace, events = _read_trace(self.write_to / "trace.jsonl")
        return RunResult(
            weights=list(layers),
            summary=summary,
            status=summary["status"],
            message=summary.get("message", ""),
            t=t,
            trace=trace,
            trace_events=events,
            out=self.out,
        )

    def cleanup(self):
        for d in self._tmp:
            shutil.rmtree(d, ignore_errors=True)


def _json_default(v):
    """NumPy scalars and arrays in a configuration, as JSON numbers and lists."""
    if isinstance(v, (np.generic, np.ndarray)):
        return v.tolist()
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    raise TypeError(f"{type(v).__name__} is not a JSON value")


def _read_trace(path: Path):
    """The JSONL trace as NumPy columns (``null`` — a non-finite value — as NaN) and its
    event rows."""
    rows, events = [], []
    if not path.exists():
        return None, events
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            (events if "event" in r else rows).append(r)
    if not rows:
        return {}, events
    cols = {}
    for k in rows[0]:
        vals = [r.get(k) for r in rows]
        if all(isinstance(v, (int, float)) or v is None for v in vals):
            cols[k] = np.array([np.nan if v is None else v for v in vals], dtype=float)
            if k == "step":
                cols[k] = cols[k].astype(np.int64)
        else:
            cols[k] = np.array(vals, dtype=object)
    return cols, events


# ---------------------------------------------------------------------------------------
# entry points


def run(
    X: Optional[ArrayLike] = None,
    Y: Optional[ArrayLike] = None,
    weights: Optional[Sequence[ArrayLike]] = None,
    *,
    config: Optional[ConfigLike] = None,
    hidden: Optional[Sequence[int]] = None,
    loss: Optional[str] = None,
    t_end: Optional[float] = None,
    method: Optional[str] = None,
    rtol: Optional[Union[float, Sequence[float]]] = None,
    atol: Optional[Union[float, Sequence[float]]] = None,
    seed: Optional[int] = None,
    trace_every: Optional[int] = None,
    trace_dt: Optional[float] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    inputs_dir: Optional[Union[str, os.PathLike]] = None,
    **options: Any,
) -> RunResult:
    """Integrate the gradient flow of a deep linear network (``gradflow run``).

    The run is described by a JSON run configuration (``docs/guide/running.md``): ``config``
    (a dict, e.g. ``example("cl22-spike")``, or the path of a JSON file), with the
    arrays and keyword options laid over it as the command line's flags are.

    Args:
        X: inputs, ``n×d`` (rows are samples). Any float array, C or Fortran order;
            float32 is converted to float64 with a warning. With ``Y`` it replaces the
            configuration's ``data`` (the command line's ``--data DIR``).
        Y: targets, ``n×q`` (a 1-D ``Y`` is ``n×1``).
        weights: initial weights ``[W1, …, WL]``, ``Wk`` of shape ``m_k×m_{k−1}``
            (``W1`` is ``m1×d``); replaces ``init`` (``--init DIR``). Without ``hidden`` or
            a ``model`` in ``config``, the weights give the network's shape.
        config: the base configuration (dict or path); default an empty one.
        hidden: hidden widths (``--hidden``), e.g. ``[8, 8]``.
        loss: ``"sum"``, ``"half_sum"``, ``"mean"`` or ``"half_mean"``; required unless
            the configuration sets it (as ``--loss`` on the command line).
        t_end: final time.
        method: integrator (``dopri5``, ``dop853``, ``tsit5``, ``rock4``, ``radau5``,
            ``auto``, ``gd``, …; ``gradflow run --help`` lists them).
        rtol, atol: tolerances, one value or one per layer.
        seed: seed of the generated data and initial weights.
        trace_every: keep a trace row every N accepted steps (``--trace every=N``).
        trace_dt: keep a trace row on the time grid of step ``dt`` (``--trace dt=X``).
        out: write the output set (``summary.json``, ``weights/``, ``trace.jsonl``,
            ``manifest.json``) to this directory, as ``gradflow run --out`` does.
        inputs_dir: where the arrays are written as ``X.npy``, ``Y.npy``, ``W1.npy`` … (the
            run reads them as the command line's ``--data``/``--init`` do). Default:
            ``<out>.inputs`` beside ``out`` when ``out`` is given (so the output set's
            provenance stays valid), else a temporary directory removed after the call.
        **options: any other top-level configuration field (``max_steps``,
            ``fixed_step``, ``sharpness_every``, ``lr``, ``steps``, ``on_chatter``,
            ``loss_threshold``, ``tstops``, …).

    Returns:
        A :class:`RunResult` (``weights``, ``summary``, ``status``, ``t``, ``trace``).

    Raises:
        ConfigError, ShapeError, DataError (all ``ValueError``); InputFileError,
        WriteError, OutputSetError (all ``OSError``); KeyboardInterrupt on Ctrl-C.

    Example:
        >>> import gradflow, numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 1))
        >>> W = [0.3 * rng.normal(size=(3, 4)), 0.3 * rng.normal(size=(1, 3))]
        >>> r = gradflow.run(X, Y, W, loss="half_mean", t_end=1.0, rtol=1e-8, atol=1e-10)
        >>> r.status, r.summary["final_loss"] < r.summary["monitors"]["loss"]["first"]
        ('completed', True)
    """
    call = _Call(
        X, Y, weights, config, out, inputs_dir,
        dict(hidden=hidden, loss=loss, t_end=t_end, method=method, rtol=rtol, atol=atol,
             seed=seed, trace_every=trace_every, trace_dt=trace_dt, options=options),
    )
    try:
        summary, layers, t = _native(_gradflow.run, **call.native_args())
        return call.result(summary, layers, t)
    finally:
        call.cleanup()


def check(
    X: Optional[ArrayLike] = None,
    Y: Optional[ArrayLike] = None,
    weights: Optional[Sequence[ArrayLike]] = None,
    *,
    claims: Optional[Union[str, Sequence[str]]] = None,
    paper: Optional[str] = None,
    claims_file: Optional[Union[str, os.PathLike]] = None,
    config: Optional[ConfigLike] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    inputs_dir: Optional[Union[str, os.PathLike]] = None,
    **run_options: Any,
) -> CheckResult:
    """Check claims along a run (``gradflow check``); violations are confirmed by
    re-integration before they are reported, as on the command line.

    Args:
        X, Y, weights, config, out, inputs_dir, **run_options: the run, as for :func:`run`.
        claims: claim ids (a list, or a comma-separated string), a paper (``"000"``) or
            ``"all"``; with ``claims_file`` an item may also name a claim of that file.
        paper: all claims of one paper (``"000"`` … ``"003"``).
        claims_file: a claim file in the claim language (``docs/claims-language.md``):
            its claims are checked (all of them, or those ``claims`` names).
        out: the output set to write (``verdicts.json``, ``counterexamples/<id>.json`` for
            each violated claim, and the run's files); :func:`replay` reruns a report.

    Returns:
        A :class:`CheckResult`: ``run`` (a :class:`RunResult`), ``verdicts`` (one
        :class:`Verdict` per claim, in order), ``violated``.
    """
    if isinstance(claims, str):
        claims = claims.split(",")
    named = ("hidden", "loss", "t_end", "method", "rtol", "atol", "seed", "trace_every",
             "trace_dt")
    overlay = {k: run_options.pop(k, None) for k in named}
    call = _Call(X, Y, weights, config, out, inputs_dir, dict(overlay, options=run_options))
    try:
        summary, layers, t, verdicts = _native(
            _gradflow.check,
            **call.native_args(),
            claims=None if claims is None else list(claims),
            paper=paper,
            claims_file=None if claims_file is None else str(claims_file),
        )
        run_result = call.result(summary, layers, t)
        vs = [Verdict._from_json(v) for v in json.loads(verdicts)]
        return CheckResult(run=run_result, verdicts=vs, out=call.out)
    finally:
        call.cleanup()


def replay(report: Union[str, os.PathLike]) -> ReplayResult:
    """Rerun a counterexample report (``DIR/counterexamples/<id>.json``) and compare every
    number, string and key bit for bit (``gradflow replay``). A report modified after its
    run (per its output set's ``manifest.json``) raises :class:`OutputSetError`."""
    r = json.loads(_native(_gradflow.replay, str(report)))
    return ReplayResult(**r)


def sweep(
    spec: Union[Mapping[str, Any], str, os.PathLike],
    *,
    out: Optional[Union[str, os.PathLike]] = None,
    jobs: Optional[int] = None,
    fresh: bool = False,
) -> Dict[str, Any]:
    """Run a sweep (``gradflow sweep``): a run configuration over a grid of values × seeds,
    with its sweep claims judged. ``spec`` is a sweep file's path or its content as a dict.
    With ``out``, point records go to ``out/points/`` as they finish (rerunning resumes;
    ``fresh=True`` discards them) and verdicts to ``out/sweep_verdicts.json``; without it
    everything stays in memory. ``jobs``: worker threads (default one per core).
    Returns the content of ``sweep_verdicts.json`` plus ``resumed``."""
    if isinstance(spec, Mapping):
        source = dict(text=json.dumps(dict(spec), default=_json_default), origin="python")
    else:
        source = dict(path=str(spec))
    return json.loads(
        _native(
            _gradflow.sweep, **source,
            out=None if out is None else str(out), jobs=jobs, fresh=fresh,
        )
    )


def claims(
    paper: Optional[str] = None, claims_file: Optional[Union[str, os.PathLike]] = None
) -> List[Dict[str, Any]]:
    """The encoded claims (``gradflow claims``): dicts with ``id``, ``paper``, ``result``,
    ``statement`` and ``sweep`` (a sweep claim, judged by :func:`sweep`). ``paper``: only
    that paper's; ``claims_file``: that claim file's claims instead (type-checked)."""
    return json.loads(
        _native(_gradflow.claims, paper,
                None if claims_file is None else str(claims_file))
    )


def claim_source(claim_id: str, claims_file: Optional[Union[str, os.PathLike]] = None) -> str:
    """A claim's declaration in the claim language (``gradflow claims --show ID``)."""
    return _native(_gradflow.claim_source, claim_id,
                   None if claims_file is None else str(claims_file))


def examples() -> List[Dict[str, str]]:
    """The built-in examples (``gradflow examples``): dicts with ``name``, ``paper``,
    ``description``."""
    return [dict(name=n, paper=p, description=d) for n, p, d in _gradflow.examples()]


def example(name: str) -> Dict[str, Any]:
    """A built-in example's run configuration as a dict (``gradflow examples --show
    NAME``); it does not run it: ``run(config=example(NAME))`` does, and keyword options
    override its fields as the command line's flags do."""
    return json.loads(_native(_gradflow.example_json, name))


def set_limits(
    max_memory: Optional[str] = None,
    max_trace_rows: Optional[int] = None,
    max_sweep_points: Optional[int] = None,
) -> None:
    """Set the process's limits, as the command line's global flags: ``max_memory``
    (``"512M"``, ``"16G"``; default 8G), ``max_trace_rows``, ``max_sweep_points``."""
    _native(_gradflow.set_limits, max_memory, max_trace_rows, max_sweep_points)
