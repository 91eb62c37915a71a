//! Black-box test harness for sitga.
//!
//! [`TestApp::spawn`] starts the real server on a random port against a
//! fresh database (SQLite by default; a new MySQL database when
//! `SITGA_TEST_DATABASE_URL` or `DATABASE_URL` is `mysql://…`; Redis when
//! `REDIS_URL` is set), and offers builders for users and tokens. Tests talk
//! to it over HTTP like any client.
//!
//! ```no_run
//! # async fn demo() {
//! use sitga_testkit::TestApp;
//! let app = TestApp::spawn().await;
//! let alice = app.user().nickname("alice").create().await;
//! let me = app.get("/api/v1/users/me", Some(&alice.access_token)).await;
//! assert_eq!(me.status(), 200);
//! # }
//! ```

#![warn(missing_docs)]
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use serde_json::{Value, json};
use sitga_api::auth::{AccessClaims, ClientQuotas, JwtKeys};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::{PoolOptions, users};
use sitga_server::config::{AppConfig, SecretSource};
use sitga_server::server::{self, RunningServer};
use sitga_user::Role;

pub use reqwest;
pub use sitga_persistence::DbPool;

/// The secret every test app signs with, so tests can mint tokens.
pub const TEST_JWT_SECRET: &str = "sitga-test-secret-0123456789abcdef";

/// Redis URL for tests, if any.
pub fn redis_url() -> Option<String> {
    std::env::var("SITGA_TEST_REDIS_URL")
        .ok()
        .or_else(|| std::env::var("REDIS_URL").ok())
        .filter(|u| !u.trim().is_empty())
}

/// Options for a test app.
#[derive(Clone)]
pub struct TestAppBuilder {
    auth_quotas: ClientQuotas,
    sweep_cron: String,
    ws: sitga_api::ws::WsQuotas,
    metrics_token: Option<String>,
    chain: Option<sitga_server::config::ChainSettings>,
    trusted_proxies: Vec<String>,
    completions_per_day: u32,
    payment_provider: Arc<dyn sitga_realtime::payments::PaymentProvider>,
    charge_cap: i64,
}

impl TestAppBuilder {
    /// Records donations on a chain (e.g. a test's anvil node).
    pub fn chain(mut self, settings: sitga_server::config::ChainSettings) -> Self {
        self.chain = Some(settings);
        self
    }

    /// Login attempts per minute allowed per address and per e-mail.
    pub fn login_quotas(mut self, per_ip: u32, per_email: u32) -> Self {
        self.auth_quotas = ClientQuotas {
            per_ip_per_minute: NonZeroU32::new(per_ip).expect("non-zero"),
            per_email_per_minute: NonZeroU32::new(per_email).expect("non-zero"),
            ..self.auth_quotas
        };
        self
    }

    /// Sign-ups and availability checks per minute allowed per address.
    pub fn signup_quotas(mut self, signups: u32, availability: u32) -> Self {
        self.auth_quotas = ClientQuotas {
            signup_per_ip_per_minute: NonZeroU32::new(signups).expect("non-zero"),
            availability_per_ip_per_minute: NonZeroU32::new(availability).expect("non-zero"),
            ..self.auth_quotas
        };
        self
    }

    /// Photo identifications per minute allowed per address.
    pub fn identify_quota(mut self, per_minute: u32) -> Self {
        self.auth_quotas.identify_per_ip_per_minute =
            NonZeroU32::new(per_minute).expect("non-zero");
        self
    }

    /// When the sweeper runs (default every second). A rare schedule lets a
    /// test see the per-auction close job work on its own.
    pub fn sweep_cron(mut self, cron: &str) -> Self {
        self.sweep_cron = cron.into();
        self
    }

    /// Makes `/metrics` require `Authorization: Bearer <token>`.
    pub fn metrics_token(mut self, token: &str) -> Self {
        self.metrics_token = Some(token.to_owned());
        self
    }

    /// Proxies whose `X-Forwarded-For` names the client (the test client
    /// connects from loopback, so trusting `127.0.0.1` lets a test act as
    /// the proxy).
    pub fn trusted_proxies(mut self, proxies: &[&str]) -> Self {
        self.trusted_proxies = proxies.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Pickups one collector may complete per UTC day (default 1,000).
    pub fn completions_per_day(mut self, per_day: u32) -> Self {
        self.completions_per_day = per_day;
        self
    }

    /// Who takes the money for charges (default: the development provider,
    /// which approves at once).
    pub fn payment_provider(
        mut self,
        provider: Arc<dyn sitga_realtime::payments::PaymentProvider>,
    ) -> Self {
        self.payment_provider = provider;
        self
    }

    /// Won one user may charge per UTC day (default 100,000,000).
    pub fn charge_cap(mut self, won: i64) -> Self {
        self.charge_cap = won;
        self
    }

    /// Frames a WebSocket connection may send per second (default 10).
    pub fn ws_frames_per_second(mut self, rate: u32) -> Self {
        self.ws.frames_per_second = NonZeroU32::new(rate).expect("non-zero");
        self
    }

    /// Live WebSocket connections allowed per account and per address
    /// (default 1,000 each: tests open many from loopback).
    pub fn ws_sockets(mut self, per_user: u32, per_ip: u32) -> Self {
        self.ws.sockets_per_user = NonZeroU32::new(per_user).expect("non-zero");
        self.ws.sockets_per_ip = NonZeroU32::new(per_ip).expect("non-zero");
        self
    }

    /// Chat lines and bids one account may send per second over all its
    /// sockets (default 1,000).
    pub fn ws_account_messages_per_second(mut self, rate: u32) -> Self {
        self.ws.account_messages_per_second = NonZeroU32::new(rate).expect("non-zero");
        self
    }

    /// Starts the app.
    pub async fn spawn(self) -> TestApp {
        // `SITGA_TEST_LOG=sitga_api=debug` shows the servers' logs (all
        // tests of a binary interleaved) when a test needs explaining.
        if let Ok(filter) = std::env::var("SITGA_TEST_LOG") {
            static LOGGING: std::sync::Once = std::sync::Once::new();
            LOGGING.call_once(|| {
                sitga_server::logging::init(&filter, sitga_server::config::LogFormat::Text)
            });
        }
        let db = TestDatabase::create()
            .await
            .expect("create the test database");
        self.spawn_on(db).await
    }

    async fn spawn_on(self, db: TestDatabase) -> TestApp {
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        let photos = Arc::new(tempfile::tempdir().expect("a photo directory"));
        self.spawn_shared(Arc::new(db), prefix, photos).await
    }

    async fn spawn_shared(
        self,
        db: Arc<TestDatabase>,
        redis_prefix: String,
        photo_dir: Arc<tempfile::TempDir>,
    ) -> TestApp {
        let config = AppConfig {
            photo_store: photo_store(&redis_prefix, &photo_dir),
            database: db.url.clone(),
            redis_url: redis_url(),
            // Tests share one Redis: keep each app's keys apart.
            redis_prefix: redis_prefix.clone(),
            calendar: Default::default(),
            sweep_cron: self.sweep_cron.clone(),
            forecast_cron: sitga_server::config::DEFAULT_FORECAST_CRON.into(),
            assets_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
            model: sitga_server::config::ModelPaths::shipped(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            ),
            ws: self.ws,
            bind: "127.0.0.1:0".parse().expect("address"),
            jwt_secret: TEST_JWT_SECRET.as_bytes().to_vec(),
            jwt_secret_source: SecretSource::Environment,
            cors_origins: vec!["http://localhost:3000".into()],
            metrics_token: self.metrics_token.clone(),
            workers: Some(2),
            pool: PoolOptions {
                max_size: 8,
                ..Default::default()
            },
            auth_quotas: self.auth_quotas,
            chain: self.chain.clone(),
            trusted_proxies: sitga_api::client_addr::TrustedProxies::parse(&self.trusted_proxies)
                .expect("trusted proxies"),
            pickup_completions_per_day: self.completions_per_day,
            payment_provider: self.payment_provider.clone(),
            charge_cap: sitga_realtime::payments::ChargeCap::of_won(self.charge_cap),
            sale_deadlines: Default::default(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
        let server = server::start(config, Some(listener))
            .await
            .expect("start sitga");
        let address = format!("http://{}", server.addr);
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            jwt: JwtKeys::new(TEST_JWT_SECRET.as_bytes()),
            db: server.state.db.clone(),
            server: Some(server),
            _database: db,
            counter: AtomicU32::new(0),
            options: self,
            redis_prefix,
            photo_dir,
        }
    }
}

/// A running sitga on a random port with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// An HTTP client that does not follow redirects.
    pub client: reqwest::Client,
    /// The keys the app signs with.
    pub jwt: JwtKeys,
    /// Direct access to the app's database.
    pub db: DbPool,
    server: Option<RunningServer>,
    _database: Arc<TestDatabase>,
    counter: AtomicU32,
    /// What it was started with (a restart or a peer starts the same).
    options: TestAppBuilder,
    redis_prefix: String,
    photo_dir: Arc<tempfile::TempDir>,
}

/// A signed-up, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Id.
    pub id: i64,
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
    /// Nickname.
    pub nickname: String,
    /// A valid access token.
    pub access_token: String,
    /// A valid refresh token.
    pub refresh_token: String,
}

/// Builds a user through the real sign-up and login endpoints.
pub struct UserBuilder<'a> {
    app: &'a TestApp,
    email: String,
    password: String,
    nickname: String,
    account_type: &'static str,
    roles: Vec<Role>,
    province: Option<&'static str>,
    business: BusinessFixture,
}

/// What a cafe or recycler fixture registers as a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessFixture {
    /// A fresh valid number, verified at once (the default: most tests are
    /// about pickups between real businesses).
    Verified,
    /// A fresh valid number, waiting for an operator.
    Pending,
    /// No business given.
    None,
}

impl UserBuilder<'_> {
    /// What a cafe or recycler registers (default: a verified business).
    pub fn business(mut self, business: BusinessFixture) -> Self {
        self.business = business;
        self
    }

    /// Sets the nickname.
    pub fn nickname(mut self, nickname: &str) -> Self {
        self.nickname = nickname.into();
        self
    }

    /// Sets the e-mail.
    pub fn email(mut self, email: &str) -> Self {
        self.email = email.into();
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: &str) -> Self {
        self.password = password.into();
        self
    }

    /// A cafe account.
    pub fn cafe(mut self) -> Self {
        self.account_type = "cafe";
        self
    }

    /// Sets the province (code or name).
    pub fn province(mut self, province: &'static str) -> Self {
        self.province = Some(province);
        self
    }

    /// A recycler account.
    pub fn recycler(mut self) -> Self {
        self.account_type = "recycler";
        self
    }

    /// Grants a role (as `sitga admin grant` would) before logging in.
    pub fn role(mut self, role: Role) -> Self {
        self.roles.push(role);
        self
    }

    /// Signs up, grants roles, logs in.
    pub async fn create(self) -> TestUser {
        let mut form = json!({
            "email": self.email,
            "password": self.password,
            "nickname": self.nickname,
            "name": "Test User",
            "account_type": self.account_type,
            "province": self.province,
        });
        let business = self.account_type != "member" && self.business != BusinessFixture::None;
        if business {
            form["business_number"] = json!(fresh_business_number());
            form["business_name"] = json!(format!("{} 상사", self.nickname));
        }
        let signup = self.app.post_json("/api/v1/auth/signup", &form).await;
        assert_eq!(
            signup.status(),
            201,
            "signup failed: {}",
            signup.text().await.unwrap()
        );
        let body: Value = signup.json().await.unwrap();
        let id = body["user"]["id"].as_i64().expect("user id");
        if business && self.business == BusinessFixture::Verified {
            // As an operator's decision would (the fixture decides itself).
            let mut conn = self.app.db.get().await.unwrap();
            assert!(
                sitga_persistence::businesses::decide(
                    &mut conn,
                    id.into(),
                    sitga_user::VerificationDecision::Verified,
                    None,
                    id.into(),
                )
                .await
                .unwrap()
            );
        }
        if !self.roles.is_empty() {
            let mut conn = self.app.db.get().await.unwrap();
            for role in &self.roles {
                users::grant_role(&mut conn, id.into(), *role)
                    .await
                    .unwrap();
            }
        }
        let tokens = self.app.login(&self.email, &self.password).await;
        TestUser {
            id,
            email: self.email.to_lowercase(),
            password: self.password,
            nickname: self.nickname,
            access_token: tokens["access_token"].as_str().unwrap().into(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().into(),
        }
    }
}

/// The photo store a test app (and its restarts and peers) uses: the
/// bucket `SITGA_TEST_PHOTO_STORE` names (`s3://bucket`; CI starts an
/// S3-compatible server for it), under a prefix of this app's own, or else
/// the app's temporary directory.
fn photo_store(prefix: &str, dir: &tempfile::TempDir) -> sitga_photos::PhotoStore {
    match std::env::var("SITGA_TEST_PHOTO_STORE")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(bucket) => sitga_photos::PhotoStore::s3(&format!(
            "{}/{}",
            bucket.trim_end_matches('/'),
            prefix.trim_end_matches(':')
        ))
        .expect("SITGA_TEST_PHOTO_STORE names a usable bucket"),
        None => sitga_photos::PhotoStore::local(dir.path()).expect("a photo directory"),
    }
}

/// Whether the photo tests run against an S3-compatible bucket.
pub fn photos_on_s3() -> bool {
    std::env::var("SITGA_TEST_PHOTO_STORE").is_ok_and(|s| !s.trim().is_empty())
}

/// A valid business registration number no other fixture holds (random
/// first nine digits, the check digit computed).
pub fn fresh_business_number() -> String {
    let first_nine = uuid::Uuid::new_v4().as_u128() % 1_000_000_000;
    sitga_user::BusinessNumber::completing(&format!("{first_nine:09}"))
        .expect("nine digits")
        .formatted()
}

impl TestApp {
    /// Starts an app with default options.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// Options for an app.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            auth_quotas: ClientQuotas {
                per_ip_per_minute: NonZeroU32::new(1000).expect("non-zero"),
                per_email_per_minute: NonZeroU32::new(1000).expect("non-zero"),
                signup_per_ip_per_minute: NonZeroU32::new(1000).expect("non-zero"),
                availability_per_ip_per_minute: NonZeroU32::new(1000).expect("non-zero"),
                identify_per_ip_per_minute: NonZeroU32::new(1000).expect("non-zero"),
                photo_uploads_per_user_per_minute: NonZeroU32::new(1000).expect("non-zero"),
            },
            sweep_cron: "* * * * * *".into(),
            ws: sitga_api::ws::WsQuotas {
                frames_per_second: NonZeroU32::new(10).expect("non-zero"),
                account_messages_per_second: NonZeroU32::new(1000).expect("non-zero"),
                sockets_per_user: NonZeroU32::new(1000).expect("non-zero"),
                sockets_per_ip: NonZeroU32::new(1000).expect("non-zero"),
            },
            metrics_token: None,
            chain: None,
            trusted_proxies: Vec::new(),
            completions_per_day: 1_000,
            payment_provider: Arc::new(sitga_realtime::payments::DevPaymentProvider),
            charge_cap: 100_000_000,
        }
    }

    /// A full URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A user builder with unique defaults.
    pub fn user(&self) -> UserBuilder<'_> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        UserBuilder {
            app: self,
            email: format!("user{n}@example.com"),
            password: "correct horse battery".into(),
            nickname: format!("user{n}"),
            account_type: "member",
            roles: Vec::new(),
            province: None,
            business: BusinessFixture::Verified,
        }
    }

    /// POSTs JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GETs, with a bearer token when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request")
    }

    /// Sends `method` with a JSON body and a bearer token.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// Logs in and returns the token response (asserting 200).
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let res = self
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "login failed: {}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    /// An access token for `user_id` that expired an hour ago.
    pub fn expired_token(&self, user_id: i64) -> String {
        let now = Utc::now().timestamp();
        self.token_with(user_id, |c| {
            c.iat = now - 7200;
            c.exp = now - 3600;
        })
    }

    /// A valid access token of `user`'s login session that expires in
    /// `seconds`.
    pub fn token_expiring_in(&self, user: &TestUser, seconds: i64) -> String {
        let now = Utc::now().timestamp();
        let session = self.session_of(user);
        self.token_with(user.id, |c| {
            c.exp = now + seconds;
            c.sid = session;
        })
    }

    /// The login session (refresh-token family) `user`'s access token
    /// belongs to.
    pub fn session_of(&self, user: &TestUser) -> String {
        self.jwt
            .verify(&user.access_token)
            .expect("the user's own token")
            .sid
    }

    /// A correctly signed token whose `typ` is not `access`.
    pub fn wrong_type_token(&self, user_id: i64) -> String {
        self.token_with(user_id, |c| c.typ = "refresh".into())
    }

    /// A valid token with its signature altered.
    pub fn tampered_token(&self, user_id: i64) -> String {
        let token = self.token_with(user_id, |_| {});
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
        format!("{head}.{}", sig.into_iter().collect::<String>())
    }

    /// A token claiming roles the user was never granted, signed with
    /// another key (as a forger would have to).
    pub fn forged_admin_token(&self, user_id: i64) -> String {
        let forger = JwtKeys::new(b"not-the-server-secret-0123456789abcdef");
        let now = Utc::now().timestamp();
        forger
            .sign(&AccessClaims {
                sub: user_id.to_string(),
                roles: vec![Role::Admin],
                exp: now + 600,
                iat: now,
                jti: "forged".into(),
                typ: "access".into(),
                sid: "forged".into(),
            })
            .unwrap()
    }

    fn token_with(&self, user_id: i64, edit: impl FnOnce(&mut AccessClaims)) -> String {
        let now = Utc::now().timestamp();
        let mut claims = AccessClaims {
            sub: user_id.to_string(),
            roles: Vec::new(),
            exp: now + 600,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: "access".into(),
            sid: "test".into(),
        };
        edit(&mut claims);
        self.jwt.sign(&claims).unwrap()
    }

    /// Which backend the app runs on (`sqlite` or `mysql`).
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    /// The running server's state (engine, closer, bus, pools).
    pub fn state(&self) -> &sitga_api::state::AppState {
        &self.server.as_ref().expect("server running").state
    }

    /// Stops the server and starts a new one on the same database (as after
    /// a crash or a deploy).
    pub async fn restart(mut self) -> TestApp {
        if let Some(server) = self.server.take() {
            server.stop(false).await;
        }
        let counter = self.counter.load(Ordering::Relaxed);
        let app = self
            .options
            .clone()
            .spawn_shared(
                self._database.clone(),
                self.redis_prefix.clone(),
                self.photo_dir.clone(),
            )
            .await;
        app.counter.store(counter, Ordering::Relaxed);
        app
    }

    /// Starts a second instance on the same database and Redis namespace,
    /// as a second `sitga` process behind a proxy would be.
    pub async fn spawn_peer(&self) -> TestApp {
        let app = self
            .options
            .clone()
            .spawn_shared(
                self._database.clone(),
                self.redis_prefix.clone(),
                self.photo_dir.clone(),
            )
            .await;
        // Distinct generated users across the pair.
        app.counter.store(
            10_000 + self.counter.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        app
    }

    /// Moves an auction's end into the past.
    pub async fn expire_auction(&self, auction_id: i64) {
        sitga_persistence::test_support::expire_auction(&self.db, auction_id.into(), 1)
            .await
            .expect("expire auction");
    }

    /// Charges points to a user directly.
    pub async fn charge(&self, user: &TestUser, amount: i64) {
        let res = self
            .send(
                reqwest::Method::POST,
                "/api/v1/me/balance/charge",
                Some(&user.access_token),
                Some(json!({ "amount": amount })),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "charge failed: {}",
            res.text().await.unwrap()
        );
    }

    /// Opens an auction as `seller` with `start_price` and optional extra
    /// fields; returns its JSON.
    pub async fn open_auction(&self, seller: &TestUser, start_price: i64, extra: Value) -> Value {
        let mut body = json!({
            "title": "감성돔 42cm",
            "description": "오늘 아침 제주 갯바위에서",
            "species": "감성돔",
            "start_price": start_price,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = self
            .send(
                reqwest::Method::POST,
                "/api/v1/auctions",
                Some(&seller.access_token),
                Some(body),
            )
            .await;
        expect_json(res, 201).await
    }

    /// Sells a new auction of `seller` (with `extra` lot fields) to `buyer`
    /// at `price`: the buyer is charged `price + top_up`, bids, and the
    /// seller closes it. Returns `(auction id, sale id)`.
    pub async fn sell(
        &self,
        seller: &TestUser,
        buyer: &TestUser,
        price: i64,
        top_up: i64,
        extra: Value,
    ) -> (i64, i64) {
        let auction = self.open_auction(seller, price, extra).await;
        let id = auction["id"].as_i64().expect("auction id");
        self.charge(buyer, price + top_up).await;
        assert_eq!(self.bid(buyer, id, price).await.status(), 201, "bid");
        let closed = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/auctions/{id}/close"),
                Some(&seller.access_token),
                None,
            )
            .await;
        assert_eq!(expect_json(closed, 200).await["status"], "sold");
        let mut conn = self.db.get().await.expect("connection");
        let sales = sitga_persistence::sales::of_auctions(&mut conn, &[id.into()])
            .await
            .expect("sales");
        let (sale, _) = sales.get(&id.into()).expect("a sale for the sold auction");
        (id, sale.get())
    }

    /// Bids through REST; returns the response.
    pub async fn bid(&self, bidder: &TestUser, auction_id: i64, amount: i64) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/auctions/{auction_id}/bids"),
            Some(&bidder.access_token),
            Some(json!({ "amount": amount })),
        )
        .await
    }

    /// Opens a WebSocket, with an access token in the Authorization header
    /// when given.
    pub async fn ws(&self, token: Option<&str>) -> WsClient {
        self.try_ws(token, false).await.expect("websocket upgrade")
    }

    /// Opens a WebSocket; with `in_query` the token goes in `?access_token=`.
    pub async fn try_ws(
        &self,
        token: Option<&str>,
        in_query: bool,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let base = self.address.replacen("http://", "ws://", 1);
        let url = match (token, in_query) {
            (Some(t), true) => format!("{base}/ws?access_token={t}"),
            _ => format!("{base}/ws"),
        };
        let mut request = url.into_client_request()?;
        if let (Some(t), false) = (token, in_query) {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("header value"),
            );
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient {
            stream,
            received: Vec::new(),
        })
    }

    /// Stops the server gracefully.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.stop(true).await;
        }
    }
}

/// A WebSocket client connected to `/ws`.
pub struct WsClient {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Every frame received so far, in order (including those `until`
    /// skipped).
    pub received: Vec<Value>,
}

/// How long a test waits for an expected frame.
pub const WS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl WsClient {
    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::text(
                frame.to_string(),
            ))
            .await
            .expect("send frame");
    }

    /// Sends raw text (for malformed-frame tests).
    pub async fn send_raw(&mut self, message: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        self.stream.send(message).await.expect("send frame");
    }

    /// The next JSON text frame (pings are skipped); `None` when the server
    /// closed the connection. Panics after [`WS_WAIT`].
    pub async fn next(&mut self) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        // One deadline for the frame: the server's pings do not extend it.
        let deadline = tokio::time::Instant::now() + WS_WAIT;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for a frame");
            match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).expect("JSON frame");
                    self.received.push(frame.clone());
                    return Some(frame);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads frames until the server closes the connection; panics if it is
    /// still open after `within` (no frame for that long).
    pub async fn expect_closed_within(&mut self, within: std::time::Duration) {
        self.close_frame(within).await;
    }

    /// Reads (into [`WsClient::received`]) until the server closes the
    /// connection, and returns its close code and reason (`None` when the
    /// connection ended without a close frame). Panics if no frame came for
    /// `quiet`.
    pub async fn close_frame(&mut self, quiet: std::time::Duration) -> Option<(u16, String)> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let msg = tokio::time::timeout(quiet, self.stream.next())
                .await
                .expect("the connection was still open and silent");
            match msg {
                Some(Ok(Message::Close(frame))) => {
                    return Some(frame.map_or((1005, String::new()), |f| {
                        (f.code.into(), f.reason.to_string())
                    }));
                }
                Some(Ok(Message::Text(text))) => self
                    .received
                    .push(serde_json::from_str(&text).expect("JSON frame")),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// Reads (into [`WsClient::received`]) every frame that arrives until
    /// none has for `quiet`, or the connection ends.
    pub async fn drain(&mut self, quiet: std::time::Duration) {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(quiet, self.stream.next()).await {
            if let Message::Text(text) = msg {
                self.received
                    .push(serde_json::from_str(&text).expect("JSON frame"));
            }
        }
    }

    /// Reads frames until one matches `pred`; returns it (panics if the
    /// connection closes first).
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next().await.expect("connection closed while waiting");
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// The first frame received so far that matches `pred`, else the next
    /// one to arrive: a bidder's private answer and the room frames of the
    /// same bid may come in either order.
    pub async fn seen_or_until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        match self.received.iter().find(|f| pred(f)) {
            Some(frame) => frame.clone(),
            None => self.until(pred).await,
        }
    }

    /// Reads frames until a `system` frame with `code`.
    pub async fn until_system(&mut self, code: &str) -> Value {
        self.until(|f| f["event"] == "system" && f["code"] == code)
            .await
    }

    /// Joins a room and waits for its `state` frame.
    pub async fn join(&mut self, room: i64) -> Value {
        self.send(json!({"event": "join", "room": room.to_string()}))
            .await;
        let room = room.to_string();
        self.until(|f| f["event"] == "state" && f["room"].as_str() == Some(room.as_str()))
            .await
    }
}

/// Reads a JSON body, asserting the status first.
pub async fn expect_json(res: reqwest::Response, status: u16) -> Value {
    let actual = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an error response: status, `error` code, and that `message` is
/// present.
pub async fn expect_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    let body = expect_json(res, status).await;
    assert_eq!(body["error"], code, "wrong error code in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {body}"
    );
    body
}

/// A private anvil node with the donation contract deployed on it, and the
/// settings that point a test app at it (every cron each second). `state`
/// keeps the chain across a node restart.
pub async fn local_chain(
    state: Option<std::path::PathBuf>,
) -> (
    sitga_chain::anvil::AnvilNode,
    sitga_server::config::ChainSettings,
) {
    use sitga_chain::anvil::{AnvilNode, DEV_PRIVATE_KEY};
    let node = AnvilNode::start(state).await.expect("start anvil");
    let contract = sitga_chain::deploy(
        &node.url(),
        DEV_PRIVATE_KEY,
        std::time::Duration::from_secs(20),
    )
    .await
    .expect("deploy the contract");
    let settings = sitga_server::config::ChainSettings {
        rpc_url: node.url(),
        private_key: DEV_PRIVATE_KEY.into(),
        contract: contract.to_string(),
        donor_salt: b"test-salt".to_vec(),
        monitor_cron: "* * * * * *".into(),
        relay_cron: "* * * * * *".into(),
        daily_tx_cap: 1_000,
        donor_daily_cap: 1_000,
        calendar: Default::default(),
    };
    (node, settings)
}
