//! The logged-in user, as an actix extractor.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use paperclip::actix::Apiv2Security;
use sitga_core::UserId;
use sitga_user::Role;

use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::state::AppState;

/// The user who sent a valid `Authorization: Bearer <access token>` header.
/// Taking it as a handler argument is what makes a route authenticated.
#[derive(Debug, Clone, Apiv2Security)]
#[openapi(
    apiKey,
    in = "header",
    name = "Authorization",
    alias = "bearer",
    description = "`Authorization: Bearer <access_token>` with the access token from /api/v1/auth/login"
)]
pub struct AuthUser {
    /// The user's id.
    pub id: UserId,
    /// Roles carried by the token.
    pub roles: Vec<Role>,
    /// The login session (refresh-token family) the token belongs to.
    pub session_id: String,
}

impl AuthUser {
    /// `Ok` if the user holds `role` (an admin holds every role).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.roles.iter().any(|r| r.covers(role)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: ErrorCode::Forbidden,
                message: "your account does not have the role this needs",
            })
        }
    }

    /// Reads and verifies the bearer token of a request.
    pub fn from_http(req: &HttpRequest) -> Result<Self, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("application state missing"))?;
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized {
                code: ErrorCode::MissingToken,
                message: "send an `Authorization: Bearer <access token>` header",
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized {
                code: ErrorCode::InvalidToken,
                message: "the Authorization header must be `Bearer <access token>`",
            })?;
        Self::from_token(&state.jwt, token)
    }

    /// Verifies a raw access token (also used for WebSocket upgrades).
    pub fn from_token(keys: &crate::auth::JwtKeys, token: &str) -> Result<Self, ApiError> {
        let claims = keys.verify(token)?;
        let id = claims
            .sub
            .parse::<UserId>()
            .map_err(|_| ApiError::Unauthorized {
                code: ErrorCode::InvalidToken,
                message: "the access token is invalid",
            })?;
        Ok(Self {
            id,
            roles: claims.roles,
            session_id: claims.sid,
        })
    }
}

impl AuthUser {
    /// `Ok` while the token's login session is alive (it ends at logout,
    /// password change, role change or refresh-token reuse, before the
    /// token's own expiry).
    pub async fn check_session(&self, state: &AppState) -> Result<(), ApiError> {
        if state
            .sessions
            .alive(&state.db, self.id, &self.session_id)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::Unauthorized {
                code: ErrorCode::SessionRevoked,
                message: "this session was ended (logout, password or role change); log in again",
            })
        }
    }

    /// The verified user of a request whose session is alive.
    pub(crate) async fn of_request(req: HttpRequest) -> Result<Self, ApiError> {
        let user = Self::from_http(&req)?;
        tracing::Span::current().record("user_id", user.id.get());
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("application state missing"))?;
        user.check_session(state).await?;
        Ok(user)
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::of_request(req.clone()))
    }
}

/// A signed-in admin: [`AuthUser`] holding the admin role. Under
/// `/api/v1/admin/` a middleware checks it before any extractor runs, so a
/// member gets 403 before anything of the request (its body included) is
/// read.
#[derive(Debug, Clone, Apiv2Security)]
#[openapi(
    apiKey,
    in = "header",
    name = "Authorization",
    alias = "bearer",
    description = "`Authorization: Bearer <access_token>` with the access token from /api/v1/auth/login"
)]
pub struct AdminUser(pub AuthUser);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = AuthUser::of_request(req).await?;
            user.require(Role::Admin)?;
            Ok(Self(user))
        })
    }
}

/// Whoever reads a public route: the signed-in user when a valid bearer
/// token comes with the request, so the answer can be personal (whether
/// they watch an auction), or nobody. A missing, expired or revoked token
/// reads as nobody: a public page never fails because a phone kept an old
/// token.
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<AuthUser>);

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if req.headers().get(AUTHORIZATION).is_none() {
                return Ok(Self(None));
            }
            Ok(Self(AuthUser::of_request(req).await.ok()))
        })
    }
}

impl paperclip::v2::schema::Apiv2Schema for Viewer {}
impl paperclip::actix::OperationModifier for Viewer {}
