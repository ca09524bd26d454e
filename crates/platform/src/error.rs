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
    /// Job input a job kind refused, with the kind's own stable code (`unknown-motion`,
    /// `depth-size-mismatch`…): job kinds report through this, so no layer above needs to know
    /// any pipeline's errors.
    #[error(transparent)]
    Input(#[from] InputError),
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
    /// An OpenID Connect sign-in was refused (with its own code).
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcError),
    /// Anything else that is the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What kind of refusal an [`InputError`] is (the HTTP layer picks the status from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputErrorClass {
    /// Well-formed but unusable input (422).
    Unprocessable,
    /// A file of a type the operation cannot use (415).
    UnsupportedMediaType,
    /// The operation failed on the server's side while checking the input (500).
    Internal,
    /// The request does not fit the current state: a stale version, a second training (409).
    Conflict,
    /// The request cannot be acted on as sent, e.g. training with nothing annotated (400).
    BadRequest,
}

/// A coded refusal of job input: a stable kebab-case code, a message for people, and a class.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// Stable kebab-case code (API error bodies and job error records).
    pub code: &'static str,
    /// Explanation for people.
    pub message: String,
    /// What kind of refusal it is.
    pub class: InputErrorClass,
}

impl InputError {
    /// Well-formed but unusable input (422) with `code`.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            class: InputErrorClass::Unprocessable,
        }
    }
}

impl InputError {
    /// A conflict with the current state (409) with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            class: InputErrorClass::Conflict,
        }
    }

    /// A request that cannot be acted on as sent (400) with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            class: InputErrorClass::BadRequest,
        }
    }

    /// A file of a type the operation cannot use (415) with `code`.
    pub fn unsupported(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            class: InputErrorClass::UnsupportedMediaType,
        }
    }
}

impl PlatformError {
    /// Whether this is the database being unreachable right now (see [`is_unavailable`]).
    pub fn is_database_unavailable(&self) -> bool {
        match self {
            PlatformError::Database(err) => is_unavailable(err),
            _ => false,
        }
    }

    /// Wraps a server-side failure that has no variant of its own.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        PlatformError::Internal(err.to_string())
    }
}

/// The one mapping of an image that cannot be decoded: not an image type atelier reads is
/// 415 `unsupported-media-type`, anything else (truncated, too many pixels) 422 `bad-image`.
impl From<atelier_imaging::DecodeError> for PlatformError {
    fn from(err: atelier_imaging::DecodeError) -> Self {
        match err {
            atelier_imaging::DecodeError::UnsupportedType => {
                PlatformError::UnsupportedMediaType(err.to_string())
            }
            other => PlatformError::BadImage(other.to_string()),
        }
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

/// Whether an error means the database cannot be reached right now (down, restarting, its
/// connections dropped, or no connection free within the acquire timeout), as opposed to a
/// query it refused: such requests are answered 503 `database-unavailable`, and retrying later
/// succeeds once the database is back (the pool reconnects by itself).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db_err) => db_err.code().is_some_and(|code| {
            // Class 08: connection exceptions; 57P01-57P03: the server is shutting down or
            // starting up; 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}
