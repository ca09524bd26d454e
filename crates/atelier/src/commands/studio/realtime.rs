//! Live job progress from the server's Pusher-protocol WebSocket, as the web app hears it: the
//! `job-progress` events of your `private-user-{id}` channel, which carry what the job record
//! does not (a training's `{epoch, epochs, loss, eval_map50}`). Best effort: when the socket
//! cannot be opened or drops, the caller still has the job record it polls.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::client::Api;

/// How long the handshake and the subscription may take before progress falls back to polling.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(5);

/// Starts listening; the receiver yields the `data` of each `job-progress` event of `job_id`,
/// and ends when the socket does.
pub fn job_events(api: &Api, job_id: &str) -> mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (api, job_id) = (api.clone(), job_id.to_owned());
    tokio::spawn(async move {
        if let Err(err) = listen(&api, &job_id, &tx).await {
            tracing::debug!("live progress unavailable, polling only: {err:#}");
        }
    });
    rx
}

/// The `data` of a Pusher frame (a JSON string inside the frame), decoded.
fn data_of(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

async fn listen(api: &Api, job_id: &str, tx: &mpsc::UnboundedSender<Value>) -> anyhow::Result<()> {
    let key = api.get("/api/v1/web/config").await?["pusher_key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no pusher_key in /api/v1/web/config"))?;
    let me = api.get("/api/v1/me").await?;
    let user_id = me["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no user id in /api/v1/me"))?;
    let ws_base = api
        .base()
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let url = format!("{ws_base}/app/{key}?protocol=7&client=atelier-cli&version=1");
    let (mut socket, _) =
        tokio::time::timeout(HANDSHAKE_WAIT, tokio_tungstenite::connect_async(url)).await??;
    let socket_id = loop {
        let frame = tokio::time::timeout(HANDSHAKE_WAIT, socket.next()).await?;
        let Some(Ok(Message::Text(text))) = frame else {
            anyhow::bail!("the socket closed before its handshake");
        };
        let frame: Value = serde_json::from_str(text.as_str())?;
        if frame["event"] == "pusher:connection_established" {
            break data_of(&frame)["socket_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("no socket_id in the handshake"))?;
        }
    };
    let channel = format!("private-user-{user_id}");
    let auth: Value = api
        .request(Method::POST, "/pusher/auth")
        .header("content-type", "application/x-www-form-urlencoded")
        // Both values are made of [0-9a-z.-] (the server's socket id, our channel name), so
        // they need no escaping.
        .body(format!("socket_id={socket_id}&channel_name={channel}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let subscribe = json!({
        "event": "pusher:subscribe",
        "data": {"channel": channel, "auth": auth["auth"]},
    });
    socket.send(Message::text(subscribe.to_string())).await?;
    loop {
        // Ends when the follower is gone (its receiver dropped) or the socket closes.
        let message = tokio::select! {
            _ = tx.closed() => break,
            message = socket.next() => message,
        };
        let Some(message) = message else { break };
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        match frame["event"].as_str() {
            Some("pusher:ping") => {
                let pong = json!({"event": "pusher:pong", "data": {}});
                socket.send(Message::text(pong.to_string())).await?;
            }
            Some("job-progress") => {
                let data = data_of(&frame);
                if data["job_id"] == job_id && tx.send(data).is_err() {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
