//! One trial step of an explicit embedded Runge–Kutta pair, written into buffers that are
//! allocated once ([`ErkCache`]); the hot path never allocates.

use super::system::OdeSystem;
use super::tableau::Tableau;

/// Stage and work buffers of an explicit RK method.
#[derive(Clone, Debug)]
pub struct ErkCache {
    /// Stage derivatives, one per entry of the dense-output stage list.
    pub k: Vec<Vec<f64>>,
    /// Scratch for stage arguments.
    pub stage_arg: Vec<f64>,
    /// Stage argument of the first stage of the stiffness pair.
    pub stiff_arg: Vec<f64>,
    /// Candidate solution `y_1`.
    pub y_new: Vec<f64>,
    /// Local error estimate `h Σ e_i k_i`.
    pub err: Vec<f64>,
    /// DOP853's 3rd-order estimate `h Σ e3_i k_i`.
    pub err3: Vec<f64>,
}

impl ErkCache {
    /// Buffers for `tab` on a state of dimension `n`.
    pub fn new(tab: &Tableau, n: usize) -> Self {
        Self {
            k: vec![vec![0.0; n]; tab.dense_stages()],
            stage_arg: vec![0.0; n],
            stiff_arg: vec![0.0; n],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err3: if tab.e3.is_some() {
                vec![0.0; n]
            } else {
                Vec::new()
            },
        }
    }
}

/// `out = y + h Σ_j coef_j k_j` over the stages with nonzero coefficients.
pub(crate) fn combine(out: &mut [f64], y: &[f64], h: f64, coef: &[f64], k: &[Vec<f64>]) {
    out.copy_from_slice(y);
    for (j, &a) in coef.iter().enumerate() {
        if a != 0.0 {
            let s = h * a;
            for (o, kj) in out.iter_mut().zip(&k[j]) {
                *o += s * kj;
            }
        }
    }
}

/// `out = h Σ_j coef_j k_j`.
fn weighted_sum(out: &mut [f64], h: f64, coef: &[f64], k: &[Vec<f64>]) {
    out.fill(0.0);
    for (j, &a) in coef.iter().enumerate() {
        if a != 0.0 {
            let s = h * a;
            for (o, kj) in out.iter_mut().zip(&k[j]) {
                *o += s * kj;
            }
        }
    }
}

/// Squared Euclidean distance.
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Computes stages `1..s` of a step of size `h` from `(t, y)` with `k[0] = f(t, y)` already
/// in place, the candidate `y_new` and the error estimate(s). Returns the number of RHS
/// evaluations and, when both stages of the stiffness pair are main stages, the squared
/// distance of their arguments (for the `h|λ|` estimate).
pub fn trial_step<S: OdeSystem>(
    sys: &mut S,
    tab: &Tableau,
    cache: &mut ErkCache,
    t: f64,
    y: &[f64],
    h: f64,
) -> (u64, Option<f64>) {
    let s = tab.stages();
    let (pa, pb) = tab.stiffness_pair;
    let mut stiff_den = None;
    for i in 1..s {
        let last_fsal = tab.fsal && i == s - 1;
        let ErkCache {
            k,
            stage_arg,
            stiff_arg,
            y_new,
            ..
        } = cache;
        let arg: &mut Vec<f64> = if last_fsal { y_new } else { stage_arg };
        combine(arg, y, h, tab.a[i], k);
        if i == pa {
            stiff_arg.copy_from_slice(arg);
        }
        if i == pb {
            stiff_den = Some(sq_dist(arg, stiff_arg));
        }
        let (_, rest) = k.split_at_mut(i);
        sys.rhs(t + tab.c[i] * h, arg, &mut rest[0]);
    }
    if !tab.fsal {
        combine(&mut cache.y_new, y, h, tab.b, &cache.k);
    }
    weighted_sum(&mut cache.err, h, tab.e, &cache.k);
    if let Some(e3) = tab.e3 {
        weighted_sum(&mut cache.err3, h, e3, &cache.k);
    }
    ((s - 1) as u64, stiff_den)
}

/// The scaled RMS error norm of the step, `sqrt(mean((err_i / sk_i)²))` with
/// `sk_i = atol_i + rtol_i max(|y_i|, |y_new_i|)` (Hairer), or for DOP853 Hairer's
/// combination `|h|·S5 / sqrt(n (S5 + 0.01 S3))` of the 5th- and 3rd-order estimates
/// (`S5 = Σ(err5_i/(h sk_i))²`, `S3 = Σ(err3_i/(h sk_i))²`). Non-finite values give `∞`.
pub fn error_norm(
    tab: &Tableau,
    cache: &ErkCache,
    y: &[f64],
    rtol: &[f64],
    atol: &[f64],
    h: f64,
) -> f64 {
    let n = y.len() as f64;
    let mut s5 = 0.0;
    let mut s3 = 0.0;
    for i in 0..y.len() {
        let sk = atol[i] + rtol[i] * y[i].abs().max(cache.y_new[i].abs());
        let e = cache.err[i] / sk;
        s5 += e * e;
        if tab.e3.is_some() {
            let e3 = cache.err3[i] / sk;
            s3 += e3 * e3;
        }
    }
    let err = if tab.e3.is_some() {
        // the stored estimates carry a factor h; Hairer's formula uses them without it
        let h2 = h * h;
        let (s5, s3) = (s5 / h2, s3 / h2);
        let deno = if s5 + 0.01 * s3 > 0.0 {
            s5 + 0.01 * s3
        } else {
            1.0
        };
        h.abs() * s5 * (1.0 / (n * deno)).sqrt()
    } else {
        (s5 / n).sqrt()
    };
    if err.is_finite() {
        err
    } else {
        f64::INFINITY
    }
}
