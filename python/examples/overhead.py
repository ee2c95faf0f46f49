"""Times the same runs through the command line and through the Python package, to measure
what a Python call costs over the CLI (docs/guide/python.md, "Overhead over the command
line"). Both write their output set, so both do the same work; the last column is the
Python call without an output set (nothing written but the array inputs).

    python python/examples/overhead.py [REPEATS]

The CLI is GRADFLOW_BIN, else the repository's release build
(${CARGO_TARGET_DIR:-target}/release/gradflow). Prints a Markdown table of median times
over REPEATS interleaved rounds (default 5).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gradflow

REPO = Path(__file__).resolve().parents[2]
EXE = os.environ.get("GRADFLOW_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "gradflow"
)
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
TMP = Path(tempfile.mkdtemp(prefix="gradflow-overhead-"))


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def medians(*fs):
    """The median time of each of `fs` over REPEATS rounds, run interleaved (one of each per
    round) so that a load change on the machine affects all of them alike."""
    times = [[] for _ in fs]
    for _ in range(REPEATS):
        for t, f in zip(times, fs):
            t.append(timed(f))
    return [statistics.median(t) for t in times]


def cli(*args):
    out = TMP / "cli"
    p = subprocess.run([EXE, "run", *map(str, args), "--out", str(out)], capture_output=True)
    assert p.returncode == 0, p.stderr.decode()


def row(name, cli_args, py_call, py_memory):
    t_cli, t_py, t_mem = medians(lambda: cli(*cli_args), py_call, py_memory)
    print(f"| {name} | {t_cli * 1e3:.1f} ms | {t_py * 1e3:.1f} ms | "
          f"{(t_py - t_cli) * 1e3:+.1f} ms ({(t_py / t_cli - 1) * 100:+.1f} %) | "
          f"{t_mem * 1e3:.1f} ms |")


def main():
    print(f"gradflow {gradflow.__version__}; CLI {EXE}; median of {REPEATS} interleaved rounds")
    print("| problem | CLI (`--out`) | Python (`out=`) | Python − CLI | Python, no `out` |")
    print("| --- | --- | --- | --- | --- |")
    # small: a built-in example, generated data, no arrays cross the boundary
    cfg = gradflow.example("cl22-spike")
    r = gradflow.run(config=cfg)
    row(f"example cl22-spike: n=20, widths 40→48→48→2 ({r.summary['stats']['accepted']} steps)",
        ["--example", "cl22-spike"], lambda: gradflow.run(config=cfg, out=TMP / "py"),
        lambda: gradflow.run(config=cfg))
    tol = dict(loss="half_mean", rtol=1e-8, atol=1e-10)
    tol_flags = ["--loss", "half_mean", "--rtol", "1e-8", "--atol", "1e-10"]
    rng = np.random.default_rng(0)
    # tiny and wide: arrays from NumPy (written as .npy for the CLI)
    for name, n, widths, t_end in (
        ("tiny", 8, [4, 3, 1], 1.0),
        ("wide", 64, [128, 256, 256, 256, 8], float(os.environ.get("WIDE_T_END", "1.0"))),
    ):
        X = rng.normal(size=(n, widths[0]))
        Y = rng.normal(size=(n, widths[-1]))
        W = [rng.normal(size=(widths[k + 1], widths[k])) / np.sqrt(widths[k])
             for k in range(len(widths) - 1)]
        data = TMP / name
        data.mkdir()
        np.save(data / "X.npy", X)
        np.save(data / "Y.npy", Y)
        for k, w in enumerate(W):
            np.save(data / f"W{k + 1}.npy", w)
        label = "→".join(map(str, widths))
        r = gradflow.run(X, Y, W, t_end=t_end, **tol)
        row(f"{name}: arrays n={n}, widths {label}, t_end={t_end:g} "
            f"({r.summary['stats']['accepted']} steps)",
            ["--data", data, "--init", data, "--t-end", t_end, *tol_flags],
            lambda: gradflow.run(X, Y, W, t_end=t_end, out=TMP / "py", **tol),
            lambda: gradflow.run(X, Y, W, t_end=t_end, **tol))
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
