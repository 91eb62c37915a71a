//! The live auction gateway: `GET /ws`.
//!
//! Authentication happens once, at the upgrade (`Authorization: Bearer …` or
//! `?access_token=…`); without a token a client may join rooms and watch,
//! but chat and bids need one. Each connection has one reader task; what it
//! sends goes through its outlet: the client's own answers, and its rooms'
//! frames (encoded once per room), offered by its worker's relay of each
//! room, which writes them straight to an idle socket (under `sitga serve`,
//! where the connection's task took the socket out of the HTTP dispatcher,
//! see [`takeover`]). A client that reads too slowly falls a room buffer
//! behind (or lets its answers pile up) and is disconnected; it never slows
//! a room. The protocol is documented in `docs/protocol.md`.
//!
//! Split by concern: `connection` runs one socket (reader loop, heartbeat,
//! cut-offs), `outlet` writes what it sends, `codec` turns text frames into
//! [`ClientFrame`]s and answers into JSON, `commands` carries out what a
//! frame asks (join, leave, chat, bid, history) through the realtime crate
//! and persistence, `takeover` runs upgraded connections outside actix's
//! HTTP/1 dispatcher; this file is the upgrade.

mod codec;
mod commands;
mod connection;
mod limits;
mod outlet;
pub mod takeover;
mod worker_rooms;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sitga_persistence::users;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::state::AppState;

use connection::run;

pub use codec::{ClientFrame, MAX_FRAME_BYTES, RoomId, decode_frame};
pub use limits::{SocketRefusal, SocketSlot, WsLimits, WsQuotas};

/// Who is on the other end.
#[derive(Debug, Clone)]
struct Member {
    user: AuthUser,
    nickname: String,
    expires_at: chrono::DateTime<Utc>,
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
            user.check_session(&state).await?;
            let mut conn = state.db.get().await?;
            let nickname = users::find_by_id(&mut conn, user.id)
                .await?
                .ok_or(ApiError::Unauthorized {
                    code: ErrorCode::InvalidToken,
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
    let slot = state
        .ws
        .open(member.as_ref().map(|m| m.user.id), state.client_ip(&req))
        .map_err(|refusal| ApiError::TooManyConnections {
            message: match refusal {
                SocketRefusal::PerUser(cap) => {
                    format!("this account already has {cap} live connections; close one first")
                }
                SocketRefusal::PerAddress(cap) => {
                    format!("your address already has {cap} live connections; close one first")
                }
            },
        })?;
    // actix-ws does the handshake and reads the client's frames; what the
    // socket sends is written by its outlet (its `Session` is not used).
    let (response, _session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(ErrorCode::WebsocketHandshake, e.to_string()))?;
    let outlet = outlet::Outlet::new(member.as_ref().map(|m| m.user.id.get()));
    let mut response = response.map_body(|_, session_body| outlet.body(session_body));
    // Where the connection's task owns the socket (`takeover`), it hands the
    // socket to the outlet rather than polling the body.
    response.extensions_mut().insert(outlet.clone());
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let state = state.get_ref().clone();
    let span = tracing::info_span!("ws", user_id = member.as_ref().map(|m| m.user.id.get()));
    actix_web::rt::spawn(tracing::Instrument::instrument(
        run(state, member, slot, outlet, stream),
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

#[cfg(test)]
mod tests {
    use tokio::net::{TcpListener, TcpStream};

    /// A connected TCP pair on loopback: the server's side, the client's.
    pub(super) async fn connected() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }
}
