//! Every frame the server sends over the WebSocket, typed
//! (`docs/protocol.md`). The body of a frame is a [`ServerFrame`], tagged by
//! `event`; [`encode`] wraps it in the envelope every frame has (`room`,
//! `server_now`, and `seq` for frames broadcast to a room). Room frames go
//! through the room bus ([`crate::bus::RoomBus::publish`]); private frames
//! go to one socket.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sitga_auction::{
    AcceptedBid, AuctionSnapshot, AuctionStatus, ClockReading, ClockSale, Krw, buy_now_available,
    min_next_bid, reserve_met, shown_status,
};
use sitga_core::SaleId;

use crate::bus::HistoryItem;

/// A frame's body, tagged by `event`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A line in the room: chat, an accepted bid, someone joining or leaving.
    Message(RoomMessage),
    /// The auction's state: to a client that joins, and to the room after
    /// accepted bids.
    State(AuctionState),
    /// The auction closed (sold, unsold or cancelled).
    Closed(AuctionClosed),
    /// An answer to one client: its bid's outcome, a refusal, a history page.
    System(SystemAnswer),
    /// Something for the signed-in user (outbid, won, a handover step, …),
    /// on each of their sockets, in a room or not.
    Notification(NotificationFrame),
    /// A clock (Dutch) auction's clock: to a client that joins, and to the
    /// room at each step and after each accept.
    Clock(ClockFrame),
}

/// A `clock` frame: where a clock auction's clock stands. Clients draw the
/// countdown to `next_step_at` against the envelope's `server_now`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockFrame {
    /// The price a bidder accepts now (per unit).
    pub price: Krw,
    /// When it falls next (ms since the epoch); null at the floor, where
    /// the clock only ends.
    pub next_step_at: Option<i64>,
    /// Units left.
    pub remaining: u32,
    /// Units at the start.
    pub quantity: u32,
    /// When the clock stops without a further accept (ms since the epoch).
    pub ends_at: i64,
}

/// A `notification` frame: a stored notification
/// (`GET /api/v1/me/notifications` lists the same).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationFrame {
    /// Its id (`POST /api/v1/me/notifications/read`).
    pub id: i64,
    /// `outbid`, `won`, `sold`, `ending_soon`, `sale_update`,
    /// `pickup_claimed`, `pickup_completed` or `badge_awarded`.
    pub kind: String,
    /// The auction it is about.
    pub auction_id: Option<sitga_core::AuctionId>,
    /// The sale it is about.
    pub sale_id: Option<SaleId>,
    /// The pickup it is about.
    pub pickup_id: Option<sitga_core::PickupId>,
    /// Korean.
    pub context: String,
    /// English.
    pub text: String,
    /// When it was stored (ms since the epoch).
    pub created_at: i64,
}

/// What a room `message` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageCode {
    /// Chat.
    Chat,
    /// An accepted bid.
    BidAccepted,
    /// Someone joined the room.
    Joined,
    /// Someone left it.
    Left,
}

/// A `message` frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomMessage {
    /// What it is.
    pub code: MessageCode,
    /// History id (chat), the cursor for `getmessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The nickname it is about.
    pub user: String,
    /// The text shown (Korean for notices).
    pub context: String,
    /// English.
    pub text: String,
    /// An accepted bid's amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Krw>,
    /// An accepted bid's sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_seq: Option<i64>,
    /// A clock's accept: the units bought (`amount` is each one's price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    /// The bid was placed by the engine from its bidder's maximum (sent
    /// only when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub proxy: bool,
}

/// A `state` frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuctionState {
    /// `scheduled` (before its start), `open`, `sold`, `unsold` or
    /// `cancelled`.
    pub status: &'static str,
    /// When bids open (ms since the epoch), for a scheduled start; null
    /// otherwise.
    pub starts_at: Option<i64>,
    /// The current price; null before the first bid.
    pub price: Option<Krw>,
    /// The smallest bid accepted now.
    pub min_next_bid: Krw,
    /// The leader's nickname.
    pub leader: Option<String>,
    /// Accepted bids so far.
    pub bid_count: i64,
    /// The effective end (ms since the epoch).
    pub ends_at: i64,
    /// Time left at `server_now`, never negative.
    pub ends_in_ms: i64,
    /// Whether the reserve (if any) is met.
    pub reserve_met: bool,
    /// The buy-now price while it applies (`{"event":"buy_now"}`); null
    /// when there is none or the bidding passed it.
    pub buy_now: Option<Krw>,
}

/// A `closed` frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuctionClosed {
    /// `sold`, `unsold` or `cancelled`.
    pub status: &'static str,
    /// The winner's nickname.
    pub winner: Option<String>,
    /// The price paid.
    pub price: Option<Krw>,
    /// The sale that now waits for the handover (`GET /api/v1/sales/{sale_id}`);
    /// null unless sold.
    pub sale_id: Option<SaleId>,
    /// Korean.
    pub context: String,
    /// English.
    pub text: String,
}

/// A `system` frame: the answer to one client's frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SystemAnswer {
    /// The outcome: an error code (`docs/errors.md`), `bid_accepted` or
    /// `history`.
    pub code: &'static str,
    /// A bid's amount, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Krw>,
    /// The client's `ref`, echoed.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<serde_json::Value>,
    /// An accepted bid's sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_seq: Option<i64>,
    /// `bid_too_low`: the smallest bid accepted now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_next_bid: Option<Krw>,
    /// `insufficient_balance`: the points available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<Krw>,
    /// `price_moved`: the price now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Krw>,
    /// `max_too_low`: the smallest maximum accepted now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_max: Option<Krw>,
    /// `bid_accepted`, `max_raised`: the sender's own maximum standing now
    /// (only in this private answer; never in a room frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Krw>,
    /// `bid_accepted`: whether the sender leads (false when a higher
    /// maximum answered the bid at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leading: Option<bool>,
    /// `bid_accepted`, `bought`: true when this answers a re-sent frame
    /// (same `ref`) from the first one's decision; nothing was decided again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    /// `bought`: the sale that now waits for the handover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_id: Option<SaleId>,
    /// `bought` (a clock's accept): the units bought.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    /// `bought` (a clock's accept), `units_unavailable`: the units left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// Korean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A history page: whether older messages exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
    /// A history page, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<HistoryItem>>,
}

/// The frame as sent: the envelope around the body.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    #[serde(flatten)]
    frame: &'a ServerFrame,
    room: Option<String>,
    server_now: i64,
}

/// The JSON text of `frame` for `room` (`None`: a frame about no room),
/// numbered `seq` when it is broadcast to a room.
pub fn encode(
    frame: &ServerFrame,
    room: Option<String>,
    seq: Option<i64>,
    now: DateTime<Utc>,
) -> String {
    let envelope = Envelope {
        seq,
        frame,
        room,
        server_now: now.timestamp_millis(),
    };
    // Serializing plain data to a string cannot fail; an empty object keeps
    // the socket alive if it ever did.
    serde_json::to_string(&envelope).unwrap_or_else(|_| "{}".to_owned())
}

/// The Korean text for an accepted bid (from the original app).
pub fn accepted_text_ko(nickname: &str, amount: Krw) -> String {
    format!("{nickname}님이 {amount}로 성공적으로 입찰하였습니다.")
}

/// The room's Korean line for `bid`: a proxy's step says it was automatic
/// (never the maximum behind it).
pub fn bid_text_ko(nickname: &str, bid: &AcceptedBid) -> String {
    if bid.proxy {
        format!(
            "{nickname}님의 자동 입찰이 {}로 입찰하였습니다.",
            bid.amount
        )
    } else {
        accepted_text_ko(nickname, bid.amount)
    }
}

/// The room's Korean line for a clock's accept.
pub fn clock_accepted_text_ko(nickname: &str, sale: &ClockSale) -> String {
    format!(
        "{nickname}님이 {}원에 {}개를 낙찰받았습니다.",
        sale.unit_price, sale.units
    )
}

/// The Korean text for a refused bid (from the original app).
pub fn rejected_text_ko(amount: Krw) -> String {
    format!("{amount}로 입찰실패하였습니다. 금액을 확인 후 시도해 주세요.")
}

impl ServerFrame {
    /// The room's `message` for an accepted bid.
    pub fn bid_accepted(nickname: &str, bid: &AcceptedBid) -> Self {
        Self::Message(RoomMessage {
            code: MessageCode::BidAccepted,
            id: None,
            user: nickname.to_owned(),
            context: bid_text_ko(nickname, bid),
            text: if bid.proxy {
                format!("{nickname}'s maximum bid {} won", bid.amount)
            } else {
                format!("{nickname} bid {} won", bid.amount)
            },
            amount: Some(bid.amount),
            bid_seq: Some(bid.seq),
            units: None,
            proxy: bid.proxy,
        })
    }

    /// The room's `message` for a clock's accept.
    pub fn clock_accepted(nickname: &str, sale: &ClockSale) -> Self {
        Self::Message(RoomMessage {
            code: MessageCode::BidAccepted,
            id: None,
            user: nickname.to_owned(),
            context: clock_accepted_text_ko(nickname, sale),
            text: format!(
                "{nickname} bought {} at {} won each",
                sale.units, sale.unit_price
            ),
            amount: Some(sale.unit_price),
            bid_seq: Some(sale.seq),
            units: Some(sale.units),
            proxy: false,
        })
    }

    /// The `clock` frame of a clock read at some moment.
    pub fn clock(reading: &ClockReading, quantity: u32) -> Self {
        Self::Clock(ClockFrame {
            price: reading.price,
            next_step_at: reading.next_step_at.map(|at| at.timestamp_millis()),
            remaining: reading.remaining,
            quantity,
            ends_at: reading.ends_at.timestamp_millis(),
        })
    }

    /// The `state` of `auction` at `now`, with its leader's nickname.
    pub fn state(auction: &AuctionSnapshot, leader: Option<&str>, now: DateTime<Utc>) -> Self {
        Self::State(AuctionState {
            status: shown_status(auction, now).code(),
            starts_at: auction.starts_at.map(|at| at.timestamp_millis()),
            price: auction.current_price,
            min_next_bid: min_next_bid(auction),
            leader: leader.map(str::to_owned),
            bid_count: auction.bid_count,
            ends_at: auction.ends_at.timestamp_millis(),
            ends_in_ms: (auction.ends_at - now).num_milliseconds().max(0),
            reserve_met: reserve_met(auction),
            buy_now: buy_now_available(auction),
        })
    }

    /// A `closed` frame.
    pub fn closed(
        status: AuctionStatus,
        winner: Option<String>,
        sold: Option<(Krw, SaleId)>,
        context: String,
        text: String,
    ) -> Self {
        Self::Closed(AuctionClosed {
            status: status.code(),
            winner,
            price: sold.map(|(price, _)| price),
            sale_id: sold.map(|(_, sale)| sale),
            context,
            text,
        })
    }

    /// A room notice that `nickname` joined or left.
    pub fn presence(code: MessageCode, nickname: &str) -> Self {
        let (context, text) = match code {
            MessageCode::Left => (
                format!("{nickname}님이 방을 나갔습니다."),
                format!("{nickname} left the room"),
            ),
            _ => (
                format!("{nickname}님이 경매에 참여하였습니다."),
                format!("{nickname} joined the auction"),
            ),
        };
        Self::Message(RoomMessage {
            code,
            id: None,
            user: nickname.to_owned(),
            context,
            text,
            amount: None,
            bid_seq: None,
            units: None,
            proxy: false,
        })
    }

    /// The live copy of a stored notification.
    pub fn notification(row: &sitga_persistence::notifications::Notification) -> Self {
        Self::Notification(NotificationFrame {
            id: row.id,
            kind: row.kind.clone(),
            auction_id: row.auction_id,
            sale_id: row.sale_id,
            pickup_id: row.pickup_id,
            context: row.text_ko.clone(),
            text: row.text_en.clone(),
            created_at: row.created_at().timestamp_millis(),
        })
    }

    /// A chat line (history id `id`).
    pub fn chat(id: i64, nickname: &str, text: &str) -> Self {
        Self::Message(RoomMessage {
            code: MessageCode::Chat,
            id: Some(id),
            user: nickname.to_owned(),
            context: text.to_owned(),
            text: text.to_owned(),
            amount: None,
            bid_seq: None,
            units: None,
            proxy: false,
        })
    }
}
