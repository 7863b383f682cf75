//! `keystead serve`: open the data directory, load the services, listen (plain HTTP or TLS),
//! run the workers, and shut down gracefully: stop accepting, let in-flight requests finish,
//! stop the workers. Every write is durable before its response, so there is nothing to flush.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use keystead_audit::{AuditLog, AuditLogConfig};
use keystead_identity::IdentityService;
use keystead_keys::KeyService;
use keystead_types::{AccountId, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::audit::Audit;
use crate::config::{Config, DataDir, TlsConfig};
use crate::credentials::Credentials;
use crate::metrics::Metrics;
use crate::{App, UserPolicies, data_dir, http, workers};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be opened or initialized.
    #[error(transparent)]
    DataDir(#[from] data_dir::Error),
    /// The services could not load their state.
    #[error("loading keys: {0}")]
    Keys(#[from] keystead_keys::Error),
    /// The IAM state could not be loaded.
    #[error("loading IAM users: {0}")]
    Identity(#[from] keystead_identity::Error),
    /// A credential could not be unsealed.
    #[error("loading credentials: {0}")]
    Credentials(#[from] keystead_crypto::Error),
    /// Listening or TLS set-up failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The audit trail could not be opened.
    #[error("opening the audit trail: {0}")]
    Audit(#[from] keystead_audit::Error),
    /// The secrets could not be loaded.
    #[error("loading secrets: {0}")]
    Secrets(String),
}

/// Runs the server until `shutdown` completes.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let clock = Arc::new(SystemClock::default());
    // Kept alive until the server stops; a temporary directory is removed when dropped.
    let (dir, _temporary): (PathBuf, Option<tempfile::TempDir>) = match &config.data_dir {
        DataDir::Path(p) => (p.clone(), None),
        DataDir::Temporary => {
            let t = tempfile::Builder::new()
                .prefix("keystead-dev-")
                .tempdir()
                .map_err(|source| ServeError::Io {
                    what: "creating a temporary data directory".to_owned(),
                    source,
                })?;
            (t.path().to_owned(), Some(t))
        }
    };
    if config.dev {
        announce_dev_mode(&config, &dir);
    }
    let opened = data_dir::open(&dir, clock.as_ref()).await?;
    if let Some(first) = &opened.initialized {
        println!("Initialized a new deployment.\n{}", first.announcement());
    }
    let snapshot = opened.store.load().await.map_err(data_dir::Error::from)?;
    let identity = Arc::new(IdentityService::open(
        &snapshot,
        opened.store.clone(),
        opened.root_key.clone(),
        clock.clone(),
    )?);
    let credentials = Credentials::load(
        &snapshot.access_keys,
        &snapshot.sessions,
        |id| identity.access_key_user(id),
        |id| identity.access_key_service(id),
        &opened.root_key,
        config.dev,
        clock.clone(),
    )?;
    identity.prune_expired_sessions().await?;
    let audit = open_audit(&config, &dir, &opened, clock.clone()).await?;
    let keys = KeyService::open(
        snapshot,
        opened.store.clone(),
        opened.root_key.clone(),
        clock.clone(),
    )?
    .with_identity_policies(Arc::new(UserPolicies(identity.clone())));
    let (secrets, secrets_kms) =
        crate::secrets::open(opened.store.clone(), clock.clone(), identity.clone())
            .await
            .map_err(|e| ServeError::Secrets(e.to_string()))?;
    let app = Arc::new(App {
        keys,
        secrets,
        identity,
        credentials,
        clock,
        max_body_bytes: config.max_body_bytes,
        danger_test_clock: config.danger_test_clock,
        workers_wake: Notify::new(),
        audit,
        metrics: Metrics::new(),
        shutting_down: AtomicBool::new(false),
        rotation: crate::rotation::Rotations::open(&config, &dir, &opened.root_key)?,
    });
    secrets_kms.bind(&app);
    app.rotation.bind(&app);

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Io {
            what: format!("listening on {}", config.listen),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Io {
        what: "reading the listen address".to_owned(),
        source,
    })?;
    let tls = match &config.tls {
        Some(t) => Some(tls_acceptor(t)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("keystead listening on {scheme}://{local}");
    let _ = std::io::stdout().flush();
    tracing::info!(%local, data_dir = %dir.display(), dev = config.dev, "serving");

    let (stop_workers, workers_stop) = watch::channel(false);
    let worker_task = tokio::spawn(workers::run(
        app.clone(),
        config.worker_interval,
        workers_stop,
    ));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                spawn_connection(&app, &graceful, tls.clone(), stream, peer);
            }
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: finishing in-flight requests");
    app.shutting_down.store(true, Ordering::Relaxed);
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {SHUTDOWN_GRACE:?}");
    }
    let _ = stop_workers.send(true);
    let _ = worker_task.await;
    if let Some(log) = app.audit.log() {
        // Every record is already durable; sealing signs a digest over the last of them.
        if let Err(e) = log.seal().await {
            tracing::warn!(error = %e, "sealing the audit trail failed; the next start seals it");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

fn spawn_connection(
    app: &Arc<App>,
    graceful: &GracefulShutdown,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let app = app.clone();
    let secure = tls.is_some();
    let service = service_fn(move |req| http::handle(app.clone(), req, peer, secure));
    let builder = {
        let mut b = http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .keep_alive(true);
        b
    };
    match tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        Some(acceptor) => {
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let stream = match acceptor.accept(stream).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                };
                let conn = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
    }
}

/// Opens the audit trail under `DATA/audit` with the sealed signing key (created on first
/// use), or none with `--audit off`.
async fn open_audit(
    config: &Config,
    dir: &Path,
    opened: &data_dir::Opened,
    clock: Arc<SystemClock>,
) -> Result<Audit, ServeError> {
    let account = data_dir::first_account(opened.store.as_ref())
        .await?
        .unwrap_or_else(AccountId::dev_default)
        .to_string();
    let log = if config.audit {
        let key = data_dir::open_audit_signing_key(dir, &opened.root_key)?;
        let mut audit_config = AuditLogConfig::new(data_dir::audit_dir(dir));
        audit_config.account_id = account.clone();
        audit_config.clock = clock;
        let log = AuditLog::open(audit_config, key)?;
        if let Some(recovery) = log.recovery() {
            tracing::warn!(
                file = recovery.file,
                offset = recovery.offset,
                discarded_bytes = recovery.discarded_bytes,
                "the audit trail ended in a record torn by a crash; it was cut off and the \
                 recovery recorded"
            );
        }
        Some(log)
    } else {
        tracing::warn!("auditing is OFF: requests are not recorded in the audit trail");
        None
    };
    Ok(Audit::new(log, account))
}

fn tls_acceptor(t: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ServeError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    };
    let cert_pem = read(&t.cert)?;
    let key_pem = read(&t.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", t.cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificate found",
            t.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", t.key.display())))?
        .ok_or_else(|| ServeError::Tls(format!("{}: no private key found", t.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn announce_dev_mode(config: &Config, dir: &Path) {
    let storage = match config.data_dir {
        DataDir::Temporary => format!("a temporary directory ({}) deleted at exit", dir.display()),
        DataDir::Path(_) => dir.display().to_string(),
    };
    eprintln!(
        "\n\
         ************************************************************************\n\
         *  keystead is running in --dev mode.                                  *\n\
         *  ANY access key is accepted and signatures are NOT checked.          *\n\
         *  Listening on loopback only. Never use this mode for real keys.      *\n\
         ************************************************************************\n\
         data: {storage}\n"
    );
}
