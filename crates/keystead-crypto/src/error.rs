//! The crate's errors: [`Error`] for everything except decrypting a ciphertext blob, and the
//! deliberately opaque [`DecryptError`] for that.
//!
//! No message here ever contains key bytes, plaintext or sealed data: errors name files, modes,
//! lengths and fixed reasons only.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Failures of key-file handling, sealing and encryption.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the root key file (or syncing its directory) failed. Returned by
    /// [`RootKey::create`](crate::RootKey::create) and [`RootKey::load`](crate::RootKey::load).
    #[error("cannot access root key file {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// [`RootKey::create`](crate::RootKey::create) refuses to overwrite an existing file: doing
    /// so would make everything sealed under the old key unreadable.
    #[error("root key file {path} already exists; refusing to overwrite it")]
    RootKeyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The root key file grants some access to group or others. Returned by
    /// [`RootKey::load`](crate::RootKey::load).
    #[error(
        "root key file {path} has mode {mode:04o}; it must not be accessible by group or others \
         (chmod 600)"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The root key file is not one line `keystead-root-key-v1:` followed by 64 hex digits.
    /// Returned by [`RootKey::load`](crate::RootKey::load).
    #[error("root key file {path} is not a keystead root key: {reason}")]
    MalformedRootKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (a fixed description, never file contents).
        reason: &'static str,
    },

    /// aws-lc reported a failure that carries no detail (random generator or key setup). It is
    /// not expected in normal operation.
    #[error("the cryptographic library reported an unspecified failure")]
    Unspecified,

    /// Sealed data (a [`WrappedKey`](crate::WrappedKey) or a sealed secret) could not be
    /// unsealed: it was sealed under another root key or for another key id, version or label,
    /// or it is corrupt. Stored data is not attacker input, so the reason may be logged.
    #[error("sealed data cannot be unsealed: {reason}")]
    Unseal {
        /// A fixed description: "malformed", "unsupported format", "tag mismatch" or
        /// "wrong length".
        reason: &'static str,
    },

    /// An encryption context does not fit the canonical encoding: more than 65535 pairs, or a
    /// key or value longer than 65535 bytes. Returned by
    /// [`ciphertext::encrypt`](crate::ciphertext::encrypt).
    #[error("encryption context too large: {what} is {actual}, at most {limit} allowed")]
    ContextTooLarge {
        /// Which length overflowed: "pair count", "key length" or "value length".
        what: &'static str,
        /// The limit of the encoding.
        limit: usize,
        /// The actual length.
        actual: usize,
    },

    /// A plaintext is so long that the output length overflows `usize`.
    #[error("plaintext of {len} bytes is too long")]
    PlaintextTooLong {
        /// The plaintext's length.
        len: usize,
    },
}

impl From<aws_lc_rs::error::Unspecified> for Error {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Self::Unspecified
    }
}

/// A ciphertext blob could not be decrypted.
///
/// Every failure — a malformed or truncated blob, an unknown format, an encryption context that
/// does not match, a wrong key, a modified byte — is this one value, with one message, so that
/// callers cannot tell the causes apart and no decryption oracle exists. Like rustls's
/// `DecryptError`, it carries nothing a client may see. [`DecryptError::reason`] gives a fixed
/// description for logs and audit records only; never send it to a client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DecryptError {
    reason: Reason,
}

/// Why decryption failed: private, so that no caller can branch on it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Too short to hold a header, nonce and tag.
    Malformed,
    /// The first byte is not a format this build knows.
    UnsupportedFormat,
    /// The encryption context cannot be encoded (so it cannot match any blob).
    ContextTooLarge,
    /// AES-GCM authentication failed: wrong key, wrong context or modified bytes.
    TagMismatch,
}

impl DecryptError {
    pub(crate) fn new(reason: Reason) -> Self {
        Self { reason }
    }

    /// A fixed description of the cause, for logs and audit records only: "malformed",
    /// "unsupported format", "context too large" or "tag mismatch". Never send it to a client.
    pub fn reason(&self) -> &'static str {
        match self.reason {
            Reason::Malformed => "malformed",
            Reason::UnsupportedFormat => "unsupported format",
            Reason::ContextTooLarge => "context too large",
            Reason::TagMismatch => "tag mismatch",
        }
    }
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ciphertext cannot be decrypted")
    }
}

impl fmt::Debug for DecryptError {
    // Debug output reaches logs and test failures, not clients, so it names the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptError")
            .field("reason", &self.reason())
            .finish()
    }
}

impl std::error::Error for DecryptError {}
