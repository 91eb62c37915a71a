//! When a completed pickup starts to count: both businesses verified and a
//! surprising weight confirmed (the rules are
//! [`sitga_coffee_grounds::counting`]). Counting happens once per pickup —
//! a guarded update decides who does it — and brings its effects in the
//! same transaction: the chain record of the cafe's donation and both
//! sides' badges.

use std::collections::HashMap;

use sitga_coffee_grounds::{CountingFacts, NotCounted, counting, donation};
use sitga_core::{Calendar, PickupId, UserId};
use sitga_persistence::pickups::{self, Pickup};
use sitga_persistence::{DbConn, DbError, DbPool, businesses};

use crate::chain::Chain;

/// What counting needs besides the pickup.
#[derive(Clone, Copy)]
pub struct Counter<'a> {
    /// The chain outbox, when the chain is on.
    pub chain: Option<&'a Chain>,
    /// Months and weeks of the badge rules.
    pub calendar: Calendar,
}

fn facts(p: &Pickup, verified: &std::collections::HashSet<UserId>) -> CountingFacts {
    let sides = p.sides();
    CountingFacts {
        status: p.status(),
        cafe_verified: sides.cafe.is_some_and(|id| verified.contains(&id)),
        recycler_verified: sides.recycler.is_some_and(|id| verified.contains(&id)),
        posted: p.posted(),
        measured: p.measured(),
        weight_confirmed: p.weight_confirmed_at().is_some(),
    }
}

/// Why each of `rows` does not count yet (counting pickups are absent).
pub async fn reasons(
    conn: &mut DbConn,
    rows: &[Pickup],
) -> Result<HashMap<PickupId, NotCounted>, DbError> {
    let open: Vec<&Pickup> = rows.iter().filter(|p| p.counted_at().is_none()).collect();
    let mut people: Vec<UserId> = open
        .iter()
        .flat_map(|p| {
            let s = p.sides();
            s.cafe.into_iter().chain(s.recycler)
        })
        .collect();
    people.sort_unstable();
    people.dedup();
    let verified = businesses::verified_among(conn, &people).await?;
    Ok(open
        .into_iter()
        .filter_map(|p| counting(facts(p, &verified)).err().map(|why| (p.id, why)))
        .collect())
}

/// The pickup's two sides (cafe, recycler), those that are set.
fn people_of(pickup: &Pickup) -> Vec<UserId> {
    let sides = pickup.sides();
    sides.cafe.into_iter().chain(sides.recycler).collect()
}

/// What [`Counter::count_if_ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// It counts from now (this call brought its effects).
    CountedNow,
    /// It counted already (another call brought its effects).
    AlreadyCounted,
    /// Not yet, and why.
    NotYet(NotCounted),
}

impl Counter<'_> {
    /// Counts `pickup` if the rules now allow it and nobody did yet: marks
    /// it, queues the cafe's donation on chain and awards both sides'
    /// badges.
    pub async fn count_if_ready(
        &self,
        conn: &mut DbConn,
        pickup: &Pickup,
    ) -> Result<Counting, DbError> {
        let counting = self.mark_if_ready(conn, pickup).await?;
        if counting == Counting::CountedNow {
            for user in people_of(pickup) {
                crate::awards::award_pickup_badges(conn, user, self.calendar).await?;
            }
        }
        Ok(counting)
    }

    /// [`Self::count_if_ready`] without the badges.
    async fn mark_if_ready(&self, conn: &mut DbConn, pickup: &Pickup) -> Result<Counting, DbError> {
        if pickup.counted_at().is_some() {
            return Ok(Counting::AlreadyCounted);
        }
        let sides = pickup.sides();
        let verified = businesses::verified_among(conn, &people_of(pickup)).await?;
        if let Err(why) = counting(facts(pickup, &verified)) {
            return Ok(Counting::NotYet(why));
        }
        if !pickups::mark_counted(conn, pickup.id).await? {
            return Ok(Counting::AlreadyCounted);
        }
        let donated = donation(pickup.status(), pickup.posted(), pickup.measured());
        if let (Some(chain), Some(grams), Some(cafe)) = (self.chain, donated, sides.cafe) {
            chain.enqueue(conn, pickup.id, cafe, grams.get()).await?;
        }
        tracing::info!(pickup_id = pickup.id.get(), "pickup counts");
        Ok(Counting::CountedNow)
    }

    /// Counts every completed pickup of `user` that now may (after their
    /// business was verified). Returns how many began to count.
    pub async fn catch_up_user(&self, conn: &mut DbConn, user: UserId) -> Result<usize, DbError> {
        let mut counted = 0;
        let mut people = std::collections::BTreeSet::new();
        for pickup in pickups::uncounted_of(conn, user).await? {
            if self.mark_if_ready(conn, &pickup).await? == Counting::CountedNow {
                counted += 1;
                people.extend(people_of(&pickup));
            }
        }
        // Badges follow from each person's totals, so once per person after
        // all of them: per pickup, each award re-read the person's whole
        // history (the smoke's debug build verified a business with 67
        // waiting pickups in 12 s, past its client's 10 s timeout).
        for person in people {
            crate::awards::award_pickup_badges(conn, person, self.calendar).await?;
        }
        Ok(counted)
    }

    /// The safety net: every completed pickup that may count and does not,
    /// each in a transaction of its own. Returns how many began to count.
    pub async fn catch_up_all(&self, db: &DbPool) -> Result<usize, DbError> {
        let waiting = {
            let mut conn = db.get().await?;
            pickups::uncounted(&mut conn, 1_000).await?
        };
        let mut counted = 0;
        for pickup in waiting {
            let mut tx = db.begin().await?;
            // Re-read under the transaction: another instance may have
            // counted it meanwhile (then the guarded update says so).
            let Some(fresh) = pickups::find(&mut tx, pickup.id).await? else {
                continue;
            };
            if self.count_if_ready(&mut tx, &fresh).await? == Counting::CountedNow {
                counted += 1;
            }
            tx.commit().await?;
        }
        Ok(counted)
    }
}
