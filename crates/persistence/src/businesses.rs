//! Cafes' and recyclers' business registrations and the operators'
//! decisions on them.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_core::UserId;
use sitga_user::{BusinessName, BusinessNumber, VerificationDecision, VerificationStatus};

use crate::schema::businesses;
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// A stored registration.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = businesses)]
pub struct Business {
    /// The account.
    pub user_id: UserId,
    number: String,
    /// Registered name.
    pub name: String,
    status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    submitted_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    /// The operator who decided.
    pub decided_by: Option<UserId>,
}

impl Business {
    /// The registration number.
    pub fn number(&self) -> BusinessNumber {
        BusinessNumber::from_stored(self.number.clone())
    }

    /// Where it stands (never `unsubmitted`: that is the absence of a row).
    pub fn status(&self) -> VerificationStatus {
        VerificationStatus::parse(&self.status).unwrap_or(VerificationStatus::Pending)
    }

    /// Given or last changed.
    pub fn submitted_at(&self) -> DateTime<Utc> {
        utc(self.submitted_at)
    }

    /// Decided.
    pub fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.decided_at.map(utc)
    }
}

/// A user's registration, if given.
pub async fn find(conn: &mut DbConn, user_id: UserId) -> Result<Option<Business>, DbError> {
    Ok(with_conn!(conn, |c| businesses::table
        .find(user_id)
        .select(Business::as_select())
        .first(c)
        .await
        .optional())?)
}

/// Gives or changes a registration. A change (number or name) waits for an
/// operator again; giving the same details again changes nothing. A number
/// another account holds is a [`DbError::UniqueViolation`] on `number`.
pub async fn submit(
    conn: &mut DbConn,
    user_id: UserId,
    number: &BusinessNumber,
    name: &BusinessName,
) -> Result<Business, DbError> {
    let current = find(conn, user_id).await?;
    let at = now();
    match current {
        Some(b) if b.number == number.as_str() && b.name == name.as_str() => return Ok(b),
        // The operator checked that this name holds this number: any change
        // waits for a decision again.
        Some(_) => {
            let update = diesel::update(businesses::table.find(user_id)).set((
                businesses::number.eq(number.as_str()),
                businesses::name.eq(name.as_str()),
                businesses::status.eq(VerificationStatus::Pending.code()),
                businesses::reason.eq(None::<String>),
                businesses::submitted_at.eq(at),
                businesses::decided_at.eq(None::<NaiveDateTime>),
                businesses::decided_by.eq(None::<UserId>),
            ));
            with_conn!(conn, |c| update.execute(c).await)?;
        }
        None => {
            let insert = diesel::insert_into(businesses::table).values((
                businesses::user_id.eq(user_id),
                businesses::number.eq(number.as_str()),
                businesses::name.eq(name.as_str()),
                businesses::status.eq(VerificationStatus::Pending.code()),
                businesses::submitted_at.eq(at),
            ));
            with_conn!(conn, |c| insert.execute(c).await)?;
        }
    }
    find(conn, user_id).await?.ok_or(DbError::NotFound)
}

/// Records an operator's decision on a pending registration. `false`: it
/// was not pending (decided meanwhile, or changed and decided again).
pub async fn decide(
    conn: &mut DbConn,
    user_id: UserId,
    decision: VerificationDecision,
    reason: Option<&str>,
    by: UserId,
) -> Result<bool, DbError> {
    let update = diesel::update(
        businesses::table
            .find(user_id)
            .filter(businesses::status.eq(VerificationStatus::Pending.code())),
    )
    .set((
        businesses::status.eq(decision.status().code()),
        businesses::reason.eq(reason),
        businesses::decided_at.eq(Some(now())),
        businesses::decided_by.eq(Some(by)),
    ));
    let n = with_conn!(conn, |c| update.execute(c).await)?;
    Ok(n == 1)
}

/// Registrations, filtered by status: pending ones oldest first (the
/// operators' queue), others newest first.
pub async fn list(
    conn: &mut DbConn,
    status: Option<VerificationStatus>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Business>, i64), DbError> {
    macro_rules! filtered {
        () => {{
            let mut query = businesses::table.into_boxed();
            if let Some(status) = status {
                query = query.filter(businesses::status.eq(status.code()));
            }
            query
        }};
    }
    let oldest_first = status == Some(VerificationStatus::Pending);
    let rows = with_conn!(conn, |c| {
        let query = filtered!();
        let query = if oldest_first {
            query.order((businesses::submitted_at.asc(), businesses::user_id.asc()))
        } else {
            query.order((businesses::submitted_at.desc(), businesses::user_id.desc()))
        };
        query
            .offset(offset)
            .limit(limit)
            .select(Business::as_select())
            .load(c)
            .await
    })?;
    let total: i64 = with_conn!(conn, |c| filtered!().count().get_result(c).await)?;
    Ok((rows, total))
}

/// Which of `ids` are verified businesses.
pub async fn verified_among(conn: &mut DbConn, ids: &[UserId]) -> Result<HashSet<UserId>, DbError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<UserId> = with_conn!(conn, |c| businesses::table
        .filter(businesses::user_id.eq_any(ids))
        .filter(businesses::status.eq(VerificationStatus::Verified.code()))
        .select(businesses::user_id)
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// The registrations of `ids` (those that gave one).
pub async fn of_users(
    conn: &mut DbConn,
    ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, Business>, DbError> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<Business> = with_conn!(conn, |c| businesses::table
        .filter(businesses::user_id.eq_any(ids))
        .select(Business::as_select())
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(|b| (b.user_id, b)).collect())
}
