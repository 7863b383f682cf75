//! The test kit's one error type. Every variant that concerns the server process carries what
//! it printed, so that a failing test shows the server's own explanation.

use std::process::ExitStatus;
use std::time::Duration;

/// Why the test kit could not start, drive or stop a server, or send a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binary (or `kill`, or the watchdog shell) could not be spawned.
    #[error("spawning {program}: {source}")]
    Spawn {
        /// What was being spawned.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before printing its `listening on` line.
    #[error(
        "keystead exited with {status} before listening\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    )]
    ExitedBeforeListening {
        /// How it exited.
        status: ExitStatus,
        /// Everything it printed on standard output.
        stdout: String,
        /// Everything it printed on standard error.
        stderr: String,
    },
    /// The server printed no `listening on` line within the start timeout.
    #[error(
        "keystead did not listen within {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    )]
    StartTimeout {
        /// The timeout.
        timeout: Duration,
        /// What it printed on standard output so far.
        stdout: String,
        /// What it printed on standard error so far.
        stderr: String,
    },
    /// The server listened but its output lacked the credentials, and none were given or found
    /// in the data directory's credentials file.
    #[error("no credentials: {detail}")]
    NoCredentials {
        /// What was missing.
        detail: String,
    },
    /// The server did not exit within the stop timeout after SIGTERM.
    #[error("keystead did not exit within {timeout:?} of SIGTERM\n--- stderr ---\n{stderr}")]
    StopTimeout {
        /// The timeout.
        timeout: Duration,
        /// What it printed on standard error.
        stderr: String,
    },
    /// A one-shot command such as `keystead init` failed.
    #[error("{command} exited with {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
    },
    /// Connecting, the TLS handshake, or the HTTP exchange failed.
    #[error("{what}: {detail}")]
    Http {
        /// What was being done.
        what: &'static str,
        /// The cause, as text (the underlying errors have several types).
        detail: String,
    },
    /// A request could not be signed, or a TLS trust root could not be read.
    #[error("{0}")]
    Setup(String),
    /// Waiting for or signalling the process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
