"""Errors are raised as documented: typed GradflowError subclasses that are also
ValueError/OSError, with the command line's one-line message; never a Rust panic."""

import warnings

import numpy as np
import pytest

import gradflow


def data(n=5, d=3, q=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, q))


def test_width_mismatch_is_the_cli_message(cli, tmp_path):
    X, Y = data(d=3)
    W = [np.ones((2, 4)), np.ones((1, 2))]  # first layer expects d = 4
    with pytest.raises(gradflow.ShapeError) as e:
        gradflow.run(X, Y, W, loss="half_mean", t_end=1.0, rtol=1e-8, atol=1e-10)
    assert isinstance(e.value, ValueError)
    d = tmp_path / "in"
    d.mkdir()
    np.save(d / "X.npy", X)
    np.save(d / "Y.npy", Y)
    np.save(d / "W1.npy", W[0])
    np.save(d / "W2.npy", W[1])
    p = cli("run", "--data", d, "--init", d, "--t-end", "1", "--loss", "half_mean",
            "--rtol", "1e-8", "--atol", "1e-10", "--out", tmp_path / "o")
    assert p.returncode == 2
    assert p.stderr.strip() == f"gradflow: error: {e.value}"


def test_row_mismatch_and_non_finite_data():
    X, Y = data()
    with pytest.raises(gradflow.ShapeError, match="shape mismatch"):
        gradflow.run(X, Y[:4], [np.ones((2, 3)), np.ones((1, 2))], loss="half_mean")
    X[1, 2] = np.nan
    with pytest.raises(gradflow.DataError, match="invalid data"):
        gradflow.run(X, Y, [np.ones((2, 3)), np.ones((1, 2))], loss="half_mean")


def test_bad_configuration_values_are_config_errors():
    X, Y = data()
    W = [np.ones((2, 3)), np.ones((1, 2))]
    with pytest.raises(gradflow.ConfigError, match="invalid configuration") as e:
        gradflow.run(X, Y, W, loss="half_mean", t_end=-1.0)
    assert isinstance(e.value, ValueError)
    with pytest.raises(gradflow.ConfigError):
        gradflow.run(X, Y, W, loss="half_mean", method="no_such_method")
    with pytest.raises(gradflow.ConfigError):
        gradflow.example("no-such-example")


def test_files_and_output_sets_are_os_errors(tmp_path):
    with pytest.raises(gradflow.InputFileError) as e:
        gradflow.run(config=tmp_path / "missing.json")
    assert isinstance(e.value, OSError)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(gradflow.OutputSetError) as e:
        gradflow.run(config=gradflow.example("mc24-small-init"), t_end=0.1, out=foreign)
    assert isinstance(e.value, OSError)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(gradflow.InputFileError):
        gradflow.replay(tmp_path / "missing.json")


def test_claim_selection_errors():
    cfg = gradflow.example("mc24-small-init")
    with pytest.raises(gradflow.UsageError):
        gradflow.check(config=cfg, claims=["all"], paper="002")
    with pytest.raises(gradflow.ConfigError):
        gradflow.check(config=cfg, claims=["no.such.claim"], t_end=0.1)


def test_claim_file_errors_name_line_and_column(tmp_path):
    f = tmp_path / "bad.claims"
    f.write_text("claim user.x {\n  always after 0: loss <= nosuchname\n}\n")
    with pytest.raises(gradflow.ClaimsError, match=r"bad.claims:2:\d+"):
        gradflow.claims(claims_file=f)


def test_float32_is_converted_with_a_warning():
    X, Y = data()
    W = [0.5 * np.ones((2, 3)), 0.5 * np.ones((1, 2))]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r32 = gradflow.run(X.astype(np.float32), Y, W, loss="half_mean", t_end=0.5, rtol=1e-8, atol=1e-10)
    assert any("float32" in str(x.message) for x in w)
    r64 = gradflow.run(X.astype(np.float32).astype(np.float64), Y, W, loss="half_mean", t_end=0.5, rtol=1e-8, atol=1e-10)
    assert all(np.array_equal(a, b) for a, b in zip(r32.weights, r64.weights))


def test_file_errors_are_the_cli_messages(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"t_end": 1.0,')
    for path, exc in ((tmp_path / "missing.json", gradflow.InputFileError),
                      (bad, gradflow.ConfigError)):
        with pytest.raises(exc) as e:
            gradflow.run(config=path)
        p = cli("run", "--config", path, "--out", tmp_path / "o")
        assert p.returncode == 2
        assert p.stderr.strip() == f"gradflow: error: {e.value}"
    with pytest.raises(gradflow.InputFileError) as e:
        gradflow.sweep(tmp_path / "missing.json")
    p = cli("sweep", tmp_path / "missing.json", "--out", tmp_path / "s")
    assert p.stderr.strip() == f"gradflow: error: {e.value}"


def test_a_rust_panic_is_an_internal_error():
    from gradflow import _gradflow, _native
    with pytest.raises(gradflow.InternalError, match="internal error: a panic raised on purpose"):
        _native(_gradflow._panic_for_tests)
    # and the module goes on working
    assert gradflow.examples()
