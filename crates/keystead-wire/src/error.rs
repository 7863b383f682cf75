//! Request-parsing errors and the AWS JSON error body.
//!
//! [`Error`] is what goes wrong turning bytes into a request; [`AwsError`] is what goes back on
//! the wire: a `__type` code, an HTTP status and a message, serialized as
//! `{"__type":"ValidationException","message":"…"}`, which botocore and the AWS SDKs parse for
//! the JSON protocols. Messages never contain request values that could be secret.

use serde::Serialize;

use crate::validate::Violations;

/// Why a request body could not be turned into a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The body is not a JSON object, or a member has the wrong JSON type, is unknown, or holds
    /// invalid base64. Status 400, `SerializationException`; any operation.
    #[error("{problem}")]
    Serialization {
        /// What is wrong.
        problem: Problem,
    },
    /// The body parsed, but members break the model's constraints. Status 400,
    /// `ValidationException`; any operation.
    #[error("{0}")]
    Validation(Violations),
}

/// What is wrong with a body that cannot be deserialized. The variants carry member names and
/// type descriptions only, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not JSON at all; `detail` is serde_json's fixed description of the syntax error.
    #[error("Malformed JSON at line {line} column {column}: {detail}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// e.g. `expected value`, `EOF while parsing an object`.
        detail: String,
    },
    /// Valid JSON whose top level is not an object.
    #[error("The request body must be a JSON object")]
    NotAnObject,
    /// A member the operation's input does not have.
    #[error("Unknown member '{name}'{}", within(.member))]
    UnknownMember {
        /// The unknown member's name.
        name: String,
        /// The top-level member it was found in, if it was nested.
        member: Option<String>,
    },
    /// A member given twice.
    #[error("Duplicate member '{name}'{}", within(.member))]
    DuplicateMember {
        /// The repeated member's name.
        name: String,
        /// The top-level member it was found in, if it was nested.
        member: Option<String>,
    },
    /// A member holds the wrong kind of JSON value (or a number out of the type's range).
    #[error("Cannot deserialize member '{member}': expected {expected}")]
    WrongType {
        /// The top-level member holding the bad value.
        member: String,
        /// What was expected, e.g. `a string`, `an integer`.
        expected: String,
    },
    /// A blob member is not valid standard base64.
    #[error("Cannot deserialize member '{member}': invalid base64")]
    InvalidBase64 {
        /// The top-level member holding the bad value.
        member: String,
    },
    /// Anything else serde reports; its text is not passed on because it may quote a value.
    #[error("Cannot deserialize the request body")]
    Other,
}

fn within(member: &Option<String>) -> String {
    member
        .as_ref()
        .map(|m| format!(" in '{m}'"))
        .unwrap_or_default()
}

impl Error {
    /// The `__type` AWS answers with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Error::Serialization { .. } => "SerializationException",
            Error::Validation(_) => "ValidationException",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Serialization { .. } => 400,
            Error::Validation(_) => 400,
        }
    }
}

/// An error response: `__type`, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// The exact `__type`, e.g. `NotFoundException`.
    pub code: &'static str,
    /// The HTTP status, e.g. 400.
    pub status: u16,
    /// The human-readable message; must not contain secrets.
    pub message: String,
}

impl AwsError {
    /// An error with `code`, `status` and `message`.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }

    /// The JSON body: `{"__type":"NotFoundException","message":"…"}`.
    pub fn to_json_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "__type")]
            code: &'a str,
            message: &'a str,
        }
        let body = Body {
            code: self.code,
            message: &self.message,
        };
        // Serializing two strings into a Vec cannot fail.
        serde_json::to_vec(&body).expect("invariant: two strings always serialize")
    }
}

impl From<Error> for AwsError {
    fn from(error: Error) -> Self {
        AwsError::new(error.aws_code(), error.status(), error.to_string())
    }
}
