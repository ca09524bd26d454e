//! The test harness: a real atelier on an ephemeral port, on SQLite + a local folder or on
//! PostgreSQL + S3 (each test gets its own schema and key prefix), plus helpers to drive it.

use std::{path::PathBuf, sync::Arc, time::Duration};

use atelier_platform::{Platform, PlatformConfig, storage::StorageLocation};
use atelier_server::{Application, ServerConfig};
use reqwest::{Client, Response, StatusCode, multipart};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Environment variable naming the PostgreSQL server for the scaled-out runs.
pub const PG_ENV: &str = "ATELIER_TEST_POSTGRES_URL";
/// Environment variable naming the S3 bucket for the scaled-out runs (an `s3://` storage spec).
pub const S3_ENV: &str = "ATELIER_TEST_S3";
/// When set to 1, the scaled-out runs must happen: missing services fail the tests.
pub const REQUIRE_ENV: &str = "ATELIER_TEST_REQUIRE_SCALED";

/// Which database and store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + local folder (embedded mode).
    Embedded,
    /// PostgreSQL + S3-compatible store (scaled-out mode).
    Scaled,
}

/// Generates one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name($crate::helpers::Backend::Embedded).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn scaled() {
                    if $crate::helpers::scaled_available() {
                        super::$name($crate::helpers::Backend::Scaled).await;
                    }
                }
            }
        )+
    };
}

/// Whether the PostgreSQL + S3 services are configured; panics when they are required but absent.
pub fn scaled_available() -> bool {
    let present = std::env::var(PG_ENV).is_ok() && std::env::var(S3_ENV).is_ok();
    if !present {
        if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
            panic!("{REQUIRE_ENV}=1 but {PG_ENV} or {S3_ENV} is not set");
        }
        eprintln!("skipping the PostgreSQL + S3 run: set {PG_ENV} and {S3_ENV} (as .ci/run does)");
    }
    present
}

/// A database and store made for one test, removed afterwards.
pub struct Sandbox {
    /// The temporary folder (data dir, SQLite file, local objects).
    pub dir: tempfile::TempDir,
    /// The database URL.
    pub database_url: String,
    /// The storage spec.
    pub storage: String,
    pg_schema: Option<(String, String)>,
}

impl Sandbox {
    /// Makes a fresh sandbox on `backend`.
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Embedded => Sandbox {
                database_url: format!("sqlite://{}", dir.path().join("atelier.db").display()),
                storage: dir.path().join("objects").display().to_string(),
                dir,
                pg_schema: None,
            },
            Backend::Scaled => {
                let base = std::env::var(PG_ENV).expect("postgres url");
                let schema = format!("t_{}", random_suffix());
                let admin = sqlx::PgPool::connect(&base)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .expect("create schema");
                admin.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let s3 = std::env::var(S3_ENV).expect("s3 spec");
                let (location, query) = s3.split_once('?').unwrap_or((&s3, ""));
                Sandbox {
                    database_url: format!("{base}{separator}options[search_path]={schema}"),
                    storage: format!("{}/{schema}?{query}", location.trim_end_matches('/')),
                    dir,
                    pg_schema: Some((base, schema)),
                }
            }
        }
    }

    /// PostgreSQL (its own schema) with a local object folder, for tests that need only the
    /// database to be shared; `None` (skipped) when PostgreSQL is not configured, unless the
    /// scaled-out runs are required.
    pub async fn postgres_with_local_store() -> Option<Self> {
        let Ok(base) = std::env::var(PG_ENV) else {
            if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
                panic!("{REQUIRE_ENV}=1 but {PG_ENV} is not set");
            }
            eprintln!("skipping the PostgreSQL run: set {PG_ENV}");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = format!("t_{}", random_suffix());
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Some(Sandbox {
            database_url: format!("{base}{separator}options[search_path]={schema}"),
            storage: dir.path().join("objects").display().to_string(),
            dir,
            pg_schema: Some((base, schema)),
        })
    }

    /// A platform configuration on this sandbox with fast job timings for tests.
    pub fn platform_config(&self) -> PlatformConfig {
        let mut config = PlatformConfig::embedded(self.dir.path());
        config.database_url = self.database_url.clone();
        config.storage = StorageLocation::parse(&self.storage).expect("storage spec");
        config.jobs.poll_interval = Duration::from_millis(50);
        config.jobs.backoff_base = Duration::from_millis(100);
        config.jobs.lease = Duration::from_secs(5);
        config.models = test_models_config();
        config
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_schema.take() {
            // Drop runs outside any runtime guarantee: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = sqlx::PgPool::connect(&base).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&admin)
                    .await
                    .ok()?;
                    admin.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

/// Models for tests: one cache shared by every test of the run (the model and the ONNX Runtime
/// library are fetched once), chosen lazily.
pub fn test_models_config() -> atelier_platform::models::ModelsConfig {
    let cache = std::env::var("ATELIER_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atelier-cache"));
    let mut config = atelier_platform::models::ModelsConfig::under(&cache);
    config.cache_dir = cache;
    config.warm_up = false;
    config
}

/// A short random lowercase suffix.
pub fn random_suffix() -> String {
    atelier_platform::secrets::random_code(10).to_lowercase()
}

/// A running atelier and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The platform behind the server (for inspection).
    pub platform: Platform,
    /// An HTTP client without cookies.
    pub client: Client,
    /// The sandbox (kept alive for the app's lifetime).
    pub sandbox: Arc<Sandbox>,
    /// The real-time server (its key and secret, its hub).
    pub realtime: Arc<atelier_server::realtime::Realtime>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Options for [`spawn_app_with`].
pub struct AppOptions {
    /// In-process workers.
    pub workers: usize,
    /// Adjusts the platform configuration.
    pub tweak: Box<dyn FnOnce(&mut PlatformConfig) + Send>,
    /// The Pusher-protocol server's settings.
    pub realtime: atelier_server::realtime::RealtimeConfig,
    /// Adjusts the server configuration (request and detection limits).
    pub server: Box<dyn FnOnce(&mut ServerConfig) + Send>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            tweak: Box::new(|_| {}),
            realtime: Default::default(),
            server: Box::new(|_| {}),
        }
    }
}

/// Starts atelier on `backend` with default test options.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppOptions::default()).await
}

/// Starts atelier on `backend` with `options`.
pub async fn spawn_app_with(backend: Backend, options: AppOptions) -> TestApp {
    let sandbox = Arc::new(Sandbox::new(backend).await);
    spawn_on(sandbox, options).await
}

/// Starts atelier on an existing sandbox.
pub async fn spawn_on(sandbox: Arc<Sandbox>, options: AppOptions) -> TestApp {
    let mut config = sandbox.platform_config();
    (options.tweak)(&mut config);
    let mut server = ServerConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        workers: options.workers,
        secure_cookies: false,
        trust_forwarded_for: false,
        shutdown_grace: Duration::from_secs(5),
        realtime: options.realtime,
        ..ServerConfig::default()
    };
    (options.server)(&mut server);
    let app = Application::build(server, config).await.expect("build app");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let platform = app.platform().clone();
    let realtime = app.realtime().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("server run");
    });
    TestApp {
        base,
        platform,
        realtime,
        client: Client::new(),
        sandbox,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// `base + path`, or `path` itself when it is already an absolute link.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            // Already absolute: an S3 presigned link.
            return path.to_owned();
        }
        format!("{}{path}", self.base)
    }

    /// Registers a user and returns its bearer token and JSON.
    pub async fn register(&self, username: &str, role: &str) -> (String, Value) {
        let response = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"username": username, "password": "correct horse", "gender": "Other", "type": role}))
            .send()
            .await
            .expect("register");
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        let body: Value = response.json().await.expect("json");
        (
            body["token"].as_str().expect("token").to_owned(),
            body["user"].clone(),
        )
    }

    /// A fresh user's token (unique username).
    pub async fn user(&self) -> String {
        self.register(&format!("user_{}", random_suffix()), "Parent")
            .await
            .0
    }

    /// Creates a drawing room of `width × height` as `token`; returns its JSON.
    pub async fn create_drawing(&self, token: &str, width: u32, height: u32) -> Value {
        let response = self
            .post_json(
                token,
                "/api/v1/drawings",
                json!({"width": width, "height": height}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// GET with a bearer token.
    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    /// POST JSON with a bearer token.
    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// Uploads `bytes` as the multipart part `file`.
    pub async fn upload(&self, token: &str, bytes: Vec<u8>, filename: &str) -> Response {
        let part = multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str("image/png")
            .expect("mime");
        self.client
            .post(self.url("/api/v1/uploads"))
            .bearer_auth(token)
            .multipart(multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("upload")
    }

    /// Uploads `bytes`, expecting success; returns the upload JSON.
    pub async fn upload_ok(&self, token: &str, bytes: Vec<u8>) -> Value {
        let response = self.upload(token, bytes, "picture.png").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Creates a job, returning the response.
    pub async fn create_job(&self, token: &str, kind: &str, params: Value) -> Response {
        self.post_json(
            token,
            "/api/v1/jobs",
            json!({"kind": kind, "params": params}),
        )
        .await
    }

    /// Polls a job until `done(job)` holds or `timeout` passes; returns the last JSON.
    pub async fn wait_job(
        &self,
        token: &str,
        id: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_job_at(&self.client, &self.base, token, id, timeout, done).await
    }

    /// Counts the blob files under the local object folder (embedded sandboxes only).
    pub fn local_blob_count(&self) -> usize {
        count_files(self.sandbox.dir.path().join("objects"))
    }
}

/// Polls `GET /api/v1/jobs/{id}` on `base`.
pub async fn wait_job_at(
    client: &Client,
    base: &str,
    token: &str,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job: Value = client
            .get(format!("{base}/api/v1/jobs/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET job")
            .json()
            .await
            .expect("job json");
        if done(&job) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for job {id}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count_files(dir: PathBuf) -> usize {
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { count_files(path) } else { 1 }
        })
        .sum()
}

/// Whether a job JSON is in `status`.
pub fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |job| job["status"] == status
}

/// A form-encoded body (`application/x-www-form-urlencoded`) of plain pairs, as pusher-js posts
/// to the auth endpoint (the values used here need no escaping).
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to `/pusher/auth`, with a bearer token when given.
pub async fn pusher_auth(
    app: &TestApp,
    token: Option<&str>,
    socket_id: &str,
    channel: &str,
) -> Response {
    let mut request = app
        .client
        .post(app.url("/pusher/auth"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("socket_id", socket_id),
            ("channel_name", channel),
        ]));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("POST /pusher/auth")
}

/// Reads a JSON error body and returns its code.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("error json");
    assert!(
        body["error"]["message"].is_string(),
        "error body has a message: {body}"
    );
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}

/// Test images, encoded by the `image` crate.
pub mod images {
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

    /// A `width × height` gradient image encoded as `format`.
    pub fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut out, format)
            .expect("encode");
        out.into_inner()
    }

    /// A PNG.
    pub fn png(width: u32, height: u32) -> Vec<u8> {
        encoded(width, height, ImageFormat::Png)
    }

    /// A JPEG.
    pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
        encoded(width, height, ImageFormat::Jpeg)
    }

    /// A small, valid PNG whose header claims `width × height` and whose one compressed row
    /// would inflate to far more memory than the file's size: a decompression bomb.
    pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        // Fix the IHDR CRC so the header itself is valid.
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }
}

/// The path of the `atelier` binary built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_atelier")
}

/// A TCP port free on 127.0.0.1 right now (for a spawned `atelier serve`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits (up to 30 s: a restart on a loaded CI machine) until the atelier at `base` answers
/// `/readyz` with 200.
pub async fn wait_until_up(base: &str) {
    let client = Client::new();
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("atelier at {base} did not become ready");
}

/// A real, small H.264 MP4 (four 32 × 32 frames) made by atelier's own muxer.
pub fn tiny_mp4() -> Vec<u8> {
    let frames: Vec<atelier_imaging::RgbaImage> = (0..4u8)
        .map(|i| {
            atelier_imaging::RgbaImage::from_pixel(32, 32, image::Rgba([i * 60, 90, 200, 255]))
        })
        .collect();
    atelier_imaging::animation::encode_mp4(&frames, 8, &Default::default()).expect("encode MP4")
}

/// Registers a user over HTTP at `base` (a server process the test started): (token, user id).
pub async fn register_at(client: &reqwest::Client, base: &str, username: &str) -> (String, i64) {
    let register: Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": username, "password": "correct horse", "gender": "Male", "type": "Parent"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    (
        register["token"].as_str().expect("token").to_owned(),
        register["user"]["id"].as_i64().expect("user id"),
    )
}
