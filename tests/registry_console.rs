//! Promote and roll back from the console, end to end over real HTTP against the demo's
//! registry simulator (which answers in MLflow's JSON; the same flows run against a real
//! MLflow in tests/mlflow_registry.rs): keys → confirmation → alias moves → re-read → audit.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::{App, Msg, View};
use mltop::audit::{AuditLog, Outcome};
use mltop::config::Config;
use mltop::demo::registry::{Registry, serve};
use mltop::runtime::Runtime;
use mltop::sources::{self, SourceEvent, unix_now};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Console {
    app: App,
    rx: mpsc::Receiver<SourceEvent>,
    runtime: Runtime,
    registry: Registry,
    audit: AuditLog,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn start(readonly: bool) -> Console {
        let registry = Registry::demo();
        let cancel = CancellationToken::new();
        let addr = serve(registry.clone(), cancel.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.jsonl");
        let text = format!(
            "readonly = {readonly}\naudit_log = \"{}\"\n{}",
            audit_path.display(),
            mltop::demo::registry_toml(&format!("http://{addr}"))
        )
        .replace("interval = \"3s\"", "interval = \"500ms\"");
        let cfg = Config::parse(&text, "test").unwrap();
        let (tx, rx) = mpsc::channel(64);
        let tasks = TaskTracker::new();
        sources::spawn_all(&cfg, tx.clone(), &cancel, &tasks).unwrap();
        let runtime = Runtime::new(&cfg, tx);
        let mut c = Console {
            app: App::new(&cfg),
            rx,
            runtime,
            registry,
            audit: AuditLog::new(audit_path),
            cancel,
            _dir: dir,
        };
        c.until(|a| a.selected().is_some_and(|(_, m)| m.state.is_some()))
            .await;
        c
    }

    fn key(&mut self, c: KeyCode) {
        let m = if matches!(c, KeyCode::Char(ch) if ch.is_ascii_uppercase()) {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        self.app.update(Msg::Key(KeyEvent::new(c, m)), unix_now());
        self.drain_effects();
    }

    fn drain_effects(&mut self) {
        for e in self.app.effects.drain(..) {
            self.runtime.handle(e);
        }
    }

    /// Feed events into the app until `pred` holds (10 s at most).
    async fn until(&mut self, pred: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !pred(&self.app) {
            let ev = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .expect("condition within 10 s")
                .unwrap();
            self.app.update(Msg::Source(ev), unix_now());
            self.drain_effects();
        }
    }

    fn records(&self) -> Vec<mltop::audit::AuditRecord> {
        self.audit.read().unwrap().0
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn champion(c: &Console) -> Option<String> {
    c.registry.alias("recsys-ranker", "champion")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_from_the_keyboard_move_the_aliases_and_are_audited() {
    let mut c = Console::start(false).await;
    c.key(KeyCode::Char('m'));
    assert_eq!(c.app.view, View::Registry);
    c.key(KeyCode::Char('P'));
    let confirm = c.app.confirm.clone().expect("a confirmation");
    assert_eq!(
        confirm.request.effect,
        "recsys-ranker: alias champion v12 → v13 · previous-champion → v12 · challenger alias removed"
    );
    assert!(
        confirm.request.requests[1].starts_with("POST /api/2.0/mlflow/registered-models/alias")
    );
    assert_eq!(c.registry.write_count(), 0, "nothing is sent before Enter");
    c.key(KeyCode::Enter);
    c.until(|a| a.running.is_empty() && a.audit_tail.len() == 1)
        .await;
    assert_eq!(champion(&c).as_deref(), Some("13"));
    assert_eq!(
        c.registry
            .alias("recsys-ranker", "previous-champion")
            .as_deref(),
        Some("12")
    );
    assert_eq!(c.registry.alias("recsys-ranker", "challenger"), None);
    assert_eq!(c.registry.write_count(), 3);
    // The screen shows the re-read state at once.
    let (_, m) = c.app.selected().unwrap();
    assert_eq!(m.state.as_ref().unwrap().alias("champion"), Some("13"));

    c.key(KeyCode::Char('R'));
    c.key(KeyCode::Enter);
    c.until(|a| a.running.is_empty() && a.audit_tail.len() == 2)
        .await;
    assert_eq!(champion(&c).as_deref(), Some("12"));
    assert_eq!(c.registry.alias("recsys-ranker", "previous-champion"), None);

    let records = c.records();
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0].command.as_str(), records[0].outcome),
        ("promote", Outcome::Succeeded)
    );
    assert_eq!(
        (records[1].command.as_str(), records[1].outcome),
        ("rollback", Outcome::Succeeded)
    );
    assert_eq!(records[0].before["champion"], "12");
    assert_eq!(records[0].after["champion"], "13");
    assert_eq!(records[0].via, "console");
    assert_eq!(records[0].environment, "demo");

    // A second rollback has nowhere to go and says so, sending nothing.
    c.key(KeyCode::Char('R'));
    assert!(c.app.confirm.is_none());
    assert!(
        c.app
            .outcome
            .as_ref()
            .unwrap()
            .text
            .contains("no previous champion recorded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_keys_while_confirming_and_running_change_the_alias_once() {
    let mut c = Console::start(false).await;
    c.key(KeyCode::Char('m'));
    for _ in 0..3 {
        c.key(KeyCode::Char('P'));
    }
    for _ in 0..3 {
        c.key(KeyCode::Enter);
    }
    // While the first is running, P again is busy, not a second command.
    c.key(KeyCode::Char('P'));
    c.until(|a| a.running.is_empty() && a.audit_tail.len() == 1)
        .await;
    assert_eq!(c.registry.write_count(), 3, "one promote is three requests");
    assert_eq!(champion(&c).as_deref(), Some("13"));
    assert_eq!(c.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_promote_and_rollback_sends_nothing_and_audits_the_refusals() {
    let mut c = Console::start(true).await;
    c.key(KeyCode::Char('m'));
    c.key(KeyCode::Char('P'));
    assert!(c.app.confirm.is_none(), "no confirmation in read-only mode");
    assert!(c.app.outcome.as_ref().unwrap().text.contains("read-only"));
    c.key(KeyCode::Char('R'));
    c.until(|a| a.audit_tail.len() == 1).await;
    // Rollback with nothing recorded is refused by the guard first, too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.registry.write_count(),
        0,
        "zero write requests reached the registry"
    );
    let records = c.records();
    assert!(records.iter().all(|r| r.outcome == Outcome::Refused));
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(champion(&c).as_deref(), Some("12"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenger_failing_the_gate_needs_a_second_confirmation_audited_as_override() {
    let mut c = Console::start(false).await;
    // v14 is worse than the champion: ndcg 0.410 < 0.412 × 1.01.
    let v = c
        .registry
        .register_version("recsys-ranker", &[("ndcg_at_10", 0.410)]);
    c.registry
        .set_alias("recsys-ranker", "challenger", &v)
        .unwrap();
    c.until(|a| {
        a.selected()
            .and_then(|(_, m)| m.state.as_ref())
            .is_some_and(|s| s.alias("challenger") == Some(v.as_str()))
    })
    .await;
    c.key(KeyCode::Char('m'));
    c.key(KeyCode::Char('P'));
    let w = c
        .app
        .confirm
        .as_ref()
        .unwrap()
        .request
        .warning
        .clone()
        .expect("gate warning");
    assert!(w.contains("FAILS the validation gate"), "{w}");
    c.key(KeyCode::Enter);
    assert_eq!(
        c.app.confirm.as_ref().map(|c| c.step),
        Some(2),
        "second confirmation"
    );
    assert_eq!(c.registry.write_count(), 0);
    c.key(KeyCode::Esc);
    assert!(c.app.confirm.is_none());
    c.until(|a| a.audit_tail.len() == 1).await;
    assert_eq!(c.records()[0].outcome, Outcome::Cancelled);
    assert_eq!(c.registry.write_count(), 0);

    c.key(KeyCode::Char('P'));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Enter);
    c.until(|a| a.running.is_empty() && a.audit_tail.len() == 2)
        .await;
    assert_eq!(champion(&c), Some(v));
    let r = &c.records()[1];
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert!(r.gate_override, "the override is audited as such");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_is_shown_and_commands_say_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = mltop::demo::registry_toml(&format!("http://127.0.0.1:{port}"));
    let cfg = Config::parse(&text, "t").unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    sources::spawn_all(&cfg, tx, &cancel, &TaskTracker::new()).unwrap();
    let mut app = App::new(&cfg);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    app.update(Msg::Source(ev), unix_now());
    let (reg, m) = app.selected().unwrap();
    assert!(
        reg.error.as_deref().unwrap().contains("cannot connect"),
        "{:?}",
        reg.error
    );
    assert!(m.error.is_some());
    // P outside the registry view only opens it and says how to go on.
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT)),
        unix_now(),
    );
    assert_eq!(app.view, View::Registry);
    assert!(app.confirm.is_none());
    assert!(
        app.outcome
            .as_ref()
            .unwrap()
            .text
            .contains("then P to promote")
    );
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT)),
        unix_now(),
    );
    let text = &app.outcome.as_ref().unwrap().text;
    assert!(
        text.contains("cannot be read right now") && text.contains("cannot connect"),
        "{text}"
    );
    assert!(app.confirm.is_none());
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_no_answer_is_an_unknown_outcome_re_read_and_never_retried() {
    use axum::middleware::{self, Next};
    // The registry applies the alias move, but only after the client has given up waiting:
    // the change happens and the answer is lost.
    async fn slow_writes(req: axum::extract::Request, next: Next) -> axum::response::Response {
        let write = req.method() != axum::http::Method::GET;
        let resp = next.run(req).await;
        if write {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        resp
    }
    let registry = Registry::demo();
    let app = registry.router().layer(middleware::from_fn(slow_writes));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let text = format!(
        "audit_log = \"{}\"\n{}",
        audit_path.display(),
        mltop::demo::registry_toml(&format!("http://{addr}"))
    )
    .replace("timeout = \"2s\"", "timeout = \"500ms\"");
    let cfg = Config::parse(&text, "t").unwrap();
    let mut out = Vec::new();
    let code = mltop::cli::change(
        &cfg,
        true,
        "recsys-ranker",
        None,
        mltop::cli::Answers::Flags {
            yes: true,
            override_gate: false,
        },
        &mut out,
    )
    .await;
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, mltop::cli::EXIT_UNKNOWN, "{out}");
    assert!(out.contains("unknown: no answer to POST"), "{out}");
    // The re-read shows what is true: the first move (previous-champion) did take effect.
    assert!(
        out.contains("now champion = v12"),
        "the state was re-read: {out}"
    );
    assert_eq!(
        registry
            .alias("recsys-ranker", "previous-champion")
            .as_deref(),
        Some("12")
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        registry.write_count(),
        1,
        "the unanswered request was not retried, nor the rest sent"
    );
    let (records, _) = AuditLog::new(audit_path).read().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_registry_does_not_have_is_shown_with_the_servers_reason() {
    let cancel = CancellationToken::new();
    let addr = serve(Registry::demo(), cancel.clone()).await.unwrap();
    let text = mltop::demo::registry_toml(&format!("http://{addr}")).replace(
        "models = [\"recsys-ranker\", \"fraud-detector\"]",
        "models = [\"no-such-model\", \"recsys-ranker\"]",
    );
    let cfg = Config::parse(&text, "t").unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    sources::spawn_all(&cfg, tx, &cancel, &TaskTracker::new()).unwrap();
    let mut app = App::new(&cfg);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    app.update(Msg::Source(ev), unix_now());
    let (reg, missing) = app.selected().unwrap();
    assert!(reg.error.is_none(), "the registry itself is fine");
    assert_eq!(
        missing.error.as_deref(),
        Some(
            "HTTP 404 RESOURCE_DOES_NOT_EXIST: Registered Model with name=no-such-model not found"
        )
    );
    assert!(reg.models[1].state.is_some(), "the other model is read");
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 24)).unwrap();
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE)),
        unix_now(),
    );
    t.draw(|f| mltop::ui::render(f, &app, &mltop::ui::Theme::dark(), unix_now()))
        .unwrap();
    let screen = t.backend().to_string();
    assert!(screen.contains("RESOURCE_DOES_NOT_EXIST"), "{screen}");
    cancel.cancel();
}
