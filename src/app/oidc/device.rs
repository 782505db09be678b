//! The device flow (RFC 8628): a device shows a short code, the person
//! types it on `/device` where they are signed in, and the device's polls
//! get tokens once they allow it.

use super::grants::Granted;
use super::model::{DeviceCode, GRANT_DEVICE, OAuthClient};
use super::{OAuthError, TokenResponse, scope_list};
use crate::app::{Core, CoreError, Need, Principal, secrets};
use crate::domain::{Limited, SessionId};
use std::net::IpAddr;
use time::Duration;

const DEVICE_CODE_LIFETIME: Duration = Duration::minutes(10);
const POLL_INTERVAL_SECS: i64 = 5;
/// No vowels: a code never spells a word (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// RFC 8628 §3.2.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// What `/device` shows for a typed code.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    pub user_code: String,
    pub client_name: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    Allow,
    Deny,
}

/// `ABCD-EFGH` typed any way: upper case, without the dash or spaces.
fn normalized(user_code: &str) -> String {
    user_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn displayed(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(4));
    format!("{a}-{b}")
}

impl Core {
    /// Starts a device authorization for `client`.
    /// Each is a row a public client's caller makes the server store, so
    /// it is counted per address like other ceremonies.
    pub async fn start_device_authorization(
        &self,
        client: &OAuthClient,
        scope: Option<&str>,
        verification_uri: String,
        address: Option<IpAddr>,
    ) -> Result<DeviceAuthorization, OAuthError> {
        if !client.allows_grant(GRANT_DEVICE) {
            return Err(OAuthError::new(
                "unauthorized_client",
                "this client may not use the device flow",
            ));
        }
        let scopes = scope_list(scope.unwrap_or("openid"));
        if let Some(bad) = scopes.iter().find(|s| !client.allows_scope(s)) {
            return Err(OAuthError::new(
                "invalid_scope",
                format!("scope {bad} is not allowed"),
            ));
        }
        self.admit(Limited::Ceremonies, address).await?;
        let device_code = secrets::random_secret();
        let random = secrets::random_bytes::<8>();
        let user_code: String = random
            .iter()
            .map(|b| {
                char::from(
                    USER_CODE_ALPHABET
                        .get(usize::from(*b) % USER_CODE_ALPHABET.len())
                        .copied()
                        .unwrap_or(b'B'),
                )
            })
            .collect();
        let now = self.now();
        self.store
            .insert_device_code(&DeviceCode {
                digest: secrets::digest(&device_code),
                user_code: user_code.clone(),
                client_id: client.id.clone(),
                scope: scopes.join(" "),
                expires_at: now + DEVICE_CODE_LIFETIME,
                interval_secs: POLL_INTERVAL_SECS,
                last_polled_at: None,
                decision: None,
                account_id: None,
                parent_session_id: None,
                auth_time: None,
                amr: None,
            })
            .await?;
        let shown = displayed(&user_code);
        let complete = format!("{verification_uri}?user_code={shown}");
        Ok(DeviceAuthorization {
            device_code,
            user_code: shown,
            verification_uri,
            verification_uri_complete: complete,
            expires_in: DEVICE_CODE_LIFETIME.whole_seconds(),
            interval: POLL_INTERVAL_SECS,
        })
    }

    /// The pending code a signed-in person typed; every try is counted
    /// per address (a user code is a short secret).
    pub async fn device_prompt(
        &self,
        user_code: &str,
        client: Option<IpAddr>,
    ) -> Result<DevicePrompt, CoreError> {
        self.admit(Limited::TokenGuesses, client).await?;
        let code = normalized(user_code);
        let found = match code.len() {
            8 => self.store.device_code_by_user_code(&code).await?,
            _ => None,
        };
        let pending = found.filter(|d| d.decision.is_none() && d.expires_at > self.now());
        let Some(device) = pending else {
            return Err(CoreError::NotFound("device code"));
        };
        let client = self
            .registered_client(&device.client_id)
            .await?
            .ok_or(CoreError::NotFound("device code"))?;
        Ok(DevicePrompt {
            user_code: displayed(&device.user_code),
            client_name: client.name,
            scopes: scope_list(&device.scope),
        })
    }

    /// The person's answer for a code they were shown.
    pub async fn decide_device(
        &self,
        principal: &Principal,
        user_code: &str,
        decision: DeviceDecision,
    ) -> Result<(), CoreError> {
        self.permit(principal, Need::Anything).await?;
        let code = normalized(user_code);
        let decided = DeviceCode {
            decision: Some(
                if decision == DeviceDecision::Allow {
                    "approved"
                } else {
                    "denied"
                }
                .into(),
            ),
            account_id: Some(principal.account.id.clone()),
            parent_session_id: Some(principal.session.id.clone()),
            auth_time: Some(super::authorize::auth_time(&principal.session)),
            amr: Some(self.amr(principal).await?),
            ..self
                .store
                .device_code_by_user_code(&code)
                .await?
                .filter(|d| d.expires_at > self.now())
                .ok_or(CoreError::NotFound("device code"))?
        };
        if !self.store.decide_device_code(&code, &decided).await? {
            return Err(CoreError::NotFound("device code"));
        }
        Ok(())
    }

    /// A device's poll (RFC 8628 §3.5).
    pub(super) async fn device_grant(
        &self,
        client: &OAuthClient,
        device_code: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let bad = || OAuthError::invalid_grant("the device code is not valid");
        if device_code.is_empty() || device_code.len() > 256 {
            return Err(bad());
        }
        let digest = secrets::digest(device_code);
        let device = self.store.device_code(&digest).await?.ok_or_else(bad)?;
        if device.client_id != client.id {
            return Err(bad());
        }
        let now = self.now();
        if device.expires_at <= now {
            return Err(OAuthError::new(
                "expired_token",
                "the device code has expired; start again",
            ));
        }
        let too_soon = device
            .last_polled_at
            .is_some_and(|last| now - last < Duration::seconds(device.interval_secs));
        let slower = too_soon.then_some(device.interval_secs + 5);
        self.store.device_polled(&digest, now, slower).await?;
        if too_soon {
            return Err(OAuthError::new("slow_down", "poll less often"));
        }
        match device.decision.as_deref() {
            None => Err(OAuthError::new(
                "authorization_pending",
                "the user has not answered yet",
            )),
            Some("denied") => Err(OAuthError::new("access_denied", "the user did not allow it")),
            Some("approved") => {
                if !self.store.use_device_code(&digest).await? {
                    return Err(bad());
                }
                let parent = device
                    .parent_session_id
                    .clone()
                    .unwrap_or_else(|| SessionId::from(""));
                let Some(principal) = self.live_session(&parent, now).await? else {
                    return Err(OAuthError::new(
                        "access_denied",
                        "the sign-in that allowed it has ended",
                    ));
                };
                self.grant_session(Granted {
                    client,
                    principal: &principal,
                    scope: device.scope,
                    auth_time: device.auth_time.unwrap_or(now),
                    amr: device.amr.unwrap_or_else(|| "pwd".into()),
                    nonce: None,
                    code_digest: None,
                })
                .await
            }
            Some(_) => Err(bad()),
        }
    }
}
