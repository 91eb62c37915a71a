//! Sales: a sold auction's escrow, delivery details and timeline, and the
//! ratings after it. The rules (who may take which step, where the escrow
//! goes) are `sitga_auction::Sale`'s; this module stores what it decided.
//! Every step rewrites the row guarded by the version it read, so of two
//! racing steps exactly one applies.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{DeliveryAddress, DeliveryChoice, Krw, Rating, Sale, SaleState};
use sitga_core::{AuctionId, SaleId, UserId};

use crate::schema::{sale_events, sale_ratings, sales};
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// A stored sale.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = sales, treat_none_as_null = true)]
pub struct StoredSale {
    /// Id.
    #[diesel(skip_update)]
    pub id: SaleId,
    /// The auction sold.
    #[diesel(skip_update)]
    pub auction_id: AuctionId,
    /// The angler.
    #[diesel(skip_update)]
    pub seller_id: UserId,
    /// The winner.
    #[diesel(skip_update)]
    pub buyer_id: UserId,
    /// The hammer price.
    #[diesel(skip_update)]
    pub price: Krw,
    /// The courier fee the buyer paid into the escrow.
    pub fee_paid: Krw,
    /// What the escrow still holds (0 once paid out).
    pub escrow: Krw,
    state: String,
    state_since: NaiveDateTime,
    /// Whether the lot offered pickup.
    #[diesel(skip_update)]
    pub offers_pickup: bool,
    /// The lot's courier fee, if it offered a courier.
    #[diesel(skip_update)]
    pub courier_fee: Option<Krw>,
    delivery: Option<String>,
    recipient: Option<String>,
    phone: Option<String>,
    postcode: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    /// The courier's name, once shipped.
    pub courier: Option<String>,
    /// The tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// The pickup's handover code, once ready.
    pub handover_code: Option<String>,
    /// Wrong handover codes entered.
    pub failed_handovers: i32,
    reminded_at: Option<NaiveDateTime>,
    /// What the buyer said went wrong, once disputed.
    pub dispute_reason: Option<String>,
    /// Paid to the seller when the sale ended.
    pub to_seller: Option<Krw>,
    /// Returned to the buyer when the sale ended.
    pub to_buyer: Option<Krw>,
    ended_at: Option<NaiveDateTime>,
    /// Bumped by every step.
    pub version: i64,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    /// Units sold (a clock auction's accept may buy several; `price` is
    /// for all of them).
    #[diesel(skip_update)]
    pub units: i32,
}

fn delivery_code(choice: DeliveryChoice) -> &'static str {
    match choice {
        DeliveryChoice::Pickup => "pickup",
        DeliveryChoice::Courier => "courier",
    }
}

impl StoredSale {
    /// Where it stands.
    pub fn state(&self) -> SaleState {
        // The CHECK constraint allows only the codes; a row that still did
        // not parse would be a disputed sale frozen for an operator.
        SaleState::parse(&self.state).unwrap_or(SaleState::Disputed)
    }

    /// When it entered its state.
    pub fn state_since(&self) -> DateTime<Utc> {
        utc(self.state_since)
    }

    /// When it was created (the close).
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// When the escrow was paid out.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.ended_at.map(utc)
    }

    /// What the buyer chose.
    pub fn delivery(&self) -> Option<DeliveryChoice> {
        match self.delivery.as_deref() {
            Some("pickup") => Some(DeliveryChoice::Pickup),
            Some("courier") => Some(DeliveryChoice::Courier),
            _ => None,
        }
    }

    /// The buyer's courier address, while it is kept.
    pub fn address(&self) -> Option<DeliveryAddress> {
        Some(DeliveryAddress {
            recipient: self.recipient.clone()?,
            phone: self.phone.clone()?,
            postcode: self.postcode.clone()?,
            line1: self.line1.clone()?,
            line2: self.line2.clone(),
        })
    }

    /// The sale as the rules see it.
    pub fn sale(&self) -> Sale {
        Sale {
            price: self.price,
            state: self.state(),
            since: self.state_since(),
            delivery: self.delivery(),
            offers_pickup: self.offers_pickup,
            courier_fee: self.courier_fee,
            fee_paid: self.fee_paid,
            failed_handovers: u32::try_from(self.failed_handovers).unwrap_or(u32::MAX),
        }
    }

    /// Takes the rules' new state (and what it carries) into this row.
    pub fn absorb(&mut self, sale: &Sale) {
        self.state = sale.state.code().to_owned();
        self.state_since = naive(sale.since);
        self.delivery = sale.delivery.map(|d| delivery_code(d).to_owned());
        self.fee_paid = sale.fee_paid;
    }

    /// Records the buyer's address.
    pub fn set_address(&mut self, address: Option<DeliveryAddress>) {
        let (recipient, phone, postcode, line1, line2) = match address {
            Some(a) => (
                Some(a.recipient),
                Some(a.phone),
                Some(a.postcode),
                Some(a.line1),
                a.line2,
            ),
            None => (None, None, None, None, None),
        };
        self.recipient = recipient;
        self.phone = phone;
        self.postcode = postcode;
        self.line1 = line1;
        self.line2 = line2;
    }

    /// Records the payout that ended it.
    pub fn set_ended(&mut self, to_seller: Krw, to_buyer: Krw, at: DateTime<Utc>) {
        self.to_seller = Some(to_seller);
        self.to_buyer = Some(to_buyer);
        self.escrow = Krw::ZERO;
        self.ended_at = Some(naive(at));
    }
}

/// A new sale at the close: `price` in escrow, waiting for the buyer.
#[derive(Debug, Clone, Copy)]
pub struct NewSale {
    /// The auction sold.
    pub auction_id: AuctionId,
    /// The angler.
    pub seller_id: UserId,
    /// The winner.
    pub buyer_id: UserId,
    /// The sale as the rules opened it.
    pub sale: Sale,
    /// Units sold (1 but for a clock auction's accept).
    pub units: u32,
    /// The number of the bid (or accept) that made the sale.
    pub bid_seq: i64,
}

/// Creates the sale of a just-closed auction or of a clock's accept (with
/// its first timeline line). The unique (auction, bid number) makes a
/// second sale of one bid fail loudly.
pub async fn open(conn: &mut DbConn, new: &NewSale) -> Result<SaleId, DbError> {
    let at = naive(new.sale.since);
    let insert = diesel::insert_into(sales::table).values((
        sales::auction_id.eq(new.auction_id),
        sales::seller_id.eq(new.seller_id),
        sales::buyer_id.eq(new.buyer_id),
        sales::price.eq(new.sale.price),
        sales::fee_paid.eq(Krw::ZERO),
        sales::escrow.eq(new.sale.price),
        sales::state.eq(new.sale.state.code()),
        sales::state_since.eq(at),
        sales::offers_pickup.eq(new.sale.offers_pickup),
        sales::courier_fee.eq(new.sale.courier_fee),
        sales::failed_handovers.eq(0),
        sales::version.eq(0),
        sales::created_at.eq(at),
        sales::units.eq(i32::try_from(new.units).unwrap_or(i32::MAX)),
        sales::bid_seq.eq(Some(new.bid_seq)),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    let id = SaleId::new(crate::auctions::last_insert_id(conn).await?);
    add_event(conn, id, new.sale.state.code(), None, new.sale.since).await?;
    Ok(id)
}

/// A sale by id.
pub async fn find(conn: &mut DbConn, id: SaleId) -> Result<Option<StoredSale>, DbError> {
    Ok(with_conn!(conn, |c| sales::table
        .find(id)
        .select(StoredSale::as_select())
        .first(c)
        .await
        .optional())?)
}

/// Reads a sale and takes its row lock for the rest of the transaction
/// (MySQL: `SELECT … FOR UPDATE`; SQLite: the transaction already holds the
/// database write lock).
pub async fn find_for_update(conn: &mut DbConn, id: SaleId) -> Result<Option<StoredSale>, DbError> {
    Ok(match conn.backend_mut()? {
        crate::AnyConn::Mysql(c) => sales::table
            .find(id)
            .select(StoredSale::as_select())
            .for_update()
            .first(c)
            .await
            .optional()?,
        crate::AnyConn::Sqlite(c) => sales::table
            .find(id)
            .select(StoredSale::as_select())
            .first(c)
            .await
            .optional()?,
    })
}

/// Writes `sale` back if nobody changed it since it was read at
/// `sale.version`; `false` if someone did (nothing written).
pub async fn save(conn: &mut DbConn, sale: &StoredSale) -> Result<bool, DbError> {
    let read_at = sale.version;
    let next = StoredSale {
        version: read_at + 1,
        ..sale.clone()
    };
    let n = with_conn!(conn, |c| diesel::update(
        sales::table
            .find(sale.id)
            .filter(sales::version.eq(read_at))
    )
    .set(&next)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Each auction's sale: its id and state (a clock auction's first).
pub async fn of_auctions(
    conn: &mut DbConn,
    auctions: &[AuctionId],
) -> Result<HashMap<AuctionId, (SaleId, SaleState)>, DbError> {
    if auctions.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(SaleId, AuctionId, String)> = with_conn!(conn, |c| sales::table
        .filter(sales::auction_id.eq_any(auctions))
        .order(sales::id.desc())
        .select((sales::id, sales::auction_id, sales::state))
        .load(c)
        .await)?;
    // Newest first, so the first sale of each auction is inserted last.
    Ok(rows
        .into_iter()
        .filter_map(|(id, auction, state)| Some((auction, (id, SaleState::parse(&state)?))))
        .collect())
}

/// The sale a bid (or a clock's accept) made, by its number.
pub async fn of_bid(
    conn: &mut DbConn,
    auction: AuctionId,
    bid_seq: i64,
) -> Result<Option<SaleId>, DbError> {
    Ok(with_conn!(conn, |c| sales::table
        .filter(sales::auction_id.eq(auction))
        .filter(sales::bid_seq.eq(bid_seq))
        .select(sales::id)
        .first(c)
        .await
        .optional())?)
}

/// One line of a sale's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sale_events)]
pub struct SaleEvent {
    /// The state entered, or `reminded` / `handover_failed`.
    pub event: String,
    /// Who did it (none for the close and the timeout jobs).
    pub actor_id: Option<UserId>,
    at: NaiveDateTime,
}

impl SaleEvent {
    /// When.
    pub fn at(&self) -> DateTime<Utc> {
        utc(self.at)
    }
}

/// Appends a line to the timeline.
pub async fn add_event(
    conn: &mut DbConn,
    sale: SaleId,
    event: &str,
    actor: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(sale_events::table).values((
        sale_events::sale_id.eq(sale),
        sale_events::event.eq(event),
        sale_events::actor_id.eq(actor),
        sale_events::at.eq(naive(at)),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// A sale's timeline, oldest first.
pub async fn events(conn: &mut DbConn, sale: SaleId) -> Result<Vec<SaleEvent>, DbError> {
    Ok(with_conn!(conn, |c| sale_events::table
        .filter(sale_events::sale_id.eq(sale))
        .order(sale_events::id.asc())
        .select(SaleEvent::as_select())
        .load(c)
        .await)?)
}

/// The sales `buyer` bought (a won auction, a buy-now, each accept of a
/// clock), newest first.
pub async fn bought_by(
    conn: &mut DbConn,
    buyer: UserId,
    offset: i64,
    limit: i64,
) -> Result<Vec<StoredSale>, DbError> {
    Ok(with_conn!(conn, |c| sales::table
        .filter(sales::buyer_id.eq(buyer))
        .order(sales::id.desc())
        .offset(offset)
        .limit(limit)
        .select(StoredSale::as_select())
        .load(c)
        .await)?)
}

/// Sales in `state` that entered it at or before `before`, oldest first.
pub async fn in_state_since(
    conn: &mut DbConn,
    state: SaleState,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<StoredSale>, DbError> {
    Ok(with_conn!(conn, |c| sales::table
        .filter(sales::state.eq(state.code()))
        .filter(sales::state_since.le(naive(before)))
        .order(sales::state_since.asc())
        .limit(limit)
        .select(StoredSale::as_select())
        .load(c)
        .await)?)
}

/// Sales still waiting for their buyer's details since at or before
/// `before` whose buyer was not reminded yet, oldest first.
pub async fn awaiting_reminder(
    conn: &mut DbConn,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<SaleId>, DbError> {
    Ok(with_conn!(conn, |c| sales::table
        .filter(sales::state.eq(SaleState::AwaitingDetails.code()))
        .filter(sales::state_since.le(naive(before)))
        .filter(sales::reminded_at.is_null())
        .order(sales::state_since.asc())
        .limit(limit)
        .select(sales::id)
        .load(c)
        .await)?)
}

/// Marks the buyer of `sale` reminded, once: `false` if someone (another
/// instance's job) already did, or the sale moved on.
pub async fn mark_reminded(conn: &mut DbConn, sale: SaleId) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        sales::table
            .find(sale)
            .filter(sales::reminded_at.is_null())
            .filter(sales::state.eq(SaleState::AwaitingDetails.code()))
    )
    .set(sales::reminded_at.eq(Some(now())))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Erases the addresses of sales that ended before `before`; returns how
/// many.
pub async fn forget_addresses(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(with_conn!(conn, |c| diesel::update(
        sales::table
            .filter(sales::ended_at.le(naive(before)))
            .filter(sales::recipient.is_not_null())
    )
    .set((
        sales::recipient.eq(None::<String>),
        sales::phone.eq(None::<String>),
        sales::postcode.eq(None::<String>),
        sales::line1.eq(None::<String>),
        sales::line2.eq(None::<String>),
    ))
    .execute(c)
    .await)?)
}

/// What every sale's escrow holds together: with the wallets, all the
/// points there are.
pub async fn escrowed(conn: &mut DbConn) -> Result<Krw, DbError> {
    let held: Vec<Krw> = with_conn!(conn, |c| sales::table
        .filter(sales::escrow.gt(0))
        .select(sales::escrow)
        .load(c)
        .await)?;
    Ok(held.into_iter().fold(Krw::ZERO, |a, b| a + b))
}

/// Disputed sales, oldest dispute first.
pub async fn disputed(
    conn: &mut DbConn,
    offset: i64,
    limit: i64,
) -> Result<(Vec<StoredSale>, i64), DbError> {
    let rows = with_conn!(conn, |c| sales::table
        .filter(sales::state.eq(SaleState::Disputed.code()))
        .order(sales::state_since.asc())
        .offset(offset)
        .limit(limit)
        .select(StoredSale::as_select())
        .load(c)
        .await)?;
    let total = with_conn!(conn, |c| sales::table
        .filter(sales::state.eq(SaleState::Disputed.code()))
        .count()
        .get_result(c)
        .await)?;
    Ok((rows, total))
}

/// Records `rater`'s rating of `ratee` for `sale`; `false` if they rated
/// it already (the first rating stands).
pub async fn rate(
    conn: &mut DbConn,
    sale: SaleId,
    rater: UserId,
    ratee: UserId,
    rating: &Rating,
) -> Result<bool, DbError> {
    let insert = diesel::insert_into(sale_ratings::table).values((
        sale_ratings::sale_id.eq(sale),
        sale_ratings::rater_id.eq(rater),
        sale_ratings::ratee_id.eq(ratee),
        sale_ratings::stars.eq(i16::from(rating.stars)),
        sale_ratings::comment.eq(rating.comment.as_deref()),
        sale_ratings::created_at.eq(now()),
    ));
    match with_conn!(conn, |c| insert.execute(c).await) {
        Ok(_) => Ok(true),
        Err(e) => match DbError::from(e) {
            DbError::UniqueViolation { .. } => Ok(false),
            other => Err(other),
        },
    }
}

/// One rating someone received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRating {
    /// 1–5.
    pub stars: i16,
    /// Their words.
    pub comment: Option<String>,
    /// Who rated.
    pub rater_id: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// What `user` was rated: the number of ratings, the sum of their stars,
/// and the latest `limit` of them.
pub async fn ratings_of(
    conn: &mut DbConn,
    user: UserId,
    limit: i64,
) -> Result<(i64, i64, Vec<ReceivedRating>), DbError> {
    let stars: Vec<i16> = with_conn!(conn, |c| sale_ratings::table
        .filter(sale_ratings::ratee_id.eq(user))
        .select(sale_ratings::stars)
        .load(c)
        .await)?;
    let latest: Vec<(i16, Option<String>, UserId, NaiveDateTime)> =
        with_conn!(conn, |c| sale_ratings::table
            .filter(sale_ratings::ratee_id.eq(user))
            .order(sale_ratings::created_at.desc())
            .limit(limit)
            .select((
                sale_ratings::stars,
                sale_ratings::comment,
                sale_ratings::rater_id,
                sale_ratings::created_at,
            ))
            .load(c)
            .await)?;
    let count = i64::try_from(stars.len()).unwrap_or(i64::MAX);
    let sum = stars.iter().map(|&s| i64::from(s)).sum();
    Ok((
        count,
        sum,
        latest
            .into_iter()
            .map(|(stars, comment, rater_id, at)| ReceivedRating {
                stars,
                comment,
                rater_id,
                at: utc(at),
            })
            .collect(),
    ))
}

/// Which of `sale`'s sides have rated it.
pub async fn raters(conn: &mut DbConn, sale: SaleId) -> Result<Vec<UserId>, DbError> {
    Ok(with_conn!(conn, |c| sale_ratings::table
        .filter(sale_ratings::sale_id.eq(sale))
        .select(sale_ratings::rater_id)
        .load(c)
        .await)?)
}
