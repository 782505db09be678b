//! Private keys at rest under a key-encryption key (`KLUCZNIK_SECRET_KEY`
//! or `--secret-key-file`): AES-256-GCM with a random nonce, the key's id
//! and algorithm as associated data (a sealed key cannot be moved to
//! another row). Without the setting keys are stored as they are; with it,
//! a copy of the database alone no longer lets anyone sign tokens, forge
//! CSRF pairs or search the verification codes.

use super::StoreError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// How a sealed key starts; a plain one (DER, or 32 random bytes) does not
/// start so but by a chance of 2⁻⁶⁴.
const MAGIC: &[u8; 8] = b"klucz\x00K1";

/// The key-encryption key: 32 bytes, given by the operator.
pub struct KeySealer(LessSafeKey);

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer([redacted])")
    }
}

impl KeySealer {
    pub fn new(key: &[u8; 32]) -> Result<Self, StoreError> {
        UnboundKey::new(&AES_256_GCM, key)
            .map(|key| Self(LessSafeKey::new(key)))
            .map_err(|_| StoreError::Other("the secret key was refused".into()))
    }

    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce_bytes = random_nonce()?;
        let mut sealed = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| StoreError::Other("cannot encrypt a key".into()))?;
        let mut stored = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        stored.extend_from_slice(MAGIC);
        stored.extend_from_slice(&nonce_bytes);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    pub fn open(&self, aad: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        let refused = || {
            StoreError::Other(format!(
                "cannot decrypt key {aad}: is KLUCZNIK_SECRET_KEY / --secret-key-file the key it was encrypted with?"
            ))
        };
        let rest = stored.strip_prefix(MAGIC.as_slice()).ok_or_else(refused)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or_else(refused)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| refused())?;
        let mut buffer = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| refused())?;
        Ok(plain.to_vec())
    }
}

pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

fn random_nonce() -> Result<[u8; NONCE_LEN], StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Other(format!("no randomness: {e}")))?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_key_and_row() {
        let sealer = KeySealer::new(&[7; 32]).unwrap();
        let sealed = sealer.seal("kid-1/EdDSA", b"private").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(sealer.open("kid-1/EdDSA", &sealed).unwrap(), b"private");
        assert!(sealer.open("kid-2/EdDSA", &sealed).is_err());
        let other = KeySealer::new(&[8; 32]).unwrap();
        assert!(other.open("kid-1/EdDSA", &sealed).is_err());
        assert!(!is_sealed(b"\x30\x2e\x02\x01"));
    }
}
