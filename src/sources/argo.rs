//! The Argo Rollouts dashboard API (`kubectl argo rollouts dashboard`, port 3100): rollout info
//! (status, canary step and weights, replica sets, analysis runs, canary steps) and the
//! promote / abort / retry / undo commands. Facts in reference/backends.md, checked against
//! argoproj/argo-rollouts: the routes are those of `pkg/apiclient/rollout/rollout.proto`, the
//! JSON is Go's `encoding/json` over the `json:"…,omitempty"` tags of
//! `pkg/apiclient/rollout/rollout.pb.go` (`utils/json/json.go`, `server/server.go`): camelCase,
//! zero values omitted, `step`/`setWeight`/`actualWeight` as strings, int64 as numbers, and an
//! empty list is `{}`. Canary steps are `v1alpha1.CanaryStep` (`pkg/apis/rollouts/v1alpha1/
//! types.go`): `{setWeight}`, `{pause:{duration}}` (int seconds or a Go duration string),
//! `{analysis:{templates:[{templateName}]}}`. Since v1.9 the API sits under a root path
//! (default `/rollouts/api/v1`); before it was `/api/v1`, so the prefix is configurable.

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::http::{FetchError, HttpClient, WriteError};
use crate::domain::rollout::RolloutCommand;
use crate::sanitize::clean;

/// The dashboard's API prefix since Argo Rollouts v1.9.
pub const DEFAULT_PREFIX: &str = "/rollouts/api/v1";
/// The prefix before v1.9.
pub const LEGACY_PREFIX: &str = "/api/v1";

/// Why a dashboard request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgoError {
    /// Unreachable or no answer in time (reads), or a write that was never sent.
    Down(String),
    /// The dashboard answered with an error status; `message` names what was refused and why.
    Api { status: u16, message: String },
    /// A write that may have taken effect but got no answer: re-read before acting again.
    Unknown(String),
    /// A reply that is not the dashboard's JSON, or a request that cannot be made.
    Invalid(String),
}

impl std::fmt::Display for ArgoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgoError::Down(m) | ArgoError::Invalid(m) => f.write_str(m),
            ArgoError::Unknown(m) => {
                write!(
                    f,
                    "outcome unknown: {m} (re-read the rollout before retrying)"
                )
            }
            ArgoError::Api { status, message } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

/// One ReplicaSet of a rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplicaSetInfo {
    pub revision: i64,
    pub stable: bool,
    pub canary: bool,
    pub active: bool,
    pub preview: bool,
    pub images: Vec<String>,
}

/// One AnalysisRun of a rollout, with its measurement counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnalysisRunInfo {
    pub name: String,
    pub status: String,
    pub successful: u32,
    pub failed: u32,
    pub inconclusive: u32,
    pub error: u32,
}

/// One step of a canary strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CanaryStep {
    /// Route this percentage of traffic to the canary.
    SetWeight(u32),
    /// Pause for this many seconds; `None` waits for a human to promote.
    Pause(Option<u64>),
    /// Run an analysis with these templates.
    Analysis(Vec<String>),
    /// Any other step (experiment, setCanaryScale, setHeaderRoute, …), by its key.
    Other(String),
}

/// What the dashboard says about one rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RolloutInfo {
    pub namespace: String,
    pub name: String,
    /// Healthy, Progressing, Paused or Degraded.
    pub status: String,
    pub message: String,
    /// Canary or BlueGreen.
    pub strategy: String,
    /// (current step, number of steps), from `"1/8"`.
    pub step: Option<(u32, u32)>,
    pub set_weight: Option<u32>,
    pub actual_weight: Option<u32>,
    pub ready: u32,
    pub current: u32,
    pub desired: u32,
    pub updated: u32,
    pub available: u32,
    pub replica_sets: Vec<ReplicaSetInfo>,
    pub analysis_runs: Vec<AnalysisRunInfo>,
    pub steps: Vec<CanaryStep>,
}

fn text(v: &Value, k: &str, max: usize) -> String {
    match v.get(k) {
        Some(Value::String(s)) => clean(s, max),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn count(v: &Value, k: &str) -> u32 {
    match v.get(k) {
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|x| x.min(u32::MAX as u64) as u32)
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn list<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// A weight as the dashboard sends it (`"20"`); absent or empty is `None`.
fn weight(v: &Value, k: &str) -> Option<u32> {
    match v.get(k)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64().map(|x| x.min(u32::MAX as u64) as u32),
        _ => None,
    }
}

/// `"1/8"` → `(1, 8)`.
pub fn parse_step(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// A pause duration in seconds: a number, a string of digits (seconds), or a Go duration
/// string (`"2m"`, `"1h30m"`, `"30s"`, `"1.5h"`). `None` when it cannot be read.
pub fn parse_duration(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<u64>() {
                return Some(n);
            }
            go_duration_secs(s)
        }
        _ => None,
    }
}

/// Go's `time.ParseDuration`, whole seconds (rounded down). No sign, at least one unit.
fn go_duration_secs(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    if total.is_finite() && total >= 0.0 {
        Some(total.floor() as u64)
    } else {
        None
    }
}

/// One `v1alpha1.CanaryStep` object.
pub fn parse_canary_step(v: &Value) -> CanaryStep {
    if let Some(w) = v.get("setWeight").and_then(|w| match w {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }) {
        return CanaryStep::SetWeight(w.min(u32::MAX as u64) as u32);
    }
    if let Some(p) = v.get("pause") {
        return match p.get("duration") {
            None | Some(Value::Null) => CanaryStep::Pause(None),
            Some(d) => match parse_duration(d) {
                Some(secs) => CanaryStep::Pause(Some(secs)),
                None => CanaryStep::Other(clean(&format!("pause {d}"), 60)),
            },
        };
    }
    if let Some(a) = v.get("analysis") {
        return CanaryStep::Analysis(
            list(a, "templates")
                .map(|t| text(t, "templateName", 120))
                .filter(|t| !t.is_empty())
                .collect(),
        );
    }
    let key = v
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_else(|| "?".into());
    CanaryStep::Other(clean(&key, 60))
}

fn meta(v: &Value) -> &Value {
    static NULL: Value = Value::Null;
    v.get("objectMeta").unwrap_or(&NULL)
}

/// One `ReplicaSetInfo` object.
pub fn parse_replica_set(v: &Value) -> ReplicaSetInfo {
    ReplicaSetInfo {
        revision: match v.get("revision") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        },
        stable: flag(v, "stable"),
        canary: flag(v, "canary"),
        active: flag(v, "active"),
        preview: flag(v, "preview"),
        images: list(v, "images")
            .filter_map(Value::as_str)
            .map(|s| clean(s, 200))
            .collect(),
    }
}

/// One `AnalysisRunInfo` object.
pub fn parse_analysis_run(v: &Value) -> AnalysisRunInfo {
    AnalysisRunInfo {
        name: text(meta(v), "name", 200),
        status: text(v, "status", 40),
        successful: count(v, "successful"),
        failed: count(v, "failed"),
        inconclusive: count(v, "inconclusive"),
        error: count(v, "error"),
    }
}

/// One `RolloutInfo` object; every field may be absent (zero values are omitted).
pub fn parse_rollout(v: &Value) -> RolloutInfo {
    let m = meta(v);
    RolloutInfo {
        namespace: text(m, "namespace", 200),
        name: text(m, "name", 200),
        status: text(v, "status", 40),
        message: text(v, "message", 300),
        strategy: text(v, "strategy", 40),
        step: v.get("step").and_then(Value::as_str).and_then(parse_step),
        set_weight: weight(v, "setWeight"),
        actual_weight: weight(v, "actualWeight"),
        ready: count(v, "ready"),
        current: count(v, "current"),
        desired: count(v, "desired"),
        updated: count(v, "updated"),
        available: count(v, "available"),
        replica_sets: list(v, "replicaSets").map(parse_replica_set).collect(),
        analysis_runs: list(v, "analysisRuns").map(parse_analysis_run).collect(),
        steps: list(v, "steps").map(parse_canary_step).collect(),
    }
}

/// The dashboard's `RolloutInfoList`: `{rollouts:[…]}`, or `{}` when there are none.
pub fn parse_rollout_list(v: &Value) -> Vec<RolloutInfo> {
    list(v, "rollouts").map(parse_rollout).collect()
}

/// The server's own words from an error reply: grpc-gateway's `{"code", "message"}` (older
/// gateways add `"error"`), or plain text.
fn server_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for k in ["message", "error"] {
            if let Some(s) = v.get(k).and_then(Value::as_str)
                && !s.trim().is_empty()
            {
                return clean(s, 200);
            }
        }
    }
    let t = clean(String::from_utf8_lossy(body).trim(), 200);
    if t.is_empty() { "no message".into() } else { t }
}

/// The dashboard client over the shared HTTP client.
#[derive(Clone)]
pub struct ArgoClient {
    http: HttpClient,
    base: url::Url,
    prefix: String,
}

/// What a request was about, for error messages.
struct Target<'a> {
    /// "read", "promote", …
    action: &'a str,
    namespace: &'a str,
    name: Option<&'a str>,
}

impl Target<'_> {
    fn what(&self) -> String {
        match self.name {
            Some(n) => format!("rollout `{n}` in namespace `{}`", self.namespace),
            None => format!("the rollouts in namespace `{}`", self.namespace),
        }
    }
}

fn check_name(kind: &str, s: &str) -> Result<(), ArgoError> {
    if s.trim().is_empty() {
        Err(ArgoError::Invalid(format!("the rollout {kind} is empty")))
    } else {
        Ok(())
    }
}

impl ArgoClient {
    /// `prefix` is the dashboard's API path (`/rollouts/api/v1` since v1.9, `/api/v1` before);
    /// a missing leading slash is added and a trailing one dropped.
    pub fn new(http: HttpClient, base: url::Url, prefix: &str) -> Self {
        let p = prefix.trim().trim_matches('/');
        let prefix = if p.is_empty() {
            String::new()
        } else {
            format!("/{p}")
        };
        ArgoClient { http, base, prefix }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn endpoint(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        u.set_query(None);
        u.set_fragment(None);
        let p = format!("{}{}", u.path().trim_end_matches('/'), self.prefix);
        u.set_path(&p);
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        u
    }

    fn api_error(&self, status: u16, body: &[u8], t: &Target) -> ArgoError {
        let server = server_message(body);
        let what = t.what();
        let message = match status {
            401 => format!(
                "the dashboard asked for credentials to {} {what} (check the auth settings): {server}",
                t.action
            ),
            403 => format!(
                "the Argo Rollouts dashboard's permissions refused to {} {what} \
                 (its Kubernetes identity lacks RBAC for this): {server}",
                t.action
            ),
            404 => format!(
                "{} not found ({server}); check the namespace{}, and the API path prefix `{}` \
                 (`{DEFAULT_PREFIX}` since v1.9, `{LEGACY_PREFIX}` before)",
                capitalise(&what),
                if t.name.is_some() { " and name" } else { "" },
                self.prefix
            ),
            _ => format!("could not {} {what}: {server}", t.action),
        };
        ArgoError::Api { status, message }
    }

    async fn get_json(&self, segments: &[&str], t: &Target<'_>) -> Result<Value, ArgoError> {
        let r = self
            .http
            .get(&self.endpoint(segments), &[])
            .await
            .map_err(|e| match e {
                FetchError::Transport(m) => ArgoError::Down(m),
                FetchError::Reply(m) => ArgoError::Invalid(m),
            })?;
        if !(200..300).contains(&r.status) {
            return Err(self.api_error(r.status, &r.body, t));
        }
        serde_json::from_slice(&r.body).map_err(|e| {
            let head = String::from_utf8_lossy(&r.body[..r.body.len().min(80)]).into_owned();
            let hint = if head.trim_start().starts_with('<') {
                format!(
                    " (an HTML page: is `{}` the dashboard's API path prefix?)",
                    self.prefix
                )
            } else {
                String::new()
            };
            ArgoError::Invalid(format!(
                "invalid reply from the dashboard (not JSON: {e}){hint}: {}",
                clean(&head, 80)
            ))
        })
    }

    /// Every rollout in a namespace: `GET {prefix}/rollouts/{ns}/info`.
    pub async fn list(&self, namespace: &str) -> Result<Vec<RolloutInfo>, ArgoError> {
        check_name("namespace", namespace)?;
        let t = Target {
            action: "list",
            namespace,
            name: None,
        };
        let v = self.get_json(&["rollouts", namespace, "info"], &t).await?;
        let mut out = parse_rollout_list(&v);
        for r in &mut out {
            if r.namespace.is_empty() {
                r.namespace = clean(namespace, 200);
            }
        }
        Ok(out)
    }

    /// One rollout: `GET {prefix}/rollouts/{ns}/{name}/info`.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<RolloutInfo, ArgoError> {
        check_name("namespace", namespace)?;
        check_name("name", name)?;
        let t = Target {
            action: "read",
            namespace,
            name: Some(name),
        };
        let v = self
            .get_json(&["rollouts", namespace, name, "info"], &t)
            .await?;
        if !v.is_object() {
            return Err(ArgoError::Invalid(
                "invalid reply from the dashboard: not a RolloutInfo object".into(),
            ));
        }
        let mut r = parse_rollout(&v);
        if r.namespace.is_empty() {
            r.namespace = clean(namespace, 200);
        }
        if r.name.is_empty() {
            r.name = clean(name, 200);
        }
        Ok(r)
    }

    /// The URL and JSON body of a command.
    fn command(
        &self,
        namespace: &str,
        name: &str,
        cmd: RolloutCommand,
        undo_revision: Option<i64>,
    ) -> Result<(url::Url, Value), ArgoError> {
        check_name("namespace", namespace)?;
        check_name("name", name)?;
        let base = ["rollouts", namespace, name];
        Ok(match cmd {
            RolloutCommand::Promote | RolloutCommand::PromoteFull => (
                self.endpoint(&[base[0], base[1], base[2], "promote"]),
                json!({ "full": cmd == RolloutCommand::PromoteFull }),
            ),
            RolloutCommand::Abort => (
                self.endpoint(&[base[0], base[1], base[2], "abort"]),
                json!({}),
            ),
            RolloutCommand::Retry => (
                self.endpoint(&[base[0], base[1], base[2], "retry"]),
                json!({}),
            ),
            RolloutCommand::Undo => {
                let rev = match undo_revision {
                    Some(r) if r >= 0 => r,
                    Some(r) => {
                        return Err(ArgoError::Invalid(format!(
                            "undo needs a revision ≥ 0, not {r}"
                        )));
                    }
                    None => {
                        return Err(ArgoError::Invalid(
                            "undo needs the revision to roll back to".into(),
                        ));
                    }
                };
                let rev = rev.to_string();
                (
                    self.endpoint(&[base[0], base[1], base[2], "undo", &rev]),
                    json!({}),
                )
            }
        })
    }

    /// The request shown in confirmations, e.g.
    /// `PUT /rollouts/api/v1/rollouts/ml/recsys/promote {"full":false}`. An undo without a
    /// valid revision shows `undo/<revision>`.
    pub fn request_line(
        &self,
        namespace: &str,
        name: &str,
        cmd: RolloutCommand,
        undo_revision: Option<i64>,
    ) -> String {
        match self.command(namespace, name, cmd, undo_revision) {
            Ok((u, body)) => format!("PUT {} {body}", u.path()),
            Err(_) => {
                let u = self.endpoint(&["rollouts", namespace, name, "undo"]);
                format!("PUT {}/<revision> {{}}", u.path())
            }
        }
    }

    /// Send a command: `PUT …/promote {"full":bool}`, `…/abort {}`, `…/retry {}`,
    /// `…/undo/{revision} {}`. The caller checks `domain::rollout::allowed` first; a reply
    /// without an answer is `Unknown` and must be followed by a re-read, never a blind retry.
    pub async fn send(
        &self,
        namespace: &str,
        name: &str,
        cmd: RolloutCommand,
        undo_revision: Option<i64>,
    ) -> Result<(), ArgoError> {
        let (url, body) = self.command(namespace, name, cmd, undo_revision)?;
        let r = self
            .http
            .send_json(Method::PUT, &url, &body)
            .await
            .map_err(|e| match e {
                WriteError::NotSent(m) => ArgoError::Down(m),
                WriteError::Unknown(m) => ArgoError::Unknown(m),
            })?;
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            let action = match cmd {
                RolloutCommand::PromoteFull => "fully promote",
                other => other.word(),
            };
            Err(self.api_error(
                r.status,
                &r.body,
                &Target {
                    action,
                    namespace,
                    name: Some(name),
                },
            ))
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_zero_values_read_as_zero_none_and_empty() {
        let r = parse_rollout(&json!({"objectMeta": {"name": "recsys"}, "status": "Healthy"}));
        assert_eq!(r.name, "recsys");
        assert_eq!(r.namespace, "");
        assert_eq!(r.status, "Healthy");
        assert_eq!(r.step, None);
        assert_eq!(r.set_weight, None);
        assert_eq!(r.actual_weight, None);
        assert_eq!(
            (r.ready, r.current, r.desired, r.updated, r.available),
            (0, 0, 0, 0, 0)
        );
        assert!(r.replica_sets.is_empty() && r.analysis_runs.is_empty() && r.steps.is_empty());
        let rs = parse_replica_set(&json!({"revision": 3, "stable": true}));
        assert_eq!(
            rs,
            ReplicaSetInfo {
                revision: 3,
                stable: true,
                ..Default::default()
            }
        );
        let ar = parse_analysis_run(&json!({"objectMeta": {"name": "a"}, "status": "Running"}));
        assert_eq!(
            (ar.successful, ar.failed, ar.inconclusive, ar.error),
            (0, 0, 0, 0)
        );
        assert!(parse_rollout_list(&json!({})).is_empty());
    }

    #[test]
    fn step_is_read_from_current_slash_total() {
        assert_eq!(parse_step("1/8"), Some((1, 8)));
        assert_eq!(parse_step("8/8"), Some((8, 8)));
        assert_eq!(parse_step("8"), None);
        assert_eq!(parse_step("a/8"), None);
        let r = parse_rollout(&json!({"step": "3/8"}));
        assert_eq!(r.step, Some((3, 8)));
    }

    #[test]
    fn weights_arrive_as_strings_and_counts_as_numbers() {
        let r = parse_rollout(&json!({
            "setWeight": "20", "actualWeight": "15", "ready": 4, "desired": 5, "available": 4
        }));
        assert_eq!(r.set_weight, Some(20));
        assert_eq!(r.actual_weight, Some(15));
        assert_eq!((r.ready, r.desired, r.available, r.current), (4, 5, 4, 0));
        assert_eq!(parse_rollout(&json!({"setWeight": ""})).set_weight, None);
    }

    #[test]
    fn pause_durations_are_seconds_from_numbers_digit_strings_and_go_durations() {
        assert_eq!(parse_duration(&json!(30)), Some(30));
        assert_eq!(parse_duration(&json!("45")), Some(45));
        assert_eq!(parse_duration(&json!("2m")), Some(120));
        assert_eq!(parse_duration(&json!("30s")), Some(30));
        assert_eq!(parse_duration(&json!("1h30m")), Some(5400));
        assert_eq!(parse_duration(&json!("1.5h")), Some(5400));
        assert_eq!(parse_duration(&json!("500ms")), Some(0));
        assert_eq!(parse_duration(&json!("2 weeks")), None);
        assert_eq!(parse_duration(&json!("")), None);
        assert_eq!(
            parse_canary_step(&json!({"pause": {}})),
            CanaryStep::Pause(None)
        );
        assert_eq!(
            parse_canary_step(&json!({"pause": {"duration": "2m"}})),
            CanaryStep::Pause(Some(120))
        );
        assert_eq!(
            parse_canary_step(&json!({"pause": {"duration": 60}})),
            CanaryStep::Pause(Some(60))
        );
        assert!(matches!(
            parse_canary_step(&json!({"pause": {"duration": "soon"}})),
            CanaryStep::Other(_)
        ));
    }

    #[test]
    fn canary_steps_of_each_kind_are_recognised() {
        assert_eq!(
            parse_canary_step(&json!({"setWeight": 25})),
            CanaryStep::SetWeight(25)
        );
        assert_eq!(
            parse_canary_step(&json!({"analysis": {"templates": [
                {"templateName": "success-rate"}, {"templateName": "latency", "clusterScope": true}
            ]}})),
            CanaryStep::Analysis(vec!["success-rate".into(), "latency".into()])
        );
        assert_eq!(
            parse_canary_step(&json!({"setCanaryScale": {"replicas": 1}})),
            CanaryStep::Other("setCanaryScale".into())
        );
    }

    #[test]
    fn server_strings_are_sanitised() {
        let r = parse_rollout(&json!({"message": "bad\u{1b}[2Jthing\nhere"}));
        assert!(!r.message.contains('\u{1b}') && !r.message.contains('\n'));
        assert_eq!(
            server_message(br#"{"code":7,"message":"forbidden"}"#),
            "forbidden"
        );
        assert_eq!(
            server_message(b"404 page not found\n"),
            "404 page not found"
        );
        assert_eq!(server_message(b""), "no message");
    }
}
