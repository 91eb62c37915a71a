//! The logged-in user's own account.

use paperclip::actix::{Apiv2Schema, NoContent, api_v2_operation, web};
use serde::{Deserialize, Deserializer};
use sitga_persistence::users::{self, FieldChange, ProfileUpdate};
use sitga_persistence::{businesses, refresh_tokens};
use sitga_user::{
    AccountType, Address, BankAccount, BusinessName, BusinessNumber, FieldError, Nickname,
    Password, PersonName, Phone, Province, hash_password, verify_password,
};

use super::dto::UserDto;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::JsonBody;
use crate::state::AppState;

/// Loads the caller; a valid token for a user that no longer exists is a 401.
async fn load_me(
    conn: &mut sitga_persistence::DbConn,
    auth: &AuthUser,
) -> Result<users::User, ApiError> {
    users::find_by_id(conn, auth.id)
        .await?
        .ok_or(ApiError::Unauthorized {
            code: ErrorCode::InvalidToken,
            message: "the account of this token no longer exists",
        })
}

/// Your account
#[api_v2_operation(tags(Users))]
pub async fn get_me(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<UserDto>, ApiError> {
    let mut conn = state.db.get().await?;
    let user = load_me(&mut conn, &auth).await?;
    Ok(web::Json(user_dto(&mut conn, user).await?))
}

/// The caller as the API shows them: roles and business included.
async fn user_dto(
    conn: &mut sitga_persistence::DbConn,
    user: users::User,
) -> Result<UserDto, ApiError> {
    let roles = users::roles_of(conn, user.id).await?;
    let business = businesses::find(conn, user.id).await?;
    Ok(UserDto::from_user(user, &roles, business.as_ref()))
}

/// A business registration given at sign-up or in a profile change: both
/// fields or neither, and only on cafe and recycler accounts.
pub fn business_fields(
    account_type: AccountType,
    number: Option<&str>,
    name: Option<&str>,
) -> Result<Option<(BusinessNumber, BusinessName)>, ApiError> {
    let given = match (number, name) {
        (None, None) => return Ok(None),
        (Some(number), Some(name)) => (BusinessNumber::parse(number)?, BusinessName::parse(name)?),
        (Some(_), None) => {
            return Err(FieldError::inconsistent(
                "business_name",
                "give the business name with the business number",
            )
            .into());
        }
        (None, Some(_)) => {
            return Err(FieldError::inconsistent(
                "business_number",
                "give the business number with the business name",
            )
            .into());
        }
    };
    if !account_type.is_business() {
        return Err(FieldError::inconsistent(
            "business_number",
            "only cafe and recycler accounts register a business",
        )
        .into());
    }
    Ok(Some(given))
}

/// Stores a registration; a number another account holds is 409
/// `business_number_taken`.
pub async fn register_business(
    conn: &mut sitga_persistence::DbConn,
    user_id: sitga_core::UserId,
    (number, name): &(BusinessNumber, BusinessName),
) -> Result<(), ApiError> {
    match businesses::submit(conn, user_id, number, name).await {
        Ok(b) => {
            tracing::info!(
                user_id = user_id.get(),
                status = b.status().code(),
                "business registration given"
            );
            Ok(())
        }
        Err(e) if e.violates("number") => Err(ApiError::Conflict {
            code: ErrorCode::BusinessNumberTaken,
            message: "another account registered this business number".into(),
            field: Some("business_number"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Present-but-null (`Some(None)`) differs from absent (`None`).
fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Fields to change. Absent fields stay as they are; `null` clears an
/// optional field.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// New nickname.
    pub nickname: Option<String>,
    /// New real name.
    pub name: Option<String>,
    /// Phone, or `null` to remove.
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    /// Address, or `null` to remove.
    #[serde(default, deserialize_with = "nullable")]
    pub address: Option<Option<String>>,
    /// Province code or name, or `null` to remove.
    #[serde(default, deserialize_with = "nullable")]
    pub province: Option<Option<String>>,
    /// Payout bank account, or `null` to remove.
    #[serde(default, deserialize_with = "nullable")]
    pub bank_account: Option<Option<String>>,
    /// Business registration number (cafes and recyclers; with
    /// `business_name`). A change waits for an operator's verification.
    pub business_number: Option<String>,
    /// Registered business name (with `business_number`).
    pub business_name: Option<String>,
}

fn change<T>(
    raw: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, FieldError>,
) -> Result<FieldChange<T>, ApiError> {
    Ok(match raw {
        None => FieldChange::Keep,
        Some(None) => FieldChange::Clear,
        Some(Some(v)) => FieldChange::Set(parse(&v)?),
    })
}

/// Update your profile
#[api_v2_operation(tags(Users))]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<UpdateMeRequest>,
) -> Result<web::Json<UserDto>, ApiError> {
    let req = body.0;
    let update = ProfileUpdate {
        nickname: req.nickname.as_deref().map(Nickname::parse).transpose()?,
        name: req.name.as_deref().map(PersonName::parse).transpose()?,
        phone: change(req.phone, Phone::parse)?,
        address: change(req.address, Address::parse)?,
        province: change(req.province, Province::parse)?,
        bank_account: change(req.bank_account, BankAccount::parse)?,
    };
    let mut tx = state.db.begin().await?;
    let me = load_me(&mut tx, &auth).await?;
    let business = business_fields(
        me.account_type,
        req.business_number.as_deref(),
        req.business_name.as_deref(),
    )?;
    let user = users::update_profile(&mut tx, auth.id, update).await?;
    if let Some(business) = &business {
        register_business(&mut tx, auth.id, business).await?;
    }
    let dto = user_dto(&mut tx, user).await?;
    tx.commit().await?;
    if req.nickname.is_some() {
        // Lists show sellers' and leaders' nicknames.
        state.bus.listings_changed().await;
    }
    Ok(web::Json(dto))
}

/// Current and new password.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password in use now.
    pub current: String,
    /// The new password, 8–128 characters.
    pub new: String,
}

/// Change your password
///
/// Every other session of the account is logged out; this one stays.
#[api_v2_operation(tags(Users))]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<ChangePasswordRequest>,
) -> Result<NoContent, ApiError> {
    let req = body.0;
    let new = Password::parse(&req.new).map_err(|e| FieldError::new("new", e.message))?;
    let user = {
        let mut conn = state.db.get().await?;
        load_me(&mut conn, &auth).await?
    };
    // No pooled connection is held while waiting for the hashing queue.
    let current = Password::parse(&req.current).ok();
    let stored = user.password_hash.clone();
    let new_hash = state
        .passwords
        .run(move || {
            let ok = current
                .as_ref()
                .is_some_and(|p| verify_password(p, &stored));
            ok.then(|| hash_password(&new)).transpose()
        })
        .await?
        .map_err(ApiError::internal)?
        .ok_or(ApiError::Forbidden {
            code: ErrorCode::WrongPassword,
            message: "the current password is wrong",
        })?;
    let mut conn = state.db.get().await?;
    conn.begin().await?;
    users::set_password_hash(&mut conn, user.id, &new_hash).await?;
    let revoked =
        refresh_tokens::revoke_user_sessions(&mut conn, user.id, Some(&auth.session_id)).await?;
    conn.commit().await?;
    state
        .bus
        .revoke(sitga_realtime::bus::Revocation::User(user.id))
        .await;
    tracing::info!(
        user_id = user.id.get(),
        revoked,
        "password changed; other sessions revoked"
    );
    Ok(NoContent)
}
