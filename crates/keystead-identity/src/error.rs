//! The IAM service's errors: domain facts only. `keystead-server` maps each variant to IAM's
//! error code and HTTP status.

/// Everything an IAM operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named user, access key or policy does not exist (`NoSuchEntity`, 404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// A user with this name exists already (`EntityAlreadyExists`, 409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The user still has access keys or policies (`DeleteConflict`, 409).
    #[error("{0}")]
    DeleteConflict(String),
    /// The policy document is not valid JSON or not valid policy grammar
    /// (`MalformedPolicyDocument`, 400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A quota would be exceeded: policy size, access keys per user (`LimitExceeded`, 409).
    #[error("{0}")]
    LimitExceeded(String),
    /// A parameter is invalid (`ValidationError`, 400).
    #[error("{0}")]
    Validation(String),
    /// The caller's policies do not allow the action (`AccessDenied`, 403).
    #[error("{0}")]
    AccessDenied(String),
    /// An MFA code is not valid for the device (`InvalidAuthenticationCode`, 403).
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    /// Randomness or sealing failed.
    #[error(transparent)]
    Crypto(#[from] keystead_crypto::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] keystead_store::Error),
    /// The loaded state is inconsistent.
    #[error("corrupt IAM state: {0}")]
    Corrupt(String),
}
