//! Allocation-free matrix products for the hot path.
//!
//! Matrices are column-major slices (nalgebra's storage order). [`Mat`] is a borrowed
//! `rows × cols` matrix, optionally read as its transpose through strides, and [`gemm`]
//! computes `C ← α op(A) op(B) + β C` with faer's matrix multiplication (its own
//! runtime-dispatched AVX-512/AVX2 micro-kernels and small-matrix kernels without packing).
//! The kernel was chosen by measurement against `matrixmultiply` (nalgebra's) and the
//! `gemm` crate on the shapes the gradient and HVP produce (`cargo bench --bench gemm`,
//! README *Performance*). (nalgebra's own `gemm` mis-indexes strided views below its 5×5
//! threshold, so transposes go through here.)
//!
//! The products of one thread run on [`threads`] threads (faer's rayon parallelism, one
//! thread unless a caller scopes more with [`with_threads`]). A run whose thread count is
//! not given explicitly takes the available threads only when its gradient is large enough
//! to gain from them ([`threads_for`]).

use std::cell::Cell;

use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;

thread_local! {
    /// Threads the matrix products started on this thread may use.
    static THREADS: Cell<usize> = const { Cell::new(1) };
    /// Threads a run started on this thread may take when its size gains from them
    /// ([`threads_for`]; 1: none beyond the explicit setting).
    static AVAILABLE: Cell<usize> = const { Cell::new(1) };
}

/// Multiply-adds of one gradient from which a run takes the available threads by default.
/// Measured with `--method rock4` on `n = 64`, `d = 128`, `q = 8`, three hidden layers
/// (README *Performance*): at width 256 (1.1·10⁷ multiply-adds per gradient) two threads
/// were 1.3× slower than one (faer's split costs more than it gains on 64-row products);
/// at width 1024 (1.4·10⁸) 1.37× faster.
pub const PARALLEL_MIN_COST: f64 = 5e7;

/// Makes `n` threads available to the runs started on the current thread whose gradient
/// costs at least [`PARALLEL_MIN_COST`] and whose thread count is not given (the command
/// line's default: all cores on the main thread).
pub fn set_available_threads(n: usize) {
    AVAILABLE.set(n.max(1));
}

/// The threads of a run whose gradient costs `cost` multiply-adds and whose thread count is
/// not given: the available threads ([`set_available_threads`]) when `cost ≥`
/// [`PARALLEL_MIN_COST`], else the current setting ([`threads`], one unless set).
pub fn threads_for(cost: Option<f64>) -> usize {
    match cost {
        Some(c) if c >= PARALLEL_MIN_COST => AVAILABLE.get().max(THREADS.get()),
        _ => THREADS.get(),
    }
}

/// Runs `f` with the matrix products of the current thread split over `n` threads (`n ≤ 1`:
/// sequential), restoring the previous setting afterwards (also when `f` panics).
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREADS.set(self.0);
        }
    }
    let _restore = Restore(THREADS.replace(n.max(1)));
    f()
}

/// Sets the threads of the current thread's matrix products (`n ≤ 1`: sequential) until
/// changed again (the command line's `--threads` on the main thread).
pub fn set_threads(n: usize) {
    THREADS.set(n.max(1));
}

/// Threads the matrix products of the current thread use (1 unless set by [`with_threads`]
/// or [`set_threads`]).
pub fn threads() -> usize {
    THREADS.get()
}

fn parallelism() -> Par {
    match THREADS.get() {
        0 | 1 => Par::Seq,
        n => Par::rayon(n),
    }
}

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
    let accum = if beta == 0.0 {
        Accum::Replace
    } else {
        if beta != 1.0 {
            for v in &mut c[..rows * cols] {
                *v *= beta;
            }
        }
        Accum::Add
    };
    // SAFETY: the shapes and slice lengths were checked above, so every index formed from
    // these strides lies inside the three slices; `c` does not alias `a` or `b` (it is a
    // distinct `&mut`).
    let (a, b, c) = unsafe {
        (
            MatRef::from_raw_parts(a.data.as_ptr(), rows, ac, rsa, csa),
            MatRef::from_raw_parts(b.data.as_ptr(), ac, cols, rsb, csb),
            MatMut::from_raw_parts_mut(c.as_mut_ptr(), rows, cols, 1, rows as isize),
        )
    };
    faer::linalg::matmul::matmul(c, accum, a, b, alpha, parallelism());
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

/// `Σ a_i b_i` with eight independent partial sums: they vectorize, where one running sum
/// waits for the previous addition at every element (on 166,000 unknowns the dots of
/// Lanczos' reorthogonalization took half of a Jacobian-model refresh).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let split = n - n % 8;
    let mut acc = [0.0f64; 8];
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = a[split..n]
        .iter()
        .zip(&b[split..n])
        .map(|(x, y)| x * y)
        .sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
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
