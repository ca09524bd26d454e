//! Presence rosters across API nodes (PostgreSQL): the roster is the `realtime_presence` table
//! ([`atelier_platform::presence`]); `member_added`/`member_removed` travel as events through the
//! same fan-out as every other event (local delivery + `NOTIFY`), so every node's sockets hear
//! them. On SQLite (one node) the hub keeps the roster in memory and none of this runs.
//!
//! A background task per node heartbeats, reaps the rows of nodes whose heartbeat expired
//! (announcing `member_removed` for members left with no socket anywhere), and reconciles this
//! node's rows with its hub: rows of sockets that are gone (a leave lost while the database was
//! away) are removed, and subscriptions with no row (this node was taken for dead and reaped)
//! are written again. A node reaps others only after a full timeout of good heartbeats of its
//! own, so nodes coming back from a database outage do not reap each other before each has
//! had a chance to beat.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use atelier_platform::{
    PlatformResult,
    events::{Event, EventPublisher},
    presence::{Departure, PresenceMember, PresenceStore},
};
use tokio::{sync::watch, task::JoinHandle};

use super::{
    hub::{Hub, SubscribeOutcome},
    protocol::Member,
};

/// The event names of presence changes (what `protocol::member_added`/`member_removed` frame).
const MEMBER_ADDED: &str = "pusher_internal:member_added";
const MEMBER_REMOVED: &str = "pusher_internal:member_removed";

/// This node's part in the cluster-wide presence roster.
#[derive(Debug)]
pub struct ClusterPresence {
    store: PresenceStore,
    events: EventPublisher,
    timeout: Duration,
}

fn to_platform(member: &Member) -> PresenceMember {
    PresenceMember {
        user_id: member.user_id.clone(),
        user_info: member.user_info.clone(),
    }
}

fn from_platform(member: &PresenceMember) -> Member {
    Member {
        user_id: member.user_id.clone(),
        user_info: member.user_info.clone(),
    }
}

impl ClusterPresence {
    /// The roster in `store`, announcing through `events`; nodes silent for `timeout` are dead.
    pub fn new(store: PresenceStore, events: EventPublisher, timeout: Duration) -> Self {
        Self {
            store,
            events,
            timeout,
        }
    }

    /// Records this node's first heartbeat (before it serves any member).
    pub async fn register(&self) -> PlatformResult<()> {
        self.store.heartbeat().await.map(|_| ())
    }

    /// The roster store (for the HTTP API's channel queries).
    pub fn store(&self) -> &PresenceStore {
        &self.store
    }

    /// Subscribes `socket_id` to the presence `channel` as `member`: writes its row, queues the
    /// success frame with the cluster-wide roster (under the channel's lock, so no member event
    /// can reach the socket before its roster), then announces the member to every node when it
    /// is new to the channel.
    pub async fn join(
        &self,
        hub: &Hub,
        socket_id: &str,
        channel: &str,
        member: Member,
    ) -> PlatformResult<SubscribeOutcome> {
        let mut refused = SubscribeOutcome::Gone;
        let joined = self
            .store
            .join(channel, socket_id, &to_platform(&member), |roster| {
                let roster: Vec<Member> = roster.iter().map(from_platform).collect();
                match hub.subscribe_with_roster(socket_id, channel, member.clone(), &roster) {
                    SubscribeOutcome::Subscribed => Some(()),
                    other => {
                        refused = other;
                        None
                    }
                }
            })
            .await;
        match joined {
            Ok(Some(((), first))) => {
                if first {
                    self.announce_added(channel, &member, Some(socket_id)).await;
                }
                Ok(SubscribeOutcome::Subscribed)
            }
            Ok(None) => Ok(refused),
            Err(err) => {
                // The hub may have subscribed before the commit failed: undo it, so the roster
                // and the hub agree (the client sees an error and may retry).
                hub.unsubscribe(socket_id, channel);
                Err(err)
            }
        }
    }

    /// Removes `socket_id` from the presence `channel`, announcing `member_removed` to every node
    /// when that was the member's last socket there. A failure is logged: the reconciliation of
    /// the next heartbeat removes the row.
    pub async fn leave(&self, socket_id: &str, channel: &str) {
        match self.store.leave(channel, socket_id).await {
            Ok(Some(departure)) => self.announce_removed(&departure).await,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, channel, "presence leave not recorded; the next heartbeat retries it");
            }
        }
    }

    async fn announce_added(&self, channel: &str, member: &Member, except: Option<&str>) {
        let data = serde_json::json!({"user_id": member.user_id, "user_info": member.user_info});
        self.publish(channel, MEMBER_ADDED, data, except).await;
    }

    async fn announce_removed(&self, departure: &Departure) {
        let data = serde_json::json!({"user_id": departure.user_id});
        self.publish(&departure.channel, MEMBER_REMOVED, data, None)
            .await;
    }

    async fn publish(
        &self,
        channel: &str,
        name: &str,
        data: serde_json::Value,
        except: Option<&str>,
    ) {
        let event = Event {
            channels: vec![channel.to_owned()],
            name: name.to_owned(),
            data: data.to_string(),
            except: except.map(str::to_owned),
            user_id: None,
        };
        if let Err(err) = self.events.publish(event).await {
            tracing::warn!(error = %err, channel, event = name, "presence change not broadcast to other nodes");
        }
    }

    /// How often this node heartbeats: a third of the timeout.
    fn beat(&self) -> Duration {
        (self.timeout / 3).max(Duration::from_millis(100))
    }

    /// Heartbeats, reaps and reconciles until `shutdown`; then removes this node's rows at once,
    /// announcing its members' departures (their clients reconnect to other nodes).
    pub fn spawn(
        self: &Arc<Self>,
        hub: Arc<Hub>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let presence = Arc::clone(self);
        tokio::spawn(async move {
            let mut healthy_since: Option<Instant> = Some(Instant::now());
            loop {
                tokio::select! {
                    () = tokio::time::sleep(presence.beat()) => {}
                    _ = shutdown.changed() => break,
                }
                if let Err(err) = presence.tick(&hub, &mut healthy_since).await {
                    healthy_since = None;
                    tracing::warn!(error = %err, "presence heartbeat failed; retrying");
                }
            }
            presence.forget_self().await;
        })
    }

    async fn tick(&self, hub: &Hub, healthy_since: &mut Option<Instant>) -> PlatformResult<()> {
        self.store.heartbeat().await?;
        let since = *healthy_since.get_or_insert_with(Instant::now);
        self.reconcile(hub).await?;
        if since.elapsed() >= self.timeout {
            for departure in self.store.reap_expired(self.timeout).await? {
                self.announce_removed(&departure).await;
            }
        }
        Ok(())
    }

    /// Makes this node's rows match its hub's presence subscriptions.
    async fn reconcile(&self, hub: &Hub) -> PlatformResult<()> {
        let rows: HashSet<(String, String)> = self.store.own_rows().await?.into_iter().collect();
        let subscriptions = hub.presence_subscriptions();
        let live: HashSet<(String, String)> = subscriptions
            .iter()
            .map(|(channel, socket, _)| (channel.clone(), socket.clone()))
            .collect();
        for (channel, socket_id) in rows.difference(&live) {
            self.leave(socket_id, channel).await;
        }
        for (channel, socket_id, member) in subscriptions {
            if rows.contains(&(channel.clone(), socket_id.clone())) {
                continue;
            }
            if self
                .store
                .restore(&channel, &socket_id, &to_platform(&member))
                .await?
            {
                tracing::info!(
                    channel,
                    "presence member written again after this node was reaped"
                );
                self.announce_added(&channel, &member, Some(&socket_id))
                    .await;
            }
        }
        Ok(())
    }

    /// Removes this node's rows and heartbeat (graceful shutdown).
    async fn forget_self(&self) {
        match self.store.reap_node(self.store.node()).await {
            Ok(departures) => {
                for departure in departures {
                    self.announce_removed(&departure).await;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "presence rows not removed; other nodes reap them after the timeout");
            }
        }
    }
}
