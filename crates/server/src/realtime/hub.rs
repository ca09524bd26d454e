//! This node's sockets and channels: who is subscribed where, presence rosters, and delivery of
//! pre-serialised frames to local sockets. Knows nothing of other nodes (see `fanout`).
//!
//! On PostgreSQL the rosters are cluster-wide (`presence`): the hub then only queues what it is
//! given (the roster from the database, member events through the fan-out) and announces no
//! presence changes itself ([`Hub::with_cluster_presence`]).
//!
//! Each socket owns a bounded queue; a socket whose queue is full has fallen behind and is
//! dropped from the hub (its task then closes it with 4200 so the client reconnects and catches
//! up), so one slow reader never slows the others.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::RwLock,
};

use tokio::sync::{Notify, mpsc};

use super::protocol::{self, Member};

/// One frame, serialised once and shared by every recipient (cheap to clone).
pub type Frame = axum::extract::ws::Utf8Bytes;

/// What a subscription attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Subscribed (or already was); the success frame was queued for the socket.
    Subscribed,
    /// The socket already has the maximum number of channels.
    TooManyChannels,
    /// The socket is no longer registered.
    Gone,
}

/// Counts for the HTTP API's channel queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelCounts {
    /// Subscribed sockets.
    pub subscription_count: usize,
    /// Distinct presence members (presence channels only).
    pub user_count: usize,
}

#[derive(Debug)]
struct SocketEntry {
    tx: mpsc::Sender<Frame>,
    channels: HashSet<String>,
}

#[derive(Debug, Default)]
struct Channel {
    /// Socket id → the member it joined as (presence channels only).
    subscribers: HashMap<String, Option<String>>,
    /// Member id → (info, sockets of that member in the channel).
    members: BTreeMap<String, (serde_json::Value, usize)>,
}

#[derive(Debug, Default)]
struct State {
    sockets: HashMap<String, SocketEntry>,
    channels: HashMap<String, Channel>,
}

/// This node's sockets and channels.
#[derive(Debug)]
pub struct Hub {
    state: RwLock<State>,
    queue: usize,
    max_channels: usize,
    /// Whether this hub announces `member_added`/`member_removed` itself (one node) or leaves
    /// that to the cluster-wide roster.
    announce_presence: bool,
    /// Woken when a non-presence channel gains or loses a socket (the cluster-wide counts
    /// publish then; one stored permit, so a burst of joins wakes the publisher once).
    counts_changed: Notify,
}

impl Hub {
    /// A hub whose sockets queue at most `queue` frames and join at most `max_channels` channels.
    pub fn new(queue: usize, max_channels: usize) -> Self {
        Self {
            state: RwLock::new(State::default()),
            queue: queue.max(1),
            max_channels: max_channels.max(1),
            announce_presence: true,
            counts_changed: Notify::new(),
        }
    }

    /// This hub, leaving presence rosters and member events to the cluster-wide roster: it
    /// announces no member changes itself, and presence subscriptions take their roster from
    /// [`Hub::subscribe_with_roster`].
    pub fn with_cluster_presence(mut self) -> Self {
        self.announce_presence = false;
        self
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new socket under a fresh `socket_id`; returns the id and its frame queue.
    pub fn register(&self) -> (String, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(self.queue);
        let mut state = self.write();
        let id = loop {
            let id = format!("{}.{}", rand::random::<u32>(), rand::random::<u32>());
            if !state.sockets.contains_key(&id) {
                break id;
            }
        };
        state.sockets.insert(
            id.clone(),
            SocketEntry {
                tx,
                channels: HashSet::new(),
            },
        );
        (id, rx)
    }

    /// Number of connected sockets.
    pub fn socket_count(&self) -> usize {
        self.read().sockets.len()
    }

    /// Removes a socket and all its subscriptions (announcing presence departures).
    pub fn unregister(&self, socket_id: &str) {
        let mut state = self.write();
        let Some(entry) = state.sockets.remove(socket_id) else {
            return;
        };
        for channel in entry.channels {
            if leave(&mut state, socket_id, &channel, self.announce_presence) {
                self.counts_changed.notify_one();
            }
        }
    }

    /// Queues a frame for one socket.
    pub fn send_to(&self, socket_id: &str, frame: Frame) -> bool {
        let laggard = {
            let state = self.read();
            match state.sockets.get(socket_id) {
                Some(entry) => entry.tx.try_send(frame).is_err(),
                None => return false,
            }
        };
        if laggard {
            self.drop_laggards(vec![socket_id.to_owned()]);
        }
        !laggard
    }

    /// Subscribes a socket (as `member` on presence channels) and queues the success frame.
    pub fn subscribe(
        &self,
        socket_id: &str,
        channel: &str,
        member: Option<Member>,
    ) -> SubscribeOutcome {
        self.subscribe_inner(socket_id, channel, member, None)
    }

    /// Subscribes a socket to a presence channel as `member`, queueing a success frame that lists
    /// `roster` (the cluster-wide members) and announcing nothing: the caller publishes
    /// `member_added` to every node.
    pub fn subscribe_with_roster(
        &self,
        socket_id: &str,
        channel: &str,
        member: Member,
        roster: &[Member],
    ) -> SubscribeOutcome {
        self.subscribe_inner(socket_id, channel, Some(member), Some(roster))
    }

    fn subscribe_inner(
        &self,
        socket_id: &str,
        channel: &str,
        member: Option<Member>,
        roster: Option<&[Member]>,
    ) -> SubscribeOutcome {
        let mut laggards = Vec::new();
        {
            let mut state = self.write();
            let Some(entry) = state.sockets.get_mut(socket_id) else {
                return SubscribeOutcome::Gone;
            };
            let already = entry.channels.contains(channel);
            if !already && entry.channels.len() >= self.max_channels {
                return SubscribeOutcome::TooManyChannels;
            }
            entry.channels.insert(channel.to_owned());
            let tx = entry.tx.clone();
            let ch = state.channels.entry(channel.to_owned()).or_default();
            let mut added = None;
            if !already {
                let member_id = member.as_ref().map(|m| m.user_id.clone());
                if member_id.is_none() {
                    self.counts_changed.notify_one();
                }
                ch.subscribers.insert(socket_id.to_owned(), member_id);
                if let Some(member) = &member {
                    let slot = ch
                        .members
                        .entry(member.user_id.clone())
                        .or_insert_with(|| (member.user_info.clone(), 0));
                    slot.1 += 1;
                    if slot.1 == 1 {
                        added = Some(member.clone());
                    }
                }
            }
            let success: Frame = if let Some(roster) = roster {
                added = None;
                protocol::presence_subscription_succeeded(channel, roster).into()
            } else if member.is_some() {
                let members: Vec<Member> = ch
                    .members
                    .iter()
                    .map(|(id, (info, _))| Member {
                        user_id: id.clone(),
                        user_info: info.clone(),
                    })
                    .collect();
                protocol::presence_subscription_succeeded(channel, &members).into()
            } else {
                protocol::subscription_succeeded(channel).into()
            };
            if tx.try_send(success).is_err() {
                laggards.push(socket_id.to_owned());
            }
            if let Some(member) = added.filter(|_| self.announce_presence) {
                let frame: Frame = protocol::member_added(channel, &member).into();
                let ch = state.channels.get(channel);
                for sid in ch.iter().flat_map(|c| c.subscribers.keys()) {
                    if sid != socket_id
                        && let Some(other) = state.sockets.get(sid)
                        && other.tx.try_send(frame.clone()).is_err()
                    {
                        laggards.push(sid.clone());
                    }
                }
            }
        }
        self.drop_laggards(laggards);
        SubscribeOutcome::Subscribed
    }

    /// Unsubscribes a socket from a channel (announcing a presence departure).
    pub fn unsubscribe(&self, socket_id: &str, channel: &str) {
        let mut state = self.write();
        let removed = state
            .sockets
            .get_mut(socket_id)
            .is_some_and(|entry| entry.channels.remove(channel));
        if removed && leave(&mut state, socket_id, channel, self.announce_presence) {
            self.counts_changed.notify_one();
        }
    }

    /// Whether the socket is subscribed to the channel, and as which presence member.
    pub fn subscription(&self, socket_id: &str, channel: &str) -> Option<Option<String>> {
        self.read()
            .channels
            .get(channel)?
            .subscribers
            .get(socket_id)
            .cloned()
    }

    /// Queues `frame` for every local subscriber of `channel` except `except`; returns how many
    /// sockets it was queued for.
    pub fn deliver(&self, channel: &str, frame: &Frame, except: Option<&str>) -> usize {
        let mut laggards = Vec::new();
        let mut delivered = 0;
        {
            let state = self.read();
            let Some(ch) = state.channels.get(channel) else {
                return 0;
            };
            for sid in ch.subscribers.keys() {
                if Some(sid.as_str()) == except {
                    continue;
                }
                if let Some(entry) = state.sockets.get(sid) {
                    if entry.tx.try_send(frame.clone()).is_ok() {
                        delivered += 1;
                    } else {
                        laggards.push(sid.clone());
                    }
                }
            }
        }
        self.drop_laggards(laggards);
        delivered
    }

    /// Drops sockets whose queues are full; their tasks see the queue close and disconnect them.
    fn drop_laggards(&self, laggards: Vec<String>) {
        if laggards.is_empty() {
            return;
        }
        tracing::warn!(count = laggards.len(), "dropping sockets that fell behind");
        for socket_id in laggards {
            self.unregister(&socket_id);
        }
    }

    /// Counts for one channel; `None` when nobody is subscribed here.
    pub fn channel_counts(&self, channel: &str) -> Option<ChannelCounts> {
        self.read().channels.get(channel).map(counts)
    }

    /// Occupied channels whose names start with `prefix`, with their counts, sorted by name.
    pub fn channels(&self, prefix: &str) -> Vec<(String, ChannelCounts)> {
        let mut list: Vec<_> = self
            .read()
            .channels
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, ch)| (name.clone(), counts(ch)))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Resolves when a non-presence channel has gained or lost a socket since the last time it
    /// resolved (or since the hub was made).
    pub async fn counts_changed(&self) {
        self.counts_changed.notified().await;
    }

    /// Subscribed sockets of every occupied non-presence channel on this node, by name (what
    /// this node publishes as its part of the cluster-wide counts).
    pub fn non_presence_counts(&self) -> BTreeMap<String, usize> {
        self.read()
            .channels
            .iter()
            .filter(|(name, _)| protocol::channel_kind(name) != Ok(protocol::ChannelKind::Presence))
            .map(|(name, ch)| (name.clone(), ch.subscribers.len()))
            .collect()
    }

    /// Every presence subscription on this node: (channel, socket id, member).
    pub fn presence_subscriptions(&self) -> Vec<(String, String, Member)> {
        let state = self.read();
        let mut list = Vec::new();
        for (name, ch) in &state.channels {
            for (socket_id, member_id) in &ch.subscribers {
                let Some(member_id) = member_id else {
                    continue;
                };
                if let Some((info, _)) = ch.members.get(member_id) {
                    list.push((
                        name.clone(),
                        socket_id.clone(),
                        Member {
                            user_id: member_id.clone(),
                            user_info: info.clone(),
                        },
                    ));
                }
            }
        }
        list
    }

    /// The presence members of a channel, by id.
    pub fn members(&self, channel: &str) -> Vec<String> {
        self.read()
            .channels
            .get(channel)
            .map(|ch| ch.members.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn counts(ch: &Channel) -> ChannelCounts {
    ChannelCounts {
        subscription_count: ch.subscribers.len(),
        user_count: ch.members.len(),
    }
}

/// Removes `socket_id` from `channel`'s bookkeeping; announces `member_removed` when it was the
/// member's last socket there; forgets empty channels. Returns whether a socket of a
/// non-presence channel left (the cluster-wide counts changed).
fn leave(state: &mut State, socket_id: &str, channel: &str, announce: bool) -> bool {
    let Some(ch) = state.channels.get_mut(channel) else {
        return false;
    };
    let Some(member) = ch.subscribers.remove(socket_id) else {
        return false;
    };
    let counted = member.is_none();
    let mut removed = None;
    if let Some(user_id) = member
        && let Some(slot) = ch.members.get_mut(&user_id)
    {
        slot.1 = slot.1.saturating_sub(1);
        if slot.1 == 0 {
            ch.members.remove(&user_id);
            removed = Some(user_id);
        }
    }
    if ch.subscribers.is_empty() {
        state.channels.remove(channel);
        return counted;
    }
    if let Some(user_id) = removed.filter(|_| announce) {
        let frame: Frame = protocol::member_removed(channel, &user_id).into();
        if let Some(ch) = state.channels.get(channel) {
            for sid in ch.subscribers.keys() {
                if let Some(entry) = state.sockets.get(sid) {
                    // A full queue here means that socket is being dropped anyway.
                    let _ = entry.tx.try_send(frame.clone());
                }
            }
        }
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn member(id: &str) -> Member {
        Member {
            user_id: id.into(),
            user_info: json!({"name": id}),
        }
    }

    fn drain(rx: &mut mpsc::Receiver<Frame>) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            out.push(serde_json::from_str(frame.as_str()).expect("json"));
        }
        out
    }

    #[test]
    fn presence_members_are_announced_once_per_user() {
        let hub = Hub::new(16, 10);
        let (a, mut rx_a) = hub.register();
        let (b1, mut rx_b1) = hub.register();
        let (b2, mut rx_b2) = hub.register();
        assert_eq!(
            hub.subscribe(&a, "presence-x", Some(member("1"))),
            SubscribeOutcome::Subscribed
        );
        hub.subscribe(&b1, "presence-x", Some(member("2")));
        hub.subscribe(&b2, "presence-x", Some(member("2")));
        let a_frames = drain(&mut rx_a);
        let events: Vec<&str> = a_frames
            .iter()
            .map(|f| f["event"].as_str().expect("event"))
            .collect();
        assert_eq!(
            events,
            [
                "pusher_internal:subscription_succeeded",
                "pusher_internal:member_added"
            ],
            "user 2's second socket is not announced again"
        );
        let b2_frames = drain(&mut rx_b2);
        let data: Value =
            serde_json::from_str(b2_frames[0]["data"].as_str().expect("s")).expect("json");
        assert_eq!(data["presence"]["count"], 2);
        drain(&mut rx_b1);
        assert_eq!(
            hub.channel_counts("presence-x"),
            Some(ChannelCounts {
                subscription_count: 3,
                user_count: 2
            })
        );
        hub.unregister(&b1);
        assert!(
            drain(&mut rx_a).is_empty(),
            "user 2 still has a socket in the channel"
        );
        hub.unregister(&b2);
        let a_frames = drain(&mut rx_a);
        assert_eq!(a_frames.len(), 1);
        assert_eq!(a_frames[0]["event"], "pusher_internal:member_removed");
        assert_eq!(hub.members("presence-x"), vec!["1".to_owned()]);
        hub.unregister(&a);
        assert_eq!(
            hub.channel_counts("presence-x"),
            None,
            "empty channels are forgotten"
        );
    }

    #[test]
    fn delivery_skips_the_excluded_socket() {
        let hub = Hub::new(16, 10);
        let (a, mut rx_a) = hub.register();
        let (b, mut rx_b) = hub.register();
        hub.subscribe(&a, "room", None);
        hub.subscribe(&b, "room", None);
        drain(&mut rx_a);
        drain(&mut rx_b);
        let frame: Frame = protocol::frame("e", Some("room"), "{}", None).into();
        assert_eq!(hub.deliver("room", &frame, Some(&a)), 1);
        assert!(drain(&mut rx_a).is_empty());
        assert_eq!(drain(&mut rx_b).len(), 1);
        assert_eq!(hub.deliver("nobody-here", &frame, None), 0);
    }

    #[test]
    fn a_socket_that_falls_behind_is_dropped() {
        let hub = Hub::new(2, 10);
        let (a, mut rx_a) = hub.register();
        hub.subscribe(&a, "room", None);
        let frame: Frame = protocol::frame("e", Some("room"), "{}", None).into();
        assert_eq!(hub.deliver("room", &frame, None), 1);
        assert_eq!(hub.deliver("room", &frame, None), 0, "queue full: dropped");
        assert_eq!(hub.socket_count(), 0);
        drain(&mut rx_a);
        assert!(rx_a.try_recv().is_err());
    }

    #[test]
    fn non_presence_joins_and_leaves_wake_the_counts_publisher_once_per_burst() {
        use futures::FutureExt;
        let hub = Hub::new(16, 10);
        assert!(hub.counts_changed().now_or_never().is_none(), "nothing yet");
        let (a, _rx_a) = hub.register();
        let (b, _rx_b) = hub.register();
        hub.subscribe(&a, "presence-x", Some(member("1")));
        assert!(
            hub.counts_changed().now_or_never().is_none(),
            "presence channels are counted from their roster"
        );
        hub.subscribe(&a, "room", None);
        hub.subscribe(&b, "room", None);
        hub.subscribe(&b, "private-other", None);
        assert!(hub.counts_changed().now_or_never().is_some());
        assert!(
            hub.counts_changed().now_or_never().is_none(),
            "three joins, one wake-up"
        );
        assert_eq!(
            hub.non_presence_counts(),
            BTreeMap::from([("private-other".to_owned(), 1), ("room".to_owned(), 2)])
        );
        hub.subscribe(&b, "room", None);
        assert!(
            hub.counts_changed().now_or_never().is_none(),
            "subscribing again changes nothing"
        );
        hub.unregister(&b);
        assert!(hub.counts_changed().now_or_never().is_some());
        assert_eq!(
            hub.non_presence_counts(),
            BTreeMap::from([("room".to_owned(), 1)])
        );
        hub.unsubscribe(&a, "presence-x");
        assert!(hub.counts_changed().now_or_never().is_none());
    }

    #[test]
    fn the_channel_cap_is_enforced() {
        let hub = Hub::new(16, 1);
        let (a, _rx) = hub.register();
        assert_eq!(hub.subscribe(&a, "one", None), SubscribeOutcome::Subscribed);
        assert_eq!(hub.subscribe(&a, "one", None), SubscribeOutcome::Subscribed);
        assert_eq!(
            hub.subscribe(&a, "two", None),
            SubscribeOutcome::TooManyChannels
        );
        hub.unsubscribe(&a, "one");
        assert_eq!(hub.subscription(&a, "one"), None);
        assert_eq!(hub.subscribe(&a, "two", None), SubscribeOutcome::Subscribed);
    }
}
