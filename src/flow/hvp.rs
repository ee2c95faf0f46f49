//! Exact Hessian-vector product `∇²L(θ)·V` of the deep-linear-network loss.
//!
//! Differentiating the product formula of [`super::gradient`] in direction `V = (V_1..V_L)`:
//!
//! ```text
//! δP_1 = V_1,   δP_k = V_k P_{k−1} + W_k δP_{k−1}            (forward)
//! δS_L = V_L,   δS_k = δS_{k+1} W_k + S_{k+1} V_k            (backward)
//! δR = X δP_Lᵀ,  δE = 2κ δRᵀ X
//! δT_1 = δE,     δT_k = δE P_{k−1}ᵀ + E δP_{k−1}ᵀ
//! (∇²L·V)_k = δS_{k+1}ᵀ T_k + S_{k+1}ᵀ δT_k   (k < L),   (∇²L·V)_L = δT_L
//! ```
//!
//! with `T_k = E P_{k−1}ᵀ`. In the data-forward order ([`super::gradient::Association`]) the
//! same derivative reads `δZ_1 = X V_1ᵀ`, `δZ_k = δZ_{k−1} W_kᵀ + Z_{k−1} V_kᵀ`, `δR = δZ_L`,
//! `δT_k = 2κ (δRᵀ Z_{k−1} + Rᵀ δZ_{k−1})` (`δZ_0 = 0`), with the backward part unchanged.
//! One product costs about two gradient evaluations; the forward products at `θ` are cached,
//! so repeated products at the same point (Lanczos) only pay the directional part.

use nalgebra::DMatrix;

use super::gradient::{layer_mat, Association, GradientFlow};
use super::linalg::{gemm, gemm_into, m, pull_back};

/// Buffers of the directional pass (allocated on first use, then reused).
#[derive(Clone, Debug)]
pub(crate) struct HvpWorkspace {
    at: Vec<f64>,
    dprefix: Vec<DMatrix<f64>>,
    /// Data-forward order: `δZ_k`, `k = 1..L`.
    dact: Vec<DMatrix<f64>>,
    dsuffix: Vec<DMatrix<f64>>,
    dresid: DMatrix<f64>,
    de: DMatrix<f64>,
    dtmp: Vec<DMatrix<f64>>,
}

impl GradientFlow {
    /// Writes `∇²L(θ)·v` into `out` (flat layouts of the weights; `v` and `out` have
    /// `num_params` entries). Exact up to round-off.
    pub fn hvp(&mut self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        let shape = self.shape().clone();
        let l = shape.depth();
        let p = shape.num_params();
        let (theta, v, out) = (&theta[..p], &v[..p], &mut out[..p]);
        if self.epsilon() > 0.0 {
            self.leaky_hvp(theta, v, out);
            return;
        }
        self.count_hvp();
        let mut hw = self.hvp_ws.take().unwrap_or_else(|| HvpWorkspace {
            at: Vec::new(),
            // each order's directional buffers only (`act` is empty in the prefix order)
            dprefix: match self.association() {
                Association::Prefix => self.ws.prefix.clone(),
                Association::DataForward => Vec::new(),
            },
            dact: self.ws.act.clone(),
            dsuffix: self.ws.suffix.clone(),
            dresid: self.ws.resid.clone(),
            de: self.ws.e.clone(),
            dtmp: self.ws.tmp.clone(),
        });
        if hw.at.as_slice() != theta {
            self.linear_forward(theta);
            self.prepare_suffix_and_tmp(theta);
            hw.at.clear();
            hw.at.extend_from_slice(theta);
        }
        let kappa = self.loss_convention().scale(self.x().nrows());
        match self.association() {
            Association::Prefix => self.directional_prefix(theta, v, &mut hw, kappa),
            Association::DataForward => self.directional_data_forward(theta, v, &mut hw, kappa),
        }
        let ws = &self.ws;
        // backward directional products
        if l >= 2 {
            hw.dsuffix[l - 1].copy_from(&shape.layer(v, l));
            for k in (2..l).rev() {
                let ds = pull_back(&mut hw.dsuffix, k, layer_mat(&shape, theta, k));
                gemm_into(1.0, m(&ws.suffix[k]), layer_mat(&shape, v, k), 1.0, ds);
            }
        }
        for k in 1..=l {
            let (r, c) = shape.layer_shape(k);
            let o = &mut out[shape.layer_range(k)];
            if k == l {
                o.copy_from_slice(hw.dtmp[k - 1].as_slice());
            } else {
                gemm(1.0, m(&hw.dsuffix[k]).t(), m(&ws.tmp[k - 1]), 0.0, o, r, c);
                gemm(1.0, m(&ws.suffix[k]).t(), m(&hw.dtmp[k - 1]), 1.0, o, r, c);
            }
        }
        self.hvp_ws = Some(hw);
    }

    /// Prefix order: `δP_k` forward, `δR`, `δE` and `δT_k = δE P_{k−1}ᵀ + E δP_{k−1}ᵀ`.
    fn directional_prefix(&self, theta: &[f64], v: &[f64], hw: &mut HvpWorkspace, kappa: f64) {
        let (shape, ws) = (self.shape(), &self.ws);
        let l = shape.depth();
        hw.dprefix[0].copy_from(&shape.layer(v, 1));
        for k in 2..=l {
            let (done, rest) = hw.dprefix.split_at_mut(k - 1);
            gemm_into(
                1.0,
                layer_mat(shape, v, k),
                m(&ws.prefix[k - 2]),
                0.0,
                &mut rest[0],
            );
            gemm_into(
                1.0,
                layer_mat(shape, theta, k),
                m(&done[k - 2]),
                1.0,
                &mut rest[0],
            );
        }
        gemm_into(
            1.0,
            m(self.x()),
            m(&hw.dprefix[l - 1]).t(),
            0.0,
            &mut hw.dresid,
        );
        gemm_into(2.0 * kappa, m(&hw.dresid).t(), m(self.x()), 0.0, &mut hw.de);
        hw.dtmp[0].copy_from(&hw.de);
        for k in 2..=l {
            gemm_into(
                1.0,
                m(&hw.de),
                m(&ws.prefix[k - 2]).t(),
                0.0,
                &mut hw.dtmp[k - 1],
            );
            gemm_into(
                1.0,
                m(&ws.e),
                m(&hw.dprefix[k - 2]).t(),
                1.0,
                &mut hw.dtmp[k - 1],
            );
        }
    }

    /// Data-forward order: `δZ_k` forward, `δR = δZ_L` and
    /// `δT_k = 2κ (δRᵀ Z_{k−1} + Rᵀ δZ_{k−1})`.
    fn directional_data_forward(
        &self,
        theta: &[f64],
        v: &[f64],
        hw: &mut HvpWorkspace,
        kappa: f64,
    ) {
        let shape = self.shape();
        let l = shape.depth();
        for k in 1..=l {
            let (done, rest) = hw.dact.split_at_mut(k - 1);
            let out = if k == l { &mut hw.dresid } else { &mut rest[0] };
            gemm_into(
                1.0,
                self.activation(k - 1),
                layer_mat(shape, v, k).t(),
                0.0,
                out,
            );
            if k >= 2 {
                gemm_into(
                    1.0,
                    m(&done[k - 2]),
                    layer_mat(shape, theta, k).t(),
                    1.0,
                    out,
                );
            }
        }
        for k in 1..=l {
            let dt = &mut hw.dtmp[k - 1];
            gemm_into(
                2.0 * kappa,
                m(&hw.dresid).t(),
                self.activation(k - 1),
                0.0,
                dt,
            );
            if k >= 2 {
                gemm_into(
                    2.0 * kappa,
                    m(&self.ws.resid).t(),
                    m(&hw.dact[k - 2]),
                    1.0,
                    dt,
                );
            }
        }
    }

    /// Invalidates the cached point of [`Self::hvp`] (call after any other forward pass that
    /// overwrote the shared buffers).
    pub(crate) fn invalidate_hvp_cache(&mut self) {
        if let Some(hw) = self.hvp_ws.as_mut() {
            hw.at.clear();
        }
    }
}
