"""Times the same runs through the command line and through the Python package, to measure
what a Python call costs over the CLI (docs/guide/python.md, "Overhead over the command
line"). Both write their output set, so both do the same work.

    python python/examples/overhead.py [REPEATS]

The CLI is GRADFLOW_BIN, else the repository's release build
(${CARGO_TARGET_DIR:-target}/release/gradflow). Prints a Markdown table (best of REPEATS,
default 5).
"""

import os
import shutil
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


def best(f):
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def cli(*args):
    out = TMP / "cli"
    p = subprocess.run([EXE, "run", *map(str, args), "--out", str(out)], capture_output=True)
    assert p.returncode == 0, p.stderr.decode()


def row(name, cli_args, py_call):
    t_cli = best(lambda: cli(*cli_args))
    t_py = best(py_call)
    print(f"| {name} | {t_cli * 1e3:.1f} ms | {t_py * 1e3:.1f} ms | "
          f"{(t_py - t_cli) * 1e3:+.1f} ms ({(t_py / t_cli - 1) * 100:+.1f} %) |")


def main():
    print(f"gradflow {gradflow.__version__}; CLI {EXE}; best of {REPEATS}")
    print("| problem | CLI | Python | Python − CLI |")
    print("| --- | --- | --- | --- |")
    # small: a built-in example, generated data, no arrays cross the boundary
    cfg = gradflow.example("cl22-spike")
    row("example cl22-spike (n=20, d=40, widths 40→48→48→2)", ["--example", "cl22-spike"],
        lambda: gradflow.run(config=cfg, out=TMP / "py"))
    # wide: arrays from NumPy (written as .npy for the CLI)
    rng = np.random.default_rng(0)
    n, widths = 64, [128, 256, 256, 256, 8]
    X = rng.normal(size=(n, widths[0]))
    Y = rng.normal(size=(n, widths[-1]))
    W = [rng.normal(size=(widths[k + 1], widths[k])) / np.sqrt(widths[k])
         for k in range(len(widths) - 1)]
    data = TMP / "wide"
    data.mkdir()
    np.save(data / "X.npy", X)
    np.save(data / "Y.npy", Y)
    for k, w in enumerate(W):
        np.save(data / f"W{k + 1}.npy", w)
    t_end = float(os.environ.get("WIDE_T_END", "2.0"))
    row(f"arrays n=64, widths 128→256→256→256→8, t_end={t_end:g}",
        ["--data", data, "--init", data, "--t-end", t_end],
        lambda: gradflow.run(X, Y, W, t_end=t_end, out=TMP / "pyw"))
    r = gradflow.run(X, Y, W, t_end=t_end)
    print(f"(wide run: {r.summary['stats']['accepted']} accepted steps, status {r.status})")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
