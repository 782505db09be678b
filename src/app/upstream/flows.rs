//! The trip to a provider and back: start, callback, linking (with the
//! local owner's confirmation), unlinking.

use super::{
    FlowSecrets, LinkedIdentity, PendingLink, UpstreamFlow, UpstreamIdentity, UpstreamProblem,
    UpstreamProvider,
};
use crate::app::audit::AuditKind;
use crate::app::{Core, CoreError, Device, LoginPolicy, Principal, Proof, SignedIn, secrets};
use crate::domain::{Account, AccountId, Email, Limited, Role};
use serde_json::json;
use std::net::IpAddr;
use time::Duration;

/// How long a trip to a provider may take.
const FLOW_LIFETIME: Duration = Duration::minutes(10);
/// How long a link waits for the account's owner to confirm it.
const PENDING_LINK_LIFETIME: Duration = Duration::minutes(15);
/// The password column of an account that has none (made by an upstream
/// sign-in): no password verifies against it.
pub const NO_PASSWORD: &str = "!none";

/// Where to send the browser, and the state it keeps in a cookie: the
/// callback must come back to the browser that left.
#[derive(Debug, Clone)]
pub struct StartedUpstream {
    pub redirect: url::Url,
    pub state: String,
}

/// What came back to the callback URL.
#[derive(Debug, Clone, Default)]
pub struct UpstreamCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// `access_denied` when the person said no.
    pub error: Option<String>,
}

/// How an upstream sign-in ended.
pub enum UpstreamOutcome {
    SignedIn(Box<SignedIn>),
    /// A signed-in account linked a new identity.
    Linked {
        label: String,
    },
    /// The identity's verified email names an account, not linked yet:
    /// its owner confirms with the account's password.
    ConfirmLink {
        token: String,
        email: String,
        label: String,
    },
}

fn problem(problem: UpstreamProblem) -> CoreError {
    CoreError::Upstream(problem)
}

impl Core {
    /// The configured providers, for the buttons.
    pub fn upstream_providers(&self) -> &[UpstreamProvider] {
        &self.upstream.providers
    }

    fn upstream_provider(&self, name: &str) -> Result<&UpstreamProvider, CoreError> {
        (self.upstream.providers.iter())
            .find(|p| p.name == name)
            .ok_or(problem(UpstreamProblem::UnknownProvider))
    }

    /// Starts a sign-in at provider `name` (or, for `linking`, the link of
    /// a new identity to that signed-in account). Counted per address: each
    /// is a row an anonymous caller makes the server keep for ten minutes.
    pub async fn start_upstream(
        &self,
        name: &str,
        linking: Option<&Principal>,
        address: Option<IpAddr>,
    ) -> Result<StartedUpstream, CoreError> {
        let provider = self.upstream_provider(name)?;
        self.admit(Limited::Ceremonies, address).await?;
        let flow = FlowSecrets {
            state: secrets::random_secret(),
            nonce: secrets::random_secret(),
            pkce_verifier: secrets::random_secret(),
        };
        let redirect = (self.upstream.network)
            .authorization_url(provider, &flow)
            .await
            .map_err(|failure| problem(failure.into()))?;
        self.store
            .insert_upstream_flow(&UpstreamFlow {
                state_digest: secrets::digest(&flow.state),
                provider: provider.name.clone(),
                nonce: flow.nonce,
                pkce_verifier: flow.pkce_verifier,
                link_account: linking.map(|p| p.account.id.clone()),
                expires_at: self.now() + FLOW_LIFETIME,
            })
            .await?;
        Ok(StartedUpstream {
            redirect,
            state: flow.state,
        })
    }

    /// The provider's answer at the callback. `browser_state` is the state
    /// the starting browser kept: a callback opened elsewhere is refused.
    pub async fn finish_upstream(
        &self,
        name: &str,
        callback: UpstreamCallback,
        browser_state: Option<&str>,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<UpstreamOutcome, CoreError> {
        let provider = self.upstream_provider(name)?;
        let state = callback.state.unwrap_or_default();
        let same_browser =
            browser_state.is_some_and(|kept| secrets::constant_time_eq(kept.as_bytes(), state.as_bytes()));
        let flow = match same_browser {
            true => self.store.take_upstream_flow(&secrets::digest(&state)).await?,
            false => None,
        };
        let now = self.now();
        let Some(flow) = flow.filter(|f| f.provider == provider.name && f.expires_at > now) else {
            return Err(problem(UpstreamProblem::StateInvalid));
        };
        if let Some(error) = callback.error {
            return Err(problem(match error.as_str() {
                "access_denied" => UpstreamProblem::Denied(provider.label.clone()),
                _ => {
                    UpstreamProblem::Provider(super::ProviderFailure::Rejected(provider.label.clone(), error))
                }
            }));
        }
        let code = callback.code.unwrap_or_default();
        let secrets = FlowSecrets {
            state,
            nonce: flow.nonce,
            pkce_verifier: flow.pkce_verifier,
        };
        let identity = (self.upstream.network)
            .identity(provider, &code, &secrets)
            .await
            .map_err(|failure| problem(failure.into()))?;
        match flow.link_account {
            Some(account_id) => self.link_to(&account_id, provider, identity).await,
            None => self.sign_in_upstream(provider, identity, device, policy).await,
        }
    }

    /// Links `identity` to a signed-in account (from `/account`).
    async fn link_to(
        &self,
        account_id: &AccountId,
        provider: &UpstreamProvider,
        identity: UpstreamIdentity,
    ) -> Result<UpstreamOutcome, CoreError> {
        if let Some(linked) = self
            .store
            .linked_identity(&provider.name, &identity.subject)
            .await?
        {
            if &linked.account_id == account_id {
                return Ok(UpstreamOutcome::Linked {
                    label: provider.label.clone(),
                });
            }
            return Err(problem(UpstreamProblem::LinkedElsewhere(provider.label.clone())));
        }
        self.link(account_id, provider, &identity).await?;
        Ok(UpstreamOutcome::Linked {
            label: provider.label.clone(),
        })
    }

    async fn link(
        &self,
        account_id: &AccountId,
        provider: &UpstreamProvider,
        identity: &UpstreamIdentity,
    ) -> Result<(), CoreError> {
        let linked = LinkedIdentity {
            provider: provider.name.clone(),
            subject: identity.subject.clone(),
            account_id: account_id.clone(),
            email: identity.email.clone(),
            linked_at: self.now(),
            last_signed_in: None,
        };
        let detail = json!({ "provider": provider.name, "subject": identity.subject });
        let event = self.audit_event(AuditKind::UpstreamLinked, Some(account_id), None, detail);
        if !self.store.link_identity(&linked, &[event]).await? {
            return Err(problem(UpstreamProblem::LinkedElsewhere(provider.label.clone())));
        }
        Ok(())
    }

    /// A linked identity signs in to its account; a new one whose email
    /// the provider verified either waits for the local owner (the address
    /// has an account) or makes an account.
    async fn sign_in_upstream(
        &self,
        provider: &UpstreamProvider,
        identity: UpstreamIdentity,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<UpstreamOutcome, CoreError> {
        if let Some(linked) = self
            .store
            .linked_identity(&provider.name, &identity.subject)
            .await?
        {
            let account = self.account_required(&linked.account_id).await?;
            return self
                .enter_linked(account, provider, &identity.subject, device, policy)
                .await;
        }
        let Some(email) = identity.email.clone().filter(|_| identity.email_verified) else {
            return Err(problem(UpstreamProblem::NoEmail(provider.label.clone())));
        };
        if let Some(owner) = self.account_by_email(&email).await? {
            // No silent takeover: the owner confirms by signing in locally.
            let token = secrets::random_secret();
            self.store
                .insert_pending_link(&PendingLink {
                    digest: secrets::digest(&token),
                    provider: provider.name.clone(),
                    subject: identity.subject.clone(),
                    email: email.clone(),
                    account_id: owner.id,
                    expires_at: self.now() + PENDING_LINK_LIFETIME,
                })
                .await?;
            return Ok(UpstreamOutcome::ConfirmLink {
                token,
                email,
                label: provider.label.clone(),
            });
        }
        let account = self.account_from_upstream(provider, &identity, &email).await?;
        self.enter_linked(account, provider, &identity.subject, device, policy)
            .await
    }

    /// A new account for a new identity, made with its link at once.
    async fn account_from_upstream(
        &self,
        provider: &UpstreamProvider,
        identity: &UpstreamIdentity,
        email: &str,
    ) -> Result<Account, CoreError> {
        self.sign_up_open(crate::app::Actor::Visitor)?;
        let now = self.now();
        let account = Account {
            id: AccountId::generate(),
            email: Some(
                Email::parse(email).map_err(|_| problem(UpstreamProblem::NoEmail(provider.label.clone())))?,
            ),
            username: None,
            password_hash: NO_PASSWORD.into(),
            email_verified_at: Some(now),
            roles: vec![Role::User],
            custom_username: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            external_id: None,
        };
        let linked = LinkedIdentity {
            provider: provider.name.clone(),
            subject: identity.subject.clone(),
            account_id: account.id.clone(),
            email: identity.email.clone(),
            linked_at: now,
            last_signed_in: None,
        };
        let detail = json!({ "roles": ["user"], "provider": provider.name });
        let events = [
            self.audit_event(AuditKind::SignUp, Some(&account.id), None, detail),
            self.audit_event(
                AuditKind::UpstreamLinked,
                Some(&account.id),
                None,
                json!({ "provider": provider.name, "subject": identity.subject }),
            ),
        ];
        self.store
            .insert_upstream_account(&account, &linked, &events)
            .await
            .map_err(crate::app::account_write_error)?;
        tracing::info!(account_id = %account.id, provider = %provider.name, "account created by an upstream sign-in");
        Ok(account)
    }

    /// Signs in to the account an identity is linked to: the same gates
    /// as a password (disabled, unverified email, the second factor).
    async fn enter_linked(
        &self,
        account: Account,
        provider: &UpstreamProvider,
        subject: &str,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<UpstreamOutcome, CoreError> {
        if account.disabled {
            return Err(CoreError::AccountDisabled);
        }
        if self.settings.require_verified_email
            && account.email.is_some()
            && account.email_verified_at.is_none()
        {
            return Err(CoreError::EmailNotVerified);
        }
        let has_factor = self.store.has_second_factor(&account.id).await?;
        let detail = json!({ "provider": provider.name });
        let event = self.audit_event(AuditKind::UpstreamSignIn, Some(&account.id), None, detail);
        self.record(&[event]).await;
        self.store
            .identity_signed_in(&provider.name, subject, self.now())
            .await?;
        self.second_factor_gate_of(&account, policy, has_factor).await?;
        let signed_in = self
            .start_session(account, policy, device, Proof::Elsewhere)
            .await?;
        Ok(UpstreamOutcome::SignedIn(Box::new(signed_in)))
    }

    /// The owner of the account a pending link names confirms it with the
    /// account's password (counted like every password): the identity is
    /// linked, and the sign-in goes on (a second factor still asked).
    pub async fn confirm_upstream_link(
        &self,
        token: &str,
        password: &str,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<UpstreamOutcome, CoreError> {
        let digest = secrets::digest(token);
        let now = self.now();
        let pending = self.store.take_pending_link(&digest).await?;
        let Some(pending) = pending.filter(|p| p.expires_at > now) else {
            return Err(problem(UpstreamProblem::StateInvalid));
        };
        let provider = self.upstream_provider(&pending.provider)?;
        if !self
            .check_own_password(&pending.account_id, password, device.address)
            .await?
        {
            // Kept for another try; the password counters bound them.
            self.store.insert_pending_link(&pending).await?;
            return Err(CoreError::InvalidCredentials);
        }
        let identity = UpstreamIdentity {
            subject: pending.subject.clone(),
            email: Some(pending.email.clone()),
            email_verified: true,
        };
        self.link(&pending.account_id, provider, &identity).await?;
        let account = self.account_required(&pending.account_id).await?;
        self.enter_linked(account, provider, &pending.subject, device, policy)
            .await
    }

    /// The identities linked to the principal's account.
    pub async fn linked_identities(&self, principal: &Principal) -> Result<Vec<LinkedIdentity>, CoreError> {
        Ok(self.store.identities_of(&principal.account.id).await?)
    }

    /// Unlinks an identity, unless it is the last way into the account
    /// (no password, no passkey, no other identity).
    pub async fn unlink_identity(
        &self,
        principal: &Principal,
        provider: &str,
        subject: &str,
    ) -> Result<(), CoreError> {
        let account = &principal.account;
        let identities = self.store.identities_of(&account.id).await?;
        if !identities
            .iter()
            .any(|i| i.provider == provider && i.subject == subject)
        {
            return Err(CoreError::NotFound("linked account"));
        }
        let other_ways = usize::from(account.password_hash != NO_PASSWORD)
            + self.store.passkeys_of(&account.id).await?.len()
            + identities.len().saturating_sub(1);
        if other_ways == 0 {
            return Err(problem(UpstreamProblem::LastWayIn));
        }
        let detail = json!({ "provider": provider, "subject": subject });
        let event = self.audit_event(AuditKind::UpstreamUnlinked, Some(&account.id), None, detail);
        self.store
            .unlink_identity(&account.id, provider, subject, &[event])
            .await?;
        Ok(())
    }
}
