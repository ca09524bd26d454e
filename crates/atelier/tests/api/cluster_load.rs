//! The job half of the cluster workload (issue #18 §1): requests sent through a stand-in load
//! balancer over the two API nodes ([`Balancer`]: a refused or dropped connection goes to the
//! other node, every 5xx is recorded with its time and code and retried), accounts with their
//! uploads, and a mix of `thumbnail`, `animate` and `photo3d` jobs submitted at a steady pace,
//! some canceled at once and some a moment later (queued or running by then).

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
}

/// Registers `count` accounts through alternating nodes, each with its uploads.
pub async fn accounts(balancer: &Balancer, count: usize) -> Vec<Account> {
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
        for bytes in [images::png(96, 72), drawing(160, 160, 1)] {
            let body = balancer
                .json(n, "upload", 201, |base| {
                    let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name("a.png");
                    balancer
                        .client
                        .post(format!("{base}/api/v1/uploads"))
                        .bearer_auth(&token)
                        .multipart(reqwest::multipart::Form::new().part("file", part))
                })
                .await;
            ids.push(body["id"].as_str().expect("upload id").to_owned());
        }
        let figure = ids.pop().expect("figure");
        let picture = ids.pop().expect("picture");
        accounts.push(Account {
            token,
            picture,
            figure,
        });
    }
    accounts
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
}

/// `thumbnails`, `animations` and `photos` jobs spread evenly through one sequence.
pub fn plan(thumbnails: usize, animations: usize, photos: usize) -> Vec<Kind> {
    let total = thumbnails + animations + photos;
    let mut placed = [0usize; 3];
    let wanted = [thumbnails, animations, photos];
    let kinds = [Kind::Thumbnail, Kind::Animate, Kind::Photo3d];
    (0..total)
        .map(|n| {
            // The kind furthest behind its share of the first n + 1 jobs goes next.
            let pick = (0..3)
                .filter(|k| placed[*k] < wanted[*k])
                .max_by(|a, b| {
                    let lag =
                        |k: usize| (wanted[k] * (n + 1)) as f64 / total as f64 - placed[k] as f64;
                    lag(*a).total_cmp(&lag(*b)).then(b.cmp(a))
                })
                .expect("a kind left");
            placed[pick] += 1;
            kinds[pick]
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

/// Submits job `n` of kind `kind` for `account` through node `n % 2`; the job id.
pub async fn submit(balancer: &Balancer, account: &Account, n: usize, kind: Kind) -> String {
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
    };
    let job = if body["job"].is_object() {
        &body["job"]
    } else {
        &body
    };
    job["id"].as_str().expect("job id").to_owned()
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
