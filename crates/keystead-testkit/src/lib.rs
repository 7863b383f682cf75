//! keystead's test kit (not published): everything an integration test needs to exercise the
//! real `keystead` binary the way users do.
//!
//! - [`TestServer`] spawns `keystead serve` on port 0 in a temporary data directory, reads the
//!   credentials it prints at first start, keeps its output for the test to scan, hands out
//!   aws-sdk-kms clients, moves the test clock, and stops it with SIGTERM.
//! - [`sign`] builds raw KMS requests signed by the real AWS signer (`aws-sigv4`), and
//!   [`http`] sends them, plain or over TLS with a trust root of the test's choosing.
//!
//! The kit only drives the binary from outside: it links no keystead crate, so a test cannot
//! reach past the wire protocol. It panics only in [`TestServer::start`] (whose purpose is to
//! fail the test with the server's output) and [`TestServer::account_id`].
//!
//! ```no_run
//! # async fn example() {
//! use keystead_testkit::{ServerOptions, TestServer};
//! let server = TestServer::start(
//!     std::path::Path::new(env!("CARGO_MANIFEST_DIR")), // env!("CARGO_BIN_EXE_keystead") in a test
//!     ServerOptions::default(),
//! );
//! let kms = server.kms_client("us-east-1");
//! let key = kms.create_key().send().await;
//! # }
//! ```

mod error;
pub mod http;
pub mod postgres;
mod server;
pub mod sign;

pub use error::Error;
pub use server::{
    ClockAdvance, Identity, START_TIMEOUT, STOP_TIMEOUT, ServerOptions, Stopped, TestServer,
    TlsFiles, init,
};
