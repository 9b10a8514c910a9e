//! The simulated Argo Rollouts controller and dashboard behind `mltop --demo`: the canary
//! rollout `recsys` in namespace `ml` (v12 → v13), answering the dashboard API under
//! [`DEFAULT_PREFIX`] in the dashboard's own JSON, so that the production adapter
//! ([`crate::sources::argo::ArgoClient`]) reads it unchanged.
//!
//! This simulator stands in for Argo Rollouts because Argo needs Kubernetes (its controller and
//! dashboard read Rollout, ReplicaSet and AnalysisRun objects from an API server), which cannot
//! run here. The JSON follows `pkg/apiclient/rollout/rollout.pb.go` as documented in
//! `src/sources/argo.rs`: camelCase, zero values omitted, `step` (`"1/8"`), `setWeight` and
//! `actualWeight` as strings, an empty list `{}`, errors in grpc-gateway's
//! `{"code","message","details"}`.
//!
//! The rollout's canary steps (as `DEMO.md` casts them): `setWeight 5` · `pause 2m` ·
//! `setWeight 25` · `pause 2m` · `analysis recsys-latency` · `setWeight 50` · `pause 2m` ·
//! `setWeight 100`. The controller is simulated lazily: nothing ticks in the background; every
//! request first advances the state to the current demo time ([`crate::demo::World::demo_now`]),
//! replaying each event at the demo second it was due. Every weight change is passed on to the
//! world ([`crate::demo::World::set_canary_weight_at`]), so the model server's traffic split
//! follows the rollout.
//!
//! Controller semantics reproduced:
//! - `setWeight` steps complete at once; a timed pause completes when its duration has elapsed
//!   (status `Paused`, message `CanaryPauseStep`, meanwhile);
//! - the analysis step starts an AnalysisRun (`recsys-latency`: v13's p99 latency ≤ 250 ms, a
//!   measurement every 30 s, count 3, failureLimit 2). Its measurements read the scripted
//!   latency of v13 ([`crate::demo::script::latency`]). v13 is ~40 % slower than v12 from 2 min
//!   (p99 ≈ 170 ms) but inside that absolute bound, so left alone the analysis passes and the
//!   rollout goes on to 50 % and 100 % (Healthy, v13 stable, at ~7 demo minutes): only the
//!   canary-vs-stable comparison (mltop's verdict) says roll back. With the strict bound
//!   ([`P99_STRICT_BOUND`], 150 ms) the run fails on its third measurement and the rollout
//!   aborts itself, as Argo does (`Degraded`, `RolloutAborted: …`, traffic back to v12);
//! - `promote {"full":false}` skips the current pause or analysis (a running AnalysisRun is
//!   terminated, which Argo reports as `Successful`); `{"full":true}` skips everything left:
//!   v13 becomes stable, weight 100, `Healthy` (also from `Degraded`);
//! - `abort`: weight 0, `Degraded`, `RolloutAborted: Rollout aborted update to revision 2`,
//!   step index back to 0 (the spec stays on v13, so `retry` resumes it);
//! - `retry` (from `Degraded`): clears the abort and starts again at step 1 (5 %);
//! - `restart`: accepted, changes nothing the dashboard shows here;
//! - `undo/{revision}` (0 = the previous revision): makes that revision's pod template the spec
//!   again under a new revision number. Simplified: undoing to v12 is a rollback to the stable
//!   version (`Healthy`, v12 everywhere, canary weight 0, steps skipped); undoing to v13 while
//!   v12 is stable starts the canary again at step 1. An unknown revision is refused as the
//!   real server does (`unable to find specified revision …`).
//!
//! The dashboard offers Retry only when `Degraded` and Abort/Promote only when `Progressing` or
//! `Paused`, but the API itself accepts every command; commands that do not apply here answer
//! `{}` and change nothing.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use color_eyre::eyre::{Result, WrapErr};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::World;
use super::script;
pub use crate::sources::argo::DEFAULT_PREFIX;

/// The rollout's namespace.
pub const NAMESPACE: &str = "ml";
/// The rollout's name.
pub const NAME: &str = "recsys";
/// The stable version's image (revision 1).
pub const STABLE_IMAGE: &str = "registry.example/recsys:v12";
/// The canary version's image (revision 2).
pub const CANARY_IMAGE: &str = "registry.example/recsys:v13";
/// The analysis template of the analysis step.
pub const ANALYSIS_TEMPLATE: &str = "recsys-latency";
/// `spec.replicas`.
pub const DESIRED_REPLICAS: u32 = 10;
/// The demo analysis' success bound on v13's p99 latency, seconds: an absolute SLO-style
/// bound, lenient enough that v13's regression (p99 ≈ 170 ms against v12's 120 ms) passes it —
/// only a canary-vs-stable comparison catches it, which is mltop's verdict. Left alone, the
/// rollout therefore ships v13 to 100 % at ~7 demo minutes, before the 8-minute incident.
pub const P99_SUCCESS_BOUND: f64 = 0.250;
/// A strict bound (150 ms) under which v13's regression fails the analysis and the rollout
/// aborts itself at ~5 demo minutes, as Argo does ([`RolloutSim::with_analysis_bound`]).
pub const P99_STRICT_BOUND: f64 = 0.150;
/// Demo seconds between two measurements of the analysis.
pub const MEASUREMENT_INTERVAL: f64 = 30.0;
/// Measurements per analysis run.
pub const MEASUREMENT_COUNT: u32 = 3;
/// Failed measurements tolerated; one more fails the run.
pub const FAILURE_LIMIT: u32 = 2;

const METRIC: &str = "p99-latency";
/// Pod template hashes of the two versions (index 0 = v12, 1 = v13).
const HASHES: [&str; 2] = ["5d8f7c6b9", "7f9c4d8b6d"];
const IMAGES: [&str; 2] = [STABLE_IMAGE, CANARY_IMAGE];
const V12: usize = 0;
const V13: usize = 1;

/// One canary step of the rollout's spec.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    SetWeight(u32),
    /// Demo seconds.
    Pause(f64),
    Analysis,
}

const STEPS: [Step; 8] = [
    Step::SetWeight(5),
    Step::Pause(120.0),
    Step::SetWeight(25),
    Step::Pause(120.0),
    Step::Analysis,
    Step::SetWeight(50),
    Step::Pause(120.0),
    Step::SetWeight(100),
];

/// Where the rollout stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Working through the steps (Progressing, or Paused on a pause step).
    Running,
    /// Aborted: traffic back to stable (Degraded).
    Aborted,
    /// The spec's version is stable everywhere (Healthy).
    Complete,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RunStatus {
    Running,
    Successful,
    Failed,
}

impl RunStatus {
    fn word(self) -> &'static str {
        match self {
            RunStatus::Running => "Running",
            RunStatus::Successful => "Successful",
            RunStatus::Failed => "Failed",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            RunStatus::Running => "fa-circle-notch",
            RunStatus::Successful => "fa-check-circle",
            RunStatus::Failed => "fa-times-circle",
        }
    }
}

#[derive(Clone, Debug)]
struct AnalysisRun {
    name: String,
    revision: i64,
    status: RunStatus,
    successful: u32,
    failed: u32,
    /// Demo time of the first measurement.
    started: f64,
    /// Measurements taken.
    taken: u32,
}

/// The controller's state.
#[derive(Debug)]
struct Ctl {
    phase: Phase,
    /// `status.currentStepIndex`.
    index: usize,
    /// Demo time the current step began.
    entered: f64,
    /// The canary (v13) weight in percent, as last set.
    weight: u32,
    message: String,
    /// Revision of each version's ReplicaSet (v12, v13).
    revisions: [i64; 2],
    /// The version of the spec's pod template.
    spec: usize,
    /// The stable version.
    stable: usize,
    runs: Vec<AnalysisRun>,
    /// The run of the current analysis step, an index into `runs`.
    active_run: Option<usize>,
    /// The latest demo time the state was advanced to.
    now: f64,
    /// The analysis' success bound on v13's p99 latency, seconds.
    p99_bound: f64,
}

type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

struct Inner {
    world: Arc<World>,
    clock: Clock,
    ctl: Mutex<Ctl>,
    puts: AtomicUsize,
}

/// The simulated rollout controller and dashboard: a cheaply clonable handle on shared state.
#[derive(Clone)]
pub struct RolloutSim {
    inner: Arc<Inner>,
}

impl fmt::Debug for RolloutSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RolloutSim")
            .field("puts", &self.put_count())
            .finish_non_exhaustive()
    }
}

/// A command of the dashboard API.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Command {
    Promote { full: bool },
    Abort,
    Retry,
    Restart,
    Undo(i64),
}

/// A refusal in grpc-gateway's words.
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_reply(
            self.status,
            &json!({"code": self.code, "message": self.message, "details": []}),
        )
    }
}

fn json_reply(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn not_found(name: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: 5,
        message: format!("rollouts.argoproj.io \"{name}\" not found"),
    }
}

impl RolloutSim {
    /// The demo's `recsys` rollout in `ml`, driving `world`'s canary weight. Demo time comes from
    /// `world.demo_now()` (0 while the world's clock is not started). The rollout began when the
    /// world did (demo time 0), so its first step to 25 % falls at 2 min as the script says.
    pub fn demo(world: Arc<World>) -> RolloutSim {
        let w = world.clone();
        RolloutSim::demo_with_clock(world, move || w.demo_now().unwrap_or(0.0))
    }

    /// Like [`RolloutSim::demo`] with an injected demo clock (demo seconds), e.g. for tests that
    /// step time by hand. The clock may only move forward (a smaller reading is ignored).
    pub fn demo_with_clock(
        world: Arc<World>,
        clock: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> RolloutSim {
        let sim = RolloutSim {
            inner: Arc::new(Inner {
                world,
                clock: Arc::new(clock),
                ctl: Mutex::new(Ctl {
                    phase: Phase::Running,
                    index: 0,
                    entered: 0.0,
                    weight: 0,
                    message: String::new(),
                    revisions: [1, 2],
                    spec: V13,
                    stable: V12,
                    runs: Vec::new(),
                    active_run: None,
                    now: 0.0,
                    p99_bound: P99_SUCCESS_BOUND,
                }),
                puts: AtomicUsize::new(0),
            }),
        };
        drop(sim.sync());
        sim
    }

    /// The same simulator with another success bound for the analysis (e.g.
    /// [`P99_STRICT_BOUND`], under which the rollout aborts itself).
    pub fn with_analysis_bound(self, p99_seconds: f64) -> RolloutSim {
        self.lock().p99_bound = p99_seconds;
        drop(self.sync());
        self
    }

    /// The routes under [`DEFAULT_PREFIX`]: `GET rollouts/{ns}/info`,
    /// `GET rollouts/{ns}/{name}/info`, `PUT rollouts/{ns}/{name}/promote|abort|retry|restart`,
    /// `PUT rollouts/{ns}/{name}/undo/{revision}`.
    pub fn router(&self) -> Router {
        let p = DEFAULT_PREFIX;
        Router::new()
            .route(&format!("{p}/rollouts/{{ns}}/info"), get(list_info))
            .route(
                &format!("{p}/rollouts/{{ns}}/{{name}}/{{action}}"),
                get(one_info).put(command),
            )
            .route(
                &format!("{p}/rollouts/{{ns}}/{{name}}/undo/{{revision}}"),
                put(undo),
            )
            .fallback(counted_fallback)
            .with_state(self.clone())
    }

    /// PUT requests received (any route, answered or refused).
    pub fn put_count(&self) -> usize {
        self.inner.puts.load(Ordering::Relaxed)
    }

    /// The RolloutInfo JSON as it would be served now (advances the state first).
    pub fn info(&self) -> Value {
        let mut ctl = self.sync();
        ctl.info()
    }

    fn lock(&self) -> MutexGuard<'_, Ctl> {
        // Every transition leaves a consistent state; keep serving after a panic elsewhere.
        self.inner
            .ctl
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lock the state and advance it to the current demo time.
    fn sync(&self) -> MutexGuard<'_, Ctl> {
        let now = (self.inner.clock)();
        let mut ctl = self.lock();
        ctl.advance(now, &self.inner.world);
        ctl
    }

    fn apply(&self, cmd: Command) -> Result<(), ApiError> {
        let mut ctl = self.sync();
        let now = ctl.now;
        ctl.apply(cmd, now, &self.inner.world)?;
        ctl.advance(now, &self.inner.world);
        Ok(())
    }
}

/// v13's p99 latency at demo time `t` as the script sets it (mean load).
fn v13_p99(t: f64) -> f64 {
    let lat = script::latency(script::V13, t, 1.0);
    lat.median * (2.326_347_874 * lat.sigma).exp()
}

impl Ctl {
    fn set_weight(&mut self, w: u32, at: f64, world: &World) {
        self.weight = w;
        world.set_canary_weight_at(at, Some(f64::from(w) / 100.0));
    }

    /// Replay the controller up to demo time `now`.
    fn advance(&mut self, now: f64, world: &World) {
        let now = if now.is_finite() { now.max(0.0) } else { 0.0 };
        self.now = self.now.max(now);
        let now = self.now;
        while self.phase == Phase::Running {
            match STEPS.get(self.index).copied() {
                None => {
                    let at = self.entered;
                    self.complete(at, world);
                }
                Some(Step::SetWeight(w)) => {
                    let at = self.entered;
                    self.set_weight(w, at, world);
                    self.index += 1;
                }
                Some(Step::Pause(d)) => {
                    if now >= self.entered + d {
                        self.entered += d;
                        self.index += 1;
                    } else {
                        break;
                    }
                }
                Some(Step::Analysis) => {
                    if !self.measure(now, world) {
                        break;
                    }
                }
            }
        }
    }

    /// Take the analysis measurements due by `now`; true when the step is over (the run
    /// finished and the rollout moved on or aborted).
    fn measure(&mut self, now: f64, world: &World) -> bool {
        let r = match self.active_run {
            Some(r) => r,
            None => {
                let revision = self.revisions[V13];
                let base = format!("{NAME}-{}-{revision}-{}", HASHES[V13], self.index);
                let earlier = self
                    .runs
                    .iter()
                    .filter(|run| run.name == base || run.name.starts_with(&format!("{base}.")))
                    .count();
                let name = if earlier == 0 {
                    base
                } else {
                    format!("{base}.{earlier}")
                };
                self.runs.push(AnalysisRun {
                    name,
                    revision,
                    status: RunStatus::Running,
                    successful: 0,
                    failed: 0,
                    started: self.entered,
                    taken: 0,
                });
                self.active_run = Some(self.runs.len() - 1);
                self.runs.len() - 1
            }
        };
        loop {
            let run = &mut self.runs[r];
            let t = run.started + f64::from(run.taken) * MEASUREMENT_INTERVAL;
            if t > now {
                return false;
            }
            run.taken += 1;
            if v13_p99(t) <= self.p99_bound {
                run.successful += 1;
            } else {
                run.failed += 1;
            }
            if run.failed > FAILURE_LIMIT {
                run.status = RunStatus::Failed;
                let failed = run.failed;
                self.active_run = None;
                let message = format!(
                    "RolloutAborted: Rollout aborted update to revision {}: Metric \"{METRIC}\" \
                     assessed Failed due to failed ({failed}) > failureLimit ({FAILURE_LIMIT})",
                    self.revisions[V13]
                );
                self.abort(t, message, world);
                return true;
            }
            if run.taken >= MEASUREMENT_COUNT {
                run.status = RunStatus::Successful;
                self.active_run = None;
                self.entered = t;
                self.index += 1;
                return true;
            }
        }
    }

    /// A running analysis is terminated (Argo reports a terminated run without failures as
    /// Successful).
    fn terminate_run(&mut self) {
        if let Some(r) = self.active_run.take()
            && let Some(run) = self.runs.get_mut(r)
            && run.status == RunStatus::Running
        {
            run.status = RunStatus::Successful;
        }
    }

    fn abort(&mut self, at: f64, message: String, world: &World) {
        self.terminate_run();
        self.phase = Phase::Aborted;
        self.index = 0;
        self.message = message;
        self.set_weight(0, at, world);
    }

    /// The spec's version becomes stable everywhere.
    fn complete(&mut self, at: f64, world: &World) {
        self.terminate_run();
        self.phase = Phase::Complete;
        self.index = STEPS.len();
        self.stable = self.spec;
        self.message.clear();
        let w = if self.spec == V13 { 100 } else { 0 };
        self.set_weight(w, at, world);
    }

    /// Start the canary of the spec's version from step 1.
    fn restart_steps(&mut self, at: f64) {
        self.terminate_run();
        self.phase = Phase::Running;
        self.index = 0;
        self.entered = at;
        self.message.clear();
    }

    fn apply(&mut self, cmd: Command, now: f64, world: &World) -> Result<(), ApiError> {
        match cmd {
            Command::Promote { full: true } => {
                if self.phase != Phase::Complete {
                    self.complete(now, world);
                }
            }
            Command::Promote { full: false } => {
                if self.phase == Phase::Running && self.index < STEPS.len() {
                    self.terminate_run();
                    self.index += 1;
                    self.entered = now;
                }
            }
            Command::Abort => {
                if self.phase == Phase::Running {
                    let message = format!(
                        "RolloutAborted: Rollout aborted update to revision {}",
                        self.revisions[self.spec]
                    );
                    self.abort(now, message, world);
                }
            }
            Command::Retry => {
                if self.phase == Phase::Aborted {
                    self.restart_steps(now);
                }
            }
            Command::Restart => {}
            Command::Undo(revision) => {
                let target = if revision == 0 {
                    1 - self.spec
                } else {
                    match self.revisions.iter().position(|r| *r == revision) {
                        Some(v) => v,
                        None => {
                            return Err(ApiError {
                                status: StatusCode::INTERNAL_SERVER_ERROR,
                                code: 2,
                                message: format!(
                                    "unable to find specified revision {revision} in history"
                                ),
                            });
                        }
                    }
                };
                if target != self.spec {
                    self.revisions[target] = self.revisions.iter().max().copied().unwrap_or(0) + 1;
                    self.spec = target;
                    if target == V12 {
                        // Back to the stable version: the steps are skipped.
                        self.complete(now, world);
                    } else {
                        self.restart_steps(now);
                    }
                }
            }
        }
        Ok(())
    }

    fn status(&self) -> (&'static str, &'static str, String) {
        match self.phase {
            Phase::Complete => ("Healthy", "fa-check-circle", String::new()),
            Phase::Aborted => ("Degraded", "fa-times-circle", self.message.clone()),
            Phase::Running => match STEPS.get(self.index) {
                Some(Step::Pause(_)) => ("Paused", "fa-pause-circle", "CanaryPauseStep".into()),
                _ => ("Progressing", "fa-circle-notch", String::new()),
            },
        }
    }

    /// Pods of each version (v12, v13).
    fn replicas(&self) -> [u32; 2] {
        let mut out = [0; 2];
        match self.phase {
            Phase::Complete => out[self.spec] = DESIRED_REPLICAS,
            Phase::Aborted => out[self.stable] = DESIRED_REPLICAS,
            Phase::Running => {
                out[self.stable] = DESIRED_REPLICAS;
                out[self.spec] = (DESIRED_REPLICAS * self.weight).div_ceil(100);
            }
        }
        out
    }

    fn info(&mut self) -> Value {
        let (status, icon, message) = self.status();
        let pods = self.replicas();
        let current: u32 = pods.iter().sum();
        let updated = pods[self.spec];
        let mut o = Map::new();
        o.insert(
            "objectMeta".into(),
            json!({
                "name": NAME,
                "namespace": NAMESPACE,
                "uid": "6c1b4a0e-0000-4000-8000-0000000000d3",
                "creationTimestamp": "2026-12-01T09:00:00Z"
            }),
        );
        o.insert("status".into(), json!(status));
        if !message.is_empty() {
            o.insert("message".into(), json!(message));
        }
        o.insert("icon".into(), json!(icon));
        o.insert("strategy".into(), json!("Canary"));
        o.insert(
            "step".into(),
            json!(format!("{}/{}", self.index, STEPS.len())),
        );
        o.insert("setWeight".into(), json!(self.weight.to_string()));
        o.insert("actualWeight".into(), json!(self.weight.to_string()));
        for (k, v) in [
            ("ready", current),
            ("current", current),
            ("desired", DESIRED_REPLICAS),
            ("updated", updated),
            ("available", current),
        ] {
            if v != 0 {
                o.insert(k.into(), json!(v));
            }
        }
        let mut order = [V12, V13];
        order.sort_by_key(|v| std::cmp::Reverse(self.revisions[*v]));
        let replica_sets: Vec<Value> = order
            .iter()
            .map(|&v| {
                let mut rs = Map::new();
                rs.insert(
                    "objectMeta".into(),
                    json!({"name": format!("{NAME}-{}", HASHES[v]), "namespace": NAMESPACE}),
                );
                let (st, ic) = if pods[v] > 0 {
                    ("Healthy", "fa-check-circle")
                } else {
                    ("ScaledDown", "fa-times-circle")
                };
                rs.insert("status".into(), json!(st));
                rs.insert("icon".into(), json!(ic));
                rs.insert("revision".into(), json!(self.revisions[v]));
                if v == self.stable {
                    rs.insert("stable".into(), json!(true));
                }
                if v == self.spec && v != self.stable {
                    rs.insert("canary".into(), json!(true));
                }
                if pods[v] > 0 {
                    rs.insert("replicas".into(), json!(pods[v]));
                    rs.insert("available".into(), json!(pods[v]));
                }
                rs.insert("template".into(), json!(HASHES[v]));
                rs.insert("images".into(), json!([IMAGES[v]]));
                Value::Object(rs)
            })
            .collect();
        o.insert("replicaSets".into(), Value::Array(replica_sets));
        if !self.runs.is_empty() {
            let runs: Vec<Value> = self
                .runs
                .iter()
                .rev()
                .map(|run| {
                    let mut a = Map::new();
                    a.insert(
                        "objectMeta".into(),
                        json!({"name": run.name, "namespace": NAMESPACE}),
                    );
                    a.insert("icon".into(), json!(run.status.icon()));
                    a.insert("revision".into(), json!(run.revision));
                    a.insert("status".into(), json!(run.status.word()));
                    if run.successful > 0 {
                        a.insert("successful".into(), json!(run.successful));
                    }
                    if run.failed > 0 {
                        a.insert("failed".into(), json!(run.failed));
                    }
                    Value::Object(a)
                })
                .collect();
            o.insert("analysisRuns".into(), Value::Array(runs));
        }
        o.insert(
            "containers".into(),
            json!([{"name": NAME, "image": IMAGES[self.spec]}]),
        );
        let steps: Vec<Value> = STEPS
            .iter()
            .map(|s| match s {
                Step::SetWeight(w) => json!({"setWeight": w}),
                Step::Pause(d) => json!({"pause": {"duration": format!("{}m", d / 60.0)}}),
                Step::Analysis => {
                    json!({"analysis": {"templates": [{"templateName": ANALYSIS_TEMPLATE}]}})
                }
            })
            .collect();
        o.insert("steps".into(), Value::Array(steps));
        Value::Object(o)
    }
}

async fn list_info(State(sim): State<RolloutSim>, Path(ns): Path<String>) -> Response {
    if ns == NAMESPACE {
        let info = sim.info();
        json_reply(StatusCode::OK, &json!({"rollouts": [info]}))
    } else {
        json_reply(StatusCode::OK, &json!({}))
    }
}

async fn one_info(
    State(sim): State<RolloutSim>,
    Path((ns, name, action)): Path<(String, String, String)>,
) -> Response {
    if action != "info" {
        return not_found_route();
    }
    if ns != NAMESPACE || name != NAME {
        return not_found(&name).into_response();
    }
    json_reply(StatusCode::OK, &sim.info())
}

/// The request body as grpc-gateway reads it: empty = `{}`, otherwise a JSON object.
fn body_object(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            message: "the request body must be a JSON object".into(),
        }),
        Err(e) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            message: format!("invalid JSON body: {e}"),
        }),
    }
}

async fn command(
    State(sim): State<RolloutSim>,
    Path((ns, name, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    sim.inner.puts.fetch_add(1, Ordering::Relaxed);
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let cmd = match action.as_str() {
        "promote" => Command::Promote {
            full: body.get("full").and_then(Value::as_bool).unwrap_or(false),
        },
        "abort" => Command::Abort,
        "retry" => Command::Retry,
        "restart" => Command::Restart,
        _ => return not_found_route(),
    };
    run_command(&sim, &ns, &name, cmd)
}

async fn undo(
    State(sim): State<RolloutSim>,
    Path((ns, name, revision)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    sim.inner.puts.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = body_object(&body) {
        return e.into_response();
    }
    let Ok(revision) = revision.trim().parse::<i64>() else {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            message: format!(
                "type mismatch, parameter: revision, error: strconv.ParseInt: parsing \"{revision}\": invalid syntax"
            ),
        }
        .into_response();
    };
    run_command(&sim, &ns, &name, Command::Undo(revision))
}

fn run_command(sim: &RolloutSim, ns: &str, name: &str, cmd: Command) -> Response {
    if ns != NAMESPACE || name != NAME {
        return not_found(name).into_response();
    }
    match sim.apply(cmd) {
        // The real server answers with the Rollout object; the adapter only reads the status.
        Ok(()) => json_reply(StatusCode::OK, &json!({})),
        Err(e) => e.into_response(),
    }
}

fn not_found_route() -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: 5,
        message: "Not Found".into(),
    }
    .into_response()
}

/// Counts PUTs that reach no route, then answers 404.
async fn counted_fallback(State(sim): State<RolloutSim>, method: Method) -> Response {
    if method == Method::PUT {
        sim.inner.puts.fetch_add(1, Ordering::Relaxed);
    }
    not_found_route()
}

/// Serve `sim` on an ephemeral port of 127.0.0.1 until `cancel` is cancelled. The base URL for
/// an [`crate::sources::argo::ArgoClient`] is `http://{addr}` with prefix [`DEFAULT_PREFIX`].
pub async fn serve(sim: RolloutSim, cancel: CancellationToken) -> Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .wrap_err("binding the demo rollout dashboard to 127.0.0.1")?;
    let addr = listener
        .local_addr()
        .wrap_err("reading the demo rollout dashboard's address")?;
    let app = sim.router();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        match served {
            Ok(()) => tracing::debug!(%addr, "demo rollout dashboard stopped"),
            Err(error) => tracing::warn!(%addr, %error, "demo rollout dashboard failed"),
        }
    });
    tracing::debug!(%addr, "demo rollout dashboard started");
    Ok(addr)
}
