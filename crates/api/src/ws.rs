//! The live auction gateway: `GET /ws`.
//!
//! Authentication happens once, at the upgrade (`Authorization: Bearer …` or
//! `?access_token=…`); without a token a client may join rooms and watch,
//! but chat and bids need one. Each connection has one reader loop and one
//! writer task joined by a bounded queue: a client that reads too slowly
//! fills its queue (or falls behind its rooms' broadcast buffers) and is
//! disconnected; it never slows a room. The protocol is documented in
//! `docs/protocol.md`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use chrono::Utc;
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sitga_auction::{BidRejection, ChatLine, Krw, parse_chat_line};
use sitga_persistence::{auctions, users};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::auth::AuthUser;
use crate::bidding::{BidCommand, BidOutcome, accepted_text_ko, rejected_text_ko, state_fields};
use crate::error::ApiError;
use crate::live::{HistoryItem, RoomFrame};
use crate::state::AppState;

/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Frames queued for one client before it counts as too slow.
const SEND_QUEUE: usize = 256;
/// Rooms one connection may join.
const MAX_ROOMS: usize = 20;
/// Server ping interval.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A client silent (not even pong) this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// History page size.
const HISTORY_PAGE: i64 = 100;

/// A connection may send this many frames per second (bursts of twice that).
fn rate_limiter(per_second: NonZeroU32) -> DefaultDirectRateLimiter {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
}

/// Who is on the other end.
#[derive(Debug, Clone)]
struct Member {
    user: AuthUser,
    nickname: String,
    expires_at: chrono::DateTime<Utc>,
}

enum Outbound {
    Text(Arc<str>),
    Ping,
}

/// `GET /ws`: upgrades to a WebSocket.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_or_query_token(&req);
    let member = match token {
        None => None,
        Some(token) => {
            let claims = state.jwt.verify(&token)?;
            let user = AuthUser::from_token(&state.jwt, &token)?;
            let mut conn = state.db.get().await?;
            let nickname = users::find_by_id(&mut conn, user.id)
                .await?
                .ok_or(ApiError::Unauthorized {
                    code: "invalid_token",
                    message: "the account of this token no longer exists",
                })?
                .nickname;
            let expires_at =
                chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
            Some(Member {
                user,
                nickname,
                expires_at,
            })
        }
    };
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request("websocket_handshake", e.to_string()))?;
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let state = state.get_ref().clone();
    let span = tracing::info_span!("ws", user_id = member.as_ref().map(|m| m.user.id));
    actix_web::rt::spawn(tracing::Instrument::instrument(
        run(state, member, session, stream),
        span,
    ));
    Ok(response)
}

fn bearer_or_query_token(req: &HttpRequest) -> Option<String> {
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let text = header.to_str().ok()?.trim();
        return text
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned())
            .or_else(|| Some(String::new()));
    }
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// A frame for this client only.
fn private(event: &str, room: Option<&str>, fields: Map<String, Value>) -> Arc<str> {
    let mut frame = Map::with_capacity(fields.len() + 3);
    frame.insert("event".into(), json!(event));
    frame.insert("room".into(), json!(room));
    frame.insert("server_now".into(), json!(Utc::now().timestamp_millis()));
    frame.extend(fields);
    Value::Object(frame).to_string().into()
}

fn system(room: Option<&str>, code: &str, context: Option<&str>, text: &str) -> Arc<str> {
    let mut f = Map::new();
    f.insert("code".into(), json!(code));
    if let Some(context) = context {
        f.insert("context".into(), json!(context));
    }
    f.insert("text".into(), json!(text));
    private("system", room, f)
}

struct Connection {
    state: AppState,
    member: Option<Member>,
    out: mpsc::Sender<Outbound>,
    rooms: StreamMap<i64, BroadcastStream<RoomFrame>>,
    limiter: DefaultDirectRateLimiter,
}

/// Why the reader loop ended.
enum End {
    ClientClosed,
    TooSlow,
    Idle,
    TokenExpired,
    ProtocolError(String),
}

async fn run(
    state: AppState,
    member: Option<Member>,
    session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let state_rate = state.ws_frames_per_second;
    let (out_tx, out_rx) = mpsc::channel::<Outbound>(SEND_QUEUE);
    let (close_tx, close_rx) = oneshot::channel::<Option<CloseReason>>();
    let writer = actix_web::rt::spawn(write_loop(session.clone(), out_rx, close_rx));
    let mut conn = Connection {
        state,
        member,
        out: out_tx,
        rooms: StreamMap::new(),
        limiter: rate_limiter(state_rate),
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = tokio::time::Instant::now();
    let expiry = conn
        .member
        .as_ref()
        .map(|m| (m.expires_at - Utc::now()).to_std().unwrap_or_default());
    let token_expired = async move {
        match expiry {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(token_expired);

    let end = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_seen = tokio::time::Instant::now();
                match incoming {
                    None | Some(Ok(AggregatedMessage::Close(_))) => break End::ClientClosed,
                    Some(Err(e)) => break End::ProtocolError(e.to_string()),
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        if conn.handle_text(&text).await.is_err() {
                            break End::TooSlow;
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        let frame = system(None, "binary_not_supported", None, "send JSON text frames; binary frames are refused");
                        if conn.send(frame).is_err() { break End::TooSlow; }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        let mut s = session.clone();
                        if s.pong(&bytes).await.is_err() { break End::ClientClosed; }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                }
            }
            Some((room, frame)) = conn.rooms.next(), if !conn.rooms.is_empty() => {
                match frame {
                    Ok(frame) => {
                        if conn.out.try_send(Outbound::Text(frame.json)).is_err() {
                            break End::TooSlow;
                        }
                    }
                    Err(BroadcastStreamRecvError::Lagged(n)) => {
                        tracing::info!(room, lagged = n, "client fell behind its room; disconnecting");
                        break End::TooSlow;
                    }
                }
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    break End::Idle;
                }
                if conn.out.try_send(Outbound::Ping).is_err() {
                    break End::TooSlow;
                }
            }
            () = &mut token_expired => break End::TokenExpired,
        }
    };

    let reason = match &end {
        End::ClientClosed => None,
        End::TooSlow => Some(CloseReason {
            code: CloseCode::Policy,
            description: Some("too slow: frames were not read in time".into()),
        }),
        End::Idle => Some(CloseReason {
            code: CloseCode::Normal,
            description: Some("idle timeout".into()),
        }),
        End::TokenExpired => Some(CloseReason {
            code: CloseCode::Policy,
            description: Some("token_expired: reconnect with a fresh access token".into()),
        }),
        End::ProtocolError(e) => Some(CloseReason {
            code: CloseCode::Protocol,
            description: Some(e.clone()),
        }),
    };
    conn.leave_all().await;
    let _ = close_tx.send(reason);
    let _ = writer.await;
}

async fn write_loop(
    mut session: actix_ws::Session,
    mut out: mpsc::Receiver<Outbound>,
    mut close: oneshot::Receiver<Option<CloseReason>>,
) {
    loop {
        tokio::select! {
            biased;
            reason = &mut close => {
                let _ = session.close(reason.unwrap_or(None)).await;
                return;
            }
            next = out.recv() => match next {
                Some(Outbound::Text(text)) => {
                    if session.text(&*text).await.is_err() { return; }
                }
                Some(Outbound::Ping) => {
                    if session.ping(b"").await.is_err() { return; }
                }
                None => return,
            }
        }
    }
}

/// A frame from a client (see `docs/protocol.md`).
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum ClientFrame {
    /// Enter a room.
    Join {
        /// The auction.
        room: RoomId,
    },
    /// Leave a room.
    Leave {
        /// The auction.
        room: RoomId,
    },
    /// Chat, or a `#…` bid.
    Message {
        /// The auction.
        room: RoomId,
        /// The text.
        message: String,
    },
    /// A bid.
    Bid {
        /// The auction.
        room: RoomId,
        /// Whole KRW (checked after decoding).
        amount: Value,
        /// Echoed in the answer.
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
    /// A history page.
    Getmessage {
        /// The auction.
        room: RoomId,
        /// Only messages older than this history id.
        before: Option<i64>,
    },
}

/// Decodes a client's text frame, or explains (stable code, message) why it
/// is not one. Never panics, whatever the input (fuzzed in `fuzz/`).
pub fn decode_frame(text: &str) -> Result<ClientFrame, (&'static str, String)> {
    serde_json::from_str(text).map_err(|e| {
        let value = serde_json::from_str::<Value>(text).ok();
        let event = value
            .as_ref()
            .and_then(|v| v.get("event").and_then(Value::as_str).map(str::to_owned));
        match (value.is_some(), event.as_deref()) {
            (false, _) => ("malformed_json", format!("not JSON: {e}")),
            (true, None) => ("missing_event", "every frame needs an `event`".to_owned()),
            (true, Some("join" | "leave" | "message" | "bid" | "getmessage")) => {
                ("invalid_frame", e.to_string())
            }
            (true, Some(other)) => ("unknown_event", format!("unknown event {other:?}")),
        }
    })
}

/// Rooms are auction ids, as a string (`"333"`, like the original clients)
/// or a number: both mean the same room.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RoomId {
    /// `333`.
    Number(i64),
    /// `"333"`.
    Text(String),
}

impl RoomId {
    /// The auction id, if it is one.
    pub fn parse(&self) -> Option<i64> {
        match self {
            Self::Number(n) if *n > 0 => Some(*n),
            Self::Text(t) => t.trim().parse::<i64>().ok().filter(|n| *n > 0),
            Self::Number(_) => None,
        }
    }
}

/// The queue to this client is full.
struct Full;

impl Connection {
    fn send(&self, frame: Arc<str>) -> Result<(), Full> {
        self.out.try_send(Outbound::Text(frame)).map_err(|_| Full)
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Full> {
        if self.limiter.check().is_err() {
            // Echo the client's `ref` so it can match the refusal to its frame.
            let reference = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("ref").cloned());
            let mut f = Map::new();
            f.insert("code".into(), json!("rate_limited"));
            f.insert("text".into(), json!("too many messages; slow down"));
            if let Some(reference) = reference {
                f.insert("ref".into(), reference);
            }
            return self.send(private("system", None, f));
        }
        let frame = match decode_frame(text) {
            Ok(frame) => frame,
            Err((code, why)) => return self.send(system(None, code, None, &why)),
        };
        match frame {
            ClientFrame::Join { room } => self.join(room).await,
            ClientFrame::Leave { room } => self.leave(room).await,
            ClientFrame::Message { room, message } => self.message(room, &message).await,
            ClientFrame::Bid {
                room,
                amount,
                reference,
            } => {
                let room_text = room_label(&room);
                let Some(amount) = amount.as_i64() else {
                    return self.send(system(
                        Some(&room_text),
                        "invalid_amount",
                        Some("숫자값을 입력하세요"),
                        "amount must be a whole number of won",
                    ));
                };
                self.bid(room, amount, reference).await
            }
            ClientFrame::Getmessage { room, before } => self.history(room, before).await,
        }
    }

    fn room_of(&self, room: &RoomId) -> Result<i64, Arc<str>> {
        room.parse()
            .ok_or_else(|| system(None, "invalid_room", None, "room must be an auction id"))
    }

    async fn join(&mut self, room: RoomId) -> Result<(), Full> {
        let label = room_label(&room);
        let id = match self.room_of(&room) {
            Ok(id) => id,
            Err(frame) => return self.send(frame),
        };
        if !self.rooms.contains_key(&id) && self.rooms.len() >= MAX_ROOMS {
            return self.send(system(
                Some(&label),
                "too_many_rooms",
                None,
                "leave a room before joining another (20 at most)",
            ));
        }
        let loaded = async {
            let mut conn = self.state.db.get().await?;
            if !auctions::increment_views(&mut conn, id).await? {
                return Ok::<_, ApiError>(None);
            }
            let row = auctions::find(&mut conn, id).await?;
            let leader = match row.as_ref().and_then(|a| a.leader_id) {
                Some(leader) => users::find_by_id(&mut conn, leader)
                    .await?
                    .map(|u| u.nickname),
                None => None,
            };
            Ok(row.map(|a| (a, leader)))
        }
        .await;
        let (auction, leader) = match loaded {
            Ok(Some(found)) => found,
            Ok(None) => {
                return self.send(system(
                    Some(&label),
                    "not_found",
                    Some("올바른 경매가 아닙니다."),
                    "no such auction",
                ));
            }
            Err(e) => return self.send(system(Some(&label), e.code(), None, &e.to_string())),
        };
        let already = self.rooms.contains_key(&id);
        if !already {
            self.rooms
                .insert(id, BroadcastStream::new(self.state.bus.subscribe(id)));
        }
        let room_label = id.to_string();
        self.send(private(
            "state",
            Some(&room_label),
            state_fields(&auction.snapshot(), leader.as_deref(), Utc::now()),
        ))?;
        if let (Some(member), false) = (&self.member, already) {
            let nickname = member.nickname.clone();
            let mut f = Map::new();
            f.insert("code".into(), json!("joined"));
            f.insert("user".into(), json!(nickname));
            f.insert(
                "context".into(),
                json!(format!("{nickname}님이 경매에 참여하였습니다.")),
            );
            f.insert(
                "text".into(),
                json!(format!("{nickname} joined the auction")),
            );
            self.state.bus.publish(id, "message", f).await;
        }
        Ok(())
    }

    async fn leave(&mut self, room: RoomId) -> Result<(), Full> {
        let id = match self.room_of(&room) {
            Ok(id) => id,
            Err(frame) => return self.send(frame),
        };
        if self.rooms.remove(&id).is_none() {
            return self.send(system(
                Some(&id.to_string()),
                "not_joined",
                None,
                "you are not in this room",
            ));
        }
        self.announce_leave(id).await;
        Ok(())
    }

    async fn announce_leave(&self, id: i64) {
        if let Some(member) = &self.member {
            let nickname = &member.nickname;
            let mut f = Map::new();
            f.insert("code".into(), json!("left"));
            f.insert("user".into(), json!(nickname));
            f.insert(
                "context".into(),
                json!(format!("{nickname}님이 방을 나갔습니다.")),
            );
            f.insert("text".into(), json!(format!("{nickname} left the room")));
            self.state.bus.publish(id, "message", f).await;
        }
    }

    async fn leave_all(&mut self) {
        let rooms: Vec<i64> = self.rooms.keys().copied().collect();
        for id in rooms {
            self.rooms.remove(&id);
            self.announce_leave(id).await;
        }
    }

    /// The member, if the room is joined and the client logged in; else the
    /// system frame explaining why not.
    fn speaker(&self, room: &RoomId) -> Result<(i64, Member), Arc<str>> {
        let id = self.room_of(room)?;
        let label = id.to_string();
        let Some(member) = self.member.clone() else {
            return Err(system(
                Some(&label),
                "auth_required",
                Some("올바른 사용자가 아닙니다."),
                "log in (send an access token when connecting) to chat or bid",
            ));
        };
        if !self.rooms.contains_key(&id) {
            return Err(system(
                Some(&label),
                "not_joined",
                None,
                "join the room first",
            ));
        }
        Ok((id, member))
    }

    async fn message(&mut self, room: RoomId, text: &str) -> Result<(), Full> {
        let (id, member) = match self.speaker(&room) {
            Ok(found) => found,
            Err(frame) => return self.send(frame),
        };
        let label = id.to_string();
        match parse_chat_line(text) {
            ChatLine::Empty => self.send(system(
                Some(&label),
                "empty_message",
                None,
                "the message is empty",
            )),
            ChatLine::TooLong => self.send(system(
                Some(&label),
                "message_too_long",
                None,
                "messages are at most 1,000 characters",
            )),
            ChatLine::NotANumber => self.send(system(
                Some(&label),
                "not_a_number",
                Some("숫자값을 입력하세요"),
                "a line starting with # is a bid: write a number, e.g. #15000",
            )),
            ChatLine::Bid(amount) => self.bid(room, amount, None).await,
            ChatLine::Chat(text) => {
                let stored = async {
                    let mut conn = self.state.db.get().await?;
                    let status = auctions::find(&mut conn, id).await?.map(|a| a.status());
                    if status != Some(sitga_auction::AuctionStatus::Open) {
                        return Ok::<_, ApiError>(None);
                    }
                    let chat_id = auctions::insert_chat(
                        &mut conn,
                        id,
                        Some((member.user.id, &member.nickname)),
                        "chat",
                        &text,
                        None,
                    )
                    .await?;
                    Ok(Some(chat_id))
                }
                .await;
                let chat_id = match stored {
                    Ok(Some(chat_id)) => chat_id,
                    Ok(None) => {
                        return self.send(system(
                            Some(&label),
                            "auction_not_open",
                            None,
                            "the auction is closed; the room is read-only",
                        ));
                    }
                    Err(e) => {
                        return self.send(system(Some(&label), e.code(), None, &e.to_string()));
                    }
                };
                self.state
                    .bus
                    .remember(
                        id,
                        &HistoryItem {
                            id: chat_id,
                            user: Some(member.nickname.clone()),
                            code: "chat".into(),
                            context: text.clone(),
                            amount: None,
                            at: Utc::now().timestamp_millis(),
                        },
                    )
                    .await;
                let mut f = Map::new();
                f.insert("code".into(), json!("chat"));
                f.insert("id".into(), json!(chat_id));
                f.insert("user".into(), json!(member.nickname));
                f.insert("context".into(), json!(text));
                f.insert("text".into(), json!(text));
                self.state.bus.publish(id, "message", f).await;
                Ok(())
            }
        }
    }

    async fn bid(
        &mut self,
        room: RoomId,
        amount: Krw,
        reference: Option<Value>,
    ) -> Result<(), Full> {
        let (id, member) = match self.speaker(&room) {
            Ok(found) => found,
            Err(frame) => return self.send(frame),
        };
        let label = id.to_string();
        let outcome = self
            .state
            .engine
            .place(BidCommand {
                auction_id: id,
                bidder_id: member.user.id,
                nickname: member.nickname.clone(),
                amount,
            })
            .await;
        let mut f = Map::new();
        if let Some(reference) = reference {
            f.insert("ref".into(), reference);
        }
        f.insert("amount".into(), json!(amount));
        match outcome {
            Ok(BidOutcome::Accepted { bid, .. }) => {
                f.insert("code".into(), json!("bid_accepted"));
                f.insert(
                    "context".into(),
                    json!(accepted_text_ko(&member.nickname, bid.amount)),
                );
                f.insert(
                    "text".into(),
                    json!(format!("your bid of {} won is the highest", bid.amount)),
                );
                f.insert("bid_seq".into(), json!(bid.seq));
            }
            Ok(BidOutcome::Rejected { reason, .. }) => {
                f.insert("code".into(), json!(reason.code()));
                f.insert("context".into(), json!(rejected_text_ko(amount)));
                f.insert("text".into(), json!(reason.message()));
                match reason {
                    BidRejection::TooLow { min_next_bid } => {
                        f.insert("min_next_bid".into(), json!(min_next_bid));
                    }
                    BidRejection::InsufficientBalance { available } => {
                        f.insert("available".into(), json!(available));
                    }
                    _ => {}
                }
            }
            Err(e) => {
                let e = ApiError::from(e);
                f.insert("code".into(), json!(e.code()));
                f.insert("context".into(), json!(rejected_text_ko(amount)));
                f.insert("text".into(), json!(e.to_string()));
            }
        }
        self.send(private("system", Some(&label), f))
    }

    async fn history(&mut self, room: RoomId, before: Option<i64>) -> Result<(), Full> {
        let id = match self.room_of(&room) {
            Ok(id) => id,
            Err(frame) => return self.send(frame),
        };
        let label = id.to_string();
        let cached = match before {
            None => self.state.bus.recent(id, HISTORY_PAGE as usize).await,
            Some(_) => None,
        };
        let items = match cached {
            Some(items) => items,
            None => {
                let loaded = async {
                    let mut conn = self.state.db.get().await?;
                    Ok::<_, ApiError>(
                        auctions::chat_history(&mut conn, id, before, HISTORY_PAGE).await?,
                    )
                }
                .await;
                match loaded {
                    Ok(rows) => rows
                        .into_iter()
                        .map(|m| HistoryItem {
                            at: m.created_at().timestamp_millis(),
                            id: m.id,
                            user: m.nickname,
                            code: match m.kind.as_str() {
                                "bid" => "bid_accepted".into(),
                                other => other.to_owned(),
                            },
                            context: m.body,
                            amount: m.amount,
                        })
                        .collect(),
                    Err(e) => {
                        return self.send(system(Some(&label), e.code(), None, &e.to_string()));
                    }
                }
            }
        };
        let mut f = Map::new();
        f.insert("code".into(), json!("history"));
        f.insert("has_more".into(), json!(items.len() as i64 == HISTORY_PAGE));
        f.insert("messages".into(), json!(items));
        self.send(private("system", Some(&label), f))
    }
}

fn room_label(room: &RoomId) -> String {
    match room {
        RoomId::Number(n) => n.to_string(),
        RoomId::Text(t) => t.chars().take(20).collect(),
    }
}
