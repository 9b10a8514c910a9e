//! The registry adapter, promote and rollback against a **real MLflow 3.17.2** (PyPI, started by
//! tests/support/mlflow.rs), and the same adapter contract against the demo's simulator.
//! One server serves every test in this file; each test uses its own model name.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use mltop::config::Config;
use mltop::domain::registry::AliasMove;
use mltop::sources::mlflow::{MlflowClient, RegistryError};
use support::mlflow::MlflowServer;

fn server() -> &'static MlflowServer {
    static S: OnceLock<MlflowServer> = OnceLock::new();
    // Never dropped: the harness's wrapper stops the server when this test process exits.
    S.get_or_init(MlflowServer::start)
}

/// The tests count the requests that reach the shared server, so they take turns.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A model with v1 champion (ndcg 0.412) and v2 challenger (ndcg `challenger_ndcg`).
fn seed(name: &str, challenger_ndcg: f64) {
    let s = server();
    let exp = s.create_experiment(&format!("exp-{name}"));
    let r1 = s.create_run_with_metrics(&exp, &[("ndcg_at_10", 0.412), ("auc", 0.79)]);
    let r2 = s.create_run_with_metrics(&exp, &[("ndcg_at_10", challenger_ndcg), ("auc", 0.795)]);
    s.create_registered_model(name);
    let v1 = s.create_model_version(name, &r1);
    let v2 = s.create_model_version(name, &r2);
    s.set_alias(name, "champion", &v1);
    s.set_alias(name, "challenger", &v2);
}

fn config_text(url: &str, models: &[&str], extra: &str) -> String {
    let list: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        r#"
[registry.real]
kind = "mlflow"
url = "{url}"
interval = "1s"
environment = "test"
models = [{}]
gate = {{ metric = "ndcg_at_10", greater_is_better = true, min_relative_change = 0.01 }}
{extra}
"#,
        list.join(", ")
    )
}

fn client(url: &str) -> MlflowClient {
    let cfg = Config::parse(&config_text(url, &["x"], ""), "t").unwrap();
    mltop::sources::registry::client(&cfg.registries[0]).unwrap()
}

/// What every MLflow-compatible registry must answer, whatever its versions are called.
async fn contract(c: &MlflowClient, model: &str) {
    let m = c.model_state(model, 10, &mut HashMap::new()).await.unwrap();
    let champ = m.alias("champion").expect("champion alias").to_string();
    let chal = m.alias("challenger").expect("challenger alias").to_string();
    assert!(
        champ.parse::<u64>().is_ok() && chal.parse::<u64>().is_ok(),
        "string versions"
    );
    let nums: Vec<u64> = m
        .versions
        .iter()
        .map(|v| v.version.parse().unwrap())
        .collect();
    assert!(
        nums.windows(2).all(|w| w[0] > w[1]),
        "newest first: {nums:?}"
    );
    assert!(
        m.versions
            .iter()
            .all(|v| v.status == "READY" && v.run_id.is_some())
    );
    assert!(
        m.metric(&champ, "ndcg_at_10").is_some(),
        "champion metrics: {:?}",
        m.metrics
    );
    assert!(m.metric(&chal, "ndcg_at_10").is_some());
    // missing model → MLflow's 404 envelope
    match c.registered_model("no-such-model-anywhere").await {
        Err(RegistryError::Api {
            status: 404, code, ..
        }) => assert_eq!(code, "RESOURCE_DOES_NOT_EXIST"),
        other => panic!("expected 404, got {other:?}"),
    }
    // an empty search is `{}`
    assert!(
        c.search_models("name LIKE 'zz-nothing%'")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        c.search_models(&format!("name = '{model}'"))
            .await
            .unwrap()
            .contains(&model.to_string())
    );
    // moving an alias to a version that does not exist is refused with the server's reason
    let bad = AliasMove::Set {
        alias: "champion".into(),
        version: "999".into(),
    };
    match c.apply(model, &bad).await {
        Err(RegistryError::Api {
            status: 404,
            message,
            ..
        }) => assert!(message.contains("999"), "{message}"),
        other => panic!("expected 404, got {other:?}"),
    }
    // deleting an alias that is not set is fine (200 `{}`)
    c.apply(
        model,
        &AliasMove::Delete {
            alias: "nobody-uses-this".into(),
        },
    )
    .await
    .unwrap();
    // a set then delete round-trips
    c.apply(
        model,
        &AliasMove::Set {
            alias: "canary-probe".into(),
            version: champ.clone(),
        },
    )
    .await
    .unwrap();
    let m = c.model_state(model, 10, &mut HashMap::new()).await.unwrap();
    assert_eq!(m.alias("canary-probe"), Some(champ.as_str()));
    c.apply(
        model,
        &AliasMove::Delete {
            alias: "canary-probe".into(),
        },
    )
    .await
    .unwrap();
    let m = c.model_state(model, 10, &mut HashMap::new()).await.unwrap();
    assert_eq!(m.alias("canary-probe"), None);
}

#[test]
fn the_adapter_contract_holds_on_real_mlflow_and_on_the_demo_simulator() {
    let _turn = turn();
    seed("contract-model", 0.419);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        contract(&client(&server().url), "contract-model").await;
        let cancel = tokio_util::sync::CancellationToken::new();
        let sim =
            mltop::demo::registry::serve(mltop::demo::registry::Registry::demo(), cancel.clone())
                .await
                .unwrap();
        contract(&client(&format!("http://{sim}")), "recsys-ranker").await;
        cancel.cancel();
    });
}

fn mltop(config: &Path, audit: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mltop"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("MLTOP_AUDIT_LOG", audit)
        .env("MLTOP_LOG_DIR", std::env::temp_dir())
        .env("USER", "oncall")
        .env("SSH_CONNECTION", "203.0.113.7 51000 10.0.0.2 22")
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn promote_and_rollback_move_the_champion_on_real_mlflow_and_the_audit_log_holds_both() {
    let _turn = turn();
    seed("ranker-a", 0.419);
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(&cfg, config_text(&s.url, &["ranker-a"], "")).unwrap();

    let (code, out) = mltop(&cfg, &audit, &["gate", "ranker-a"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ndcg_at_10 0.412 → 0.419 (+1.7 %, needs +1.0 %) PASS"),
        "{out}"
    );

    let writes_before = s.write_requests().len();
    let (code, out) = mltop(&cfg, &audit, &["promote", "ranker-a", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(s.get_alias("ranker-a", "champion").as_deref(), Some("2"));
    assert_eq!(
        s.get_alias("ranker-a", "previous-champion").as_deref(),
        Some("1")
    );
    assert_eq!(s.get_alias("ranker-a", "challenger"), None);
    assert_eq!(
        s.write_requests().len() - writes_before,
        3,
        "exactly the three planned writes"
    );

    let (code, out) = mltop(&cfg, &audit, &["rollback", "ranker-a", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(s.get_alias("ranker-a", "champion").as_deref(), Some("1"));
    assert_eq!(s.get_alias("ranker-a", "previous-champion"), None);

    let text = std::fs::read_to_string(&audit).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{text}");
    assert_eq!(records[0]["command"], "promote");
    assert_eq!(records[1]["command"], "rollback");
    for r in &records {
        assert_eq!(r["outcome"], "succeeded");
        assert_eq!(r["user"], "oncall");
        assert_eq!(r["ssh_client"], "203.0.113.7:51000");
        assert_eq!(r["environment"], "test");
        assert_eq!(r["target"], "ranker-a@real");
    }
    assert_eq!(records[0]["before"]["champion"], "1");
    assert_eq!(records[0]["after"]["champion"], "2");
}

#[test]
fn read_only_refuses_and_not_one_write_request_reaches_mlflow() {
    let _turn = turn();
    seed("ranker-ro", 0.419);
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "readonly = true\n{}",
            config_text(&s.url, &["ranker-ro"], "")
        ),
    )
    .unwrap();
    let before = s.request_log().len();
    for cmd in ["promote", "rollback"] {
        let (code, out) = mltop(&cfg, &audit, &[cmd, "ranker-ro", "--yes"]);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("refused: nothing was sent: mltop runs read-only"),
            "{out}"
        );
    }
    let after: Vec<(String, String)> = s.request_log()[before..].to_vec();
    assert!(
        after.is_empty(),
        "read-only sent requests to MLflow: {after:?}"
    );
    assert_eq!(s.get_alias("ranker-ro", "champion").as_deref(), Some("1"));
    let text = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().all(|l| l.contains("\"outcome\":\"refused\"")));
}

#[test]
fn a_failing_gate_is_not_promoted_without_the_second_confirmation() {
    let _turn = turn();
    seed("ranker-weak", 0.414); // +0.5 %: fails the +1 % gate
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(&cfg, config_text(&s.url, &["ranker-weak"], "")).unwrap();
    assert_eq!(mltop(&cfg, &audit, &["gate", "ranker-weak"]).0, Some(1));
    let before = s.write_requests().len();
    let (code, out) = mltop(&cfg, &audit, &["promote", "ranker-weak", "--yes"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAILS the validation gate") && out.contains("--override-gate"),
        "{out}"
    );
    assert_eq!(s.write_requests().len(), before, "nothing sent");
    let (code, out) = mltop(
        &cfg,
        &audit,
        &["promote", "ranker-weak", "--yes", "--override-gate"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(s.get_alias("ranker-weak", "champion").as_deref(), Some("2"));
    let last: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["gate_override"], true);
}

#[test]
fn faults_give_clear_messages_down_404_400_and_401() {
    let _turn = turn();
    seed("ranker-f", 0.419);
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };

    // 404: a model the registry does not have.
    let cfg = write("404.toml", config_text(&s.url, &["no-such-model"], ""));
    let (code, out) = mltop(&cfg, &audit, &["promote", "no-such-model", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains(
            "HTTP 404 RESOURCE_DOES_NOT_EXIST: Registered Model with name=no-such-model not found"
        ),
        "{out}"
    );

    // 400: MLflow refuses alias names like `v9` (reserved): the first write fails, nothing moves.
    let cfg = write(
        "400.toml",
        config_text(&s.url, &["ranker-f"], "previous_alias = \"v9\""),
    );
    let (code, out) = mltop(&cfg, &audit, &["promote", "ranker-f", "--yes"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("failed: HTTP 400 INVALID_PARAMETER_VALUE"),
        "{out}"
    );
    assert_eq!(s.get_alias("ranker-f", "champion").as_deref(), Some("1"));
    let last = std::fs::read_to_string(&audit).unwrap();
    assert!(
        last.lines()
            .last()
            .unwrap()
            .contains("\"outcome\":\"failed\"")
    );

    // Down: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = write(
        "down.toml",
        config_text(&format!("http://127.0.0.1:{port}"), &["ranker-f"], ""),
    );
    let (code, out) = mltop(&cfg, &audit, &["gate", "ranker-f"]);
    assert_eq!(code, Some(2));
    assert!(out.contains("cannot connect"), "{out}");

    // 401: MLflow's basic-auth app answers unauthenticated requests like this. It needs the
    // `mlflow[auth]` extra, so a stand-in on loopback gives the same reply here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.";
            let _ = write!(
                conn,
                "HTTP/1.1 401 UNAUTHORIZED\r\nContent-Type: text/html\r\nWWW-Authenticate: Basic realm=\"mlflow\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let cfg = write(
        "401.toml",
        config_text(&format!("http://{addr}"), &["ranker-f"], ""),
    );
    let (code, out) = mltop(&cfg, &audit, &["rollback", "ranker-f", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("HTTP 401") && out.contains("check the registry's auth settings"),
        "{out}"
    );
}
