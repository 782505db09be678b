//! Values that must not reach a log line, a panic message or an error
//! text as they are: passwords, tokens, codes and keys as they arrive
//! (`Secret`), and URLs that may carry credentials (`SecretUrl`). Both are
//! wiped from memory when dropped, so a freed buffer does not keep them.

use serde::{Deserialize, Deserializer};
use url::Url;
use zeroize::Zeroize;

/// A password, token or code as a client sent it. `Debug` and `Display`
/// print `[redacted]`; the text is read through `Deref` (never to print)
/// and zeroed on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::ops::Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Secret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The key-encryption key (`KLUCZNIK_SECRET_KEY`, `--secret-key-file`):
/// 32 bytes, given as base64 (`openssl rand -base64 32`).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Box<[u8; 32]>);

impl SecretKey {
    /// `None` unless `text` is base64 (standard or URL-safe, padded or
    /// not) of exactly 32 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let text = text.trim();
        let mut bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())?;
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .map(|k| Self(Box::new(k)));
        bytes.zeroize();
        key
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A URL that may hold credentials (database, SMTP): `Debug` and
/// `Display` show it with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    /// The URL itself, to connect with; never to print.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        Self(Secret(url))
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        Self(Secret::from(url))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(self.expose()))
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(self.expose()))
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// For tests of request types: `json` deserialized as `T` prints none of
/// the secret values it holds.
#[cfg(test)]
pub(crate) fn assert_debug_hides<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    json: &str,
    secrets: &[&str],
) {
    let value: T = match serde_json::from_str(json) {
        Ok(value) => value,
        Err(error) => panic!("{json}: {error}"),
    };
    let printed = format!("{value:?}");
    for secret in secrets {
        assert!(!printed.contains(secret), "{printed} shows {secret}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(&*secret, "hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            format!("{:?}", SecretUrl::from("smtps://m:s3cret@h")),
            "\"smtps://m:***@h\""
        );
    }
}
