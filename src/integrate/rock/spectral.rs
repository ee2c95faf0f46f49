//! Spectral-radius estimate `ρ ≈ max |λ(∂f/∂y)|` for the stabilized methods, by power
//! iteration warm-started from the previous eigenvector.
//!
//! Two modes, chosen once per estimator:
//! - **Jacobian–vector products** when [`OdeSystem::jvp`] returns `true` (the gradient flow:
//!   exact `−∇²L·v`, one Hessian-vector product per iteration): `v ← Jv/‖Jv‖`, estimate
//!   `σ = ‖Jv‖` for unit `v`.
//! - **Nonlinear power method** of RKC/ROCK (Sommeijer–Shampine–Verwer 1997, routine `rkcrho`;
//!   Abdulle's codes use the same): `σ = ‖f(y + δv) − f(y)‖/δ` with `δ = ‖y‖√ε`, one RHS
//!   evaluation per iteration, `v ← (f(y + δv) − f(y))·δ/‖·‖`.
//!
//! Both stop when two successive values agree to 1 % (at least two iterations, at most
//! [`MAX_ITER`]) and return `SAFETY · σ` with `SAFETY = 1.2` as in `rkcrho`: power iteration
//! approaches `|λ_max|` from below. A non-converged iteration returns its last value (with the
//! safety factor) — an estimate is always produced, the run never stops here.

use super::super::system::OdeSystem;

/// Largest number of power iterations per estimate.
pub const MAX_ITER: usize = 50;
/// Safety factor applied to the converged `σ`.
pub const SAFETY: f64 = 1.2;
/// Relative agreement of successive iterates that ends the iteration.
pub const REL_TOL: f64 = 0.01;

/// Work counters of the estimator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpectralCounters {
    /// Estimates computed.
    pub estimates: u64,
    /// Power iterations over all estimates.
    pub iterations: u64,
    /// RHS evaluations spent (nonlinear mode).
    pub rhs_evals: u64,
    /// Jacobian–vector products spent (JVP mode).
    pub jvp_evals: u64,
    /// Estimates that hit [`MAX_ITER`] without converging.
    pub not_converged: u64,
}

/// A warm-started power iteration; buffers allocated once.
#[derive(Clone, Debug)]
pub struct SpectralEstimator {
    v: Vec<f64>,
    w: Vec<f64>,
    z: Vec<f64>,
    have_vector: bool,
    use_jvp: Option<bool>,
    counters: SpectralCounters,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// A fixed pseudo-random vector (splitmix64), mixed into a cold start so that the start is
/// not orthogonal to the dominant eigenvector by accident.
fn fill_pseudo_random(v: &mut [f64]) {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    for x in v.iter_mut() {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        *x = (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    }
}

impl SpectralEstimator {
    /// An estimator for systems of dimension `n`.
    pub fn new(n: usize) -> Self {
        Self {
            v: vec![0.0; n],
            w: vec![0.0; n],
            z: vec![0.0; n],
            have_vector: false,
            use_jvp: None,
            counters: SpectralCounters::default(),
        }
    }

    /// Work counters so far.
    pub fn counters(&self) -> SpectralCounters {
        self.counters
    }

    /// Whether the estimates use [`OdeSystem::jvp`] (`None` before the first estimate).
    pub fn uses_jvp(&self) -> Option<bool> {
        self.use_jvp
    }

    /// Cold start direction: `f(y)` plus a small fixed pseudo-random component.
    fn cold_start(&mut self, f: &[f64]) {
        fill_pseudo_random(&mut self.z);
        let fz = norm(f);
        let rz = norm(&self.z);
        let scale = if fz > 0.0 { 1e-3 * fz / rz } else { 1.0 / rz };
        for ((v, fi), zi) in self.v.iter_mut().zip(f).zip(&self.z) {
            *v = fi + scale * zi;
        }
        self.have_vector = true;
    }

    /// Estimates the spectral radius of `∂f/∂y` at `(t, y)` with `f = f(t, y)`.
    pub fn estimate<S: OdeSystem>(&mut self, sys: &mut S, t: f64, y: &[f64], f: &[f64]) -> f64 {
        self.counters.estimates += 1;
        if !self.have_vector || !self.v.iter().all(|x| x.is_finite()) || norm(&self.v) == 0.0 {
            self.cold_start(f);
        }
        let use_jvp = match self.use_jvp {
            Some(b) => b,
            None => {
                let vn = norm(&self.v);
                for x in self.v.iter_mut() {
                    *x /= vn;
                }
                let ok = sys.jvp(t, y, &self.v, &mut self.w);
                if ok {
                    self.counters.jvp_evals += 1;
                }
                self.use_jvp = Some(ok);
                ok
            }
        };
        if use_jvp {
            self.power_jvp(sys, t, y)
        } else {
            self.power_nonlinear(sys, t, y, f)
        }
    }

    fn power_jvp<S: OdeSystem>(&mut self, sys: &mut S, t: f64, y: &[f64]) -> f64 {
        let vn = norm(&self.v);
        for x in self.v.iter_mut() {
            *x /= vn;
        }
        let mut sigma = 0.0;
        for iter in 1..=MAX_ITER {
            sys.jvp(t, y, &self.v, &mut self.w);
            self.counters.jvp_evals += 1;
            self.counters.iterations += 1;
            let prev = sigma;
            sigma = norm(&self.w);
            if !sigma.is_finite() {
                self.have_vector = false;
                return f64::INFINITY;
            }
            if sigma == 0.0 {
                // v in the kernel: the (linear) Jacobian has no nonzero spectrum along it
                self.have_vector = false;
                return 0.0;
            }
            for (v, w) in self.v.iter_mut().zip(&self.w) {
                *v = w / sigma;
            }
            if iter >= 2 && (sigma - prev).abs() <= REL_TOL * sigma {
                return SAFETY * sigma;
            }
        }
        self.counters.not_converged += 1;
        SAFETY * sigma
    }

    fn power_nonlinear<S: OdeSystem>(&mut self, sys: &mut S, t: f64, y: &[f64], f: &[f64]) -> f64 {
        let sqrt_eps = f64::EPSILON.sqrt();
        let ynrm = norm(y);
        let dy = if ynrm > 0.0 {
            ynrm * sqrt_eps
        } else {
            sqrt_eps
        };
        let vn = norm(&self.v);
        for (z, (yi, vi)) in self.z.iter_mut().zip(y.iter().zip(&self.v)) {
            *z = yi + vi * (dy / vn);
        }
        let mut sigma = 0.0;
        for iter in 1..=MAX_ITER {
            sys.rhs(t, &self.z, &mut self.w);
            self.counters.rhs_evals += 1;
            self.counters.iterations += 1;
            for (w, fi) in self.w.iter_mut().zip(f) {
                *w -= fi;
            }
            let dfn = norm(&self.w);
            let prev = sigma;
            sigma = dfn / dy;
            if !sigma.is_finite() {
                self.have_vector = false;
                return f64::INFINITY;
            }
            if dfn == 0.0 {
                self.have_vector = false;
                return 0.0;
            }
            for (v, w) in self.v.iter_mut().zip(&self.w) {
                *v = w * (dy / dfn);
            }
            for (z, (yi, vi)) in self.z.iter_mut().zip(y.iter().zip(&self.v)) {
                *z = yi + vi;
            }
            if iter >= 2 && (sigma - prev).abs() <= REL_TOL * sigma {
                return SAFETY * sigma;
            }
        }
        self.counters.not_converged += 1;
        SAFETY * sigma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrate::system::LinearSystem;
    use nalgebra::DMatrix;

    /// A system that hides its JVP, forcing the nonlinear power method.
    struct NoJvp(LinearSystem);
    impl OdeSystem for NoJvp {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) {
            self.0.rhs(t, y, dy)
        }
    }

    fn diag(l: &[f64]) -> LinearSystem {
        LinearSystem {
            a: DMatrix::from_diagonal(&nalgebra::DVector::from_row_slice(l)),
        }
    }

    #[test]
    fn both_modes_bracket_the_spectral_radius_and_warm_starts_are_cheap() {
        let spec: Vec<f64> = (0..40).map(|i| -1e3 * 0.8f64.powi(i)).collect();
        let y = vec![1.0; 40];
        let mut f = vec![0.0; 40];
        let mut sys = diag(&spec);
        sys.rhs(0.0, &y, &mut f);
        let mut est = SpectralEstimator::new(40);
        let r = est.estimate(&mut sys, 0.0, &y, &f);
        assert!(est.uses_jvp() == Some(true));
        assert!((1e3..=SAFETY * 1e3 * 1.0001).contains(&r), "{r}");
        let cold = est.counters().jvp_evals;
        let r2 = est.estimate(&mut sys, 0.0, &y, &f);
        assert!((1e3..=SAFETY * 1e3 * 1.0001).contains(&r2), "{r2}");
        let warm = est.counters().jvp_evals - cold;
        assert!(warm <= 3 && warm < cold, "warm {warm}, cold {cold}");

        let mut nl = NoJvp(diag(&spec));
        let mut est = SpectralEstimator::new(40);
        let r = est.estimate(&mut nl, 0.0, &y, &f);
        assert_eq!(est.uses_jvp(), Some(false));
        assert!((1e3..=SAFETY * 1e3 * 1.0001).contains(&r), "{r}");
        assert!(est.counters().rhs_evals >= 2);
    }
}
