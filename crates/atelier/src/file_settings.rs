//! The TOML settings file's shape: one struct per table, every field optional, unknown keys
//! refused so typos surface. The resolvers (`settings`, `guard_settings`, `limit_settings`)
//! read these after the flags and `ATELIER_*` variables.

use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;

use crate::logging::LogFormat;

/// The TOML file's shape; every field optional. Unknown keys are errors, so typos surface.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// See `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// See `--database-url`.
    pub database_url: Option<String>,
    /// See `--db-acquire-timeout-ms`.
    pub db_acquire_timeout_ms: Option<u64>,
    /// See `--storage`.
    pub storage: Option<String>,
    /// See `--sqlite-synchronous`.
    pub sqlite_synchronous: Option<atelier_platform::db::SqliteSynchronous>,
    /// `[server]`.
    #[serde(default)]
    pub server: FileServer,
    /// `[limits]`.
    #[serde(default)]
    pub limits: FileLimits,
    /// `[auth]`.
    #[serde(default)]
    pub auth: FileAuth,
    /// `[jobs]`.
    #[serde(default)]
    pub jobs: FileJobs,
    /// `[log]`.
    #[serde(default)]
    pub log: FileLog,
    /// `[models]`.
    #[serde(default)]
    pub models: FileModels,
    /// `[realtime]`.
    #[serde(default)]
    pub realtime: FileRealtime,
    /// `[photo3d]`.
    #[serde(default)]
    pub photo3d: FilePhoto3d,
    /// `[rate_limits]`.
    #[serde(default)]
    pub rate_limits: FileRateLimits,
    /// `[maintenance]`.
    #[serde(default)]
    pub maintenance: FileMaintenance,
    /// `[drawings]`.
    #[serde(default)]
    pub drawings: FileDrawings,
    /// `[animate]`.
    #[serde(default)]
    pub animate: FileAnimate,
    /// `[detect]`.
    #[serde(default)]
    pub detect: FileDetect,
    /// `[studio]`.
    #[serde(default)]
    pub studio: FileStudio,
    /// `[oidc]` and `[[oidc.providers]]`.
    #[serde(default)]
    pub oidc: crate::oidc_settings::FileOidc,
}

/// `[studio]` in the TOML file (the detector studio's media import).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStudio {
    /// See `--ffmpeg`.
    pub ffmpeg: Option<String>,
    /// See `--ffmpeg-timeout-secs`.
    pub ffmpeg_timeout_secs: Option<u64>,
    /// See `--max-video-frames`.
    pub max_video_frames: Option<usize>,
}

/// `[photo3d]` in the TOML file (the 3D-photo job kind).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePhoto3d {
    /// Queued + running `photo3d` jobs one account may have (default 2); see
    /// `--max-active-photo3d`.
    pub max_active_per_account: Option<u32>,
}

/// `[realtime]` in the TOML file (the Pusher-protocol server).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRealtime {
    /// See `--pusher-app-id`.
    pub app_id: Option<String>,
    /// See `--pusher-key`.
    pub key: Option<String>,
    /// See `--pusher-secret`.
    pub secret: Option<String>,
    /// See `--pusher-client-events-per-sec`.
    pub client_events_per_sec: Option<u32>,
    /// Advertised activity timeout in seconds [default: 120].
    pub activity_timeout_secs: Option<u64>,
    /// Largest client message / event payload in bytes [default: 10240].
    pub max_message_bytes: Option<usize>,
    /// See `--presence-node-timeout-secs`.
    pub presence_node_timeout_secs: Option<u64>,
    /// See `--channel-counts-interval-ms`.
    pub channel_counts_interval_ms: Option<u64>,
}

/// `[models]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileModels {
    /// See `--models-dir`.
    pub dir: Option<PathBuf>,
    /// See `--runtime`.
    pub runtime: Option<String>,
    /// See `--infer-threads`.
    pub threads: Option<usize>,
    /// See `--infer-lanes`.
    pub lanes: Option<usize>,
    /// See `--max-batch`.
    pub max_batch: Option<usize>,
    /// See `--max-batch-delay-ms`.
    pub max_batch_delay_ms: Option<u64>,
    /// See `--infer-queue`.
    pub queue: Option<usize>,
    /// See `--default-classifier`.
    pub default_classifier: Option<String>,
    /// See `--offline`.
    pub offline: Option<bool>,
    /// See `--cascades-dir`.
    pub cascades_dir: Option<PathBuf>,
    /// See `--package-mirror`.
    pub package_mirror: Option<String>,
}

/// `[server]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServer {
    /// See `--bind`.
    pub bind: Option<SocketAddr>,
    /// See `--workers`.
    pub workers: Option<usize>,
    /// See `--secure-cookies`.
    pub secure_cookies: Option<bool>,
    /// See `--trust-forwarded-for`.
    pub trust_forwarded_for: Option<bool>,
    /// See `--shutdown-grace-secs`.
    pub shutdown_grace_secs: Option<u64>,
    /// See `--max-json-bytes`.
    pub max_json_bytes: Option<usize>,
    /// See `--max-stroke-bytes`.
    pub max_stroke_bytes: Option<usize>,
    /// See `--max-concurrent-requests`.
    pub max_concurrent_requests: Option<usize>,
    /// See `--request-timeout-secs`.
    pub request_timeout_secs: Option<u64>,
}

/// `[limits]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    /// See `--max-upload-bytes`.
    pub max_upload_bytes: Option<u64>,
    /// See `--max-image-pixels`.
    pub max_image_pixels: Option<u64>,
    /// See `--max-image-side`.
    pub max_image_side: Option<u32>,
    /// See `--max-concurrent-decodes`.
    pub max_concurrent_decodes: Option<usize>,
    /// See `--decode-wait-ms`.
    pub decode_wait_ms: Option<u64>,
    /// See `--cpu-slots`.
    pub cpu_slots: Option<usize>,
    /// See `--cpu-queue`.
    pub cpu_queue: Option<usize>,
    /// See `--cpu-wait-ms`.
    pub cpu_wait_ms: Option<u64>,
}

/// `[auth]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAuth {
    /// See `--session-ttl-secs`.
    pub session_ttl_secs: Option<u64>,
    /// See `--link-ttl-secs`.
    pub link_ttl_secs: Option<u64>,
    /// See `--presign-s3`.
    pub presign_s3: Option<bool>,
}

/// `[jobs]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJobs {
    /// See `--max-active-jobs`.
    pub max_active_per_account: Option<u32>,
    /// See `--job-max-attempts`.
    pub max_attempts: Option<u32>,
    /// See `--job-lease-ms`.
    pub lease_ms: Option<u64>,
    /// See `--job-backoff-ms`.
    pub backoff_ms: Option<u64>,
    /// See `--job-poll-ms`.
    pub poll_ms: Option<u64>,
}

/// `[log]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// See `--log-format`.
    pub format: Option<LogFormat>,
    /// See `--log`.
    pub filter: Option<String>,
}

/// `[rate_limits]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRateLimits {
    /// See `--login-failures-per-account`.
    pub login_failures_per_account: Option<u32>,
    /// See `--login-failures-per-ip`.
    pub login_failures_per_ip: Option<u32>,
    /// See `--registrations-per-ip`.
    pub registrations_per_ip: Option<u32>,
    /// See `--join-failures-per-account`.
    pub join_failures_per_account: Option<u32>,
    /// See `--join-failures-per-ip`.
    pub join_failures_per_ip: Option<u32>,
}

/// `[drawings]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDrawings {
    /// See `--max-ink-per-stroke`.
    pub max_ink_per_stroke: Option<f64>,
    /// See `--max-ink-per-drawing`.
    pub max_ink_per_drawing: Option<i64>,
    /// See `--max-concurrent-renders`.
    pub max_concurrent_renders: Option<usize>,
    /// See `--render-wait-secs`.
    pub render_wait_secs: Option<u64>,
}

/// `[animate]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnimate {
    /// See `--max-animation-pixels`.
    pub max_frame_pixels: Option<u64>,
    /// See `--max-sprite-sheet-pixels`.
    pub max_sheet_pixels: Option<u64>,
}

/// `[maintenance]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMaintenance {
    /// See `--maintenance-interval-secs`.
    pub interval_secs: Option<u64>,
    /// See `--blob-grace-secs`.
    pub blob_grace_secs: Option<u64>,
}

/// `[detect]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDetect {
    /// See `--max-cascade-bytes`.
    pub max_cascade_bytes: Option<usize>,
    /// See `--max-cascade-stages`.
    pub max_cascade_stages: Option<usize>,
    /// See `--max-cascade-trees`.
    pub max_cascade_trees: Option<usize>,
    /// See `--max-cascade-features`.
    pub max_cascade_features: Option<usize>,
    /// See `--max-detect-side`.
    pub max_image_side: Option<u32>,
    /// See `--max-detect-candidates`.
    pub max_candidates: Option<usize>,
    /// See `--detect-deadline-ms`.
    pub deadline_ms: Option<u64>,
}
