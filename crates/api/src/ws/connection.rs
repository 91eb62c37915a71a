//! One socket: the reader loop, the writer task joined to it by a bounded
//! queue, the heartbeat and the cut-offs (too slow, idle, token expired).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use chrono::Utc;
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sitga_core::AuctionId;
use sitga_persistence::refresh_tokens;
use sitga_realtime::bus::{Revocation, RoomFrame};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::ErrorCode;
use crate::state::AppState;

use super::Member;
use super::codec::system;

/// Frames queued for one client before it counts as too slow.
const SEND_QUEUE: usize = 256;
/// Server ping interval.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A client silent (not even pong) this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection may send this many frames per second (bursts of twice that).
fn rate_limiter(per_second: NonZeroU32) -> DefaultDirectRateLimiter {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
}

enum Outbound {
    Text(Arc<str>),
    Ping,
}

pub(super) struct Connection {
    pub(super) state: AppState,
    pub(super) member: Option<Member>,
    out: mpsc::Sender<Outbound>,
    pub(super) rooms: StreamMap<AuctionId, BroadcastStream<RoomFrame>>,
    pub(super) limiter: DefaultDirectRateLimiter,
    /// Auctions this socket has counted a view of.
    pub(super) viewed: std::collections::HashSet<AuctionId>,
}

/// Why the reader loop ended.
enum End {
    ClientClosed,
    TooSlow,
    Idle,
    TokenExpired,
    SessionRevoked,
    ProtocolError(String),
}

pub(super) async fn run(
    state: AppState,
    member: Option<Member>,
    // Held until the socket ends: its place in the per-account and
    // per-address counts.
    _slot: super::SocketSlot,
    session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let state_rate = state.ws.quotas().frames_per_second;
    let (out_tx, out_rx) = mpsc::channel::<Outbound>(SEND_QUEUE);
    let (close_tx, close_rx) = oneshot::channel::<Option<CloseReason>>();
    let writer = actix_web::rt::spawn(write_loop(session.clone(), out_rx, close_rx));
    let mut conn = Connection {
        state,
        member,
        out: out_tx,
        rooms: StreamMap::new(),
        limiter: rate_limiter(state_rate),
        viewed: std::collections::HashSet::new(),
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
    let mut revocations = conn.state.bus.revocations();
    // A signed-in socket gets its user's notifications, in a room or not.
    let mut inbox = conn
        .member
        .as_ref()
        .map(|m| conn.state.bus.subscribe_user(m.user.id));

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
                        let frame = system(None, ErrorCode::BinaryNotSupported, None, "send JSON text frames; binary frames are refused");
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
                        tracing::info!(room = room.get(), lagged = n, "client fell behind its room; disconnecting");
                        break End::TooSlow;
                    }
                }
            }
            told = next_notification(&mut inbox) => {
                match told {
                    Ok(json) => {
                        if conn.out.try_send(Outbound::Text(json)).is_err() {
                            break End::TooSlow;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::info!(lagged = n, "client fell behind its notifications; disconnecting");
                        break End::TooSlow;
                    }
                    Err(broadcast::error::RecvError::Closed) => inbox = None,
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
            revocation = revocations.recv(), if conn.member.is_some() => {
                if conn.session_ended(revocation).await {
                    break End::SessionRevoked;
                }
            }
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
        End::SessionRevoked => Some(CloseReason {
            code: CloseCode::Policy,
            description: Some("session_revoked: the session was ended; log in again".into()),
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

/// The next notification for this socket's user; never, for a guest.
async fn next_notification(
    inbox: &mut Option<broadcast::Receiver<Arc<str>>>,
) -> Result<Arc<str>, broadcast::error::RecvError> {
    match inbox {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
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

/// The queue to this client is full: it reads too slowly.
pub(super) struct Full;

impl Connection {
    /// Whether a revocation (or missed revocations) ended this socket's
    /// session. A user-wide one is checked against the database itself, not
    /// the cache, which may not have applied it yet.
    async fn session_ended(
        &self,
        revocation: Result<Revocation, broadcast::error::RecvError>,
    ) -> bool {
        let Some(member) = &self.member else {
            return false;
        };
        let user = &member.user;
        match revocation {
            Ok(Revocation::Session(sid)) => sid == user.session_id,
            Ok(Revocation::User(id)) if id != user.id => false,
            Err(broadcast::error::RecvError::Closed) => false,
            Ok(Revocation::User(_)) | Err(broadcast::error::RecvError::Lagged(_)) => {
                let alive = async {
                    let mut conn = self.state.db.get().await?;
                    refresh_tokens::session_alive(&mut conn, user.id, &user.session_id).await
                }
                .await;
                // A database hiccup does not close a socket.
                matches!(alive, Ok(false))
            }
        }
    }

    /// Queues a private frame for this client.
    pub(super) fn send(&self, frame: Arc<str>) -> Result<(), Full> {
        self.out.try_send(Outbound::Text(frame)).map_err(|_| Full)
    }

    /// Sends what `decide` answers, later, without holding up this socket's
    /// reader loop: while a decision waits its turn (a crowd accepting one
    /// clock step queues on the auction), the room's frames keep flowing
    /// to the client. A socket too full to take the answer is cut by the
    /// next frame the loop tries to queue.
    pub(super) fn answer_later(
        &self,
        decide: impl std::future::Future<Output = Arc<str>> + 'static,
    ) {
        let out = self.out.clone();
        actix_web::rt::spawn(async move {
            let _ = out.try_send(Outbound::Text(decide.await));
        });
    }
}
