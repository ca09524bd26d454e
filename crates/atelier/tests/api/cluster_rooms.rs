//! The drawing half of the cluster workload (issue #18 §1): families with a drawing room each,
//! whose members are real pusher-js clients (`tests/node/cluster_room.mjs`) connected half to
//! node A and half to node B, drawing at once with REST strokes, undos and client events; some
//! join late, and those whose node is killed move to the other one. At the end every client's
//! copy of the stroke log must be the server's log, entry for entry.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin},
    sync::mpsc,
};

use crate::{
    cluster::KEY,
    cluster_load::{Balancer, ServerError},
    node,
};

/// A room: its drawing, the host's token, and the members' settings for the Node clients.
pub struct Room {
    /// The drawing id.
    pub drawing_id: i64,
    /// The host's token (reads the log at the end).
    pub host_token: String,
    /// `{name, token, userId, node, late}` per member.
    pub members: Vec<Value>,
}

async fn register(balancer: &Balancer, node: usize, name: &str) -> (String, i64) {
    let body = balancer
        .json(node, "register", 201, |base| {
            balancer
                .client
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({"username": name, "password": "correct horse", "gender": "Female", "type": "Parent"}))
        })
        .await;
    (
        body["token"].as_str().expect("token").to_owned(),
        body["user"]["id"].as_i64().expect("id"),
    )
}

async fn post(balancer: &Balancer, node: usize, token: &str, path: &str, body: Value) -> Value {
    let response = balancer
        .send(node, path, |base| {
            balancer
                .client
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
        })
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

/// Makes `rooms` families, each with a started drawing that all `members` joined (the last
/// `late` of them connect only when told); members alternate between the nodes.
pub async fn open(balancer: &Balancer, rooms: usize, members: usize, late: usize) -> Vec<Room> {
    let mut opened = Vec::new();
    for r in 0..rooms {
        let suffix = crate::helpers::random_suffix();
        let mut people = Vec::new();
        for m in 0..members {
            let name = format!("r{r}m{m}_{suffix}");
            let (token, id) = register(balancer, m, &name).await;
            people.push((name, token, id));
        }
        let host = &people[0].1;
        let family = post(
            balancer,
            r,
            host,
            "/api/v1/families",
            json!({"name": format!("Room {r}")}),
        )
        .await;
        let code = family["invitation_code"].as_str().expect("code").to_owned();
        for (m, (_, token, _)) in people.iter().enumerate().skip(1) {
            post(
                balancer,
                m,
                token,
                "/api/v1/families/join",
                json!({"invitation_code": code}),
            )
            .await;
        }
        let drawing = post(
            balancer,
            r,
            host,
            "/api/v1/drawings",
            json!({"width": 200, "height": 100}),
        )
        .await;
        let id = drawing["id"].as_i64().expect("drawing id");
        let code = drawing["invitation_code"]
            .as_str()
            .expect("code")
            .to_owned();
        for (m, (_, token, _)) in people.iter().enumerate().skip(1) {
            post(
                balancer,
                m,
                token,
                &format!("/api/v1/drawings/{id}/join"),
                json!({"invitation_code": code}),
            )
            .await;
        }
        post(
            balancer,
            r,
            host,
            &format!("/api/v1/drawings/{id}/start"),
            json!({}),
        )
        .await;
        opened.push(Room {
            drawing_id: id,
            host_token: host.clone(),
            members: people
                .iter()
                .enumerate()
                .map(|(m, (name, token, user))| {
                    json!({"name": name, "token": token, "userId": user, "node": m % 2, "late": m >= members - late})
                })
                .collect(),
        });
    }
    opened
}

/// The Node clients, running.
pub struct Clients {
    child: Child,
    stdin: ChildStdin,
    lines: Arc<Mutex<Vec<Value>>>,
    events: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Clients {
    /// Starts the clients of `rooms` against the nodes on `ports` and waits until every early
    /// client is subscribed.
    pub async fn start(
        rooms: &[Room],
        ports: [u16; 2],
        stroke_every_ms: u64,
        cursor_every_ms: u64,
    ) -> Clients {
        let config = json!({
            "ports": ports,
            "key": KEY,
            "strokeEveryMs": stroke_every_ms,
            "cursorEveryMs": cursor_every_ms,
            "rooms": rooms.iter().map(|room| json!({"drawingId": room.drawing_id, "members": room.members})).collect::<Vec<_>>(),
        });
        let script = node::folder().join("cluster_room.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(&script)
            .arg(config.to_string())
            .current_dir(node::folder())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sender, events) = mpsc::unbounded_channel();
        let kept = Arc::clone(&lines);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    kept.lock().expect("lock").push(value.clone());
                    let _ = sender.send(value);
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let errors = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let mut text = errors.lock().expect("lock");
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut clients = Clients {
            child,
            stdin,
            lines,
            events,
            stderr,
        };
        clients.wait_for("ready", Duration::from_secs(60)).await;
        clients
    }

    async fn wait_for(&mut self, name: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv()).await;
            match event {
                Ok(Some(line)) if line["ev"] == name => return line,
                Ok(Some(line)) if line["ev"] == "failed" => self.fail(&format!("{line}")),
                Ok(Some(_)) => {}
                Ok(None) => self.fail(&format!("the clients ended before {name}")),
                Err(_) => self.fail(&format!("no {name} from the clients within {limit:?}")),
            }
        }
    }

    fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\nstdout: {:?}\nstderr: {}",
            self.lines.lock().expect("lock"),
            self.stderr.lock().expect("lock")
        );
    }

    async fn command(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to the clients");
        self.stdin.flush().await.expect("flush");
    }

    /// The late clients connect (in the background).
    pub async fn late(&mut self) {
        self.command("late").await;
    }

    /// Stops the drawing; returns one line per client once the last events have arrived.
    pub async fn stop(mut self) -> Vec<Value> {
        self.command("stop").await;
        self.wait_for("done", Duration::from_secs(120)).await;
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the clients exit")
            .expect("wait");
        assert!(status.success(), "the clients exited with {status}");
        let lines = self.lines.lock().expect("lock");
        for line in lines
            .iter()
            .filter(|l| l["ev"] == "stopping" || l["ev"] == "stopped")
        {
            eprintln!("clients {} at {} ms", line["ev"], line["at"]);
        }
        lines
            .iter()
            .filter(|l| l["ev"] == "client")
            .cloned()
            .collect()
    }
}

/// What the rooms came to.
#[derive(Debug, Default)]
pub struct RoomFigures {
    /// Entries in all stroke logs (strokes and undos).
    pub entries: usize,
    /// Clients.
    pub clients: usize,
    /// Clients that joined late.
    pub late: usize,
    /// Clients that moved to the other node at least once.
    pub reconnected: usize,
    /// Client events sent and received.
    pub cursors: (u64, u64),
    /// Client events that crossed between nodes.
    pub cursors_across: u64,
    /// Clients whose log differs from the server's.
    pub diverged: usize,
    /// Entries clients had live, and by catch-up.
    pub live_and_caught: (u64, u64),
}

fn count(client: &Value, field: &str) -> u64 {
    client[field].as_u64().unwrap_or(0)
}

/// Reads every room's stroke log and compares each client's copy with it, exactly; returns the
/// figures and the 5xx the clients met (for the caller's outage check).
pub async fn check(
    balancer: &Balancer,
    rooms: &[Room],
    clients: &[Value],
) -> (RoomFigures, Vec<ServerError>) {
    let mut figures = RoomFigures::default();
    let mut server_errors = Vec::new();
    let mut problems = Vec::new();
    for room in rooms {
        let id = room.drawing_id;
        let mut log: Vec<Value> = Vec::new();
        loop {
            let since = log.len();
            let path = format!("/api/v1/drawings/{id}/strokes?since={since}&limit=5000");
            let page = balancer
                .json(0, "GET strokes", 200, |base| {
                    balancer
                        .client
                        .get(format!("{base}{path}"))
                        .bearer_auth(&room.host_token)
                })
                .await;
            let entries = page["entries"].as_array().expect("entries");
            log.extend(entries.iter().map(|e| {
                json!([
                    e["seq"],
                    e["kind"],
                    e["user_id"],
                    e["client_id"],
                    e["target_seq"]
                ])
            }));
            if entries.is_empty() || log.len() as i64 >= page["last_seq"].as_i64().expect("last") {
                break;
            }
        }
        for (index, entry) in log.iter().enumerate() {
            assert_eq!(
                entry[0],
                index + 1,
                "room {id}: the log's seqs run 1, 2, … without gaps"
            );
        }
        let mut ids: Vec<&str> = log
            .iter()
            .map(|e| e[3].as_str().expect("client id"))
            .collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(
            ids.len(),
            before,
            "room {id}: every client_id is logged once"
        );
        figures.entries += log.len();
        for client in clients.iter().filter(|c| c["room"] == id) {
            let name = client["name"].as_str().expect("name");
            figures.clients += 1;
            figures.late += usize::from(client["late"] == true);
            figures.reconnected += usize::from(count(client, "reconnects") > 0);
            figures.cursors.0 += count(client, "cursors_sent");
            figures.cursors.1 += count(client, "cursors_received");
            figures.cursors_across += count(client, "cursors_across_nodes");
            figures.live_and_caught.0 += count(client, "live");
            figures.live_and_caught.1 += count(client, "caught");
            let own = log
                .iter()
                .filter(|e| {
                    e[3].as_str()
                        .is_some_and(|c| c.starts_with(&format!("{name}-")))
                })
                .count() as u64;
            if own != count(client, "posts") {
                problems.push(format!(
                    "{name}: {} posts but {own} entries in the log",
                    count(client, "posts")
                ));
            }
            let copy = client["entries"].as_array().expect("entries");
            if copy != &log {
                figures.diverged += 1;
                let missing: Vec<&Value> = log.iter().filter(|e| !copy.contains(e)).collect();
                let extra: Vec<&Value> = copy.iter().filter(|e| !log.contains(e)).collect();
                problems.push(format!(
                    "{name} (late {}, node {}, state {}, reconnects {}, last live entry {}): {} entries, the log {}; missing {missing:?}, not in the log {extra:?}; history {}",
                    client["late"], client["node"], client["state"], client["reconnects"], client["last_live"], copy.len(), log.len(), client["history"]
                ));
            }
            for field in ["cursor_duplicates", "cursor_echoes", "cursor_out_of_order"] {
                if count(client, field) > 0 {
                    problems.push(format!("{name}: {field} = {}", count(client, field)));
                }
            }
            for failure in client["failures"].as_array().expect("failures") {
                problems.push(format!("{name}: {failure}"));
            }
            for error in client["server_errors"].as_array().expect("server errors") {
                server_errors.push(ServerError {
                    at: error["at"].as_i64().expect("at"),
                    status: error["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(0),
                    code: error["code"].as_str().map(str::to_owned),
                    what: format!("{name}: {} on :{}", error["path"], error["port"]),
                });
            }
        }
    }
    assert!(problems.is_empty(), "the rooms: {problems:#?}");
    (figures, server_errors)
}
