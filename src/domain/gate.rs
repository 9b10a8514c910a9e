//! The validation gate: a challenger must beat the champion on a metric by a margin, with
//! MLflow `MetricThreshold` semantics (reference/analytics.md). The relative change divides by
//! |baseline| — MLflow's signed division is a known pitfall with negative baselines.

use serde::{Deserialize, Serialize};

/// What the challenger must achieve.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// The run metric compared, e.g. `ndcg_at_10`.
    pub metric: String,
    /// Required: whether a higher value is better.
    pub greater_is_better: bool,
    /// Candidate must beat the baseline by at least this much (> 0), in the metric's units.
    #[serde(default)]
    pub min_absolute_change: Option<f64>,
    /// Candidate must beat the baseline by at least this fraction of |baseline| (0..1).
    #[serde(default)]
    pub min_relative_change: Option<f64>,
    /// Candidate must reach this value regardless of the baseline.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// The gate's answer, with the numbers that led to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    pub passed: bool,
    pub metric: String,
    pub champion: Option<f64>,
    pub challenger: Option<f64>,
    /// challenger − champion (signed; "better" depends on the direction).
    pub delta: Option<f64>,
    /// improvement / |champion|, positive when the challenger is better.
    pub relative_improvement: Option<f64>,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
}

impl GateSpec {
    /// Check the spec itself; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(d) = self.min_absolute_change
            && (d.is_nan() || d <= 0.0)
        {
            return Err(format!("min_absolute_change must be > 0, got {d}"));
        }
        if let Some(m) = self.min_relative_change
            && !(0.0..=1.0).contains(&m)
        {
            return Err(format!(
                "min_relative_change must be between 0 and 1, got {m}"
            ));
        }
        Ok(())
    }

    /// Compare a challenger with the champion on this gate's metric.
    pub fn evaluate(&self, champion: Option<f64>, challenger: Option<f64>) -> GateVerdict {
        let mut v = GateVerdict {
            passed: false,
            metric: self.metric.clone(),
            champion,
            challenger,
            delta: None,
            relative_improvement: None,
            reasons: Vec::new(),
        };
        let (Some(base), Some(cand)) = (
            champion.filter(|x| x.is_finite()),
            challenger.filter(|x| x.is_finite()),
        ) else {
            if champion.is_none_or(|x| !x.is_finite()) {
                v.reasons
                    .push(format!("the champion has no {} metric", self.metric));
            }
            if challenger.is_none_or(|x| !x.is_finite()) {
                v.reasons
                    .push(format!("the challenger has no {} metric", self.metric));
            }
            return v;
        };
        let improvement = if self.greater_is_better {
            cand - base
        } else {
            base - cand
        };
        v.delta = Some(cand - base);
        v.relative_improvement = (base != 0.0).then(|| improvement / base.abs());
        if let Some(d) = self.min_absolute_change
            && improvement < d
        {
            v.reasons.push(format!(
                "improvement {} is below the required absolute change {}",
                short(improvement),
                short(d)
            ));
        }
        if let Some(m) = self.min_relative_change {
            match v.relative_improvement {
                Some(r) if r >= m => {}
                Some(r) => v.reasons.push(format!(
                    "improvement {:+.2} % is below the required {:+.2} %",
                    r * 100.0,
                    m * 100.0
                )),
                // Baseline 0: a relative change is undefined; the challenger must be strictly better.
                None if improvement > 0.0 => {}
                None => v.reasons.push(
                    "the champion's value is 0 and the challenger is not strictly better".into(),
                ),
            }
        }
        if let Some(t) = self.threshold {
            let ok = if self.greater_is_better {
                cand >= t
            } else {
                cand <= t
            };
            if !ok {
                let op = if self.greater_is_better { "≥" } else { "≤" };
                v.reasons.push(format!(
                    "{} {} must be {op} {}",
                    self.metric,
                    short(cand),
                    short(t)
                ));
            }
        }
        v.passed = v.reasons.is_empty();
        v
    }
}

fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

impl GateVerdict {
    /// One line for screens and logs: `ndcg_at_10 0.412 → 0.419 (+1.7 %, needs +1.0 %) PASS`.
    pub fn summary(&self, spec: &GateSpec) -> String {
        let word = if self.passed { "PASS" } else { "FAIL" };
        let (Some(b), Some(c)) = (self.champion, self.challenger) else {
            return format!("{} {word}: {}", self.metric, self.reasons.join("; "));
        };
        let mut needs = Vec::new();
        if let Some(m) = spec.min_relative_change {
            needs.push(format!("needs {:+.1} %", m * 100.0));
        }
        if let Some(d) = spec.min_absolute_change {
            needs.push(format!(
                "needs {}{}",
                if spec.greater_is_better { "+" } else { "−" },
                short(d)
            ));
        }
        let rel = self
            .delta
            .filter(|_| b != 0.0)
            .map(|d| format!("{:+.1} %", d / b.abs() * 100.0))
            .unwrap_or_else(|| format!("{:+}", short(self.delta.unwrap_or(0.0))));
        let paren = std::iter::once(rel)
            .chain(needs)
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} {} → {} ({paren}) {word}",
            self.metric,
            short(b),
            short(c)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(greater: bool, abs: Option<f64>, rel: Option<f64>) -> GateSpec {
        GateSpec {
            metric: "m".into(),
            greater_is_better: greater,
            min_absolute_change: abs,
            min_relative_change: rel,
            threshold: None,
        }
    }

    #[test]
    fn demo_challenger_beats_champion_by_more_than_one_percent() {
        let g = GateSpec {
            metric: "ndcg_at_10".into(),
            ..gate(true, None, Some(0.01))
        };
        let v = g.evaluate(Some(0.412), Some(0.419));
        assert!(v.passed, "{v:?}");
        assert_eq!(
            v.summary(&g),
            "ndcg_at_10 0.412 → 0.419 (+1.7 %, needs +1.0 %) PASS"
        );
        // +1.7 % does not pass a 2 % gate
        let strict = GateSpec {
            min_relative_change: Some(0.02),
            ..g.clone()
        };
        let v = strict.evaluate(Some(0.412), Some(0.419));
        assert!(!v.passed);
        assert!(
            v.reasons[0].contains("below the required +2.00 %"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn absolute_change_both_directions() {
        let up = gate(true, Some(0.01), None);
        assert!(up.evaluate(Some(0.5), Some(0.51)).passed);
        assert!(!up.evaluate(Some(0.5), Some(0.509)).passed);
        let down = gate(false, Some(0.01), None);
        assert!(down.evaluate(Some(0.5), Some(0.49)).passed);
        assert!(!down.evaluate(Some(0.5), Some(0.495)).passed);
    }

    #[test]
    fn lower_is_better_relative() {
        // RMSE 10 → 9: 10 % better
        let g = gate(false, None, Some(0.05));
        let v = g.evaluate(Some(10.0), Some(9.0));
        assert!(v.passed);
        assert!((v.relative_improvement.unwrap() - 0.1).abs() < 1e-12);
        assert!(!g.evaluate(Some(10.0), Some(9.6)).passed);
    }

    #[test]
    fn negative_baselines_divide_by_the_absolute_value() {
        // log-likelihood −2.0 → −1.9 is better (greater is better): +5 % of |−2|
        let g = gate(true, None, Some(0.04));
        let v = g.evaluate(Some(-2.0), Some(-1.9));
        assert!(v.passed, "{v:?}");
        assert!((v.relative_improvement.unwrap() - 0.05).abs() < 1e-12);
        // MLflow's signed division would give −5 % here and fail a passing model.
        // And a worse challenger stays worse: −2.0 → −2.1 is −5 %.
        assert!(!g.evaluate(Some(-2.0), Some(-2.1)).passed);
    }

    #[test]
    fn zero_baseline_needs_strictly_better() {
        let g = gate(true, None, Some(0.5));
        assert!(g.evaluate(Some(0.0), Some(0.001)).passed);
        assert!(!g.evaluate(Some(0.0), Some(0.0)).passed);
    }

    #[test]
    fn a_missing_metric_fails_with_the_reason() {
        let g = gate(true, None, Some(0.01));
        let v = g.evaluate(None, Some(0.4));
        assert!(!v.passed);
        assert_eq!(v.reasons, ["the champion has no m metric"]);
        let v = g.evaluate(Some(0.4), None);
        assert_eq!(v.reasons, ["the challenger has no m metric"]);
        let v = g.evaluate(Some(0.4), Some(f64::NAN));
        assert!(!v.passed);
    }

    #[test]
    fn both_margins_must_hold() {
        let g = gate(true, Some(0.01), Some(0.05));
        // +0.02 absolute but only +4 % relative
        let v = g.evaluate(Some(0.5), Some(0.52));
        assert!(!v.passed);
        assert_eq!(v.reasons.len(), 1);
    }

    #[test]
    fn spec_validation_names_the_problem() {
        assert!(
            gate(true, Some(0.0), None)
                .validate()
                .unwrap_err()
                .contains("min_absolute_change")
        );
        assert!(
            gate(true, None, Some(1.5))
                .validate()
                .unwrap_err()
                .contains("min_relative_change")
        );
    }
}
