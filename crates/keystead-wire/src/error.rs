//! Request-parsing errors and the error bodies of both protocols.
//!
//! AWS JSON 1.1: [`Error`] is what goes wrong turning bytes into a request; [`AwsError`] is what
//! goes back on the wire: a `__type` code, an HTTP status and a message, serialized as
//! `{"__type":"ValidationException","message":"…"}`, which botocore and the AWS SDKs parse for
//! the JSON protocols.
//!
//! AWS Query (STS, IAM): [`QueryRejection`] is what goes wrong turning a form body into a
//! request; [`QueryError`] is the wire error, a `<Code>`, HTTP status, `<Type>` and message,
//! serialized as an `<ErrorResponse>` document.
//!
//! Messages never contain request values that could be secret.

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

/// Why a Query-protocol request (STS, IAM) could not be turned into a typed request. Messages
/// name parameters but never quote their values, except the `Action` and `Version` of an
/// unknown operation (as AWS does), cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRejection {
    /// The form body or query string is not `name=value&…` with valid percent-encoding and
    /// UTF-8. Status 404 (AWS's documented status), `MalformedQueryString`; any operation.
    #[error("The query string is malformed: {reason} at byte {offset}")]
    Malformed {
        /// What is wrong, e.g. `invalid percent-encoding`.
        reason: &'static str,
        /// The byte offset in the body or query string where it was found.
        offset: usize,
    },
    /// A parameter given twice. Status 400, `InvalidQueryParameter`; any operation. (Taking
    /// either copy could silently drop, say, a session policy that narrows permissions.)
    #[error("The parameter {name} appears more than once")]
    DuplicateParameter {
        /// The repeated parameter's name, cut to 128 characters.
        name: String,
    },
    /// No `Action` parameter. Status 400, `MissingAction`; any operation.
    #[error("Missing Action")]
    MissingAction,
    /// No `Version` parameter. Status 400, `MissingParameter`; any operation.
    #[error("The request must contain the parameter Version")]
    MissingVersion,
    /// The `Action` is not an operation of the service at this `Version`. Status 400,
    /// `InvalidAction`.
    #[error("Could not find operation {action} for version {version}")]
    UnknownAction {
        /// The `Action` sent, cut to 64 characters.
        action: String,
        /// The `Version` sent, cut to 64 characters.
        version: String,
    },
    /// A parameter's value has the wrong form for its type (not an integer, not `true`/`false`,
    /// not ISO 8601, not base64, a list with a gap in its numbering, ...). Status 400,
    /// `InvalidParameterValue`.
    #[error("Invalid value for parameter {parameter}: expected {expected}")]
    InvalidValue {
        /// The full parameter name, e.g. `Tags.member.1.Key`, cut to 128 characters.
        parameter: String,
        /// What was expected, e.g. `an integer`.
        expected: &'static str,
    },
    /// The request parsed, but members break the model's constraints (including required
    /// members that are absent). Status 400, `ValidationError`.
    #[error("{0}")]
    Validation(Violations),
}

impl QueryRejection {
    /// The `<Code>` AWS answers with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            QueryRejection::Malformed { .. } => "MalformedQueryString",
            QueryRejection::DuplicateParameter { .. } => "InvalidQueryParameter",
            QueryRejection::MissingAction => "MissingAction",
            QueryRejection::MissingVersion => "MissingParameter",
            QueryRejection::UnknownAction { .. } => "InvalidAction",
            QueryRejection::InvalidValue { .. } => "InvalidParameterValue",
            QueryRejection::Validation(_) => "ValidationError",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            QueryRejection::Malformed { .. } => 404,
            QueryRejection::DuplicateParameter { .. } => 400,
            QueryRejection::MissingAction => 400,
            QueryRejection::MissingVersion => 400,
            QueryRejection::UnknownAction { .. } => 400,
            QueryRejection::InvalidValue { .. } => 400,
            QueryRejection::Validation(_) => 400,
        }
    }
}

/// Whose fault a Query error is: the `<Type>` of the error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// The request was wrong (4xx).
    Sender,
    /// The service failed (5xx).
    Receiver,
}

impl ErrorType {
    /// `Sender` or `Receiver`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Sender => "Sender",
            ErrorType::Receiver => "Receiver",
        }
    }
}

/// A Query-protocol error response: `<Code>`, HTTP status, `<Type>` and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct QueryError {
    /// The exact `<Code>`, e.g. `NoSuchEntity`.
    pub code: &'static str,
    /// The HTTP status, e.g. 404.
    pub status: u16,
    /// `Sender` or `Receiver`.
    pub error_type: ErrorType,
    /// The human-readable message; must not contain secrets.
    pub message: String,
}

impl QueryError {
    /// An error with `code`, `status`, `error_type` and `message`.
    pub fn new(
        code: &'static str,
        status: u16,
        error_type: ErrorType,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            status,
            error_type,
            message: message.into(),
        }
    }

    /// The error body without a namespace:
    ///
    /// ```text
    /// <ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>…</Message>
    /// </Error><RequestId>…</RequestId></ErrorResponse>
    /// ```
    pub fn to_xml(&self, request_id: &str) -> Vec<u8> {
        self.write(None, request_id)
    }

    /// The error body with `xmlns` set to the service's namespace (e.g.
    /// [`crate::iam::XML_NAMESPACE`]), as STS and IAM send it.
    pub fn to_xml_in(&self, namespace: &str, request_id: &str) -> Vec<u8> {
        self.write(Some(namespace), request_id)
    }

    fn write(&self, namespace: Option<&str>, request_id: &str) -> Vec<u8> {
        let mut xml = crate::query::XmlWriter::new();
        match namespace {
            Some(namespace) => xml.start_with_namespace("ErrorResponse", namespace),
            None => xml.start("ErrorResponse"),
        }
        xml.start("Error");
        xml.value("Type", self.error_type.as_str());
        xml.value("Code", self.code);
        xml.value("Message", self.message.as_str());
        xml.end("Error");
        xml.value("RequestId", request_id);
        xml.end("ErrorResponse");
        xml.into_bytes()
    }
}

impl From<QueryRejection> for QueryError {
    fn from(rejection: QueryRejection) -> Self {
        QueryError::new(
            rejection.aws_code(),
            rejection.status(),
            ErrorType::Sender,
            rejection.to_string(),
        )
    }
}
