//! One WebSocket connection (`GET /app/{key}?protocol=7`): the handshake, then a loop that reads
//! client frames, writes queued frames, and pings an idle client (closing with 4201 when it does
//! not answer); when the node shuts down, it closes with 4200 so the client reconnects elsewhere.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Instant,
};

use axum::{
    extract::{
        Path, Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    response::Response,
    routing::get,
};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use utoipa_axum::router::OpenApiRouter;

use super::{
    Event, Realtime,
    hub::SubscribeOutcome,
    protocol::{self, ChannelKind, ClientMessage, ErrorCode},
    ratelimit::TokenBucket,
    signing,
};
use crate::state::AppState;

/// Frames written in one batch before flushing.
const WRITE_BATCH: usize = 64;

async fn connect(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let realtime = Arc::clone(&state.realtime);
    // Frames a little over the limit get a protocol error; far over it, the socket is closed.
    let hard_cap = (realtime.config.max_message_bytes * 4).max(64 * 1024);
    let protocol = query.get("protocol").cloned();
    upgrade
        .max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| run(socket, realtime, key, protocol))
}

type Sink = SplitSink<WebSocket, Message>;

async fn close(sink: &mut Sink, code: ErrorCode, reason: &str) {
    let _ = sink
        .send(Message::Text(protocol::error(Some(code), reason).into()))
        .await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: code.code(),
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

async fn run(socket: WebSocket, realtime: Arc<Realtime>, key: String, version: Option<String>) {
    let (mut sink, mut stream) = socket.split();
    if key != realtime.key {
        close(
            &mut sink,
            ErrorCode::AppDoesNotExist,
            "Application does not exist",
        )
        .await;
        return;
    }
    if let Err(code) = protocol::check_protocol_version(version.as_deref()) {
        let reason = match code {
            ErrorCode::NoProtocolVersion => "No protocol version supplied",
            ErrorCode::InvalidVersionFormat => "Invalid version string format",
            _ => "Unsupported protocol version",
        };
        close(&mut sink, code, reason).await;
        return;
    }
    let (socket_id, mut queue) = realtime.hub().register();
    metrics::gauge!("atelier_realtime_sockets").increment(1.0);
    let established =
        protocol::connection_established(&socket_id, realtime.config.activity_timeout.as_secs());
    let mut session = Session {
        realtime: &realtime,
        socket_id: &socket_id,
        bucket: TokenBucket::new(realtime.config.client_events_per_sec, Instant::now()),
        presence_channels: HashSet::new(),
    };
    if sink.send(Message::Text(established.into())).await.is_ok() {
        session.serve(&mut sink, &mut stream, &mut queue).await;
    }
    let presence_channels = std::mem::take(&mut session.presence_channels);
    realtime.hub().unregister(&socket_id);
    if let Some(presence) = realtime.cluster_presence() {
        for channel in presence_channels {
            presence.leave(&socket_id, &channel).await;
        }
    }
    metrics::gauge!("atelier_realtime_sockets").decrement(1.0);
}

struct Session<'a> {
    realtime: &'a Realtime,
    socket_id: &'a str,
    bucket: TokenBucket,
    /// Presence channels joined in the cluster-wide roster (PostgreSQL), left when the socket
    /// ends.
    presence_channels: HashSet<String>,
}

impl Session<'_> {
    async fn serve(
        &mut self,
        sink: &mut Sink,
        stream: &mut futures::stream::SplitStream<WebSocket>,
        queue: &mut tokio::sync::mpsc::Receiver<super::hub::Frame>,
    ) {
        let realtime = self.realtime;
        let config = &realtime.config;
        let mut last_seen = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        loop {
            let deadline = match ping_sent {
                Some(at) => at + config.pong_timeout,
                None => last_seen + config.activity_timeout,
            };
            tokio::select! {
                incoming = stream.next() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => {
                            tracing::debug!(error = %err, "websocket read failed");
                            return;
                        }
                        None => return,
                    };
                    last_seen = Instant::now();
                    ping_sent = None;
                    match message {
                        Message::Text(text) => {
                            if let Some(reply) = self.handle_text(text.as_str()).await
                                && sink.send(Message::Text(reply.into())).await.is_err()
                            {
                                return;
                            }
                        }
                        Message::Binary(_) => {
                            let reply = protocol::error(None, "binary frames are not supported");
                            if sink.send(Message::Text(reply.into())).await.is_err() {
                                return;
                            }
                        }
                        Message::Close(_) => return,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                frame = queue.recv() => {
                    let Some(frame) = frame else {
                        close(sink, ErrorCode::Reconnect, "the connection fell behind; reconnect").await;
                        return;
                    };
                    if sink.feed(Message::Text(frame)).await.is_err() {
                        return;
                    }
                    for _ in 0..WRITE_BATCH {
                        match queue.try_recv() {
                            Ok(frame) => {
                                if sink.feed(Message::Text(frame)).await.is_err() {
                                    return;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                () = realtime.shutting_down() => {
                    close(sink, ErrorCode::Reconnect, "the server is shutting down; reconnect").await;
                    return;
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    if ping_sent.is_some() {
                        close(sink, ErrorCode::PongNotReceived, "Pong reply not received").await;
                        return;
                    }
                    ping_sent = Some(Instant::now());
                    if sink.send(Message::Text(protocol::ping().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one text frame; returns a direct reply, if any (other frames go through the queue).
    async fn handle_text(&mut self, text: &str) -> Option<String> {
        let limit = self.realtime.config.max_message_bytes;
        if text.len() > limit {
            return Some(protocol::error(
                None,
                &format!(
                    "the message is {} bytes; the limit is {limit} bytes",
                    text.len()
                ),
            ));
        }
        let message = match protocol::parse_client_message(text) {
            Ok(message) => message,
            Err(err) => return Some(protocol::error(None, &err.0)),
        };
        match message {
            ClientMessage::Ping => Some(protocol::pong()),
            ClientMessage::Pong => None,
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => {
                self.subscribe(&channel, auth.as_deref(), channel_data.as_deref())
                    .await
            }
            ClientMessage::Unsubscribe { channel } => {
                self.realtime.hub().unsubscribe(self.socket_id, &channel);
                if self.presence_channels.remove(&channel)
                    && let Some(presence) = self.realtime.cluster_presence()
                {
                    presence.leave(self.socket_id, &channel).await;
                }
                None
            }
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(event, channel, data).await,
        }
    }

    async fn subscribe(
        &mut self,
        channel: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
    ) -> Option<String> {
        let kind = match protocol::channel_kind(channel) {
            Ok(kind) => kind,
            Err(message) => return Some(protocol::error(None, &message)),
        };
        let realtime = self.realtime;
        let mut member = None;
        if kind != ChannelKind::Public {
            let Some(auth) = auth else {
                return Some(protocol::error(
                    None,
                    &format!("Auth info required to subscribe to {channel}"),
                ));
            };
            let signed_data = if kind == ChannelKind::Presence {
                let Some(data) = channel_data else {
                    return Some(protocol::error(
                        None,
                        &format!("channel_data required to subscribe to {channel}"),
                    ));
                };
                match protocol::parse_channel_data(data) {
                    Ok(parsed) => member = Some(parsed),
                    Err(message) => return Some(protocol::error(None, &message)),
                }
                Some(data)
            } else {
                None
            };
            if !signing::verify_channel(
                &realtime.key,
                realtime.secret(),
                self.socket_id,
                channel,
                signed_data,
                auth,
            ) {
                return Some(protocol::error(
                    None,
                    &format!("Invalid signature: the auth for {channel} does not match"),
                ));
            }
        }
        let outcome = match (realtime.cluster_presence(), member) {
            (Some(presence), Some(member)) => {
                match presence
                    .join(realtime.hub(), self.socket_id, channel, member)
                    .await
                {
                    Ok(outcome) => {
                        if outcome == SubscribeOutcome::Subscribed {
                            self.presence_channels.insert(channel.to_owned());
                        }
                        outcome
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, channel, "presence subscription failed");
                        return Some(protocol::error(
                            None,
                            &format!("{channel} cannot be joined right now; try again"),
                        ));
                    }
                }
            }
            (_, member) => realtime.hub().subscribe(self.socket_id, channel, member),
        };
        match outcome {
            SubscribeOutcome::Subscribed | SubscribeOutcome::Gone => None,
            SubscribeOutcome::TooManyChannels => Some(protocol::error(
                None,
                &format!(
                    "a connection may join at most {} channels",
                    realtime.config.max_channels_per_socket
                ),
            )),
        }
    }

    async fn client_event(
        &mut self,
        event: String,
        channel: String,
        data: String,
    ) -> Option<String> {
        let allowed = protocol::channel_kind(&channel).is_ok_and(ChannelKind::allows_client_events);
        if !allowed {
            return Some(protocol::error(
                None,
                "Client events are only supported on private and presence channels",
            ));
        }
        let Some(member) = self.realtime.hub().subscription(self.socket_id, &channel) else {
            return Some(protocol::error(
                None,
                &format!("subscribe to {channel} before sending client events on it"),
            ));
        };
        if !self.bucket.try_take(Instant::now()) {
            metrics::counter!("atelier_realtime_client_events_rate_limited_total").increment(1);
            return Some(protocol::error(
                Some(ErrorCode::ClientEventRateLimit),
                &format!(
                    "Client event rejected due to rate limit ({} per second)",
                    self.realtime.config.client_events_per_sec
                ),
            ));
        }
        let event = Event {
            channels: vec![channel],
            name: event,
            data,
            except: Some(self.socket_id.to_owned()),
            user_id: member,
        };
        if let Err(err) = self.realtime.trigger(event).await {
            tracing::warn!(error = %err, "client event could not be broadcast to other nodes");
        }
        None
    }
}

/// Keeps the WebSocket route out of the OpenAPI document (it is not a REST endpoint).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/app/{key}", get(connect))
}
