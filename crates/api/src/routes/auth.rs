//! Sign-up, login, token refresh and logout.

use actix_web::HttpRequest;
use chrono::Utc;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_core::UserId;
use sitga_persistence::{refresh_tokens, users};
use sitga_realtime::bus::Revocation;
use sitga_user::token::{REFRESH_TTL, RefreshSecret, RefreshVerdict, hash_refresh_token};
use sitga_user::{
    AccountType, Address, Email, Nickname, Password, PersonName, Phone, Province, Role, dummy_hash,
    hash_password, verify_password,
};

use super::dto::{AccountTypeDto, UserDto};
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// A new account.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Login e-mail (stored lower-cased).
    pub email: String,
    /// 8–128 characters.
    pub password: String,
    /// Public name: 2–20 letters (any script), digits, `_`, `-`, `.`.
    pub nickname: String,
    /// Real name, 1–50 characters.
    pub name: String,
    /// Phone number, e.g. `010-1234-5678`.
    pub phone: Option<String>,
    /// Postal address for deliveries.
    pub address: Option<String>,
    /// Province code (see `GET /api/v1/provinces`), Korean or English name.
    pub province: Option<String>,
    /// `member` (default), `cafe` or `recycler`. Never `admin`.
    pub account_type: Option<AccountTypeDto>,
    /// Cafes and recyclers: the business registration number
    /// (사업자등록번호, `XXX-XX-XXXXX`, check digit validated), with
    /// `business_name`. It waits for an operator's verification; until
    /// then the account's completed pickups do not count.
    pub business_number: Option<String>,
    /// Cafes and recyclers: the registered business name.
    pub business_name: Option<String>,
}

/// The created account.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SignupResponse {
    /// The new user.
    pub user: UserDto,
}

fn parse_optional<T>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, sitga_user::FieldError>,
) -> Result<Option<T>, ApiError> {
    Ok(raw.map(parse).transpose()?)
}

/// Create an account
///
/// Creates a `member`, `cafe` or `recycler` account. E-mail and nickname
/// must be unused (nicknames compare case-insensitively); a clash answers
/// 409 with `email_taken` or `nickname_taken`. Sign-ups are rate-limited
/// per client address (429 with Retry-After); when too many passwords are
/// being hashed at once the answer is 503 `overloaded` (retry shortly).
#[api_v2_operation(tags(Auth))]
pub async fn signup(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: JsonBody<SignupRequest>,
) -> Result<CreatedJson<SignupResponse>, ApiError> {
    state.auth_limiter.check_signup(state.client_ip(&http))?;
    let req = body.0;
    let email = Email::parse(&req.email)?;
    let password = Password::parse(&req.password)?;
    let nickname = Nickname::parse(&req.nickname)?;
    let name = PersonName::parse(&req.name)?;
    let phone = parse_optional(req.phone.as_deref(), Phone::parse)?;
    let address = parse_optional(req.address.as_deref(), Address::parse)?;
    let province = parse_optional(req.province.as_deref(), Province::parse)?;
    let account_type = req.account_type.map(AccountType::from).unwrap_or_default();
    let business = super::users::business_fields(
        account_type,
        req.business_number.as_deref(),
        req.business_name.as_deref(),
    )?;
    // A clash is refused before the costly hash. This tells nothing that
    // the (also throttled) availability check does not.
    {
        let mut conn = state.db.get().await?;
        if users::email_exists(&mut conn, &email).await? {
            return Err(users::UniqueUserError::EmailTaken.into());
        }
        if users::nickname_exists(&mut conn, &nickname).await? {
            return Err(users::UniqueUserError::NicknameTaken.into());
        }
    }
    let password_hash = state
        .passwords
        .run_signup(move || hash_password(&password))
        .await?
        .map_err(ApiError::internal)?;
    let new = users::NewUser {
        nickname,
        name,
        phone,
        address,
        province,
        account_type,
        password_hash,
        email,
    };
    let mut tx = state.db.begin().await?;
    // Still guarded by the unique indexes: two sign-ups racing for one
    // address get one account and one 409 (and no account without its
    // business, or the other way round).
    let user = users::insert(&mut tx, &new).await?;
    if let Some(business) = &business {
        super::users::register_business(&mut tx, user.id, business).await?;
    }
    let registered = sitga_persistence::businesses::find(&mut tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = user.id.get(), account_type = %user.account_type, "account created");
    Ok(CreatedJson(SignupResponse {
        user: UserDto::from_user(user, &[], registered.as_ref()),
    }))
}

/// Exactly one of `email` or `nickname`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// E-mail to check.
    pub email: Option<String>,
    /// Nickname to check.
    pub nickname: Option<String>,
}

/// Whether the value is free.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AvailabilityResponse {
    /// `true` if no account uses it.
    pub available: bool,
}

/// Check whether an e-mail or nickname is free
///
/// Rate-limited per client address (429 with Retry-After).
#[api_v2_operation(tags(Auth))]
pub async fn availability(
    state: web::Data<AppState>,
    http: HttpRequest,
    query: QueryParams<AvailabilityQuery>,
) -> Result<web::Json<AvailabilityResponse>, ApiError> {
    state
        .auth_limiter
        .check_availability(state.client_ip(&http))?;
    let mut conn = state.db.get().await?;
    let taken = match (query.0.email.as_deref(), query.0.nickname.as_deref()) {
        (Some(email), None) => users::email_exists(&mut conn, &Email::parse(email)?).await?,
        (None, Some(nick)) => users::nickname_exists(&mut conn, &Nickname::parse(nick)?).await?,
        _ => {
            return Err(sitga_user::FieldError::inconsistent(
                "email",
                "give exactly one of `email` or `nickname`",
            )
            .into());
        }
    };
    Ok(web::Json(AvailabilityResponse { available: !taken }))
}

/// Credentials.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login e-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A token pair.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer …`; valid 15 minutes.
    pub access_token: String,
    /// Opaque token for `POST /api/v1/auth/refresh`; valid 30 days, single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

const BAD_CREDENTIALS: ApiError = ApiError::Unauthorized {
    code: ErrorCode::InvalidCredentials,
    message: "wrong e-mail or password",
};

/// Log in
///
/// Unknown e-mail and wrong password give the same 401. Attempts are
/// rate-limited per client address; after too many failed attempts for one
/// e-mail, logins to it are refused for a while (429 with Retry-After).
#[api_v2_operation(tags(Auth))]
pub async fn login(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let req = body.0;
    state
        .auth_limiter
        .check(state.client_ip(&http), &req.email)?;
    let email = Email::parse(&req.email).map_err(|_| BAD_CREDENTIALS)?;
    let user = {
        let mut conn = state.db.get().await?;
        users::find_by_email(&mut conn, email.as_str()).await?
    };
    // No pooled connection is held while waiting for the hashing queue.
    // Verify even for an unknown address, so timing does not tell which
    // addresses have accounts.
    let password = Password::parse(&req.password).ok();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state
        .passwords
        .run(move || {
            let hash = stored.or_else(dummy_hash)?;
            let ok = password.as_ref().is_some_and(|p| verify_password(p, &hash));
            Some(ok)
        })
        .await?
        .unwrap_or(false);
    let user = match user {
        Some(user) if verified => user,
        _ => {
            state.auth_limiter.record_failure(&req.email);
            return Err(BAD_CREDENTIALS);
        }
    };
    let mut conn = state.db.get().await?;
    // Told only to who knows the password.
    refuse_banned(&mut conn, user.id).await?;
    let roles = users::roles_of(&mut conn, user.id).await?;
    let tokens = start_session(&state, &mut conn, user.id, &roles).await?;
    tracing::info!(user_id = user.id.get(), "logged in");
    Ok(web::Json(tokens))
}

const BANNED: ApiError = ApiError::Forbidden {
    code: ErrorCode::AccountBanned,
    message: "this account is banned; contact the operators",
};

async fn refuse_banned(conn: &mut sitga_persistence::DbConn, user: UserId) -> Result<(), ApiError> {
    match users::ban_in_force(conn, user).await? {
        Some(_) => Err(BANNED),
        None => Ok(()),
    }
}

/// Opens a new refresh-token family and issues the first pair.
async fn start_session(
    state: &AppState,
    conn: &mut sitga_persistence::DbConn,
    user_id: UserId,
    roles: &[Role],
) -> Result<TokenResponse, ApiError> {
    let family = uuid::Uuid::new_v4().to_string();
    issue_pair(state, conn, user_id, roles, &family).await
}

async fn issue_pair(
    state: &AppState,
    conn: &mut sitga_persistence::DbConn,
    user_id: UserId,
    roles: &[Role],
    family: &str,
) -> Result<TokenResponse, ApiError> {
    let secret = RefreshSecret::generate();
    refresh_tokens::insert(
        conn,
        user_id,
        family,
        &secret.hash,
        Utc::now() + REFRESH_TTL,
    )
    .await?;
    let access = state.jwt.issue(user_id, roles, family)?;
    Ok(TokenResponse {
        access_token: access.token,
        refresh_token: secret.plaintext,
        token_type: "Bearer".to_owned(),
        expires_in: access.expires_in,
    })
}

/// A refresh token.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from login or the last refresh.
    pub refresh_token: String,
}

fn unauthorized(code: ErrorCode, message: &'static str) -> ApiError {
    ApiError::Unauthorized { code, message }
}

/// Exchange a refresh token for a new pair
///
/// The presented token stops working. Presenting a token that was already
/// exchanged revokes its whole session (`refresh_token_reused`): somebody
/// holds a copy.
#[api_v2_operation(tags(Auth))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    let mut conn = state.db.get().await?;
    let token = refresh_tokens::find_by_hash(&mut conn, &hash)
        .await?
        .ok_or_else(|| unauthorized(ErrorCode::InvalidRefreshToken, "unknown refresh token"))?;
    match token.state.verdict(Utc::now()) {
        RefreshVerdict::Usable => {}
        RefreshVerdict::Revoked => {
            return Err(unauthorized(
                ErrorCode::RefreshTokenRevoked,
                "this session was ended; log in again",
            ));
        }
        RefreshVerdict::Expired => {
            return Err(unauthorized(
                ErrorCode::RefreshTokenExpired,
                "the refresh token expired; log in again",
            ));
        }
        RefreshVerdict::Reused => return Err(revoke_for_reuse(&state, &mut conn, &token).await),
    }
    refuse_banned(&mut conn, token.user_id).await?;
    conn.begin().await?;
    // Guarded: of two concurrent refreshes with one token, one wins here.
    if !refresh_tokens::mark_rotated(&mut conn, token.id).await? {
        conn.rollback().await?;
        let mut conn = state.db.get().await?;
        return Err(revoke_for_reuse(&state, &mut conn, &token).await);
    }
    let roles = users::roles_of(&mut conn, token.user_id).await?;
    let pair = issue_pair(&state, &mut conn, token.user_id, &roles, &token.family_id).await?;
    conn.commit().await?;
    Ok(web::Json(pair))
}

/// Revokes the family of a token presented twice and returns the error to
/// answer with (or the database error that prevented the revocation).
async fn revoke_for_reuse(
    state: &AppState,
    conn: &mut sitga_persistence::DbConn,
    token: &refresh_tokens::RefreshToken,
) -> ApiError {
    match refresh_tokens::revoke_family(conn, &token.family_id).await {
        Ok(revoked) => {
            state
                .bus
                .revoke(Revocation::Session(token.family_id.clone()))
                .await;
            tracing::warn!(
                user_id = token.user_id.get(),
                family = %token.family_id,
                revoked,
                "refresh token reuse detected; session revoked"
            );
            unauthorized(
                ErrorCode::RefreshTokenReused,
                "this refresh token was already used; the session has been revoked",
            )
        }
        Err(e) => e.into(),
    }
}

/// Log out
///
/// Ends the session the refresh token belongs to: every token of it stops
/// working.
#[api_v2_operation(tags(Auth))]
pub async fn logout(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<NoContent, ApiError> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    let mut conn = state.db.get().await?;
    let token = refresh_tokens::find_by_hash(&mut conn, &hash)
        .await?
        .ok_or_else(|| unauthorized(ErrorCode::InvalidRefreshToken, "unknown refresh token"))?;
    refresh_tokens::revoke_family(&mut conn, &token.family_id).await?;
    // Its access tokens and sockets end now, on every instance.
    state
        .bus
        .revoke(Revocation::Session(token.family_id.clone()))
        .await;
    tracing::info!(user_id = token.user_id.get(), "logged out");
    Ok(NoContent)
}
