//! WebSocket clients of a sitga instance.

use std::net::{IpAddr, SocketAddr};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    let (ws, _) = tokio_tungstenite::client_async(request, stream)
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
pub async fn join(ws: &mut Socket, room: i64) -> Result<(), String> {
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
