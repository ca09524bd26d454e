//! This node's real-time server: credentials, limits and the socket hub, wired to the platform's
//! event publisher ([`atelier_platform::events`]), which delivers events to this node's hub at
//! once and, on PostgreSQL, broadcasts them to every other process. Events other processes
//! publish (other API nodes, `atelier worker` job progress) arrive through [`Realtime::spawn_listener`].

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use atelier_platform::{
    PlatformResult,
    channel_counts::ChannelCountStore,
    db::Db,
    events::{EventPublisher, LocalSink},
    presence::PresenceStore,
};
use tokio::{sync::watch, task::JoinHandle};

pub use atelier_platform::events::Event;

use super::{
    config::RealtimeConfig,
    counts::ClusterCounts,
    hub::{ChannelCounts, Hub},
    presence::ClusterPresence,
    protocol::{self, ChannelKind},
};

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
    /// The cluster-wide presence roster (PostgreSQL); `None`: the hub's own (SQLite, one node).
    presence: Option<Arc<ClusterPresence>>,
    /// Other channels' counts across the cluster (PostgreSQL); `None`: the hub's (SQLite).
    counts: Option<Arc<ClusterCounts>>,
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
        let mut hub = Hub::new(config.socket_queue, config.max_channels_per_socket);
        let presence = match PresenceStore::for_db(db, events.node()) {
            Some(store) => {
                let presence =
                    ClusterPresence::new(store, events.clone(), config.presence_node_timeout);
                presence.register().await?;
                hub = hub.with_cluster_presence();
                Some(Arc::new(presence))
            }
            None => None,
        };
        let counts = ChannelCountStore::for_db(db, events.node(), config.presence_node_timeout)
            .map(|store| {
                let refresh = (config.presence_node_timeout / 3).max(Duration::from_millis(100));
                Arc::new(ClusterCounts::new(
                    store,
                    config.channel_counts_interval,
                    refresh,
                ))
            });
        let hub = Arc::new(hub);
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
            presence,
            counts,
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

    /// The cluster-wide presence roster, on PostgreSQL.
    pub fn cluster_presence(&self) -> Option<&ClusterPresence> {
        self.presence.as_deref()
    }

    /// One channel's counts, across the cluster on PostgreSQL (presence channels from their
    /// roster, others from this node's sockets plus the other live nodes' published counts),
    /// on this node on SQLite. `None` when the channel is empty.
    pub async fn channel_counts(&self, channel: &str) -> PlatformResult<Option<ChannelCounts>> {
        let presence_channel = protocol::channel_kind(channel) == Ok(ChannelKind::Presence);
        if let Some(presence) = self.cluster_presence()
            && presence_channel
        {
            return Ok(presence
                .store()
                .counts(channel)
                .await?
                .map(|counts| ChannelCounts {
                    subscription_count: counts.subscriptions,
                    user_count: counts.users,
                }));
        }
        let local = self.hub.channel_counts(channel);
        match &self.counts {
            Some(counts) if !presence_channel => {
                let others = counts.store().others(channel).await?;
                let mut total = local.unwrap_or_default();
                total.subscription_count += others;
                Ok((total.subscription_count > 0).then_some(total))
            }
            _ => Ok(local),
        }
    }

    /// Occupied channels whose names start with `prefix` with their counts, sorted by name:
    /// on PostgreSQL every node's (as [`Realtime::channel_counts`] counts them), on SQLite this
    /// node's.
    pub async fn channels(&self, prefix: &str) -> PlatformResult<Vec<(String, ChannelCounts)>> {
        let mut channels: BTreeMap<String, ChannelCounts> =
            self.hub.channels(prefix).into_iter().collect();
        if let Some(presence) = self.cluster_presence() {
            channels.retain(|name, _| protocol::channel_kind(name) != Ok(ChannelKind::Presence));
            channels.extend(presence.store().channels(prefix).await?.into_iter().map(
                |(name, counts)| {
                    let counts = ChannelCounts {
                        subscription_count: counts.subscriptions,
                        user_count: counts.users,
                    };
                    (name, counts)
                },
            ));
        }
        if let Some(counts) = &self.counts {
            for (name, others) in counts.store().others_by_prefix(prefix).await? {
                if protocol::channel_kind(&name) != Ok(ChannelKind::Presence) {
                    channels.entry(name).or_default().subscription_count += others;
                }
            }
        }
        Ok(channels.into_iter().collect())
    }

    /// The members of a presence channel, by id (on every node, on PostgreSQL).
    pub async fn members(&self, channel: &str) -> PlatformResult<Vec<String>> {
        match self.cluster_presence() {
            Some(presence) => presence.store().users(channel).await,
            None => Ok(self.hub.members(channel)),
        }
    }

    /// Delivers `event` to this node's sockets, then publishes it to the other processes.
    pub async fn trigger(&self, event: Event) -> PlatformResult<usize> {
        self.events.publish(event).await
    }

    /// On PostgreSQL, listens for other processes' events and delivers them here, and keeps
    /// this node's part of the presence roster (heartbeats, reaping, reconciling) and of the
    /// channel counts (published in batches), until `shutdown`. Nothing to do on SQLite.
    pub fn spawn_listener(&self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let Some(presence) = &self.presence {
            tasks.push(presence.spawn(Arc::clone(&self.hub), shutdown.clone()));
        }
        if let Some(counts) = &self.counts {
            tasks.push(counts.spawn(Arc::clone(&self.hub), shutdown.clone()));
        }
        if !self.events.is_local_only() {
            tasks.push(self.spawn_event_listener(shutdown));
        }
        tasks
    }

    fn spawn_event_listener(&self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let events = self.events.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    result = listen(&events) => {
                        if let Err(err) = result {
                            tracing::warn!(error = %err, "real-time listener failed; reconnecting");
                        }
                    }
                    _ = shutdown.changed() => return,
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    }
}

/// Delivers other processes' events here until the listening connection fails.
async fn listen(events: &EventPublisher) -> PlatformResult<()> {
    let Some(mut subscription) = events.subscribe().await? else {
        return Ok(());
    };
    tracing::info!("listening for other nodes' real-time events");
    loop {
        let event = subscription.recv().await?;
        events.deliver_local(&event);
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
