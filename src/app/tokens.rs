//! Access tokens: JWTs signed with keys that live in the database, so every
//! instance signs and verifies alike. The accepted algorithm is pinned to the
//! configured one; `jku`, `jwk` and `x5u` headers are never followed.

use super::CoreError;
use super::clock::Clock;
use crate::bounded::BoundedMap;
use crate::store::DynStore;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

/// The signing algorithm, from `KLUCZNIK_JWT_ALGORITHM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    EdDsa,
    Hs256,
    /// OpenID Connect's default: ID tokens and RFC 9068 access tokens.
    Rs256,
    /// For ID tokens of clients that ask for it.
    Es256,
}

/// The algorithms OpenID Connect clients may have their ID tokens signed
/// with; RS256 (every library verifies it) is the default.
pub const ID_TOKEN_ALGORITHMS: [JwtAlgorithm; 3] =
    [JwtAlgorithm::Rs256, JwtAlgorithm::Es256, JwtAlgorithm::EdDsa];

impl JwtAlgorithm {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_uppercase().as_str() {
            "EDDSA" | "ED25519" => Some(Self::EdDsa),
            "HS256" => Some(Self::Hs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    /// One of `ID_TOKEN_ALGORITHMS`, by its JOSE name.
    pub fn for_id_tokens(raw: &str) -> Option<Self> {
        ID_TOKEN_ALGORITHMS.into_iter().find(|a| a.name() == raw)
    }

    fn jwt(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    /// The door the token was issued at (`klucznik:native`, …); a token
    /// without one (issued before doors) opens none.
    #[serde(default)]
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Expired,
    Invalid,
}

/// The keys an instance signs and verifies with, as last loaded.
struct KeySet {
    /// Keys not retired, newest generation first: the newest whose
    /// `signs_from` has come signs.
    signers: Vec<Signer>,
    verifying: HashMap<String, DecodingKey>,
    public_jwks: Vec<serde_json::Value>,
    loaded_at: OffsetDateTime,
}

struct Signer {
    kid: String,
    signs_from: OffsetDateTime,
    key: SigningKey,
}

/// A private key ready to sign: jsonwebtoken's for EdDSA and HS256, and
/// the parsed RSA pair for RS256 (jsonwebtoken would parse it again for
/// every signature).
enum SigningKey {
    Jwt(EncodingKey),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl KeySet {
    /// The key that signs at `now`: the newest that has started signing,
    /// or (when every live key is still announced) the one due first.
    fn signer(&self, now: OffsetDateTime) -> Option<&Signer> {
        self.signers
            .iter()
            .find(|key| key.signs_from <= now)
            .or_else(|| self.signers.iter().min_by_key(|key| key.signs_from))
    }
}

/// Every instance reloads its keys this often, so a rotation or a
/// retirement made anywhere reaches it within this bound.
pub const KEY_RELOAD_EVERY: Duration = Duration::seconds(5);

/// A rotated key is published this long before it starts signing: every
/// instance has loaded it (two reload rounds) before a token signed with
/// it can reach one.
pub const ROTATION_NOTICE: Duration = Duration::seconds(10);

/// Clocks of instances differ a little; a token is still good this long
/// after its `exp`.
const EXP_LEEWAY_SECS: i64 = 1;

pub struct TokenService {
    algorithm: JwtAlgorithm,
    issuer: String,
    ttl: Duration,
    /// How long after its retirement a key still verifies: the longest
    /// lifetime of a token it signed, plus the reload bound (instances
    /// sign with it until they notice).
    verify_window: Duration,
    store: DynStore,
    keys: RwLock<KeySet>,
    /// The keys of the ID-token algorithms other than the configured one:
    /// RS256 (ID tokens by default, RFC 9068 access tokens), ES256, EdDSA.
    oidc_keys: Vec<(JwtAlgorithm, RwLock<KeySet>)>,
    clock: Arc<dyn Clock>,
    /// Tokens whose signature and issuer were checked, by their exact
    /// text: a signature check (tens of microseconds for EdDSA) is paid
    /// once per token, not per request. Expiry is still checked each time;
    /// a reload of the keys empties it.
    verified: BoundedMap<String, Claims>,
}

/// Verified tokens kept at most (`BoundedMap`: expired ones go first).
const VERIFIED_CAPACITY: usize = 10_000;

impl TokenService {
    /// Loads the keys for `algorithm`, creating the first one if there is
    /// none. `longest_ttl` is the longest lifetime of any token signed.
    pub async fn load(
        store: DynStore,
        algorithm: JwtAlgorithm,
        issuer: String,
        (ttl, longest_ttl): (Duration, Duration),
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CoreError> {
        let verify_window = longest_ttl.max(ttl) + KEY_RELOAD_EVERY;
        let keys = load_keys(&store, algorithm, clock.now(), verify_window).await?;
        let mut oidc_keys = Vec::new();
        for other in ID_TOKEN_ALGORITHMS.into_iter().filter(|a| *a != algorithm) {
            let set = load_keys(&store, other, clock.now(), verify_window).await?;
            oidc_keys.push((other, RwLock::new(set)));
        }
        Ok(Self {
            algorithm,
            issuer,
            ttl,
            verify_window,
            store,
            keys: RwLock::new(keys),
            oidc_keys,
            clock,
            verified: BoundedMap::new(VERIFIED_CAPACITY),
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for the session `session_id` of `account_id`, opened at the
    /// door `audience`, living `ttl`.
    pub fn issue_with_ttl(
        &self,
        account_id: &str,
        session_id: &str,
        audience: &str,
        roles: Vec<String>,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<String, CoreError> {
        let keys = self
            .keys
            .read()
            .map_err(|_| CoreError::internal("key set poisoned"))?;
        let signer = keys
            .signer(now)
            .ok_or_else(|| CoreError::internal("no signing key loaded"))?;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            sub: account_id.to_owned(),
            sid: session_id.to_owned(),
            roles,
            iat: now.unix_timestamp(),
            exp: (now + ttl).unix_timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        sign(self.algorithm, signer, None, &claims)
    }

    /// The key set of one of `ID_TOKEN_ALGORITHMS` (or the configured one).
    fn key_set(&self, algorithm: JwtAlgorithm) -> Option<&RwLock<KeySet>> {
        if algorithm == self.algorithm {
            return Some(&self.keys);
        }
        self.oidc_keys
            .iter()
            .find(|(other, _)| *other == algorithm)
            .map(|(_, set)| set)
    }

    /// Signs `claims` with the `algorithm` key that signs at `now`, the
    /// header typed `typ` (`at+jwt`, `logout+jwt`) when given: OpenID
    /// Connect's ID, access and logout tokens.
    pub fn sign_oidc<T: Serialize>(
        &self,
        algorithm: JwtAlgorithm,
        typ: Option<&str>,
        claims: &T,
        now: OffsetDateTime,
    ) -> Result<String, CoreError> {
        let set = (ID_TOKEN_ALGORITHMS.contains(&algorithm))
            .then(|| self.key_set(algorithm))
            .flatten()
            .ok_or_else(|| CoreError::internal("not an ID-token algorithm"))?;
        let keys = set.read().map_err(|_| CoreError::internal("key set poisoned"))?;
        let signer = keys
            .signer(now)
            .ok_or_else(|| CoreError::internal("no signing key loaded"))?;
        sign(algorithm, signer, typ, claims)
    }

    /// Checks an OpenID Connect token of ours (any ID-token algorithm):
    /// signature, issuer and, unless `allow_expired` (an `id_token_hint`),
    /// expiry. `typ` must match when given.
    pub async fn verify_oidc(
        &self,
        token: &str,
        typ: Option<&str>,
        allow_expired: bool,
    ) -> Result<serde_json::Value, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Invalid)?;
        let algorithm = ID_TOKEN_ALGORITHMS
            .into_iter()
            .find(|a| a.jwt() == header.alg)
            .ok_or(TokenRejection::Invalid)?;
        let set = self.key_set(algorithm).ok_or(TokenRejection::Invalid)?;
        if let Some(typ) = typ
            && !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Invalid)?;
        if !set.read().is_ok_and(|k| k.verifying.contains_key(&kid)) {
            self.reload_if_stale().await;
        }
        let keys = set.read().map_err(|_| TokenRejection::Invalid)?;
        let key = keys.verifying.get(&kid).ok_or(TokenRejection::Invalid)?;
        let mut validation = Validation::new(algorithm.jwt());
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenRejection::Invalid)?;
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .ok_or(TokenRejection::Invalid)?;
        if !allow_expired && exp + EXP_LEEWAY_SECS < self.clock.now().unix_timestamp() {
            return Err(TokenRejection::Expired);
        }
        Ok(claims)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks signature, algorithm, issuer and expiry (one second of leeway).
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenRejection> {
        let known = self.verified.lock().get(token).cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = self.check_signature(token).await?;
                let now = self.clock.now().unix_timestamp();
                let mut verified = self.verified.lock();
                self.verified
                    .insert(&mut verified, token.to_owned(), claims.clone(), |claims| {
                        claims.exp + EXP_LEEWAY_SECS >= now
                    });
                claims
            }
        };
        if claims.exp + EXP_LEEWAY_SECS < self.clock.now().unix_timestamp() {
            return Err(TokenRejection::Expired);
        }
        Ok(claims)
    }

    /// Signature, algorithm, key and issuer; not expiry.
    async fn check_signature(&self, token: &str) -> Result<Claims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Invalid)?;
        if header.alg != self.algorithm.jwt() {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Invalid)?;
        if !self.knows(&kid) {
            // Another instance may have created or rotated a key.
            self.reload_if_stale().await;
        }
        let keys = self.keys.read().map_err(|_| TokenRejection::Invalid)?;
        let key = keys.verifying.get(&kid).ok_or(TokenRejection::Invalid)?;
        let mut validation = Validation::new(self.algorithm.jwt());
        // Expiry is checked below against the core's clock.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenRejection::Invalid)
    }

    /// The public keys, as a JWK set (empty for HS256: its key is secret).
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys = self
            .keys
            .read()
            .map(|keys| keys.public_jwks.clone())
            .unwrap_or_default();
        for (_, set) in &self.oidc_keys {
            if let Ok(oidc) = set.read() {
                keys.extend(oidc.public_jwks.iter().cloned());
            }
        }
        serde_json::json!({ "keys": keys })
    }

    fn knows(&self, kid: &str) -> bool {
        self.keys
            .read()
            .map(|keys| keys.verifying.contains_key(kid))
            .unwrap_or(false)
    }

    /// Reloads the key set, at most every few seconds so that tokens with
    /// made-up key ids cannot drive a query each.
    async fn reload_if_stale(&self) {
        let fresh_enough = self
            .keys
            .read()
            .map(|keys| self.clock.now() - keys.loaded_at < KEY_RELOAD_EVERY)
            .unwrap_or(true);
        if !fresh_enough {
            let _ = self.reload().await;
        }
    }

    /// Loads the keys again (every instance, every `KEY_RELOAD_EVERY`):
    /// a key rotated or retired on another instance takes effect here.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let now = self.clock.now();
        for (algorithm, set) in &self.oidc_keys {
            let loaded = load_keys(&self.store, *algorithm, now, self.verify_window).await?;
            *set.write().map_err(|_| CoreError::internal("key set poisoned"))? = loaded;
        }
        let loaded = load_keys(&self.store, self.algorithm, now, self.verify_window).await?;
        let mut keys = self
            .keys
            .write()
            .map_err(|_| CoreError::internal("key set poisoned"))?;
        let dropped = keys
            .verifying
            .keys()
            .any(|kid| !loaded.verifying.contains_key(kid));
        *keys = loaded;
        if dropped {
            // A key has gone: tokens it signed must be checked again.
            self.verified.lock().clear();
        }
        Ok(())
    }

    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    pub fn verify_window(&self) -> Duration {
        self.verify_window
    }

    /// The key id this instance signs with at `now`, of `algorithm`.
    pub fn signing_kid(&self, algorithm: JwtAlgorithm, now: OffsetDateTime) -> Option<String> {
        let keys = self.key_set(algorithm)?.read().ok()?;
        keys.signer(now).map(|signer| signer.kid.clone())
    }

    /// The algorithms whose keys this instance keeps: the configured one
    /// first, then OpenID Connect's others.
    pub fn algorithms(&self) -> Vec<JwtAlgorithm> {
        let others = self.oidc_keys.iter().map(|(algorithm, _)| *algorithm);
        std::iter::once(self.algorithm).chain(others).collect()
    }
}

mod loading;
mod signing;
use loading::load_keys;
pub(super) use signing::generate_key;
use signing::sign;
