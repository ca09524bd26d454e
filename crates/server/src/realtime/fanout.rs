//! Triggering events. An event is delivered at once to this node's sockets and, on PostgreSQL,
//! published with `NOTIFY` (see `atelier_platform::broadcast`) so every other node delivers it
//! to its own sockets. Each node skips its own notifications (it already delivered them).

use std::sync::Arc;

use atelier_platform::{PlatformResult, broadcast, db::Db};
use serde::{Deserialize, Serialize};
use tokio::{sync::watch, task::JoinHandle};

use super::{RealtimeConfig, hub::Hub, protocol};

/// The PostgreSQL channel events travel on between nodes.
pub const BROADCAST_CHANNEL: &str = "atelier_realtime";

/// One event for one or more channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Channel names.
    pub channels: Vec<String>,
    /// Event name.
    pub name: String,
    /// The payload as the JSON string clients receive.
    pub data: String,
    /// A socket not to deliver to (the sender of a client event, or the HTTP API's `socket_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<String>,
    /// The sender's member id, for client events on presence channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: Event,
}

/// The real-time server of this node: credentials, limits, the hub and the fan-out.
#[derive(Debug)]
pub struct Realtime {
    /// App id.
    pub app_id: String,
    /// Public key.
    pub key: String,
    secret: String,
    /// Limits and timings.
    pub config: RealtimeConfig,
    hub: Hub,
    db: Db,
    node: String,
}

const SECRET_SETTING: &str = "pusher_app_secret";

impl Realtime {
    /// Resolves the credentials (generating and storing the secret on first start when it is not
    /// configured) and creates an empty hub.
    pub async fn new(config: RealtimeConfig, db: Db) -> PlatformResult<Self> {
        let secret = match &config.secret {
            Some(secret) => secret.clone(),
            None => {
                let fresh = hex_token();
                atelier_platform::db::setting_or_insert(&db, SECRET_SETTING, &fresh).await?
            }
        };
        Ok(Self {
            app_id: config.app_id.clone(),
            key: config.key.clone(),
            secret,
            hub: Hub::new(config.socket_queue, config.max_channels_per_socket),
            config,
            db,
            node: atelier_platform::secrets::random_token(12),
        })
    }

    /// The signing secret (for the auth endpoint and tests' own signing).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// This node's hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Delivers `event` to this node's sockets, then publishes it to the other nodes.
    pub async fn trigger(&self, event: Event) -> PlatformResult<usize> {
        let delivered = self.deliver_local(&event);
        self.publish_remote(event).await?;
        Ok(delivered)
    }

    /// Publishes an event (already delivered here) to the other nodes; a no-op on SQLite.
    pub async fn publish_remote(&self, event: Event) -> PlatformResult<()> {
        if self.db.backend() == atelier_platform::db::Backend::Postgres {
            let envelope = Envelope {
                node: self.node.clone(),
                event,
            };
            let payload = serde_json::to_string(&envelope)
                .map_err(atelier_platform::PlatformError::internal)?;
            broadcast::publish(&self.db, BROADCAST_CHANNEL, &payload).await?;
        }
        Ok(())
    }

    /// Delivers an event to this node's subscribers; returns how many sockets it was queued for.
    pub fn deliver_local(&self, event: &Event) -> usize {
        let mut delivered = 0;
        for channel in &event.channels {
            let frame = protocol::frame(
                &event.name,
                Some(channel),
                &event.data,
                event.user_id.as_deref(),
            );
            delivered += self
                .hub
                .deliver(channel, &frame.into(), event.except.as_deref());
        }
        delivered
    }

    /// On PostgreSQL, listens for other nodes' events and delivers them here until `shutdown`.
    pub fn spawn_listener(
        self: &Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        if self.db.backend() != atelier_platform::db::Backend::Postgres {
            return None;
        }
        let realtime = Arc::clone(self);
        Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    result = realtime.listen() => {
                        if let Err(err) = result {
                            tracing::warn!(error = %err, "real-time listener failed; reconnecting");
                        }
                    }
                    _ = shutdown.changed() => return,
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }))
    }
}

impl Realtime {
    /// Delivers other nodes' events here until the listening connection fails.
    async fn listen(&self) -> PlatformResult<()> {
        let Some(mut subscription) = broadcast::subscribe(&self.db, BROADCAST_CHANNEL).await?
        else {
            return Ok(());
        };
        loop {
            let payload = subscription.recv().await?;
            match serde_json::from_str::<Envelope>(&payload) {
                Ok(envelope) if envelope.node != self.node => {
                    self.deliver_local(&envelope.event);
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "bad real-time broadcast"),
            }
        }
    }
}

/// 20 random bytes as hex (Pusher secrets are hex strings).
fn hex_token() -> String {
    let mut bytes = [0u8; 20];
    for b in &mut bytes {
        *b = rand::random();
    }
    hex::encode(bytes)
}
