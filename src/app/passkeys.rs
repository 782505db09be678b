//! Passkeys (WebAuthn, with webauthn-rs): several per account, named;
//! used as a second factor after the password, or alone to sign in
//! without one (a discoverable credential with user verification is
//! itself two factors). The relying party is `--public-url`'s host.

use super::audit::AuditKind;
use super::mfa::account_label;
use super::model::{Device, Principal, SignedIn};
use super::{Core, CoreError};
use crate::domain::AccountId;
use crate::store::{Ceremony, PasskeyRecord};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest;
use time::Duration;
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
};

const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// The relying party of `public_url`, or `None` when its host is not a
/// domain name (WebAuthn refuses IP addresses).
pub fn relying_party(public_url: &Url) -> Option<Webauthn> {
    let host = match public_url.host()? {
        url::Host::Domain(domain) => domain.to_owned(),
        _ => return None,
    };
    WebauthnBuilder::new(&host, public_url)
        .ok()?
        .rp_name("Klucznik")
        .build()
        .ok()
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl From<PasskeyRecord> for PasskeySummary {
    fn from(record: PasskeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// The WebAuthn user handle of an account: 16 bytes derived from its id
/// (imported accounts' ids need not be UUIDs).
fn user_handle(account_id: &str) -> Uuid {
    let digest = sha2::Sha256::digest(account_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

fn refused(what: &str) -> impl Fn(webauthn_rs::prelude::WebauthnError) -> CoreError + '_ {
    move |error| {
        tracing::debug!(%error, what, "webauthn refused");
        CoreError::InvalidSecondFactor
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, CoreError> {
    serde_json::to_string(value).map_err(|e| CoreError::internal(format!("webauthn state: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CoreError> {
    serde_json::from_str(text).map_err(|e| CoreError::internal(format!("webauthn state: {e}")))
}

/// A credential as the browser sent it; a malformed one is a wrong answer.
fn answer<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, CoreError> {
    serde_json::from_value(value).map_err(|_| CoreError::InvalidSecondFactor)
}

impl Core {
    /// Whether passkeys work here (the public URL's host is a domain).
    pub fn passkeys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    fn relying(&self) -> Result<&Webauthn, CoreError> {
        self.webauthn.as_deref().ok_or(CoreError::NotFound(
            "passkeys (the public URL's host is not a domain name)",
        ))
    }

    async fn open_ceremony(
        &self,
        account: Option<&AccountId>,
        purpose: &str,
        state: String,
    ) -> Result<String, CoreError> {
        let id = super::secrets::random_secret();
        self.store
            .put_ceremony(&Ceremony {
                id: id.clone(),
                account_id: account.map(ToString::to_string),
                purpose: purpose.to_owned(),
                state,
                expires_at: self.now() + CEREMONY_LIFETIME,
            })
            .await?;
        Ok(id)
    }

    async fn close_ceremony(&self, id: &str, purpose: &str) -> Result<Ceremony, CoreError> {
        self.store
            .take_ceremony(id, purpose, self.now())
            .await?
            .ok_or(CoreError::InvalidSecondFactor)
    }

    pub async fn passkeys(&self, account_id: &AccountId) -> Result<Vec<PasskeySummary>, CoreError> {
        Ok(self
            .store
            .passkeys_of(account_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Starts adding a passkey (step-up): the options for
    /// `navigator.credentials.create`, and the ceremony's id.
    pub async fn begin_passkey_registration(
        &self,
        principal: &Principal,
        password: Option<&str>,
    ) -> Result<(String, Value), CoreError> {
        self.step_up(principal, password).await?;
        let account = &principal.account;
        let existing = self.store.passkeys_of(&account.id).await?;
        let exclude = existing
            .iter()
            .filter_map(|p| decode::<Passkey>(&p.credential).ok())
            .map(|p| p.cred_id().clone())
            .collect::<Vec<_>>();
        let label = account_label(account);
        let (options, state) = self
            .relying()?
            .start_passkey_registration(user_handle(&account.id), &label, &label, Some(exclude))
            .map_err(|e| CoreError::internal(format!("webauthn: {e}")))?;
        // Ask for a discoverable credential, so the passkey can sign in
        // without a password too (the answer is checked the same way).
        let mut options = json!(options);
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), json!("required"));
            selection.insert("requireResidentKey".into(), json!(true));
        }
        let ceremony = self
            .open_ceremony(Some(&account.id), "register", encode(&state)?)
            .await?;
        Ok((ceremony, options))
    }

    /// Finishes adding a passkey with the browser's answer.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony: &str,
        name: &str,
        credential: Value,
    ) -> Result<PasskeySummary, CoreError> {
        let open = self.close_ceremony(ceremony, "register").await?;
        if open.account_id.as_deref() != Some(principal.account.id.as_str()) {
            return Err(CoreError::InvalidSecondFactor);
        }
        let state: PasskeyRegistration = decode(&open.state)?;
        let credential: RegisterPublicKeyCredential = answer(credential)?;
        let passkey = self
            .relying()?
            .finish_passkey_registration(&credential, &state)
            .map_err(refused("registration"))?;
        let name = name.trim();
        let name = if name.is_empty() { "Passkey" } else { name };
        let record = PasskeyRecord {
            id: URL_SAFE_NO_PAD.encode(passkey.cred_id().as_ref()),
            account_id: principal.account.id.to_string(),
            name: name.chars().take(64).collect(),
            credential: encode(&passkey)?,
            created_at: self.now(),
            last_used_at: None,
        };
        let detail = json!({ "factor": "passkey", "passkey": record.id });
        let event = self.audit_event(
            AuditKind::SecondFactorEnabled,
            Some(&principal.account.id),
            None,
            detail,
        );
        self.store.insert_passkey(&record, &[event]).await?;
        Ok(record.into())
    }

    pub async fn rename_passkey(&self, principal: &Principal, id: &str, name: &str) -> Result<(), CoreError> {
        let name: String = name.trim().chars().take(64).collect();
        if name.is_empty() {
            return Err(crate::domain::Invalid::Field {
                field: "name",
                reason: "is required",
            }
            .into());
        }
        if !self
            .store
            .rename_passkey(&principal.account.id, id, &name)
            .await?
        {
            return Err(CoreError::NotFound("passkey"));
        }
        Ok(())
    }

    /// Deletes a passkey (step-up).
    pub async fn delete_passkey(
        &self,
        principal: &Principal,
        id: &str,
        password: Option<&str>,
    ) -> Result<(), CoreError> {
        self.step_up(principal, password).await?;
        let detail = json!({ "factor": "passkey", "passkey": id });
        let event = self.audit_event(
            AuditKind::SecondFactorDisabled,
            Some(&principal.account.id),
            None,
            detail,
        );
        if !self
            .store
            .delete_passkey(&principal.account.id, id, &[event])
            .await?
        {
            return Err(CoreError::NotFound("passkey"));
        }
        Ok(())
    }

    /// The second step with a passkey: options for the account of a live
    /// `mfa_token`.
    pub async fn begin_passkey_second_factor(&self, mfa_token: &str) -> Result<(String, Value), CoreError> {
        let digest = super::secrets::digest(mfa_token);
        let account = self
            .store
            .mfa_challenge_account(&digest, self.now())
            .await?
            .ok_or(CoreError::InvalidSecondFactor)?;
        let account = AccountId::from(account);
        let keys: Vec<Passkey> = self
            .store
            .passkeys_of(&account)
            .await?
            .iter()
            .filter_map(|p| decode(&p.credential).ok())
            .collect();
        if keys.is_empty() {
            return Err(CoreError::InvalidSecondFactor);
        }
        let (options, state) = self
            .relying()?
            .start_passkey_authentication(&keys)
            .map_err(|e| CoreError::internal(format!("webauthn: {e}")))?;
        let ceremony = self
            .open_ceremony(Some(&account), "second_factor", encode(&state)?)
            .await?;
        Ok((ceremony, json!(options)))
    }

    /// Checks a passkey answer as the second factor of `account`.
    pub(super) async fn passkey_second_factor(
        &self,
        account: &AccountId,
        ceremony: &str,
        credential: Value,
    ) -> Result<bool, CoreError> {
        let Ok(open) = self.close_ceremony(ceremony, "second_factor").await else {
            return Ok(false);
        };
        if open.account_id.as_deref() != Some(account.as_str()) {
            return Ok(false);
        }
        let state: PasskeyAuthentication = decode(&open.state)?;
        let Ok(credential) = answer::<PublicKeyCredential>(credential) else {
            return Ok(false);
        };
        let Ok(result) = self.relying()?.finish_passkey_authentication(&credential, &state) else {
            return Ok(false);
        };
        self.passkey_was_used(&result).await?;
        Ok(true)
    }

    async fn passkey_was_used(
        &self,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<(), CoreError> {
        let id = URL_SAFE_NO_PAD.encode(result.cred_id().as_ref());
        if let Some(record) = self.store.passkey(&id).await?
            && let Ok(mut passkey) = decode::<Passkey>(&record.credential)
        {
            passkey.update_credential(result);
            self.store
                .passkey_used(&id, &encode(&passkey)?, self.now())
                .await?;
        }
        Ok(())
    }

    /// Signing in with a passkey alone: options for any of the site's
    /// discoverable credentials.
    pub async fn begin_passkey_sign_in(
        &self,
        client: Option<std::net::IpAddr>,
    ) -> Result<(String, Value), CoreError> {
        // Anyone may start one, and each is stored until it expires.
        self.admit(crate::domain::Limited::Ceremonies, client).await?;
        let (options, state) = self
            .relying()?
            .start_discoverable_authentication()
            .map_err(|e| CoreError::internal(format!("webauthn: {e}")))?;
        let ceremony = self.open_ceremony(None, "sign_in", encode(&state)?).await?;
        // Asked for with a button, not from the autofill of a field.
        let mut options = json!(options);
        if let Some(fields) = options.as_object_mut() {
            fields.remove("mediation");
        }
        Ok((ceremony, options))
    }

    /// Finishes a passkey sign-in: a session for the passkey's account.
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: Value,
        device: Device,
    ) -> Result<SignedIn, CoreError> {
        self.admit(crate::domain::Limited::TokenGuesses, device.address)
            .await?;
        let open = self.close_ceremony(ceremony, "sign_in").await?;
        let state: DiscoverableAuthentication = decode(&open.state)?;
        let credential: PublicKeyCredential = answer(credential)?;
        let relying = self.relying()?;
        let (_, cred_id) = relying
            .identify_discoverable_authentication(&credential)
            .map_err(refused("identify"))?;
        let id = URL_SAFE_NO_PAD.encode(cred_id);
        let record = self
            .store
            .passkey(&id)
            .await?
            .ok_or(CoreError::InvalidSecondFactor)?;
        let passkey: Passkey = decode(&record.credential)?;
        let result = relying
            .finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&passkey)])
            .map_err(refused("sign-in"))?;
        self.passkey_was_used(&result).await?;
        self.readmit(crate::domain::Limited::TokenGuesses, device.address)
            .await?;
        let account = self.account_required(&AccountId::from(record.account_id)).await?;
        if account.disabled {
            return Err(CoreError::AccountDisabled);
        }
        self.start_session(account, super::LoginPolicy::NATIVE, device, super::Proof::Passkey)
            .await
    }
}
