//! The crate's one error type. Variants state rotation facts (which secret, which step, which
//! stage) and never carry a secret value, password or the text of a secret.
//!
//! Mapping to AWS errors is the Secrets Manager service's job; this crate never mentions HTTP
//! statuses of its own API.

use crate::Step;

/// Boxed error from a collaborator (the secret store, a progress callback).
type Source = Box<dyn std::error::Error + Send + Sync>;

/// Everything rotation, password generation and schedule parsing can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A step name that is not `createSecret`, `setSecret`, `testSecret` or `finishSecret`.
    #[error("unknown rotation step {name:?}")]
    UnknownStep {
        /// The name given (at most 64 characters of it).
        name: String,
    },

    /// Version `version_id` exists without `AWSPENDING` or `AWSCURRENT`, or does not exist at a
    /// step after `createSecret`: it is not the version of a rotation in progress.
    #[error(
        "Secret version {version_id} not set as AWSPENDING for rotation of secret {secret_id}."
    )]
    VersionNotPending {
        /// The secret.
        secret_id: String,
        /// The rotation token (version id).
        version_id: String,
    },

    /// `finishSecret` succeeded but `AWSCURRENT` is not on the rotation's version (a hook
    /// answered 2xx without moving it).
    #[error("rotation of secret {secret_id} did not move AWSCURRENT to version {version_id}")]
    RotationNotFinished {
        /// The secret.
        secret_id: String,
        /// The rotation token (version id).
        version_id: String,
    },

    /// The secret store ([`SecretAccess`](crate::SecretAccess)) or the caller's progress callback
    /// failed; the source says why.
    #[error("secret store access failed")]
    Access(#[source] Source),

    /// `PasswordLength` outside 1..=4096.
    #[error("PasswordLength {length} is not between 1 and 4096")]
    InvalidPasswordLength {
        /// The length asked for.
        length: u32,
    },

    /// The password options exclude every character.
    #[error("the password options exclude every character")]
    NoPasswordCharacters,

    /// `RequireEachIncludedType` needs more characters than `PasswordLength`.
    #[error("a password of {length} characters cannot include each of {required_types} types")]
    PasswordTooShort {
        /// The length asked for.
        length: u32,
        /// How many character types must appear.
        required_types: usize,
    },

    /// The random generator failed.
    #[error("the random generator failed")]
    Random(#[from] keystead_crypto::Error),

    /// A database secret's value is not the documented JSON shape.
    #[error("secret {secret_id} is not a database secret: {reason}")]
    MalformedSecret {
        /// The secret.
        secret_id: String,
        /// What is wrong (a fixed description, never the value).
        reason: &'static str,
    },

    /// A database secret names an engine the PostgreSQL rotator does not handle.
    #[error("secret {secret_id} has engine {engine:?}; the PostgreSQL rotator needs postgres")]
    UnsupportedEngine {
        /// The secret.
        secret_id: String,
        /// The engine named (at most 64 characters).
        engine: String,
    },

    /// No version of the secret carries `stage` (or it has no string value).
    #[error("secret {secret_id} has no value staged as {stage}")]
    ValueMissing {
        /// The secret.
        secret_id: String,
        /// The label looked for.
        stage: &'static str,
    },

    /// Appending `_clone` would exceed PostgreSQL's 63-byte role names.
    #[error("cannot clone user {username}: the name with _clone would exceed 63 bytes")]
    UsernameTooLong {
        /// The username.
        username: String,
    },

    /// The pending value names a different user or host than the current one allows (or the
    /// master secret is for another host): refused to avoid changing someone else's role.
    #[error("the pending value of secret {secret_id} is for another user or host")]
    PendingMismatch {
        /// The secret.
        secret_id: String,
    },

    /// None of the credentials that may be used for a step could log in.
    #[error("cannot log in to the database of secret {secret_id} with the {stage} credentials")]
    LoginFailed {
        /// The secret.
        secret_id: String,
        /// Which credentials were tried.
        stage: &'static str,
    },

    /// A statement failed on the database.
    #[error("database error while trying to {operation}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// [`verify_hook_request`](crate::verify_hook_request) refused a request.
    #[error("hook request rejected: {reason}")]
    HookRequestRejected {
        /// Why (a fixed description).
        reason: &'static str,
    },

    /// A hook URL that the HTTP hook rotator cannot use.
    #[error("invalid rotation hook URL {url:?}: {reason}")]
    InvalidHookUrl {
        /// The URL (at most 256 characters).
        url: String,
        /// Why.
        reason: &'static str,
    },

    /// The hook could not be reached or did not answer in time.
    #[error("rotation hook {url} failed at {step}: {reason}")]
    HookUnreachable {
        /// The hook URL.
        url: String,
        /// The step being sent.
        step: Step,
        /// The transport failure.
        reason: String,
    },

    /// The hook answered a non-2xx status.
    #[error("rotation hook {url} failed at {step} with status {status}: {message}")]
    HookFailed {
        /// The hook URL.
        url: String,
        /// The step being sent.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// The hook's message (at most 1024 characters).
        message: String,
    },

    /// A `ScheduleExpression` that is not `rate(...)` or a valid 6-field `cron(...)`.
    #[error("invalid ScheduleExpression {expression:?}: {reason}")]
    InvalidScheduleExpression {
        /// The expression (at most 256 characters).
        expression: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// `RotationRules` that are inconsistent or out of range.
    #[error("invalid RotationRules: {reason}")]
    InvalidRotationRules {
        /// What is wrong.
        reason: &'static str,
    },

    /// An unexpected failure inside this crate (serialization, request building).
    #[error("internal rotation error")]
    Internal(#[source] Source),
}

impl Error {
    /// Wraps a secret store or progress-callback failure as [`Error::Access`].
    pub fn access(source: impl Into<Source>) -> Self {
        Self::Access(source.into())
    }

    pub(crate) fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(source))
    }
}
