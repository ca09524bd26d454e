//! Cross-site request forgery protection for the session cookie. A write (any method but
//! GET, HEAD, OPTIONS) that authenticates with the `atelier_session` cookie alone must come from
//! atelier's own pages: it carries the `X-Atelier-CSRF` header (which no other site can add
//! without a CORS preflight atelier never grants), or the browser says it is same-origin
//! (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to the request's host). A browser's
//! cross-site write with the cookie is refused with 403 `csrf`. Requests with a Bearer token,
//! without the cookie, or from non-browser clients (which send neither `Origin` nor
//! `Sec-Fetch-Site`, like LittleStudio's apps) pass: the cookie is the only ambient credential.

use axum::{
    extract::Request,
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, extract::SESSION_COOKIE};

/// The header atelier's web app sends on every write.
pub const CSRF_HEADER: &str = "x-atelier-csrf";

/// Middleware: refuses cross-site writes authenticated by the session cookie.
pub async fn protect(request: Request, next: Next) -> Response {
    if refused(request.method(), request.headers()) {
        return ApiError::CrossSite.into_response();
    }
    next.run(request).await
}

/// Whether a request is a cookie-authenticated write from another site.
pub fn refused(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key(CSRF_HEADER)
        || !carries_session_cookie(headers)
    {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() != b"same-origin";
    }
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let own = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            own != Some(host) || host.is_empty()
        }
        None => false,
    }
}

fn carries_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(name, value)| name == SESSION_COOKIE && !value.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const COOKIE: (&str, &str) = ("cookie", "atelier_session=abc");

    #[test]
    fn a_cross_site_cookie_write_is_refused() {
        assert!(refused(
            &Method::POST,
            &headers(&[COOKIE, ("sec-fetch-site", "cross-site")])
        ));
        assert!(refused(
            &Method::DELETE,
            &headers(&[
                COOKIE,
                ("origin", "https://evil.example"),
                ("host", "atelier.local")
            ])
        ));
    }

    #[test]
    fn own_pages_bearer_tokens_reads_and_native_clients_pass() {
        let ok = [
            headers(&[COOKIE, ("sec-fetch-site", "same-origin")]),
            headers(&[
                COOKIE,
                ("x-atelier-csrf", "1"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[
                COOKIE,
                ("origin", "http://atelier.local:8080"),
                ("host", "atelier.local:8080"),
            ]),
            headers(&[
                COOKIE,
                ("authorization", "Bearer t"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[COOKIE]),
        ];
        for request in &ok {
            assert!(!refused(&Method::POST, request), "{request:?}");
        }
        assert!(!refused(
            &Method::GET,
            &headers(&[COOKIE, ("sec-fetch-site", "cross-site")])
        ));
    }
}
