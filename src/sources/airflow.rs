//! The Airflow REST API for retraining pipelines: a DAG's paused flag and schedule, its recent
//! runs and their task instances; triggering a run with a conf, and unpausing a DAG. Airflow 3
//! (`/api/v2`, a JWT from `POST /auth/token`) and Airflow 2 (`/api/v1`, basic auth). What the
//! real Airflow 3.3.2 answered is written down in tests/support/airflow.rs.

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use super::http::{FetchError, HttpClient, Reply, WriteError};
use crate::config::{Auth, Secret};
use crate::sanitize::clean;

/// Which REST API the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Airflow 2: `/api/v1`, basic auth (the `basic_auth` API backend must be enabled).
    V1,
    /// Airflow 3: `/api/v2`, a bearer JWT from `POST /auth/token`.
    V2,
}

impl Api {
    /// The path of the API under the server's base URL.
    pub fn prefix(self) -> &'static str {
        match self {
            Api::V1 => "api/v1",
            Api::V2 => "api/v2",
        }
    }

    /// The health route, which needs no login.
    pub fn health_path(self) -> &'static str {
        match self {
            Api::V1 => "api/v1/health",
            Api::V2 => "api/v2/monitor/health",
        }
    }

    /// Newest runs first. `-start_date` would hide the newest runs: a queued run has no start
    /// date, and SQLite sorts those last (Postgres first). `run_after` (3.x) and
    /// `execution_date` (2.x) are set from the moment a run exists.
    fn newest_runs_first(self) -> &'static str {
        match self {
            Api::V1 => "-execution_date",
            Api::V2 => "-run_after",
        }
    }
}

/// Who to log in as: the username and its password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Why an Airflow request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum AirflowError {
    /// Cannot connect or no reply in time (reads and logins), or a write that was never sent.
    Down(String),
    /// Airflow refused the username or password (the token login, or basic auth).
    LoginRejected { username: String, detail: String },
    /// Airflow wants a login and none is configured.
    LoginRequired(String),
    /// No such DAG (or not parsed yet).
    DagNotFound { dag_id: String, detail: String },
    /// The DAG has no such run.
    RunNotFound {
        dag_id: String,
        run_id: String,
        detail: String,
    },
    /// A run with this id exists already: nothing was triggered.
    DuplicateRun {
        dag_id: String,
        run_id: String,
        detail: String,
    },
    /// 400 or 422: Airflow refused the request's content; `detail` is its validation message.
    Rejected { status: u16, detail: String },
    /// Any other error status, with Airflow's own words.
    Api { status: u16, detail: String },
    /// A write that may have taken effect but got no answer: re-read, never retry blindly.
    Unknown(String),
    /// A reply that is not Airflow's JSON.
    NotAirflow(String),
    /// A request that cannot be made (an empty DAG id, …).
    Invalid(String),
}

impl std::fmt::Display for AirflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AirflowError::Down(m) => write!(
                f,
                "Airflow is unreachable: {m} (is its API server running, and is `url` right?)"
            ),
            AirflowError::LoginRejected { username, detail } => write!(
                f,
                "Airflow rejected the login of user `{username}` ({detail}): fix this \
                 pipeline's `username` and `password_env`/`password_file` in the config"
            ),
            AirflowError::LoginRequired(detail) => write!(
                f,
                "Airflow wants a login ({detail}): set `username` and \
                 `password_env`/`password_file` for this pipeline in the config"
            ),
            AirflowError::DagNotFound { dag_id, detail } => write!(
                f,
                "Airflow has no DAG `{dag_id}` ({detail}): check the DAG id; a new DAG file \
                 is known only once Airflow's DAG processor has parsed it"
            ),
            AirflowError::RunNotFound {
                dag_id,
                run_id,
                detail,
            } => write!(f, "DAG `{dag_id}` has no run `{run_id}` ({detail})"),
            AirflowError::DuplicateRun {
                dag_id,
                run_id,
                detail,
            } => write!(
                f,
                "DAG `{dag_id}` already has a run `{run_id}` (HTTP 409: {detail}): nothing was \
                 triggered; use another run id, or none and Airflow names the run"
            ),
            AirflowError::Rejected { status, detail } => {
                write!(f, "Airflow refused the request (HTTP {status}): {detail}")
            }
            AirflowError::Api { status, detail } => {
                let hint = match status {
                    401 => " (the session token was not accepted; nothing was done, try again)",
                    403 => " (the user lacks the permission for this)",
                    404 => {
                        " (no such API route: check `url` and the API version; /api/v1 is \
                         gone in Airflow 3, /api/v2 is new in it)"
                    }
                    _ => "",
                };
                write!(f, "HTTP {status} from Airflow: {detail}{hint}")
            }
            AirflowError::Unknown(m) => write!(
                f,
                "outcome unknown: {m} (re-read the DAG's runs before sending it again)"
            ),
            AirflowError::NotAirflow(m) | AirflowError::Invalid(m) => f.write_str(m),
        }
    }
}

/// A DAG as the console shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dag {
    pub dag_id: String,
    pub is_paused: bool,
    /// The schedule in Airflow's words: a cron expression or preset (`0 0 * * 0`); `None`
    /// when the DAG runs only when triggered.
    pub schedule: Option<String>,
    /// Airflow's description of the schedule ("Never, external triggers only").
    pub schedule_description: Option<String>,
    /// When the next scheduled run is due (unix seconds), if Airflow says.
    pub next_run: Option<f64>,
    /// Its file is gone or no longer defines it (3.x `is_stale`, 2.x `is_active: false`).
    pub stale: bool,
    pub has_import_errors: bool,
}

/// The state of a DAG run: `queued → running → success | failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Queued,
    Running,
    Success,
    Failed,
    /// Anything else Airflow may add (cleaned).
    Other(String),
}

impl RunState {
    pub fn parse(s: &str) -> RunState {
        match s {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "success" => RunState::Success,
            "failed" => RunState::Failed,
            other => RunState::Other(clean(other, 40)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Success => "success",
            RunState::Failed => "failed",
            RunState::Other(s) => s,
        }
    }

    /// The run will not change state by itself any more.
    pub fn is_finished(&self) -> bool {
        matches!(self, RunState::Success | RunState::Failed)
    }
}

/// One run of a DAG.
#[derive(Debug, Clone, PartialEq)]
pub struct DagRun {
    pub run_id: String,
    pub dag_id: String,
    pub state: RunState,
    /// `manual`, `scheduled`, `backfill`, `asset_triggered`, …
    pub run_type: String,
    /// Unix seconds; `None` for runs triggered with `logical_date: null` (3.x).
    pub logical_date: Option<f64>,
    /// When the run may start (3.x `run_after`; 2.x: `execution_date`).
    pub run_after: Option<f64>,
    pub queued_at: Option<f64>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// As sent when triggered (`{}` when none). Raw: clean its strings before showing them.
    pub conf: Value,
    pub note: Option<String>,
}

/// The state of a task instance. Airflow leaves it `null` until the scheduler looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Scheduled,
    Queued,
    Running,
    Success,
    Failed,
    UpstreamFailed,
    Skipped,
    UpForRetry,
    UpForReschedule,
    Restarting,
    Deferred,
    Removed,
    AwaitingInput,
    Other(String),
}

impl TaskState {
    pub fn parse(s: &str) -> TaskState {
        match s {
            "scheduled" => TaskState::Scheduled,
            "queued" => TaskState::Queued,
            "running" => TaskState::Running,
            "success" => TaskState::Success,
            "failed" => TaskState::Failed,
            "upstream_failed" => TaskState::UpstreamFailed,
            "skipped" => TaskState::Skipped,
            "up_for_retry" => TaskState::UpForRetry,
            "up_for_reschedule" => TaskState::UpForReschedule,
            "restarting" => TaskState::Restarting,
            "deferred" => TaskState::Deferred,
            "removed" => TaskState::Removed,
            "awaiting_input" => TaskState::AwaitingInput,
            other => TaskState::Other(clean(other, 40)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
            TaskState::UpstreamFailed => "upstream_failed",
            TaskState::Skipped => "skipped",
            TaskState::UpForRetry => "up_for_retry",
            TaskState::UpForReschedule => "up_for_reschedule",
            TaskState::Restarting => "restarting",
            TaskState::Deferred => "deferred",
            TaskState::Removed => "removed",
            TaskState::AwaitingInput => "awaiting_input",
            TaskState::Other(s) => s,
        }
    }
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInstance {
    pub task_id: String,
    /// `None` until the scheduler has looked at it.
    pub state: Option<TaskState>,
    /// 0 before the first try.
    pub try_number: u32,
    /// -1 unless the task is mapped.
    pub map_index: i64,
    pub start: Option<f64>,
    pub end: Option<f64>,
}

/// The API's health reply: each component (`metadatabase`, `scheduler`, `triggerer`,
/// `dag_processor`) and its status (`healthy`, `unhealthy`, or none for a component not run).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    pub components: Vec<(String, Option<String>)>,
}

/// A command that changes Airflow's state.
#[derive(Debug, Clone, PartialEq)]
pub enum AirflowCommand {
    /// Start a run of `dag_id` with `conf`; Airflow names the run when `run_id` is `None`.
    Trigger {
        dag_id: String,
        conf: Value,
        run_id: Option<String>,
    },
    /// Let the scheduler run the DAG (new DAGs start paused).
    Unpause { dag_id: String },
}

// ---------------------------------------------------------------------------------------------
// Parsing: missing or null fields get defaults, never a panic.

fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(clean(s, 250)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}

fn time(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_str).and_then(parse_time)
}

/// An RFC 3339 / ISO 8601 date-time as Airflow writes it (`2026-12-04T18:39:53.148085Z`,
/// `…+00:00`) → unix seconds. A missing offset is read as UTC.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        frac = format!("0.{}", &s[start..i]).parse().ok()?;
    }
    let offset = match &s[i..] {
        "" | "Z" | "z" => 0,
        tz => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = match tz.len() {
                6 if tz.as_bytes()[3] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                5 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                3 => (num(i + 1..i + 3)?, 0),
                _ => return None,
            };
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A 2.x `schedule_interval` object: `{"__type": "CronExpression", "value": "0 0 * * 0"}`,
/// `{"__type": "TimeDelta", "days": 1, "seconds": 0, …}`, …
fn schedule_interval(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(clean(s, 120)),
        Value::Object(_) => {
            if let Some(s) = text(v, "value") {
                return Some(s);
            }
            if v.get("__type").and_then(Value::as_str) == Some("TimeDelta") {
                let days = v.get("days").and_then(Value::as_i64).unwrap_or(0);
                let secs = v.get("seconds").and_then(Value::as_i64).unwrap_or(0);
                let total = Duration::from_secs((days * 86_400 + secs).max(0) as u64);
                return Some(format!("every {}", humantime::format_duration(total)));
            }
            text(v, "__type")
        }
        _ => None,
    }
}

/// A DAG object (`GET /dags/{id}`, `PATCH /dags/{id}`) of either API version.
pub fn parse_dag(v: &Value) -> Dag {
    Dag {
        dag_id: text(v, "dag_id").unwrap_or_default(),
        is_paused: flag(v, "is_paused").unwrap_or(false),
        schedule: text(v, "timetable_summary")
            .or_else(|| v.get("schedule_interval").and_then(schedule_interval))
            .filter(|s| !s.is_empty()),
        schedule_description: text(v, "timetable_description").filter(|s| !s.is_empty()),
        next_run: time(v, "next_dagrun_run_after")
            .or_else(|| time(v, "next_dagrun_create_after"))
            .or_else(|| time(v, "next_dagrun_logical_date"))
            .or_else(|| time(v, "next_dagrun")),
        stale: flag(v, "is_stale").unwrap_or(false) || flag(v, "is_active") == Some(false),
        has_import_errors: flag(v, "has_import_errors").unwrap_or(false),
    }
}

/// A DAG run object (`dag_runs[]`, the trigger's reply) of either API version.
pub fn parse_run(v: &Value) -> DagRun {
    // 2.x calls the logical date `execution_date` (2.2+ sends both).
    let logical_date = time(v, "logical_date").or_else(|| time(v, "execution_date"));
    DagRun {
        run_id: text(v, "dag_run_id")
            .or_else(|| text(v, "run_id"))
            .unwrap_or_default(),
        dag_id: text(v, "dag_id").unwrap_or_default(),
        state: v
            .get("state")
            .and_then(Value::as_str)
            .map_or(RunState::Other(String::new()), RunState::parse),
        run_type: text(v, "run_type").unwrap_or_default(),
        logical_date,
        run_after: time(v, "run_after").or(logical_date),
        queued_at: time(v, "queued_at"),
        start: time(v, "start_date"),
        end: time(v, "end_date"),
        conf: match v.get("conf") {
            Some(c @ Value::Object(_)) => c.clone(),
            _ => json!({}),
        },
        note: text(v, "note").filter(|s| !s.is_empty()),
    }
}

fn list<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// `{"dag_runs": [...], "total_entries": N}`; runs without an id are left out.
pub fn parse_runs(v: &Value) -> Vec<DagRun> {
    list(v, "dag_runs")
        .map(parse_run)
        .filter(|r| !r.run_id.is_empty())
        .collect()
}

/// One task instance object.
pub fn parse_task_instance(v: &Value) -> TaskInstance {
    TaskInstance {
        task_id: text(v, "task_id").unwrap_or_default(),
        state: v
            .get("state")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(TaskState::parse),
        try_number: v
            .get("try_number")
            .and_then(Value::as_u64)
            .map_or(0, |n| n.min(u32::MAX as u64) as u32),
        map_index: v.get("map_index").and_then(Value::as_i64).unwrap_or(-1),
        start: time(v, "start_date"),
        end: time(v, "end_date"),
    }
}

/// `{"task_instances": [...], "total_entries": N}`.
pub fn parse_task_instances(v: &Value) -> Vec<TaskInstance> {
    list(v, "task_instances")
        .map(parse_task_instance)
        .filter(|t| !t.task_id.is_empty())
        .collect()
}

/// The health reply: `{"metadatabase": {"status": "healthy"}, "scheduler": {"status": …,
/// "latest_scheduler_heartbeat": …}, …}`.
pub fn parse_health(v: &Value) -> Health {
    Health {
        components: v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, c)| c.is_object())
            .map(|(name, c)| (clean(name, 40), text(c, "status")))
            .collect(),
    }
}

/// Airflow's own words from an error reply. 3.x (FastAPI) sends `{"detail": "…"}`, a list of
/// validation errors for 422 (`{"detail": [{"loc": ["body", "logical_date"], "msg": …}]}`), or
/// an object for database conflicts (`{"detail": {"reason": …, "message": …}}`); an unknown
/// route gives `{"error": "…"}`. 2.x sends problem JSON `{"title", "detail", "status"}`.
pub fn server_detail(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let t = clean(String::from_utf8_lossy(body).trim(), 200);
        return if t.is_empty() { "no message".into() } else { t };
    };
    let detail = match v.get("detail") {
        Some(Value::String(s)) => clean(s, 300),
        Some(Value::Array(errors)) => errors
            .iter()
            .map(|e| {
                let at = list(e, "loc")
                    .map(|l| match l {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(".");
                let msg = text(e, "msg").unwrap_or_else(|| clean(&e.to_string(), 120));
                if at.is_empty() {
                    msg
                } else {
                    format!("{at}: {msg}")
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(o @ Value::Object(_)) => {
            // The "message" of a conflict points at a server log id: the reason says more.
            text(o, "reason")
                .or_else(|| text(o, "message"))
                .unwrap_or_else(|| clean(&o.to_string(), 200))
        }
        _ => String::new(),
    };
    let title = text(&v, "title").filter(|t| !t.is_empty() && !detail.contains(t.as_str()));
    let out = match (title, detail.is_empty()) {
        (Some(t), false) => format!("{t}: {detail}"),
        (Some(t), true) => t,
        (None, false) => detail,
        (None, true) => text(&v, "error")
            .or_else(|| text(&v, "message"))
            .unwrap_or_else(|| clean(&v.to_string(), 200)),
    };
    clean(&out, 400)
}

/// `exp` and `iat` (unix seconds) of a JWT, read without verifying it: only to know when to
/// log in again.
pub fn jwt_times(token: &str) -> (Option<f64>, Option<f64>) {
    let claims = token
        .split('.')
        .nth(1)
        .and_then(base64url_decode)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let get = |k: &str| {
        claims
            .as_ref()
            .and_then(|c| c.get(k))
            .and_then(Value::as_f64)
    };
    (get("exp"), get("iat"))
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// How long before a token expires it is replaced.
const RENEW_BEFORE: f64 = 60.0;

/// Whether a token that expires at `expires` (issued at `issued`) must be replaced at `now`:
/// 60 s before it expires, or halfway through its life if that is shorter. A token whose
/// expiry cannot be read is kept until Airflow refuses it.
pub fn token_needs_renewal(expires: Option<f64>, issued: Option<f64>, now: f64) -> bool {
    let Some(exp) = expires else { return false };
    let margin = match issued {
        Some(iat) if exp > iat => RENEW_BEFORE.min((exp - iat) / 2.0),
        _ => RENEW_BEFORE,
    };
    now >= exp - margin
}

// ---------------------------------------------------------------------------------------------
// The client

/// A logged-in session (3.x): a client that sends the bearer token.
struct Session {
    http: HttpClient,
    expires: Option<f64>,
    issued: Option<f64>,
    /// Tells sessions apart, so that a refused token clears only itself.
    serial: u64,
}

#[derive(Default)]
struct Sessions {
    current: Option<Session>,
    logins: u64,
}

/// What a request is about, to name it in errors.
#[derive(Clone, Copy)]
enum About<'a> {
    Dag(&'a str),
    Run(&'a str, &'a str),
    Trigger(&'a str, Option<&'a str>),
    Server,
}

/// An Airflow REST API client over the shared HTTP client.
#[derive(Clone)]
pub struct AirflowClient {
    base: url::Url,
    api: Api,
    credentials: Option<Credentials>,
    timeout: Duration,
    max_body: usize,
    /// 2.x: basic auth (or none). 3.x: no auth; logs in, and serves when there is no login.
    plain: HttpClient,
    sessions: Arc<tokio::sync::Mutex<Sessions>>,
}

fn check_id(kind: &str, s: &str) -> Result<(), AirflowError> {
    if s.trim().is_empty() {
        Err(AirflowError::Invalid(format!("the {kind} is empty")))
    } else {
        Ok(())
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

impl AirflowClient {
    /// A client for the Airflow at `base` (the web server's URL, without `/api/…`). With 3.x
    /// the credentials log in for a token on first use; with 2.x they go as basic auth.
    pub fn new(
        base: url::Url,
        api: Api,
        credentials: Option<Credentials>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<AirflowClient, String> {
        let auth = match (&credentials, api) {
            (Some(c), Api::V1) => Auth::Basic {
                username: c.username.clone(),
                password: c.password.clone(),
            },
            _ => Auth::None,
        };
        let plain = HttpClient::new(timeout, &[], &auth, max_body)?;
        Ok(AirflowClient {
            base,
            api,
            credentials,
            timeout,
            max_body,
            plain,
            sessions: Default::default(),
        })
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// How many times this client (and its clones) logged in for a token so far.
    pub async fn logins(&self) -> u64 {
        self.sessions.lock().await.logins
    }

    /// `{base}/{path}/{segments…}`, each segment escaped (run ids hold `+` and `:`).
    fn url(&self, path: &str, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        u.set_query(None);
        u.set_fragment(None);
        let p = format!("{}/{path}", u.path().trim_end_matches('/'));
        u.set_path(&p);
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        u
    }

    fn endpoint(&self, segments: &[&str]) -> url::Url {
        self.url(self.api.prefix(), segments)
    }

    /// The client to send with: 3.x with credentials logs in when there is no token or it
    /// is about to expire. Returns the session's serial (0: no session).
    async fn client(&self) -> Result<(HttpClient, u64), AirflowError> {
        let Some(creds) = self.credentials.as_ref().filter(|_| self.api == Api::V2) else {
            return Ok((self.plain.clone(), 0));
        };
        // Held across the login, so that concurrent requests wait for one login.
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = &sessions.current
            && !token_needs_renewal(s.expires, s.issued, super::unix_now())
        {
            return Ok((s.http.clone(), s.serial));
        }
        let (token, expires, issued) = self.login(creds).await?;
        let http = HttpClient::new(
            self.timeout,
            &[],
            &Auth::Bearer {
                token: Secret::new(token),
            },
            self.max_body,
        )
        .map_err(|e| AirflowError::NotAirflow(format!("unusable token from Airflow: {e}")))?;
        sessions.logins += 1;
        let serial = sessions.logins;
        sessions.current = Some(Session {
            http: http.clone(),
            expires,
            issued,
            serial,
        });
        Ok((http, serial))
    }

    /// Forget a session whose token Airflow refused (unless another one replaced it already).
    async fn drop_session(&self, serial: u64) {
        let mut sessions = self.sessions.lock().await;
        if sessions
            .current
            .as_ref()
            .is_some_and(|s| s.serial == serial)
        {
            sessions.current = None;
        }
    }

    /// `POST {base}/auth/token {"username", "password"}` → `{"access_token"}` (201).
    async fn login(
        &self,
        creds: &Credentials,
    ) -> Result<(String, Option<f64>, Option<f64>), AirflowError> {
        let url = self.url("auth/token", &[]);
        let body = json!({"username": creds.username, "password": creds.password.expose()});
        let r = self
            .plain
            .send_json(Method::POST, &url, &body)
            .await
            .map_err(|e| match e {
                // Logging in changes nothing: a lost reply is just an unreachable server.
                WriteError::NotSent(m) | WriteError::Unknown(m) => AirflowError::Down(m),
            })?;
        if !is_success(r.status) {
            let detail = server_detail(&r.body);
            return Err(match r.status {
                401 | 403 => AirflowError::LoginRejected {
                    username: clean(&creds.username, 80),
                    detail: format!("HTTP {}: {detail}", r.status),
                },
                404 | 405 => AirflowError::Api {
                    status: r.status,
                    detail: format!(
                        "{detail} (POST {} has no token login: is this Airflow 3?)",
                        url.path()
                    ),
                },
                s => AirflowError::Api { status: s, detail },
            });
        }
        let v = self.json(&r)?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AirflowError::NotAirflow(format!(
                    "Airflow's token reply has no access_token: {}",
                    clean(&v.to_string(), 80)
                ))
            })?;
        let (expires, issued) = jwt_times(token);
        Ok((token.to_string(), expires, issued))
    }

    /// A refused session token (3.x): 401 (`Token Expired`, `Not authenticated`) or 403
    /// `Invalid JWT token` (signed by another secret, e.g. after a reinstall).
    fn token_refused(&self, r: &Reply, serial: u64) -> bool {
        serial != 0
            && (r.status == 401
                || (r.status == 403 && server_detail(&r.body).to_lowercase().contains("jwt")))
    }

    fn json(&self, r: &Reply) -> Result<Value, AirflowError> {
        serde_json::from_slice(&r.body).map_err(|e| {
            let head = String::from_utf8_lossy(&r.body[..r.body.len().min(80)]).into_owned();
            let hint = if head.trim_start().starts_with('<') {
                " (an HTML page: is `url` the Airflow server's base URL?)"
            } else {
                ""
            };
            AirflowError::NotAirflow(format!(
                "invalid reply from Airflow (not JSON: {e}){hint}: {}",
                clean(&head, 80)
            ))
        })
    }

    fn decode(&self, r: &Reply, about: About) -> Result<Value, AirflowError> {
        if is_success(r.status) {
            return self.json(r);
        }
        Err(self.api_error(r, about))
    }

    fn api_error(&self, r: &Reply, about: About) -> AirflowError {
        let detail = server_detail(&r.body);
        let api_route_missing = serde_json::from_slice::<Value>(&r.body)
            .is_ok_and(|v| v.get("detail").is_none() && v.get("error").is_some());
        match (r.status, about) {
            (401, _) if self.credentials.is_none() => AirflowError::LoginRequired(detail),
            (401, _) if self.api == Api::V1 => AirflowError::LoginRejected {
                username: self
                    .credentials
                    .as_ref()
                    .map(|c| clean(&c.username, 80))
                    .unwrap_or_default(),
                detail,
            },
            (403, _) if self.api == Api::V1 => AirflowError::Api {
                status: 403,
                detail: format!(
                    "{detail} (Airflow 2 answers 403 to a wrong username or password too, and \
                     when the basic_auth API backend is not enabled)"
                ),
            },
            (404, _) if api_route_missing => AirflowError::Api {
                status: 404,
                detail,
            },
            (404, About::Run(dag, run)) if detail.contains("DagRun") => AirflowError::RunNotFound {
                dag_id: clean(dag, 250),
                run_id: clean(run, 250),
                detail,
            },
            (404, About::Dag(dag) | About::Run(dag, _) | About::Trigger(dag, _)) => {
                AirflowError::DagNotFound {
                    dag_id: clean(dag, 250),
                    detail,
                }
            }
            (409, About::Trigger(dag, run)) => AirflowError::DuplicateRun {
                dag_id: clean(dag, 250),
                run_id: clean(run.unwrap_or("?"), 250),
                detail,
            },
            (400 | 422, _) => AirflowError::Rejected {
                status: r.status,
                detail,
            },
            (status, _) => AirflowError::Api { status, detail },
        }
    }

    /// GET a JSON reply. A refused session token is renewed once and the read sent again.
    async fn read(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        about: About<'_>,
    ) -> Result<Value, AirflowError> {
        let url = self.endpoint(segments);
        let mut renewed = false;
        loop {
            let (http, serial) = self.client().await?;
            let r = http.get(&url, query).await.map_err(|e| match e {
                FetchError::Transport(m) => AirflowError::Down(m),
                FetchError::Reply(m) => AirflowError::NotAirflow(m),
            })?;
            if !renewed && self.token_refused(&r, serial) {
                self.drop_session(serial).await;
                renewed = true;
                continue;
            }
            return self.decode(&r, about);
        }
    }

    /// The method, URL and JSON body of a command: one place, for sending and for showing.
    fn command_request(
        &self,
        cmd: &AirflowCommand,
    ) -> Result<(Method, url::Url, Value), AirflowError> {
        match cmd {
            AirflowCommand::Trigger {
                dag_id,
                conf,
                run_id,
            } => {
                check_id("DAG id", dag_id)?;
                let mut body = serde_json::Map::new();
                if let Some(id) = run_id {
                    check_id("run id", id)?;
                    body.insert("dag_run_id".into(), json!(id));
                }
                if self.api == Api::V2 {
                    // Required by 3.x (422 without it); null: "now", as a manual run.
                    body.insert("logical_date".into(), Value::Null);
                }
                body.insert("conf".into(), conf.clone());
                Ok((
                    Method::POST,
                    self.endpoint(&["dags", dag_id, "dagRuns"]),
                    Value::Object(body),
                ))
            }
            AirflowCommand::Unpause { dag_id } => {
                check_id("DAG id", dag_id)?;
                let mut url = self.endpoint(&["dags", dag_id]);
                url.set_query(Some("update_mask=is_paused"));
                Ok((Method::PATCH, url, json!({"is_paused": false})))
            }
        }
    }

    /// The request a command sends, as the confirmation shows it, e.g.
    /// `POST /api/v2/dags/recsys_retrain/dagRuns {"conf":{…},"logical_date":null}`.
    pub fn request_line(&self, cmd: &AirflowCommand) -> String {
        match self.command_request(cmd) {
            Ok((method, url, body)) => {
                let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{method} {}{query} {body}", url.path())
            }
            Err(e) => format!("(cannot be sent: {e})"),
        }
    }

    /// Send a command once. A reply that never came is `Unknown`: re-read, never resend.
    pub async fn send(&self, cmd: &AirflowCommand) -> Result<Value, AirflowError> {
        let (method, url, body) = self.command_request(cmd)?;
        let (http, serial) = self.client().await?;
        let r = http
            .send_json(method, &url, &body)
            .await
            .map_err(|e| match e {
                WriteError::NotSent(m) => AirflowError::Down(m),
                WriteError::Unknown(m) => AirflowError::Unknown(m),
            })?;
        if self.token_refused(&r, serial) {
            // Refused before it was carried out; the next command logs in again. Not resent
            // here: a command is sent once per confirmation.
            self.drop_session(serial).await;
        }
        let about = match cmd {
            AirflowCommand::Trigger { dag_id, run_id, .. } => {
                About::Trigger(dag_id, run_id.as_deref())
            }
            AirflowCommand::Unpause { dag_id } => About::Dag(dag_id),
        };
        self.decode(&r, about)
    }

    /// `GET /dags/{dag_id}`: paused flag, schedule, next run.
    pub async fn dag(&self, dag_id: &str) -> Result<Dag, AirflowError> {
        check_id("DAG id", dag_id)?;
        let v = self
            .read(&["dags", dag_id], &[], About::Dag(dag_id))
            .await?;
        Ok(parse_dag(&v))
    }

    /// The newest `limit` runs of a DAG, newest first.
    pub async fn runs(&self, dag_id: &str, limit: usize) -> Result<Vec<DagRun>, AirflowError> {
        check_id("DAG id", dag_id)?;
        let query = [
            ("order_by", self.api.newest_runs_first().to_string()),
            ("limit", limit.to_string()),
        ];
        let v = self
            .read(&["dags", dag_id, "dagRuns"], &query, About::Dag(dag_id))
            .await?;
        Ok(parse_runs(&v))
    }

    /// One run, e.g. to re-read after a trigger whose outcome is unknown.
    pub async fn run(&self, dag_id: &str, run_id: &str) -> Result<DagRun, AirflowError> {
        check_id("DAG id", dag_id)?;
        check_id("run id", run_id)?;
        let v = self
            .read(
                &["dags", dag_id, "dagRuns", run_id],
                &[],
                About::Run(dag_id, run_id),
            )
            .await?;
        Ok(parse_run(&v))
    }

    /// The task instances of a run.
    pub async fn task_instances(
        &self,
        dag_id: &str,
        run_id: &str,
    ) -> Result<Vec<TaskInstance>, AirflowError> {
        check_id("DAG id", dag_id)?;
        check_id("run id", run_id)?;
        let v = self
            .read(
                &["dags", dag_id, "dagRuns", run_id, "taskInstances"],
                &[("limit", "100".into())],
                About::Run(dag_id, run_id),
            )
            .await?;
        Ok(parse_task_instances(&v))
    }

    /// Trigger a run with `conf` (a JSON object); returns the run as Airflow created it.
    pub async fn trigger(
        &self,
        dag_id: &str,
        conf: &Value,
        run_id: Option<String>,
    ) -> Result<DagRun, AirflowError> {
        let cmd = AirflowCommand::Trigger {
            dag_id: dag_id.to_string(),
            conf: conf.clone(),
            run_id,
        };
        let v = self.send(&cmd).await?;
        let run = parse_run(&v);
        if run.run_id.is_empty() {
            return Err(AirflowError::NotAirflow(format!(
                "Airflow's reply to the trigger names no run: {}",
                clean(&v.to_string(), 120)
            )));
        }
        Ok(run)
    }

    /// `PATCH /dags/{dag_id}?update_mask=is_paused {"is_paused": false}`; returns the DAG.
    pub async fn unpause(&self, dag_id: &str) -> Result<Dag, AirflowError> {
        let v = self
            .send(&AirflowCommand::Unpause {
                dag_id: dag_id.to_string(),
            })
            .await?;
        Ok(parse_dag(&v))
    }

    /// The health route (no login needed).
    pub async fn health(&self) -> Result<Health, AirflowError> {
        let r = self
            .plain
            .get(&self.url(self.api.health_path(), &[]), &[])
            .await
            .map_err(|e| match e {
                FetchError::Transport(m) => AirflowError::Down(m),
                FetchError::Reply(m) => AirflowError::NotAirflow(m),
            })?;
        Ok(parse_health(&self.decode(&r, About::Server)?))
    }
}

/// Which API the Airflow at `base` speaks: 3.x's `GET /api/v2/monitor/health`, else 2.x's
/// `GET /api/v1/health` (neither needs a login).
pub async fn detect(
    base: &url::Url,
    timeout: Duration,
    max_body: usize,
) -> Result<Api, AirflowError> {
    let probe = AirflowClient::new(base.clone(), Api::V2, None, timeout, max_body)
        .map_err(AirflowError::Invalid)?;
    let mut answers = Vec::new();
    for api in [Api::V2, Api::V1] {
        let url = probe.url(api.health_path(), &[]);
        let r = probe.plain.get(&url, &[]).await.map_err(|e| match e {
            FetchError::Transport(m) => AirflowError::Down(m),
            FetchError::Reply(m) => AirflowError::NotAirflow(m),
        })?;
        let v: Option<Value> = serde_json::from_slice(&r.body).ok();
        if is_success(r.status) && v.as_ref().is_some_and(|v| v.get("metadatabase").is_some()) {
            return Ok(api);
        }
        answers.push(format!(
            "{} answered HTTP {} {}",
            url.path(),
            r.status,
            server_detail(&r.body)
        ));
    }
    Err(AirflowError::NotAirflow(format!(
        "no Airflow API at {}: {}",
        clean(base.as_str(), 120),
        answers.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply captured from the real Airflow 3.3.2 (tests/fixtures/airflow/).
    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/airflow/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn raw(name: &str) -> Vec<u8> {
        serde_json::to_vec(&fixture(name)).unwrap()
    }

    fn client(api: Api, credentials: Option<Credentials>) -> AirflowClient {
        AirflowClient::new(
            url::Url::parse("http://airflow.example:8080/").unwrap(),
            api,
            credentials,
            Duration::from_secs(5),
            1 << 20,
        )
        .unwrap()
    }

    fn admin() -> Option<Credentials> {
        Some(Credentials {
            username: "admin".into(),
            password: Secret::new("admin"),
        })
    }

    fn reply(status: u16, name: &str) -> Reply {
        Reply {
            status,
            body: raw(name),
        }
    }

    #[test]
    fn times_are_rfc3339_with_z_offsets_or_none() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200.0));
        let t = parse_time("2026-12-04T18:39:53.148085Z").unwrap();
        assert!((t - 1_796_409_593.148085).abs() < 1e-5, "{t}");
        assert_eq!(
            parse_time("2026-12-04T18:39:53+00:00"),
            parse_time("2026-12-04T18:39:53Z")
        );
        assert_eq!(
            parse_time("2026-12-04T20:39:53+02:00"),
            parse_time("2026-12-04T18:39:53Z")
        );
        assert_eq!(
            parse_time("2026-12-04T13:39:53-0500"),
            parse_time("2026-12-04T18:39:53Z")
        );
        assert_eq!(
            parse_time("2026-12-04 18:39:53"),
            parse_time("2026-12-04T18:39:53Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-04T18:39",
            "2026-12-04T18:39:53.Z",
            "2026-12-04T18:39:53+0",
            "2026-12-04T18:39:53 UTC",
            "２０２６-12-04T18:39:53Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_new_dag_reads_paused_and_unscheduled() {
        let d = parse_dag(&fixture("dag_paused"));
        assert_eq!(d.dag_id, "recsys_retrain");
        assert!(d.is_paused);
        assert_eq!(
            d.schedule, None,
            "timetable_summary is null without a schedule"
        );
        assert_eq!(
            d.schedule_description.as_deref(),
            Some("Never, external triggers only")
        );
        assert_eq!(d.next_run, None);
        assert!(!d.stale && !d.has_import_errors);
        assert!(!parse_dag(&fixture("unpause")).is_paused);
    }

    #[test]
    fn a_weekly_dag_has_its_cron_and_next_run() {
        // Fields as 3.3.2 sent them for `schedule="@weekly"`, catchup off, paused.
        let d = parse_dag(&json!({
            "dag_id": "weekly", "is_paused": true, "is_stale": false,
            "timetable_summary": "0 0 * * 0",
            "timetable_description": "At 00:00, only on Sunday",
            "next_dagrun_logical_date": "2026-11-29T00:00:00Z",
            "next_dagrun_run_after": "2026-11-29T00:00:00Z"
        }));
        assert_eq!(d.schedule.as_deref(), Some("0 0 * * 0"));
        assert_eq!(d.next_run, parse_time("2026-11-29T00:00:00Z"));
        // Airflow 2's shape.
        let d = parse_dag(&json!({
            "dag_id": "weekly", "is_paused": false, "is_active": true,
            "schedule_interval": {"__type": "CronExpression", "value": "@weekly"},
            "next_dagrun": "2026-11-29T00:00:00+00:00",
            "next_dagrun_create_after": "2026-12-06T00:00:00+00:00"
        }));
        assert_eq!(d.schedule.as_deref(), Some("@weekly"));
        assert_eq!(d.next_run, parse_time("2026-12-06T00:00:00Z"));
        let d = parse_dag(
            &json!({"schedule_interval": {"__type": "TimeDelta", "days": 1, "seconds": 0}}),
        );
        assert_eq!(d.schedule.as_deref(), Some("every 1day"));
        assert!(parse_dag(&json!({"is_active": false})).stale);
    }

    #[test]
    fn odd_json_gives_defaults_not_panics() {
        for v in [
            json!(null),
            json!([]),
            json!("x"),
            json!({"dag_id": 7, "is_paused": "yes", "next_dagrun_run_after": 5}),
        ] {
            let _ = parse_dag(&v);
            let _ = parse_run(&v);
            let _ = parse_task_instance(&v);
            assert!(parse_runs(&v).is_empty());
            assert!(parse_task_instances(&v).is_empty());
            let _ = parse_health(&v);
        }
        let r = parse_run(&json!({"dag_run_id": "r", "conf": null, "state": null}));
        assert_eq!(r.conf, json!({}));
        assert_eq!(r.state, RunState::Other(String::new()));
        assert!(parse_runs(&json!({"dag_runs": [{"state": "queued"}]})).is_empty());
    }

    #[test]
    fn a_triggered_run_carries_its_conf_and_no_logical_date() {
        let r = parse_run(&fixture("trigger"));
        assert_eq!(r.run_id, "mltop-fixture-1");
        assert_eq!(r.dag_id, "recsys_retrain");
        assert_eq!(r.state, RunState::Queued);
        assert_eq!(r.run_type, "manual");
        assert_eq!(r.logical_date, None);
        assert!(r.run_after.is_some() && r.queued_at.is_some());
        assert_eq!((r.start, r.end), (None, None));
        assert_eq!(r.conf["features"], json!(["price"]));
        assert_eq!(r.conf["psi"], json!(0.31));
        assert_eq!(r.note, None);
    }

    #[test]
    fn runs_list_reads_states_and_dates() {
        let queued = parse_runs(&fixture("runs_queued"));
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].state, RunState::Queued);
        let done = parse_runs(&fixture("runs_success"));
        let r = &done[0];
        assert_eq!(r.state, RunState::Success);
        assert!(r.state.is_finished());
        let (start, end) = (r.start.unwrap(), r.end.unwrap());
        assert!(end > start && end - start < 60.0, "{start} {end}");
        let failed = parse_runs(&fixture("runs_failed"));
        assert_eq!(failed[0].state, RunState::Failed);
        assert_eq!(failed[0].run_id, "fail-1");
    }

    #[test]
    fn task_instances_have_null_states_until_scheduled() {
        let queued = parse_task_instances(&fixture("task_instances_queued"));
        let ids: Vec<_> = queued.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["validate_data", "train", "register"]);
        assert!(
            queued
                .iter()
                .all(|t| t.state.is_none() && t.try_number == 0)
        );
        assert!(
            queued
                .iter()
                .all(|t| t.map_index == -1 && t.start.is_none())
        );
        let done = parse_task_instances(&fixture("task_instances_success"));
        assert!(done.iter().all(|t| t.state == Some(TaskState::Success)));
        assert!(done.iter().all(|t| t.try_number == 1 && t.end >= t.start));
        let running = parse_task_instances(&fixture("task_instances_running"));
        assert_eq!(running[0].state, Some(TaskState::Running));
        assert_eq!(running[1].state, None);
        let failed = parse_task_instances(&fixture("task_instances_failed"));
        assert_eq!(failed[0].state, Some(TaskState::Failed));
        assert_eq!(failed[1].state, Some(TaskState::UpstreamFailed));
        assert_eq!(failed[1].try_number, 0, "never tried");
        assert_eq!(
            TaskState::parse("brand_new").as_str(),
            "brand_new",
            "unknown states are kept"
        );
    }

    #[test]
    fn health_lists_each_component() {
        let h = parse_health(&fixture("health"));
        let names: Vec<_> = h.components.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["dag_processor", "metadatabase", "scheduler", "triggerer"]
        );
        assert!(
            h.components
                .iter()
                .all(|(_, s)| s.as_deref() == Some("healthy"))
        );
    }

    #[test]
    fn jwt_expiry_is_read_and_renewed_a_minute_early() {
        let v = fixture("token");
        let token = v["access_token"].as_str().unwrap();
        let (exp, iat) = jwt_times(token);
        let (exp, iat) = (exp.unwrap(), iat.unwrap());
        assert_eq!(exp - iat, 86_400.0, "Airflow's tokens live 24 h");
        assert!(!token_needs_renewal(Some(exp), Some(iat), iat + 10.0));
        assert!(!token_needs_renewal(Some(exp), Some(iat), exp - 61.0));
        assert!(token_needs_renewal(Some(exp), Some(iat), exp - 59.0));
        assert!(token_needs_renewal(Some(exp), Some(iat), exp + 1.0));
        // A short-lived token is renewed halfway, not on every request.
        assert!(!token_needs_renewal(Some(100.0), Some(0.0), 40.0));
        assert!(token_needs_renewal(Some(100.0), Some(0.0), 50.0));
        // Unreadable: kept until Airflow refuses it.
        assert_eq!(jwt_times("not-a-jwt"), (None, None));
        assert_eq!(jwt_times("a.!!!.c"), (None, None));
        assert!(!token_needs_renewal(None, None, 1e12));
    }

    #[test]
    fn base64url_decodes_without_padding() {
        assert_eq!(base64url_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64url_decode("Zm9vYg").unwrap(), b"foob");
        assert_eq!(base64url_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64url_decode("a b"), None);
    }

    #[test]
    fn airflow_error_bodies_become_one_line() {
        assert_eq!(
            server_detail(&raw("dag_404")),
            "The Dag with ID: `nope` was not found"
        );
        assert_eq!(
            server_detail(&raw("trigger_422")),
            "body.logical_date: Field required"
        );
        assert_eq!(
            server_detail(&raw("trigger_409")),
            "Unique constraint violation"
        );
        assert_eq!(server_detail(&raw("route_404")), "API route not found");
        assert_eq!(
            server_detail(
                br#"{"detail":"DAG with dag_id: 'x' not found","status":404,"title":"DAG not found","type":"https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/NotFound"}"#
            ),
            "DAG not found: DAG with dag_id: 'x' not found"
        );
        assert_eq!(
            server_detail(b"<html>\x1b[2Jbad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(server_detail(b""), "no message");
    }

    #[test]
    fn statuses_map_to_errors_that_say_what_to_do() {
        let c = client(Api::V2, admin());
        let e = c.api_error(&reply(404, "dag_404"), About::Dag("nope"));
        assert!(matches!(&e, AirflowError::DagNotFound { dag_id, .. } if dag_id == "nope"));
        assert!(
            e.to_string().contains("`nope`") && e.to_string().contains("parsed"),
            "{e}"
        );
        let e = c.api_error(&reply(404, "trigger_404"), About::Trigger("nope", None));
        assert!(matches!(e, AirflowError::DagNotFound { .. }), "{e:?}");
        let e = c.api_error(
            &reply(404, "task_instances_404"),
            About::Run("recsys_retrain", "nope"),
        );
        assert!(matches!(e, AirflowError::RunNotFound { .. }), "{e:?}");
        let e = c.api_error(
            &reply(409, "trigger_409"),
            About::Trigger("recsys_retrain", Some("r1")),
        );
        assert!(matches!(&e, AirflowError::DuplicateRun { run_id, .. } if run_id == "r1"));
        assert!(e.to_string().contains("nothing was triggered"), "{e}");
        let e = c.api_error(&reply(422, "trigger_422"), About::Trigger("d", None));
        assert_eq!(
            e.to_string(),
            "Airflow refused the request (HTTP 422): body.logical_date: Field required"
        );
        let e = c.api_error(&reply(404, "v1_on_v3_404"), About::Dag("d"));
        assert!(matches!(e, AirflowError::Api { status: 404, .. }), "{e:?}");
        assert!(e.to_string().contains("/api/v1 has been removed"), "{e}");
        let anonymous = client(Api::V2, None);
        let e = anonymous.api_error(&reply(401, "no_auth_401"), About::Dag("d"));
        assert!(matches!(e, AirflowError::LoginRequired(_)), "{e:?}");
        let v1 = client(Api::V1, admin());
        let e = v1.api_error(&reply(401, "no_auth_401"), About::Dag("d"));
        assert!(matches!(e, AirflowError::LoginRejected { .. }), "{e:?}");
    }

    #[test]
    fn refused_tokens_are_401s_and_403_invalid_jwt() {
        let c = client(Api::V2, admin());
        assert!(c.token_refused(&reply(401, "no_auth_401"), 1));
        assert!(c.token_refused(&reply(403, "invalid_jwt_403"), 1));
        assert!(
            !c.token_refused(&reply(401, "no_auth_401"), 0),
            "no session"
        );
        let forbidden = Reply {
            status: 403,
            body: br#"{"detail":"Forbidden"}"#.to_vec(),
        };
        assert!(!c.token_refused(&forbidden, 1));
    }

    #[test]
    fn request_lines_show_the_exact_body() {
        let conf = json!({"model": "recsys", "reason": "drift"});
        let v2 = client(Api::V2, admin());
        let trigger = AirflowCommand::Trigger {
            dag_id: "recsys_retrain".into(),
            conf: conf.clone(),
            run_id: None,
        };
        assert_eq!(
            v2.request_line(&trigger),
            r#"POST /api/v2/dags/recsys_retrain/dagRuns {"conf":{"model":"recsys","reason":"drift"},"logical_date":null}"#
        );
        let named = AirflowCommand::Trigger {
            dag_id: "recsys_retrain".into(),
            conf,
            run_id: Some("retrain 1+2".into()),
        };
        assert_eq!(
            client(Api::V1, admin()).request_line(&named),
            r#"POST /api/v1/dags/recsys_retrain/dagRuns {"conf":{"model":"recsys","reason":"drift"},"dag_run_id":"retrain 1+2"}"#
        );
        assert_eq!(
            v2.request_line(&AirflowCommand::Unpause {
                dag_id: "recsys_retrain".into()
            }),
            r#"PATCH /api/v2/dags/recsys_retrain?update_mask=is_paused {"is_paused":false}"#
        );
        assert!(
            v2.request_line(&AirflowCommand::Unpause { dag_id: " ".into() })
                .contains("DAG id is empty")
        );
    }

    #[test]
    fn ids_are_escaped_as_path_segments_under_a_base_path() {
        let c = AirflowClient::new(
            url::Url::parse("https://ops.example/airflow/").unwrap(),
            Api::V2,
            None,
            Duration::from_secs(5),
            1024,
        )
        .unwrap();
        let u = c.endpoint(&[
            "dags",
            "recsys_retrain",
            "dagRuns",
            "manual__2026-12-04T18:39:43.323368+00:00",
            "taskInstances",
        ]);
        assert_eq!(
            u.path(),
            "/airflow/api/v2/dags/recsys_retrain/dagRuns/manual__2026-12-04T18:39:43.323368+00:00/taskInstances"
        );
        let u = c.endpoint(&["dags", "a/b?c"]);
        assert_eq!(u.path(), "/airflow/api/v2/dags/a%2Fb%3Fc");
        assert_eq!(c.url("auth/token", &[]).path(), "/airflow/auth/token");
    }
}
