//! Accounts: insert (with the first verification and its mail), update,
//! look-ups, and the admin's paged search.

use super::db::{Db, Tx, on_pool, on_tx};
use super::rows::{AccountRow, like_pattern, roles_column};
use super::{
    AccountPage, OutboxMessage, StoreError, VerificationRecord, classify, outbox, to_millis, verification,
};
use crate::domain::{Account, case_fold};
use sqlx::AssertSqlSafe;

/// The columns `AccountRow` reads, before a query's own clauses.
const SELECT_ACCOUNTS: &str = "SELECT id, email, username, password_hash, email_verified_at, roles, \
     custom_username, disabled, created_at, updated_at FROM accounts ";

const SEARCH: &str = "WHERE $1 IS NULL OR lower(id) LIKE $1 ESCAPE '\\' \
     OR email_normalized LIKE $1 ESCAPE '\\' OR username_normalized LIKE $1 ESCAPE '\\' ";

pub async fn insert(
    db: &Db,
    account: &Account,
    verification: Option<&VerificationRecord>,
    mail: Option<&OutboxMessage>,
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, \
             password_hash, email_verified_at, roles, custom_username, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&account.id)
        .bind(&account.email)
        .bind(account.email.as_deref().map(case_fold))
        .bind(&account.username)
        .bind(account.username.as_deref().map(case_fold))
        .bind(&account.password_hash)
        .bind(account.email_verified_at.map(to_millis))
        .bind(roles_column(&account.roles))
        .bind(account.custom_username)
        .bind(account.disabled)
        .bind(to_millis(account.created_at))
        .bind(to_millis(account.updated_at))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    if let Some(verification) = verification {
        verification::insert_on(&mut tx, verification).await?;
    }
    if let Some(mail) = mail {
        outbox::insert_on(&mut tx, mail).await?;
    }
    tx.commit().await
}

/// Saves every mutable field of `account`, inside a transaction.
pub async fn update_on(tx: &mut Tx, account: &Account) -> Result<(), StoreError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE accounts SET email = $2, email_normalized = $3, username = $4, \
             username_normalized = $5, password_hash = $6, email_verified_at = $7, roles = $8, \
             custom_username = $9, disabled = $10, updated_at = $11 WHERE id = $1",
        )
        .bind(&account.id)
        .bind(&account.email)
        .bind(account.email.as_deref().map(case_fold))
        .bind(&account.username)
        .bind(account.username.as_deref().map(case_fold))
        .bind(&account.password_hash)
        .bind(account.email_verified_at.map(to_millis))
        .bind(roles_column(&account.roles))
        .bind(account.custom_username)
        .bind(account.disabled)
        .bind(to_millis(account.updated_at))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

pub async fn update(db: &Db, account: &Account) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    update_on(&mut tx, account).await?;
    tx.commit().await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("{SELECT_ACCOUNTS}WHERE id = $1");
    on_pool!(db, |pool| {
        sqlx::query_as::<_, AccountRow>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await
    })
    .map(|row| row.map(Account::from))
    .map_err(classify)
}

/// The account whose email or username is `login`, compared case-folded;
/// an email wins over a username.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<Account>, StoreError> {
    let folded = case_fold(login);
    let sql = format!(
        "{SELECT_ACCOUNTS}WHERE email_normalized = $1 OR username_normalized = $1 \
         ORDER BY CASE WHEN email_normalized = $1 THEN 0 ELSE 1 END LIMIT 1"
    );
    on_pool!(db, |pool| {
        sqlx::query_as::<_, AccountRow>(AssertSqlSafe(sql))
            .bind(&folded)
            .fetch_optional(pool)
            .await
    })
    .map(|row| row.map(Account::from))
    .map_err(classify)
}

/// Newest first, searchable by id, email or username.
pub async fn list(db: &Db, search: Option<&str>, offset: u64, limit: u64) -> Result<AccountPage, StoreError> {
    let pattern = search.map(like_pattern);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!("{SELECT_ACCOUNTS}{SEARCH}ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3");
    let rows = on_pool!(db, |pool| {
        sqlx::query_as::<_, AccountRow>(AssertSqlSafe(sql))
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await
    })
    .map_err(classify)?;
    let count = format!("SELECT COUNT(*) FROM accounts {SEARCH}");
    let (total,) = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64,)>(AssertSqlSafe(count))
            .bind(&pattern)
            .fetch_one(pool)
            .await
    })
    .map_err(classify)?;
    Ok(AccountPage {
        accounts: rows.into_iter().map(Account::from).collect(),
        total: u64::try_from(total).unwrap_or(0),
    })
}
