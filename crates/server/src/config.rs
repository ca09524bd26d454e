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
        }
    }
}
