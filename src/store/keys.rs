//! Signing keys (JWT, CSRF), shared by every instance through the database.

use super::db::{Db, on_pool};
use super::rows::{SigningKeyRow, encode_key};
use super::{SigningKeyRecord, StoreError, classify, to_millis};

/// The live keys of `algorithm`, newest first.
pub async fn live(db: &Db, algorithm: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let rows = on_pool!(db, |pool| {
        sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys \
             WHERE algorithm = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid DESC",
        )
        .bind(algorithm)
        .fetch_all(pool)
        .await
    })
    .map_err(classify)?;
    Ok(rows.into_iter().filter_map(SigningKeyRow::into_record).collect())
}

pub async fn insert(db: &Db, key: &SigningKeyRecord) -> Result<(), StoreError> {
    on_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(encode_key(&key.private_key))
        .bind(encode_key(&key.public_key))
        .bind(to_millis(key.created_at))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}
