//! The real-time server's settings.

use std::time::Duration;

/// The real-time server's settings.
///
/// Environment (through the `atelier` binary): `ATELIER_PUSHER_APP_ID`, `ATELIER_PUSHER_KEY`,
/// `ATELIER_PUSHER_SECRET`; TOML section `[realtime]`.
#[derive(Clone)]
pub struct RealtimeConfig {
    /// The app id in `/apps/{app_id}/…` (default `atelier`).
    pub app_id: String,
    /// The public key clients connect with (`/app/{key}`; default `atelier-key`).
    pub key: String,
    /// The signing secret; `None` = generated once and kept in the database's `settings` table,
    /// so every node of a deployment shares it.
    pub secret: Option<String>,
    /// Advertised `activity_timeout`: after this long without a frame the server pings.
    pub activity_timeout: Duration,
    /// How long to wait for any frame after a ping before closing with 4201.
    pub pong_timeout: Duration,
    /// Largest client frame and event payload, in bytes (Pusher's limit is 10 KB).
    pub max_message_bytes: usize,
    /// Client events a socket may send per second (token bucket of the same size).
    pub client_events_per_sec: u32,
    /// Channels one socket may join.
    pub max_channels_per_socket: usize,
    /// Frames queued per socket before it counts as fallen behind and is disconnected.
    pub socket_queue: usize,
    /// On PostgreSQL, how long an API node may miss heartbeats before the others take it for
    /// dead and remove its presence members (announcing `member_removed`); it heartbeats every
    /// third of this.
    pub presence_node_timeout: Duration,
    /// On PostgreSQL, the longest a node waits to publish its non-presence channel counts
    /// after a socket joins or leaves, batching the joins and leaves in between into one write;
    /// the HTTP API's counts of other nodes' sockets are at most this (plus one write) behind.
    pub channel_counts_interval: Duration,
}

impl std::fmt::Debug for RealtimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeConfig")
            .field("app_id", &self.app_id)
            .field("key", &self.key)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("activity_timeout", &self.activity_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("client_events_per_sec", &self.client_events_per_sec)
            .field("presence_node_timeout", &self.presence_node_timeout)
            .field("channel_counts_interval", &self.channel_counts_interval)
            .finish_non_exhaustive()
    }
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            app_id: "atelier".into(),
            key: "atelier-key".into(),
            secret: None,
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            max_message_bytes: 10 * 1024,
            client_events_per_sec: 10,
            max_channels_per_socket: 100,
            socket_queue: 1024,
            presence_node_timeout: Duration::from_secs(15),
            channel_counts_interval: Duration::from_secs(1),
        }
    }
}
