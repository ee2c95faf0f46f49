//! The standard monitors of a deep-linear gradient flow.
//!
//! | columns | quantity | source |
//! |---|---|---|
//! | `loss`, `grad_norm_sq`, `int_residual_norm` | `L(θ)`, `‖∇L‖²`, `∫_0^t ‖XΘ − Y‖_F ds` | read off the accepted state and its derivative, no extra evaluation |
//! | `imbalance_norm_k`, `imbalance_drift_k`, `imbalance_drift_rel_k` | `‖D_k‖_F`, `‖D_k(t) − D_k(0)‖_F`, the drift over `‖W_k(0)‖_F² + ‖W_{k+1}(0)‖_F²` | `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ`, conserved by the exact flow (Arora et al. 2018; paper 002 Lemma 1) |
//! | `projected_imbalance_drift`, `…_rel` | drift of `W_2ᵀW_2 − W_1 P_X W_1ᵀ` | paper 003 eq. (9), the conserved imbalance when rank X < d |
//! | `null_space_drift` | `‖W_1(t)P_⊥ − W_1(0)P_⊥‖_F` | paper 000 Lemma 5.4 (a linear invariant: round-off only) |
//! | `dist_min_norm` | `‖Θ − X⁺Y‖_F` | paper 000 Def 2.5 / paper 003 eq. (12) |
//!
//! The relative imbalance drift is normalised by the size of the two terms of `D_k(0)`
//! rather than by `‖D_k(0)‖` itself, which is zero for balanced initialisations.

use nalgebra::DMatrix;

use super::{Monitor, Point, Threshold};
use crate::flow::linalg::{gemm, gemm_into, m, sq_norm, Mat};
use crate::flow::GradientFlow;
use crate::model::data::{min_norm_solution, row_space_basis};
use crate::model::net::Shape;

fn layer<'a>(shape: &Shape, theta: &'a [f64], k: usize) -> Mat<'a> {
    let (r, c) = shape.layer_shape(k);
    Mat::new(&theta[shape.layer_range(k)], r, c)
}

/// `out ← W_{k+1}ᵀW_{k+1} − W_kW_kᵀ` (`m_k × m_k`).
fn imbalance_into(shape: &Shape, theta: &[f64], k: usize, out: &mut DMatrix<f64>) {
    let a = layer(shape, theta, k + 1);
    let b = layer(shape, theta, k);
    gemm_into(1.0, a.t(), a, 0.0, out);
    gemm_into(-1.0, b, b.t(), 1.0, out);
}

/// The largest layer imbalance drift `max_k ‖D_k(θ) − D_k(θ₀)‖_F` between the weights
/// `theta0` and `theta` (what `imbalance_drift_k` measures along a run, at one point; 0 for
/// a single layer).
pub fn max_imbalance_drift(shape: &Shape, theta0: &[f64], theta: &[f64]) -> f64 {
    (1..shape.depth())
        .map(|k| {
            let mk = shape.widths()[k];
            let (mut d0, mut d) = (DMatrix::zeros(mk, mk), DMatrix::zeros(mk, mk));
            imbalance_into(shape, theta0, k, &mut d0);
            imbalance_into(shape, theta, k, &mut d);
            dist(&d, &d0)
        })
        .fold(0.0, f64::max)
}

fn dist(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// `loss`, `grad_norm_sq`, `int_residual_norm`: the loss in the run's convention, the
/// squared gradient norm, and the running integral `∫‖XΘ − Y‖_F dt` (an ODE state).
/// Free: the derivative at an accepted point already holds `−∇L` and `‖R‖_F`.
pub struct LossMonitor {
    params: usize,
    kappa: f64,
    threshold: Option<f64>,
}

impl LossMonitor {
    /// For the problem `gf`; `threshold` records the first time the loss is `≤` it.
    pub fn new(gf: &GradientFlow, threshold: Option<f64>) -> Self {
        Self {
            params: gf.shape().num_params(),
            kappa: gf.loss_convention().scale(gf.x().nrows()),
            threshold,
        }
    }
}

impl Monitor for LossMonitor {
    fn columns(&self) -> Vec<String> {
        vec![
            "loss".into(),
            "grad_norm_sq".into(),
            "int_residual_norm".into(),
        ]
    }
    fn thresholds(&self) -> Vec<Option<Threshold>> {
        let th = self.threshold.map(|value| Threshold {
            value,
            crossing: super::Crossing::Below,
        });
        vec![th, None, None]
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        let r = p.f[self.params];
        out[0] = self.kappa * r * r;
        out[1] = sq_norm(&p.f[..self.params]);
        out[2] = p.y[self.params];
    }
}

/// Every layer imbalance `D_k`, its norm and its drift from `D_k(0)`.
pub struct ImbalanceMonitor {
    shape: Shape,
    d0: Vec<DMatrix<f64>>,
    scale0: Vec<f64>,
    buf: Vec<DMatrix<f64>>,
}

impl ImbalanceMonitor {
    /// Records `D_k(0)` from the initial weights `theta0`.
    pub fn new(shape: &Shape, theta0: &[f64]) -> Self {
        let l = shape.depth();
        let mut d0 = Vec::new();
        let mut scale0 = Vec::new();
        for k in 1..l {
            let mk = shape.widths()[k];
            let mut d = DMatrix::zeros(mk, mk);
            imbalance_into(shape, theta0, k, &mut d);
            d0.push(d);
            let s =
                sq_norm(&theta0[shape.layer_range(k)]) + sq_norm(&theta0[shape.layer_range(k + 1)]);
            scale0.push(s);
        }
        Self {
            shape: shape.clone(),
            buf: d0.clone(),
            d0,
            scale0,
        }
    }
}

impl Monitor for ImbalanceMonitor {
    fn columns(&self) -> Vec<String> {
        (1..self.shape.depth())
            .flat_map(|k| {
                [
                    format!("imbalance_norm_{k}"),
                    format!("imbalance_drift_{k}"),
                    format!("imbalance_drift_rel_{k}"),
                ]
            })
            .collect()
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        let theta = &p.y[..self.shape.num_params()];
        for k in 1..self.shape.depth() {
            let b = &mut self.buf[k - 1];
            imbalance_into(&self.shape, theta, k, b);
            let drift = dist(b, &self.d0[k - 1]);
            out[3 * (k - 1)] = b.norm();
            out[3 * (k - 1) + 1] = drift;
            out[3 * (k - 1) + 2] = if self.scale0[k - 1] > 0.0 {
                drift / self.scale0[k - 1]
            } else {
                drift
            };
        }
    }
}

/// Paper 003's data-projected imbalance `D_X = W_2ᵀW_2 − W_1 P_X W_1ᵀ` (with `W_1 = Uᵀ`,
/// `W_2 = V` this is `VᵀV − UᵀP_XU = −(U₁ᵀU₁ − VᵀV)`), conserved for any depth because
/// `W_1 P_⊥` is; reported when rank X < d.
pub struct ProjectedImbalanceMonitor {
    shape: Shape,
    q: DMatrix<f64>,
    d0: DMatrix<f64>,
    scale0: f64,
    w1q: DMatrix<f64>,
    buf: DMatrix<f64>,
}

impl ProjectedImbalanceMonitor {
    /// Needs depth ≥ 2; `None` when rank X = d (then `D_X = D_1`).
    pub fn new(gf: &GradientFlow, theta0: &[f64]) -> Option<Self> {
        let shape = gf.shape().clone();
        let (q, rank) = row_space_basis(gf.x());
        if shape.depth() < 2 || rank >= shape.input() {
            return None;
        }
        let m1 = shape.widths()[1];
        let mut me = Self {
            d0: DMatrix::zeros(m1, m1),
            scale0: 0.0,
            w1q: DMatrix::zeros(m1, rank),
            buf: DMatrix::zeros(m1, m1),
            q,
            shape,
        };
        me.compute(theta0);
        me.d0.copy_from(&me.buf);
        me.scale0 = me.w1q.norm_squared() + sq_norm(&theta0[me.shape.layer_range(2)]);
        Some(me)
    }

    fn compute(&mut self, theta: &[f64]) {
        let w1 = layer(&self.shape, theta, 1);
        let w2 = layer(&self.shape, theta, 2);
        gemm_into(1.0, w1, m(&self.q), 0.0, &mut self.w1q);
        gemm_into(1.0, w2.t(), w2, 0.0, &mut self.buf);
        gemm_into(-1.0, m(&self.w1q), m(&self.w1q).t(), 1.0, &mut self.buf);
    }
}

impl Monitor for ProjectedImbalanceMonitor {
    fn columns(&self) -> Vec<String> {
        vec![
            "projected_imbalance_drift".into(),
            "projected_imbalance_drift_rel".into(),
        ]
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        self.compute(&p.y[..self.shape.num_params()]);
        let drift = dist(&self.buf, &self.d0);
        out[0] = drift;
        out[1] = if self.scale0 > 0.0 {
            drift / self.scale0
        } else {
            drift
        };
    }
}

/// Paper 000 Lemma 5.4: `W_1(t)(I − P_X) = W_1(0)(I − P_X)`; the monitor reports
/// `‖(W_1(t) − W_1(0))(I − P_X)‖_F`. The first-layer gradient `S_2ᵀ E` has rows in the row
/// space of `X`, so this is a linear invariant of every Runge–Kutta method: anything above
/// round-off is a bug. Reported when rank X < d.
pub struct NullSpaceMonitor {
    shape: Shape,
    q: DMatrix<f64>,
    w10: Vec<f64>,
    delta: DMatrix<f64>,
    dq: DMatrix<f64>,
}

impl NullSpaceMonitor {
    /// `None` when rank X = d (the null space is trivial).
    pub fn new(gf: &GradientFlow, theta0: &[f64]) -> Option<Self> {
        let shape = gf.shape().clone();
        let (q, rank) = row_space_basis(gf.x());
        if rank >= shape.input() {
            return None;
        }
        let (m1, d) = shape.layer_shape(1);
        Some(Self {
            w10: theta0[shape.layer_range(1)].to_vec(),
            delta: DMatrix::zeros(m1, d),
            dq: DMatrix::zeros(m1, rank),
            q,
            shape,
        })
    }
}

impl Monitor for NullSpaceMonitor {
    fn columns(&self) -> Vec<String> {
        vec!["null_space_drift".into()]
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        let w1 = &p.y[self.shape.layer_range(1)];
        for ((d, a), b) in self.delta.iter_mut().zip(w1).zip(&self.w10) {
            *d = a - b;
        }
        gemm_into(1.0, m(&self.delta), m(&self.q), 0.0, &mut self.dq);
        let (r, c) = self.delta.shape();
        gemm(
            -1.0,
            m(&self.dq),
            m(&self.q).t(),
            1.0,
            self.delta.as_mut_slice(),
            r,
            c,
        );
        out[0] = self.delta.norm();
    }
}

/// `‖Θ − X⁺Y‖_F`, the distance of the end-to-end map to the minimum-norm interpolant
/// (one forward pass per sample).
pub struct MinNormDistanceMonitor {
    target_t: DMatrix<f64>,
}

impl MinNormDistanceMonitor {
    /// Precomputes `(X⁺Y)ᵀ` (`q × d`) by SVD.
    pub fn new(gf: &GradientFlow) -> Self {
        Self {
            target_t: min_norm_solution(gf.x(), gf.y()).transpose(),
        }
    }
}

impl Monitor for MinNormDistanceMonitor {
    fn columns(&self) -> Vec<String> {
        vec!["dist_min_norm".into()]
    }
    fn measure(&mut self, gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        let p_params = gf.shape().num_params();
        let mt = gf.end_to_end_t(&p.y[..p_params]);
        out[0] = dist(mt, &self.target_t);
    }
}

/// The standard monitor set for a run: loss, imbalances, the data-projected imbalance and
/// the null-space drift (when rank X < d), and the distance to `X⁺Y`.
pub fn standard(
    gf: &GradientFlow,
    theta0: &[f64],
    loss_threshold: Option<f64>,
) -> super::MonitorSet {
    let mut v: Vec<Box<dyn Monitor>> = vec![
        Box::new(LossMonitor::new(gf, loss_threshold)),
        Box::new(ImbalanceMonitor::new(gf.shape(), theta0)),
    ];
    if let Some(mon) = ProjectedImbalanceMonitor::new(gf, theta0) {
        v.push(Box::new(mon));
    }
    if let Some(mon) = NullSpaceMonitor::new(gf, theta0) {
        v.push(Box::new(mon));
    }
    v.push(Box::new(MinNormDistanceMonitor::new(gf)));
    super::MonitorSet::new(v)
}
