//! The NGO member register and its history, each change recorded in the
//! same transaction as the change.

use super::db::{Arg, Db, Tx, args, placeholders};
use super::rows::{MemberChangeRow, MemberRow, like_pattern};
use super::sql::SqlStore;
use super::{AuditEvent, MemberChange, MemberPage, StoreError, audit, to_millis};
use crate::app::ports::Members;
use crate::domain::{Member, MemberData, MemberId};
use sqlx::AssertSqlSafe;
use std::sync::LazyLock;
use time::OffsetDateTime;

/// The columns `MemberRow` reads, before a query's own clauses: one per
/// field of the domain's list (`MemberData::NAMES`).
static SELECT_MEMBERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, {}, version FROM members ",
        MemberData::NAMES.join(", ")
    )
});

const SEARCH: &str = "WHERE $1 IS NULL OR lower(nazwisko) LIKE $1 ESCAPE '\\' \
     OR lower(miejscowosc) LIKE $1 ESCAPE '\\' OR pesel LIKE $1 ESCAPE '\\' ";

/// Where `columns` puts the version and the time, after the id ($1) and
/// the fields ($2…).
const VERSION_AT: usize = MemberData::NAMES.len() + 2;

/// A member's row as `columns` numbers it: id, fields, version, time.
pub(super) static INSERT: LazyLock<String> = LazyLock::new(|| {
    let at = VERSION_AT + 1;
    format!(
        "INSERT INTO members (id, {}, version, created_at, updated_at) VALUES ({}, ${at})",
        MemberData::NAMES.join(", "),
        placeholders(1, at),
    )
});

/// Replaces a member's fields and version when its version is still the
/// one after `columns`.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let fields: Vec<String> = (MemberData::NAMES.iter().enumerate())
        .map(|(index, name)| format!("{name} = ${}", index + 2))
        .collect();
    format!(
        "UPDATE members SET {}, version = ${VERSION_AT}, updated_at = ${} WHERE id = $1 AND version = ${}",
        fields.join(", "),
        VERSION_AT + 1,
        VERSION_AT + 2,
    )
});

pub(super) fn columns(member: &Member, at: OffsetDateTime) -> Vec<Arg> {
    let mut values = args![&member.id];
    values.extend(
        member
            .data
            .fields()
            .into_iter()
            .map(|(_, value)| Arg::from(value)),
    );
    values.push(Arg::from(member.version));
    values.push(Arg::from(to_millis(at)));
    values
}

pub(super) async fn record_change_on(tx: &mut Tx, change: &MemberChange) -> Result<(), StoreError> {
    let sql = "INSERT INTO member_history (id, member_id, actor_id, action, fields, at) \
         VALUES ($1, $2, $3, $4, $5, $6)";
    let values = args![
        &change.id,
        &change.member_id,
        &change.actor_id,
        &change.action,
        change.fields.join(","),
        to_millis(change.at),
    ];
    tx.execute(sql, values).await.map(drop)
}

pub async fn insert(
    db: &Db,
    member: &Member,
    change: &MemberChange,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    tx.execute(INSERT.as_str(), columns(member, change.at)).await?;
    record_change_on(&mut tx, change).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Member>, StoreError> {
    let sql = format!("{}WHERE id = $1", *SELECT_MEMBERS);
    let row: Option<MemberRow> = db.fetch_optional(AssertSqlSafe(sql), args![id]).await?;
    Ok(row.map(Member::from))
}

/// By surname, then name; searchable by surname, city or PESEL.
pub async fn list(db: &Db, search: Option<&str>, offset: u64, limit: u64) -> Result<MemberPage, StoreError> {
    let pattern = search.map(like_pattern);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "{}{SEARCH}ORDER BY nazwisko, imie, id LIMIT $2 OFFSET $3",
        *SELECT_MEMBERS
    );
    let rows: Vec<MemberRow> = db
        .fetch_all(AssertSqlSafe(sql), args![pattern.clone(), limit, offset])
        .await?;
    let count = format!("SELECT COUNT(*) FROM members {SEARCH}");
    let (total,): (i64,) = db.fetch_one(AssertSqlSafe(count), args![pattern]).await?;
    Ok(MemberPage {
        members: rows.into_iter().map(Member::from).collect(),
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Replaces the member when its version is still `expected_version`.
pub async fn update(
    db: &Db,
    member: &Member,
    expected_version: i64,
    change: &MemberChange,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let mut values = columns(member, change.at);
    values.push(Arg::from(expected_version));
    if tx.execute(UPDATE.as_str(), values).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    record_change_on(&mut tx, change).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn delete(
    db: &Db,
    id: &str,
    change: &MemberChange,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    if tx.execute("DELETE FROM members WHERE id = $1", args![id]).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    record_change_on(&mut tx, change).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn history(db: &Db, member_id: &str) -> Result<Vec<MemberChange>, StoreError> {
    let sql = "SELECT id, member_id, actor_id, action, fields, at FROM member_history \
         WHERE member_id = $1 ORDER BY at, id";
    let rows: Vec<MemberChangeRow> = db.fetch_all(sql, args![member_id]).await?;
    Ok(rows.into_iter().map(MemberChange::from).collect())
}

#[async_trait::async_trait]
impl Members for SqlStore {
    async fn insert_member(
        &self,
        member: &Member,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        self::insert(&self.db, member, change, audit).await
    }

    async fn member(&self, id: &MemberId) -> Result<Option<Member>, StoreError> {
        self::by_id(&self.db, id).await
    }

    async fn list_members(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, StoreError> {
        self::list(&self.db, search, offset, limit).await
    }

    async fn update_member(
        &self,
        member: &Member,
        expected_version: i64,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        self::update(&self.db, member, expected_version, change, audit).await
    }

    async fn delete_member(
        &self,
        id: &MemberId,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        self::delete(&self.db, id, change, audit).await
    }

    async fn member_history(&self, member_id: &MemberId) -> Result<Vec<MemberChange>, StoreError> {
        self::history(&self.db, member_id).await
    }
}
