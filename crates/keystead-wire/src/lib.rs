//! The AWS wire protocols as keystead speaks them: AWS JSON 1.1 (`X-Amz-Target` →
//! [`kms::Operation`]) and AWS Query (`Action=…` → [`sts::Operation`], [`iam::Operation`]);
//! request and response types per operation, validation with AWS's messages, and error bodies.
//!
//! The per-service modules ([`kms`], [`secretsmanager`], [`cloudtrail`], [`sts`], [`iam`]) are
//! generated from the vendored botocore models by `cargo xtask codegen` and checked in; the rest
//! is hand-written. This crate knows nothing of HTTP frameworks, storage or cryptography: for
//! JSON a server reads the target header and body, calls [`parse_request`], runs the operation,
//! and answers with [`to_response_body`] or [`AwsError::to_json_body`]; for Query it parses
//! [`QueryParams`], resolves `Operation::from_params`, calls [`parse_query_request`], and
//! answers with [`to_query_response`] or [`QueryError::to_xml_in`] (see [`query`]).
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
//!
//! ```
//! use keystead_wire::sts::{GetSessionTokenRequest, Operation};
//! use keystead_wire::{QueryParams, parse_query_request};
//!
//! let params = QueryParams::parse(b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=10")
//!     .expect("well-formed");
//! assert_eq!(Operation::from_params(&params), Ok(Operation::GetSessionToken));
//! let err = parse_query_request::<GetSessionTokenRequest>(&params).err().expect("too short");
//! assert_eq!(err.code, "ValidationError");
//! ```

#![warn(missing_docs)]

mod error;
mod generated;
mod json;
pub mod query;
mod types;
mod validate;

pub use error::{AwsError, Error, ErrorType, Problem, QueryError, QueryRejection};
pub use generated::{cloudtrail, iam, kms, secretsmanager, sts};
pub use json::{parse, parse_request, to_response_body};
pub use query::{
    FromQuery, QueryParams, ToXml, encode_policy_document, parse_query, parse_query_request,
    to_query_empty_response, to_query_response,
};
pub use types::{Blob, SensitiveBlob, SensitiveString, Timestamp};
pub use validate::{Path, Validate, Violations, WireEnum};

#[cfg(test)]
mod tests {
    #[test]
    fn every_generated_pattern_compiles() {
        assert!(crate::kms::compile_all_patterns() > 0);
        assert!(crate::secretsmanager::compile_all_patterns() > 0);
        assert!(crate::cloudtrail::compile_all_patterns() > 0);
        assert!(crate::sts::compile_all_patterns() > 0);
        assert!(crate::iam::compile_all_patterns() > 0);
    }
}
