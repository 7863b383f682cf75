//! The KMS service's errors: domain facts only. `keystead-server` maps each variant to AWS's
//! `__type` and HTTP status in one exhaustive table.

/// Everything a KMS operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No key with this ARN exists in the caller's account and region (`NotFoundException`).
    #[error("Key '{arn}' does not exist")]
    KeyNotFound {
        /// The ARN the reference resolved to.
        arn: String,
    },
    /// No alias with this ARN exists (`NotFoundException`).
    #[error("Alias {alias_arn} is not found.")]
    AliasNotFound {
        /// The alias ARN that was looked up.
        alias_arn: String,
    },
    /// The reference is not a key id, key ARN, alias name or alias ARN accepted by this operation
    /// (`NotFoundException`).
    #[error("Invalid keyId '{reference}'")]
    InvalidKeyReference {
        /// The reference as given.
        reference: String,
    },
    /// The key policy does not let the caller perform the action (`AccessDeniedException`).
    #[error("{message}")]
    AccessDenied {
        /// AWS's message: who, which action, which key, and whether a policy denied it or none
        /// allowed it.
        message: String,
    },
    /// The key is disabled (`DisabledException`).
    #[error("{arn} is disabled.")]
    KeyDisabled {
        /// The key ARN.
        arn: String,
    },
    /// The key's state does not allow the operation (`KMSInvalidStateException`).
    #[error("{arn} is {state_phrase}.")]
    InvalidKeyState {
        /// The key ARN.
        arn: String,
        /// What is wrong, e.g. `pending deletion` or `not pending deletion`.
        state_phrase: &'static str,
    },
    /// The ciphertext cannot be decrypted: malformed, tampered, foreign, unknown key or version,
    /// or the wrong encryption context (`InvalidCiphertextException`). The reason goes to logs
    /// only; callers always see the same message.
    #[error(
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access."
    )]
    InvalidCiphertext {
        /// Why, for logs and audit only.
        reason: &'static str,
    },
    /// Decrypt or ReEncrypt named a key other than the one that encrypted the ciphertext
    /// (`IncorrectKeyException`).
    #[error("The key ID in the request does not identify a CMK that can perform this operation.")]
    IncorrectKey,
    /// The key cannot perform this operation or algorithm (`InvalidKeyUsageException`).
    #[error("{message}")]
    InvalidKeyUsage {
        /// What was asked of the key.
        message: String,
    },
    /// An alias with this name already exists (`AlreadyExistsException`).
    #[error("An alias with the name {alias_arn} already exists")]
    AliasExists {
        /// The alias ARN.
        alias_arn: String,
    },
    /// Names beginning with `alias/aws/` belong to AWS managed keys (`NotAuthorizedException`).
    #[error("Cannot create, update or delete an alias with the reserved prefix alias/aws/")]
    ReservedAlias,
    /// The key policy is not valid JSON or not a valid policy (`MalformedPolicyDocumentException`).
    #[error("{reason}")]
    MalformedPolicy {
        /// What is wrong with it. Never contains the policy text.
        reason: String,
    },
    /// A tag is invalid (`TagException`).
    #[error("{reason}")]
    InvalidTag {
        /// What is wrong with it.
        reason: String,
    },
    /// A quota would be exceeded (`LimitExceededException`).
    #[error("{message}")]
    LimitExceeded {
        /// Which limit.
        message: String,
    },
    /// A parameter is well-formed but not acceptable (`ValidationException`).
    #[error("{message}")]
    Validation {
        /// What is wrong.
        message: String,
    },
    /// The key has no grant with this id (`NotFoundException`).
    #[error("Grant ID {grant_id} not found")]
    GrantNotFound {
        /// The grant id as given.
        grant_id: String,
    },
    /// A grant id is not of the form this service issues (`InvalidGrantIdException`).
    #[error("Invalid grant ID {grant_id}")]
    InvalidGrantId {
        /// The grant id as given.
        grant_id: String,
    },
    /// A grant token is not one this service issued (`InvalidGrantTokenException`).
    #[error("Invalid grant token")]
    InvalidGrantToken,
    /// The request would have succeeded but asked for a dry run (`DryRunOperationException`).
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// A pagination marker was not issued by this service (`InvalidMarkerException`).
    #[error("The marker is not valid.")]
    InvalidMarker,
    /// keystead does not implement this yet (`UnsupportedOperationException`).
    #[error("{what} is not supported.")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
    /// A failure that is not the caller's fault (`KMSInternalException`). The source goes to
    /// logs only.
    #[error("An internal error occurred.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<keystead_store::Error> for Error {
    fn from(e: keystead_store::Error) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<keystead_crypto::Error> for Error {
    fn from(e: keystead_crypto::Error) -> Self {
        Self::Internal(Box::new(e))
    }
}
