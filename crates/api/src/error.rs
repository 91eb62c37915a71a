//! The API's one error type and the single place it becomes HTTP.
//!
//! Every failure a client can see is `{"error": "<stable_code>", "message":
//! "<human text>"}` (plus `field` for validation), with the matching status.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use paperclip::actix::{Apiv2Schema, api_v2_errors};
use serde::Serialize;
use sitga_persistence::DbError;
use sitga_user::FieldError;

pub use crate::error_code::ErrorCode;

/// The body of every error response.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `validation_failed` (all in docs/errors.md).
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `bid_too_low`: the smallest bid accepted now (KRW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_next_bid: Option<i64>,
    /// For `insufficient_balance` on a bid: the points available (KRW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    /// For `price_moved`: the price now (KRW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// For `max_too_low`: the smallest maximum accepted now (KRW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_max: Option<i64>,
    /// For `units_unavailable`: the units a clock auction has left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
}

/// Everything a handler can fail with.
#[api_v2_errors(
    code = 400,
    description = "Malformed request or a field that breaks its rule (`field` names it)",
    code = 401,
    description = "Missing, invalid or expired credentials",
    code = 403,
    description = "Authenticated, but not allowed",
    code = 404,
    description = "No such resource",
    code = 409,
    description = "Conflicts with existing data (e.g. e-mail or nickname taken)",
    code = 413,
    description = "Request body too large",
    code = 415,
    description = "Body is not application/json",
    code = 422,
    description = "Well-formed but unacceptable (an Idempotency-Key reused for another request)",
    code = 429,
    description = "Too many attempts; see the Retry-After header",
    code = 500,
    description = "Unexpected server error",
    code = 503,
    description = "A backing service (database, model) is unavailable or busy",
    default_schema = "ErrorBody"
)]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field broke its rule.
    #[error("{0}")]
    Validation(#[from] FieldError),
    /// The request is malformed in a way not tied to one known field.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: String,
        /// The field, when known.
        field: Option<String>,
    },
    /// Authentication failed.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: &'static str,
    },
    /// Authenticated but not permitted.
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: &'static str,
    },
    /// The resource does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Nothing there yet, with a specific code (404).
    #[error("{message}")]
    Missing {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: &'static str,
    },
    /// The change conflicts with existing data.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: String,
        /// The field, when known.
        field: Option<&'static str>,
    },
    /// Body over the size limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Body is not JSON.
    #[error("request body must be {expected}")]
    UnsupportedMediaType {
        /// What it must be instead.
        expected: &'static str,
    },
    /// Too many attempts.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// Too many live WebSocket connections (429).
    #[error("{message}")]
    TooManyConnections {
        /// Human text.
        message: String,
    },
    /// A bid was refused by the auction rules (409).
    #[error("{}", .0.message())]
    BidRejected(sitga_auction::BidRejection),
    /// A repeated request's stored error body, replayed verbatim.
    #[error("replayed response")]
    Replayed(String),
    /// Well-formed but unacceptable (422).
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: ErrorCode,
        /// Human text.
        message: String,
    },
    /// A part of the service is unavailable (503), with the reason.
    #[error("{message}")]
    ServiceUnavailable {
        /// Stable code.
        code: ErrorCode,
        /// Why.
        message: String,
    },
    /// Too much work queued; retry shortly (503).
    #[error("the server is busy; retry shortly")]
    Overloaded,
    /// The database cannot be reached right now.
    #[error("the database is unavailable; try again shortly")]
    DatabaseUnavailable,
    /// `/ready` found a dependency down; the body lists every check.
    #[error("not ready")]
    NotReady(Box<crate::routes::health::ReadyResponse>),
    /// A bug or an unexpected failure; the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 for malformed input.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 for a field that is missing or of the wrong type or range
    /// (`invalid_field`; a value that parses but breaks a rule is a
    /// [`FieldError`] instead: `validation_failed`).
    pub fn invalid_field(field: &str, cause: impl std::fmt::Display) -> Self {
        Self::BadRequest {
            code: ErrorCode::InvalidField,
            message: cause.to_string(),
            field: Some(field.to_owned()),
        }
    }

    /// A 500 whose cause is logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The stable code sent as `error`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(e) if e.inconsistent => ErrorCode::InconsistentFields,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Missing { code, .. } => *code,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TooManyConnections { .. } => ErrorCode::TooManyConnections,
            Self::DatabaseUnavailable => ErrorCode::DatabaseUnavailable,
            Self::BidRejected(reason) => ErrorCode::from(*reason),
            Self::Replayed(_) => ErrorCode::Replayed,
            Self::Unprocessable { code, .. } => *code,
            Self::Overloaded => ErrorCode::Overloaded,
            Self::ServiceUnavailable { code, .. } => *code,
            Self::NotReady(_) => ErrorCode::NotReady,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Validation(e) => Some(e.field.to_owned()),
            Self::BadRequest { field, .. } => field.clone(),
            Self::Conflict { field, .. } => field.map(str::to_owned),
            _ => None,
        }
    }

    /// The body sent to the client.
    pub fn body(&self) -> ErrorBody {
        use sitga_auction::BidRejection as R;
        let (min_next_bid, available, price) = match self {
            Self::BidRejected(R::TooLow { min_next_bid }) => (Some(*min_next_bid), None, None),
            Self::BidRejected(R::InsufficientBalance { available }) => {
                (None, Some(*available), None)
            }
            Self::BidRejected(R::PriceMoved { price }) => (None, None, Some(*price)),
            _ => (None, None, None),
        };
        ErrorBody {
            error: self.code().as_str().to_owned(),
            message: self.to_string(),
            field: self.field(),
            min_next_bid: min_next_bid.map(sitga_auction::Krw::get),
            available: available.map(sitga_auction::Krw::get),
            price: price.map(sitga_auction::Krw::get),
            min_max: match self {
                Self::BidRejected(R::MaxTooLow { min_max }) => Some(min_max.get()),
                _ => None,
            },
            remaining: match self {
                Self::BidRejected(R::UnitsUnavailable { remaining }) => Some(*remaining),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(e) if e.inconsistent => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Validation(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::Missing { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::TooManyConnections { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::DatabaseUnavailable
            | Self::NotReady(_)
            | Self::Overloaded
            | Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BidRejected(_) | Self::Replayed(_) => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::DatabaseUnavailable => tracing::warn!("request failed: database unavailable"),
            _ => tracing::debug!(code = self.code().as_str(), "request rejected"),
        }
        if let Self::NotReady(report) = self {
            return HttpResponse::ServiceUnavailable().json(report);
        }
        if let Self::Replayed(body) = self {
            return HttpResponse::Conflict()
                .content_type("application/json")
                .insert_header(("idempotent-replay", "true"))
                .body(body.clone());
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::RateLimited { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if matches!(self, Self::Unauthorized { .. }) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sitga\""),
            ));
        }
        response.json(self.body())
    }
}

impl From<sitga_realtime::engine::EngineError> for ApiError {
    fn from(e: sitga_realtime::engine::EngineError) -> Self {
        use sitga_realtime::engine::EngineError;
        match e {
            EngineError::NotFound => Self::NotFound("auction"),
            EngineError::Overloaded | EngineError::Contended => Self::Overloaded,
            EngineError::Db(db) => db.into(),
        }
    }
}

impl From<sitga_realtime::sales::SaleError> for ApiError {
    fn from(e: sitga_realtime::sales::SaleError) -> Self {
        use sitga_auction::SaleRefusal as R;
        use sitga_realtime::sales::SaleError;
        let conflict = |code, message: String| Self::Conflict {
            code,
            message,
            field: None,
        };
        match e {
            SaleError::NotFound => Self::NotFound("sale"),
            SaleError::Invalid(field) => Self::Validation(field),
            SaleError::Db(db) => db.into(),
            SaleError::AlreadyRated => conflict(ErrorCode::AlreadyRated, e.to_string()),
            SaleError::NotTheChosenDelivery(why) => {
                conflict(ErrorCode::DeliveryNotOffered, why.to_owned())
            }
            SaleError::InsufficientPoints { .. } => {
                conflict(ErrorCode::InsufficientBalance, e.to_string())
            }
            SaleError::Refused(refusal) => {
                let message = refusal.to_string();
                match refusal {
                    R::NotYours(_) => Self::Forbidden {
                        code: ErrorCode::NotAllowed,
                        message: match refusal {
                            R::NotYours("buyer") => "only the buyer may take this step",
                            R::NotYours("seller") => "only the seller may take this step",
                            _ => "this step is not yours to take",
                        },
                    },
                    R::WrongState(_) => conflict(ErrorCode::WrongSaleState, message),
                    R::TooEarly(_) => conflict(ErrorCode::DeadlineNotPassed, message),
                    R::HandoverLocked => conflict(ErrorCode::HandoverLocked, message),
                    R::NotOffered => conflict(ErrorCode::DeliveryNotOffered, message),
                    R::WrongCode => Self::Forbidden {
                        code: ErrorCode::WrongHandoverCode,
                        message: "the handover code does not match: ask the buyer for theirs",
                    },
                    R::BadSplit => Self::Validation(sitga_core::FieldError::inconsistent(
                        "buyer_krw",
                        "must be more than 0 and less than what the escrow holds",
                    )),
                }
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Self::DatabaseUnavailable
            }
            DbError::NotFound => Self::NotFound("resource"),
            DbError::Conflict(cause) => {
                tracing::warn!(%cause, "transaction conflict gave up");
                Self::Overloaded
            }
            other => Self::internal(other),
        }
    }
}

impl From<sitga_persistence::users::UniqueUserError> for ApiError {
    fn from(err: sitga_persistence::users::UniqueUserError) -> Self {
        use sitga_persistence::users::UniqueUserError;
        match err {
            UniqueUserError::EmailTaken => Self::Conflict {
                code: ErrorCode::EmailTaken,
                message: "an account with this e-mail already exists".into(),
                field: Some("email"),
            },
            UniqueUserError::NicknameTaken => Self::Conflict {
                code: ErrorCode::NicknameTaken,
                message: "this nickname is already taken".into(),
                field: Some("nickname"),
            },
            UniqueUserError::Db(db) => db.into(),
        }
    }
}

/// The JSON body for a bare status (unknown route, wrong method…) that
/// actix answered without one.
pub fn body_for_status(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorCode::UnsupportedMediaType, "unsupported content type")
        }
        StatusCode::BAD_REQUEST => (ErrorCode::BadRequest, "malformed request"),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthorized, "authentication required"),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "not allowed"),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests"),
        StatusCode::SERVICE_UNAVAILABLE => (ErrorCode::ServiceUnavailable, "service unavailable"),
        s if s.is_server_error() => (ErrorCode::InternalError, "internal error"),
        _ => (ErrorCode::HttpError, "request failed"),
    };
    ErrorBody {
        error: code.as_str().to_owned(),
        message: message.to_owned(),
        field: None,
        min_next_bid: None,
        available: None,
        price: None,
        min_max: None,
        remaining: None,
    }
}
