//! A low-rank model of the Jacobian from its stiff eigenpairs, and the linear solves it makes
//! closed-form.
//!
//! For a gradient system the Jacobian is `J = −H` with `H` symmetric (the Hessian), and the
//! stiff part of its spectrum is small (a few eigenvalues far above the rest). Lanczos
//! ([`crate::curvature::lanczos()`]) on `v ↦ −J v` gives the top Ritz pairs `(μ_i, v_i)`; the
//! model is `J̃ = −V diag(μ) Vᵀ`, keeping only `μ_i > 0` (at a saddle the negative curvature
//! directions are left to the iteration: they are not stiff). With orthonormal `V` every
//! solve with `J̃` decouples along the `v_i` (Woodbury):
//!
//! ```text
//! (I − h A⊗J̃)⁻¹ R = R + Σ_i v_i ⊗ [((I_s + hμ_i A)⁻¹ − I_s) r_i],   r_i = (v_iᵀ R_j)_j ∈ R^s
//! (I − hγ_0 J̃)⁻¹ x = x − Σ_i v_i · hγ_0μ_i/(1 + hγ_0μ_i) · v_iᵀx
//! ```
//!
//! (`I_s + hμA` is invertible for `μ ≥ 0`: the eigenvalues of `A` have positive real part).
//! Real arithmetic only, `O(k s n)` work, no complex shifts. Used as the Jacobian of a
//! simplified Newton iteration (which then converges to the exact stage solution at the rate
//! `≈ h ‖A‖ μ_{k+1}`, `μ_{k+1}` the largest curvature left out) or as the preconditioner of
//! GMRES with the exact Jacobian. With no eigenpairs the solves are the identity (fixed-point
//! iteration).

use nalgebra::DMatrix;

use crate::curvature::{lanczos, LanczosOptions, Which};
use crate::integrate::system::OdeSystem;

/// The stiff eigenpairs of `−J` and the per-step-size solve data.
#[derive(Clone, Debug, Default)]
pub struct LowRankJacobian {
    /// Eigenvalues `μ_i > 0` of `−J` (largest first).
    pub values: Vec<f64>,
    /// Unit eigenvectors (length `n`).
    pub vectors: Vec<Vec<f64>>,
    /// The largest Ritz value left out of the model at its last refresh (`μ_{k+1}`, 0 when
    /// the Lanczos run gave no more): the curvature Newton iterates on without the model.
    pub left_out: f64,
    /// `h` and `γ_0` the blocks below were built for.
    built_for: Option<(f64, f64)>,
    /// `(I_s + hμ_i A)⁻¹ − I_s`, one per eigenpair.
    blocks: Vec<DMatrix<f64>>,
    /// `hγ_0μ_i / (1 + hγ_0μ_i)`.
    filter: Vec<f64>,
    /// Projections `r_i` (scratch, `k × s`).
    proj: Vec<f64>,
}

/// What a refresh cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefreshCost {
    /// Jacobian-vector products.
    pub jvps: u64,
}

impl LowRankJacobian {
    /// Recomputes the top-`k` eigenpairs of `−J(t, y)` by Lanczos (warm-started from the sum
    /// of the current vectors). With `k = 0` the model is empty. The system must offer `jvp`.
    pub fn refresh<S: OdeSystem>(
        &mut self,
        sys: &mut S,
        t: f64,
        y: &[f64],
        k: usize,
        opts: &LanczosOptions,
    ) -> RefreshCost {
        let n = y.len();
        self.built_for = None;
        if k == 0 {
            self.values.clear();
            self.vectors.clear();
            return RefreshCost::default();
        }
        let warm: Option<Vec<f64>> = if self.vectors.is_empty() {
            None
        } else {
            let mut w = vec![0.0; n];
            for v in &self.vectors {
                for (wi, vi) in w.iter_mut().zip(v) {
                    *wi += vi;
                }
            }
            Some(w)
        };
        let o = LanczosOptions {
            k,
            which: Which::Largest,
            ..*opts
        };
        let pairs = lanczos(
            n,
            |v, out| {
                sys.jvp(t, y, v, out);
                for o in out.iter_mut() {
                    *o = -*o;
                }
            },
            warm.as_deref(),
            &o,
        );
        self.values.clear();
        self.vectors.clear();
        self.left_out = pairs
            .values
            .get(pairs.top_vectors.len())
            .copied()
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
            .max(0.0);
        for (mu, v) in pairs.values.iter().zip(pairs.top_vectors) {
            if *mu > 0.0 && mu.is_finite() {
                self.values.push(*mu);
                self.vectors.push(v);
            }
        }
        RefreshCost {
            jvps: 1 + pairs.matvecs as u64,
        }
    }

    /// Number of eigenpairs in the model.
    pub fn rank(&self) -> usize {
        self.values.len()
    }

    /// The largest eigenvalue of `−J̃` (0 when empty).
    pub fn mu_max(&self) -> f64 {
        self.values.first().copied().unwrap_or(0.0)
    }

    /// Builds the blocks for step `h` (no-op when already built for it).
    pub fn prepare(&mut self, a: &DMatrix<f64>, h: f64, gamma0: f64) {
        if self.built_for == Some((h, gamma0)) {
            return;
        }
        let s = a.nrows();
        let id = DMatrix::<f64>::identity(s, s);
        self.blocks = self
            .values
            .iter()
            .map(|&mu| {
                let m = &id + a * (h * mu);
                m.try_inverse().expect("I + hμA is invertible for μ ≥ 0") - &id
            })
            .collect();
        self.filter = self
            .values
            .iter()
            .map(|&mu| {
                let z = h * gamma0 * mu;
                z / (1.0 + z)
            })
            .collect();
        self.proj = vec![0.0; self.values.len() * s];
        self.built_for = Some((h, gamma0));
    }

    /// `R ← (I − h A⊗J̃)⁻¹ R` for stage-major `r` (`s` blocks of length `n`), after
    /// [`Self::prepare`].
    pub fn solve_stages(&mut self, r: &mut [f64], s: usize) {
        let k = self.values.len();
        if k == 0 {
            return;
        }
        let n = r.len() / s;
        for (i, v) in self.vectors.iter().enumerate() {
            for j in 0..s {
                self.proj[i * s + j] = dot(v, &r[j * n..(j + 1) * n]);
            }
        }
        for (i, v) in self.vectors.iter().enumerate() {
            let blk = &self.blocks[i];
            for j in 0..s {
                let mut c = 0.0;
                for l in 0..s {
                    c += blk[(j, l)] * self.proj[i * s + l];
                }
                if c != 0.0 {
                    for (o, vi) in r[j * n..(j + 1) * n].iter_mut().zip(v) {
                        *o += c * vi;
                    }
                }
            }
        }
    }

    /// `x ← (I − hγ_0 J̃)⁻¹ x`, after [`Self::prepare`].
    pub fn filter(&self, x: &mut [f64]) {
        for (v, f) in self.vectors.iter().zip(&self.filter) {
            let c = f * dot(v, x);
            for (o, vi) in x.iter_mut().zip(v) {
                *o -= c * vi;
            }
        }
    }
}

use crate::flow::linalg::dot;
