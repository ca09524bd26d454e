//! The scaled-out topology on loopback, in one place (the README's "Scaled out" section points
//! here): PostgreSQL in a schema of its own, reached through [`PgProxy`] so a test can cut the
//! database off and bring it back; the object store of the sandbox (S3 when the test asks for
//! it); `atelier serve --workers 0` API nodes and `atelier worker` processes — the very binary
//! and commands a deployment runs, each a child process a test can `kill -9` and restart.
//!
//! Every node shares the Pusher secret [`SECRET`] (as a deployment would configure it), so tests
//! sign channel subscriptions themselves. Each process logs JSON lines to its own file in the
//! sandbox ([`Cluster::log_lines`] reads them all, restarts included); a failing test prints
//! the end of every log.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    task::JoinHandle,
};

use crate::helpers::{Backend, Sandbox, binary, free_port, wait_until_up};

/// The Pusher app secret every node of the cluster shares.
pub const SECRET: &str = "cluster-test-secret";
/// The Pusher app key (the default).
pub const KEY: &str = "atelier-key";

/// A TCP proxy in front of PostgreSQL: [`PgProxy::cut`] drops every proxied connection and
/// refuses new ones (what clients see while the server restarts); [`PgProxy::restore`] accepts
/// again on the same port.
pub struct PgProxy {
    port: u16,
    target: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl PgProxy {
    /// A proxy on a free loopback port forwarding to `target`.
    pub async fn start(target: SocketAddr) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let proxy = PgProxy {
            port,
            target,
            accept: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let connections = Arc::clone(&self.connections);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut open = connections.lock().expect("lock");
                open.retain(|task| !task.is_finished());
                open.push(pipe);
            }
        });
        *self.accept.lock().expect("lock") = Some(task);
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        if let Some(task) = self.accept.lock().expect("lock").take() {
            task.abort();
        }
        for task in self.connections.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    /// Accepts connections again, on the same port.
    pub async fn restore(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the proxy could not listen on port {} again", self.port);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// One `atelier` process of the cluster.
pub struct Node {
    /// The HTTP port (`serve`; 0 for workers).
    pub port: u16,
    /// `serve-PORT` or `worker-N`: the name of its log file.
    pub label: String,
    command: Vec<String>,
    child: Child,
}

impl Node {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }

    /// SIGTERM (what a process manager sends), and wait up to `limit` for the process to exit.
    pub async fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM {pid}");
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {limit:?} of SIGTERM", self.label))
            .expect("wait")
    }
}

/// PostgreSQL (through a proxy) and a store, and the processes started on them.
pub struct Cluster {
    /// The schema, store and data folder.
    pub sandbox: Sandbox,
    /// The proxy every process reaches PostgreSQL through.
    pub proxy: PgProxy,
    database_url: String,
    /// Flags every process gets (fast job timings, a short wait for database connections).
    pub common: Vec<String>,
    workers: AtomicUsize,
}

impl Cluster {
    /// PostgreSQL and a local object folder (`store_on_s3` false) or PostgreSQL and S3; `None`
    /// (the test is skipped) when the services are not configured, unless
    /// `ATELIER_TEST_REQUIRE_SCALED=1`, which makes that a failure.
    pub async fn start(store_on_s3: bool) -> Option<Cluster> {
        let sandbox = if store_on_s3 {
            if !crate::helpers::scaled_available() {
                return None;
            }
            Sandbox::new(Backend::Scaled).await
        } else {
            Sandbox::postgres_with_local_store().await?
        };
        let url = reqwest::Url::parse(&sandbox.database_url).expect("database url");
        let host = url.host_str().expect("database host").to_owned();
        let port = url.port().unwrap_or(5432);
        let target = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve PostgreSQL")
            .next()
            .expect("an address for PostgreSQL");
        let proxy = PgProxy::start(target).await;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let database_url = sandbox.database_url.replacen(
            &format!("@{authority}"),
            &format!("@127.0.0.1:{}", proxy.port()),
            1,
        );
        assert_ne!(
            database_url, sandbox.database_url,
            "the database URL names user@host[:port]"
        );
        let common = [
            "--job-poll-ms",
            "50",
            "--job-backoff-ms",
            "100",
            "--db-acquire-timeout-ms",
            "1000",
        ]
        .map(str::to_owned)
        .to_vec();
        std::fs::create_dir_all(sandbox.dir.path().join("logs")).expect("log folder");
        Some(Cluster {
            sandbox,
            proxy,
            database_url,
            common,
            workers: AtomicUsize::new(0),
        })
    }

    fn log_path(&self, label: &str) -> PathBuf {
        self.sandbox
            .dir
            .path()
            .join("logs")
            .join(format!("{label}.log"))
    }

    fn spawn(&self, label: &str, command: &[String]) -> Child {
        let models = crate::helpers::test_models_config();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(label))
            .expect("log file");
        Command::new(binary())
            .args(command)
            .args([
                "--data-dir",
                self.sandbox.dir.path().to_str().expect("utf8"),
            ])
            .args(["--database-url", &self.database_url])
            .args(["--storage", &self.sandbox.storage])
            // One model cache for the whole test run (the runtime library is fetched once).
            .args(["--models-dir", &models.cache_dir.display().to_string()])
            .args(&self.common)
            .env("ATELIER_PUSHER_SECRET", SECRET)
            .env("ATELIER_LOG", "info")
            .env("ATELIER_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start atelier")
    }

    /// Starts `atelier serve --workers 0` (plus `extra`) on a free port and waits until ready.
    pub async fn serve(&self, extra: &[&str]) -> Node {
        let port = free_port();
        let mut command: Vec<String> = [
            "serve",
            "--workers",
            "0",
            "--presence-node-timeout-secs",
            "2",
            "--bind",
        ]
        .map(str::to_owned)
        .to_vec();
        command.push(format!("127.0.0.1:{port}"));
        command.extend(extra.iter().map(|s| (*s).to_owned()));
        let label = format!("serve-{port}");
        let node = Node {
            port,
            child: self.spawn(&label, &command),
            label,
            command,
        };
        wait_until_up(&node.base()).await;
        node
    }

    /// Starts `atelier worker` (plus `extra`).
    pub fn worker(&self, extra: &[&str]) -> Node {
        let mut command = vec!["worker".to_owned()];
        command.extend(extra.iter().map(|s| (*s).to_owned()));
        let label = format!("worker-{}", self.workers.fetch_add(1, Ordering::Relaxed));
        Node {
            port: 0,
            child: self.spawn(&label, &command),
            label,
            command,
        }
    }

    /// Starts `node`'s command again (after a kill), on the same port.
    pub async fn restart(&self, node: &mut Node) {
        node.child = self.spawn(&node.label, &node.command);
        if node.port != 0 {
            wait_until_up(&node.base()).await;
        }
    }

    /// Every JSON line every process of the cluster logged so far, with its process's label.
    pub fn log_lines(&self) -> Vec<(String, serde_json::Value)> {
        let mut lines = Vec::new();
        let folder = self.sandbox.dir.path().join("logs");
        for entry in std::fs::read_dir(folder).expect("log folder").flatten() {
            let path = entry.path();
            let label = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).expect("log");
            lines.extend(
                text.lines()
                    .filter_map(|line| serde_json::from_str(line).ok())
                    .map(|line| (label.clone(), line)),
            );
        }
        lines
    }
}

impl Drop for Cluster {
    /// A failing test shows the end of every process's log.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let folder = self.sandbox.dir.path().join("logs");
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- the last lines of {}:", entry.path().display());
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{line}");
            }
        }
    }
}

/// A request to the Pusher HTTP API of `node`, signed with [`SECRET`] as Pusher's server
/// libraries sign it (`body`: `Some` for POST).
pub async fn pusher_api(node: &Node, path: &str, body: Option<&str>) -> reqwest::Response {
    use atelier_server::realtime::signing;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let method = if body.is_some() { "POST" } else { "GET" };
    let (path, extra) = path.split_once('?').unwrap_or((path, ""));
    let mut query = format!("auth_key={KEY}&auth_timestamp={now}&auth_version=1.0");
    if let Some(body) = body {
        query.push_str(&format!("&body_md5={}", signing::body_md5(body.as_bytes())));
    }
    if !extra.is_empty() {
        query.push('&');
        query.push_str(extra);
    }
    let to_sign = signing::request_string_to_sign(method, path, &signing::query_pairs(&query));
    let signature = signing::hmac_hex(SECRET, &to_sign);
    let url = node.url(&format!("{path}?{query}&auth_signature={signature}"));
    let client = reqwest::Client::new();
    let request = match body {
        Some(body) => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned()),
        None => client.get(url),
    };
    request.send().await.expect("Pusher HTTP API")
}

/// Registers a parent account through `node`: (token, user id).
pub async fn register(client: &reqwest::Client, node: &Node, username: &str) -> (String, i64) {
    let response = client
        .post(node.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"username": username, "password": "correct horse", "gender": "Male", "type": "Parent"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201, "register {username}");
    let body: serde_json::Value = response.json().await.expect("json");
    (
        body["token"].as_str().expect("token").to_owned(),
        body["user"]["id"].as_i64().expect("user id"),
    )
}

/// Uploads `bytes` through `node`; the upload id.
pub async fn upload(client: &reqwest::Client, node: &Node, token: &str, bytes: Vec<u8>) -> String {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("a.png");
    let response = client
        .post(node.url("/api/v1/uploads"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201, "upload");
    let body: serde_json::Value = response.json().await.expect("json");
    body["id"].as_str().expect("upload id").to_owned()
}

/// `POST /api/v1/jobs` through `node`.
pub async fn create_job(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    kind: &str,
    params: serde_json::Value,
) -> reqwest::Response {
    client
        .post(node.url("/api/v1/jobs"))
        .bearer_auth(token)
        .json(&serde_json::json!({"kind": kind, "params": params}))
        .send()
        .await
        .expect("POST job")
}
