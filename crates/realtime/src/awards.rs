//! Awarding badges: gather a user's figures, ask the badge rules, store
//! what is new. Called inside the transaction of the event that may earn a
//! badge (a completed pickup, a closed auction), so an award commits with
//! its cause.

use chrono::Datelike;
use sitga_badge::{BadgeCode, Stats, earned, longest_streak};
use sitga_core::{Calendar, UserId};
use sitga_persistence::{DbConn, DbError, badges, notifications, pickups};

/// Recomputes the pickup badges of `user_id` from their counting pickups
/// and awards the new ones; months and weeks are the calendar's. Returns
/// the codes awarded now.
pub async fn award_pickup_badges(
    conn: &mut DbConn,
    user_id: UserId,
    calendar: Calendar,
) -> Result<Vec<BadgeCode>, DbError> {
    let completed = pickups::completed_by(conn, user_id).await?;
    let mut per_month = std::collections::HashMap::<sitga_core::Month, i64>::new();
    let mut weeks = Vec::with_capacity(completed.len());
    let mut first_in_province = false;
    for (_, at, province) in &completed {
        let month = calendar.month_of(*at);
        *per_month.entry(month).or_default() += 1;
        // Local weeks, Monday to Sunday (day 1 of the era was a Monday).
        weeks.push(i64::from(calendar.date_of(*at).num_days_from_ce() - 1).div_euclid(7));
        if !first_in_province && let Some(province) = province {
            let (from, _) = calendar.month_range(month);
            // Nobody in the province completed one earlier that month.
            let earlier = pickups::completed_in_province(conn, province, from, *at).await?;
            first_in_province = earlier == 0;
        }
    }
    let stats = Stats {
        completed_donations: completed.len() as i64,
        lifetime_grams: completed.iter().map(|(g, _, _)| g).sum(),
        best_month_pickups: per_month.values().copied().max().unwrap_or(0),
        longest_week_streak: longest_streak(&weeks),
        first_in_province,
        ..Stats::default()
    };
    award_all(conn, user_id, &stats, PICKUP_BADGES).await
}

const PICKUP_BADGES: &[BadgeCode] = &[
    BadgeCode::FirstDonation,
    BadgeCode::Lifetime10Kg,
    BadgeCode::Lifetime100Kg,
    BadgeCode::Lifetime1000Kg,
    BadgeCode::FivePickupsInAMonth,
    BadgeCode::FourActiveWeeks,
    BadgeCode::FirstInProvinceThisMonth,
];

/// Awards the auction badges after a sale: first sale to the seller, first
/// win to the winner.
pub async fn award_sale_badges(
    conn: &mut DbConn,
    seller_id: UserId,
    winner_id: UserId,
) -> Result<(), DbError> {
    let sold = Stats {
        sales: 1,
        ..Stats::default()
    };
    award_all(conn, seller_id, &sold, &[BadgeCode::FirstSale]).await?;
    let won = Stats {
        wins: 1,
        ..Stats::default()
    };
    award_all(conn, winner_id, &won, &[BadgeCode::FirstWin]).await?;
    Ok(())
}

async fn award_all(
    conn: &mut DbConn,
    user_id: UserId,
    stats: &Stats,
    among: &[BadgeCode],
) -> Result<Vec<BadgeCode>, DbError> {
    let mut new = Vec::new();
    for code in earned(stats).into_iter().filter(|c| among.contains(c)) {
        if badges::award(conn, user_id, code).await? {
            notifications::store(conn, &[crate::notices::badge_awarded(user_id, code)]).await?;
            tracing::debug!(
                user_id = user_id.get(),
                badge = code.code(),
                "badge awarded"
            );
            new.push(code);
        }
    }
    Ok(new)
}

/// The daily safety net: re-derives every badge from the data, awarding
/// any an event missed (each user in a transaction of its own). Returns how
/// many badges were new.
pub async fn sweep_all(
    db: &sitga_persistence::DbPool,
    calendar: Calendar,
) -> Result<usize, DbError> {
    let (participants, sales) = {
        let mut conn = db.get().await?;
        (
            pickups::participants(&mut conn).await?,
            sitga_persistence::auctions::sales(&mut conn).await?,
        )
    };
    let mut awarded = 0;
    for user in participants {
        let mut tx = db.begin().await?;
        awarded += award_pickup_badges(&mut tx, user, calendar).await?.len();
        tx.commit().await?;
    }
    for (seller, winner) in sales {
        let mut tx = db.begin().await?;
        award_sale_badges(&mut tx, seller, winner).await?;
        tx.commit().await?;
    }
    Ok(awarded)
}
