//! The auction rules alone deciding a batch of bids that arrive in the last
//! minute: who leads, what each bid holds and releases, and how soft close
//! moves the end (never past the hard end).
//!
//! `cargo run -p sitga-auction --example late_bids`

// An example prints, and stops at the first surprise.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use sitga_auction::{
    AuctionSnapshot, AuctionStatus, BidRequest, Increment, Krw, PlanError, Wallet, plan_bids,
};
use sitga_core::{AuctionId, UserId};

fn main() {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 6, 59, 30).unwrap();
    let (seller, kim, lee, park) = (
        UserId::new(1),
        UserId::new(2),
        UserId::new(3),
        UserId::new(4),
    );
    // 30 s before the end; a bid now extends the end to now + 2 min.
    let auction = AuctionSnapshot {
        id: AuctionId::new(7),
        seller_id: seller,
        status: AuctionStatus::Open,
        start_price: Krw::new(20_000),
        increment: Increment::Fixed(Krw::new(1_000)),
        reserve_price: Some(Krw::new(25_000)),
        buy_now_price: None,
        current_price: None,
        leader_id: None,
        leader_max: None,
        bid_count: 0,
        starts_at: None,
        ends_at: now + Duration::seconds(30),
        hard_end_at: now + Duration::minutes(1),
        soft_close: Duration::minutes(2),
    };
    let bids = [
        BidRequest::plain(kim, Krw::new(20_000)),
        BidRequest::plain(lee, Krw::new(20_000)), // too low now
        BidRequest::plain(lee, Krw::new(26_000)),
        BidRequest::plain(park, Krw::new(40_000)), // cannot pay
        BidRequest::plain(seller, Krw::new(50_000)), // own auction
    ];

    // The rules ask for the wallets the batch may touch, then decide.
    let mut wallets = HashMap::new();
    let plan = loop {
        match plan_bids(&auction, &wallets, &bids, now) {
            Ok(plan) => break plan,
            Err(PlanError::NeedWallets(ids)) => {
                println!("the rules need the wallets of {ids:?}");
                for id in ids {
                    let balance = if id == park { 30_000 } else { 100_000 };
                    wallets.insert(
                        id,
                        Wallet {
                            balance: Krw::new(balance),
                            held: Krw::ZERO,
                        },
                    );
                }
            }
            Err(books) => panic!("{books}"),
        }
    };

    for (request, outcome) in bids.iter().zip(&plan.outcomes) {
        let amount = request.amount.unwrap_or_default();
        match outcome {
            Ok(placed) => {
                for bid in placed.bids() {
                    println!(
                        "user {} bids {amount}: accepted as #{}{}",
                        bid.bidder_id,
                        bid.seq,
                        if bid.extended {
                            format!(", end moved to {}", bid.ends_at.time())
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Err(reason) => println!(
                "user {} bids {amount}: refused ({}: {})",
                request.bidder_id,
                reason.code(),
                reason.message()
            ),
        }
    }
    for m in &plan.moves {
        println!(
            "  ledger: user {} {:?} {} → held {}",
            m.user_id, m.kind, m.amount, m.after.held
        );
    }
    let after = &plan.after;
    assert_eq!(after.leader_id, Some(lee));
    assert_eq!(after.current_price, Some(Krw::new(26_000)));
    assert_eq!(
        after.ends_at, auction.hard_end_at,
        "extended, but only to the hard end"
    );
    assert_eq!(
        plan.wallets[&kim].held,
        Krw::ZERO,
        "kim's hold went back when lee outbid"
    );
    println!(
        "leader: user {}, price {}, ends {} (reserve met: {})",
        lee,
        Krw::new(26_000),
        after.ends_at.time(),
        sitga_auction::reserve_met(after)
    );
}
