//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of
//! drift either way, each code accepted once) and ten single-use recovery
//! codes; the sign-in step between a right password and a session (the
//! `mfa_token`: five minutes, single use, bound to the account, five
//! tries); and step-up (the password, or a sign-in in the last five
//! minutes, before a factor is enrolled or removed, recovery codes are
//! renewed or the email address is changed; changing the password asks
//! for the current one anyway).

use super::audit::AuditKind;
use super::model::{Device, LoginPolicy, Principal, SessionLength, SignedIn};
use super::{Core, CoreError, secrets};
use crate::domain::{Account, AccountId};
use crate::secret::Secret;
use crate::store::{AuditEvent, MfaChallenge};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use totp_rs::{Algorithm, TOTP};

const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);
const CHALLENGE_TRIES: u32 = 5;
const RECOVERY_CODES: usize = 10;
const STEP_SECONDS: i64 = 30;
/// The name authenticator apps show for the account.
const ISSUER: &str = "Klucznik";

/// What enrolling an authenticator app shows once.
pub struct TotpEnrolment {
    /// Base32, for typing in.
    pub secret: Secret,
    /// `otpauth://totp/…`, what the QR code holds.
    pub uri: Secret,
    /// The QR code of `uri`, as SVG.
    pub qr_svg: String,
}

/// Which second factors an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactorStatus {
    pub totp: bool,
    pub recovery_codes_left: u64,
    pub passkeys: u64,
}

/// The second step of a sign-in.
pub enum SecondFactor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
    /// The answer to `begin_passkey_second_factor`'s ceremony.
    Passkey {
        ceremony: &'a str,
        credential: serde_json::Value,
    },
}

fn totp_of(secret: Vec<u8>, account_name: String) -> Result<TOTP, CoreError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS as u64,
        secret,
        Some(ISSUER.into()),
        account_name,
    )
    .map_err(|e| CoreError::internal(format!("TOTP: {e}")))
}

/// The step (of 30 s) whose code `code` is, within one step of `now`.
fn matching_step(totp: &TOTP, code: &str, now: OffsetDateTime) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.unix_timestamp() / STEP_SECONDS;
    // Each candidate is compared, in constant time, whatever matched.
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let expected = totp.generate(u64::try_from(step * STEP_SECONDS).ok()?);
        if secrets::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// `xxxxx-xxxxx` from `[a-z0-9]`: 51 bits each.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = secrets::random_bytes::<10>();
    let letters: String = bytes
        .iter()
        .map(|b| {
            char::from(
                ALPHABET
                    .get(usize::from(*b) % ALPHABET.len())
                    .copied()
                    .unwrap_or(b'a'),
            )
        })
        .collect();
    let (first, second) = letters.split_at(5);
    format!("{first}-{second}")
}

/// The form codes are compared in: lower case, no spaces or dashes.
fn canonical_recovery_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Core {
    /// Which second factors the account has.
    pub async fn second_factors(&self, account_id: &AccountId) -> Result<SecondFactorStatus, CoreError> {
        let totp = self.store.totp(account_id).await?;
        Ok(SecondFactorStatus {
            totp: totp.is_some_and(|t| t.confirmed_at.is_some()),
            recovery_codes_left: self.store.recovery_codes_left(account_id).await?,
            passkeys: self.store.passkeys_of(account_id).await?.len() as u64,
        })
    }

    /// Starts enrolling an authenticator app: a new secret, shown once,
    /// that counts after `confirm_totp`.
    pub async fn begin_totp(
        &self,
        principal: &Principal,
        password: Option<&str>,
    ) -> Result<TotpEnrolment, CoreError> {
        self.step_up(principal, password).await?;
        let account = &principal.account;
        let secret = secrets::random_bytes::<20>().to_vec();
        if !self.store.put_totp(&account.id, &secret, self.now()).await? {
            return Err(CoreError::SecondFactorEnrolled);
        }
        let totp = totp_of(secret, account_label(account))?;
        let uri = totp.get_url();
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| CoreError::internal(format!("QR code: {e}")))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Ok(TotpEnrolment {
            secret: totp.get_secret_base32().into(),
            uri: uri.into(),
            qr_svg,
        })
    }

    /// Confirms the app with its first code; answers the ten recovery
    /// codes, shown this once.
    pub async fn confirm_totp(&self, principal: &Principal, code: &str) -> Result<Vec<String>, CoreError> {
        let account = &principal.account;
        let pending = self
            .store
            .totp(&account.id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
            .ok_or(CoreError::SecondFactorMissing)?;
        let totp = totp_of(pending.secret, account_label(account))?;
        let now = self.now();
        // Counted with the account's second-factor tries at sign-in: a
        // pending enrolment's code cannot be walked either.
        let attempt = self.reserve_second_factor_try(&account.id).await?;
        let step = matching_step(&totp, code, now);
        self.second_factor_try_done(attempt, step.is_some()).await?;
        let step = step.ok_or(CoreError::InvalidSecondFactor)?;
        let (codes, digests) = self.new_recovery_codes().await?;
        let event = self.audit_event(
            AuditKind::SecondFactorEnabled,
            Some(&account.id),
            None,
            json!({ "factor": "totp" }),
        );
        if !self
            .store
            .confirm_totp(&account.id, step, &digests, now, &[event])
            .await?
        {
            return Err(CoreError::SecondFactorMissing);
        }
        Ok(codes)
    }

    /// Removes the authenticator app and the recovery codes.
    pub async fn disable_totp(&self, principal: &Principal, password: Option<&str>) -> Result<(), CoreError> {
        self.step_up(principal, password).await?;
        let account_id = &principal.account.id;
        let event = self.audit_event(
            AuditKind::SecondFactorDisabled,
            Some(account_id),
            None,
            json!({ "factor": "totp" }),
        );
        if !self.store.remove_second_factors(account_id, &[event]).await? {
            return Err(CoreError::SecondFactorMissing);
        }
        Ok(())
    }

    /// Ten new recovery codes; the old ones die.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        password: Option<&str>,
    ) -> Result<Vec<String>, CoreError> {
        self.step_up(principal, password).await?;
        let account_id = &principal.account.id;
        if !self.second_factors(account_id).await?.totp {
            return Err(CoreError::SecondFactorMissing);
        }
        let (codes, digests) = self.new_recovery_codes().await?;
        let event = self.audit_event(AuditKind::RecoveryCodesRenewed, Some(account_id), None, json!({}));
        self.store
            .replace_recovery_codes(account_id, &digests, self.now(), &[event])
            .await?;
        Ok(codes)
    }

    /// An admin removes an account's second factors (a lost phone).
    pub async fn reset_second_factors(
        &self,
        actor: super::Actor<'_>,
        id: &AccountId,
    ) -> Result<(), CoreError> {
        Self::ensure_admin(actor)?;
        let account = self.account_required(id).await?;
        let by = super::audit::actor_id(actor);
        let event = self.audit_event(
            AuditKind::SecondFactorDisabled,
            Some(id),
            by,
            json!({ "by": "admin" }),
        );
        let mut removed = self
            .store
            .remove_second_factors(id, std::slice::from_ref(&event))
            .await?;
        // A lost phone may have held the passkeys too: all of them go.
        for passkey in self.store.passkeys_of(id).await? {
            let event = AuditEvent {
                id: uuid::Uuid::now_v7().to_string(),
                detail: json!({ "by": "admin", "factor": "passkey", "passkey": passkey.id }),
                ..event.clone()
            };
            removed |= self.store.delete_passkey(id, &passkey.id, &[event]).await?;
        }
        if !removed {
            return Err(CoreError::SecondFactorMissing);
        }
        self.notify(&account, super::audit::AuditKind::SecondFactorDisabled)
            .await;
        Ok(())
    }

    async fn new_recovery_codes(&self) -> Result<(Vec<String>, Vec<String>), CoreError> {
        let key = self.code_key().await?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let digests = codes
            .iter()
            .map(|code| secrets::keyed_digest(key, &canonical_recovery_code(code)))
            .collect();
        Ok((codes, digests))
    }

    /// Whether the account must enrol a second factor first
    /// (`--require-mfa-for-role`) and has none.
    pub async fn must_enrol_second_factor(&self, account: &Account) -> Result<bool, CoreError> {
        if !self.second_factor_required_of(account) {
            return Ok(false);
        }
        Ok(!self.store.has_second_factor(&account.id).await?)
    }

    /// Whether the account's roles call for a second factor.
    fn second_factor_required_of(&self, account: &Account) -> bool {
        self.settings
            .second_factor_roles
            .iter()
            .any(|role| account.has_role(*role))
    }

    /// After a right password: a sign-in challenge when the account has a
    /// second factor (the error carries its token), nothing otherwise. An
    /// API without a second step refuses such accounts, and those that
    /// must enrol one first.
    pub(super) async fn second_factor_gate(
        &self,
        account: &Account,
        policy: LoginPolicy,
    ) -> Result<(), CoreError> {
        let has_factor = self.store.has_second_factor(&account.id).await?;
        self.second_factor_gate_of(account, policy, has_factor).await
    }

    /// `second_factor_gate`, where whether the account has a second factor
    /// was read with it.
    pub(super) async fn second_factor_gate_of(
        &self,
        account: &Account,
        policy: LoginPolicy,
        has_factor: bool,
    ) -> Result<(), CoreError> {
        let length = policy.length;
        if !has_factor {
            if !policy.second_step && self.second_factor_required_of(account) {
                return Err(CoreError::SecondFactorEnrolmentRequired);
            }
            return Ok(());
        }
        if !policy.second_step {
            return Err(CoreError::SecondFactorRequired {
                mfa_token: String::new().into(),
            });
        }
        let token = secrets::random_secret();
        let now = self.now();
        self.store
            .insert_mfa_challenge(&MfaChallenge {
                digest: secrets::digest(&token),
                account_id: account.id.to_string(),
                remember_me: length == SessionLength::RememberMe,
                created_at: now,
                expires_at: now + CHALLENGE_LIFETIME,
            })
            .await?;
        Err(CoreError::SecondFactorRequired {
            mfa_token: token.into(),
        })
    }

    /// Completes a sign-in with the `mfa_token` and a second factor.
    #[tracing::instrument(skip_all)]
    pub async fn login_second_factor(
        &self,
        mfa_token: &str,
        factor: SecondFactor<'_>,
        device: Device,
    ) -> Result<SignedIn, CoreError> {
        if mfa_token.is_empty() || mfa_token.len() > 256 {
            return Err(CoreError::InvalidSecondFactor);
        }
        self.admit(crate::domain::Limited::TokenGuesses, device.address)
            .await?;
        let now = self.now();
        let digest = secrets::digest(mfa_token);
        let challenge = self
            .store
            .take_mfa_challenge_try(&digest, now, CHALLENGE_TRIES)
            .await?
            .ok_or(CoreError::InvalidSecondFactor)?;
        let account_id = AccountId::from(challenge.account_id.clone());
        let account = self.account_required(&account_id).await?;
        let attempt = self.reserve_second_factor_try(&account_id).await?;
        let proof = match factor {
            SecondFactor::Passkey { .. } => super::Proof::PasswordAndPasskey,
            SecondFactor::Totp(_) | SecondFactor::RecoveryCode(_) => super::Proof::PasswordAndCode,
        };
        let right = match factor {
            SecondFactor::Totp(code) => {
                let totp = self
                    .store
                    .totp(&account_id)
                    .await?
                    .filter(|t| t.confirmed_at.is_some());
                match totp {
                    Some(totp) => {
                        match matching_step(&totp_of(totp.secret, account_label(&account))?, code, now) {
                            // A code already accepted (replayed) fails here.
                            Some(step) => self.store.take_totp_step(&account_id, step).await?,
                            None => false,
                        }
                    }
                    None => false,
                }
            }
            SecondFactor::RecoveryCode(code) => {
                let key = self.code_key().await?;
                let digest = secrets::keyed_digest(key, &canonical_recovery_code(code));
                let event = self.audit_event(AuditKind::RecoveryCodeUsed, Some(&account_id), None, json!({}));
                let used = self
                    .store
                    .use_recovery_code(&account_id, &digest, now, &[event])
                    .await?;
                if used {
                    self.notify(&account, AuditKind::RecoveryCodeUsed).await;
                }
                used
            }
            SecondFactor::Passkey { ceremony, credential } => {
                self.passkey_second_factor(&account_id, ceremony, credential)
                    .await?
            }
        };
        self.second_factor_try_done(attempt, right).await?;
        if !right {
            let event = self.audit_event(
                AuditKind::SignInFailed,
                Some(&account_id),
                None,
                json!({ "reason": "wrong_second_factor" }),
            );
            self.record(&[event]).await;
            return Err(CoreError::InvalidSecondFactor);
        }
        if !self.store.finish_mfa_challenge(&digest, now).await? {
            return Err(CoreError::InvalidSecondFactor);
        }
        self.readmit(crate::domain::Limited::TokenGuesses, device.address)
            .await?;
        if account.disabled {
            return Err(CoreError::AccountDisabled);
        }
        let length = if challenge.remember_me {
            SessionLength::RememberMe
        } else {
            SessionLength::Normal
        };
        // Only the native API and the page have a second step.
        let policy = super::LoginPolicy::NATIVE.with_length(length);
        self.start_session(account, policy, device, proof).await
    }

    /// Mails the owner a notice of a change to their second factors.
    async fn notify(&self, account: &Account, kind: AuditKind) {
        let Some(email) = account.email.as_deref() else {
            return;
        };
        let mail = match self.compose(
            crate::mail::Lang::En,
            email,
            crate::mail::Mail::SecurityNotice {
                email,
                what: kind.as_str(),
            },
        ) {
            Ok(mail) => mail,
            Err(error) => {
                tracing::warn!(%error, "security notice not composed");
                return;
            }
        };
        match self.store.enqueue_mail(&mail).await {
            Ok(()) => self.mail_wake.notify_one(),
            Err(error) => tracing::warn!(%error, "security notice not queued"),
        }
    }
}

/// How authenticator apps and passkeys name the account.
pub(super) fn account_label(account: &Account) -> String {
    account
        .email
        .as_deref()
        .or(account.username.as_deref())
        .unwrap_or(account.id.as_str())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_neighbouring_steps_match_and_no_others() {
        let totp = totp_of(b"12345678901234567890".to_vec(), "a".into()).unwrap();
        // RFC 6238's SHA-1 vector at 59 s: 94287082, of which 6 digits.
        let at = OffsetDateTime::from_unix_timestamp(59).unwrap();
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(matching_step(&totp, "287082", at), Some(1));
        let later = at + Duration::seconds(30);
        assert_eq!(
            matching_step(&totp, "287082", later),
            Some(1),
            "one step of drift"
        );
        let much_later = at + Duration::seconds(90);
        assert_eq!(matching_step(&totp, "287082", much_later), None);
        assert_eq!(matching_step(&totp, "28708", at), None);
        assert_eq!(canonical_recovery_code(" AbCd3-eFgH5 "), "abcd3efgh5");
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(code.find('-'), Some(5));
    }
}
