//! The protocol codec: client frames decoded (never panicking, whatever
//! the input) and private answers encoded. Room frames are encoded once by
//! the room bus, not here.

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use sitga_auction::{BidRejection, Krw};
use sitga_core::AuctionId;
use sitga_persistence::auctions::ClientRef;
use sitga_realtime::bus::HistoryItem;
use sitga_realtime::clock::AcceptResult;
use sitga_realtime::closing::{BuyNowResult, bought_text_ko};
use sitga_realtime::engine::{BidOutcome, EngineError};
use sitga_realtime::frames::{self, ServerFrame, SystemAnswer, accepted_text_ko, rejected_text_ko};

use crate::error::{ApiError, ErrorCode};

/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// A frame for this client only (no `seq`).
pub(super) fn private(room: Option<&str>, frame: &ServerFrame) -> Arc<str> {
    frames::encode(frame, room.map(str::to_owned), None, Utc::now()).into()
}

/// A `system` frame refusing something, with an error code.
pub(super) fn system(
    room: Option<&str>,
    code: ErrorCode,
    context: Option<&str>,
    text: &str,
) -> Arc<str> {
    let answer = SystemAnswer {
        code: code.as_str(),
        context: context.map(str::to_owned),
        text: Some(text.to_owned()),
        ..SystemAnswer::default()
    };
    private(room, &ServerFrame::System(answer))
}

/// Longest `ref` string that is an idempotency key (characters).
pub const MAX_REF_CHARS: usize = 64;

/// The idempotency key of a frame's `ref`, with the request it stands for:
/// a string of 1–64 characters or an integer is a key; any other `ref` is
/// only echoed.
pub(super) fn client_ref(reference: Option<&Value>, request: String) -> Option<ClientRef> {
    let key = match reference? {
        Value::String(text) if (1..=MAX_REF_CHARS).contains(&text.chars().count()) => {
            format!("s:{text}")
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("n:{n}"),
        _ => return None,
    };
    Some(ClientRef { key, request })
}

/// The answer to a frame under a `ref` that did something else before.
fn no_auction() -> (ErrorCode, String) {
    (ErrorCode::NotFound, "no such auction".to_owned())
}

fn ref_reused(answer: &mut SystemAnswer) {
    answer.code = ErrorCode::RefReused.as_str();
    answer.context = Some("이미 다른 요청에 쓴 ref입니다. 새 ref로 다시 보내 주세요.".to_owned());
    answer.text = Some(
        "this ref was used for a different bid on this auction; nothing was decided".to_owned(),
    );
}

/// Adds the figure that helps with `reason`: the least bid or maximum
/// accepted, the points available, the price now, the units left.
fn with_figures(answer: &mut SystemAnswer, reason: BidRejection) {
    match reason {
        BidRejection::TooLow { min_next_bid } => answer.min_next_bid = Some(min_next_bid),
        BidRejection::InsufficientBalance { available } => answer.available = Some(available),
        BidRejection::MaxTooLow { min_max } => answer.min_max = Some(min_max),
        BidRejection::PriceMoved { price } => answer.price = Some(price),
        BidRejection::UnitsUnavailable { remaining } => answer.remaining = Some(remaining),
        _ => {}
    }
}

/// A buy-now or accept that bought nothing: refused by a rule (`Ok`, with
/// its figure), or (`Err`) no such auction or not decided; `context` is
/// the Korean line.
fn purchase_refused(
    answer: &mut SystemAnswer,
    context: &str,
    refusal: Result<BidRejection, (ErrorCode, String)>,
) {
    let (code, text) = match refusal {
        Ok(reason) => {
            with_figures(answer, reason);
            (ErrorCode::from(reason), reason.message())
        }
        Err(not_decided) => not_decided,
    };
    answer.code = code.as_str();
    answer.context = Some(context.to_owned());
    answer.text = Some(text);
}

/// The answer to a client's bid of `amount` and/or `max` (with its `ref`),
/// placed as `nickname`: accepted (with its sequence number; `leading`
/// false when a higher maximum answered it at once; the sender's own
/// standing `max`), a raised maximum, refused by a rule (with
/// `min_next_bid`, `min_max` or `available` where they help), or not
/// decided.
pub(super) fn bid_answer(
    nickname: &str,
    (amount, max): (Option<Krw>, Option<Krw>),
    reference: Option<Value>,
    outcome: Result<BidOutcome, EngineError>,
) -> SystemAnswer {
    let mut answer = SystemAnswer {
        amount,
        reference,
        ..SystemAnswer::default()
    };
    let sent = amount.or(max).unwrap_or_default();
    match outcome {
        Ok(BidOutcome::Accepted {
            bid,
            answer: by,
            max,
            ..
        }) => {
            answer.code = "bid_accepted";
            // The bid placed: a maximum's is the engine's choice.
            answer.amount = Some(bid.amount);
            answer.bid_seq = Some(bid.seq);
            answer.max = max;
            answer.leading = Some(by.is_none());
            answer.context = Some(frames::bid_text_ko(nickname, &bid));
            answer.text = Some(match by {
                None => format!("your bid of {} won is the highest", bid.amount),
                Some(by) => format!(
                    "your bid of {} won was answered at once by a higher maximum: the price is {} won",
                    bid.amount, by.amount
                ),
            });
        }
        Ok(BidOutcome::Replayed { seq, amount }) => {
            answer.code = "bid_accepted";
            answer.bid_seq = Some(seq);
            answer.amount = Some(amount);
            answer.replayed = Some(true);
            answer.context = Some(accepted_text_ko(nickname, amount));
            answer.text = Some(format!(
                "this frame placed bid #{seq} of {amount} won already; nothing was placed again"
            ));
        }
        Ok(BidOutcome::RefReused) => ref_reused(&mut answer),
        Ok(BidOutcome::MaxRaised { max, .. }) => {
            answer.code = "max_raised";
            answer.max = Some(max);
            answer.leading = Some(true);
            answer.context = Some(format!("최대 입찰가를 {max}원으로 올렸습니다."));
            answer.text = Some(format!(
                "your maximum is now {max} won; the price did not move"
            ));
        }
        Ok(BidOutcome::Rejected { reason, .. }) => {
            answer.code = ErrorCode::from(reason).as_str();
            answer.context = Some(rejected_text_ko(sent));
            answer.text = Some(reason.message());
            with_figures(&mut answer, reason);
        }
        Err(e) => {
            let e = ApiError::from(e);
            answer.code = e.code().as_str();
            answer.context = Some(rejected_text_ko(sent));
            answer.text = Some(e.to_string());
        }
    }
    answer
}

/// The answer to a client's buy-now at `price` (with its `ref`): bought
/// (with the sale), refused by a rule (with `price` when it moved, or
/// `available`), or not decided.
pub(super) fn buy_now_answer(
    nickname: &str,
    price: Krw,
    reference: Option<Value>,
    outcome: Result<BuyNowResult, ApiError>,
) -> SystemAnswer {
    let mut answer = SystemAnswer {
        amount: Some(price),
        reference,
        ..SystemAnswer::default()
    };
    let failed = "즉시 구매에 실패하였습니다.";
    match outcome {
        Ok(BuyNowResult::Bought { bid, sale_id }) => {
            answer.code = "bought";
            answer.context = Some(bought_text_ko(nickname, bid.amount));
            answer.text = Some(format!(
                "you bought it for {} won; the payment waits in escrow until the handover",
                bid.amount
            ));
            answer.bid_seq = Some(bid.seq);
            answer.sale_id = Some(sale_id);
        }
        Ok(BuyNowResult::Refused(reason)) => purchase_refused(&mut answer, failed, Ok(reason)),
        Ok(BuyNowResult::Replayed {
            seq,
            amount,
            sale_id,
        }) => {
            answer.code = "bought";
            answer.context = Some(bought_text_ko(nickname, amount));
            answer.text = Some(format!(
                "this frame bought it already for {amount} won; nothing was bought again"
            ));
            answer.bid_seq = Some(seq);
            answer.sale_id = sale_id;
            answer.replayed = Some(true);
        }
        Ok(BuyNowResult::RefReused) => ref_reused(&mut answer),
        Ok(BuyNowResult::Missing) => purchase_refused(&mut answer, failed, Err(no_auction())),
        Err(e) => purchase_refused(&mut answer, failed, Err((e.code(), e.to_string()))),
    }
    answer
}

/// The answer to a client's accept of `units` at `price` (with its `ref`):
/// bought (with the sale and the units left), refused by a rule (with
/// `price` when the clock moved, `remaining` when fewer units are left, or
/// `available`), or not decided.
pub(super) fn accept_answer(
    nickname: &str,
    price: Krw,
    reference: Option<Value>,
    outcome: Result<AcceptResult, ApiError>,
) -> SystemAnswer {
    let mut answer = SystemAnswer {
        amount: Some(price),
        reference,
        ..SystemAnswer::default()
    };
    let failed = "구매에 실패하였습니다.";
    match outcome {
        Ok(AcceptResult::Bought { sale, sale_id, .. }) => {
            answer.code = "bought";
            answer.context = Some(frames::clock_accepted_text_ko(nickname, &sale));
            answer.text = Some(format!(
                "you bought {} at {} won each ({} won); the payment waits in escrow until the handover",
                sale.units, sale.unit_price, sale.total
            ));
            answer.bid_seq = Some(sale.seq);
            answer.sale_id = Some(sale_id);
            answer.units = Some(sale.units);
            answer.remaining = Some(sale.after.remaining);
        }
        Ok(AcceptResult::Refused(reason)) => purchase_refused(&mut answer, failed, Ok(reason)),
        Ok(AcceptResult::Replayed {
            seq,
            units,
            unit_price,
            sale_id,
        }) => {
            answer.code = "bought";
            answer.amount = Some(unit_price);
            answer.context = Some(format!(
                "{nickname}님이 {unit_price}원에 {units}개를 낙찰받았습니다."
            ));
            answer.text = Some(format!(
                "this frame bought {units} at {unit_price} won each already; nothing was bought again"
            ));
            answer.bid_seq = Some(seq);
            answer.sale_id = sale_id;
            answer.units = Some(units);
            answer.replayed = Some(true);
        }
        Ok(AcceptResult::RefReused) => ref_reused(&mut answer),
        Ok(AcceptResult::Missing) => purchase_refused(&mut answer, failed, Err(no_auction())),
        Err(e) => purchase_refused(&mut answer, failed, Err((e.code(), e.to_string()))),
    }
    answer
}

/// A page of room history, oldest first.
pub(super) fn history_page(messages: Vec<HistoryItem>, has_more: bool) -> ServerFrame {
    ServerFrame::System(SystemAnswer {
        code: "history",
        has_more: Some(has_more),
        messages: Some(messages),
        ..SystemAnswer::default()
    })
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
    /// A bid: an amount, a maximum, or both.
    Bid {
        /// The auction.
        room: RoomId,
        /// Whole KRW (checked after decoding); with only `max`, the least
        /// that leads.
        #[serde(default)]
        amount: Option<Value>,
        /// The most the server may bid for the sender (a proxy bid), whole
        /// KRW; private.
        #[serde(default)]
        max: Option<Value>,
        /// Echoed in the answer; an idempotency key.
        #[serde(rename = "ref")]
        reference: Option<Value>,
        /// Sent again after its answer was lost: answered from the first
        /// decision under the same `ref`.
        #[serde(default)]
        resend: bool,
    },
    /// Buy at the buy-now price, ending the auction.
    #[serde(rename = "buy_now")]
    BuyNow {
        /// The auction.
        room: RoomId,
        /// The buy-now price as the client showed it (whole KRW).
        price: Value,
        /// Echoed in the answer; an idempotency key.
        #[serde(rename = "ref")]
        reference: Option<Value>,
        /// Sent again after its answer was lost.
        #[serde(default)]
        resend: bool,
    },
    /// Accept a clock (Dutch) auction's price for some units.
    Accept {
        /// The auction.
        room: RoomId,
        /// Units to buy (whole number; default 1).
        #[serde(default)]
        units: Option<Value>,
        /// The clock's price as the client showed it (whole KRW per unit).
        price: Value,
        /// Echoed in the answer; an idempotency key.
        #[serde(rename = "ref")]
        reference: Option<Value>,
        /// Sent again after its answer was lost.
        #[serde(default)]
        resend: bool,
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
            (
                true,
                Some("join" | "leave" | "message" | "bid" | "buy_now" | "accept" | "getmessage"),
            ) => (ErrorCode::InvalidFrame, e.to_string()),
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
    pub fn parse(&self) -> Option<AuctionId> {
        let id = match self {
            Self::Number(n) => Some(*n),
            Self::Text(t) => t.trim().parse::<i64>().ok(),
        };
        id.filter(|n| *n > 0).map(AuctionId::new)
    }
}

#[cfg(test)]
mod protocol_document {
    //! `docs/protocol.md`'s example is the server's output: each `←` line is
    //! rebuilt here from the frame types and compared as JSON.

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use serde_json::json;
    use sitga_auction::{
        AcceptedBid, AuctionSnapshot, AuctionStatus, BidRejection, ClockOrder, ClockRules,
        ClockState, Krw,
    };
    use sitga_core::{AuctionId, SaleId, UserId};
    use sitga_realtime::bus::HistoryItem;
    use sitga_realtime::clock::AcceptResult;
    use sitga_realtime::engine::BidOutcome;
    use sitga_realtime::frames::{self, MessageCode, ServerFrame};

    use super::{accept_answer, bid_answer, history_page};

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().unwrap()
    }

    fn auction(price: i64, leader: i64, bids: i64) -> AuctionSnapshot {
        AuctionSnapshot {
            id: AuctionId::new(7),
            seller_id: UserId::new(1),
            status: AuctionStatus::Open,
            start_price: Krw::new(30_000),
            increment: sitga_auction::Increment::Fixed(Krw::new(1_000)),
            buy_now_price: None,
            starts_at: None,
            reserve_price: None,
            current_price: Some(Krw::new(price)),
            leader_id: Some(UserId::new(leader)),
            leader_max: None,
            bid_count: bids,
            ends_at: at(1_795_801_200_000),
            hard_end_at: at(1_795_801_200_000) + Duration::minutes(30),
            soft_close: Duration::minutes(2),
        }
    }

    /// The example's frames, in order: (frame, seq, server_now).
    fn frames_of_the_example() -> Vec<(ServerFrame, Option<i64>, i64)> {
        let bid = AcceptedBid {
            amount: Krw::new(39_000),
            bidder_id: UserId::new(3),
            seq: 5,
            ends_at: at(1_795_801_200_000),
            extended: false,
            released: Some((UserId::new(2), Krw::new(38_000))),
            proxy: false,
        };
        let after = auction(39_000, 3, 5);
        let accepted = BidOutcome::Accepted {
            bid: bid.clone(),
            answer: None,
            max: None,
            after: after.clone(),
            chat_id: 32,
        };
        let leading = BidOutcome::Rejected {
            reason: BidRejection::AlreadyLeading,
            seen: after.clone(),
        };
        // 김셰프 bids 40,000 under 민수's maximum of 45,000: the proxy answers.
        let challenge = AcceptedBid {
            amount: Krw::new(40_000),
            bidder_id: UserId::new(2),
            seq: 6,
            ends_at: at(1_795_801_200_000),
            extended: false,
            released: Some((UserId::new(3), Krw::new(39_000))),
            proxy: false,
        };
        let proxy_answer = AcceptedBid {
            amount: Krw::new(41_000),
            bidder_id: UserId::new(3),
            seq: 7,
            ends_at: at(1_795_801_200_000),
            extended: false,
            released: Some((UserId::new(2), Krw::new(40_000))),
            proxy: true,
        };
        let answered = auction(41_000, 3, 7);
        let history = vec![HistoryItem {
            id: 31,
            user: Some("김셰프".into()),
            code: "bid_accepted".into(),
            context: frames::accepted_text_ko("김셰프", Krw::new(38_000)),
            amount: Some(Krw::new(38_000)),
            at: 1_795_789_000_000,
        }];
        vec![
            (
                ServerFrame::state(
                    &auction(38_000, 2, 4),
                    Some("김셰프"),
                    at(1_795_790_400_000),
                ),
                None,
                1_795_790_400_000,
            ),
            (
                ServerFrame::presence(MessageCode::Joined, "민수"),
                Some(12),
                1_795_790_400_010,
            ),
            (
                ServerFrame::bid_accepted("민수", &bid),
                Some(13),
                1_795_790_401_002,
            ),
            (
                ServerFrame::state(&after, Some("민수"), at(1_795_790_401_003)),
                Some(14),
                1_795_790_401_003,
            ),
            (
                ServerFrame::System(bid_answer(
                    "민수",
                    (Some(Krw::new(39_000)), None),
                    None,
                    Ok(accepted),
                )),
                None,
                1_795_790_401_004,
            ),
            (
                ServerFrame::System(bid_answer(
                    "민수",
                    (Some(Krw::new(39_500)), None),
                    Some(json!("c-42")),
                    Ok(leading),
                )),
                None,
                1_795_790_402_000,
            ),
            (
                ServerFrame::System(bid_answer(
                    "민수",
                    (None, Some(Krw::new(45_000))),
                    Some(json!("c-43")),
                    Ok(BidOutcome::MaxRaised {
                        max: Krw::new(45_000),
                        after: after.clone(),
                    }),
                )),
                None,
                1_795_790_402_100,
            ),
            (
                ServerFrame::bid_accepted("김셰프", &challenge),
                Some(15),
                1_795_790_402_200,
            ),
            (
                ServerFrame::bid_accepted("민수", &proxy_answer),
                Some(16),
                1_795_790_402_201,
            ),
            (
                ServerFrame::state(&answered, Some("민수"), at(1_795_790_402_202)),
                Some(17),
                1_795_790_402_202,
            ),
            (
                ServerFrame::chat(33, "민수", "얼음 포장인가요?"),
                Some(18),
                1_795_790_402_500,
            ),
            (history_page(history, false), None, 1_795_790_403_000),
            (
                ServerFrame::closed(
                    AuctionStatus::Sold,
                    Some("민수".into()),
                    Some((Krw::new(41_000), sitga_core::SaleId::new(12))),
                    "경매가 종료되었습니다. 민수님이 41000원에 낙찰받았습니다. 인계가 끝날 때까지 대금은 에스크로에 보관됩니다.".into(),
                    "sold for 41000 won; the payment waits in escrow until the handover".into(),
                ),
                Some(19),
                1_795_801_200_100,
            ),
            (won_notification(), None, 1_795_801_200_300),
        ]
    }

    /// What the winner's sockets get after the close: their stored `won`
    /// notification.
    fn won_notification() -> ServerFrame {
        let [won, _] = sitga_realtime::notices::sold(
            AuctionId::new(7),
            UserId::new(3),
            UserId::new(1),
            Krw::new(41_000),
            sitga_core::SaleId::new(12),
        );
        ServerFrame::Notification(frames::NotificationFrame {
            id: 88,
            kind: won.kind.code().into(),
            auction_id: won.auction_id,
            sale_id: won.sale_id,
            pickup_id: won.pickup_id,
            context: won.text_ko,
            text: won.text_en,
            created_at: 1_795_801_200_200,
        })
    }

    /// A clock auction's example: a joiner sees the clock, a late accept
    /// is told the price, an accept buys three boxes, the clock pauses and
    /// steps on.
    fn clock_frames_of_the_example() -> Vec<(ServerFrame, Option<i64>, i64)> {
        let rules = ClockRules {
            floor_price: Krw::new(20_000),
            step: Krw::new(1_000),
            step_every: Duration::seconds(5),
            pause: Duration::seconds(3),
            quantity: 10,
        };
        let opened = 1_795_790_000_000;
        let clock = ClockState::opening(&rules, Krw::new(30_000), at(opened));
        let auction = AuctionSnapshot {
            id: AuctionId::new(9),
            current_price: None,
            leader_id: None,
            bid_count: 0,
            increment: sitga_auction::Increment::Fixed(rules.step),
            ends_at: clock.ends_at(&rules),
            hard_end_at: clock.ends_at(&rules),
            soft_close: Duration::zero(),
            ..auction(0, 0, 0)
        };
        let (joined, accepted) = (opened + 11_000, opened + 12_500);
        let order = ClockOrder {
            buyer_id: UserId::new(2),
            units: 3,
            price: Krw::new(28_000),
        };
        let sale = clock
            .accept(&rules, &auction, order, Krw::new(100_000), at(accepted))
            .unwrap();
        let paused = sale.after.read(&rules, at(accepted));
        let moved = accept_answer(
            "민수",
            Krw::new(29_000),
            Some(json!("m-1")),
            Ok(AcceptResult::Refused(BidRejection::PriceMoved {
                price: Krw::new(28_000),
            })),
        );
        let bought = accept_answer(
            "민수",
            Krw::new(28_000),
            Some(json!("m-2")),
            Ok(AcceptResult::Bought {
                sale,
                sale_id: SaleId::new(31),
                clock: paused,
            }),
        );
        vec![
            (ServerFrame::state(&auction, None, at(joined)), None, joined),
            (
                ServerFrame::clock(&clock.read(&rules, at(joined)), 10),
                None,
                joined,
            ),
            (ServerFrame::System(moved), None, joined + 400),
            (
                ServerFrame::clock_accepted("민수", &sale),
                Some(21),
                accepted + 8,
            ),
            (ServerFrame::clock(&paused, 10), Some(22), accepted + 9),
            (ServerFrame::System(bought), None, accepted + 12),
            (
                ServerFrame::clock(&sale.after.read(&rules, at(accepted + 3_000)), 10),
                Some(23),
                accepted + 3_300,
            ),
        ]
    }

    /// The `←` frames of the `text` block under `heading` in
    /// docs/protocol.md, and the server's frames for them (in room `room`).
    fn compare_example(heading: &str, room: &str, frames: &[(ServerFrame, Option<i64>, i64)]) {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md"),
        )
        .unwrap();
        let example = doc
            .split(heading)
            .nth(1)
            .and_then(|rest| rest.split("```text\n").nth(1))
            .and_then(|block| block.split("```").next())
            .unwrap_or_else(|| panic!("docs/protocol.md has a block under {heading:?}"));
        let documented: Vec<serde_json::Value> = example
            .lines()
            .filter_map(|l| l.strip_prefix("← "))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let produced: Vec<serde_json::Value> = frames
            .iter()
            .map(|(frame, seq, now)| {
                // A notification is about no room.
                let room = (!matches!(frame, ServerFrame::Notification(_))).then(|| room.into());
                let text = frames::encode(frame, room, *seq, at(*now));
                serde_json::from_str(&text).unwrap()
            })
            .collect();
        for (doc, real) in documented.iter().zip(&produced) {
            assert_eq!(
                doc, real,
                "docs/protocol.md (left) differs from the server (right)"
            );
        }
        assert_eq!(
            documented.len(),
            produced.len(),
            "one documented frame per produced one"
        );
    }

    #[test]
    fn the_clock_example_is_what_the_server_sends() {
        let frames = clock_frames_of_the_example();
        compare_example("## Example: a clock auction", "9", &frames);
    }

    #[test]
    fn protocol_document_examples_are_what_the_server_sends() {
        let frames = frames_of_the_example();
        compare_example("## Example\n", "7", &frames);
        let produced: Vec<serde_json::Value> = frames
            .iter()
            .map(|(frame, _, _)| serde_json::to_value(frame).unwrap())
            .collect();
        // One of each kind of frame.
        let events: std::collections::BTreeSet<_> = produced
            .iter()
            .filter_map(|f| f["event"].as_str())
            .collect();
        assert_eq!(
            events,
            ["closed", "message", "notification", "state", "system"].into()
        );
    }
}
