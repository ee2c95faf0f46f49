//! Restarted GMRES with right preconditioning (Saad, *Iterative Methods for Sparse Linear
//! Systems*, §9.3.2) for the coupled stage system `(I − h A⊗J) x = r`, whose operator is
//! applied matrix-free (`s` Jacobian-vector products per application). Arnoldi by modified
//! Gram–Schmidt, Givens rotations for the least-squares problem; the residual norm is
//! available at every iteration without forming `x`. All buffers live in [`Gmres`] and are
//! allocated once.

/// Workspace and settings of GMRES(m).
#[derive(Clone, Debug)]
pub struct Gmres {
    /// Restart length `m`.
    pub restart: usize,
    basis: Vec<Vec<f64>>,
    z: Vec<f64>,
    w: Vec<f64>,
    hess: Vec<Vec<f64>>,
    cs: Vec<f64>,
    sn: Vec<f64>,
    g: Vec<f64>,
    y: Vec<f64>,
}

/// Outcome of one solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GmresResult {
    /// Operator applications.
    pub iterations: usize,
    /// `‖r − A x‖ / ‖r‖` reached.
    pub rel_residual: f64,
    /// Whether the requested tolerance was met.
    pub converged: bool,
}

impl Gmres {
    /// A workspace for systems of dimension `n` with restart length `m`.
    pub fn new(n: usize, m: usize) -> Self {
        Self {
            restart: m,
            basis: vec![vec![0.0; n]; m + 1],
            z: vec![0.0; n],
            w: vec![0.0; n],
            hess: vec![vec![0.0; m + 1]; m],
            cs: vec![0.0; m],
            sn: vec![0.0; m],
            g: vec![0.0; m + 1],
            y: vec![0.0; m],
        }
    }

    /// Solves `A x = b` from `x = 0` with right preconditioner `M⁻¹` (`prec(v)` overwrites
    /// `v` by `M⁻¹v`): `x = M⁻¹u`, GMRES on `A M⁻¹ u = b`. Stops at `‖b − Ax‖ ≤ rtol ‖b‖`
    /// or after `max_iter` applications of `op(v, out)` (`out = A v`).
    pub fn solve<Op, Pc>(
        &mut self,
        mut op: Op,
        mut prec: Pc,
        b: &[f64],
        x: &mut [f64],
        rtol: f64,
        max_iter: usize,
    ) -> GmresResult
    where
        Op: FnMut(&[f64], &mut [f64]),
        Pc: FnMut(&mut [f64]),
    {
        let m = self.restart;
        x.fill(0.0);
        let bnorm = norm(b);
        if bnorm == 0.0 {
            return GmresResult {
                iterations: 0,
                rel_residual: 0.0,
                converged: true,
            };
        }
        let mut iters = 0;
        // r0 = b − A x (x = 0 at the first cycle)
        self.basis[0].copy_from_slice(b);
        let mut beta = bnorm;
        loop {
            for v in self.basis[0].iter_mut() {
                *v /= beta;
            }
            self.g.fill(0.0);
            self.g[0] = beta;
            let mut j_done = 0;
            let mut rel = beta / bnorm;
            for j in 0..m {
                if iters >= max_iter {
                    break;
                }
                self.z.copy_from_slice(&self.basis[j]);
                prec(&mut self.z);
                op(&self.z, &mut self.w);
                iters += 1;
                for i in 0..=j {
                    let hij = dot(&self.w, &self.basis[i]);
                    self.hess[j][i] = hij;
                    for (wv, bv) in self.w.iter_mut().zip(&self.basis[i]) {
                        *wv -= hij * bv;
                    }
                }
                let hn = norm(&self.w);
                self.hess[j][j + 1] = hn;
                if hn > 0.0 {
                    for (bv, wv) in self.basis[j + 1].iter_mut().zip(&self.w) {
                        *bv = wv / hn;
                    }
                }
                for i in 0..j {
                    let (c, s) = (self.cs[i], self.sn[i]);
                    let (a, bb) = (self.hess[j][i], self.hess[j][i + 1]);
                    self.hess[j][i] = c * a + s * bb;
                    self.hess[j][i + 1] = -s * a + c * bb;
                }
                let (a, bb) = (self.hess[j][j], self.hess[j][j + 1]);
                let r = a.hypot(bb);
                let (c, s) = if r == 0.0 {
                    (1.0, 0.0)
                } else {
                    (a / r, bb / r)
                };
                self.cs[j] = c;
                self.sn[j] = s;
                self.hess[j][j] = r;
                self.hess[j][j + 1] = 0.0;
                self.g[j + 1] = -s * self.g[j];
                self.g[j] *= c;
                j_done = j + 1;
                rel = self.g[j + 1].abs() / bnorm;
                if rel <= rtol || hn == 0.0 {
                    break;
                }
            }
            // back substitution and update x += M⁻¹ V y
            for i in (0..j_done).rev() {
                let mut acc = self.g[i];
                for l in i + 1..j_done {
                    acc -= self.hess[l][i] * self.y[l];
                }
                self.y[i] = if self.hess[i][i] != 0.0 {
                    acc / self.hess[i][i]
                } else {
                    0.0
                };
            }
            self.z.fill(0.0);
            for i in 0..j_done {
                let yi = self.y[i];
                for (zv, bv) in self.z.iter_mut().zip(&self.basis[i]) {
                    *zv += yi * bv;
                }
            }
            prec(&mut self.z);
            for (xv, zv) in x.iter_mut().zip(&self.z) {
                *xv += zv;
            }
            if rel <= rtol || iters >= max_iter || j_done == 0 {
                return GmresResult {
                    iterations: iters,
                    rel_residual: rel,
                    converged: rel <= rtol,
                };
            }
            // restart: true residual
            op(x, &mut self.w);
            iters += 1;
            for ((r0, bv), wv) in self.basis[0].iter_mut().zip(b).zip(&self.w) {
                *r0 = bv - wv;
            }
            beta = norm(&self.basis[0]);
            if beta / bnorm <= rtol {
                return GmresResult {
                    iterations: iters,
                    rel_residual: beta / bnorm,
                    converged: true,
                };
            }
        }
    }
}

use crate::flow::linalg::dot;

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_nonsymmetric_system_and_counts_applications() {
        let n = 30;
        let a = |v: &[f64], out: &mut [f64]| {
            for i in 0..n {
                out[i] = (2.0 + i as f64) * v[i] + if i + 1 < n { 0.5 * v[i + 1] } else { 0.0 };
            }
        };
        let b: Vec<f64> = (0..n).map(|i| (i as f64).sin() + 1.0).collect();
        let mut x = vec![0.0; n];
        let mut g = Gmres::new(n, 10);
        let r = g.solve(a, |_| {}, &b, &mut x, 1e-12, 200);
        assert!(r.converged, "{r:?}");
        let mut ax = vec![0.0; n];
        a(&x, &mut ax);
        let err: f64 = ax
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-10, "{err}");
        // a diagonal preconditioner makes it converge in fewer applications
        let mut x2 = vec![0.0; n];
        let r2 = g.solve(
            a,
            |v| {
                v.iter_mut()
                    .enumerate()
                    .for_each(|(i, x)| *x /= 2.0 + i as f64)
            },
            &b,
            &mut x2,
            1e-12,
            200,
        );
        assert!(
            r2.converged && r2.iterations < r.iterations,
            "{r2:?} vs {r:?}"
        );
    }
}
