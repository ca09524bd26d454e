#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod backup;
pub mod blobs;
pub mod broadcast;
pub mod channel_counts;
pub mod config;
pub mod cpu_lane;
pub mod db;
pub mod drawings;
pub mod error;
pub mod events;
pub mod families;
pub mod jobs;
pub mod maintenance;
pub mod models;
pub mod oidc;
pub mod pause;
pub mod presence;
pub mod secrets;
pub mod signing;
pub mod storage;
pub mod studio;
pub mod throttle;
pub mod uploads;

use std::{ops::Deref, sync::Arc, time::Duration};

pub use config::{JobsConfig, Photo3dConfig, PlatformConfig};
pub use error::{PlatformError, PlatformResult};

use crate::{db::Db, jobs::JobRegistry, signing::UrlSigner, storage::Storage, uploads::Upload};

/// The shared platform: database, object store, link signer and job kinds. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Platform(Arc<PlatformInner>);

/// What [`Platform`] holds.
#[derive(Debug)]
pub struct PlatformInner {
    config: PlatformConfig,
    db: Db,
    storage: Storage,
    signer: UrlSigner,
    jobs: JobRegistry,
    wake: tokio::sync::Notify,
    observer: jobs::observer::ObserverSlot,
    events: events::EventPublisher,
    pause: pause::PausePoints,
    throttle: throttle::Throttle,
    renders: tokio::sync::Semaphore,
    decodes: Arc<tokio::sync::Semaphore>,
    cpu: cpu_lane::CpuLane,
    models: Arc<models::Models>,
    oidc: oidc::Oidc,
}

impl Deref for Platform {
    type Target = PlatformInner;
    fn deref(&self) -> &PlatformInner {
        &self.0
    }
}

/// Whether each dependency answers, for `/readyz`.
#[derive(Debug)]
pub struct Readiness {
    /// The database's answer.
    pub database: PlatformResult<()>,
    /// The object store's answer.
    pub storage: PlatformResult<()>,
}

impl Platform {
    /// Opens the database (running migrations) and the object store, and installs the job
    /// observer that publishes `job-progress` events, so every process that runs jobs (`serve`
    /// and `atelier worker` alike) pushes progress to the owners' channels.
    pub async fn open(config: PlatformConfig) -> PlatformResult<Self> {
        let db = Db::connect_waiting(
            &config.database_url,
            config.db_max_connections,
            config.sqlite_synchronous,
            config.db_acquire_timeout,
        )
        .await?
        .with_clock_skew(config.jobs.clock_skew_ms);
        let storage = Storage::open(&config.storage)?;
        let signer = UrlSigner::load(&db, &config.url_signing_keys).await?;
        let events = events::EventPublisher::new(db.clone());
        let observer = jobs::observer::ObserverSlot::default();
        observer.install(Arc::new(events::JobEvents::new(events.clone())));
        let throttle = throttle::Throttle::new(config.throttle);
        let renders = tokio::sync::Semaphore::new(config.strokes.max_concurrent_renders.max(1));
        let decodes = Arc::new(tokio::sync::Semaphore::new(
            config.uploads.max_concurrent_decodes.max(1),
        ));
        let models = Arc::new(models::Models::new(config.models.clone()));
        let cpu = cpu_lane::CpuLane::new(config.cpu);
        let oidc = oidc::Oidc::new(config.oidc.clone()).map_err(PlatformError::Invalid)?;
        Ok(Platform(Arc::new(PlatformInner {
            oidc,
            models,
            config,
            db,
            storage,
            signer,
            jobs: JobRegistry::standard(),
            wake: tokio::sync::Notify::new(),
            observer,
            events,
            pause: pause::PausePoints::default(),
            throttle,
            renders,
            decodes,
            cpu,
        })))
    }
}

impl PlatformInner {
    /// The configuration the platform was opened with.
    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    /// OpenID Connect sign-in: the configured providers.
    pub fn oidc(&self) -> &oidc::Oidc {
        &self.oidc
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The object store.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The download-link signer.
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// The models service: runtime, classifiers, depth model, cascades (loaded once each).
    pub fn models(&self) -> &models::Models {
        &self.models
    }

    /// The registered job kinds.
    pub fn jobs(&self) -> &JobRegistry {
        &self.jobs
    }

    /// This process's event publisher (local sink + cross-process broadcast).
    pub fn events(&self) -> &events::EventPublisher {
        &self.events
    }

    /// The job observer slot (the worker reports through it).
    pub fn job_observer(&self) -> &jobs::observer::ObserverSlot {
        &self.observer
    }

    /// The pause points tests arm to reproduce races deterministically (none armed in
    /// production).
    pub fn pause_points(&self) -> &pause::PausePoints {
        &self.pause
    }

    /// This process's counters of failed logins, registrations and invitation-code guesses.
    pub fn throttle(&self) -> &throttle::Throttle {
        &self.throttle
    }

    /// Waits up to the configured time for one of this process's render slots (submit renders a
    /// drawing inline); `Busy` (503 + `Retry-After`) when none frees up.
    pub async fn render_slot(&self) -> PlatformResult<tokio::sync::SemaphorePermit<'_>> {
        let wait = self.config.strokes.render_wait;
        match tokio::time::timeout(wait, self.renders.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(PlatformError::Busy {
                message: "every drawing render slot is busy; try again shortly".into(),
                retry_after_secs: wait.as_secs().clamp(1, 60),
            }),
        }
    }

    /// Waits up to the configured time for one of this process's image-decode slots (uploads,
    /// classify, detect and character analysis decode under it); `Busy` (503 + `Retry-After`)
    /// when none frees up, so a burst of large images queues briefly instead of exhausting
    /// memory. Move the slot into the blocking task that decodes, so it is held until the work
    /// ends even when the request is dropped.
    pub async fn decode_slot(&self) -> PlatformResult<tokio::sync::OwnedSemaphorePermit> {
        let wait = self.config.uploads.decode_wait;
        match tokio::time::timeout(wait, self.decodes.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("atelier_decode_refused_total").increment(1);
                Err(PlatformError::Busy {
                    message: "every image decode slot is busy; try again shortly".into(),
                    retry_after_secs: wait.as_secs().clamp(1, 60),
                })
            }
        }
    }

    /// Waits in arrival order for one of this process's CPU slots, for CPU-heavy work done inline
    /// in a request (detection, classify's pre-processing); `Busy` (503 + `Retry-After`) when the
    /// queue is full or no slot frees up in time. Move the ticket into the blocking task and run
    /// the work through [`cpu_lane::CpuTicket::run`].
    pub async fn cpu_slot(&self) -> PlatformResult<cpu_lane::CpuTicket> {
        self.cpu.admit().await
    }

    /// Wakes this process's idle workers (new work was queued).
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }

    /// Waits until [`PlatformInner::wake_workers`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Probes the database and the object store.
    pub async fn readiness(&self) -> Readiness {
        Readiness {
            database: self.db.ping().await,
            storage: self.storage.ping().await,
        }
    }

    /// An expiring download link for an upload: a presigned S3 URL when the store is S3 and
    /// presigning is on, otherwise atelier's own signed route (relative to the server's root).
    pub async fn download_link(&self, upload: &Upload) -> PlatformResult<String> {
        let ttl = self.config.link_ttl;
        if self.config.presign_s3_downloads
            && let Some(url) = self
                .storage
                .presigned_get(&Storage::blob_key(&upload.sha256), ttl)
                .await?
        {
            return Ok(url);
        }
        let expires = db::now_ms() / 1000 + i64::try_from(ttl.as_secs()).unwrap_or(3600);
        let object = upload.object_name();
        let signature = self.signer.sign(&object, expires);
        let key_id = self.signer.key_id();
        Ok(format!(
            "/api/v1/files/{object}?expires={expires}&sig={signature}&kid={key_id}"
        ))
    }

    /// How long signed links last.
    pub fn link_ttl(&self) -> Duration {
        self.config.link_ttl
    }
}
