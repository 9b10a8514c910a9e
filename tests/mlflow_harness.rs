//! Checks the MLflow test harness itself against a real MLflow 3.17.2 server: seeding a
//! registry through the REST API, the JSON shapes the adapter relies on (aliases, string
//! versions, run metrics, error envelopes, empty searches), the request log, and going down on
//! `stop()` and coming back with its data on `restart()`.
//! Fails (never skips) when MLflow is absent and cannot be installed.

mod support;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http_get;
use support::mlflow::MlflowServer;

const MODEL: &str = "recsys-ranker";

fn api(path: &str) -> String {
    format!("/api/2.0/mlflow/{path}")
}

fn write(method: &str, path: &str) -> (String, String) {
    (method.to_string(), api(path))
}

fn metric(run: &Value, key: &str) -> Option<f64> {
    run["run"]["data"]["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["key"] == key)?["value"]
        .as_f64()
}

fn aliases(model: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = model["registered_model"]["aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["alias"].as_str().unwrap().to_string(),
                        x["version"]
                            .as_str()
                            .expect("versions are strings")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn mlflow_server_starts_and_the_registry_round_trips() {
    let mut mlflow = MlflowServer::start();
    assert_eq!(mlflow.url, format!("http://127.0.0.1:{}", mlflow.port));
    let _ = writeln!(
        std::io::stderr(),
        "[mlflow_harness] started in {:.1} s, RSS {} MiB",
        mlflow.startup.as_secs_f64(),
        mlflow.rss_kib() / 1024
    );
    assert!(mlflow.rss_kib() > 0, "no processes in the server's group");
    assert!(
        mlflow.write_requests().is_empty(),
        "start-up must not write: {:?}",
        mlflow.write_requests()
    );

    // Seed: an experiment, two runs with metrics, a model with two versions and two aliases.
    let exp = mlflow.create_experiment("recsys");
    let run1 = mlflow.create_run_with_metrics(
        &exp,
        &[
            ("ndcg_at_10", 0.412),
            ("recall_at_20", 0.301),
            ("auc", 0.871),
        ],
    );
    let run2 = mlflow.create_run_with_metrics(
        &exp,
        &[
            ("ndcg_at_10", 0.419),
            ("recall_at_20", 0.305),
            ("auc", 0.874),
        ],
    );
    mlflow.create_registered_model(MODEL);
    let v1 = mlflow.create_model_version(MODEL, &run1);
    let v2 = mlflow.create_model_version(MODEL, &run2);
    assert_eq!((v1.as_str(), v2.as_str()), ("1", "2"));
    mlflow.set_alias(MODEL, "champion", &v1);
    mlflow.set_alias(MODEL, "challenger", &v2);

    // The registered model carries both aliases as [{alias, version: "N"}].
    let model = mlflow.get(&format!("registered-models/get?name={MODEL}"));
    assert_eq!(
        aliases(&model),
        [
            ("challenger".to_string(), "2".to_string()),
            ("champion".to_string(), "1".to_string())
        ],
        "{model}"
    );
    assert_eq!(model["registered_model"]["name"], MODEL);
    assert_eq!(mlflow.get_alias(MODEL, "champion").as_deref(), Some("1"));
    assert_eq!(mlflow.get_alias(MODEL, "challenger").as_deref(), Some("2"));

    // model-versions/search lists both versions, with string versions and no aliases.
    let search = mlflow.get(&format!(
        "model-versions/search?filter={}",
        support::percent_encode(&format!("name='{MODEL}'"))
    ));
    let versions = search["model_versions"].as_array().expect("model_versions");
    let mut listed: Vec<&str> = versions
        .iter()
        .map(|v| v["version"].as_str().expect("string version"))
        .collect();
    listed.sort();
    assert_eq!(listed, ["1", "2"], "{search}");
    assert!(
        versions.iter().all(|v| v.get("aliases").is_none()),
        "model-versions/search results carry no aliases in 3.17.2: {search}"
    );
    let by_run: Vec<(&str, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap(),
                v["run_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(by_run.contains(&("1", run1.as_str())) && by_run.contains(&("2", run2.as_str())));
    // model-versions/get does carry them, as a list of strings.
    let mv1 = mlflow.get(&format!("model-versions/get?name={MODEL}&version=1"));
    assert_eq!(
        mv1["model_version"]["aliases"],
        json!(["champion"]),
        "{mv1}"
    );
    assert_eq!(mv1["model_version"]["status"], "READY");

    // A version's metrics: model_version.run_id -> runs/get.
    let run = mlflow.get(&format!("runs/get?run_id={run2}"));
    assert_eq!(metric(&run, "ndcg_at_10"), Some(0.419), "{run}");
    assert_eq!(metric(&run, "recall_at_20"), Some(0.305), "{run}");
    assert_eq!(metric(&run, "auc"), Some(0.874), "{run}");
    assert_eq!(run["run"]["info"]["status"], "FINISHED");
    let run = mlflow.get(&format!("runs/get?run_id={run1}"));
    assert_eq!(metric(&run, "ndcg_at_10"), Some(0.412), "{run}");

    // DELETE the challenger alias (JSON body): gone from the model and from the alias route.
    mlflow.delete_alias(MODEL, "challenger");
    let model = mlflow.get(&format!("registered-models/get?name={MODEL}"));
    assert_eq!(
        aliases(&model),
        [("champion".to_string(), "1".to_string())],
        "{model}"
    );
    assert_eq!(mlflow.get_alias(MODEL, "challenger"), None);

    // Exactly the seeding writes reached the server, in order.
    let mut expected = vec![write("POST", "experiments/create")];
    for _ in 0..2 {
        expected.push(write("POST", "runs/create"));
        expected.push(write("POST", "runs/log-batch"));
        expected.push(write("POST", "runs/update"));
    }
    expected.push(write("POST", "registered-models/create"));
    expected.push(write("POST", "model-versions/create"));
    expected.push(write("POST", "model-versions/create"));
    expected.push(write("POST", "registered-models/alias"));
    expected.push(write("POST", "registered-models/alias"));
    expected.push(write("DELETE", "registered-models/alias"));
    assert_eq!(mlflow.write_requests(), expected);
    // Reads are logged too, with their query strings.
    assert!(
        mlflow
            .request_log()
            .contains(&("GET".to_string(), api(&format!("runs/get?run_id={run1}")))),
        "{:?}",
        mlflow.request_log()
    );

    // Facts the adapter relies on (see the notes atop tests/support/mlflow.rs).
    let reads_before = mlflow.request_log().len();
    let (status, err) = mlflow.try_get("registered-models/get?name=nope").unwrap();
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error_code"], "RESOURCE_DOES_NOT_EXIST", "{err}");
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
    let (status, err) = mlflow
        .try_get(&format!("model-versions/get?name={MODEL}&version=abc"))
        .unwrap();
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error_code"], "INVALID_PARAMETER_VALUE", "{err}");
    let (status, err) = mlflow
        .try_get(&format!(
            "registered-models/alias?name={MODEL}&alias=challenger"
        ))
        .unwrap();
    assert_eq!(
        (status, err["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "a missing alias is a 400, not a 404: {err}"
    );
    let (status, empty) = mlflow
        .try_get(&format!(
            "model-versions/search?filter={}",
            support::percent_encode("name='nope'")
        ))
        .unwrap();
    assert_eq!((status, &empty), (200, &json!({})), "empty search is {{}}");
    let (status, empty) = mlflow
        .try_get(&format!(
            "registered-models/search?filter={}",
            support::percent_encode("name LIKE 'zzz%'")
        ))
        .unwrap();
    assert_eq!((status, &empty), (200, &json!({})), "empty search is {{}}");
    assert_eq!(mlflow.request_log().len(), reads_before + 5);
    assert_eq!(mlflow.write_requests(), expected, "reads are not writes");
    // Rejected writes still reach the server (and the log).
    let (status, err) = mlflow
        .try_post(
            "registered-models/alias",
            &json!({ "name": MODEL, "alias": "x", "version": 2 }),
        )
        .unwrap();
    assert_eq!(
        (status, err["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, err) = mlflow
        .try_delete(
            &format!("registered-models/alias?name={MODEL}&alias=champion"),
            &json!({}),
        )
        .unwrap();
    assert_eq!(
        (status, err["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "DELETE alias wants a JSON body: {err}"
    );
    let (status, ok) = mlflow
        .try_delete(
            "registered-models/alias",
            &json!({ "name": MODEL, "alias": "never-set" }),
        )
        .unwrap();
    assert_eq!(
        (status, &ok),
        (200, &json!({})),
        "deleting a missing alias is a 200"
    );
    expected.push(write("POST", "registered-models/alias"));
    expected.push((
        "DELETE".to_string(),
        api(&format!(
            "registered-models/alias?name={MODEL}&alias=champion"
        )),
    ));
    expected.push(write("DELETE", "registered-models/alias"));
    assert_eq!(mlflow.write_requests(), expected);
    assert_eq!(mlflow.get_alias(MODEL, "champion").as_deref(), Some("1"));

    // MLflow going down: the port refuses connections.
    let t = Instant::now();
    mlflow.stop();
    let _ = writeln!(
        std::io::stderr(),
        "[mlflow_harness] stopped in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(mlflow.rss_kib(), 0);
    let refused = TcpStream::connect(("127.0.0.1", mlflow.port));
    assert_eq!(
        refused.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused),
        "expected {} to refuse connections after stop(), got {refused:?}",
        mlflow.url
    );
    assert!(http_get(&format!("{}/health", mlflow.url), Duration::from_secs(2)).is_err());

    // Back on the same port with the same store: the registry is still there.
    let port = mlflow.port;
    mlflow.restart();
    assert_eq!(mlflow.port, port);
    let _ = writeln!(
        std::io::stderr(),
        "[mlflow_harness] restarted in {:.1} s",
        mlflow.startup.as_secs_f64()
    );
    let (status, body) =
        http_get(&format!("{}/health", mlflow.url), Duration::from_secs(5)).expect("health");
    assert_eq!((status, body.trim()), (200, "OK"));
    assert_eq!(mlflow.get_alias(MODEL, "champion").as_deref(), Some("1"));
    assert_eq!(
        mlflow.write_requests(),
        expected,
        "a restart writes nothing"
    );
}
