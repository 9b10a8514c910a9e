//! The model server's HTTP face: `GET /metrics` and `GET /healthz` on 127.0.0.1.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{DemoHandle, DemoOptions, World};

/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Start the model server on an ephemeral port of 127.0.0.1. It runs as a task until `cancel`
/// is cancelled. Demo time = real time elapsed since this call × `opts.speed`.
pub async fn start(opts: DemoOptions, cancel: CancellationToken) -> Result<DemoHandle> {
    start_on(opts, 0, cancel).await
}

/// Like [`start`], on a chosen port of 127.0.0.1 (0 = ephemeral), so a Prometheus config can
/// point at a fixed address (`mltop demo --port`).
pub async fn start_on(
    opts: DemoOptions,
    port: u16,
    cancel: CancellationToken,
) -> Result<DemoHandle> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        return Err(eyre!(
            "demo speed must be a positive number, got {}",
            opts.speed
        ));
    }
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .wrap_err_with(|| format!("binding the demo model server to 127.0.0.1:{port}"))?;
    let addr = listener
        .local_addr()
        .wrap_err("reading the demo model server's address")?;
    let world = Arc::new(World::new(&opts));
    world.start_clock();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(world.clone());
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        match served {
            Ok(()) => tracing::debug!(%addr, "demo model server stopped"),
            Err(error) => tracing::warn!(%addr, %error, "demo model server failed"),
        }
    });
    tracing::debug!(%addr, seed = opts.seed, speed = opts.speed, "demo model server started");
    Ok(DemoHandle {
        addr,
        metrics_url: format!("http://{addr}/metrics"),
        world,
        opts,
    })
}

async fn metrics(State(world): State<Arc<World>>) -> Response {
    let rendered = tokio::task::spawn_blocking(move || {
        let demo_secs = world.demo_now().unwrap_or(0.0);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        world.render_metrics(demo_secs, unix_now)
    })
    .await;
    match rendered {
        Ok(body) => ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], body).into_response(),
        Err(error) => {
            tracing::warn!(%error, "rendering the demo metrics page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "render failed\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}
