//! Thresholds held for a duration, with Prometheus `for:` semantics: the first evaluation where
//! the condition holds makes the alert pending (active since then); it fires at the first
//! evaluation where `now - active_at >= for`; one evaluation where it does not hold resets it.

use serde::Serialize;

/// Where an alert stands after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum AlertState {
    Ok,
    Pending { active_at: f64 },
    Firing { active_at: f64 },
}

impl AlertState {
    pub fn word(&self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Pending { .. } => "pending",
            AlertState::Firing { .. } => "firing",
        }
    }

    pub fn is_firing(&self) -> bool {
        matches!(self, AlertState::Firing { .. })
    }
}

/// The `for:` state machine of one alerting condition.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldThreshold {
    hold_secs: f64,
    state: AlertState,
}

impl HeldThreshold {
    pub fn new(hold_secs: f64) -> Self {
        HeldThreshold {
            hold_secs: hold_secs.max(0.0),
            state: AlertState::Ok,
        }
    }

    pub fn state(&self) -> AlertState {
        self.state
    }

    /// One evaluation at `now` (unix seconds) of a condition that `holds` or not.
    pub fn evaluate(&mut self, holds: bool, now: f64) -> AlertState {
        self.state = if !holds {
            AlertState::Ok
        } else {
            let active_at = match self.state {
                AlertState::Ok => now,
                AlertState::Pending { active_at } | AlertState::Firing { active_at } => active_at,
            };
            if now - active_at >= self.hold_secs {
                AlertState::Firing { active_at }
            } else {
                AlertState::Pending { active_at }
            }
        };
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(hold: f64, conditions: &[bool]) -> Vec<&'static str> {
        let mut t = HeldThreshold::new(hold);
        conditions
            .iter()
            .enumerate()
            .map(|(i, &c)| t.evaluate(c, i as f64 * 60.0).word())
            .collect()
    }

    #[test]
    fn true_from_start_is_pending_for_five_minutes_then_fires() {
        // reference/analytics.md: every 1 m, for: 5m, true from t=0 -> pending t0..t4, firing at t5
        let states = run(300.0, &[true; 7]);
        assert_eq!(
            states,
            [
                "pending", "pending", "pending", "pending", "pending", "firing", "firing"
            ]
        );
    }

    #[test]
    fn one_false_evaluation_resets_the_clock() {
        // one false evaluation at t3 -> firing at t9
        let mut conds = [true; 11];
        conds[3] = false;
        let states = run(300.0, &conds);
        assert_eq!(states[3], "ok");
        assert_eq!(&states[4..9], ["pending"; 5]);
        assert_eq!(states[9], "firing");
        assert_eq!(states[10], "firing");
    }

    #[test]
    fn no_hold_fires_at_once_and_clears_at_once() {
        assert_eq!(
            run(0.0, &[false, true, true, false]),
            ["ok", "firing", "firing", "ok"]
        );
    }

    #[test]
    fn firing_keeps_its_original_active_time() {
        let mut t = HeldThreshold::new(60.0);
        t.evaluate(true, 1000.0);
        assert_eq!(
            t.evaluate(true, 1060.0),
            AlertState::Firing { active_at: 1000.0 }
        );
    }
}
