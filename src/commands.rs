//! The command layer: the one way every production-changing command goes. It decides whether a
//! command may run (read-only and wallboard refuse it before any request is built), states the
//! exact effect for confirmation (a second confirmation when the validation gate fails), keeps
//! one command in flight per target so a repeated key cannot fire twice, and makes the audit
//! record of every attempt. It performs no I/O: sending is `sources::registry::execute`, writing
//! the record is `audit::AuditLog::append`.

use serde_json::json;
use std::collections::HashSet;

use crate::audit::{AuditRecord, Operator, Outcome, now_rfc3339};
use crate::config::RegistryConfig;
use crate::domain::registry::{AliasMove, AliasPlan, ModelState, plan_promote, plan_rollback};

/// Who may change production from this console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// `--readonly` / `readonly = true`.
    ReadOnly,
    /// The wallboard never changes anything.
    Wallboard,
}

/// What a command does when confirmed.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandAction {
    /// Move aliases in registry number `registry` (index into `Config::registries`).
    Aliases { registry: usize, plan: AliasPlan },
    /// A rollout command to controller number `source` (index into `Config::rollouts`).
    Rollout {
        source: usize,
        namespace: String,
        name: String,
        cmd: crate::domain::rollout::RolloutCommand,
        undo_revision: Option<i64>,
    },
    /// Trigger a retraining run on pipeline server `source` (index into `Config::pipelines`),
    /// for its `models` entry `model`; unpause the DAG first when `unpause`.
    Retrain {
        source: usize,
        model: usize,
        dag: String,
        conf: serde_json::Value,
        unpause: bool,
    },
}

/// A command ready for confirmation: everything the operator must see before saying yes.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    /// `promote`, `rollback`.
    pub command: &'static str,
    /// What it acts on, and the in-flight key: `recsys-ranker@mlflow-prod`.
    pub target: String,
    pub environment: String,
    /// The exact effect in one line.
    pub effect: String,
    /// The requests that will be sent, in order.
    pub requests: Vec<String>,
    /// Set when the operator must confirm a second time (a failed validation gate), saying why.
    pub warning: Option<String>,
    /// What the operator should know about the current state before acting (a rollout's
    /// canary verdict and deltas); shown in the confirmation.
    pub impact: Vec<String>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub action: CommandAction,
}

/// The answer to "I want to run this".
#[derive(Debug, Clone, PartialEq)]
pub enum Requested {
    /// Refused by the guard; the record must be appended to the audit log.
    Refused {
        reason: String,
        record: Box<AuditRecord>,
    },
    /// A command on this target is being confirmed or is running: the key does nothing.
    Busy(String),
    /// Show the confirmation.
    Confirm(Box<Confirmation>),
}

/// After the operator said yes once more.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    /// One more confirmation is needed (a failed gate): show this one.
    Again(Confirmation),
    /// Send it now. The target stays busy until `finish`.
    Send(Confirmation),
}

/// A confirmation in progress. Confirming a request with a warning takes two steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub request: CommandRequest,
    /// 1 for the first confirmation, 2 for the second (gate override).
    pub step: u8,
}

impl Confirmation {
    /// Whether one more confirmation is needed after this one.
    pub fn needs_another(&self) -> bool {
        self.request.warning.is_some() && self.step == 1
    }

    /// The gate was overridden when a registry request with a warning is confirmed twice.
    /// (A rollout's second confirmation is about skipping steps or a verdict, not a gate.)
    pub fn overrides_gate(&self) -> bool {
        self.request.warning.is_some()
            && self.step == 2
            && matches!(self.request.action, CommandAction::Aliases { .. })
    }
}

#[derive(Debug)]
pub struct CommandLayer {
    access: Access,
    /// Targets with a command being confirmed or running.
    busy: HashSet<String>,
    operator: Operator,
    via: &'static str,
}

impl CommandLayer {
    pub fn new(access: Access, operator: Operator, via: &'static str) -> CommandLayer {
        CommandLayer {
            access,
            busy: HashSet::new(),
            operator,
            via,
        }
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// Why commands are refused here, if they are.
    pub fn guard(&self) -> Result<(), String> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => {
                Err("nothing was sent: mltop runs read-only (--readonly or readonly = true)".into())
            }
            Access::Wallboard => Err("the wallboard never changes production".into()),
        }
    }

    /// The guard, before any request is built: `Some((reason, record))` when commands are
    /// refused here. The record (no effect, no before/after: nothing was computed) must be
    /// appended to the audit log.
    pub fn refuse(
        &self,
        command: &str,
        target: &str,
        environment: &str,
    ) -> Option<(String, AuditRecord)> {
        let reason = self.guard().err()?;
        let record = self.unplanned(command, target, environment, Outcome::Refused, &reason);
        Some((reason, record))
    }

    /// The record of an attempt that ended before anything was planned (refused by the guard,
    /// or the registry could not be read, or there was nothing to do).
    pub fn unplanned(
        &self,
        command: &str,
        target: &str,
        environment: &str,
        outcome: Outcome,
        detail: &str,
    ) -> AuditRecord {
        AuditRecord {
            time: now_rfc3339(),
            user: self.operator.user.clone(),
            ssh_client: self.operator.ssh_client.clone(),
            host: self.operator.host.clone(),
            environment: environment.to_string(),
            command: command.to_string(),
            target: target.to_string(),
            effect: String::new(),
            before: serde_json::Value::Null,
            planned: serde_json::Value::Null,
            after: serde_json::Value::Null,
            outcome,
            detail: detail.to_string(),
            gate_override: false,
            via: self.via.to_string(),
        }
    }

    /// Ask to run a command. Guard first (before any request exists), then one per target.
    pub fn request(&mut self, req: CommandRequest) -> Requested {
        if let Err(reason) = self.guard() {
            let record = self.record(&req, Outcome::Refused, &reason, false, None);
            return Requested::Refused {
                reason,
                record: Box::new(record),
            };
        }
        if self.busy.contains(&req.target) {
            return Requested::Busy(format!(
                "a command on {} is already in progress",
                req.target
            ));
        }
        self.busy.insert(req.target.clone());
        Requested::Confirm(Box::new(Confirmation {
            request: req,
            step: 1,
        }))
    }

    /// The operator said yes.
    pub fn confirm(&mut self, c: Confirmation) -> Confirmed {
        if c.needs_another() {
            Confirmed::Again(Confirmation { step: 2, ..c })
        } else {
            Confirmed::Send(c)
        }
    }

    /// The operator said no: frees the target and gives the record to append.
    pub fn cancel(&mut self, c: &Confirmation) -> AuditRecord {
        self.cancel_because(c, "cancelled at the confirmation")
    }

    /// Cancelled by mltop itself, saying why (the target changed while it was being confirmed).
    pub fn cancel_because(&mut self, c: &Confirmation, why: &str) -> AuditRecord {
        self.busy.remove(&c.request.target);
        self.record(&c.request, Outcome::Cancelled, why, false, None)
    }

    /// The command ended: frees the target and gives the record to append. `after` is the
    /// state re-read from the server afterwards (`None` when it could not be read).
    pub fn finish(
        &mut self,
        c: &Confirmation,
        outcome: Outcome,
        detail: &str,
        after: Option<serde_json::Value>,
    ) -> AuditRecord {
        self.busy.remove(&c.request.target);
        self.record(&c.request, outcome, detail, c.overrides_gate(), after)
    }

    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    pub fn is_busy(&self, target: &str) -> bool {
        self.busy.contains(target)
    }

    pub fn record(
        &self,
        req: &CommandRequest,
        outcome: Outcome,
        detail: &str,
        gate_override: bool,
        after: Option<serde_json::Value>,
    ) -> AuditRecord {
        AuditRecord {
            time: now_rfc3339(),
            user: self.operator.user.clone(),
            ssh_client: self.operator.ssh_client.clone(),
            host: self.operator.host.clone(),
            environment: req.environment.clone(),
            command: req.command.to_string(),
            target: req.target.clone(),
            effect: req.effect.clone(),
            before: req.before.clone(),
            planned: req.after.clone(),
            after: after.unwrap_or(serde_json::Value::Null),
            outcome,
            detail: detail.to_string(),
            gate_override,
            via: self.via.to_string(),
        }
    }
}

fn request_from_plan(
    command: &'static str,
    reg: &RegistryConfig,
    registry: usize,
    plan: AliasPlan,
    describe: &dyn Fn(&AliasMove) -> String,
    warning: Option<String>,
) -> CommandRequest {
    CommandRequest {
        command,
        target: format!("{}@{}", plan.model, reg.name),
        environment: reg.environment.clone(),
        effect: plan.effect.clone(),
        requests: plan.moves.iter().map(describe).collect(),
        warning,
        impact: Vec::new(),
        before: json!(plan.before),
        after: json!(plan.after),
        action: CommandAction::Aliases { registry, plan },
    }
}

/// Promote the challenger of `m`. A challenger that fails the gate needs a second,
/// explicit confirmation naming the failed gate.
pub fn promote_request(
    reg: &RegistryConfig,
    registry: usize,
    m: &ModelState,
    describe: &dyn Fn(&AliasMove) -> String,
) -> Result<CommandRequest, String> {
    let plan = plan_promote(m, &reg.aliases)?;
    let verdict = reg
        .gate_for(&m.name)
        .and_then(|g| Some((g, m.gate(&reg.aliases, g)?)));
    let warning = verdict.as_ref().and_then(|(g, v)| {
        (!v.passed).then(|| {
            format!(
                "the challenger FAILS the validation gate: {} — {}",
                v.summary(g),
                v.reasons.join("; ")
            )
        })
    });
    let mut req = request_from_plan("promote", reg, registry, plan, describe, warning);
    // The gate's verdict is part of what the operator must see before saying yes.
    req.impact = match &verdict {
        Some((g, v)) => vec![format!("validation gate: {}", v.summary(g))],
        None => vec!["validation gate: none configured for this model".into()],
    };
    Ok(req)
}

/// Roll the champion of `m` back to the recorded previous champion.
pub fn rollback_request(
    reg: &RegistryConfig,
    registry: usize,
    m: &ModelState,
    describe: &dyn Fn(&AliasMove) -> String,
) -> Result<CommandRequest, String> {
    let plan = plan_rollback(m, &reg.aliases)?;
    Ok(request_from_plan(
        "rollback", reg, registry, plan, describe, None,
    ))
}

/// The impact preview of a rollout command: the canary verdict with its advice, the deltas and
/// the measured split (lines for the confirmation, and the same as JSON for the audit log).
pub fn rollout_impact(
    canary: Option<&crate::canary::CanaryState>,
    now: f64,
) -> (Vec<String>, serde_json::Value) {
    let Some(k) = canary else {
        return (
            vec!["canary vs stable: no judgment here (configure [[rollouts.NAME.canary]]; the console judges it over time)".into()],
            serde_json::Value::Null,
        );
    };
    let advice = k.advice(now, "abort", "promote");
    let mut lines = vec![format!(
        "canary verdict now: {} — {}",
        crate::canary::verdict_word(advice.verdict),
        advice.reason
    )];
    let deltas = k.deltas();
    lines.extend(deltas.iter().map(|d| format!("  {d}")));
    let split = k.traffic_split();
    if let Some((_, _, p)) = split {
        lines.push(format!("  measured canary share of requests: {p:.1} %"));
    }
    let json = json!({
        "verdict": advice.verdict,
        "reason": advice.reason,
        "deltas": deltas,
        "measured_canary_percent": split.map(|s| (s.2 * 10.0).round() / 10.0),
    });
    (lines, json)
}

/// A rollout command on `info`, refused (with why) where Argo's dashboard would not offer it.
/// Promote-full skips every remaining step and analysis, so it needs a second confirmation, and
/// so does any promote while the canary verdict says roll back.
pub fn rollout_request(
    cfg: &crate::config::RolloutsConfig,
    source: usize,
    info: &crate::sources::argo::RolloutInfo,
    cmd: crate::domain::rollout::RolloutCommand,
    request_line: &dyn Fn(Option<i64>) -> String,
    judged: Option<&crate::canary::CanaryState>,
    now: f64,
) -> Result<CommandRequest, String> {
    use crate::domain::rollout::{RolloutCommand, Verdict, allowed};
    let who = format!("{}/{}", info.namespace, info.name);
    allowed(cmd, &info.status).map_err(|e| format!("{who}: {e}"))?;
    let weight = info.set_weight.unwrap_or(0);
    let step = info
        .step
        .map(|(a, b)| format!("step {a}/{b}"))
        .unwrap_or_else(|| "no step".into());
    let stable = info.replica_sets.iter().find(|r| r.stable);
    let canary = info.replica_sets.iter().find(|r| r.canary);
    let image = |r: Option<&crate::sources::argo::ReplicaSetInfo>| {
        r.map(|r| r.images.join(",")).unwrap_or_else(|| "?".into())
    };
    let undo_revision = match cmd {
        RolloutCommand::Undo => Some(
            stable
                .map(|r| r.revision)
                .ok_or_else(|| format!("{who}: no stable revision to undo to"))?,
        ),
        _ => None,
    };
    let (effect, warning) = match cmd {
        RolloutCommand::Promote => (
            format!("{who}: promote past {step} (canary at {weight} %) to the next step"),
            None,
        ),
        RolloutCommand::PromoteFull => (
            format!(
                "{who}: promote FULLY — skip every remaining step and analysis: canary {} → 100 % of traffic",
                image(canary)
            ),
            Some(format!(
                "promote --full skips the remaining steps and analysis of {who}: the canary takes all traffic at once"
            )),
        ),
        RolloutCommand::Abort => (
            format!(
                "{who}: abort — traffic {weight} % → 0 % on the canary, all back to stable {}",
                image(stable)
            ),
            None,
        ),
        RolloutCommand::Retry => (
            format!("{who}: retry the aborted rollout from its first step"),
            None,
        ),
        RolloutCommand::Undo => (
            format!(
                "{who}: undo to revision {} ({})",
                undo_revision.unwrap_or_default(),
                image(stable)
            ),
            None,
        ),
    };
    let (impact, canary_json) = rollout_impact(judged, now);
    let promoting = matches!(cmd, RolloutCommand::Promote | RolloutCommand::PromoteFull);
    let warning = match judged.map(|k| k.advice(now, "abort", "promote")) {
        Some(a) if promoting && a.verdict == Some(Verdict::RollBack) => {
            let against = "the canary verdict is ROLL BACK: promoting sends more traffic to a canary that fails its checks".to_string();
            Some(match warning {
                Some(w) => format!("{against}; and {w}"),
                None => against,
            })
        }
        _ => warning,
    };
    Ok(CommandRequest {
        command: "rollout",
        target: format!("{who}@{}", cfg.name),
        environment: cfg.environment.clone(),
        effect,
        requests: vec![request_line(undo_revision)],
        warning,
        impact,
        before: json!({"status": info.status, "step": info.step, "weight": info.set_weight, "canary": canary_json}),
        after: json!(null),
        action: CommandAction::Rollout {
            source,
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            cmd,
            undo_revision,
        },
    })
}

/// Retrain `cfg.models[model]`: trigger its pipeline with the reason in `conf` (the suggestion's,
/// else `manual`). A paused pipeline is refused unless the config allows unpausing; a run
/// already queued or running needs a second confirmation.
pub fn retrain_request(
    cfg: &crate::config::PipelinesConfig,
    source: usize,
    model: usize,
    pipeline: &crate::domain::pipeline::Pipeline,
    suggestion: Option<&crate::domain::pipeline::Suggestion>,
    requested_by: &str,
    now: f64,
) -> Result<CommandRequest, String> {
    use crate::domain::pipeline::{RetrainReason, plan_retrain, retrain_conf};
    let entry = &cfg.models[model];
    let plan = plan_retrain(pipeline, cfg.unpause)?;
    let (reason, features, psi) = match suggestion {
        Some(s) => (s.reason, s.features.clone(), s.psi),
        None => (RetrainReason::Manual, Vec::new(), None),
    };
    let conf = retrain_conf(&entry.model, reason, &features, psi, requested_by);
    // The API version is known once the server has been read (auto); v2 otherwise.
    let (prefix, logical_date) = match cfg.api {
        crate::config::AirflowApi::V1 => ("/api/v1", false),
        _ => ("/api/v2", true),
    };
    let mut requests = Vec::new();
    if plan.unpause {
        requests.push(format!(
            "PATCH {prefix}/dags/{} {{\"is_paused\":false}}",
            entry.dag
        ));
    }
    let body = if logical_date {
        json!({"logical_date": null, "conf": conf})
    } else {
        json!({"conf": conf})
    };
    requests.push(format!("POST {prefix}/dags/{}/dagRuns {body}", entry.dag));
    let why = suggestion
        .map(|s| format!(" — {}", s.why))
        .unwrap_or_default();
    let mut impact = vec![format!("reason: {}{why}", reason.word())];
    match pipeline.last_success() {
        Some(r) => {
            let why = r
                .conf
                .get("reason")
                .and_then(|v| v.as_str())
                .map(|w| format!(", reason {w}"))
                .unwrap_or_default();
            let when = r
                .end
                .or(r.start)
                .map(|t| format!(", finished {} ago", crate::ui::format::duration(now - t)))
                .unwrap_or_default();
            impact.push(format!(
                "last successful run: {} ({}{why}{when})",
                r.id, r.run_type
            ))
        }
        None => impact.push("no successful run on record".into()),
    }
    if plan.unpause {
        impact.push(format!(
            "{} is PAUSED: it will be unpaused first (unpause = true in the config), so its schedule runs again too",
            entry.dag
        ));
    }
    Ok(CommandRequest {
        command: "retrain",
        target: format!("{}@{}", entry.dag, cfg.name),
        environment: cfg.environment.clone(),
        effect: format!(
            "{}: start a new run of pipeline {} (reason: {})",
            entry.model,
            entry.dag,
            reason.word()
        ),
        requests,
        warning: plan.warning,
        impact,
        before: json!({
            "paused": pipeline.paused,
            "active_run": pipeline.active_run().map(|r| (&r.id, &r.state)),
            "last_success": pipeline.last_success().map(|r| &r.id),
        }),
        after: json!({"conf": conf}),
        action: CommandAction::Retrain {
            source,
            model,
            dag: entry.dag.clone(),
            conf,
            unpause: plan.unpause,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn registry() -> RegistryConfig {
        let text = r#"
[registry.prod]
kind = "mlflow"
url = "http://127.0.0.1:5000"
models = ["recsys-ranker"]
gate = { metric = "ndcg_at_10", greater_is_better = true, min_relative_change = 0.01 }
"#;
        Config::parse(text, "t").unwrap().registries.remove(0)
    }

    fn model(challenger_ndcg: f64) -> ModelState {
        let mut m = ModelState {
            name: "recsys-ranker".into(),
            ..Default::default()
        };
        m.aliases.insert("champion".into(), "12".into());
        m.aliases.insert("challenger".into(), "13".into());
        m.metrics
            .insert("12".into(), [("ndcg_at_10".to_string(), 0.412)].into());
        m.metrics.insert(
            "13".into(),
            [("ndcg_at_10".to_string(), challenger_ndcg)].into(),
        );
        m
    }

    fn op() -> Operator {
        Operator {
            user: "alice".into(),
            ssh_client: None,
            host: "h".into(),
        }
    }

    fn describe(m: &AliasMove) -> String {
        format!("{m:?}")
    }

    #[test]
    fn read_only_refuses_before_confirmation_and_audits_the_refusal() {
        let mut layer = CommandLayer::new(Access::ReadOnly, op(), "console");
        let req = promote_request(&registry(), 0, &model(0.419), &describe).unwrap();
        match layer.request(req) {
            Requested::Refused { reason, record } => {
                assert!(reason.contains("read-only"));
                assert_eq!(record.outcome, Outcome::Refused);
                assert_eq!(record.command, "promote");
                assert_eq!(record.target, "recsys-ranker@prod");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!layer.is_busy("recsys-ranker@prod"));
        let mut wall = CommandLayer::new(Access::Wallboard, op(), "wallboard");
        let req = promote_request(&registry(), 0, &model(0.419), &describe).unwrap();
        assert!(matches!(wall.request(req), Requested::Refused { .. }));
    }

    #[test]
    fn a_second_request_on_the_same_target_is_busy_until_finished() {
        let mut layer = CommandLayer::new(Access::ReadWrite, op(), "console");
        let req = promote_request(&registry(), 0, &model(0.419), &describe).unwrap();
        let Requested::Confirm(c) = layer.request(req.clone()) else {
            panic!()
        };
        assert!(matches!(layer.request(req.clone()), Requested::Busy(_)));
        let Confirmed::Send(c) = layer.confirm(*c) else {
            panic!("a passing gate needs one confirmation")
        };
        assert!(matches!(layer.request(req.clone()), Requested::Busy(_)));
        let rec = layer.finish(&c, Outcome::Succeeded, "", None);
        assert_eq!(rec.outcome, Outcome::Succeeded);
        assert!(!rec.gate_override);
        assert!(matches!(layer.request(req), Requested::Confirm(_)));
    }

    #[test]
    fn a_failing_gate_needs_a_second_confirmation_and_is_audited_as_an_override() {
        let mut layer = CommandLayer::new(Access::ReadWrite, op(), "console");
        let req = promote_request(&registry(), 0, &model(0.414), &describe).unwrap();
        let w = req.warning.clone().expect("a warning for a failing gate");
        assert!(w.contains("FAILS the validation gate"), "{w}");
        assert!(w.contains("ndcg_at_10 0.412 → 0.414"), "{w}");
        let Requested::Confirm(c) = layer.request(req) else {
            panic!()
        };
        let Confirmed::Again(c) = layer.confirm(*c) else {
            panic!("first confirmation is not enough")
        };
        assert_eq!(c.step, 2);
        let Confirmed::Send(c) = layer.confirm(c) else {
            panic!("second confirmation sends")
        };
        let rec = layer.finish(&c, Outcome::Succeeded, "", None);
        assert!(rec.gate_override);
    }

    #[test]
    fn cancelling_frees_the_target_and_is_audited() {
        let mut layer = CommandLayer::new(Access::ReadWrite, op(), "console");
        let req = rollback_request(
            &registry(),
            0,
            &ModelState {
                name: "recsys-ranker".into(),
                aliases: [
                    ("champion".to_string(), "13".to_string()),
                    ("previous-champion".to_string(), "12".to_string()),
                ]
                .into(),
                ..Default::default()
            },
            &describe,
        )
        .unwrap();
        let Requested::Confirm(c) = layer.request(req) else {
            panic!()
        };
        let rec = layer.cancel(&c);
        assert_eq!(rec.outcome, Outcome::Cancelled);
        assert!(!layer.is_busy("recsys-ranker@prod"));
    }
}
