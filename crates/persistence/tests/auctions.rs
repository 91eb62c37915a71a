//! Auction, bid, wallet and chat repositories on a fresh database of the
//! selected backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use sitga_auction::{AuctionSettings, AuctionSettingsInput, AuctionStatus, Wallet, validate_bid};
use sitga_core::{Krw, UserId};
use sitga_persistence::auctions::{self, DetailsChange, ListFilter, NewAuction, Sort};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::wallets::LedgerKind;
use sitga_persistence::{DbPool, users, wallets};

fn won(n: i64) -> Krw {
    Krw::new(n)
}
use sitga_user::{AccountType, Email, Nickname, PasswordHash, PersonName};

async fn fresh() -> (TestDatabase, DbPool) {
    let db = TestDatabase::create().await.unwrap();
    let pool = db.pool().await.unwrap();
    (db, pool)
}

async fn user(pool: &DbPool, nick: &str) -> UserId {
    let mut conn = pool.get().await.unwrap();
    users::insert(
        &mut conn,
        &users::NewUser {
            email: Email::parse(&format!("{nick}@example.com")).unwrap(),
            nickname: Nickname::parse(nick).unwrap(),
            name: PersonName::parse(nick).unwrap(),
            phone: None,
            address: None,
            province: None,
            account_type: AccountType::Member,
            password_hash: PasswordHash::from_stored("x".into()),
        },
    )
    .await
    .unwrap()
    .id
}

fn new_auction(seller: UserId, title: &str, minutes: i64) -> NewAuction {
    NewAuction {
        seller_id: seller,
        title: title.into(),
        description: "갓 잡은 감성돔".into(),
        species: Some("감성돔".into()),
        photo_url: None,
        settings: AuctionSettings::parse(
            &AuctionSettingsInput {
                start_price: won(10_000),
                duration_minutes: Some(minutes),
                ..Default::default()
            },
            Utc::now(),
        )
        .unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_movements_are_guarded_and_ledgered() {
    let (_db, pool) = fresh().await;
    let a = user(&pool, "alice").await;
    let s = user(&pool, "seller").await;
    let auction = {
        let mut conn = pool.get().await.unwrap();
        auctions::insert(&mut conn, &new_auction(s, "fish", 60))
            .await
            .unwrap()
            .id
    };
    let mut conn = pool.get().await.unwrap();
    assert_eq!(wallets::get(&mut conn, a).await.unwrap(), Wallet::default());
    assert_eq!(
        wallets::charge(&mut conn, a, won(50_000)).await.unwrap(),
        Wallet {
            balance: won(50_000),
            held: won(0)
        }
    );
    assert!(
        wallets::hold(&mut conn, a, won(30_000), auction)
            .await
            .unwrap()
    );
    assert!(
        !wallets::hold(&mut conn, a, won(20_001), auction)
            .await
            .unwrap(),
        "only 20,000 available"
    );
    assert!(
        wallets::withdraw(&mut conn, a, won(20_001))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        wallets::withdraw(&mut conn, a, won(5_000)).await.unwrap(),
        Some(Wallet {
            balance: won(45_000),
            held: won(30_000)
        })
    );
    assert!(
        wallets::release(&mut conn, a, won(40_000), auction)
            .await
            .is_err()
    );
    wallets::release(&mut conn, a, won(10_000), auction)
        .await
        .unwrap();
    wallets::hold_to_escrow(&mut conn, a, won(20_000), auction)
        .await
        .unwrap();
    wallets::pay_from_escrow(&mut conn, s, won(20_000), LedgerKind::Sale, auction)
        .await
        .unwrap();
    assert_eq!(
        wallets::get(&mut conn, a).await.unwrap(),
        Wallet {
            balance: won(25_000),
            held: won(0)
        }
    );
    assert_eq!(
        wallets::get(&mut conn, s).await.unwrap(),
        Wallet {
            balance: won(20_000),
            held: won(0)
        }
    );
    assert_eq!(
        wallets::totals(&mut conn).await.unwrap(),
        (won(45_000), won(0)),
        "charges − withdrawals"
    );

    let (entries, total) = wallets::ledger(&mut conn, a, 0, 10).await.unwrap();
    assert_eq!(total, 5);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["escrow", "release", "withdraw", "hold", "charge"]);
    assert_eq!(entries[0].balance_after, won(25_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_withdrawals_never_overdraw() {
    let (_db, pool) = fresh().await;
    let a = user(&pool, "racer").await;
    wallets::charge(&mut pool.get().await.unwrap(), a, won(10_000))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                wallets::withdraw(&mut conn, a, won(3_000))
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 3);
    assert_eq!(
        wallets::get(&mut pool.get().await.unwrap(), a)
            .await
            .unwrap()
            .balance,
        won(1_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auction_lifecycle_guards() {
    let (_db, pool) = fresh().await;
    let seller = user(&pool, "seller").await;
    let other = user(&pool, "other").await;
    let mut conn = pool.get().await.unwrap();
    let a = auctions::insert(&mut conn, &new_auction(seller, "감성돔 40cm", 60))
        .await
        .unwrap();
    assert_eq!(a.status(), AuctionStatus::Open);
    assert_eq!((a.bid_count, a.view_count, a.current_price), (0, 0, None));
    assert!(auctions::increment_views(&mut conn, a.id).await.unwrap());
    assert!(
        !auctions::increment_views(&mut conn, sitga_core::AuctionId::new(999_999))
            .await
            .unwrap()
    );

    let change = DetailsChange {
        title: Some("감성돔 45cm".into()),
        ..Default::default()
    };
    assert!(
        !auctions::update_details(&mut conn, a.id, other, &change)
            .await
            .unwrap(),
        "not the seller"
    );
    assert!(
        auctions::update_details(&mut conn, a.id, seller, &change)
            .await
            .unwrap()
    );

    // a bid through the version guard
    let fresh = auctions::find(&mut conn, a.id).await.unwrap().unwrap();
    assert_eq!(fresh.title, "감성돔 45cm");
    assert_eq!(fresh.view_count, 1);
    let mut snap = fresh.snapshot();
    let bid = validate_bid(&snap, other, won(10_000), won(10_000), Utc::now()).unwrap();
    snap.apply(&bid);
    auctions::insert_bid(&mut conn, a.id, bid.seq, other, bid.amount)
        .await
        .unwrap();
    assert!(
        auctions::apply_bids(&mut conn, a.id, fresh.version, &snap)
            .await
            .unwrap()
    );
    assert!(
        !auctions::apply_bids(&mut conn, a.id, fresh.version, &snap)
            .await
            .unwrap(),
        "stale version"
    );
    assert!(
        auctions::insert_bid(&mut conn, a.id, 1, other, won(11_000))
            .await
            .is_err(),
        "seq is unique"
    );

    assert!(
        !auctions::update_details(&mut conn, a.id, seller, &change)
            .await
            .unwrap(),
        "has a bid"
    );
    assert!(
        !auctions::cancel(&mut conn, a.id, seller).await.unwrap(),
        "has a bid"
    );
    let bids = auctions::bids_of(&mut conn, a.id, 0, 10).await.unwrap();
    assert_eq!(
        (bids.len(), bids[0].seq, bids[0].amount),
        (1, 1, won(10_000))
    );

    let b = auctions::insert(&mut conn, &new_auction(seller, "부시리", 60))
        .await
        .unwrap();
    assert!(auctions::cancel(&mut conn, b.id, seller).await.unwrap());
    assert!(
        !auctions::cancel(&mut conn, b.id, seller).await.unwrap(),
        "twice"
    );
    let cancelled = auctions::find(&mut conn, b.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status(), AuctionStatus::Cancelled);

    let current = auctions::find(&mut conn, a.id).await.unwrap().unwrap();
    assert!(
        auctions::close(&mut conn, a.id, current.version, AuctionStatus::Sold)
            .await
            .unwrap()
    );
    assert!(
        !auctions::close(&mut conn, a.id, current.version, AuctionStatus::Sold)
            .await
            .unwrap(),
        "closing twice"
    );
    assert_eq!(
        auctions::won_by(&mut conn, other, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        auctions::closed_by_seller(&mut conn, seller, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_filters_sorts_and_due() {
    let (_db, pool) = fresh().await;
    let s1 = user(&pool, "s1").await;
    let s2 = user(&pool, "s2").await;
    let mut conn = pool.get().await.unwrap();
    let long = auctions::insert(&mut conn, &new_auction(s1, "감성돔 큰놈", 120))
        .await
        .unwrap();
    let short = auctions::insert(&mut conn, &new_auction(s2, "100% 자연산_부시리", 10))
        .await
        .unwrap();
    let gone = auctions::insert(&mut conn, &new_auction(s2, "취소된 경매", 30))
        .await
        .unwrap();
    auctions::cancel(&mut conn, gone.id, s2).await.unwrap();

    let all = ListFilter {
        status: None,
        seller_id: None,
        query: None,
        sort: Sort::Newest,
    };
    let (rows, total) = auctions::list(&mut conn, &all, 0, 10).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![gone.id, short.id, long.id]
    );

    let open_soonest = ListFilter {
        status: Some(AuctionStatus::Open),
        sort: Sort::EndingSoon,
        ..all.clone()
    };
    let (rows, total) = auctions::list(&mut conn, &open_soonest, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows[0].id, short.id);

    let by_seller = ListFilter {
        seller_id: Some(s1),
        ..all.clone()
    };
    assert_eq!(
        auctions::list(&mut conn, &by_seller, 0, 10)
            .await
            .unwrap()
            .1,
        1
    );
    // LIKE wildcards in the query are literal
    let percent = ListFilter {
        query: Some("100%".into()),
        ..all.clone()
    };
    assert_eq!(
        auctions::list(&mut conn, &percent, 0, 10).await.unwrap().1,
        1
    );
    let underscore = ListFilter {
        query: Some("_".into()),
        ..all.clone()
    };
    assert_eq!(
        auctions::list(&mut conn, &underscore, 0, 10)
            .await
            .unwrap()
            .1,
        1
    );
    let species = ListFilter {
        query: Some("감성돔".into()),
        ..all.clone()
    };
    assert_eq!(
        auctions::list(&mut conn, &species, 0, 10).await.unwrap().1,
        3,
        "species matches all three"
    );

    assert!(
        auctions::due(&mut conn, Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = auctions::due(&mut conn, Utc::now() + Duration::minutes(11), 10)
        .await
        .unwrap();
    assert_eq!(due, vec![short.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_history_pages_backwards() {
    let (_db, pool) = fresh().await;
    let s = user(&pool, "host").await;
    let mut conn = pool.get().await.unwrap();
    let a = auctions::insert(&mut conn, &new_auction(s, "room", 60))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            auctions::insert_chat(
                &mut conn,
                a.id,
                Some((s, "host")),
                "chat",
                &format!("메시지 {i} 🐟"),
                None,
            )
            .await
            .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let latest = auctions::chat_history(&mut conn, a.id, None, 3)
        .await
        .unwrap();
    assert_eq!(
        latest.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["메시지 2 🐟", "메시지 3 🐟", "메시지 4 🐟"]
    );
    let older = auctions::chat_history(&mut conn, a.id, Some(latest[0].id), 3)
        .await
        .unwrap();
    assert_eq!(older.len(), 2);
    assert_eq!(older[0].body, "메시지 0 🐟");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_bid_batch_is_written_in_few_statements() {
    use std::collections::HashMap;

    use sitga_auction::{BidRequest, plan_bids};

    let (_db, pool) = fresh().await;
    let seller = user(&pool, "seller").await;
    let alice = user(&pool, "alice").await;
    let bob = user(&pool, "bob").await;
    let carol = user(&pool, "carol").await;
    let mut conn = pool.get().await.unwrap();
    for id in [alice, bob] {
        wallets::charge(&mut conn, id, won(50_000)).await.unwrap();
    }
    let auction = auctions::insert(&mut conn, &new_auction(seller, "감성돔", 60))
        .await
        .unwrap();
    drop(conn);

    let mut state = auction.snapshot();
    for (version, batch) in (auction.version..).zip([
        vec![(alice, 10_000)],
        vec![
            (bob, 16_000),
            (carol, 17_000),
            (alice, 16_000),
            (alice, 17_000),
        ],
    ]) {
        let requests: Vec<BidRequest> = batch
            .iter()
            .map(|&(bidder, amount)| BidRequest::plain(bidder, won(amount)))
            .collect();
        let mut tx = pool.begin().await.unwrap();
        let mut locked = HashMap::new();
        let plan = loop {
            match plan_bids(&state, &locked, &requests, Utc::now()) {
                Ok(plan) => break plan,
                Err(sitga_auction::PlanError::NeedWallets(ids)) => {
                    locked.extend(wallets::lock_many(&mut tx, &ids).await.unwrap());
                }
                Err(e) => panic!("{e}"),
            }
        };
        wallets::apply_moves(&mut tx, auction.id, &locked, &plan.wallets, &plan.moves)
            .await
            .unwrap();
        let rows: Vec<_> = plan
            .bids()
            .map(|b| auctions::NewBid {
                seq: b.seq,
                bidder_id: b.bidder_id,
                amount: b.amount,
                client_ref: None,
            })
            .collect();
        auctions::insert_bids(&mut tx, auction.id, &rows)
            .await
            .unwrap();
        assert!(
            auctions::apply_bids(&mut tx, auction.id, version, &plan.after)
                .await
                .unwrap()
        );
        // A stale version no longer matches.
        assert!(
            !auctions::apply_bids(&mut tx, auction.id, version, &plan.after)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        state = plan.after;
    }
    let mut conn = pool.get().await.unwrap();
    // carol has no points: refused; alice's 17,000 leads after bob's 16,000.
    assert_eq!(
        wallets::get(&mut conn, alice).await.unwrap(),
        Wallet {
            balance: won(50_000),
            held: won(17_000)
        }
    );
    assert_eq!(wallets::get(&mut conn, bob).await.unwrap().held, Krw::ZERO);
    let stored = auctions::find(&mut conn, auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.current_price, stored.leader_id, stored.bid_count),
        (Some(won(17_000)), Some(alice), 3)
    );
    let bids = auctions::bids_of(&mut conn, auction.id, 0, 10)
        .await
        .unwrap();
    let amounts: Vec<_> = bids.iter().map(|b| (b.seq, b.amount)).collect();
    assert_eq!(
        amounts,
        [(3, won(17_000)), (2, won(16_000)), (1, won(10_000))]
    );
    let (lines, _) = wallets::ledger(&mut conn, bob, 0, 10).await.unwrap();
    let kinds: Vec<_> = lines
        .iter()
        .map(|l| (l.kind.as_str(), l.held_after))
        .collect();
    assert_eq!(
        kinds,
        [
            ("release", won(0)),
            ("hold", won(16_000)),
            ("charge", won(0))
        ]
    );
    // A stored sequence number cannot be taken twice.
    let mut tx = pool.begin().await.unwrap();
    fn bid(
        bidder_id: UserId,
        seq: i64,
        client_ref: Option<&auctions::ClientRef>,
    ) -> auctions::NewBid<'_> {
        auctions::NewBid {
            seq,
            bidder_id,
            amount: Krw::new(20_000 + seq),
            client_ref,
        }
    }
    let taken = auctions::insert_bids(&mut tx, auction.id, &[bid(bob, 3, None)])
        .await
        .unwrap_err();
    assert!(taken.violates("seq"), "{taken}");
    drop(tx);

    // A client key is kept with its bid, found by bidder and key, once per
    // bidder and auction, and forgotten after a day.
    let key = auctions::ClientRef {
        key: "s:frame-1".into(),
        request: "bid:20004:-".into(),
    };
    auctions::insert_bids(&mut conn, auction.id, &[bid(bob, 4, Some(&key))])
        .await
        .unwrap();
    let found = auctions::bids_by_client_ref(
        &mut conn,
        auction.id,
        &[(bob, "s:frame-1"), (alice, "s:frame-1"), (bob, "s:other")],
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].seq, found[0].amount, found[0].request.as_str()),
        (4, won(20_004), "bid:20004:-")
    );
    // A key a client reuses for another bid is stored again (never failing
    // the batch); a lookup finds the first.
    auctions::insert_bids(&mut conn, auction.id, &[bid(bob, 5, Some(&key))])
        .await
        .unwrap();
    let first = auctions::bids_by_client_ref(&mut conn, auction.id, &[(bob, "s:frame-1")])
        .await
        .unwrap();
    assert_eq!(first[0].seq, 4, "{first:?}");
    let now = Utc::now();
    assert_eq!(
        auctions::forget_client_refs(&mut conn, now - Duration::hours(24))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        auctions::forget_client_refs(&mut conn, now + Duration::seconds(5))
            .await
            .unwrap(),
        2
    );
    let gone = auctions::bids_by_client_ref(&mut conn, auction.id, &[(bob, "s:frame-1")])
        .await
        .unwrap();
    assert!(gone.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_at_commit_are_stored_with_it_or_not_at_all() {
    use sitga_auction::{PointMove, WalletMove};
    use sitga_persistence::{DbError, notifications};
    use sitga_user::NotificationKind;

    let (_db, pool) = fresh().await;
    let bob = user(&pool, "bob").await;
    let carol = user(&pool, "carol").await;
    let s = user(&pool, "seller").await;
    let auction = {
        let mut conn = pool.get().await.unwrap();
        notifications::change_settings(&mut conn, carol, &[(NotificationKind::Outbid, false)])
            .await
            .unwrap();
        auctions::insert(&mut conn, &new_auction(s, "fish", 60))
            .await
            .unwrap()
            .id
    };
    // Texts a statement written out as text must carry unchanged.
    let hostile = "s:'); DELETE FROM bids; -- \\ \" 광어 🐟";
    let key = auctions::ClientRef {
        key: hostile.into(),
        request: "bid:10000:-".into(),
    };
    let notice = |seq: i64| notifications::NewNotification {
        user_id: bob,
        kind: NotificationKind::Outbid,
        key: format!("outbid:{}:{seq}", auction.get()),
        auction_id: Some(auction),
        sale_id: None,
        pickup_id: None,
        text_ko: format!("{hostile} 상회 입찰"),
        text_en: "outbid".into(),
    };
    let bid = |seq: i64, client_ref| auctions::NewBid {
        seq,
        bidder_id: bob,
        amount: won(10_000 * seq),
        client_ref,
    };
    let hold = WalletMove {
        user_id: bob,
        kind: PointMove::Hold,
        amount: won(10_000),
        after: Wallet {
            balance: won(10_000),
            held: won(10_000),
        },
    };

    // Committed: every queued write is there, in both sessions' kinds.
    for session in [false, true] {
        let mut tx = if session {
            let mut conn = pool.session().await.unwrap();
            conn.begin().await.unwrap();
            conn
        } else {
            pool.begin().await.unwrap()
        };
        let seq = auctions::bids_of(&mut tx, auction, 0, 10)
            .await
            .unwrap()
            .len() as i64
            + 1;
        wallets::log_moves_at_commit(&mut tx, auction, std::slice::from_ref(&hold)).unwrap();
        auctions::insert_bids_at_commit(&mut tx, auction, &[bid(seq, Some(&key))]).unwrap();
        // carol turned outbid notifications off: hers is left out.
        let carols = notifications::NewNotification {
            user_id: carol,
            ..notice(seq)
        };
        notifications::store_at_commit(&mut tx, &[notice(seq), carols]).unwrap();
        // Nothing may run between them and the commit (it would not see them).
        let refused = auctions::bids_of(&mut tx, auction, 0, 10)
            .await
            .unwrap_err();
        assert!(matches!(refused, DbError::Invariant(_)), "{refused}");
        tx.commit_in_place().await.unwrap();
        // Told: both asked for (carol's is not found when delivered).
        assert_eq!(tx.take_told().len(), 2);
        tx.release().await.unwrap();
    }
    let mut conn = pool.get().await.unwrap();
    let found = auctions::bids_by_client_ref(&mut conn, auction, &[(bob, hostile)])
        .await
        .unwrap();
    assert_eq!(
        (found[0].seq, found[0].amount, found[0].key.as_str()),
        (1, won(10_000), hostile)
    );
    assert_eq!(
        auctions::bids_of(&mut conn, auction, 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let stored = notifications::of_events(&mut conn, &[(bob, notice(1).key), (bob, notice(2).key)])
        .await
        .unwrap();
    let texts: Vec<_> = stored.iter().map(|n| n.text_ko.as_str()).collect();
    assert_eq!(texts, [notice(1).text_ko, notice(2).text_ko]);
    assert!(
        notifications::of_events(&mut conn, &[(carol, notice(1).key), (carol, notice(2).key)])
            .await
            .unwrap()
            .is_empty()
    );
    let (lines, _) = wallets::ledger(&mut conn, bob, 0, 10).await.unwrap();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l.kind == "hold" && l.held_after == won(10_000))
    );

    // Rolled back: none of them, and the connection runs statements again.
    let mut tx = pool.begin().await.unwrap();
    auctions::insert_bids_at_commit(&mut tx, auction, &[bid(3, None)]).unwrap();
    notifications::store_at_commit(&mut tx, &[notice(3)]).unwrap();
    tx.rollback_in_place().await.unwrap();
    assert_eq!(
        auctions::bids_of(&mut tx, auction, 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(tx.take_told().is_empty());
    drop(tx);

    // One queued write fails: the commit fails, and once its connection is
    // dropped nothing of that transaction is stored, not even the writes
    // queued before the failing one.
    let mut tx = pool.begin().await.unwrap();
    notifications::store_at_commit(&mut tx, &[notice(3)]).unwrap();
    auctions::insert_bids_at_commit(&mut tx, auction, &[bid(2, None)]).unwrap();
    let taken = tx.commit_in_place().await.unwrap_err();
    assert!(taken.violates("seq"), "{taken}");
    drop(tx);
    let mut conn = pool.get().await.unwrap();
    assert!(
        notifications::of_events(&mut conn, &[(bob, notice(3).key)])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        auctions::bids_of(&mut conn, auction, 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}
