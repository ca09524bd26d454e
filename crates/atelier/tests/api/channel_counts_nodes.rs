//! Channel counts across API nodes on PostgreSQL: the HTTP API of either `atelier serve`
//! process counts the subscribers of non-presence channels on both (`subscription_count`,
//! `occupied`, the channel list, a trigger's `info`), a burst of joins is published in a few
//! batched writes, not one per join, and the sockets of a node killed with SIGKILL stop counting
//! once its heartbeat expires.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    cluster::{Cluster, KEY, Node, SECRET, pusher_api},
    realtime::Ws,
};

const PRIVATE: &str = "private-counted";
const PUBLIC: &str = "counted-public";
const BURST: &str = "private-burst";

async fn get(node: &Node, path: &str) -> Value {
    let response = pusher_api(node, path, None).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

/// `GET /apps/atelier/channels/{channel}?info=subscription_count` on `node`.
async fn channel(node: &Node, channel: &str) -> Value {
    get(
        node,
        &format!("/apps/atelier/channels/{channel}?info=subscription_count"),
    )
    .await
}

/// `GET /apps/atelier/channels?info=subscription_count` on `node`: channel → count.
async fn list(node: &Node) -> Value {
    get(node, "/apps/atelier/channels?info=subscription_count").await["channels"].clone()
}

/// Polls `node` until `channel`'s state is `expected`; how long that took.
async fn until(node: &Node, name: &str, expected: Value, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = channel(node, name).await;
        if now == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{name} on node {} is {now}, not {expected}, after {within:?}",
            node.port
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn counted(n: usize) -> Value {
    json!({"occupied": true, "subscription_count": n})
}

/// `count` sockets on `node`, each subscribed to `channel`.
async fn subscribers(node: &Node, channel: &str, count: usize) -> Vec<Ws> {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut ws = Ws::connect_port(node.port, KEY).await;
        ws.subscribe_signed(KEY, SECRET, channel, None).await;
        sockets.push(ws);
    }
    sockets
}

/// How many times `node` has written its channel counts (its Prometheus counter).
async fn count_writes(node: &Node) -> u64 {
    let text = reqwest::get(node.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix("atelier_realtime_channel_count_writes_total "))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_counts_span_nodes_and_a_killed_nodes_sockets_stop_counting() {
    let Some(cluster) = Cluster::start(false).await else {
        return;
    };
    let a = cluster.serve(&[]).await;
    let mut b = cluster.serve(&[]).await;

    let on_a = subscribers(&a, PRIVATE, 2).await;
    let mut on_b = subscribers(&b, PRIVATE, 3).await;
    let public_on_b = subscribers(&b, PUBLIC, 1).await;

    // Either node counts both nodes' sockets (its own at once, the other's within its interval).
    let seen = until(&a, PRIVATE, counted(5), Duration::from_secs(5)).await;
    eprintln!("node A counted node B's sockets {seen:?} after they joined");
    until(&b, PRIVATE, counted(5), Duration::from_secs(5)).await;
    until(&a, PUBLIC, counted(1), Duration::from_secs(5)).await;
    assert_eq!(
        list(&a).await,
        json!({PRIVATE: {"subscription_count": 5}, PUBLIC: {"subscription_count": 1}})
    );
    assert_eq!(
        get(&a, "/apps/atelier/channels?filter_by_prefix=counted-").await,
        json!({"channels": {PUBLIC: {}}}),
        "the channel list of node A names a channel only node B has"
    );
    let body = json!({"name": "e", "channel": PUBLIC, "data": "{}", "info": "subscription_count"})
        .to_string();
    let triggered: Value = pusher_api(&a, "/apps/atelier/events", Some(&body))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        triggered,
        json!({"channels": {PUBLIC: {"subscription_count": 1}}})
    );

    // A burst of joins on node B is published in batches: a write per interval (1 s), not one
    // per join.
    let writes_before = count_writes(&b).await;
    let started = Instant::now();
    let burst = subscribers(&b, BURST, 20).await;
    let joined_in = started.elapsed();
    until(&a, BURST, counted(20), Duration::from_secs(5)).await;
    let writes = count_writes(&b).await - writes_before;
    eprintln!("20 joins on node B in {joined_in:?} were published in {writes} writes");
    let bound = joined_in.as_secs() + 3;
    assert!(
        writes <= bound,
        "{writes} writes for 20 joins in {joined_in:?} (at most {bound})"
    );

    // A socket of node B leaves: node A's count follows.
    let leaving = on_b.pop().expect("a socket");
    drop(leaving);
    let seen = until(&a, PRIVATE, counted(4), Duration::from_secs(5)).await;
    eprintln!("node A counted a leave on node B after {seen:?}");

    // Node B is killed: its sockets stop counting on node A once its heartbeat (2 s here) has
    // expired; only node A's remain.
    let killed = Instant::now();
    b.kill9().await;
    until(&a, PRIVATE, counted(2), Duration::from_secs(15)).await;
    let after = killed.elapsed();
    eprintln!("node B's sockets stopped counting on node A {after:?} after it was killed");
    assert!(
        after < Duration::from_secs(6),
        "gone within the timeout and a heartbeat or two: {after:?}"
    );
    assert_eq!(
        channel(&a, PUBLIC).await,
        json!({"occupied": false, "subscription_count": 0})
    );
    assert_eq!(list(&a).await, json!({PRIVATE: {"subscription_count": 2}}));
    drop((public_on_b, burst, on_b));

    // Node B comes back and counts again.
    cluster.restart(&mut b).await;
    let _again = subscribers(&b, PUBLIC, 1).await;
    until(&a, PUBLIC, counted(1), Duration::from_secs(5)).await;
    until(&b, PRIVATE, counted(2), Duration::from_secs(5)).await;
    drop(on_a);
}

/// The store itself: a publish writes only what changed, other nodes' rows count only while
/// their heartbeat is fresh, and reaping a node deletes them.
#[tokio::test]
async fn published_counts_are_written_as_differences_and_expire_with_their_node() {
    use std::collections::BTreeMap;

    use atelier_platform::{
        channel_counts::{ChannelCountStore, Published},
        db::Db,
        presence::PresenceStore,
    };

    let Some(sandbox) = crate::helpers::Sandbox::postgres_with_local_store().await else {
        return;
    };
    let db = Db::connect(&sandbox.database_url, 4)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    let timeout = Duration::from_secs(30);
    let one = ChannelCountStore::for_db(&db, "one", timeout).expect("PostgreSQL");
    let two = ChannelCountStore::for_db(&db, "two", timeout).expect("PostgreSQL");
    let presence_one = PresenceStore::for_db(&db, "one").expect("PostgreSQL");
    let presence_two = PresenceStore::for_db(&db, "two").expect("PostgreSQL");
    presence_one.heartbeat().await.expect("beat");
    presence_two.heartbeat().await.expect("beat");

    let counts = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
    };
    let wrote = one
        .publish(&counts(&[("room", 3), ("private-a", 1)]))
        .await
        .expect("publish");
    assert_eq!(
        wrote,
        Published {
            upserted: 2,
            deleted: 0
        }
    );
    let wrote = one
        .publish(&counts(&[("room", 3), ("private-a", 1)]))
        .await
        .expect("publish");
    assert!(!wrote.wrote(), "the same counts write nothing");
    let wrote = one
        .publish(&counts(&[("room", 4), ("private-a", 0)]))
        .await
        .expect("publish");
    assert_eq!(
        wrote,
        Published {
            upserted: 1,
            deleted: 1
        }
    );
    two.publish(&counts(&[("room", 2), ("room-b", 1)]))
        .await
        .expect("publish");

    assert_eq!(two.others("room").await.expect("others"), 4, "node one's");
    assert_eq!(one.others("room").await.expect("others"), 2, "node two's");
    assert_eq!(one.others("private-a").await.expect("others"), 0);
    assert_eq!(
        one.others_by_prefix("room").await.expect("list"),
        counts(&[("room", 2), ("room-b", 1)])
    );

    // Node two's heartbeat grows old: its rows stop counting, then reaping deletes them.
    sqlx::query("UPDATE realtime_nodes SET heartbeat_at = heartbeat_at - 60000 WHERE node = 'two'")
        .execute(db.pool())
        .await
        .expect("age node two");
    assert_eq!(one.others("room").await.expect("others"), 0);
    assert!(one.others_by_prefix("").await.expect("list").is_empty());
    presence_one.reap_expired(timeout).await.expect("reap");
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM realtime_channel_counts WHERE node = 'two'")
            .fetch_one(db.pool())
            .await
            .expect("count");
    assert_eq!(left, 0, "the reaped node's counts are deleted");
    // Node two was only away: its next publish writes everything again.
    presence_two.heartbeat().await.expect("beat");
    let wrote = two
        .publish(&counts(&[("room", 2), ("room-b", 1)]))
        .await
        .expect("publish");
    assert_eq!(
        wrote,
        Published {
            upserted: 2,
            deleted: 0
        }
    );
    assert_eq!(one.others("room").await.expect("others"), 2);
    db.close().await;
}
