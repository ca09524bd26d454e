//! Who sent a request and how: the client's address (the peer, or behind a trusted proxy the
//! first `X-Forwarded-For` address) for per-address throttling, and whether the request came
//! over TLS (`X-Forwarded-Proto: https` or `Forwarded: proto=https` from the proxy in front),
//! which makes the session cookie `Secure`. Also the guard that throttles guesses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use atelier_platform::{
    PlatformError,
    throttle::{Action, Subject},
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::{error::ApiError, state::AppState};

/// The client of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address.
    pub ip: IpAddr,
    /// Whether the request reached atelier (or the proxy in front of it) over TLS.
    pub https: bool,
}

impl Client {
    /// Reads the client from a request's headers and peer address.
    pub fn from_headers(headers: &HeaderMap, peer: Option<SocketAddr>, trust_proxy: bool) -> Self {
        let forwarded_ip = trust_proxy
            .then(|| {
                headers
                    .get("x-forwarded-for")?
                    .to_str()
                    .ok()?
                    .split(',')
                    .next()?
                    .trim()
                    .parse::<IpAddr>()
                    .ok()
            })
            .flatten();
        let ip = forwarded_ip
            .or(peer.map(|addr| addr.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Self {
            ip,
            https: came_over_tls(headers),
        }
    }

    /// The throttle subject for this client's address.
    pub fn subject(&self) -> Subject {
        Subject::Ip(self.ip)
    }
}

/// Whether the proxy in front says the request came over TLS. Trusted from anyone: the only
/// effect is a stricter cookie.
fn came_over_tls(headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    header("x-forwarded-proto")
        .first()
        .is_some_and(|p| p == "https")
        || header("forwarded").first().is_some_and(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(k, v)| k == "proto" && v.trim_matches('"') == "https")
        })
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        Ok(Client::from_headers(
            &parts.headers,
            peer,
            state.config.trust_forwarded_for,
        ))
    }
}

/// Runs `attempt` unless `subjects` are throttled for `action`; counts it as a failure when
/// `is_failure` says so (a wrong password, an unknown invitation code; for registrations,
/// every attempt), and clears the account's count on success.
pub async fn throttled<T>(
    state: &AppState,
    action: Action,
    subjects: &[Subject],
    is_failure: impl Fn(&Result<T, PlatformError>) -> bool,
    attempt: impl Future<Output = Result<T, PlatformError>>,
) -> Result<T, ApiError> {
    let throttle = state.platform.throttle();
    throttle.check(action, subjects)?;
    let result = attempt.await;
    if is_failure(&result) {
        throttle.failed(action, subjects);
    } else if result.is_ok() {
        let accounts: Vec<Subject> = subjects
            .iter()
            .filter(|s| matches!(s, Subject::Account(_)))
            .cloned()
            .collect();
        throttle.succeeded(action, &accounts);
    }
    Ok(result?)
}

/// A wrong invitation code (or a family/drawing that does not exist).
pub fn wrong_code<T>(result: &Result<T, PlatformError>) -> bool {
    matches!(result, Err(PlatformError::NotFound(_)))
}

/// Wrong credentials.
pub fn wrong_credentials<T>(result: &Result<T, PlatformError>) -> bool {
    matches!(result, Err(PlatformError::Unauthenticated(_)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tls_is_told_from_the_proxy_headers() {
        let mut headers = HeaderMap::new();
        assert!(!came_over_tls(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(came_over_tls(&headers));
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=192.0.2.60;proto=https;by=203.0.113.43"),
        );
        assert!(came_over_tls(&headers));
        headers.insert("forwarded", HeaderValue::from_static("proto=http"));
        assert!(!came_over_tls(&headers));
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.0.0.1"),
        );
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 4000)));
        assert_eq!(
            Client::from_headers(&headers, peer, false).ip,
            IpAddr::from([10, 0, 0, 1])
        );
        assert_eq!(
            Client::from_headers(&headers, peer, true).ip,
            IpAddr::from([203, 0, 113, 9])
        );
    }
}
