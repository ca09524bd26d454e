//! A Pusher Channels protocol v7 server inside atelier, so pusher-js, pusher-java-client and the
//! Pusher server libraries talk to atelier unchanged.
//!
//! | module | owns |
//! |---|---|
//! | `config` | its settings (app id, key, secret, limits) |
//! | `protocol` | frames in and out, channel kinds, error codes (pure) |
//! | `signing` | channel-auth and HTTP-request signatures (pure) |
//! | `ratelimit` | the client-event token bucket (pure) |
//! | `hub` | this node's sockets, subscriptions, presence rosters and delivery |
//! | `fanout` | this node's hub wired to `atelier_platform::events` (local delivery + `NOTIFY`) |
//! | `presence` | presence rosters across nodes on PostgreSQL (heartbeats, reaping dead nodes) |
//! | `counts` | other channels' subscription counts across nodes on PostgreSQL (batched) |
//! | `socket` | one WebSocket connection's life (`GET /app/{key}`) |
//! | `http_api` | the signed HTTP API (`/apps/{app_id}/…`) |
//! | `auth` | `POST /pusher/auth`: which atelier sessions may join which channels |

pub mod auth;
pub mod config;
pub mod counts;
pub mod fanout;
pub mod http_api;
pub mod hub;
pub mod presence;
pub mod protocol;
pub mod ratelimit;
pub mod signing;
pub mod socket;

use utoipa_axum::router::OpenApiRouter;

pub use config::RealtimeConfig;
pub use fanout::{Event, Realtime};

use crate::state::AppState;

/// The real-time routes: the WebSocket endpoint, the signed HTTP API and the auth endpoint.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(socket::router())
        .merge(http_api::router())
        .merge(auth::router())
}
