//! The HTTP server's own settings (the platform's are in `atelier_platform::config`).

use std::{net::SocketAddr, time::Duration};

use crate::realtime::config::RealtimeConfig;

/// The HTTP server's own settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// In-process job workers (0 = API only).
    pub workers: usize,
    /// Always mark the session cookie `Secure`; when false it is `Secure` only for requests
    /// that came over TLS (`X-Forwarded-Proto: https` from the proxy in front).
    pub secure_cookies: bool,
    /// Take the client's address from the first `X-Forwarded-For` entry (atelier runs behind
    /// a proxy that sets it), for per-address throttling; otherwise the peer address counts.
    pub trust_forwarded_for: bool,
    /// How long to let in-flight requests and jobs finish on shutdown.
    pub shutdown_grace: Duration,
    /// The Pusher-protocol server (app id, key, secret, limits).
    pub realtime: RealtimeConfig,
    /// Bounds on every request: body sizes, requests at once, time.
    pub requests: RequestLimits,
    /// Bounds on `POST /api/v1/detect`.
    pub detect: DetectLimits,
}

/// Bounds on every request (`[server]` in the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest JSON (or form) body, for every route that takes no file. Default 64 KiB.
    pub max_json_bytes: usize,
    /// Largest body of a stroke (`POST /drawings/{id}/strokes`, LittleStudio's canvas): a
    /// stroke of the most points allowed fits. Default 256 KiB.
    pub max_stroke_bytes: usize,
    /// Requests served at once by this process; past it a request is answered 503 `overloaded`
    /// with `Retry-After` at once (health and metrics excepted). Default 512.
    pub max_concurrent_requests: usize,
    /// How long a request may take before it is answered 503 `timeout` (its work is dropped;
    /// WebSocket sessions and downloads that have started are not cut); zero turns it off.
    /// Default 120 s.
    pub request_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_json_bytes: 64 * 1024,
            max_stroke_bytes: 256 * 1024,
            max_concurrent_requests: 512,
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// Bounds on one detection (`[detect]` in the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectLimits {
    /// Largest cascade XML a signed-in user may post. Default 4 MiB.
    pub max_cascade_bytes: usize,
    /// Most stages, trees and features of a posted cascade.
    pub cascade: atelier_haar::CascadeLimits,
    /// Longest image side detection accepts (checked before the image is decoded). Default 4096.
    pub max_image_side: u32,
    /// Most raw candidate windows before grouping; more is 422 `too-many-candidates`.
    /// Default 10,000.
    pub max_candidates: usize,
    /// Longest a detection may run; past it 422 `detection-too-slow`. Default 10 s.
    pub deadline: Duration,
}

impl Default for DetectLimits {
    fn default() -> Self {
        Self {
            max_cascade_bytes: 4 * 1024 * 1024,
            cascade: atelier_haar::CascadeLimits::default(),
            max_image_side: 4096,
            max_candidates: 10_000,
            deadline: Duration::from_secs(10),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 2,
            secure_cookies: false,
            trust_forwarded_for: false,
            shutdown_grace: Duration::from_secs(20),
            realtime: RealtimeConfig::default(),
            requests: RequestLimits::default(),
            detect: DetectLimits::default(),
        }
    }
}
