//! The simulated MLflow Model Registry behind `mltop --demo`: an HTTP server on 127.0.0.1 that
//! answers the registry and run endpoints under [`BASE_PATH`] in MLflow's own JSON, field for
//! field, so that the production MLflow adapter can be pointed at it unchanged.
//!
//! Seeded with the cast of `DEMO.md`: `recsys-ranker` versions 10–13 (`champion` → 12,
//! `challenger` → 13) and `fraud-detector` versions 1–7 (`champion` → 7), each version with the
//! run that produced it (`ndcg_at_10`, `recall_at_20`, `auc` / `auc`, `precision_at_1pct`,
//! `recall`).
//!
//! What the simulator reproduces of a real MLflow tracking server (SQL store), from MLflow's
//! source (`mlflow/server/handlers.py`, `mlflow/store/model_registry/sqlalchemy_store.py`,
//! `mlflow/utils/proto_json_utils.py`, `mlflow/protos/model_registry.proto`) and checked
//! against a running MLflow 3.17.2:
//! - bodies are the protobuf messages rendered by `message_to_json`: snake_case fields in field
//!   number order, unset optional fields and **empty repeated fields omitted** (an empty search
//!   is `{}`), int64 timestamps as JSON numbers in ms, versions as strings, enums by name
//!   (`"status": "READY"`), pretty-printed with a two-space indent; a registered model's
//!   `aliases` sorted by name, `latest_versions` the newest version per stage;
//! - `model-versions/get`, `registered-models/alias` (GET) and `model-versions/create` carry the
//!   version's `aliases`; `model-versions/search` and `latest_versions` never do;
//! - versions registered over REST without those fields carry `"description": ""` and
//!   `"run_link": ""` (and `"run_id": ""` without a run) and no `user_id`; a run has
//!   `"inputs": {}` and `"outputs": {}`;
//! - request validation as `_get_request_message` does it: GET reads the query string (or a
//!   JSON body when there is none), POST requires `Content-Type: application/json`, DELETE
//!   reads a JSON body whatever its content type (query parameters are ignored), a JSON number
//!   where a string is declared (`"version": 13`) is `400 INVALID_PARAMETER_VALUE`; a
//!   `runs:/…` or `mlflow-artifacts:/…` source must come with the `run_id` that contains it;
//! - errors on one line, `{"error_code", "message", "sqlstate", "error_class"}` (the last two
//!   are MLflow 3's), with MLflow's wording and status: `RESOURCE_DOES_NOT_EXIST` → 404,
//!   `INVALID_PARAMETER_VALUE` → 400, a bare exception (duplicate `order_by` keys) → 500
//!   `INTERNAL_ERROR`. Note that MLflow answers a **missing alias** with `400
//!   INVALID_PARAMETER_VALUE` ("Registered model alias champion not found."), not 404; an
//!   unknown model or version is 404. Unknown routes and wrong methods get Flask's HTML 404/405.
//!
//! One deliberate addition: setting or deleting an alias moves the registered model's
//! `last_updated_timestamp` (real MLflow leaves it alone), so the demo can show when a
//! promotion happened. Adapters must not rely on it.

mod http;
mod search;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use color_eyre::eyre::{Result, WrapErr};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use state::Store;

/// Where MLflow serves its REST API 2.0; every route of the simulator is under it.
pub const BASE_PATH: &str = "/api/2.0/mlflow";

/// An error as MLflow reports it: the HTTP status, the `error_code` and the `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    pub status: u16,
    pub error_code: &'static str,
    pub message: String,
}

impl RegistryError {
    pub(crate) fn not_found(message: impl Into<String>) -> RegistryError {
        RegistryError {
            status: 404,
            error_code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> RegistryError {
        RegistryError {
            status: 400,
            error_code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// What an `MlflowException` raised without an error code becomes.
    pub(crate) fn internal(message: impl Into<String>) -> RegistryError {
        RegistryError {
            status: 500,
            error_code: "INTERNAL_ERROR",
            message: message.into(),
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error_code, self.message)
    }
}

impl std::error::Error for RegistryError {}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Inner {
    store: Mutex<Store>,
    clock: Clock,
    writes: AtomicUsize,
}

/// The simulated registry: a cheaply clonable handle on shared state.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("writes", &self.write_count())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// The demo cast, its history placed before the current time; writes are stamped with the
    /// real time. For deterministic timestamps use [`Registry::demo_at`].
    pub fn demo() -> Registry {
        Registry::demo_with_clock(unix_millis)
    }

    /// The demo cast with a deterministic clock: the seeded history ends just before `now_ms`
    /// (ms since the Unix epoch), and each later write is stamped one second after the previous
    /// one (the first at `now_ms + 1000`).
    pub fn demo_at(now_ms: i64) -> Registry {
        let next = AtomicI64::new(now_ms);
        Registry::demo_with_clock(move || next.fetch_add(1000, Ordering::Relaxed))
    }

    /// The demo cast with an injected clock (ms since the Unix epoch). The clock is read once
    /// to place the seeded history, then once per write.
    pub fn demo_with_clock(clock: impl Fn() -> i64 + Send + Sync + 'static) -> Registry {
        let clock: Clock = Arc::new(clock);
        let anchor = clock();
        Registry {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::demo(anchor)),
                clock,
                writes: AtomicUsize::new(0),
            }),
        }
    }

    /// The routes under [`BASE_PATH`]:
    /// `GET registered-models/get`, `GET registered-models/search`, `GET model-versions/get`,
    /// `GET model-versions/search`, `POST model-versions/create`,
    /// `GET|POST|DELETE registered-models/alias`, `GET runs/get`.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// The version an alias of a model points to, if both exist.
    pub fn alias(&self, model: &str, alias: &str) -> Option<String> {
        self.store().alias(model, alias).map(|v| v.to_string())
    }

    /// Set or move an alias, as `POST registered-models/alias` does (same validation and
    /// errors). Not counted in [`Registry::write_count`].
    pub fn set_alias(&self, model: &str, alias: &str, version: &str) -> Result<(), RegistryError> {
        let now = self.now();
        self.store().set_alias(model, alias, version, now)
    }

    /// Delete an alias, as `DELETE registered-models/alias` does (a missing alias is fine, an
    /// unknown model is not). Not counted in [`Registry::write_count`].
    pub fn delete_alias(&self, model: &str, alias: &str) -> Result<(), RegistryError> {
        let now = self.now();
        self.store().delete_alias(model, alias, now)
    }

    /// Register the next version of `name` in-process, the way a training pipeline does: log a
    /// finished run with `run_metrics` (its params and tags follow the model's latest run), then
    /// create a version from that run's model artifact. The registered model is created if it
    /// does not exist (as `mlflow.register_model` does). Returns the new version, e.g. `"14"`.
    /// Not counted in [`Registry::write_count`].
    pub fn register_version(&self, name: &str, run_metrics: &[(&str, f64)]) -> String {
        let now = self.now();
        self.store()
            .register_version(name, run_metrics, now)
            .to_string()
    }

    /// The live versions of a model, oldest first (empty for an unknown model).
    pub fn versions(&self, model: &str) -> Vec<String> {
        self.store().versions(model)
    }

    /// The metrics (`key`, latest value) of the run behind a version, if the version exists and
    /// its run is known.
    pub fn version_metrics(&self, model: &str, version: &str) -> Option<Vec<(String, f64)>> {
        self.store().version_metrics(model, version)
    }

    /// HTTP requests received on the routes with a method other than GET/HEAD/OPTIONS (i.e.
    /// POST and DELETE), whether they succeeded or not. For tests that must stay read-only.
    pub fn write_count(&self) -> usize {
        self.inner.writes.load(Ordering::Relaxed)
    }

    pub(crate) fn count_write(&self) {
        self.inner.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // The state stays consistent even if a holder panicked: every operation validates
        // before it mutates.
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Serve `registry` on an ephemeral port of 127.0.0.1 until `cancel` is cancelled. The base URL
/// for an MLflow client is `http://{addr}` (routes under [`BASE_PATH`]).
pub async fn serve(registry: Registry, cancel: CancellationToken) -> Result<SocketAddr> {
    serve_on(registry, 0, cancel).await
}

/// Like [`serve`], on a chosen port of 127.0.0.1 (0 = ephemeral).
pub async fn serve_on(
    registry: Registry,
    port: u16,
    cancel: CancellationToken,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .wrap_err_with(|| format!("binding the demo model registry to 127.0.0.1:{port}"))?;
    let addr = listener
        .local_addr()
        .wrap_err("reading the demo model registry's address")?;
    let app = registry.router();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        match served {
            Ok(()) => tracing::debug!(%addr, "demo model registry stopped"),
            Err(error) => tracing::warn!(%addr, %error, "demo model registry failed"),
        }
    });
    tracing::debug!(%addr, "demo model registry started");
    Ok(addr)
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
