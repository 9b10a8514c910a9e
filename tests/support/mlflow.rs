//! A real MLflow tracking server (with its Model Registry) for integration tests: PyPI's
//! `mlflow==3.17.2` in a cached venv (installed by the tests themselves when missing), started
//! on its own loopback port with a fresh SQLite store, seeded through its REST API, and stopped
//! (its whole process group) when dropped. Tests never skip: a missing or broken MLflow fails
//! them loudly.
//!
//! # What MLflow 3.17.2 answered here (observed with this harness and curl, Dec 2026)
//!
//! Base URL `http://127.0.0.1:PORT/api/2.0/mlflow/`. Server: uvicorn (default in 3.x) running
//! the FastAPI app that wraps the Flask handlers. JSON replies are `application/json` with a
//! `content-length` (not chunked), pretty-printed with 2-space indent for successes and on one
//! line for errors. Timestamps are integer milliseconds since the epoch (numbers, not strings).
//!
//! **Versions are strings everywhere** (`"version": "2"`). Sending a number where a version is
//! expected is a 400: `POST registered-models/alias {"version": 2}` →
//! `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value 2 for parameter
//! 'version' supplied:  Hint: Value was of type 'int'. ..."}`.
//!
//! **Error envelope** (status 400 or 404, one line):
//! `{"error_code": "...", "message": "...", "sqlstate": "KAM00", "error_class": "..."}`. Read
//! `error_code` and `message`; `sqlstate`/`error_class` are new in 3.x (`error_class` is
//! `RESOURCE_NOT_FOUND` where `error_code` is `RESOURCE_DOES_NOT_EXIST`). Seen:
//! - missing model: `GET registered-models/get?name=nope` → 404 `RESOURCE_DOES_NOT_EXIST`,
//!   `"Registered Model with name=nope not found"`;
//! - missing version: `GET model-versions/get?name=m&version=7` → 404
//!   `RESOURCE_DOES_NOT_EXIST`, `"Model Version (name=m, version=7) not found"`;
//! - bad parameter: `GET model-versions/get?...&version=abc` → 400 `INVALID_PARAMETER_VALUE`
//!   `"Parameter 'version' must be an integer, got 'abc'."`; a missing required parameter
//!   (`registered-models/get` without `name`) → 400 `INVALID_PARAMETER_VALUE` `"Missing value
//!   for required parameter 'name'. ..."`; a bad filter (`filter=bogus`) → 400
//!   `INVALID_PARAMETER_VALUE` `"Invalid clause(s) in filter string: bogus"`; `max_results`
//!   over the limit (below) or not a number → 400 `INVALID_PARAMETER_VALUE`; a garbage
//!   `page_token` → 400 `INVALID_PARAMETER_VALUE` `"Invalid page token, could not
//!   base64-decode"`;
//! - duplicates: creating an existing experiment or registered model → **400**
//!   `RESOURCE_ALREADY_EXISTS` (not 409);
//! - missing run: `GET runs/get?run_id=deadbeef` → 404 `RESOURCE_DOES_NOT_EXIST`.
//! - Non-API errors are **HTML**, not JSON: an unknown route → 404 `<!doctype html>...`, a
//!   wrong method (GET on a POST route) → 405 HTML.
//! - A POST without `Content-Type: application/json` → 400 `INVALID_PARAMETER_VALUE`
//!   `"Bad Request. Content-Type must be one of ['application/json']."`.
//! - A `Host` header that is not localhost / 127.0.0.1 / a private IP → **403 text/plain**
//!   `Invalid Host header - possible DNS rebinding attack detected` (servers reached through a
//!   DNS name must be started with `--allowed-hosts`); `/health` is exempt.
//!
//! **Empty lists are omitted, not `[]`**: an empty `registered-models/search` or
//! `model-versions/search` returns `{}`; a registered model with no versions and no aliases has
//! neither `latest_versions` nor `aliases` (`{"registered_model": {"name", "creation_timestamp",
//! "last_updated_timestamp"}}`); a run without metrics has no `data.metrics`. Every list field
//! needs a default, and so does `description`/`tags`.
//!
//! Shapes:
//! - `GET registered-models/get?name=M` → `{"registered_model": {name, creation_timestamp,
//!   last_updated_timestamp, latest_versions: [ModelVersion], aliases: [{"alias", "version"}]}}`.
//!   `latest_versions` holds the newest version **per stage** (one for stage `"None"`, one per
//!   other stage in use), not all versions. `aliases` is sorted by alias name.
//! - `ModelVersion` = `{name, version: "1", creation_timestamp, last_updated_timestamp,
//!   current_stage: "None"|"Staging"|"Production"|"Archived", description: "", source, run_id,
//!   status: "READY", run_link: ""}`; from `model-versions/get` and `registered-models/alias`
//!   (GET) it also carries `aliases: ["champion"]` (a list of **strings**); from
//!   `model-versions/search` and inside `latest_versions` it carries **no** `aliases` key.
//! - `GET model-versions/search?filter=name%3D'M'` → `{"model_versions": [ModelVersion],
//!   "next_page_token"?}` (newest first here; sort yourself). `max_results`: default 10000,
//!   at most 200000 (200001 → 400). `next_page_token` is present only when there is another
//!   page (seen with `max_results=1`) and goes back as `page_token`.
//! - `GET registered-models/search?filter=name LIKE 'x%'&max_results=N` →
//!   `{"registered_models": [RegisteredModel with latest_versions and aliases as above],
//!   "next_page_token"?}`. `max_results`: default 100, at most 1000 (1001 → 400).
//! - `POST registered-models/alias {"name","alias","version":"2"}` → `{}` (200): sets or
//!   **moves** the alias. Unknown version or model → 404 `RESOURCE_DOES_NOT_EXIST`
//!   (`"Model Version (name=m, version=9) not found"`).
//! - `GET registered-models/alias?name=M&alias=A` → `{"model_version": ModelVersion with
//!   aliases}`; an unknown alias → **400** `INVALID_PARAMETER_VALUE` `"Registered model alias A
//!   not found."` (not 404).
//! - `DELETE registered-models/alias` with a **JSON body** `{"name","alias"}` → `{}` (200);
//!   deleting an alias that does not exist → `{}` (200) too; unknown model → 404. With query
//!   parameters instead of a body → 400 `INVALID_PARAMETER_VALUE` `"Missing value for required
//!   parameter 'name'. ..."`.
//! - `POST model-versions/transition-stage {"name","version":"1","stage":"Production",
//!   "archive_existing_versions":false}` → `{"model_version": ModelVersion}` with the new
//!   `current_stage` (deprecated since 2.9 but works).
//! - `POST model-versions/create {"name","source","run_id"}` → `{"model_version":
//!   ModelVersion}`, `status` already `"READY"` with the SQL store. Accepted `source`s include
//!   `runs:/RUN_ID/model` and the run's artifact URI + `/model`
//!   (`mlflow-artifacts:/EXP/RUN/artifacts/model`); nothing needs to exist at the source.
//! - `POST experiments/create {"name"}` → `{"experiment_id": "1"}` (string id).
//! - `POST runs/create {"experiment_id","start_time"}` → `{"run": {"info": {run_id, run_uuid,
//!   experiment_id, run_name, user_id, status: "RUNNING", start_time, artifact_uri:
//!   "mlflow-artifacts:/1/RUN/artifacts", lifecycle_stage: "active"}, "data": {"tags":
//!   [{"key": "mlflow.runName", "value"}]}, "inputs": {}}}`.
//! - `POST runs/log-batch {"run_id","metrics":[{key,value,timestamp,step}]}` → `{}`;
//!   `POST runs/update {"run_id","status":"FINISHED","end_time"}` → `{"run_info": {...}}`.
//! - `GET runs/get?run_id=R` → `{"run": {"info": {..., status: "FINISHED", end_time},
//!   "data": {"metrics": [{"key", "value": 0.412, "timestamp", "step": 0}], "tags": [...]},
//!   "inputs": {}, "outputs": {}}}`; `metrics` holds the latest value of each key.
//! - `GET /health` → `OK` (text/plain, 200).
//!
//! **Request log**: uvicorn writes an access-log line for every request, *before* it sends the
//! reply (`... INFO:     127.0.0.1:57514 - "GET /api/2.0/mlflow/registered-models/get?name=m
//! HTTP/1.1" 200 OK`), to the server log. So once a client has a reply, its request is in the
//! log: [`MlflowServer::request_log`] parses it, no proxy needed.
//!
//! Server facts: `mlflow server --workers 1` runs one uvicorn process under the `mlflow`
//! process (two Python processes, ~500 MB RSS together here); start-up to a 200 on `/health`
//! took 6–14 s here (5–23 s seen before); `stop()` (SIGTERM to the group) took 1.3–2.1 s.
//! `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` keeps it from starting job workers (else 7
//! processes, 2.3 GB). `--artifacts-destination DIR` (with the default `--serve-artifacts`)
//! gives `mlflow-artifacts:/` artifact URIs.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::prometheus::{free_port, http_get, parse_response, percent_encode, tail};
use super::venv::{PinnedVenv, progress};

/// The pinned MLflow (3.18.0 is listed on PyPI but a dependency is missing: pip falls back).
pub const MLFLOW_VERSION: &str = "3.17.2";
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 5;

/// The pinned venv: the same path, pin and marker file as `.ci/run` uses.
pub const VENV: PinnedVenv = PinnedVenv {
    name: "MLflow",
    package: "mlflow",
    version: MLFLOW_VERSION,
    command: "mlflow",
    env_var: "MLTOP_MLFLOW_VENV",
    marker: ".mltop-mlflow-installed",
    dir: "mlflow-3.17.2",
    cost: "~1-2 min, ~850 MB",
};

/// The venv that holds `mlflow==3.17.2` (see [`PinnedVenv::ensure`]): cached between local
/// runs, installed when its marker is missing, serialised across test binaries. Panics loudly.
pub fn mlflow_venv() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| VENV.ensure()).clone()
}

/// An MLflow tracking server of the test's own on `127.0.0.1:port`, with a fresh SQLite store
/// and artifact dir in a temp dir; its whole process group is stopped when dropped.
pub struct MlflowServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// How long the last (re)start took until the server answered.
    pub startup: Duration,
    dir: TempDir,
    log: PathBuf,
    child: Option<Child>,
}

impl MlflowServer {
    /// Install MLflow if needed, start a server on a free port and block until both `/health`
    /// and `registered-models/search` answer 200 (90 s at most). Panics with the log's tail.
    pub fn start() -> MlflowServer {
        mlflow_venv(); // fail (or install) before anything else
        let dir = tempfile::Builder::new()
            .prefix("mltop-mlflow-")
            .tempdir()
            .expect("create temp dir for MLflow");
        fs::create_dir_all(dir.path().join("artifacts")).expect("create MLflow artifacts dir");
        let log = dir.path().join("mlflow.log");
        let mut server = MlflowServer {
            url: String::new(),
            port: 0,
            startup: Duration::ZERO,
            dir,
            log,
            child: None,
        };
        let mut last_err = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            server.url = format!("http://127.0.0.1:{}", server.port);
            match server.launch() {
                Ok(()) => return server,
                Err(Launch::PortTaken(e)) => {
                    progress(&format!(
                        "MLflow could not take port {} (attempt {attempt}/{PORT_ATTEMPTS}): {e}",
                        server.port
                    ));
                    last_err = e;
                }
                Err(Launch::Failed(e)) => panic!("{e}"),
            }
        }
        panic!("MLflow found no free port in {PORT_ATTEMPTS} attempts; last: {last_err}");
    }

    /// Stop the server now (MLflow going down): the url refuses connections afterwards.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            kill_group(child);
        }
    }

    /// Start again on the same port with the same store (data survives); waits until ready.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match self.launch() {
                Ok(()) => return,
                Err(Launch::PortTaken(e)) => {
                    last_err = e;
                    thread::sleep(Duration::from_secs(1));
                }
                Err(Launch::Failed(e)) => panic!("{e}"),
            }
        }
        panic!("MLflow could not restart on port {}: {last_err}", self.port);
    }

    /// Temp dir holding mlflow.db, artifacts/ and mlflow.log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far (all starts), access-log lines included.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every request that reached the server so far (across restarts), in order, as
    /// `(method, path)`; the path includes the query string as sent. Parsed from uvicorn's
    /// access log, which is written before the reply goes out: a request whose reply a client
    /// has received is always listed.
    pub fn request_log(&self) -> Vec<(String, String)> {
        self.log().lines().filter_map(parse_access_line).collect()
    }

    /// The requests of [`request_log`](Self::request_log) that may write: every method but
    /// GET, HEAD and OPTIONS.
    pub fn write_requests(&self) -> Vec<(String, String)> {
        self.request_log()
            .into_iter()
            .filter(|(m, _)| !matches!(m.as_str(), "GET" | "HEAD" | "OPTIONS"))
            .collect()
    }

    /// Resident memory of the server's whole process group, in KiB (0 when stopped).
    pub fn rss_kib(&self) -> u64 {
        let Some(child) = &self.child else { return 0 };
        group_rss_kib(child.id())
    }

    /// `http://127.0.0.1:PORT/api/2.0/mlflow/<path>`
    pub fn api_url(&self, path: &str) -> String {
        format!(
            "{}/api/2.0/mlflow/{}",
            self.url,
            path.trim_start_matches('/')
        )
    }

    /// `GET api/2.0/mlflow/<path_and_query>`: status and body as JSON (a non-JSON body comes
    /// back as a JSON string). Err only when the server can't be reached.
    pub fn try_get(&self, path_and_query: &str) -> Result<(u16, Value), String> {
        let (status, body) = http_get(&self.api_url(path_and_query), HTTP_TIMEOUT)?;
        Ok((status, to_json(body)))
    }

    /// `POST api/2.0/mlflow/<path>` with a JSON body.
    pub fn try_post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let (status, reply) = http_post_json(&self.api_url(path), body, HTTP_TIMEOUT)?;
        Ok((status, to_json(reply)))
    }

    /// `DELETE api/2.0/mlflow/<path>` with a JSON body.
    pub fn try_delete(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let (status, reply) = http_delete_json(&self.api_url(path), body, HTTP_TIMEOUT)?;
        Ok((status, to_json(reply)))
    }

    /// Like [`try_get`](Self::try_get), panicking unless the reply is 200.
    pub fn get(&self, path_and_query: &str) -> Value {
        expect_ok("GET", path_and_query, self.try_get(path_and_query))
    }

    /// Like [`try_post`](Self::try_post), panicking unless the reply is 200.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        expect_ok("POST", path, self.try_post(path, body))
    }

    /// Like [`try_delete`](Self::try_delete), panicking unless the reply is 200.
    pub fn delete(&self, path: &str, body: &Value) -> Value {
        expect_ok("DELETE", path, self.try_delete(path, body))
    }

    /// `POST experiments/create`; returns the experiment id.
    pub fn create_experiment(&self, name: &str) -> String {
        let reply = self.post("experiments/create", &json!({ "name": name }));
        reply["experiment_id"]
            .as_str()
            .unwrap_or_else(|| panic!("experiments/create: no experiment_id in {reply}"))
            .to_string()
    }

    /// `runs/create`, then one `runs/log-batch` with `metrics` (step 0, timestamp now), then
    /// `runs/update` to FINISHED. Returns the run id. Three write requests.
    pub fn create_run_with_metrics(&self, experiment_id: &str, metrics: &[(&str, f64)]) -> String {
        let now = now_ms();
        let reply = self.post(
            "runs/create",
            &json!({ "experiment_id": experiment_id, "start_time": now }),
        );
        let run_id = reply["run"]["info"]["run_id"]
            .as_str()
            .unwrap_or_else(|| panic!("runs/create: no run.info.run_id in {reply}"))
            .to_string();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value, "timestamp": now, "step": 0 }))
            .collect();
        self.post(
            "runs/log-batch",
            &json!({ "run_id": run_id, "metrics": metrics }),
        );
        self.post(
            "runs/update",
            &json!({ "run_id": run_id, "status": "FINISHED", "end_time": now_ms() }),
        );
        run_id
    }

    /// `POST registered-models/create`.
    pub fn create_registered_model(&self, name: &str) {
        self.post("registered-models/create", &json!({ "name": name }));
    }

    /// `POST model-versions/create` with `source = runs:/RUN_ID/model` and `run_id`; waits
    /// (≤ 30 s) until the version is READY. Returns the version (a string, e.g. `"1"`).
    pub fn create_model_version(&self, name: &str, run_id: &str) -> String {
        let reply = self.post(
            "model-versions/create",
            &json!({ "name": name, "source": format!("runs:/{run_id}/model"), "run_id": run_id }),
        );
        let version = reply["model_version"]["version"]
            .as_str()
            .unwrap_or_else(|| panic!("model-versions/create: no string version in {reply}"))
            .to_string();
        let mut status = reply["model_version"]["status"].clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        while status != "READY" {
            if Instant::now() >= deadline {
                panic!("model version {name}/{version} not READY after 30 s: status {status}");
            }
            thread::sleep(Duration::from_millis(200));
            let got = self.get(&format!(
                "model-versions/get?name={}&version={}",
                percent_encode(name),
                percent_encode(&version)
            ));
            status = got["model_version"]["status"].clone();
        }
        version
    }

    /// `POST registered-models/alias` (sets or moves `alias` to `version`).
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) {
        self.post(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": version }),
        );
    }

    /// `DELETE registered-models/alias` with the JSON body `{name, alias}`.
    pub fn delete_alias(&self, name: &str, alias: &str) {
        self.delete(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias }),
        );
    }

    /// `GET registered-models/alias?name=&alias=`: the version the alias points at, or None
    /// when the alias (400 INVALID_PARAMETER_VALUE "... not found") or model (404) is missing.
    pub fn get_alias(&self, name: &str, alias: &str) -> Option<String> {
        let path = format!(
            "registered-models/alias?name={}&alias={}",
            percent_encode(name),
            percent_encode(alias)
        );
        let (status, reply) = self
            .try_get(&path)
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"));
        let message = reply["message"].as_str().unwrap_or_default();
        match status {
            200 => Some(
                reply["model_version"]["version"]
                    .as_str()
                    .unwrap_or_else(|| panic!("GET {path}: no string version in {reply}"))
                    .to_string(),
            ),
            404 => None,
            400 if reply["error_code"] == "INVALID_PARAMETER_VALUE"
                && message.contains("not found") =>
            {
                None
            }
            _ => panic!("GET {path}: HTTP {status}: {reply}"),
        }
    }

    fn launch(&mut self) -> Result<(), Launch> {
        let venv = mlflow_venv();
        let mlflow = venv.join("bin/mlflow");
        let dir = self.dir.path().to_path_buf();
        let logfile = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Launch::Failed(format!("open {}: {e}", self.log.display())))?;
        let log_len = logfile.metadata().map(|m| m.len()).unwrap_or(0);
        let err_log = logfile
            .try_clone()
            .map_err(|e| Launch::Failed(e.to_string()))?;
        let path = match std::env::var_os("PATH") {
            Some(p) => {
                let mut all = vec![venv.join("bin")];
                all.extend(std::env::split_paths(&p));
                std::env::join_paths(all).unwrap_or(p)
            }
            None => venv.join("bin").into_os_string(),
        };
        // `sh` runs `mlflow server` (which spawns uvicorn) plus a watchdog that stops the whole
        // process group when our stdin pipe closes, i.e. when this test process dies without
        // running Drop (Ctrl-C, abort, timeout kill). They share a process group of their own,
        // which stop()/Drop signal as a whole; `sh` and the watchdog ignore SIGTERM so that
        // they live until MLflow has shut down.
        let watchdog = r#"exec 3<&0
"$0" "$@" </dev/null &
p=$!
{ trap '' TERM; read -r _ <&3; kill -TERM 0 2>/dev/null; sleep 5; kill -KILL 0 2>/dev/null; } &
trap '' TERM
wait "$p""#;
        let started = Instant::now();
        let child = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg(&mlflow)
            .arg("server")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .args(["--workers", "1"])
            .env("PATH", path)
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .env("DO_NOT_TRACK", "true")
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(logfile))
            .stderr(Stdio::from(err_log))
            .process_group(0)
            .spawn()
            .map_err(|e| Launch::Failed(format!("could not spawn {}: {e}", mlflow.display())))?;
        self.child = Some(child);

        let deadline = started + READY_TIMEOUT;
        let health_url = format!("{}/health", self.url);
        let search_url = self.api_url("registered-models/search");
        let mut health_ok = false;
        loop {
            let exited = self.child.as_mut().unwrap().try_wait().ok().flatten();
            if let Some(status) = exited {
                self.stop();
                let log = self.log_since(log_len);
                return Err(if log.to_lowercase().contains("address already in use") {
                    Launch::PortTaken(tail(&log, 5))
                } else {
                    Launch::Failed(format!(
                        "MLflow ({}) exited with {status} before it was ready\n--- {} ---\n{}",
                        mlflow.display(),
                        self.log.display(),
                        tail(&log, 40)
                    ))
                });
            }
            if !health_ok && let Ok((200, _)) = http_get(&health_url, Duration::from_secs(2)) {
                // Make sure the server answering is ours, not another one that took the port:
                // ours has logged the request before replying.
                if !self
                    .log_since(log_len)
                    .contains("\"GET /health HTTP/1.1\" 200")
                {
                    self.stop();
                    return Err(Launch::PortTaken(
                        "another server answers on that port".into(),
                    ));
                }
                health_ok = true;
            }
            if health_ok && let Ok((200, _)) = http_get(&search_url, Duration::from_secs(10)) {
                self.startup = started.elapsed();
                progress(&format!(
                    "MLflow {MLFLOW_VERSION} ready on {} after {:.1} s",
                    self.url,
                    self.startup.as_secs_f64()
                ));
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Launch::Failed(format!(
                    "MLflow ({}) did not answer 200 on {health_url} and {search_url} within \
                     {READY_TIMEOUT:?}\n--- {} ---\n{}",
                    mlflow.display(),
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

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

fn expect_ok(method: &str, path: &str, reply: Result<(u16, Value), String>) -> Value {
    match reply {
        Ok((200, v)) => v,
        Ok((status, v)) => panic!("MLflow {method} {path}: HTTP {status}: {v}"),
        Err(e) => panic!("MLflow {method} {path} failed: {e}"),
    }
}

fn to_json(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `(method, path)` of a uvicorn access-log line:
/// `... INFO:     127.0.0.1:57514 - "GET /path?q HTTP/1.1" 200 OK`.
fn parse_access_line(line: &str) -> Option<(String, String)> {
    let start = line.find(" - \"")? + 4;
    let rest = &line[start..];
    let request_line = &rest[..rest.find('"')?];
    let mut parts = request_line.split(' ');
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    let is_method = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !is_method || !path.starts_with('/') || !version.starts_with("HTTP/") {
        return None;
    }
    Some((method.to_string(), path.to_string()))
}

/// Sum of VmRSS over the processes whose process group is `pgid`.
pub fn group_rss_kib(pgid: u32) -> u64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(stat) = fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after the last ')'.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if after.split_whitespace().nth(2) != Some(pgid.to_string().as_str()) {
            continue;
        }
        let Ok(status) = fs::read_to_string(path.join("status")) else {
            continue;
        };
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// SIGTERM the child's process group, wait up to 5 s, then SIGKILL it.
pub fn kill_group(mut child: Child) {
    let pgid = child.id();
    let signal = |sig: &str| {
        // `sh`'s builtin kill: no dependency on procps.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -s {sig} -- -{pgid}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; the watchdog may still be waiting on stdin.
            signal("KILL");
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    signal("KILL");
    let _ = child.kill();
    let _ = child.wait();
}

/// Blocking HTTP/1.1 POST of a JSON body (`Content-Type: application/json`,
/// `Connection: close`) to an `http://host[:port]/path` URL: the status code and the body.
pub fn http_post_json(url: &str, body: &Value, timeout: Duration) -> Result<(u16, String), String> {
    http_request("POST", url, Some(body), timeout)
}

/// Like [`http_post_json`] with method DELETE (MLflow's `DELETE registered-models/alias`
/// takes its arguments as a JSON body).
pub fn http_delete_json(
    url: &str,
    body: &Value,
    timeout: Duration,
) -> Result<(u16, String), String> {
    http_request("DELETE", url, Some(body), timeout)
}

/// Blocking HTTP/1.1 request with an optional JSON body (`Connection: close`). Returns the
/// status code and the body (chunked transfer encoding decoded). `timeout` bounds connecting
/// and the whole exchange. (The GET-only [`http_get`] of the Prometheus harness keeps its
/// response parser private, hence this one.)
pub fn http_request(
    method: &str,
    url: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    http_request_with_headers(method, url, &[], body, timeout)
}

/// Like [`http_request`], with extra request headers (e.g. `Authorization`).
pub fn http_request_with_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("resolve {host_port}: {e}"))?
        .collect();
    let deadline = Instant::now() + timeout;
    let mut stream = None;
    let mut last_err = format!("no address for {host_port}");
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("connect {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_err)?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: mltop-tests\r\n"
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    if body.is_some() {
        request += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        );
    }
    request += "\r\n";
    request += &payload;
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|_| stream.write_all(request.as_bytes()))
        .map_err(|e| format!("{method} {url}: send: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{method} {url}: timed out after {timeout:?}"));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{method} {url}: read: {e}")),
        }
    }
    parse_response(&raw).map_err(|e| format!("{method} {url}: {e}"))
}
