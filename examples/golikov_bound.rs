//! Theorem 5.2 of paper 001 (Golikov) on the built-in `golikov` example: the bound's terms
//! `R̂_γ(t) + Υ_κ + Φ_κ v u^{L−1} ε^κ/γ` against the held-out risk `R(t)` (Monte Carlo on fresh
//! population samples, with a one-sided Wilson 95% upper limit), at a few times along one run,
//! for κ ∈ {1, 2}, p ∈ {16, 32} and several margins γ.
//!
//! `cargo run --release --example golikov_bound [-- TEST_POINTS]` (default 100000).

use gradflow::claim::catalog::gol24_leaky::{upsilon, wilson_upper};
use gradflow::claim::Setting;
use gradflow::examples::example;
use gradflow::flow::nearly_linear::Scalar;
use gradflow::flow::GradientFlow;
use gradflow::integrate::AcceptedStep;
use gradflow::model::data::held_out;
use gradflow::monitor::Point;
use gradflow::observe::{Observed, Observer};
use gradflow::run::{execute_problem, Problem};

struct Report {
    setting: Setting,
    test: gradflow::model::data::Dataset,
    times: Vec<f64>,
    next: usize,
}

impl Report {
    fn print(&self, gf: &GradientFlow, p: &Point<'_>) {
        let s = &self.setting;
        let sc = gf.twin().expect("twin").scalars;
        let y = p.y;
        let u = s.layout.scalar(y, Scalar::U).unwrap();
        let v = s.layout.scalar(y, Scalar::VPrinted).unwrap();
        let m = self.test.x.nrows();
        let risk = gradflow::claim::catalog::gol24_leaky::margin_risk(
            &s.outputs_on(y, &self.test.x),
            &self.test.y,
            0.0,
        );
        let hi = wilson_upper(risk, m, 0.95);
        let f = s.outputs(y);
        println!(
            "t = {:.3}: test risk R = {risk:.4} (95% upper {hi:.4}, {m} samples); u = {u:.4e}, v = {v:.4e}",
            p.t
        );
        for gamma in [0.01, 0.03, 0.1] {
            let train = gradflow::claim::catalog::gol24_leaky::margin_risk(&f, &s.data.y, gamma);
            for kappa in [1u32, 2] {
                for bits in [16.0, 32.0] {
                    let ups = upsilon(kappa, bits, s.shape.input(), 0.05, s.data.n());
                    let dev = sc.phi_kappa(kappa, s.shape.input())
                        * v
                        * u.powf(s.shape.depth() as f64 - 1.0)
                        * s.eps.powi(kappa as i32)
                        / gamma;
                    println!(
                        "  γ = {gamma:<5} κ = {kappa} p = {bits:<3}: R̂_γ = {train:.4} + Υ = {ups:.4} + Δε^κ/γ = {dev:.3e} → bound {:.4}",
                        train + ups + dev
                    );
                }
            }
        }
    }
}

impl Observer for Report {
    fn on_step(
        &mut self,
        run: &mut Observed<'_>,
        _st: &AcceptedStep,
        p: &Point<'_>,
    ) -> Result<(), gradflow::GradflowError> {
        let integ = &mut *run.stepper;
        while self.next < self.times.len() && p.t >= self.times[self.next] {
            let mut y = vec![0.0; p.y.len()];
            let tg = self.times[self.next];
            integ.dense(tg, &mut y);
            let q = Point { t: tg, y: &y, ..*p };
            self.print(integ.system(), &q);
            self.next += 1;
        }
        Ok(())
    }
}

/// Command-line arguments.
#[derive(clap::Parser, Debug)]
#[command(about = "Theorem 5.2's bound vs the held-out risk on the golikov example")]
struct Args {
    /// Fresh test samples for the Monte-Carlo risk estimate.
    #[arg(default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    test_points: u64,
}

fn main() -> Result<(), gradflow::GradflowError> {
    let m = <Args as clap::Parser>::parse().test_points as usize;
    let cfg = example("golikov")?;
    let pb = Problem::build(&cfg)?;
    let setting = Setting::new(&cfg, &pb.shape, &pb.data, &pb.theta0);
    let test = held_out(&cfg.data, cfg.seed, m, 2)?.expect("population");
    let sc = pb.flow.twin().expect("twin").scalars;
    println!(
        "golikov: n = {}, d = {}, width 64, ε = {}, β = {:.4}, ρ = {:.4}, s = {:.4}, s̄ = {:.4}, β̄ = {:.4}",
        pb.data.n(),
        pb.data.d(),
        setting.eps,
        sc.beta,
        sc.rho,
        sc.s,
        sc.s_bar,
        sc.beta_bar
    );
    let mut rep = Report {
        setting,
        test,
        times: vec![0.5, 1.0, 2.0, 3.0],
        next: 0,
    };
    execute_problem(&cfg, pb, None, Some(&mut rep))?;
    Ok(())
}
