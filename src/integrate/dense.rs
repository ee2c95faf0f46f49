//! Dense output on the last accepted step: `y(t_0 + θh) = y_0 + h Σ_i b_i(θ) k_i`.

use super::erk::{combine, ErkCache};
use super::system::OdeSystem;
use super::tableau::Tableau;

/// Evaluates the weights `b_i(θ)` of the continuous extension into `w`.
pub fn weights(tab: &Tableau, theta: f64, w: &mut [f64]) {
    for (wi, poly) in w.iter_mut().zip(tab.dense.b_theta) {
        // Horner on Σ_p c_p θ^{p+1}
        let mut acc = 0.0;
        for &c in poly.iter().rev() {
            acc = acc * theta + c;
        }
        *wi = acc * theta;
    }
}

/// Computes the dense-only extra stages of the step `(t0, y0, h)` into `cache.k`
/// (entries after the main stages and `f(t0 + h, y1)`). Returns the RHS evaluations used.
pub fn extra_stages<S: OdeSystem>(
    sys: &mut S,
    tab: &Tableau,
    cache: &mut ErkCache,
    t0: f64,
    y0: &[f64],
    h: f64,
) -> u64 {
    let base = tab.dense_stages() - tab.dense.extra_c.len();
    for (e, (c, row)) in tab.dense.extra_c.iter().zip(tab.dense.extra_a).enumerate() {
        let idx = base + e;
        combine(&mut cache.stage_arg, y0, h, row, &cache.k);
        let (_, rest) = cache.k.split_at_mut(idx);
        sys.rhs(t0 + c * h, &cache.stage_arg, &mut rest[0]);
    }
    tab.dense.extra_c.len() as u64
}

/// `out = y0 + h Σ_i b_i(θ) k_i`, using `w` (length `dense_stages`) as scratch.
pub fn interpolate(
    tab: &Tableau,
    k: &[Vec<f64>],
    y0: &[f64],
    h: f64,
    theta: f64,
    w: &mut [f64],
    out: &mut [f64],
) {
    weights(tab, theta, w);
    combine(out, y0, h, w, k);
}
