//! Per-client limits (`--rate-limits`): one counter per action and client
//! address, shared through the database by every instance.

use super::audit::AuditKind;
use super::{Core, CoreError, Held, seconds_until};
use crate::domain::{Limited, client_key};
use std::net::IpAddr;

impl Core {
    /// Counts one `action` by `client`; over the limit, refused with how
    /// long until the sliding count is within it again. Nothing is counted when limits are
    /// off or the address is unknown (an in-process caller: every HTTP
    /// request has one).
    pub(super) async fn admit(&self, action: Limited, client: Option<IpAddr>) -> Result<(), CoreError> {
        if client.is_none() {
            return Ok(());
        }
        self.admit_subject(action, &client_key(client)).await
    }

    /// Like [`Self::admit`] for a counter of anything else (an account).
    pub(super) async fn admit_subject(&self, action: Limited, subject: &str) -> Result<(), CoreError> {
        let Some(limits) = &self.settings.rate_limits else {
            return Ok(());
        };
        let rule = limits.of(action);
        let now = self.now();
        let window_start = rule.window_start(now);
        let count = self
            .store
            .hit_rate_limit(
                &limit_key(action, subject),
                window_start,
                window_start - rule.window,
            )
            .await?;
        let Err(wait) = rule.judge(now, count) else {
            return Ok(());
        };
        tracing::warn!(action = action.name(), "per-client limit reached");
        metrics::counter!("klucznik_rate_limit_trips_total", "limit" => action.name()).increment(1);
        let detail = serde_json::json!({ "limit": action.name() });
        self.record(&[self.audit_event(AuditKind::RateLimited, None, None, detail)])
            .await;
        Err(CoreError::TooManyAttempts {
            retry_after_secs: seconds_until(now, now + wait),
            held: Held::ClientLimit,
        })
    }

    /// Takes back a hit counted by [`Self::admit`] that turned out not to
    /// count (a sign-in that succeeded).
    pub(super) async fn readmit(&self, action: Limited, client: Option<IpAddr>) -> Result<(), CoreError> {
        if client.is_none() || self.settings.rate_limits.is_none() {
            return Ok(());
        }
        let key = limit_key(action, &client_key(client));
        Ok(self.store.unhit_rate_limit(&key).await?)
    }
}

fn limit_key(action: Limited, subject: &str) -> String {
    format!("{}:{subject}", action.name())
}
