//! A real `keystead serve` process for a test: spawned on port 0 in a temporary (or given) data
//! directory, its credentials read from what it prints at first start, its output kept for the
//! test to scan, stopped with SIGTERM or killed when dropped.
//!
//! The process is watched by a tiny `sh` watchdog that kills it when the test process goes
//! away, so that a server kept in a `static` (which is never dropped) does not outlive the test
//! binary. Nothing here uses `unsafe`: signals go through the `kill` command.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;

use crate::Error;
use crate::http::{RawResponse, send};

/// How long a server may take to print its `listening on` line.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM: its own grace period for in-flight
/// requests is 10 s.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// The line prefix the server prints once it listens.
const LISTENING: &str = "keystead listening on ";
const SECONDS_PER_DAY: i64 = 86_400;

/// An account's root credentials, as `keystead init` or the first `keystead serve` print them.
#[derive(Clone)]
pub struct Identity {
    /// The 12-digit account id; `None` when it was not printed (the credentials were read back
    /// from the data directory's credentials file).
    pub account_id: Option<String>,
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl Identity {
    /// The credentials, for an SDK client.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "keystead-testkit",
        )
    }

    /// Parses the announcement printed by `keystead init` and by the first `keystead serve`.
    /// Returns `None` unless the key id and secret are both present.
    pub fn from_announcement(text: &str) -> Option<Self> {
        let field = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|v| v.trim().to_owned())
        };
        Some(Self {
            account_id: field("account id:"),
            access_key_id: field("aws_access_key_id:")?,
            secret_access_key: field("aws_secret_access_key:")?,
        })
    }

    /// Reads an AWS CLI credentials file as the server writes it (profile `keystead`). The
    /// account id is not in that file.
    pub fn from_credentials_file(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let field = |name: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == name).then(|| v.trim().to_owned())
            })
        };
        Some(Self {
            account_id: None,
            access_key_id: field("aws_access_key_id")?,
            secret_access_key: field("aws_secret_access_key")?,
        })
    }
}

/// A certificate chain and private key, both PEM files, for `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// How to start a server. `ServerOptions::default()` is a fresh temporary data directory,
/// SigV4 enforced, plain HTTP on `127.0.0.1:0`.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// The data directory; a new temporary one, removed with the server, when `None`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`; `127.0.0.1:0` when `None`.
    pub listen: Option<String>,
    /// `--danger-test-clock`, for [`TestServer::advance_clock`].
    pub danger_test_clock: bool,
    /// `--dev`.
    pub dev: bool,
    /// `--tls-cert` and `--tls-key`.
    pub tls: Option<TlsFiles>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// The credentials to use when the data directory is already initialized (the server then
    /// prints none). Without them the kit reads the credentials file, which has no account id.
    pub identity: Option<Identity>,
    /// More arguments after `serve`.
    pub args: Vec<OsString>,
    /// Environment variables for the process. Every inherited `KEYSTEAD_*` variable is removed
    /// first, so that the developer's environment cannot change a test.
    pub env: Vec<(OsString, OsString)>,
}

impl ServerOptions {
    /// With `--danger-test-clock`.
    pub fn with_test_clock(mut self) -> Self {
        self.danger_test_clock = true;
        self
    }

    /// On the given data directory, which outlives the server.
    pub fn in_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// With `--dev`.
    pub fn dev(mut self) -> Self {
        self.dev = true;
        self
    }
}

/// What [`TestServer::advance_clock`] reports: the clock's total offset and what the workers
/// did in the pass it triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAdvance {
    /// The service clock's offset from real time, in seconds, after the move.
    pub offset_seconds: i64,
    /// How many keys the rotation worker rotated.
    pub rotated: u64,
    /// How many keys the deletion worker deleted.
    pub deleted: u64,
}

/// A stopped server: how it exited and everything it printed.
#[derive(Debug)]
pub struct Stopped {
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A running `keystead serve`.
pub struct TestServer {
    bin: PathBuf,
    options: ServerOptions,
    child: Option<Child>,
    watchdog: Option<(Child, ChildStdin)>,
    readers: Vec<JoinHandle<()>>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Kept alive while the server runs; `None` when the data directory was given.
    temp_dir: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    address: SocketAddr,
    endpoint: String,
    identity: Identity,
    clock_offset_seconds: AtomicI64,
}

impl TestServer {
    /// Starts `bin` (a test gets it from `env!("CARGO_BIN_EXE_keystead")`) and waits until it
    /// listens. Panics with the server's output if it does not.
    pub fn start(bin: &Path, options: ServerOptions) -> TestServer {
        match Self::try_start(bin, options) {
            Ok(server) => server,
            Err(e) => panic!("starting keystead: {e}"),
        }
    }

    /// As [`TestServer::start`], returning the failure (with the server's output) instead of
    /// panicking, for tests about start-up errors.
    pub fn try_start(bin: &Path, mut options: ServerOptions) -> Result<TestServer, Error> {
        let (temp_dir, data_dir) = match &options.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("keystead-test-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        what: "creating a temporary data directory",
                        source,
                    })?;
                let dir = temp.path().join("data");
                (Some(temp), dir)
            }
        };
        let mut command = Command::new(bin);
        command.arg("serve").arg("--data-dir").arg(&data_dir);
        command
            .arg("--listen")
            .arg(options.listen.as_deref().unwrap_or("127.0.0.1:0"));
        if options.danger_test_clock {
            command.arg("--danger-test-clock");
        }
        if options.dev {
            command.arg("--dev");
        }
        if let Some(tls) = &options.tls {
            command
                .arg("--tls-cert")
                .arg(&tls.cert)
                .arg("--tls-key")
                .arg(&tls.key);
        }
        if let Some(config) = &options.config {
            command.arg("--config").arg(config);
        }
        command.args(&options.args);
        clear_keystead_env(&mut command);
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let mut spawned = Spawned::spawn(command, bin)?;

        let deadline = Instant::now() + START_TIMEOUT;
        let mut printed = String::new();
        let endpoint = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match spawned.lines.recv_timeout(remaining) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix(LISTENING) {
                        break url.to_owned();
                    }
                    printed.push_str(&line);
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = spawned.child.kill();
                    let _ = spawned.child.wait();
                    let (stdout, stderr) = spawned.finish();
                    return Err(Error::StartTimeout {
                        timeout: START_TIMEOUT,
                        stdout,
                        stderr,
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = spawned.child.wait().map_err(|source| Error::Io {
                        what: "waiting for keystead",
                        source,
                    })?;
                    let (stdout, stderr) = spawned.finish();
                    return Err(Error::ExitedBeforeListening {
                        status,
                        stdout,
                        stderr,
                    });
                }
            }
        };
        let address: SocketAddr = endpoint
            .split_once("://")
            .and_then(|(_, rest)| rest.trim_end_matches('/').parse().ok())
            .ok_or_else(|| Error::Setup(format!("cannot read an address from '{endpoint}'")))?;

        let identity = match options.identity.clone() {
            Some(identity) => identity,
            None => Identity::from_announcement(&printed)
                .or_else(|| Identity::from_credentials_file(&data_dir.join("credentials")))
                .ok_or_else(|| Error::NoCredentials {
                    detail: format!(
                        "keystead printed none and {} has none",
                        data_dir.join("credentials").display()
                    ),
                })?,
        };
        // A restart on this directory will need them: the server prints them only once.
        options.identity = Some(identity.clone());
        let watchdog = spawn_watchdog(spawned.child.id())?;
        Ok(TestServer {
            bin: bin.to_owned(),
            options,
            child: Some(spawned.child),
            watchdog: Some(watchdog),
            readers: spawned.readers,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            temp_dir,
            data_dir,
            address,
            endpoint,
            identity,
            clock_offset_seconds: AtomicI64::new(0),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (`https://` with TLS).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The socket address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The first account's credentials and id.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The first account's id. Panics when it is unknown: the server was started on an
    /// initialized directory without [`ServerOptions::identity`].
    pub fn account_id(&self) -> &str {
        match &self.identity.account_id {
            Some(id) => id,
            None => panic!(
                "the account id is unknown: the data directory was already initialized and \
                 ServerOptions::identity was not given"
            ),
        }
    }

    /// The first account's root credentials.
    pub fn credentials(&self) -> Credentials {
        self.identity.credentials()
    }

    /// An aws-sdk-kms client for this server in `region`, as the first account: static
    /// credentials, one attempt (no retries), latest behavior version.
    pub fn kms_client(&self, region: &str) -> aws_sdk_kms::Client {
        self.kms_client_with(region, self.credentials())
    }

    /// As [`TestServer::kms_client`], with other credentials (for `--dev`, or a wrong key).
    pub fn kms_client_with(&self, region: &str, credentials: Credentials) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }

    /// Sends a raw request on a new plain-HTTP connection; see [`crate::http::send`].
    pub async fn send(&self, request: http::Request<Bytes>) -> Result<RawResponse, Error> {
        send(self.address, request, None).await
    }

    /// Sends one AWS JSON 1.1 operation of a JSON service (`X-Amz-Target: {target_prefix}.{op}`)
    /// signed with the server's root credentials for `signing_service` in `region`, and returns
    /// the status and the parsed body. Panics if signing or sending fails: for tests.
    pub async fn json_call(
        &self,
        target_prefix: &str,
        signing_service: &str,
        region: &str,
        operation: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}/", self.endpoint().trim_end_matches('/')))
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
            .header("x-amz-target", format!("{target_prefix}.{operation}"))
            .body(Bytes::from(body.to_string()))
            .expect("a valid request");
        let mut signer = crate::sign::Signer::new(self.identity(), region);
        signer.service = signing_service.to_owned();
        signer.sign(&mut request).expect("signing");
        let response = self.send(request).await.expect("the server answers");
        (response.status.as_u16(), response.json())
    }

    /// Moves the service clock `days` further (the server must run with
    /// `--danger-test-clock`) and waits for the rotation and deletion workers' pass.
    pub async fn advance_clock(&self, days: i64) -> Result<ClockAdvance, Error> {
        let offset = self
            .clock_offset_seconds
            .fetch_add(days * SECONDS_PER_DAY, Ordering::SeqCst)
            + days * SECONDS_PER_DAY;
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}/_keystead/test/clock", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(
                serde_json::json!({ "offset_seconds": offset }).to_string(),
            ))
            .map_err(|e| Error::Setup(e.to_string()))?;
        let response = self.send(request).await?;
        let body = response.json();
        let number = |name: &str| body.get(name).and_then(serde_json::Value::as_u64);
        match (
            response.status.as_u16(),
            number("rotated"),
            number("deleted"),
        ) {
            (200, Some(rotated), Some(deleted)) => Ok(ClockAdvance {
                offset_seconds: offset,
                rotated,
                deleted,
            }),
            (status, _, _) => Err(Error::Http {
                what: "moving the test clock",
                detail: format!("{status}: {}", response.text()),
            }),
        }
    }

    /// Everything the server printed on standard output so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// Everything the server printed on standard error (its logs) so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Sends SIGTERM and returns at once; see [`TestServer::wait_for_exit`].
    pub fn terminate(&self) -> Result<(), Error> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .map_err(|source| Error::Spawn {
                program: "kill".to_owned(),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Setup(format!(
                "kill -TERM {pid} exited with {status}"
            )))
        }
    }

    /// Waits until the server exits, at most `timeout`, then collects its output.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Result<Stopped, Error> {
        let Some(child) = self.child.as_mut() else {
            return Err(Error::Setup("the server was already stopped".to_owned()));
        };
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    return Err(Error::StopTimeout {
                        timeout,
                        stderr: self.stderr(),
                    });
                }
                Err(source) => {
                    return Err(Error::Io {
                        what: "waiting for keystead",
                        source,
                    });
                }
            }
        };
        self.child = None;
        self.stop_watchdog();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Ok(Stopped {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        })
    }

    /// Stops the server gracefully: SIGTERM, then waits up to [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> Result<Stopped, Error> {
        self.terminate()?;
        self.wait_for_exit(STOP_TIMEOUT)
    }

    /// Stops the server gracefully and starts it again on the same data directory with the
    /// same options and credentials. Returns the new server and how the old one stopped.
    pub fn restart(mut self) -> Result<(TestServer, Stopped), Error> {
        self.terminate()?;
        let stopped = self.wait_for_exit(STOP_TIMEOUT)?;
        let mut options = self.options.clone();
        options.data_dir = Some(self.data_dir.clone());
        let mut next = TestServer::try_start(&self.bin, options)?;
        // The temporary directory now belongs to the new server.
        next.temp_dir = self.temp_dir.take();
        Ok((next, stopped))
    }

    fn stop_watchdog(&mut self) {
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            // Kill the shell before closing its input, so it never signals a pid that may
            // since have been reused.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_watchdog();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `keystead init --data-dir DIR`: initializes `data_dir` and returns the credentials it
/// printed; fails (with its output) when the command fails, e.g. on an initialized directory.
pub fn init(bin: &Path, data_dir: &Path) -> Result<Identity, Error> {
    let mut command = Command::new(bin);
    command.arg("init").arg("--data-dir").arg(data_dir);
    clear_keystead_env(&mut command);
    let output = command.output().map_err(|source| Error::Spawn {
        program: bin.display().to_string(),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(Error::CommandFailed {
            command: format!("keystead init --data-dir {}", data_dir.display()),
            status: output.status,
            stdout,
            stderr,
        });
    }
    Identity::from_announcement(&stdout).ok_or_else(|| Error::NoCredentials {
        detail: format!("keystead init printed none:\n{stdout}\n{stderr}"),
    })
}

/// A process with its output being drained.
struct Spawned {
    child: Child,
    lines: Receiver<String>,
    readers: Vec<JoinHandle<()>>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    fn spawn(mut command: Command, bin: &Path) -> Result<Self, Error> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: bin.display().to_string(),
            source,
        })?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = mpsc::channel();
        let mut readers = Vec::with_capacity(2);
        if let Some(pipe) = child.stdout.take() {
            let buffer = stdout.clone();
            readers.push(std::thread::spawn(move || {
                drain(pipe, &buffer, |line| {
                    // The receiver goes away once the server listens; later lines are only
                    // kept in the buffer.
                    let _ = sender.send(line.to_owned());
                });
            }));
        }
        if let Some(pipe) = child.stderr.take() {
            let buffer = stderr.clone();
            readers.push(std::thread::spawn(move || drain(pipe, &buffer, |_| {})));
        }
        Ok(Self {
            child,
            lines,
            readers,
            stdout,
            stderr,
        })
    }

    /// After the process ended: waits for the readers and returns the whole output.
    fn finish(self) -> (String, String) {
        drop(self.lines);
        for reader in self.readers {
            let _ = reader.join();
        }
        (lock(&self.stdout).clone(), lock(&self.stderr).clone())
    }
}

/// Copies `pipe` into `buffer` line by line until it closes, calling `each` on every line.
fn drain(pipe: impl Read, buffer: &Mutex<String>, mut each: impl FnMut(&str)) {
    let mut reader = BufReader::new(pipe);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&raw);
                lock(buffer).push_str(&line);
                each(&line);
            }
        }
    }
}

/// A shell that waits for its standard input to close, which happens when the test process
/// exits however it exits, and then kills `pid`.
fn spawn_watchdog(pid: u32) -> Result<(Child, ChildStdin), Error> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("cat >/dev/null; kill -KILL {pid} 2>/dev/null"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: "sh (watchdog)".to_owned(),
            source,
        })?;
    match child.stdin.take() {
        Some(stdin) => Ok((child, stdin)),
        None => {
            let _ = child.kill();
            Err(Error::Setup(
                "the watchdog has no standard input".to_owned(),
            ))
        }
    }
}

fn clear_keystead_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYSTEAD_") {
            command.env_remove(name);
        }
    }
}

fn lock(buffer: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    // A reader thread that panicked mid-append leaves a string that is still valid text.
    buffer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_announcement_yields_the_identity() {
        let printed = "Initialized a new deployment.\n\
                       account id:            123456789012\n\
                       aws_access_key_id:     AKIAABCDEFGHIJKLMNOP\n\
                       aws_secret_access_key: abc/def+ghi\n\
                       These credentials are shown once.\n";
        let identity = Identity::from_announcement(printed).expect("identity");
        assert_eq!(identity.account_id.as_deref(), Some("123456789012"));
        assert_eq!(identity.access_key_id, "AKIAABCDEFGHIJKLMNOP");
        assert_eq!(identity.secret_access_key, "abc/def+ghi");
        assert!(Identity::from_announcement("keystead listening on http://x").is_none());
    }

    #[test]
    fn the_credentials_file_yields_the_keys_without_an_account() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[keystead]\naws_access_key_id = AKIAABCDEFGHIJKLMNOP\n\
             aws_secret_access_key = s3cr=t\n",
        )
        .expect("write");
        let identity = Identity::from_credentials_file(&path).expect("identity");
        assert_eq!(identity.account_id, None);
        assert_eq!(identity.access_key_id, "AKIAABCDEFGHIJKLMNOP");
        assert_eq!(identity.secret_access_key, "s3cr=t");
        assert!(Identity::from_credentials_file(&dir.path().join("missing")).is_none());
    }
}
