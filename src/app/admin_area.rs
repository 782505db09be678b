//! The admin area's rules (design §10): who may do which admin action from
//! the web page, which actions are dangerous enough to ask for step-up, and
//! the dashboard's figures. The page maps; these decide.

use super::audit::AuditKind;
use super::{Actor, Core, CoreError, Need, Principal};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What someone in the admin area wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// The dashboard, the accounts, the audit trail, the keys, the clients.
    Look,
    /// Roles, disable and enable, end sessions, rotate a key, retire it
    /// gracefully, create or change a client, rotate its secret.
    Change,
    ResetSecondFactors,
    /// For a leaked key: its tokens stop verifying now.
    RetireKeyAtOnce,
    DeleteClient,
    /// The member register: look and change.
    Members,
    /// Delete a member.
    DeleteMember,
}

impl AdminAction {
    fn need(self) -> Need {
        match self {
            Self::Members | Self::DeleteMember => Need::MemberRegister,
            Self::Look
            | Self::Change
            | Self::ResetSecondFactors
            | Self::RetireKeyAtOnce
            | Self::DeleteClient => Need::Admin,
        }
    }

    /// A password or second factor within five minutes, or the password now.
    fn asks_step_up(self) -> bool {
        matches!(
            self,
            Self::ResetSecondFactors | Self::RetireKeyAtOnce | Self::DeleteClient | Self::DeleteMember
        )
    }
}

/// Sign-ins, failed sign-ins and sign-ups per hour, oldest hour first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dashboard {
    /// The first hour's start.
    pub since: Option<OffsetDateTime>,
    pub sign_ins: Vec<u64>,
    pub failures: Vec<u64>,
    pub sign_ups: Vec<u64>,
}

/// The dashboard's span.
const DASHBOARD_HOURS: i64 = 7 * 24;

impl Core {
    /// Whether `principal` may do `action` from the admin area; for a
    /// dangerous one, after step-up (`password` when the last strong
    /// sign-in is over five minutes old).
    pub async fn permit_admin(
        &self,
        principal: &Principal,
        action: AdminAction,
        password: Option<&str>,
    ) -> Result<(), CoreError> {
        self.permit(principal, action.need()).await?;
        if action.asks_step_up() {
            self.step_up(principal, password).await?;
        }
        Ok(())
    }

    /// The last seven days, hour by hour (admins).
    pub async fn dashboard(&self, actor: Actor<'_>) -> Result<Dashboard, CoreError> {
        Self::ensure_admin(actor)?;
        let now = self.now();
        let this_hour = now.unix_timestamp().div_euclid(3600);
        let first = this_hour - DASHBOARD_HOURS + 1;
        let since = OffsetDateTime::from_unix_timestamp(first * 3600)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        let kinds = [
            AuditKind::SignIn.as_str(),
            AuditKind::SignInFailed.as_str(),
            AuditKind::SignUp.as_str(),
        ];
        let rows = self.store.audit_per_hour(&kinds, since).await?;
        let mut per: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for (kind, hour, count) in rows {
            per.insert((kind, hour), u64::try_from(count).unwrap_or(0));
        }
        let series = |kind: &str| {
            (first..=this_hour)
                .map(|hour| per.get(&(kind.to_owned(), hour)).copied().unwrap_or(0))
                .collect()
        };
        let [sign_in, failed, sign_up] = kinds;
        Ok(Dashboard {
            since: Some(since),
            sign_ins: series(sign_in),
            failures: series(failed),
            sign_ups: series(sign_up),
        })
    }
}
