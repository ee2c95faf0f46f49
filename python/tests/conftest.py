"""Shared helpers of the Python package's tests: the repository root, the command-line
binary the results are compared with, and JSON comparison without wall-clock times."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _binary():
    env = os.environ.get("GRADFLOW_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for p in (target / "release" / "gradflow", REPO / "target" / "release" / "gradflow"):
        if p.exists():
            return p
    found = shutil.which("gradflow")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def cli():
    """Runs the `gradflow` binary (GRADFLOW_BIN, else the release build of the repository)
    and returns the CompletedProcess. Skips when no binary was built, fails when
    GRADFLOW_BIN names a missing file (CI sets it, so the comparison is never skipped
    there)."""
    exe = _binary()
    if exe is None or not exe.exists():
        if os.environ.get("GRADFLOW_BIN"):
            pytest.fail(f"GRADFLOW_BIN={os.environ['GRADFLOW_BIN']} does not exist")
        pytest.skip("no gradflow binary (cargo build --release, or set GRADFLOW_BIN)")

    def call(*args, cwd=None):
        return subprocess.run(
            [str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd
        )

    return call


def without(v, keys):
    """`v` (JSON) without the keys `keys` at any depth."""
    if isinstance(v, dict):
        return {k: without(x, keys) for k, x in v.items() if k not in keys}
    if isinstance(v, list):
        return [without(x, keys) for x in v]
    return v
