//! `sitga demo-data`: a deterministic set of accounts, live auctions with
//! bids and chat, and a finished sale, so a first run shows living rooms.
//!
//! Everything goes through the same code paths as real use (validated
//! domain types, the bid engine, the closer), so demo data is never in a
//! state the product could not reach by itself.

use chrono::Utc;
use sitga_auction::{AuctionSettings, AuctionSettingsInput, Krw};
use sitga_core::UserId;
use sitga_persistence::auctions::{self, NewAuction};
use sitga_persistence::{DbError, DbPool, users, wallets};
use sitga_user::{
    AccountType, Email, Nickname, Password, PersonName, Province, Role, hash_password,
};

use sitga_realtime::bus::RoomBus;
use sitga_realtime::closing::Closer;
use sitga_realtime::engine::{BidCommand, BidEngine, BidOutcome};

/// The password of every demo account (printed by the command).
pub const DEMO_PASSWORD: &str = "sitga-demo-1234";
/// The demo operator's e-mail.
pub const OPERATOR_EMAIL: &str = "operator@demo.sitga.kr";
/// Every demo account's e-mail domain.
pub const DEMO_DOMAIN: &str = "demo.sitga.kr";

/// What the demo set contains.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Accounts created now.
    pub users_created: usize,
    /// Auctions opened now.
    pub auctions_opened: usize,
    /// Bids accepted now.
    pub bids_placed: usize,
    /// Coffee-grounds pickups written now.
    pub pickups_written: usize,
    /// Forecast series fitted from the demo history.
    pub forecasts_made: u32,
    /// Donations queued for the chain.
    pub chain_records_queued: u32,
    /// Catch photos drawn and attached to the auctions.
    pub photos_stored: usize,
    /// Steps taken on the demo sales after their hammer.
    pub sales_moved: usize,
    /// Whether the data was already there (nothing was added).
    pub already_present: bool,
}

/// Why demo data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A rule refused a demo value (a bug in this module).
    #[error("demo data is invalid: {0}")]
    Invalid(String),
    /// The database has real accounts: demo accounts with a published
    /// password do not belong there.
    #[error(
        "this database has {0} account(s) that are not demo accounts; demo data \
         (accounts with a published password) is meant for an empty database. \
         Use --force to add it anyway"
    )]
    RealUsers(i64),
}

fn invalid(e: impl std::fmt::Display) -> DemoError {
    DemoError::Invalid(e.to_string())
}

struct Person {
    email: &'static str,
    nickname: &'static str,
    name: &'static str,
    province: Province,
    account_type: AccountType,
    points: i64,
}

const PEOPLE: &[Person] = &[
    Person {
        email: OPERATOR_EMAIL,
        nickname: "운영자",
        name: "시가 운영팀",
        province: Province::Seoul,
        account_type: AccountType::Member,
        points: 0,
    },
    Person {
        email: "jeju.angler@demo.sitga.kr",
        nickname: "제주강태공",
        name: "고태공",
        province: Province::Jeju,
        account_type: AccountType::Member,
        points: 0,
    },
    Person {
        email: "busan.angler@demo.sitga.kr",
        nickname: "부산바다",
        name: "김바다",
        province: Province::Busan,
        account_type: AccountType::Member,
        points: 0,
    },
    Person {
        email: "minsu@demo.sitga.kr",
        nickname: "민수",
        name: "이민수",
        province: Province::Seoul,
        account_type: AccountType::Member,
        points: 300_000,
    },
    Person {
        email: "jiyoung@demo.sitga.kr",
        nickname: "지영",
        name: "박지영",
        province: Province::Gyeonggi,
        account_type: AccountType::Member,
        points: 250_000,
    },
    Person {
        email: "hoon@demo.sitga.kr",
        nickname: "회덕후",
        name: "최훈",
        province: Province::Incheon,
        account_type: AccountType::Member,
        points: 400_000,
    },
    Person {
        email: "chef.kim@demo.sitga.kr",
        nickname: "김셰프",
        name: "김요리",
        province: Province::Jeju,
        account_type: AccountType::Member,
        points: 500_000,
    },
];

struct Lot {
    seller: usize,
    title: &'static str,
    species: &'static str,
    description: &'static str,
    start_price: i64,
    /// A fixed raise; `None`: the raise follows the price.
    increment: Option<i64>,
    /// A buy-now price.
    buy_now: Option<i64>,
    /// Bids open this many minutes after the demo data is made.
    starts_in: Option<i64>,
    minutes: i64,
    /// (bidder index, amount)
    bids: &'static [(usize, i64)],
    chat: &'static [(usize, &'static str)],
    sell_now: bool,
    /// What the buyer and the seller did since the hammer.
    after_sale: &'static [AfterSale],
}

/// A step of a demo sale, through the same code as the API's.
#[derive(Debug, Clone, Copy)]
enum AfterSale {
    /// The buyer chooses pickup.
    Pickup,
    /// The buyer chooses the courier (and gives an address).
    Courier,
    /// The seller has it ready at the pickup place.
    Ready,
    /// The seller hands it to a courier.
    Ship,
    /// The buyer confirms receipt (the seller is paid).
    Confirm,
    /// The buyer disputes it.
    Dispute,
    /// The operator refunds the dispute.
    Refund,
    /// The seller calls it off (the buyer never gave details).
    Cancel,
    /// Both sides rate each other.
    Rate,
}

/// A sold lot of `seller`, bought at its start price by the one bid in
/// `bids`, moved on by `after_sale`.
const fn sold(
    seller: usize,
    title: &'static str,
    species: &'static str,
    price: i64,
    bids: &'static [(usize, i64)],
    after_sale: &'static [AfterSale],
) -> Lot {
    Lot {
        seller,
        title,
        species,
        description: "지난 주 조과, 판매 완료.",
        start_price: price,
        increment: Some(1_000),
        buy_now: None,
        starts_in: None,
        minutes: 60,
        bids,
        chat: &[],
        sell_now: true,
        after_sale,
    }
}

const LOTS: &[Lot] = &[
    Lot {
        seller: 1,
        title: "감성돔 48cm 갯바위 당일 조과",
        species: "감성돔",
        description: "새벽 서귀포 갯바위에서 낚은 감성돔입니다. 피 빼고 얼음 포장했습니다.",
        start_price: 30_000,
        increment: None,
        buy_now: None,
        starts_in: None,
        minutes: 180,
        bids: &[(3, 30_000), (4, 32_000), (3, 35_000), (6, 38_000)],
        chat: &[
            (3, "크기 정말 좋네요"),
            (1, "오늘 아침 7시에 잡았습니다"),
            (6, "#38000"),
        ],
        sell_now: false,
        after_sale: &[],
    },
    Lot {
        seller: 2,
        title: "부시리 92cm 선상 낚시",
        species: "부시리",
        description: "부산 앞바다 선상 지깅. 대물입니다.",
        start_price: 80_000,
        increment: Some(5_000),
        buy_now: None,
        starts_in: None,
        minutes: 360,
        bids: &[(5, 80_000), (6, 90_000)],
        chat: &[(5, "회로 먹으면 최고"), (2, "내일 오전 택배 발송 가능")],
        sell_now: false,
        after_sale: &[],
    },
    Lot {
        seller: 1,
        title: "독가시치 35cm 3마리",
        species: "독가시치",
        description: "지느러미 가시 제거 후 손질해 드립니다.",
        start_price: 15_000,
        increment: None,
        buy_now: None,
        starts_in: None,
        minutes: 90,
        bids: &[(4, 15_000)],
        chat: &[(4, "손질 부탁드려요")],
        sell_now: false,
        after_sale: &[],
    },
    Lot {
        seller: 2,
        title: "넙치농어 70cm",
        species: "넙치농어",
        description: "갯바위 루어 조과. 9만 원에 바로 구매하실 수 있습니다.",
        start_price: 50_000,
        increment: None,
        buy_now: Some(90_000),
        starts_in: None,
        minutes: 1_440,
        bids: &[],
        chat: &[],
        sell_now: false,
        after_sale: &[],
    },
    Lot {
        seller: 1,
        title: "참돔 55cm (낙찰 완료)",
        species: "참돔",
        description: "지난 주말 조과.",
        start_price: 40_000,
        increment: Some(2_000),
        buy_now: None,
        starts_in: None,
        minutes: 60,
        bids: &[(5, 40_000), (3, 44_000)],
        chat: &[(3, "감사합니다!")],
        sell_now: true,
        after_sale: &[],
    },
    Lot {
        seller: 2,
        title: "참돔 60cm 내일 새벽 조업분 (예약 경매)",
        species: "참돔",
        description: "내일 새벽 조업분을 미리 경매합니다. 경매는 6시간 뒤에 시작합니다.",
        start_price: 60_000,
        increment: None,
        buy_now: None,
        starts_in: Some(6 * 60),
        minutes: 12 * 60,
        bids: &[],
        chat: &[(4, "시작하면 바로 입찰하겠습니다")],
        sell_now: false,
        after_sale: &[],
    },
    // One sale in each state after the hammer.
    sold(
        2,
        "우럭 40cm 2마리",
        "조피볼락",
        25_000,
        &[(4, 25_000)],
        &[AfterSale::Pickup],
    ),
    sold(
        1,
        "돌돔 45cm",
        "돌돔",
        90_000,
        &[(5, 90_000)],
        &[AfterSale::Courier, AfterSale::Ship],
    ),
    sold(
        2,
        "벵에돔 38cm",
        "벵에돔",
        30_000,
        &[(6, 30_000)],
        &[AfterSale::Pickup, AfterSale::Ready],
    ),
    sold(
        1,
        "무늬오징어 2kg",
        "무늬오징어",
        35_000,
        &[(3, 35_000)],
        &[
            AfterSale::Pickup,
            AfterSale::Ready,
            AfterSale::Confirm,
            AfterSale::Rate,
        ],
    ),
    sold(
        2,
        "방어 80cm",
        "방어",
        70_000,
        &[(5, 70_000)],
        &[AfterSale::Courier, AfterSale::Ship, AfterSale::Dispute],
    ),
    sold(
        1,
        "볼락 20마리",
        "볼락",
        20_000,
        &[(4, 20_000)],
        &[AfterSale::Cancel],
    ),
    sold(
        2,
        "쥐노래미 40cm",
        "쥐노래미",
        22_000,
        &[(6, 22_000)],
        &[AfterSale::Pickup, AfterSale::Dispute, AfterSale::Refund],
    ),
];

/// Recent demo donations queued for the chain when one is configured.
const CHAIN_DONATIONS: i64 = 20;

/// Writes the demo set unless its accounts already exist. With `chain`, the
/// most recent completed donations are queued for on-chain recording (the
/// server's outbox worker sends them).
///
/// A database with accounts outside the demo domain is refused unless
/// `force`: the demo password is in the README.
pub async fn seed(
    pool: &DbPool,
    chain: Option<&sitga_realtime::chain::Chain>,
    photos: &sitga_realtime::photos::Photos,
    calendar: sitga_core::Calendar,
    force: bool,
) -> Result<DemoSummary, DemoError> {
    let mut summary = DemoSummary::default();
    {
        let mut conn = pool.get().await?;
        if users::find_by_email(&mut conn, OPERATOR_EMAIL)
            .await?
            .is_some()
        {
            summary.already_present = true;
            return Ok(summary);
        }
        let real = users::count_outside_domain(&mut conn, DEMO_DOMAIN).await?;
        if real > 0 && !force {
            return Err(DemoError::RealUsers(real));
        }
    }
    let password = Password::parse(DEMO_PASSWORD).map_err(invalid)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(invalid)?
        .map_err(invalid)?;
    let mut ids = Vec::with_capacity(PEOPLE.len());
    let mut nicknames = Vec::with_capacity(PEOPLE.len());
    for p in PEOPLE {
        let mut conn = pool.get().await?;
        let user = users::insert(
            &mut conn,
            &users::NewUser {
                email: Email::parse(p.email).map_err(invalid)?,
                nickname: Nickname::parse(p.nickname).map_err(invalid)?,
                name: PersonName::parse(p.name).map_err(invalid)?,
                phone: None,
                address: None,
                province: Some(p.province),
                account_type: p.account_type,
                password_hash: hash.clone(),
            },
        )
        .await
        .map_err(|e| DemoError::Invalid(e.to_string()))?;
        if p.points > 0 {
            wallets::charge(&mut conn, user.id, Krw::new(p.points)).await?;
        }
        ids.push(user.id);
        nicknames.push(user.nickname);
        summary.users_created += 1;
    }
    {
        let mut conn = pool.get().await?;
        // Operator only: an admin with a published password would be a
        // standing invitation (`sitga admin grant` makes a real admin).
        users::grant_role(&mut conn, ids[0], Role::Operator).await?;
    }

    let bus = RoomBus::local();
    let engine = BidEngine::new(pool.clone(), bus.clone());
    let closer = Closer::new(pool.clone(), bus);
    for lot in LOTS {
        let settings = AuctionSettings::parse(
            &AuctionSettingsInput {
                start_price: Krw::new(lot.start_price),
                min_increment: lot.increment.map(Krw::new),
                reserve_price: None,
                buy_now_price: lot.buy_now.map(Krw::new),
                duration_minutes: Some(lot.minutes),
                starts_at: lot
                    .starts_in
                    .map(|minutes| Utc::now() + chrono::Duration::minutes(minutes)),
                clock: None,
            },
            Utc::now(),
        )
        .map_err(invalid)?;
        let auction = {
            let mut conn = pool.get().await?;
            auctions::insert(
                &mut conn,
                &NewAuction {
                    seller_id: ids[lot.seller],
                    title: lot.title.into(),
                    description: lot.description.into(),
                    species: Some(lot.species.into()),
                    photo_url: None,
                    settings,
                },
            )
            .await?
        };
        summary.auctions_opened += 1;
        let n = summary.auctions_opened;
        summary.photos_stored += attach_photo(pool, photos, &auction, n).await?;
        let weight = 1_200 + 350 * i64::try_from(n).map_err(invalid)?;
        add_catch_facts(pool, &auction, lot.seller, weight, n).await?;
        for &(who, amount) in lot.bids {
            let outcome = engine
                .place(BidCommand::plain(
                    auction.id,
                    ids[who],
                    nicknames[who].clone(),
                    Krw::new(amount),
                ))
                .await
                .map_err(invalid)?;
            match outcome {
                BidOutcome::Accepted { .. } => summary.bids_placed += 1,
                BidOutcome::Rejected { reason, .. } => {
                    return Err(DemoError::Invalid(format!(
                        "demo bid refused: {}",
                        reason.code()
                    )));
                }
                BidOutcome::MaxRaised { .. }
                | BidOutcome::Replayed { .. }
                | BidOutcome::RefReused => {
                    return Err(DemoError::Invalid(
                        "demo bids send neither a maximum nor a client key".into(),
                    ));
                }
            }
        }
        let mut conn = pool.get().await?;
        for &(who, text) in lot.chat {
            auctions::insert_chat(
                &mut conn,
                auction.id,
                Some((ids[who], &nicknames[who])),
                "chat",
                text,
                None,
            )
            .await?;
        }
        drop(conn);
        if lot.sell_now {
            closer.close(auction.id, true).await?;
            summary.sales_moved += move_sale(pool, auction.id, lot.after_sale, ids[0]).await?;
        }
    }
    seed_clock(pool, photos, &closer, &ids, &nicknames, &mut summary).await?;
    seed_coffee(pool, &hash, calendar, &mut summary).await?;
    // The first dashboard visit shows a forecast, not "none yet".
    let (outcome, errors) = sitga_realtime::forecasts::retrain(
        pool,
        None,
        sitga_forecasting::Window::default(),
        sitga_forecasting::Horizon::default(),
        calendar,
    )
    .await?;
    if !errors.is_empty() {
        return Err(DemoError::Invalid(errors.join("; ")));
    }
    summary.forecasts_made = outcome.fitted;
    if let Some(chain) = chain {
        let mut tx = pool.begin().await?;
        let (recent, _) = sitga_persistence::pickups::list_all(
            &mut tx,
            None,
            Some(sitga_coffee_grounds::PickupStatus::Completed),
            None,
            0,
            CHAIN_DONATIONS * 4,
        )
        .await?;
        // Only counting pickups are donations on chain.
        let donations = recent
            .iter()
            .filter(|p| p.counted_at().is_some())
            .filter_map(|p| {
                let grams = sitga_coffee_grounds::donation(p.status(), p.posted(), p.measured())?;
                Some((p, p.sides().cafe?, grams))
            });
        for (p, cafe, grams) in donations.take(CHAIN_DONATIONS as usize) {
            chain.enqueue(&mut tx, p.id, cafe, grams.get()).await?;
            summary.chain_records_queued += 1;
        }
        tx.commit().await?;
    }
    Ok(summary)
}

/// Catch facts and the seller's delivery options, as an angler fills them
/// in (caught this morning, on ice, pickup at the market or a courier).
async fn add_catch_facts(
    pool: &DbPool,
    auction: &sitga_persistence::auctions::Auction,
    seller: usize,
    weight: i64,
    n: usize,
) -> Result<(), DemoError> {
    let province = PEOPLE[seller].province;
    let facts = sitga_auction::Lot {
        weight_g: Some(weight),
        length_cm: Some((30 + weight / 150).min(sitga_auction::MAX_LENGTH_CM)),
        caught_at: Some(Utc::now() - chrono::Duration::hours(5)),
        catch_area: Some(sitga_auction::CatchArea {
            text: format!("{} 앞바다 갯바위", province.name_ko()),
            province: Some(province),
        }),
        storage: Some(sitga_auction::Storage::Iced),
        delivery: Some(sitga_auction::Delivery {
            pickup: Some(sitga_auction::PickupPoint {
                province,
                place: format!("{} 수산시장 앞", province.name_ko()),
            }),
            courier_fee: Some(Krw::new(if n % 2 == 1 { 5_000 } else { 3_000 })),
        }),
    };
    let mut conn = pool.get().await?;
    sitga_persistence::lots::insert(&mut conn, auction.id, &facts, None).await?;
    Ok(())
}

/// The morning's catch on the clock: ten boxes of mackerel from 40,000 KRW,
/// 1,000 down every 10 minutes to a 25,000 floor (live for hours after the
/// demo is made), two of them already bought.
async fn seed_clock(
    pool: &DbPool,
    photos: &sitga_realtime::photos::Photos,
    closer: &Closer,
    ids: &[sitga_core::UserId],
    nicknames: &[String],
    summary: &mut DemoSummary,
) -> Result<(), DemoError> {
    let (seller, buyer) = (1, 4);
    let settings = AuctionSettings::parse(
        &AuctionSettingsInput {
            start_price: Krw::new(40_000),
            clock: Some(sitga_auction::ClockInput {
                floor_price: Krw::new(25_000),
                step: Krw::new(1_000),
                step_seconds: 600,
                quantity: Some(10),
                pause_seconds: None,
            }),
            ..Default::default()
        },
        Utc::now(),
    )
    .map_err(invalid)?;
    let auction = {
        let mut conn = pool.get().await?;
        auctions::insert(
            &mut conn,
            &NewAuction {
                seller_id: ids[seller],
                title: "고등어 10상자 (시계 경매)".into(),
                description: "오늘 새벽 위판 고등어, 상자당 8kg. 가격이 10분마다 1,000원씩 내려갑니다.                               원하는 가격에 원하는 상자 수만큼 구매하세요."
                    .into(),
                species: Some("고등어".into()),
                photo_url: None,
                settings,
            },
        )
        .await?
    };
    summary.auctions_opened += 1;
    let n = summary.auctions_opened;
    summary.photos_stored += attach_photo(pool, photos, &auction, n).await?;
    // Ten boxes of 8 kg.
    add_catch_facts(pool, &auction, seller, 80_000, n).await?;
    let bought = closer
        .accept(&sitga_realtime::clock::AcceptCommand {
            auction_id: auction.id,
            buyer_id: ids[buyer],
            nickname: &nicknames[buyer],
            units: 2,
            price: Krw::new(40_000),
            client_ref: None,
            resend: false,
        })
        .await?;
    match bought {
        sitga_realtime::clock::AcceptResult::Bought { .. } => {
            summary.bids_placed += 1;
            Ok(())
        }
        other => Err(DemoError::Invalid(format!(
            "the demo clock's accept was not bought: {other:?}"
        ))),
    }
}

/// Takes `steps` on the sale of `auction`, as its buyer, its seller and
/// the demo operator would, through [`sitga_realtime::sales::Sales`]. The
/// deadlines are zero here so a seller may call off at once a sale whose
/// buyer "never" answered.
async fn move_sale(
    pool: &DbPool,
    auction: sitga_core::AuctionId,
    steps: &[AfterSale],
    operator: UserId,
) -> Result<usize, DemoError> {
    use sitga_auction::{DeliveryAddress, DeliveryChoice, DisputeOutcome, DisputeReport, Rating};
    use sitga_realtime::sales::{Asker, SaleRequest, Sales};
    if steps.is_empty() {
        return Ok(0);
    }
    let zero = chrono::Duration::zero();
    let sales = Sales::new(
        pool.clone(),
        sitga_realtime::bus::RoomBus::local(),
        sitga_auction::Deadlines {
            details: zero,
            shipment: zero,
            confirmation: zero,
        },
    );
    let sale = {
        let mut conn = pool.get().await?;
        let found = sitga_persistence::sales::of_auctions(&mut conn, &[auction]).await?;
        let Some(&(id, _)) = found.get(&auction) else {
            return Err(DemoError::Invalid(format!(
                "auction {auction} sold no sale"
            )));
        };
        sitga_persistence::sales::find(&mut conn, id)
            .await?
            .ok_or(DbError::NotFound)?
    };
    let buyer = Asker {
        user: sale.buyer_id,
        operator: false,
    };
    let seller = Asker {
        user: sale.seller_id,
        operator: false,
    };
    let operator = Asker {
        user: operator,
        operator: true,
    };
    for step in steps {
        let (who, request) = match step {
            AfterSale::Pickup => (
                buyer,
                SaleRequest::Details {
                    delivery: DeliveryChoice::Pickup,
                    address: None,
                },
            ),
            AfterSale::Courier => (
                buyer,
                SaleRequest::Details {
                    delivery: DeliveryChoice::Courier,
                    address: Some(
                        DeliveryAddress::parse(
                            "김민수",
                            "010-0000-0000",
                            "63122",
                            "제주특별자치도 제주시 첨단로 242",
                            Some("데모동 101호"),
                        )
                        .map_err(invalid)?,
                    ),
                },
            ),
            AfterSale::Ready => (seller, SaleRequest::Ship(None)),
            AfterSale::Ship => (
                seller,
                SaleRequest::Ship(Some(
                    sitga_auction::Shipment::parse("CJ대한통운", "6012-0000-0001")
                        .map_err(invalid)?,
                )),
            ),
            AfterSale::Confirm => (buyer, SaleRequest::Confirm),
            AfterSale::Dispute => (
                buyer,
                SaleRequest::Dispute(
                    DisputeReport::parse("받아보니 얼음이 다 녹아 있었습니다.", &[])
                        .map_err(invalid)?,
                ),
            ),
            AfterSale::Refund => (operator, SaleRequest::Resolve(DisputeOutcome::Refund)),
            AfterSale::Cancel => (seller, SaleRequest::Cancel),
            AfterSale::Rate => {
                for (who, words) in [
                    (buyer, "싱싱하고 친절했어요"),
                    (seller, "약속 시간에 딱 맞춰 오셨어요"),
                ] {
                    let rating = Rating::parse(5, Some(words)).map_err(invalid)?;
                    sales.rate(sale.id, who, &rating).await.map_err(invalid)?;
                }
                continue;
            }
        };
        sales
            .act(sale.id, who, request, Utc::now())
            .await
            .map_err(invalid)?;
    }
    Ok(steps.len())
}

/// The id of the `n`th demo photo (from 1): fixed, so documentation and the
/// API fuzzing can name one.
pub fn demo_photo_id(n: usize) -> String {
    format!("dec0de{n:026x}")
}

/// Draws the `n`th demo catch (a fish on a sea-blue ground, its colours
/// turning with `n`) as a PNG: demo data downloads nothing.
fn draw_catch(n: usize) -> Result<Vec<u8>, DemoError> {
    const W: u32 = 960;
    const H: u32 = 640;
    let hue = (n * 53 % 360) as f32;
    let (cx, cy) = (W as f32 * 0.56, H as f32 * 0.5);
    let body = |r: f32| {
        let shade = 0.55 + 0.45 * (1.0 - r);
        let (a, b) = ((hue.to_radians()).cos(), (hue.to_radians()).sin());
        image::Rgb([
            (shade * (150.0 + 80.0 * a)).clamp(0.0, 255.0) as u8,
            (shade * (150.0 + 60.0 * b)).clamp(0.0, 255.0) as u8,
            (shade * 140.0) as u8,
        ])
    };
    let img = image::RgbImage::from_fn(W, H, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let (dx, dy) = ((x - cx) / 250.0, (y - cy) / 110.0);
        let r = dx * dx + dy * dy;
        let eye = ((x - (cx + 170.0)).powi(2) + (y - (cy - 25.0)).powi(2)).sqrt();
        let tail_x = x - (cx - 240.0);
        let in_tail = tail_x < 0.0 && tail_x > -140.0 && (y - cy).abs() < -tail_x * 0.8;
        if eye < 14.0 {
            image::Rgb([20, 20, 30])
        } else if r <= 1.0 {
            body(r)
        } else if in_tail {
            body(0.6)
        } else {
            let depth = y / H as f32;
            image::Rgb([
                (30.0 + 20.0 * depth) as u8,
                (90.0 + 40.0 * depth) as u8,
                (150.0 + 50.0 * depth) as u8,
            ])
        }
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(invalid)?;
    Ok(png)
}

/// Stores the `n`th demo photo and shows it on `auction`.
async fn attach_photo(
    pool: &DbPool,
    photos: &sitga_realtime::photos::Photos,
    auction: &sitga_persistence::auctions::Auction,
    n: usize,
) -> Result<usize, DemoError> {
    let png = draw_catch(n)?;
    let processed = tokio::task::spawn_blocking(move || sitga_photos::process(&png))
        .await
        .map_err(invalid)?
        .map_err(invalid)?;
    let id = demo_photo_id(n);
    photos
        .keep(auction.seller_id, &processed, id.clone())
        .await
        .map_err(invalid)?;
    let mut conn = pool.get().await?;
    Ok(sitga_persistence::photos::attach(&mut conn, auction.seller_id, &[id], auction.id).await?)
}

/// Short labels for demo account names, one per province.
const PROVINCE_LABELS: &[(Province, &str)] = &[
    (Province::Seoul, "서울"),
    (Province::Busan, "부산"),
    (Province::Daegu, "대구"),
    (Province::Incheon, "인천"),
    (Province::Gwangju, "광주"),
    (Province::Daejeon, "대전"),
    (Province::Ulsan, "울산"),
    (Province::Sejong, "세종"),
    (Province::Gyeonggi, "경기"),
    (Province::Gangwon, "강원"),
    (Province::Chungbuk, "충북"),
    (Province::Chungnam, "충남"),
    (Province::Jeonbuk, "전북"),
    (Province::Jeonnam, "전남"),
    (Province::Gyeongbuk, "경북"),
    (Province::Gyeongnam, "경남"),
    (Province::Jeju, "제주"),
];

/// Days of history the coffee-grounds demo covers.
pub const HISTORY_DAYS: i64 = 120;

/// The demo businesses that are not verified: their completed pickups are
/// recorded but do not count (cafe numbers 8, 18, 28, 38 and the last
/// recycler wait for an operator; cafe 14 was rejected).
fn demo_verification(index: usize, recycler: bool) -> Option<sitga_user::VerificationDecision> {
    use sitga_user::VerificationDecision::{Rejected, Verified};
    match (recycler, index) {
        (true, 47) => None,
        (false, i) if i % 10 == 7 => None,
        (false, 13) => Some(Rejected),
        _ => Some(Verified),
    }
}

/// ~40 cafes and 8 recyclers across the provinces, each a registered
/// business (most verified), 120 days of supply and demand with a weekly
/// rhythm (busier weekends) and a gentle upward trend: offers collected by
/// recyclers, requests filled by cafes, pickups right before and after
/// midnight at the turn of the month, and the badges the counting ones
/// earn. Deterministic (fixed seed).
async fn seed_coffee(
    pool: &DbPool,
    hash: &sitga_user::PasswordHash,
    calendar: sitga_core::Calendar,
    summary: &mut DemoSummary,
) -> Result<(), DemoError> {
    use chrono::{Datelike, Duration};
    use rand::{Rng, SeedableRng};
    use sitga_coffee_grounds::{Grams, PickupKind};
    use sitga_persistence::businesses;
    use sitga_persistence::pickups::{self, History};
    use sitga_user::{BusinessName, BusinessNumber};

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0051_176a);
    let mut cafes: Vec<(UserId, Province)> = Vec::new();
    let mut recyclers: Vec<(UserId, Province)> = Vec::new();
    let mut verified = std::collections::HashSet::new();
    let mut tx = pool.begin().await?;
    let operator = users::find_by_email(&mut tx, OPERATOR_EMAIL)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| DemoError::Invalid("the demo operator is missing".into()))?;
    for i in 0..48usize {
        let (province, label) = PROVINCE_LABELS[(i * 7) % PROVINCE_LABELS.len()];
        // The big cities get more cafes.
        let (province, label) = if i % 3 == 0 {
            (Province::Seoul, "서울")
        } else if i % 5 == 0 {
            (Province::Gyeonggi, "경기")
        } else {
            (province, label)
        };
        let recycler = i >= 40;
        let nickname = if recycler {
            format!("{label}수거{:02}", i - 39)
        } else {
            format!("{label}카페{:02}", i + 1)
        };
        let email = if recycler {
            format!("recycler{:02}@demo.sitga.kr", i - 39)
        } else {
            format!("cafe{:02}@demo.sitga.kr", i + 1)
        };
        let user = users::insert(
            &mut tx,
            &users::NewUser {
                email: Email::parse(&email).map_err(invalid)?,
                nickname: Nickname::parse(&nickname).map_err(invalid)?,
                name: PersonName::parse(&nickname).map_err(invalid)?,
                phone: None,
                address: None,
                province: Some(province),
                account_type: if recycler {
                    AccountType::Recycler
                } else {
                    AccountType::Cafe
                },
                password_hash: hash.clone(),
            },
        )
        .await
        .map_err(|e| DemoError::Invalid(e.to_string()))?;
        summary.users_created += 1;
        // Tax office 1xx, type 81–85, a serial per account.
        let number =
            BusinessNumber::completing(&format!("{:03}{:02}{:04}", 101 + i, 81 + i % 5, 1000 + i))
                .map_err(invalid)?;
        let name = BusinessName::parse(&format!("{nickname} 주식회사")).map_err(invalid)?;
        businesses::submit(&mut tx, user.id, &number, &name).await?;
        if let Some(decision) = demo_verification(i, recycler) {
            let reason = (decision == sitga_user::VerificationDecision::Rejected)
                .then_some("등록번호와 상호가 일치하지 않습니다 / number and name do not match");
            businesses::decide(&mut tx, user.id, decision, reason, operator).await?;
            if decision == sitga_user::VerificationDecision::Verified {
                verified.insert(user.id);
            }
        }
        if recycler {
            recyclers.push((user.id, province))
        } else {
            cafes.push((user.id, province))
        }
    }
    let counts = |a: UserId, b: UserId| verified.contains(&a) && verified.contains(&b);
    let today = Utc::now();
    for days_ago in (0..HISTORY_DAYS).rev() {
        let day = today - Duration::days(days_ago);
        let weekend = matches!(
            calendar.date_of(day).weekday(),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let trend = 1.0 + 0.004 * (HISTORY_DAYS - days_ago) as f64;
        for &(cafe, province) in &cafes {
            let chance = if weekend { 0.8 } else { 0.5 };
            if !rng.random_bool(chance) {
                continue;
            }
            let tenths =
                (rng.random_range(5..=40) as f64 * trend * if weekend { 1.4 } else { 1.0 }).round();
            let grams = Grams::from_kg(tenths / 10.0).map_err(invalid)?;
            let created = day - Duration::minutes(rng.random_range(0..600));
            // Older offers were collected within a day or two.
            let history = if days_ago >= 2 && !recyclers.is_empty() {
                let collector = recyclers[rng.random_range(0..recyclers.len())].0;
                History::Completed {
                    claimer: collector,
                    at: created + Duration::hours(rng.random_range(2..40)),
                    counted: counts(cafe, collector),
                }
            } else {
                History::Waiting
            };
            pickups::insert_historical(
                &mut tx,
                cafe,
                PickupKind::Supply,
                grams,
                Some(province.code()),
                created,
                history,
            )
            .await?;
            summary.pickups_written += 1;
        }
        for &(recycler, province) in &recyclers {
            if !rng.random_bool(if weekend { 0.2 } else { 0.45 }) {
                continue;
            }
            let tenths = (rng.random_range(200..=1500) as f64 * trend).round();
            let grams = Grams::from_kg(tenths / 10.0).map_err(invalid)?;
            let created = day - Duration::minutes(rng.random_range(0..600));
            // About a third of the requests are filled by a cafe: the older
            // ones delivered, the last two days' on the way.
            let cafe = cafes[rng.random_range(0..cafes.len())].0;
            let filled = rng.random_bool(0.35);
            let history = match (filled, days_ago >= 2) {
                (false, _) => History::Waiting,
                (true, true) => History::Completed {
                    claimer: cafe,
                    at: created + Duration::hours(rng.random_range(4..48)),
                    counted: counts(cafe, recycler),
                },
                (true, false) => History::OnWay {
                    claimer: cafe,
                    at: created + Duration::minutes(30),
                },
            };
            pickups::insert_historical(
                &mut tx,
                recycler,
                PickupKind::Demand,
                grams,
                Some(province.code()),
                created,
                history,
            )
            .await?;
            summary.pickups_written += 1;
        }
    }
    // Two pickups a minute either side of this month's first local
    // midnight: the first counts in last month, the second in this one.
    let month_start = calendar.month_range(calendar.month_of(today)).0;
    let (cafe, province) = cafes[0];
    let recycler = recyclers[0].0;
    for at in [
        month_start - Duration::minutes(1),
        month_start + Duration::minutes(1),
    ] {
        pickups::insert_historical(
            &mut tx,
            cafe,
            PickupKind::Supply,
            Grams::from_kg(5.0).map_err(invalid)?,
            Some(province.code()),
            at - Duration::hours(3),
            History::Completed {
                claimer: recycler,
                at,
                counted: counts(cafe, recycler),
            },
        )
        .await?;
        summary.pickups_written += 1;
    }
    for &(id, _) in cafes.iter().chain(&recyclers) {
        sitga_realtime::awards::award_pickup_badges(&mut tx, id, calendar).await?;
    }
    tx.commit().await?;
    Ok(())
}
