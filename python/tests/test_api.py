"""The rest of the API: examples, claim listing, checks with counterexample reports and
their replay, sweeps, limits, and Ctrl-C during a long call (the GIL is released and the
run stops at its next step)."""

import _thread
import json
import threading
import time

import numpy as np
import pytest

import gradflow
from conftest import REPO

PL = REPO / "proofs_check" / "user" / "pl_rate.claims"


def test_examples_and_claims_are_listed():
    names = [e["name"] for e in gradflow.examples()]
    assert "cl22-spike" in names
    cfg = gradflow.example("cl22-spike")
    assert cfg["model"]["kind"] == "deep_linear"
    listed = gradflow.claims()
    ids = [c["id"] for c in listed]
    assert "mc24.lemma1.imbalance_conserved" in ids
    assert any(c["sweep"] for c in listed)
    assert all(c["paper"] == "002" for c in gradflow.claims(paper="002"))
    assert "claim" in gradflow.claim_source("mc24.lemma1.imbalance_conserved") or \
        "Rust claim" in gradflow.claim_source("mc24.lemma1.imbalance_conserved")
    user = gradflow.claims(claims_file=PL)
    assert [c["id"] for c in user] == ["user.pl_rate_conjectured", "user.pl_rate"]


def test_check_writes_a_counterexample_that_replays(tmp_path):
    res = gradflow.check(config=gradflow.example("cl22-spike"), t_end=2.0, method="dop853",
                         loss="half_sum", rtol=1e-8, atol=1e-10, claims_file=PL,
                         claims="user.pl_rate_conjectured,user.pl_rate", out=tmp_path / "c")
    by_id = {v.id: v for v in res.verdicts}
    bad = by_id["user.pl_rate_conjectured"]
    assert bad.verdict == "violated"
    assert bad.first_violation is not None and bad.slack < 0
    assert by_id["user.pl_rate"].verdict == "holds"
    assert by_id["user.pl_rate"].slack >= -by_id["user.pl_rate"].budget
    assert [v.id for v in res.violated] == ["user.pl_rate_conjectured"]
    report = res.counterexample("user.pl_rate_conjectured")
    assert report is not None
    rep = gradflow.replay(report)
    assert rep.reproduced and rep.differences == []
    # a report changed after its run is refused by its manifest
    text = report.read_text()
    report.write_text(text.replace('"violated"', '"holds"', 1))
    with pytest.raises(gradflow.OutputSetError):
        gradflow.replay(report)


def test_check_of_a_paper_on_arrays():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(10, 4)), rng.normal(size=(10, 1))
    W = [0.3 * rng.normal(size=(3, 4)), 0.3 * rng.normal(size=(1, 3))]
    res = gradflow.check(X, Y, W, loss="half_mean", rtol=1e-8, atol=1e-10, claims=["mc24.lemma1.imbalance_conserved"], t_end=1.0)
    (v,) = res.verdicts
    assert v.verdict == "holds"
    assert abs(v.slack) <= v.budget
    assert set(v.excerpt) == {"step", "t", "lhs", "rhs", "slack", "budget"}


def test_sweep_from_a_dict(tmp_path):
    spec = json.loads((REPO / "proofs_check" / "user" / "sweep_user_claim.json").read_text())
    spec["claims_file"] = str(REPO / "proofs_check" / "user" / spec["claims_file"])
    res = gradflow.sweep(spec, out=tmp_path / "s", jobs=1)
    assert res["points"] and res["verdicts"]
    assert (tmp_path / "s" / "sweep_verdicts.json").exists()
    again = gradflow.sweep(spec, out=tmp_path / "s", jobs=1)
    assert again["resumed"] == len(again["points"])


def test_limits():
    gradflow.set_limits(max_memory="1K")
    try:
        with pytest.raises(gradflow.GradflowError):
            gradflow.run(config=gradflow.example("cl22-spike"), t_end=0.1)
    finally:
        gradflow.set_limits(max_memory="8G")
    with pytest.raises(gradflow.UsageError):
        gradflow.set_limits(max_trace_rows=0)


def test_ctrl_c_stops_a_long_run():
    # a run of many small fixed steps; a timer thread (which needs the GIL, so the call
    # must have released it) sends KeyboardInterrupt to the main thread after 0.5 s
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(32, 16)), rng.normal(size=(32, 4))
    W = [0.1 * rng.normal(size=(32, 16)), 0.1 * rng.normal(size=(4, 32))]
    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        gradflow.run(X, Y, W, loss="half_mean", rtol=1e-6, atol=1e-8, t_end=1e6, method="dopri5", fixed_step=1e-3, max_steps=10**12)
    elapsed = time.monotonic() - start
    timer.join()
    assert elapsed < 5.0, elapsed
    # the next call runs normally (the stop request was withdrawn)
    assert gradflow.run(X, Y, W, loss="half_mean", rtol=1e-6, atol=1e-8, t_end=0.01).status == "completed"


def test_config_file_paper_and_trace_every(tmp_path):
    cfg = gradflow.example("mc24-small-init")
    path = tmp_path / "run.json"
    path.write_text(json.dumps(cfg))
    # a configuration file, with one field changed as a flag would
    r = gradflow.run(config=path, t_end=0.5, trace_every=5)
    assert r.success and r.summary["t_end"] == 0.5
    steps = r.trace["step"]
    # every 5th accepted step, plus the first and the last
    assert steps[0] == 0 and steps[-1] == r.summary["stats"]["accepted"]
    assert all(s % 5 == 0 for s in steps[1:-1])
    # all claims of a paper
    res = gradflow.check(config=path, paper="002", t_end=0.5)
    ids = {c["id"] for c in gradflow.claims(paper="002") if not c["sweep"]}
    assert {v.id for v in res.verdicts} == ids
    assert {v.verdict for v in res.verdicts} <= {"holds", "violated", "inconclusive",
                                                 "not_applicable"}
