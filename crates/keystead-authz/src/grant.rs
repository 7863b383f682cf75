//! Grants: permissions on one KMS key given to one grantee principal for a list of operations,
//! optionally constrained by the request's encryption context (KMS Developer Guide, "Grants in
//! AWS KMS" and "Grant constraints").
//!
//! A grant is evaluated alongside the key policy: it allows its operations to its grantee
//! without any IAM policy, in the key's account or another (the grant itself names the
//! principal, as a key policy statement naming the principal does). A grantee that is an
//! account's root ARN allows that account's root user directly and the account's other
//! principals only where their IAM policies allow, as an account principal in a key policy does.
//! Grants only allow: an explicit deny in the key policy or an IAM policy still wins.
//!
//! Constraints apply only to operations that take an encryption context. A constrained grant
//! does not allow other operations (`DescribeKey`, `Sign`, `RetireGrant`, ...).
//! `EncryptionContextEquals` requires the request's context to be exactly the map (keys and
//! values case-sensitive); `EncryptionContextSubset` requires every pair of the map to appear in
//! the request's context, which may have more.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::context::RequestContext;
use crate::principal::{Entry, Match};

/// The operations a grant can allow (KMS API Reference, `CreateGrant` `Operations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantOperation {
    /// `Decrypt`.
    Decrypt,
    /// `Encrypt`.
    Encrypt,
    /// `GenerateDataKey`.
    GenerateDataKey,
    /// `GenerateDataKeyWithoutPlaintext`.
    GenerateDataKeyWithoutPlaintext,
    /// `ReEncryptFrom`: re-encrypting ciphertext that was under this key.
    ReEncryptFrom,
    /// `ReEncryptTo`: re-encrypting under this key.
    ReEncryptTo,
    /// `Sign`.
    Sign,
    /// `Verify`.
    Verify,
    /// `GetPublicKey`.
    GetPublicKey,
    /// `CreateGrant`.
    CreateGrant,
    /// `RetireGrant`.
    RetireGrant,
    /// `DescribeKey`.
    DescribeKey,
    /// `GenerateDataKeyPair`.
    GenerateDataKeyPair,
    /// `GenerateDataKeyPairWithoutPlaintext`.
    GenerateDataKeyPairWithoutPlaintext,
    /// `GenerateMac`.
    GenerateMac,
    /// `VerifyMac`.
    VerifyMac,
    /// `DeriveSharedSecret`.
    DeriveSharedSecret,
}

const OPERATIONS: [GrantOperation; 17] = [
    GrantOperation::Decrypt,
    GrantOperation::Encrypt,
    GrantOperation::GenerateDataKey,
    GrantOperation::GenerateDataKeyWithoutPlaintext,
    GrantOperation::ReEncryptFrom,
    GrantOperation::ReEncryptTo,
    GrantOperation::Sign,
    GrantOperation::Verify,
    GrantOperation::GetPublicKey,
    GrantOperation::CreateGrant,
    GrantOperation::RetireGrant,
    GrantOperation::DescribeKey,
    GrantOperation::GenerateDataKeyPair,
    GrantOperation::GenerateDataKeyPairWithoutPlaintext,
    GrantOperation::GenerateMac,
    GrantOperation::VerifyMac,
    GrantOperation::DeriveSharedSecret,
];

impl GrantOperation {
    /// The operation's name as AWS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantOperation::Decrypt => "Decrypt",
            GrantOperation::Encrypt => "Encrypt",
            GrantOperation::GenerateDataKey => "GenerateDataKey",
            GrantOperation::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            GrantOperation::ReEncryptFrom => "ReEncryptFrom",
            GrantOperation::ReEncryptTo => "ReEncryptTo",
            GrantOperation::Sign => "Sign",
            GrantOperation::Verify => "Verify",
            GrantOperation::GetPublicKey => "GetPublicKey",
            GrantOperation::CreateGrant => "CreateGrant",
            GrantOperation::RetireGrant => "RetireGrant",
            GrantOperation::DescribeKey => "DescribeKey",
            GrantOperation::GenerateDataKeyPair => "GenerateDataKeyPair",
            GrantOperation::GenerateDataKeyPairWithoutPlaintext => {
                "GenerateDataKeyPairWithoutPlaintext"
            }
            GrantOperation::GenerateMac => "GenerateMac",
            GrantOperation::VerifyMac => "VerifyMac",
            GrantOperation::DeriveSharedSecret => "DeriveSharedSecret",
        }
    }

    /// Whether the operation takes an encryption context, so that constraints can apply.
    pub fn takes_encryption_context(self) -> bool {
        matches!(
            self,
            GrantOperation::Decrypt
                | GrantOperation::Encrypt
                | GrantOperation::GenerateDataKey
                | GrantOperation::GenerateDataKeyWithoutPlaintext
                | GrantOperation::ReEncryptFrom
                | GrantOperation::ReEncryptTo
                | GrantOperation::GenerateDataKeyPair
                | GrantOperation::GenerateDataKeyPairWithoutPlaintext
                | GrantOperation::CreateGrant
        )
    }

    /// Whether `action` (`kms:Decrypt`, any case) is this operation.
    fn is_action(self, action: &str) -> bool {
        action.split_once(':').is_some_and(|(vendor, name)| {
            vendor.eq_ignore_ascii_case("kms") && name.eq_ignore_ascii_case(self.as_str())
        })
    }
}

impl FromStr for GrantOperation {
    type Err = Error;
    fn from_str(s: &str) -> Result<GrantOperation, Error> {
        OPERATIONS
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| Error::InvalidGrantOperation {
                operation: s.to_owned(),
            })
    }
}

impl fmt::Display for GrantOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A grant's encryption context constraint (`CreateGrant` `Constraints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantConstraints {
    /// The request's encryption context must be exactly this map.
    EncryptionContextEquals(BTreeMap<String, String>),
    /// The request's encryption context must contain every pair of this map.
    EncryptionContextSubset(BTreeMap<String, String>),
}

impl GrantConstraints {
    fn allow(&self, context: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let context = context.unwrap_or(&empty);
        match self {
            GrantConstraints::EncryptionContextEquals(required) => context == required,
            GrantConstraints::EncryptionContextSubset(required) => {
                required.iter().all(|(k, v)| context.get(k) == Some(v))
            }
        }
    }
}

/// One grant on the key being accessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    grant_id: String,
    grantee_principal: String,
    grantee: Entry,
    operations: Vec<GrantOperation>,
    constraints: Option<GrantConstraints>,
    retiring_principal: Option<String>,
}

impl Grant {
    /// A grant allowing `operations` to `grantee_principal` (an account id, an IAM/STS
    /// principal ARN, or a service principal such as `rds.amazonaws.com`).
    pub fn new(
        grant_id: &str,
        grantee_principal: &str,
        operations: Vec<GrantOperation>,
        constraints: Option<GrantConstraints>,
    ) -> Result<Grant, Error> {
        let grantee = Entry::aws(grantee_principal)
            .ok()
            .filter(|e| !matches!(e, Entry::Any))
            .or_else(|| Entry::service(grantee_principal).ok())
            .ok_or_else(|| Error::InvalidPrincipalArn {
                arn: grantee_principal.to_owned(),
            })?;
        Ok(Grant {
            grant_id: grant_id.to_owned(),
            grantee_principal: grantee_principal.to_owned(),
            grantee,
            operations,
            constraints,
            retiring_principal: None,
        })
    }

    /// The same grant with a retiring principal, who may retire it (recorded for the grant
    /// operations; it plays no part in authorizing the key's use).
    pub fn with_retiring_principal(mut self, principal: &str) -> Grant {
        self.retiring_principal = Some(principal.to_owned());
        self
    }

    /// The grant id.
    pub fn grant_id(&self) -> &str {
        &self.grant_id
    }

    /// The grantee principal as given.
    pub fn grantee_principal(&self) -> &str {
        &self.grantee_principal
    }

    /// The operations allowed.
    pub fn operations(&self) -> &[GrantOperation] {
        &self.operations
    }

    /// The encryption context constraint, if any.
    pub fn constraints(&self) -> Option<&GrantConstraints> {
        self.constraints.as_ref()
    }

    /// The retiring principal, if any.
    pub fn retiring_principal(&self) -> Option<&str> {
        self.retiring_principal.as_deref()
    }

    /// Whether this grant allows `ctx`, and how its grantee matched the caller.
    pub(crate) fn allows(&self, ctx: &RequestContext) -> Option<Match> {
        let operation = self
            .operations
            .iter()
            .copied()
            .find(|o| o.is_action(ctx.action()))?;
        let matched = self.grantee.matches(ctx.principal())?;
        if let Some(constraints) = &self.constraints
            && (!operation.takes_encryption_context()
                || !constraints.allow(ctx.encryption_context()))
        {
            return None;
        }
        Some(matched)
    }
}
