//! Canary vs stable on the same service metrics: each metric is read per version, checked with
//! Flagger's semantics (an absolute bound is inclusive, no data is a failed check) plus a bound
//! on the canary's regression relative to stable, and a failed check only counts once it has held
//! for its duration (Prometheus `for:`). The overall verdict says what to do: continue, pause
//! (a breach not yet held: watch) or roll back.

use serde::Serialize;

use super::alert::{AlertState, HeldThreshold};
use super::panel::Direction;
use super::rollout::{Verdict, flagger_check};

/// How one metric is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRule {
    /// Which side of a value is bad (latency and errors: above).
    pub direction: Direction,
    /// How much worse than stable the canary may be, relative to |stable| (0.2 = 20 % worse).
    pub max_regression: Option<f64>,
    /// A bound on the canary's own value; reaching it exactly still passes (Flagger).
    pub limit: Option<f64>,
    /// How long a failed check must hold before it counts.
    pub hold_secs: f64,
}

/// Why one check failed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum Failure {
    /// Nothing measured for the canary: a failed check, as in Flagger.
    NoCanaryData,
    /// A relative bound needs the stable value too.
    NoStableData,
    /// The canary's value is past the absolute limit.
    OverLimit { value: f64, limit: f64 },
    /// The canary is worse than stable by more than allowed. `by` is the relative change in the
    /// bad direction (0.38 = 38 % worse); infinite when stable is 0 and the canary is worse.
    Regression { by: f64, max: f64 },
}

/// The relative change of the canary against stable, signed like the values: (c − s) / |s|.
/// `None` when either is missing or stable is 0.
pub fn relative_delta(stable: Option<f64>, canary: Option<f64>) -> Option<f64> {
    let (s, c) = (stable?, canary?);
    if s == 0.0 || s.is_nan() || c.is_nan() {
        return None;
    }
    Some((c - s) / s.abs())
}

fn present(v: Option<f64>) -> Option<f64> {
    v.filter(|x| !x.is_nan())
}

/// One check of the canary against stable. `Err` says why it failed.
pub fn check(rule: &CanaryRule, stable: Option<f64>, canary: Option<f64>) -> Result<(), Failure> {
    let (stable, canary) = (present(stable), present(canary));
    let c = canary.ok_or(Failure::NoCanaryData)?;
    if let Some(limit) = rule.limit {
        let (min, max) = match rule.direction {
            Direction::Above => (None, Some(limit)),
            Direction::Below => (Some(limit), None),
        };
        if !flagger_check(Some(c), min, max) {
            return Err(Failure::OverLimit { value: c, limit });
        }
    }
    if let Some(max) = rule.max_regression {
        let s = stable.ok_or(Failure::NoStableData)?;
        // How much worse the canary is, positive when worse.
        let worse = match rule.direction {
            Direction::Above => c - s,
            Direction::Below => s - c,
        };
        let by = if s == 0.0 {
            if worse > 0.0 { f64::INFINITY } else { 0.0 }
        } else {
            worse / s.abs()
        };
        if by > max {
            return Err(Failure::Regression { by, max });
        }
    }
    Ok(())
}

/// One metric's judgment over time: the last values seen and the held state of its check.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricJudge {
    pub rule: CanaryRule,
    pub stable: Option<f64>,
    pub canary: Option<f64>,
    /// Why the last check failed, when it did.
    pub failure: Option<Failure>,
    held: HeldThreshold,
    /// At least one check since the start (or the last reset).
    checked: bool,
}

/// A metric's verdict now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum MetricVerdict {
    /// Not judged yet (no check since the canary started taking traffic).
    Waiting,
    Pass,
    /// Failing since `since`, not yet for its duration.
    Watch {
        since: f64,
    },
    /// Failing since `since`, for at least its duration.
    Fail {
        since: f64,
    },
}

impl MetricJudge {
    pub fn new(rule: CanaryRule) -> MetricJudge {
        let held = HeldThreshold::new(rule.hold_secs);
        MetricJudge {
            rule,
            stable: None,
            canary: None,
            failure: None,
            held,
            checked: false,
        }
    }

    /// One check at `now` on the values just read.
    pub fn observe(&mut self, stable: Option<f64>, canary: Option<f64>, now: f64) {
        self.stable = present(stable);
        self.canary = present(canary);
        self.failure = check(&self.rule, stable, canary).err();
        self.held.evaluate(self.failure.is_some(), now);
        self.checked = true;
    }

    /// Forget everything: the canary is gone (aborted, promoted) or a new one started.
    pub fn reset(&mut self) {
        *self = MetricJudge::new(self.rule.clone());
    }

    pub fn delta(&self) -> Option<f64> {
        relative_delta(self.stable, self.canary)
    }

    pub fn verdict(&self) -> MetricVerdict {
        match self.held.state() {
            AlertState::Firing { active_at } => MetricVerdict::Fail { since: active_at },
            AlertState::Pending { active_at } => MetricVerdict::Watch { since: active_at },
            AlertState::Ok if self.checked => MetricVerdict::Pass,
            AlertState::Ok => MetricVerdict::Waiting,
        }
    }
}

/// The overall verdict: roll back when any metric failed for its duration, pause (watch) while
/// a failure is not yet held, continue when every metric passes. `None` before any check.
pub fn overall(verdicts: &[MetricVerdict]) -> Option<Verdict> {
    if verdicts
        .iter()
        .any(|v| matches!(v, MetricVerdict::Fail { .. }))
    {
        Some(Verdict::RollBack)
    } else if verdicts
        .iter()
        .any(|v| matches!(v, MetricVerdict::Watch { .. }))
    {
        Some(Verdict::Pause)
    } else if !verdicts.is_empty() && verdicts.iter().all(|v| *v == MetricVerdict::Pass) {
        Some(Verdict::Continue)
    } else {
        None
    }
}

/// The canary's share of the requests, in percent, from the per-version request rates.
pub fn measured_split(stable_rps: Option<f64>, canary_rps: Option<f64>) -> Option<f64> {
    let (s, c) = (present(stable_rps)?, present(canary_rps)?);
    let total = s + c;
    (total > 0.0).then(|| 100.0 * c / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(max_regression: f64, hold: f64) -> CanaryRule {
        CanaryRule {
            direction: Direction::Above,
            max_regression: Some(max_regression),
            limit: None,
            hold_secs: hold,
        }
    }

    #[test]
    fn relative_regression_in_the_bad_direction() {
        let r = latency(0.2, 0.0);
        assert_eq!(check(&r, Some(0.120), Some(0.140)), Ok(())); // +16.7 %
        let e = check(&r, Some(0.120), Some(0.170)).unwrap_err();
        match e {
            Failure::Regression { by, max } => {
                assert!((by - 0.41667).abs() < 1e-4, "{by}");
                assert_eq!(max, 0.2);
            }
            other => panic!("{other:?}"),
        }
        // exactly the allowed regression passes
        assert_eq!(check(&r, Some(0.1), Some(0.12)), Ok(()));
        // lower is bad (CTR): a drop is the regression, a rise is fine
        let ctr = CanaryRule {
            direction: Direction::Below,
            ..latency(0.1, 0.0)
        };
        assert!(check(&ctr, Some(0.032), Some(0.022)).is_err());
        assert_eq!(check(&ctr, Some(0.032), Some(0.040)), Ok(()));
        // a negative stable value divides by its magnitude
        assert_eq!(check(&r, Some(-1.0), Some(-0.9)), Ok(()));
        assert!(check(&r, Some(-1.0), Some(-0.7)).is_err());
    }

    #[test]
    fn zero_stable_fails_only_when_the_canary_is_worse() {
        let r = latency(0.5, 0.0);
        assert_eq!(check(&r, Some(0.0), Some(0.0)), Ok(()));
        assert!(matches!(
            check(&r, Some(0.0), Some(0.001)),
            Err(Failure::Regression { by, .. }) if by.is_infinite()
        ));
    }

    #[test]
    fn limits_are_inclusive_and_no_data_is_a_failed_check() {
        let errors = CanaryRule {
            direction: Direction::Above,
            max_regression: None,
            limit: Some(0.01),
            hold_secs: 0.0,
        };
        assert_eq!(check(&errors, None, Some(0.01)), Ok(()));
        assert_eq!(
            check(&errors, None, Some(0.0101)),
            Err(Failure::OverLimit {
                value: 0.0101,
                limit: 0.01
            })
        );
        assert_eq!(
            check(&errors, Some(0.001), None),
            Err(Failure::NoCanaryData)
        );
        assert_eq!(
            check(&errors, Some(0.001), Some(f64::NAN)),
            Err(Failure::NoCanaryData)
        );
        // a relative bound without a stable value cannot pass
        assert_eq!(
            check(&latency(0.2, 0.0), None, Some(0.1)),
            Err(Failure::NoStableData)
        );
    }

    #[test]
    fn a_regression_held_shorter_than_its_duration_does_not_trigger() {
        let mut j = MetricJudge::new(latency(0.2, 300.0));
        assert_eq!(j.verdict(), MetricVerdict::Waiting);
        j.observe(Some(0.12), Some(0.12), 0.0);
        assert_eq!(j.verdict(), MetricVerdict::Pass);
        // bad from t=60 to t=300 (4 minutes), then one good check
        for t in (60..=300).step_by(60) {
            j.observe(Some(0.12), Some(0.17), t as f64);
            assert_eq!(j.verdict(), MetricVerdict::Watch { since: 60.0 }, "t={t}");
        }
        assert_eq!(overall(&[j.verdict()]), Some(Verdict::Pause));
        j.observe(Some(0.12), Some(0.125), 360.0);
        assert_eq!(j.verdict(), MetricVerdict::Pass);
        // bad again from 420: fails at 720 (held 5 m), not before
        for t in (420..720).step_by(60) {
            j.observe(Some(0.12), Some(0.17), t as f64);
            assert!(matches!(j.verdict(), MetricVerdict::Watch { .. }), "t={t}");
        }
        j.observe(Some(0.12), Some(0.17), 720.0);
        assert_eq!(j.verdict(), MetricVerdict::Fail { since: 420.0 });
        assert_eq!(
            overall(&[MetricVerdict::Pass, j.verdict()]),
            Some(Verdict::RollBack)
        );
        j.reset();
        assert_eq!(j.verdict(), MetricVerdict::Waiting);
    }

    #[test]
    fn overall_needs_every_metric_checked_to_continue() {
        assert_eq!(overall(&[]), None);
        assert_eq!(
            overall(&[MetricVerdict::Pass, MetricVerdict::Waiting]),
            None
        );
        assert_eq!(
            overall(&[MetricVerdict::Pass, MetricVerdict::Pass]),
            Some(Verdict::Continue)
        );
        assert_eq!(
            overall(&[MetricVerdict::Waiting, MetricVerdict::Watch { since: 1.0 }]),
            Some(Verdict::Pause)
        );
    }

    #[test]
    fn split_from_per_version_rates() {
        assert_eq!(measured_split(Some(150.0), Some(50.0)), Some(25.0));
        assert_eq!(measured_split(Some(0.0), Some(0.0)), None);
        assert_eq!(measured_split(Some(10.0), None), None);
        assert_eq!(
            relative_delta(Some(0.1), Some(0.14)).map(|d| (d * 100.0).round()),
            Some(40.0)
        );
        assert_eq!(relative_delta(Some(0.0), Some(0.14)), None);
    }
}
