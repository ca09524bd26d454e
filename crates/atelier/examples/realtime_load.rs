//! Load generator for atelier's Pusher-protocol server (`bench/realtime/run.sh` drives it).
//!
//! Opens `--clients` WebSockets in `--rooms` rooms (clients / rooms artists per room). Every
//! artist draws `--rate` strokes per second for `--seconds`, either
//! - `--mode http`: `POST /api/v1/drawings/{id}/strokes` (the seed's flow served by atelier;
//!   every artist is a registered user of the room's family, the stroke is appended to the log and
//!   triggered on `presence-drawing-{id}`), or
//! - `--mode client`: a `client-stroke` event on `private-room-{n}` (pure WebSocket fan-out), or
//! - `--mode seed`: the seed's own design (LittleStudio: Django REST Framework forwarding each
//!   stroke to Pusher): `POST {--seed-base}/drawing/{n}/canvas` with token `bench-r{r}-a{a}`
//!   (bench/realtime/seed/ serves it, with atelier standing in for the Pusher service), received on
//!   `presence-drawing-{n}`.
//!
//! The send time rides in the stroke (its `client_id`, or the event's data); every receiver
//! records `receive − send`. Prints one JSON line: sent, delivered, expected, msgs/s, p50/p90/p99/max.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::{connect_async_with_config, tungstenite::Message};

#[derive(Debug, Clone)]
struct Args {
    base: String,
    key: String,
    secret: String,
    clients: usize,
    rooms: usize,
    seconds: f64,
    rate: f64,
    mode: String,
    seed_base: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        key: "atelier-key".into(),
        secret: String::new(),
        clients: 1000,
        rooms: 250,
        seconds: 20.0,
        rate: 1.0,
        mode: "http".into(),
        seed_base: "http://127.0.0.1:8000".into(),
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--base" => args.base = value,
            "--key" => args.key = value,
            "--secret" => args.secret = value,
            "--clients" => args.clients = value.parse().unwrap_or(args.clients),
            "--rooms" => args.rooms = value.parse().unwrap_or(args.rooms),
            "--seconds" => args.seconds = value.parse().unwrap_or(args.seconds),
            "--rate" => args.rate = value.parse().unwrap_or(args.rate),
            "--mode" => args.mode = value,
            "--seed-base" => args.seed_base = value,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn sign(secret: &str, message: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// One room: its channel and, in http mode, the drawing id and its artists' tokens.
struct Room {
    channel: String,
    drawing: Option<i64>,
    tokens: Vec<String>,
}

async fn register(client: &reqwest::Client, base: &str, name: &str) -> String {
    let body = json!({"username": name, "password": "benchmark-password", "gender": "Other", "type": "Parent"});
    let response: Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    response["token"].as_str().expect("token").to_owned()
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json")
}

/// Creates a family, users and a drawing per room (http mode), concurrently.
async fn setup_rooms(args: &Args, client: &reqwest::Client) -> Vec<Room> {
    let per_room = args.clients / args.rooms;
    let run = now_micros() % 1_000_000_000;
    let mut tasks = Vec::new();
    for r in 0..args.rooms {
        let (client, base, mode) = (client.clone(), args.base.clone(), args.mode.clone());
        tasks.push(tokio::spawn(async move {
            if mode == "seed" {
                // The seed server's rooms are made by its `seed_rooms` command: drawing r + 1,
                // artists' tokens `bench-r{r}-a{a}`.
                return Room {
                    channel: format!("presence-drawing-{}", r + 1),
                    drawing: Some(r as i64 + 1),
                    tokens: (0..per_room).map(|a| format!("bench-r{r}-a{a}")).collect(),
                };
            }
            if mode != "http" {
                return Room {
                    channel: format!("private-room-{r}"),
                    drawing: None,
                    tokens: Vec::new(),
                };
            }
            let mut tokens = Vec::new();
            for a in 0..per_room {
                tokens.push(register(&client, &base, &format!("b{run}r{r}a{a}")).await);
            }
            let family = post(
                &client,
                format!("{base}/api/v1/families"),
                &tokens[0],
                json!({"name": "bench"}),
            )
            .await;
            for token in &tokens[1..] {
                post(
                    &client,
                    format!("{base}/api/v1/families/join"),
                    token,
                    json!({"invitation_code": family["invitation_code"]}),
                )
                .await;
            }
            let drawing = post(
                &client,
                format!("{base}/api/v1/drawings"),
                &tokens[0],
                json!({}),
            )
            .await;
            let id = drawing["id"].as_i64().expect("drawing id");
            for token in &tokens[1..] {
                post(
                    &client,
                    format!("{base}/api/v1/drawings/{id}/join"),
                    token,
                    json!({"invitation_code": drawing["invitation_code"]}),
                )
                .await;
            }
            Room {
                channel: format!("presence-drawing-{id}"),
                drawing: Some(id),
                tokens,
            }
        }));
    }
    let mut rooms = Vec::new();
    for task in tasks {
        rooms.push(task.await.expect("setup"));
    }
    rooms
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    assert!(
        args.rooms > 0 && args.clients >= args.rooms,
        "need at least one client per room"
    );
    let per_room = args.clients / args.rooms;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let setup_started = Instant::now();
    let rooms = Arc::new(setup_rooms(&args, &client).await);
    let setup_secs = setup_started.elapsed().as_secs_f64();
    let ws_base = args.base.replacen("http://", "ws://", 1);
    let latencies = Arc::new(Mutex::new(Vec::<u64>::with_capacity(1 << 20)));
    let delivered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(true));

    // Connect and subscribe every artist.
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        for a in 0..per_room {
            let url = format!(
                "{ws_base}/app/{}?protocol=7&client=bench&version=1",
                args.key
            );
            // Nagle off, as a browser or phone sends each small frame at once.
            let (stream, _) = connect_async_with_config(url, None, true)
                .await
                .expect("connect");
            let (mut sink, mut stream) = stream.split();
            let first = stream.next().await.expect("handshake").expect("frame");
            let hello: Value = serde_json::from_str(first.to_text().expect("text")).expect("json");
            let data: Value =
                serde_json::from_str(hello["data"].as_str().expect("data")).expect("json");
            let socket_id = data["socket_id"].as_str().expect("socket id").to_owned();
            let mut subscription = json!({"channel": room.channel});
            if room.channel.starts_with("presence-") {
                let channel_data =
                    json!({"user_id": format!("{r}-{a}"), "user_info": {"name": "bench"}})
                        .to_string();
                subscription["auth"] = json!(format!(
                    "{}:{}",
                    args.key,
                    sign(
                        &args.secret,
                        &format!("{socket_id}:{}:{channel_data}", room.channel)
                    )
                ));
                subscription["channel_data"] = json!(channel_data);
            } else {
                subscription["auth"] = json!(format!(
                    "{}:{}",
                    args.key,
                    sign(&args.secret, &format!("{socket_id}:{}", room.channel))
                ));
            }
            sink.send(Message::text(
                json!({"event": "pusher:subscribe", "data": subscription}).to_string(),
            ))
            .await
            .expect("subscribe");
            loop {
                let frame = stream.next().await.expect("subscribed").expect("frame");
                if frame
                    .to_text()
                    .unwrap_or("")
                    .contains("subscription_succeeded")
                {
                    break;
                }
            }
            let (latencies, delivered, measuring) = (
                Arc::clone(&latencies),
                Arc::clone(&delivered),
                Arc::clone(&measuring),
            );
            readers.push(tokio::spawn(async move {
                let mut local = Vec::new();
                while let Some(Ok(frame)) = stream.next().await {
                    let Ok(text) = frame.to_text() else { continue };
                    let received = now_micros();
                    let Ok(value) = serde_json::from_str::<Value>(text) else {
                        continue;
                    };
                    let event = value["event"].as_str().unwrap_or("");
                    if event != "stroke" && event != "client-stroke" {
                        continue;
                    }
                    let data: Value = serde_json::from_str(value["data"].as_str().unwrap_or("{}"))
                        .unwrap_or_default();
                    let stamp = data["client_id"]
                        .as_str()
                        .and_then(|id| id.strip_prefix('t'))
                        .and_then(|id| id.split('x').next())
                        .and_then(|t| t.parse::<u64>().ok());
                    if let Some(stamp) = stamp
                        && measuring.load(Ordering::Relaxed)
                    {
                        local.push(received.saturating_sub(stamp));
                        delivered.fetch_add(1, Ordering::Relaxed);
                        if local.len() >= 256 {
                            latencies.lock().await.append(&mut local);
                        }
                    }
                }
                latencies.lock().await.append(&mut local);
            }));
            writers.push((r, a, sink));
        }
    }

    // Draw: each artist on its own task, evenly spaced, starting at a random phase.
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for (r, a, mut sink) in writers {
        let (client, rooms, base, mode, seed_base) = (
            client.clone(),
            Arc::clone(&rooms),
            args.base.clone(),
            args.mode.clone(),
            args.seed_base.clone(),
        );
        let (sent, errors) = (Arc::clone(&sent), Arc::clone(&errors));
        // Artists are spread evenly over the period (not all at once, which would measure a
        // burst of `clients` strokes rather than a steady rate).
        let artist = r * per_room + a;
        let phase = period.mul_f64(artist as f64 / args.clients.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            let mut tick = tokio::time::interval(period);
            let mut n = 0u64;
            // HTTP posts run on their own tasks: the load stays open-loop (a slow answer does not
            // delay the next stroke, so latency is not hidden by a slower send rate).
            let mut posts = Vec::new();
            while Instant::now() < deadline {
                tick.tick().await;
                n += 1;
                let client_id = format!("t{}x{r}-{a}-{n}", now_micros());
                let x = (n % 100) as f64 * 10.0;
                let stroke = json!({"client_id": client_id, "points": [[x, 10.0], [x + 20.0, 40.0], [x + 40.0, 90.0]], "color": "#336699", "width": 6.0});
                let room = &rooms[r];
                let drawing = room.drawing.unwrap_or(0);
                let request = match mode.as_str() {
                    "seed" => Some(
                        client
                            .post(format!("{seed_base}/drawing/{drawing}/canvas"))
                            .header("Authorization", format!("Token {}", room.tokens[a])),
                    ),
                    "http" => Some(
                        client
                            .post(format!("{base}/api/v1/drawings/{drawing}/strokes"))
                            .bearer_auth(&room.tokens[a]),
                    ),
                    _ => None,
                };
                let (sent, errors) = (Arc::clone(&sent), Arc::clone(&errors));
                let count = move |ok: bool| {
                    if ok {
                        sent.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                };
                match request {
                    Some(request) => posts.push(tokio::spawn(async move {
                        let ok = request
                            .json(&stroke)
                            .send()
                            .await
                            .is_ok_and(|response| response.status().is_success());
                        count(ok);
                    })),
                    None => {
                        let frame = json!({"event": "client-stroke", "channel": room.channel, "data": stroke});
                        count(sink.send(Message::text(frame.to_string())).await.is_ok());
                    }
                }
            }
            for post in posts {
                let _ = post.await;
            }
            sink
        }));
    }
    let mut sinks = Vec::new();
    for task in tasks {
        sinks.push(task.await.expect("artist"));
    }
    let drawing_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    measuring.store(false, Ordering::Relaxed);
    for mut sink in sinks {
        let _ = sink.close().await;
    }
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    }
    let mut all = latencies.lock().await.clone();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let index = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[index] as f64 / 1000.0
    };
    let sent = sent.load(Ordering::Relaxed);
    // http, seed: every artist of the room receives (the poster too); client: the sender is
    // excluded.
    let receivers = if args.mode != "client" {
        per_room
    } else {
        per_room - 1
    } as u64;
    let delivered = delivered.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "mode": args.mode,
            "clients": rooms.len() * per_room,
            "rooms": rooms.len(),
            "rate_per_artist": args.rate,
            "seconds": drawing_secs,
            "setup_seconds": setup_secs,
            "sent": sent,
            "errors": errors.load(Ordering::Relaxed),
            "delivered": delivered,
            "expected": sent * receivers,
            "msgs_per_sec": delivered as f64 / drawing_secs,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
        })
    );
}
