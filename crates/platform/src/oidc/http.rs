//! The HTTP client the OpenID Connect library talks to providers through: the workspace's
//! reqwest (the one `object_store` already brings, with its rustls), so the library needs no
//! HTTP stack of its own. Redirects are not followed (an OAuth 2.0 endpoint has no business
//! redirecting, and following them would let a provider point atelier anywhere), and answers
//! are read up to a size cap.

use std::{future::Future, pin::Pin, time::Duration};

use futures::StreamExt;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest answer read from a provider (discovery documents and key sets are a few KiB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a request to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    #[error("the provider's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// The answer could not be turned into an HTTP response value.
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

/// A client for talking to providers.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
}

/// The library's HTTP client: reqwest, with futures that are `Send` (handlers need that).
#[derive(Debug, Clone)]
pub struct ProviderHttp(pub reqwest::Client);

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Sends one of the library's requests through `client`.
pub async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(builder.body(body)?)
}
