//! Checks the Prometheus test harness itself against a real Prometheus: it must scrape a
//! local target, answer PromQL, go down on `stop()` and come back on `restart()`.
//! Fails (never skips) when Prometheus is absent and cannot be installed.

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use support::{PrometheusServer, first_value, http_get, serve_metrics};

const WAIT: Duration = Duration::from_secs(30);

const RULES: &str = "groups:
  - name: harness
    rules:
      - record: harness:probe:doubled
        expr: harness_probe_total * 2
";

#[test]
fn prometheus_scrapes_a_local_target_and_answers_promql() {
    let target = serve_metrics(|| {
        "# HELP harness_probe_total Probe counter served by the harness test.\n\
         # TYPE harness_probe_total counter\n\
         harness_probe_total 7\n"
            .to_string()
    });
    let mut prom = PrometheusServer::start(std::slice::from_ref(&target), 1, Some(RULES));
    assert_eq!(prom.url, format!("http://127.0.0.1:{}", prom.port));

    let up = prom.wait_until(r#"up{job="demo"}"#, WAIT, |v| first_value(v) == Some(1.0));
    assert_eq!(
        up["data"]["result"][0]["metric"]["instance"],
        target.as_str()
    );
    prom.wait_until("harness_probe_total", WAIT, |v| first_value(v) == Some(7.0));
    // The rules file is loaded and evaluated.
    prom.wait_until("harness:probe:doubled", WAIT, |v| {
        first_value(v) == Some(14.0)
    });

    // Bad PromQL comes back as a JSON error envelope, not a panic.
    let bad = prom.query("sum(");
    assert_eq!(bad["status"], "error", "{bad}");
    assert_eq!(bad["errorType"], "bad_data", "{bad}");

    // Prometheus going down: the port refuses connections.
    prom.stop();
    let refused = TcpStream::connect(("127.0.0.1", prom.port));
    assert_eq!(
        refused.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused),
        "expected {} to refuse connections after stop(), got {refused:?}",
        prom.url
    );
    assert!(http_get(&format!("{}/-/ready", prom.url), Duration::from_secs(2)).is_err());

    // Back on the same port, with the same data dir: old samples are still there.
    let port = prom.port;
    prom.restart();
    assert_eq!(prom.port, port);
    let (status, _) = http_get(&format!("{}/-/ready", prom.url), Duration::from_secs(5))
        .expect("ready after restart");
    assert_eq!(status, 200);
    prom.wait_until("count_over_time(harness_probe_total[10m])", WAIT, |v| {
        first_value(v).is_some_and(|n| n >= 1.0)
    });
    prom.wait_until(r#"up{job="demo"}"#, WAIT, |v| first_value(v) == Some(1.0));
}
