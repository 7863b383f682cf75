//! `keystead service-credentials create`: access keys that act as a service principal
//! (`rds.amazonaws.com`), so that key policies' `{"Service": ...}` statements can be exercised
//! by tests and integrations. The work is `keystead_server::create_service_credentials`; this
//! module only parses the command line and prints the result.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use keystead_server::config;

/// `keystead service-credentials ...`.
#[derive(Subcommand)]
pub(crate) enum ServiceCredentialsCommand {
    /// Create an access key whose requests act as a service principal in an account, printed
    /// once and saved as profile keystead-service-NAME-ACCOUNT in the credentials file. A
    /// running server learns of it when restarted.
    Create {
        /// The data directory (initialized by `keystead init` or a first `keystead serve`).
        #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The account the service acts in (12 digits).
        #[arg(long)]
        account: String,
        /// The service principal, such as rds.amazonaws.com.
        #[arg(long)]
        service: String,
    },
}

/// Runs the command.
pub(crate) fn run(command: ServiceCredentialsCommand) -> anyhow::Result<()> {
    let ServiceCredentialsCommand::Create {
        data_dir,
        account,
        service,
    } = command;
    let account_id: keystead_types::AccountId = account
        .parse()
        .with_context(|| format!("--account {account:?} is not a 12-digit account id"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let clock = keystead_types::SystemClock::default();
    let created = runtime.block_on(keystead_server::create_service_credentials(
        &data_dir,
        &account_id,
        &service,
        &clock,
    ))?;
    println!(
        "Created service credentials in {}.\n{}\nA running server learns of them when restarted.",
        data_dir.display(),
        created.announcement()
    );
    Ok(())
}
