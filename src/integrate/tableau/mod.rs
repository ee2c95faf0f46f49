//! Butcher tableaux as data.
//!
//! An explicit Runge–Kutta method with `s` stages advances `y' = f(t, y)` by
//!
//! ```text
//! k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j),   y_1 = y + h Σ_i b_i k_i,
//! err = h Σ_i e_i k_i          (e = b − b̂, the embedded error weights)
//! ```
//!
//! Dense output on the step `[t, t + h]` is `y(t + θh) = y + h Σ_i b_i(θ) k_i`, where the `k_i`
//! run over the main stages, then `f(t + h, y_1)` (only listed when the method is not FSAL),
//! then any extra dense-only stages. Every tableau is checked by [`Tableau::validate`] in the
//! tests: row sums, Σb = 1, Σe = 0, and the order conditions up to the method's order.

pub mod dop853;
pub mod dopri5;
pub mod tsit5;

/// One explicit embedded Runge–Kutta pair, stored as plain coefficient data.
#[derive(Debug)]
pub struct Tableau {
    /// Short name used on the command line (`dopri5`, `tsit5`, `dop853`).
    pub name: &'static str,
    /// Where the coefficients come from.
    pub reference: &'static str,
    /// Nodes `c_i`, one per main stage.
    pub c: &'static [f64],
    /// Strictly lower-triangular coefficients: row `i` holds `a_i0 … a_i,i−1` (row 0 is empty).
    pub a: &'static [&'static [f64]],
    /// Weights of the propagated solution.
    pub b: &'static [f64],
    /// Error weights `e_i = b_i − b̂_i` of the embedded estimate.
    pub e: &'static [f64],
    /// DOP853 only: the weights of its 3rd-order error estimate; the error norm is then
    /// Hairer's combination `err5² / sqrt(err5² + 0.01 err3²)`.
    pub e3: Option<&'static [f64]>,
    /// Order of the propagated solution.
    pub order: u8,
    /// Exponent `q` of the step-size controller, which uses `err^{-1/q}`: the power of `h`
    /// the error measure scales with (5 for the 5(4) pairs; 8 for DOP853, whose combined
    /// 5th/3rd-order measure scales like `h^8`).
    pub error_order: u8,
    /// First-same-as-last: the last stage is evaluated at `(t + h, y_1)`, with `a_{s−1} = b`.
    pub fsal: bool,
    /// Two entries of the dense stage list with the same node (index `stages()` is
    /// `f(t + h, y_1)` for non-FSAL methods) used for Hairer's stiffness estimate
    /// `h|λ| ≈ h ‖k_i − k_j‖ / ‖Y_i − Y_j‖`.
    pub stiffness_pair: (usize, usize),
    /// Stability boundary on the negative real axis: the first `z < 0` with `|R(z)| = 1`
    /// (3.307 for DOPRI5, 3.507 for Tsit5, 6.394 for DOP853).
    pub stability_boundary: f64,
    /// Continuous extension (dense output).
    pub dense: DenseOutput,
}

/// A continuous extension `y(t + θh) = y + h Σ_i b_i(θ) k_i`.
#[derive(Debug)]
pub struct DenseOutput {
    /// Order of the interpolant.
    pub order: u8,
    /// Extra stages needed only for dense output: nodes.
    pub extra_c: &'static [f64],
    /// Extra stages: coefficients over all previous entries of the stage list
    /// (main stages, then `f(t + h, y_1)` when not FSAL, then earlier extras).
    pub extra_a: &'static [&'static [f64]],
    /// `b_i(θ) = Σ_p coef[p] θ^{p+1}` for each entry of the stage list.
    pub b_theta: &'static [&'static [f64]],
}

impl Tableau {
    /// Number of main stages.
    pub fn stages(&self) -> usize {
        self.c.len()
    }

    /// Number of entries in the dense-output stage list.
    pub fn dense_stages(&self) -> usize {
        self.stages() + usize::from(!self.fsal) + self.dense.extra_c.len()
    }

    /// Checks the shape of every array and the consistency conditions
    /// (`Σ_j a_ij = c_i`, `Σ b = 1`, `Σ e = 0`, `b_i(1) = b_i`) to `tol`; the last one relative
    /// to `max(1, Σ_p |coef_p|)`, the rounding scale of the coefficient sum.
    pub fn validate(&self, tol: f64) -> Result<(), String> {
        let s = self.stages();
        if self.a.len() != s || self.b.len() != s || self.e.len() != s {
            return Err(format!("{}: a, b, e must have {s} rows", self.name));
        }
        for (i, row) in self.a.iter().enumerate() {
            if row.len() != i {
                return Err(format!(
                    "{}: row {i} of a has {} entries",
                    self.name,
                    row.len()
                ));
            }
            let sum: f64 = row.iter().sum();
            if (sum - self.c[i]).abs() > tol {
                return Err(format!(
                    "{}: row {i} sums to {sum}, c = {}",
                    self.name, self.c[i]
                ));
            }
        }
        let sb: f64 = self.b.iter().sum();
        if (sb - 1.0).abs() > tol {
            return Err(format!("{}: sum b = {sb}", self.name));
        }
        let se: f64 = self.e.iter().sum();
        if se.abs() > tol {
            return Err(format!("{}: sum e = {se}", self.name));
        }
        if let Some(e3) = self.e3 {
            if e3.len() != s {
                return Err(format!("{}: e3 must have {s} entries", self.name));
            }
        }
        if self.fsal {
            let last = self.a[s - 1];
            let matches = last.iter().zip(self.b).all(|(a, b)| (a - b).abs() <= tol);
            if !matches || self.b[s - 1].abs() > tol {
                return Err(format!("{}: FSAL requires a_(s-1) = b", self.name));
            }
        }
        let nd = self.dense_stages();
        if self.dense.b_theta.len() != nd {
            return Err(format!("{}: b_theta needs {nd} rows", self.name));
        }
        let base = nd - self.dense.extra_c.len();
        for (k, row) in self.dense.extra_a.iter().enumerate() {
            if row.len() != base + k {
                return Err(format!(
                    "{}: extra stage {k} needs {} coefficients",
                    self.name,
                    base + k
                ));
            }
            let sum: f64 = row.iter().sum();
            if (sum - self.dense.extra_c[k]).abs() > tol {
                return Err(format!("{}: extra stage {k} sums to {sum}", self.name));
            }
        }
        for i in 0..nd {
            let at_one: f64 = self.dense.b_theta[i].iter().sum();
            let want = if i < s { self.b[i] } else { 0.0 };
            // The monomial coefficients can be large (hundreds for DOP853) and cancel, so the
            // rounding error of their sum scales with their magnitude.
            let scale = self.dense.b_theta[i]
                .iter()
                .map(|x| x.abs())
                .sum::<f64>()
                .max(1.0);
            if (at_one - want).abs() > tol * scale {
                return Err(format!(
                    "{}: b_{i}(1) = {at_one}, b_{i} = {want}",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

/// All built-in explicit tableaux.
pub fn all() -> [&'static Tableau; 3] {
    [&dopri5::DOPRI5, &tsit5::TSIT5, &dop853::DOP853]
}
