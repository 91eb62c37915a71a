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

impl Statement<Untyped> {
    /// The statement as MySQL text with its values written in, for a
    /// multi-statement round trip (MySQL cannot prepare several statements
    /// as one). No value can change the statement: integers are digits,
    /// times a quoted `YYYY-MM-DD HH:MM:SS.ffffff`, texts a hex literal
    /// (`_utf8mb4 X'…'`, only hex digits between the quotes, whatever the
    /// session's escaping rules).
    pub(crate) fn to_mysql_text(&self) -> Result<String, crate::DbError> {
        use std::fmt::Write;
        let (first, rest) = self.parts().map_err(crate::DbError::Invariant)?;
        let mut text = String::with_capacity(self.sql.len() + self.binds.len() * 24);
        text.push_str(first);
        for (bind, part) in rest {
            // Writing to a String cannot fail.
            let _ = match bind {
                Bind::Int(v) | Bind::OptInt(Some(v)) => write!(text, "{v}"),
                Bind::OptInt(None) | Bind::OptText(None) => write!(text, "NULL"),
                Bind::Text(v) | Bind::OptText(Some(v)) => {
                    write!(text, "_utf8mb4 X'{}'", hex::encode(v))
                }
                Bind::Time(v) => write!(text, "'{}'", v.format("%Y-%m-%d %H:%M:%S%.6f")),
            };
            text.push_str(part);
        }
        Ok(text)
    }
}

impl<ST> Statement<ST> {
    /// The SQL before the first `?`, then each value with the SQL after its
    /// `?`; an error when the counts differ.
    fn parts(&self) -> Result<(&str, impl Iterator<Item = (&Bind, &str)>), String> {
        let placeholders = self.sql.matches('?').count();
        if placeholders != self.binds.len() {
            return Err(format!(
                "{placeholders} placeholders for {} values in {:?}",
                self.binds.len(),
                self.sql
            ));
        }
        let mut parts = self.sql.split('?');
        let first = parts.next().unwrap_or_default();
        Ok((first, self.binds.iter().zip(parts)))
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
        let (first, rest) = self
            .parts()
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
        out.push_sql(first);
        for (bind, part) in rest {
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
    fn mysql_text_writes_values_that_cannot_change_the_statement() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_micro_opt(17, 5, 9, 42))
            .expect("a date");
        let statement = Statement::<Untyped>::new(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            vec![
                Bind::Int(-7),
                Bind::OptInt(None),
                Bind::Text("'); DROP TABLE t; -- 광어".into()),
                Bind::OptText(Some(String::new())),
                Bind::Time(at),
            ],
        );
        assert_eq!(
            statement
                .to_mysql_text()
                .expect("as many values as placeholders"),
            format!(
                "INSERT INTO t VALUES (-7, NULL, _utf8mb4 X'{}', _utf8mb4 X'', \
                 '2026-12-07 17:05:09.000042')",
                hex::encode("'); DROP TABLE t; -- 광어")
            )
        );
        let short = Statement::<Untyped>::new("SELECT ?, ?", vec![Bind::Int(1)]);
        assert!(short.to_mysql_text().is_err());
    }

    #[test]
    fn placeholders_are_comma_separated() {
        assert_eq!(placeholders(1), "?");
        assert_eq!(placeholders(3), "?, ?, ?");
    }
}
