//! Photo records: whose a photo is, its stored files (by digest), and the
//! auction it is attached to. The files themselves are in the photo store.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_core::{AuctionId, SaleId, UserId};

use crate::schema::photos;
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = photos)]
pub struct Photo {
    /// Public id (32 hex digits, unguessable).
    pub id: String,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// Upright width of the original.
    pub width: i32,
    /// Upright height of the original.
    pub height: i32,
    /// Size of the cleaned original in bytes.
    pub bytes: i64,
    /// Digest of the thumbnail file.
    pub thumb: String,
    /// Digest of the display-size file.
    pub display: String,
    /// Digest of the cleaned original.
    pub original: String,
    /// The auction it shows, once attached.
    pub auction_id: Option<AuctionId>,
    /// Its place among the auction's photos (0 first).
    pub position: Option<i32>,
    created_at: NaiveDateTime,
    attached_at: Option<NaiveDateTime>,
}

impl Photo {
    /// Uploaded.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// Attached to an auction.
    pub fn attached_at(&self) -> Option<DateTime<Utc>> {
        self.attached_at.map(utc)
    }

    /// Its three file digests.
    pub fn digests(&self) -> [&str; 3] {
        [&self.thumb, &self.display, &self.original]
    }
}

/// What an upload stores.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    /// Public id.
    pub id: String,
    /// Uploader.
    pub owner_id: UserId,
    /// Upright width.
    pub width: i32,
    /// Upright height.
    pub height: i32,
    /// Size of the cleaned original.
    pub bytes: i64,
    /// Thumbnail digest.
    pub thumb: String,
    /// Display-size digest.
    pub display: String,
    /// Original digest.
    pub original: String,
}

/// Records an uploaded photo.
pub async fn insert(conn: &mut DbConn, photo: &NewPhoto) -> Result<Photo, DbError> {
    let created_at = now();
    let values = (
        photos::id.eq(&photo.id),
        photos::owner_id.eq(photo.owner_id),
        photos::width.eq(photo.width),
        photos::height.eq(photo.height),
        photos::bytes.eq(photo.bytes),
        photos::thumb.eq(&photo.thumb),
        photos::display.eq(&photo.display),
        photos::original.eq(&photo.original),
        photos::created_at.eq(created_at),
    );
    with_conn!(conn, |c| diesel::insert_into(photos::table)
        .values(values)
        .execute(c)
        .await)?;
    Ok(Photo {
        id: photo.id.clone(),
        owner_id: photo.owner_id,
        width: photo.width,
        height: photo.height,
        bytes: photo.bytes,
        thumb: photo.thumb.clone(),
        display: photo.display.clone(),
        original: photo.original.clone(),
        auction_id: None,
        position: None,
        created_at,
        attached_at: None,
    })
}

/// The photo `id`, if any.
pub async fn find(conn: &mut DbConn, id: &str) -> Result<Option<Photo>, DbError> {
    Ok(with_conn!(conn, |c| photos::table
        .find(id)
        .select(Photo::as_select())
        .first(c)
        .await
        .optional())?)
}

/// The photos among `ids` that exist, in no particular order.
pub async fn find_many(conn: &mut DbConn, ids: &[String]) -> Result<Vec<Photo>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(with_conn!(conn, |c| photos::table
        .filter(photos::id.eq_any(ids))
        .select(Photo::as_select())
        .load(c)
        .await)?)
}

/// Attaches `owner`'s unattached photos `ids` to `auction`, in that order.
/// Returns how many were attached: fewer than `ids.len()` means one is
/// someone else's, already used, unknown, or was swept meanwhile, and the
/// caller's transaction should be rolled back.
pub async fn attach(
    conn: &mut DbConn,
    owner: UserId,
    ids: &[String],
    auction: AuctionId,
) -> Result<usize, DbError> {
    let at = now();
    let mut attached = 0;
    for (position, id) in ids.iter().enumerate() {
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        attached += with_conn!(conn, |c| diesel::update(
            photos::table
                .find(id)
                .filter(photos::owner_id.eq(owner))
                .filter(photos::attached_at.is_null())
        )
        .set((
            photos::auction_id.eq(Some(auction)),
            photos::position.eq(Some(position)),
            photos::attached_at.eq(Some(at)),
        ))
        .execute(c)
        .await)?;
    }
    Ok(attached)
}

/// Attaches `owner`'s unattached photos `ids` to a dispute of `sale`.
/// Returns how many were attached (fewer than asked: roll back).
pub async fn attach_to_sale(
    conn: &mut DbConn,
    owner: UserId,
    ids: &[String],
    sale: SaleId,
) -> Result<usize, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(with_conn!(conn, |c| diesel::update(
        photos::table
            .filter(photos::id.eq_any(ids))
            .filter(photos::owner_id.eq(owner))
            .filter(photos::attached_at.is_null())
    )
    .set((
        photos::sale_id.eq(Some(sale)),
        photos::attached_at.eq(Some(now())),
    ))
    .execute(c)
    .await)?)
}

/// The photos a sale's dispute shows.
pub async fn of_sale(conn: &mut DbConn, sale: SaleId) -> Result<Vec<Photo>, DbError> {
    Ok(with_conn!(conn, |c| photos::table
        .filter(photos::sale_id.eq(sale))
        .order(photos::created_at.asc())
        .select(Photo::as_select())
        .load(c)
        .await)?)
}

/// Each auction's photos, in their order.
pub async fn of_auctions(
    conn: &mut DbConn,
    auctions: &[AuctionId],
) -> Result<HashMap<AuctionId, Vec<Photo>>, DbError> {
    if auctions.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Photo> = with_conn!(conn, |c| photos::table
        .filter(photos::auction_id.eq_any(auctions))
        .order((photos::auction_id.asc(), photos::position.asc()))
        .select(Photo::as_select())
        .load(c)
        .await)?;
    let mut by_auction: HashMap<AuctionId, Vec<Photo>> = HashMap::new();
    for photo in rows {
        if let Some(auction) = photo.auction_id {
            by_auction.entry(auction).or_default().push(photo);
        }
    }
    Ok(by_auction)
}

/// Up to `limit` photos never attached and uploaded before `before`.
pub async fn orphans(
    conn: &mut DbConn,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Photo>, DbError> {
    Ok(with_conn!(conn, |c| photos::table
        .filter(photos::attached_at.is_null())
        .filter(photos::created_at.lt(naive(before)))
        .order(photos::created_at.asc())
        .limit(limit)
        .select(Photo::as_select())
        .load(c)
        .await)?)
}

/// Deletes those of `ids` that are still unattached (one attached meanwhile
/// stays); returns the ones deleted.
pub async fn delete_unattached(conn: &mut DbConn, ids: &[String]) -> Result<usize, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(with_conn!(conn, |c| diesel::delete(
        photos::table
            .filter(photos::id.eq_any(ids))
            .filter(photos::attached_at.is_null())
    )
    .execute(c)
    .await)?)
}

/// Which of `digests` some photo still uses (the same bytes uploaded twice
/// share one file).
pub async fn digests_in_use(
    conn: &mut DbConn,
    digests: &[String],
) -> Result<HashSet<String>, DbError> {
    if digests.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<(String, String, String)> = with_conn!(conn, |c| photos::table
        .filter(
            photos::thumb
                .eq_any(digests)
                .or(photos::display.eq_any(digests))
                .or(photos::original.eq_any(digests))
        )
        .select((photos::thumb, photos::display, photos::original))
        .load(c)
        .await)?;
    let wanted: HashSet<&String> = digests.iter().collect();
    Ok(rows
        .into_iter()
        .flat_map(|(t, d, o)| [t, d, o])
        .filter(|digest| wanted.contains(digest))
        .collect())
}
