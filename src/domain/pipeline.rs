//! Continuous training: retraining pipeline runs as the console sees them, when retraining is
//! suggested (drift or a performance drop held over its threshold), and what a retrain command
//! would do (trigger a run with the reason attached; warn when one is already queued or
//! running; refuse on a paused pipeline unless unpausing is allowed). Pure.

use serde::Serialize;
use serde_json::{Value, json};

/// One run of a pipeline (an Airflow DAG run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRun {
    pub id: String,
    /// `queued`, `running`, `success`, `failed` (Airflow's words).
    pub state: String,
    /// `manual`, `scheduled`, `backfill`, `asset_triggered`…
    pub run_type: String,
    /// When the run came to be (queued or scheduled to run), unix seconds.
    pub created: Option<f64>,
    /// Unix seconds.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub conf: Value,
}

impl PipelineRun {
    pub fn is_active(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "running")
    }

    /// Seconds it ran (until `now` while running).
    pub fn duration(&self, now: f64) -> Option<f64> {
        let start = self.start?;
        Some(self.end.unwrap_or(now) - start)
    }
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskState {
    pub task_id: String,
    /// `None` before the scheduler has looked at it.
    pub state: Option<String>,
    pub try_number: u32,
}

/// A retraining pipeline as last read.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Pipeline {
    pub dag_id: String,
    pub paused: bool,
    /// Newest first.
    pub runs: Vec<PipelineRun>,
    /// The tasks of the newest run.
    pub tasks: Vec<TaskState>,
}

impl Pipeline {
    /// The newest run that succeeded: when the model was last retrained.
    pub fn last_success(&self) -> Option<&PipelineRun> {
        self.runs.iter().find(|r| r.state == "success")
    }

    pub fn active_run(&self) -> Option<&PipelineRun> {
        self.runs.iter().find(|r| r.is_active())
    }

    /// When the newest run that is under way or succeeded came to be: a retrain after this
    /// time answers any drift that began before it.
    pub fn last_retrain(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.is_active() || r.state == "success")
            .filter_map(|r| r.created.or(r.start))
            .reduce(f64::max)
    }

    /// Finished tasks of the newest run, and how many there are.
    pub fn task_progress(&self) -> (usize, usize) {
        let done = self
            .tasks
            .iter()
            .filter(|t| {
                matches!(
                    t.state.as_deref(),
                    Some("success" | "skipped" | "failed" | "upstream_failed")
                )
            })
            .count();
        (done, self.tasks.len())
    }
}

/// Why retraining is asked for (the `reason` in the run's conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrainReason {
    Drift,
    Performance,
    Schedule,
    Manual,
}

impl RetrainReason {
    pub fn word(self) -> &'static str {
        match self {
            RetrainReason::Drift => "drift",
            RetrainReason::Performance => "performance",
            RetrainReason::Schedule => "schedule",
            RetrainReason::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<RetrainReason> {
        Some(match s {
            "drift" => RetrainReason::Drift,
            "performance" => RetrainReason::Performance,
            "schedule" => RetrainReason::Schedule,
            "manual" => RetrainReason::Manual,
            _ => return None,
        })
    }
}

/// A drifting feature's held state, as the console tracks it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
    /// Over its critical threshold for its duration (firing).
    pub held_over_critical: bool,
    /// Since when the breach holds (the alert's active time).
    pub since: Option<f64>,
}

/// A performance panel below its baseline by its margin, held for its duration.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformanceDrop {
    pub panel: String,
    pub value: f64,
    pub held: bool,
    pub since: Option<f64>,
}

/// Retraining, suggested with its reason and evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub reason: RetrainReason,
    /// The features over their critical PSI, most drifted first.
    pub features: Vec<String>,
    /// The largest PSI among them.
    pub psi: Option<f64>,
    /// "price PSI 0.31 held over 0.25" / "CTR below its threshold".
    pub why: String,
}

/// Suggest retraining when drift is over its critical threshold for its duration, or when a
/// configured performance panel has dropped (held). Drift comes first: it is the cause to fix.
/// A breach that began before the last retrain (`last_retrain`: a run queued, running or
/// succeeded) has had its answer and suggests nothing more. Never acts: the console shows it
/// one key away.
pub fn suggest(
    drift: &[FeatureDrift],
    performance: &[PerformanceDrop],
    last_retrain: Option<f64>,
) -> Option<Suggestion> {
    let new = |since: Option<f64>| match (since, last_retrain) {
        (Some(s), Some(r)) => s > r,
        _ => true,
    };
    let mut over: Vec<&FeatureDrift> = drift
        .iter()
        .filter(|d| d.held_over_critical && new(d.since))
        .collect();
    over.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    if let Some(top) = over.first() {
        return Some(Suggestion {
            reason: RetrainReason::Drift,
            features: over.iter().map(|d| d.feature.clone()).collect(),
            psi: Some(top.psi),
            why: match over.len() {
                1 => format!(
                    "{} PSI {:.2} held over its critical threshold",
                    top.feature, top.psi
                ),
                n => format!(
                    "{} features drifted, {} most (PSI {:.2}), held over their critical thresholds",
                    n, top.feature, top.psi
                ),
            },
        });
    }
    performance
        .iter()
        .find(|p| p.held && new(p.since))
        .map(|p| Suggestion {
            reason: RetrainReason::Performance,
            features: Vec::new(),
            psi: None,
            why: format!("{} dropped past its threshold and held", p.panel),
        })
}

/// The `conf` of a retraining run: what the pipeline is asked to do and why.
pub fn retrain_conf(
    model: &str,
    reason: RetrainReason,
    features: &[String],
    psi: Option<f64>,
    requested_by: &str,
) -> Value {
    json!({
        "model": model,
        "reason": reason.word(),
        "features": features,
        "psi": psi.map(|p| (p * 1e4).round() / 1e4),
        "requested_by": requested_by,
    })
}

/// What a retrain command will do on `pipeline`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainPlan {
    /// Unpause the pipeline first (it is paused and unpausing is allowed).
    pub unpause: bool,
    /// Set when a second, explicit confirmation is needed: a run is already queued or running.
    pub warning: Option<String>,
}

/// Plan a retrain. A paused pipeline is refused unless `allow_unpause`; an active run needs a
/// second confirmation.
pub fn plan_retrain(pipeline: &Pipeline, allow_unpause: bool) -> Result<RetrainPlan, String> {
    if pipeline.paused && !allow_unpause {
        return Err(format!(
            "pipeline {} is paused in Airflow: nothing was triggered (unpause it there, or set unpause = true for this pipeline in the config)",
            pipeline.dag_id
        ));
    }
    let warning = pipeline.active_run().map(|r| {
        format!(
            "run {} of {} is already {}: a second run would train the same model again",
            r.id, pipeline.dag_id, r.state
        )
    });
    Ok(RetrainPlan {
        unpause: pipeline.paused,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, state: &str, start: f64) -> PipelineRun {
        PipelineRun {
            id: id.into(),
            state: state.into(),
            run_type: "scheduled".into(),
            created: Some(start - 1.0),
            start: Some(start),
            end: (state != "running" && state != "queued").then_some(start + 30.0),
            conf: json!({}),
        }
    }

    #[test]
    fn drift_held_over_critical_suggests_retraining_with_the_features() {
        let drift = [
            FeatureDrift {
                feature: "category".into(),
                psi: 0.12,
                held_over_critical: false,
                since: None,
            },
            FeatureDrift {
                feature: "price".into(),
                psi: 0.31,
                held_over_critical: true,
                since: Some(480.0),
            },
        ];
        let s = suggest(&drift, &[], Some(100.0)).unwrap();
        assert_eq!(s.reason, RetrainReason::Drift);
        assert_eq!(s.features, ["price"]);
        assert_eq!(s.psi, Some(0.31));
        assert!(s.why.contains("price PSI 0.31"));
        // over but not held long enough: nothing yet
        let pending = [FeatureDrift {
            held_over_critical: false,
            ..drift[1].clone()
        }];
        assert_eq!(suggest(&pending, &[], None), None);
        let drop = [PerformanceDrop {
            panel: "CTR".into(),
            value: 0.02,
            held: true,
            since: Some(500.0),
        }];
        assert_eq!(
            suggest(&pending, &drop, None).unwrap().reason,
            RetrainReason::Performance
        );
        // drift wins over performance: it is the cause
        assert_eq!(
            suggest(&drift, &drop, None).unwrap().reason,
            RetrainReason::Drift
        );
        // a retrain started after the breaches began answers them
        assert_eq!(suggest(&drift, &drop, Some(520.0)), None);
        // a breach that began after that retrain suggests again
        assert_eq!(
            suggest(&drift, &drop, Some(490.0)).unwrap().reason,
            RetrainReason::Performance
        );
    }

    #[test]
    fn the_conf_carries_the_reason() {
        let c = retrain_conf(
            "recsys-ranker",
            RetrainReason::Drift,
            &["price".into()],
            Some(0.312_345),
            "alice",
        );
        assert_eq!(
            c,
            json!({"model": "recsys-ranker", "reason": "drift", "features": ["price"], "psi": 0.3123, "requested_by": "alice"})
        );
        assert_eq!(
            RetrainReason::parse("performance"),
            Some(RetrainReason::Performance)
        );
        assert_eq!(RetrainReason::parse("whim"), None);
    }

    #[test]
    fn paused_refuses_and_active_runs_need_a_second_confirmation() {
        let mut p = Pipeline {
            dag_id: "recsys_retrain".into(),
            paused: true,
            runs: vec![run("a", "success", 100.0)],
            tasks: Vec::new(),
        };
        assert!(plan_retrain(&p, false).unwrap_err().contains("paused"));
        assert_eq!(
            plan_retrain(&p, true).unwrap(),
            RetrainPlan {
                unpause: true,
                warning: None
            }
        );
        p.paused = false;
        p.runs.insert(0, run("b", "running", 200.0));
        let plan = plan_retrain(&p, false).unwrap();
        assert!(!plan.unpause);
        assert!(plan.warning.unwrap().contains("already running"));
        assert_eq!(p.last_success().unwrap().id, "a");
        assert_eq!(p.runs[0].duration(215.0), Some(15.0));
    }
}
