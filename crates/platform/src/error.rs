//! The platform's error type: every failure a caller can act on has its own variant.

/// A platform operation's failure. The HTTP layer maps each variant to one status code.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The input is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with existing state (a taken username, a second family…).
    #[error("{0}")]
    Conflict(String),
    /// No valid credentials: missing, wrong, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The account already has its maximum of queued and running jobs.
    #[error(
        "you already have {limit} active jobs (queued or running); wait for one to finish or cancel one"
    )]
    TooManyActiveJobs {
        /// The per-account cap in force.
        limit: u32,
    },
    /// The account already has its maximum of queued and running jobs of one kind (kinds
    /// with a cap of their own, such as `photo3d`).
    #[error(
        "you already have {limit} active {kind} jobs (queued or running); wait for one to finish or cancel one"
    )]
    TooManyActiveJobsOfKind {
        /// The job kind.
        kind: &'static str,
        /// The kind's per-account cap in force.
        limit: u32,
    },
    /// A 3D-photo request the pipeline cannot work with (bad parameters, a depth map of the
    /// wrong size or without depth, a photo over the pixel limit…).
    #[error(transparent)]
    Photo3d(#[from] crate::jobs::photo3d::Photo3dRequestError),
    /// The upload is larger than the configured cap.
    #[error("the upload is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The upload is not a type atelier accepts (judged by its bytes, not its name).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The upload claims to be an image but cannot be decoded within the limits.
    #[error("{0}")]
    BadImage(String),
    /// A dependency (database, object store) is unreachable or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The object store failed.
    #[error("object store error: {0}")]
    Storage(#[from] object_store::Error),
    /// A migration failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The server is at its limit for this kind of work; retry after the given seconds.
    #[error("{message}")]
    Busy {
        /// What is busy.
        message: String,
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// Anything else that is the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PlatformError {
    /// Wraps a server-side failure that has no variant of its own.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        PlatformError::Internal(err.to_string())
    }
}

impl From<std::io::Error> for PlatformError {
    fn from(err: std::io::Error) -> Self {
        PlatformError::Internal(format!("i/o: {err}"))
    }
}

impl From<tokio::task::JoinError> for PlatformError {
    fn from(err: tokio::task::JoinError) -> Self {
        PlatformError::Internal(format!("background task failed: {err}"))
    }
}

/// Shorthand for platform results.
pub type PlatformResult<T> = Result<T, PlatformError>;
