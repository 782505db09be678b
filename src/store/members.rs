//! The NGO member register and its history, each change recorded in the
//! same transaction as the change.

use super::db::{Arg, Db, Tx, args};
use super::rows::{MemberChangeRow, MemberRow, like_pattern};
use super::sql::SqlStore;
use super::{AuditEvent, MemberChange, MemberPage, StoreError, audit, to_millis};
use crate::app::ports::Members;
use crate::domain::{Member, MemberId};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// The columns `MemberRow` reads, before a query's own clauses.
const SELECT_MEMBERS: &str = "SELECT id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, miejscowosc, \
     ulica, nrdomulokalu, kodpocztowy, email, tel, version FROM members ";

const SEARCH: &str = "WHERE $1 IS NULL OR lower(nazwisko) LIKE $1 ESCAPE '\\' \
     OR lower(miejscowosc) LIKE $1 ESCAPE '\\' OR pesel LIKE $1 ESCAPE '\\' ";

/// A member's columns as the INSERT and the UPDATE number them ($1–$14).
pub(super) const INSERT: &str = "INSERT INTO members (id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, \
     miejscowosc, ulica, nrdomulokalu, kodpocztowy, email, tel, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)";

pub(super) fn columns(member: &Member, at: OffsetDateTime) -> Vec<Arg> {
    let d = &member.data;
    args![
        &member.id,
        &d.imie,
        &d.nazwisko,
        &d.wyksztalcenie,
        &d.pesel,
        &d.wojewodztwo,
        &d.miejscowosc,
        &d.ulica,
        &d.nrdomulokalu,
        &d.kodpocztowy,
        &d.email,
        &d.tel,
        member.version,
        to_millis(at),
    ]
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
    tx.execute(INSERT, columns(member, change.at)).await?;
    record_change_on(&mut tx, change).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Member>, StoreError> {
    let sql = format!("{SELECT_MEMBERS}WHERE id = $1");
    let row: Option<MemberRow> = db.fetch_optional(AssertSqlSafe(sql), args![id]).await?;
    Ok(row.map(Member::from))
}

/// By surname, then name; searchable by surname, city or PESEL.
pub async fn list(db: &Db, search: Option<&str>, offset: u64, limit: u64) -> Result<MemberPage, StoreError> {
    let pattern = search.map(like_pattern);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!("{SELECT_MEMBERS}{SEARCH}ORDER BY nazwisko, imie, id LIMIT $2 OFFSET $3");
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
    let sql = "UPDATE members SET imie = $2, nazwisko = $3, wyksztalcenie = $4, pesel = $5, wojewodztwo = $6, \
         miejscowosc = $7, ulica = $8, nrdomulokalu = $9, kodpocztowy = $10, email = $11, tel = $12, \
         version = $13, updated_at = $14 WHERE id = $1 AND version = $15";
    let mut values = columns(member, change.at);
    values.push(Arg::from(expected_version));
    if tx.execute(sql, values).await? != 1 {
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
