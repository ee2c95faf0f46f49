//! Distance between gradient descent and the gradient flow at matching times: at the GD
//! iterate `θ_j` (time `t_j = jη`) the monitor reports `‖θ_j − θ_GF(t_j)‖₂` over the weights,
//! and the same relative to `‖θ_GF(t_j)‖₂`. The flow is integrated alongside on a clone of
//! the problem — by Radau IIA 5 at `rtol = 1e-10`, `atol = 1e-12` by default (L-stable: a
//! learning rate near `2/λ_max` means a sharp, stiff flow, on which an explicit reference
//! would be stability-limited), or by an explicit pair ([`GdGfDistanceMonitor::with`]) —
//! advanced step by step as the GD time passes and read at `t_j` by its dense output, so
//! nothing is stored.
//!
//! Explicit Euler has global error `O(η)` on a fixed time interval (Hairer–Nørsett–Wanner I,
//! Thm II.3.4), so the distance shrinks proportionally to `η`; the reference's own error is
//! `O(rtol)`, far below it.

use serde_json::{json, Value};

use super::{Monitor, Point};
use crate::flow::GradientFlow;
use crate::integrate::auto::AutoSwitch;
use crate::integrate::implicit::{radau5::RADAU5, ImplicitOptions};
use crate::integrate::tableau::Tableau;
use crate::integrate::{Integrator, Options, Stepper, Tolerances};

/// Relative tolerance of the reference flow.
pub const REFERENCE_RTOL: f64 = 1e-10;
/// Absolute tolerance of the reference flow.
pub const REFERENCE_ATOL: f64 = 1e-12;

/// The GD–GF distance monitor with its reference integrator.
pub struct GdGfDistanceMonitor {
    reference: Box<dyn Stepper<GradientFlow>>,
    params: usize,
    buf: Vec<f64>,
    failure: Option<String>,
    rtol: f64,
    atol: f64,
}

impl GdGfDistanceMonitor {
    /// The reference flow from `y0` (the run's initial state) on a clone of `gf`, up to
    /// `t_end`, by Radau IIA 5 at the default tolerances (ROCK4 from where Radau's work
    /// guard finds the stiffness not low-rank, as `--method radau5` does).
    pub fn new(gf: &GradientFlow, y0: &[f64], t_end: f64) -> Self {
        let n = y0.len();
        let reference = AutoSwitch::implicit(
            gf.clone(),
            &RADAU5,
            y0,
            Tolerances::scalar(n, REFERENCE_RTOL, REFERENCE_ATOL),
            Options::new(0.0, t_end),
            ImplicitOptions::default(),
        );
        Self::from_stepper(Box::new(reference), gf, n, REFERENCE_RTOL, REFERENCE_ATOL)
    }

    fn from_stepper(
        reference: Box<dyn Stepper<GradientFlow>>,
        gf: &GradientFlow,
        n: usize,
        rtol: f64,
        atol: f64,
    ) -> Self {
        Self {
            reference,
            params: gf.shape().num_params(),
            buf: vec![0.0; n],
            failure: None,
            rtol,
            atol,
        }
    }

    /// The reference by the explicit pair `tab` at `rtol`, `atol`.
    pub fn with(
        gf: &GradientFlow,
        y0: &[f64],
        t_end: f64,
        tab: &'static Tableau,
        rtol: f64,
        atol: f64,
    ) -> Self {
        let n = y0.len();
        let reference = Integrator::new(
            gf.clone(),
            tab,
            y0,
            Tolerances::scalar(n, rtol, atol),
            Options::new(0.0, t_end),
        );
        Self::from_stepper(Box::new(reference), gf, n, rtol, atol)
    }

    /// Moves the reference to time `t` and writes its state there into the buffer; `false`
    /// when the reference stopped before `t`.
    fn reference_at(&mut self, t: f64) -> bool {
        while self.failure.is_none() && self.reference.t() < t && !self.reference.finished() {
            if let Err(e) = self.reference.step() {
                self.failure = Some(e.to_string());
            }
        }
        let tr = self.reference.t();
        if t >= tr {
            if t > tr * (1.0 + 4.0 * f64::EPSILON) + f64::MIN_POSITIVE {
                return false;
            }
            self.buf.copy_from_slice(self.reference.y());
        } else {
            self.reference.dense(t, &mut self.buf);
        }
        true
    }
}

impl Monitor for GdGfDistanceMonitor {
    fn columns(&self) -> Vec<String> {
        vec!["gd_gf_distance".into(), "gd_gf_distance_rel".into()]
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        if !self.reference_at(p.t) {
            out[0] = f64::NAN;
            out[1] = f64::NAN;
            return;
        }
        let np = self.params;
        let d2: f64 = p.y[..np]
            .iter()
            .zip(&self.buf[..np])
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        let r2: f64 = self.buf[..np].iter().map(|v| v * v).sum();
        out[0] = d2.sqrt();
        out[1] = if r2 > 0.0 {
            (d2 / r2).sqrt()
        } else {
            d2.sqrt()
        };
    }
    fn report(&self) -> Option<(&'static str, Value)> {
        let st = self.reference.stats();
        Some((
            "gf_reference",
            json!({
                "method": self.reference.method_name(),
                "rtol": self.rtol,
                "atol": self.atol,
                "t": self.reference.t(),
                "accepted": st.accepted,
                "rejected": st.rejected,
                "nfev": st.nfev,
                "failure": self.failure,
            }),
        ))
    }
}
