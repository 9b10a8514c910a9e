//! Faults in a Prometheus backend make its panels stale, with a specific reason, and show its
//! source DOWN, while the other source (a direct scrape) keeps updating and the console keeps
//! taking keys; when the fault ends, the panels recover within a few polls. One panel carries
//! bad PromQL: its `bad_data` error stays its own and never affects the other panels of the
//! same source (during a source-wide fault it shows the source's reason, like every panel).
//!
//! The tests talk to a real Prometheus scraping the demo model server. Between mltop and
//! Prometheus sits a small fault-injecting proxy (tests/support/fault_proxy.rs) that only
//! injects faults: in pass-through mode it relays Prometheus's own replies. "Prometheus
//! stopped" really stops the server (and restarts it on the same port and data dir), with the
//! proxy refusing connections meanwhile, as the stopped server's address would.
//!
//! Fails (never skips) when Prometheus is absent and cannot be installed (tests/support).

mod support;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::{App, Msg, View};
use mltop::config::Config;
use mltop::demo::{self, DemoHandle, DemoOptions};
use mltop::domain::panel::{Layer, PanelTrack, Reading};
use mltop::sources::{SourceEvent, spawn_all, unix_now};
use mltop::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::PrometheusServer;
use support::fault_proxy::{Fault, FaultProxy};
use tokio::sync::mpsc;
use tokio::task::block_in_place;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The raw PromQL panel whose query Prometheus rejects (unclosed parenthesis).
const BAD_TITLE: &str = "Bad PromQL";
const BAD_QUERY: &str = "sum(rate(model_requests_total[1m]";
/// The panel watched on screen for the word "stale".
const WATCHED: &str = "p99 latency";

/// Until the console has values everywhere after start-up (Prometheus's first scrapes included).
const STARTUP: Duration = Duration::from_secs(30);
/// Until a fault shows: one poll (500 ms) plus, for a hang, the 1 s timeout.
const FAULT_SHOWS: Duration = Duration::from_secs(10);
/// Until the panels recover: after failures the source backs off up to 8 intervals, at least
/// 1 s each, capped at 4 s (+10 % jitter), plus the poll itself.
const RECOVERY: Duration = Duration::from_secs(15);
/// How long the scrape source is watched while the fault holds.
const DURING_FAULT: Duration = Duration::from_millis(1500);

fn config_text(prom_url: &str, demo_url: &str) -> String {
    format!(
        r#"
[metrics.prom]
kind = "prometheus"
url = "{prom_url}"
interval = "500ms"
timeout = "1s"

[metrics.direct]
kind = "scrape"
url = "{demo_url}"
interval = "500ms"

[[services]]
name = "recsys"
environment = "test"
metrics = "prom"
labels = {{ service = "recsys" }}
window = "20s"
preset = "recommender"

[[services.panels]]
title = "{BAD_TITLE}"
layer = "system"
kind = "promql"
query = "{BAD_QUERY}"

[[services]]
name = "fraud"
environment = "test"
metrics = "direct"
labels = {{ service = "fraud" }}
window = "20s"
preset = "standard"
"#
    )
}

/// A demo model server, a real Prometheus scraping it, the fault proxy in front of Prometheus,
/// the sources running as in the real console, and the console state they feed.
struct Rig {
    _demo: DemoHandle,
    prom: PrometheusServer,
    proxy: FaultProxy,
    app: App,
    rx: mpsc::Receiver<SourceEvent>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// Index of the `prom` source, and of the `recsys` (fed by it) and `fraud` services.
    prom_source: usize,
    recsys: usize,
    fraud: usize,
    started: Instant,
}

impl Rig {
    async fn start() -> Rig {
        let started = Instant::now();
        let cancel = CancellationToken::new();
        let demo = demo::start(
            DemoOptions {
                seed: 7,
                speed: 1.0,
            },
            cancel.child_token(),
        )
        .await
        .expect("start the demo model server");
        let prom = block_in_place(|| PrometheusServer::start(&[demo.addr.to_string()], 1, None));
        let upstream = format!("127.0.0.1:{}", prom.port).parse().unwrap();
        let proxy = FaultProxy::start(upstream).await;
        let cfg = Config::parse(&config_text(&proxy.url, &demo.metrics_url), "faults.toml")
            .expect("test config parses");
        let prom_source = cfg.metrics.iter().position(|m| m.name == "prom").unwrap();
        let recsys = cfg
            .services
            .iter()
            .position(|s| s.name == "recsys")
            .unwrap();
        let fraud = cfg.services.iter().position(|s| s.name == "fraud").unwrap();
        let app = App::new(&cfg);
        let (tx, rx) = mpsc::channel(1024);
        let tracker = TaskTracker::new();
        spawn_all(&cfg, tx, &cancel, &tracker).expect("spawn the sources");
        let mut rig = Rig {
            _demo: demo,
            prom,
            proxy,
            app,
            rx,
            cancel,
            tracker,
            prom_source,
            recsys,
            fraud,
            started,
        };
        rig.pump("every panel has a reading", STARTUP, |r| {
            r.recsys_panels().all(|p| p.error.is_none() && has_value(p))
                && r.bad_error().is_some_and(|e| e.contains("bad_data"))
                && r.fraud_panels().all(|p| p.error.is_none() && has_value(p))
        })
        .await;
        rig.log("healthy");
        rig
    }

    fn log(&self, what: &str) {
        eprintln!(
            "[{:5.1} s] {what} (proxy: {:?}, {} requests)",
            self.started.elapsed().as_secs_f64(),
            self.proxy.fault(),
            self.proxy.requests()
        );
    }

    /// The recsys panels read by meaning (the bad raw-PromQL panel excluded).
    fn recsys_panels(&self) -> impl Iterator<Item = &PanelTrack> {
        self.app.services[self.recsys]
            .panels
            .iter()
            .filter(|p| p.spec.title != BAD_TITLE)
    }

    fn fraud_panels(&self) -> impl Iterator<Item = &PanelTrack> {
        self.app.services[self.fraud].panels.iter()
    }

    fn panel(&self, service: usize, title: &str) -> &PanelTrack {
        self.app.services[service]
            .panels
            .iter()
            .find(|p| p.spec.title == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
    }

    /// Each recsys panel's value and the time it was read.
    fn recsys_values(&self) -> Vec<(Option<f64>, Option<f64>)> {
        self.recsys_panels()
            .map(|p| (p.value(), p.updated_at))
            .collect()
    }

    fn bad_error(&self) -> Option<&str> {
        self.panel(self.recsys, BAD_TITLE).error.as_deref()
    }

    /// The oldest last update among the fraud panels (all of them moved at least this far).
    fn fraud_updated(&self) -> f64 {
        self.fraud_panels()
            .map(|p| p.updated_at.unwrap_or(0.0))
            .fold(f64::INFINITY, f64::min)
    }

    /// Apply source events to the console, as its event loop does, until `done` holds.
    /// Panics after `limit`, showing the screen and every recsys panel's state.
    async fn pump(&mut self, what: &str, limit: Duration, done: impl Fn(&Rig) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(self) {
                return;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ev)) => {
                    self.app.update(Msg::Source(ev), unix_now());
                }
                Ok(None) => panic!("the sources stopped while waiting for: {what}"),
                Err(_) => panic!(
                    "not within {limit:?}: {what}\n{}\n{}",
                    self.describe(),
                    self.screen(120, 40)
                ),
            }
        }
    }

    /// Keep applying events for `d`.
    async fn pump_for(&mut self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        while let Ok(ev) = tokio::time::timeout_at(until, self.rx.recv()).await {
            let ev = ev.expect("the sources stopped");
            self.app.update(Msg::Source(ev), unix_now());
        }
    }

    fn describe(&self) -> String {
        let mut out = String::from("panels:\n");
        for svc in &self.app.services {
            for p in &svc.panels {
                out += &format!(
                    "  {}/{}: reading {:?}, updated {:?}, error {:?}\n",
                    svc.name,
                    p.spec.title,
                    p.reading,
                    p.updated_at.map(|t| format!("{:.1} s ago", unix_now() - t)),
                    p.error
                );
            }
        }
        for s in &self.app.sources {
            out += &format!(
                "source {}: error {:?}, alerts error {:?}\n",
                s.name, s.error, s.alerts_error
            );
        }
        out
    }

    fn screen(&self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, &self.app, &Theme::dark(), unix_now()))
            .unwrap();
        t.backend().to_string()
    }

    fn key(&mut self, c: KeyCode) -> bool {
        self.app
            .update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)), unix_now())
    }

    async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
        drop(self.proxy);
        block_in_place(move || drop(self.prom));
    }
}

fn has_value(p: &PanelTrack) -> bool {
    matches!(
        p.reading,
        Some(Reading::Value(_)) | Some(Reading::Distribution(_))
    )
}

/// The line of the screen that shows `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line shows {needle:?}:\n{screen}"))
}

/// How a fault is switched on and off.
enum Switch {
    /// The proxy refuses connections and the real Prometheus is stopped; then restarted.
    StopPrometheus,
    /// The proxy injects this fault; then passes through again.
    Proxy(Fault),
}

/// Switch a fault on; the recsys panels must go stale with `reason` and their source must show
/// as DOWN (a server that refuses, hangs, or answers but not as the Prometheus API is not
/// usable), the scrape source must keep updating and keys must still work; switch it off and
/// the recsys panels must recover.
async fn fault_then_recovery(switch: Switch, reason: &str) {
    let mut rig = Rig::start().await;
    let prom_name = rig.app.sources[rig.prom_source].name.clone();
    // The bad query fails on its own: the other panels of the same source are fine.
    assert!(rig.recsys_panels().all(|p| p.error.is_none()));
    assert!(
        rig.bad_error().unwrap().contains("bad_data"),
        "{:?}",
        rig.bad_error()
    );
    let before = rig.screen(80, 24);
    assert!(
        line_with(&before, BAD_TITLE).contains("error"),
        "the bad PromQL panel shows its error:\n{before}"
    );
    assert!(!line_with(&before, WATCHED).contains("stale"), "{before}");

    // Fault on.
    let fault_on = unix_now();
    match &switch {
        Switch::StopPrometheus => {
            rig.proxy.set(Fault::Refuse);
            let prom = &mut rig.prom;
            block_in_place(|| prom.stop());
        }
        Switch::Proxy(f) => rig.proxy.set(*f),
    }
    rig.log("fault on");
    rig.pump(
        &format!("every recsys panel fails with {reason:?}"),
        FAULT_SHOWS,
        |r| {
            r.app.services[r.recsys]
                .panels
                .iter()
                .all(|p| p.error.as_deref().is_some_and(|e| e.contains(reason)))
        },
    )
    .await;
    rig.log("fault shows");

    // While the fault holds: the scrape source keeps updating, the recsys panels keep their
    // last values (stale) and stay failed.
    let fraud_at_detection = rig.fraud_updated();
    let recsys_at_detection = rig.recsys_values();
    assert!(
        rig.panel(rig.recsys, WATCHED).value().is_some(),
        "{WATCHED} keeps its last value"
    );
    rig.pump_for(DURING_FAULT).await;
    assert!(
        rig.fraud_updated() > fraud_at_detection.max(fault_on),
        "the scrape source's panels kept getting fresh readings during the fault\n{}",
        rig.describe()
    );
    assert!(rig.fraud_panels().all(|p| p.error.is_none()));
    assert_eq!(
        rig.recsys_values(),
        recsys_at_detection,
        "the stale values and their times stay untouched\n{}",
        rig.describe()
    );
    assert!(
        rig.app.services[rig.recsys]
            .panels
            .iter()
            .all(|p| p.error.as_deref().is_some_and(|e| e.contains(reason))),
        "the recsys panels stay failed while the fault holds\n{}",
        rig.describe()
    );

    // On screen: the panel that had a value is marked stale; the header says whether a
    // source is down.
    let overview = rig.screen(80, 24);
    let row = line_with(&overview, WATCHED);
    assert!(row.contains("stale"), "{WATCHED} shows stale:\n{overview}");
    let header = overview.lines().next().unwrap();
    assert!(
        header.contains("sources 1/2 DOWN"),
        "the header says a source is down: {header}"
    );
    let wide = rig.screen(120, 40);
    assert!(
        line_with(&wide, WATCHED).contains("stale"),
        "stale at 120x40 too:\n{wide}"
    );

    // Keys are still handled while the fault holds.
    assert_eq!(rig.app.view, View::Overview);
    assert!(rig.key(KeyCode::Tab));
    assert_eq!(rig.app.view, View::Layer(Layer::System));
    let detail = rig.screen(80, 24);
    assert!(detail.contains("? stale"), "{detail}");
    assert!(rig.key(KeyCode::Char('a')));
    assert_eq!(rig.app.view, View::Alerts);
    let alerts = rig.screen(80, 24);
    let source_row = alerts
        .lines()
        .find(|l| l.contains(&format!(" {prom_name} ")) && l.contains("prometheus"))
        .unwrap_or_else(|| panic!("the alerts view lists the source {prom_name}:\n{alerts}"));
    assert!(source_row.contains("DOWN"), "source shown DOWN:\n{alerts}");
    assert!(
        rig.app.sources[rig.prom_source]
            .error
            .as_deref()
            .is_some_and(|e| e.contains(reason)),
        "{}",
        rig.describe()
    );
    assert!(
        alerts
            .lines()
            .any(|l| l.contains('└') && l.contains(reason)),
        "the alerts view says why the source is down:\n{alerts}"
    );
    assert!(rig.key(KeyCode::Char('0')));
    assert_eq!(rig.app.view, View::Overview);

    // Fault off: the next successful poll clears the errors.
    match &switch {
        Switch::StopPrometheus => {
            let prom = &mut rig.prom;
            block_in_place(|| prom.restart());
            rig.proxy.set(Fault::PassThrough);
        }
        Switch::Proxy(_) => rig.proxy.set(Fault::PassThrough),
    }
    let fault_off = unix_now();
    rig.log("fault off");
    rig.pump("every recsys panel recovers", RECOVERY, |r| {
        r.recsys_panels()
            .all(|p| p.error.is_none() && p.updated_at.is_some_and(|t| t > fault_off))
            && r.bad_error().is_some_and(|e| e.contains("bad_data"))
    })
    .await;
    rig.log("recovered");
    assert!(rig.app.sources[rig.prom_source].error.is_none());
    let after = rig.screen(80, 24);
    assert!(!line_with(&after, WATCHED).contains("stale"), "{after}");
    assert!(
        after.lines().next().unwrap().contains("sources 2 ok"),
        "{after}"
    );
    assert!(
        line_with(&after, BAD_TITLE).contains("error"),
        "the bad PromQL panel still shows its own error:\n{after}"
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_prometheus_makes_its_panels_stale_until_it_is_restarted() {
    fault_then_recovery(Switch::StopPrometheus, "connect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_prometheus_makes_its_panels_stale_while_the_scrape_source_keeps_updating() {
    fault_then_recovery(Switch::Proxy(Fault::Hang), "no reply within").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_500_replies_take_the_prometheus_source_down_until_it_answers_again() {
    fault_then_recovery(Switch::Proxy(Fault::Http500), "HTTP 500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_that_are_not_json_take_the_prometheus_source_down_until_a_good_reply() {
    fault_then_recovery(Switch::Proxy(Fault::Garbage), "not JSON").await;
}
