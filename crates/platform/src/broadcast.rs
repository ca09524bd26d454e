//! Cross-node broadcast over PostgreSQL `LISTEN/NOTIFY`, so every API node of a scaled-out
//! deployment sees a message published on any of them. On SQLite (one process) publishing is a
//! no-op: the caller delivers in-process.
//!
//! `NOTIFY` payloads must stay under 8000 bytes. Larger messages are written to the
//! `realtime_outbox` table and only their row id is notified (`o:<id>`); listeners read the row.
//! Rows older than [`OUTBOX_TTL_MS`] are pruned on each large publish.
//!
//! Notification channels are database-wide, schemas are not: the channel actually used carries
//! a digest of the schema (see [`scoped_channel`]), so deployments (or test runs) that share one
//! PostgreSQL database in separate schemas never hear each other.

use sqlx::Row;

use crate::{
    db::{Backend, Db, now_ms},
    error::{PlatformError, PlatformResult},
};

/// Largest payload sent inline in a `NOTIFY` (PostgreSQL's limit is 8000 bytes, minus a prefix).
pub const INLINE_LIMIT: usize = 7900;
/// How long a large message stays in the outbox for slow listeners.
pub const OUTBOX_TTL_MS: i64 = 60_000;

/// The notification channel for `channel` in `db`'s schema: `channel_<12 hex digits>`.
pub fn scoped_channel(db: &Db, channel: &str) -> String {
    let digest = crate::secrets::sha256_hex(db.schema().as_bytes());
    format!("{channel}_{}", &digest[..12])
}

/// Sends `payload` to every listener of `channel` on every node (PostgreSQL only).
pub async fn publish(db: &Db, channel: &str, payload: &str) -> PlatformResult<()> {
    if db.backend() != Backend::Postgres {
        return Ok(());
    }
    let notified = if payload.len() <= INLINE_LIMIT {
        format!("m:{payload}")
    } else {
        let now = now_ms();
        sqlx::query("DELETE FROM realtime_outbox WHERE created_at < $1")
            .bind(now - OUTBOX_TTL_MS)
            .execute(db.pool())
            .await?;
        let row = sqlx::query(
            "INSERT INTO realtime_outbox (payload, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(payload)
        .bind(now)
        .fetch_one(db.pool())
        .await?;
        format!("o:{}", row.try_get::<i64, _>("id")?)
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(scoped_channel(db, channel))
        .bind(notified)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A live subscription to one broadcast channel (PostgreSQL only).
pub struct Subscription {
    listener: sqlx::postgres::PgListener,
    db: Db,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// Listens on `channel`; `Ok(None)` on SQLite, where there is nothing to listen to.
pub async fn subscribe(db: &Db, channel: &str) -> PlatformResult<Option<Subscription>> {
    if db.backend() != Backend::Postgres {
        return Ok(None);
    }
    let mut listener = sqlx::postgres::PgListener::connect(db.url()).await?;
    listener.listen(&scoped_channel(db, channel)).await?;
    Ok(Some(Subscription {
        listener,
        db: db.clone(),
    }))
}

impl Subscription {
    /// The next message published on the channel (by any node, this one included).
    pub async fn recv(&mut self) -> PlatformResult<String> {
        loop {
            let notification = self.listener.recv().await?;
            match decode(notification.payload())? {
                Notified::Inline(text) => return Ok(text.to_owned()),
                Notified::Outbox(id) => {
                    let row = sqlx::query("SELECT payload FROM realtime_outbox WHERE id = $1")
                        .bind(id)
                        .fetch_optional(self.db.pool())
                        .await?;
                    match row {
                        Some(row) => return Ok(row.try_get("payload")?),
                        None => tracing::warn!(id, "broadcast outbox row already pruned"),
                    }
                }
            }
        }
    }
}

/// What a notification carries.
#[derive(Debug, PartialEq, Eq)]
enum Notified<'a> {
    Inline(&'a str),
    Outbox(i64),
}

fn decode(payload: &str) -> PlatformResult<Notified<'_>> {
    if let Some(text) = payload.strip_prefix("m:") {
        Ok(Notified::Inline(text))
    } else if let Some(id) = payload.strip_prefix("o:") {
        id.parse()
            .map(Notified::Outbox)
            .map_err(|_| PlatformError::Internal(format!("bad outbox id {id:?}")))
    } else {
        Err(PlatformError::Internal(
            "broadcast notification without a known prefix".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_inline_text_or_outbox_ids() {
        assert_eq!(
            decode("m:{\"a\":1}").ok(),
            Some(Notified::Inline("{\"a\":1}"))
        );
        assert_eq!(decode("m:").ok(), Some(Notified::Inline("")));
        assert_eq!(decode("o:42").ok(), Some(Notified::Outbox(42)));
        assert!(decode("o:x").is_err());
        assert!(decode("hello").is_err());
    }
}
