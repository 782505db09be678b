//! Signing keys (JWT, CSRF), shared by every instance through the database.

use super::db::{Db, args};
use super::rows::{SigningKeyRow, encode_key};
use super::{SigningKeyRecord, StoreError, to_millis};

/// The live keys of `algorithm`, newest first.
pub async fn live(db: &Db, algorithm: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let rows: Vec<SigningKeyRow> = db
        .fetch_all(
            "SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys \
             WHERE algorithm = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid DESC",
            args![algorithm],
        )
        .await?;
    Ok(rows.into_iter().filter_map(SigningKeyRow::into_record).collect())
}

pub async fn insert(db: &Db, key: &SigningKeyRecord) -> Result<(), StoreError> {
    let sql = "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    let values = args![
        &key.kid,
        &key.algorithm,
        encode_key(&key.private_key),
        encode_key(&key.public_key),
        to_millis(key.created_at),
    ];
    db.execute(sql, values).await.map(drop)
}
