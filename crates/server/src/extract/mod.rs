//! Request extractors: the signed-in user, and JSON/path/query/form extractors whose rejections
//! use atelier's error shape; [`multipart`] is the toolkit of every multipart route.

pub mod multipart;

use atelier_platform::{PlatformError, accounts};
use axum::{
    extract::{
        FromRequest, FromRequestParts,
        rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection},
    },
    http::{StatusCode, header, request::Parts},
};

use crate::{error::ApiError, state::AppState};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "atelier_session";

/// The session token a request carries: `Authorization: Bearer …` first, then the cookie.
#[derive(Debug, Clone)]
pub struct SessionToken(pub String);

impl SessionToken {
    fn from_parts(parts: &Parts) -> Option<Self> {
        if let Some(value) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(SessionToken(token.trim().to_owned()));
            }
        }
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
            .map(|(_, value)| SessionToken(value.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts).ok_or_else(|| {
            PlatformError::Unauthenticated(
                "sign in first: send `Authorization: Bearer <token>` or the session cookie".into(),
            )
            .into()
        })
    }
}

/// The signed-in user.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub accounts::User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let SessionToken(token) = SessionToken::from_request_parts(parts, state).await?;
        let user = accounts::authenticate(state.platform.db(), &token).await?;
        Ok(CurrentUser(user))
    }
}

/// The signed-in user when the request carries a session (a token that does not authenticate
/// is still 401), or `None`: for routes open to everyone that give signed-in users more.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<accounts::User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match SessionToken::from_parts(parts) {
            None => Ok(MaybeUser(None)),
            Some(SessionToken(token)) => {
                let user = accounts::authenticate(state.platform.db(), &token).await?;
                Ok(MaybeUser(Some(user)))
            }
        }
    }
}

/// `axum::Json` with atelier's error body on rejection.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with atelier's error body on rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::Form` (an `application/x-www-form-urlencoded` body) with atelier's error body on
/// rejection; multipart bodies are [`multipart::MultipartForm`].
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub struct UrlEncodedForm<T>(pub T);

/// `axum::extract::Query` with atelier's error body on rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        let code = match rejection {
            JsonRejection::MissingJsonContentType(_) => "expected-json",
            JsonRejection::JsonSyntaxError(_) => "malformed-json",
            JsonRejection::JsonDataError(_) => "invalid-json-fields",
            _ => "bad-body",
        };
        ApiError::bad_request(code, rejection.body_text())
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        ApiError::bad_request("bad-form", rejection.body_text())
    }
}

/// A body over its route's limit: 413 with the usual error shape.
fn too_large() -> ApiError {
    ApiError::BodyTooLarge(
        "the body is larger than this endpoint takes (files go to the upload endpoints)".into(),
    )
}

/// Reads a JSON body of at most `limit` bytes into `T` (for handlers that take JSON or a
/// multipart form on one route, whose body limit is sized for files): over the limit is 413,
/// the rest as [`Json`]'s rejections.
pub async fn small_json<T: serde::de::DeserializeOwned>(
    request: axum::extract::Request,
    limit: usize,
) -> Result<T, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::bad_request(
            "expected-json",
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|err| {
            let over =
                std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.to_string().contains("length limit exceeded"));
            if over {
                too_large()
            } else {
                ApiError::bad_request("bad-body", err.to_string())
            }
        })?;
    serde_json::from_slice(&bytes).map_err(|err| {
        let code = if err.is_data() {
            "invalid-json-fields"
        } else {
            "malformed-json"
        };
        ApiError::bad_request(code, err.to_string())
    })
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("bad-path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("bad-query", rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_bearer_header_wins_over_the_cookie() {
        let p = parts(&[
            ("authorization", "Bearer abc"),
            ("cookie", "atelier_session=xyz"),
        ]);
        assert_eq!(
            SessionToken::from_parts(&p).map(|t| t.0),
            Some("abc".to_owned())
        );
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let p = parts(&[("cookie", "theme=dark; atelier_session=xyz; lang=fr")]);
        assert_eq!(
            SessionToken::from_parts(&p).map(|t| t.0),
            Some("xyz".to_owned())
        );
    }

    #[test]
    fn other_schemes_and_empty_values_are_ignored() {
        assert!(SessionToken::from_parts(&parts(&[("authorization", "Basic dXNlcg==")])).is_none());
        assert!(SessionToken::from_parts(&parts(&[("cookie", "atelier_session=")])).is_none());
    }
}
