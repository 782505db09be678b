//! The NGO member register and its history, each change recorded in the
//! same transaction as the change.

use super::db::{Db, Tx, on_pool, on_tx};
use super::rows::{MemberChangeRow, MemberRow, like_pattern};
use super::{MemberChange, MemberPage, StoreError, classify, to_millis};
use crate::domain::Member;
use sqlx::AssertSqlSafe;

/// The columns `MemberRow` reads, before a query's own clauses.
const SELECT_MEMBERS: &str = "SELECT id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, miejscowosc, \
     ulica, nrdomulokalu, kodpocztowy, email, tel, version FROM members ";

const SEARCH: &str = "WHERE $1 IS NULL OR lower(nazwisko) LIKE $1 ESCAPE '\\' \
     OR lower(miejscowosc) LIKE $1 ESCAPE '\\' OR pesel LIKE $1 ESCAPE '\\' ";

/// The INSERT and the UPDATE number a member's columns alike ($1–$14),
/// so one function binds them for both.
fn bind_member<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    member: &'q Member,
    at: time::OffsetDateTime,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    &'q String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let d = &member.data;
    query
        .bind(&member.id)
        .bind(&d.imie)
        .bind(&d.nazwisko)
        .bind(&d.wyksztalcenie)
        .bind(&d.pesel)
        .bind(&d.wojewodztwo)
        .bind(&d.miejscowosc)
        .bind(&d.ulica)
        .bind(&d.nrdomulokalu)
        .bind(&d.kodpocztowy)
        .bind(&d.email)
        .bind(&d.tel)
        .bind(member.version)
        .bind(to_millis(at))
}

async fn record_change_on(tx: &mut Tx, change: &MemberChange) -> Result<(), StoreError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO member_history (id, member_id, actor_id, action, fields, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&change.id)
        .bind(&change.member_id)
        .bind(&change.actor_id)
        .bind(&change.action)
        .bind(change.fields.join(","))
        .bind(to_millis(change.at))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

pub async fn insert(db: &Db, member: &Member, change: &MemberChange) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, |conn| {
        let query = sqlx::query(
            "INSERT INTO members (id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, miejscowosc, ulica, \
             nrdomulokalu, kodpocztowy, email, tel, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        );
        bind_member(query, member, change.at)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    record_change_on(&mut tx, change).await?;
    tx.commit().await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Member>, StoreError> {
    let sql = format!("{SELECT_MEMBERS}WHERE id = $1");
    on_pool!(db, |pool| {
        sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await
    })
    .map(|row| row.map(Member::from))
    .map_err(classify)
}

/// By surname, then name; searchable by surname, city or PESEL.
pub async fn list(db: &Db, search: Option<&str>, offset: u64, limit: u64) -> Result<MemberPage, StoreError> {
    let pattern = search.map(like_pattern);
    let sql = format!("{SELECT_MEMBERS}{SEARCH}ORDER BY nazwisko, imie, id LIMIT $2 OFFSET $3");
    let rows = on_pool!(db, |pool| {
        sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
            .bind(&pattern)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
    })
    .map_err(classify)?;
    let count = format!("SELECT COUNT(*) FROM members {SEARCH}");
    let (total,) = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64,)>(AssertSqlSafe(count))
            .bind(&pattern)
            .fetch_one(pool)
            .await
    })
    .map_err(classify)?;
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
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let updated = on_tx!(&mut tx, |conn| {
        let query = sqlx::query(
            "UPDATE members SET imie = $2, nazwisko = $3, wyksztalcenie = $4, pesel = $5, wojewodztwo = $6, \
             miejscowosc = $7, ulica = $8, nrdomulokalu = $9, kodpocztowy = $10, email = $11, tel = $12, \
             version = $13, updated_at = $14 WHERE id = $1 AND version = $15",
        );
        bind_member(query, member, change.at)
            .bind(expected_version)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    if updated != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    record_change_on(&mut tx, change).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn delete(db: &Db, id: &str, change: &MemberChange) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let deleted = on_tx!(&mut tx, |conn| {
        sqlx::query("DELETE FROM members WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    if deleted != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    record_change_on(&mut tx, change).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn history(db: &Db, member_id: &str) -> Result<Vec<MemberChange>, StoreError> {
    on_pool!(db, |pool| {
        sqlx::query_as::<_, MemberChangeRow>(
            "SELECT id, member_id, actor_id, action, fields, at FROM member_history \
             WHERE member_id = $1 ORDER BY at, id",
        )
        .bind(member_id)
        .fetch_all(pool)
        .await
    })
    .map(|rows| rows.into_iter().map(MemberChange::from).collect())
    .map_err(classify)
}
