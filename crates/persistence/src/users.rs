//! Users and their roles.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_user::{
    AccountType, Address, BankAccount, Email, NICKNAME_KEY_VERSION, Nickname, PasswordHash,
    PersonName, Phone, Province, Role,
};

use sitga_core::UserId;

use crate::schema::{user_roles, users};
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// A stored user. Carries the password hash, so it never leaves the API
/// layer as is: handlers map it to a DTO.
#[derive(Debug, Clone)]
pub struct User {
    /// Primary key.
    pub id: UserId,
    /// Lower-cased login e-mail.
    pub email: String,
    /// Public display name.
    pub nickname: String,
    /// Real name.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address (for deliveries).
    pub address: Option<String>,
    /// Province.
    pub province: Option<Province>,
    /// Where sales are paid out.
    pub bank_account: Option<String>,
    /// Member, cafe or recycler.
    pub account_type: AccountType,
    /// argon2id PHC string.
    pub password_hash: PasswordHash,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
    /// Last profile or password change.
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: UserId,
    email: String,
    nickname: String,
    name: String,
    phone: Option<String>,
    address: Option<String>,
    province: Option<String>,
    bank_account: Option<String>,
    account_type: String,
    password_hash: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = DbError;

    fn try_from(row: UserRow) -> Result<Self, DbError> {
        let corrupt = |e: sitga_user::FieldError| {
            DbError::Config(format!("user {} has an invalid stored value: {e}", row.id))
        };
        Ok(Self {
            id: row.id,
            province: row
                .province
                .as_deref()
                .map(Province::parse)
                .transpose()
                .map_err(corrupt)?,
            account_type: AccountType::parse(&row.account_type).map_err(corrupt)?,
            email: row.email,
            nickname: row.nickname,
            name: row.name,
            phone: row.phone,
            address: row.address,
            bank_account: row.bank_account,
            password_hash: PasswordHash::from_stored(row.password_hash),
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

/// Everything needed to create an account; every field already parsed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login e-mail.
    pub email: Email,
    /// Display name.
    pub nickname: Nickname,
    /// Real name.
    pub name: PersonName,
    /// Phone.
    pub phone: Option<Phone>,
    /// Address.
    pub address: Option<Address>,
    /// Province.
    pub province: Option<Province>,
    /// Account type (never admin: that is a role).
    pub account_type: AccountType,
    /// Hash of the chosen password.
    pub password_hash: PasswordHash,
}

/// Why an account could not be created or renamed.
#[derive(Debug, thiserror::Error)]
pub enum UniqueUserError {
    /// Another account has this e-mail.
    #[error("e-mail already registered")]
    EmailTaken,
    /// Another account has this nickname (compared case-insensitively).
    #[error("nickname already taken")]
    NicknameTaken,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn classify_unique(err: DbError) -> UniqueUserError {
    // MySQL names the index (`uq_users_email`), SQLite the column
    // (`users.email`); the value itself may appear in MySQL's message, so
    // match on the full names only.
    if err.violates("uq_users_email") || err.violates("users.email") {
        UniqueUserError::EmailTaken
    } else if err.violates("uq_users_nickname_key") || err.violates("users.nickname_key") {
        UniqueUserError::NicknameTaken
    } else {
        UniqueUserError::Db(err)
    }
}

/// Creates a user. Uniqueness is enforced by the database, so two
/// simultaneous sign-ups with one e-mail cannot both succeed.
pub async fn insert(conn: &mut DbConn, new: &NewUser) -> Result<User, UniqueUserError> {
    let at = now();
    let insert = diesel::insert_into(users::table).values((
        users::email.eq(new.email.as_str()),
        users::nickname.eq(new.nickname.as_str()),
        users::nickname_key.eq(new.nickname.key()),
        users::nickname_key_version.eq(NICKNAME_KEY_VERSION),
        users::name.eq(new.name.as_str()),
        users::phone.eq(new.phone.as_ref().map(Phone::as_str)),
        users::address.eq(new.address.as_ref().map(Address::as_str)),
        users::province.eq(new.province.map(Province::code)),
        users::account_type.eq(new.account_type.code()),
        users::password_hash.eq(new.password_hash.as_str()),
        users::created_at.eq(at),
        users::updated_at.eq(at),
    ));
    let result: Result<usize, DbError> =
        with_conn!(conn, |c| insert.execute(c).await.map_err(DbError::from));
    result.map_err(classify_unique)?;
    // MySQL has no RETURNING: read the row back by its unique e-mail.
    find_by_email(conn, new.email.as_str())
        .await?
        .ok_or(UniqueUserError::Db(DbError::NotFound))
}

/// Looks a user up by id.
pub async fn find_by_id(conn: &mut DbConn, id: UserId) -> Result<Option<User>, DbError> {
    let row: Option<UserRow> = with_conn!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(User::try_from).transpose()
}

/// Several users by id (those that exist).
pub async fn find_many(
    conn: &mut DbConn,
    ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, User>, DbError> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<UserRow> = with_conn!(conn, |c| users::table
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|row| User::try_from(row).map(|u| (u.id, u)))
        .collect()
}

/// Looks a user up by (already normalised) e-mail.
pub async fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<User>, DbError> {
    let row: Option<UserRow> = with_conn!(conn, |c| users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(User::try_from).transpose()
}

/// Whether an account uses this e-mail.
pub async fn email_exists(conn: &mut DbConn, email: &Email) -> Result<bool, DbError> {
    let n: i64 = with_conn!(conn, |c| users::table
        .filter(users::email.eq(email.as_str()))
        .count()
        .get_result(c)
        .await)?;
    Ok(n > 0)
}

/// How many accounts have an e-mail outside `domain` (e.g. `demo.sitga.kr`):
/// real users, on a database meant for demo data.
pub async fn count_outside_domain(conn: &mut DbConn, domain: &str) -> Result<i64, DbError> {
    let pattern = format!("%@{domain}");
    let n: i64 = with_conn!(conn, |c| users::table
        .filter(users::email.not_like(&pattern))
        .count()
        .get_result(c)
        .await)?;
    Ok(n)
}

/// Whether an account uses this nickname (case-insensitively).
pub async fn nickname_exists(conn: &mut DbConn, nickname: &Nickname) -> Result<bool, DbError> {
    let key = nickname.key();
    let n: i64 = with_conn!(conn, |c| users::table
        .filter(users::nickname_key.eq(&key))
        .count()
        .get_result(c)
        .await)?;
    Ok(n > 0)
}

/// A change to one optional profile field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldChange<T> {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Remove the value.
    Clear,
    /// Replace the value.
    Set(T),
}

impl<T> FieldChange<T> {
    fn into_column(self) -> Option<Option<T>> {
        match self {
            Self::Keep => None,
            Self::Clear => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }
}

/// A partial profile update; `None` / [`FieldChange::Keep`] leave a field
/// unchanged.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New nickname.
    pub nickname: Option<Nickname>,
    /// New real name.
    pub name: Option<PersonName>,
    /// Phone.
    pub phone: FieldChange<Phone>,
    /// Address.
    pub address: FieldChange<Address>,
    /// Province.
    pub province: FieldChange<Province>,
    /// Bank account.
    pub bank_account: FieldChange<BankAccount>,
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileChangeset {
    nickname: Option<String>,
    nickname_key: Option<String>,
    nickname_key_version: Option<i16>,
    name: Option<String>,
    phone: Option<Option<String>>,
    address: Option<Option<String>>,
    province: Option<Option<String>>,
    bank_account: Option<Option<String>>,
    updated_at: NaiveDateTime,
}

/// Applies a profile update and returns the new state.
pub async fn update_profile(
    conn: &mut DbConn,
    id: UserId,
    update: ProfileUpdate,
) -> Result<User, UniqueUserError> {
    let changes = ProfileChangeset {
        nickname_key: update.nickname.as_ref().map(Nickname::key),
        nickname_key_version: update.nickname.as_ref().map(|_| NICKNAME_KEY_VERSION),
        nickname: update.nickname.map(Nickname::into_inner),
        name: update.name.map(PersonName::into_inner),
        phone: update.phone.into_column().map(|v| v.map(Phone::into_inner)),
        address: update
            .address
            .into_column()
            .map(|v| v.map(Address::into_inner)),
        province: update
            .province
            .into_column()
            .map(|v| v.map(|p| p.code().to_owned())),
        bank_account: update
            .bank_account
            .into_column()
            .map(|v| v.map(BankAccount::into_inner)),
        updated_at: now(),
    };
    let result: Result<usize, DbError> =
        with_conn!(conn, |c| diesel::update(users::table.find(id))
            .set(&changes)
            .execute(c)
            .await
            .map_err(DbError::from));
    if result.map_err(classify_unique)? == 0 {
        return Err(UniqueUserError::Db(DbError::NotFound));
    }
    find_by_id(conn, id)
        .await?
        .ok_or(UniqueUserError::Db(DbError::NotFound))
}

/// Replaces a user's password hash.
pub async fn set_password_hash(
    conn: &mut DbConn,
    id: UserId,
    hash: &PasswordHash,
) -> Result<(), DbError> {
    let n = with_conn!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash.as_str()),
            users::updated_at.eq(now()),
        ))
        .execute(c)
        .await)?;
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// A page of users, oldest first, and the total count.
pub async fn list(conn: &mut DbConn, offset: i64, limit: i64) -> Result<(Vec<User>, i64), DbError> {
    let rows: Vec<UserRow> = with_conn!(conn, |c| users::table
        .order(users::id.asc())
        .offset(offset)
        .limit(limit)
        .select(UserRow::as_select())
        .load(c)
        .await)?;
    let total: i64 = with_conn!(conn, |c| users::table.count().get_result(c).await)?;
    let users = rows
        .into_iter()
        .map(User::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((users, total))
}

/// The roles a user holds, sorted.
pub async fn roles_of(conn: &mut DbConn, user_id: UserId) -> Result<Vec<Role>, DbError> {
    let codes: Vec<String> = with_conn!(conn, |c| user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .load(c)
        .await)?;
    let mut roles: Vec<Role> = codes
        .iter()
        .filter_map(|code| Role::parse(code).ok())
        .collect();
    roles.sort();
    Ok(roles)
}

/// The id of the user with this nickname (case-insensitively).
pub async fn id_by_nickname(
    conn: &mut DbConn,
    nickname: &Nickname,
) -> Result<Option<UserId>, DbError> {
    let key = nickname.key();
    Ok(with_conn!(conn, |c| users::table
        .filter(users::nickname_key.eq(&key))
        .select(users::id)
        .first(c)
        .await
        .optional())?)
}

/// What [`rekey_nicknames`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// Rows given the current key.
    pub updated: usize,
    /// Rows whose new key another account already holds (two look-alike
    /// nicknames from before the rule): they keep their old key, and an
    /// operator may want to rename one.
    pub clashes: Vec<UserId>,
}

/// Gives every nickname keyed by an older rule the current key
/// ([`sitga_user::nickname_key`]), a batch at a time. When nothing is left
/// it is one query that finds no row, so it runs at every start.
pub async fn rekey_nicknames(conn: &mut DbConn) -> Result<Rekeyed, DbError> {
    const BATCH: i64 = 500;
    let mut done = Rekeyed::default();
    loop {
        let rows: Vec<(UserId, String)> = with_conn!(conn, |c| users::table
            .filter(users::nickname_key_version.lt(NICKNAME_KEY_VERSION))
            .order(users::id)
            .select((users::id, users::nickname))
            .limit(BATCH)
            .load(c)
            .await)?;
        if rows.is_empty() {
            return Ok(done);
        }
        for (id, nickname) in rows {
            let key = sitga_user::nickname_key(&nickname);
            if set_key(conn, id, &key).await? {
                done.updated += 1;
                continue;
            }
            // The key is held. If by a row not re-keyed yet (whose old key
            // happens to equal our new one), that row is the later one to
            // claim this look: park its old key and take ours.
            let holder: Option<(UserId, i16)> = with_conn!(conn, |c| users::table
                .filter(users::nickname_key.eq(&key))
                .select((users::id, users::nickname_key_version))
                .first(c)
                .await
                .optional())?;
            if let Some((other, version)) = holder
                && version < NICKNAME_KEY_VERSION
                && other > id
            {
                let park = diesel::update(users::table.find(other))
                    .set(users::nickname_key.eq(format!("#parked-{}", other.get())));
                with_conn!(conn, |c| park.execute(c).await)?;
                if set_key(conn, id, &key).await? {
                    done.updated += 1;
                    continue;
                }
            }
            let mark = diesel::update(users::table.find(id))
                .set(users::nickname_key_version.eq(NICKNAME_KEY_VERSION));
            with_conn!(conn, |c| mark.execute(c).await)?;
            tracing::warn!(
                user_id = id.get(),
                "nickname looks like an earlier account's; kept its old key"
            );
            done.clashes.push(id);
        }
    }
}

/// Sets the current key; `false` when another account holds it.
async fn set_key(conn: &mut DbConn, id: UserId, key: &str) -> Result<bool, DbError> {
    let rekey = diesel::update(users::table.find(id)).set((
        users::nickname_key.eq(key),
        users::nickname_key_version.eq(NICKNAME_KEY_VERSION),
    ));
    let outcome: Result<usize, DbError> =
        with_conn!(conn, |c| rekey.execute(c).await.map_err(DbError::from));
    match outcome.map_err(classify_unique) {
        Ok(_) => Ok(true),
        Err(UniqueUserError::NicknameTaken) => Ok(false),
        Err(UniqueUserError::EmailTaken) => Err(DbError::Conflict(
            "e-mail clash while re-keying a nickname".into(),
        )),
        Err(UniqueUserError::Db(e)) => Err(e),
    }
}

/// Nicknames of several users at once (one query).
pub async fn nicknames(
    conn: &mut DbConn,
    user_ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, String>, DbError> {
    if user_ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(UserId, String)> = with_conn!(conn, |c| users::table
        .filter(users::id.eq_any(user_ids))
        .select((users::id, users::nickname))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// The roles of several users at once (one query), for listings.
pub async fn roles_for(
    conn: &mut DbConn,
    user_ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, Vec<Role>>, DbError> {
    let rows: Vec<(UserId, String)> = with_conn!(conn, |c| user_roles::table
        .filter(user_roles::user_id.eq_any(user_ids))
        .select((user_roles::user_id, user_roles::role))
        .load(c)
        .await)?;
    let mut map: std::collections::HashMap<UserId, Vec<Role>> = std::collections::HashMap::new();
    for (id, code) in rows {
        if let Ok(role) = Role::parse(&code) {
            map.entry(id).or_default().push(role);
        }
    }
    for roles in map.values_mut() {
        roles.sort();
    }
    Ok(map)
}

/// Grants a role; granting one the user already holds is a no-op.
/// Returns whether the role was new.
pub async fn grant_role(conn: &mut DbConn, user_id: UserId, role: Role) -> Result<bool, DbError> {
    if roles_of(conn, user_id).await?.contains(&role) {
        return Ok(false);
    }
    let insert = diesel::insert_into(user_roles::table).values((
        user_roles::user_id.eq(user_id),
        user_roles::role.eq(role.code()),
        user_roles::granted_at.eq(now()),
    ));
    match with_conn!(conn, |c| insert.execute(c).await.map_err(DbError::from)) {
        Ok(_) => Ok(true),
        // A concurrent grant of the same role got there first.
        Err(DbError::UniqueViolation { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a role. Returns whether the user held it.
pub async fn revoke_role(conn: &mut DbConn, user_id: UserId, role: Role) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::delete(
        user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role.eq(role.code()))
    )
    .execute(c)
    .await)?;
    Ok(n > 0)
}

/// A ban in force on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// Until when (`None`: until an admin lifts it).
    pub until: Option<DateTime<Utc>>,
    /// Why.
    pub reason: String,
}

/// Bans `id` until `until` (`None`: indefinitely). `false` when there is
/// no such account.
pub async fn ban(
    conn: &mut DbConn,
    id: UserId,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<bool, DbError> {
    let at = now();
    let n = with_conn!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::banned_at.eq(Some(at)),
            users::banned_until.eq(until.map(crate::time::naive)),
            users::ban_reason.eq(Some(reason)),
            users::updated_at.eq(at),
        ))
        .execute(c)
        .await)?;
    Ok(n == 1)
}

/// Lifts any ban on `id` (none in force: nothing changes).
pub async fn unban(conn: &mut DbConn, id: UserId) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::banned_at.eq(None::<NaiveDateTime>),
            users::banned_until.eq(None::<NaiveDateTime>),
            users::ban_reason.eq(None::<String>),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The ban on `id` in force now, if any (one whose end has passed is not).
pub async fn ban_in_force(conn: &mut DbConn, id: UserId) -> Result<Option<Ban>, DbError> {
    type BanRow = (Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>);
    let row: Option<BanRow> = with_conn!(conn, |c| users::table
        .find(id)
        .select((users::banned_at, users::banned_until, users::ban_reason))
        .first(c)
        .await
        .optional())?;
    let at = now();
    Ok(match row {
        Some((Some(_), until, reason)) if until.is_none_or(|u| u > at) => Some(Ban {
            until: until.map(utc),
            reason: reason.unwrap_or_default(),
        }),
        _ => None,
    })
}
