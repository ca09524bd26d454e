//! Cluster-wide subscription counts of the real-time server's non-presence channels
//! (PostgreSQL only): how many sockets each API node has subscribed to each channel
//! (`realtime_channel_counts`), for the HTTP API's channel queries. Presence channels are
//! counted from their roster ([`crate::presence`]) instead. The server's `realtime::counts`
//! drives it; this module is the SQL.
//!
//! A node publishes its counts as a whole: [`ChannelCountStore::publish`] reads the node's rows
//! and writes only the differences (one upsert and one delete at most), so the caller decides
//! how often the table is written, not the number of joins. A node's rows count only while its
//! heartbeat (`realtime_nodes`, written by the presence roster) is younger than the timeout,
//! by the database's clock, so a killed node's counts stop counting when its heartbeat expires;
//! the presence reaper then deletes them with the node's other rows.

use std::{collections::BTreeMap, time::Duration};

use sqlx::Row;

use crate::{
    PlatformError, PlatformResult,
    db::{Backend, Db},
};

/// What one [`ChannelCountStore::publish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Channels whose count was inserted or changed.
    pub upserted: usize,
    /// Channels this node no longer has subscribers in, deleted.
    pub deleted: usize,
}

impl Published {
    /// Whether anything was written.
    pub fn wrote(&self) -> bool {
        self.upserted + self.deleted > 0
    }
}

/// This node's handle on the cluster-wide channel counts.
#[derive(Debug, Clone)]
pub struct ChannelCountStore {
    db: Db,
    node: String,
    timeout: Duration,
}

impl ChannelCountStore {
    /// The counts in `db`, published as node `node`; other nodes count while their heartbeat
    /// is younger than `timeout`. `None` on SQLite, where one node counts its sockets in memory.
    pub fn for_db(db: &Db, node: &str, timeout: Duration) -> Option<Self> {
        (db.backend() == Backend::Postgres).then(|| Self {
            db: db.clone(),
            node: node.to_owned(),
            timeout,
        })
    }

    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Makes this node's rows equal `counts` (channel → subscribed sockets; channels absent
    /// or at zero have no row), writing only what differs from the table.
    pub async fn publish(&self, counts: &BTreeMap<String, usize>) -> PlatformResult<Published> {
        let rows = sqlx::query(
            "SELECT channel, subscriptions FROM realtime_channel_counts WHERE node = $1",
        )
        .bind(&self.node)
        .fetch_all(self.db.pool())
        .await?;
        let mut stored = BTreeMap::new();
        for row in &rows {
            let channel: String = row.try_get("channel")?;
            let subscriptions: i64 = row.try_get("subscriptions")?;
            stored.insert(channel, subscriptions);
        }
        let upserts: Vec<serde_json::Value> = counts
            .iter()
            .filter(|&(_, &n)| n > 0)
            .filter_map(|(channel, &n)| {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                (stored.get(channel) != Some(&n))
                    .then(|| serde_json::json!({"channel": channel, "n": n}))
            })
            .collect();
        let deletes: Vec<&String> = stored
            .keys()
            .filter(|channel| counts.get(*channel).is_none_or(|&n| n == 0))
            .collect();
        if !upserts.is_empty() {
            // One statement for every changed channel: the rows travel as one JSON parameter,
            // which the `Any` driver can bind (it has no arrays).
            sqlx::query(
                "INSERT INTO realtime_channel_counts (node, channel, subscriptions) \
                 SELECT $1, x.channel, x.n FROM json_to_recordset($2::json) AS x(channel TEXT, n BIGINT) \
                 ON CONFLICT (node, channel) DO UPDATE SET subscriptions = EXCLUDED.subscriptions",
            )
            .bind(&self.node)
            .bind(serde_json::to_string(&upserts).map_err(PlatformError::internal)?)
            .execute(self.db.pool())
            .await?;
        }
        if !deletes.is_empty() {
            sqlx::query(
                "DELETE FROM realtime_channel_counts WHERE node = $1 \
                 AND channel IN (SELECT json_array_elements_text($2::json))",
            )
            .bind(&self.node)
            .bind(serde_json::to_string(&deletes).map_err(PlatformError::internal)?)
            .execute(self.db.pool())
            .await?;
        }
        Ok(Published {
            upserted: upserts.len(),
            deleted: deletes.len(),
        })
    }

    /// Sockets subscribed to `channel` on the other live nodes (this node counts its own from
    /// memory, fresher than its rows).
    pub async fn others(&self, channel: &str) -> PlatformResult<usize> {
        let now = Backend::Postgres.now_ms_sql();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(c.subscriptions), 0)::BIGINT AS n FROM realtime_channel_counts c \
             JOIN realtime_nodes n ON n.node = c.node \
             WHERE c.channel = $1 AND c.node <> $2 AND n.heartbeat_at >= {now} - $3"
        )))
        .bind(channel)
        .bind(&self.node)
        .bind(self.timeout_ms())
        .fetch_one(self.db.pool())
        .await?;
        let n: i64 = row.try_get("n")?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Channels whose names start with `prefix` with subscribers on the other live nodes, and
    /// how many, by name.
    pub async fn others_by_prefix(&self, prefix: &str) -> PlatformResult<BTreeMap<String, usize>> {
        let now = Backend::Postgres.now_ms_sql();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.channel, SUM(c.subscriptions)::BIGINT AS n FROM realtime_channel_counts c \
             JOIN realtime_nodes n ON n.node = c.node \
             WHERE starts_with(c.channel, $1) AND c.node <> $2 AND n.heartbeat_at >= {now} - $3 \
             GROUP BY c.channel"
        )))
        .bind(prefix)
        .bind(&self.node)
        .bind(self.timeout_ms())
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|row| {
            let n: i64 = row.try_get("n")?;
            Ok((row.try_get("channel")?, usize::try_from(n).unwrap_or(0)))
        })
        .collect()
    }
}
