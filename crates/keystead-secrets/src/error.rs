//! The Secrets Manager service's errors: domain facts only. `keystead-server` maps each variant
//! to AWS's `__type` and HTTP status in one exhaustive table.

/// Everything a Secrets Manager operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such secret in the caller's account and region (`ResourceNotFoundException`).
    #[error("Secrets Manager can't find the specified secret.")]
    SecretNotFound,
    /// The secret has no version with this id or label (`ResourceNotFoundException`).
    #[error("Secrets Manager can't find the specified secret value for {what}")]
    VersionNotFound {
        /// `VersionId: ...` or `staging label: ...`.
        what: String,
    },
    /// A secret with this name exists (`ResourceExistsException`).
    #[error("The operation failed because the secret {name} already exists.")]
    SecretExists {
        /// The name.
        name: String,
    },
    /// A version with this ClientRequestToken exists with another value
    /// (`ResourceExistsException`).
    #[error("You can't modify an existing version, you can only create a new version.")]
    VersionExists,
    /// A parameter is not acceptable (`InvalidParameterException`).
    #[error("{message}")]
    InvalidParameter {
        /// What is wrong.
        message: String,
    },
    /// The request is not valid in the secret's state (`InvalidRequestException`): it is
    /// scheduled for deletion, it is a replica, ...
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// A quota would be exceeded (`LimitExceededException`).
    #[error("{message}")]
    LimitExceeded {
        /// Which.
        message: String,
    },
    /// The caller may not perform the action (`AccessDeniedException`).
    #[error("{message}")]
    AccessDenied {
        /// AWS's message.
        message: String,
    },
    /// A resource policy is not a valid policy (`MalformedPolicyDocumentException`).
    #[error("{message}")]
    MalformedPolicy {
        /// What is wrong; never the policy text.
        message: String,
    },
    /// PutResourcePolicy with `BlockPublicPolicy` and a policy that grants broad access
    /// (`PublicPolicyException`).
    #[error(
        "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent \
         broad access to the secret."
    )]
    PublicPolicy,
    /// KMS could not encrypt a new version (`EncryptionFailure`): key disabled, pending deletion,
    /// not found.
    #[error("{message}")]
    EncryptionFailure {
        /// KMS's reason.
        message: String,
    },
    /// KMS could not decrypt a version (`DecryptionFailure`).
    #[error("{message}")]
    DecryptionFailure {
        /// KMS's reason.
        message: String,
    },
    /// A NextToken this service did not issue (`InvalidNextTokenException`).
    #[error("The NextToken value is invalid.")]
    InvalidNextToken,
    /// A failure that is not the caller's fault (`InternalServiceError`). The source goes to
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

pub(crate) fn invalid_parameter(message: impl Into<String>) -> Error {
    Error::InvalidParameter {
        message: message.into(),
    }
}

pub(crate) fn invalid_request(message: impl Into<String>) -> Error {
    Error::InvalidRequest {
        message: message.into(),
    }
}
