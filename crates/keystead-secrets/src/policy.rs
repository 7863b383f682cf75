//! Resource policies: parsing and validating them (PutResourcePolicy, ValidateResourcePolicy),
//! and the authorization policy the service evaluates for a secret, which is the resource policy
//! plus a statement delegating to the account's IAM policies (AWS's same-account rule: an IAM
//! policy or the resource policy may allow).

use keystead_authz::{Limits, Policy, PolicyKind, SizeUnit};
use keystead_store::SecretRecord;
use keystead_types::{AccountId, Caller, UnixMillis};

use crate::Error;

/// AWS's limit on a secret's resource policy, in characters.
pub(crate) const MAX_POLICY_CHARS: usize = 20_480;

const RESOURCE_POLICY: Limits = Limits {
    kind: PolicyKind::Key,
    max_size: MAX_POLICY_CHARS,
    unit: SizeUnit::Bytes,
};

/// Parses a resource policy, as PutResourcePolicy and ValidateResourcePolicy do.
pub(crate) fn parse(text: &str) -> Result<Policy, Error> {
    if text.chars().count() > MAX_POLICY_CHARS {
        return Err(Error::LimitExceeded {
            message: format!(
                "The resource policy exceeds the maximum size of {MAX_POLICY_CHARS} characters."
            ),
        });
    }
    Policy::parse(text, &RESOURCE_POLICY).map_err(|e| Error::MalformedPolicy {
        message: e.to_string(),
    })
}

/// The policy evaluated for `record`: its resource policy's statements plus one that lets the
/// account's root user (and through it the account's IAM policies) perform every
/// `secretsmanager:` action.
pub(crate) fn authorization_policy(record: &SecretRecord) -> Result<Policy, Error> {
    let delegate = serde_json::json!({
        "Sid": "keystead-account-delegation",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", record.account_id)},
        "Action": "secretsmanager:*",
        "Resource": "*"
    });
    let mut statements = vec![delegate];
    if let Some(text) = &record.resource_policy {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::MalformedPolicy {
                message: e.to_string(),
            })?;
        match doc.get("Statement") {
            Some(serde_json::Value::Array(list)) => statements.extend(list.iter().cloned()),
            Some(one) => statements.push(one.clone()),
            None => {}
        }
    }
    let combined = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    Policy::parse(
        &combined.to_string(),
        &Limits {
            kind: PolicyKind::Key,
            max_size: MAX_POLICY_CHARS * 2,
            unit: SizeUnit::Bytes,
        },
    )
    .map_err(|e| Error::MalformedPolicy {
        message: e.to_string(),
    })
}

/// The request as policies see it: who, what, on which secret, when and where.
pub(crate) fn request_context(
    caller: &Caller,
    arn: &str,
    account: &AccountId,
    action: &str,
    now: UnixMillis,
) -> keystead_authz::RequestContext {
    let principal = match (&caller.role_session, &caller.user) {
        (Some(session), _) => keystead_authz::Principal::assumed_role(
            &session.role_arn(&caller.account_id),
            &session.session_name,
        )
        .unwrap_or_else(|_| keystead_authz::Principal::anonymous()),
        (None, Some(_)) => keystead_authz::Principal::from_arn(&caller.principal_arn())
            .unwrap_or_else(|_| keystead_authz::Principal::anonymous()),
        (None, None) => keystead_authz::Principal::root(&caller.account_id),
    };
    keystead_authz::RequestContext::new(principal, action, arn, account.clone())
        .with_current_time(now)
        .with_value("aws:RequestedRegion", caller.region.as_str())
}
