//! Symmetric Lanczos with full reorthogonalization for the extreme eigenvalues of a
//! symmetric operator given only by its action `v ↦ A v` (for the gradient flow, the exact
//! Hessian-vector product of [`crate::flow::GradientFlow::hvp`]).
//!
//! From a unit start vector `q_1` the iteration builds an orthonormal Krylov basis
//! `Q_m = [q_1 … q_m]` and the tridiagonal `T_m = Q_mᵀ A Q_m` (diagonal `α`, off-diagonal
//! `β`) by the three-term recurrence `β_j q_{j+1} = A q_j − α_j q_j − β_{j−1} q_{j−1}`, with
//! every new vector reorthogonalized against the whole basis (classical Gram–Schmidt, a
//! second pass when the first removed much of it: "twice is enough"), so no spurious copies
//! of converged eigenvalues appear. The eigenpairs
//! `(θ_i, s_i)` of `T_m` give Ritz pairs `(θ_i, Q_m s_i)` with residual
//! `‖A Q_m s_i − θ_i Q_m s_i‖ = β_m |e_mᵀ s_i|` (Golub–Van Loan, *Matrix Computations*,
//! §10.1), which is the stopping test: a requested Ritz value is converged when its
//! residual is at most `tol · max(|θ_1|, |θ_m|)`. Cost: one operator application per
//! iteration (counted in [`Eigenpairs::matvecs`]). Warm starts (the previous top
//! eigenvector along a trajectory) make successive calls cheap.

use nalgebra::DMatrix;

use crate::flow::linalg::dot;
use rand::{RngExt, SeedableRng};

/// Which end of the spectrum must converge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The `k` largest (algebraic) eigenvalues.
    Largest,
    /// The `k` smallest (algebraic) eigenvalues.
    Smallest,
    /// The `k` largest and the `k` smallest.
    Both,
}

/// Options of one Lanczos run.
#[derive(Clone, Copy, Debug)]
pub struct LanczosOptions {
    /// Number of eigenpairs wanted at each requested end.
    pub k: usize,
    /// Which end(s) must converge.
    pub which: Which,
    /// Largest Krylov dimension (also capped by the operator's dimension).
    pub max_iter: usize,
    /// Relative residual tolerance of the requested Ritz pairs.
    pub tol: f64,
    /// Seed of the random start vector when no warm start is given.
    pub seed: u64,
}

impl Default for LanczosOptions {
    fn default() -> Self {
        Self {
            k: 1,
            which: Which::Largest,
            max_iter: 200,
            tol: 1e-8,
            seed: 0x5eed,
        }
    }
}

/// Ritz pairs from one Lanczos run, sorted by decreasing eigenvalue.
#[derive(Clone, Debug)]
pub struct Eigenpairs {
    /// Ritz values, largest first (all of them: the requested ones are at the ends).
    pub values: Vec<f64>,
    /// Residual norm `‖A x − θ x‖` of each Ritz pair (same order).
    pub residuals: Vec<f64>,
    /// Ritz vectors of the `k` largest values (unit norm), largest first.
    pub top_vectors: Vec<Vec<f64>>,
    /// Ritz vectors of the `k` smallest values (unit norm), smallest first; filled when
    /// `which` asks for the smallest end.
    pub bottom_vectors: Vec<Vec<f64>>,
    /// Operator applications used.
    pub matvecs: usize,
    /// Whether every requested pair met the tolerance (else the best pairs after
    /// `max_iter` iterations are returned).
    pub converged: bool,
}

impl Eigenpairs {
    /// The largest Ritz value (the sharpness `λ_max` for a Hessian).
    pub fn max(&self) -> f64 {
        self.values.first().copied().unwrap_or(f64::NAN)
    }
    /// The smallest Ritz value (`λ_min`; negative at a saddle).
    pub fn min(&self) -> f64 {
        self.values.last().copied().unwrap_or(f64::NAN)
    }
}

/// Elements per block of the basis operations: `w`'s block and the coefficients stay in
/// cache while every basis vector streams past once.
const BLOCK: usize = 1024;

/// `w ← (I − Q Qᵀ) w` for the orthonormal `basis` `Q` by classical Gram–Schmidt, repeated
/// once when the pass removed more than `1 − 1/√2` of `w`'s norm (the Daniel–Gragg–
/// Kaufman–Stewart criterion; "twice is enough", Giraud–Langou–Rozložník 2005). Each pass
/// runs block by block, so every basis vector is read once for the coefficients and once
/// for the update: on wide networks the basis does not fit in cache and streaming it is
/// the cost of a refresh.
fn reorthogonalize(w: &mut [f64], basis: &[Vec<f64>], coef: &mut Vec<f64>) {
    let n = w.len();
    for _ in 0..2 {
        let before = dot(w, w);
        coef.clear();
        coef.resize(basis.len(), 0.0);
        for lo in (0..n).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(n);
            for (c, q) in coef.iter_mut().zip(basis) {
                *c += dot(&w[lo..hi], &q[lo..hi]);
            }
        }
        for lo in (0..n).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(n);
            for (c, q) in coef.iter().zip(basis) {
                axpy(-c, &q[lo..hi], &mut w[lo..hi]);
            }
        }
        if dot(w, w) > 0.5 * before {
            break;
        }
    }
}

/// The Ritz vectors `Q s_i` (normalized) for the columns `cols` of `s`, block by block so
/// that each basis vector is read once for all of them.
fn ritz_vectors(basis: &[Vec<f64>], s: &DMatrix<f64>, cols: &[usize], n: usize) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; n]; cols.len()];
    for lo in (0..n).step_by(BLOCK) {
        let hi = (lo + BLOCK).min(n);
        for (l, q) in basis.iter().enumerate().take(s.nrows()) {
            for (x, &i) in out.iter_mut().zip(cols) {
                axpy(s[(l, i)], &q[lo..hi], &mut x[lo..hi]);
            }
        }
    }
    for x in &mut out {
        let nx = dot(x, x).sqrt();
        x.iter_mut().for_each(|v| *v /= nx);
    }
    out
}

fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Runs Lanczos on the `n`-dimensional symmetric operator `op(v, out)` (`out = A v`),
/// started from `start` (normalised; a seeded random vector when `None` or zero).
pub fn lanczos<F>(n: usize, mut op: F, start: Option<&[f64]>, opts: &LanczosOptions) -> Eigenpairs
where
    F: FnMut(&[f64], &mut [f64]),
{
    let m_max = opts.max_iter.min(n).max(1);
    let k = opts.k.max(1).min(m_max);
    let mut q0 = match start {
        Some(s) if s.len() == n && dot(s, s) > 0.0 => s.to_vec(),
        _ => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
            (0..n).map(|_| rng.random::<f64>() - 0.5).collect()
        }
    };
    let nrm = dot(&q0, &q0).sqrt();
    q0.iter_mut().for_each(|v| *v /= nrm);
    let mut basis: Vec<Vec<f64>> = vec![q0];
    let mut alpha: Vec<f64> = Vec::new();
    let mut beta: Vec<f64> = Vec::new();
    let mut w = vec![0.0; n];
    let mut coef = Vec::new();
    let mut matvecs = 0;
    loop {
        let j = basis.len() - 1;
        op(&basis[j], &mut w);
        matvecs += 1;
        // the three-term recurrence (Paige's ordering), then full reorthogonalization
        if let Some(&b) = beta.last() {
            axpy(-b, &basis[j - 1], &mut w);
        }
        let a = dot(&w, &basis[j]);
        alpha.push(a);
        axpy(-a, &basis[j], &mut w);
        reorthogonalize(&mut w, &basis, &mut coef);
        let b = dot(&w, &w).sqrt();
        let m = alpha.len();
        let Some((values, vecs)) = tridiagonal_eigen(&alpha, &beta) else {
            // a non-finite operator: no Ritz pair, reported as not converged
            return Eigenpairs {
                values: vec![f64::NAN; m],
                residuals: vec![f64::NAN; m],
                top_vectors: Vec::new(),
                bottom_vectors: Vec::new(),
                matvecs,
                converged: false,
            };
        };
        let scale = values
            .iter()
            .fold(0.0f64, |s, v| s.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        let residuals: Vec<f64> = (0..m).map(|i| (b * vecs[(m - 1, i)]).abs()).collect();
        let want = |i: usize| match opts.which {
            Which::Largest => i < k,
            Which::Smallest => i + k >= m,
            Which::Both => i < k || i + k >= m,
        };
        let enough = m >= k.min(m_max) && (opts.which != Which::Both || m >= (2 * k).min(m_max));
        let converged = enough
            && (0..m)
                .filter(|&i| want(i))
                .all(|i| residuals[i] <= opts.tol * scale);
        // an invariant subspace (b ≈ 0) or the dimension cap ends the iteration
        let exhausted = b <= 1e-14 * scale || m >= m_max;
        if converged || exhausted {
            let top: Vec<usize> = (0..k.min(m)).collect();
            let top_vectors = ritz_vectors(&basis, &vecs, &top, n);
            let bottom_vectors = if opts.which == Which::Largest {
                Vec::new()
            } else {
                let bottom: Vec<usize> = (0..k.min(m)).map(|i| m - 1 - i).collect();
                ritz_vectors(&basis, &vecs, &bottom, n)
            };
            return Eigenpairs {
                values,
                residuals,
                top_vectors,
                bottom_vectors,
                matvecs,
                converged: converged || b <= 1e-14 * scale,
            };
        }
        beta.push(b);
        w.iter_mut().for_each(|v| *v /= b);
        basis.push(std::mem::replace(&mut w, vec![0.0; n]));
    }
}

/// Eigen-decomposition of the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta`: eigenvalues sorted decreasingly, eigenvectors as columns in the
/// same order; `None` when an entry is not finite.
fn tridiagonal_eigen(alpha: &[f64], beta: &[f64]) -> Option<(Vec<f64>, DMatrix<f64>)> {
    let m = alpha.len();
    let mut t = DMatrix::<f64>::zeros(m, m);
    for i in 0..m {
        t[(i, i)] = alpha[i];
        if i + 1 < m {
            t[(i, i + 1)] = beta[i];
            t[(i + 1, i)] = beta[i];
        }
    }
    // nondecreasing from decompose: reverse
    let eig = crate::decompose::symmetric_eigen(&t).ok()?;
    let values = eig.eigenvalues.iter().rev().copied().collect();
    let vecs = DMatrix::from_fn(m, m, |r, c| eig.eigenvectors[(r, m - 1 - c)]);
    Some((values, vecs))
}
