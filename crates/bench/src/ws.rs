//! WebSocket clients of a sitga instance.

use sitga_core::AuctionId;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

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
    serde_json::from_str(&next_text(ws, wait).await?).ok()
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

/// The next text frame as it came; `None` when the connection ended (or a
/// frame did not arrive within `wait`). For clients that read a few fields
/// of every frame ([`Frame`]) rather than build a JSON tree of it.
pub async fn next_text(ws: &mut Socket, wait: std::time::Duration) -> Option<Utf8Bytes> {
    use futures_util::StreamExt;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(text),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// The fields of a frame a [`MinBidder`] reads. Hundreds of bidders share
/// the server's cores in a storm: what they spend parsing the room's frames
/// into JSON trees is taken from the server they measure.
#[derive(Debug, serde::Deserialize)]
pub struct Frame<'a> {
    /// `state`, `system`, `message`, …
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    /// An answer's code.
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    /// The client key an answer echoes (any JSON value; only whether there
    /// is one matters).
    #[serde(default, rename = "ref")]
    pub reference: Option<serde::de::IgnoredAny>,
    /// The smallest bid accepted now (`state`, `bid_too_low`).
    #[serde(default)]
    pub min_next_bid: Option<i64>,
    /// Whether an accepted bid leads (a higher maximum may answer it).
    #[serde(default)]
    pub leading: Option<bool>,
    /// The amount placed.
    #[serde(default)]
    pub amount: Option<i64>,
    /// An answer to a re-sent key that had placed its bid already.
    #[serde(default)]
    pub replayed: Option<bool>,
}

impl<'a> Frame<'a> {
    /// Reads the fields of a frame's text; `None` when it is not a frame.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
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
    pub fn on_frame(&mut self, f: &Frame<'_>) -> Option<(Answer, std::time::Duration)> {
        match &*f.event {
            "state" => {
                self.next = f.min_next_bid.unwrap_or(self.next);
                self.leading = false;
                None
            }
            "system" if f.reference.is_some() => {
                let (sent, amount) = self.pending.take()?;
                let answer = match f.code.as_deref() {
                    // `amount`: the bid placed (a maximum's is the engine's);
                    // `leading` false when a higher maximum answered it.
                    Some("bid_accepted") => {
                        self.leading = f.leading.unwrap_or(true);
                        Answer::Accepted(f.amount.unwrap_or(amount))
                    }
                    Some("max_raised" | "max_too_low") => {
                        self.leading = true;
                        Answer::Refused
                    }
                    Some("bid_too_low") => {
                        self.next = f.min_next_bid.unwrap_or(self.next + 100);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers a storm bidder reads, as sitga writes them (escaped
    /// Korean text included), move it the way the JSON says.
    #[test]
    fn a_min_bidder_reads_answers_and_room_state_from_frame_text() {
        let room = AuctionId::new(7);
        let mut me = MinBidder::default();
        let state =
            r#"{"event":"state","room":"7","min_next_bid":15000,"price":14000,"leader":"\ub098"}"#;
        assert!(me.on_frame(&Frame::parse(state).unwrap()).is_none());
        let bid = me.bid(room, "t").expect("a bid to send");
        assert_eq!(bid["amount"], 15_000);
        assert!(me.bid(room, "t").is_none(), "one bid in flight");

        let too_low = r#"{"event":"system","room":"7","ref":"t-1","code":"bid_too_low","min_next_bid":16000,"context":"\ub0ae\uc544\uc694 \"\uc785\ucc30\""}"#;
        let (answer, _) = me.on_frame(&Frame::parse(too_low).unwrap()).unwrap();
        assert!(matches!(answer, Answer::Refused));
        assert_eq!(me.bid(room, "t").unwrap()["amount"], 16_000);

        let accepted = r#"{"event":"system","room":"7","ref":{"n":2},"code":"bid_accepted","amount":16000,"leading":true}"#;
        let (answer, _) = me.on_frame(&Frame::parse(accepted).unwrap()).unwrap();
        assert!(matches!(answer, Answer::Accepted(16_000)));
        assert!(me.bid(room, "t").is_none(), "a leader waits");
        assert!(Frame::parse("not json").is_none());
    }
}
