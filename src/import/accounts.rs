//! An import row as an account: the documented fields (docs/import.md),
//! found under the columns the format names them (or `--map` says), and
//! checked with the rules of sign-up.

use super::rows::{Format, Row, flag, list, text};
use crate::app::foreign_hashes;
use crate::domain::{Account, AccountId, Email, Role, Username};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The fields an imported account has.
pub const FIELDS: &[&str] = &[
    "id",
    "email",
    "username",
    "password_hash",
    "email_verified",
    "roles",
    "created_at",
    "disabled",
    "external_id",
];

/// Stored for an account imported without a password (`--allow-no-password`):
/// no password verifies against it; the owner sets one by a reset.
pub const NO_PASSWORD: &str = "!imported-without-password";

/// Which columns hold each field, in the order they are tried.
pub struct Mapping(HashMap<&'static str, Vec<String>>);

impl Mapping {
    /// The format's own names, then `--map FIELD=COLUMN` on top.
    pub fn new(format: Format, overrides: &[String]) -> Result<Self, String> {
        let mut columns: HashMap<&'static str, Vec<String>> = FIELDS
            .iter()
            .map(|field| (*field, vec![(*field).to_owned()]))
            .collect();
        if format == Format::Mongo {
            // `_id` is the other system's id: kept as the external id.
            columns.insert("id", Vec::new());
            // A Mongoose user of the Node.js tutorials, and seed 001's
            // users with their activation state.
            let mongo: [(&'static str, &[&str]); 4] = [
                ("external_id", &["_id"]),
                ("password_hash", &["password", "password_hash"]),
                (
                    "email_verified",
                    &[
                        "email_verified",
                        "verified",
                        "isVerified",
                        "emailVerified",
                        "active",
                        "activated",
                        "confirmed",
                    ],
                ),
                ("created_at", &["createdAt", "created_at"]),
            ];
            for (field, names) in mongo {
                columns.insert(field, names.iter().map(|n| (*n).to_owned()).collect());
            }
        }
        for pair in overrides {
            let (field, column) = pair
                .split_once('=')
                .ok_or_else(|| format!("--map `{pair}`: write FIELD=COLUMN"))?;
            let field = FIELDS
                .iter()
                .find(|known| **known == field.trim())
                .ok_or_else(|| format!("--map `{pair}`: the fields are {}", FIELDS.join(", ")))?;
            columns.insert(field, vec![column.trim().to_owned()]);
        }
        Ok(Self(columns))
    }

    fn get<'r>(&self, row: &'r Row, field: &str) -> Option<&'r serde_json::Value> {
        self.0
            .get(field)?
            .iter()
            .find_map(|column| row.columns.get(column).filter(|v| !v.is_null()))
    }
}

/// How rows become accounts.
pub struct AccountRules {
    pub mapping: Mapping,
    /// Role ids (ObjectIds of a `roles` collection) to their names.
    pub role_names: HashMap<String, String>,
    pub allow_no_password: bool,
    pub now: OffsetDateTime,
}

impl AccountRules {
    /// The account a row describes, or why it is refused.
    pub fn account(&self, row: &Row) -> Result<Account, String> {
        let field = |name: &str| text(self.mapping.get(row, name));
        let email = field("email")
            .map(|raw| Email::parse(&raw).map_err(|e| format!("email: {e}")))
            .transpose()?;
        let username = field("username")
            .map(|raw| Username::parse(&raw).map_err(|e| format!("username: {e}")))
            .transpose()?;
        if email.is_none() && username.is_none() {
            return Err("neither an email nor a username".into());
        }
        let password_hash = match field("password_hash") {
            Some(hash) => {
                foreign_hashes::recognize(&hash).map_err(|reason| format!("password_hash: {reason}"))?;
                hash
            }
            None if self.allow_no_password => NO_PASSWORD.to_owned(),
            None => return Err("no password_hash (--allow-no-password imports such rows)".into()),
        };
        let mut roles = vec![Role::User];
        for raw in list(self.mapping.get(row, "roles")) {
            let name = self.role_names.get(&raw).map_or(raw.as_str(), String::as_str);
            let name = name.strip_prefix("ROLE_").unwrap_or(name);
            roles.push(Role::parse(name).map_err(|_| format!("roles: unknown role `{raw}`"))?);
        }
        roles.sort();
        roles.dedup();
        let created_at = match self.mapping.get(row, "created_at") {
            None => self.now,
            Some(value) => instant(value).ok_or("created_at: not an RFC 3339 time or milliseconds")?,
        };
        let verified =
            flag(self.mapping.get(row, "email_verified")).map_err(|e| format!("email_verified: {e}"))?;
        let disabled = flag(self.mapping.get(row, "disabled")).map_err(|e| format!("disabled: {e}"))?;
        let id = match field("id") {
            Some(id)
                if id.len() <= 64
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                AccountId::from(id)
            }
            Some(_) => return Err("id: letters, digits, - and _ only, at most 64".into()),
            None => AccountId::generate(),
        };
        Ok(Account {
            id,
            email_verified_at: (verified == Some(true) && email.is_some()).then_some(created_at),
            email,
            custom_username: username.is_some(),
            username: username.map(|u| u.as_str().to_owned()),
            password_hash,
            roles,
            disabled: disabled.unwrap_or(false),
            created_at,
            updated_at: self.now,
            external_id: field("external_id"),
        })
    }
}

/// RFC 3339 text or milliseconds since 1970.
fn instant(value: &serde_json::Value) -> Option<OffsetDateTime> {
    if let Some(millis) = value.as_i64() {
        return OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok();
    }
    let raw = value.as_str()?.trim();
    OffsetDateTime::parse(raw, &Rfc3339).ok().or_else(|| {
        raw.parse::<i64>()
            .ok()
            .and_then(|millis| OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok())
    })
}
