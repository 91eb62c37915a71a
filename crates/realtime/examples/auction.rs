//! A whole auction with no HTTP: persistence and the realtime crate alone.
//!
//! A seller opens an auction; eight bidders bid from their own tasks at the
//! same time through the bid engine (one writer decides them in order); a
//! watcher subscribed to the room sees every accepted bid; the auction is
//! closed and settled, and the books balance.
//!
//! Run it with `cargo run -p sitga-realtime --example auction` (a fresh
//! SQLite file; set `SITGA_TEST_DATABASE_URL=mysql://…` to use MySQL).

// An example prints, and stops at the first surprise.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use sitga_auction::{AuctionSettings, AuctionSettingsInput, CloseOutcome, Krw, min_next_bid};
use sitga_core::UserId;
use sitga_persistence::auctions::{self, NewAuction};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::{DbPool, users, wallets};
use sitga_realtime::bus::RoomBus;
use sitga_realtime::closing::{CloseResult, Closer};
use sitga_realtime::engine::{BidCommand, BidEngine, BidOutcome};

const BIDDERS: usize = 8;
/// Accepted bids to reach before everybody stops.
const TARGET: usize = 24;
const POINTS: i64 = 100_000;

async fn account(pool: &DbPool, nickname: &str) -> UserId {
    let mut conn = pool.get().await.expect("connection");
    let user = users::insert(
        &mut conn,
        &users::NewUser {
            email: sitga_user::Email::parse(&format!("{nickname}@example.com")).expect("email"),
            nickname: sitga_user::Nickname::parse(nickname).expect("nickname"),
            name: sitga_user::PersonName::parse("예시").expect("name"),
            phone: None,
            address: None,
            province: None,
            account_type: sitga_user::AccountType::Member,
            // Nobody signs in here: a hash no password matches.
            password_hash: sitga_user::PasswordHash::from_stored("$argon2id$example".into()),
        },
    )
    .await
    .expect("user");
    user.id
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::create().await.expect("a fresh database");
    let pool = db.pool().await.expect("pool");

    // A seller and bidders with points.
    let seller = account(&pool, "seller").await;
    let mut bidders = Vec::new();
    for i in 0..BIDDERS {
        let id = account(&pool, &format!("bidder{i}")).await;
        let mut conn = pool.get().await.expect("connection");
        wallets::charge(&mut conn, id, Krw::new(POINTS))
            .await
            .expect("charge");
        bidders.push((id, format!("bidder{i}")));
    }

    // The auction: start 10,000, +1,000 a bid, an hour long.
    let settings = AuctionSettings::parse(
        &AuctionSettingsInput {
            start_price: Krw::new(10_000),
            min_increment: Some(Krw::new(1_000)),
            ..Default::default()
        },
        Utc::now(),
    )
    .expect("settings");
    let auction = {
        let mut conn = pool.get().await.expect("connection");
        auctions::insert(
            &mut conn,
            &NewAuction {
                seller_id: seller,
                title: "감성돔 42cm".into(),
                description: "오늘 아침 갯바위".into(),
                species: Some("감성돔".into()),
                photo_url: None,
                settings,
            },
        )
        .await
        .expect("auction")
    };

    // The room and the engine; a watcher listens before any bid.
    let bus = RoomBus::local();
    let mut watcher = bus.subscribe(auction.id);
    let engine = BidEngine::new(pool.clone(), bus.clone());

    // Every bidder bids the minimum next bid, all at once, until the room
    // has seen TARGET accepted bids.
    let engine = Arc::new(engine);
    let accepted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = bidders
        .iter()
        .cloned()
        .map(|(id, nickname)| {
            let engine = Arc::clone(&engine);
            let accepted = Arc::clone(&accepted);
            tokio::spawn(async move {
                let mut amount = Krw::new(10_000);
                while accepted.load(Ordering::SeqCst) < TARGET {
                    let outcome = engine
                        .place(BidCommand::plain(auction.id, id, nickname.clone(), amount))
                        .await
                        .expect("the engine answers");
                    match outcome {
                        BidOutcome::Accepted { after, .. } => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            amount = min_next_bid(&after);
                        }
                        // Outbid meanwhile, or leading already: bid what is
                        // needed now.
                        BidOutcome::Rejected { seen, .. } => {
                            amount = min_next_bid(&seen);
                            tokio::task::yield_now().await;
                        }
                        // Plain bids without a client key: never these.
                        BidOutcome::MaxRaised { .. }
                        | BidOutcome::Replayed { .. }
                        | BidOutcome::RefReused => unreachable!("plain bids without a key"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bidder task");
    }

    // Close now (the seller ends it early) and settle.
    let closer = Closer::new(pool.clone(), bus);
    let result = closer.close(auction.id, true).await.expect("close");
    let CloseResult::Closed(CloseOutcome::Sold { winner_id, price }) = result else {
        panic!("expected a sale, got {result:?}");
    };
    let bids = accepted.load(Ordering::SeqCst);
    println!("sold to user {winner_id} for {price} won after {bids} accepted bids");

    // The watcher saw every frame, numbered without a gap, the close last
    // (a bid's line and the state after it come as one item).
    let mut frames = 0;
    let mut last = None;
    while let Ok(item) = watcher.try_recv() {
        assert_eq!(item.room, auction.id);
        let first = item.seq - item.texts().len() as i64 + 1;
        if let Some(previous) = last {
            assert_eq!(first, previous + 1, "room frames come in seq order");
        }
        last = Some(item.seq);
        for text in item.texts() {
            frames += 1;
            if text.contains(r#""event":"closed""#) {
                println!("closing frame: {text}");
            }
        }
    }
    println!("the watcher received {frames} room frames");

    // Money is conserved: the price waits in the sale's escrow until the
    // handover, nothing is held.
    let mut conn = pool.get().await.expect("connection");
    let escrowed = sitga_persistence::sales::escrowed(&mut conn)
        .await
        .expect("escrow");
    assert_eq!(escrowed, price);
    assert_eq!(
        wallets::get(&mut conn, seller)
            .await
            .expect("wallet")
            .balance,
        Krw::ZERO
    );
    let (balance, held) = wallets::totals(&mut conn).await.expect("totals");
    assert_eq!(
        balance + escrowed,
        Krw::new(POINTS * BIDDERS as i64),
        "money conserved"
    );
    assert_eq!(held, Krw::ZERO, "no hold survives the close");
    println!("books balance: {balance} won in wallets, {escrowed} in escrow, {held} held");
}
