//! The NGO member register: personal data, so every call names its actor
//! and only moderators and admins get through; every change is recorded
//! (who, when, which fields) in the same transaction as the change.

use super::audit::AuditKind;
use super::{Core, CoreError, secrets};
use crate::domain::{Account, Member, MemberData, MemberId, MemberInput, Role};
use crate::store::{MemberChange, MemberPage, StoreError};
use time::OffsetDateTime;

/// A new member id shaped like the seed's (24 hex digits: the time, then
/// random bits), so frontends that check the shape accept it.
fn new_member_id(now: OffsetDateTime) -> String {
    let seconds = u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX);
    let mut id: String = seconds.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
    id.extend(secrets::random_bytes::<8>().iter().map(|b| format!("{b:02x}")));
    id
}

/// The fields whose values differ.
fn changed_fields(old: &MemberData, new: &MemberData) -> Vec<String> {
    old.fields()
        .into_iter()
        .zip(new.fields())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, _), _)| name.to_owned())
        .collect()
}

fn change(
    member_id: &str,
    actor: &Account,
    action: &str,
    fields: Vec<String>,
    at: OffsetDateTime,
) -> MemberChange {
    MemberChange {
        id: uuid::Uuid::now_v7().to_string(),
        member_id: member_id.into(),
        actor_id: actor.id.clone(),
        action: action.to_owned(),
        fields,
        at,
    }
}

fn all_fields() -> Vec<String> {
    MemberData::NAMES.iter().map(|f| (*f).to_owned()).collect()
}

impl Core {
    /// Moderators and admins only.
    pub fn ensure_member_access(actor: &Account) -> Result<(), CoreError> {
        if actor.has_role(Role::Moderator) || actor.has_role(Role::Admin) {
            Ok(())
        } else {
            Err(CoreError::Forbidden)
        }
    }

    /// A member event: who acted, which member, which fields (names only:
    /// the values are personal data).
    fn member_event(
        &self,
        kind: AuditKind,
        actor: &Account,
        id: &MemberId,
        fields: &[String],
    ) -> crate::store::AuditEvent {
        let detail = serde_json::json!({ "member": id.to_string(), "fields": fields });
        self.audit_event(kind, None, Some(actor.id.to_string()), detail)
    }

    pub async fn create_member(&self, actor: &Account, input: MemberInput) -> Result<Member, CoreError> {
        Self::ensure_member_access(actor)?;
        let now = self.now();
        let member = Member {
            id: new_member_id(now).into(),
            data: input.validate()?,
            version: 0,
        };
        let event = self.member_event(AuditKind::MemberCreated, actor, &member.id, &[]);
        match self
            .store
            .insert_member(
                &member,
                &change(&member.id, actor, "create", all_fields(), now),
                &[event],
            )
            .await
        {
            Ok(()) => Ok(member),
            Err(StoreError::Conflict(_)) => Err(CoreError::PeselTaken),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn member(&self, actor: &Account, id: &MemberId) -> Result<Member, CoreError> {
        Self::ensure_member_access(actor)?;
        if id.len() > 128 {
            return Err(CoreError::NotFound("member"));
        }
        self.store.member(id).await?.ok_or(CoreError::NotFound("member"))
    }

    pub async fn list_members(
        &self,
        actor: &Account,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, CoreError> {
        Self::ensure_member_access(actor)?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        Ok(self.store.list_members(search, offset, limit).await?)
    }

    /// Replaces a member's data. With `expected_version`, a member changed
    /// since that version is not overwritten (`StaleVersion`).
    pub async fn update_member(
        &self,
        actor: &Account,
        id: &MemberId,
        input: MemberInput,
        expected_version: Option<i64>,
    ) -> Result<Member, CoreError> {
        let current = self.member(actor, id).await?;
        let data = input.validate()?;
        let base = expected_version.unwrap_or(current.version);
        if base != current.version {
            return Err(CoreError::StaleVersion);
        }
        let fields = changed_fields(&current.data, &data);
        let updated = Member {
            id: current.id.clone(),
            data,
            version: current.version + 1,
        };
        let event = self.member_event(AuditKind::MemberChanged, actor, id, &fields);
        match self
            .store
            .update_member(
                &updated,
                base,
                &change(id, actor, "update", fields, self.now()),
                &[event],
            )
            .await
        {
            Ok(true) => Ok(updated),
            Ok(false) => Err(CoreError::StaleVersion),
            Err(StoreError::Conflict(_)) => Err(CoreError::PeselTaken),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn delete_member(&self, actor: &Account, id: &MemberId) -> Result<(), CoreError> {
        Self::ensure_member_access(actor)?;
        if id.len() > 128
            || !self
                .store
                .delete_member(
                    id,
                    &change(id, actor, "delete", all_fields(), self.now()),
                    &[self.member_event(AuditKind::MemberDeleted, actor, id, &[])],
                )
                .await?
        {
            return Err(CoreError::NotFound("member"));
        }
        Ok(())
    }

    /// Who changed a member, when, and which fields: admins only.
    pub async fn member_history(
        &self,
        actor: &Account,
        id: &MemberId,
    ) -> Result<Vec<MemberChange>, CoreError> {
        if !actor.has_role(Role::Admin) {
            return Err(CoreError::Forbidden);
        }
        let history = self.store.member_history(id).await?;
        if history.is_empty() {
            return Err(CoreError::NotFound("member"));
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_look_like_object_ids() {
        let id = new_member_id(OffsetDateTime::now_utc());
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_member_id(OffsetDateTime::now_utc()));
    }
}
