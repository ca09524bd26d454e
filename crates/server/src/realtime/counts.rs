//! Non-presence channel counts across API nodes (PostgreSQL), for the HTTP API's channel
//! queries (`subscription_count`, `occupied`, the channel list): each node publishes its hub's
//! subscriptions per channel into `realtime_channel_counts` ([`atelier_platform::channel_counts`]),
//! and a query adds the other live nodes' rows to this node's own sockets, counted from memory.
//! On SQLite (one node) the hub's counts are the answer and none of this runs.
//!
//! Joins and leaves never write on their own path: they wake a background task per node, which
//! publishes this node's counts as a whole (only the channels that changed), at once after a
//! quiet spell and then at most once per [`RealtimeConfig::channel_counts_interval`], so a
//! burst of joins is one write; and once per heartbeat period regardless, which rewrites rows
//! lost while the database was away or deleted while this node was taken for dead (a publish
//! that finds nothing to change writes nothing). Staleness: another node's change is seen within
//! that interval plus one write (1 s by default); a killed node's sockets stop counting once its
//! heartbeat is older than the presence timeout, and its rows are deleted when it is reaped.
//!
//! [`RealtimeConfig::channel_counts_interval`]: super::RealtimeConfig::channel_counts_interval

use std::{sync::Arc, time::Duration};

use atelier_platform::channel_counts::ChannelCountStore;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::hub::Hub;

/// This node's part in the cluster-wide channel counts.
#[derive(Debug)]
pub struct ClusterCounts {
    store: ChannelCountStore,
    interval: Duration,
    refresh: Duration,
}

impl ClusterCounts {
    /// The counts in `store`, published at most every `interval` after a change, and every
    /// `refresh` regardless.
    pub fn new(store: ChannelCountStore, interval: Duration, refresh: Duration) -> Self {
        Self {
            store,
            interval,
            refresh: refresh.max(interval),
        }
    }

    /// The store (for the HTTP API's channel queries).
    pub fn store(&self) -> &ChannelCountStore {
        &self.store
    }

    /// Publishes `hub`'s counts after changes (batched by the interval) and every refresh
    /// period, until `shutdown`. A node shutting down leaves its rows to the presence roster's
    /// removal of the node (or, after a kill, to the heartbeat's expiry).
    pub fn spawn(
        self: &Arc<Self>,
        hub: Arc<Hub>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let counts = Arc::clone(self);
        tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            loop {
                // Shutdown first: a closing node's sockets all leave, and it then writes nothing
                // (the presence roster deletes its rows with its heartbeat).
                tokio::select! {
                    biased;
                    _ = shutdown.changed() => return,
                    () = hub.counts_changed() => {}
                    () = tokio::time::sleep(counts.refresh) => {}
                }
                // Batch: joins and leaves arriving within the interval of the last write are
                // published together (a change after a quiet spell goes out at once).
                if let Some(last) = last {
                    tokio::select! {
                        biased;
                        _ = shutdown.changed() => return,
                        () = tokio::time::sleep_until(last + counts.interval) => {}
                    }
                }
                let snapshot = hub.non_presence_counts();
                match counts.store.publish(&snapshot).await {
                    Ok(published) if published.wrote() => {
                        last = Some(Instant::now());
                        metrics::counter!("atelier_realtime_channel_count_writes_total")
                            .increment(1);
                        tracing::debug!(
                            upserted = published.upserted,
                            deleted = published.deleted,
                            "published this node's channel counts"
                        );
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "channel counts not published; retrying at the next refresh");
                    }
                }
            }
        })
    }
}
