"""The gradient-flow solution agrees with an independent integration written here: a
fixed-step classical Runge–Kutta (RK4) in NumPy of dW_k/dt = −∂L/∂W_k for a depth-2 linear
network with L = (1/2n)‖X W1ᵀ W2ᵀ − Y‖_F² (half_mean)."""

import numpy as np

import gradflow


def grads(X, Y, W1, W2):
    n = X.shape[0]
    R = X @ W1.T @ W2.T - Y  # n×q residual
    return W2.T @ R.T @ X / n, R.T @ X @ W1.T / n  # ∂L/∂W1 (m×d), ∂L/∂W2 (q×m)


def loss(X, Y, W1, W2):
    R = X @ W1.T @ W2.T - Y
    return 0.5 * np.sum(R * R) / X.shape[0]


def rk4(X, Y, W1, W2, t_end, steps):
    h = t_end / steps

    def f(a, b):
        g1, g2 = grads(X, Y, a, b)
        return -g1, -g2

    for _ in range(steps):
        k1 = f(W1, W2)
        k2 = f(W1 + h / 2 * k1[0], W2 + h / 2 * k1[1])
        k3 = f(W1 + h / 2 * k2[0], W2 + h / 2 * k2[1])
        k4 = f(W1 + h * k3[0], W2 + h * k3[1])
        W1 = W1 + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        W2 = W2 + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return W1, W2


def test_solution_agrees_with_numpy_rk4():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 1))
    W1 = 0.5 * rng.normal(size=(2, 3))
    W2 = 0.5 * rng.normal(size=(1, 2))
    t_end = 2.0
    r = gradflow.run(X, Y, [W1, W2], loss="half_mean", t_end=t_end, method="dop853", rtol=1e-12, atol=1e-14)
    assert r.status == "completed"
    V1, V2 = rk4(X, Y, W1, W2, t_end, steps=4000)
    # RK4 with h = 5e-4 has a global error of order h⁴ ≈ 1e-13 here; the adaptive run is
    # held to rtol 1e-12: the two agree far below 1e-9
    assert np.max(np.abs(r.weights[0] - V1)) < 1e-9
    assert np.max(np.abs(r.weights[1] - V2)) < 1e-9
    # the summary's final loss is the loss of the returned weights
    assert abs(r.summary["final_loss"] - loss(X, Y, *r.weights)) < 1e-14
    # and the loss decreased, as it must along a gradient flow
    assert r.summary["final_loss"] < loss(X, Y, W1, W2)


def test_trace_columns_follow_the_run():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 1))
    W = [0.5 * rng.normal(size=(2, 3)), 0.5 * rng.normal(size=(1, 2))]
    r = gradflow.run(X, Y, W, loss="half_mean", t_end=1.0, rtol=1e-9, atol=1e-11,
                     trace_dt=0.25)
    tr = r.trace
    assert tr is not None and "t" in tr and "loss" in tr
    np.testing.assert_allclose(tr["t"], [0.0, 0.25, 0.5, 0.75, 1.0], rtol=0, atol=1e-12)
    # the loss column is non-increasing along the flow
    assert np.all(np.diff(tr["loss"]) <= 1e-15)
    assert r.trace["loss"][-1] == r.summary["final_loss"]
