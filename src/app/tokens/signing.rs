//! Signing a token, and making and reading the private keys.

use super::{JwtAlgorithm, Signer, SigningKey};
use crate::app::CoreError;
use crate::store::SigningKeyRecord;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::Serialize;
use time::OffsetDateTime;

/// A compact JWS of `claims` by `signer`.
pub(super) fn sign<T: Serialize>(
    algorithm: JwtAlgorithm,
    signer: &Signer,
    typ: Option<&str>,
    claims: &T,
) -> Result<String, CoreError> {
    let failed = |e: &dyn std::fmt::Display| CoreError::internal(format!("signing failed: {e}"));
    match &signer.key {
        SigningKey::Jwt(key) => {
            let mut header = Header::new(algorithm.jwt());
            header.kid = Some(signer.kid.clone());
            if let Some(typ) = typ {
                header.typ = Some(typ.to_owned());
            }
            jsonwebtoken::encode(&header, claims, key).map_err(|e| failed(&e))
        }
        SigningKey::Rsa(pair) => {
            let header =
                serde_json::json!({ "alg": "RS256", "typ": typ.unwrap_or("JWT"), "kid": signer.kid });
            let header = serde_json::to_vec(&header).map_err(|e| failed(&e))?;
            let claims = serde_json::to_vec(claims).map_err(|e| failed(&e))?;
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let mut signature = vec![0; pair.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            pair.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|e| failed(&e))?;
            Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
        }
    }
}

/// An RS256 key pair from its stored PKCS#8 form.
pub(super) fn rsa_pair(pkcs8: &[u8]) -> Result<aws_lc_rs::rsa::KeyPair, CoreError> {
    aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|_| CoreError::internal("stored RSA key rejected"))
}

/// A fresh key of `generation`, signing from `signs_from`.
pub(crate) fn generate_key(
    algorithm: JwtAlgorithm,
    generation: i64,
    now: OffsetDateTime,
    signs_from: OffsetDateTime,
) -> Result<SigningKeyRecord, CoreError> {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let (private_key, public_key) = match algorithm {
        JwtAlgorithm::EdDsa => {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| CoreError::internal("Ed25519 key generation failed"))?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| CoreError::internal("Ed25519 key rejected"))?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        JwtAlgorithm::Es256 => {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| CoreError::internal("P-256 key generation failed"))?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .map_err(|_| CoreError::internal("P-256 key rejected"))?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        JwtAlgorithm::Hs256 => (crate::app::secrets::random_bytes::<32>().to_vec(), Vec::new()),
        JwtAlgorithm::Rs256 => {
            use aws_lc_rs::encoding::AsDer;
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| CoreError::internal("RSA key generation failed"))?;
            let pkcs8 = pair
                .as_der()
                .map_err(|_| CoreError::internal("RSA key not encodable"))?;
            // The public half is read from the private key when loaded.
            (pkcs8.as_ref().to_vec(), Vec::new())
        }
    };
    Ok(SigningKeyRecord {
        kid: uuid::Uuid::now_v7().simple().to_string(),
        algorithm: algorithm.name().to_owned(),
        private_key,
        public_key,
        generation,
        created_at: now,
        signs_from,
        retired_at: None,
    })
}
