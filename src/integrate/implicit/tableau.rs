//! Fully-implicit collocation Runge–Kutta tableaux as data, plus the quantities derived from
//! them once at construction.
//!
//! An `s`-stage implicit RK method advances `y' = f(t, y)` by solving for the stage
//! increments `Z_i = Y_i − y_0`
//!
//! ```text
//! Z_i = h Σ_j a_ij f(t_0 + c_j h, y_0 + Z_j),     i = 1..s,
//! y_1 = y_0 + h Σ_i b_i f(Y_i) = y_0 + Σ_i d_i Z_i,   dᵀ = bᵀA⁻¹,
//! ```
//!
//! the second form avoiding the amplification of stage errors by the stiff `f` (Hairer–Wanner,
//! *Solving ODEs II*, §IV.8, eq. (8.2b)). For a collocation method the collocation
//! polynomial through `(0, 0), (c_1, Z_1), …, (c_s, Z_s)` (in `θ = (t − t_0)/h`) is the dense
//! output, and it passes through `y_1` at `θ = 1` (`ℓ_i(1) = d_i`).
//!
//! **Error estimate** (Hairer–Wanner IV.8, eqs. (8.16)–(8.20), generalised to every tableau
//! here): the embedded solution `ŷ_1 = y_0 + h(γ_0 f(t_0, y_0) + Σ_i b̂_i f(Y_i))` uses the
//! extra node 0 with a fixed weight `γ_0 > 0` and weights `b̂` satisfying the quadrature
//! conditions `B(s)`, `γ_0 [k = 1] + Σ_i b̂_i c_i^{k−1} = 1/k`, `k = 1..s`; with the stage
//! order `s` of a collocation method `ŷ_1` has order `s`, so `ŷ_1 − y_1 = O(h^{s+1})`. Written
//! in the stage increments (`hF = (A⁻¹ ⊗ I) Z`),
//! `ŷ_1 − y_1 = γ_0 h f(t_0, y_0) + Σ_i e_i Z_i`, `eᵀ = (b̂ − b)ᵀA⁻¹`, and the estimate used
//! is `err = (I − hγ_0 J)⁻¹ (ŷ_1 − y_1)`: the filter makes it the difference to the implicit
//! embedded method `ŷ_1 = … + hγ_0 f(ŷ_1)`, so it stays bounded in the stiff components. For
//! Radau IIA (`s = 3`, `γ_0` the inverse of the real eigenvalue of `A⁻¹`) this is exactly
//! RADAU5's estimate (order 3 against the method's 5); for Gauss–Legendre it is of order `s`
//! against the method's `2s`: conservative (it overestimates the error at small `h`), and the
//! controller uses the exponent `1/(s+1)` that matches it.

use nalgebra::{DMatrix, DVector};

/// An implicit collocation Runge–Kutta method and its derived coefficients.
#[derive(Clone, Debug)]
pub struct CollocationTableau {
    /// Short name (`radau5`, `gl2`, `gl4`, `gl6`).
    pub name: &'static str,
    /// Where the coefficients come from.
    pub reference: &'static str,
    /// Number of stages `s`.
    pub s: usize,
    /// Nodes `c_i`.
    pub c: Vec<f64>,
    /// Coefficients `a_ij` (`s × s`).
    pub a: DMatrix<f64>,
    /// Weights `b_i`.
    pub b: Vec<f64>,
    /// Classical order of `y_1`.
    pub order: u8,
    /// Weight `γ_0` of `f(t_0, y_0)` in the embedded formula and of the error filter.
    pub gamma0: f64,
    /// Order of the embedded solution (the error estimate is `O(h^{est_order + 1})`).
    pub est_order: u8,
    /// `A⁻¹`.
    pub a_inv: DMatrix<f64>,
    /// `dᵀ = bᵀA⁻¹`: `y_1 = y_0 + Σ d_i Z_i`.
    pub d: Vec<f64>,
    /// Embedded weights `b̂_i`.
    pub b_hat: Vec<f64>,
    /// `eᵀ = (b̂ − b)ᵀA⁻¹`: `ŷ_1 − y_1 = γ_0 h f_0 + Σ e_i Z_i`.
    pub e: Vec<f64>,
    /// Lagrange basis `ℓ_i(θ)` over the nodes `{0, c_1, …, c_s}` (the one of `c_i`), as
    /// power-series coefficients `[θ⁰, θ¹, …, θ^s]`.
    pub lagrange: Vec<Vec<f64>>,
}

impl CollocationTableau {
    /// Builds a tableau from its data and derives `A⁻¹`, `d`, the embedded weights and the
    /// Lagrange basis. Panics on a singular `A` or repeated nodes (programming errors).
    pub fn new(
        name: &'static str,
        reference: &'static str,
        c: Vec<f64>,
        a_rows: &[&[f64]],
        b: Vec<f64>,
        order: u8,
        gamma0: f64,
    ) -> Self {
        let s = c.len();
        assert!(a_rows.len() == s && b.len() == s);
        let a = DMatrix::from_fn(s, s, |i, j| a_rows[i][j]);
        let a_inv = a.clone().try_inverse().expect("A must be invertible");
        let bv = DVector::from_column_slice(&b);
        let d: Vec<f64> = (a_inv.transpose() * &bv).iter().copied().collect();
        // B(s) with the extra node 0 carrying γ0: V b̂ = rhs, V_{k,i} = c_i^{k}
        let v = DMatrix::from_fn(s, s, |k, i| c[i].powi(k as i32));
        let rhs = DVector::from_fn(s, |k, _| {
            1.0 / (k + 1) as f64 - if k == 0 { gamma0 } else { 0.0 }
        });
        let b_hat_v = v.lu().solve(&rhs).expect("distinct nodes");
        let b_hat: Vec<f64> = b_hat_v.iter().copied().collect();
        let e: Vec<f64> = (a_inv.transpose() * (b_hat_v - &bv))
            .iter()
            .copied()
            .collect();
        let mut nodes = vec![0.0];
        nodes.extend(&c);
        let lagrange = (1..=s)
            .map(|i| {
                let mut poly = vec![1.0];
                for (j, &cj) in nodes.iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    let den = nodes[i] - cj;
                    let mut next = vec![0.0; poly.len() + 1];
                    for (p, &coef) in poly.iter().enumerate() {
                        next[p + 1] += coef / den;
                        next[p] -= coef * cj / den;
                    }
                    poly = next;
                }
                poly
            })
            .collect();
        Self {
            name,
            reference,
            s,
            c,
            a,
            b,
            order,
            gamma0,
            est_order: s as u8,
            a_inv,
            d,
            b_hat,
            e,
            lagrange,
        }
    }

    /// The Lagrange weights `ℓ_i(θ)` into `w` (length `s`).
    pub fn lagrange_weights(&self, theta: f64, w: &mut [f64]) {
        for (wi, poly) in w.iter_mut().zip(&self.lagrange) {
            let mut acc = 0.0;
            for &coef in poly.iter().rev() {
                acc = acc * theta + coef;
            }
            *wi = acc;
        }
    }
}
