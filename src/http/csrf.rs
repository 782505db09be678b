//! Signed double-submit CSRF pairs: a random token for an HttpOnly cookie,
//! and its HMAC for the page to send back in a header. A pair made by one
//! browser does not fit another's cookie, and the key lives in the database
//! so every instance checks alike.

use crate::app::{Core, CoreError, secrets};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const KEY_KIND: &str = "csrf-hmac";

pub struct CsrfSigner {
    key: hmac::Key,
}

impl CsrfSigner {
    /// Loads the key every instance shares, creating it on first start.
    pub async fn load(core: &Core) -> Result<Self, CoreError> {
        let key = core.shared_secret(KEY_KIND).await?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// A fresh `(cookie token, header value)` pair.
    pub fn issue(&self) -> (String, String) {
        let token = secrets::random_secret();
        let proof = self.sign(&token);
        (token, proof)
    }

    /// The header or form value that goes with `token`.
    pub fn sign(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, token.as_bytes()))
    }

    /// Whether `proof` was made for `token`, compared in constant time.
    pub fn check(&self, token: &str, proof: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(proof) {
            Ok(tag) => !token.is_empty() && hmac::verify(&self.key, token.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}
