//! Upstream sign-in's rows: linked identities, flows under way, and links
//! waiting for the account's owner.

use super::batch::{Batch, Statement};
use super::db::{Tx, args};
use super::sql::SqlStore;
use super::{AuditEvent, StoreError, audit, from_millis, to_millis};
use crate::app::ports::UpstreamLinks;
use crate::app::upstream::{LinkedIdentity, PendingLink, UpstreamFlow};
use crate::domain::{Account, AccountId};
use time::OffsetDateTime;

type IdentityRow = (String, String, String, Option<String>, i64, Option<i64>);

const SELECT_IDENTITIES: &str =
    "SELECT provider, subject, account_id, email, linked_at, last_signed_in FROM upstream_identities ";

fn identity((provider, subject, account, email, linked, last): IdentityRow) -> LinkedIdentity {
    LinkedIdentity {
        provider,
        subject,
        account_id: AccountId::from(account),
        email,
        linked_at: from_millis(linked),
        last_signed_in: last.map(from_millis),
    }
}

fn insert_identity(identity: &LinkedIdentity) -> Statement {
    Statement::new(
        "INSERT INTO upstream_identities (provider, subject, account_id, email, linked_at, last_signed_in) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            &identity.provider,
            &identity.subject,
            &identity.account_id,
            &identity.email,
            to_millis(identity.linked_at),
            identity.last_signed_in.map(to_millis),
        ],
    )
}

#[async_trait::async_trait]
impl UpstreamLinks for SqlStore {
    async fn insert_upstream_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError> {
        let sql = "INSERT INTO upstream_flows (state_digest, provider, nonce, pkce_verifier, link_account, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        let link_account = flow.link_account.as_ref().map(ToString::to_string);
        let values = args![
            &flow.state_digest,
            &flow.provider,
            &flow.nonce,
            &flow.pkce_verifier,
            link_account,
            to_millis(flow.expires_at),
        ];
        self.db.execute(sql, values).await.map(drop)
    }

    async fn take_upstream_flow(&self, state_digest: &str) -> Result<Option<UpstreamFlow>, StoreError> {
        let sql = "DELETE FROM upstream_flows WHERE state_digest = $1 \
             RETURNING state_digest, provider, nonce, pkce_verifier, link_account, expires_at";
        let row: Option<(String, String, String, String, Option<String>, i64)> =
            self.db.fetch_optional(sql, args![state_digest]).await?;
        Ok(row.map(
            |(state_digest, provider, nonce, pkce_verifier, link, expires)| UpstreamFlow {
                state_digest,
                provider,
                nonce,
                pkce_verifier,
                link_account: link.map(AccountId::from),
                expires_at: from_millis(expires),
            },
        ))
    }

    async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError> {
        let sql = format!("{SELECT_IDENTITIES}WHERE provider = $1 AND subject = $2");
        let row: Option<IdentityRow> = self
            .db
            .fetch_optional(sqlx::AssertSqlSafe(sql), args![provider, subject])
            .await?;
        Ok(row.map(identity))
    }

    async fn identities_of(&self, account: &AccountId) -> Result<Vec<LinkedIdentity>, StoreError> {
        let sql = format!("{SELECT_IDENTITIES}WHERE account_id = $1 ORDER BY linked_at");
        let rows: Vec<IdentityRow> = self
            .db
            .fetch_all(sqlx::AssertSqlSafe(sql), args![account])
            .await?;
        Ok(rows.into_iter().map(identity).collect())
    }

    async fn link_identity(
        &self,
        linked: &LinkedIdentity,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::begin(&self.db).await?;
        let sql = "INSERT INTO upstream_identities (provider, subject, account_id, email, linked_at, last_signed_in) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, subject) DO NOTHING";
        let statement = insert_identity(linked);
        let linked_now = tx.execute(sql, statement.args).await? == 1;
        if linked_now {
            audit::insert_on(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(linked_now)
    }

    async fn insert_upstream_account(
        &self,
        account: &Account,
        identity: &LinkedIdentity,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.add(super::accounts::insert_statement(account));
        batch.add(insert_identity(identity));
        batch.extend(audit::inserts(events));
        batch.run(&self.db).await
    }

    async fn unlink_identity(
        &self,
        account: &AccountId,
        provider: &str,
        subject: &str,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::begin(&self.db).await?;
        let sql = "DELETE FROM upstream_identities WHERE account_id = $1 AND provider = $2 AND subject = $3";
        let gone = tx.execute(sql, args![account, provider, subject]).await? == 1;
        if gone {
            audit::insert_on(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    async fn identity_signed_in(
        &self,
        provider: &str,
        subject: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE upstream_identities SET last_signed_in = $3 WHERE provider = $1 AND subject = $2";
        self.db
            .execute(sql, args![provider, subject, to_millis(at)])
            .await
            .map(drop)
    }

    async fn insert_pending_link(&self, link: &PendingLink) -> Result<(), StoreError> {
        let sql = "INSERT INTO upstream_pending_links (digest, provider, subject, email, account_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        let values = args![
            &link.digest,
            &link.provider,
            &link.subject,
            &link.email,
            &link.account_id,
            to_millis(link.expires_at),
        ];
        self.db.execute(sql, values).await.map(drop)
    }

    async fn take_pending_link(&self, digest: &str) -> Result<Option<PendingLink>, StoreError> {
        let sql = "DELETE FROM upstream_pending_links WHERE digest = $1 \
             RETURNING digest, provider, subject, email, account_id, expires_at";
        let row: Option<(String, String, String, String, String, i64)> =
            self.db.fetch_optional(sql, args![digest]).await?;
        Ok(row.map(
            |(digest, provider, subject, email, account, expires)| PendingLink {
                digest,
                provider,
                subject,
                email,
                account_id: AccountId::from(account),
                expires_at: from_millis(expires),
            },
        ))
    }
}
