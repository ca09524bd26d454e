//! `Application`: bind, build the router, start in-process workers, serve until told to stop.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use atelier_platform::{Platform, PlatformConfig, jobs::worker};
use axum::serve::ListenerExt;
use axum::{Router, extract::DefaultBodyLimit};
use tokio::{net::TcpListener, sync::watch, time::Instant};
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

    /// Serves until `shutdown` resolves, then shuts down gracefully: stops accepting, closes
    /// every WebSocket with Pusher's 4200 (clients reconnect to another node), lets in-flight
    /// requests and running jobs finish within the grace period, and hands the jobs still
    /// running then back to the queue for other workers.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (release_tx, release_rx) = watch::channel(false);
        metrics::gauge!("atelier_workers_busy").set(0.0);
        let mut workers = worker::spawn(
            &self.state.platform,
            self.state.config.workers,
            stop_rx.clone(),
            release_rx,
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
        let (signalled_tx, signalled_rx) = watch::channel(None::<Instant>);
        let realtime = self.state.realtime.clone();
        let server = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!(
                    grace_secs = grace.as_secs_f64(),
                    "shutting down: no new connections or jobs; WebSockets told to reconnect elsewhere"
                );
                let _ = stop_tx.send(true);
                realtime.close_all_for_shutdown();
                signalled_tx.send_replace(Some(Instant::now()));
            })
            .into_future();
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result?,
            () = grace_over(signalled_rx.clone(), grace) => tracing::warn!(
                "requests still in flight after the grace period; their connections are closed"
            ),
        }
        worker::drain(workers, grace_over(signalled_rx, grace), &release_tx).await;
        self.state.platform.db().close().await;
        Ok(())
    }
}

/// Resolves `grace` after the shutdown signal (never, if it never comes).
async fn grace_over(mut signalled: watch::Receiver<Option<Instant>>, grace: Duration) {
    let at = signalled
        .wait_for(Option::is_some)
        .await
        .ok()
        .map(|at| (*at).unwrap_or_else(Instant::now));
    match at {
        Some(at) => tokio::time::sleep_until(at + grace).await,
        None => std::future::pending().await,
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
