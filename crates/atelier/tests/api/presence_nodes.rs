//! Presence across API nodes on PostgreSQL: members connected to two `atelier serve` processes
//! see one roster (subscription rosters, `member_added`/`member_removed`, the HTTP API's
//! channel queries), and the members of a node killed with SIGKILL are removed on the other
//! nodes once its heartbeat expires.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    cluster::{Cluster, KEY, Node, SECRET, pusher_api},
    realtime::{Read, Ws, data},
};

const CHANNEL: &str = "presence-room";

fn member(id: &str) -> String {
    json!({"user_id": id, "user_info": {"name": format!("user {id}")}}).to_string()
}

/// The member ids of a presence `subscription_succeeded` frame, sorted.
fn roster(frame: &Value) -> Vec<String> {
    let mut ids: Vec<String> = data(frame)["presence"]["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// Waits until an event triggered on `from` reaches a socket on `to` (each node connects its
/// listener in the background).
pub async fn wait_for_fanout(from: &Node, to: &Node) {
    let mut probe = Ws::connect_port(to.port, KEY).await;
    probe
        .subscribe_signed(KEY, SECRET, "private-probe", None)
        .await;
    let body = json!({"name": "probe", "channel": "private-probe", "data": "{}"}).to_string();
    for _ in 0..100 {
        let response = pusher_api(from, "/apps/atelier/events", Some(&body)).await;
        assert_eq!(response.status(), 200);
        if let Some(Read::Json(frame)) = probe.within(100).await
            && frame["event"] == "probe"
        {
            return;
        }
    }
    panic!(
        "events from node {} never reached node {}",
        from.port, to.port
    );
}

async fn users(node: &Node) -> Vec<String> {
    let response = pusher_api(
        node,
        &format!("/apps/atelier/channels/{CHANNEL}/users"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| user["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn unsubscribe(ws: &mut Ws) {
    ws.send(json!({"event": "pusher:unsubscribe", "data": {"channel": CHANNEL}}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_rosters_span_nodes_and_a_killed_nodes_members_are_removed() {
    let Some(cluster) = Cluster::start(false).await else {
        return;
    };
    let a = cluster.serve(&[]).await;
    let mut b = cluster.serve(&[]).await;
    wait_for_fanout(&a, &b).await;
    wait_for_fanout(&b, &a).await;

    let mut ann = Ws::connect_port(a.port, KEY).await;
    let joined = ann
        .subscribe_signed(KEY, SECRET, CHANNEL, Some(&member("1")))
        .await;
    assert_eq!(roster(&joined), ["1"]);
    let mut bob = Ws::connect_port(b.port, KEY).await;
    let joined = bob
        .subscribe_signed(KEY, SECRET, CHANNEL, Some(&member("2")))
        .await;
    assert_eq!(roster(&joined), ["1", "2"], "bob on node B sees ann on A");
    assert_eq!(
        data(&joined)["presence"]["hash"]["1"],
        json!({"name": "user 1"})
    );
    let added = ann.next().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(
        data(&added),
        json!({"user_id": "2", "user_info": {"name": "user 2"}})
    );

    // Bob's second socket, on node A: the roster has him once, and nobody is told again.
    let mut bob_again = Ws::connect_port(a.port, KEY).await;
    let joined = bob_again
        .subscribe_signed(KEY, SECRET, CHANNEL, Some(&member("2")))
        .await;
    assert_eq!(roster(&joined), ["1", "2"]);
    // The HTTP API of either node counts every node's members and sockets.
    assert_eq!(users(&a).await, ["1", "2"]);
    assert_eq!(users(&b).await, ["1", "2"]);
    let info: Value = pusher_api(
        &b,
        &format!("/apps/atelier/channels/{CHANNEL}?info=user_count,subscription_count"),
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(
        info,
        json!({"occupied": true, "user_count": 2, "subscription_count": 3})
    );
    let list: Value = pusher_api(
        &a,
        "/apps/atelier/channels?filter_by_prefix=presence-&info=user_count",
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(list["channels"][CHANNEL]["user_count"], 2);

    // Bob's second socket leaves: he is still there through node B, so no departure; Cara
    // joins and leaves on node B, and Ann on node A hears exactly that.
    unsubscribe(&mut bob_again).await;
    let mut cara = Ws::connect_port(b.port, KEY).await;
    cara.subscribe_signed(KEY, SECRET, CHANNEL, Some(&member("3")))
        .await;
    let frame = ann.next().await;
    assert_eq!(frame["event"], "pusher_internal:member_added", "{frame}");
    assert_eq!(data(&frame)["user_id"], "3");
    unsubscribe(&mut cara).await;
    let frame = ann.next().await;
    assert_eq!(frame["event"], "pusher_internal:member_removed", "{frame}");
    assert_eq!(data(&frame), json!({"user_id": "3"}));
    let frame = bob.next().await;
    assert_eq!(frame["event"], "pusher_internal:member_added");
    let frame = bob.next().await;
    assert_eq!(frame["event"], "pusher_internal:member_removed");

    // Node B is killed: Bob's only socket dies with it, and node A announces his departure once
    // B's heartbeat has expired (2 s here).
    let killed = Instant::now();
    b.kill9().await;
    let removed = ann
        .next_event_within("pusher_internal:member_removed", Duration::from_secs(15))
        .await
        .expect("member_removed for the killed node's member");
    let after = killed.elapsed();
    eprintln!("member_removed reached node A {after:?} after node B was killed");
    assert_eq!(data(&removed), json!({"user_id": "2"}));
    assert!(
        after < Duration::from_secs(6),
        "removed within the timeout and a heartbeat or two: {after:?}"
    );
    assert_eq!(users(&a).await, ["1"]);
    assert!(
        ann.within(500).await.is_none(),
        "Bob is removed once, and nobody else"
    );

    // Node B comes back: a member joining there sees Ann, and Ann sees them.
    cluster.restart(&mut b).await;
    wait_for_fanout(&b, &a).await;
    let mut dan = Ws::connect_port(b.port, KEY).await;
    let joined = dan
        .subscribe_signed(KEY, SECRET, CHANNEL, Some(&member("4")))
        .await;
    assert_eq!(roster(&joined), ["1", "4"]);
    let frame = ann.next().await;
    assert_eq!(data(&frame)["user_id"], "4");
}
