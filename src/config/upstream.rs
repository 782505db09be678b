//! `[[upstream]]` tables (design §9): each one provider to sign in with.

use super::ConfigError;
use crate::app::upstream::{UpstreamKind, UpstreamProvider};
use url::Url;

const SETTING: &str = "[[upstream]] (config file)";

/// One `[[upstream]]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamEntry {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub issuer: Option<String>,
    pub client_id: String,
    #[serde(default)]
    pub client_secret_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// `oidc` (the default) or `github`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// An issuer or GitHub base: https, or http on a loopback host.
fn base_url(name: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| refused(name, format!("issuer `{raw}` is not a URL")))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if local => Ok(url),
        _ => Err(refused(
            name,
            "issuer must use https (http only on localhost)".into(),
        )),
    }
}

fn refused(name: &str, message: String) -> ConfigError {
    ConfigError::new(SETTING, format!("{name}: {message}"))
}

/// The providers of the file, checked; their redirect URIs are set at
/// start, once the public URL is known.
pub fn providers(entries: &[UpstreamEntry]) -> Result<Vec<UpstreamProvider>, ConfigError> {
    let mut providers: Vec<UpstreamProvider> = Vec::new();
    for entry in entries {
        let name = entry.name.as_str();
        let good_name = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !good_name {
            return Err(refused(name, "name must be 1 to 40 of a-z, 0-9 and -".into()));
        }
        if providers.iter().any(|p| p.name == name) {
            return Err(refused(name, "the name is used twice".into()));
        }
        if entry.label.trim().is_empty() || entry.client_id.trim().is_empty() {
            return Err(refused(name, "label and client_id are required".into()));
        }
        let kind = match (entry.kind.as_deref().unwrap_or("oidc"), &entry.issuer) {
            ("oidc", Some(issuer)) => UpstreamKind::Oidc {
                issuer: base_url(name, issuer)?,
            },
            ("oidc", None) => return Err(refused(name, "an oidc provider needs its issuer".into())),
            ("github", None) => UpstreamKind::GitHub {
                web: Url::parse("https://github.com").map_err(|e| refused(name, e.to_string()))?,
                api: Url::parse("https://api.github.com").map_err(|e| refused(name, e.to_string()))?,
            },
            // GitHub Enterprise Server: its API is under /api/v3.
            ("github", Some(base)) => {
                let web = base_url(name, base)?;
                let api = Url::parse(&format!("{}/api/v3", web.as_str().trim_end_matches('/')))
                    .map_err(|e| refused(name, e.to_string()))?;
                UpstreamKind::GitHub { web, api }
            }
            (other, _) => return Err(refused(name, format!("kind `{other}` is not oidc or github"))),
        };
        let client_secret = match &entry.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| refused(name, format!("client_secret_file {}: {e}", path.display())))?;
                Some(crate::secret::Secret::from(text.trim().to_owned()))
            }
            None => None,
        };
        let scopes = entry.scopes.clone().unwrap_or_else(|| {
            let defaults: &[&str] = match kind {
                UpstreamKind::Oidc { .. } => &["openid", "email", "profile"],
                UpstreamKind::GitHub { .. } => &["read:user", "user:email"],
            };
            defaults.iter().map(|s| (*s).to_owned()).collect()
        });
        providers.push(UpstreamProvider {
            name: name.to_owned(),
            label: entry.label.trim().to_owned(),
            kind,
            client_id: entry.client_id.trim().to_owned(),
            client_secret,
            scopes,
            redirect_uri: String::new(),
        });
    }
    Ok(providers)
}
