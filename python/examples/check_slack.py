"""Check a conjecture along a gradient-flow run and look at its slack — a notebook-style
walk through the Python API (run it as a script; each step prints what it found).

The conjecture is the README's worked example (proofs_check/user/pl_rate.claims): along the
flow of the cl22-spike example, the loss decays at the rate 4κ‖X‖_op²·min σ_q(W_L⋯W_2)².
It is too optimistic (the slow directions of X decay at σ_n(X)², not ‖X‖_op²), and the
check finds the first time it fails, confirms it by re-integration, and writes a
counterexample report that replays bit for bit. The corrected rate holds.

    python python/examples/check_slack.py [OUT_DIR]

With matplotlib installed, the slack of both claims along the run is saved to
OUT_DIR-slack.png; without it the plot is skipped.
"""

import sys
import tempfile
from pathlib import Path

import gradflow

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "proofs_check" / "user" / "pl_rate.claims"

# %% the run: a built-in example's configuration, with a few fields changed
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "pl_rate"
config = gradflow.example("cl22-spike")
print("example cl22-spike:", config["model"], config["data"]["kind"], "data")

# %% check both claims of the file along the run (to t = 2, DOP853, tight tolerances)
res = gradflow.check(config=config, t_end=2.0, method="dop853", loss="half_sum",
                     rtol=1e-8, atol=1e-10, claims_file=CLAIMS, out=out)
print(f"run: {res.run.status} at t = {res.run.t}, final loss {res.run.summary['final_loss']:.3e}")
for v in res.verdicts:
    line = f"{v.id}: {v.verdict} (closest: slack {v.slack:.3e}, budget {v.budget:.1e}"
    if v.first_violation:
        line += f"; first violated at t = {v.first_violation['t']:.6f}"
    print(line + ")")

# %% the counterexample report replays bit for bit
for v in res.violated:
    report = res.counterexample(v.id)
    rep = gradflow.replay(report)
    print(f"replay {report.name}: {'reproduced' if rep.reproduced else rep.differences}")

# %% plot the slack (rhs − lhs) on each claim's trajectory excerpt
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot")
else:
    # each verdict keeps an excerpt of the trajectory: around the first violation, or the
    # last evaluations of a claim that holds; one panel per claim
    fig, axes = plt.subplots(1, len(res.verdicts), figsize=(4 * len(res.verdicts), 3.2))
    for ax, v in zip(axes, res.verdicts):
        ax.plot(v.excerpt["t"], v.excerpt["slack"], marker=".", label="slack")
        ax.fill_between(v.excerpt["t"], -v.excerpt["budget"], v.excerpt["budget"],
                        color="0.85", label="± budget")
        ax.axhline(0.0, color="k", lw=0.5)
        if v.first_violation:
            ax.axvline(v.first_violation["t"], color="r", ls="--", lw=0.8,
                       label="first violation")
        ax.set_title(f"{v.id}: {v.verdict}", fontsize=8)
        ax.set_xlabel("t")
        ax.set_ylabel("slack = rhs − lhs")
        ax.legend(fontsize=7)
    fig.tight_layout()
    # beside the output set, which holds only the files its manifest lists
    png = out.with_name(out.name + "-slack.png")
    fig.savefig(png, dpi=120)
    print("slack plot:", png)
