//! AWS Signature Version 4, as AWS's JSON services (KMS, Secrets Manager, STS) verify it: the
//! header form (`Authorization: AWS4-HMAC-SHA256 ...`) and the presigned form (`X-Amz-*` query
//! parameters), with AWS's error codes and messages. Signing is here too, for keystead's own
//! clients and tests.
//!
//! This crate owns the canonical request, the credential scope, the clock-skew and expiry
//! checks and the constant-time signature comparison. It does not own access keys, sessions or
//! HTTP serving: it takes `http` types and byte slices, and its caller looks the secret up
//! between [`parse`] and [`SignedRequest::verify`]. All cryptography comes from
//! `keystead-crypto`.
//!
//! ```
//! use keystead_sigv4::{RequestParts, SigningParams, parse, sign};
//! use time::macros::datetime;
//!
//! let now = datetime!(2015-08-30 12:36:00 UTC);
//! let method = http::Method::POST;
//! let uri: http::Uri = "/".parse()?;
//! let mut headers = http::HeaderMap::new();
//! headers.insert("host", "kms.us-east-1.amazonaws.com".parse()?);
//! let body = br#"{"KeyId":"alias/example"}"#;
//!
//! // A client signs...
//! let params = SigningParams {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
//!     session_token: None,
//!     region: "us-east-1",
//!     service: "kms",
//!     time: now,
//!     content_sha256_header: false,
//! };
//! sign(&RequestParts::new(&method, &uri, &headers), body, &params)?.apply_to(&mut headers);
//!
//! // ...and the server parses, looks the secret up by access key id, and verifies.
//! let parts = RequestParts::new(&method, &uri, &headers);
//! let claimed = parse(&parts)?;
//! assert_eq!(claimed.access_key_id(), "AKIDEXAMPLE");
//! let verified = claimed.verify(&parts, body, params.secret_access_key, "kms", now)?;
//! assert_eq!(verified.region(), "us-east-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod canonical;
mod date;
mod error;
mod key;
mod parse;
mod sign;
mod verify;

use http::{HeaderMap, HeaderName, Method, Uri};

pub use error::{AuthorizationComponent, Error, ScopeProblem};
pub use key::SigningKeyCache;
pub use parse::{CredentialScope, SignatureForm, SignedRequest, parse};
pub use sign::{SigningOutput, SigningParams, presign, sign};
pub use verify::Verified;

/// The only algorithm supported: SigV4 with HMAC-SHA-256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's timestamp may be from the server's clock (either way).
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// The longest a presigned request may be valid: seven days, in seconds.
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;

/// The credential scope's terminator.
const TERMINATOR: &str = "aws4_request";
/// The payload hash of presigned requests that do not sign their body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
// Header names as constants: looking a `HeaderName` up skips parsing the name.
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// A header value as text: borrowed when it is UTF-8 (always, for what clients send), else
/// with invalid bytes replaced.
fn header_text(value: &http::HeaderValue) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

/// The parts of an HTTP request that a signature covers, besides the body. The URI is the
/// request target as received (path and query, still percent-encoded; an authority is used
/// for `host` only when the headers have no `Host`).
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request target.
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
}

impl<'a> RequestParts<'a> {
    /// Borrows the three parts.
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        RequestParts {
            method,
            uri,
            headers,
        }
    }
}

impl<'a> From<&'a http::request::Parts> for RequestParts<'a> {
    fn from(parts: &'a http::request::Parts) -> Self {
        RequestParts::new(&parts.method, &parts.uri, &parts.headers)
    }
}
