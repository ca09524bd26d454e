//! The web app: every file of `web/` embedded at build time (by `build.rs`) and served with its
//! ETag. `/` is the app shell (client-side routes live in the URL's `#/…` fragment) and
//! `/assets/{path}` the modules, styles and vendored libraries. App pages carry a strict
//! Content-Security-Policy: no inline script or style, no origin but atelier's.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{error::ApiError, state::AppState};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `web/`, `/`-separated.
    pub path: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// Its media type.
    pub content_type: &'static str,
    /// A strong ETag (quoted), from the file's SHA-256.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The policy of the app's pages: only atelier's own origin, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
     connect-src 'self' blob: ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The embedded file at `path`, if any.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

/// `/`, `/assets/{*path}` and `/api/v1/web/config`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(shell))
        .route("/assets/{*path}", get(serve_asset))
        .route("/api/v1/web/config", get(config))
}

/// What the web app needs to know about this server before it can connect.
#[derive(Debug, serde::Serialize)]
pub struct WebConfig {
    /// The Pusher app key (the WebSocket is `/app/{key}` on this origin).
    pub pusher_key: String,
    /// The largest upload this server accepts, in bytes.
    pub max_upload_bytes: u64,
}

async fn config(State(state): State<AppState>) -> Json<WebConfig> {
    Json(WebConfig {
        pusher_key: state.realtime.key.clone(),
        max_upload_bytes: state.platform.config().uploads.max_bytes,
    })
}

async fn shell(request: HeaderMap) -> Response {
    match asset("index.html") {
        Some(found) => respond(found, &request),
        None => ApiError::RouteNotFound.into_response(),
    }
}

async fn serve_asset(Path(path): Path<String>, request: HeaderMap) -> Response {
    match asset(&path) {
        Some(found) if path != "index.html" => respond(found, &request),
        _ => ApiError::RouteNotFound.into_response(),
    }
}

/// The file, or 304 when the client's `If-None-Match` names its ETag. Every answer is
/// revalidated (`no-cache`): asset names carry no hash, so a new build must be seen at once.
fn respond(asset: &'static Asset, request: &HeaderMap) -> Response {
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == asset.etag || tag.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_and_the_vendored_libraries_are_embedded() {
        assert!(asset("index.html").is_some());
        assert!(asset("vendor/pusher-js/pusher.min.js").is_some());
        assert!(asset("vendor/three/three.module.min.js").is_some());
        assert!(asset("refresh.sh").is_none() && asset("vendor/refresh.sh").is_none());
    }

    #[test]
    fn a_matching_etag_is_answered_with_304() {
        let found = asset("index.html").expect("shell");
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(found.etag));
        assert_eq!(respond(found, &headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(respond(found, &HeaderMap::new()).status(), StatusCode::OK);
    }
}
