//! `klucznik`: parses the command line and dispatches; everything else is
//! in the library.

use clap::Parser;
use klucznik::cli::{Cli, Command};
use klucznik::config::Config;
use klucznik::operator::{self, CommandError};
use klucznik::startup::{Application, shutdown_signal};
use klucznik::telemetry;
use std::process::ExitCode;

/// jemalloc hands freed pages back within seconds (glibc keeps each hashing
/// thread's 19 MiB Argon2 buffer for the life of the process).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Freed pages go back to the system after a second of disuse, from a
/// background thread (not only when the process next allocates), and with
/// MADV_DONTNEED rather than MADV_FREE, whose pages stay counted as
/// resident until the kernel is short of memory: a quiet server shrinks.
fn return_memory_when_quiet() -> Result<(), tikv_jemalloc_ctl::Error> {
    use tikv_jemalloc_ctl::{Access, AsName};
    for key in [&b"arenas.dirty_decay_ms\0"[..], b"arena.0.dirty_decay_ms\0"] {
        key.name().write(1000_isize)?;
    }
    for key in [&b"arenas.muzzy_decay_ms\0"[..], b"arena.0.muzzy_decay_ms\0"] {
        key.name().write(0_isize)?;
    }
    tikv_jemalloc_ctl::background_thread::write(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(&cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("klucznik: {error}");
            return ExitCode::from(2);
        }
    };
    let log_filter = match cli.command {
        Command::Serve => config.log_filter.clone(),
        _ => cli.settings.log.clone().unwrap_or_else(|| "warn".into()),
    };
    telemetry::init(config.log_format, &log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("klucznik: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = return_memory_when_quiet() {
        eprintln!("klucznik: cannot tune the allocator: {error}");
    }
    // What an operator's command changes is recorded as coming from `cli`.
    let origin = klucznik::app::audit::Origin {
        api: Some("cli"),
        ..Default::default()
    };
    let outcome = runtime.block_on(klucznik::app::audit::with_origin(origin, async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Migrate => operator::migrate(&config).await,
            Command::Prune => operator::prune(&config).await,
            Command::Backup { file } => operator::backup(&config, &file).await,
            Command::Audit(query) => operator::audit(&config, query).await,
            Command::Import(command) => operator::import(&config, command).await,
            Command::Export(command) => operator::export(&config, command).await,
            Command::Keys(command) => operator::keys(&config, command).await,
            Command::User(command) => operator::user(&config, command).await,
            Command::Client(command) => operator::clients::client(&config, command).await,
        }
    }));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Config(error)) => {
            eprintln!("klucznik: {error}");
            ExitCode::from(2)
        }
        Err(CommandError::Failed(message)) => {
            eprintln!("klucznik: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), CommandError> {
    let app = Application::build(config).await?;
    let addr = app
        .local_addr()
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    println!("listening on http://{addr}");
    // Bound before the line above, so the first scrape is answered.
    if let Some(metrics) = app.metrics_addr() {
        println!("metrics on http://{metrics}/metrics");
    }
    tracing::info!(%addr, public_url = %app.public_url(), "listening");
    app.run_until(shutdown_signal())
        .await
        .map_err(|e| CommandError::Failed(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
