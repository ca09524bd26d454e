//! `ApiError`: every failure becomes one status code and a JSON body
//! `{"error": {"code": "kebab-case", "message": "…"}}`. Server-side details are logged, not sent.

use atelier_platform::{PlatformError, error::InputErrorClass};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// The error body every failing endpoint returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable kebab-case code, e.g. `unauthenticated`, `too-many-active-jobs`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A platform failure.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The request itself is malformed (bad JSON, bad multipart, bad query).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// No route matches.
    #[error("no such endpoint")]
    RouteNotFound,
    /// The route exists but not with this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// Well-formed but unusable input, with its own code (e.g. `bad-cascade`).
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// The request names a model that does not exist.
    #[error("{0}")]
    UnknownModel(String),
    /// The model exists but cannot be loaded or fetched on this server.
    #[error("{0}")]
    ModelUnavailable(String),
    /// A queue is full; retry after the given number of seconds.
    #[error("{message}")]
    Overloaded {
        /// Explanation.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The request took longer than the server's request timeout.
    #[error("the request took longer than {after_secs} s and was stopped; try again later")]
    TimedOut {
        /// The timeout, in seconds.
        after_secs: u64,
    },
    /// The body is larger than this route takes (JSON routes take small bodies).
    #[error("{0}")]
    BodyTooLarge(String),
    /// Too many failed attempts from this client or on this account: retry later.
    #[error(transparent)]
    Throttled(#[from] atelier_platform::throttle::Throttled),
    /// A cookie-authenticated write sent from another site (see `crate::csrf`).
    #[error(
        "this request came from another site; atelier refuses writes made with your session cookie from other sites"
    )]
    CrossSite,
    /// Anything else that is the server's fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The `Retry-After` of 503 `database-unavailable` (the pool reconnects by itself).
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The status and stable code of this error: the one place errors meet status codes.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::CrossSite => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::Platform(err) => match err {
                PlatformError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input"),
                PlatformError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
                PlatformError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                PlatformError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
                PlatformError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                PlatformError::TooManyActiveJobs { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "too-many-active-jobs")
                }
                PlatformError::TooManyActiveJobsOfKind { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-active-jobs-of-kind",
                ),
                PlatformError::Input(err) => match err.class {
                    InputErrorClass::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, err.code),
                    InputErrorClass::UnsupportedMediaType => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, err.code)
                    }
                    InputErrorClass::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                    InputErrorClass::Conflict => (StatusCode::CONFLICT, err.code),
                    InputErrorClass::BadRequest => (StatusCode::BAD_REQUEST, err.code),
                },
                PlatformError::PayloadTooLarge { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
                }
                PlatformError::UnsupportedMediaType(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
                }
                PlatformError::BadImage(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad-image"),
                PlatformError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                PlatformError::Database(db_err)
                    if atelier_platform::error::is_unavailable(db_err) =>
                {
                    (StatusCode::SERVICE_UNAVAILABLE, "database-unavailable")
                }
                PlatformError::Oidc(err) => (oidc_status(err), err.code()),
                PlatformError::Database(_)
                | PlatformError::Storage(_)
                | PlatformError::Migration(_)
                | PlatformError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, "no-such-endpoint"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::UnknownModel(_) => (StatusCode::NOT_FOUND, "unknown-model"),
            ApiError::ModelUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "model-unavailable"),
            ApiError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::TimedOut { .. } => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<atelier_platform::oidc::OidcError> for ApiError {
    fn from(err: atelier_platform::oidc::OidcError) -> Self {
        ApiError::Platform(err.into())
    }
}

/// The status of each OpenID Connect refusal.
fn oidc_status(err: &atelier_platform::oidc::OidcError) -> StatusCode {
    use atelier_platform::oidc::OidcError as E;
    match err {
        E::UnknownProvider(_) => StatusCode::NOT_FOUND,
        E::Unreachable(_) => StatusCode::BAD_GATEWAY,
        E::InvalidState | E::LoginExpired | E::ProviderRefused(_) => StatusCode::BAD_REQUEST,
        E::AccessDenied(_) => StatusCode::FORBIDDEN,
        E::Expired(_)
        | E::WrongAudience(_)
        | E::WrongIssuer(_)
        | E::BadSignature(_)
        | E::UnknownKey
        | E::BadNonce(_)
        | E::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        E::RedirectUriNotAllowed(_) => StatusCode::UNPROCESSABLE_ENTITY,
        E::LinkedElsewhere(_) => StatusCode::CONFLICT,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if code == "database-unavailable" {
            tracing::warn!(error = %self, "the database is unavailable");
            "the database cannot be reached right now; retry shortly".to_owned()
        } else if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
            "something went wrong on the server; it has been logged".to_owned()
        } else {
            let message = self.to_string();
            let redacted = redact_paths(&message);
            if redacted != message {
                // Where things live on disk is for the operator's log, not for clients.
                tracing::warn!(error = %message, "request failed");
            }
            redacted
        };
        let retry_after = match &self {
            ApiError::Overloaded { retry_after, .. } => Some(*retry_after),
            ApiError::TimedOut { .. } => Some(5),
            ApiError::Throttled(throttled) => Some(atelier_platform::throttle::retry_after_secs(
                throttled.retry_after,
            )),
            ApiError::Platform(PlatformError::Busy {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            ApiError::Platform(err) if err.is_database_unavailable() => {
                Some(DATABASE_RETRY_AFTER_SECS)
            }
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message,
                },
            }),
        )
            .into_response();
        if let Some(retry_after) = retry_after
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `message` with every absolute filesystem path (a word starting with `/` or `~/` and
/// holding another `/`, or a Windows drive path) replaced by `<path>`. URLs and API routes
/// (`/api/v1/…`) stay.
pub fn redact_paths(message: &str) -> String {
    let is_path = |core: &str| {
        let bytes = core.as_bytes();
        let unix = ((core.starts_with('/') && !core.starts_with("//")) || core.starts_with("~/"))
            && core[1..].contains('/')
            && !core.starts_with("/api/");
        let windows = bytes.len() > 3
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && matches!(bytes[2], b'\\' | b'/');
        unix || windows
    };
    message
        .split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let space = &word[trimmed.len()..];
            let lead = trimmed.len() - trimmed.trim_start_matches(['(', '"', '\'', '[']).len();
            let body = &trimmed[lead..];
            let core = body.trim_end_matches([')', '"', '\'', ']', ',', '.', ':', ';']);
            if is_path(core) {
                format!("{}<path>{}{space}", &trimmed[..lead], &body[core.len()..])
            } else {
                word.to_owned()
            }
        })
        .collect()
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use atelier_platform::error::InputError;

    use super::*;

    #[test]
    fn the_active_job_cap_is_a_429() {
        let err = ApiError::from(PlatformError::TooManyActiveJobs { limit: 3 });
        assert_eq!(
            err.status_and_code(),
            (StatusCode::TOO_MANY_REQUESTS, "too-many-active-jobs")
        );
    }

    #[test]
    fn the_kind_cap_and_coded_input_errors_keep_their_codes() {
        let err = ApiError::from(PlatformError::TooManyActiveJobsOfKind {
            kind: "photo3d",
            limit: 2,
        });
        assert_eq!(
            err.status_and_code(),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-active-jobs-of-kind"
            )
        );
        let coded = |class| {
            ApiError::from(PlatformError::from(InputError {
                code: "some-code",
                message: "why".into(),
                class,
            }))
            .status_and_code()
        };
        assert_eq!(
            coded(InputErrorClass::Unprocessable),
            (StatusCode::UNPROCESSABLE_ENTITY, "some-code")
        );
        assert_eq!(
            coded(InputErrorClass::UnsupportedMediaType),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "some-code")
        );
        assert_eq!(
            coded(InputErrorClass::Internal),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }

    #[test]
    fn paths_are_kept_out_of_answers() {
        assert_eq!(
            redact_paths("cannot read /var/lib/atelier/models/x.onnx: no such file"),
            "cannot read <path>: no such file"
        );
        assert_eq!(
            redact_paths("model missing in C:\\data\\models (run atelier models fetch)"),
            "model missing in <path> (run atelier models fetch)"
        );
        let kept = "see /api/v1/jobs/1 or http://host/a/b, and 3/4 of it";
        assert_eq!(redact_paths(kept), kept);
    }

    #[test]
    fn database_errors_are_500s_without_details() {
        let err = ApiError::from(PlatformError::Database(
            atelier_platform::db::SqlxError::ColumnNotFound("x".into()),
        ));
        assert_eq!(err.status_and_code().0, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn an_unreachable_database_is_a_503_to_retry() {
        for cause in [
            atelier_platform::db::SqlxError::PoolTimedOut,
            atelier_platform::db::SqlxError::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            )),
        ] {
            let err = ApiError::from(PlatformError::Database(cause));
            assert_eq!(
                err.status_and_code(),
                (StatusCode::SERVICE_UNAVAILABLE, "database-unavailable")
            );
            let response = err.into_response();
            assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        }
    }
}
