//! `keystead bench`: a load generator for a running keystead.
//!
//! Every request is a real client request: SigV4-signed when it is sent (the signing cost is
//! part of the load, as it is for any SDK), sent on one of `--connections` HTTP/1.1 keep-alive
//! connections (exactly one request in flight on each), and its response validated in full.
//! The run is: resolve credentials and endpoint, set up (create a key unless `--key-id` is given;
//! for decrypt, encrypt the plaintext once), open every connection, warm up, measure, report.
//!
//! This module owns the command line, the phases of a run and the exit status. `client` owns
//! the wire (connections, signing), `workload` what is sent and what a correct answer is,
//! `load` the worker loop and its counters, `report` the output. Nothing here reads the server's
//! data directory except a credentials file it is pointed at.

mod client;
mod credentials;
mod load;
mod report;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use self::client::{Client, Endpoint};
use self::credentials::CredentialArgs;
use self::load::Plan;
use self::report::Report;
use self::workload::{Operation, Workload};

/// The most plaintext KMS's Encrypt accepts, in bytes.
const MAX_PLAINTEXT_BYTES: u16 = 4096;

/// `keystead bench`. Credentials come from, in this order: --access-key-id and
/// --secret-access-key; --credentials-file; the environment variables AWS_ACCESS_KEY_ID and
/// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN); AWS_SHARED_CREDENTIALS_FILE.
#[derive(Args)]
#[command(
    after_help = "Credentials: --access-key-id and --secret-access-key; else \
    --credentials-file (with --profile); else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with \
    AWS_SESSION_TOKEN); else AWS_SHARED_CREDENTIALS_FILE. Exits non-zero if any request failed, \
    after printing the report."
)]
pub(crate) struct BenchArgs {
    /// The keystead to load (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:4599")]
    endpoint: String,
    /// What every request does.
    #[arg(long, value_enum, default_value_t = Operation::Encrypt)]
    operation: Operation,
    /// HTTP/1.1 keep-alive connections, each with one request in flight at a time.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,
    /// Seconds to measure (fractions allowed).
    #[arg(long, default_value = "10", value_parser = parse_positive_secs)]
    duration: Duration,
    /// Seconds of load before measuring, not counted in requests or latency.
    #[arg(long, default_value = "2", value_parser = parse_secs)]
    warmup: Duration,
    /// Plaintext bytes per encrypt and decrypt request, and the size of the secret string
    /// get-secret-value reads (1 to 4096). generate-data-key always asks for a 32-byte AES-256
    /// key.
    #[arg(long, default_value_t = MAX_PLAINTEXT_BYTES,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_PLAINTEXT_BYTES)))]
    plaintext_bytes: u16,
    /// The region to sign for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// An AWS CLI credentials file, such as DATA_DIR/credentials written by `keystead serve`.
    #[arg(long)]
    credentials_file: Option<PathBuf>,
    /// The profile to read from the credentials file [default: $AWS_PROFILE, else keystead].
    #[arg(long)]
    profile: Option<String>,
    /// The access key id (with --secret-access-key).
    #[arg(long, requires = "secret_access_key")]
    access_key_id: Option<String>,
    /// The secret access key. Visible to other local users in the process list: prefer
    /// --credentials-file or AWS_SECRET_ACCESS_KEY.
    #[arg(long, requires = "access_key_id")]
    secret_access_key: Option<String>,
    /// A session token, for temporary credentials given with --access-key-id.
    #[arg(long, requires = "access_key_id")]
    session_token: Option<String>,
    /// The key to use (id, ARN or alias). Without it, bench creates a symmetric key first.
    #[arg(long)]
    key_id: Option<String>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How the report is printed.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned lines for people.
    Text,
    /// One JSON object for scripts.
    Json,
}

/// The longest --duration or --warmup: a day.
const MAX_SECS: f64 = 86_400.0;

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if secs > MAX_SECS {
        return Err(format!("at most {MAX_SECS} seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is not a number of seconds"))
}

fn parse_positive_secs(s: &str) -> Result<Duration, String> {
    let duration = parse_secs(s)?;
    if duration.is_zero() {
        return Err("must be more than 0 seconds".to_owned());
    }
    Ok(duration)
}

/// Runs `keystead bench`: prints the report, then fails if any request failed.
pub(crate) fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    let credentials = credentials::resolve(
        CredentialArgs {
            access_key_id: args.access_key_id.take(),
            secret_access_key: args.secret_access_key.take(),
            session_token: args.session_token.take(),
            credentials_file: args.credentials_file.take(),
            profile: args.profile.take(),
        },
        |name| std::env::var(name).ok(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let endpoint = Endpoint::resolve(&args.endpoint).await?;
        let client = Arc::new(Client::new(endpoint, credentials, args.region.clone()));
        bench(&args, client).await
    })?;
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    if report.errors > 0 {
        anyhow::bail!(
            "{} request(s) failed; the report above counts them by kind",
            report.errors
        );
    }
    Ok(())
}

async fn bench(args: &BenchArgs, client: Arc<Client>) -> anyhow::Result<Report> {
    let endpoint = client.endpoint().to_string();
    let mut setup = client
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))?;
    let key_id = match &args.key_id {
        Some(key_id) => key_id.clone(),
        None => workload::create_key(&client, &mut setup)
            .await
            .context("creating a key to benchmark with (or pass --key-id)")?,
    };
    let workload = Workload::prepare(
        args.operation,
        &key_id,
        usize::from(args.plaintext_bytes),
        &client,
        &mut setup,
    )
    .await
    .with_context(|| format!("preparing the {} requests", args.operation.name()))?;
    drop(setup);

    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let client = client.clone();
        connecting.spawn(async move { client.connect().await });
    }
    let mut connections = Vec::new();
    while let Some(joined) = connecting.join_next().await {
        let connection = joined
            .context("a connecting task failed")?
            .with_context(|| format!("opening {} connections to {endpoint}", args.connections))?;
        connections.push(connection);
    }

    let plan = Plan::starting_now(args.warmup, args.duration);
    let tally = load::run(client, Arc::new(workload), connections, plan).await?;
    Ok(Report::new(
        report::Setup {
            operation: args.operation,
            endpoint,
            key_id,
            connections: args.connections,
            duration: args.duration,
            warmup: args.warmup,
            plaintext_bytes: args.plaintext_bytes,
        },
        tally,
    ))
}
