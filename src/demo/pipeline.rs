//! The simulated Airflow behind `mltop --demo`: the retraining pipelines `recsys_retrain`
//! (model `recsys-ranker`) and `fraud_retrain` (`fraud-detector`, paused), answering Airflow 3's
//! REST API (`/api/v2`, a bearer token from `POST /auth/token`) in Airflow's own JSON, so the
//! production adapter ([`crate::sources::airflow::AirflowClient`]) reads it unchanged. The shapes
//! follow what a real Airflow 3.3.2 answered (recorded in `tests/support/airflow.rs` and
//! `tests/fixtures/airflow/`): every field present, `null` where unset, times as RFC 3339 with
//! microseconds and `Z`, errors as `{"detail": …}`.
//!
//! The story (`DEMO.md`): weekly scheduled runs, mostly successful — the ones that registered
//! recsys-ranker v10, v11 and v12 — one that failed in `train` eight days ago, and a manual run
//! two days ago that registered v13. A run triggered through the API is `queued`, `running` two
//! demo seconds later (`validate_data` 5 s, `train` 20 s, `register` 5 s) and `success` about 32
//! demo seconds after the trigger; on success it **registers the next version of the model in
//! the demo registry as `challenger`**, with a better `ndcg_at_10` — the CT → CD loop closes on
//! screen. Nothing ticks in the background: each request first advances the state to now.
//!
//! Semantics reproduced: `logical_date` is required in a trigger (may be null) else 422; a
//! duplicate `dag_run_id` is a 409; an unknown DAG is a 404; triggering a paused DAG queues a run
//! that does not start until the DAG is unpaused (`PATCH /dags/{id} {"is_paused": false}`);
//! without a valid token every `/api/v2` route but health is a 401 (`Not authenticated`) or 403
//! (`Invalid JWT token`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use color_eyre::eyre::{Result, WrapErr};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::registry::Registry;

/// The demo login.
pub const USERNAME: &str = "admin";
pub const PASSWORD: &str = "admin";
/// How long a token lives (Airflow's default: 24 h).
const TOKEN_LIFETIME: f64 = 86_400.0;
const DAY: f64 = 86_400.0;
/// The tasks of a retraining run and their demo durations, in order.
const TASKS: [(&str, f64); 3] = [("validate_data", 5.0), ("train", 20.0), ("register", 5.0)];
/// A triggered run starts this many demo seconds after it was queued.
const START_DELAY: f64 = 2.0;

/// Demo time source: (unix seconds, demo seconds).
type Clock = Arc<dyn Fn() -> (f64, f64) + Send + Sync>;

#[derive(Debug, Clone)]
struct Task {
    id: &'static str,
    state: Option<&'static str>,
    start: Option<f64>,
    end: Option<f64>,
    try_number: u32,
}

#[derive(Debug, Clone)]
struct Run {
    id: String,
    run_type: &'static str,
    state: &'static str,
    queued_at: f64,
    start: Option<f64>,
    end: Option<f64>,
    logical_date: Option<f64>,
    conf: Value,
    tasks: Vec<Task>,
    /// Demo time the run was triggered (for runs that play out live).
    triggered_demo: Option<f64>,
    registered: bool,
}

#[derive(Debug)]
struct Dag {
    id: &'static str,
    model: &'static str,
    paused: bool,
    schedule: Option<&'static str>,
    runs: Vec<Run>,
}

struct Ctl {
    dags: Vec<Dag>,
    /// Demo time at which the paused DAG was unpaused, per DAG (queued runs start from then).
    unpaused_at: Vec<Option<f64>>,
    next_manual: u32,
}

struct Inner {
    ctl: Mutex<Ctl>,
    clock: Clock,
    speed: f64,
    registry: Option<Registry>,
    writes: AtomicUsize,
}

/// The simulated pipeline server. Cheap to clone (shared state).
#[derive(Clone)]
pub struct PipelineSim {
    inner: Arc<Inner>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn iso(t: f64) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0))).to_string()
}

fn opt_iso(t: Option<f64>) -> Value {
    t.map(|t| Value::String(iso(t))).unwrap_or(Value::Null)
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A past run that finished: scheduled weekly at midnight, or manual.
fn past_run(
    id: String,
    run_type: &'static str,
    start: f64,
    minutes: f64,
    failed_task: Option<usize>,
    conf: Value,
) -> Run {
    let mut t = start + 3.0;
    let mut tasks = Vec::new();
    let mut failed = false;
    for (i, (task, share)) in TASKS.iter().enumerate() {
        let len = minutes * 60.0 * share / 30.0;
        let state = if failed {
            Some("upstream_failed")
        } else if failed_task == Some(i) {
            failed = true;
            Some("failed")
        } else {
            Some("success")
        };
        let ran = state != Some("upstream_failed");
        tasks.push(Task {
            id: task,
            state,
            start: ran.then_some(t),
            end: ran.then_some(t + len),
            try_number: u32::from(ran),
        });
        if ran {
            t += len;
        }
    }
    Run {
        id,
        run_type,
        state: if failed { "failed" } else { "success" },
        queued_at: start - 1.0,
        start: Some(start),
        end: Some(t + 1.0),
        logical_date: (run_type == "scheduled").then_some(start),
        conf,
        tasks,
        triggered_demo: None,
        registered: true,
    }
}

/// Midnight UTC `days` days before `now`.
fn midnight_days_ago(now: f64, days: f64) -> f64 {
    ((now - days * DAY) / DAY).floor() * DAY
}

fn scheduled_id(t: f64) -> String {
    format!("scheduled__{}", iso(t).replace(".000000Z", "+00:00"))
}

fn history(now: f64) -> Vec<Run> {
    // Newest first. The versions they registered match the demo registry's.
    let mut runs = vec![past_run(
        format!("manual__{}", iso(now - 2.0 * DAY - 4.0 * 3600.0)),
        "manual",
        now - 2.0 * DAY - 4.0 * 3600.0 - 41.0 * 60.0,
        41.0,
        None,
        json!({"model": "recsys-ranker", "reason": "manual", "features": [], "psi": null, "requested_by": "oncall"}),
    )];
    for (days, failed) in [(8.0, Some(1)), (15.0, None), (22.0, None), (29.0, None)] {
        let start = midnight_days_ago(now, days);
        runs.push(past_run(
            scheduled_id(start),
            "scheduled",
            start,
            41.0,
            failed,
            json!({}),
        ));
    }
    runs
}

impl PipelineSim {
    /// The demo's pipelines, on the world's demo clock, registering new versions in `registry`.
    pub fn demo(world: Arc<super::World>, registry: Option<Registry>, speed: f64) -> PipelineSim {
        PipelineSim::with_clock(
            move || (unix_now(), world.demo_now().unwrap_or(0.0)),
            registry,
            speed,
        )
    }

    /// With an injected clock returning (unix seconds, demo seconds); `speed` is demo seconds
    /// per real second (for the timestamps of live runs).
    pub fn with_clock(
        clock: impl Fn() -> (f64, f64) + Send + Sync + 'static,
        registry: Option<Registry>,
        speed: f64,
    ) -> PipelineSim {
        let (now, _) = clock();
        let dags = vec![
            Dag {
                id: "recsys_retrain",
                model: "recsys-ranker",
                paused: false,
                schedule: Some("0 0 * * 4"),
                runs: history(now),
            },
            Dag {
                id: "fraud_retrain",
                model: "fraud-detector",
                paused: true,
                schedule: Some("@monthly"),
                runs: vec![past_run(
                    format!("scheduled__{}", iso(midnight_days_ago(now, 34.0))),
                    "scheduled",
                    midnight_days_ago(now, 34.0),
                    25.0,
                    None,
                    json!({}),
                )],
            },
        ];
        PipelineSim {
            inner: Arc::new(Inner {
                ctl: Mutex::new(Ctl {
                    unpaused_at: vec![None; dags.len()],
                    dags,
                    next_manual: 1,
                }),
                clock: Arc::new(clock),
                speed: if speed.is_finite() && speed > 0.0 {
                    speed
                } else {
                    1.0
                },
                registry,
                writes: AtomicUsize::new(0),
            }),
        }
    }

    /// Trigger and unpause requests received (answered or refused).
    pub fn write_count(&self) -> usize {
        self.inner.writes.load(Ordering::Relaxed)
    }

    /// Routes: `POST /auth/token`, `GET /api/v2/monitor/health`, `GET|PATCH /api/v2/dags/{id}`,
    /// `GET|POST /api/v2/dags/{id}/dagRuns`, `GET …/dagRuns/{run}`,
    /// `GET …/dagRuns/{run}/taskInstances`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/auth/token", post(token))
            .route("/api/v2/monitor/health", get(health))
            .route("/api/v2/dags/{dag}", get(dag_get).patch(dag_patch))
            .route("/api/v2/dags/{dag}/dagRuns", get(runs_list).post(trigger))
            .route("/api/v2/dags/{dag}/dagRuns/{run}", get(run_get))
            .route(
                "/api/v2/dags/{dag}/dagRuns/{run}/taskInstances",
                get(tasks_list),
            )
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"error": "API route not found"})),
                )
            })
            .with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Ctl> {
        self.inner
            .ctl
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lock the state and play live runs forward to now.
    fn sync(&self) -> MutexGuard<'_, Ctl> {
        let (unix, demo) = (self.inner.clock)();
        let speed = self.inner.speed;
        let mut ctl = self.lock();
        let Ctl {
            dags, unpaused_at, ..
        } = &mut *ctl;
        for (d, dag) in dags.iter_mut().enumerate() {
            let model = dag.model;
            for run in dag.runs.iter_mut() {
                let Some(t0) = run.triggered_demo else {
                    continue;
                };
                // A run queued on a paused DAG starts once it is unpaused.
                let begin = match (dag.paused, unpaused_at[d]) {
                    (true, _) => continue,
                    (false, Some(u)) if u > t0 => u,
                    _ => t0,
                } + START_DELAY;
                let at = |demo_t: f64| unix - (demo - demo_t) / speed;
                if demo < begin {
                    continue;
                }
                run.state = "running";
                run.start = Some(at(begin));
                let mut t = begin;
                for task in run.tasks.iter_mut() {
                    let len = TASKS
                        .iter()
                        .find(|(id, _)| *id == task.id)
                        .map(|x| x.1)
                        .unwrap_or(5.0);
                    if demo < t {
                        break;
                    }
                    task.start = Some(at(t));
                    task.try_number = 1;
                    if demo < t + len {
                        task.state = Some("running");
                        break;
                    }
                    task.state = Some("success");
                    task.end = Some(at(t + len));
                    t += len;
                }
                if run.tasks.iter().all(|t| t.state == Some("success")) {
                    run.state = "success";
                    run.end = Some(at(t + 1.0));
                    if !run.registered {
                        run.registered = true;
                        if let Some(reg) = &self.inner.registry {
                            register_challenger(reg, model, &run.conf);
                        }
                    }
                }
            }
        }
        ctl
    }
}

/// The pipeline's `register` task: log the new model as the next version and make it the
/// challenger, with better metrics than the current champion's (a fresh model on fresh data).
fn register_challenger(reg: &Registry, model: &str, conf: &Value) {
    let base = reg
        .alias(model, "champion")
        .and_then(|v| reg.version_metrics(model, &v))
        .unwrap_or_default();
    let get = |k: &str, d: f64| {
        base.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .unwrap_or(d)
    };
    let metrics: Vec<(&str, f64)> = if model == "recsys-ranker" {
        vec![
            ("ndcg_at_10", get("ndcg_at_10", 0.41) + 0.013),
            ("recall_at_20", get("recall_at_20", 0.31) + 0.009),
            ("auc", get("auc", 0.79) + 0.006),
        ]
    } else {
        vec![("auc", get("auc", 0.96) + 0.004)]
    };
    let version = reg.register_version(model, &metrics);
    let _ = reg.set_alias(model, "challenger", &version);
    let reason = conf.get("reason").cloned().unwrap_or(Value::Null);
    tracing::info!(%model, %version, %reason, "demo pipeline registered a challenger");
}

fn dag_json(d: &Dag, unix: f64) -> Value {
    let next = d.schedule.map(|_| midnight_days_ago(unix, -1.0));
    json!({
        "dag_id": d.id,
        "dag_display_name": d.id,
        "is_paused": d.paused,
        "is_stale": false,
        "last_parsed_time": iso(unix - 7.0),
        "last_parse_duration": 0.09,
        "last_expired": null,
        "bundle_name": "dags-folder",
        "bundle_version": null,
        "relative_fileloc": format!("{}.py", d.id),
        "fileloc": format!("/opt/airflow/dags/{}.py", d.id),
        "description": format!("Retrain {} and register it as challenger", d.model),
        "timetable_summary": d.schedule,
        "timetable_description": d.schedule.map(|s| if s.starts_with('@') { "Monthly" } else { "At 00:00, only on Thursday" }),
        "timetable_partitioned": false,
        "timetable_periodic": d.schedule.is_some(),
        "tags": [{"name": "retrain", "dag_id": d.id, "dag_display_name": d.id}],
        "max_active_tasks": 16,
        "max_active_runs": 16,
        "max_consecutive_failed_dag_runs": 0,
        "has_task_concurrency_limits": false,
        "has_import_errors": false,
        "next_dagrun_logical_date": opt_iso(next),
        "next_dagrun_data_interval_start": opt_iso(next),
        "next_dagrun_data_interval_end": opt_iso(next),
        "next_dagrun_run_after": opt_iso(next),
        "allowed_run_types": null,
        "owners": ["ml-platform"],
        "is_backfillable": d.schedule.is_some(),
        "file_token": "demo",
    })
}

fn run_json(dag: &str, r: &Run) -> Value {
    json!({
        "dag_run_id": r.id,
        "dag_id": dag,
        "logical_date": opt_iso(r.logical_date),
        "queued_at": iso(r.queued_at),
        "start_date": opt_iso(r.start),
        "end_date": opt_iso(r.end),
        "duration": match (r.start, r.end) { (Some(s), Some(e)) => json!(e - s), _ => Value::Null },
        "data_interval_start": opt_iso(r.logical_date),
        "data_interval_end": opt_iso(r.logical_date),
        "run_after": iso(r.logical_date.unwrap_or(r.queued_at)),
        "last_scheduling_decision": opt_iso(r.end.or(r.start)),
        "run_type": r.run_type,
        "state": r.state,
        "triggered_by": if r.run_type == "manual" { "rest_api" } else { "timetable" },
        "triggering_user_name": if r.run_type == "manual" { json!(USERNAME) } else { Value::Null },
        "conf": r.conf,
        "note": null,
        "dag_versions": [],
        "bundle_version": null,
        "dag_display_name": dag,
        "partition_key": null,
        "partition_date": null,
    })
}

fn task_json(dag: &str, r: &Run, t: &Task) -> Value {
    json!({
        "id": format!("{}-{}", r.id, t.id),
        "task_id": t.id,
        "dag_id": dag,
        "dag_run_id": r.id,
        "map_index": -1,
        "logical_date": opt_iso(r.logical_date),
        "run_after": iso(r.logical_date.unwrap_or(r.queued_at)),
        "start_date": opt_iso(t.start),
        "end_date": opt_iso(t.end),
        "duration": match (t.start, t.end) { (Some(s), Some(e)) => json!(e - s), _ => Value::Null },
        "state": t.state,
        "try_number": t.try_number,
        "max_tries": 0,
        "task_display_name": t.id,
        "dag_display_name": dag,
        "operator": "_PythonDecoratedOperator",
        "operator_name": "@task",
        "pool": "default_pool",
        "pool_slots": 1,
        "queue": "default",
        "priority_weight": 1,
        "note": null,
    })
}

fn reply(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn detail(status: StatusCode, msg: impl Into<String>) -> Response {
    reply(status, json!({"detail": msg.into()}))
}

/// A bearer token this server issued and that has not expired; else the reply to send.
fn check_auth(headers: &HeaderMap, unix: f64) -> Result<(), Box<Response>> {
    let Some(auth) = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return Err(Box::new(detail(
            StatusCode::UNAUTHORIZED,
            "Not authenticated",
        )));
    };
    let valid = auth
        .split('.')
        .nth(1)
        .and_then(|p| {
            let (exp, _) = crate::sources::airflow::jwt_times(&format!("x.{p}.y"));
            exp
        })
        .is_some_and(|exp| exp > unix)
        && auth.ends_with(".demo");
    if valid {
        Ok(())
    } else {
        Err(Box::new(detail(StatusCode::FORBIDDEN, "Invalid JWT token")))
    }
}

async fn token(State(sim): State<PipelineSim>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = v.get("username").and_then(Value::as_str) == Some(USERNAME)
        && v.get("password").and_then(Value::as_str) == Some(PASSWORD);
    if !ok {
        return detail(StatusCode::UNAUTHORIZED, "Invalid credentials");
    }
    let (unix, _) = (sim.inner.clock)();
    let header = base64url(br#"{"alg":"HS512","typ":"JWT"}"#);
    let claims = base64url(
        json!({"sub": USERNAME, "aud": "apache-airflow", "iat": unix.floor(), "nbf": unix.floor(), "exp": (unix + TOKEN_LIFETIME).floor()})
            .to_string()
            .as_bytes(),
    );
    reply(
        StatusCode::CREATED,
        json!({"access_token": format!("{header}.{claims}.demo")}),
    )
}

async fn health(State(sim): State<PipelineSim>) -> Response {
    let beat = iso((sim.inner.clock)().0 - 2.0);
    reply(
        StatusCode::OK,
        json!({
            "metadatabase": {"status": "healthy"},
            "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": beat},
            "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": beat},
            "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": beat},
        }),
    )
}

fn not_found(dag: &str) -> Response {
    detail(
        StatusCode::NOT_FOUND,
        format!("The Dag with ID: `{dag}` was not found"),
    )
}

async fn dag_get(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path(dag): Path<String>,
) -> Response {
    let (unix, _) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let ctl = sim.sync();
    match ctl.dags.iter().find(|d| d.id == dag) {
        Some(d) => reply(StatusCode::OK, dag_json(d, unix)),
        None => not_found(&dag),
    }
}

async fn dag_patch(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path(dag): Path<String>,
    body: Bytes,
) -> Response {
    sim.inner.writes.fetch_add(1, Ordering::Relaxed);
    let (unix, demo) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let Some(paused) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("is_paused").and_then(Value::as_bool))
    else {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "missing", "loc": ["body", "is_paused"], "msg": "Field required", "input": null}]}),
        );
    };
    let mut ctl = sim.sync();
    let Some(i) = ctl.dags.iter().position(|d| d.id == dag) else {
        return not_found(&dag);
    };
    if ctl.dags[i].paused && !paused {
        ctl.unpaused_at[i] = Some(demo);
    }
    ctl.dags[i].paused = paused;
    reply(StatusCode::OK, dag_json(&ctl.dags[i], unix))
}

async fn runs_list(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path(dag): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (unix, _) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let limit = q
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(50);
    let ctl = sim.sync();
    let Some(d) = ctl.dags.iter().find(|d| d.id == dag) else {
        return not_found(&dag);
    };
    // Runs are kept newest first (by run_after), as `order_by=-run_after` asks.
    let runs: Vec<Value> = d
        .runs
        .iter()
        .take(limit)
        .map(|r| run_json(d.id, r))
        .collect();
    reply(
        StatusCode::OK,
        json!({"dag_runs": runs, "total_entries": d.runs.len(), "total_entries_limit": null, "next_cursor": null, "previous_cursor": null}),
    )
}

async fn run_get(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path((dag, run)): Path<(String, String)>,
) -> Response {
    let (unix, _) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let ctl = sim.sync();
    let Some(d) = ctl.dags.iter().find(|d| d.id == dag) else {
        return not_found(&dag);
    };
    match d.runs.iter().find(|r| r.id == run) {
        Some(r) => reply(StatusCode::OK, run_json(d.id, r)),
        None => detail(
            StatusCode::NOT_FOUND,
            format!("The DagRun with dag_id: `{dag}` and run_id: `{run}` was not found"),
        ),
    }
}

async fn tasks_list(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path((dag, run)): Path<(String, String)>,
) -> Response {
    let (unix, _) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let ctl = sim.sync();
    let Some(d) = ctl.dags.iter().find(|d| d.id == dag) else {
        return not_found(&dag);
    };
    match d.runs.iter().find(|r| r.id == run) {
        Some(r) => {
            let tasks: Vec<Value> = r.tasks.iter().map(|t| task_json(d.id, r, t)).collect();
            reply(
                StatusCode::OK,
                json!({"task_instances": tasks, "total_entries": r.tasks.len()}),
            )
        }
        None => detail(
            StatusCode::NOT_FOUND,
            format!("DagRun with run_id: `{run}` was not found"),
        ),
    }
}

async fn trigger(
    State(sim): State<PipelineSim>,
    headers: HeaderMap,
    Path(dag): Path<String>,
    body: Bytes,
) -> Response {
    sim.inner.writes.fetch_add(1, Ordering::Relaxed);
    let (unix, demo) = (sim.inner.clock)();
    if let Err(r) = check_auth(&headers, unix) {
        return *r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": {}}]}),
        );
    };
    if v.get("logical_date").is_none() {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required", "input": v}]}),
        );
    }
    let mut ctl = sim.sync();
    let n = ctl.next_manual;
    let Some(d) = ctl.dags.iter_mut().find(|d| d.id == dag) else {
        return detail(
            StatusCode::NOT_FOUND,
            format!("Dag with dag_id: '{dag}' not found"),
        );
    };
    let id = v
        .get("dag_run_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("manual__{}", iso(unix)));
    if d.runs.iter().any(|r| r.id == id) {
        return reply(
            StatusCode::CONFLICT,
            json!({"detail": {"reason": "Unique constraint violation", "statement": "hidden", "orig_error": "hidden", "message": "Serious error when handling your request. Check logs for more details"}}),
        );
    }
    let run = Run {
        id,
        run_type: "manual",
        state: "queued",
        queued_at: unix,
        start: None,
        end: None,
        logical_date: None,
        conf: match v.get("conf") {
            Some(c @ Value::Object(_)) => c.clone(),
            _ => json!({}),
        },
        tasks: TASKS
            .iter()
            .map(|(id, _)| Task {
                id,
                state: None,
                start: None,
                end: None,
                try_number: 0,
            })
            .collect(),
        triggered_demo: Some(demo),
        registered: false,
    };
    let out = run_json(d.id, &run);
    d.runs.insert(0, run);
    ctl.next_manual = n + 1;
    reply(StatusCode::OK, out)
}

/// Serve on 127.0.0.1 (ephemeral port) until `cancel`.
pub async fn serve(sim: PipelineSim, cancel: CancellationToken) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .wrap_err("binding the demo pipeline server")?;
    let addr = listener.local_addr()?;
    let app = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
    });
    Ok(addr)
}
