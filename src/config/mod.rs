//! Settings, resolved once at start: flag beats environment (both via clap)
//! beats the TOML file beats the default. Every bad value is reported as one
//! line naming the setting.

use crate::app::{Argon2Cost, CoreSettings, JwtAlgorithm};
use crate::cli::SettingsArgs;
pub use crate::secret::{SecretUrl, redact_url};

mod parse;
mod upstream;
pub use parse::DialectMount;
pub use parse::parse_duration;
use parse::{
    duration, layered, number, parse_database_url, parse_dialect, parse_origin, parse_proxy,
    parse_public_url, parse_rate_limit, parse_secret_key, read_file,
};
use std::net::SocketAddr;
use time::Duration;
pub use upstream::UpstreamEntry;
use url::Url;

/// A setting that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How mail leaves the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailSettings {
    Log,
    File(std::path::PathBuf),
    Smtp(SecretUrl),
}

/// A dialect to mount and where.

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: SecretUrl,
    /// `None`: derived from the bound address at start.
    pub public_url: Option<Url>,
    pub dialects: Vec<DialectMount>,
    pub dev: bool,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The key-encryption key for keys at rest, when set.
    pub secret_key: Option<crate::secret::SecretKey>,
    /// Longest a request may take.
    pub request_timeout: std::time::Duration,
    /// Longest a client may take to send a request's headers.
    pub header_read_timeout: std::time::Duration,
    /// How often the janitor runs; `None`: never in the background.
    pub prune_interval: Option<std::time::Duration>,
    /// Where `/metrics` is served (`--metrics-listen`); `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
    pub argon2: Argon2Cost,
    pub hash_threads: usize,
    pub jwt_algorithm: JwtAlgorithm,
    pub core: CoreSettings,
    /// Not a setting: where the core reads the time (tests move it ahead).
    pub clock: std::sync::Arc<dyn crate::app::clock::Clock>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub mail: MailSettings,
    pub mail_from: String,
    /// The `[[upstream]]` providers to sign in with (design §9).
    pub upstreams: Vec<crate::app::upstream::UpstreamProvider>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://klucznik.db".into(),
            public_url: None,
            dialects: Vec::new(),
            dev: false,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            secret_key: None,
            request_timeout: std::time::Duration::from_secs(30),
            header_read_timeout: std::time::Duration::from_secs(10),
            prune_interval: Some(std::time::Duration::from_secs(600)),
            metrics_listen: None,
            argon2: Argon2Cost::default(),
            hash_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            jwt_algorithm: JwtAlgorithm::EdDsa,
            core: CoreSettings::default(),
            clock: std::sync::Arc::new(crate::app::clock::SystemClock),
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            mail: MailSettings::Log,
            mail_from: "Klucznik <no-reply@localhost>".into(),
            upstreams: Vec::new(),
        }
    }
}

impl Config {
    /// Merges flags and environment (`args`) over the file over defaults.
    pub fn resolve(flags: &SettingsArgs) -> Result<Self, ConfigError> {
        let args = &match &flags.config {
            Some(path) => layered(flags, read_file(path)?)?,
            None => flags.clone(),
        };
        let defaults = Config::default();

        let listen = match args.listen.clone() {
            Some(raw) => raw.parse().map_err(|_| {
                ConfigError::new(
                    "--listen / KLUCZNIK_LISTEN",
                    format!("`{raw}` is not an address like 127.0.0.1:8080"),
                )
            })?,
            None => defaults.listen,
        };
        let database_url = args
            .database_url
            .clone()
            .unwrap_or_else(|| defaults.database_url.expose().to_owned());
        parse_database_url(&database_url)?;
        let public_url = args
            .public_url
            .clone()
            .map(|raw| parse_public_url(&raw))
            .transpose()?;
        let dialects = args
            .apis
            .clone()
            .iter()
            .map(|raw| parse_dialect(raw))
            .collect::<Result<Vec<_>, _>>()?;
        let cors_origins = args
            .cors_origins
            .clone()
            .iter()
            .map(|raw| parse_origin(raw))
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_proxies = args
            .trusted_proxies
            .clone()
            .iter()
            .map(|raw| parse_proxy(raw))
            .collect::<Result<Vec<_>, _>>()?;

        let argon2 = Argon2Cost {
            memory_kib: number(
                args.argon2_m_kib.clone(),
                "--argon2-m-kib / KLUCZNIK_ARGON2_M_KIB",
                defaults.argon2.memory_kib,
            )?,
            iterations: number(
                args.argon2_t.clone(),
                "--argon2-t / KLUCZNIK_ARGON2_T",
                defaults.argon2.iterations,
            )?,
            parallelism: number(
                args.argon2_p.clone(),
                "--argon2-p / KLUCZNIK_ARGON2_P",
                defaults.argon2.parallelism,
            )?,
        };
        argon2
            .params()
            .map_err(|e| ConfigError::new("KLUCZNIK_ARGON2_M_KIB / _T / _P", e.to_string()))?;
        let hash_threads: usize = number(
            args.hash_threads.clone(),
            "--hash-threads / KLUCZNIK_HASH_THREADS",
            defaults.hash_threads,
        )?;
        if !(1..=256).contains(&hash_threads) {
            return Err(ConfigError::new(
                "--hash-threads / KLUCZNIK_HASH_THREADS",
                "must be 1 to 256",
            ));
        }

        let mut core = defaults.core.clone();
        // The core's lifetimes: each keeps its default unless set.
        let lifetimes = [
            (
                &mut core.access_ttl,
                args.access_ttl.clone(),
                "--access-ttl / KLUCZNIK_ACCESS_TTL",
            ),
            (
                &mut core.session_idle,
                args.session_idle.clone(),
                "--session-idle / KLUCZNIK_SESSION_IDLE",
            ),
            (
                &mut core.session_absolute,
                args.session_absolute.clone(),
                "--session-absolute / KLUCZNIK_SESSION_ABSOLUTE",
            ),
            (
                &mut core.fixed_refresh_ttl,
                args.jwt_roles_refresh_ttl.clone(),
                "--jwt-roles-refresh-ttl / KLUCZNIK_JWT_ROLES_REFRESH_TTL",
            ),
            (
                &mut core.prune_after,
                args.prune_after.clone(),
                "--prune-after / KLUCZNIK_PRUNE_AFTER",
            ),
            (
                &mut core.audit_retention,
                args.audit_retention.clone(),
                "--audit-retention / KLUCZNIK_AUDIT_RETENTION",
            ),
        ];
        for (lifetime, raw, setting) in lifetimes {
            *lifetime = duration(raw, setting, *lifetime)?;
        }

        let jwt_algorithm = match args.jwt_algorithm.clone() {
            Some(raw) => JwtAlgorithm::parse(&raw).ok_or_else(|| {
                ConfigError::new(
                    "--jwt-algorithm / KLUCZNIK_JWT_ALGORITHM",
                    format!("`{raw}` is not EdDSA or HS256"),
                )
            })?,
            None => defaults.jwt_algorithm,
        };
        let log_format = match args.log_format.clone().as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "--log-format / KLUCZNIK_LOG_FORMAT",
                    format!("`{other}` is not text or json"),
                ));
            }
        };
        core.rate_limits = match args.rate_limits.clone().as_deref() {
            None | Some("on") => core.rate_limits,
            Some("off") => None,
            Some(other) => {
                return Err(ConfigError::new(
                    "--rate-limits / KLUCZNIK_RATE_LIMITS",
                    format!("`{other}` is not on or off"),
                ));
            }
        };
        if let Some(limits) = core.rate_limits.as_mut() {
            for raw in args.rate_limit.clone() {
                let (action, rule) = parse_rate_limit(&raw)?;
                *limits.of_mut(action) = rule;
            }
        }
        let secret_key = parse_secret_key(args.secret_key.as_deref(), args.secret_key_file.as_deref())?;
        let request_timeout = duration(
            args.request_timeout.clone(),
            "--request-timeout / KLUCZNIK_REQUEST_TIMEOUT",
            Duration::seconds(30),
        )?
        .unsigned_abs();
        let header_read_timeout = duration(
            args.header_read_timeout.clone(),
            "--header-read-timeout / KLUCZNIK_HEADER_READ_TIMEOUT",
            Duration::seconds(10),
        )?
        .unsigned_abs();
        // `0` turns the background janitor off (`klucznik prune` still works).
        let prune_interval = match args.prune_interval.clone() {
            Some(raw) if raw.trim() == "0" => None,
            raw => Some(
                duration(
                    raw,
                    "--prune-interval / KLUCZNIK_PRUNE_INTERVAL",
                    Duration::minutes(10),
                )?
                .unsigned_abs(),
            ),
        };
        let metrics_listen = args
            .metrics_listen
            .clone()
            .map(|raw| {
                raw.trim().parse::<SocketAddr>().map_err(|_| {
                    ConfigError::new(
                        "--metrics-listen / KLUCZNIK_METRICS_LISTEN",
                        format!("`{raw}` is not an address like 127.0.0.1:9090"),
                    )
                })
            })
            .transpose()?;
        // Automatic rotation of the JWT signing key: off unless set.
        core.key_rotation = match args.key_rotation.clone() {
            None => None,
            Some(raw) if matches!(raw.trim(), "0" | "off") => None,
            raw => Some(duration(
                raw,
                "--key-rotation / KLUCZNIK_KEY_ROTATION",
                Duration::days(30),
            )?),
        };
        core.second_factor_roles = args
            .require_mfa_for_role
            .clone()
            .iter()
            .map(|raw| {
                crate::domain::Role::parse(raw).map_err(|_| {
                    ConfigError::new(
                        "--require-mfa-for-role / KLUCZNIK_REQUIRE_MFA_FOR_ROLE",
                        format!("`{raw}` is not user, moderator or admin"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        core.email_sign_in = args.email_sign_in.unwrap_or(core.email_sign_in);
        core.sign_up_closed = match args.sign_up.clone().as_deref() {
            None | Some("open") => false,
            Some("closed") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "--sign-up / KLUCZNIK_SIGN_UP",
                    format!("`{other}` is not open or closed"),
                ));
            }
        };
        core.oidc_dynamic_registration = args
            .oidc_dynamic_registration
            .unwrap_or(core.oidc_dynamic_registration);
        core.require_verified_email = args.require_verified_email.unwrap_or(core.require_verified_email);
        let mail = match args.mail.clone().as_deref() {
            None | Some("log") => MailSettings::Log,
            Some("file") => MailSettings::File(args.mail_dir.clone().unwrap_or_else(|| "mail".into()).into()),
            Some("smtp") => {
                let url = args.smtp_url.clone().ok_or_else(|| {
                    ConfigError::new("--smtp-url / KLUCZNIK_SMTP_URL", "required with --mail smtp")
                })?;
                let parsed = Url::parse(&url).map_err(|e| {
                    ConfigError::new(
                        "--smtp-url / KLUCZNIK_SMTP_URL",
                        format!("`{}`: {e}", redact_url(&url)),
                    )
                })?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host().is_none() {
                    return Err(ConfigError::new(
                        "--smtp-url / KLUCZNIK_SMTP_URL",
                        format!(
                            "`{}` must be smtp://host[:port] or smtps://host[:port]",
                            redact_url(&url)
                        ),
                    ));
                }
                MailSettings::Smtp(url.into())
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "--mail / KLUCZNIK_MAIL_TRANSPORT",
                    format!("`{other}` is not log, file or smtp"),
                ));
            }
        };
        let mail_from = args.mail_from.clone().unwrap_or(defaults.mail_from);
        mail_from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::new("--mail-from / KLUCZNIK_MAIL_FROM", format!("`{mail_from}`: {e}"))
        })?;
        Ok(Config {
            upstreams: upstream::providers(&args.upstream)?,
            mail,
            mail_from,
            listen,
            database_url: database_url.into(),
            public_url,
            dialects,
            dev: args.dev.unwrap_or(defaults.dev),
            cors_origins,
            trusted_proxies,
            secret_key,
            request_timeout,
            header_read_timeout,
            prune_interval,
            metrics_listen,
            argon2,
            hash_threads,
            jwt_algorithm,
            core,
            clock: defaults.clock,
            log_format,
            log_filter: args.log.clone().unwrap_or(defaults.log_filter),
        })
    }

    /// The public URL, or `http://` and the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> Result<Url, ConfigError> {
        match &self.public_url {
            Some(url) => Ok(url.clone()),
            None => Url::parse(&format!("http://{bound}/"))
                .map_err(|e| ConfigError::new("--public-url / KLUCZNIK_PUBLIC_URL", e.to_string())),
        }
    }
}
#[cfg(test)]
mod tests;
