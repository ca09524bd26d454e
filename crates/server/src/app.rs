//! `Application`: bind, build the router, start in-process workers, serve until told to stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use atelier_platform::{Platform, PlatformConfig, jobs::worker};
use axum::serve::ListenerExt;
use axum::{Router, extract::DefaultBodyLimit};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    backpressure::{self, Backpressure},
    config::ServerConfig,
    error::ApiError,
    openapi::{ApiDoc, swagger_ui},
    realtime::{self, Realtime},
    routes,
    state::{App, AppState},
    telemetry,
};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Opens the platform and binds the listener.
    pub async fn build(server: ServerConfig, platform: PlatformConfig) -> anyhow::Result<Self> {
        let platform = Platform::open(platform).await?;
        Self::with_platform(server, platform).await
    }

    /// Binds the listener around an already opened platform.
    pub async fn with_platform(server: ServerConfig, platform: Platform) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(server.bind).await?;
        let realtime = Arc::new(
            Realtime::new(
                server.realtime.clone(),
                platform.db(),
                platform.events().clone(),
            )
            .await?,
        );
        let state = AppState(Arc::new(App {
            platform,
            config: server,
            realtime,
        }));
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// This node's real-time server (hub, credentials).
    pub fn realtime(&self) -> &Arc<Realtime> {
        &self.state.realtime
    }

    /// The platform behind the server.
    pub fn platform(&self) -> &Platform {
        &self.state.platform
    }

    /// Serves until `shutdown` resolves, then stops claiming jobs and drains.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        metrics::gauge!("atelier_workers_busy").set(0.0);
        let mut workers = worker::spawn(
            &self.state.platform,
            self.state.config.workers,
            stop_rx.clone(),
        );
        workers.push(atelier_platform::maintenance::spawn(
            &self.state.platform,
            stop_rx.clone(),
        ));
        workers.extend(self.state.realtime.spawn_listener(stop_rx));
        if self.state.platform.models().config().warm_up {
            let state = self.state.clone();
            tokio::spawn(async move {
                if let Err(err) = state.platform.models().runtime().await {
                    tracing::warn!(error = %err, "no inference runtime: classification is unavailable");
                }
            });
        }
        let grace = self.state.config.shutdown_grace;
        let addr = self.local_addr()?;
        tracing::info!(%addr, workers = self.state.config.workers, "atelier is listening");
        // Small frames (pongs, strokes) go out at once instead of waiting for Nagle's timer.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "TCP_NODELAY not set");
            }
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: no new jobs are claimed");
                let _ = stop_tx.send(true);
            })
            .await?;
        drain(workers, grace).await;
        self.state.platform.db().close().await;
        Ok(())
    }
}

async fn drain(workers: Vec<JoinHandle<()>>, grace: Duration) {
    let all = futures::future::join_all(workers);
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(
            "workers still busy after the grace period; their jobs will be retried after their leases expire"
        );
    }
}

/// The whole router: the API (with its OpenAPI document), Swagger UI, the UI, and fallbacks.
pub fn router(state: AppState) -> Router {
    let max_upload = state.platform.config().uploads.max_bytes;
    let limits = state.config.requests;
    // The Pusher HTTP API takes a batch of up to 10 events of `max_message_bytes` each.
    let realtime_body = state
        .config
        .realtime
        .max_message_bytes
        .saturating_add(1024)
        .saturating_mul(10)
        .max(limits.max_json_bytes);
    let (api, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router(
            max_upload,
            limits.max_stroke_bytes,
            state.config.detect.max_cascade_bytes,
        ))
        .merge(realtime::router().layer(DefaultBodyLimit::max(realtime_body)))
        .split_for_parts();
    telemetry::recorder();
    api.merge(swagger_ui(document))
        .merge(crate::web::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Routes that take files or strokes set their own, larger limit inside this one.
        .layer(DefaultBodyLimit::max(limits.max_json_bytes))
        .layer(axum::middleware::from_fn(crate::csrf::protect))
        .layer(axum::middleware::from_fn_with_state(
            Backpressure::new(limits),
            backpressure::limit,
        ))
        .layer(axum::middleware::from_fn(telemetry::track_requests))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_panic| {
            axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!(
                "a handler panicked"
            )))
        }))
        .with_state(state)
}
