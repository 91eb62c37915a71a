//! Administration.

use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;
use sitga_persistence::users;
use sitga_user::Role;

use super::dto::{PageQuery, UserDto};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::AppState;

/// A page of users.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserPage {
    /// The users on this page, oldest first.
    pub items: Vec<UserDto>,
    /// This page's number (from 1).
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All users.
    pub total: i64,
}

/// List users (admin)
#[api_v2_operation(tags(Admin))]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    auth.require(Role::Admin)?;
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let (found, total) = users::list(&mut conn, offset, i64::from(per_page)).await?;
    let ids: Vec<_> = found.iter().map(|u| u.id).collect();
    let roles = users::roles_for(&mut conn, &ids).await?;
    let items = found
        .into_iter()
        .map(|user| {
            let held = roles.get(&user.id).map(Vec::as_slice).unwrap_or_default();
            UserDto::from_user(user, held)
        })
        .collect();
    Ok(web::Json(UserPage {
        items,
        page,
        per_page,
        total,
    }))
}
