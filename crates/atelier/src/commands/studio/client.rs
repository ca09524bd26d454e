//! The REST client of `atelier studio`: the server's address, the session token, JSON calls
//! and file transfers. An error answer becomes [`ServerError`], shown as the server's message
//! and code (`{"error": {"code", "message"}}`).

use std::{io::BufRead, path::Path};

use anyhow::Context;
use futures::StreamExt;
use reqwest::{Method, RequestBuilder, Response, multipart};
use serde_json::{Value, json};

use super::progress::Progress;
use crate::studio_args::ServerArgs;

/// Where `--server` points when neither the flag nor `ATELIER_SERVER` is given.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// An error answer of the server.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code}, HTTP {status})")]
pub struct ServerError {
    /// The HTTP status.
    pub status: u16,
    /// The stable error code (`unknown_label`, `training_running`…).
    pub code: String,
    /// The server's message.
    pub message: String,
}

/// A signed-in client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// Connects as the flags say: `--token`, or `--user` signed in with its password.
    pub async fn connect(args: &ServerArgs) -> anyhow::Result<Self> {
        let base = args
            .server
            .as_deref()
            .unwrap_or(DEFAULT_SERVER)
            .trim_end_matches('/')
            .to_owned();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "--server must be an http:// or https:// address, not {base:?}"
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("atelier-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let token = match (&args.token, &args.user) {
            (_, Some(user)) => {
                let password = password(args.password_stdin)?;
                login(&http, &base, user, &password).await?
            }
            (Some(token), None) => token.clone(),
            (None, None) => anyhow::bail!(
                "not signed in: give --token (or ATELIER_TOKEN), or --user with ATELIER_PASSWORD \
                 or --password-stdin"
            ),
        };
        Ok(Self { base, token, http })
    }

    /// The session token in use.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's address, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (from `/api/…`) with the session.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        json_of(self.request(Method::GET, path).send().await, path).await
    }

    /// `POST path` with a JSON body; the answer as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        json_of(
            self.request(Method::POST, path).json(body).send().await,
            path,
        )
        .await
    }

    /// `POST path` with a multipart form of one `file` part streamed from `file`, showing the
    /// bytes sent on `progress`; the answer as JSON.
    pub async fn post_file(
        &self,
        path: &str,
        file: &Path,
        progress: &Progress,
    ) -> anyhow::Result<Value> {
        let opened = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("cannot open {}", file.display()))?;
        let size = opened
            .metadata()
            .await
            .with_context(|| format!("cannot read {}", file.display()))?
            .len();
        progress.set_length(size);
        let counter = progress.clone();
        let stream = tokio_util::io::ReaderStream::new(opened).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                counter.advance(chunk.len() as u64);
            }
        });
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        let part = multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
            .file_name(name);
        let form = multipart::Form::new().part("file", part);
        json_of(
            self.request(Method::POST, path)
                .multipart(form)
                .send()
                .await,
            path,
        )
        .await
    }

    /// `GET path`: the answer's bytes (a zip, a JPEG).
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let response = checked(self.request(Method::GET, path).send().await, path).await?;
        Ok(response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {path}"))?
            .to_vec())
    }

    /// `GET path` into the file `output` (written whole, then renamed into place); returns
    /// the bytes written.
    pub async fn download(&self, path: &str, output: &Path) -> anyhow::Result<u64> {
        let bytes = self.get_bytes(path).await?;
        let partial = output.with_extension("part");
        tokio::fs::write(&partial, &bytes)
            .await
            .with_context(|| format!("cannot write {}", partial.display()))?;
        tokio::fs::rename(&partial, output)
            .await
            .with_context(|| format!("cannot write {}", output.display()))?;
        Ok(bytes.len() as u64)
    }
}

/// The password for `--user`: `ATELIER_PASSWORD`, or standard input's first line.
fn password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    std::env::var("ATELIER_PASSWORD")
        .context("--user needs its password in ATELIER_PASSWORD or on stdin (--password-stdin)")
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let path = "/api/v1/auth/login";
    let session = json_of(
        http.post(format!("{base}{path}"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await,
        path,
    )
    .await?;
    session["token"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer holds no token")
}

/// The response when its status is a success, else the server's error.
async fn checked(sent: reqwest::Result<Response>, path: &str) -> anyhow::Result<Response> {
    let response = sent.with_context(|| format!("cannot reach the server for {path}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |key: &str| body["error"][key].as_str().map(str::to_owned);
    Err(ServerError {
        status: status.as_u16(),
        code: text("code").unwrap_or_else(|| "http-error".to_owned()),
        message: text("message").unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned()
        }),
    }
    .into())
}

async fn json_of(sent: reqwest::Result<Response>, path: &str) -> anyhow::Result<Value> {
    let response = checked(sent, path).await?;
    if response.status() == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    response
        .json()
        .await
        .with_context(|| format!("the answer of {path} is not JSON"))
}
