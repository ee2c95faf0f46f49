"""The package calls the same core as the command line: on the same inputs, its final
weights are the CLI's bit for bit and its summary is the CLI's summary.json (apart from
wall-clock time and the paths of input directories)."""

import json

import numpy as np

import gradflow
from conftest import REPO, without

# keys that legitimately differ between two runs of the same inputs
VOLATILE = {"wall_s", "dir", "path"}


def load_weights(out):
    files = sorted((out / "weights").glob("W*.npy"), key=lambda p: int(p.stem[1:]))
    return [np.load(f) for f in files]


def assert_bitwise(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        # equal as IEEE bit patterns, not merely close
        assert np.array_equal(x.view(np.uint64), np.ascontiguousarray(y).view(np.uint64))


def test_example_run_matches_cli_bit_for_bit(cli, tmp_path):
    p = cli("run", "--example", "mc24-small-init", "--t-end", "2", "--out", tmp_path / "cli")
    assert p.returncode == 0, p.stderr
    cfg = gradflow.example("mc24-small-init")
    r = gradflow.run(config=cfg, t_end=2.0, out=tmp_path / "py")
    assert r.status == "completed"
    cli_summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert_bitwise(load_weights(tmp_path / "cli"), r.weights)
    assert without(cli_summary, VOLATILE) == without(r.summary, VOLATILE)
    # the package's output set is the CLI's: same summary file, same weight files
    assert_bitwise(load_weights(tmp_path / "py"), r.weights)
    assert json.loads((tmp_path / "py" / "summary.json").read_text()) == r.summary


def test_arrays_match_cli_npy_inputs_bit_for_bit(cli, tmp_path):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(12, 5))
    Y = rng.normal(size=(12, 2))
    W = [0.4 * rng.normal(size=(4, 5)), 0.4 * rng.normal(size=(3, 4)), 0.4 * rng.normal(size=(2, 3))]
    data = tmp_path / "inputs"
    data.mkdir()
    np.save(data / "X.npy", X)
    np.save(data / "Y.npy", Y)
    for k, w in enumerate(W):
        np.save(data / f"W{k + 1}.npy", w)
    p = cli("run", "--data", data, "--init", data, "--t-end", "3", "--method", "dop853",
            "--rtol", "1e-9", "--atol", "1e-11", "--loss", "half_sum", "--out", tmp_path / "cli")
    assert p.returncode == 0, p.stderr
    # Fortran-ordered X: the memory order does not change the numbers
    r = gradflow.run(np.asfortranarray(X), Y, W, t_end=3.0, method="dop853", rtol=1e-9,
                     atol=1e-11, loss="half_sum")
    cli_summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert_bitwise(load_weights(tmp_path / "cli"), r.weights)
    assert without(cli_summary, VOLATILE) == without(r.summary, VOLATILE)


def test_check_verdicts_match_cli(cli, tmp_path):
    claims = REPO / "proofs_check" / "user" / "pl_rate.claims"
    p = cli("check", "--example", "cl22-spike", "--t-end", "0.5", "--claims-file", claims,
            "--out", tmp_path / "cli")
    assert p.returncode in (0, 1), p.stderr
    res = gradflow.check(config=gradflow.example("cl22-spike"), t_end=0.5,
                         claims_file=claims, out=tmp_path / "py")
    cli_verdicts = json.loads((tmp_path / "cli" / "verdicts.json").read_text())
    py_verdicts = json.loads((tmp_path / "py" / "verdicts.json").read_text())
    assert without(cli_verdicts, VOLATILE) == without(py_verdicts, VOLATILE)
    # the verdict objects are the entries of verdicts.json
    assert [v.raw for v in res.verdicts] == py_verdicts["verdicts"]
    assert_bitwise(load_weights(tmp_path / "cli"), res.run.weights)


def test_output_sets_verify_with_the_cli(cli, tmp_path):
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    W = [0.5 * rng.normal(size=(2, 3)), 0.5 * rng.normal(size=(1, 2))]
    r = gradflow.run(X, Y, W, loss="half_mean", t_end=1.0, rtol=1e-8, atol=1e-10,
                     trace_every=2, out=tmp_path / "run")
    assert r.out == tmp_path / "run" and r.trace is not None
    # the arrays are kept beside the output set, where its configuration names them
    assert (tmp_path / "run.inputs" / "X.npy").exists()
    assert np.array_equal(np.load(tmp_path / "run.inputs" / "W2.npy"), W[1])
    c = gradflow.check(config=gradflow.example("mc24-small-init"), t_end=0.5,
                       claims="mc24.lemma1.imbalance_conserved", out=tmp_path / "check")
    assert c.verdicts[0].verdict == "holds"
    for d in ("run", "check"):
        p = cli("verify", tmp_path / d)
        assert p.returncode == 0, p.stderr
