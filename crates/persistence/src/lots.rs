//! Each auction's lot: the catch facts and delivery options its seller
//! gave, and the species the model suggested from its first photo.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{CatchArea, Delivery, Krw, Lot, PickupPoint, Storage};
use sitga_core::{AuctionId, Province};

use crate::schema::auction_lots;
use crate::time::{naive, utc};
use crate::{DbConn, DbError, with_conn};

/// What the species model said of a lot's first photo.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesSuggestion {
    /// Scientific name of the most likely species.
    pub label: String,
    /// Its Korean name, where known.
    pub name_ko: Option<String>,
    /// The model's probability for it (0–1).
    pub probability: f64,
    /// Whether that probability is under the model's threshold (the model
    /// does not know the fish).
    pub unknown: bool,
}

/// A stored lot.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLot {
    /// The facts and options.
    pub lot: Lot,
    /// The model's suggestion, if it was asked.
    pub suggestion: Option<SpeciesSuggestion>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = auction_lots)]
struct Row {
    auction_id: AuctionId,
    weight_g: Option<i64>,
    length_cm: Option<i64>,
    caught_at: Option<NaiveDateTime>,
    catch_area: Option<String>,
    catch_province: Option<String>,
    storage: Option<String>,
    pickup_province: Option<String>,
    pickup_place: Option<String>,
    courier_fee: Option<i64>,
    suggested_label: Option<String>,
    suggested_name_ko: Option<String>,
    suggested_probability: Option<f64>,
    suggested_unknown: Option<bool>,
}

impl Row {
    fn into_stored(self) -> (AuctionId, StoredLot) {
        let province = |code: Option<String>| code.and_then(|c| Province::parse(&c).ok());
        let pickup = match (province(self.pickup_province), self.pickup_place) {
            (Some(province), Some(place)) => Some(PickupPoint { province, place }),
            _ => None,
        };
        let courier_fee = self.courier_fee.map(Krw::new);
        let lot = Lot {
            weight_g: self.weight_g,
            length_cm: self.length_cm,
            caught_at: self.caught_at.map(utc),
            catch_area: self.catch_area.map(|text| CatchArea {
                text,
                province: province(self.catch_province),
            }),
            storage: self.storage.as_deref().and_then(Storage::parse),
            delivery: (pickup.is_some() || courier_fee.is_some()).then_some(Delivery {
                pickup,
                courier_fee,
            }),
        };
        let suggestion = match (self.suggested_label, self.suggested_probability) {
            (Some(label), Some(probability)) => Some(SpeciesSuggestion {
                label,
                name_ko: self.suggested_name_ko,
                probability,
                unknown: self.suggested_unknown.unwrap_or(true),
            }),
            _ => None,
        };
        (self.auction_id, StoredLot { lot, suggestion })
    }
}

/// Records `auction`'s lot (nothing when it says nothing).
pub async fn insert(
    conn: &mut DbConn,
    auction: AuctionId,
    lot: &Lot,
    suggestion: Option<&SpeciesSuggestion>,
) -> Result<(), DbError> {
    if *lot == Lot::default() && suggestion.is_none() {
        return Ok(());
    }
    let pickup = lot.delivery.as_ref().and_then(|d| d.pickup.as_ref());
    let values = (
        auction_lots::auction_id.eq(auction),
        auction_lots::weight_g.eq(lot.weight_g),
        auction_lots::length_cm.eq(lot.length_cm),
        auction_lots::caught_at.eq(lot.caught_at.map(naive)),
        auction_lots::catch_area.eq(lot.catch_area.as_ref().map(|a| a.text.as_str())),
        auction_lots::catch_province.eq(lot
            .catch_area
            .as_ref()
            .and_then(|a| a.province)
            .map(Province::code)),
        auction_lots::storage.eq(lot.storage.map(Storage::code)),
        auction_lots::pickup_province.eq(pickup.map(|p| p.province.code())),
        auction_lots::pickup_place.eq(pickup.map(|p| p.place.as_str())),
        auction_lots::courier_fee.eq(lot
            .delivery
            .as_ref()
            .and_then(|d| d.courier_fee)
            .map(Krw::get)),
        auction_lots::suggested_label.eq(suggestion.map(|s| s.label.as_str())),
        auction_lots::suggested_name_ko.eq(suggestion.and_then(|s| s.name_ko.as_deref())),
        auction_lots::suggested_probability.eq(suggestion.map(|s| s.probability)),
        auction_lots::suggested_unknown.eq(suggestion.map(|s| s.unknown)),
    );
    with_conn!(conn, |c| diesel::insert_into(auction_lots::table)
        .values(values)
        .execute(c)
        .await)?;
    Ok(())
}

/// The lots of `auctions` that have one.
pub async fn of_auctions(
    conn: &mut DbConn,
    auctions: &[AuctionId],
) -> Result<HashMap<AuctionId, StoredLot>, DbError> {
    if auctions.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Row> = with_conn!(conn, |c| auction_lots::table
        .filter(auction_lots::auction_id.eq_any(auctions))
        .select(Row::as_select())
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(Row::into_stored).collect())
}
