//! Hand-written facts about errors that the botocore models leave out.
//!
//! The models list each service's own exceptions but (a) usually omit their HTTP status and
//! (b) never list the errors every endpoint can return before the operation runs
//! (authentication, throttling, parsing). These tables fill both gaps; `ErrorCode` in each
//! generated module is "the model's exceptions ∪ COMMON_ERRORS" (AWS JSON 1.1) or
//! "the model's exceptions ∪ COMMON_QUERY_ERRORS" (Query).

/// Errors any AWS JSON 1.1 service returns without modelling them, with their HTTP status.
/// Sources: the "Common Errors" page of the AWS API references and observed responses.
pub const COMMON_ERRORS: &[(&str, u16)] = &[
    ("AccessDeniedException", 400),
    ("IncompleteSignatureException", 400),
    ("InternalFailure", 500),
    ("InvalidSignatureException", 400),
    ("MissingAuthenticationTokenException", 403),
    ("RequestExpired", 400),
    ("SerializationException", 400),
    ("ServiceUnavailable", 503),
    ("ThrottlingException", 400),
    ("UnknownOperationException", 400),
    ("UnrecognizedClientException", 400),
    ("ValidationException", 400),
];

/// Errors any AWS Query service (STS, IAM) returns without modelling them: (code, HTTP status).
/// The `<Type>` is `Receiver` for 5xx and `Sender` otherwise.
///
/// Sources: the "Common Errors" pages of the Query API references (which give
/// `MalformedQueryString` status 404) and observed responses: `AccessDenied` (STS `AssumeRole`
/// refused), `ExpiredToken` (403, an expired session token on any call; distinct from STS's
/// modelled `ExpiredTokenException`, a web-identity token that expired), `SignatureDoesNotMatch`
/// and `Throttling`, which are what the services send although the pages list
/// `AccessDeniedException`/`ThrottlingException`.
pub const COMMON_QUERY_ERRORS: &[(&str, u16)] = &[
    ("AccessDenied", 403),
    ("ExpiredToken", 403),
    ("IncompleteSignature", 400),
    ("InternalFailure", 500),
    ("InvalidAction", 400),
    ("InvalidClientTokenId", 403),
    ("InvalidParameterCombination", 400),
    ("InvalidParameterValue", 400),
    ("InvalidQueryParameter", 400),
    ("MalformedQueryString", 404),
    ("MissingAction", 400),
    ("MissingAuthenticationToken", 403),
    ("MissingParameter", 400),
    ("NotAuthorized", 400),
    ("OptInRequired", 403),
    ("RequestExpired", 400),
    ("ServiceUnavailable", 503),
    ("SignatureDoesNotMatch", 403),
    ("Throttling", 400),
    ("ValidationError", 400),
];

/// Statuses for modelled exceptions that carry no `error.httpStatusCode`. Anything not listed
/// here (and not in the model) is a client error, 400.
pub const STATUS_OVERRIDES: &[(&str, u16)] = &[
    ("DependencyTimeoutException", 503),
    ("InternalFailure", 500),
    ("InternalServiceError", 500),
    ("KMSInternalException", 500),
    ("KeyUnavailableException", 500),
    ("ServiceUnavailable", 503),
    ("MissingAuthenticationTokenException", 403),
];

/// The status of a modelled exception: the model's own, else the override table, else 400.
pub fn status_for(code: &str, modelled: Option<u16>) -> u16 {
    modelled
        .or_else(|| {
            STATUS_OVERRIDES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, s)| *s)
        })
        .unwrap_or(400)
}

/// Non-sensitive string shapes whose values validation messages still never quote: policy
/// documents (house style: client messages never contain policy text). Sensitive shapes are
/// never quoted anyway.
pub const UNECHOED_SHAPES: &[&str] = &[
    "NonEmptyResourcePolicyType",
    "PolicyType",
    "ResourcePolicy",
    "policyDocumentType",
    "sessionPolicyDocumentType",
    "unrestrictedSessionPolicyDocumentType",
];
