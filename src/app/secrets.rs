//! Random secrets, their stored digests, and constant-time comparison.
//!
//! Every secret handed to a client (session cookies, refresh tokens) is 256
//! random bits; only its SHA-256 is stored, so a database leak yields nothing
//! a client could present.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SECRET_BYTES: usize = 32;

/// A fresh URL-safe secret of 256 random bits.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<SECRET_BYTES>())
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not something a server can go on from.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

/// The digest a secret is stored and looked up by.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// How a keyed digest starts, telling it from a bare SHA-256 one.
const KEYED: &str = "hmac-sha256:";

/// The digest a short secret (a verification code) is stored by: an HMAC
/// under a server key, so a copy of the rows alone cannot be searched.
pub fn keyed_digest(key: &[u8], secret: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    format!(
        "{KEYED}{}",
        hex(aws_lc_rs::hmac::sign(&key, secret.as_bytes()).as_ref())
    )
}

/// Whether `secret` is the one `stored` was made from, by
/// [`keyed_digest`] or (rows written before it) [`digest`]; constant time.
pub fn matches_digest(key: &[u8], secret: &str, stored: &str) -> bool {
    let presented = if stored.starts_with(KEYED) {
        keyed_digest(key, secret)
    } else {
        digest(secret)
    };
    constant_time_eq(presented.as_bytes(), stored.as_bytes())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key stream that hides a refresh token's successor, derived from the
/// token it replaces: only a holder of that token can read the successor
/// back during the grace window, and the database alone reveals nothing.
fn successor_pad(presented: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"klucznik refresh successor\0");
    hasher.update(presented.as_bytes());
    hasher.finalize().into()
}

/// Seals `successor` (a secret from [`random_secret`]) under `presented`.
pub fn seal_successor(presented: &str, successor: &str) -> Option<String> {
    mask(presented, successor)
}

/// Reads back what [`seal_successor`] sealed; masking twice unmasks.
pub fn open_successor(presented: &str, sealed: &str) -> Option<String> {
    mask(presented, sealed)
}

fn mask(presented: &str, value: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    let pad = successor_pad(presented);
    if raw.len() != pad.len() {
        return None;
    }
    let masked: Vec<u8> = raw.iter().zip(pad).map(|(a, b)| a ^ b).collect();
    Some(URL_SAFE_NO_PAD.encode(masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = random_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_secret());
    }

    #[test]
    fn successor_round_trips_only_with_the_presented_token() {
        let presented = random_secret();
        let successor = random_secret();
        let sealed = seal_successor(&presented, &successor).unwrap();
        assert_ne!(sealed, successor);
        assert_eq!(open_successor(&presented, &sealed).unwrap(), successor);
        assert_ne!(open_successor(&random_secret(), &sealed).unwrap(), successor);
    }

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
