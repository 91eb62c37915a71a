//! Accounts, auctions and tokens, written straight to the database (a
//! benchmark measures bidding and reading, not sign-up).

use sitga_api::auth::JwtKeys;
use sitga_core::UserId;
use sitga_persistence::auctions::{self, Auction, NewAuction};
use sitga_persistence::{DbPool, refresh_tokens, users, wallets};

use crate::SECRET;

/// What each bidder is charged before a run.
pub const BIDDER_BALANCE: i64 = 1_000_000_000;

/// A seller (first id) and `bidders` bidders charged [`BIDDER_BALANCE`].
pub async fn accounts(pool: &DbPool, bidders: usize) -> Vec<UserId> {
    let mut conn = pool.get().await.expect("connection");
    // Logins are not benchmarked: a placeholder hash nobody can sign in with.
    let hash = sitga_user::PasswordHash::from_stored("$argon2id$bench".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut ids = Vec::with_capacity(bidders + 1);
    for i in 0..=bidders {
        let nickname = format!("b{}{i}", &tag[..6]);
        let user = users::insert(
            &mut conn,
            &users::NewUser {
                email: sitga_user::Email::parse(&format!("{nickname}@example.com")).expect("email"),
                nickname: sitga_user::Nickname::parse(&nickname).expect("nickname"),
                name: sitga_user::PersonName::parse("bench").expect("name"),
                phone: None,
                address: None,
                province: None,
                account_type: sitga_user::AccountType::Member,
                password_hash: hash.clone(),
            },
        )
        .await
        .expect("insert user");
        if i > 0 {
            wallets::charge(&mut conn, user.id, sitga_auction::Krw::new(BIDDER_BALANCE))
                .await
                .expect("charge");
        }
        // A live login session for [`token`]'s access tokens (the server
        // checks every token's session).
        refresh_tokens::insert(
            &mut conn,
            user.id,
            &session(user.id),
            &format!("bench-{tag}-{i}"),
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .expect("session");
        ids.push(user.id);
    }
    ids
}

/// An open auction of `seller`'s: start 1,000 KRW, increment 100, a day long.
pub async fn auction(pool: &DbPool, seller: UserId) -> Auction {
    let settings = sitga_auction::AuctionSettings::parse(
        &sitga_auction::AuctionSettingsInput {
            start_price: sitga_auction::Krw::new(1_000),
            min_increment: Some(sitga_auction::Krw::new(100)),
            reserve_price: None,
            buy_now_price: None,
            starts_at: None,
            duration_minutes: Some(24 * 60),
            clock: None,
        },
        chrono::Utc::now(),
    )
    .expect("settings");
    let mut conn = pool.get().await.expect("connection");
    auctions::insert(
        &mut conn,
        &NewAuction {
            seller_id: seller,
            title: "bench".into(),
            description: String::new(),
            species: None,
            photo_url: None,
            settings,
        },
    )
    .await
    .expect("insert auction")
}

/// The login session [`accounts`] opened for `user`.
fn session(user: UserId) -> String {
    format!("bench-{}", user.get())
}

/// A bearer token for `user` of a seeded account (the instances share
/// [`SECRET`]).
pub fn token(user: UserId) -> String {
    token_with_roles(user, &[])
}

/// [`token`] carrying `roles` (grant them in the database too).
pub fn token_with_roles(user: UserId, roles: &[sitga_user::Role]) -> String {
    JwtKeys::new(SECRET.as_bytes())
        .issue(user, roles, &session(user))
        .expect("token")
        .token
}
