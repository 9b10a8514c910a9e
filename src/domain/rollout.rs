//! Canary rollouts: which commands Argo Rollouts allows in which phase, and the canary-vs-stable
//! judgment with the Argo Rollouts analysis and Flagger semantics of reference/analytics.md.
//! Pure: the adapter and the view build on it.

use serde::Serialize;

/// A rollout command, as Argo Rollouts' dashboard offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutCommand {
    /// Advance a paused step.
    Promote,
    /// Skip the remaining steps and analysis.
    PromoteFull,
    /// Send traffic back to stable (the spec stays on the new version).
    Abort,
    /// Resume an aborted rollout.
    Retry,
    /// Roll back to a previous revision.
    Undo,
}

impl RolloutCommand {
    pub fn word(self) -> &'static str {
        match self {
            RolloutCommand::Promote => "promote",
            RolloutCommand::PromoteFull => "promote --full",
            RolloutCommand::Abort => "abort",
            RolloutCommand::Retry => "retry",
            RolloutCommand::Undo => "undo",
        }
    }
}

/// Whether `cmd` may be sent to a rollout whose status is `phase` (Healthy, Progressing, Paused,
/// Degraded), as Argo's own dashboard decides: abort and promote only while Progressing or Paused,
/// retry only when Degraded (an aborted rollout is Degraded). Undo is always offered.
/// `Err` says why not, for the disabled-command message.
pub fn allowed(cmd: RolloutCommand, phase: &str) -> Result<(), String> {
    let ok = match cmd {
        RolloutCommand::Promote | RolloutCommand::PromoteFull | RolloutCommand::Abort => {
            matches!(phase, "Progressing" | "Paused")
        }
        RolloutCommand::Retry => phase == "Degraded",
        RolloutCommand::Undo => true,
    };
    if ok {
        Ok(())
    } else {
        let when = match cmd {
            RolloutCommand::Retry => "only when the rollout is Degraded (aborted)",
            _ => "only while the rollout is Progressing or Paused",
        };
        Err(format!("{} is possible {when}; it is {phase}", cmd.word()))
    }
}

/// One analysis measurement's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measurement {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// Classify one measured value: failureCondition is checked first, then successCondition; when
/// neither holds the measurement is inconclusive (Argo Rollouts).
pub fn measure(
    value: Option<f64>,
    fails: impl Fn(f64) -> bool,
    succeeds: impl Fn(f64) -> bool,
) -> Measurement {
    match value {
        None => Measurement::Error,
        Some(v) if v.is_nan() => Measurement::Error,
        Some(v) if fails(v) => Measurement::Failed,
        Some(v) if succeeds(v) => Measurement::Successful,
        Some(_) => Measurement::Inconclusive,
    }
}

/// The phase of an Argo analysis metric after its measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricPhase {
    Running,
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// Argo Rollouts' rules: failed when failures > failureLimit (strictly greater; default 0),
/// error when consecutive errors > consecutiveErrorLimit (default 4), inconclusive when
/// inconclusives > inconclusiveLimit (default 0); successful once `count` measurements are in.
pub fn argo_metric_phase(
    measurements: &[Measurement],
    count: usize,
    failure_limit: usize,
    inconclusive_limit: usize,
    consecutive_error_limit: usize,
) -> MetricPhase {
    let failed = measurements
        .iter()
        .filter(|m| **m == Measurement::Failed)
        .count();
    let inconclusive = measurements
        .iter()
        .filter(|m| **m == Measurement::Inconclusive)
        .count();
    let consecutive_errors = measurements
        .iter()
        .rev()
        .take_while(|m| **m == Measurement::Error)
        .count();
    if failed > failure_limit {
        MetricPhase::Failed
    } else if consecutive_errors > consecutive_error_limit {
        MetricPhase::Error
    } else if inconclusive > inconclusive_limit {
        MetricPhase::Inconclusive
    } else if measurements.len() >= count {
        MetricPhase::Successful
    } else {
        MetricPhase::Running
    }
}

/// A Flagger check: passes when min ≤ value ≤ max (inclusive). No data is a failed check.
pub fn flagger_check(value: Option<f64>, min: Option<f64>, max: Option<f64>) -> bool {
    match value {
        None => false,
        Some(v) if v.is_nan() => false,
        Some(v) => min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m),
    }
}

/// What automation would do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Continue,
    /// Inconclusive: wait for a human.
    Pause,
    RollBack,
}

/// Flagger: failed checks accumulate; roll back once they reach the threshold.
pub fn flagger_verdict(failed_checks: usize, threshold: usize) -> Verdict {
    if failed_checks >= threshold.max(1) {
        Verdict::RollBack
    } else {
        Verdict::Continue
    }
}

/// Argo: a failed metric aborts, an inconclusive one pauses for a human.
pub fn argo_verdict(phases: &[MetricPhase]) -> Verdict {
    if phases
        .iter()
        .any(|p| matches!(p, MetricPhase::Failed | MetricPhase::Error))
    {
        Verdict::RollBack
    } else if phases.contains(&MetricPhase::Inconclusive) {
        Verdict::Pause
    } else {
        Verdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Measurement::*;

    #[test]
    fn commands_are_enabled_where_argos_dashboard_enables_them() {
        let table = [
            ("Progressing", [true, true, true, false, true]),
            ("Paused", [true, true, true, false, true]),
            ("Healthy", [false, false, false, false, true]),
            ("Degraded", [false, false, false, true, true]),
        ];
        let cmds = [
            RolloutCommand::Promote,
            RolloutCommand::PromoteFull,
            RolloutCommand::Abort,
            RolloutCommand::Retry,
            RolloutCommand::Undo,
        ];
        for (phase, want) in table {
            for (cmd, ok) in cmds.iter().zip(want) {
                assert_eq!(allowed(*cmd, phase).is_ok(), ok, "{cmd:?} in {phase}");
            }
        }
        let e = allowed(RolloutCommand::Abort, "Healthy").unwrap_err();
        assert_eq!(
            e,
            "abort is possible only while the rollout is Progressing or Paused; it is Healthy"
        );
    }

    #[test]
    fn failure_condition_is_checked_before_success() {
        // both hold: failed wins
        assert_eq!(measure(Some(0.5), |v| v > 0.1, |v| v < 1.0), Failed);
        assert_eq!(measure(Some(0.05), |v| v > 0.1, |v| v < 0.08), Successful);
        assert_eq!(measure(Some(0.09), |v| v > 0.1, |v| v < 0.08), Inconclusive);
        assert_eq!(measure(None, |_| false, |_| true), Error);
    }

    #[test]
    fn argo_failure_limit_is_strictly_greater() {
        // failureLimit 1: one failure is tolerated, two fail the metric
        assert_eq!(
            argo_metric_phase(&[Successful, Failed, Successful], 3, 1, 0, 4),
            MetricPhase::Successful
        );
        assert_eq!(
            argo_metric_phase(&[Failed, Successful, Failed], 3, 1, 0, 4),
            MetricPhase::Failed
        );
        // default 0: one failure fails
        assert_eq!(
            argo_metric_phase(&[Failed], 5, 0, 0, 4),
            MetricPhase::Failed
        );
    }

    #[test]
    fn argo_consecutive_errors_over_the_limit_error_the_metric() {
        let four = [Successful, Error, Error, Error, Error];
        assert_eq!(argo_metric_phase(&four, 10, 0, 0, 4), MetricPhase::Running);
        let five = [Successful, Error, Error, Error, Error, Error];
        assert_eq!(argo_metric_phase(&five, 10, 0, 0, 4), MetricPhase::Error);
        // an error run broken by a success starts again
        let broken = [Error, Error, Error, Successful, Error, Error, Error];
        assert_eq!(
            argo_metric_phase(&broken, 10, 0, 0, 4),
            MetricPhase::Running
        );
    }

    #[test]
    fn inconclusive_pauses_and_failed_rolls_back() {
        assert_eq!(
            argo_verdict(&[MetricPhase::Successful, MetricPhase::Inconclusive]),
            Verdict::Pause
        );
        assert_eq!(
            argo_verdict(&[MetricPhase::Inconclusive, MetricPhase::Failed]),
            Verdict::RollBack
        );
        assert_eq!(argo_verdict(&[MetricPhase::Running]), Verdict::Continue);
    }

    #[test]
    fn flagger_ranges_are_inclusive_and_no_data_fails() {
        assert!(flagger_check(Some(0.5), None, Some(0.5)));
        assert!(flagger_check(Some(99.0), Some(99.0), None));
        assert!(!flagger_check(Some(0.51), None, Some(0.5)));
        assert!(!flagger_check(None, None, Some(0.5)));
        assert!(!flagger_check(Some(f64::NAN), None, None));
        assert_eq!(flagger_verdict(4, 5), Verdict::Continue);
        assert_eq!(flagger_verdict(5, 5), Verdict::RollBack);
    }
}
