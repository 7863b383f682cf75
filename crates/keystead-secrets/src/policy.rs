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

/// Condition keys that pin who may use an `Allow` with a wildcard principal to a known account,
/// organization, resource or network, so the statement does not count as public (as AWS's
/// `BlockPublicPolicy` check and IAM Access Analyzer treat them).
const LIMITING_CONDITION_KEYS: [&str; 11] = [
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:userid",
];

/// Whether a (parsed, valid) resource policy grants broad access, which PutResourcePolicy
/// refuses when `BlockPublicPolicy` is set: an `Allow` statement whose principal is `*` (or has
/// `*` among its values), or that uses `NotPrincipal`, unless one of its conditions pins a
/// [`LIMITING_CONDITION_KEYS`] key to values without wildcards.
pub(crate) fn grants_public_access(text: &str) -> bool {
    use serde_json::Value;
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    fn has_wildcard(v: &Value) -> bool {
        match v {
            Value::String(s) => s == "*",
            Value::Array(list) => list.iter().any(has_wildcard),
            Value::Object(map) => map.values().any(has_wildcard),
            _ => false,
        }
    }
    fn values_are_exact(v: &Value) -> bool {
        match v {
            Value::String(s) => !s.contains(['*', '?']),
            Value::Array(list) => !list.is_empty() && list.iter().all(values_are_exact),
            Value::Bool(_) | Value::Number(_) => true,
            _ => false,
        }
    }
    let limited = |statement: &Value| {
        let Some(Value::Object(operators)) = statement.get("Condition") else {
            return false;
        };
        operators.iter().any(|(operator, keys)| {
            // A negated or "IfExists" operator does not pin anything.
            let op = operator.to_ascii_lowercase();
            if op.contains("not") || op.ends_with("ifexists") {
                return false;
            }
            let Value::Object(keys) = keys else {
                return false;
            };
            keys.iter().any(|(key, values)| {
                LIMITING_CONDITION_KEYS.contains(&key.to_ascii_lowercase().as_str())
                    && values_are_exact(values)
            })
        })
    };
    statements.into_iter().any(|statement| {
        let allow = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        let broad = statement.get("NotPrincipal").is_some()
            || statement.get("Principal").is_some_and(has_wildcard);
        allow && broad && !limited(statement)
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

#[cfg(test)]
mod tests {
    use super::grants_public_access;

    fn statement(principal: &str, condition: &str) -> String {
        let condition = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",{principal},
               "Action":"secretsmanager:GetSecretValue","Resource":"*"{condition}}}]}}"#
        )
    }

    #[test]
    fn wildcard_principals_without_a_pinning_condition_are_public() {
        for principal in [
            r#""Principal":"*""#,
            r#""Principal":{"AWS":"*"}"#,
            r#""Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]}"#,
            r#""NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"}"#,
        ] {
            assert!(
                grants_public_access(&statement(principal, "")),
                "{principal}"
            );
        }
        // Conditions that do not pin the caller leave it public.
        let wildcard_account = r#"{"StringLike":{"aws:PrincipalAccount":"*"}}"#;
        let negated = r#"{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}"#;
        let other_key = r#"{"Bool":{"aws:SecureTransport":"true"}}"#;
        for condition in [wildcard_account, negated, other_key] {
            assert!(
                grants_public_access(&statement(r#""Principal":"*""#, condition)),
                "{condition}"
            );
        }
    }

    #[test]
    fn named_principals_and_pinned_wildcards_are_not_public() {
        let account = r#""Principal":{"AWS":"arn:aws:iam::111122223333:root"}"#;
        assert!(!grants_public_access(&statement(account, "")));
        for condition in [
            r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":["o-abc123"]}}"#,
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:f"}}"#,
        ] {
            assert!(
                !grants_public_access(&statement(r#""Principal":"*""#, condition)),
                "{condition}"
            );
        }
        // A Deny with a wildcard principal grants nothing.
        let deny = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#;
        assert!(!grants_public_access(deny));
    }
}
