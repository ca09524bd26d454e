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
    /// Mark the session cookie `Secure` (serve behind HTTPS).
    pub secure_cookies: bool,
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
            shutdown_grace: Duration::from_secs(20),
            realtime: RealtimeConfig::default(),
        }
    }
}
