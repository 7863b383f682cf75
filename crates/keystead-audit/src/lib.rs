//! keystead's tamper-evident audit trail: CloudTrail-shaped records ([`AuditEvent`]), an
//! append-only log that makes each record durable before acknowledging it ([`AuditLog`]), and a
//! verifier that says precisely what was changed ([`verify`]).
//!
//! - Every record is one JSON line that carries its sequence number, the hash of the record
//!   before it and its own hash, so editing, deleting, inserting or reordering records breaks
//!   the chain where it happened.
//! - Log files roll by size and age; a digest file, signed with an Ed25519 key, periodically
//!   seals the files closed since the last one (their SHA-256, size and chain endpoints) and
//!   quotes the previous digest's signature. A consistent rewrite of the (unkeyed) chain, a
//!   deleted file or a forged digest is caught there.
//! - A crash can leave only a torn last line in the newest file; the verifier reports it as
//!   torn, not tampered, and [`AuditLog::open`] cuts it off and records that it did.
//!
//! - [`AuditLog::lookup`] answers CloudTrail `LookupEvents` from an index that the log keeps
//!   beside the trail (`index.sqlite`, derived data, rebuilt from the log when missing or
//!   behind); [`read_records`] streams the records back for exports.
//!
//! The formats are specified in `docs/design/audit-chain.md` and in the `chain`, `digest` and
//! `layout` modules. This crate writes and reads files; it knows nothing of HTTP, and it does
//! not decide what is audited. It never logs a secret: [`AuditLog::append`] refuses records
//! that carry a field AWS itself never logs.

#![warn(missing_docs)]

mod chain;
mod digest;
mod error;
mod event;
mod index;
mod layout;
mod log;
mod read;
mod scan;
mod verify;

pub use error::Error;
pub use event::{
    AuditEvent, EVENT_VERSION, EventCategory, EventType, IdentityType, Resource, SessionAttributes,
    SessionContext, SessionIssuer, TlsDetails, UserIdentity,
};
pub use index::{LookedUpEvent, LookupAttribute, LookupPage, LookupQuery};
pub use log::{
    AUDIT_EVENT_SOURCE, AppendReceipt, AuditLog, AuditLogConfig, LogStats, MAX_EVENT_BYTES,
    RECOVERY_EVENT_NAME, Recovery, random_event_id,
};
pub use read::{Records, TrailRecord, read_records};
pub use verify::{Finding, Notice, Report, verify};

/// Re-exported so that callers can build [`AuditEvent`] times and [`verify`] ranges.
pub use time::OffsetDateTime;
