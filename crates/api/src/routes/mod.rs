//! HTTP routes. Handlers stay thin: extract, call the domain and
//! persistence, map to a DTO.

pub mod admin;
pub mod auctions;
pub mod auth;
pub mod clock;
pub mod donations;
pub mod dto;
pub mod fish;
pub mod forecasts;
pub mod health;
pub mod meta;
pub mod monitor;
pub mod my_bids;
pub mod notifications;
pub mod photos;
pub mod pickups;
pub mod sales;
mod upload;
pub mod users;
pub mod verifications;
pub mod wallet;
pub mod watchlist;

use paperclip::actix::web;

/// Registers every documented route.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(web::resource("/health").route(web::get().to(health::health)))
        .service(web::resource("/ready").route(web::get().to(health::ready)))
        .service(
            web::scope("/api/v1")
                .service(web::resource("/auth/signup").route(web::post().to(auth::signup)))
                .service(
                    web::resource("/auth/availability").route(web::get().to(auth::availability)),
                )
                .service(web::resource("/auth/login").route(web::post().to(auth::login)))
                .service(web::resource("/auth/refresh").route(web::post().to(auth::refresh)))
                .service(web::resource("/auth/logout").route(web::post().to(auth::logout)))
                .service(
                    web::resource("/users/me")
                        .route(web::get().to(users::get_me))
                        .route(web::patch().to(users::update_me)),
                )
                .service(
                    web::resource("/users/me/password")
                        .route(web::put().to(users::change_password)),
                )
                .service(web::resource("/admin/users").route(web::get().to(admin::list_users)))
                .service(
                    web::resource("/admin/users/{id}/adjust").route(web::post().to(admin::adjust)),
                )
                .service(
                    web::resource("/admin/users/{id}/ledger")
                        .route(web::get().to(admin::user_ledger)),
                )
                .service(web::resource("/admin/audit").route(web::get().to(admin::audit_log)))
                .service(web::resource("/admin/users/{id}/ban").route(web::post().to(admin::ban)))
                .service(
                    web::resource("/admin/users/{id}/unban").route(web::post().to(admin::unban)),
                )
                .service(web::resource("/admin/sales").route(web::get().to(admin::sales)))
                .service(web::resource("/admin/payouts").route(web::get().to(admin::payouts)))
                .service(
                    web::resource("/admin/payouts/{id}/paid")
                        .route(web::post().to(admin::pay_payout)),
                )
                .service(
                    web::resource("/admin/payouts/{id}/reject")
                        .route(web::post().to(admin::reject_payout)),
                )
                .service(
                    web::resource("/admin/auctions/{id}/remove")
                        .route(web::post().to(admin::remove_auction)),
                )
                .service(
                    web::resource("/admin/verifications").route(web::get().to(verifications::list)),
                )
                .service(web::resource("/admin/disputes").route(web::get().to(sales::disputes)))
                .service(
                    web::resource("/admin/disputes/{sale_id}/resolve")
                        .route(web::post().to(sales::resolve)),
                )
                .service(
                    web::resource("/admin/verifications/{user_id}")
                        .route(web::post().to(verifications::decide)),
                )
                .service(web::resource("/provinces").route(web::get().to(meta::provinces)))
                .service(
                    web::resource("/auctions")
                        .route(web::get().to(auctions::list))
                        .route(web::post().to(auctions::create)),
                )
                .service(
                    web::resource("/auctions/{id}")
                        .route(web::get().to(auctions::get))
                        .route(web::patch().to(auctions::update)),
                )
                .service(
                    web::resource("/auctions/{id}/cancel").route(web::post().to(auctions::cancel)),
                )
                .service(
                    web::resource("/auctions/{id}/close").route(web::post().to(auctions::close)),
                )
                .service(
                    web::resource("/auctions/{id}/bids")
                        .route(web::get().to(auctions::bids))
                        .route(web::post().to(auctions::place_bid)),
                )
                .service(
                    web::resource("/auctions/{id}/buy-now")
                        .route(web::post().to(auctions::buy_now)),
                )
                .service(
                    web::resource("/auctions/{id}/accept").route(web::post().to(clock::accept)),
                )
                .service(web::resource("/me/balance").route(web::get().to(wallet::balance)))
                .service(web::resource("/me/balance/charge").route(web::post().to(wallet::charge)))
                .service(
                    web::resource("/me/balance/withdraw").route(web::post().to(wallet::withdraw)),
                )
                .service(web::resource("/me/balance/ledger").route(web::get().to(wallet::ledger)))
                .service(web::resource("/me/payouts").route(web::get().to(wallet::payouts)))
                .service(web::resource("/me/purchases").route(web::get().to(wallet::purchases)))
                .service(web::resource("/me/sales").route(web::get().to(wallet::sales)))
                .service(web::resource("/sales/{sale_id}").route(web::get().to(sales::get)))
                .service(
                    web::resource("/sales/{sale_id}/details").route(web::post().to(sales::details)),
                )
                .service(web::resource("/sales/{sale_id}/ship").route(web::post().to(sales::ship)))
                .service(
                    web::resource("/sales/{sale_id}/confirm").route(web::post().to(sales::confirm)),
                )
                .service(
                    web::resource("/sales/{sale_id}/handover")
                        .route(web::post().to(sales::handover)),
                )
                .service(
                    web::resource("/sales/{sale_id}/cancel").route(web::post().to(sales::cancel)),
                )
                .service(
                    web::resource("/sales/{sale_id}/dispute").route(web::post().to(sales::dispute)),
                )
                .service(
                    web::resource("/sales/{sale_id}/rating").route(web::post().to(sales::rate)),
                )
                .service(web::resource("/me/watchlist").route(web::get().to(watchlist::list)))
                .service(web::resource("/me/bids").route(web::get().to(my_bids::list)))
                .service(
                    web::resource("/me/notifications").route(web::get().to(notifications::list)),
                )
                .service(
                    web::resource("/me/notifications/unread-count")
                        .route(web::get().to(notifications::unread_count)),
                )
                .service(
                    web::resource("/me/notifications/read")
                        .route(web::post().to(notifications::mark_read)),
                )
                .service(
                    web::resource("/me/notification-settings")
                        .route(web::get().to(notifications::settings))
                        .route(web::put().to(notifications::change_settings)),
                )
                .service(
                    web::resource("/me/watchlist/{auction_id}")
                        .route(web::put().to(watchlist::watch))
                        .route(web::delete().to(watchlist::unwatch)),
                )
                .service(web::resource("/pickups").route(web::post().to(pickups::create)))
                .service(web::resource("/pickups/open").route(web::get().to(pickups::open)))
                .service(web::resource("/pickups/{id}").route(web::get().to(pickups::get)))
                .service(web::resource("/pickups/{id}/claim").route(web::post().to(pickups::claim)))
                .service(
                    web::resource("/pickups/{id}/complete")
                        .route(web::post().to(pickups::complete)),
                )
                .service(
                    web::resource("/pickups/{id}/confirm-weight")
                        .route(web::post().to(pickups::confirm_weight)),
                )
                .service(
                    web::resource("/pickups/{id}/cancel").route(web::post().to(pickups::cancel)),
                )
                .service(web::resource("/me/pickups").route(web::get().to(pickups::mine)))
                .service(web::resource("/me/donations").route(web::get().to(donations::mine)))
                .service(
                    web::resource("/donations/{id}/proof").route(web::get().to(donations::proof)),
                )
                .service(
                    web::resource("/me/pickups/summary").route(web::get().to(pickups::summary)),
                )
                .service(web::resource("/rankings").route(web::get().to(pickups::rankings)))
                .service(web::resource("/badges").route(web::get().to(pickups::catalogue)))
                .service(web::resource("/me/badges").route(web::get().to(pickups::my_badges)))
                .service(web::resource("/users/{nickname}").route(web::get().to(sales::profile)))
                .service(
                    web::resource("/users/{nickname}/badges")
                        .route(web::get().to(pickups::user_badges)),
                )
                .service(web::resource("/monitor/amounts").route(web::get().to(monitor::amounts)))
                .service(web::resource("/monitor/pickups").route(web::get().to(monitor::requests)))
                .service(
                    web::resource("/monitor/badges").route(web::get().to(monitor::badge_counts)),
                )
                .service(web::resource("/monitor/chain").route(web::get().to(monitor::chain)))
                .service(web::resource("/fish/identify").route(web::post().to(fish::identify)))
                .service(web::resource("/photos").route(web::post().to(photos::upload)))
                .service(web::resource("/photos/{id}/{size}").route(web::get().to(photos::file)))
                .service(web::resource("/forecasts/latest").route(web::get().to(forecasts::latest)))
                .service(
                    web::resource("/forecasts/retrain").route(web::post().to(forecasts::retrain)),
                )
                .service(
                    web::resource("/forecasts/jobs/{id}").route(web::get().to(forecasts::job)),
                ),
        );
}
