//! Drawing rooms over atelier's own API: waiting room, strokes, catch-up, undo, submit, gallery,
//! job progress on the owner's channel, and simulated artists who must all end with the same log.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::{
    helpers::{
        AppOptions, Backend, TestApp, error_code, images, pusher_auth, spawn_app, spawn_app_with,
    },
    realtime::{Read, Ws, data},
    realtime_node::family,
};

/// A download link as a full URL (S3 presigned links are absolute, atelier's own are relative).
fn link(app: &TestApp, url: &str) -> String {
    if url.starts_with("http") {
        url.to_owned()
    } else {
        app.url(url)
    }
}

fn stroke(client_id: &str, points: Value, color: &str, width: f64) -> Value {
    json!({"client_id": client_id, "points": points, "color": color, "width": width})
}

/// Subscribes `ws` to `channel` through atelier's `/pusher/auth`, as pusher-js does.
pub async fn subscribe_via_auth(app: &TestApp, ws: &mut Ws, token: &str, channel: &str) {
    let response = pusher_auth(app, Some(token), &ws.socket_id, channel).await;
    assert_eq!(response.status(), StatusCode::OK, "auth for {channel}");
    let auth: Value = response.json().await.expect("json");
    let mut subscription = json!({"channel": channel, "auth": auth["auth"]});
    if let Some(channel_data) = auth.get("channel_data") {
        subscription["channel_data"] = channel_data.clone();
    }
    ws.send(json!({"event": "pusher:subscribe", "data": subscription}))
        .await;
    let frame = ws
        .next_event("pusher_internal:subscription_succeeded")
        .await;
    assert_eq!(frame["channel"], channel);
}

async fn create_drawing(app: &TestApp, token: &str) -> Value {
    let response = app
        .post_json(
            token,
            "/api/v1/drawings",
            json!({"width": 200, "height": 100}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("json")
}

async fn a_room_goes_from_waiting_to_submitted(backend: Backend) {
    let app = spawn_app(backend).await;
    let members = family(&app, 2).await;
    let outsider = family(&app, 1).await;
    let (alice, bob) = (&members[0].token, &members[1].token);
    let drawing = create_drawing(&app, alice).await;
    let id = drawing["id"].as_i64().expect("id");
    let base = format!("/api/v1/drawings/{id}");
    assert_eq!(drawing["status"], "waiting");
    assert_eq!(drawing["channel"], format!("presence-drawing-{id}"));
    let code = drawing["invitation_code"].as_str().expect("code");

    let mut room = Ws::connect(&app).await;
    subscribe_via_auth(&app, &mut room, alice, &format!("presence-drawing-{id}")).await;

    let wrong = app
        .post_json(
            bob,
            &format!("{base}/join"),
            json!({"invitation_code": "WRONG1"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let joined = app
        .post_json(
            bob,
            &format!("{base}/join"),
            json!({"invitation_code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(joined.status(), StatusCode::OK);
    let joined: Value = joined.json().await.expect("json");
    assert_eq!(
        joined["participants"]
            .as_array()
            .expect("participants")
            .len(),
        2
    );
    let event = room.next_event("participant-joined").await;
    assert_eq!(data(&event)["user_id"], members[1].id);
    let foreign = app
        .post_json(
            &outsider[0].token,
            &format!("{base}/join"),
            json!({"invitation_code": code}),
        )
        .await;
    assert_eq!(
        foreign.status(),
        StatusCode::FORBIDDEN,
        "another family's member"
    );
    assert_eq!(
        app.get(&outsider[0].token, &base).await.status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.post_json(bob, &format!("{base}/start"), json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let started = app
        .post_json(alice, &format!("{base}/start"), json!({}))
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(
        started.json::<Value>().await.expect("json")["status"],
        "drawing"
    );
    assert_eq!(
        data(&room.next_event("session-started").await)["host_id"],
        members[0].id
    );

    let red = stroke("a-1", json!([[10, 50], [190, 50]]), "#ff0000", 8.0);
    let first = app
        .post_json(alice, &format!("{base}/strokes"), red.clone())
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["stroke"]["color"], "#ff0000ff");
    let event = room.next_event("stroke").await;
    assert_eq!(data(&event)["seq"], 1);
    let again = app.post_json(alice, &format!("{base}/strokes"), red).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "same client id: the first entry, nothing new"
    );
    assert_eq!(again.json::<Value>().await.expect("json")["seq"], 1);
    let blue = stroke("b-1", json!([[100, 10], [100, 90]]), "#0000ff", 6.0);
    let second: Value = app
        .post_json(bob, &format!("{base}/strokes"), blue)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(second["seq"], 2);
    for bad in [
        stroke("x-1", json!([]), "#000000", 4.0),
        stroke("x-2", json!([[1, 1]]), "blue", 4.0),
        stroke("x-3", json!([[1, 1]]), "#000000", 999.0),
        stroke("bad id", json!([[1, 1]]), "#000000", 4.0),
    ] {
        let response = app.post_json(bob, &format!("{base}/strokes"), bad).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let too_many: Vec<[i32; 2]> = (0..2001).map(|i| [i % 100, 5]).collect();
    let response = app
        .post_json(
            bob,
            &format!("{base}/strokes"),
            stroke("x-4", json!(too_many), "#000000", 4.0),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let outsider_stroke = app
        .post_json(
            &outsider[0].token,
            &format!("{base}/strokes"),
            stroke("o-1", json!([[1, 1]]), "#000000", 4.0),
        )
        .await;
    assert_eq!(outsider_stroke.status(), StatusCode::NOT_FOUND);

    let undo = app
        .post_json(
            bob,
            &format!("{base}/undo"),
            json!({"client_id": "b-undo-1"}),
        )
        .await;
    assert_eq!(undo.status(), StatusCode::CREATED);
    let undo: Value = undo.json().await.expect("json");
    assert_eq!(
        (undo["seq"].as_i64(), undo["target_seq"].as_i64()),
        (Some(3), Some(2))
    );
    let nothing_left = app
        .post_json(
            bob,
            &format!("{base}/undo"),
            json!({"client_id": "b-undo-2"}),
        )
        .await;
    assert_eq!(nothing_left.status(), StatusCode::CONFLICT);

    let page: Value = app
        .get(bob, &format!("{base}/strokes?since=1"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["last_seq"], 3);
    let seqs: Vec<i64> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(page["entries"][0]["undone"], true);

    let by_bob = app
        .client
        .put(app.url(&format!("{base}/submit")))
        .bearer_auth(bob)
        .multipart(multipart::Form::new().text("title", "x"))
        .send()
        .await
        .expect("submit");
    assert_eq!(by_bob.status(), StatusCode::FORBIDDEN);
    let submitted = app
        .client
        .put(app.url(&format!("{base}/submit")))
        .bearer_auth(alice)
        .multipart(
            multipart::Form::new()
                .text("title", "Our sun")
                .text("description", "red line")
                .text("voice_id", "3"),
        )
        .send()
        .await
        .expect("submit");
    assert_eq!(submitted.status(), StatusCode::OK);
    let submitted: Value = submitted.json().await.expect("json");
    assert_eq!(submitted["drawing"]["status"], "submitted");
    assert_eq!(submitted["drawing"]["title"], "Our sun");
    assert_eq!(submitted["drawing"]["voice_id"], 3);
    let animation = &submitted["animation"];
    if animation["status"] == "queued" {
        assert!(animation["job_id"].is_string());
    } else {
        assert_eq!(animation["status"], "absent", "{animation}");
    }
    let event = room.next_event("submitted").await;
    assert_eq!(data(&event)["drawing_id"], id);

    // The server rendered the log: the red line is there, the undone blue one is not.
    let url = submitted["drawing"]["image_url"]
        .as_str()
        .expect("image url");
    let bytes = app
        .client
        .get(link(&app, url))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let image = image::load_from_memory(&bytes).expect("png").to_rgba8();
    assert_eq!(image.dimensions(), (200, 100));
    assert_eq!(image.get_pixel(50, 50).0, [255, 0, 0, 255]);
    assert_eq!(
        image.get_pixel(100, 20).0,
        [255, 255, 255, 255],
        "undone stroke not drawn"
    );
    assert_eq!(image.get_pixel(50, 80).0, [255, 255, 255, 255]);

    let late = app
        .post_json(
            alice,
            &format!("{base}/strokes"),
            stroke("a-2", json!([[1, 1]]), "#000000", 4.0),
        )
        .await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let gallery: Value = app
        .get(bob, "/api/v1/drawings")
        .await
        .json()
        .await
        .expect("json");
    let entry = gallery
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["id"] == id)
        .expect("in gallery")
        .clone();
    assert!(entry["image_url"].is_string());
    assert_eq!(
        entry["participants"]
            .as_array()
            .expect("participants")
            .len(),
        2
    );
    let outsiders: Value = app
        .get(&outsider[0].token, "/api/v1/drawings")
        .await
        .json()
        .await
        .expect("json");
    assert!(
        outsiders
            .as_array()
            .expect("list")
            .iter()
            .all(|d| d["id"] != id)
    );
    app.stop().await;
}

async fn a_submitted_file_is_kept_as_the_final_image(backend: Backend) {
    let app = spawn_app(backend).await;
    let members = family(&app, 1).await;
    let token = &members[0].token;
    let id = create_drawing(&app, token).await["id"]
        .as_i64()
        .expect("id");
    let png = images::png(32, 24);
    let part = multipart::Part::bytes(png)
        .file_name("final.png")
        .mime_str("image/png")
        .expect("mime");
    let response = app
        .client
        .put(app.url(&format!("/api/v1/drawings/{id}/submit")))
        .bearer_auth(token)
        .multipart(multipart::Form::new().part("file", part).text("title", "t"))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let url = body["drawing"]["image_url"].as_str().expect("url");
    let bytes = app
        .client
        .get(link(&app, url))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        image::load_from_memory(&bytes)
            .expect("png")
            .to_rgba8()
            .dimensions(),
        (32, 24)
    );
    let again = app
        .client
        .put(app.url(&format!("/api/v1/drawings/{id}/submit")))
        .bearer_auth(token)
        .multipart(multipart::Form::new().text("title", "t"))
        .send()
        .await
        .expect("submit");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "conflict");
    app.stop().await;
}

async fn job_progress_reaches_the_owners_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let members = family(&app, 1).await;
    let token = &members[0].token;
    let mut ws = Ws::connect(&app).await;
    subscribe_via_auth(
        &app,
        &mut ws,
        token,
        &format!("private-user-{}", members[0].id),
    )
    .await;
    let upload = app.upload_ok(token, images::png(64, 48)).await;
    let job = app
        .create_job(
            token,
            "thumbnail",
            json!({"upload_id": upload["id"], "max_side": 16}),
        )
        .await;
    assert_eq!(job.status(), StatusCode::CREATED);
    let job: Value = job.json().await.expect("json");
    let mut statuses = Vec::new();
    loop {
        let frame = ws.next_event("job-progress").await;
        let progress = data(&frame);
        assert_eq!(progress["job_id"], job["id"]);
        let status = progress["status"].as_str().expect("status").to_owned();
        statuses.push(status.clone());
        if status == "succeeded" {
            assert_eq!(progress["progress"], 100);
            break;
        }
    }
    assert_eq!(statuses.first().map(String::as_str), Some("running"));
    app.stop().await;
}

/// Many strokes at once, each also retried at once: every stroke is logged exactly once, the
/// numbers have no gap, retries get the first entry, and the configured limit holds.
async fn concurrent_strokes_and_retries_number_without_gaps(backend: Backend) {
    const ARTISTS: usize = 3;
    const STROKES: usize = 10;
    const LIMIT: usize = ARTISTS * STROKES;
    let app = Arc::new(
        spawn_app_with(
            backend,
            AppOptions {
                tweak: Box::new(|config| config.strokes.max_strokes = LIMIT),
                ..AppOptions::default()
            },
        )
        .await,
    );
    let members = family(&app, ARTISTS).await;
    let drawing = create_drawing(&app, &members[0].token).await;
    let id = drawing["id"].as_i64().expect("id");
    let base = format!("/api/v1/drawings/{id}");
    for member in &members[1..] {
        let joined = app
            .post_json(
                &member.token,
                &format!("{base}/join"),
                json!({"invitation_code": drawing["invitation_code"]}),
            )
            .await;
        assert_eq!(joined.status(), StatusCode::OK);
    }
    let mut posts = Vec::new();
    for (index, member) in members.iter().enumerate() {
        for n in 0..STROKES {
            for _attempt in 0..2 {
                let (app, token, base) = (Arc::clone(&app), member.token.clone(), base.clone());
                let body = stroke(
                    &format!("a{index}-{n}"),
                    json!([[n, index]]),
                    "#000000",
                    2.0,
                );
                posts.push(tokio::spawn(async move {
                    let response = app
                        .post_json(&token, &format!("{base}/strokes"), body)
                        .await;
                    let status = response.status();
                    let entry: Value = response.json().await.expect("json");
                    (status, entry)
                }));
            }
        }
    }
    let mut first_answers: BTreeMap<String, Vec<(StatusCode, i64)>> = BTreeMap::new();
    for post in posts {
        let (status, entry) = post.await.expect("post");
        let (Some(client_id), Some(seq)) = (entry["client_id"].as_str(), entry["seq"].as_i64())
        else {
            panic!("not a log entry: {status} {entry}");
        };
        first_answers
            .entry(client_id.to_owned())
            .or_default()
            .push((status, seq));
    }
    assert_eq!(first_answers.len(), LIMIT);
    for (client_id, answers) in &first_answers {
        let created = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{client_id} logged once: {answers:?}");
        assert!(
            answers.iter().all(|(_, seq)| *seq == answers[0].1),
            "{client_id}'s retry got the first entry: {answers:?}"
        );
    }
    let page: Value = app
        .get(&members[0].token, &format!("{base}/strokes?since=0"))
        .await
        .json()
        .await
        .expect("json");
    let seqs: Vec<i64> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=LIMIT as i64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    assert_eq!(page["last_seq"], LIMIT as i64);
    let over = app
        .post_json(
            &members[1].token,
            &format!("{base}/strokes"),
            stroke("one-too-many", json!([[1, 1]]), "#000000", 2.0),
        )
        .await;
    assert_eq!(
        over.status(),
        StatusCode::CONFLICT,
        "the stroke limit holds"
    );
    let retried = app
        .post_json(
            &members[1].token,
            &format!("{base}/strokes"),
            stroke("a1-0", json!([[0, 1]]), "#000000", 2.0),
        )
        .await;
    assert_eq!(
        retried.status(),
        StatusCode::OK,
        "a retry of a logged stroke is still answered at the limit"
    );
    let view: Value = app
        .get(&members[0].token, &base)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["stroke_count"], LIMIT as i64);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

crate::on_both_backends!(
    a_room_goes_from_waiting_to_submitted,
    a_submitted_file_is_kept_as_the_final_image,
    job_progress_reaches_the_owners_channel,
    concurrent_strokes_and_retries_number_without_gaps,
);

/// One simulated artist: a socket in the room and the log as it saw it (`seq → client_id`).
struct Artist {
    token: String,
    seen: Arc<Mutex<BTreeMap<i64, (String, bool)>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
    socket_id: String,
}

async fn join_room(
    app: &TestApp,
    token: &str,
    channel: &str,
    seen: Arc<Mutex<BTreeMap<i64, (String, bool)>>>,
) -> (String, tokio::task::JoinHandle<()>) {
    let mut ws = Ws::connect(app).await;
    subscribe_via_auth(app, &mut ws, token, channel).await;
    let socket_id = ws.socket_id.clone();
    let reader = tokio::spawn(async move {
        while let Some(read) = ws.within(30_000).await {
            let Read::Json(frame) = read else { return };
            if frame["event"] == "stroke" || frame["event"] == "undo" {
                let entry = data(&frame);
                record(&seen, &entry);
            }
        }
    });
    (socket_id, reader)
}

fn record(seen: &Mutex<BTreeMap<i64, (String, bool)>>, entry: &Value) {
    let seq = entry["seq"].as_i64().expect("seq");
    let client = entry["client_id"].as_str().expect("client id").to_owned();
    let mut seen = seen.lock().expect("lock");
    seen.insert(seq, (client, entry["kind"] == "undo"));
}

/// The highest `seq` up to which the artist has every entry.
fn contiguous(seen: &Mutex<BTreeMap<i64, (String, bool)>>) -> i64 {
    let seen = seen.lock().expect("lock");
    let mut last = 0;
    for seq in seen.keys() {
        if *seq != last + 1 {
            break;
        }
        last = *seq;
    }
    last
}

async fn catch_up(app: &TestApp, artist: &Artist, base: &str) {
    let since = contiguous(&artist.seen);
    let page: Value = app
        .get(&artist.token, &format!("{base}/strokes?since={since}"))
        .await
        .json()
        .await
        .expect("json");
    for entry in page["entries"].as_array().expect("entries") {
        record(&artist.seen, entry);
    }
}

async fn six_artists_end_with_the_same_log_even_after_a_reconnect(backend: Backend) {
    const ARTISTS: usize = 6;
    const STROKES: usize = 12;
    let app = Arc::new(spawn_app(backend).await);
    let members = family(&app, ARTISTS).await;
    let host = &members[0].token;
    let drawing = create_drawing(&app, host).await;
    let id = drawing["id"].as_i64().expect("id");
    let code = drawing["invitation_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let base = format!("/api/v1/drawings/{id}");
    let channel = format!("presence-drawing-{id}");
    let mut artists = Vec::new();
    for member in &members {
        if member.token != *host {
            let joined = app
                .post_json(
                    &member.token,
                    &format!("{base}/join"),
                    json!({"invitation_code": code}),
                )
                .await;
            assert_eq!(joined.status(), StatusCode::OK);
        }
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let (socket_id, reader) = join_room(&app, &member.token, &channel, Arc::clone(&seen)).await;
        artists.push(Artist {
            token: member.token.clone(),
            seen,
            reader: Some(reader),
            socket_id,
        });
    }
    assert_eq!(
        app.post_json(host, &format!("{base}/start"), json!({}))
            .await
            .status(),
        StatusCode::OK
    );

    let mut tasks = Vec::new();
    for (index, artist) in artists.iter().enumerate() {
        let app = Arc::clone(&app);
        let (token, socket_id, seen, base) = (
            artist.token.clone(),
            artist.socket_id.clone(),
            Arc::clone(&artist.seen),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for n in 0..STROKES {
                let x = (index * 30 + n) as f64;
                let mut body = stroke(&format!("artist{index}-{n}"), json!([[x, 10.0], [x + 5.0, 60.0]]), "#336699", 3.0);
                body["socket_id"] = json!(socket_id);
                let response = app.post_json(&token, &format!("{base}/strokes"), body).await;
                assert_eq!(response.status(), StatusCode::CREATED);
                // The sender is excluded from the event: it records its own entry from the answer.
                record(&seen, &response.json::<Value>().await.expect("json"));
                if n == STROKES / 2 && index % 2 == 0 {
                    let undo = app.post_json(&token, &format!("{base}/undo"), json!({"client_id": format!("artist{index}-undo"), "socket_id": socket_id})).await;
                    assert_eq!(undo.status(), StatusCode::CREATED);
                    record(&seen, &undo.json::<Value>().await.expect("json"));
                }
            }
        }));
    }
    // Mid-session, the last artist drops its connection, misses strokes, then comes back.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let leaver = artists.last_mut().expect("artist");
    if let Some(reader) = leaver.reader.take() {
        reader.abort();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (socket_id, reader) =
        join_room(&app, &leaver.token, &channel, Arc::clone(&leaver.seen)).await;
    leaver.socket_id = socket_id;
    leaver.reader = Some(reader);
    catch_up(&app, leaver, &base).await;
    for task in tasks {
        task.await.expect("artist task");
    }

    let full: Value = app
        .get(host, &format!("{base}/strokes?since=0&limit=5000"))
        .await
        .json()
        .await
        .expect("json");
    let expected: BTreeMap<i64, (String, bool)> = full["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().expect("seq"),
                (
                    e["client_id"].as_str().expect("id").to_owned(),
                    e["kind"] == "undo",
                ),
            )
        })
        .collect();
    assert_eq!(expected.len(), ARTISTS * STROKES + ARTISTS / 2);
    assert_eq!(
        *expected.keys().last().expect("last"),
        expected.len() as i64,
        "no gaps in seq"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for (index, artist) in artists.iter().enumerate() {
        // Live events arrive shortly; the reconnected artist already caught up what it missed.
        while *artist.seen.lock().expect("lock") != expected
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            *artist.seen.lock().expect("lock"),
            expected,
            "artist {index} has the same log"
        );
    }
    for artist in &mut artists {
        if let Some(reader) = artist.reader.take() {
            reader.abort();
        }
    }
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

crate::on_both_backends!(six_artists_end_with_the_same_log_even_after_a_reconnect);
