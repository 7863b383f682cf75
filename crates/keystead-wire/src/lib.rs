//! The AWS JSON 1.1 wire protocol as keystead speaks it: `X-Amz-Target` → [`kms::Operation`],
//! request and response types per operation, validation with AWS's messages, and error bodies.
//!
//! The per-service modules ([`kms`], [`secretsmanager`], [`cloudtrail`]) are generated from the
//! vendored botocore models by `cargo xtask codegen` and checked in; the rest is hand-written.
//! This crate knows nothing of HTTP frameworks, storage or cryptography: a server reads the
//! target header and body, calls [`parse_request`], runs the operation, and answers with
//! [`to_response_body`] or [`AwsError::to_json_body`].
//!
//! ```
//! use keystead_wire::kms::{EncryptRequest, Operation};
//!
//! assert_eq!(Operation::from_target("TrentService.Encrypt"), Some(Operation::Encrypt));
//! let err = keystead_wire::parse_request::<EncryptRequest>(br#"{"KeyId":"alias/x"}"#)
//!     .err()
//!     .expect("Plaintext is required");
//! assert_eq!(err.code, "ValidationException");
//! ```

#![warn(missing_docs)]

mod error;
mod generated;
mod json;
mod types;
mod validate;

pub use error::{AwsError, Error, Problem};
pub use generated::{cloudtrail, kms, secretsmanager};
pub use json::{parse, parse_request, to_response_body};
pub use types::{Blob, SensitiveBlob, SensitiveString, Timestamp};
pub use validate::{Path, Validate, Violations, WireEnum};

#[cfg(test)]
mod tests {
    #[test]
    fn every_generated_pattern_compiles() {
        assert!(crate::kms::compile_all_patterns() > 0);
        assert!(crate::secretsmanager::compile_all_patterns() > 0);
        assert!(crate::cloudtrail::compile_all_patterns() > 0);
    }
}
