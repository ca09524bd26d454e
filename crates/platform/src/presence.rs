//! The cluster-wide presence roster of the real-time server (PostgreSQL only): which presence
//! members each API node serves (`realtime_presence`), and each node's heartbeat
//! (`realtime_nodes`). The server's `realtime::presence` drives it; this module is the SQL.
//!
//! Joins, leaves and reaping of a channel hold one transaction-scoped advisory lock per channel,
//! so "is this the member's first socket anywhere?" and "was it the last?" have one answer each,
//! and a joiner's roster is read in the same turn as its row is written. A node whose heartbeat
//! is older than the timeout (by the database's clock) is dead: its rows are deleted and the
//! members left with no socket on any node are returned, for the caller to announce.

use std::time::Duration;

use sqlx::{Any, Row, Transaction};

use crate::{
    PlatformError, PlatformResult,
    db::{Backend, Db},
};

/// A presence member: the id and the info the auth endpoint signed.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceMember {
    /// The member id.
    pub user_id: String,
    /// Free-form info.
    pub user_info: serde_json::Value,
}

/// One channel's counts across the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PresenceCounts {
    /// Presence subscriptions (sockets) on every node.
    pub subscriptions: usize,
    /// Distinct members.
    pub users: usize,
}

/// A member who left a channel everywhere (its last socket went, or its node died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// The channel.
    pub channel: String,
    /// The member id.
    pub user_id: String,
}

/// This node's handle on the cluster-wide roster.
#[derive(Debug, Clone)]
pub struct PresenceStore {
    db: Db,
    node: String,
}

impl PresenceStore {
    /// The roster in `db`, written as node `node` (on PostgreSQL only; see [`PresenceStore::for_db`]).
    fn new(db: Db, node: String) -> Self {
        Self { db, node }
    }

    /// The cluster-wide roster for node `node`; `None` on SQLite, where one node keeps its
    /// roster in memory.
    pub fn for_db(db: &Db, node: &str) -> Option<Self> {
        (db.backend() == Backend::Postgres).then(|| Self::new(db.clone(), node.to_owned()))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    async fn lock(&self, tx: &mut Transaction<'_, Any>, channel: &str) -> PlatformResult<()> {
        let key = format!("presence:{}:{channel}", self.db.schema());
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Adds `socket_id` as `member` of `channel`, then, under the channel's lock, hands the
    /// cluster-wide roster (this member included) to `subscribe`. `subscribe` answers `None` to
    /// abandon the join (nothing is written), or `Some(value)`; the join is then committed and
    /// `(value, first)` returned, `first` telling whether this socket is new and the member's
    /// only one in the channel anywhere (announce `member_added` then).
    pub async fn join<T>(
        &self,
        channel: &str,
        socket_id: &str,
        member: &PresenceMember,
        subscribe: impl FnOnce(&[PresenceMember]) -> Option<T>,
    ) -> PlatformResult<Option<(T, bool)>> {
        let mut tx = self.db.pool().begin().await?;
        self.lock(&mut tx, channel).await?;
        let info = serde_json::to_string(&member.user_info).map_err(PlatformError::internal)?;
        let now = format!(
            "INSERT INTO realtime_presence (channel, node, socket_id, user_id, user_info, joined_at) \
             VALUES ($1, $2, $3, $4, $5, {}) ON CONFLICT (channel, node, socket_id) DO NOTHING",
            Backend::Postgres.now_ms_sql()
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(now))
            .bind(channel)
            .bind(&self.node)
            .bind(socket_id)
            .bind(&member.user_id)
            .bind(info)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let rows = sqlx::query(
            "SELECT DISTINCT ON (user_id) user_id, user_info FROM realtime_presence \
             WHERE channel = $1 ORDER BY user_id, joined_at",
        )
        .bind(channel)
        .fetch_all(&mut *tx)
        .await?;
        let roster = rows
            .iter()
            .map(|row| {
                let info: String = row.try_get("user_info")?;
                Ok(PresenceMember {
                    user_id: row.try_get("user_id")?,
                    user_info: serde_json::from_str(&info).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect::<PlatformResult<Vec<_>>>()?;
        let sockets = self
            .member_sockets(&mut tx, channel, &member.user_id)
            .await?;
        let Some(value) = subscribe(&roster) else {
            tx.rollback().await?;
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some((value, inserted && sockets == 1)))
    }

    async fn member_sockets(
        &self,
        tx: &mut Transaction<'_, Any>,
        channel: &str,
        user_id: &str,
    ) -> PlatformResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM realtime_presence WHERE channel = $1 AND user_id = $2",
        )
        .bind(channel)
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Removes this node's `socket_id` from `channel`; returns the departure to announce when it
    /// was the member's last socket there on any node.
    pub async fn leave(&self, channel: &str, socket_id: &str) -> PlatformResult<Option<Departure>> {
        let mut tx = self.db.pool().begin().await?;
        self.lock(&mut tx, channel).await?;
        let removed = sqlx::query(
            "DELETE FROM realtime_presence WHERE channel = $1 AND node = $2 AND socket_id = $3 \
             RETURNING user_id",
        )
        .bind(channel)
        .bind(&self.node)
        .bind(socket_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut departure = None;
        if let Some(row) = removed {
            let user_id: String = row.try_get("user_id")?;
            if self.member_sockets(&mut tx, channel, &user_id).await? == 0 {
                departure = Some(Departure {
                    channel: channel.to_owned(),
                    user_id,
                });
            }
        }
        tx.commit().await?;
        Ok(departure)
    }

    /// Records this node's heartbeat; `true` when its row was missing (first beat, or the node
    /// was taken for dead and reaped: its members must then be written again).
    pub async fn heartbeat(&self) -> PlatformResult<bool> {
        let now = Backend::Postgres.now_ms_sql();
        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE realtime_nodes SET heartbeat_at = {now} WHERE node = $1"
        )))
        .bind(&self.node)
        .execute(self.db.pool())
        .await?;
        if updated.rows_affected() > 0 {
            return Ok(false);
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO realtime_nodes (node, heartbeat_at) VALUES ($1, {now}) \
             ON CONFLICT (node) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at"
        )))
        .bind(&self.node)
        .execute(self.db.pool())
        .await?;
        Ok(true)
    }

    /// Reaps every node (this one aside) whose heartbeat is older than `timeout`, and rows
    /// (presence members, channel counts) of nodes that have no heartbeat row at all; returns
    /// the members that left everywhere.
    pub async fn reap_expired(&self, timeout: Duration) -> PlatformResult<Vec<Departure>> {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let now = Backend::Postgres.now_ms_sql();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT node FROM realtime_nodes WHERE heartbeat_at < {now} - $1 AND node <> $2 \
             UNION SELECT DISTINCT node FROM realtime_presence \
             WHERE node <> $2 AND node NOT IN (SELECT node FROM realtime_nodes) \
             UNION SELECT DISTINCT node FROM realtime_channel_counts \
             WHERE node <> $2 AND node NOT IN (SELECT node FROM realtime_nodes)"
        )))
        .bind(timeout_ms)
        .bind(&self.node)
        .fetch_all(self.db.pool())
        .await?;
        let mut departures = Vec::new();
        for row in rows {
            let node: String = row.try_get("node")?;
            departures.extend(self.reap_node(&node).await?);
            tracing::info!(%node, "reaped the presence rows of a node whose heartbeat expired");
        }
        Ok(departures)
    }

    /// Deletes every row of `node` (a dead one, or this one shutting down): presence members,
    /// channel counts and heartbeat; returns the members that left everywhere.
    pub async fn reap_node(&self, node: &str) -> PlatformResult<Vec<Departure>> {
        let mut tx = self.db.pool().begin().await?;
        let channels: Vec<String> = sqlx::query(
            "SELECT DISTINCT channel FROM realtime_presence WHERE node = $1 ORDER BY channel",
        )
        .bind(node)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("channel"))
        .collect::<Result<_, _>>()?;
        // Locks in name order: joiners take one lock each, reapers take theirs in the same order.
        for channel in &channels {
            self.lock(&mut tx, channel).await?;
        }
        let removed =
            sqlx::query("DELETE FROM realtime_presence WHERE node = $1 RETURNING channel, user_id")
                .bind(node)
                .fetch_all(&mut *tx)
                .await?;
        let mut gone: Vec<(String, String)> = removed
            .iter()
            .map(|row| Ok((row.try_get("channel")?, row.try_get("user_id")?)))
            .collect::<PlatformResult<_>>()?;
        gone.sort();
        gone.dedup();
        let mut departures = Vec::new();
        for (channel, user_id) in gone {
            if self.member_sockets(&mut tx, &channel, &user_id).await? == 0 {
                departures.push(Departure { channel, user_id });
            }
        }
        // Its channel counts ([`crate::channel_counts`]) go with it.
        sqlx::query("DELETE FROM realtime_channel_counts WHERE node = $1")
            .bind(node)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM realtime_nodes WHERE node = $1")
            .bind(node)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(departures)
    }

    /// Writes this node's `socket_id` as `member` of `channel` again (after the node was reaped
    /// while alive); `true` when the member is new to the channel (announce it).
    pub async fn restore(
        &self,
        channel: &str,
        socket_id: &str,
        member: &PresenceMember,
    ) -> PlatformResult<bool> {
        Ok(self
            .join(channel, socket_id, member, |_| Some(()))
            .await?
            .is_some_and(|((), first)| first))
    }

    /// This node's rows: (channel, socket id).
    pub async fn own_rows(&self) -> PlatformResult<Vec<(String, String)>> {
        sqlx::query("SELECT channel, socket_id FROM realtime_presence WHERE node = $1")
            .bind(&self.node)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("channel")?, row.try_get("socket_id")?)))
            .collect()
    }

    /// The members of `channel` on every node, by id.
    pub async fn users(&self, channel: &str) -> PlatformResult<Vec<String>> {
        sqlx::query(
            "SELECT DISTINCT user_id FROM realtime_presence WHERE channel = $1 ORDER BY user_id",
        )
        .bind(channel)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|row| Ok(row.try_get("user_id")?))
        .collect()
    }

    /// Counts of presence channels whose names start with `prefix`, on every node, by name.
    pub async fn channels(&self, prefix: &str) -> PlatformResult<Vec<(String, PresenceCounts)>> {
        sqlx::query(
            "SELECT channel, COUNT(*) AS subscriptions, COUNT(DISTINCT user_id) AS users \
             FROM realtime_presence WHERE starts_with(channel, $1) GROUP BY channel ORDER BY channel",
        )
        .bind(prefix)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|row| {
            let subscriptions: i64 = row.try_get("subscriptions")?;
            let users: i64 = row.try_get("users")?;
            Ok((
                row.try_get("channel")?,
                PresenceCounts {
                    subscriptions: usize::try_from(subscriptions).unwrap_or(0),
                    users: usize::try_from(users).unwrap_or(0),
                },
            ))
        })
        .collect()
    }

    /// Counts of one presence channel on every node; `None` when nobody is in it.
    pub async fn counts(&self, channel: &str) -> PlatformResult<Option<PresenceCounts>> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS subscriptions, COUNT(DISTINCT user_id) AS users \
             FROM realtime_presence WHERE channel = $1",
        )
        .bind(channel)
        .fetch_one(self.db.pool())
        .await?;
        let subscriptions: i64 = row.try_get("subscriptions")?;
        let users: i64 = row.try_get("users")?;
        Ok((subscriptions > 0).then(|| PresenceCounts {
            subscriptions: usize::try_from(subscriptions).unwrap_or(0),
            users: usize::try_from(users).unwrap_or(0),
        }))
    }
}
