//! The observer protocol of a run: everything that watches the integration — the monitor set
//! ([`MonitorSet`]), the JSONL trace ([`crate::monitor::trace::RunTrace`]), the claim checker
//! ([`crate::check::Checker`]) and a caller's own observer — implements one trait,
//! [`Observer`], and [`drive`] steps the integrator and calls them in order. As argmin's
//! `Observe` is called at every iteration with a frequency, an observer here is called at
//! the start, at the accepted steps its [`Schedule`] selects (or at the points of a time
//! grid, by dense output), and at the end; as diffrax separates saving from solving, what
//! is kept of the trajectory (summaries, trace rows, verdicts) is the observers' business,
//! never the stepper's.
//!
//! # Protocol
//!
//! For one run, [`drive`] calls, in this order:
//!
//! 1. [`Observer::stops`] of every observer, once, before the stepper is built (by the run,
//!    which adds these times to `tstops`; [`drive`] does not ask);
//! 2. [`Observer::on_start`] at the initial point (step 0): the monitor set first, then the
//!    observers in their order, each seeing the monitor values at the point;
//! 3. for every accepted step, in three phases:
//!    1. the time-grid samples inside the step: for each observer with
//!       [`Schedule::TimeGrid`], [`Observer::on_step`] at every grid time `t_k = k·dt`
//!       (`k ≥ 1`) in `(t_prev, t]` not beyond `t_end`, at the dense-output state, with the
//!       monitors measured there (their summaries untouched);
//!    2. the method switches the step reported ([`Observer::on_switches`]), to every
//!       observer whatever its schedule;
//!    3. the accepted point: [`Observer::on_step`] of the monitor set (which updates its
//!       summaries), then of every observer whose schedule selects the step, with the
//!       monitor values at the point;
//! 4. [`Observer::on_finish`] at the end of the run (at `t_end`, or at the last good state
//!    of a run that stopped early), the monitor set first, then the observers in order.
//!
//! So everything is delivered in time order: a step's grid samples (all at or before the
//! step's time) before its accepted point. An `Err` from any call ends the run at once with
//! that error (the first one wins; later observers of the same point are not called). An
//! observer that wants the run to go on after a failure of its own (the trace, which gives
//! itself up on a write error) keeps the error and returns `Ok`. The schedule is asked
//! before every grid sample and accepted step, so an observer can stop itself
//! ([`Schedule::Never`]).

use crate::error::{GradflowError, Result};
use crate::flow::GradientFlow;
use crate::integrate::{AcceptedStep, MethodSwitch, OdeSystem, Stepper};
use crate::monitor::{MonitorSet, Point};
use crate::run::Status;

/// When an observer's [`Observer::on_step`] is called during a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// At every accepted step.
    EveryStep,
    /// At every `n`-th accepted step (`index % n == 0`) and at the step that reaches
    /// `t_end`.
    Every(u64),
    /// At the times `k·dt`, `k ≥ 1`, up to `t_end`, by the dense output of the accepted step
    /// that reaches each (the point is in that step: `p.t` is the grid time, `p.step` the
    /// step's index); not at the accepted steps themselves.
    TimeGrid(f64),
    /// Not at all (an observer that has given up).
    Never,
}

/// What an observer sees of the run at a point besides the point itself.
pub struct Observed<'a> {
    /// The stepper: its flow ([`Stepper::system_mut`]), dense output on the current step
    /// ([`Stepper::dense`]), local error, counters.
    pub stepper: &'a mut dyn Stepper<GradientFlow>,
    /// The monitor columns ([`MonitorSet::names`]) measured at the point: after the monitor
    /// set observed an accepted point, or measured at a grid sample. Empty when the monitor
    /// set itself is called.
    pub values: &'a [f64],
}

/// Something that watches a run: called at the start, at the accepted steps (or grid
/// samples) of its [`Schedule`], at method switches and at the end; see the module
/// documentation for the order of calls. Every call may fail, which ends the run with that
/// error.
pub trait Observer {
    /// When [`Observer::on_step`] is called. Asked before every call. Default: every
    /// accepted step.
    fn schedule(&self) -> Schedule {
        Schedule::EveryStep
    }
    /// Times the observer needs an accepted step at (added to the run's `tstops`; asked
    /// once, before the first step). Default: none.
    fn stops(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Columns this observer adds to the run's trace, with the shared row it fills at every
    /// point it is called at ([`crate::monitor::trace::TraceColumns`]). Asked once, before
    /// the run, only when an `every=N` trace is written; an observer that adds columns is
    /// then called before the trace at every point, so a row carries its values at that
    /// point. Default: none.
    fn trace_columns(&mut self) -> Option<crate::monitor::trace::TraceColumns> {
        None
    }
    /// The initial point (step 0). Default: nothing.
    fn on_start(&mut self, _run: &mut Observed<'_>, _p: &Point<'_>) -> Result<()> {
        Ok(())
    }
    /// An accepted step `st` selected by the schedule, at its accepted point `p`; or, with
    /// [`Schedule::TimeGrid`], a grid sample `p` inside the step `st`.
    fn on_step(&mut self, run: &mut Observed<'_>, st: &AcceptedStep, p: &Point<'_>) -> Result<()>;
    /// Method switches reported by the accepted step `st` (`--method auto`, the chattering
    /// fallback), after the step's grid samples and before its accepted point; called at
    /// every step that reports some, whatever the schedule. Default: nothing.
    fn on_switches(
        &mut self,
        _run: &mut Observed<'_>,
        _st: &AcceptedStep,
        _switches: &[MethodSwitch],
    ) -> Result<()> {
        Ok(())
    }
    /// The end of the run (at `t_end`, or at the last good state), with how it ended.
    /// Default: nothing.
    fn on_finish(
        &mut self,
        _run: &mut Observed<'_>,
        _p: &Point<'_>,
        _status: &Status,
    ) -> Result<()> {
        Ok(())
    }
}

/// Whether the accepted step `index` is due under `schedule` (`finished`: it reached
/// `t_end`).
fn due(schedule: Schedule, index: u64, finished: bool) -> bool {
    match schedule {
        Schedule::EveryStep => true,
        Schedule::Every(n) => index.is_multiple_of(n) || finished,
        Schedule::TimeGrid(_) | Schedule::Never => false,
    }
}

/// Integrates with `stepper` (started at `y0`) to its end and calls the monitor set and the
/// observers as the [module documentation](self) describes: the protocol's whole driver.
/// Returns how the run ended, or the first error an observer returned.
pub fn drive(
    stepper: &mut dyn Stepper<GradientFlow>,
    y0: &[f64],
    t_end: f64,
    monitors: &mut MonitorSet,
    observers: &mut [&mut dyn Observer],
) -> Result<Status, GradflowError> {
    let n = y0.len();
    let mut ybuf = vec![0.0; n];
    let mut fbuf = vec![0.0; n];
    // initial point
    {
        let f0 = stepper.f().to_vec();
        let p = Point::resting(0, 0.0, y0, &f0);
        monitors.on_start(
            &mut Observed {
                stepper,
                values: &[],
            },
            &p,
        )?;
        for obs in observers.iter_mut() {
            let values = monitors.values();
            obs.on_start(&mut Observed { stepper, values }, &p)?;
        }
    }
    // the next grid index of each observer on a time grid
    let mut grid_k = vec![1u64; observers.len()];
    let mut switches_seen = 0usize;
    let status = loop {
        crate::cancel::check()?;
        let st = match stepper.step() {
            Ok(None) => break Status::Completed,
            Err(fail) => break Status::Stopped(fail),
            Ok(Some(st)) => st,
        };
        // 1. grid samples inside the step
        for (obs, k) in observers.iter_mut().zip(&mut grid_k) {
            while let Schedule::TimeGrid(dt) = obs.schedule() {
                let tg = *k as f64 * dt;
                if tg > st.t * (1.0 + 4.0 * f64::EPSILON) || tg > t_end {
                    break;
                }
                stepper.dense(tg, &mut ybuf);
                let gf = stepper.system_mut();
                gf.rhs(tg, &ybuf, &mut fbuf);
                let p = Point::in_step(&st, tg, &ybuf, &fbuf);
                let values = monitors.measure(gf, &p);
                obs.on_step(&mut Observed { stepper, values }, &st, &p)?;
                *k += 1;
            }
        }
        // 2. method switches
        let switches = stepper.switches()[switches_seen..].to_vec();
        switches_seen += switches.len();
        if !switches.is_empty() {
            for obs in observers.iter_mut() {
                let values = monitors.values();
                obs.on_switches(&mut Observed { stepper, values }, &st, &switches)?;
            }
        }
        // 3. the accepted point
        ybuf.copy_from_slice(stepper.y());
        fbuf.copy_from_slice(stepper.f());
        let p = Point::in_step(&st, st.t, &ybuf, &fbuf);
        monitors.on_step(
            &mut Observed {
                stepper,
                values: &[],
            },
            &st,
            &p,
        )?;
        for obs in observers.iter_mut() {
            if due(obs.schedule(), st.index, stepper.finished()) {
                let values = monitors.values();
                obs.on_step(&mut Observed { stepper, values }, &st, &p)?;
            }
        }
    };
    ybuf.copy_from_slice(stepper.y());
    fbuf.copy_from_slice(stepper.f());
    let p = Point::resting(stepper.stats().accepted, stepper.t(), &ybuf, &fbuf);
    monitors.on_finish(
        &mut Observed {
            stepper,
            values: &[],
        },
        &p,
        &status,
    )?;
    for obs in observers.iter_mut() {
        let values = monitors.values();
        obs.on_finish(&mut Observed { stepper, values }, &p, &status)?;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    #[test]
    fn every_n_is_due_on_multiples_and_at_the_end_only() {
        let s = Schedule::Every(3);
        let due_at: Vec<u64> = (1..=10).filter(|&i| due(s, i, i == 10)).collect();
        assert_eq!(due_at, vec![3, 6, 9, 10]);
        assert!((1..5).all(|i| due(Schedule::EveryStep, i, false)));
        assert!(!due(Schedule::TimeGrid(0.5), 4, true));
        assert!(!due(Schedule::Never, 4, true));
    }

    /// One call: (observer, kind, accepted-step index, time, number of monitor values).
    type Call = (&'static str, &'static str, u64, f64, usize);

    struct Recorder {
        name: &'static str,
        schedule: Schedule,
        log: Rc<RefCell<Vec<Call>>>,
    }

    impl Observer for Recorder {
        fn schedule(&self) -> Schedule {
            self.schedule
        }
        fn on_start(&mut self, run: &mut Observed<'_>, p: &Point<'_>) -> Result<()> {
            let call = (self.name, "start", p.step, p.t, run.values.len());
            self.log.borrow_mut().push(call);
            Ok(())
        }
        fn on_step(
            &mut self,
            run: &mut Observed<'_>,
            st: &AcceptedStep,
            p: &Point<'_>,
        ) -> Result<()> {
            let kind = match self.schedule {
                Schedule::TimeGrid(_) => "sample",
                _ => "step",
            };
            let call = (self.name, kind, st.index, p.t, run.values.len());
            self.log.borrow_mut().push(call);
            Ok(())
        }
        fn on_finish(
            &mut self,
            run: &mut Observed<'_>,
            p: &Point<'_>,
            status: &Status,
        ) -> Result<()> {
            assert_eq!(*status, Status::Completed);
            let call = (self.name, "finish", p.step, p.t, run.values.len());
            self.log.borrow_mut().push(call);
            Ok(())
        }
    }

    #[test]
    fn observers_are_called_in_time_order_on_their_schedules() {
        let mut cfg = crate::examples::example("mc24-small-init").unwrap();
        cfg.t_end = 0.5;
        let pb = crate::run::Problem::build(&cfg).unwrap();
        let mut monitors = crate::monitor::quantities::standard(&pb.flow, &pb.theta0, None);
        let columns = monitors.names().len();
        let y0 = pb.flow.initial_state(&pb.theta0);
        let tol = crate::integrate::Tolerances::scalar(y0.len(), 1e-6, 1e-9);
        let opts = crate::integrate::Options::new(0.0, cfg.t_end);
        let mut stepper = crate::run::make_stepper(&cfg, pb.flow, &y0, tol, opts).unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let rec = |name, schedule| Recorder {
            name,
            schedule,
            log: log.clone(),
        };
        let (mut grid, mut every3, mut all) = (
            rec("grid", Schedule::TimeGrid(0.1)),
            rec("every3", Schedule::Every(3)),
            rec("all", Schedule::EveryStep),
        );
        let mut observers: Vec<&mut dyn Observer> = vec![&mut grid, &mut every3, &mut all];
        let status = drive(
            stepper.as_mut(),
            &y0,
            cfg.t_end,
            &mut monitors,
            &mut observers,
        );
        assert_eq!(status.unwrap(), Status::Completed);
        let steps = stepper.stats().accepted;
        assert!(steps > 3, "{steps} steps");
        let log = log.borrow();
        // every observer sees the monitor values
        assert!(log.iter().all(|c| c.4 == columns));
        // start and finish in the observers' order
        let names =
            |kind: &str| -> Vec<&str> { log.iter().filter(|c| c.1 == kind).map(|c| c.0).collect() };
        assert_eq!(names("start"), ["grid", "every3", "all"]);
        assert_eq!(names("finish"), ["grid", "every3", "all"]);
        // the grid observer sees t = k/10 only, each from the step that reaches it
        let samples: Vec<&Call> = log.iter().filter(|c| c.0 == "grid").collect();
        let inner: Vec<f64> = samples[1..samples.len() - 1].iter().map(|c| c.3).collect();
        assert_eq!(inner, (1..=5).map(|k| k as f64 * 0.1).collect::<Vec<_>>());
        // a step's samples come before its accepted point
        for (i, c) in log.iter().enumerate().filter(|(_, c)| c.1 == "sample") {
            let step_point = log
                .iter()
                .position(|d| d.1 == "step" && d.2 == c.2)
                .unwrap();
            assert!(i < step_point, "sample {c:?} after its step");
        }
        // every third step and the last for one, every step for the other
        let at = |name| -> Vec<u64> {
            log.iter()
                .filter(|c| c.0 == name && c.1 == "step")
                .map(|c| c.2)
                .collect()
        };
        let mut thirds: Vec<u64> = (1..=steps).filter(|i| i % 3 == 0).collect();
        if steps % 3 != 0 {
            thirds.push(steps);
        }
        assert_eq!(at("every3"), thirds);
        assert_eq!(at("all"), (1..=steps).collect::<Vec<_>>());
    }
}
