//! A real Airflow for integration tests: PyPI's `apache-airflow==3.3.2` in a cached venv
//! (installed by the tests themselves when missing), run as `airflow standalone` on its own
//! loopback port with a fresh SQLite home, the DAGs of `tests/airflow/dags/`, and a fixed
//! `admin`/`admin` login; its whole process group is stopped when it is dropped (or, for the
//! shared server, when the test process exits). Tests never skip: a missing or broken Airflow
//! fails them loudly.
//!
//! # What Airflow 3.3.2 answered here (observed with this harness and curl, Dec 2026)
//!
//! `airflow standalone` with SQLite, the LocalExecutor and the simple auth manager. The exact
//! replies are kept in `tests/fixtures/airflow/*.json` (the unit tests of
//! `src/sources/airflow.rs` parse them); `runs_failed`, `task_instances_failed` and
//! `task_instances_running` come from a throwaway DAG `zz_tmp_failing` whose first task raised.
//!
//! **Envelope.** uvicorn/FastAPI: `application/json` with a `content-length`, compact JSON
//! (no spaces). Objects carry **every** field: an absent value is `null`, never omitted; an
//! empty list is `[]`. Dates are RFC 3339 in UTC with `Z` and usually microseconds
//! (`2026-12-04T18:39:53.148085Z`; `start_date` of a DAG's details came as
//! `2024-01-01T00:00:00Z`), but the health heartbeats use `+00:00`
//! (`2026-12-04T18:43:55.991018+00:00`) and so do the run ids Airflow makes. Durations are
//! float seconds (`"duration": 5.995377`).
//!
//! **Errors** are `{"detail": …}` where `detail` is
//! - a string: 401 `"Not authenticated"` (no or non-bearer `Authorization`; **basic auth gets
//!   this too**), 401 `"Token Expired"`, 401 `"Invalid credentials"` (token login), **403**
//!   `"Invalid JWT token"` (bad signature), 400 `"Ordering with 'bogus' is disallowed or the
//!   attribute does not exist on the model"`, and the 404s below;
//! - a **list** for request validation (422): `[{"type": "missing", "loc": ["body",
//!   "logical_date"], "msg": "Field required", "input": {…}}]`; also `extra_forbidden`
//!   ("Extra inputs are not permitted") for an unknown body field, `dict_type` for a conf that
//!   is not an object, `bool_parsing` for `"is_paused": "maybe"`,
//!   `datetime_from_date_parsing` for `"logical_date": "yesterday"`;
//! - an **object** for a duplicate run id (409): `{"reason": "Unique constraint violation",
//!   "statement": "hidden", "orig_error": "hidden", "message": "Serious error when handling
//!   your request. Check logs for more details - you will find it in api server when you look
//!   for ID 25xteCSR"}`.
//! - The token login's own 422 (a missing field) is a **string** holding pydantic's text:
//!   `"1 validation error for LoginBody\npassword\n  Field required [type=missing, …"`.
//!
//! Routes that do not exist answer `{"error": …}` instead: `/api/v1/…` → 404 `{"error":
//! "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2
//! instead."}`, an unknown `/api/v2/…` route → 404 `{"error": "API route not found"}`. `/`
//! is the HTML UI. The 404 wording for a missing DAG differs per route:
//! - `GET /api/v2/dags/nope` and `GET …/nope/dagRuns` → `"The Dag with ID: `nope` was not found"`;
//! - `POST …/dags/nope/dagRuns` → `"Dag with dag_id: 'nope' not found"`;
//! - `PATCH …/dags/nope` → `"Dag with id: nope was not found"`;
//! - `GET …/dagRuns/nope` → `"The DagRun with dag_id: `recsys_retrain` and run_id: `nope` was
//!   not found"`; `GET …/dagRuns/nope/taskInstances` → the same without "The ".
//!
//! **Auth.** `POST /auth/token` (not under `/api/v2`) with `{"username", "password"}` →
//! **201** `{"access_token": "<JWT>"}`; a wrong password or unknown user → 401
//! `{"detail": "Invalid credentials"}`. The JWT is HS512, header `{"alg": "HS512", "kid":
//! "not-used", "typ": "JWT"}`, claims `{"sub": "admin", "role": "admin", "teams": [], "jti",
//! "aud": "apache-airflow", "nbf", "exp", "iat"}` with `exp = iat + 86400` (24 h,
//! `[api_auth] jwt_expiration_time`). An expired token → 401 `Token Expired` (so renewing on a
//! 401 is right); one signed with another secret → **403** `Invalid JWT token`.
//!
//! **Health and version** need no login: `GET /api/v2/monitor/health` → 200
//! `{"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy",
//! "latest_scheduler_heartbeat": "…+00:00"}, "triggerer": {"status", "latest_triggerer_heartbeat"},
//! "dag_processor": {"status", "latest_dag_processor_heartbeat"}}`; `GET /api/v2/version` →
//! `{"version": "3.3.2", "git_version": ".release:aa19d2db…"}`.
//!
//! **DAG**: `GET /api/v2/dags/{id}` (also the `PATCH` reply and each of `GET /api/v2/dags` →
//! `{"dags": […], "total_entries": N}`), fields in this order: `dag_id`, `dag_display_name`,
//! `is_paused`, `is_stale`, `last_parsed_time`, `last_parse_duration` (s), `last_expired`,
//! `bundle_name` (`"dags-folder"`), `bundle_version`, `relative_fileloc`
//! (`"recsys_retrain.py"`), `fileloc`, `description`, `timetable_summary`,
//! `timetable_description`, `timetable_partitioned`, `timetable_periodic`, `tags` (`[{"name",
//! "dag_id", "dag_display_name"}]`), `max_active_tasks` (16), `max_active_runs` (16),
//! `max_consecutive_failed_dag_runs`, `has_task_concurrency_limits`, `has_import_errors`,
//! `next_dagrun_logical_date`, `next_dagrun_data_interval_start`,
//! `next_dagrun_data_interval_end`, `next_dagrun_run_after`, `allowed_run_types`, `owners`
//! (`["airflow"]`), `is_backfillable`, `file_token`. **2.x names are gone**: no
//! `schedule_interval` (the schedule is `timetable_summary`), no `is_active` (see `is_stale`),
//! no `next_dagrun`. With `schedule=None`: `timetable_summary: null`, `timetable_description:
//! "Never, external triggers only"`, `timetable_periodic: false`, all four `next_dagrun_*`
//! null. With `schedule="@weekly"`, catchup off, paused: `timetable_summary: "0 0 * * 0"` (the
//! cron, not the preset), `"At 00:00, only on Sunday"`, `timetable_periodic: true`, and all
//! four `next_dagrun_*` = `"2026-11-29T00:00:00Z"` (the last Sunday before now; interval start
//! equals end). `GET …/dags/{id}/details` adds `catchup`, `doc_md`, `start_date`, `params`,
//! `timezone`, `active_runs_count`, `latest_dag_version`, …. A new DAG is `is_paused: true`;
//! the DAG processor had parsed `recsys_retrain` by the time the health said healthy (0.1 s
//! after), a file added later within 5 s.
//!
//! **Unpause**: `PATCH /api/v2/dags/{id}?update_mask=is_paused {"is_paused": false}` → 200 with
//! the DAG (`is_paused: false`); unpausing an unpaused DAG is a 200 too.
//!
//! **Trigger**: `POST /api/v2/dags/{id}/dagRuns` with `{"dag_run_id"?, "logical_date": null,
//! "conf": {…}}` → **200** (not 201) with the run. The body schema allows only `dag_run_id`,
//! `data_interval_start`, `data_interval_end`, `logical_date` (**required**, may be null),
//! `run_after`, `conf` (object or null; null is stored as `{}`), `note`, `partition_key`.
//! Without `dag_run_id` Airflow names the run `manual__` + `run_after` with `+00:00`:
//! `manual__2026-12-04T18:39:43.323368+00:00` (it works unescaped as a path segment). A run
//! triggered on a paused DAG is accepted and stays `queued` until the DAG is unpaused, then runs.
//!
//! **Run** object, fields in order: `dag_run_id`, `dag_id`, `logical_date` (null when
//! triggered with null), `queued_at`, `start_date` (null while queued), `end_date`, `duration`
//! (null until finished), `data_interval_start`, `data_interval_end` (both null here),
//! `run_after` (always set), `last_scheduling_decision`, `run_type` (`"manual"`), `state`,
//! `triggered_by` (`"rest_api"`), `triggering_user_name` (`"admin"`), `conf`, `note`,
//! `dag_versions` (`[{"id", "version_number", "dag_id", "bundle_name", "bundle_version",
//! "created_at", "dag_display_name", "bundle_url"}]`), `bundle_version`, `dag_display_name`,
//! `partition_key`, `partition_date`. States: `queued → running → success | failed` (the enum
//! has exactly these four). A run of the three trivial tasks: queued to running in ~1-10 s
//! (scheduler loop), running to success in 5-6 s.
//!
//! **Runs list**: `GET /api/v2/dags/{id}/dagRuns?order_by=-run_after&limit=N` →
//! `{"dag_runs": […], "total_entries": N, "total_entries_limit": null, "next_cursor": null,
//! "previous_cursor": null}`. The parameter is still `order_by` (repeatable, default `id`);
//! allowed: `id, state, dag_id, run_id, logical_date, partition_date, run_after, start_date,
//! end_date, updated_at, conf, duration, dag_run_id`. **`-start_date` hides new runs**: a
//! queued run has `start_date: null` and SQLite sorts nulls last, so with a small `limit` the
//! run just triggered is missing; `-run_after` lists it first. `limit=0` → `[]` with the total.
//!
//! **Task instances**: `GET …/dagRuns/{run_id}/taskInstances` → `{"task_instances": […],
//! "total_entries": 3, "total_entries_limit": null, "next_cursor": null, "previous_cursor":
//! null}`, in creation order (validate_data, train, register). Fields: `id` (uuid7),
//! `task_id`, `dag_id`, `dag_run_id`, `map_index` (-1), `logical_date`, `run_after`,
//! `start_date`, `end_date`, `duration`, `state`, `try_number`, `max_tries`,
//! `task_display_name`, `dag_display_name`, `hostname` (`""` until run), `unixname`, `pool`,
//! `pool_slots`, `queue`, `priority_weight`, `operator` (`"_PythonDecoratedOperator"`),
//! `operator_name` (`"@task"`), `queued_when`, `scheduled_when`, `pid`, `executor`,
//! `executor_config` (the **string** `"{}"`), `note`, `rendered_map_index`, `rendered_fields`
//! (`{}`, then `{"templates_dict": null, "op_args": [], "op_kwargs": {}}`), `trigger`,
//! `triggerer_job`, `dag_version`. `state` is **null** until the scheduler picks the task
//! (`try_number: 0`), then `running`/`success` with `try_number: 1`; a failing task is
//! `failed` (try 1) and its downstream `upstream_failed` with `try_number: 0` and `start_date
//! == end_date`. The state enum: `removed, scheduled, queued, running, success, restarting,
//! failed, up_for_retry, up_for_reschedule, upstream_failed, skipped, deferred,
//! awaiting_input`.
//!
//! **Airflow 2 (`/api/v1`) differs** (not run here; from its API reference): basic auth
//! (wrong credentials gave 403 in backends.md), problem JSON errors `{"detail", "status",
//! "title", "type"}`, `execution_date` beside `logical_date`, `schedule_interval` as
//! `{"__type": "CronExpression", "value"}` or `{"__type": "TimeDelta", "days", "seconds",
//! "microseconds"}`, `is_active`, `next_dagrun`/`next_dagrun_create_after`, and no
//! `logical_date` requirement on trigger.
//!
//! **The server**: ten processes in one group (standalone, scheduler, dag-processor, two
//! triggerer processes, api_server, two serve-logs, two LocalExecutor workers), ~1.5 GB RSS
//! together with `PARALLELISM=2`. Healthy (API, scheduler, DAG processor) 11-18 s after spawn
//! on 2 cores, `db migrate` included. The serve-logs processes bind **all interfaces** on
//! 8793/8794 whatever `[api] host` says, hence a free port for each per server. On SIGTERM to
//! the group a triggerer was still alive 10 s later. Installing the venv took 34 s (294 MB).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::mlflow::{group_rss_kib, http_request_with_headers, kill_group};
use super::prometheus::{free_port, http_get, tail};
use super::venv::{PinnedVenv, progress};

/// The pinned Airflow.
pub const AIRFLOW_VERSION: &str = "3.3.2";
/// The login every harness server has (simple auth manager, role admin).
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin";
/// The retraining DAG of `tests/airflow/dags/recsys_retrain.py`.
pub const RETRAIN_DAG: &str = "recsys_retrain";

pub const VENV: PinnedVenv = PinnedVenv {
    name: "Airflow",
    package: "apache-airflow",
    version: AIRFLOW_VERSION,
    command: "airflow",
    env_var: "MLTOP_AIRFLOW_VENV",
    marker: ".mltop-airflow-installed",
    dir: "airflow-3.3.2",
    cost: "~1 min, ~300 MB",
};

/// From spawn to a healthy scheduler and DAG processor: 13-21 s seen on 2 cores, more while
/// another build runs.
const READY_TIMEOUT: Duration = Duration::from_secs(150);
/// A DAG file is parsed within a refresh interval (5 s) of the DAG processor's start.
const DAG_TIMEOUT: Duration = Duration::from_secs(90);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 4;

/// The venv with `apache-airflow==3.3.2` (see [`PinnedVenv::ensure`]); panics loudly.
pub fn airflow_venv() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| VENV.ensure()).clone()
}

/// `tests/airflow/dags/`, the DAGs folder of every harness server.
pub fn dags_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/airflow/dags")
}

/// An `airflow standalone` of the test's own on `127.0.0.1:port`: API server, scheduler (local
/// executor, 2 worker slots), DAG processor and triggerer, with a SQLite home in a temp dir.
pub struct AirflowServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// How long the start took until the API, scheduler and DAG processor were healthy.
    pub startup: Duration,
    started: Instant,
    dir: TempDir,
    log: PathBuf,
    child: Option<Child>,
}

impl AirflowServer {
    /// One server for the whole test binary, started on first use and waited on until
    /// `recsys_retrain` is parsed.
    ///
    /// Why shared: a server is ten Python processes (~1.6 GB RSS) and takes 13-21 s to become
    /// healthy on CI's 2 cores; one per test would make the tests' start-up the bulk of CI
    /// time and could not run several at once in memory. Tests sharing it must not assume a
    /// pristine server: they name their own runs, and those that set the DAG's paused flag
    /// hold [`AirflowServer::dag_lock`]. A static is never dropped, so its process
    /// group is stopped by the watchdog (see `launch`) when the test process exits, and its
    /// temp dir removed by a reaper.
    pub fn shared() -> &'static AirflowServer {
        static SHARED: OnceLock<Result<AirflowServer, String>> = OnceLock::new();
        let server = SHARED.get_or_init(|| {
            std::panic::catch_unwind(|| {
                let s = AirflowServer::start_with(true);
                let healthy = s.startup;
                s.wait_for_dag(RETRAIN_DAG);
                progress(&format!(
                    "Airflow {AIRFLOW_VERSION} healthy on {} after {:.1} s, {RETRAIN_DAG} \
                     parsed {:.1} s later ({} MB RSS)",
                    s.url,
                    healthy.as_secs_f64(),
                    (s.started.elapsed() - healthy).as_secs_f64(),
                    s.rss_kib() / 1024
                ));
                s
            })
            .map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(no message)".into())
            })
        });
        match server {
            Ok(s) => s,
            Err(e) => panic!("the shared Airflow server could not be started: {e}"),
        }
    }

    /// Held by tests that trigger runs of, or change or assert the paused flag of, a DAG on
    /// the shared server, so that "the newest run" and "paused" mean what each test did.
    pub async fn dag_lock() -> tokio::sync::MutexGuard<'static, ()> {
        static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        LOCK.lock().await
    }

    /// Install Airflow if needed, start a server on a free port and block until its API,
    /// scheduler and DAG processor are healthy. Panics with the log's tail.
    pub fn start() -> AirflowServer {
        Self::start_with(false)
    }

    /// `reap_on_exit`: remove the temp dir when the test process exits (for a server that
    /// is never dropped).
    fn start_with(reap_on_exit: bool) -> AirflowServer {
        let venv = airflow_venv(); // fail (or install) before anything else
        let dir = tempfile::Builder::new()
            .prefix("mltop-airflow-")
            .tempdir()
            .expect("create temp dir for Airflow");
        let passwords = dir.path().join("passwords.json");
        fs::write(
            &passwords,
            json!({ ADMIN_USER: ADMIN_PASSWORD }).to_string(),
        )
        .expect("write the simple auth manager's passwords file");
        let log = dir.path().join("airflow.log");
        let mut server = AirflowServer {
            url: String::new(),
            port: 0,
            startup: Duration::ZERO,
            started: Instant::now(),
            dir,
            log,
            child: None,
        };
        let mut last_err = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            server.url = format!("http://127.0.0.1:{}", server.port);
            match server.launch(&venv, reap_on_exit) {
                Ok(()) => return server,
                Err(Launch::PortTaken(e)) => {
                    progress(&format!(
                        "Airflow could not take its ports (attempt {attempt}/{PORT_ATTEMPTS}): {e}"
                    ));
                    last_err = e;
                }
                Err(Launch::Failed(e)) => panic!("{e}"),
            }
        }
        panic!("Airflow found no free ports in {PORT_ATTEMPTS} attempts; last: {last_err}");
    }

    /// Stop the server now (Airflow going down): the url refuses connections afterwards.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            kill_group(child);
        }
    }

    /// The base URL the adapter takes (no `/api/…`).
    pub fn base_url(&self) -> url::Url {
        url::Url::parse(&self.url).expect("the server URL parses")
    }

    /// The temp dir holding AIRFLOW_HOME (`home/`), the passwords file and `airflow.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything `airflow standalone` and its components printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the server's whole process group, in KiB (0 when stopped).
    pub fn rss_kib(&self) -> u64 {
        self.child.as_ref().map_or(0, |c| group_rss_kib(c.id()))
    }

    /// A fresh access token for admin: `POST /auth/token`.
    pub fn token(&self) -> String {
        let (status, body) = http_request_with_headers(
            "POST",
            &format!("{}/auth/token", self.url),
            &[],
            Some(&json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD})),
            HTTP_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("POST /auth/token failed: {e}"));
        let v = to_json(body);
        match (status, v["access_token"].as_str()) {
            (201 | 200, Some(t)) => t.to_string(),
            _ => panic!("POST /auth/token: HTTP {status}: {v}"),
        }
    }

    /// `METHOD /api/v2/<path_and_query>` as admin, with an optional JSON body: the status and
    /// the reply as JSON (a non-JSON body comes back as a JSON string). Err only when the
    /// server can't be reached.
    pub fn try_api(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let token = format!("Bearer {}", self.token());
        let url = format!(
            "{}/api/v2/{}",
            self.url,
            path_and_query.trim_start_matches('/')
        );
        let (status, reply) = http_request_with_headers(
            method,
            &url,
            &[("Authorization", &token)],
            body,
            HTTP_TIMEOUT,
        )?;
        Ok((status, to_json(reply)))
    }

    /// Like [`try_api`](Self::try_api), panicking unless the reply is a 2xx.
    pub fn api(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> Value {
        match self.try_api(method, path_and_query, body) {
            Ok((200..=299, v)) => v,
            Ok((status, v)) => panic!("Airflow {method} {path_and_query}: HTTP {status}: {v}"),
            Err(e) => panic!("Airflow {method} {path_and_query} failed: {e}"),
        }
    }

    /// Pause or unpause a DAG behind the adapter's back.
    pub fn set_paused(&self, dag_id: &str, paused: bool) {
        self.api(
            "PATCH",
            &format!("dags/{dag_id}?update_mask=is_paused"),
            Some(&json!({ "is_paused": paused })),
        );
    }

    /// Block until the DAG processor has parsed `dag_id` (`GET /dags/{id}` answers 200).
    pub fn wait_for_dag(&self, dag_id: &str) {
        let deadline = Instant::now() + DAG_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.try_api("GET", &format!("dags/{dag_id}"), None) {
                Ok((200, _)) => return,
                Ok((status, v)) => last = format!("HTTP {status}: {v}"),
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(500));
        }
        let import_errors = self
            .try_api("GET", "importErrors", None)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        panic!(
            "Airflow did not parse DAG `{dag_id}` from {} within {DAG_TIMEOUT:?}; last: {last}; \
             import errors: {import_errors}\n--- {} ---\n{}",
            dags_folder().display(),
            self.log.display(),
            tail(&self.log(), 40)
        );
    }

    fn launch(&mut self, venv: &Path, reap_on_exit: bool) -> Result<(), Launch> {
        let airflow = venv.join("bin/airflow");
        let dir = self.dir.path().to_path_buf();
        let home = dir.join("home");
        fs::create_dir_all(&home).map_err(|e| Launch::Failed(format!("create home: {e}")))?;
        let logfile = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Launch::Failed(format!("open {}: {e}", self.log.display())))?;
        let log_len = logfile.metadata().map(|m| m.len()).unwrap_or(0);
        let err_log = logfile
            .try_clone()
            .map_err(|e| Launch::Failed(e.to_string()))?;
        // standalone spawns `airflow scheduler`, `airflow api-server`, … by name.
        let path = match std::env::var_os("PATH") {
            Some(p) => {
                let mut all = vec![venv.join("bin")];
                all.extend(std::env::split_paths(&p));
                std::env::join_paths(all).unwrap_or(p)
            }
            None => venv.join("bin").into_os_string(),
        };
        // `sh` runs `airflow standalone` plus a watchdog that stops the whole process group
        // when our stdin pipe closes, i.e. when this test process exits or dies without
        // running Drop (the shared server, Ctrl-C, a timeout kill). `sh` and the watchdog
        // ignore SIGTERM so that they live until Airflow has shut down; SIGTERM alone left a
        // triggerer running for 10 s here, so the KILL follows after 3 s. A server whose
        // TempDir is never dropped (the shared one) also gets a reaper, started now in a
        // session of its own so that the group's KILL spares it, which removes the temp dir
        // once the pipe closes and the group is gone.
        let watchdog = r#"exec 3<&0
case "$MLTOP_AIRFLOW_REAP" in
    */mltop-airflow-*) setsid sh -c 'read -r _; sleep 8; rm -rf "$1"' sh "$MLTOP_AIRFLOW_REAP" \
        <&3 >/dev/null 2>&1 & ;;
esac
"$0" "$@" </dev/null &
p=$!
{ trap '' TERM; read -r _ <&3; kill -TERM 0 2>/dev/null; sleep 3; kill -KILL 0 2>/dev/null; } &
trap '' TERM
wait "$p""#;
        let api = format!("http://127.0.0.1:{}", self.port);
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(watchdog).arg(&airflow).arg("standalone");
        // Nothing from the developer's own Airflow setup may leak in.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AIRFLOW") {
                cmd.env_remove(k);
            }
        }
        let started = Instant::now();
        self.started = started;
        let child = cmd
            .env("PATH", path)
            .env(
                "MLTOP_AIRFLOW_REAP",
                if reap_on_exit {
                    dir.as_os_str()
                } else {
                    "".as_ref()
                },
            )
            .env("AIRFLOW_HOME", &home)
            // SQLite with a long busy timeout: the scheduler, the DAG processor and the API
            // server write to one file, and on a loaded 2-core CI machine the default 5 s wait
            // for its lock ran out once ("500 Database error" on a request).
            .env(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{}/airflow.db?timeout=60", home.display()),
            )
            .env("AIRFLOW__CORE__DAGS_FOLDER", dags_folder())
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            // The default of 32 worker slots costs ~5 GB.
            .env("AIRFLOW__CORE__PARALLELISM", "2")
            // `user:role`; the password comes from the file.
            .env(
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                format!("{ADMIN_USER}:admin"),
            )
            .env(
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
                dir.join("passwords.json"),
            )
            .env("AIRFLOW__API__HOST", "127.0.0.1")
            .env("AIRFLOW__API__PORT", self.port.to_string())
            .env("AIRFLOW__API__BASE_URL", &api)
            .env(
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                format!("{api}/execution/"),
            )
            .env("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "5")
            // The log servers of the scheduler and triggerer bind every interface on fixed
            // ports (8793, 8794) whatever the API host is: give each server its own.
            .env(
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                free_port().to_string(),
            )
            .env(
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
                free_port().to_string(),
            )
            // No reach outside: no usage reporting.
            .env("AIRFLOW__USAGE_DATA_COLLECTION__ENABLED", "False")
            .env("SCARF_ANALYTICS", "false")
            .env("DO_NOT_TRACK", "true")
            // The DAGs folder is in the source tree: no __pycache__ there.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(logfile))
            .stderr(Stdio::from(err_log))
            .process_group(0)
            .spawn()
            .map_err(|e| Launch::Failed(format!("could not spawn {}: {e}", airflow.display())))?;
        self.child = Some(child);

        let deadline = started + READY_TIMEOUT;
        let health_url = format!("{api}/api/v2/monitor/health");
        // The API server names its address once it listens: proof that the one answering
        // on this port is ours.
        let listening = format!("Uvicorn running on {api}");
        let mut last = String::from("no answer yet");
        loop {
            let exited = self.child.as_mut().unwrap().try_wait().ok().flatten();
            let log = self.log_since(log_len);
            let port_taken = log.to_lowercase().contains("address already in use");
            if let Some(status) = exited {
                self.stop();
                return Err(if port_taken {
                    Launch::PortTaken(tail(&log, 5))
                } else {
                    Launch::Failed(format!(
                        "Airflow ({}) exited with {status} before it was ready\n--- {} ---\n{}",
                        airflow.display(),
                        self.log.display(),
                        tail(&log, 40)
                    ))
                });
            }
            if port_taken {
                self.stop();
                return Err(Launch::PortTaken(tail(&log, 5)));
            }
            if log.contains(&listening) {
                match http_get(&health_url, Duration::from_secs(5)) {
                    Ok((200, body)) => {
                        let v = to_json(body.clone());
                        let healthy = |c: &str| v[c]["status"] == "healthy";
                        if ["metadatabase", "scheduler", "dag_processor"]
                            .iter()
                            .all(|c| healthy(c))
                        {
                            self.startup = started.elapsed();
                            return Ok(());
                        }
                        last = format!("health: {body}");
                    }
                    Ok((status, body)) => last = format!("health: HTTP {status}: {body}"),
                    Err(e) => last = e,
                }
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Launch::Failed(format!(
                    "Airflow ({}) was not healthy on {health_url} within {READY_TIMEOUT:?} \
                     (last: {last})\n--- {} ---\n{}",
                    airflow.display(),
                    self.log.display(),
                    tail(&self.log_since(log_len), 40)
                )));
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let all = fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(offset as usize..).unwrap_or(&[])).into_owned()
    }
}

impl Drop for AirflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

fn to_json(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}
