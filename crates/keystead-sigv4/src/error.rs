//! The crate's one error type. Every variant is a fact about the request's signature, named the
//! way AWS names it, with [`Error::aws_code`] and [`Error::message`] giving the code and the text
//! that AWS's JSON services send for it. Nothing here knows HTTP statuses: `keystead-wire` maps
//! codes to statuses.
//!
//! Messages repeat what the client sent (its Authorization header, dates, scope parts) exactly as
//! AWS does, but never a secret, a signature we computed, or a canonical request.

use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::date::AmzDate;
use crate::{ALGORITHM, MAX_CLOCK_SKEW, MAX_PRESIGNED_EXPIRES_SECS};

/// Why a request's SigV4 authentication was refused (or, for [`Error::InvalidSigningInput`],
/// why a request could not be signed).
///
/// The checks run in AWS's order as far as the API allows: [`parse`](crate::parse) finds the
/// structural problems (missing or malformed parts, algorithm, credential shape, date format),
/// then [`SignedRequest::verify`](crate::SignedRequest::verify) checks the time window, the signed
/// headers, the credential scope and finally the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query parameter is present, or
    /// the `Authorization` header is not an AWS4 one at all (a bearer token, SigV2). Code
    /// `MissingAuthenticationTokenException`.
    #[error("{}", self.message())]
    MissingAuthenticationToken,

    /// Both an `Authorization` header and an `X-Amz-Algorithm` query parameter are present. Code
    /// `InvalidSignatureException`, as DynamoDB answers.
    #[error("{}", self.message())]
    AmbiguousAuthentication,

    /// The `Authorization` header lacks one or more of its parts, or the request has neither an
    /// `X-Amz-Date` nor a `Date` header. Code `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MissingAuthorizationComponents {
        /// What is missing, in AWS's order: Credential, Signature, SignedHeaders, date.
        missing: Vec<AuthorizationComponent>,
        /// The `Authorization` header as received; AWS repeats it in the message.
        authorization: String,
    },

    /// A part of the `Authorization` header has no `=`. Code `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MalformedAuthorizationComponent {
        /// The offending part.
        component: String,
        /// The `Authorization` header as received.
        authorization: String,
    },

    /// Presigned form: required query parameters are missing. Code
    /// `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MissingQueryParameters {
        /// The missing parameter names, in AWS's order.
        missing: Vec<&'static str>,
    },

    /// The algorithm is an AWS4 one other than `AWS4-HMAC-SHA256` (for example SigV4a's
    /// `AWS4-ECDSA-P256-SHA256`). Code `IncompleteSignatureException`.
    #[error("{}", self.message())]
    UnsupportedAlgorithm {
        /// The algorithm the request named.
        algorithm: String,
    },

    /// The credential is not `KEYID/DATE/REGION/SERVICE/TERMINATOR`. Code
    /// `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MalformedCredential {
        /// The credential as received.
        credential: String,
    },

    /// `X-Amz-Date` (or `Date`) is not `YYYYMMDD'T'HHMMSS'Z'`. Code
    /// `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MalformedDate {
        /// The value as received.
        value: String,
    },

    /// Presigned form: `X-Amz-Expires` is not a number. Code `IncompleteSignatureException`.
    #[error("{}", self.message())]
    MalformedExpires {
        /// The value as received.
        value: String,
    },

    /// Presigned form: `X-Amz-Expires` is outside `1..=604800` (seven days). Code
    /// `IncompleteSignatureException`.
    #[error("{}", self.message())]
    ExpiresOutOfRange {
        /// The number of seconds the request asked for.
        seconds: i64,
    },

    /// The credential scope names an invalid region, another service, a wrong terminator or a
    /// date other than the request's. AWS reports all of these at once, as one
    /// `InvalidSignatureException`.
    #[error("{}", self.message())]
    InvalidCredentialScope {
        /// Every problem found, in AWS's order: region, service, terminator, date.
        problems: Vec<ScopeProblem>,
    },

    /// `host` is not among the signed headers. Code `InvalidSignatureException`.
    #[error("{}", self.message())]
    HostNotSigned,

    /// A header that must be signed when present (`X-Amz-Date` when it dates the request,
    /// `X-Amz-Security-Token`, `X-Amz-Content-Sha256`) is present but not signed. Code
    /// `InvalidSignatureException`.
    #[error("{}", self.message())]
    HeaderNotSigned {
        /// The header's name, capitalised as AWS writes it.
        header: &'static str,
    },

    /// The request was signed more than 15 minutes before `now`. Code
    /// `InvalidSignatureException`.
    #[error("{}", self.message())]
    SignatureExpired {
        /// The request's `X-Amz-Date`.
        signed_at: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
    },

    /// The request is dated more than 15 minutes after `now`. Code `InvalidSignatureException`.
    #[error("{}", self.message())]
    SignatureNotYetCurrent {
        /// The request's `X-Amz-Date`.
        signed_at: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
    },

    /// Presigned form: `now` is past `X-Amz-Date + X-Amz-Expires`. Code `RequestExpired`, which
    /// AWS's common-errors reference documents for requests received after a presigned URL's
    /// expiration date.
    #[error("{}", self.message())]
    PresignedRequestExpired {
        /// When the presigned request stopped being valid.
        expired_at: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
    },

    /// `X-Amz-Content-Sha256` is neither the body's SHA-256 nor, for a presigned request,
    /// `UNSIGNED-PAYLOAD`. Code `InvalidSignatureException`.
    #[error("{}", self.message())]
    ContentSha256Mismatch,

    /// The signature is not the one we computed: wrong secret, or anything signed was altered.
    /// Code `InvalidSignatureException`.
    #[error("{}", self.message())]
    SignatureDoesNotMatch,

    /// Signing only ([`sign`](crate::sign), [`presign`](crate::presign)): an input cannot go
    /// into a header or URI. Never sent to a client; code `InternalFailure`.
    #[error("{}", self.message())]
    InvalidSigningInput {
        /// Which input.
        field: &'static str,
    },
}

/// A part that the `Authorization` header (or the request's headers) must provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationComponent {
    /// `Credential=`.
    Credential,
    /// `Signature=`.
    Signature,
    /// `SignedHeaders=`.
    SignedHeaders,
    /// An `X-Amz-Date` or `Date` header.
    Date,
}

/// One thing wrong with a credential scope (`DATE/REGION/SERVICE/aws4_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeProblem {
    /// The region is not a well-formed region name.
    Region {
        /// The region as received.
        region: String,
    },
    /// The service is not the one this endpoint serves.
    Service {
        /// The service this endpoint serves (`kms`, `secretsmanager`, ...).
        expected: String,
    },
    /// The terminator is not `aws4_request`.
    Terminator {
        /// The terminator as received.
        terminator: String,
    },
    /// The scope's date is not the date of `X-Amz-Date`.
    Date {
        /// The scope's date as received.
        scope_date: String,
        /// The `YYYYMMDD` of the request's timestamp.
        request_date: String,
        /// The request's timestamp, `YYYYMMDD'T'HHMMSS'Z'`.
        request_timestamp: String,
    },
}

impl Error {
    /// The AWS error code (`__type` of AWS JSON responses).
    pub fn aws_code(&self) -> &'static str {
        match self {
            Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Error::MissingAuthorizationComponents { .. }
            | Error::MalformedAuthorizationComponent { .. }
            | Error::MissingQueryParameters { .. }
            | Error::UnsupportedAlgorithm { .. }
            | Error::MalformedCredential { .. }
            | Error::MalformedDate { .. }
            | Error::MalformedExpires { .. }
            | Error::ExpiresOutOfRange { .. } => "IncompleteSignatureException",
            Error::AmbiguousAuthentication
            | Error::InvalidCredentialScope { .. }
            | Error::HostNotSigned
            | Error::HeaderNotSigned { .. }
            | Error::SignatureExpired { .. }
            | Error::SignatureNotYetCurrent { .. }
            | Error::ContentSha256Mismatch
            | Error::SignatureDoesNotMatch => "InvalidSignatureException",
            Error::PresignedRequestExpired { .. } => "RequestExpired",
            Error::InvalidSigningInput { .. } => "InternalFailure",
        }
    }

    /// The message AWS sends with [`Error::aws_code`], with this request's details filled in.
    pub fn message(&self) -> String {
        match self {
            Error::MissingAuthenticationToken => "Missing Authentication Token".to_owned(),
            Error::AmbiguousAuthentication => "Found both 'X-Amz-Algorithm' as a query-string \
                                               param and 'Authorization' as HTTP header."
                .to_owned(),
            Error::MissingAuthorizationComponents {
                missing,
                authorization,
            } => {
                let mut m = String::new();
                for component in missing {
                    m.push_str(match component {
                        AuthorizationComponent::Credential => {
                            "Authorization header requires 'Credential' parameter. "
                        }
                        AuthorizationComponent::Signature => {
                            "Authorization header requires 'Signature' parameter. "
                        }
                        AuthorizationComponent::SignedHeaders => {
                            "Authorization header requires 'SignedHeaders' parameter. "
                        }
                        AuthorizationComponent::Date => {
                            "Authorization header requires existence of either a 'X-Amz-Date' or \
                             a 'Date' header. "
                        }
                    });
                }
                m.push_str("Authorization=");
                m.push_str(authorization);
                m
            }
            Error::MalformedAuthorizationComponent {
                component,
                authorization,
            } => format!(
                "'{component}' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: '{authorization}'."
            ),
            Error::MissingQueryParameters { missing } => {
                let mut m = String::new();
                for name in missing {
                    let _ = write!(m, "AWS query-string parameters must include '{name}'. ");
                }
                m.push_str("Re-examine the query-string parameters.");
                m
            }
            Error::UnsupportedAlgorithm { algorithm } => {
                format!("Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")
            }
            Error::MalformedCredential { credential } => format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{credential}'"
            ),
            Error::MalformedDate { value } => format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
                 http://en.wikipedia.org/wiki/ISO_8601"
            ),
            Error::MalformedExpires { value } => {
                format!("X-Amz-Expires should be a number, not '{value}'.")
            }
            Error::ExpiresOutOfRange { seconds } if *seconds > MAX_PRESIGNED_EXPIRES_SECS => {
                format!(
                    "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                     X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES_SECS} seconds"
                )
            }
            Error::ExpiresOutOfRange { .. } => "X-Amz-Expires must be positive".to_owned(),
            Error::InvalidCredentialScope { problems } => {
                let mut m = String::new();
                for problem in problems {
                    let _ = match problem {
                        ScopeProblem::Region { region } => write!(
                            m,
                            "Credential should be scoped to a valid region, not '{region}'. "
                        ),
                        ScopeProblem::Service { expected } => write!(
                            m,
                            "Credential should be scoped to correct service: '{expected}'. "
                        ),
                        ScopeProblem::Terminator { terminator } => write!(
                            m,
                            "Credential should be scoped with a valid terminator: \
                             'aws4_request', not '{terminator}'. "
                        ),
                        ScopeProblem::Date {
                            scope_date,
                            request_date,
                            request_timestamp,
                        } => write!(
                            m,
                            "Date in Credential scope does not match YYYYMMDD from ISO-8601 \
                             version of date from HTTP: '{scope_date}' != '{request_date}', \
                             from '{request_timestamp}'."
                        ),
                    };
                }
                m
            }
            Error::HostNotSigned => {
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_owned()
            }
            Error::HeaderNotSigned { header } => {
                format!("'{header}' must be a 'SignedHeader' in the AWS Authorization.")
            }
            Error::SignatureExpired { signed_at, now } => {
                let minutes = MAX_CLOCK_SKEW.whole_minutes();
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {minutes} min.)",
                    AmzDate::new(*signed_at),
                    AmzDate::new(*now - MAX_CLOCK_SKEW),
                    AmzDate::new(*now),
                )
            }
            Error::SignatureNotYetCurrent { signed_at, now } => {
                let minutes = MAX_CLOCK_SKEW.whole_minutes();
                format!(
                    "Signature not yet current: {} is still later than {} ({} + {minutes} min.)",
                    AmzDate::new(*signed_at),
                    AmzDate::new(*now + MAX_CLOCK_SKEW),
                    AmzDate::new(*now),
                )
            }
            Error::PresignedRequestExpired { .. } => "Request has expired".to_owned(),
            Error::ContentSha256Mismatch => "The provided 'x-amz-content-sha256' header does not \
                                             match what was computed."
                .to_owned(),
            Error::SignatureDoesNotMatch => "The request signature we calculated does not match \
                                             the signature you provided. Check your AWS Secret \
                                             Access Key and signing method. Consult the service \
                                             documentation for details."
                .to_owned(),
            Error::InvalidSigningInput { field } => {
                format!("cannot sign the request: {field} is not valid in a header or URI")
            }
        }
    }
}
