//! Fixed SQL with bound values that diesel keeps prepared.
//!
//! diesel never caches an `UPDATE`, an `IN (…)` list, a multi-row insert or
//! raw SQL (`unsafe_to_cache_prepared`), so each of those costs MySQL a
//! prepare, an execute and a close: three round trips where one will do.
//! The bid transaction runs a handful of such statements per bid, so its
//! statements are written here once, with `?` placeholders and typed binds,
//! and cached by their text (which never contains a value).

use std::marker::PhantomData;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Timestamp, Untyped};

/// A value bound to one `?`.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    /// BIGINT.
    Int(i64),
    /// BIGINT NULL.
    OptInt(Option<i64>),
    /// Text.
    Text(String),
    /// Text NULL.
    OptText(Option<String>),
    /// DATETIME / TIMESTAMP.
    Time(NaiveDateTime),
}

/// SQL text with one [`Bind`] per `?`. `ST` is the row type when it is a
/// query (`Untyped` for statements).
#[derive(Debug, Clone)]
pub(crate) struct Statement<ST = Untyped> {
    sql: String,
    binds: Vec<Bind>,
    row: PhantomData<ST>,
}

impl<ST> Statement<ST> {
    /// `sql` must have exactly `binds.len()` placeholders and no literal
    /// `?` (values always go in binds).
    pub(crate) fn new(sql: impl Into<String>, binds: Vec<Bind>) -> Self {
        Self {
            sql: sql.into(),
            binds,
            row: PhantomData,
        }
    }
}

/// `?, ?, …` with `n` placeholders.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl<ST> QueryId for Statement<ST> {
    type QueryId = ();
    // Keyed by its SQL text in diesel's per-connection statement cache.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> Query for Statement<ST> {
    type SqlType = ST;
}

impl<ST, DB> QueryFragment<DB> for Statement<ST>
where
    DB: Backend
        + HasSqlType<BigInt>
        + HasSqlType<Nullable<BigInt>>
        + HasSqlType<Text>
        + HasSqlType<Nullable<Text>>
        + HasSqlType<Timestamp>,
    i64: ToSql<BigInt, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut parts = self.sql.split('?');
        if self.sql.matches('?').count() != self.binds.len() {
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "{} placeholders for {} values in {:?}",
                    self.sql.matches('?').count(),
                    self.binds.len(),
                    self.sql
                )
                .into(),
            ));
        }
        out.push_sql(parts.next().unwrap_or_default());
        for (bind, part) in self.binds.iter().zip(parts) {
            match bind {
                Bind::Int(v) => out.push_bind_param::<BigInt, _>(v)?,
                Bind::OptInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                Bind::Text(v) => out.push_bind_param::<Text, _>(v)?,
                Bind::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                Bind::Time(v) => out.push_bind_param::<Timestamp, _>(v)?,
            }
            out.push_sql(part);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_comma_separated() {
        assert_eq!(placeholders(1), "?");
        assert_eq!(placeholders(3), "?, ?, ?");
    }
}
