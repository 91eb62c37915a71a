//! What every handler can reach.

use std::sync::Arc;

use sitga_persistence::DbPool;

use crate::auth::{ClientLimiter, JwtKeys, PasswordWork};
use crate::client_addr::TrustedProxies;
use sitga_realtime::bus::RoomBus;
use sitga_realtime::closing::Closer;
use sitga_realtime::engine::BidEngine;

/// Shared application state, cloned into every worker.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DbPool,
    /// Redis, when configured.
    pub redis: Option<deadpool_redis::Pool>,
    /// Access-token keys.
    pub jwt: Arc<JwtKeys>,
    /// Throttling of login, sign-up and availability checks.
    pub auth_limiter: Arc<ClientLimiter>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Pickups one recycler may complete per day.
    pub completions: sitga_coffee_grounds::DailyCompletions,
    /// The platform's days and months (`SITGA_TIMEZONE`).
    pub calendar: sitga_core::Calendar,
    /// Which login sessions are still alive (cached).
    pub sessions: Arc<crate::auth::Sessions>,
    /// The bounded argon2 queue.
    pub passwords: Arc<PasswordWork>,
    /// Room fan-out.
    pub bus: RoomBus,
    /// Auction list pages kept between changes.
    pub listings: Arc<crate::listings::Listings>,
    /// Per-auction bid writers.
    pub engine: BidEngine,
    /// Closes auctions.
    pub closer: Closer,
    /// WebSocket caps: frames per socket, sockets per account and address,
    /// messages per account.
    pub ws: Arc<crate::ws::WsLimits>,
    /// The fish species model, or why it is unavailable.
    pub fish: Result<sitga_realtime::species::Species, String>,
    /// Queues per-auction close jobs.
    pub close_queue: sitga_realtime::jobs::CloseQueue,
    /// On-chain donation records; `None` when off.
    pub chain: Option<sitga_realtime::chain::Chain>,
    /// Queues forecast retrains.
    pub forecast_queue: sitga_realtime::forecasts::ForecastQueue,
    /// Buys points through the payment provider, within the daily cap.
    pub payments: sitga_realtime::payments::Payments,
    /// Photo uploads and their files.
    pub photos: sitga_realtime::photos::Photos,
    /// Sales from the hammer to the handover.
    pub sales: sitga_realtime::sales::Sales,
}

impl AppState {
    /// The client's address: the socket peer, or what a trusted proxy says.
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        self.trusted_proxies.client_ip(req)
    }
}
