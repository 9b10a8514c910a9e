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
