//! Allocation-free matrix products for the hot path.
//!
//! Matrices are column-major slices (nalgebra's storage order). [`Mat`] is a borrowed
//! `rows × cols` matrix, optionally read as its transpose through strides, and [`gemm`]
//! computes `C ← α op(A) op(B) + β C` with the `matrixmultiply` kernel nalgebra itself uses
//! for large products. (nalgebra's own `gemm` mis-indexes strided views below its 5×5
//! threshold, so transposes go through here.)

use nalgebra::DMatrix;

/// A borrowed column-major matrix, possibly transposed.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    data: &'a [f64],
    /// Rows of the stored matrix.
    rows: usize,
    /// Columns of the stored matrix.
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// The stored `rows × cols` matrix in `data`.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "slice too short for {rows}×{cols}"
        );
        Self {
            data,
            rows,
            cols,
            transposed: false,
        }
    }
    /// The same storage read as its transpose.
    pub fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }
    /// Shape of the matrix as read (after the transpose flag).
    pub fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
    /// `(row stride, column stride)` of the matrix as read.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (self.rows as isize, 1)
        } else {
            (1, self.rows as isize)
        }
    }
}

/// View of an owned matrix.
pub fn m(a: &DMatrix<f64>) -> Mat<'_> {
    Mat::new(a.as_slice(), a.nrows(), a.ncols())
}

/// `C ← α op(A) op(B) + β C` where `C` is the `rows × cols` column-major matrix in `c`.
/// With `β = 0`, `C` is not read.
pub fn gemm(
    alpha: f64,
    a: Mat<'_>,
    b: Mat<'_>,
    beta: f64,
    c: &mut [f64],
    rows: usize,
    cols: usize,
) {
    let (ar, ac) = a.shape();
    let (br, bc) = b.shape();
    assert!(
        ar == rows && bc == cols && ac == br && c.len() >= rows * cols,
        "gemm shapes: ({ar}×{ac})·({br}×{bc}) into {rows}×{cols}"
    );
    if rows == 0 || cols == 0 {
        return;
    }
    if ac == 0 {
        for v in &mut c[..rows * cols] {
            *v = if beta == 0.0 { 0.0 } else { beta * *v };
        }
        return;
    }
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    // SAFETY: the shapes and slice lengths were checked above, so every index the kernel
    // forms from these strides lies inside the three slices; `c` does not alias `a` or `b`
    // (it is a distinct `&mut`).
    unsafe {
        matrixmultiply::dgemm(
            rows,
            ac,
            cols,
            alpha,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            1,
            rows as isize,
        );
    }
}

/// `C ← α op(A) op(B) + β C` into an owned matrix.
pub fn gemm_into(alpha: f64, a: Mat<'_>, b: Mat<'_>, beta: f64, c: &mut DMatrix<f64>) {
    let (r, k) = c.shape();
    gemm(alpha, a, b, beta, c.as_mut_slice(), r, k);
}

/// One step `C_{k−1} ← C_k B` of a product recursion run backwards over `chain`
/// (`C_k = chain[k]` into `chain[k − 1]`, `k ≥ 1`); returns `C_{k−1}` for further terms.
pub fn pull_back<'a>(chain: &'a mut [DMatrix<f64>], k: usize, b: Mat<'_>) -> &'a mut DMatrix<f64> {
    let (lo, hi) = chain.split_at_mut(k);
    gemm_into(1.0, m(&hi[0]), b, 0.0, &mut lo[k - 1]);
    &mut lo[k - 1]
}

/// Squared Frobenius norm `‖M‖_F² = Σ_ij M_ij²` of a slice.
pub fn sq_norm(s: &[f64]) -> f64 {
    s.iter().map(|v| v * v).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_products_match_nalgebra_for_small_and_large_shapes() {
        for &(r, k, c) in &[(1, 1, 1), (2, 3, 1), (7, 9, 6), (40, 3, 33)] {
            let a = DMatrix::from_fn(k, r, |i, j| (i * 3 + j) as f64 * 0.1 - 1.0);
            let b = DMatrix::from_fn(c, k, |i, j| (i + 2 * j) as f64 * 0.05);
            let mut out = DMatrix::from_element(r, c, 1.0);
            gemm_into(2.0, m(&a).t(), m(&b).t(), 0.5, &mut out);
            let want = a.transpose() * b.transpose() * 2.0 + DMatrix::from_element(r, c, 0.5);
            assert!((out - want).norm() < 1e-12, "{r}×{k}×{c}");
        }
    }
}
