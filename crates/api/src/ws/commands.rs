//! What a client frame asks for: join (with a state frame, and a clock
//! auction's clock), leave, chat (a `#15000` line is a bid), bid, buy-now,
//! accept (a clock auction), and history pages. Bids go to
//! the realtime crate's engine; everything else to persistence and the room
//! bus.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use sitga_auction::{AuctionStatus, ChatLine, Krw, parse_chat_line};
use sitga_core::AuctionId;
use sitga_persistence::{auctions, users};
use sitga_realtime::bus::HistoryItem;
use sitga_realtime::clock::{AcceptCommand, read_clock};
use sitga_realtime::engine::BidCommand;
use sitga_realtime::frames::{MessageCode, ServerFrame, SystemAnswer};

use crate::error::{ApiError, ErrorCode};

use super::Member;
use super::codec::{
    ClientFrame, RoomId, accept_answer, bid_answer, buy_now_answer, client_ref, decode_frame,
    history_page, private, system,
};
use super::connection::Connection;
use super::outlet::{Full, HOLD_FOR_ANSWER};

/// Rooms one connection may join.
const MAX_ROOMS: usize = 20;
/// History page size.
const HISTORY_PAGE: i64 = 100;
/// Auctions one socket remembers having viewed (beyond that, a view may be
/// counted again).
const MAX_VIEWED: usize = 1_000;

/// A frame's `field` as whole won, or the refusal to send.
fn whole_won(room: &RoomId, value: &Value, field: &str) -> Result<Krw, Arc<str>> {
    value.as_i64().map(Krw::new).ok_or_else(|| {
        system(
            Some(&room_label(room)),
            ErrorCode::InvalidAmount,
            Some("숫자값을 입력하세요"),
            &format!("{field} must be a whole number of won"),
        )
    })
}

/// An accept's `units`: a whole number (the rules check the range).
fn whole_units(room: &RoomId, value: &Value) -> Result<i64, Arc<str>> {
    value.as_i64().ok_or_else(|| {
        system(
            Some(&room_label(room)),
            ErrorCode::InvalidAmount,
            Some("숫자값을 입력하세요"),
            "units must be a whole number",
        )
    })
}

/// A bid frame's `amount` and `max`, each whole KRW when given; at least
/// one is needed.
fn bid_amounts(
    room: &RoomId,
    amount: Option<&Value>,
    max: Option<&Value>,
) -> Result<(Option<Krw>, Option<Krw>), Arc<str>> {
    let amount = amount.map(|v| whole_won(room, v, "amount")).transpose()?;
    let max = max.map(|v| whole_won(room, v, "max")).transpose()?;
    if amount.is_none() && max.is_none() {
        return Err(system(
            Some(&room_label(room)),
            ErrorCode::InvalidAmount,
            Some("숫자값을 입력하세요"),
            "send amount, max or both (whole won)",
        ));
    }
    Ok((amount, max))
}

impl Connection {
    pub(super) async fn handle_text(&mut self, text: &str) -> Result<(), Full> {
        if self.limiter.check().is_err() {
            // Echo the client's `ref` so it can match the refusal to its frame.
            let reference = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("ref").cloned());
            let answer = SystemAnswer {
                code: ErrorCode::RateLimited.as_str(),
                text: Some("too many messages; slow down".to_owned()),
                reference,
                ..SystemAnswer::default()
            };
            return self.send(private(None, &ServerFrame::System(answer)));
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
                max,
                reference,
                resend,
            } => match bid_amounts(&room, amount.as_ref(), max.as_ref()) {
                Ok(offer) => self.bid(room, offer, reference, resend).await,
                Err(refusal) => self.send(refusal),
            },
            ClientFrame::BuyNow {
                room,
                price,
                reference,
                resend,
            } => match whole_won(&room, &price, "price") {
                Ok(price) => self.buy_now(room, price, reference, resend).await,
                Err(refusal) => self.send(refusal),
            },
            ClientFrame::Accept {
                room,
                units,
                price,
                reference,
                resend,
            } => {
                let units = units.as_ref().map_or(Ok(1), |v| whole_units(&room, v));
                match units.and_then(|u| Ok((u, whole_won(&room, &price, "price")?))) {
                    Ok((units, price)) => self.accept(room, units, price, reference, resend).await,
                    Err(refusal) => self.send(refusal),
                }
            }
            ClientFrame::Getmessage { room, before } => self.history(room, before).await,
        }
    }

    fn room_of(&self, room: &RoomId) -> Result<AuctionId, Arc<str>> {
        room.parse().ok_or_else(|| {
            system(
                None,
                ErrorCode::InvalidRoom,
                None,
                "room must be an auction id",
            )
        })
    }

    async fn join(&mut self, room: RoomId) -> Result<(), Full> {
        let label = room_label(&room);
        let id = match self.room_of(&room) {
            Ok(id) => id,
            Err(frame) => return self.send(frame),
        };
        if !self.outlet.in_room(id) && self.outlet.room_count() >= MAX_ROOMS {
            return self.send(system(
                Some(&label),
                ErrorCode::TooManyRooms,
                None,
                "leave a room before joining another (20 at most)",
            ));
        }
        // A view is counted once per socket and auction: rejoining (or a
        // client looping join/leave) writes nothing.
        let count_view = !self.viewed.contains(&id);
        let loaded = async {
            let mut conn = self.state.db.get().await?;
            if count_view && !auctions::increment_views(&mut conn, id).await? {
                return Ok::<_, ApiError>(None);
            }
            let row = auctions::find(&mut conn, id).await?;
            let leader = match row.as_ref().and_then(|a| a.leader_id) {
                Some(leader) => users::find_by_id(&mut conn, leader)
                    .await?
                    .map(|u| u.nickname),
                None => None,
            };
            let clock = match row.as_ref().filter(|a| a.is_clock()) {
                Some(_) => read_clock(&mut conn, id).await?,
                None => None,
            };
            Ok(row.map(|a| (a, leader, clock)))
        }
        .await;
        let (auction, leader, clock) = match loaded {
            Ok(Some(found)) => found,
            Ok(None) => {
                return self.send(system(
                    Some(&label),
                    ErrorCode::NotFound,
                    Some("올바른 경매가 아닙니다."),
                    "no such auction",
                ));
            }
            Err(e) => return self.send(system(Some(&label), e.code(), None, &e.to_string())),
        };
        if count_view && self.viewed.len() < MAX_VIEWED {
            self.viewed.insert(id);
        }
        let already = self.outlet.in_room(id);
        let room_label = id.to_string();
        let state = ServerFrame::state(&auction.snapshot(), leader.as_deref(), Utc::now());
        let mut first = vec![private(Some(&room_label), &state)];
        // A clock auction's joiner sees where the clock stands at once.
        if let Some((reading, quantity)) = clock.filter(|_| auction.status() == AuctionStatus::Open)
        {
            let frame = ServerFrame::clock(&reading, quantity);
            first.push(private(Some(&room_label), &frame));
        }
        let first: Vec<&str> = first.iter().map(|frame| &**frame).collect();
        self.outlet.enter(&self.state.bus, id, &first)?;
        if let (Some(member), false) = (&self.member, already) {
            let joined = ServerFrame::presence(MessageCode::Joined, &member.nickname);
            self.state.bus.publish(id, &joined).await;
        }
        Ok(())
    }

    async fn leave(&mut self, room: RoomId) -> Result<(), Full> {
        let id = match self.room_of(&room) {
            Ok(id) => id,
            Err(frame) => return self.send(frame),
        };
        if !self.outlet.leave(id) {
            return self.send(system(
                Some(&id.to_string()),
                ErrorCode::NotJoined,
                None,
                "you are not in this room",
            ));
        }
        self.announce_leave(id).await;
        Ok(())
    }

    async fn announce_leave(&self, id: AuctionId) {
        if let Some(member) = &self.member {
            let left = ServerFrame::presence(MessageCode::Left, &member.nickname);
            self.state.bus.publish(id, &left).await;
        }
    }

    pub(super) async fn leave_all(&mut self) {
        for id in self.outlet.rooms() {
            self.outlet.leave(id);
            self.announce_leave(id).await;
        }
    }

    /// The member, if the room is joined and the client logged in; else the
    /// system frame explaining why not.
    fn speaker(&self, room: &RoomId) -> Result<(AuctionId, Member), Arc<str>> {
        let id = self.room_of(room)?;
        let label = id.to_string();
        let Some(member) = self.member.clone() else {
            return Err(system(
                Some(&label),
                ErrorCode::AuthRequired,
                Some("올바른 사용자가 아닙니다."),
                "log in (send an access token when connecting) to chat or bid",
            ));
        };
        if !self.outlet.in_room(id) {
            return Err(system(
                Some(&label),
                ErrorCode::NotJoined,
                None,
                "join the room first",
            ));
        }
        // However many sockets the account holds, it speaks at one rate.
        if !self.state.ws.message_allowed(member.user.id) {
            return Err(system(
                Some(&label),
                ErrorCode::RateLimited,
                None,
                "too many messages from this account; slow down",
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
                ErrorCode::EmptyMessage,
                None,
                "the message is empty",
            )),
            ChatLine::TooLong => self.send(system(
                Some(&label),
                ErrorCode::MessageTooLong,
                None,
                "messages are at most 1,000 characters",
            )),
            ChatLine::NotANumber => self.send(system(
                Some(&label),
                ErrorCode::NotANumber,
                Some("숫자값을 입력하세요"),
                "a line starting with # is a bid: write a number, e.g. #15000",
            )),
            ChatLine::Bid(amount) => self.bid(room, (Some(amount), None), None, false).await,
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
                            ErrorCode::AuctionNotOpen,
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
                let chat = ServerFrame::chat(chat_id, &member.nickname, &text);
                self.state.bus.publish(id, &chat).await;
                Ok(())
            }
        }
    }

    async fn bid(
        &mut self,
        room: RoomId,
        offer: (Option<Krw>, Option<Krw>),
        reference: Option<Value>,
        resend: bool,
    ) -> Result<(), Full> {
        let (id, member) = match self.speaker(&room) {
            Ok(found) => found,
            Err(frame) => return self.send(frame),
        };
        let label = id.to_string();
        let (amount, max) = offer;
        let client_ref = client_ref(reference.as_ref(), BidCommand::fingerprint(amount, max));
        // The room's frames of the batch that decides this bid are sent just
        // before its answer: held briefly, they leave together.
        let due = self.outlet.answer_due();
        let placing = self.state.engine.place(BidCommand {
            auction_id: id,
            bidder_id: member.user.id,
            nickname: member.nickname.clone(),
            amount,
            max,
            client_ref,
            resend,
        });
        tokio::pin!(placing);
        let outcome = match tokio::time::timeout(HOLD_FOR_ANSWER, &mut placing).await {
            Ok(outcome) => outcome,
            Err(_) => {
                due.release();
                placing.await
            }
        };
        let answer = bid_answer(&member.nickname, offer, reference, outcome);
        let sent = self.send(private(Some(&label), &ServerFrame::System(answer)));
        drop(due);
        sent
    }

    async fn buy_now(
        &mut self,
        room: RoomId,
        price: Krw,
        reference: Option<Value>,
        resend: bool,
    ) -> Result<(), Full> {
        let (id, member) = match self.speaker(&room) {
            Ok(found) => found,
            Err(frame) => return self.send(frame),
        };
        let key = client_ref(reference.as_ref(), format!("buy_now:{price}"));
        let outcome = self
            .state
            .closer
            .buy_now(
                id,
                member.user.id,
                &member.nickname,
                price,
                key.as_ref(),
                resend,
            )
            .await
            .map_err(ApiError::from);
        let answer = buy_now_answer(&member.nickname, price, reference, outcome);
        self.send(private(Some(&id.to_string()), &ServerFrame::System(answer)))
    }

    async fn accept(
        &mut self,
        room: RoomId,
        units: i64,
        price: Krw,
        reference: Option<Value>,
        resend: bool,
    ) -> Result<(), Full> {
        let (id, member) = match self.speaker(&room) {
            Ok(found) => found,
            Err(frame) => return self.send(frame),
        };
        let key = client_ref(reference.as_ref(), format!("accept:{units}:{price}"));
        let state = self.state.clone();
        self.answer_later(async move {
            let command = AcceptCommand {
                auction_id: id,
                buyer_id: member.user.id,
                nickname: &member.nickname,
                units,
                price,
                client_ref: key.as_ref(),
                resend,
            };
            let outcome = state.closer.accept(&command).await.map_err(ApiError::from);
            let answer = accept_answer(&member.nickname, price, reference, outcome);
            private(Some(&id.to_string()), &ServerFrame::System(answer))
        });
        Ok(())
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
        let has_more = items.len() as i64 == HISTORY_PAGE;
        self.send(private(Some(&label), &history_page(items, has_more)))
    }
}

fn room_label(room: &RoomId) -> String {
    match room {
        RoomId::Number(n) => n.to_string(),
        RoomId::Text(t) => t.chars().take(20).collect(),
    }
}
