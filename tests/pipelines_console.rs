//! Retraining from the console against the demo's Airflow simulator (it answers in the JSON a
//! real Airflow 3.3.2 gave; the same adapter reads a real Airflow in tests/airflow_adapter.rs):
//! the pipelines view, the retrain key through the command layer, the conf a run carries, and
//! the CT → CD loop — a successful run registers the next version as challenger.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::{App, Msg, View};
use mltop::config::{Auth, Config, Secret};
use mltop::demo::pipeline::{PASSWORD, PipelineSim, USERNAME, serve};
use mltop::demo::registry::Registry;
use mltop::domain::panel::{PanelReading, Reading};
use mltop::sources::{self, SourceEvent, unix_now};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Console {
    app: App,
    rx: mpsc::Receiver<SourceEvent>,
    runtime: mltop::runtime::Runtime,
    sim: PipelineSim,
    registry: Registry,
    /// Demo seconds, set by the test.
    demo: Arc<AtomicU64>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn start(readonly: bool) -> Console {
        let demo = Arc::new(AtomicU64::new(0f64.to_bits()));
        let clock = demo.clone();
        let registry = Registry::demo();
        let sim = PipelineSim::with_clock(
            move || (unix_now(), f64::from_bits(clock.load(Ordering::SeqCst))),
            Some(registry.clone()),
            1.0,
        );
        let cancel = CancellationToken::new();
        let addr = serve(sim.clone(), cancel.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "readonly = {readonly}\naudit_log = \"{}\"\n{}{}",
            dir.path().join("audit.jsonl").display(),
            mltop::demo::config_toml("http://127.0.0.1:9/metrics"),
            mltop::demo::pipelines_toml(&format!("http://{addr}"), None)
        );
        let mut cfg = Config::parse(&text, "t").unwrap();
        for p in &mut cfg.pipelines {
            p.interval = Duration::from_millis(200);
            p.auth = Auth::Basic {
                username: USERNAME.into(),
                password: Secret::new(PASSWORD),
            };
        }
        let (tx, rx) = mpsc::channel(256);
        let pipelines_only = Config {
            metrics: Vec::new(),
            services: Vec::new(),
            canaries: Vec::new(),
            ..cfg.clone()
        };
        sources::spawn_all(&pipelines_only, tx.clone(), &cancel, &TaskTracker::new()).unwrap();
        let mut c = Console {
            app: App::new(&cfg),
            rx,
            runtime: mltop::runtime::Runtime::new(&cfg, tx),
            sim,
            registry,
            demo,
            cancel,
            _dir: dir,
        };
        c.until(|a| a.pipelines[0].pipelines.iter().all(|p| p.is_some()))
            .await;
        c.key(KeyCode::Char('p'));
        assert_eq!(c.app.view, View::Pipelines);
        c
    }

    fn set_demo(&self, secs: f64) {
        self.demo.store(secs.to_bits(), Ordering::SeqCst);
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
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !pred(&self.app) {
            let ev = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(ev) => ev.unwrap(),
                Err(_) => panic!(
                    "timed out; outcome {:?}, pipelines {:?}",
                    self.app.outcome, self.app.pipelines[0].pipelines
                ),
            };
            self.app.update(Msg::Source(ev), unix_now());
            for e in self.app.effects.drain(..) {
                self.runtime.handle(e);
            }
        }
    }

    fn recsys(&self) -> &mltop::domain::pipeline::Pipeline {
        self.app.pipelines[0].pipelines[0]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
    }

    fn screen(&self) -> String {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
        t.draw(|f| mltop::ui::render(f, &self.app, &mltop::ui::Theme::dark(), unix_now()))
            .unwrap();
        t.backend().to_string()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelines_view_shows_runs_and_when_each_model_was_trained() {
    let c = Console::start(false).await;
    let s = c.screen();
    for want in [
        "recsys-ranker",
        "recsys_retrain",
        "trained 2d ago",
        "fraud_retrain",
        "PAUSED",
        "failed",
        "scheduled",
        "tasks 3/3",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    assert_eq!(c.recsys().runs.len(), 5);
    assert_eq!(c.recsys().runs[1].state, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrain_key_one_run_with_its_conf_and_the_new_version_becomes_challenger() {
    let mut c = Console::start(false).await;
    let before = c.registry.versions("recsys-ranker");
    c.key(KeyCode::Char('N'));
    let req = c
        .app
        .confirm
        .as_ref()
        .expect("a confirmation")
        .request
        .clone();
    assert_eq!(
        req.effect,
        "recsys-ranker: start a new run of pipeline recsys_retrain (reason: manual)"
    );
    assert!(
        req.requests[0].starts_with("POST /api/v2/dags/recsys_retrain/dagRuns {"),
        "{:?}",
        req.requests
    );
    assert!(
        req.requests[0].contains(r#""reason":"manual""#),
        "{:?}",
        req.requests
    );
    assert!(req.warning.is_none());
    assert_eq!(c.sim.write_count(), 0);
    // repeated keys while confirming and while it runs: one run
    c.key(KeyCode::Char('N'));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Enter);
    c.key(KeyCode::Char('N'));
    c.until(|a| a.running.is_empty()).await;
    assert_eq!(c.sim.write_count(), 1, "{:?}", c.app.outcome);
    let outcome = c.app.outcome.clone().unwrap().text;
    assert!(
        outcome.contains("done:") && outcome.contains("queued"),
        "{outcome}"
    );
    let run = c.recsys().runs[0].clone();
    assert_eq!(run.state, "queued");
    // audited with who, what, the planned conf and what Airflow showed afterwards
    c.until(|a| a.audit_tail.iter().any(|r| r.command == "retrain"))
        .await;
    let record = c
        .app
        .audit_tail
        .iter()
        .find(|r| r.command == "retrain")
        .unwrap();
    assert_eq!(record.planned["conf"]["reason"], "manual");
    assert_eq!(record.after["newest_run"][0], run.id.as_str());
    assert_eq!(record.after["newest_run"][1], "queued");
    assert_eq!(run.conf["model"], "recsys-ranker");
    assert_eq!(run.conf["reason"], "manual");
    // A second retrain while that run is active needs a second confirmation.
    c.key(KeyCode::Char('N'));
    let req = c.app.confirm.as_ref().unwrap().request.clone();
    assert!(req.warning.unwrap().contains("already queued"));
    c.key(KeyCode::Esc);
    assert_eq!(c.sim.write_count(), 1);

    // 33 demo seconds later the run has succeeded and registered the next version.
    c.set_demo(33.0);
    c.until(|a| {
        a.pipelines[0].pipelines[0]
            .as_ref()
            .and_then(|p| p.as_ref().ok())
            .is_some_and(|p| p.runs[0].state == "success")
    })
    .await;
    assert_eq!(c.recsys().task_progress(), (3, 3));
    let after = c.registry.versions("recsys-ranker");
    assert_eq!(after.len(), before.len() + 1);
    let new = after.last().unwrap().clone();
    assert_eq!(
        c.registry.alias("recsys-ranker", "challenger"),
        Some(new.clone())
    );
    let champion = c.registry.alias("recsys-ranker", "champion").unwrap();
    let ndcg = |v: &str| {
        c.registry
            .version_metrics("recsys-ranker", v)
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == "ndcg_at_10")
            .unwrap()
            .1
    };
    assert!(ndcg(&new) > ndcg(&champion));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_retrain_and_a_paused_pipeline_is_reported_not_triggered() {
    let mut c = Console::start(true).await;
    c.key(KeyCode::Char('N'));
    assert!(c.app.confirm.is_none());
    assert!(c.app.outcome.as_ref().unwrap().text.contains("read-only"));
    let mut c2 = Console::start(false).await;
    c2.key(KeyCode::Char('j')); // fraud-detector: paused, unpause = false
    c2.key(KeyCode::Char('N'));
    assert!(c2.app.confirm.is_none());
    let why = &c2.app.outcome.as_ref().unwrap().text;
    assert!(why.contains("fraud_retrain is paused"), "{why}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.sim.write_count() + c2.sim.write_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_held_over_its_threshold_suggests_retraining_with_the_features() {
    let mut c = Console::start(false).await;
    assert!(c.app.retrain_suggestions().is_empty());
    let si = 0;
    let pi = c.app.services[si]
        .panels
        .iter()
        .position(|p| p.spec.title == "PSI price")
        .unwrap();
    let drift = |psi: f64| {
        let d = mltop::domain::drift::Drift {
            psi,
            n_reference: 100_000.0,
            n_current: 12_000.0,
            bins: Vec::new(),
        };
        Ok(PanelReading::value(Reading::Drift(Box::new(d))))
    };
    let t0 = unix_now();
    for (dt, psi) in [(0.0, 0.28), (30.0, 0.30), (61.0, 0.31)] {
        c.app.update(
            Msg::Source(SourceEvent::Polled {
                source: 0,
                at: t0 + dt,
                panels: vec![((si, pi), drift(psi))],
                splits: Vec::new(),
            }),
            t0 + dt,
        );
        // held for less than its minute: nothing yet
        if dt < 60.0 {
            assert!(c.app.retrain_suggestions().is_empty(), "at {dt}");
        }
    }
    let (_, _, s) = c.app.retrain_suggestions().remove(0);
    assert_eq!(s.features, ["price"]);
    assert_eq!(s.psi, Some(0.31));
    assert!(
        c.screen()
            .contains("⟳ retrain recsys-ranker suggested (drift, p)")
    );
    c.key(KeyCode::Char('N'));
    let req = c.app.confirm.as_ref().unwrap().request.clone();
    assert!(req.effect.ends_with("(reason: drift)"), "{}", req.effect);
    assert!(
        req.requests[0].contains(r#""features":["price"]"#)
            && req.requests[0].contains(r#""psi":0.31"#),
        "{:?}",
        req.requests
    );
    assert!(req.impact[0].contains("price PSI 0.31"), "{:?}", req.impact);
    // Once the retrain is under way, the drift that asked for it suggests nothing more.
    c.key(KeyCode::Enter);
    c.until(|a| a.running.is_empty()).await;
    assert_eq!(c.sim.write_count(), 1);
    assert!(
        c.app.retrain_suggestions().is_empty(),
        "{:?}",
        c.app.retrain_suggestions()
    );
    assert!(!c.screen().contains("retrain recsys-ranker suggested"));
}
