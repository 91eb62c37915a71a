//! The bidding invariants, read back from the database after a run.

use sitga_core::{AuctionId, Krw, UserId};
use sitga_persistence::{DbPool, auctions, wallets};

use crate::seed::BIDDER_BALANCE;

/// Checks one auction's history against what clients were told:
/// every bid acked as accepted (`acked`, amounts) is in the database, the
/// sequence is gap-free, amounts strictly increase, and exactly the
/// leader's bid is held across `accounts`. Returns the stored bid count.
pub async fn auction_history(
    pool: &DbPool,
    auction_id: AuctionId,
    accounts: &[UserId],
    acked: &[i64],
) -> i64 {
    auction_history_with(pool, auction_id, accounts, acked, false).await
}

/// [`auction_history`], where `ties` allows a bid equal to the one before
/// (two equal maximums: the earlier one's proxy answers at the same price).
pub async fn auction_history_with(
    pool: &DbPool,
    auction_id: AuctionId,
    accounts: &[UserId],
    acked: &[i64],
    ties: bool,
) -> i64 {
    let mut conn = pool.get().await.expect("connection");
    let row = auctions::find(&mut conn, auction_id)
        .await
        .expect("read auction")
        .expect("auction exists");
    let history = auctions::bids_of(&mut conn, auction_id, 0, i64::MAX)
        .await
        .expect("read bids");
    let seqs: Vec<i64> = history.iter().rev().map(|b| b.seq).collect();
    assert_eq!(
        seqs,
        (1..=row.bid_count).collect::<Vec<_>>(),
        "gap-free sequence"
    );
    assert!(
        history
            .windows(2)
            .all(|w| w[0].amount > w[1].amount || (ties && w[0].amount == w[1].amount)),
        "increasing amounts (strictly, unless maximums tie)"
    );
    let stored: std::collections::HashSet<i64> = history.iter().map(|b| b.amount.get()).collect();
    let lost: Vec<i64> = acked
        .iter()
        .copied()
        .filter(|a| !stored.contains(a))
        .collect();
    assert!(
        lost.is_empty(),
        "acked bids missing from the database: {lost:?}"
    );
    let mut held = Krw::ZERO;
    for id in accounts {
        held += wallets::get(&mut conn, *id).await.expect("wallet").held;
    }
    if row.status() == sitga_auction::AuctionStatus::Open {
        assert_eq!(
            Some(held),
            row.current_price,
            "exactly the leader's bid is held"
        );
    }
    row.bid_count
}

/// After every auction closed: nothing is held and the sum of balances and
/// escrows is what the `bidders` were charged (a second settlement would
/// escrow twice and break it).
pub async fn money_conserved(pool: &DbPool, bidders: usize) {
    let mut conn = pool.get().await.expect("connection");
    let (balance, held) = wallets::totals(&mut conn).await.expect("totals");
    let escrowed = sitga_persistence::sales::escrowed(&mut conn)
        .await
        .expect("escrow");
    assert_eq!(
        (balance + escrowed, held),
        (Krw::new(BIDDER_BALANCE * bidders as i64), Krw::ZERO),
        "money conserved after close"
    );
}
