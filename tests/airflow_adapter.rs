//! The Airflow adapter, and `mltop retrain` through the command layer, against a REAL Airflow
//! 3.3.2 (`airflow standalone`, started by
//! tests/support/airflow.rs, shared by the tests of this file) running the retraining DAG of
//! tests/airflow/dags/. Two faults a real server cannot be made to show on demand — a reply
//! lost after the request arrived, and a token that expires between requests — are played by
//! a small fake that answers with the bodies captured from the real server.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mltop::config::Secret;
use mltop::sources::airflow::{
    AirflowClient, AirflowCommand, AirflowError, Api, Credentials, RunState, TaskState, detect,
};
use serde_json::{Value, json};
use support::airflow::{ADMIN_PASSWORD, ADMIN_USER, AirflowServer, RETRAIN_DAG};

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 4 << 20;
/// A run of three trivial tasks took 5-10 s here; CI shares 2 cores with the build.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

fn admin() -> Option<Credentials> {
    Some(Credentials {
        username: ADMIN_USER.into(),
        password: Secret::new(ADMIN_PASSWORD),
    })
}

fn client_for(base: url::Url, api: Api, credentials: Option<Credentials>) -> AirflowClient {
    AirflowClient::new(base, api, credentials, TIMEOUT, MAX_BODY).expect("build the client")
}

fn airflow() -> (&'static AirflowServer, AirflowClient) {
    let server = AirflowServer::shared();
    (server, client_for(server.base_url(), Api::V2, admin()))
}

/// A run id no other test (or earlier run of this one) uses.
fn unique_run_id(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mltop-test-{what}-{nanos}")
}

fn drift_conf() -> Value {
    json!({
        "model": "recsys",
        "reason": "drift",
        "features": ["price"],
        "psi": 0.31,
        "requested_by": "test"
    })
}

#[tokio::test]
async fn a_triggered_retrain_carries_its_conf_and_runs_to_success() {
    let (_server, client) = airflow();
    let _lock = AirflowServer::dag_lock().await;
    let dag = client.unpause(RETRAIN_DAG).await.expect("unpause");
    assert!(!dag.is_paused);

    let run = client
        .trigger(RETRAIN_DAG, &drift_conf(), None)
        .await
        .expect("trigger");
    // Airflow names the run: manual__<run_after>, with `+` and `:` that must survive as a
    // path segment below.
    assert!(run.run_id.starts_with("manual__"), "{}", run.run_id);
    assert_eq!(run.dag_id, RETRAIN_DAG);
    assert_eq!(run.conf, drift_conf());
    assert_eq!(run.logical_date, None, "triggered with logical_date: null");
    assert_eq!(run.run_type, "manual");
    assert!(
        matches!(run.state, RunState::Queued | RunState::Running),
        "{:?}",
        run.state
    );
    assert!(run.run_after.is_some());

    // The newest run comes first even while it has no start date yet.
    let runs = client.runs(RETRAIN_DAG, 1).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, run.run_id, "the new run is listed first");
    assert_eq!(runs[0].conf, drift_conf(), "read back with its conf");

    let deadline = Instant::now() + RUN_DEADLINE;
    let (done, tasks, seen) = loop {
        let runs = client.runs(RETRAIN_DAG, 10).await.expect("runs");
        let now = runs
            .into_iter()
            .find(|r| r.run_id == run.run_id)
            .expect("the run stays listed");
        let tasks = client
            .task_instances(RETRAIN_DAG, &run.run_id)
            .await
            .expect("task instances");
        let seen = format!(
            "run {}; tasks {}",
            now.state.as_str(),
            tasks
                .iter()
                .map(|t| format!(
                    "{}={}",
                    t.task_id,
                    t.state.as_ref().map_or("null", |s| s.as_str())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if now.state.is_finished() {
            break (now, tasks, seen);
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish within {RUN_DEADLINE:?}; last seen: {seen}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(done.state, RunState::Success, "last seen: {seen}");
    let (start, end) = (done.start.expect("start"), done.end.expect("end"));
    assert!(end >= start, "{start} {end}");
    assert!(
        (start - done.run_after.unwrap()).abs() < 600.0,
        "dates are unix seconds"
    );
    assert_eq!(done.conf, drift_conf());

    let mut tasks = tasks;
    tasks.sort_by(|a, b| a.start.partial_cmp(&b.start).unwrap());
    let order: Vec<_> = tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(order, ["validate_data", "train", "register"]);
    for t in &tasks {
        assert_eq!(t.state, Some(TaskState::Success), "{t:?}");
        assert_eq!(t.try_number, 1, "{t:?}");
        assert!(t.end >= t.start, "{t:?}");
    }
    assert_eq!(client.logins().await, 1, "one token serves every request");
}

#[tokio::test]
async fn a_paused_dag_reads_paused_and_unpause_clears_it() {
    let (server, client) = airflow();
    let _lock = AirflowServer::dag_lock().await;
    server.set_paused(RETRAIN_DAG, true);

    let dag = client.dag(RETRAIN_DAG).await.expect("dag");
    assert_eq!(dag.dag_id, RETRAIN_DAG);
    assert!(dag.is_paused);
    assert_eq!(dag.schedule, None, "triggered only");
    assert_eq!(
        dag.schedule_description.as_deref(),
        Some("Never, external triggers only")
    );
    assert_eq!(dag.next_run, None);
    assert!(!dag.stale && !dag.has_import_errors);

    let unpaused = client.unpause(RETRAIN_DAG).await.expect("unpause");
    assert!(!unpaused.is_paused, "the PATCH reply is the updated DAG");
    assert!(!client.dag(RETRAIN_DAG).await.expect("dag").is_paused);
    // Unpausing an unpaused DAG is no error.
    assert!(!client.unpause(RETRAIN_DAG).await.expect("again").is_paused);
}

#[tokio::test]
async fn nothing_listening_is_down_and_says_so() {
    let port = support::free_port(); // bound and released: nothing listens there
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let v2 = client_for(base.clone(), Api::V2, admin());
    let e = v2.dag(RETRAIN_DAG).await.unwrap_err();
    assert!(matches!(e, AirflowError::Down(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("Airflow is unreachable: "), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("cannot connect"),
        "{text}"
    );
    // A write never sent is Down too, not "outcome unknown" (the v2 login fails first; v1
    // sends the POST itself).
    let e = v2
        .trigger(RETRAIN_DAG, &drift_conf(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AirflowError::Down(_)), "{e:?}");
    let v1 = client_for(base.clone(), Api::V1, admin());
    let e = v1
        .trigger(RETRAIN_DAG, &drift_conf(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AirflowError::Down(_)), "{e:?}");
    let e = detect(&base, TIMEOUT, MAX_BODY).await.unwrap_err();
    assert!(matches!(e, AirflowError::Down(_)), "{e:?}");
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error_naming_the_user_and_the_config_to_fix() {
    let server = AirflowServer::shared();
    let client = client_for(
        server.base_url(),
        Api::V2,
        Some(Credentials {
            username: ADMIN_USER.into(),
            password: Secret::new("not-the-password"),
        }),
    );
    let e = client.dag(RETRAIN_DAG).await.unwrap_err();
    match &e {
        AirflowError::LoginRejected { username, detail } => {
            assert_eq!(username, ADMIN_USER);
            assert_eq!(detail, "HTTP 401: Invalid credentials");
        }
        other => panic!("expected LoginRejected, got {other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains("user `admin`"), "{text}");
    assert!(text.contains("password_env"), "{text}");
    assert!(
        !text.contains("not-the-password"),
        "never show the password: {text}"
    );

    // No credentials at all: Airflow wants a login.
    let anonymous = client_for(server.base_url(), Api::V2, None);
    let e = anonymous.dag(RETRAIN_DAG).await.unwrap_err();
    assert!(matches!(e, AirflowError::LoginRequired(_)), "{e:?}");
    assert!(e.to_string().contains("Not authenticated"), "{e}");
}

#[tokio::test]
async fn an_unknown_dag_is_a_404_naming_the_dag() {
    let (_server, client) = airflow();
    // Its failed writes still reach the database: keep them apart from the runs of the others.
    let _lock = AirflowServer::dag_lock().await;
    let e = client.dag("no_such_dag").await.unwrap_err();
    assert!(
        matches!(&e, AirflowError::DagNotFound { dag_id, .. } if dag_id == "no_such_dag"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("`no_such_dag`") && text.contains("parsed"),
        "{text}"
    );
    for e in [
        client.runs("no_such_dag", 5).await.unwrap_err(),
        client
            .trigger("no_such_dag", &json!({}), None)
            .await
            .unwrap_err(),
        client.unpause("no_such_dag").await.unwrap_err(),
    ] {
        assert!(
            matches!(&e, AirflowError::DagNotFound { dag_id, .. } if dag_id == "no_such_dag"),
            "{e:?}"
        );
    }
    let e = client
        .task_instances(RETRAIN_DAG, "no-such-run")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AirflowError::RunNotFound { run_id, .. } if run_id == "no-such-run"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_reused_run_id_is_refused_as_a_duplicate_and_nothing_is_triggered() {
    let (_server, client) = airflow();
    let _lock = AirflowServer::dag_lock().await;
    let id = unique_run_id("dup");
    let first = client
        .trigger(RETRAIN_DAG, &json!({"attempt": 1}), Some(id.clone()))
        .await
        .expect("first trigger");
    assert_eq!(first.run_id, id);
    let e = client
        .trigger(RETRAIN_DAG, &json!({"attempt": 2}), Some(id.clone()))
        .await
        .unwrap_err();
    match &e {
        AirflowError::DuplicateRun {
            dag_id,
            run_id,
            detail,
        } => {
            assert_eq!(
                (dag_id.as_str(), run_id.as_str()),
                (RETRAIN_DAG, id.as_str())
            );
            assert_eq!(detail, "Unique constraint violation");
        }
        other => panic!("expected DuplicateRun, got {other:?}"),
    }
    assert!(e.to_string().contains("nothing was triggered"), "{e}");
    let run = client.run(RETRAIN_DAG, &id).await.expect("re-read the run");
    assert_eq!(
        run.conf,
        json!({"attempt": 1}),
        "the first run is untouched"
    );
}

#[tokio::test]
async fn detection_picks_v2_on_airflow_3_and_a_v1_client_is_told_why_not() {
    let (server, client) = airflow();
    assert_eq!(
        detect(&server.base_url(), TIMEOUT, MAX_BODY).await,
        Ok(Api::V2)
    );
    let health = client.health().await.expect("health");
    assert!(
        health
            .components
            .iter()
            .any(|(n, s)| n == "scheduler" && s.as_deref() == Some("healthy")),
        "{health:?}"
    );
    let v1 = client_for(server.base_url(), Api::V1, admin());
    let e = v1.dag(RETRAIN_DAG).await.unwrap_err();
    assert!(matches!(e, AirflowError::Api { status: 404, .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("/api/v1 has been removed in Airflow 3"),
        "{e}"
    );
}

#[tokio::test]
async fn the_request_line_is_what_the_trigger_sends() {
    let (server, client) = airflow();
    let line = client.request_line(&AirflowCommand::Trigger {
        dag_id: RETRAIN_DAG.into(),
        conf: drift_conf(),
        run_id: None,
    });
    assert_eq!(
        line,
        format!(
            "POST /api/v2/dags/{RETRAIN_DAG}/dagRuns {}",
            json!({"conf": drift_conf(), "logical_date": null})
        )
    );
    // The body shown is one the real server accepts as it stands.
    let body: Value =
        serde_json::from_str(line.split_once(' ').unwrap().1.split_once(' ').unwrap().1)
            .expect("the request line ends in JSON");
    let _lock = AirflowServer::dag_lock().await;
    let reply = server.api("POST", &format!("dags/{RETRAIN_DAG}/dagRuns"), Some(&body));
    assert_eq!(reply["conf"], drift_conf());
}

// ---------------------------------------------------------------------------------------------
// Faults played by a fake that answers like Airflow 3.3.2 (bodies from tests/fixtures/airflow).

#[derive(Clone, Copy, PartialEq, Debug)]
enum FakeMode {
    /// Requests with the token of an odd-numbered login answer 401 "Token Expired".
    ExpireFirstToken,
    /// A write is read and never answered.
    LoseWriteReplies,
}

#[derive(Clone)]
struct Fake {
    mode: FakeMode,
    logins: Arc<AtomicU64>,
    /// (method, path) of every request, logins included.
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/airflow/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

async fn fake_airflow(
    State(f): State<Fake>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    f.requests
        .lock()
        .unwrap()
        .push((method.to_string(), uri.path().to_string()));
    if method == Method::POST && uri.path() == "/auth/token" {
        let n = f.logins.fetch_add(1, Ordering::SeqCst) + 1;
        // A distinct token per login; the real one's payload, so its expiry reads as 24 h.
        let real = fixture("token")["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let token = format!("{real}{n}");
        return (
            StatusCode::CREATED,
            axum::Json(json!({ "access_token": token })),
        )
            .into_response();
    }
    match f.mode {
        FakeMode::ExpireFirstToken => {
            // Logins 1, 3, 5, … get a token that has expired by the time it is used.
            let login: u64 = bearer
                .as_deref()
                .and_then(|b| b.rsplit('.').next())
                .map(|sig| {
                    sig.chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|n| n.chars().rev().collect::<String>().parse().ok())
                .unwrap_or(0);
            if login % 2 == 1 {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"detail": "Token Expired"})),
                )
                    .into_response();
            }
            axum::Json(fixture("dag_paused")).into_response()
        }
        FakeMode::LoseWriteReplies => {
            if method != Method::GET {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            axum::Json(fixture("dag_paused")).into_response()
        }
    }
}

async fn start_fake(mode: FakeMode) -> (url::Url, Fake) {
    let f = Fake {
        mode,
        logins: Default::default(),
        requests: Default::default(),
    };
    let app = Router::new().fallback(fake_airflow).with_state(f.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url::Url::parse(&format!("http://{addr}/")).unwrap(), f)
}

fn writes(f: &Fake) -> Vec<(String, String)> {
    f.requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p)| m != "GET" && p != "/auth/token")
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_for_a_read_but_a_write_is_not_resent() {
    let (base, fake) = start_fake(FakeMode::ExpireFirstToken).await;
    let client = client_for(base.clone(), Api::V2, admin());
    let dag = client.dag(RETRAIN_DAG).await.expect("read after renewal");
    assert!(dag.is_paused);
    assert_eq!(client.logins().await, 2, "logged in again once");
    let gets = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m == "GET")
        .count();
    assert_eq!(gets, 2, "the read was sent again once");

    // A write refused for its token is reported, not resent.
    let fresh = client_for(base, Api::V2, admin());
    let e = fresh.unpause(RETRAIN_DAG).await.unwrap_err();
    assert!(matches!(e, AirflowError::Api { status: 401, .. }), "{e:?}");
    assert!(e.to_string().contains("nothing was done"), "{e}");
    assert_eq!(writes(&fake).len(), 1, "sent once");
    // The next command logs in anew and goes through.
    fresh.unpause(RETRAIN_DAG).await.expect("second attempt");
    assert_eq!(writes(&fake).len(), 2);
}

#[tokio::test]
async fn a_trigger_whose_reply_is_lost_is_an_unknown_outcome_sent_once() {
    let (base, fake) = start_fake(FakeMode::LoseWriteReplies).await;
    let client =
        AirflowClient::new(base, Api::V2, admin(), Duration::from_secs(1), MAX_BODY).unwrap();
    let e = client
        .trigger(RETRAIN_DAG, &drift_conf(), Some("r1".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, AirflowError::Unknown(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("outcome unknown: ") && text.contains("re-read"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        writes(&fake),
        [(
            "POST".to_string(),
            format!("/api/v2/dags/{RETRAIN_DAG}/dagRuns")
        )],
        "never retried"
    );
}

// ---------------------------------------------------------------------------------------------
// mltop's retrain command (the CLI twin, through the command layer and the audit log) against
// the same real Airflow.

/// A config with one pipeline server (the real Airflow) mapping `recsys-ranker` to the DAG.
fn retrain_config(dir: &std::path::Path, readonly: bool) -> std::path::PathBuf {
    let server = AirflowServer::shared();
    let path = dir.join("mltop.toml");
    std::fs::write(
        &path,
        format!(
            r#"readonly = {readonly}
audit_log = "{}"

[pipelines.airflow]
kind = "airflow"
url = "{}"
environment = "test"
auth = {{ kind = "basic", username = "{ADMIN_USER}", password_env = "MLTOP_TEST_AIRFLOW_PASSWORD" }}

[[pipelines.airflow.models]]
model = "recsys-ranker"
dag = "{RETRAIN_DAG}"
"#,
            dir.join("audit.jsonl").display(),
            server.base_url()
        ),
    )
    .unwrap();
    path
}

/// Run `mltop --config CFG ARGS…` (blocking, off the async threads): exit code and stdout.
async fn mltop_cli(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mltop"))
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env("MLTOP_TEST_AIRFLOW_PASSWORD", ADMIN_PASSWORD)
            .env("USER", "ci-operator")
            .env(
                "MLTOP_LOG_DIR",
                std::env::temp_dir().join("mltop-test-logs"),
            )
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    })
    .await
    .unwrap()
}

async fn run_count(client: &AirflowClient) -> usize {
    client.runs(RETRAIN_DAG, 100).await.expect("runs").len()
}

fn audit_outcomes(dir: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["command"].as_str().unwrap().to_string(),
                v["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn mltop_retrain_triggers_one_run_with_the_reason_and_it_succeeds() {
    let (_server, client) = airflow();
    let _lock = AirflowServer::dag_lock().await;
    client.unpause(RETRAIN_DAG).await.expect("unpause");
    let dir = tempfile::tempdir().unwrap();
    let cfg = retrain_config(dir.path(), false);
    let before = run_count(&client).await;
    let (code, out) = mltop_cli(
        &cfg,
        &["retrain", "recsys-ranker", "--reason", "drift", "--yes"],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("recsys-ranker: start a new run of pipeline recsys_retrain (reason: drift)"),
        "{out}"
    );
    assert!(
        out.contains(r#"POST /api/v2/dags/recsys_retrain/dagRuns {"#),
        "the confirmation names the request: {out}"
    );
    assert!(out.contains("succeeded: run manual__"), "{out}");
    assert_eq!(run_count(&client).await, before + 1, "exactly one run");
    let run = client.runs(RETRAIN_DAG, 1).await.expect("runs").remove(0);
    assert_eq!(run.conf["model"], "recsys-ranker");
    assert_eq!(run.conf["reason"], "drift");
    assert_eq!(run.conf["requested_by"], "ci-operator");
    assert!(run.conf["features"].is_array(), "{}", run.conf);
    assert!(run.conf.get("psi").is_some(), "{}", run.conf);
    // followed to success through the adapter
    let deadline = Instant::now() + RUN_DEADLINE;
    loop {
        let now = client.run(RETRAIN_DAG, &run.run_id).await.expect("run");
        if now.state.is_finished() {
            assert_eq!(now.state, RunState::Success);
            break;
        }
        assert!(Instant::now() < deadline, "still {:?}", now.state);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        audit_outcomes(dir.path()),
        [("retrain".to_string(), "succeeded".to_string())]
    );
}

#[tokio::test]
async fn mltop_retrain_on_a_paused_dag_says_so_and_read_only_refuses_both_without_a_run() {
    let (server, client) = airflow();
    let _lock = AirflowServer::dag_lock().await;
    server.set_paused(RETRAIN_DAG, true);
    let dir = tempfile::tempdir().unwrap();
    let cfg = retrain_config(dir.path(), false);
    let before = run_count(&client).await;
    let (code, out) = mltop_cli(&cfg, &["retrain", "recsys-ranker", "--yes"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("pipeline recsys_retrain is paused in Airflow: nothing was triggered"),
        "{out}"
    );
    let ro = tempfile::tempdir().unwrap();
    let ro_cfg = retrain_config(ro.path(), true);
    server.set_paused(RETRAIN_DAG, false);
    let (code, out) = mltop_cli(&ro_cfg, &["retrain", "recsys-ranker", "--yes"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("refused"), "{out}");
    assert_eq!(run_count(&client).await, before, "no run was created");
    assert_eq!(
        audit_outcomes(dir.path()),
        [("retrain".to_string(), "failed".to_string())]
    );
    assert_eq!(
        audit_outcomes(ro.path()),
        [("retrain".to_string(), "refused".to_string())]
    );
}
