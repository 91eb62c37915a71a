//! The protocol codec: client frames decoded (never panicking, whatever
//! the input) and private answers encoded. Room frames are encoded once by
//! the room bus, not here.

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ErrorCode;

/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

pub(super) fn private(event: &str, room: Option<&str>, fields: Map<String, Value>) -> Arc<str> {
    let mut frame = Map::with_capacity(fields.len() + 3);
    frame.insert("event".into(), json!(event));
    frame.insert("room".into(), json!(room));
    frame.insert("server_now".into(), json!(Utc::now().timestamp_millis()));
    frame.extend(fields);
    Value::Object(frame).to_string().into()
}

pub(super) fn system(
    room: Option<&str>,
    code: ErrorCode,
    context: Option<&str>,
    text: &str,
) -> Arc<str> {
    let mut f = Map::new();
    f.insert("code".into(), json!(code));
    if let Some(context) = context {
        f.insert("context".into(), json!(context));
    }
    f.insert("text".into(), json!(text));
    private("system", room, f)
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
pub fn decode_frame(text: &str) -> Result<ClientFrame, (ErrorCode, String)> {
    serde_json::from_str(text).map_err(|e| {
        let value = serde_json::from_str::<Value>(text).ok();
        let event = value
            .as_ref()
            .and_then(|v| v.get("event").and_then(Value::as_str).map(str::to_owned));
        match (value.is_some(), event.as_deref()) {
            (false, _) => (ErrorCode::MalformedJson, format!("not JSON: {e}")),
            (true, None) => (
                ErrorCode::MissingEvent,
                "every frame needs an `event`".to_owned(),
            ),
            (true, Some("join" | "leave" | "message" | "bid" | "getmessage")) => {
                (ErrorCode::InvalidFrame, e.to_string())
            }
            (true, Some(other)) => (ErrorCode::UnknownEvent, format!("unknown event {other:?}")),
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
