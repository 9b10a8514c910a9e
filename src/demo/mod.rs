//! The simulated production behind `mltop --demo` and `mltop demo`.
//!
//! Part one is the model server: an HTTP server on 127.0.0.1 whose `GET /metrics` answers with a
//! Prometheus text exposition page of realistic, time-varying, seed-deterministic series (see
//! [`script`] for the story's numbers and [`World`] for the ratio definitions), and whose
//! `GET /healthz` answers `ok`. The simulation does no work between scrapes: each render
//! integrates the missing 1-demo-second steps and caches the result.
//!
//! Metric contract (labels `service`, `version`; data-layer series `service`, `feature`):
//! `model_request_latency_seconds` (histogram), `model_requests_total`,
//! `model_request_errors_total`, `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `model_prediction_score` (histogram), `recs_personalization_ratio`, `recs_top1_share`,
//! `model_feature_value` (histogram), `model_feature_category_total` (+`category`),
//! `model_feature_values_total`, `model_feature_missing_total`,
//! `model_data_last_ingest_timestamp_seconds` (`service` only), `recs_impressions_total`,
//! `recs_clicks_total`, `recs_conversions_total`, `recs_revenue_euros_total`,
//! `fraud_transactions_total`, `fraud_flagged_total`, `fraud_blocked_amount_euros_total`.

pub mod pipeline;
pub mod registry;
pub mod rng;
pub mod rollout;
pub mod script;
mod server;
mod world;

pub use server::{start, start_on};

mod config;
pub use config::{canary_toml, config_toml, pipelines_toml, registry_toml, rollouts_toml};
pub use world::World;

use std::net::SocketAddr;
use std::sync::Arc;

/// How the demo world runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoOptions {
    /// Fixes all the randomness.
    pub seed: u64,
    /// Demo seconds per real second (> 0).
    pub speed: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            speed: 1.0,
        }
    }
}

/// A running demo model server.
#[derive(Clone, Debug)]
pub struct DemoHandle {
    /// Where the server listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    /// `http://{addr}/metrics`.
    pub metrics_url: String,
    /// The simulation behind the server (e.g. to drive the canary weight).
    pub world: Arc<World>,
    pub opts: DemoOptions,
}

impl DemoHandle {
    /// Demo seconds since the server started (real elapsed × speed).
    pub fn demo_secs(&self) -> f64 {
        self.world.demo_now().unwrap_or(0.0)
    }
}
