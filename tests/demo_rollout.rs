//! The demo's rollout-controller simulator (`mltop::demo::rollout`), read and driven over HTTP
//! by the REAL Argo Rollouts adapter (`ArgoClient`). Argo Rollouts needs Kubernetes and cannot
//! run here, so the simulator stands in for its dashboard; it follows the dashboard JSON to the
//! field (see `src/sources/argo.rs`). Most tests step demo time by hand (an injected clock) so
//! that they are deterministic; the last one runs against the real demo model server at high
//! speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mltop::config::Auth;
use mltop::demo::rollout::{P99_STRICT_BOUND, P99_SUCCESS_BOUND, RolloutSim, serve};
use mltop::demo::{DemoOptions, World};
use mltop::domain::rollout::RolloutCommand;
use mltop::sources::argo::{ArgoClient, ArgoError, CanaryStep, DEFAULT_PREFIX, RolloutInfo};
use mltop::sources::http::HttpClient;
use tokio_util::sync::CancellationToken;

struct Rig {
    sim: RolloutSim,
    client: ArgoClient,
    world: Arc<World>,
    clock: Arc<AtomicU64>,
    cancel: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn http() -> HttpClient {
    HttpClient::new(Duration::from_secs(2), &[], &Auth::None, 1 << 20).unwrap()
}

async fn client_for(sim: &RolloutSim, cancel: &CancellationToken) -> ArgoClient {
    let addr = serve(sim.clone(), cancel.clone()).await.unwrap();
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    ArgoClient::new(http(), base, DEFAULT_PREFIX)
}

/// A simulator on a world whose demo time is set by hand (starts at 0).
async fn rig() -> Rig {
    rig_with(P99_SUCCESS_BOUND).await
}

/// [`rig`] with another analysis bound on v13's p99.
async fn rig_with(p99_bound: f64) -> Rig {
    let world = Arc::new(World::new(&DemoOptions {
        seed: 1,
        speed: 1.0,
    }));
    let clock = Arc::new(AtomicU64::new(0f64.to_bits()));
    let c = clock.clone();
    let sim = RolloutSim::demo_with_clock(world.clone(), move || {
        f64::from_bits(c.load(Ordering::SeqCst))
    })
    .with_analysis_bound(p99_bound);
    let cancel = CancellationToken::new();
    let client = client_for(&sim, &cancel).await;
    Rig {
        sim,
        client,
        world,
        clock,
        cancel,
    }
}

impl Rig {
    fn at(&self, demo_secs: f64) {
        self.clock.store(demo_secs.to_bits(), Ordering::SeqCst);
    }

    async fn get(&self) -> RolloutInfo {
        self.client.get("ml", "recsys").await.unwrap()
    }

    /// Send a command and check that it took exactly one PUT.
    async fn send(&self, cmd: RolloutCommand, revision: Option<i64>) -> Result<(), ArgoError> {
        let before = self.sim.put_count();
        let r = self.client.send("ml", "recsys", cmd, revision).await;
        assert_eq!(self.sim.put_count(), before + 1, "one PUT for {cmd:?}");
        r
    }
}

fn weights(r: &RolloutInfo) -> (Option<u32>, Option<u32>) {
    (r.set_weight, r.actual_weight)
}

#[tokio::test]
async fn at_start_the_canary_is_at_five_percent_paused_on_step_one() {
    let rig = rig().await;
    let r = rig.get().await;
    assert_eq!((r.namespace.as_str(), r.name.as_str()), ("ml", "recsys"));
    assert_eq!(r.step, Some((1, 8)));
    assert_eq!(weights(&r), (Some(5), Some(5)));
    assert_eq!(r.status, "Paused");
    assert_eq!(r.message, "CanaryPauseStep");
    assert_eq!(r.strategy, "Canary");
    assert_eq!(r.desired, 10);
    assert_eq!(
        (r.updated, r.current, r.ready, r.available),
        (1, 11, 11, 11)
    );
    assert_eq!(rig.world.canary_weight(0.0), 0.05);
    let stable: Vec<_> = r.replica_sets.iter().filter(|s| s.stable).collect();
    let canary: Vec<_> = r.replica_sets.iter().filter(|s| s.canary).collect();
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].revision, 1);
    assert_eq!(stable[0].images, ["registry.example/recsys:v12"]);
    assert_eq!(canary.len(), 1);
    assert_eq!(canary[0].revision, 2);
    assert_eq!(canary[0].images, ["registry.example/recsys:v13"]);
    assert!(r.analysis_runs.is_empty());
    assert_eq!(
        r.steps,
        vec![
            CanaryStep::SetWeight(5),
            CanaryStep::Pause(Some(120)),
            CanaryStep::SetWeight(25),
            CanaryStep::Pause(Some(120)),
            CanaryStep::Analysis(vec!["recsys-latency".into()]),
            CanaryStep::SetWeight(50),
            CanaryStep::Pause(Some(120)),
            CanaryStep::SetWeight(100),
        ]
    );

    // The raw JSON: weights and step as strings, zero values left out.
    let v = rig.sim.info();
    assert_eq!(v["setWeight"], "5");
    assert_eq!(v["actualWeight"], "5");
    assert_eq!(v["step"], "1/8");
    assert_eq!(v["objectMeta"]["namespace"], "ml");
    assert!(v.get("analysisRuns").is_none());
    assert!(
        v["replicaSets"][0].get("stable").is_none() || v["replicaSets"][1].get("stable").is_none()
    );
    assert_eq!(v["steps"][1]["pause"]["duration"], "2m");

    // The list, an unknown namespace, an unknown rollout.
    let list = rig.client.list("ml").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "recsys");
    assert!(rig.client.list("prod").await.unwrap().is_empty());
    match rig.client.get("ml", "x").await {
        Err(ArgoError::Api { status, message }) => {
            assert_eq!(status, 404);
            assert!(
                message.contains("rollouts.argoproj.io \"x\" not found"),
                "{message}"
            );
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    assert_eq!(rig.sim.put_count(), 0, "reads send no PUT");
}

#[tokio::test]
async fn pauses_advance_with_demo_time_and_promote_skips_at_once() {
    let rig = rig().await;
    rig.at(119.0);
    let r = rig.get().await;
    assert_eq!((r.step, r.set_weight), (Some((1, 8)), Some(5)));

    // The 2-minute pause elapses by itself: 25 %, paused again.
    rig.at(121.0);
    let r = rig.get().await;
    assert_eq!((r.step, weights(&r)), (Some((3, 8)), (Some(25), Some(25))));
    assert_eq!(r.status, "Paused");
    assert_eq!(rig.world.canary_weight(121.0), 0.25);
    assert_eq!(rig.world.canary_weight(119.0), 0.05);

    // Promote skips the pause at once: the analysis starts (v13 still fast at 2:01).
    rig.send(RolloutCommand::Promote, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!(r.step, Some((4, 8)));
    assert_eq!(r.status, "Progressing");
    assert_eq!(r.set_weight, Some(25));
    assert_eq!(r.analysis_runs.len(), 1);
    assert_eq!(r.analysis_runs[0].status, "Running");
    assert_eq!(r.analysis_runs[0].successful, 1);
    assert!(r.analysis_runs[0].name.starts_with("recsys-"));

    // Promote skips the analysis too: 50 %, paused on step 7.
    rig.send(RolloutCommand::Promote, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!((r.step, weights(&r)), (Some((6, 8)), (Some(50), Some(50))));
    assert_eq!(r.status, "Paused");
    assert_eq!(r.analysis_runs[0].status, "Successful");
    assert_eq!(rig.world.canary_weight(121.0), 0.5);

    // The last pause elapses: 100 %, v13 stable, Healthy.
    rig.at(241.0);
    let r = rig.get().await;
    assert_eq!(
        (r.step, weights(&r)),
        (Some((8, 8)), (Some(100), Some(100)))
    );
    assert_eq!(r.status, "Healthy");
    let stable = r.replica_sets.iter().find(|s| s.stable).unwrap();
    assert_eq!(stable.images, ["registry.example/recsys:v13"]);
    assert_eq!(rig.world.canary_weight(241.0), 1.0);
    assert_eq!(rig.sim.put_count(), 2);
}

#[tokio::test]
async fn abort_sends_traffic_back_and_retry_resumes_at_five_percent() {
    let rig = rig().await;
    rig.at(10.0);
    rig.send(RolloutCommand::Abort, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!(r.status, "Degraded");
    assert_eq!(
        r.message,
        "RolloutAborted: Rollout aborted update to revision 2"
    );
    assert_eq!(weights(&r), (Some(0), Some(0)));
    assert_eq!(r.step, Some((0, 8)));
    assert_eq!(r.updated, 0);
    assert_eq!(rig.world.canary_weight(10.0), 0.0);
    assert_eq!(rig.sim.info()["setWeight"], "0");

    // Time does not move an aborted rollout.
    rig.at(500.0);
    let r = rig.get().await;
    assert_eq!((r.status.as_str(), r.set_weight), ("Degraded", Some(0)));
    assert_eq!(rig.world.canary_weight(500.0), 0.0);

    rig.send(RolloutCommand::Retry, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!((r.step, weights(&r)), (Some((1, 8)), (Some(5), Some(5))));
    assert_eq!(r.status, "Paused");
    assert!(r.message.is_empty() || r.message == "CanaryPauseStep");
    assert_eq!(rig.world.canary_weight(500.0), 0.05);
    // …and its pauses count from the retry.
    rig.at(619.0);
    assert_eq!(rig.get().await.set_weight, Some(5));
    rig.at(620.0);
    assert_eq!(rig.get().await.set_weight, Some(25));
    assert_eq!(rig.sim.put_count(), 2);
}

#[tokio::test]
async fn promote_full_goes_to_one_hundred_percent_and_healthy() {
    let rig = rig().await;
    rig.at(30.0);
    rig.send(RolloutCommand::PromoteFull, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!(r.status, "Healthy");
    assert_eq!(
        (r.step, weights(&r)),
        (Some((8, 8)), (Some(100), Some(100)))
    );
    assert_eq!((r.updated, r.desired, r.available), (10, 10, 10));
    let stable = r.replica_sets.iter().find(|s| s.stable).unwrap();
    assert_eq!(
        (stable.revision, stable.images.as_slice()),
        (2, ["registry.example/recsys:v13".to_string()].as_slice())
    );
    assert!(r.replica_sets.iter().all(|s| !s.canary));
    assert_eq!(rig.world.canary_weight(30.0), 1.0);
    // Nothing left to do: time and a second promote change nothing.
    rig.at(3000.0);
    rig.send(RolloutCommand::Promote, None).await.unwrap();
    let r = rig.get().await;
    assert_eq!((r.status.as_str(), r.set_weight), ("Healthy", Some(100)));
}

#[tokio::test]
async fn left_alone_the_demo_analysis_passes_and_v13_ships_to_one_hundred_percent() {
    // v13's p99 (≈ 170 ms) is within the demo analysis' absolute bound (250 ms): only a
    // comparison with stable catches the regression.
    let rig = rig().await;
    rig.at(300.0);
    let r = rig.get().await;
    let run = &r.analysis_runs[0];
    assert_eq!(
        (run.status.as_str(), run.successful, run.failed),
        ("Successful", 3, 0)
    );
    assert_eq!((r.status.as_str(), r.set_weight), ("Paused", Some(50)));
    assert_eq!(rig.world.canary_weight(301.0), 0.5);
    rig.at(420.0);
    let r = rig.get().await;
    assert_eq!((r.status.as_str(), r.set_weight), ("Healthy", Some(100)));
    assert_eq!(rig.world.canary_weight(421.0), 1.0);
    assert_eq!(rig.sim.put_count(), 0);
}

#[tokio::test]
async fn left_alone_a_strict_analysis_fails_and_the_rollout_aborts_itself() {
    let rig = rig_with(P99_STRICT_BOUND).await;
    rig.at(239.0);
    let r = rig.get().await;
    assert_eq!((r.step, r.status.as_str()), (Some((3, 8)), "Paused"));
    assert!(r.analysis_runs.is_empty());

    rig.at(240.0);
    let r = rig.get().await;
    assert_eq!((r.step, r.status.as_str()), (Some((4, 8)), "Progressing"));
    assert_eq!(r.analysis_runs.len(), 1);
    assert_eq!(
        (
            r.analysis_runs[0].status.as_str(),
            r.analysis_runs[0].failed
        ),
        ("Running", 1)
    );

    rig.at(285.0);
    let r = rig.get().await;
    assert_eq!(r.analysis_runs[0].failed, 2);
    assert_eq!(r.set_weight, Some(25));

    rig.at(300.0);
    let r = rig.get().await;
    assert_eq!(r.status, "Degraded");
    assert!(
        r.message
            .starts_with("RolloutAborted: Rollout aborted update to revision 2"),
        "{}",
        r.message
    );
    assert!(r.message.contains("failureLimit"), "{}", r.message);
    assert_eq!(weights(&r), (Some(0), Some(0)));
    let run = &r.analysis_runs[0];
    assert_eq!(
        (run.status.as_str(), run.failed, run.successful),
        ("Failed", 3, 0)
    );
    assert_eq!(rig.world.canary_weight(300.0), 0.0);
    assert_eq!(rig.world.canary_weight(299.0), 0.25);
    assert_eq!(rig.sim.put_count(), 0);
}

#[tokio::test]
async fn undo_to_revision_one_puts_v12_everywhere_and_unknown_revisions_are_refused() {
    let rig = rig().await;
    rig.at(50.0);
    rig.send(RolloutCommand::Undo, Some(1)).await.unwrap();
    let r = rig.get().await;
    assert_eq!(r.status, "Healthy");
    assert_eq!(weights(&r), (Some(0), Some(0)));
    let stable = r.replica_sets.iter().find(|s| s.stable).unwrap();
    assert_eq!(stable.images, ["registry.example/recsys:v12"]);
    assert_eq!(stable.revision, 3);
    assert!(r.replica_sets.iter().all(|s| !s.canary));
    assert_eq!(rig.world.canary_weight(50.0), 0.0);

    match rig.send(RolloutCommand::Undo, Some(9)).await {
        Err(ArgoError::Api { status, message }) => {
            assert_eq!(status, 500);
            assert!(message.contains("revision 9"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Undo to the v13 revision starts its canary again.
    rig.send(RolloutCommand::Undo, Some(2)).await.unwrap();
    let r = rig.get().await;
    assert_eq!(
        (r.step, r.set_weight, r.status.as_str()),
        (Some((1, 8)), Some(5), "Paused")
    );
    assert_eq!(rig.world.canary_weight(50.0), 0.05);
}

#[tokio::test]
async fn commands_on_an_unknown_rollout_are_404_and_still_one_put() {
    let rig = rig().await;
    let before = rig.sim.put_count();
    match rig
        .client
        .send("ml", "x", RolloutCommand::Abort, None)
        .await
    {
        Err(ArgoError::Api { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected a 404, got {other:?}"),
    }
    assert_eq!(rig.sim.put_count(), before + 1);
    assert_eq!(rig.get().await.status, "Paused");
}

fn v13_requests(page: &str) -> f64 {
    page.lines()
        .find_map(|l| {
            l.strip_prefix("model_requests_total{service=\"recsys\",version=\"v13\"} ")
                .and_then(|v| v.trim().parse().ok())
        })
        .expect("v13 request counter on the page")
}

/// The real demo world at high speed: left alone under a strict analysis, the rollout aborts
/// itself within ~5 demo minutes, and the model server's v13 traffic then stops.
#[tokio::test]
async fn the_model_server_follows_the_rollout_at_high_speed() {
    let cancel = CancellationToken::new();
    let demo = mltop::demo::start(
        DemoOptions {
            seed: 1,
            speed: 600.0,
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let sim = RolloutSim::demo(demo.world.clone()).with_analysis_bound(P99_STRICT_BOUND);
    let client = client_for(&sim, &cancel).await;
    let r = client.get("ml", "recsys").await.unwrap();
    assert!(
        r.status == "Paused" || r.status == "Progressing" || r.status == "Degraded",
        "{}",
        r.status
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let r = client.get("ml", "recsys").await.unwrap();
        if r.status == "Degraded" {
            break r;
        }
        assert!(Instant::now() < deadline, "never aborted: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(r.message.starts_with("RolloutAborted:"), "{}", r.message);
    assert_eq!(r.set_weight, Some(0));
    assert_eq!(r.analysis_runs[0].status, "Failed");
    assert!(demo.demo_secs() >= 300.0);
    assert_eq!(demo.world.canary_weight(demo.demo_secs()), 0.0);

    let http = http();
    let url = url::Url::parse(&demo.metrics_url).unwrap();
    let first = http.get(&url, &[]).await.unwrap();
    let first = v13_requests(&String::from_utf8_lossy(&first.body));
    assert!(first > 0.0, "v13 served traffic before the abort");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = http.get(&url, &[]).await.unwrap();
    let second = v13_requests(&String::from_utf8_lossy(&second.body));
    assert_eq!(first, second, "no v13 traffic after the abort");
    assert_eq!(sim.put_count(), 0);
    cancel.cancel();
}
