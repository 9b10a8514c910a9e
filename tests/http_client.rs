//! The one HTTP client every source uses: auth and custom headers are sent, oversized replies
//! are refused, and a server that does not answer gives a clear timeout — against a local
//! axum server that records what it received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use mltop::config::Config;
use mltop::sources::http::{FetchError, HttpClient};

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn server() -> (String, Seen) {
    let seen: Seen = Default::default();
    let s = seen.clone();
    let app = Router::new()
        .route(
            "/echo",
            get(move |h: HeaderMap| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push(h);
                    "ok"
                }
            }),
        )
        .route("/big", get(|| async { "x".repeat(64 * 1024) }))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn client_from(toml_auth: &str, url: &str) -> HttpClient {
    let text = format!(
        "[metrics.p]\nkind = \"prometheus\"\nurl = \"{url}\"\ntimeout = \"300ms\"\nmax_body_bytes = 1024\nheaders = {{ \"X-Scope-OrgID\" = \"ml-team\" }}\n{toml_auth}\n"
    );
    let cfg = Config::parse(&text, "t").unwrap();
    let m = &cfg.metrics[0];
    HttpClient::new(m.timeout, &m.headers, &m.auth, m.max_body_bytes).unwrap()
}

#[tokio::test]
async fn bearer_token_from_a_file_and_tenant_header_are_sent() {
    let (base, seen) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let c = client_from(
        &format!(
            "auth = {{ kind = \"bearer\", token_file = \"{}\" }}",
            token.display()
        ),
        &base,
    );
    let r = c
        .get(&format!("{base}/echo").parse().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let h = seen.lock().unwrap()[0].clone();
    assert_eq!(h["authorization"], "Bearer s3cret-token");
    assert_eq!(h["x-scope-orgid"], "ml-team");
    assert!(h["user-agent"].to_str().unwrap().starts_with("mltop/"));
}

#[tokio::test]
async fn basic_auth_from_an_environment_variable_is_sent() {
    let (base, seen) = server().await;
    // SAFETY: this test binary's only use of this variable; set before any reader.
    unsafe { std::env::set_var("MLTOP_TEST_BASIC_PW", "open sesame") };
    let c = client_from(
        "auth = { kind = \"basic\", username = \"ops\", password_env = \"MLTOP_TEST_BASIC_PW\" }",
        &base,
    );
    c.get(&format!("{base}/echo").parse().unwrap(), &[])
        .await
        .unwrap();
    let h = seen.lock().unwrap()[0].clone();
    // base64("ops:open sesame")
    assert_eq!(h["authorization"], "Basic b3BzOm9wZW4gc2VzYW1l");
}

#[tokio::test]
async fn a_reply_over_the_size_limit_is_refused() {
    let (base, _) = server().await;
    let c = client_from("", &base);
    match c.get(&format!("{base}/big").parse().unwrap(), &[]).await {
        Err(FetchError::Reply(m)) => assert!(m.contains("1024 byte limit"), "{m}"),
        other => panic!("expected a size error, got {:?}", other.map(|r| r.status)),
    }
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_with_a_clear_reason() {
    let (base, _) = server().await;
    let c = client_from("", &base);
    let started = std::time::Instant::now();
    match c.get(&format!("{base}/hang").parse().unwrap(), &[]).await {
        Err(FetchError::Transport(m)) => assert!(m.contains("no reply within 300ms"), "{m}"),
        other => panic!("expected a timeout, got {:?}", other.map(|r| r.status)),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_closed_port_is_reported_as_cannot_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let c = client_from("", &base);
    match c.get(&base.parse().unwrap(), &[]).await {
        Err(FetchError::Transport(m)) => {
            assert!(
                m.starts_with(&format!("127.0.0.1:{port}: cannot connect")),
                "{m}"
            )
        }
        other => panic!(
            "expected a connect error, got {:?}",
            other.map(|r| r.status)
        ),
    }
}
