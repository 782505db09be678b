//! Parsing of single settings: each refusal names the setting it came from.

use super::{ConfigError, redact_url};
use crate::cli::SettingsArgs;
use std::path::Path;
use time::Duration;
use url::Url;

const CONFIG_SETTING: &str = "--config / KLUCZNIK_CONFIG";

/// The TOML file's settings, in the flags' own struct. A number is taken
/// where the flag takes text (`argon2_m_kib = 19456`).
pub(super) fn read_file(path: &Path) -> Result<SettingsArgs, ConfigError> {
    let refused = |reason: String| ConfigError::new(CONFIG_SETTING, format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| refused(format!("cannot be read: {e}")))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| refused(e.message().to_owned()))?;
    for (_, value) in table.iter_mut() {
        if let toml::Value::Integer(_) | toml::Value::Float(_) = value {
            *value = toml::Value::String(value.to_string());
        }
    }
    table
        .try_into()
        .map_err(|e: toml::de::Error| refused(e.message().to_owned()))
}

/// `flags` over `file`: a setting the flags (or the environment) leave out
/// comes from the file; a list given there replaces the file's.
pub(super) fn layered(flags: &SettingsArgs, file: SettingsArgs) -> Result<SettingsArgs, ConfigError> {
    let merge_failed = |e: serde_json::Error| ConfigError::new(CONFIG_SETTING, e.to_string());
    let serde_json::Value::Object(mut merged) = serde_json::to_value(file).map_err(merge_failed)? else {
        return Err(ConfigError::new(CONFIG_SETTING, "settings are not a table"));
    };
    if let serde_json::Value::Object(given) = serde_json::to_value(flags).map_err(merge_failed)? {
        for (key, value) in given {
            let left_out = value.is_null() || value.as_array().is_some_and(Vec::is_empty);
            if !left_out {
                merged.insert(key, value);
            }
        }
    }
    let mut settings: SettingsArgs =
        serde_json::from_value(serde_json::Value::Object(merged)).map_err(merge_failed)?;
    // Not in the file, nor in its serialised form.
    settings.config = flags.config.clone();
    settings.secret_key = flags.secret_key.clone();
    Ok(settings)
}

pub(super) fn parse_database_url(raw: &str) -> Result<(), ConfigError> {
    const SETTING: &str = "--database-url / KLUCZNIK_DATABASE_URL";
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|scheme| raw.starts_with(scheme)) {
        return Err(ConfigError::new(
            SETTING,
            format!("`{}` must start with sqlite:// or postgres://", redact_url(raw)),
        ));
    }
    if raw.starts_with("postgres") && Url::parse(raw).is_err() {
        return Err(ConfigError::new(SETTING, "malformed PostgreSQL URL"));
    }
    Ok(())
}

pub(super) fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    const SETTING: &str = "--public-url / KLUCZNIK_PUBLIC_URL";
    let url = Url::parse(raw).map_err(|e| ConfigError::new(SETTING, format!("`{raw}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            SETTING,
            format!("`{raw}` must be an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

/// `10.0.0.0/8`, `2001:db8::/32`, or one address.
pub(super) fn parse_proxy(raw: &str) -> Result<ipnet::IpNet, ConfigError> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            ConfigError::new(
                "--trusted-proxies / KLUCZNIK_TRUSTED_PROXIES",
                format!("`{raw}` is not an address or a CIDR block like 10.0.0.0/8"),
            )
        })
}

pub(super) fn parse_origin(raw: &str) -> Result<String, ConfigError> {
    const SETTING: &str = "--cors-origin / KLUCZNIK_CORS_ORIGINS";
    let url = Url::parse(raw.trim()).map_err(|e| ConfigError::new(SETTING, format!("`{raw}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || url.path() != "/" {
        return Err(ConfigError::new(
            SETTING,
            format!("`{raw}` must be an origin like https://app.example.com"),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

pub(super) fn parse_dialect(raw: &str) -> Result<DialectMount, ConfigError> {
    DialectMount::parse(raw).map_err(|message| ConfigError::new("--api / KLUCZNIK_API", message))
}

pub(super) fn number<T: std::str::FromStr>(
    raw: Option<String>,
    setting: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match raw {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(setting, format!("`{raw}` is not a whole number"))),
        None => Ok(default),
    }
}

pub(super) fn duration(
    raw: Option<String>,
    setting: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    parse_duration(&raw).filter(|d| d.is_positive()).ok_or_else(|| {
        ConfigError::new(
            setting,
            format!("`{raw}` is not a duration like 30s, 15m, 1h or 7d"),
        )
    })
}

/// `30s`, `15m`, `1h`, `7d`, or a number of seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let value: i64 = digits.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::seconds(value)),
        "m" => Some(Duration::minutes(value)),
        "h" => Some(Duration::hours(value)),
        "d" => Some(Duration::days(value)),
        _ => None,
    }
}

/// The key-encryption key from `KLUCZNIK_SECRET_KEY` or the file
/// `--secret-key-file` names (not both). Refusals never echo the value.
pub(super) fn parse_secret_key(
    value: Option<&str>,
    file: Option<&str>,
) -> Result<Option<crate::secret::SecretKey>, ConfigError> {
    const SETTING: &str = "KLUCZNIK_SECRET_KEY / --secret-key-file";
    let text = match (value, file) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err(ConfigError::new(SETTING, "set one of the two, not both")),
        (Some(value), None) => zeroize::Zeroizing::new(value.to_owned()),
        (None, Some(path)) => zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(SETTING, format!("cannot read {path}: {e}")))?,
        ),
    };
    crate::secret::SecretKey::parse(&text)
        .map(Some)
        .ok_or_else(|| ConfigError::new(SETTING, "must be base64 of 32 bytes (openssl rand -base64 32)"))
}

/// `signup=20/1h`: a limit's name, how many, in how long.
pub(super) fn parse_rate_limit(
    raw: &str,
) -> Result<(crate::domain::Limited, crate::domain::RateLimit), ConfigError> {
    const SETTING: &str = "--rate-limit / KLUCZNIK_RATE_LIMIT";
    let refused = || {
        ConfigError::new(
            SETTING,
            format!(
                "`{raw}` is not NAME=COUNT/WINDOW (like signup=20/1h) with NAME one of \
                 signin, signup, guess, resend, recovery, recovery-account, email-change, ceremony"
            ),
        )
    };
    let (name, rule) = raw.trim().split_once('=').ok_or_else(refused)?;
    let (count, window) = rule.split_once('/').ok_or_else(refused)?;
    let action = crate::domain::Limited::parse(name.trim()).ok_or_else(refused)?;
    let limit = count
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(refused)?;
    let window = parse_duration(window)
        .filter(|d| d.is_positive())
        .ok_or_else(refused)?;
    Ok((action, crate::domain::RateLimit { limit, window }))
}

/// A dialect to mount (`--api NAME[@PREFIX]`) and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectMount {
    pub name: String,
    pub prefix: Option<String>,
}

impl DialectMount {
    /// `NAME` or `NAME@/prefix`; whether this build knows NAME is for the
    /// mounting to say (`http::dialects::mount`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (name, prefix) = match raw.split_once('@') {
            Some((name, prefix)) => (name, Some(prefix)),
            None => (raw, None),
        };
        if name.is_empty() {
            return Err("a dialect needs a name, like verify-code or auth-token@/legacy".into());
        }
        let prefix = match prefix {
            Some(p) if p.starts_with('/') && p.len() > 1 && !p.ends_with('/') => Some(p.to_owned()),
            Some(p) => return Err(format!("prefix `{p}` must start with / and not end with /")),
            None => None,
        };
        Ok(Self {
            name: name.to_owned(),
            prefix,
        })
    }
}
