//! Installed species models. Every instance serves the newest model not
//! rolled back; it polls [`serving_id`] (one indexed read) and loads the
//! row only when the answer changes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::fish_models;
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// An installed model's files.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = fish_models)]
pub struct InstalledModel {
    /// Install id.
    pub id: i64,
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: i32,
    /// `model.json`.
    pub manifest: String,
    /// `head.safetensors`.
    pub weights: Vec<u8>,
    /// `metrics.json`.
    pub metrics: String,
}

/// A model to install.
#[derive(Debug, Clone)]
pub struct NewModel<'a> {
    /// Model name.
    pub name: &'a str,
    /// Model version.
    pub version: i32,
    /// Digest of its manifest and weights.
    pub digest: &'a str,
    /// `model.json`.
    pub manifest: &'a str,
    /// `head.safetensors`.
    pub weights: &'a [u8],
    /// `metrics.json`.
    pub metrics: &'a str,
    /// Who installs it.
    pub installed_by: &'a str,
}

/// Installs `model`: from now on it is the one served. Its install id.
pub async fn install(conn: &mut DbConn, model: &NewModel<'_>) -> Result<i64, DbError> {
    let insert = diesel::insert_into(fish_models::table).values((
        fish_models::name.eq(model.name),
        fish_models::version.eq(model.version),
        fish_models::digest.eq(model.digest),
        fish_models::manifest.eq(model.manifest),
        fish_models::weights.eq(model.weights),
        fish_models::metrics.eq(model.metrics),
        fish_models::installed_by.eq(model.installed_by),
        fish_models::installed_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    crate::auctions::last_insert_id(conn).await
}

/// The install id of the model to serve, if any is installed and not
/// rolled back.
pub async fn serving_id(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    Ok(with_conn!(conn, |c| fish_models::table
        .filter(fish_models::retired_at.is_null())
        .order(fish_models::id.desc())
        .select(fish_models::id)
        .first::<i64>(c)
        .await
        .optional())?)
}

/// Install `id`, whole.
pub async fn find(conn: &mut DbConn, id: i64) -> Result<Option<InstalledModel>, DbError> {
    Ok(with_conn!(conn, |c| fish_models::table
        .find(id)
        .select(InstalledModel::as_select())
        .first(c)
        .await
        .optional())?)
}

/// An install as `sitga model list` shows it: everything but its files.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = fish_models)]
pub struct InstallRecord {
    /// Install id.
    pub id: i64,
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: i32,
    /// Digest of its manifest and weights.
    pub digest: String,
    /// Who installed it.
    pub installed_by: String,
    installed_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

impl InstallRecord {
    /// When it was installed.
    pub fn installed_at(&self) -> DateTime<Utc> {
        utc(self.installed_at)
    }

    /// When it was rolled back, if it was.
    pub fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.retired_at.map(utc)
    }
}

/// Every install, newest first, without its files.
pub async fn history(conn: &mut DbConn) -> Result<Vec<InstallRecord>, DbError> {
    Ok(with_conn!(conn, |c| fish_models::table
        .order(fish_models::id.desc())
        .select(InstallRecord::as_select())
        .load(c)
        .await)?)
}

/// Rolls the serving install back: it is retired and the one installed
/// before it (if any is left) serves again. The retired install's id, or
/// `None` when nothing was installed.
pub async fn roll_back(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    let Some(id) = serving_id(conn).await? else {
        return Ok(None);
    };
    // Guarded: of two rollbacks racing, each retires a different install.
    let retire = diesel::update(
        fish_models::table
            .filter(fish_models::id.eq(id))
            .filter(fish_models::retired_at.is_null()),
    )
    .set(fish_models::retired_at.eq(Some(now())));
    let changed = with_conn!(conn, |c| retire.execute(c).await)?;
    Ok((changed == 1).then_some(id))
}
