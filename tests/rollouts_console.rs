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
    /// The controller's demo clock (seconds), settable by the test.
    clock: Arc<std::sync::atomic::AtomicU64>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn start(readonly: bool) -> Console {
        let world = Arc::new(World::new(&DemoOptions::default()));
        let clock = Arc::new(std::sync::atomic::AtomicU64::new(30f64.to_bits()));
        let read = clock.clone();
        let sim = RolloutSim::demo_with_clock(world, move || {
            f64::from_bits(read.load(std::sync::atomic::Ordering::SeqCst))
        });
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
            clock,
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
        self.until_for(Duration::from_secs(10), pred).await
    }

    async fn until_for(&mut self, limit: Duration, pred: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !pred(&self.app) {
            let ev = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(ev) => ev.unwrap(),
                Err(_) => panic!(
                    "timed out; outcome {:?}, running {}, canaries {:?}, rollouts {:?}",
                    self.app.outcome,
                    self.app.running.len(),
                    self.app
                        .canaries
                        .iter()
                        .map(|k| (&k.versions, k.verdicts(), &k.reads))
                        .collect::<Vec<_>>(),
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

    /// The request on the confirmation on screen.
    fn confirmation(&self) -> mltop::commands::CommandRequest {
        let c = self.app.confirm.as_ref().expect("a confirmation");
        c.request.clone()
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
    let req = c.confirmation();
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

/// The whole canary loop against the demo world: the model server runs at 10x with its scripted
/// v13 latency regression from demo minute 2, and the rollout controller's clock stands at
/// 200 s (paused at 25 %), so the controller's own analysis never aborts first. mltop reads
/// p99 and the error ratio per `version` from the `/metrics` page, judges v13 against v12, and
/// the abort key acts on its advice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_verdict_turns_to_roll_back_and_the_abort_key_acts_on_it() {
    use mltop::domain::rollout::Verdict;
    const SPEED: f64 = 10.0;
    let cancel = CancellationToken::new();
    let demo = mltop::demo::start(
        DemoOptions {
            seed: 7,
            speed: SPEED,
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let sim = RolloutSim::demo_with_clock(demo.world.clone(), || 200.0);
    let addr = serve(sim.clone(), cancel.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "audit_log = \"{}\"\n{}{}{}",
        dir.path().join("audit.jsonl").display(),
        mltop::demo::config_toml(&demo.metrics_url)
            .replace("interval = \"2s\"", "interval = \"1s\""),
        mltop::demo::rollouts_toml(&format!("http://{addr}")),
        mltop::demo::canary_toml()
    );
    let mut cfg = Config::parse(&text, "t").unwrap();
    // as `mltop --demo --speed` does: holds shrink with the time-lapse (1 demo minute = 6 s)
    for m in cfg.canaries.iter_mut().flat_map(|c| c.metrics.iter_mut()) {
        m.rule.hold_secs /= SPEED;
    }
    let (tx, rx) = mpsc::channel(256);
    sources::spawn_all(&cfg, tx.clone(), &cancel, &TaskTracker::new()).unwrap();
    let mut c = Console {
        app: App::new(&cfg),
        rx,
        runtime: mltop::runtime::Runtime::new(&cfg, tx),
        sim: sim.clone(),
        clock: Arc::new(std::sync::atomic::AtomicU64::new(200f64.to_bits())),
        cancel,
        _dir: dir,
    };
    c.until_for(Duration::from_secs(60), |a| !a.rollout_list().is_empty())
        .await;
    c.key(KeyCode::Char('o'));

    // Before the regression (demo time < 120 s, 12 s here) v13 is within bounds.
    c.until_for(Duration::from_secs(11), |a| {
        a.canaries[0].verdict() == Some(Verdict::Continue)
    })
    .await;
    let k = &c.app.canaries[0];
    assert_eq!(k.versions, Ok(("v12".to_string(), "v13".to_string())));
    let (v12, v13, share) = k.traffic_split().expect("a measured split");
    assert!(v12 > 0.0 && v13 > 0.0);
    assert!((2.0..=30.0).contains(&share), "canary share {share} %");

    // The regression (v13 p99 ≈ 1.4× v12's) held for a demo minute: roll back.
    c.until_for(Duration::from_secs(60), |a| {
        a.canaries[0].verdict() == Some(Verdict::RollBack)
    })
    .await;
    let k = &c.app.canaries[0];
    let p99 = &k.judges[0];
    let delta = p99.delta().unwrap();
    assert!(delta > 0.2, "p99 delta {delta}");
    let advice = k.advice(unix_now(), "A", "P");
    assert!(advice.reason.starts_with("p99 latency +"), "{advice:?}");
    assert!(advice.action.contains("press A to abort"), "{advice:?}");

    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    t.draw(|f| mltop::ui::render(f, &c.app, &mltop::ui::Theme::dark(), unix_now()))
        .unwrap();
    let screen = t.backend().to_string();
    for want in [
        "v13 vs v12",
        "p99 latency",
        "✗ FAIL",
        "✗ ROLL BACK",
        "press A to abort (traffic back to v12)",
        "measured",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }

    // Promoting against a roll-back verdict needs a second confirmation that says so.
    c.key(KeyCode::Char('P'));
    let req = c.confirmation();
    assert!(
        req.impact[0].starts_with("canary verdict now: ROLL BACK — p99 latency +"),
        "{:?}",
        req.impact
    );
    assert!(
        req.warning
            .as_deref()
            .unwrap()
            .contains("verdict is ROLL BACK")
    );
    c.key(KeyCode::Esc);
    assert_eq!(sim.put_count(), 0);

    // Abort: one PUT, traffic back to stable, and the comparison stops judging.
    c.key(KeyCode::Char('A'));
    let req = c.confirmation();
    assert!(req.warning.is_none(), "abort is the safe direction");
    assert_eq!(req.before["canary"]["verdict"], "roll-back");
    c.key(KeyCode::Enter);
    c.until_for(Duration::from_secs(20), |a| {
        a.running.is_empty() && a.rollouts[0].rollouts[0].status == "Degraded"
    })
    .await;
    assert_eq!(sim.put_count(), 1);
    c.until_for(Duration::from_secs(20), |a| {
        a.canaries[0].verdict().is_none()
    })
    .await;
    assert!(
        c.app.canaries[0]
            .versions
            .as_ref()
            .unwrap_err()
            .contains("aborted")
    );
    assert_eq!(
        demo.world.canary_weight(demo.world.demo_now().unwrap()),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_moves_during_the_confirmation_is_not_sent_to() {
    let mut c = Console::start(false).await;
    c.key(KeyCode::Char('A'));
    let req = c.confirmation();
    assert!(req.effect.contains("traffic 5 % → 0 %"), "{}", req.effect);
    // The pause ends while the operator reads: the rollout is now at 25 %.
    c.clock
        .store(130f64.to_bits(), std::sync::atomic::Ordering::SeqCst);
    c.until(|a| a.rollouts[0].rollouts[0].set_weight == Some(25))
        .await;
    c.key(KeyCode::Enter);
    let said = c.app.outcome.clone().unwrap().text;
    assert!(said.contains("changed while confirming"), "{said}");
    assert!(said.contains("nothing was sent"), "{said}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.sim.put_count(), 0);
    // audited as cancelled, with why
    c.until(|a| !a.audit_tail.is_empty()).await;
    let r = c.app.audit_tail.last().unwrap();
    assert_eq!(r.outcome, mltop::audit::Outcome::Cancelled);
    assert!(
        r.detail.contains("changed while confirming"),
        "{}",
        r.detail
    );
    // the key works again on what is true now
    c.key(KeyCode::Char('A'));
    assert!(c.confirmation().effect.contains("traffic 25 % → 0 %"));
}
