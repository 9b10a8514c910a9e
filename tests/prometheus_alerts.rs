//! Against a real Prometheus scraping the demo model server: firing and pending alerts from
//! `/api/v1/alerts` reach the screen (sanitised), count as firing for `status`, and the first
//! poll back-fills sparklines from a range query.

mod support;

use std::time::Duration;

use mltop::app::{App, Msg};
use mltop::config::Config;
use mltop::demo::DemoOptions;
use mltop::sources::{self, unix_now};
use mltop::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::PrometheusServer;
use tokio_util::sync::CancellationToken;

// The summary carries an escape sequence (YAML "\e" is ESC): a hostile or sloppy rule must not
// be able to clear or retitle the operator's terminal.
const RULES: &str = r#"
groups:
  - name: demo
    rules:
      - alert: RecsysHasTraffic
        expr: sum(rate(model_requests_total{service="recsys"}[10s])) > 1
        labels: { severity: page }
        annotations: { summary: "recsys serves traffic\e[2J\e]0;pwned\a" }
      - alert: RecsysSlowBurn
        expr: sum(rate(model_requests_total{service="recsys"}[10s])) > 1
        for: 1h
        labels: { severity: ticket }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_alerts_are_listed_sanitised_and_count_as_firing() {
    let cancel = CancellationToken::new();
    let demo = mltop::demo::start(
        DemoOptions {
            seed: 11,
            speed: 1.0,
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let target = demo.addr.to_string();
    let prom =
        tokio::task::spawn_blocking(move || PrometheusServer::start(&[target], 1, Some(RULES)))
            .await
            .unwrap();
    // Let rules evaluate and some history accumulate for the back-fill.
    let prom = tokio::task::spawn_blocking(move || {
        prom.wait_until(
            "ALERTS{alertname=\"RecsysHasTraffic\",alertstate=\"firing\"}",
            Duration::from_secs(60),
            |v| support::first_value(v) == Some(1.0),
        );
        prom.wait_until(
            "count_over_time(up{job=\"demo\"}[30s])",
            Duration::from_secs(60),
            |v| support::first_value(v).is_some_and(|n| n >= 10.0),
        );
        prom
    })
    .await
    .unwrap();
    let text = format!(
        r#"
[metrics.prom]
kind = "prometheus"
url = "{}"
interval = "1s"

[[services]]
name = "recsys"
metrics = "prom"
labels = {{ service = "recsys" }}
window = "10s"
preset = "standard"
"#,
        prom.url
    );
    let cfg = Config::parse(&text, "test").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let tasks = tokio_util::task::TaskTracker::new();
    sources::spawn_all(&cfg, tx, &cancel, &tasks).unwrap();
    let mut app = App::new(&cfg);
    let mut first_poll_history = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.prometheus_alerts().len() < 2 || first_poll_history.is_none() {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("alerts and a poll within 30 s")
            .unwrap();
        let is_poll = matches!(ev, sources::SourceEvent::Polled { .. });
        app.update(Msg::Source(ev), unix_now());
        if is_poll && first_poll_history.is_none() {
            first_poll_history = Some(app.services[0].panels[0].history.len());
        }
    }
    let alerts = app.prometheus_alerts();
    let firing = alerts
        .iter()
        .find(|(_, a)| a.name == "RecsysHasTraffic")
        .unwrap()
        .1;
    assert_eq!(firing.state, "firing");
    assert_eq!(firing.severity, "page");
    assert_eq!(firing.summary, "recsys serves traffic");
    let pending = alerts
        .iter()
        .find(|(_, a)| a.name == "RecsysSlowBurn")
        .unwrap()
        .1;
    assert_eq!(pending.state, "pending");
    assert!(app.anything_firing());
    // The range query back-filled the sparkline at once (Prometheus had several seconds).
    let h = first_poll_history.unwrap();
    assert!(h >= 5, "history after the first poll: {h}");

    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| render(f, &app, &Theme::dark(), unix_now()))
        .unwrap();
    let screen = t.backend().to_string();
    assert!(
        screen.contains("RecsysHasTraffic (page) firing"),
        "{screen}"
    );
    assert!(
        !screen.contains('\u{1b}') && !screen.contains("pwned"),
        "{screen}"
    );
    let report = mltop::status::report(&app, unix_now());
    assert!(report.firing);
    assert_eq!(report.exit_code(), 1);
    cancel.cancel();
    tasks.close();
    tasks.wait().await;
    drop(prom);
}
