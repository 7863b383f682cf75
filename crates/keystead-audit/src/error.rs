//! The crate's one error type. Findings about a damaged trail are not errors: [`verify`]
//! returns them in its [`Report`]; errors are what stops the log or the verifier from working.
//!
//! No message here contains an event's contents.
//!
//! [`verify`]: crate::verify
//! [`Report`]: crate::Report

use std::io;
use std::path::PathBuf;

/// Failures of appending, opening and verifying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory of the trail could not be read, written, synced or renamed. Returned
    /// by [`AuditLog::open`](crate::AuditLog::open) and [`verify`](crate::verify); a failed
    /// write during appends is [`Error::WriterFailed`].
    #[error("audit trail I/O failed on {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The event names a field whose value AWS never logs (plaintext, a secret value, a
    /// credential). Returned by [`AuditLog::append`](crate::AuditLog::append) before anything
    /// is written.
    #[error("audit event carries a field that must never be logged: {field}")]
    SecretInEvent {
        /// The offending field name.
        field: String,
    },

    /// The serialized event exceeds CloudTrail's maximum record size. Returned by
    /// [`AuditLog::append`](crate::AuditLog::append).
    #[error("audit event is {actual} bytes; at most {limit} allowed")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The event's serialized size.
        actual: usize,
    },

    /// The audit log was closed (or its writer has exited). Returned by every operation on an
    /// [`AuditLog`](crate::AuditLog) after [`AuditLog::close`](crate::AuditLog::close).
    #[error("the audit log is closed")]
    Closed,

    /// A write or sync of the log failed, so the writer stopped: after a failed fsync the file's
    /// state is unknown, and appending further could acknowledge records that are not on disk.
    /// The record that hit the failure and every later one get this error. Reopening the log
    /// (restarting the process) recovers from the last durable record.
    #[error("the audit log stopped after a write to {path} failed ({kind}); reopen it to recover")]
    WriterFailed {
        /// The file whose write or sync failed.
        path: PathBuf,
        /// What the operating system said.
        kind: io::ErrorKind,
    },

    /// A digest file that [`AuditLog::open`](crate::AuditLog::open) must chain onto is
    /// malformed or not signed by the log's key. Continuing would extend a trail that cannot be
    /// vouched for; run the verifier, and move the digest aside only after understanding why.
    #[error("digest file {path} cannot be trusted: {reason}")]
    UntrustedDigest {
        /// The digest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The public key given to [`verify`](crate::verify) is not an Ed25519 public key in DER
    /// (SubjectPublicKeyInfo) form.
    #[error("the public key is not an Ed25519 SubjectPublicKeyInfo in DER form")]
    InvalidPublicKey,

    /// The `next_token` of a lookup was not issued for this query (the server answers
    /// `InvalidNextTokenException`). Returned by [`AuditLog::lookup`](crate::AuditLog::lookup).
    #[error("the lookup's next token is invalid")]
    InvalidNextToken,

    /// The lookup index could not be opened, read or written. The log is unaffected (the index
    /// is derived from it and rebuilt on the next open). Returned by
    /// [`AuditLog::lookup`](crate::AuditLog::lookup).
    #[error("the audit lookup index at {path} is unavailable: {reason}")]
    IndexUnavailable {
        /// The index file.
        path: PathBuf,
        /// What went wrong (a SQLite error message; never an event's contents).
        reason: String,
    },

    /// An event could not be serialized to JSON. Not expected: every event type serializes.
    #[error("an audit event could not be serialized")]
    Internal(#[source] serde_json::Error),
}
