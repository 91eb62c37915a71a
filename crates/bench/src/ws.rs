//! WebSocket clients of a sitga instance.

use sitga_core::AuctionId;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A connected client.
pub type Socket = WebSocketStream<TcpStream>;

/// Connects to `ws://addr/ws`, signed in when `token` is given, from
/// `source` when given (several 127.0.0.x sources spread thousands of
/// connections over more ephemeral ports).
pub async fn connect(
    addr: SocketAddr,
    token: Option<&str>,
    source: Option<IpAddr>,
) -> Result<Socket, String> {
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        request.headers_mut().insert("authorization", value);
    }
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    if let Some(source) = source {
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
    }
    let stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    // tungstenite zero-fills a read buffer of this size before each read
    // (128 KiB by default): with thousands of clients on the server's
    // cores that memset was most of the bench's CPU. Frames here are a
    // few hundred bytes.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Sends one JSON frame.
pub async fn send(ws: &mut Socket, frame: Value) -> Result<(), String> {
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(|e| e.to_string())
}

/// Joins room `room`.
pub async fn join(ws: &mut Socket, room: AuctionId) -> Result<(), String> {
    send(ws, json!({"event": "join", "room": room})).await
}

/// The next text frame as JSON; `None` when the connection ended (or a
/// frame did not arrive within `wait`).
pub async fn next(ws: &mut Socket, wait: std::time::Duration) -> Option<Value> {
    use futures_util::StreamExt;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// What waiting for a frame gave.
pub enum Next {
    /// A text frame, as JSON.
    Frame(Value),
    /// Nothing within the wait; the connection is still open.
    Idle,
    /// The connection ended.
    Closed,
}

/// Like [`next`], but tells a quiet connection from a dead one.
pub async fn next_or_idle(ws: &mut Socket, wait: std::time::Duration) -> Next {
    use futures_util::StreamExt;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Next::Idle,
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(&text).map_or(Next::Closed, Next::Frame);
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => return Next::Closed,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// How the server answered one of a [`MinBidder`]'s bids.
pub enum Answer {
    /// Accepted: this amount now leads.
    Accepted(i64),
    /// Refused (too low, already leading, …).
    Refused,
    /// Too many frames: slow down.
    RateLimited,
}

/// A bidder that always bids the minimum next amount, one bid in flight at
/// a time, and waits while it leads (a leader may not raise its own bid).
#[derive(Default)]
pub struct MinBidder {
    next: i64,
    leading: bool,
    sent: u64,
    pending: Option<(Instant, i64)>,
    /// With a value: bid a maximum this far above the minimum next amount
    /// (a proxy bid) instead of the amount itself.
    proxy_raise: Option<i64>,
}

impl MinBidder {
    /// A bidder that sends maximums `raise` above the minimum next amount.
    pub fn proxy(raise: i64) -> Self {
        Self {
            proxy_raise: Some(raise),
            ..Self::default()
        }
    }

    /// The next bid frame to send, when it is this bidder's turn.
    pub fn bid(&mut self, room: AuctionId, tag: &str) -> Option<Value> {
        if self.pending.is_some() || self.leading || self.next <= 0 {
            return None;
        }
        self.sent += 1;
        self.pending = Some((Instant::now(), self.next));
        let reference = format!("{tag}-{}", self.sent);
        Some(match self.proxy_raise {
            Some(raise) => {
                json!({"event": "bid", "room": room, "max": self.next + raise, "ref": reference})
            }
            None => json!({"event": "bid", "room": room, "amount": self.next, "ref": reference}),
        })
    }

    /// Whether a bid is waiting for its answer.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Forgets the bid in flight (its connection died); whether there was one.
    pub fn abandon(&mut self) -> bool {
        self.pending.take().is_some()
    }

    /// Expects the answer to `frame`, sent again on a new connection after
    /// the old one died with it unanswered.
    pub fn resending(&mut self, frame: &Value) {
        self.pending = frame["amount"]
            .as_i64()
            .map(|amount| (Instant::now(), amount));
    }

    /// Learns from a frame; for the answer to its own bid, the answer and
    /// how long it took.
    pub fn on_frame(&mut self, f: &Value) -> Option<(Answer, std::time::Duration)> {
        match f["event"].as_str() {
            Some("state") => {
                self.next = f["min_next_bid"].as_i64().unwrap_or(self.next);
                self.leading = false;
                None
            }
            Some("system") if f.get("ref").is_some() => {
                let (sent, amount) = self.pending.take()?;
                let answer = match f["code"].as_str() {
                    // `amount`: the bid placed (a maximum's is the engine's);
                    // `leading` false when a higher maximum answered it.
                    Some("bid_accepted") => {
                        self.leading = f["leading"].as_bool().unwrap_or(true);
                        Answer::Accepted(f["amount"].as_i64().unwrap_or(amount))
                    }
                    Some("max_raised" | "max_too_low") => {
                        self.leading = true;
                        Answer::Refused
                    }
                    Some("bid_too_low") => {
                        self.next = f["min_next_bid"].as_i64().unwrap_or(self.next + 100);
                        Answer::Refused
                    }
                    Some("already_leading") => {
                        self.leading = true;
                        Answer::Refused
                    }
                    Some("rate_limited") => Answer::RateLimited,
                    _ => Answer::Refused,
                };
                Some((answer, sent.elapsed()))
            }
            _ => None,
        }
    }
}
