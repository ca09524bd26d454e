-- Cluster-wide presence for the real-time server (used on PostgreSQL, where several API nodes
-- share one roster; a single SQLite node keeps its roster in memory, and the tables stay empty).
-- Every API node heartbeats its row in realtime_nodes; the presence members it serves are rows
-- of realtime_presence. A node whose heartbeat expired is reaped by the others: its rows are
-- deleted and member_removed announced for members left with no socket anywhere.
CREATE TABLE realtime_nodes (
    node TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE realtime_presence (
    channel TEXT NOT NULL,
    node TEXT NOT NULL,
    socket_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_info TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (channel, node, socket_id)
);

CREATE INDEX realtime_presence_by_node ON realtime_presence (node);
CREATE INDEX realtime_presence_by_member ON realtime_presence (channel, user_id);
