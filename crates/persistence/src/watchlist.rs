//! Each user's watch list: the auctions they follow.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_core::{AuctionId, UserId};

use crate::schema::watchlist;
use crate::time::now;
use crate::{DbConn, DbError, with_conn};

/// Adds `auction` to `user`'s list; `false` when it was there already.
pub async fn add(conn: &mut DbConn, user: UserId, auction: AuctionId) -> Result<bool, DbError> {
    let insert = diesel::insert_or_ignore_into(watchlist::table).values((
        watchlist::user_id.eq(user),
        watchlist::auction_id.eq(auction),
        watchlist::created_at.eq(now()),
    ));
    Ok(with_conn!(conn, |c| insert.execute(c).await)? > 0)
}

/// Removes `auction` from `user`'s list; `false` when it was not there.
pub async fn remove(conn: &mut DbConn, user: UserId, auction: AuctionId) -> Result<bool, DbError> {
    let delete = diesel::delete(
        watchlist::table
            .filter(watchlist::user_id.eq(user))
            .filter(watchlist::auction_id.eq(auction)),
    );
    Ok(with_conn!(conn, |c| delete.execute(c).await)? > 0)
}

/// A page of `user`'s list, the latest added first, and its length.
pub async fn page(
    conn: &mut DbConn,
    user: UserId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<AuctionId>, i64), DbError> {
    let ids = with_conn!(conn, |c| watchlist::table
        .filter(watchlist::user_id.eq(user))
        .order((watchlist::created_at.desc(), watchlist::auction_id.desc()))
        .offset(offset)
        .limit(limit)
        .select(watchlist::auction_id)
        .load(c)
        .await)?;
    Ok((ids, count_of_user(conn, user).await?))
}

/// How many auctions `user` watches.
pub async fn count_of_user(conn: &mut DbConn, user: UserId) -> Result<i64, DbError> {
    Ok(with_conn!(conn, |c| watchlist::table
        .filter(watchlist::user_id.eq(user))
        .count()
        .get_result(c)
        .await)?)
}

/// How many users watch `auction`.
pub async fn watchers(conn: &mut DbConn, auction: AuctionId) -> Result<i64, DbError> {
    Ok(with_conn!(conn, |c| watchlist::table
        .filter(watchlist::auction_id.eq(auction))
        .count()
        .get_result(c)
        .await)?)
}

/// Whether `user` watches `auction`.
pub async fn watches(conn: &mut DbConn, user: UserId, auction: AuctionId) -> Result<bool, DbError> {
    let found: Option<AuctionId> = with_conn!(conn, |c| watchlist::table
        .filter(watchlist::user_id.eq(user))
        .filter(watchlist::auction_id.eq(auction))
        .select(watchlist::auction_id)
        .first(c)
        .await
        .optional())?;
    Ok(found.is_some())
}
