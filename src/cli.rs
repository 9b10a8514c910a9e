//! The command-line twins of the console's commands, for scripts and runbooks:
//! `mltop promote|rollback MODEL`, `mltop gate MODEL`, `mltop audit`. They go through the same
//! command layer (guard, confirmation, audit) and the same adapter as the console.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::SystemTime;

use crate::audit::{AuditLog, Operator, Outcome};
use crate::commands::{Access, CommandAction, CommandLayer, Confirmed, Requested};
use crate::config::{Config, RegistryConfig};
use crate::domain::registry::ModelState;
use crate::sources::registry;

/// Exit codes shared by the command twins.
pub const EXIT_DONE: i32 = 0;
/// Refused, cancelled, failed — or, for `gate`, the challenger fails.
pub const EXIT_NOT_DONE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// No answer in time: the change may or may not have happened (the state was re-read).
pub const EXIT_UNKNOWN: i32 = 3;

/// Which registry holds `model`: `--registry`, else the only one, else the one listing it.
pub fn find_registry<'a>(
    cfg: &'a Config,
    model: &str,
    name: Option<&str>,
) -> Result<(usize, &'a RegistryConfig), String> {
    if let Some(n) = name {
        return cfg
            .registries
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == n)
            .ok_or_else(|| format!("no registry named `{n}` in the config"));
    }
    match cfg.registries.as_slice() {
        [] => Err("no [registry.NAME] in the config".into()),
        [one] => Ok((0, one)),
        many => many
            .iter()
            .enumerate()
            .find(|(_, r)| r.models.iter().any(|m| m == model))
            .ok_or_else(|| format!("several registries are configured; say which with --registry (none lists `{model}`)")),
    }
}

async fn read_model(reg: &RegistryConfig, model: &str) -> Result<ModelState, String> {
    let client = registry::client(reg)?;
    client
        .model_state(model, reg.history, &mut HashMap::new())
        .await
        .map_err(|e| format!("reading {model} from {}: {e}", reg.name))
}

/// `mltop gate MODEL`: print the verdict; 0 pass, 1 fail, 2 error.
pub async fn gate(cfg: &Config, model: &str, name: Option<&str>, out: &mut impl Write) -> i32 {
    let (_, reg) = match find_registry(cfg, model, name) {
        Ok(r) => r,
        Err(e) => return fail(out, &e, EXIT_USAGE),
    };
    let Some(spec) = reg.gate_for(model) else {
        return fail(
            out,
            &format!("no gate configured for {model} in registry `{}`", reg.name),
            EXIT_USAGE,
        );
    };
    let state = match read_model(reg, model).await {
        Ok(s) => s,
        Err(e) => return fail(out, &e, EXIT_USAGE),
    };
    let Some(v) = state.gate(&reg.aliases, spec) else {
        return fail(
            out,
            &format!(
                "{model} has no `{}` alias: nothing to judge",
                reg.aliases.challenger
            ),
            EXIT_NOT_DONE,
        );
    };
    let _ = writeln!(out, "{model}: {}", v.summary(spec));
    for r in &v.reasons {
        let _ = writeln!(out, "  {r}");
    }
    if v.passed { EXIT_DONE } else { EXIT_NOT_DONE }
}

const NO_AUDIT_LOG: &str = "no audit log path (no home directory): set MLTOP_AUDIT_LOG";

/// The audit log: the config's `audit_log`, else `$MLTOP_AUDIT_LOG`, else the XDG data dir.
fn audit_log(cfg: &Config) -> Option<AuditLog> {
    cfg.audit_log
        .clone()
        .or_else(AuditLog::default_path)
        .map(AuditLog::new)
}

/// The command layer as the CLI twins use it.
fn cli_layer(cfg: &Config) -> CommandLayer {
    let access = if cfg.readonly {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    CommandLayer::new(access, Operator::current(), "cli")
}

/// Append a record; a failed write is said loudly, never hidden.
fn append(log: &AuditLog, record: &crate::audit::AuditRecord, out: &mut dyn Write) {
    if let Err(e) = log.append(record) {
        let _ = writeln!(
            out,
            "mltop: AUDIT LOG WRITE FAILED ({}): {e}",
            log.path().display()
        );
    }
}

/// What the confirmation states: effect, environment, target, requests, and any warning.
fn show(c: &crate::commands::Confirmation, out: &mut dyn Write) {
    let r = &c.request;
    let _ = writeln!(
        out,
        "{}\nenvironment {} · target {}",
        r.effect, r.environment, r.target
    );
    for q in &r.requests {
        let _ = writeln!(out, "  {q}");
    }
    for l in &r.impact {
        let _ = writeln!(out, "{l}");
    }
    if let Some(w) = &r.warning {
        let _ = writeln!(out, "⚠ {w}");
    }
}

fn fail(out: &mut impl Write, msg: &str, code: i32) -> i32 {
    let _ = writeln!(out, "mltop: {msg}");
    code
}

/// One canary-vs-stable check for the CLI's impact preview, when the rollout has a comparison:
/// the service's metrics source polled once (a scrape source twice, for rates). `Err` says why
/// it could not be read.
async fn one_canary_check(
    cfg: &Config,
    controller: usize,
    info: &crate::sources::argo::RolloutInfo,
) -> Option<Result<crate::canary::CanaryState, String>> {
    let (ci, k) = cfg
        .canaries
        .iter()
        .enumerate()
        .find(|(_, k)| k.controller == controller && k.matches(&info.namespace, &info.name))?;
    let index = cfg.services[k.service].metrics;
    let read = async {
        let mut source = crate::sources::MetricsSource::new(index, cfg)?;
        let mut polled = source.poll(crate::sources::unix_now()).await?;
        if cfg.metrics[index].kind == crate::config::SourceKind::Scrape {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            polled = source.poll(crate::sources::unix_now()).await?;
        }
        let mut state = crate::canary::CanaryState::new(k.clone());
        for ((c, m), split) in polled.1 {
            if c == ci {
                state.set_read(m, split);
            }
        }
        state.judge(Some(info), crate::sources::unix_now());
        Ok(state)
    };
    Some(read.await)
}

/// How the operator answers confirmations.
pub enum Answers<'a> {
    /// `--yes` (and `--override-gate` for the second confirmation).
    Flags { yes: bool, override_gate: bool },
    /// Ask on this input.
    Ask(&'a mut dyn BufRead),
}

impl<'a> Answers<'a> {
    /// `--yes` (with `--override-gate` for a second confirmation) confirms; otherwise ask on
    /// `input`.
    pub fn from_flags(yes: bool, override_gate: bool, input: &'a mut dyn BufRead) -> Answers<'a> {
        if yes {
            Answers::Flags { yes, override_gate }
        } else {
            Answers::Ask(input)
        }
    }
}

fn ask(input: &mut dyn BufRead, out: &mut impl Write, prompt: &str, expect: &str) -> bool {
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    let mut line = String::new();
    input.read_line(&mut line).is_ok() && line.trim() == expect
}

/// What the operator types at each step of a confirmation, and what is said when they do not.
struct Prompts<'a> {
    /// (prompt, the text that confirms) for the first confirmation and for a second one.
    first: (&'a str, &'a str),
    second: (&'a str, &'a str),
    /// Why nothing was sent, when the first or the second confirmation was not given.
    not_first: &'a str,
    not_second: &'a str,
}

/// Ask until the command layer says send: `--yes` answers the first confirmation, the second
/// flag (`--override-gate`, or `--yes` again where it means both) the second. `Err` is the exit
/// code when the operator did not confirm (audited as cancelled).
fn confirm(
    layer: &mut crate::commands::CommandLayer,
    log: &AuditLog,
    mut c: crate::commands::Confirmation,
    answers: &mut Answers<'_>,
    out: &mut impl Write,
    prompts: &Prompts<'_>,
) -> Result<crate::commands::Confirmation, i32> {
    show(&c, out);
    loop {
        let (prompt, expect) = if c.step == 1 {
            prompts.first
        } else {
            prompts.second
        };
        let yes = match answers {
            Answers::Flags { yes, override_gate } => {
                if c.step == 1 {
                    *yes
                } else {
                    *override_gate
                }
            }
            Answers::Ask(input) => ask(*input, out, prompt, expect),
        };
        if !yes {
            let why = if c.step == 1 {
                prompts.not_first
            } else {
                prompts.not_second
            };
            let record = layer.cancel(&c);
            append(log, &record, out);
            return Err(fail(out, &format!("cancelled: {why}"), EXIT_NOT_DONE));
        }
        match layer.confirm(c) {
            Confirmed::Again(next) => c = next,
            Confirmed::Send(send) => return Ok(send),
        }
    }
}

/// `mltop promote MODEL` / `mltop rollback MODEL`.
pub async fn change(
    cfg: &Config,
    promote: bool,
    model: &str,
    name: Option<&str>,
    mut answers: Answers<'_>,
    out: &mut impl Write,
) -> i32 {
    let (index, reg) = match find_registry(cfg, model, name) {
        Ok(r) => r,
        Err(e) => return fail(out, &e, EXIT_USAGE),
    };
    let Some(log) = audit_log(cfg) else {
        return fail(out, NO_AUDIT_LOG, EXIT_USAGE);
    };
    let mut layer = cli_layer(cfg);
    // The guard speaks before anything is read or built.
    let verb = if promote { "promote" } else { "rollback" };
    let target = format!("{model}@{}", reg.name);
    if let Some((reason, record)) = layer.refuse(verb, &target, &reg.environment) {
        let _ = writeln!(out, "refused: {reason}");
        append(&log, &record, out);
        return EXIT_NOT_DONE;
    }
    let failed_early = |why: &str, out: &mut dyn Write| {
        let record = layer.unplanned(verb, &target, &reg.environment, Outcome::Failed, why);
        append(&log, &record, out);
    };
    let state = match read_model(reg, model).await {
        Ok(s) => s,
        Err(e) => {
            failed_early(&e, out);
            return fail(out, &e, EXIT_NOT_DONE);
        }
    };
    let client = match registry::client(reg) {
        Ok(c) => c,
        Err(e) => return fail(out, &e, EXIT_USAGE),
    };
    let describe = |m: &crate::domain::registry::AliasMove| client.describe(m);
    let built = if promote {
        crate::commands::promote_request(reg, index, &state, &describe)
    } else {
        crate::commands::rollback_request(reg, index, &state, &describe)
    };
    let req = match built {
        Ok(r) => r,
        Err(e) => {
            failed_early(&e, out);
            return fail(out, &e, EXIT_NOT_DONE);
        }
    };
    let Requested::Confirm(c) = layer.request(req) else {
        return fail(out, "the command layer refused the command", EXIT_NOT_DONE);
    };
    let first = format!("type the model name ({model}) to confirm: ");
    let prompts = Prompts {
        first: (&first, model),
        second: (
            "type `override` to promote DESPITE the failed gate: ",
            "override",
        ),
        not_first: "not confirmed (pass --yes, or type the model name)",
        not_second: "the challenger fails the gate: confirm again with --override-gate (or type `override`) to promote anyway",
    };
    let c = match confirm(&mut layer, &log, *c, &mut answers, out, &prompts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let CommandAction::Aliases { plan, .. } = c.request.action.clone() else {
        return fail(out, "not a registry command", EXIT_USAGE);
    };
    let (outcome, mut detail) = registry::execute(&client, &plan).await;
    let after = match registry::reread(&client, reg, model).await {
        Ok(m) => {
            let champ = m.alias(&reg.aliases.champion).unwrap_or("unset");
            detail.push_str(&format!(" · now {} = v{champ}", reg.aliases.champion));
            Some(serde_json::json!(m.aliases))
        }
        Err(e) => {
            detail.push_str(&format!(" · re-read failed: {e}"));
            None
        }
    };
    let record = layer.finish(&c, outcome, &detail, after);
    append(&log, &record, out);
    let _ = writeln!(out, "{}: {detail}", outcome.word());
    match outcome {
        Outcome::Succeeded => EXIT_DONE,
        Outcome::Unknown => EXIT_UNKNOWN,
        _ => EXIT_NOT_DONE,
    }
}

/// `mltop audit`: print records, oldest first, filtered by target and time.
pub fn audit(
    cfg: &Config,
    target: Option<&str>,
    since: Option<SystemTime>,
    json: bool,
    out: &mut impl Write,
) -> i32 {
    let Some(log) = audit_log(cfg) else {
        return fail(out, NO_AUDIT_LOG, EXIT_USAGE);
    };
    let (records, bad) = match log.read() {
        Ok(r) => r,
        Err(e) => {
            return fail(
                out,
                &format!("reading {}: {e}", log.path().display()),
                EXIT_USAGE,
            );
        }
    };
    let shown = crate::audit::filter(&records, target, since);
    if shown.is_empty() {
        let _ = writeln!(
            out,
            "no entries in {}{}",
            log.path().display(),
            if records.is_empty() {
                ""
            } else {
                " match the filters"
            }
        );
    }
    for r in shown {
        if json {
            let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            let from = r
                .ssh_client
                .as_ref()
                .map(|c| format!(" via ssh {c}"))
                .unwrap_or_default();
            let over = if r.gate_override {
                " GATE OVERRIDE"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{} {:<9} {} {} by {}@{}{from} ({}, {}){over}: {}{}",
                r.time,
                r.outcome.word(),
                r.command,
                r.target,
                r.user,
                r.host,
                r.environment,
                r.via,
                if r.effect.is_empty() {
                    String::new()
                } else {
                    format!("{} — ", r.effect)
                },
                r.detail
            );
        }
    }
    for b in &bad {
        let _ = writeln!(out, "mltop: unreadable audit line: {b}");
    }
    EXIT_DONE
}

/// `mltop rollout promote|abort|retry|undo NAME`: the rollouts view's commands for scripts.
/// `--yes` confirms; promote `--full` asks twice when interactive (`--full --yes` is both).
pub async fn rollout(
    cfg: &Config,
    cmd: crate::domain::rollout::RolloutCommand,
    name: &str,
    namespace: Option<&str>,
    controller: Option<&str>,
    mut answers: Answers<'_>,
    out: &mut impl Write,
) -> i32 {
    let found = cfg.rollouts.iter().enumerate().find(|(_, r)| {
        controller.is_none_or(|c| r.name == c)
            && namespace.is_none_or(|ns| r.namespaces.iter().any(|n| n == ns))
    });
    let Some((index, rc)) = found else {
        return fail(
            out,
            "no matching [rollouts.NAME] in the config (see --controller, --namespace)",
            EXIT_USAGE,
        );
    };
    let ns = match (namespace, rc.namespaces.as_slice()) {
        (Some(ns), _) => ns.to_string(),
        (None, [one]) => one.clone(),
        _ => {
            return fail(
                out,
                "this controller watches several namespaces: say which with --namespace",
                EXIT_USAGE,
            );
        }
    };
    let Some(log) = audit_log(cfg) else {
        return fail(out, NO_AUDIT_LOG, EXIT_USAGE);
    };
    let mut layer = cli_layer(cfg);
    let target = format!("{ns}/{name}@{}", rc.name);
    if let Some((reason, record)) = layer.refuse("rollout", &target, &rc.environment) {
        let _ = writeln!(out, "refused: {reason}");
        append(&log, &record, out);
        return EXIT_NOT_DONE;
    }
    let client = match crate::sources::rollouts::client(rc) {
        Ok(c) => c,
        Err(e) => return fail(out, &e, EXIT_USAGE),
    };
    let info = match client.get(&ns, name).await {
        Ok(i) => i,
        Err(e) => {
            let record = layer.unplanned(
                "rollout",
                &target,
                &rc.environment,
                Outcome::Failed,
                &e.to_string(),
            );
            append(&log, &record, out);
            return fail(out, &e.to_string(), EXIT_NOT_DONE);
        }
    };
    let line = |rev: Option<i64>| client.request_line(&ns, name, cmd, rev);
    let judged = one_canary_check(cfg, index, &info).await;
    let (judged, why_not) = match judged {
        Some(Ok(k)) => (Some(k), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let req = match crate::commands::rollout_request(
        rc,
        index,
        &info,
        cmd,
        &line,
        judged.as_ref(),
        crate::sources::unix_now(),
    ) {
        Ok(mut r) => {
            if judged.is_some() {
                r.impact.insert(
                    0,
                    "(one check from the CLI: holds are not known here; the console shows the held verdict)".into(),
                );
            }
            if let Some(e) = why_not {
                r.impact = vec![format!("canary vs stable: not read: {e}")];
            }
            r
        }
        Err(why) => {
            let record =
                layer.unplanned("rollout", &target, &rc.environment, Outcome::Failed, &why);
            append(&log, &record, out);
            return fail(out, &why, EXIT_NOT_DONE);
        }
    };
    let Requested::Confirm(c) = layer.request(req) else {
        return fail(out, "the command layer refused the command", EXIT_NOT_DONE);
    };
    let first = format!("type the rollout name ({name}) to confirm: ");
    let prompts = Prompts {
        first: (&first, name),
        second: ("type `full` to skip every remaining step: ", "full"),
        not_first: "not confirmed (pass --yes, or type the rollout name)",
        not_second: "not confirmed a second time (type `full`, or pass --yes)",
    };
    let c = match confirm(&mut layer, &log, *c, &mut answers, out, &prompts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let undo = match &c.request.action {
        CommandAction::Rollout { undo_revision, .. } => *undo_revision,
        _ => None,
    };
    let (outcome, mut detail) = match client.send(&ns, name, cmd, undo).await {
        Ok(()) => (Outcome::Succeeded, format!("{} sent", cmd.word())),
        Err(crate::sources::argo::ArgoError::Unknown(e)) => (Outcome::Unknown, e),
        Err(e) => (Outcome::Failed, e.to_string()),
    };
    let after = match client.get(&ns, name).await {
        Ok(i) => {
            detail.push_str(&format!(
                " · now {} {} weight {} %",
                i.status,
                i.step
                    .map(|(a, b)| format!("step {a}/{b}"))
                    .unwrap_or_default(),
                i.set_weight.unwrap_or(0)
            ));
            Some(serde_json::json!({"status": i.status, "step": i.step, "weight": i.set_weight}))
        }
        Err(e) => {
            detail.push_str(&format!(" · re-read failed: {e}"));
            None
        }
    };
    let record = layer.finish(&c, outcome, &detail, after);
    append(&log, &record, out);
    let _ = writeln!(out, "{}: {detail}", outcome.word());
    match outcome {
        Outcome::Succeeded => EXIT_DONE,
        Outcome::Unknown => EXIT_UNKNOWN,
        _ => EXIT_NOT_DONE,
    }
}

/// Drift of `service`'s PSI panels from one read of its metrics source (a scrape source twice,
/// for rates): the features over their critical threshold now (not held), the most drifted
/// first, with their PSI.
async fn drift_now(cfg: &Config, service: usize) -> Result<Vec<(String, f64)>, String> {
    let index = cfg.services[service].metrics;
    let mut source = crate::sources::MetricsSource::new(index, cfg)?;
    let mut polled = source.poll(crate::sources::unix_now()).await?;
    if cfg.metrics[index].kind == crate::config::SourceKind::Scrape {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        polled = source.poll(crate::sources::unix_now()).await?;
    }
    let panels = &cfg.services[service].panels;
    let mut over: Vec<(String, f64)> = polled
        .0
        .into_iter()
        .filter(|((si, _), _)| *si == service)
        .filter_map(|((_, pi), r)| {
            let p = panels.get(pi)?;
            let feature = p.feature.clone()?;
            let v = match r.ok()?.reading {
                crate::domain::panel::Reading::Drift(d) => d.psi,
                crate::domain::panel::Reading::Value(v) => v * p.scale,
                _ => return None,
            };
            let crit = p.thresholds.crit.or(p.thresholds.warn)?;
            (v >= crit).then_some((feature, v))
        })
        .collect();
    over.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(over)
}

/// `mltop retrain MODEL --reason R`: trigger the model's retraining pipeline through the command
/// layer, with `conf = {model, reason, features, psi, requested_by}`.
pub async fn retrain(
    cfg: &Config,
    model: &str,
    reason: crate::domain::pipeline::RetrainReason,
    pipeline: Option<&str>,
    mut answers: Answers<'_>,
    out: &mut impl Write,
) -> i32 {
    use crate::domain::pipeline::{RetrainReason, Suggestion};
    let found = cfg.pipelines.iter().enumerate().find_map(|(s, p)| {
        if pipeline.is_some_and(|n| n != p.name) {
            return None;
        }
        let m = p.models.iter().position(|e| e.model == model)?;
        Some((s, m, p))
    });
    let Some((s, m, pc)) = found else {
        return fail(
            out,
            &format!(
                "no retraining pipeline for model `{model}`: map it in a [[pipelines.NAME.models]] entry (model, dag)"
            ),
            EXIT_USAGE,
        );
    };
    let entry = &pc.models[m];
    let Some(log) = audit_log(cfg) else {
        return fail(out, NO_AUDIT_LOG, EXIT_USAGE);
    };
    let mut layer = cli_layer(cfg);
    let target = format!("{}@{}", entry.dag, pc.name);
    if let Some((why, record)) = layer.refuse("retrain", &target, &pc.environment) {
        let _ = writeln!(out, "refused: {why}");
        append(&log, &record, out);
        return EXIT_NOT_DONE;
    }
    let unplanned = |layer: &crate::commands::CommandLayer, why: &str, out: &mut dyn Write| {
        let record = layer.unplanned("retrain", &target, &pc.environment, Outcome::Failed, why);
        append(&log, &record, out);
    };
    let client = match crate::sources::pipelines::client(pc).await {
        Ok(c) => c,
        Err(e) => {
            unplanned(&layer, &e, out);
            return fail(out, &e, EXIT_NOT_DONE);
        }
    };
    let state =
        match crate::sources::pipelines::read_pipeline(&client, &entry.dag, pc.history).await {
            Ok(p) => p,
            Err(e) => {
                unplanned(&layer, &e.to_string(), out);
                return fail(out, &e.to_string(), EXIT_NOT_DONE);
            }
        };
    // The evidence for a drift retrain: what is over its critical PSI now.
    let drift = match (reason, entry.service) {
        (RetrainReason::Drift, Some(svc)) => {
            let _ = writeln!(
                out,
                "reading the drift panels of service {} once…",
                cfg.services[svc].name
            );
            match drift_now(cfg, svc).await {
                Ok(d) => d,
                Err(e) => {
                    let _ = writeln!(out, "(drift not read: {e})");
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let suggestion = Suggestion {
        reason,
        features: drift.iter().map(|d| d.0.clone()).collect(),
        psi: drift.first().map(|d| d.1),
        why: if drift.is_empty() && reason == RetrainReason::Drift {
            "--reason drift given on the command line, but no feature is over its critical PSI now"
                .to_string()
        } else if drift.is_empty() {
            format!("--reason {} given on the command line", reason.word())
        } else {
            format!(
                "--reason {}; over their critical PSI now (one read, not held): {}",
                reason.word(),
                drift
                    .iter()
                    .map(|(f, p)| format!("{f} {p:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    };
    let user = layer.operator().user.clone();
    let req = match crate::commands::retrain_request(
        pc,
        s,
        m,
        &state,
        Some(&suggestion),
        &user,
        crate::sources::unix_now(),
    ) {
        Ok(r) => r,
        Err(why) => {
            unplanned(&layer, &why, out);
            return fail(out, &why, EXIT_NOT_DONE);
        }
    };
    let Requested::Confirm(c) = layer.request(req) else {
        return fail(out, "the command layer refused the command", EXIT_NOT_DONE);
    };
    let first = format!("type the model name ({model}) to confirm: ");
    let prompts = Prompts {
        first: (&first, model),
        second: (
            "a run is already active: type `again` to start another: ",
            "again",
        ),
        not_first: "not confirmed (pass --yes, or type the model name)",
        not_second: "a run is already active and a second one was not confirmed",
    };
    let c = match confirm(&mut layer, &log, *c, &mut answers, out, &prompts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let CommandAction::Retrain {
        dag, conf, unpause, ..
    } = c.request.action.clone()
    else {
        return fail(out, "internal: not a retrain", EXIT_USAGE);
    };
    let (outcome, mut detail, after) =
        crate::sources::pipelines::execute(pc, &dag, &conf, unpause).await;
    if outcome == Outcome::Succeeded {
        detail.push_str(" — triggered; follow it in the console's pipelines view (p)");
    }
    let after = after.map(|p| {
        serde_json::json!({
            "paused": p.paused,
            "newest_run": p.runs.first().map(|r| (&r.id, &r.state)),
        })
    });
    let record = layer.finish(&c, outcome, &detail, after);
    append(&log, &record, out);
    let _ = writeln!(out, "{}: {detail}", outcome.word());
    match outcome {
        Outcome::Succeeded => EXIT_DONE,
        Outcome::Unknown => EXIT_UNKNOWN,
        _ => EXIT_NOT_DONE,
    }
}
