//! One socket: the reader loop, the heartbeat and the cut-offs (too slow,
//! idle, token expired). What the socket sends goes through its
//! [`Outlet`], which the connection's HTTP task writes.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use chrono::Utc;
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sitga_core::AuctionId;
use sitga_persistence::refresh_tokens;
use sitga_realtime::bus::Revocation;
use tokio::sync::broadcast;

use crate::error::ErrorCode;
use crate::state::AppState;

use super::Member;
use super::codec::system;
use super::outlet::{Full, Outlet};

/// Server ping interval.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A client silent (not even pong) this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection may send this many frames per second (bursts of twice that).
fn rate_limiter(per_second: NonZeroU32) -> DefaultDirectRateLimiter {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
}

pub(super) struct Connection {
    pub(super) state: AppState,
    pub(super) member: Option<Member>,
    pub(super) outlet: Outlet,
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
    outlet: Outlet,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let state_rate = state.ws.quotas().frames_per_second;
    let mut conn = Connection {
        state,
        member,
        outlet,
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
    if let Some(member) = &conn.member {
        conn.outlet
            .receive_notifications(conn.state.bus.subscribe_user(member.user.id));
    }

    let end = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_seen = tokio::time::Instant::now();
                match incoming {
                    None | Some(Ok(AggregatedMessage::Close(_))) => break End::ClientClosed,
                    Some(Err(e)) => break End::ProtocolError(e.to_string()),
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        // Boxed: what a frame asks (database reads, the
                        // engine) is a large future, held only while it runs
                        // rather than in every idle socket's task.
                        if Box::pin(conn.handle_text(&text)).await.is_err() {
                            break End::TooSlow;
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        let frame = system(None, ErrorCode::BinaryNotSupported, None, "send JSON text frames; binary frames are refused");
                        if conn.send(frame).is_err() { break End::TooSlow; }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if conn.outlet.pong(&bytes).is_err() { break End::TooSlow; }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                }
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    break End::Idle;
                }
                if conn.outlet.ping().is_err() {
                    break End::TooSlow;
                }
            }
            () = &mut token_expired => break End::TokenExpired,
            revocation = revocations.recv(), if conn.member.is_some() => {
                if Box::pin(conn.session_ended(revocation)).await {
                    break End::SessionRevoked;
                }
            }
        }
    };

    Box::pin(conn.leave_all()).await;
    let reason = match end {
        End::ClientClosed => None,
        // The outlet cut itself (its queue was full); it writes the close.
        End::TooSlow => return conn.outlet.cut(),
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
            description: Some(e),
        }),
    };
    conn.outlet.close(reason);
}

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
    pub(super) fn send(&self, frame: impl AsRef<str>) -> Result<(), Full> {
        self.outlet.send(frame.as_ref())
    }

    /// Sends what `decide` answers, later, without holding up this socket's
    /// reader loop: while a decision waits its turn (a crowd accepting one
    /// clock step queues on the auction), the room's frames keep flowing
    /// to the client. A socket too full to take the answer is cut.
    pub(super) fn answer_later(
        &self,
        decide: impl std::future::Future<Output = Arc<str>> + 'static,
    ) {
        let outlet = self.outlet.clone();
        actix_web::rt::spawn(async move {
            let _ = outlet.send(&decide.await);
        });
    }
}
