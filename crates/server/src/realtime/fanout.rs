//! This node's real-time server: credentials, limits and the socket hub, wired to the platform's
//! event publisher ([`atelier_platform::events`]), which delivers events to this node's hub at
//! once and, on PostgreSQL, broadcasts them to every other process. Events other processes
//! publish (other API nodes, `atelier worker` job progress) arrive through [`Realtime::spawn_listener`].

use std::sync::Arc;

use atelier_platform::{
    PlatformResult,
    db::Db,
    events::{EventPublisher, LocalSink},
};
use tokio::{sync::watch, task::JoinHandle};

pub use atelier_platform::events::Event;

use super::{config::RealtimeConfig, hub::Hub, protocol};

/// The real-time server of this node: credentials, limits, the hub and the publisher.
#[derive(Debug)]
pub struct Realtime {
    /// App id.
    pub app_id: String,
    /// Public key.
    pub key: String,
    secret: String,
    /// Limits and timings.
    pub config: RealtimeConfig,
    hub: Arc<Hub>,
    events: EventPublisher,
    /// Turns true when the node shuts down: every socket then closes with 4200.
    closing: tokio::sync::watch::Sender<bool>,
}

const SECRET_SETTING: &str = "pusher_app_secret";

/// Delivers events to this node's sockets (the publisher's local sink).
#[derive(Debug)]
struct HubSink(Arc<Hub>);

impl LocalSink for HubSink {
    fn deliver(&self, event: &Event) -> usize {
        let mut delivered = 0;
        for channel in &event.channels {
            let frame = protocol::frame(
                &event.name,
                Some(channel),
                &event.data,
                event.user_id.as_deref(),
            );
            delivered += self
                .0
                .deliver(channel, &frame.into(), event.except.as_deref());
        }
        delivered
    }
}

impl Realtime {
    /// Resolves the credentials (generating and storing the secret on first start when it is not
    /// configured), creates an empty hub and makes it `events`' local sink.
    pub async fn new(
        config: RealtimeConfig,
        db: &Db,
        events: EventPublisher,
    ) -> PlatformResult<Self> {
        let secret = match &config.secret {
            Some(secret) => secret.clone(),
            None => {
                let fresh = hex_token();
                atelier_platform::db::setting_or_insert(db, SECRET_SETTING, &fresh).await?
            }
        };
        let hub = Arc::new(Hub::new(
            config.socket_queue,
            config.max_channels_per_socket,
        ));
        if !events.set_local_sink(Arc::new(HubSink(Arc::clone(&hub)))) {
            tracing::warn!("the event publisher already has a local sink");
        }
        Ok(Self {
            app_id: config.app_id.clone(),
            key: config.key.clone(),
            secret,
            hub,
            config,
            events,
            closing: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Closes every WebSocket of this node with Pusher's 4200 ("reconnect immediately"), now
    /// and for connections that arrive later: the node is shutting down, and pusher-js then
    /// reconnects, through the load balancer, to another node.
    pub fn close_all_for_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Realtime::close_all_for_shutdown`] has been called.
    pub async fn shutting_down(&self) {
        let mut closing = self.closing.subscribe();
        // The sender lives as long as `self`, so `wait_for` ends only on `true`.
        let _ = closing.wait_for(|closing| *closing).await;
    }

    /// The signing secret (for the auth endpoint and tests' own signing).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// This node's hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Delivers `event` to this node's sockets, then publishes it to the other processes.
    pub async fn trigger(&self, event: Event) -> PlatformResult<usize> {
        self.events.publish(event).await
    }

    /// On PostgreSQL, listens for other processes' events and delivers them here until
    /// `shutdown`.
    pub fn spawn_listener(
        self: &Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        if self.events.is_local_only() {
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

    /// Delivers other processes' events here until the listening connection fails.
    async fn listen(&self) -> PlatformResult<()> {
        let Some(mut subscription) = self.events.subscribe().await? else {
            return Ok(());
        };
        loop {
            let event = subscription.recv().await?;
            self.events.deliver_local(&event);
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
