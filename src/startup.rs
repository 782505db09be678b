//! Boots the application once, the same way for `serve` and for tests:
//! bind (port 0 allowed), open and migrate the store, load the signing keys,
//! build the router.

use crate::app::{Core, CoreParts, PasswordHasherPool, TokenService};
use crate::config::{Config, ConfigError, MailSettings, redact_url};
use crate::http::csrf::CsrfSigner;
use crate::http::pages::Pages;
use crate::http::{self, AppState, Shared, WebSettings};
use crate::mail::{Composer, Delivery, MailTransport, spawn_worker};
use crate::store::{self, DynStore};
use axum::Router;
use lettre::message::Mailbox;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use url::Url;

const DATABASE_SETTING: &str = "--database-url / KLUCZNIK_DATABASE_URL";
/// How long requests in flight may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the configured database and applies the migrations.
pub async fn open_store(config: &Config) -> Result<DynStore, ConfigError> {
    let failed = |e: store::StoreError| {
        ConfigError::new(
            DATABASE_SETTING,
            format!("{}: {}", config.database_url, redact_url(&e.to_string())),
        )
    };
    let store = store::connect(
        config.database_url.expose(),
        config.secret_key.as_ref().map(|k| k.bytes()),
    )
    .await
    .map_err(failed)?;
    store
        .migrate()
        .await
        .map_err(|e| failed(store::StoreError::Other(format!("migrating: {e}"))))?;
    Ok(store)
}

/// The core over an open store. `public_url` names this server in its
/// tokens and starts every mailed link; `mail_wake` nudges the outbox worker.
pub async fn open_core(
    config: &Config,
    store: DynStore,
    public_url: &Url,
    mail_wake: Arc<Notify>,
) -> Result<Arc<Core>, ConfigError> {
    let hasher = PasswordHasherPool::new(config.argon2, config.hash_threads)
        .map_err(|e| ConfigError::new("KLUCZNIK_ARGON2_M_KIB / _T / _P", e.to_string()))?;
    let issuer = public_url.as_str().trim_end_matches('/').to_owned();
    // A retired key stays published as long as the longest token an API
    // actually served signs: uid-token's hour only where it is mounted.
    use crate::http::dialects::kit::Dialect;
    let hour_tokens = config
        .dialects
        .iter()
        .any(|d| d.name == crate::http::dialects::uid_token::UidToken::NAME);
    let longest = if hour_tokens {
        crate::app::AccessTerm::LONGEST
    } else {
        config.core.access_ttl
    };
    let tokens = TokenService::load(
        store.clone(),
        config.jwt_algorithm,
        issuer,
        (config.core.access_ttl, longest),
        Arc::clone(&config.clock),
    )
    .await
    .map_err(|e| ConfigError::new(DATABASE_SETTING, format!("cannot load signing keys: {e}")))?;
    Ok(Arc::new(Core::new(CoreParts {
        store,
        hasher,
        tokens,
        settings: config.core.clone(),
        composer: Composer::new(public_url.clone()),
        mail_wake,
        clock: Arc::clone(&config.clock),
        links: Arc::new(http::links::PageLinks {
            public_url: public_url.clone(),
        }),
        webauthn: crate::app::passkeys::relying_party(public_url).map(Arc::new),
        upstream: upstream_providers(config, public_url)?,
    })))
}

/// The `[[upstream]]` providers, each with its callback at this public URL.
fn upstream_providers(
    config: &Config,
    public_url: &url::Url,
) -> Result<crate::app::upstream::Upstream, ConfigError> {
    let base = public_url.as_str().trim_end_matches('/');
    let providers = (config.upstreams.iter().cloned())
        .map(|mut provider| {
            provider.redirect_uri = format!("{base}/login/upstream/{}/callback", provider.name);
            provider
        })
        .collect();
    let network = crate::upstream::ProviderNetwork::new()
        .map_err(|e| ConfigError::new("[[upstream]] (config file)", format!("no HTTP client: {e}")))?;
    Ok(crate::app::upstream::Upstream {
        providers,
        network: Arc::new(network),
    })
}

/// The configured mail transport.
pub fn mail_transport(config: &Config) -> Result<MailTransport, ConfigError> {
    Ok(match &config.mail {
        MailSettings::Log => MailTransport::Log,
        MailSettings::File(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                ConfigError::new(
                    "--mail-dir / KLUCZNIK_MAIL_DIR",
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            MailTransport::File(dir.clone())
        }
        MailSettings::Smtp(url) => MailTransport::smtp(url.expose())
            .map_err(|e| ConfigError::new("--smtp-url / KLUCZNIK_SMTP_URL", redact_url(&e)))?,
    })
}

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    public_url: Url,
    core: Arc<Core>,
    mail: Delivery,
    header_read_timeout: Duration,
    prune_interval: Option<Duration>,
    /// `--metrics-listen`: its listener and router.
    metrics: Option<(TcpListener, Router)>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, ConfigError> {
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            ConfigError::new(
                "--listen / KLUCZNIK_LISTEN",
                format!("cannot bind {}: {e}", config.listen),
            )
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| ConfigError::new("--listen / KLUCZNIK_LISTEN", e.to_string()))?;
        let public_url = config.public_url_for(bound)?;
        let transport = Arc::new(mail_transport(&config)?);
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| ConfigError::new("--mail-from / KLUCZNIK_MAIL_FROM", format!("{e}")))?;
        let store = open_store(&config).await?;
        let wake = Arc::new(Notify::new());
        let core = open_core(&config, store.clone(), &public_url, Arc::clone(&wake)).await?;
        let csrf = CsrfSigner::load(&core)
            .await
            .map_err(|e| ConfigError::new(DATABASE_SETTING, format!("cannot load the CSRF key: {e}")))?;
        let mail = Delivery {
            store,
            transport,
            from,
            wake,
            clock: Arc::clone(&config.clock),
        };
        let web = WebSettings {
            public_url: public_url.clone(),
            public_origin: public_url.origin().ascii_serialization(),
            cors_origins: config.cors_origins.clone(),
            secure_cookies: !config.dev,
            dev: config.dev,
            trusted_proxies: config.trusted_proxies.clone(),
            request_timeout: config.request_timeout,
        };
        let router = http::router(
            AppState::new(Shared {
                core: Arc::clone(&core),
                web,
                pages: Pages::default(),
                csrf,
            }),
            &config.dialects,
            config.metrics_listen.is_some(),
        )
        .map_err(|e| ConfigError::new("--api / KLUCZNIK_API", e.message))?;
        let metrics = match config.metrics_listen {
            Some(address) => Some(metrics_endpoint(address, Arc::clone(&core)).await?),
            None => None,
        };
        Ok(Self {
            listener,
            router,
            public_url,
            core,
            mail,
            header_read_timeout: config.header_read_timeout,
            prune_interval: config.prune_interval,
            metrics,
        })
    }

    /// Where `/metrics` is served, when `--metrics-listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The core behind the router (for the operator's work and for tests).
    pub fn core(&self) -> Arc<Core> {
        Arc::clone(&self.core)
    }

    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// Serves (and delivers mail) until `shutdown` completes, then lets
    /// requests in flight finish for up to ten seconds and stops the worker.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop_mail, mail_stopped) = tokio::sync::watch::channel(false);
        let worker = spawn_worker(self.mail, mail_stopped);
        let janitor = self
            .prune_interval
            .map(|every| spawn_janitor(Arc::clone(&self.core), every));
        let ticker = spawn_ticker(Arc::clone(&self.core));
        let key_rounds = spawn_key_rounds(Arc::clone(&self.core));
        let logouts = spawn_logouts(Arc::clone(&self.core));
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            })
        });
        let served = http::server::serve(
            self.listener,
            self.router,
            shutdown,
            self.header_read_timeout,
            DRAIN_TIMEOUT,
        )
        .await;
        if let Some(janitor) = janitor {
            janitor.abort();
        }
        ticker.abort();
        key_rounds.abort();
        logouts.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        let _ = stop_mail.send(true);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, worker).await;
        served
    }
}

/// Prunes ended rows every `every`, on every instance (deleting twice is
/// harmless).
fn spawn_janitor(core: Arc<Core>, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_rounds(every, "pruning ended rows", move || {
        let core = Arc::clone(&core);
        async move { core.prune().await.map(drop) }
    })
}

/// The store's housekeeping five times a second (SQLite's checkpoint, off
/// the writer's path).
fn spawn_ticker(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    spawn_rounds(Duration::from_millis(200), "store housekeeping", move || {
        let core = Arc::clone(&core);
        async move { core.tick().await }
    })
}

/// Binds `--metrics-listen` and installs the process's metrics recorder.
async fn metrics_endpoint(
    address: SocketAddr,
    core: Arc<Core>,
) -> Result<(TcpListener, Router), ConfigError> {
    const SETTING: &str = "--metrics-listen / KLUCZNIK_METRICS_LISTEN";
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| ConfigError::new(SETTING, format!("cannot bind {address}: {e}")))?;
    let handle = http::metrics::recorder()
        .ok_or_else(|| ConfigError::new(SETTING, "another metrics recorder is installed"))?;
    Ok((listener, http::metrics::router(core, handle)))
}

/// Reloads the signing keys (and rotates them, with `--key-rotation`) on
/// every instance, so a change made on one reaches all within a round.
fn spawn_key_rounds(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    spawn_rounds(Core::key_round(), "signing-key round", move || {
        let core = Arc::clone(&core);
        async move { core.maintain_keys().await }
    })
}

/// Runs `round` every `period`, the first one period after start-up, until
/// aborted. A failed round is tried again the next time; the first failure
/// of a run of them is a warning, the rest (an outage) only debug lines.
/// Back-channel logout tokens, once a second.
fn spawn_logouts(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    let http = crate::http::backchannel::client();
    spawn_rounds(Duration::from_secs(1), "back-channel logout", move || {
        let (core, http) = (Arc::clone(&core), http.clone());
        async move { crate::http::backchannel::deliver(&core, &http).await }
    })
}

fn spawn_rounds<Round, Done>(
    period: Duration,
    what: &'static str,
    round: Round,
) -> tokio::task::JoinHandle<()>
where
    Round: Fn() -> Done + Send + 'static,
    Done: Future<Output = Result<(), crate::app::CoreError>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate.
        ticks.tick().await;
        let mut failing = false;
        loop {
            ticks.tick().await;
            match round().await {
                Ok(()) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, what, "failed; trying again next round");
                }
                Err(error) => tracing::debug!(%error, what, "failed again"),
            }
        }
    })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
