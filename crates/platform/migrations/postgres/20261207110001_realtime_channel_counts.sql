-- Cluster-wide channel counts for the real-time server's HTTP API (used on PostgreSQL; a single
-- SQLite node counts its own sockets in memory, and the table stays empty). Each API node
-- publishes how many of its sockets are subscribed to each non-presence channel (presence
-- channels are counted from realtime_presence), batched: at most one write per node per
-- interval, not one per join. Rows count only while their node's heartbeat in realtime_nodes
-- is fresh, and go when the node is reaped.
CREATE TABLE realtime_channel_counts (
    node TEXT NOT NULL,
    channel TEXT NOT NULL,
    subscriptions BIGINT NOT NULL,
    PRIMARY KEY (node, channel)
);

CREATE INDEX realtime_channel_counts_by_channel ON realtime_channel_counts (channel);
