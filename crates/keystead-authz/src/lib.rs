//! The IAM policy language as AWS documents it, for KMS authorization: parsing and validating
//! key policies and identity-based policies, and deciding requests against a key policy, the
//! caller's identity policies and the key's grants.
//!
//! This crate is pure. It performs no I/O, reads no clock (the time arrives in the
//! [`RequestContext`]), knows nothing of HTTP or storage, and never looks a principal up (the
//! existence check takes a predicate). It owns the grammar and the semantics; `keystead-keys`
//! decides what to evaluate and when, and `keystead-wire` maps [`Error`] and denials to AWS
//! error codes.
//!
//! - [`Policy::parse`] turns a document into a compiled [`Policy`], enforcing [`Limits`]; the
//!   error's `Display` is AWS's `MalformedPolicyDocumentException` message.
//! - [`evaluate_kms`] returns a [`Decision`]: `Allow` with [`AllowedBy`], or `Deny` with a
//!   [`DenyReason`] whose [`DenyReason::message`] is AWS's AccessDeniedException text.
//!   [`Decision::into_permit`] gives the [`Permit`] service functions require.
//! - [`check_lockout_safety`] and [`check_principals_exist`] are PutKeyPolicy's checks.
//!
//! The algorithm and its sources are described in `docs/design/policy-evaluation.md`.
//!
//! ```
//! use keystead_authz::{evaluate_kms, Limits, Policy, Principal, RequestContext};
//!
//! let key_policy = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!         "Principal":{"Service":"rds.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
//!     &Limits::KEY_POLICY,
//! )?;
//! let ctx = RequestContext::new(
//!     Principal::service("rds.amazonaws.com"),
//!     "kms:Decrypt",
//!     "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
//!     "111122223333".parse()?,
//! );
//! assert!(evaluate_kms(&key_policy, &[], &[], &ctx).is_allow());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod condition;
mod context;
mod error;
mod evaluate;
mod grant;
mod iso8601;
mod json;
mod pattern;
mod policy;
mod principal;

pub use context::RequestContext;
pub use error::Error;
pub use evaluate::{
    AllowedBy, Decision, DenyReason, Permit, PolicyRef, PolicyType, StatementRef,
    check_lockout_safety, check_principals_exist, evaluate_kms, unknown_principals,
};
pub use grant::{Grant, GrantConstraints, GrantOperation};
pub use policy::{Effect, Limits, Policy, PolicyKind, PolicyVersion, SizeUnit, Statement};
pub use principal::{Principal, PrincipalKind};
