//! The rollouts view reads a rollout controller through the Argo adapter: here the demo's
//! simulator, which answers in Argo Rollouts' dashboard JSON (Argo needs Kubernetes, so no real
//! controller can run in these tests).

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::{App, Msg, View};
use mltop::config::Config;
use mltop::demo::rollout::{RolloutSim, serve};
use mltop::demo::{DemoOptions, World};
use mltop::sources::{self, SourceEvent, unix_now};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollouts_view_shows_phase_ladder_weights_and_replica_sets() {
    let world = Arc::new(World::new(&DemoOptions::default()));
    // Demo time stands still at 30 s: the first pause, canary at 5 %.
    let sim = RolloutSim::demo_with_clock(world.clone(), || 30.0);
    let cancel = CancellationToken::new();
    let addr = serve(sim, cancel.clone()).await.unwrap();
    let cfg = Config::parse(&mltop::demo::rollouts_toml(&format!("http://{addr}")), "t").unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    sources::spawn_all(&cfg, tx, &cancel, &TaskTracker::new()).unwrap();
    let mut app = App::new(&cfg);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev, SourceEvent::Rollouts { result: Ok(_), .. }),
        "{ev:?}"
    );
    app.update(Msg::Source(ev), unix_now());
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)),
        unix_now(),
    );
    assert_eq!(app.view, View::Rollouts);
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(110, 24)).unwrap();
    t.draw(|f| mltop::ui::render(f, &app, &mltop::ui::Theme::dark(), unix_now()))
        .unwrap();
    let screen = t.backend().to_string();
    for want in [
        "ml/recsys",
        "Paused",
        "step 1/8",
        "weight 5 %",
        "5 % › ▶[pause 2m] › 25 %",
        "rev 2 canary",
        "registry.example/recsys:v13",
        "rev 1 stable",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    assert!((world.canary_weight(30.0) - 0.05).abs() < 1e-9);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_rollout_controller_is_shown_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = Config::parse(
        &mltop::demo::rollouts_toml(&format!("http://127.0.0.1:{port}")),
        "t",
    )
    .unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    sources::spawn_all(&cfg, tx, &cancel, &TaskTracker::new()).unwrap();
    let mut app = App::new(&cfg);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    app.update(Msg::Source(ev), unix_now());
    assert!(
        app.rollouts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("cannot connect")
    );
    cancel.cancel();
}

/// The console over the demo rollout simulator (demo time frozen at 30 s: the first pause).
struct Console {
    app: App,
    rx: mpsc::Receiver<SourceEvent>,
    runtime: mltop::runtime::Runtime,
    sim: RolloutSim,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn start(readonly: bool) -> Console {
        let world = Arc::new(World::new(&DemoOptions::default()));
        let sim = RolloutSim::demo_with_clock(world, || 30.0);
        let cancel = CancellationToken::new();
        let addr = serve(sim.clone(), cancel.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "readonly = {readonly}\naudit_log = \"{}\"\n{}",
            dir.path().join("audit.jsonl").display(),
            mltop::demo::rollouts_toml(&format!("http://{addr}"))
        );
        let cfg = Config::parse(&text, "t").unwrap();
        let (tx, rx) = mpsc::channel(64);
        sources::spawn_all(&cfg, tx.clone(), &cancel, &TaskTracker::new()).unwrap();
        let mut c = Console {
            app: App::new(&cfg),
            rx,
            runtime: mltop::runtime::Runtime::new(&cfg, tx),
            sim,
            cancel,
            _dir: dir,
        };
        c.until(|a| !a.rollout_list().is_empty()).await;
        c.key(KeyCode::Char('o'));
        c
    }

    fn key(&mut self, k: KeyCode) {
        let m = if matches!(k, KeyCode::Char(ch) if ch.is_ascii_uppercase()) {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        self.app.update(Msg::Key(KeyEvent::new(k, m)), unix_now());
        for e in self.app.effects.drain(..) {
            self.runtime.handle(e);
        }
    }

    async fn until(&mut self, pred: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !pred(&self.app) {
            let ev = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(ev) => ev.unwrap(),
                Err(_) => panic!(
                    "timed out; outcome {:?}, running {}, rollouts {:?}",
                    self.app.outcome,
                    self.app.running.len(),
                    self.app.rollouts[0].rollouts.first().map(|r| (
                        &r.status,
                        r.step,
                        r.set_weight
                    ))
                ),
            };
            self.app.update(Msg::Source(ev), unix_now());
            for e in self.app.effects.drain(..) {
                self.runtime.handle(e);
            }
        }
    }

    fn rollout(&self) -> &mltop::sources::argo::RolloutInfo {
        &self.app.rollouts[0].rollouts[0]
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_key_confirmation_one_put_and_the_rollout_advances() {
    let mut c = Console::start(false).await;
    assert_eq!(c.rollout().step, Some((1, 8)));
    c.key(KeyCode::Char('P'));
    let req = c
        .app
        .confirm
        .as_ref()
        .expect("a confirmation")
        .request
        .clone();
    assert!(
        req.effect.contains("promote past step 1/8 (canary at 5 %)"),
        "{}",
        req.effect
    );
    assert_eq!(
        req.requests,
        ["PUT /rollouts/api/v1/rollouts/ml/recsys/promote {\"full\":false}"]
    );
    assert_eq!(c.sim.put_count(), 0);
    // repeated keys while confirming and running: one PUT
    c.key(KeyCode::Char('P'));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Enter);
    c.key(KeyCode::Char('P'));
    // the 25 % step completes at once, so the rollout waits in the next pause
    c.until(|a| a.running.is_empty() && a.rollouts[0].rollouts[0].set_weight == Some(25))
        .await;
    assert_eq!(c.rollout().step, Some((3, 8)));
    assert_eq!(c.sim.put_count(), 1);
    assert!(c.app.outcome.as_ref().unwrap().text.starts_with("done:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_rollout_commands_and_sends_no_put() {
    let mut c = Console::start(true).await;
    for k in ['P', 'A', 'F', 'T', 'U'] {
        c.key(KeyCode::Char(k));
        assert!(c.app.confirm.is_none(), "{k}");
        assert!(
            c.app.outcome.as_ref().unwrap().text.contains("read-only"),
            "{k}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.sim.put_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_full_needs_two_confirmations_and_disabled_commands_say_why() {
    let mut c = Console::start(false).await;
    // retry is offered only for an aborted (Degraded) rollout
    c.key(KeyCode::Char('T'));
    assert!(c.app.confirm.is_none());
    let why = &c.app.outcome.as_ref().unwrap().text;
    assert!(
        why.contains("retry is possible only when the rollout is Degraded"),
        "{why}"
    );

    c.key(KeyCode::Char('F'));
    assert!(
        c.app.confirm.as_ref().unwrap().request.warning.is_some(),
        "stronger confirmation"
    );
    c.key(KeyCode::Enter);
    assert_eq!(c.app.confirm.as_ref().map(|c| c.step), Some(2));
    assert_eq!(c.sim.put_count(), 0);
    c.key(KeyCode::Enter);
    c.until(|a| a.running.is_empty() && a.rollouts[0].rollouts[0].status == "Healthy")
        .await;
    assert_eq!(c.sim.put_count(), 1);
    assert_eq!(c.rollout().set_weight, Some(100));
    // a Healthy rollout cannot be aborted: the key says why and sends nothing
    c.key(KeyCode::Char('A'));
    assert!(c.app.confirm.is_none());
    assert!(
        c.app
            .outcome
            .as_ref()
            .unwrap()
            .text
            .contains("abort is possible only while")
    );
    assert_eq!(c.sim.put_count(), 1);
}
