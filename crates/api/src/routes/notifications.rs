//! Your notifications (`/api/v1/me/notifications…`) and which kinds you
//! get (`/api/v1/me/notification-settings`). The same notifications reach
//! every signed-in WebSocket as `notification` frames.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_persistence::notifications::{self, Notification};
use sitga_user::{NotificationKind, NotificationSettings};

use super::dto::PageQuery;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// Most ids one `read` request marks.
pub const MAX_READ_IDS: usize = 500;

/// One notification.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct NotificationDto {
    /// Id.
    pub id: i64,
    /// `outbid`, `proxy_exhausted`, `won`, `sold`, `ending_soon`,
    /// `sale_update`, `pickup_claimed`, `pickup_completed` or
    /// `badge_awarded`.
    pub kind: String,
    /// The auction it is about.
    pub auction_id: Option<i64>,
    /// The sale it is about.
    pub sale_id: Option<i64>,
    /// The pickup it is about.
    pub pickup_id: Option<i64>,
    /// Korean.
    pub context: String,
    /// English.
    pub text: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When you read it; null while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind.clone(),
            auction_id: n.auction_id.map(|id| id.get()),
            sale_id: n.sale_id.map(|id| id.get()),
            pickup_id: n.pickup_id.map(|id| id.get()),
            created_at: n.created_at(),
            read_at: n.read_at(),
            context: n.text_ko,
            text: n.text_en,
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct NotificationPage {
    /// The notifications.
    pub items: Vec<NotificationDto>,
    /// Page, from 1.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// How many there are (of those asked for).
    pub total: i64,
    /// How many of yours are unread.
    pub unread: i64,
}

/// Which notifications to list.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct NotificationQuery {
    /// Only the unread ones (default false).
    pub unread: Option<bool>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size, 1–100 (default 20).
    pub per_page: Option<u32>,
}

/// Your notifications
///
/// Newest first; `unread=true` lists only the unread ones.
#[api_v2_operation(tags(Notifications))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: QueryParams<NotificationQuery>,
) -> Result<web::Json<NotificationPage>, ApiError> {
    let q = query.0;
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let unread_only = q.unread.unwrap_or(false);
    let mut conn = state.db.get().await?;
    let (rows, total) =
        notifications::page(&mut conn, user.id, unread_only, offset, i64::from(per_page)).await?;
    let unread = if unread_only {
        total
    } else {
        notifications::unread_count(&mut conn, user.id).await?
    };
    Ok(web::Json(NotificationPage {
        items: rows.into_iter().map(NotificationDto::from).collect(),
        page,
        per_page,
        total,
        unread,
    }))
}

/// How many notifications are unread.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UnreadCount {
    /// Unread notifications.
    pub unread: i64,
}

/// Your unread count
///
/// For the bell: one cheap read.
#[api_v2_operation(tags(Notifications))]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<UnreadCount>, ApiError> {
    let mut conn = state.db.get().await?;
    Ok(web::Json(UnreadCount {
        unread: notifications::unread_count(&mut conn, user.id).await?,
    }))
}

/// Which notifications to mark read: some (`ids`) or all (`all: true`).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Ids of your notifications (at most 500); ids that are not yours are
    /// ignored.
    pub ids: Option<Vec<i64>>,
    /// Every notification of yours.
    pub all: Option<bool>,
}

/// What marking changed.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ReadResponse {
    /// How many were unread and are now read.
    pub marked: usize,
    /// How many of yours are still unread.
    pub unread: i64,
}

fn bad_read(message: &str, field: &str) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
        field: Some(field.into()),
    }
}

/// Mark notifications read
///
/// `{"ids": […]}` marks those (at most 500; ids of other users'
/// notifications are ignored, never an error that would tell they exist);
/// `{"all": true}` marks every one. Give one of the two.
#[api_v2_operation(tags(Notifications))]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ReadRequest>,
) -> Result<web::Json<ReadResponse>, ApiError> {
    let ids = match (body.0.ids, body.0.all) {
        (Some(ids), None) if ids.len() > MAX_READ_IDS => {
            return Err(bad_read(
                &format!("at most {MAX_READ_IDS} ids at a time; or send {{\"all\": true}}"),
                "ids",
            ));
        }
        (Some(ids), None) => Some(ids),
        (None, Some(true)) => None,
        (Some(_), Some(_)) => {
            return Err(bad_read("give either ids or all, not both", "all"));
        }
        (None, Some(false)) => {
            return Err(bad_read(
                "all must be true; to mark some, give their ids",
                "all",
            ));
        }
        (None, None) => {
            return Err(bad_read(
                "give the ids to mark read, or {\"all\": true}",
                "ids",
            ));
        }
    };
    let mut conn = state.db.get().await?;
    let marked = notifications::mark_read(&mut conn, user.id, ids.as_deref()).await?;
    Ok(web::Json(ReadResponse {
        marked,
        unread: notifications::unread_count(&mut conn, user.id).await?,
    }))
}

/// Which kinds of notification you get: each on (default) or off.
#[derive(Debug, Default, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettingsDto {
    /// Someone bid over you.
    pub outbid: Option<bool>,
    /// Your maximum (proxy) bid needed more points than you have and
    /// stopped.
    pub proxy_exhausted: Option<bool>,
    /// You won an auction.
    pub won: Option<bool>,
    /// Your auction sold.
    pub sold: Option<bool>,
    /// An auction you watch or bid on ends in 10 minutes, then in 1.
    pub ending_soon: Option<bool>,
    /// A step of a sale you are part of.
    pub sale_update: Option<bool>,
    /// Someone took on a coffee-grounds pickup of yours.
    pub pickup_claimed: Option<bool>,
    /// A pickup you are part of was completed.
    pub pickup_completed: Option<bool>,
    /// You earned a badge.
    pub badge_awarded: Option<bool>,
}

impl NotificationSettingsDto {
    fn slot(&mut self, kind: NotificationKind) -> &mut Option<bool> {
        match kind {
            NotificationKind::Outbid => &mut self.outbid,
            NotificationKind::ProxyExhausted => &mut self.proxy_exhausted,
            NotificationKind::Won => &mut self.won,
            NotificationKind::Sold => &mut self.sold,
            NotificationKind::EndingSoon => &mut self.ending_soon,
            NotificationKind::SaleUpdate => &mut self.sale_update,
            NotificationKind::PickupClaimed => &mut self.pickup_claimed,
            NotificationKind::PickupCompleted => &mut self.pickup_completed,
            NotificationKind::BadgeAwarded => &mut self.badge_awarded,
        }
    }

    fn of(settings: &NotificationSettings) -> Self {
        let mut dto = Self::default();
        for (kind, on) in settings.iter() {
            *dto.slot(kind) = Some(on);
        }
        dto
    }

    /// The kinds this request sets, with their choice.
    fn changes(mut self) -> Vec<(NotificationKind, bool)> {
        NotificationKind::ALL
            .into_iter()
            .filter_map(|kind| self.slot(kind).map(|on| (kind, on)))
            .collect()
    }
}

/// Your notification settings
///
/// Every kind, `true` (you get it; the default) or `false`.
#[api_v2_operation(tags(Notifications))]
pub async fn settings(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<NotificationSettingsDto>, ApiError> {
    let mut conn = state.db.get().await?;
    let settings = notifications::settings(&mut conn, user.id).await?;
    Ok(web::Json(NotificationSettingsDto::of(&settings)))
}

/// Change your notification settings
///
/// Send the kinds to change (`{"ending_soon": false}`); kinds left out keep
/// their setting. A kind turned off is not stored nor sent from then on.
/// Answers every kind's setting after the change.
#[api_v2_operation(tags(Notifications))]
pub async fn change_settings(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<NotificationSettingsDto>,
) -> Result<web::Json<NotificationSettingsDto>, ApiError> {
    let changes = body.0.changes();
    let mut tx = state.db.begin().await?;
    notifications::change_settings(&mut tx, user.id, &changes).await?;
    let settings = notifications::settings(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(web::Json(NotificationSettingsDto::of(&settings)))
}
