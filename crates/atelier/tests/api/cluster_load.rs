//! The job half of the cluster workload (issue #18 §1): requests sent through a stand-in load
//! balancer over the two API nodes ([`Balancer`]: a refused or dropped connection goes to the
//! other node, every 5xx is recorded with its time and code and retried), accounts with their
//! uploads and detector-studio projects, and a mix of `thumbnail`, `animate`, `photo3d`,
//! `studio_import` and `train` jobs submitted at a steady pace, some canceled at once and some
//! a moment later (queued or running by then).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{animate::drawing, helpers::images};

/// Milliseconds since the Unix epoch (the Node clients stamp their 5xx answers the same way).
pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A 5xx answer: when, what, and the error code of its body.
#[derive(Debug, Clone)]
pub struct ServerError {
    /// Unix ms.
    pub at: i64,
    /// The status.
    pub status: u16,
    /// The body's `error.code`.
    pub code: Option<String>,
    /// The request.
    pub what: String,
}

/// What the balancer saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests answered (5xx included).
    pub answered: usize,
    /// 5xx answers (each retried).
    pub server_errors: Vec<ServerError>,
    /// Connections refused (a node down), sent to the other node.
    pub refused: usize,
    /// Requests whose connection broke in flight (a node killed), sent again to the other node.
    pub dropped: usize,
}

/// The two API nodes behind a stand-in load balancer.
pub struct Balancer {
    /// The HTTP client.
    pub client: reqwest::Client,
    ports: [u16; 2],
    /// What happened so far.
    pub tally: Mutex<Tally>,
}

impl Balancer {
    /// A balancer over the nodes on `ports`.
    pub fn new(ports: [u16; 2]) -> Self {
        Balancer {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            ports,
            tally: Mutex::new(Tally::default()),
        }
    }

    /// `http://127.0.0.1:PORT` of node `index`.
    pub fn base(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[index % 2])
    }

    /// Sends `make(base)` to node `preferred`, or the other one when a connection is refused or
    /// breaks; a 5xx is recorded and the request sent again after a pause. Returns the first
    /// answer below 500.
    pub async fn send(
        &self,
        preferred: usize,
        what: &str,
        make: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut node = preferred % 2;
        while Instant::now() < deadline {
            match make(&self.base(node)).send().await {
                Ok(response) if response.status().is_server_error() => {
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    {
                        let mut tally = self.tally.lock().expect("lock");
                        tally.answered += 1;
                        tally.server_errors.push(ServerError {
                            at: epoch_ms(),
                            status,
                            code: body["error"]["code"].as_str().map(str::to_owned),
                            what: format!("{what} on :{}", self.ports[node]),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(response) => {
                    self.tally.lock().expect("lock").answered += 1;
                    return response;
                }
                Err(err) => {
                    {
                        let mut tally = self.tally.lock().expect("lock");
                        if err.is_connect() {
                            tally.refused += 1;
                        } else {
                            tally.dropped += 1;
                        }
                    }
                    node = 1 - node;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("{what}: no node answered below 500 within 120 s");
    }

    /// [`Balancer::send`], then the JSON body of an answer with status `expected`.
    pub async fn json(
        &self,
        preferred: usize,
        what: &str,
        expected: u16,
        make: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Value {
        let response = self.send(preferred, what, make).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{what}: {body}");
        body
    }
}

/// An account of the job workload and its uploads.
pub struct Account {
    /// Bearer token.
    pub token: String,
    /// A photo (thumbnails, 3D photos).
    pub picture: String,
    /// A drawn figure (animations).
    pub figure: String,
    /// A short synthetic H.264 clip (studio imports).
    pub clip: String,
    /// Detector-studio projects, each with labels and one imported, annotated clip: one per
    /// training of the workload (a project trains once at a time).
    pub projects: Vec<i64>,
}

/// Frames of the workload's studio clip (every other one a key frame: long enough that a
/// training takes a few seconds, so a fault can meet one).
pub const CLIP_FRAMES: i64 = 96;

/// Registers `count` accounts through alternating nodes, each with its uploads and `projects`
/// studio projects ready to train (their clips imported by the workers and annotated).
pub async fn accounts(balancer: &Balancer, count: usize, projects: usize) -> Vec<Account> {
    let video = atelier_detector::synth::video(
        &atelier_detector::synth::SynthParams {
            objects: 2,
            seed: 5,
            ..Default::default()
        },
        CLIP_FRAMES as u32,
        2,
    );
    let clip = crate::studio::mp4(&video);
    let mut accounts = Vec::new();
    for n in 0..count {
        let name = format!("jobs{n}_{}", crate::helpers::random_suffix());
        let body = balancer
            .json(n, "register", 201, |base| {
                balancer
                    .client
                    .post(format!("{base}/api/v1/auth/register"))
                    .json(&json!({"username": name, "password": "correct horse", "gender": "Male", "type": "Parent"}))
            })
            .await;
        let token = body["token"].as_str().expect("token").to_owned();
        let mut ids = Vec::new();
        for (bytes, file) in [
            (images::png(96, 72), "a.png"),
            (drawing(160, 160, 1), "a.png"),
            (clip.clone(), "clip.mp4"),
        ] {
            let body = balancer
                .json(n, "upload", 201, |base| {
                    let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(file);
                    balancer
                        .client
                        .post(format!("{base}/api/v1/uploads"))
                        .bearer_auth(&token)
                        .multipart(reqwest::multipart::Form::new().part("file", part))
                })
                .await;
            ids.push(body["id"].as_str().expect("upload id").to_owned());
        }
        let [picture, figure, clip] = <[String; 3]>::try_from(ids).expect("three uploads");
        let mut account = Account {
            token,
            picture,
            figure,
            clip,
            projects: Vec::new(),
        };
        account.projects = trainable_projects(balancer, &account, n, projects, &video).await;
        accounts.push(account);
    }
    accounts
}

/// Adds the account's clip to project `pid` (a `studio_import` job); the media JSON.
async fn add_clip(balancer: &Balancer, account: &Account, n: usize, pid: i64) -> Value {
    balancer
        .json(n, "POST media", 202, |base| {
            balancer
                .client
                .post(format!("{base}/api/v1/studio/projects/{pid}/media"))
                .bearer_auth(&account.token)
                .json(&json!({"upload_id": account.clip}))
        })
        .await
}

/// `count` projects of `account`'s with a label per synthetic class, each with the clip
/// imported (all imports queued first, then awaited) and its tracks put.
async fn trainable_projects(
    balancer: &Balancer,
    account: &Account,
    n: usize,
    count: usize,
    video: &atelier_detector::synth::SynthVideo,
) -> Vec<i64> {
    let client = &balancer.client;
    let token = &account.token;
    let mut imported = Vec::new();
    for p in 0..count {
        let project = balancer
            .json(n + p, "POST project", 201, |base| {
                client
                    .post(format!("{base}/api/v1/studio/projects"))
                    .bearer_auth(token)
                    .json(&json!({"name": format!("shapes {p}")}))
            })
            .await;
        let pid = project["id"].as_i64().expect("project id");
        let mut labels = Vec::new();
        for name in atelier_detector::synth::CLASSES {
            let label = balancer
                .json(n + p, "POST label", 201, |base| {
                    client
                        .post(format!("{base}/api/v1/studio/projects/{pid}/labels"))
                        .bearer_auth(token)
                        .json(&json!({"name": name}))
                })
                .await;
            labels.push(label["id"].as_i64().expect("label id"));
        }
        let media = add_clip(balancer, account, n + p, pid).await;
        imported.push((pid, media["id"].as_i64().expect("media id"), labels));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (pid, mid, labels) in &imported {
        loop {
            let media = balancer
                .json(n, "GET media", 200, |base| {
                    client
                        .get(format!("{base}/api/v1/studio/media/{mid}"))
                        .bearer_auth(token)
                })
                .await;
            match media["status"].as_str() {
                Some("ready") => break,
                Some("importing") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => panic!("the clip of project {pid} did not import: {media}"),
            }
        }
        balancer
            .json(n, "POST annotations", 200, |base| {
                client
                    .post(format!("{base}/api/v1/studio/media/{mid}/annotations"))
                    .bearer_auth(token)
                    .json(
                        &json!({"base_version": 0, "ops": crate::studio::track_ops(video, labels)}),
                    )
            })
            .await;
    }
    imported.iter().map(|(pid, _, _)| *pid).collect()
}

/// The kinds of job in the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `POST /api/v1/jobs` `thumbnail`.
    Thumbnail,
    /// `POST /api/v1/animations`.
    Animate,
    /// `POST /api/v1/photo3d`.
    Photo3d,
    /// `POST /api/v1/studio/projects/{pid}/media` (a `studio_import` job).
    Import,
    /// `POST /api/v1/studio/projects/{pid}/train` (a `train` job).
    Train,
}

/// Jobs of each kind (`(kind, how many)`) spread evenly through one sequence.
pub fn plan(wanted: &[(Kind, usize)]) -> Vec<Kind> {
    let total: usize = wanted.iter().map(|(_, count)| count).sum();
    let mut placed = vec![0usize; wanted.len()];
    (0..total)
        .map(|n| {
            // The kind furthest behind its share of the first n + 1 jobs goes next.
            let pick = (0..wanted.len())
                .filter(|k| placed[*k] < wanted[*k].1)
                .max_by(|a, b| {
                    let lag =
                        |k: usize| (wanted[k].1 * (n + 1)) as f64 / total as f64 - placed[k] as f64;
                    lag(*a).total_cmp(&lag(*b)).then(b.cmp(a))
                })
                .expect("a kind left");
            placed[pick] += 1;
            wanted[pick].0
        })
        .collect()
}

/// What became of a cancel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Not asked.
    No,
    /// Canceled (200).
    Done,
    /// Asked too late: the job had already finished (409).
    TooLate,
}

/// One submitted job.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// Job id.
    pub id: String,
    /// The kind.
    pub kind: Kind,
    /// The account index.
    pub account: usize,
    /// Whether it was canceled.
    pub cancel: Cancel,
}

/// Submits job `n` of kind `kind` for `account` through node `n % 2`; the job id. A training
/// goes to the account's project `project` (one training per project).
pub async fn submit(
    balancer: &Balancer,
    account: &Account,
    n: usize,
    kind: Kind,
    project: usize,
) -> String {
    let token = &account.token;
    let client = &balancer.client;
    let body = match kind {
        Kind::Thumbnail => {
            balancer
                .json(n, "POST thumbnail", 201, |base| {
                    client
                        .post(format!("{base}/api/v1/jobs"))
                        .bearer_auth(token)
                        .json(&json!({"kind": "thumbnail", "params": {"upload_id": account.picture, "max_side": 16 + n % 48}}))
                })
                .await
        }
        Kind::Animate => {
            balancer
                .json(n, "POST animation", 202, |base| {
                    client
                        .post(format!("{base}/api/v1/animations"))
                        .bearer_auth(token)
                        .multipart(
                            reqwest::multipart::Form::new()
                                .text("upload_id", account.figure.clone())
                                .text("motion", "wave")
                                .text("fps", "6")
                                .text("duration_s", "0.5")
                                .text("size", "64")
                                .text("formats", "gif"),
                        )
                })
                .await
        }
        Kind::Photo3d => {
            balancer
                .json(n, "POST photo3d", 202, |base| {
                    client
                        .post(format!("{base}/api/v1/photo3d"))
                        .bearer_auth(token)
                        .json(&json!({"upload_id": account.picture, "duration": 0.25, "fps": 4, "max_side": 64, "formats": ["glb"]}))
                })
                .await
        }
        Kind::Import => {
            let media = add_clip(balancer, account, n, account.projects[0]).await;
            return media["job_id"].as_str().expect("job id").to_owned();
        }
        Kind::Train => return train(balancer, account, n, account.projects[project]).await,
    };
    let job = if body["job"].is_object() {
        &body["job"]
    } else {
        &body
    };
    job["id"].as_str().expect("job id").to_owned()
}

/// Starts a short training of project `pid`; the `train` job's id. A 409 `training_running`
/// is this very request sent again after its connection broke (each project trains once in
/// the workload): the job is the project's training in the account's job list.
async fn train(balancer: &Balancer, account: &Account, n: usize, pid: i64) -> String {
    let client = &balancer.client;
    let response = balancer
        .send(n, "POST train", |base| {
            client
                .post(format!("{base}/api/v1/studio/projects/{pid}/train"))
                .bearer_auth(&account.token)
                .json(&json!({"max_epochs": 4, "time_budget_secs": 4}))
        })
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        202 => body["job_id"].as_str().expect("job id").to_owned(),
        409 if body["error"]["code"] == "training_running" => {
            let jobs = balancer
                .json(n, "GET jobs", 200, |base| {
                    client
                        .get(format!("{base}/api/v1/jobs?limit=500"))
                        .bearer_auth(&account.token)
                })
                .await;
            jobs.as_array()
                .expect("job list")
                .iter()
                .find(|job| job["kind"] == "train" && job["params"]["project_id"] == pid)
                .and_then(|job| job["id"].as_str())
                .expect("the project's training")
                .to_owned()
        }
        other => panic!("POST train: {other} {body}"),
    }
}

/// Cancels `id`: `Done` when it ends canceled, `TooLate` when it had already finished.
pub async fn cancel(balancer: &Balancer, account: &Account, n: usize, id: &str) -> Cancel {
    let response = balancer
        .send(n, "cancel", |base| {
            balancer
                .client
                .post(format!("{base}/api/v1/jobs/{id}/cancel"))
                .bearer_auth(&account.token)
        })
        .await;
    match response.status().as_u16() {
        200 => Cancel::Done,
        409 => {
            // A cancel whose first try broke in flight may have landed: the job says.
            let job = balancer
                .json(n, "GET job", 200, |base| {
                    balancer
                        .client
                        .get(format!("{base}/api/v1/jobs/{id}"))
                        .bearer_auth(&account.token)
                })
                .await;
            if job["status"] == "canceled" {
                Cancel::Done
            } else {
                Cancel::TooLate
            }
        }
        other => panic!("cancel {id}: {other}"),
    }
}

/// Waits until every job of `accounts` is finished (succeeded, failed or canceled), reading
/// the lists through both nodes; panics after `limit`. The final rows by id.
pub async fn wait_all(
    balancer: &Balancer,
    accounts: &[Account],
    expected: usize,
    limit: Duration,
) -> HashMap<String, Value> {
    let deadline = Instant::now() + limit;
    let mut round = 0usize;
    loop {
        let mut finished = HashMap::new();
        let mut unfinished = Vec::new();
        for account in accounts {
            round += 1;
            let list = balancer
                .json(round, "GET jobs", 200, |base| {
                    balancer
                        .client
                        .get(format!("{base}/api/v1/jobs?limit=500"))
                        .bearer_auth(&account.token)
                })
                .await;
            for job in list.as_array().expect("job list") {
                let id = job["id"].as_str().expect("id").to_owned();
                if ["succeeded", "failed", "canceled"]
                    .contains(&job["status"].as_str().unwrap_or(""))
                {
                    finished.insert(id, job.clone());
                } else {
                    unfinished.push(format!("{id} ({})", job["status"]));
                }
            }
        }
        if unfinished.is_empty() && finished.len() >= expected {
            return finished;
        }
        assert!(
            Instant::now() < deadline,
            "jobs unfinished after {limit:?}: {unfinished:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
