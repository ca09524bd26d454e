//! Global back-pressure: at most `max_concurrent_requests` requests are served at once (one
//! more is answered 503 `overloaded` with `Retry-After` at once, rather than queued without
//! bound), and each must produce its response within `request_timeout` (503 `timeout`; the
//! handler's future is dropped, which also cancels the work it guards, see `routes::detect`).
//! Health, readiness and metrics stay outside both, so an overloaded node can still say so.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use crate::{config::RequestLimits, error::ApiError};

/// The shared state of the back-pressure middleware.
#[derive(Debug, Clone)]
pub struct Backpressure {
    slots: Arc<Semaphore>,
    limits: RequestLimits,
}

impl Backpressure {
    /// Back-pressure with `limits`.
    pub fn new(limits: RequestLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
            limits,
        }
    }
}

/// Paths that are never shed nor timed: cheap, and what operators watch during overload.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn limit(State(bp): State<Backpressure>, request: Request, next: Next) -> Response {
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_slot) = bp.slots.clone().try_acquire_owned() else {
        metrics::counter!("atelier_http_shed_total").increment(1);
        return ApiError::Overloaded {
            message: "the server is serving as many requests as it may; try again shortly".into(),
            retry_after: 1,
        }
        .into_response();
    };
    let timeout = bp.limits.request_timeout;
    if timeout.is_zero() {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("atelier_http_timeouts_total").increment(1);
            ApiError::TimedOut {
                after_secs: timeout.as_secs(),
            }
            .into_response()
        }
    }
}
