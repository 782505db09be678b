//! Loading a key set from the store: the keys that sign, those that still
//! verify, and their public JWKs.

use super::signing::{generate_key, rsa_pair};
use super::{JwtAlgorithm, KeySet, Signer, SigningKey};
use crate::app::CoreError;
use crate::store::DynStore;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// The keys that sign or still verify at `now`; when none is live (first
/// start, or every key retired), a new one is created first. Instances
/// that start together race on its generation: one insert wins, and the
/// others load the winner's key.
pub(super) async fn load_keys(
    store: &DynStore,
    algorithm: JwtAlgorithm,
    now: OffsetDateTime,
    verify_window: Duration,
) -> Result<KeySet, CoreError> {
    let retired_after = now - verify_window;
    // Read before the keys: an instance that sees another's new key here
    // also sees it below, so it cannot create the generation after it.
    let latest = store.latest_key_generation(algorithm.name()).await?;
    let mut records = store.signing_keys(algorithm.name(), retired_after).await?;
    if records.iter().all(|record| record.retired_at.is_some()) {
        let generation = latest + 1;
        store
            .insert_signing_key(&generate_key(algorithm, generation, now, now)?)
            .await?;
        records = store.signing_keys(algorithm.name(), retired_after).await?;
    }
    let mut signers = Vec::new();
    let mut verifying = HashMap::new();
    let mut public_jwks = Vec::new();
    for record in &records {
        if record.retired_at.is_none() {
            signers.push(Signer {
                kid: record.kid.clone(),
                signs_from: record.signs_from,
                key: match algorithm {
                    JwtAlgorithm::EdDsa => SigningKey::Jwt(EncodingKey::from_ed_der(&record.private_key)),
                    JwtAlgorithm::Hs256 => SigningKey::Jwt(EncodingKey::from_secret(&record.private_key)),
                    JwtAlgorithm::Rs256 => SigningKey::Rsa(rsa_pair(&record.private_key)?),
                    JwtAlgorithm::Es256 => SigningKey::Jwt(EncodingKey::from_ec_der(&record.private_key)),
                },
            });
        }
        let key = match algorithm {
            JwtAlgorithm::Rs256 => {
                use aws_lc_rs::signature::KeyPair;
                let pair = rsa_pair(&record.private_key)?;
                let public = pair.public_key();
                let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
                let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
                public_jwks.push(serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": record.kid, "n": n, "e": e,
                }));
                DecodingKey::from_rsa_components(&n, &e)
                    .map_err(|e| CoreError::internal(format!("RSA public key: {e}")))?
            }
            JwtAlgorithm::EdDsa => {
                public_jwks.push(serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "use": "sig",
                    "alg": "EdDSA",
                    "kid": record.kid,
                    "x": URL_SAFE_NO_PAD.encode(&record.public_key),
                }));
                DecodingKey::from_ed_der(&record.public_key)
            }
            JwtAlgorithm::Es256 => {
                // The uncompressed point: 0x04, then x and y.
                let coordinate = |range| {
                    (record.public_key.get(range))
                        .map(|c| URL_SAFE_NO_PAD.encode(c))
                        .ok_or_else(|| CoreError::internal("stored P-256 key malformed"))
                };
                let (x, y) = (coordinate(1..33)?, coordinate(33..65)?);
                public_jwks.push(serde_json::json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": record.kid, "x": x, "y": y,
                }));
                DecodingKey::from_ec_components(&x, &y)
                    .map_err(|e| CoreError::internal(format!("P-256 public key: {e}")))?
            }
            JwtAlgorithm::Hs256 => DecodingKey::from_secret(&record.private_key),
        };
        verifying.insert(record.kid.clone(), key);
    }
    if signers.is_empty() {
        return Err(CoreError::internal("no live signing key after creating one"));
    }
    Ok(KeySet {
        signers,
        verifying,
        public_jwks,
        loaded_at: now,
    })
}
