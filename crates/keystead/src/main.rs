//! The `keystead` binary: `serve`, `init`, `account create` and `bench`.
//!
//! Parses the command line, loads configuration once, sets up logging and hands over to
//! `keystead-server`. Nothing else happens here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use keystead_server::config::{self, Config, LogFormat, Overrides};

mod audit_cmd;
mod bench;
mod service_cmd;

/// mimalloc instead of glibc's malloc: every request allocates on a tokio worker and its audit
/// record is freed on the audit writer's thread, a pattern glibc's per-thread arenas handle
/// poorly (measured in the README's performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted key management service that speaks the AWS KMS protocol.
///
/// Point the aws CLI, boto3 or any AWS SDK at it with --endpoint-url.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the KMS API. Initializes the data directory on first start.
    Serve(ServeArgs),
    /// Initialize a data directory: root key, database, first account and its credentials.
    Init {
        /// The data directory to create.
        #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Manage accounts of a data directory.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage credentials that act as a service principal (rds.amazonaws.com, ...).
    #[command(subcommand, name = "service-credentials")]
    ServiceCredentials(service_cmd::ServiceCredentialsCommand),
    /// Verify the audit trail, export its public key, export its records.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Load-test a running keystead with SigV4-signed requests.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create a further account with its own root access key, printed once and saved as profile
    /// keystead-ACCOUNT in the credentials file. A running server learns of it when restarted.
    Create {
        /// The data directory (initialized by `keystead init` or a first `keystead serve`).
        #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// `keystead serve`. Every flag can also be set by its KEYSTEAD_* environment variable or in
/// the TOML file given by --config; flags win over the environment, which wins over the file.
#[derive(Args)]
struct ServeArgs {
    /// A TOML configuration file (fields: data_dir, listen, dev, tls_cert, tls_key,
    /// max_body_bytes, log_format, worker_interval_secs, danger_test_clock, audit,
    /// [rotation.hooks]).
    #[arg(long, env = "KEYSTEAD_CONFIG")]
    config: Option<PathBuf>,
    /// Where the root key, database and credentials live [default: ./keystead-data, or a
    /// temporary directory with --dev].
    #[arg(long, env = "KEYSTEAD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:4599]. Port 0 picks a free port; the
    /// chosen address is printed on standard output.
    #[arg(long, env = "KEYSTEAD_LISTEN")]
    listen: Option<String>,
    /// Development mode: accept ANY access key without checking signatures (a 12-digit access
    /// key id names the account, anything else is account 000000000000). Loopback only.
    #[arg(long, env = "KEYSTEAD_DEV", num_args = 0..=1, default_missing_value = "true")]
    dev: Option<bool>,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "KEYSTEAD_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "KEYSTEAD_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// The largest request body accepted, in bytes [default: 262144].
    #[arg(long, env = "KEYSTEAD_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Log format on standard error: text or json [default: text]. Filter with KEYSTEAD_LOG
    /// (e.g. KEYSTEAD_LOG=debug).
    #[arg(long, env = "KEYSTEAD_LOG_FORMAT", value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    /// How often the rotation and deletion workers look for due work, in seconds [default: 60].
    #[arg(long, env = "KEYSTEAD_WORKER_INTERVAL_SECS")]
    worker_interval_secs: Option<u64>,
    /// TESTS ONLY: lets POST /_keystead/test/clock move the service clock. Loopback only.
    #[arg(long, env = "KEYSTEAD_DANGER_TEST_CLOCK", num_args = 0..=1, default_missing_value = "true")]
    danger_test_clock: Option<bool>,
    /// Record every request in the audit trail: on or off [default: on]. Off only to measure
    /// what auditing costs.
    #[arg(long, env = "KEYSTEAD_AUDIT", value_parser = parse_on_off)]
    audit: Option<bool>,
    /// A Secrets Manager rotation hook, NAME=URL (repeatable): a RotationLambdaARN
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` makes keystead POST the rotation steps,
    /// signed, to the http:// URL. Also `[rotation.hooks]` in the config file.
    #[arg(long = "rotation-hook", value_parser = parse_hook)]
    rotation_hooks: Vec<(String, String)>,
}

fn parse_hook(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(name, url)| (name.to_owned(), url.to_owned()))
        .ok_or_else(|| format!("'{s}' is not NAME=URL"))
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        other => Err(format!("'{other}' is not on or off")),
    }
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("'{other}' is not text or json")),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Init { data_dir } => init(data_dir),
        Command::Account(AccountCommand::Create { data_dir }) => create_account(data_dir),
        Command::ServiceCredentials(command) => service_cmd::run(command),
        Command::Audit(command) => audit_cmd::run(command),
        Command::Bench(args) => bench::run(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => Some((path.as_path(), config::load_file(path)?)),
        None => None,
    };
    let overrides = Overrides {
        data_dir: args.data_dir,
        listen: args.listen,
        dev: args.dev,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        max_body_bytes: args.max_body_bytes,
        log_format: args.log_format,
        worker_interval_secs: args.worker_interval_secs,
        danger_test_clock: args.danger_test_clock,
        audit: args.audit,
        rotation_hooks: args.rotation_hooks,
    };
    let config = Config::resolve(file, overrides)?;
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(keystead_server::serve(config, shutdown_signal()))?;
    Ok(())
}

fn init(data_dir: PathBuf) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let clock = keystead_types::SystemClock::default();
    let first = runtime.block_on(keystead_server::data_dir::init(&data_dir, &clock))?;
    println!(
        "Initialized {}.\n{}",
        data_dir.display(),
        first.announcement()
    );
    Ok(())
}

fn create_account(data_dir: PathBuf) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let clock = keystead_types::SystemClock::default();
    let account = runtime.block_on(keystead_server::data_dir::create_account(&data_dir, &clock))?;
    println!(
        "Created an account in {}.\n{}\nA running server learns of it when restarted.",
        data_dir.display(),
        account.announcement()
    );
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYSTEAD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}
