//! Real-time events published by any process: the event envelope, the publisher every process
//! holds (API nodes and `atelier worker` alike), and the job-progress observer built on it.
//!
//! An event is handed to this process's local sink at once (an API node's WebSocket hub; a worker
//! has none) and, on PostgreSQL, published with `NOTIFY` on [`EVENTS_CHANNEL`] (see
//! [`crate::broadcast`]) wrapped in an envelope naming the sending process, so every other process
//! delivers it to its own sockets and each skips its own. On SQLite there is one process, and
//! publishing is local delivery only.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{
    PlatformError, PlatformResult, broadcast,
    db::{Backend, Db},
    jobs::{Job, JobObserver, JobStatus},
};

/// The PostgreSQL channel events travel on between processes.
pub const EVENTS_CHANNEL: &str = "atelier_realtime";

/// The event name of job progress on the owner's channel.
pub const JOB_PROGRESS_EVENT: &str = "job-progress";

/// The private channel of a user (where their job progress goes).
pub fn user_channel(user_id: i64) -> String {
    format!("private-user-{user_id}")
}

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

/// What travels between processes: the event and who sent it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: Event,
}

/// Where this process delivers events to its own subscribers (an API node's socket hub).
pub trait LocalSink: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers `event` here; returns how many subscribers it was queued for.
    fn deliver(&self, event: &Event) -> usize;
}

/// This process's event publisher. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventPublisher(Arc<PublisherInner>);

#[derive(Debug)]
struct PublisherInner {
    db: Db,
    node: String,
    local: OnceLock<Arc<dyn LocalSink>>,
    /// Events to publish remotely in call order (observers are synchronous).
    ordered: OnceLock<mpsc::UnboundedSender<Event>>,
}

impl EventPublisher {
    /// A publisher for `db` with a fresh process id and no local sink.
    pub fn new(db: Db) -> Self {
        Self(Arc::new(PublisherInner {
            db,
            node: crate::secrets::random_token(12),
            local: OnceLock::new(),
            ordered: OnceLock::new(),
        }))
    }

    /// Whether events stay in this process (SQLite: one process, nothing to broadcast).
    pub fn is_local_only(&self) -> bool {
        self.0.db.backend() != Backend::Postgres
    }

    /// This process's id in envelopes.
    pub fn node(&self) -> &str {
        &self.0.node
    }

    /// Installs where this process delivers events itself (once; later calls return false).
    pub fn set_local_sink(&self, sink: Arc<dyn LocalSink>) -> bool {
        self.0.local.set(sink).is_ok()
    }

    /// Delivers `event` to this process's subscribers (if it has any); returns how many.
    pub fn deliver_local(&self, event: &Event) -> usize {
        self.0.local.get().map_or(0, |sink| sink.deliver(event))
    }

    /// Delivers `event` here, then publishes it to the other processes.
    pub async fn publish(&self, event: Event) -> PlatformResult<usize> {
        let delivered = self.deliver_local(&event);
        self.publish_remote(event).await?;
        Ok(delivered)
    }

    /// Publishes an event (already delivered here) to the other processes; a no-op on SQLite.
    pub async fn publish_remote(&self, event: Event) -> PlatformResult<()> {
        if self.0.db.backend() != Backend::Postgres {
            return Ok(());
        }
        let envelope = Envelope {
            node: self.0.node.clone(),
            event,
        };
        let payload = serde_json::to_string(&envelope).map_err(PlatformError::internal)?;
        broadcast::publish(&self.0.db, EVENTS_CHANNEL, &payload).await
    }

    /// From synchronous code: delivers `event` here now and queues it for the other processes,
    /// which hear this process's events in the order they were published. Needs a tokio runtime
    /// for the remote part (without one, only local delivery happens).
    pub fn publish_in_order(&self, event: Event) {
        self.deliver_local(&event);
        if self.0.db.backend() != Backend::Postgres {
            return;
        }
        let sender = self.0.ordered.get_or_init(|| {
            let (sender, mut receiver) = mpsc::unbounded_channel::<Event>();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let publisher = self.clone();
                runtime.spawn(async move {
                    while let Some(event) = receiver.recv().await {
                        if let Err(err) = publisher.publish_remote(event).await {
                            tracing::warn!(error = %err, "event not broadcast");
                        }
                    }
                });
            }
            sender
        });
        if sender.send(event).is_err() {
            tracing::warn!("no runtime to broadcast events from");
        }
    }

    /// On PostgreSQL, a subscription to the other processes' events; `Ok(None)` on SQLite.
    pub async fn subscribe(&self) -> PlatformResult<Option<EventSubscription>> {
        Ok(broadcast::subscribe(&self.0.db, EVENTS_CHANNEL)
            .await?
            .map(|inner| EventSubscription {
                inner,
                node: self.0.node.clone(),
            }))
    }
}

/// Other processes' events, as they arrive.
#[derive(Debug)]
pub struct EventSubscription {
    inner: broadcast::Subscription,
    node: String,
}

impl EventSubscription {
    /// The next event another process published (this process's own are skipped, and so are
    /// malformed envelopes, with a warning).
    pub async fn recv(&mut self) -> PlatformResult<Event> {
        loop {
            let payload = self.inner.recv().await?;
            match serde_json::from_str::<Envelope>(&payload) {
                Ok(envelope) if envelope.node != self.node => return Ok(envelope.event),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "bad real-time broadcast"),
            }
        }
    }
}

/// The job observer every process that runs jobs installs: `job-progress` events
/// (`{job_id, kind, status, progress, stage}`) on the owner's `private-user-{id}` channel.
#[derive(Debug)]
pub struct JobEvents {
    publisher: EventPublisher,
}

impl JobEvents {
    /// Publishes through `publisher`.
    pub fn new(publisher: EventPublisher) -> Self {
        Self { publisher }
    }
}

impl JobObserver for JobEvents {
    fn changed(&self, job: &Job, status: JobStatus, percent: u8, stage: Option<&str>) {
        let data = serde_json::json!({
            "job_id": job.id,
            "kind": job.kind,
            "status": status,
            "progress": percent,
            "stage": stage,
        });
        self.publisher.publish_in_order(Event {
            channels: vec![user_channel(job.owner_id)],
            name: JOB_PROGRESS_EVENT.into(),
            data: data.to_string(),
            except: None,
            user_id: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_without_empty_fields() {
        let envelope = Envelope {
            node: "n1".into(),
            event: Event {
                channels: vec![user_channel(7)],
                name: JOB_PROGRESS_EVENT.into(),
                data: "{}".into(),
                except: None,
                user_id: None,
            },
        };
        let text = serde_json::to_string(&envelope).expect("json");
        assert_eq!(
            text,
            r#"{"node":"n1","event":{"channels":["private-user-7"],"name":"job-progress","data":"{}"}}"#
        );
        let back: Envelope = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.event, envelope.event);
    }
}
