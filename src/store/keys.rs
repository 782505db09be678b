//! Signing keys (JWT, CSRF), shared by every instance through the database.

use super::db::{Db, args};
use super::rows::{SigningKeyRow, encode_key};
use super::sealing::{KeySealer, is_sealed};
use super::{SigningKeyRecord, StoreError, to_millis};

/// The live keys of `algorithm`, newest first, private halves opened.
pub async fn live(
    db: &Db,
    algorithm: &str,
    sealer: Option<&KeySealer>,
) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let rows: Vec<SigningKeyRow> = db
        .fetch_all(
            "SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys \
             WHERE algorithm = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid DESC",
            args![algorithm],
        )
        .await?;
    rows.into_iter()
        .filter_map(SigningKeyRow::into_record)
        .map(|mut key| {
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
        })
        .collect()
}

/// Binds a sealed private key to its row.
fn associated_data(key: &SigningKeyRecord) -> String {
    format!("{}/{}", key.kid, key.algorithm)
}

pub async fn insert(db: &Db, key: &SigningKeyRecord, sealer: Option<&KeySealer>) -> Result<(), StoreError> {
    let sql = "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    let private_key = match sealer {
        Some(sealer) => sealer.seal(&associated_data(key), &key.private_key)?,
        None => key.private_key.clone(),
    };
    let values = args![
        &key.kid,
        &key.algorithm,
        encode_key(&private_key),
        encode_key(&key.public_key),
        to_millis(key.created_at),
    ];
    db.execute(sql, values).await.map(drop)
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
            "SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys ORDER BY kid",
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
