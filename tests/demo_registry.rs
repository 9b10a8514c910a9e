//! The simulated MLflow Model Registry, through HTTP with a plain HTTP/1.1 client: the demo
//! cast, MLflow's JSON shapes (versions as strings, empty lists omitted), its errors, alias
//! moves, runs and in-process registration.

use std::net::SocketAddr;

use mltop::demo::registry::{self, BASE_PATH, Registry};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const NOW_MS: i64 = 1_750_000_000_000;

struct Reply {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Asserts an MLflow 3 error envelope (one line: `error_code`, `message`, `sqlstate`,
    /// `error_class`) and returns its message.
    fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert!(
            !self.body.contains('\n'),
            "errors are one line: {}",
            self.body
        );
        let v = self.json();
        assert_eq!(v["error_code"], code, "error code of {}", self.body);
        let keys = v.as_object().expect("error is an object").len();
        assert_eq!(keys, 4, "{}", self.body);
        assert_eq!(v["sqlstate"], "KAM00", "{}", self.body);
        let class = if code == "RESOURCE_DOES_NOT_EXIST" {
            "RESOURCE_NOT_FOUND"
        } else {
            code
        };
        assert_eq!(v["error_class"], class, "{}", self.body);
        v["message"]
            .as_str()
            .expect("message is a string")
            .to_string()
    }
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = raw.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        raw = &rest[size + 2..];
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {BASE_PATH}/{path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8(raw).expect("utf-8 reply");
    let (head, rest) = raw.split_once("\r\n\r\n").expect("header/body split");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut content_type = None;
    let mut chunked = false;
    for line in lines {
        let (k, v) = line.split_once(':').expect("header line");
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(v.trim().to_string()),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Reply {
        status,
        content_type,
        body,
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, None, None).await
}

async fn post(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    send(
        addr,
        "POST",
        path,
        Some("application/json"),
        Some(&body.to_string()),
    )
    .await
}

async fn delete(addr: SocketAddr, path: &str, body: Option<&Value>) -> Reply {
    let body = body.map(Value::to_string);
    send(
        addr,
        "DELETE",
        path,
        Some("application/json"),
        body.as_deref(),
    )
    .await
}

async fn start() -> (Registry, SocketAddr, CancellationToken) {
    let registry = Registry::demo_at(NOW_MS);
    let cancel = CancellationToken::new();
    let addr = registry::serve(registry.clone(), cancel.clone())
        .await
        .expect("registry serves");
    (registry, addr, cancel)
}

fn aliases(model: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = model["aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["alias"].as_str().expect("alias string").to_string(),
                        x["version"].as_str().expect("version string").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Every value under a key named `version` anywhere in `v`.
fn version_values<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "version" {
                    out.push(x);
                }
                version_values(x, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| version_values(x, out)),
        _ => {}
    }
}

fn model_uri(name: &str) -> String {
    format!("registered-models/get?name={}", enc(name))
}

#[tokio::test]
async fn get_model_returns_the_cast_aliases() {
    let (registry, addr, cancel) = start().await;

    let reply = get(addr, &model_uri("recsys-ranker")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let rm = &reply.json()["registered_model"];
    assert_eq!(rm["name"], "recsys-ranker");
    assert_eq!(
        aliases(rm),
        vec![
            ("challenger".to_string(), "13".to_string()),
            ("champion".to_string(), "12".to_string())
        ]
    );
    // MLflow lists aliases sorted by name.
    assert_eq!(rm["aliases"][0]["alias"], "challenger");
    assert!(rm["creation_timestamp"].is_i64());
    assert!(rm["last_updated_timestamp"].as_i64() > rm["creation_timestamp"].as_i64());
    // All versions are in stage "None": latest_versions holds the latest one, without aliases.
    let latest = rm["latest_versions"].as_array().expect("latest_versions");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["version"], "13");
    assert_eq!(latest[0]["current_stage"], "None");
    assert!(latest[0].get("aliases").is_none());

    let reply = get(addr, &model_uri("fraud-detector")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rm = &reply.json()["registered_model"];
    assert_eq!(aliases(rm), vec![("champion".to_string(), "7".to_string())]);
    assert_eq!(rm["latest_versions"][0]["version"], "7");

    assert_eq!(
        registry.alias("recsys-ranker", "champion").as_deref(),
        Some("12")
    );
    assert_eq!(
        registry.alias("recsys-ranker", "challenger").as_deref(),
        Some("13")
    );
    assert_eq!(
        registry.alias("fraud-detector", "champion").as_deref(),
        Some("7")
    );
    assert_eq!(registry.alias("fraud-detector", "challenger"), None);
    assert_eq!(registry.versions("recsys-ranker"), ["10", "11", "12", "13"]);
    assert_eq!(
        registry.versions("fraud-detector"),
        ["1", "2", "3", "4", "5", "6", "7"]
    );
    assert_eq!(registry.write_count(), 0, "reads are not writes");
    cancel.cancel();
}

#[tokio::test]
async fn versions_are_strings_everywhere_and_a_numeric_version_is_rejected() {
    let (registry, addr, cancel) = start().await;

    let mut bodies = Vec::new();
    for path in [
        model_uri("recsys-ranker"),
        "registered-models/search".to_string(),
        "model-versions/get?name=recsys-ranker&version=12".to_string(),
        format!(
            "model-versions/search?filter={}",
            enc("name='recsys-ranker'")
        ),
        "registered-models/alias?name=recsys-ranker&alias=champion".to_string(),
    ] {
        let reply = get(addr, &path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        bodies.push(reply.json());
    }
    let mut versions = Vec::new();
    for body in &bodies {
        version_values(body, &mut versions);
    }
    assert!(
        versions.len() > 10,
        "found {} version fields",
        versions.len()
    );
    for v in versions {
        assert!(v.is_string(), "version {v} is not a string");
    }

    let reply = post(
        addr,
        "registered-models/alias",
        &json!({"name": "recsys-ranker", "alias": "champion", "version": 13}),
    )
    .await;
    let message = reply.error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Invalid value 13 for parameter 'version' supplied:  Hint: Value was of type 'int'. \
         See the API docs for more information about request parameters."
    );
    assert_eq!(
        registry.alias("recsys-ranker", "champion").as_deref(),
        Some("12")
    );
    assert_eq!(registry.write_count(), 1, "a rejected POST still counts");
    cancel.cancel();
}

#[tokio::test]
async fn an_empty_search_is_an_empty_object() {
    let (_registry, addr, cancel) = start().await;
    for path in [
        format!(
            "registered-models/search?filter={}",
            enc("name LIKE 'nope%'")
        ),
        format!("registered-models/search?filter={}", enc("name = 'nope'")),
        format!("model-versions/search?filter={}", enc("name='nope'")),
    ] {
        let reply = get(addr, &path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(reply.body.trim(), "{}", "{path}");
    }

    // The filters do filter, and an empty filter lists everything in name order.
    let reply = get(
        addr,
        &format!(
            "registered-models/search?filter={}",
            enc("name LIKE 'recsys%'")
        ),
    )
    .await;
    let models = reply.json()["registered_models"].clone();
    assert_eq!(models.as_array().map(Vec::len), Some(1));
    assert_eq!(models[0]["name"], "recsys-ranker");
    let all = get(addr, "registered-models/search?filter=").await.json();
    let names: Vec<&str> = all["registered_models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["fraud-detector", "recsys-ranker"]);
    assert!(all.get("next_page_token").is_none());

    // Paging: one per page, the token leads to the second.
    let first = get(addr, "registered-models/search?max_results=1")
        .await
        .json();
    assert_eq!(first["registered_models"][0]["name"], "fraud-detector");
    let token = first["next_page_token"].as_str().expect("a next page");
    let second = get(
        addr,
        &format!(
            "registered-models/search?max_results=1&page_token={}",
            enc(token)
        ),
    )
    .await
    .json();
    assert_eq!(second["registered_models"][0]["name"], "recsys-ranker");
    assert!(second.get("next_page_token").is_none());
    cancel.cancel();
}

#[tokio::test]
async fn a_missing_model_or_version_is_resource_does_not_exist() {
    let (_registry, addr, cancel) = start().await;
    let message = get(addr, &model_uri("no-such-model"))
        .await
        .error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        message,
        "Registered Model with name=no-such-model not found"
    );

    let message = get(addr, "model-versions/get?name=recsys-ranker&version=99")
        .await
        .error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        message,
        "Model Version (name=recsys-ranker, version=99) not found"
    );
    // Versions 1-9 of recsys-ranker were deleted long ago.
    get(addr, "model-versions/get?name=recsys-ranker&version=9")
        .await
        .error(404, "RESOURCE_DOES_NOT_EXIST");

    let message = get(addr, "model-versions/get?name=recsys-ranker&version=abc")
        .await
        .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Parameter 'version' must be an integer, got 'abc'."
    );

    let message = get(addr, "registered-models/get")
        .await
        .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Missing value for required parameter 'name'. See the API docs for more information \
         about request parameters."
    );

    get(addr, "runs/get?run_id=0123456789abcdef0123456789abcdef")
        .await
        .error(404, "RESOURCE_DOES_NOT_EXIST");
    let message = get(
        addr,
        "registered-models/alias?name=no-such-model&alias=champion",
    )
    .await
    .error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        message,
        "Registered Model with name=no-such-model not found"
    );

    // A bad filter, a bad max_results, a bad page token.
    let message = get(addr, "registered-models/search?filter=bogus")
        .await
        .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(message, "Invalid clause(s) in filter string: bogus");
    let message = get(
        addr,
        &format!("registered-models/search?filter={}", enc("name = x")),
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.starts_with("Parameter value is either not quoted"),
        "{message}"
    );
    let message = get(addr, "registered-models/search?max_results=2000")
        .await
        .error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.starts_with("Invalid value \"2000\" for parameter 'max_results'"),
        "{message}"
    );
    get(addr, "registered-models/search?page_token=!!!")
        .await
        .error(400, "INVALID_PARAMETER_VALUE");

    // Routing errors are Flask's HTML pages, not API errors.
    let reply = get(addr, "registered-models/nope").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    let reply = send(addr, "PATCH", "registered-models/alias", None, None).await;
    assert_eq!(reply.status, 405);
    assert!(reply.body.starts_with("<!doctype html>"), "{}", reply.body);
    cancel.cancel();
}

#[tokio::test]
async fn aliases_move_read_and_delete_like_mlflow() {
    let (registry, addr, cancel) = start().await;
    let before = get(addr, &model_uri("recsys-ranker")).await.json()["registered_model"]
        ["last_updated_timestamp"]
        .as_i64()
        .expect("timestamp");

    // Promote: champion moves from 12 to 13.
    let reply = post(
        addr,
        "registered-models/alias",
        &json!({"name": "recsys-ranker", "alias": "champion", "version": "13"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body.trim(), "{}");
    assert_eq!(
        registry.alias("recsys-ranker", "champion").as_deref(),
        Some("13")
    );

    let reply = get(
        addr,
        "registered-models/alias?name=recsys-ranker&alias=champion",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mv = &reply.json()["model_version"];
    assert_eq!(mv["version"], "13");
    let mut on_13: Vec<&str> = mv["aliases"]
        .as_array()
        .expect("aliases on the version")
        .iter()
        .map(|a| a.as_str().expect("alias"))
        .collect();
    on_13.sort_unstable();
    assert_eq!(on_13, ["challenger", "champion"]);

    let rm = get(addr, &model_uri("recsys-ranker")).await.json();
    let after = rm["registered_model"]["last_updated_timestamp"]
        .as_i64()
        .expect("timestamp");
    assert!(
        after > before,
        "an alias move updates last_updated_timestamp"
    );

    // Delete the challenger with a JSON body; deleting it again is still 200 {}.
    for _ in 0..2 {
        let reply = delete(
            addr,
            "registered-models/alias",
            Some(&json!({"name": "recsys-ranker", "alias": "challenger"})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body.trim(), "{}");
    }
    assert_eq!(registry.alias("recsys-ranker", "challenger"), None);
    let message = get(
        addr,
        "registered-models/alias?name=recsys-ranker&alias=challenger",
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(message, "Registered model alias challenger not found.");

    // Query parameters instead of a body: the body is empty, so `name` is missing.
    let message = delete(
        addr,
        "registered-models/alias?name=recsys-ranker&alias=champion",
        None,
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.starts_with("Missing value for required parameter 'name'."),
        "{message}"
    );
    assert_eq!(
        registry.alias("recsys-ranker", "champion").as_deref(),
        Some("13")
    );

    // Unknown model, unknown version, reserved alias, missing Content-Type.
    post(
        addr,
        "registered-models/alias",
        &json!({"name": "nope", "alias": "champion", "version": "1"}),
    )
    .await
    .error(404, "RESOURCE_DOES_NOT_EXIST");
    let message = post(
        addr,
        "registered-models/alias",
        &json!({"name": "recsys-ranker", "alias": "champion", "version": "42"}),
    )
    .await
    .error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        message,
        "Model Version (name=recsys-ranker, version=42) not found"
    );
    post(
        addr,
        "registered-models/alias",
        &json!({"name": "recsys-ranker", "alias": "latest", "version": "12"}),
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    delete(
        addr,
        "registered-models/alias",
        Some(&json!({"name": "nope", "alias": "champion"})),
    )
    .await
    .error(404, "RESOURCE_DOES_NOT_EXIST");
    let message = send(
        addr,
        "POST",
        "registered-models/alias",
        None,
        Some(r#"{"name": "recsys-ranker", "alias": "champion", "version": "12"}"#),
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(message, "Bad Request. Content-Type header is missing.");

    // Rollback: champion back to 12, in-process this time.
    registry
        .set_alias("recsys-ranker", "champion", "12")
        .expect("rollback");
    assert_eq!(
        registry.alias("recsys-ranker", "champion").as_deref(),
        Some("12")
    );
    assert_eq!(registry.write_count(), 9);
    cancel.cancel();
}

#[tokio::test]
async fn runs_get_returns_the_metrics_of_a_versions_run() {
    let (_registry, addr, cancel) = start().await;
    let reply = get(addr, "model-versions/get?name=recsys-ranker&version=13").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mv = reply.json()["model_version"].clone();
    // The fields MLflow returns for a version registered over REST.
    assert_eq!(mv["name"], "recsys-ranker");
    assert_eq!(mv["current_stage"], "None");
    assert_eq!(mv["status"], "READY");
    assert_eq!(mv["description"], "");
    assert_eq!(mv["run_link"], "");
    assert!(mv.get("user_id").is_none());
    assert!(mv["creation_timestamp"].is_i64());
    assert!(mv["last_updated_timestamp"].is_i64());
    assert_eq!(mv["aliases"], json!(["challenger"]));
    let run_id = mv["run_id"].as_str().expect("run_id").to_string();
    assert_eq!(run_id.len(), 32);
    assert!(mv["source"].as_str().expect("source").contains(&run_id));

    // Search results carry no aliases.
    let search = get(
        addr,
        &format!(
            "model-versions/search?filter={}",
            enc("name='recsys-ranker'")
        ),
    )
    .await
    .json();
    let found = search["model_versions"].as_array().expect("versions");
    let numbers: Vec<&str> = found
        .iter()
        .map(|v| v["version"].as_str().expect("version"))
        .collect();
    assert_eq!(numbers, ["13", "12", "11", "10"], "newest first");
    assert!(found.iter().all(|v| v.get("aliases").is_none()));

    let reply = get(addr, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let run = reply.json()["run"].clone();
    assert_eq!(run["info"]["run_id"], run_id.as_str());
    assert_eq!(run["info"]["run_uuid"], run_id.as_str());
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["lifecycle_stage"], "active");
    assert!(run["info"]["end_time"].as_i64() > run["info"]["start_time"].as_i64());
    assert_eq!(run["inputs"], json!({}));
    assert_eq!(run["outputs"], json!({}));
    let metric = |key: &str| {
        run["data"]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["key"] == key)
            .unwrap_or_else(|| panic!("metric {key}"))
            .clone()
    };
    assert_eq!(metric("ndcg_at_10")["value"].as_f64(), Some(0.419));
    assert_eq!(metric("ndcg_at_10")["step"], 0);
    assert!(metric("ndcg_at_10")["timestamp"].is_i64());
    assert!(metric("recall_at_20")["value"].is_f64());
    assert!(metric("auc")["value"].is_f64());

    // v12's run: the +1.7 % the gate looks at.
    let v12 = get(addr, "model-versions/get?name=recsys-ranker&version=12")
        .await
        .json();
    let run12 = get(
        addr,
        &format!(
            "runs/get?run_id={}",
            v12["model_version"]["run_id"].as_str().expect("run_id")
        ),
    )
    .await
    .json();
    let ndcg12 = run12["run"]["data"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["key"] == "ndcg_at_10")
        .and_then(|m| m["value"].as_f64())
        .expect("ndcg_at_10 of v12");
    assert_eq!(ndcg12, 0.412);
    cancel.cancel();
}

#[tokio::test]
async fn register_version_creates_the_next_version_with_its_run() {
    let (registry, addr, cancel) = start().await;
    let version = registry.register_version(
        "recsys-ranker",
        &[("ndcg_at_10", 0.431), ("recall_at_20", 0.33), ("auc", 0.8)],
    );
    assert_eq!(version, "14");
    assert_eq!(
        registry.write_count(),
        0,
        "in-process registration is not an HTTP write"
    );
    assert_eq!(
        registry.version_metrics("recsys-ranker", "14"),
        Some(vec![
            ("ndcg_at_10".to_string(), 0.431),
            ("recall_at_20".to_string(), 0.33),
            ("auc".to_string(), 0.8)
        ])
    );

    let mv = get(addr, "model-versions/get?name=recsys-ranker&version=14")
        .await
        .json()["model_version"]
        .clone();
    assert_eq!(mv["version"], "14");
    assert!(mv.get("aliases").is_none());
    let run = get(
        addr,
        &format!("runs/get?run_id={}", mv["run_id"].as_str().expect("run_id")),
    )
    .await
    .json();
    let ndcg = run["run"]["data"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["key"] == "ndcg_at_10")
        .and_then(|m| m["value"].as_f64());
    assert_eq!(ndcg, Some(0.431));
    // It inherits the hyperparameters of the model's runs.
    assert!(
        run["run"]["data"]["params"]
            .as_array()
            .expect("params")
            .iter()
            .any(|p| p["key"] == "objective")
    );
    let rm = get(addr, &model_uri("recsys-ranker")).await.json();
    assert_eq!(
        rm["registered_model"]["latest_versions"][0]["version"],
        "14"
    );

    // The same through REST: the next version, as a string, with the version's aliases field
    // absent (none point to it yet). A run's artifact must come with that run's id.
    let run_id = mv["run_id"].as_str().expect("run_id");
    let reply = post(
        addr,
        "model-versions/create",
        &json!({
            "name": "recsys-ranker",
            "source": format!("mlflow-artifacts:/1/{run_id}/artifacts/model"),
            "run_id": run_id,
            "description": "retrained",
            "tags": [{"key": "trigger", "value": "manual"}],
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let created = reply.json()["model_version"].clone();
    assert_eq!(created["version"], "15");
    assert_eq!(created["run_id"], run_id);
    assert_eq!(created["status"], "READY");
    assert_eq!(created["description"], "retrained");
    assert_eq!(
        created["tags"],
        json!([{"key": "trigger", "value": "manual"}])
    );
    assert!(created.get("aliases").is_none());
    let message = post(
        addr,
        "model-versions/create",
        &json!({"name": "recsys-ranker", "source": "mlflow-artifacts:/1/abc/artifacts/model"}),
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.ends_with(
            "The run_id request parameter must identify the resource that contains the source."
        ),
        "{message}"
    );
    // Any other source needs no run: its run_id is then "".
    let reply = post(
        addr,
        "model-versions/create",
        &json!({"name": "recsys-ranker", "source": "s3://models/recsys-ranker/16"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["model_version"]["version"], "16");
    assert_eq!(reply.json()["model_version"]["run_id"], "");

    post(
        addr,
        "model-versions/create",
        &json!({"name": "nope", "source": "s3://models/nope/1"}),
    )
    .await
    .error(404, "RESOURCE_DOES_NOT_EXIST");
    post(
        addr,
        "model-versions/create",
        &json!({"name": "recsys-ranker", "source": "/tmp/model"}),
    )
    .await
    .error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(registry.write_count(), 5);
    assert_eq!(
        registry
            .versions("recsys-ranker")
            .last()
            .map(String::as_str),
        Some("16")
    );
    cancel.cancel();
}

#[tokio::test]
async fn the_same_clock_gives_the_same_bytes() {
    let (_a, addr_a, cancel_a) = start().await;
    let (_b, addr_b, cancel_b) = start().await;
    for path in [
        "registered-models/search".to_string(),
        "model-versions/search".to_string(),
        "model-versions/get?name=fraud-detector&version=7".to_string(),
    ] {
        let a = get(addr_a, &path).await;
        let b = get(addr_b, &path).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body, b.body, "{path}");
    }
    cancel_a.cancel();
    cancel_b.cancel();
}
