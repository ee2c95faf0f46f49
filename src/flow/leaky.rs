//! Bias-free fully-connected network with the leaky-ReLU family of paper 001 (Golikov,
//! §2.1 eqs. (2)–(3)) on its hidden layers: loss, exact gradient and Hessian-vector product.
//!
//! Activation `φ^ε(z) = z − ε·min(0, z)` (negative slope `1 − ε`, `ε ∈ [0, 1]`; `ε = 0` is the
//! linear network, `ε = 1` ReLU). Row-sample form (`X ∈ R^{n×d}`, `Y ∈ R^{n×q}`):
//!
//! ```text
//! H_0 = X
//! Z_l = H_{l−1} W_lᵀ,  D_l = (φ^ε)'(Z_l),  H_l = D_l ⊙ Z_l          l = 1..L−1
//! F   = H_{L−1} W_Lᵀ,  R = F − Y,  L = κ‖R‖_F²
//! G_L = 2κR,  G_l = D_l ⊙ (G_{l+1} W_{l+1})                        l = L−1..1
//! ∇_{W_l} L = G_lᵀ H_{l−1}
//! ```
//!
//! Kinks: the derivative at `z = 0` is the left one, `(φ^ε)'(0) = 1 − ε`, i.e. the paper's
//! `D = (1 − ε)·1 + εΔ` with `Δ = 1[Z > 0]` (catalog 001 §2.3). Away from the switching
//! surfaces `Z_{ik} = 0` the loss is smooth and the gradient is exact; on them the field is the
//! one-sided one above (a set of measure zero the integrator steps across).
//!
//! Hessian-vector product (Pearlmutter's R-operator at a fixed activation pattern, exact where
//! the pattern is locally constant; `φ^ε` is piecewise linear, so `φ'' = 0` a.e.):
//!
//! ```text
//! δH_0 = 0,  δZ_l = δH_{l−1} W_lᵀ + H_{l−1} V_lᵀ,  δH_l = D_l ⊙ δZ_l
//! δF = δH_{L−1} W_Lᵀ + H_{L−1} V_Lᵀ,  δG_L = 2κ δF
//! δG_l = D_l ⊙ (δG_{l+1} W_{l+1} + G_{l+1} V_{l+1})
//! (∇²L·V)_l = δG_lᵀ H_{l−1} + G_lᵀ δH_{l−1}
//! ```
//!
//! Cost `O(n Σ_l m_l m_{l−1})` per gradient (the linear network's prefix-product formula in
//! [`super::gradient`] is `O(Σ m_l m_{l−1} d + n d q)`, which is why `ε = 0` keeps using it).

use nalgebra::DMatrix;

use super::gradient::layer_mat;
use super::linalg::{gemm, gemm_into, m, pull_back, sq_norm, Mat};
use crate::model::net::Shape;

/// `φ^ε(z) = z − ε·min(0, z)`.
pub fn phi(eps: f64, z: f64) -> f64 {
    if z > 0.0 {
        z
    } else {
        (1.0 - eps) * z
    }
}

/// `(φ^ε)'(z)`: `1` for `z > 0`, `1 − ε` for `z ≤ 0` (left derivative at the kink).
pub fn dphi(eps: f64, z: f64) -> f64 {
    if z > 0.0 {
        1.0
    } else {
        1.0 - eps
    }
}

/// Work buffers of the leaky network's forward/backward and directional passes (allocated
/// once per problem).
#[derive(Clone, Debug)]
pub(crate) struct LeakyWorkspace {
    /// `Z_l`, `l = 1..L−1` (`n × m_l`).
    z: Vec<DMatrix<f64>>,
    /// `D_l = (φ^ε)'(Z_l)`.
    gate: Vec<DMatrix<f64>>,
    /// `H_l = φ^ε(Z_l)`.
    h: Vec<DMatrix<f64>>,
    /// `G_l`, `l = 1..L` (`n × m_l`).
    g: Vec<DMatrix<f64>>,
    /// Directional `δZ_l` / `δH_l` (`n × m_l`, `l = 1..L−1`).
    dz: Vec<DMatrix<f64>>,
    dh: Vec<DMatrix<f64>>,
    /// Directional `δG_l` (`n × m_l`, `l = 1..L`).
    dg: Vec<DMatrix<f64>>,
    /// The point of the cached forward/backward pass (for repeated HVPs).
    at: Vec<f64>,
}

impl LeakyWorkspace {
    pub(crate) fn new(shape: &Shape, n: usize) -> Self {
        let l = shape.depth();
        let w = shape.widths();
        let hidden =
            |_: ()| -> Vec<DMatrix<f64>> { (1..l).map(|k| DMatrix::zeros(n, w[k])).collect() };
        let all: Vec<DMatrix<f64>> = (1..=l).map(|k| DMatrix::zeros(n, w[k])).collect();
        Self {
            z: hidden(()),
            gate: hidden(()),
            h: hidden(()),
            g: all.clone(),
            dz: hidden(()),
            dh: hidden(()),
            dg: all,
            at: Vec::new(),
        }
    }
}

/// `H_{k}` as a matrix view (`H_0 = X`) from the hidden activations `h`.
fn h_of<'a>(x: &'a DMatrix<f64>, h: &'a [DMatrix<f64>], k: usize) -> Mat<'a> {
    if k == 0 {
        m(x)
    } else {
        m(&h[k - 1])
    }
}

/// `G ← D ⊙ G`: the gate (activation derivative) `D_l` applied to a backpropagated `G_l`.
fn apply_gate(g: &mut DMatrix<f64>, gate: &DMatrix<f64>) {
    for (gv, &dv) in g.iter_mut().zip(gate.iter()) {
        *gv *= dv;
    }
}

/// Forward pass: fills `Z_l, D_l, H_l`, the residual `R = F − Y` into `resid` and
/// `G_L = 2κR`; returns `‖R‖_F²`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    shape: &Shape,
    eps: f64,
    kappa: f64,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    theta: &[f64],
    ws: &mut LeakyWorkspace,
    resid: &mut DMatrix<f64>,
) -> f64 {
    ws.at.clear();
    let l = shape.depth();
    for k in 1..l {
        let hprev = h_of(x, &ws.h, k - 1);
        gemm_into(
            1.0,
            hprev,
            layer_mat(shape, theta, k).t(),
            0.0,
            &mut ws.z[k - 1],
        );
        let z = &ws.z[k - 1];
        for ((g, h), &zv) in ws.gate[k - 1]
            .iter_mut()
            .zip(ws.h[k - 1].iter_mut())
            .zip(z.iter())
        {
            *g = dphi(eps, zv);
            *h = *g * zv;
        }
    }
    resid.copy_from(y);
    gemm_into(
        1.0,
        h_of(x, &ws.h, l - 1),
        layer_mat(shape, theta, l).t(),
        -1.0,
        resid,
    );
    ws.g[l - 1].copy_from(resid);
    ws.g[l - 1].scale_mut(2.0 * kappa);
    sq_norm(resid.as_slice())
}

/// Backpropagation after [`forward`]: `G_l = D_l ⊙ (G_{l+1} W_{l+1})` for `l < L`.
pub(crate) fn backprop(shape: &Shape, theta: &[f64], ws: &mut LeakyWorkspace) {
    let l = shape.depth();
    for k in (1..l).rev() {
        let g = pull_back(&mut ws.g, k, layer_mat(shape, theta, k + 1));
        apply_gate(g, &ws.gate[k - 1]);
    }
}

/// After [`backprop`]: `alpha·∇_{W_l}L = alpha·G_lᵀH_{l−1}` into `out` (flat layout).
pub(crate) fn weight_gradients(
    shape: &Shape,
    x: &DMatrix<f64>,
    ws: &LeakyWorkspace,
    alpha: f64,
    out: &mut [f64],
) {
    for k in 1..=shape.depth() {
        let (r, c) = shape.layer_shape(k);
        gemm(
            alpha,
            m(&ws.g[k - 1]).t(),
            h_of(x, &ws.h, k - 1),
            0.0,
            &mut out[shape.layer_range(k)],
            r,
            c,
        );
    }
}

/// Marks the cached pass as computed at `theta` (for repeated HVPs at one point).
pub(crate) fn mark_cached(ws: &mut LeakyWorkspace, theta: &[f64]) {
    ws.at.clear();
    ws.at.extend_from_slice(theta);
}

/// Whether the cached forward/backward pass was computed at `theta`.
pub(crate) fn cached_at(ws: &LeakyWorkspace, theta: &[f64]) -> bool {
    ws.at.as_slice() == theta
}

/// `∇²L(θ)·v` at a fixed activation pattern (module docs), after [`forward`] and
/// [`backprop`] at `theta` (the `G_l` must be current).
///
/// With `deps ≠ 0` the direction also moves the activation level, `ε → ε + deps·h`
/// (`∂D_l/∂ε = −1[Z_l ≤ 0]`, so `δH_l += −deps·1[Z_l ≤ 0]⊙Z_l` and
/// `δG_l += −deps·1[Z_l ≤ 0]⊙(G_{l+1}W_{l+1})`): the result is `∇²L·v + deps·∂_ε∇L`, the
/// forcing of the sensitivity `V = ∂θ^ε/∂ε` (`dV/dt = −∇²L·V − ∂_ε∇L`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn hvp(
    shape: &Shape,
    kappa: f64,
    x: &DMatrix<f64>,
    theta: &[f64],
    v: &[f64],
    deps: f64,
    ws: &mut LeakyWorkspace,
    out: &mut [f64],
) {
    let l = shape.depth();
    // forward directional pass
    for k in 1..l {
        let hprev = h_of(x, &ws.h, k - 1);
        gemm_into(
            1.0,
            hprev,
            layer_mat(shape, v, k).t(),
            0.0,
            &mut ws.dz[k - 1],
        );
        if k > 1 {
            gemm_into(
                1.0,
                m(&ws.dh[k - 2]),
                layer_mat(shape, theta, k).t(),
                1.0,
                &mut ws.dz[k - 1],
            );
        }
        let (dz, gate, z) = (&ws.dz[k - 1], &ws.gate[k - 1], &ws.z[k - 1]);
        for (((dh, &dzv), &gv), &zv) in ws.dh[k - 1]
            .iter_mut()
            .zip(dz.iter())
            .zip(gate.iter())
            .zip(z.iter())
        {
            *dh = gv * dzv;
            if zv <= 0.0 {
                *dh -= deps * zv;
            }
        }
    }
    let hlast = h_of(x, &ws.h, l - 1);
    gemm_into(
        2.0 * kappa,
        hlast,
        layer_mat(shape, v, l).t(),
        0.0,
        &mut ws.dg[l - 1],
    );
    if l > 1 {
        gemm_into(
            2.0 * kappa,
            m(&ws.dh[l - 2]),
            layer_mat(shape, theta, l).t(),
            1.0,
            &mut ws.dg[l - 1],
        );
    }
    // backward directional pass
    for k in (1..l).rev() {
        let dg = pull_back(&mut ws.dg, k, layer_mat(shape, theta, k + 1));
        gemm_into(1.0, m(&ws.g[k]), layer_mat(shape, v, k + 1), 1.0, dg);
        apply_gate(dg, &ws.gate[k - 1]);
        if deps != 0.0 {
            // G_{l+1}W_{l+1} into the (no longer needed) δZ_l buffer
            gemm_into(
                1.0,
                m(&ws.g[k]),
                layer_mat(shape, theta, k + 1),
                0.0,
                &mut ws.dz[k - 1],
            );
            for ((gv, &pv), &zv) in dg
                .iter_mut()
                .zip(ws.dz[k - 1].iter())
                .zip(ws.z[k - 1].iter())
            {
                if zv <= 0.0 {
                    *gv -= deps * pv;
                }
            }
        }
    }
    for k in 1..=l {
        let (r, c) = shape.layer_shape(k);
        let o = &mut out[shape.layer_range(k)];
        let hprev = h_of(x, &ws.h, k - 1);
        gemm(1.0, m(&ws.dg[k - 1]).t(), hprev, 0.0, o, r, c);
        if k > 1 {
            gemm(1.0, m(&ws.g[k - 1]).t(), m(&ws.dh[k - 2]), 1.0, o, r, c);
        }
    }
}

/// The network outputs `f^ε_θ(X) ∈ R^{n×q}` (rows are samples; allocates, for claims).
pub fn network_outputs(shape: &Shape, eps: f64, theta: &[f64], x: &DMatrix<f64>) -> DMatrix<f64> {
    let l = shape.depth();
    let mut h = x.clone();
    for k in 1..l {
        let mut z = &h * shape.layer(theta, k).transpose();
        z.apply(|v| *v = phi(eps, *v));
        h = z;
    }
    h * shape.layer(theta, l).transpose()
}

/// The directional derivative `δF = J_F(θ)·v` of the outputs on `x` along a weight direction
/// `v`, at the activation pattern of `θ` (allocates, for claims; e.g. `dF/dt = J_F θ̇`).
pub fn output_jvp(
    shape: &Shape,
    eps: f64,
    theta: &[f64],
    v: &[f64],
    x: &DMatrix<f64>,
) -> DMatrix<f64> {
    let l = shape.depth();
    let mut h = x.clone();
    let mut dh = DMatrix::<f64>::zeros(x.nrows(), x.ncols());
    for k in 1..l {
        let w = shape.layer(theta, k).transpose();
        let z = &h * &w;
        let dz = &dh * &w + &h * shape.layer(v, k).transpose();
        let gate = z.map(|zv| dphi(eps, zv));
        dh = dz.component_mul(&gate);
        h = z.component_mul(&gate);
    }
    dh * shape.layer(theta, l).transpose() + h * shape.layer(v, l).transpose()
}
