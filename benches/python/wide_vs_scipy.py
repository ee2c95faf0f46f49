"""The wide problem of the performance section, both sides in one go: SciPy's solve_ivp
(DOP853, a NumPy gradient) and gradflow (dop853, rock4, auto) on the same data and initial
weights, one after the other on a quiet machine.

Problem: n = 64 standard-normal samples, d = 128, widths 128→256→256→256→8 (165,888
weights), a Gaussian teacher N(0, 1/d) plus noise 0.1, layers N(0, 1/fan_in), the `mean`
loss L = ‖XΘ − Y‖²/n, t ∈ [0, T] (default 10), rtol 1e-8, atol 1e-10.

    python3 benches/python/wide_vs_scipy.py [--t-end 10] [--gradflow target/release/gradflow]
        [--threads 1,2] [--methods dop853,rock4,auto] [--skip-scipy]

(`--threads 0` runs a binary without the flag, e.g. an older build to compare against.)

Needs numpy and scipy (pip install numpy scipy). NumPy's BLAS is held to one thread
(OPENBLAS_NUM_THREADS=1 etc. are set before numpy is imported). Prints one table: gradient
evaluations, wall seconds, seconds per gradient, the ratio to SciPy, peak RSS (gradflow),
and the relative difference of the final weights to SciPy's.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402

WIDTHS = [128, 256, 256, 256, 8]
N = 64


def problem(seed=1):
    """X, Y and the initial layers (W_k is m_k × m_{k−1})."""
    rng = np.random.default_rng(seed)
    d, q = WIDTHS[0], WIDTHS[-1]
    x = rng.standard_normal((N, d))
    teacher = rng.standard_normal((d, q)) / np.sqrt(d)
    y = x @ teacher + 0.1 * rng.standard_normal((N, q))
    ws = [
        rng.standard_normal((WIDTHS[k + 1], WIDTHS[k])) / np.sqrt(WIDTHS[k])
        for k in range(len(WIDTHS) - 1)
    ]
    return x, y, ws


def scipy_run(x, y, ws, t_end, rtol, atol):
    from scipy.integrate import solve_ivp

    shapes = [w.shape for w in ws]
    sizes = [w.size for w in ws]
    kappa = 1.0 / x.shape[0]
    count = [0]

    def unpack(theta):
        out, o = [], 0
        for s, (r, c) in zip(sizes, shapes):
            out.append(theta[o : o + s].reshape((r, c), order="F"))
            o += s
        return out

    def rhs(_t, theta):
        count[0] += 1
        w = unpack(theta)
        # data-forward: activations Z_k = Z_{k-1} W_kᵀ, then rank-q back-propagation
        z = [x]
        for wk in w:
            z.append(z[-1] @ wk.T)
        g = 2.0 * kappa * (z[-1] - y)  # n × q
        grads = [None] * len(w)
        for k in range(len(w) - 1, -1, -1):
            grads[k] = g.T @ z[k]
            if k > 0:
                g = g @ w[k]
        return -np.concatenate([gk.ravel(order="F") for gk in grads])

    theta0 = np.concatenate([w.ravel(order="F") for w in ws])
    t0 = time.perf_counter()
    sol = solve_ivp(rhs, (0.0, t_end), theta0, method="DOP853", rtol=rtol, atol=atol)
    wall = time.perf_counter() - t0
    return {"evals": count[0], "wall": wall, "theta": sol.y[:, -1], "status": sol.status}


def gradflow_run(binary, data_dir, init_dir, out, method, threads, t_end, rtol, atol):
    cfg = {
        "data": {"kind": "npy", "dir": data_dir},
        "init": {"kind": "npy", "dir": init_dir},
        "loss": "mean",
        "t_end": t_end,
        "method": method,
        "rtol": rtol,
        "atol": atol,
    }
    cfg_path = os.path.join(out + ".json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    # threads 0: the binary's default, without the flag (builds from before it existed)
    flag = ["--threads", str(threads)] if threads > 0 else []
    cmd = ["/usr/bin/time", "-f", "%M", binary, *flag, "run", "--config", cfg_path, "--out", out]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"gradflow failed ({p.returncode}): {p.stderr.strip()}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    stats = summary["stats"]
    ws = [np.load(os.path.join(out, "weights", f"W{k + 1}.npy")) for k in range(len(WIDTHS) - 1)]
    theta = np.concatenate([w.ravel(order="F") for w in ws])
    return {
        "evals": stats["gradient_evaluations"],
        "hvps": stats.get("hvp_evaluations", 0),
        "wall": wall,
        "integration": stats["wall_s"],
        "theta": theta,
        "rss_mb": rss_kb / 1024,
        "switches": [s["to"] for s in summary.get("method_switches", [])],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--atol", type=float, default=1e-10)
    ap.add_argument("--gradflow", default="target/release/gradflow")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--methods", default="dop853,rock4,auto")
    ap.add_argument("--skip-scipy", action="store_true")
    args = ap.parse_args()

    x, y, ws = problem()
    flops = 2 * N * sum(WIDTHS[k] * WIDTHS[k + 1] for k in range(len(WIDTHS) - 1))
    flops += 2 * WIDTHS[-1] * N * sum(WIDTHS[:-1])  # T_k = Rᵀ Z_{k−1}
    flops += 2 * WIDTHS[-1] * sum(WIDTHS[k] * WIDTHS[k + 1] for k in range(len(WIDTHS) - 2))
    flops += 2 * WIDTHS[-1] * sum(WIDTHS[k] * WIDTHS[k + 1] for k in range(1, len(WIDTHS) - 2))
    print(f"wide problem: {sum(w.size for w in ws)} weights, {flops / 1e6:.1f} MFLOP per data-forward gradient, t in [0, {args.t_end}]")

    rows = []
    ref = None
    if not args.skip_scipy:
        s = scipy_run(x, y, ws, args.t_end, args.rtol, args.atol)
        ref = s["theta"]
        rows.append(("SciPy DOP853 + NumPy (1 BLAS thread)", s["evals"], 0, s["wall"], s["wall"], None, 0.0, ""))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, init_dir = os.path.join(tmp, "data"), os.path.join(tmp, "init")
        os.makedirs(data_dir)
        os.makedirs(init_dir)
        np.save(os.path.join(data_dir, "X.npy"), x)
        np.save(os.path.join(data_dir, "Y.npy"), y)
        for k, w in enumerate(ws):
            np.save(os.path.join(init_dir, f"W{k + 1}.npy"), w)
        for method in args.methods.split(","):
            for threads in [int(t) for t in args.threads.split(",")]:
                out = os.path.join(tmp, f"{method}_{threads}")
                g = gradflow_run(args.gradflow, data_dir, init_dir, out, method, threads, args.t_end, args.rtol, args.atol)
                diff = None if ref is None else np.linalg.norm(g["theta"] - ref) / np.linalg.norm(ref)
                name = f"gradflow --method {method} --threads {threads}"
                rows.append((name, g["evals"], g["hvps"], g["wall"], g["integration"], g["rss_mb"], diff, "→".join(g["switches"])))
    base = rows[0][3] if ref is not None else None
    print()
    print("| | gradients | HVPs | wall s | integration s | per gradient-equivalent | vs SciPy | peak RSS | ‖Δθ‖/‖θ‖ vs SciPy | switches |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, ev, hv, wall, integ, rss, diff, sw in rows:
        per = integ / (ev + hv) * 1e3
        ratio = f"{base / wall:.2f}×" if base else "–"
        rss_s = f"{rss:.0f} MB" if rss is not None else "–"
        diff_s = f"{diff:.1e}" if diff is not None else "–"
        print(f"| {name} | {ev} | {hv} | {wall:.2f} | {integ:.2f} | {per:.3f} ms | {ratio} | {rss_s} | {diff_s} | {sw} |")
    print(f"\none-core GEMM limit at 78 GFLOP/s: {flops / 78e9 * 1e3:.3f} ms per gradient")


if __name__ == "__main__":
    main()
