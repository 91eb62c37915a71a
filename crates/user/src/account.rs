//! What kind of account a user has and which extra powers it carries.

use std::fmt;

use crate::FieldError;

/// The kind of account chosen at sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AccountType {
    /// Buys and sells at fish auctions.
    #[default]
    Member,
    /// A cafe that gives away spent coffee grounds (the "Provide" side).
    Cafe,
    /// A recycler that collects coffee grounds (the "Demand" side).
    Recycler,
}

impl AccountType {
    /// Every account type.
    pub const ALL: &'static [AccountType] = &[Self::Member, Self::Cafe, Self::Recycler];

    /// The code stored in the database and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Cafe => "cafe",
            Self::Recycler => "recycler",
        }
    }

    /// Parses a code. `admin` is not an account type: it is a [`Role`]
    /// that only an operator can grant.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.code() == raw.trim())
            .ok_or_else(|| FieldError::new("account_type", "must be one of member, cafe, recycler"))
    }
}

impl fmt::Display for AccountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl AccountType {
    /// Whether this account trades coffee grounds as a business and so
    /// gives a business registration number to be verified.
    pub fn is_business(self) -> bool {
        matches!(self, Self::Cafe | Self::Recycler)
    }
}

/// Where a business's registration stands with the operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum VerificationStatus {
    /// No business number given yet.
    Unsubmitted,
    /// Given, waiting for an operator.
    Pending,
    /// An operator checked it.
    Verified,
    /// An operator refused it (with a reason); a new number asks again.
    Rejected,
}

impl VerificationStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [
        Self::Unsubmitted,
        Self::Pending,
        Self::Verified,
        Self::Rejected,
    ];

    /// Stored and API code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unsubmitted => "unsubmitted",
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
        }
    }

    /// Parses a code.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == raw)
    }
}

/// An operator's decision on a pending business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum VerificationDecision {
    /// The registration checks out.
    Verified,
    /// It does not (a reason is required).
    Rejected,
}

impl VerificationDecision {
    /// Both decisions.
    pub const ALL: [Self; 2] = [Self::Verified, Self::Rejected];

    /// API code.
    pub fn code(self) -> &'static str {
        self.status().code()
    }

    /// The status it leaves.
    pub fn status(self) -> VerificationStatus {
        match self {
            Self::Verified => VerificationStatus::Verified,
            Self::Rejected => VerificationStatus::Rejected,
        }
    }

    /// Parses a code.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|d| d.code() == raw)
            .ok_or_else(|| FieldError::new("decision", "must be verified or rejected"))
    }
}

/// An extra power granted by an operator with `sitga admin grant`; never at
/// sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Role {
    /// Full control, including user administration.
    Admin,
    /// Reads the operator dashboard and monitoring endpoints.
    Operator,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] = &[Self::Admin, Self::Operator];

    /// The code stored in the database and in tokens.
    pub fn code(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
        }
    }

    /// Parses a code.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.code() == raw.trim().to_ascii_lowercase())
            .ok_or_else(|| FieldError::new("role", "must be admin or operator"))
    }

    /// Whether holding `self` grants what `needed` grants. An admin can do
    /// everything an operator can.
    ///
    /// ```
    /// # use sitga_user::Role;
    /// assert!(Role::Admin.covers(Role::Operator));
    /// assert!(!Role::Operator.covers(Role::Admin));
    /// ```
    pub fn covers(self, needed: Role) -> bool {
        self == needed || self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_not_an_account_type() {
        assert!(AccountType::parse("admin").is_err());
        assert_eq!(AccountType::parse("cafe").unwrap(), AccountType::Cafe);
        assert_eq!(AccountType::default(), AccountType::Member);
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("ADMIN").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
    }
}
