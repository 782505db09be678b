//! Signing keys (JWT, CSRF), shared by every instance through the database.

use super::db::{Db, args};
use super::rows::{SigningKeyRow, encode_key};
use super::sealing::{KeySealer, is_sealed};
use super::sql::SqlStore;
use super::{SigningKeyRecord, StoreError, to_millis};
use crate::app::ports::SigningKeys;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

const COLUMNS: &str =
    "kid, algorithm, private_key, public_key, generation, created_at, signs_from, retired_at";

/// The keys of `algorithm` that are live or were retired after
/// `retired_after`, newest generation first, private halves opened.
pub async fn verifying(
    db: &Db,
    algorithm: &str,
    retired_after: OffsetDateTime,
    sealer: Option<&KeySealer>,
) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM signing_keys \
         WHERE algorithm = $1 AND (retired_at IS NULL OR retired_at > $2) ORDER BY generation DESC"
    );
    let rows: Vec<SigningKeyRow> = db
        .fetch_all(AssertSqlSafe(sql), args![algorithm, to_millis(retired_after)])
        .await?;
    rows.into_iter()
        .filter_map(SigningKeyRow::into_record)
        .map(|key| open(key, sealer))
        .collect()
}

/// Every key of every kind, oldest first, without their private halves
/// (for `klucznik keys list`).
pub async fn all(db: &Db) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM signing_keys ORDER BY algorithm, generation");
    let rows: Vec<SigningKeyRow> = db.fetch_all(AssertSqlSafe(sql), args![]).await?;
    Ok(rows
        .into_iter()
        .filter_map(SigningKeyRow::into_record)
        .map(|mut key| {
            key.private_key.clear();
            key
        })
        .collect())
}

/// The highest generation of `algorithm` ever stored (0 when none).
pub async fn latest_generation(db: &Db, algorithm: &str) -> Result<i64, StoreError> {
    let (generation,): (i64,) = db
        .fetch_one(
            "SELECT COALESCE(MAX(generation), 0) FROM signing_keys WHERE algorithm = $1",
            args![algorithm],
        )
        .await?;
    Ok(generation)
}

/// Retires a live key at `now`; false when there is no such live key.
pub async fn retire(db: &Db, kid: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    let sql = "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL";
    Ok(db.execute(sql, args![kid, to_millis(now)]).await? == 1)
}

fn open(mut key: SigningKeyRecord, sealer: Option<&KeySealer>) -> Result<SigningKeyRecord, StoreError> {
    if is_sealed(&key.private_key) {
        let Some(sealer) = sealer else {
            return Err(StoreError::Other(format!(
                "key {} is encrypted: set KLUCZNIK_SECRET_KEY or --secret-key-file",
                key.kid
            )));
        };
        key.private_key = sealer.open(&associated_data(&key), &key.private_key)?;
    }
    Ok(key)
}

/// Binds a sealed private key to its row.
fn associated_data(key: &SigningKeyRecord) -> String {
    format!("{}/{}", key.kid, key.algorithm)
}

/// Stores `key` unless its generation exists already (then false: another
/// instance created or rotated first).
pub async fn insert(db: &Db, key: &SigningKeyRecord, sealer: Option<&KeySealer>) -> Result<bool, StoreError> {
    let sql = "INSERT INTO signing_keys \
         (kid, algorithm, private_key, public_key, generation, created_at, signs_from) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let private_key = match sealer {
        Some(sealer) => sealer.seal(&associated_data(key), &key.private_key)?,
        None => key.private_key.clone(),
    };
    let values = args![
        &key.kid,
        &key.algorithm,
        encode_key(&private_key),
        encode_key(&key.public_key),
        key.generation,
        to_millis(key.created_at),
        to_millis(key.signs_from),
    ];
    match db.execute(sql, values).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Encrypts (`Some`) or decrypts (`None`) every stored private key that is
/// not already so, retired ones included; returns how many changed. Each
/// key is rewritten on its own, so a run that stops half-way can be run
/// again.
pub async fn reseal_all(
    db: &Db,
    current: Option<&KeySealer>,
    to: Option<&KeySealer>,
) -> Result<u64, StoreError> {
    let rows: Vec<SigningKeyRow> = db
        .fetch_all(
            AssertSqlSafe(format!("SELECT {COLUMNS} FROM signing_keys ORDER BY kid")),
            args![],
        )
        .await?;
    let mut changed = 0;
    for key in rows.into_iter().filter_map(SigningKeyRow::into_record) {
        let aad = associated_data(&key);
        let sealed = is_sealed(&key.private_key);
        let stored = match (to, sealed) {
            (Some(sealer), false) => sealer.seal(&aad, &key.private_key)?,
            (None, true) => {
                let sealer = current.ok_or_else(|| {
                    StoreError::Other("the keys are encrypted: give the key they were encrypted with".into())
                })?;
                sealer.open(&aad, &key.private_key)?
            }
            _ => continue,
        };
        let sql = "UPDATE signing_keys SET private_key = $2 WHERE kid = $1";
        db.execute(sql, args![&key.kid, encode_key(&stored)]).await?;
        changed += 1;
    }
    Ok(changed)
}

#[async_trait::async_trait]
impl SigningKeys for SqlStore {
    async fn signing_keys(
        &self,
        algorithm: &str,
        retired_after: OffsetDateTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self::verifying(&self.db, algorithm, retired_after, self.sealer.as_ref()).await
    }

    async fn all_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self::all(&self.db).await
    }

    async fn latest_key_generation(&self, algorithm: &str) -> Result<i64, StoreError> {
        self::latest_generation(&self.db, algorithm).await
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        self::insert(&self.db, key, self.sealer.as_ref()).await
    }

    async fn retire_signing_key(&self, kid: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        self::retire(&self.db, kid, now).await
    }

    async fn encrypt_keys(&self) -> Result<u64, StoreError> {
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| StoreError::Other("no secret key is set to encrypt with".into()))?;
        self::reseal_all(&self.db, Some(sealer), Some(sealer)).await
    }

    async fn decrypt_keys(&self) -> Result<u64, StoreError> {
        self::reseal_all(&self.db, self.sealer.as_ref(), None).await
    }
}
