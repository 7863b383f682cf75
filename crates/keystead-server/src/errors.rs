//! The one table from domain errors to AWS error codes and HTTP statuses. Exhaustive, with no
//! catch-all arm, so that a new domain error cannot reach a client unmapped.

use keystead_keys::Error as KeyError;
use keystead_wire::AwsError;

/// The AWS error a KMS domain error is reported as. Internal errors are logged here, with their
/// source; the client sees only `KMSInternalException`.
pub(crate) fn kms_error(e: KeyError) -> AwsError {
    let code = match &e {
        KeyError::KeyNotFound { .. }
        | KeyError::AliasNotFound { .. }
        | KeyError::InvalidKeyReference { .. } => "NotFoundException",
        KeyError::AccessDenied { .. } => "AccessDeniedException",
        KeyError::KeyDisabled { .. } => "DisabledException",
        KeyError::InvalidKeyState { .. } => "KMSInvalidStateException",
        KeyError::InvalidCiphertext { reason } => {
            tracing::debug!(reason, "invalid ciphertext");
            "InvalidCiphertextException"
        }
        KeyError::IncorrectKey => "IncorrectKeyException",
        KeyError::InvalidKeyUsage { .. } => "InvalidKeyUsageException",
        KeyError::AliasExists { .. } => "AlreadyExistsException",
        KeyError::ReservedAlias => "NotAuthorizedException",
        KeyError::MalformedPolicy { .. } => "MalformedPolicyDocumentException",
        KeyError::InvalidTag { .. } => "TagException",
        KeyError::LimitExceeded { .. } => "LimitExceededException",
        KeyError::Validation { .. } => "ValidationException",
        KeyError::InvalidMarker => "InvalidMarkerException",
        KeyError::GrantNotFound { .. } => "NotFoundException",
        KeyError::InvalidGrantId { .. } => "InvalidGrantIdException",
        KeyError::InvalidGrantToken => "InvalidGrantTokenException",
        KeyError::DryRun => {
            return AwsError::new("DryRunOperationException", 412, e.to_string());
        }
        KeyError::Unsupported { .. } => "UnsupportedOperationException",
        KeyError::Internal(source) => {
            tracing::error!(error = %source, "internal error");
            return AwsError::new("KMSInternalException", 500, e.to_string());
        }
    };
    AwsError::new(code, 400, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_ciphertext_has_one_message_whatever_the_reason() {
        let a = kms_error(KeyError::InvalidCiphertext {
            reason: "tag mismatch",
        });
        let b = kms_error(KeyError::InvalidCiphertext {
            reason: "malformed",
        });
        assert_eq!(a.code, "InvalidCiphertextException");
        assert_eq!(a.message, b.message);
        assert!(!a.message.contains("tag"));
    }

    #[test]
    fn internal_errors_hide_their_source() {
        let e = kms_error(KeyError::Internal(
            "database is locked at /secret/path".into(),
        ));
        assert_eq!((e.code, e.status), ("KMSInternalException", 500));
        assert!(!e.message.contains("/secret/path"));
    }
}
