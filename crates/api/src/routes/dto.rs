//! Shapes shared by several routes.

use crate::error::ErrorCode;
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use sitga_persistence::businesses::Business;
use sitga_persistence::users::User;
use sitga_user::{AccountType, Role, VerificationStatus};

/// Kind of account.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum AccountTypeDto {
    /// Buys and sells at fish auctions.
    Member,
    /// Gives spent coffee grounds.
    Cafe,
    /// Collects coffee grounds.
    Recycler,
}

impl From<AccountTypeDto> for AccountType {
    fn from(dto: AccountTypeDto) -> Self {
        match dto {
            AccountTypeDto::Member => Self::Member,
            AccountTypeDto::Cafe => Self::Cafe,
            AccountTypeDto::Recycler => Self::Recycler,
        }
    }
}

impl From<AccountType> for AccountTypeDto {
    fn from(t: AccountType) -> Self {
        match t {
            AccountType::Member => Self::Member,
            AccountType::Cafe => Self::Cafe,
            AccountType::Recycler => Self::Recycler,
        }
    }
}

/// A user as the API shows it. Never carries the password hash or tokens.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserDto {
    /// Id.
    pub id: i64,
    /// Login e-mail.
    pub email: String,
    /// Public name.
    pub nickname: String,
    /// Real name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Province code.
    pub province: Option<String>,
    /// Payout account.
    pub bank_account: Option<String>,
    /// Kind of account.
    pub account_type: AccountTypeDto,
    /// Extra roles (`admin`, `operator`).
    pub roles: Vec<String>,
    /// The registered business (cafes and recyclers, once given).
    pub business: Option<BusinessDto>,
    /// Where the business stands with the operators (cafes and recyclers;
    /// `null` for members). Until it is `verified`, the account's completed
    /// pickups are recorded but do not count.
    pub verification: Option<VerificationDto>,
    /// Sign-up time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A business registration.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BusinessDto {
    /// 사업자등록번호, `XXX-XX-XXXXX`.
    pub number: String,
    /// Registered name.
    pub name: String,
}

/// A business's verification.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VerificationDto {
    /// `unsubmitted`, `pending`, `verified` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
}

impl UserDto {
    /// Maps a stored user, its roles and its business registration.
    pub fn from_user(user: User, roles: &[Role], business: Option<&Business>) -> Self {
        let verification = user.account_type.is_business().then(|| match business {
            Some(b) => VerificationDto {
                status: b.status().code().to_owned(),
                reason: b.reason.clone(),
            },
            None => VerificationDto {
                status: VerificationStatus::Unsubmitted.code().to_owned(),
                reason: None,
            },
        });
        Self {
            business: business.map(|b| BusinessDto {
                number: b.number().formatted(),
                name: b.name.clone(),
            }),
            verification,
            id: user.id.get(),
            email: user.email,
            nickname: user.nickname,
            name: user.name,
            phone: user.phone,
            address: user.address,
            province: user.province.map(|p| p.code().to_owned()),
            bank_account: user.bank_account,
            account_type: user.account_type.into(),
            roles: roles.iter().map(|r| r.code().to_owned()).collect(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// `?page=&per_page=`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    pub per_page: Option<u32>,
}

/// Largest page the API serves.
pub const MAX_PER_PAGE: u32 = 100;

impl PageQuery {
    /// A page asked for inside another query's parameters.
    pub fn of(page: Option<u32>, per_page: Option<u32>) -> Self {
        Self { page, per_page }
    }

    /// `(page, per_page, offset)` after validation.
    pub fn resolve(&self) -> Result<(u32, u32, i64), crate::error::ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 {
            return Err(crate::error::ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "page starts at 1".into(),
                field: Some("page".into()),
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(crate::error::ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: format!("per_page must be 1 to {MAX_PER_PAGE}"),
                field: Some("per_page".into()),
            });
        }
        let offset = (i64::from(page) - 1) * i64::from(per_page);
        Ok((page, per_page, offset))
    }
}

/// `?month=YYYY-MM`, or the current month of the platform's calendar.
pub fn month_or_current(
    calendar: sitga_core::Calendar,
    raw: Option<&str>,
) -> Result<sitga_core::Month, crate::error::ApiError> {
    match raw {
        Some(text) => {
            sitga_core::Month::parse(text).ok_or_else(|| crate::error::ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "month must be YYYY-MM".into(),
                field: Some("month".into()),
            })
        }
        None => Ok(calendar.month_of(Utc::now())),
    }
}
