//! The crate's one error type. Every variant but [`Error::TooLarge`], [`Error::InvalidPrincipalArn`]
//! and [`Error::InvalidGrantOperation`] is a reason AWS answers `MalformedPolicyDocumentException`;
//! the `Display` text of each is the message to send. This module knows nothing of HTTP: the
//! caller (`keystead-keys`, then `keystead-wire`) maps variants to AWS error codes.
//!
//! Where AWS's own wording is known it is used verbatim (IAM's `MalformedPolicyDocument`
//! messages, KMS's lockout and invalid-principal messages); elsewhere the message follows the same
//! style. Messages name elements, fields and operators but never echo condition values, so that
//! an error never carries more of a policy than the element at fault.

/// Why a policy document, a principal ARN or a grant was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document is longer than the limit for its kind (KMS: 32 KB key policy; IAM: 2048
    /// characters for a user's inline policy, 10240 for a role's). IAM answers this with
    /// `LimitExceeded` and this text; KMS answers `LimitExceededException`.
    #[error("Cannot exceed quota for PolicySize: {limit}")]
    TooLarge {
        /// The limit, in the unit of the policy kind (bytes, or non-whitespace characters).
        limit: usize,
        /// The document's size in that unit.
        actual: usize,
    },

    /// The document is not JSON, or an element has the wrong JSON type.
    #[error("Syntax errors in policy.")]
    Syntax {
        /// Where the problem is, for logs (`"Statement[1].Action"`, `"line 3, column 7"`).
        location: String,
    },

    /// One JSON object names the same field twice; AWS would silently keep one of them, which
    /// hides policy text from a reviewer, so keystead refuses it.
    #[error("Policy document contains the field {field} more than once.")]
    DuplicateField {
        /// The repeated field name.
        field: String,
    },

    /// A policy or statement element that the grammar does not have (`"Effects"`, `"Notaction"`).
    #[error("Policy document contains an unknown element {element}.")]
    UnknownElement {
        /// The element's name as written.
        element: String,
    },

    /// `Version` is neither `2012-10-17` nor `2008-10-17` (IAM's wording).
    #[error("The policy failed legacy parsing")]
    InvalidVersion,

    /// The document has no `Statement`, or an empty one.
    #[error("Missing required field Statement")]
    MissingStatement,

    /// A statement has no `Effect` (IAM's wording).
    #[error("Missing required field Effect")]
    MissingEffect,

    /// `Effect` is neither `Allow` nor `Deny` (both case-sensitive).
    #[error("Invalid effect: {effect}")]
    InvalidEffect {
        /// The effect as written.
        effect: String,
    },

    /// A statement has neither `Action` nor `NotAction`, or an empty list (IAM's wording).
    #[error("Policy statement must contain actions.")]
    MissingAction,

    /// A statement has neither `Resource` nor `NotResource`, or an empty list (IAM's wording).
    #[error("Policy statement must contain resources.")]
    MissingResource,

    /// A key policy statement has neither `Principal` nor `NotPrincipal`.
    #[error("Missing required field Principal")]
    MissingPrincipal,

    /// An identity-based policy names a principal (IAM's wording).
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,

    /// A statement has both an element and its `Not` form (`Action` and `NotAction`).
    #[error("Statement cannot contain both {element} and Not{element}.")]
    ConflictingElements {
        /// `Action`, `Resource` or `Principal`.
        element: &'static str,
    },

    /// An action is neither `*` nor `vendor:name`, or a condition key has no vendor prefix
    /// (IAM's wording, which covers both).
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendorPrefix,

    /// A resource is neither `*` nor an ARN (IAM's wording).
    #[error("Resource {resource} must be in ARN format or \"*\".")]
    InvalidResource {
        /// The resource as written.
        resource: String,
    },

    /// A principal is not `*`, an account id, an IAM/STS principal ARN or a service name, or uses
    /// a partial wildcard. Also what PutKeyPolicy answers when a named principal does not exist
    /// (see [`crate::check_principals_exist`]). KMS's wording.
    #[error("Policy contains a statement with one or more invalid principals.")]
    InvalidPrincipals,

    /// An identity-based policy's `Sid` is not alphanumeric (IAM's wording; key policies allow
    /// any `Sid`).
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular \
         expression [0-9A-Za-z]*"
    )]
    InvalidSid,

    /// Two statements of an identity-based policy share a `Sid` (IAM's wording).
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,

    /// A condition block names an operator that IAM does not have, or combines a set qualifier
    /// or `IfExists` with `Null`.
    #[error("Policy contains an unknown condition operator {operator}.")]
    UnknownConditionOperator {
        /// The operator as written.
        operator: String,
    },

    /// A condition value cannot be read as the operator's type (a number for `Numeric*`, a date
    /// for `Date*`, `true`/`false` for `Bool` and `Null`, base64 for `BinaryEquals`, an address
    /// or CIDR block for `IpAddress`), or a key has no values.
    #[error("Condition operator {operator} has an invalid value for key {key}.")]
    InvalidConditionValue {
        /// The operator as written.
        operator: String,
        /// The condition key as written.
        key: String,
    },

    /// The policy would stop the principal that is setting it from changing it again (KMS's
    /// policy lockout safety check; see [`crate::check_lockout_safety`]). KMS's wording.
    #[error("The new key policy will not allow you to update the key policy in the future.")]
    Lockout,

    /// A caller or grantee principal is not an ARN this crate understands.
    #[error("{arn} is not a valid principal")]
    InvalidPrincipalArn {
        /// The ARN as given.
        arn: String,
    },

    /// A grant names an operation that grants cannot allow.
    #[error("{operation} is not a valid grant operation")]
    InvalidGrantOperation {
        /// The operation as given.
        operation: String,
    },
}
