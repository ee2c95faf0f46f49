//! O(1) running summaries of a scalar signal sampled at accepted steps.

use serde::{Deserialize, Serialize};

/// Direction of a threshold crossing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    /// First time the value is `≤` the threshold.
    Below,
    /// First time the value is `≥` the threshold.
    Above,
}

/// A threshold whose first crossing time is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The level.
    pub value: f64,
    /// Which side counts as crossed.
    pub crossing: Crossing,
}

/// First, last, min and max (with their times) and an optional first-crossing time of a
/// scalar signal; constant memory whatever the run length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Value at the first sample (t = t0).
    pub first: f64,
    /// Value at the last sample.
    pub last: f64,
    /// Smallest value.
    pub min: f64,
    /// Time of the smallest value.
    pub t_min: f64,
    /// Largest value.
    pub max: f64,
    /// Time of the largest value.
    pub t_max: f64,
    /// Number of samples.
    pub samples: u64,
    /// Threshold watched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    /// First sample time at which the threshold was crossed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_crossing: Option<f64>,
}

impl Summary {
    /// An empty summary.
    pub fn new(threshold: Option<Threshold>) -> Self {
        Self {
            first: f64::NAN,
            last: f64::NAN,
            min: f64::INFINITY,
            t_min: f64::NAN,
            max: f64::NEG_INFINITY,
            t_max: f64::NAN,
            samples: 0,
            threshold,
            first_crossing: None,
        }
    }

    /// Adds the sample `value` at time `t`.
    pub fn push(&mut self, t: f64, value: f64) {
        if self.samples == 0 {
            self.first = value;
        }
        self.samples += 1;
        self.last = value;
        if value < self.min {
            self.min = value;
            self.t_min = t;
        }
        if value > self.max {
            self.max = value;
            self.t_max = t;
        }
        if let (Some(th), None) = (self.threshold, self.first_crossing) {
            let crossed = match th.crossing {
                Crossing::Below => value <= th.value,
                Crossing::Above => value >= th.value,
            };
            if crossed {
                self.first_crossing = Some(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_tracks_extremes_their_times_and_the_first_crossing() {
        let mut s = Summary::new(Some(Threshold {
            value: 0.5,
            crossing: Crossing::Below,
        }));
        for (t, v) in [(0.0, 1.0), (1.0, 0.4), (2.0, 2.0), (3.0, 0.1)] {
            s.push(t, v);
        }
        assert_eq!((s.first, s.last, s.samples), (1.0, 0.1, 4));
        assert_eq!((s.min, s.t_min, s.max, s.t_max), (0.1, 3.0, 2.0, 2.0));
        assert_eq!(s.first_crossing, Some(1.0));
    }
}
