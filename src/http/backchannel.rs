//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the
//! logout tokens the core owes clients whose sessions ended, POSTed once
//! a second, each retried with a growing pause until a 2xx.

use crate::app::{Core, CoreError};
use std::sync::Arc;
use std::time::Duration;

/// A client that does not answer within this long is tried again later.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One round: every owed logout token, sent.
pub async fn deliver(core: &Arc<Core>, http: &reqwest::Client) -> Result<(), CoreError> {
    for owed in core.owed_logouts().await? {
        let sent = http
            .post(&owed.uri)
            .timeout(DELIVERY_TIMEOUT)
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .form(&[("logout_token", owed.token.as_str())])
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => core.logout_delivered(&owed.session_id).await?,
            Ok(answer) => {
                tracing::warn!(status = %answer.status(), uri = %owed.uri, "back-channel logout refused")
            }
            Err(error) => tracing::warn!(%error, uri = %owed.uri, "back-channel logout not delivered"),
        }
    }
    Ok(())
}

/// The client deliveries go out with: no redirects followed.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}
