//! Bulk writes of `klucznik import`: accounts and members in batches of
//! one transaction each, so that a run that is killed loses at most the
//! batch in flight and a second run (skipping what exists) finishes it.

use super::db::{Db, Tx, args};
use super::sql::SqlStore;
use super::{ImportCounts, MemberChange, OnConflict, StoreError, accounts, members, to_millis};
use crate::app::ports::Imports;
use crate::domain::{Account, Member, case_fold};
use sqlx::AssertSqlSafe;

/// Stores a batch of accounts in one transaction. A row whose email,
/// username, external id or id exists is skipped, replaces the stored
/// account's password, roles, verification and state (`Update`: found by
/// external id, then email, then username), or stops the batch (`Fail`:
/// nothing of it is stored, `conflict` says which row).
pub async fn accounts(
    db: &Db,
    batch: &[Account],
    on_conflict: OnConflict,
) -> Result<ImportCounts, StoreError> {
    if on_conflict == OnConflict::Skip {
        return accounts_skipping(db, batch).await;
    }
    let insert = row_insert(accounts::INSERT, on_conflict);
    let mut tx = Tx::begin(db).await?;
    let mut counts = ImportCounts::default();
    for (index, account) in batch.iter().enumerate() {
        match tx
            .execute(AssertSqlSafe(insert.clone()), accounts::columns(account))
            .await
        {
            Ok(1) => counts.imported += 1,
            Ok(_) if on_conflict == OnConflict::Update && update(&mut tx, account).await? => {
                counts.updated += 1
            }
            Ok(_) => counts.skipped += 1,
            Err(StoreError::Conflict(_)) if on_conflict == OnConflict::Fail => {
                return stopped_at(tx, index).await;
            }
            Err(other) => return Err(other),
        }
    }
    tx.commit().await?;
    Ok(counts)
}

/// Rows per statement of `accounts_skipping`, 13 parameters each. More
/// is slower on SQLite, which finds each `$N` by a search through the
/// statement's parameters: a million rows took 86 s in statements of
/// 500 rows, 28 s of 125, 17 s of 50 (PostgreSQL: 13, 14, 16 s).
const ROWS_PER_STATEMENT: usize = 50;

/// The default import (skip what exists) in few statements: one
/// multi-row `INSERT … ON CONFLICT DO NOTHING` per 50 rows saves a round
/// trip per row (PostgreSQL) and a statement per row (both).
async fn accounts_skipping(db: &Db, batch: &[Account]) -> Result<ImportCounts, StoreError> {
    let (head, values) = accounts::INSERT
        .split_once(" VALUES ")
        .ok_or_else(|| StoreError::Other("the account INSERT has no VALUES".into()))?;
    let width = values.matches('$').count();
    let mut tx = Tx::begin(db).await?;
    let mut imported = 0;
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| {
                let cells: Vec<String> = (1..=width)
                    .map(|column| format!("${}", row * width + column))
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!("{head} VALUES {} ON CONFLICT DO NOTHING", rows.join(", "));
        let values = chunk.iter().flat_map(accounts::columns).collect();
        imported += tx.execute(AssertSqlSafe(sql), values).await?;
    }
    tx.commit().await?;
    Ok(ImportCounts {
        imported,
        skipped: batch.len() as u64 - imported,
        ..ImportCounts::default()
    })
}

/// Overwrites what an import brings of the stored account it matches.
async fn update(tx: &mut Tx, account: &Account) -> Result<bool, StoreError> {
    let sql = "UPDATE accounts SET password_hash = $1, email_verified_at = $2, roles = $3, disabled = $4, \
         updated_at = $5, external_id = COALESCE($6, external_id) WHERE id = (SELECT id FROM accounts \
         WHERE external_id = $6 OR email_normalized = $7 OR username_normalized = $8 \
         ORDER BY CASE WHEN external_id = $6 THEN 0 WHEN email_normalized = $7 THEN 1 ELSE 2 END LIMIT 1)";
    let values = args![
        &account.password_hash,
        account.email_verified_at.map(to_millis),
        super::rows::roles_column(&account.roles),
        account.disabled,
        to_millis(account.updated_at),
        &account.external_id,
        account.email.as_deref().map(case_fold),
        account.username.as_deref().map(case_fold),
    ];
    Ok(tx.execute(sql, values).await? == 1)
}

/// Stores a batch of members in one transaction, each with an `import`
/// entry in its history; one whose id or PESEL exists is skipped (or, with
/// `Fail`, stops the batch).
pub async fn members(
    db: &Db,
    batch: &[(Member, MemberChange)],
    on_conflict: OnConflict,
) -> Result<ImportCounts, StoreError> {
    let insert = row_insert(&members::INSERT, on_conflict);
    let mut tx = Tx::begin(db).await?;
    let mut counts = ImportCounts::default();
    for (index, (member, change)) in batch.iter().enumerate() {
        match tx
            .execute(AssertSqlSafe(insert.clone()), members::columns(member, change.at))
            .await
        {
            Ok(1) => {
                members::record_change_on(&mut tx, change).await?;
                counts.imported += 1;
            }
            Ok(_) => counts.skipped += 1,
            Err(StoreError::Conflict(_)) if on_conflict == OnConflict::Fail => {
                return stopped_at(tx, index).await;
            }
            Err(other) => return Err(other),
        }
    }
    tx.commit().await?;
    Ok(counts)
}

/// The row-by-row INSERT: a row that matches a stored one inserts nothing
/// (to skip or update it), or fails (`Fail`).
fn row_insert(insert: &str, on_conflict: OnConflict) -> String {
    match on_conflict {
        OnConflict::Fail => insert.to_owned(),
        OnConflict::Skip | OnConflict::Update => format!("{insert} ON CONFLICT DO NOTHING"),
    }
}

/// `Fail` met a stored row at `index`: nothing of the batch is stored.
async fn stopped_at(tx: Tx, index: usize) -> Result<ImportCounts, StoreError> {
    tx.rollback().await?;
    Ok(ImportCounts {
        conflict: Some(index),
        ..ImportCounts::default()
    })
}

#[async_trait::async_trait]
impl Imports for SqlStore {
    async fn import_accounts(
        &self,
        batch: &[Account],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError> {
        let counts = self::accounts(&self.db, batch, on_conflict).await;
        // An update changes stored accounts matched by email or name.
        self.live.forget_all();
        counts
    }

    async fn import_members(
        &self,
        batch: &[(Member, MemberChange)],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError> {
        self::members(&self.db, batch, on_conflict).await
    }
}
