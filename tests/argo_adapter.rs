//! The Argo Rollouts dashboard adapter against a FAKE dashboard. Argo Rollouts needs a
//! Kubernetes cluster (the dashboard reads Rollout, ReplicaSet and AnalysisRun objects from the
//! API server), which cannot run here, so this axum server stands in for
//! `kubectl argo rollouts dashboard`. It follows the dashboard API's JSON to the field, from
//! argoproj/argo-rollouts:
//! - routes: `pkg/apiclient/rollout/rollout.proto` (`GET /api/v1/rollouts/{namespace}/info`,
//!   `GET …/{namespace}/{name}/info`, `PUT …/{name}/promote|abort|retry` with `body: "*"`,
//!   `PUT …/{rollout}/undo/{revision}`), served under `/rollouts/api/v1` since v1.9;
//! - field names and omitted zero values: the `json:"…,omitempty"` tags of
//!   `pkg/apiclient/rollout/rollout.pb.go` (`RolloutInfo`, `ReplicaSetInfo`,
//!   `AnalysisRunInfo`), marshalled by Go's `encoding/json` (`utils/json/json.go`, wired in
//!   `server/server.go`): camelCase, `step`/`setWeight`/`actualWeight` are strings, int64 are
//!   numbers, an empty list is `{}`;
//! - canary steps: `v1alpha1.CanaryStep` in `pkg/apis/rollouts/v1alpha1/types.go`
//!   (`setWeight`, `pause.duration` as int-or-string, `analysis.templates[].templateName`);
//! - errors: grpc-gateway's `{"code": <grpc code>, "message": …}`; plain text from a proxy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mltop::config::Auth;
use mltop::domain::rollout::RolloutCommand;
use mltop::sources::argo::{
    AnalysisRunInfo, ArgoClient, ArgoError, CanaryStep, DEFAULT_PREFIX, LEGACY_PREFIX,
    ReplicaSetInfo,
};
use mltop::sources::http::HttpClient;
use serde_json::{Value, json};

/// How the fake answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Normal,
    /// 403 with grpc-gateway's JSON, as when the dashboard's identity lacks RBAC.
    Forbidden,
    /// 404 as plain text, as Go's `http.NotFound` (or a proxy) would send it.
    NotFoundPlain,
    /// Sleep well past the client's timeout before answering a PUT.
    Hang,
}

#[derive(Debug, Clone, PartialEq)]
struct Put {
    method: String,
    path: String,
    body: Value,
}

#[derive(Clone)]
struct Fake {
    prefix: String,
    mode: Arc<Mutex<Mode>>,
    puts: Arc<Mutex<Vec<Put>>>,
}

/// `recsys` in `ml`, paused after its first step (setWeight 5) of eight, as the dashboard
/// would send it: zero values left out (`canary` on the stable ReplicaSet, `stable` on the
/// canary one, `active`/`preview` for a canary strategy, zero analysis counts).
fn recsys() -> Value {
    json!({
        "objectMeta": {
            "name": "recsys",
            "namespace": "ml",
            "uid": "6c1b4a0e-0000-4000-8000-000000000001",
            "resourceVersion": "81234",
            "generation": 7,
            "creationTimestamp": "2026-12-01T09:00:00Z"
        },
        "status": "Paused",
        "message": "CanaryPauseStep",
        "icon": "fa-pause-circle",
        "strategy": "Canary",
        "step": "1/8",
        "setWeight": "5",
        "actualWeight": "5",
        "ready": 5,
        "current": 5,
        "desired": 4,
        "updated": 1,
        "available": 5,
        "generation": 7,
        "replicaSets": [
            {
                "objectMeta": {"name": "recsys-6f9c7d8b4", "namespace": "ml"},
                "status": "Healthy",
                "icon": "fa-check-circle",
                "revision": 3,
                "stable": true,
                "replicas": 4,
                "available": 4,
                "template": "6f9c7d8b4",
                "images": ["registry.example/recsys:1.41.0"]
            },
            {
                "objectMeta": {"name": "recsys-84d5f6c7b", "namespace": "ml"},
                "status": "Healthy",
                "icon": "fa-check-circle",
                "revision": 4,
                "canary": true,
                "replicas": 1,
                "available": 1,
                "template": "84d5f6c7b",
                "images": ["registry.example/recsys:1.42.0"]
            }
        ],
        "analysisRuns": [
            {
                "objectMeta": {"name": "recsys-84d5f6c7b-4-background", "namespace": "ml"},
                "icon": "fa-circle-notch",
                "revision": 4,
                "status": "Running",
                "successful": 2
            }
        ],
        "containers": [{"name": "recsys", "image": "registry.example/recsys:1.42.0"}],
        "steps": [
            {"setWeight": 5},
            {"pause": {"duration": "2m"}},
            {"setWeight": 25},
            {"pause": {"duration": "2m"}},
            {"analysis": {"templates": [{"templateName": "recsys-success-rate"}]}},
            {"setWeight": 50},
            {"pause": {"duration": "2m"}},
            {"setWeight": 100}
        ]
    })
}

fn grpc_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"code": code, "message": message}).to_string(),
    )
        .into_response()
}

async fn handle(State(f): State<Fake>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let mode = *f.mode.lock().unwrap();
    if method == Method::PUT {
        f.puts.lock().unwrap().push(Put {
            method: method.to_string(),
            path: path.clone(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
    }
    match mode {
        Mode::Normal => {}
        Mode::Forbidden => {
            return grpc_error(
                StatusCode::FORBIDDEN,
                7,
                "rollouts.argoproj.io \"recsys\" is forbidden: User \"system:serviceaccount:\
                 argo-rollouts:argo-rollouts-dashboard\" cannot patch resource \"rollouts\" \
                 in API group \"argoproj.io\" in the namespace \"ml\"",
            );
        }
        Mode::NotFoundPlain => {
            return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
        }
        Mode::Hang => {
            if method == Method::PUT {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
    let Some(rest) = path.strip_prefix(&f.prefix) else {
        // The real dashboard serves its single-page app for any other path.
        return (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<!doctype html><html><body>Argo Rollouts</body></html>",
        )
            .into_response();
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let not_found = |name: &str| {
        grpc_error(
            StatusCode::NOT_FOUND,
            5,
            &format!("rollouts.argoproj.io \"{name}\" not found"),
        )
    };
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["rollouts", ns, "info"]) => {
            let body = if *ns == "ml" {
                json!({"rollouts": [recsys()]})
            } else {
                json!({})
            };
            axum::Json(body).into_response()
        }
        ("GET", ["rollouts", ns, name, "info"]) => {
            if *ns == "ml" && *name == "recsys" {
                axum::Json(recsys()).into_response()
            } else {
                not_found(name)
            }
        }
        (
            "PUT",
            [
                "rollouts",
                ns,
                name,
                "promote" | "abort" | "retry" | "restart",
            ],
        )
        | ("PUT", ["rollouts", ns, name, "undo", _]) => {
            if *ns == "ml" && *name == "recsys" {
                // The real reply is the updated v1alpha1.Rollout object.
                axum::Json(json!({
                    "metadata": {"name": "recsys", "namespace": "ml"},
                    "spec": {}, "status": {}
                }))
                .into_response()
            } else {
                not_found(name)
            }
        }
        _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn fake(prefix: &str) -> (String, Fake) {
    let f = Fake {
        prefix: prefix.to_string(),
        mode: Arc::new(Mutex::new(Mode::Normal)),
        puts: Default::default(),
    };
    let app = Router::new().fallback(handle).with_state(f.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/"), f)
}

fn client(base: &str, prefix: &str, timeout: Duration) -> ArgoClient {
    let http = HttpClient::new(timeout, &[], &Auth::None, 1 << 20).unwrap();
    ArgoClient::new(http, url::Url::parse(base).unwrap(), prefix)
}

fn expected_steps() -> Vec<CanaryStep> {
    vec![
        CanaryStep::SetWeight(5),
        CanaryStep::Pause(Some(120)),
        CanaryStep::SetWeight(25),
        CanaryStep::Pause(Some(120)),
        CanaryStep::Analysis(vec!["recsys-success-rate".into()]),
        CanaryStep::SetWeight(50),
        CanaryStep::Pause(Some(120)),
        CanaryStep::SetWeight(100),
    ]
}

#[tokio::test]
async fn list_and_info_are_read_under_both_path_prefixes_with_omitted_zero_values_as_zero() {
    for prefix in [DEFAULT_PREFIX, LEGACY_PREFIX] {
        let (base, _f) = fake(prefix).await;
        let c = client(&base, prefix, Duration::from_secs(2));

        let all = c.list("ml").await.unwrap();
        assert_eq!(all.len(), 1, "{prefix}");
        let r = c.get("ml", "recsys").await.unwrap();
        assert_eq!(all[0], r, "list and info agree under {prefix}");

        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("ml", "recsys"));
        assert_eq!(r.status, "Paused");
        assert_eq!(r.message, "CanaryPauseStep");
        assert_eq!(r.strategy, "Canary");
        assert_eq!(r.step, Some((1, 8)));
        assert_eq!((r.set_weight, r.actual_weight), (Some(5), Some(5)));
        assert_eq!(
            (r.ready, r.current, r.desired, r.updated, r.available),
            (5, 5, 4, 1, 5)
        );
        assert_eq!(
            r.replica_sets,
            vec![
                ReplicaSetInfo {
                    revision: 3,
                    stable: true,
                    canary: false,
                    active: false,
                    preview: false,
                    images: vec!["registry.example/recsys:1.41.0".into()],
                },
                ReplicaSetInfo {
                    revision: 4,
                    stable: false,
                    canary: true,
                    active: false,
                    preview: false,
                    images: vec!["registry.example/recsys:1.42.0".into()],
                },
            ]
        );
        assert_eq!(
            r.analysis_runs,
            vec![AnalysisRunInfo {
                name: "recsys-84d5f6c7b-4-background".into(),
                status: "Running".into(),
                successful: 2,
                failed: 0,
                inconclusive: 0,
                error: 0,
            }]
        );
        assert_eq!(r.steps, expected_steps());

        // A namespace without rollouts is `{}`.
        assert!(c.list("other").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_wrong_path_prefix_gives_an_invalid_reply_that_names_the_prefix() {
    let (base, _f) = fake(DEFAULT_PREFIX).await;
    let c = client(&base, LEGACY_PREFIX, Duration::from_secs(2));
    let e = c.get("ml", "recsys").await.unwrap_err();
    assert!(
        matches!(&e, ArgoError::Invalid(m) if m.contains(LEGACY_PREFIX)),
        "{e:?}"
    );
}

async fn one_put(cmd: RolloutCommand, rev: Option<i64>, path_end: &str, body: Value) {
    let (base, f) = fake(DEFAULT_PREFIX).await;
    let c = client(&base, DEFAULT_PREFIX, Duration::from_secs(2));
    let line = c.request_line("ml", "recsys", cmd, rev);
    c.send("ml", "recsys", cmd, rev).await.unwrap();
    let puts = f.puts.lock().unwrap().clone();
    let path = format!("/rollouts/api/v1/rollouts/ml/recsys/{path_end}");
    assert_eq!(
        puts,
        vec![Put {
            method: "PUT".into(),
            path: path.clone(),
            body: body.clone(),
        }],
        "{cmd:?}"
    );
    assert_eq!(line, format!("PUT {path} {body}"));
}

#[tokio::test]
async fn promote_sends_exactly_one_put_promote_with_full_false() {
    one_put(
        RolloutCommand::Promote,
        None,
        "promote",
        json!({"full": false}),
    )
    .await;
}

#[tokio::test]
async fn promote_full_sends_exactly_one_put_promote_with_full_true() {
    one_put(
        RolloutCommand::PromoteFull,
        None,
        "promote",
        json!({"full": true}),
    )
    .await;
}

#[tokio::test]
async fn abort_sends_exactly_one_put_abort_with_an_empty_body() {
    one_put(RolloutCommand::Abort, None, "abort", json!({})).await;
}

#[tokio::test]
async fn retry_sends_exactly_one_put_retry_with_an_empty_body() {
    one_put(RolloutCommand::Retry, None, "retry", json!({})).await;
}

#[tokio::test]
async fn undo_to_revision_3_sends_exactly_one_put_undo_3() {
    one_put(RolloutCommand::Undo, Some(3), "undo/3", json!({})).await;
}

#[tokio::test]
async fn the_request_line_for_confirmations_shows_method_path_and_body() {
    let (base, _f) = fake(LEGACY_PREFIX).await;
    let c = client(&base, LEGACY_PREFIX, Duration::from_secs(2));
    assert_eq!(
        c.request_line("ml", "recsys", RolloutCommand::Promote, None),
        r#"PUT /api/v1/rollouts/ml/recsys/promote {"full":false}"#
    );
    let c = client(&base, DEFAULT_PREFIX, Duration::from_secs(2));
    assert_eq!(
        c.request_line("ml", "recsys", RolloutCommand::Promote, None),
        r#"PUT /rollouts/api/v1/rollouts/ml/recsys/promote {"full":false}"#
    );
}

#[tokio::test]
async fn undo_without_a_revision_is_refused_before_anything_is_sent() {
    let (base, f) = fake(DEFAULT_PREFIX).await;
    let c = client(&base, DEFAULT_PREFIX, Duration::from_secs(2));
    let e = c
        .send("ml", "recsys", RolloutCommand::Undo, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ArgoError::Invalid(_)), "{e:?}");
    assert!(f.puts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_403_says_the_dashboards_permissions_refused_it_and_names_the_rollout() {
    let (base, f) = fake(DEFAULT_PREFIX).await;
    *f.mode.lock().unwrap() = Mode::Forbidden;
    let c = client(&base, DEFAULT_PREFIX, Duration::from_secs(2));
    let e = c
        .send("ml", "recsys", RolloutCommand::Promote, None)
        .await
        .unwrap_err();
    let ArgoError::Api { status, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*status, 403);
    let shown = e.to_string();
    for part in [
        "permissions refused",
        "promote",
        "`recsys`",
        "`ml`",
        "cannot patch resource",
    ] {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
    assert!(message.contains("dashboard"), "{message}");
    // Reads are refused the same way.
    let e = c.get("ml", "recsys").await.unwrap_err();
    assert!(
        matches!(&e, ArgoError::Api { status: 403, message } if message.contains("permissions refused to read rollout `recsys`")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_404_names_the_missing_rollout_and_namespace_from_json_or_plain_text() {
    let (base, f) = fake(DEFAULT_PREFIX).await;
    let c = client(&base, DEFAULT_PREFIX, Duration::from_secs(2));
    // grpc-gateway JSON: {"code":5,"message":"rollouts.argoproj.io \"nope\" not found"}
    let e = c.get("ml", "nope").await.unwrap_err();
    let shown = e.to_string();
    assert!(matches!(e, ArgoError::Api { status: 404, .. }), "{e:?}");
    for part in ["`nope`", "`ml`", "not found", DEFAULT_PREFIX] {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
    let e = c
        .send("ml", "nope", RolloutCommand::Abort, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ArgoError::Api { status: 404, message } if message.contains("`nope`")),
        "{e:?}"
    );
    // Plain text.
    *f.mode.lock().unwrap() = Mode::NotFoundPlain;
    let e = c.list("ml").await.unwrap_err();
    let shown = e.to_string();
    assert!(matches!(e, ArgoError::Api { status: 404, .. }), "{e:?}");
    for part in ["namespace `ml`", "404 page not found", DEFAULT_PREFIX] {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
}

#[tokio::test]
async fn an_unreachable_dashboard_is_down_for_reads_and_writes() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let c = client(
        &format!("http://{addr}/"),
        DEFAULT_PREFIX,
        Duration::from_millis(500),
    );
    let e = c.list("ml").await.unwrap_err();
    assert!(matches!(e, ArgoError::Down(_)), "{e:?}");
    let e = c.get("ml", "recsys").await.unwrap_err();
    assert!(matches!(e, ArgoError::Down(_)), "{e:?}");
    let e = c
        .send("ml", "recsys", RolloutCommand::Abort, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ArgoError::Down(_)), "{e:?}");
}

#[tokio::test]
async fn a_put_that_gets_no_answer_in_time_is_unknown_not_down() {
    let (base, f) = fake(DEFAULT_PREFIX).await;
    *f.mode.lock().unwrap() = Mode::Hang;
    let c = client(&base, DEFAULT_PREFIX, Duration::from_millis(300));
    let e = c
        .send("ml", "recsys", RolloutCommand::Promote, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ArgoError::Unknown(_)), "{e:?}");
    assert!(e.to_string().contains("outcome unknown"), "{e}");
    // The request did reach the dashboard: it may have taken effect.
    assert_eq!(f.puts.lock().unwrap().len(), 1);
}
