//! The platform's configuration: plain typed sections, filled by the binary from flags, the
//! environment and a TOML file (see the `atelier` crate for the precedence).

use std::{path::PathBuf, time::Duration};

use crate::{storage::StorageLocation, uploads::UploadLimits};

/// Everything the platform needs to open its database and store and run jobs.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// `sqlite://PATH` (embedded) or `postgres://…` (scaled out).
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// How long a query waits for a database connection before failing (503
    /// `database-unavailable` while the database is down).
    pub db_acquire_timeout: Duration,
    /// SQLite's durability of each commit (PostgreSQL syncs every commit itself).
    pub sqlite_synchronous: crate::db::SqliteSynchronous,
    /// Where blobs are stored.
    pub storage: StorageLocation,
    /// Folder for local state: temporary spool files (and, by default, the database and blobs).
    pub data_dir: PathBuf,
    /// Upload limits.
    pub uploads: UploadLimits,
    /// Fair admission of CPU-heavy inline work (detect, classify's pre-processing).
    pub cpu: crate::cpu_lane::CpuLimits,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// How long a signed download link stays valid.
    pub link_ttl: Duration,
    /// Keys that sign download links, the first signing and all verifying (from
    /// `ATELIER_URL_SIGNING_KEYS`); empty: one key generated and kept in the database.
    pub url_signing_keys: Vec<crate::signing::SigningKey>,
    /// Serve S3 objects through presigned S3 URLs (true) or through atelier's own signed route.
    pub presign_s3_downloads: bool,
    /// The job queue's settings.
    pub jobs: JobsConfig,
    /// Limits on drawing strokes.
    pub strokes: crate::drawings::StrokeLimits,
    /// The 3D-photo jobs' settings.
    pub photo3d: Photo3dConfig,
    /// What one `animate` job may cost (frames × size², sprite sheet).
    pub animate: crate::jobs::animate_limits::AnimateLimits,
    /// The detector studio's media import: ffmpeg, its time limit, the frame cap.
    pub studio: crate::studio::decoding::StudioConfig,
    /// Throttling of failed logins, registrations and invitation-code guesses.
    pub throttle: crate::throttle::ThrottleConfig,
    /// Housekeeping: the blob collector and the session purge.
    pub maintenance: crate::maintenance::MaintenanceConfig,
    /// The models service's settings (runtime, cache, batching, cascades): the same for every
    /// process that runs models.
    pub models: crate::models::ModelsConfig,
    /// OpenID Connect sign-in: providers and account linking.
    pub oidc: crate::oidc::OidcConfig,
}

impl PlatformConfig {
    /// The embedded defaults: SQLite and a local object folder under `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            database_url: format!("sqlite://{}", data_dir.join("atelier.db").display()),
            db_max_connections: 8,
            db_acquire_timeout: crate::db::DEFAULT_ACQUIRE_TIMEOUT,
            sqlite_synchronous: crate::db::SqliteSynchronous::default(),
            storage: StorageLocation::Local {
                root: data_dir.join("objects"),
            },
            data_dir: data_dir.clone(),
            uploads: UploadLimits::default(),
            cpu: crate::cpu_lane::CpuLimits::default(),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            link_ttl: Duration::from_secs(3600),
            url_signing_keys: Vec::new(),
            presign_s3_downloads: true,
            jobs: JobsConfig::default(),
            strokes: crate::drawings::StrokeLimits::default(),
            photo3d: Photo3dConfig::default(),
            animate: crate::jobs::animate_limits::AnimateLimits::default(),
            studio: crate::studio::decoding::StudioConfig::default(),
            throttle: crate::throttle::ThrottleConfig::default(),
            maintenance: crate::maintenance::MaintenanceConfig::default(),
            models: crate::models::ModelsConfig::under(&data_dir),
            oidc: crate::oidc::OidcConfig::default(),
        }
    }

    /// Where uploads are spooled before they are validated.
    pub fn tmp_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }
}

/// The `photo3d` job kind's settings (`[photo3d]` in the settings file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo3dConfig {
    /// Queued + running `photo3d` jobs one account may have at once (on top of the general
    /// job cap): 3D photos are the heaviest jobs, so each account gets few. Default 2.
    pub max_active_per_account: u32,
}

impl Default for Photo3dConfig {
    fn default() -> Self {
        Self {
            max_active_per_account: 2,
        }
    }
}

/// The job queue's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobsConfig {
    /// Queued + running jobs one account may have at once.
    pub max_active_per_account: u32,
    /// Runs a job gets before it is failed for good.
    pub max_attempts: u32,
    /// How long a claimed job stays leased without a heartbeat.
    pub lease: Duration,
    /// First retry delay; doubled on each further attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How often idle workers look for work when no wake-up arrives.
    pub poll_interval: Duration,
    /// Fault injection for drills and tests: hold each claimed job this long (heartbeating) before
    /// running it, so a worker can be killed mid-job. Zero in production.
    pub stall_after_claim: Duration,
    /// Fault injection for drills and tests: this process's clock reads this many milliseconds
    /// ahead (negative: behind), as a node with a skewed clock would. Zero in production.
    pub clock_skew_ms: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            max_active_per_account: 3,
            max_attempts: 3,
            lease: Duration::from_secs(30),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            stall_after_claim: Duration::ZERO,
            clock_skew_ms: 0,
        }
    }
}

impl JobsConfig {
    /// The delay before retry number `attempt` (1-based): base × 2^(attempt−1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = JobsConfig {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(10),
            ..JobsConfig::default()
        };
        assert_eq!(config.backoff(1), Duration::from_secs(2));
        assert_eq!(config.backoff(2), Duration::from_secs(4));
        assert_eq!(config.backoff(3), Duration::from_secs(8));
        assert_eq!(config.backoff(4), Duration::from_secs(10));
        assert_eq!(config.backoff(100), Duration::from_secs(10));
    }
}
