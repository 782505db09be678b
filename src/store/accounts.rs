//! Accounts: insert (with the first verification and its mail), update,
//! look-ups, and the admin's paged search.

use super::batch::{Batch, Statement};
use super::db::{Arg, Db, Tx, args};
use super::rows::{AccountRow, SignInRow, like_pattern, roles_column};
use super::sql::SqlStore;
use super::{
    AccountChange, AccountPage, AuditEvent, OutboxMessage, StoreError, VerificationRecord, audit, outbox,
    to_millis, verification,
};
use crate::app::ports::Accounts;
use crate::domain::{Account, AccountId, case_fold};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// The columns `AccountRow` reads (a macro, so that `concat!` takes it).
macro_rules! account_columns {
    () => {
        "id, email, username, password_hash, email_verified_at, roles, \
         custom_username, disabled, created_at, updated_at, external_id"
    };
}
/// Before a query's own clauses.
const SELECT_ACCOUNTS: &str = concat!("SELECT ", account_columns!(), " FROM accounts ");

/// The one account whose case-folded email or username is argument
/// `$at`: an email matches before a username that happens to look the same.
fn by_login_clause(at: usize) -> String {
    format!(
        "WHERE email_normalized = ${at} OR username_normalized = ${at} \
         ORDER BY CASE WHEN email_normalized = ${at} THEN 0 ELSE 1 END LIMIT 1"
    )
}

const SEARCH: &str = "WHERE $1 IS NULL OR lower(id) LIKE $1 ESCAPE '\\' \
     OR email_normalized LIKE $1 ESCAPE '\\' OR username_normalized LIKE $1 ESCAPE '\\' ";

pub(super) const INSERT: &str = "INSERT INTO accounts (id, email, email_normalized, username, \
     username_normalized, password_hash, email_verified_at, roles, custom_username, disabled, created_at, \
     updated_at, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Every column an account writes, in the order of `$1`…`$13` of `INSERT`.
pub(super) fn columns(account: &Account) -> Vec<Arg> {
    args![
        &account.id,
        account.email.as_deref(),
        account.email.as_deref().map(case_fold),
        &account.username,
        account.username.as_deref().map(case_fold),
        &account.password_hash,
        account.email_verified_at.map(to_millis),
        roles_column(&account.roles),
        account.custom_username,
        account.disabled,
        to_millis(account.created_at),
        to_millis(account.updated_at),
        &account.external_id,
    ]
}

/// The statement that stores a new account.
pub(super) fn insert_statement(account: &Account) -> Statement {
    Statement::new(INSERT, columns(account))
}

pub async fn insert(
    db: &Db,
    account: &Account,
    verification: Option<&VerificationRecord>,
    mail: Option<&OutboxMessage>,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    batch.add(insert_statement(account));
    batch.extend(verification.map(verification::insert));
    batch.extend(mail.map(outbox::insert));
    batch.extend(audit::inserts(events));
    batch.run(db).await
}

/// Writes `change` to its own columns of account `id` inside a
/// transaction; false when no row matched (no such account, or a guarded
/// change whose guard no longer holds).
pub async fn change_on(
    tx: &mut Tx,
    id: &AccountId,
    change: &AccountChange,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let now = to_millis(now);
    let (sql, values) = match change {
        AccountChange::Password {
            hash,
            replacing: None,
        } => (
            "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1",
            args![id, hash, now],
        ),
        AccountChange::Password {
            hash,
            replacing: Some(old),
        } => (
            "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash = $4",
            args![id, hash, now, old],
        ),
        AccountChange::Username(username) => (
            "UPDATE accounts SET username = $2, username_normalized = $3, custom_username = $4, \
             updated_at = $5 WHERE id = $1",
            args![id, username, case_fold(username), true, now],
        ),
        AccountChange::Disabled(disabled) => (
            "UPDATE accounts SET disabled = $2, updated_at = $3 WHERE id = $1",
            args![id, *disabled, now],
        ),
        AccountChange::Roles { from, to } => (
            "UPDATE accounts SET roles = $2, updated_at = $3 WHERE id = $1 AND roles = $4",
            args![id, roles_column(to), now, roles_column(from)],
        ),
        AccountChange::EmailVerified {
            new_email,
            at,
            keep_earlier,
        } => {
            let verified = if *keep_earlier {
                "COALESCE(email_verified_at, $4)"
            } else {
                "$4"
            };
            let sql = format!(
                "UPDATE accounts SET email = COALESCE($2, email), \
                 email_normalized = COALESCE($3, email_normalized), email_verified_at = {verified}, \
                 updated_at = $5 WHERE id = $1"
            );
            let values = args![
                id,
                new_email.as_deref(),
                new_email.as_deref().map(case_fold),
                to_millis(*at),
                now
            ];
            return Ok(tx.execute(AssertSqlSafe(sql), values).await? == 1);
        }
    };
    Ok(tx.execute(sql, values).await? == 1)
}

/// `change_on` with the audit events of the change, in one transaction.
pub async fn change(
    db: &Db,
    id: &AccountId,
    change: &AccountChange,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    if !change_on(&mut tx, id, change, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

/// Up to `limit` accounts with ids after `after`, in id order (an export
/// reads them all, page by page).
pub async fn after(db: &Db, after: &str, limit: u64) -> Result<Vec<Account>, StoreError> {
    let sql = format!("{SELECT_ACCOUNTS}WHERE id > $1 ORDER BY id LIMIT $2");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<AccountRow> = db.fetch_all(AssertSqlSafe(sql), args![after, limit]).await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("{SELECT_ACCOUNTS}WHERE id = $1");
    let row: Option<AccountRow> = db.fetch_optional(AssertSqlSafe(sql), args![id]).await?;
    Ok(row.map(Account::from))
}

/// The account whose email or username is `login`, compared case-folded;
/// an email wins over a username.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("{SELECT_ACCOUNTS}{}", by_login_clause(1));
    let row: Option<AccountRow> = db
        .fetch_optional(AssertSqlSafe(sql), args![case_fold(login)])
        .await?;
    Ok(row.map(Account::from))
}

/// `by_login`, and whether the account has a confirmed second factor (a
/// TOTP or a passkey): all a sign-in reads, in one statement.
pub async fn for_sign_in(db: &Db, login: &str) -> Result<Option<(Account, bool)>, StoreError> {
    let row: Option<SignInRow> = db
        .fetch_optional(AssertSqlSafe(for_sign_in_query(1)), args![case_fold(login)])
        .await?;
    Ok(row.map(SignInRow::into_parts))
}

/// The `SELECT` of `for_sign_in`, with the login in argument `$login_at`.
fn for_sign_in_query(login_at: usize) -> String {
    format!(
        "SELECT {}, {} AS has_second_factor FROM accounts {}",
        account_columns!(),
        super::mfa::second_factor_of("accounts.id"),
        by_login_clause(login_at)
    )
}

/// Newest first, searchable by id, email or username.
pub async fn list(db: &Db, search: Option<&str>, offset: u64, limit: u64) -> Result<AccountPage, StoreError> {
    let pattern = search.map(like_pattern);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!("{SELECT_ACCOUNTS}{SEARCH}ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3");
    let rows: Vec<AccountRow> = db
        .fetch_all(AssertSqlSafe(sql), args![pattern.clone(), limit, offset])
        .await?;
    let count = format!("SELECT COUNT(*) FROM accounts {SEARCH}");
    let (total,): (i64,) = db.fetch_one(AssertSqlSafe(count), args![pattern]).await?;
    Ok(AccountPage {
        accounts: rows.into_iter().map(Account::from).collect(),
        total: u64::try_from(total).unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl Accounts for SqlStore {
    async fn insert_account(
        &self,
        account: &Account,
        verification: Option<&VerificationRecord>,
        mail: Option<&OutboxMessage>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        self::insert(&self.db, account, verification, mail, audit).await
    }

    async fn update_account(
        &self,
        id: &AccountId,
        change: &AccountChange,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let updated = self::change(&self.db, id, change, now, audit).await;
        self.live.forget_account(id);
        updated
    }

    async fn account_by_id(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self::by_id(&self.db, id).await
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self::by_login(&self.db, login).await
    }

    async fn list_accounts(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<AccountPage, StoreError> {
        self::list(&self.db, search, offset, limit).await
    }

    async fn accounts_after(&self, after: &str, limit: u64) -> Result<Vec<Account>, StoreError> {
        self::after(&self.db, after, limit).await
    }

    async fn account_for_sign_in(&self, login: &str) -> Result<Option<(Account, bool)>, StoreError> {
        self::for_sign_in(&self.db, login).await
    }
}
