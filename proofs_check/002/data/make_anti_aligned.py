"""Writes the data and initial weights of the scenario `a1_fails_anti_aligned.json`
(catalog 002 §5, counterexample 6(ii)): white data (Σ̂ = XᵀX/n = I exactly) with
w* = (1.5, 0), and an exactly balanced rank-one depth-3 initialisation anti-aligned with w*:
W_1 = δ e_1 v*ᵀ, W_2 = δ e_2 e_1ᵀ, W_3 = −δ e_2ᵀ, so w_prod(0) = −δ³ v* and
R(W(0)) > R_0 (assumption A1 fails). Every number is exactly representable, so the
gradient flow stays on the invariant manifold {w_prod ∥ v*} and decays to the saddle W = 0.

Run from the repository root: python3 proofs_check/002/data/make_anti_aligned.py
"""
import os

import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "anti_aligned")
os.makedirs(os.path.join(here, "init"), exist_ok=True)
x = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
wstar = np.array([1.5, 0.0])
y = (x @ wstar).reshape(-1, 1)
delta = 0.005
w1 = np.zeros((2, 2)); w1[0, 0] = delta          # δ e_1 v*ᵀ, v* = e_1
w2 = np.zeros((2, 2)); w2[1, 0] = delta          # δ e_2 e_1ᵀ
w3 = np.zeros((1, 2)); w3[0, 1] = -delta         # −δ e_2ᵀ
np.save(os.path.join(here, "X.npy"), x.astype(np.float64))
np.save(os.path.join(here, "Y.npy"), y.astype(np.float64))
for k, w in enumerate([w1, w2, w3], start=1):
    np.save(os.path.join(here, "init", f"W{k}.npy"), w.astype(np.float64))
