//! Key policy documents: the default policy AWS gives a key created without one, and the
//! grammar check PutKeyPolicy and CreateKey apply. Evaluation is not here: until the
//! authorization layer lands, a key's own account may do everything.

use serde_json::{Map, Value};

use crate::Error;

/// AWS's limit on a key policy document, in bytes.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// The policy AWS attaches to a key created without one: the account's root principal may do
/// everything, which delegates access to the account's IAM policies. Formatted as AWS returns it.
pub fn default_policy(account_id: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account_id}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// Checks that `text` is a key policy AWS would accept syntactically: a JSON object with
/// `Statement` (one object or a non-empty array), each statement with an `Effect`, a principal,
/// an action and a resource element of the right shapes.
pub fn validate(text: &str) -> Result<(), Error> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(Error::LimitExceeded {
            message: format!(
                "The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
            ),
        });
    }
    let doc: Value =
        serde_json::from_str(text).map_err(|_| malformed("The policy is not valid JSON."))?;
    let doc = doc
        .as_object()
        .ok_or_else(|| malformed("The policy must be a JSON object."))?;
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!("Policy has an unknown element {key}.")));
        }
    }
    if doc
        .get("Version")
        .is_some_and(|v| !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17")))
    {
        return Err(malformed("Policy has an invalid Version."));
    }
    if doc.get("Id").is_some_and(|id| !id.is_string()) {
        return Err(malformed("Policy Id must be a string."));
    }
    let statements = match doc.get("Statement") {
        Some(Value::Object(s)) => vec![s],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|s| {
                s.as_object()
                    .ok_or_else(|| malformed("Each policy statement must be a JSON object."))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(malformed("Policy must contain at least one Statement.")),
    };
    for statement in statements {
        validate_statement(statement)?;
    }
    Ok(())
}

fn validate_statement(s: &Map<String, Value>) -> Result<(), Error> {
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(format!(
                "Policy statement has an unknown element {key}."
            )));
        }
    }
    if s.get("Sid").is_some_and(|sid| !sid.is_string()) {
        return Err(malformed("Statement Sid must be a string."));
    }
    if !matches!(
        s.get("Effect").and_then(Value::as_str),
        Some("Allow" | "Deny")
    ) {
        return Err(malformed("Policy statement Effect must be Allow or Deny."));
    }
    let principal = exactly_one(s, "Principal", "NotPrincipal")?;
    validate_principal(principal)?;
    let action = exactly_one(s, "Action", "NotAction")?;
    for a in string_or_strings(action, "Action")? {
        if a != "*" && !is_action_pattern(a) {
            return Err(malformed(format!(
                "Policy statement has an invalid action {a}."
            )));
        }
    }
    let resource = exactly_one(s, "Resource", "NotResource")?;
    string_or_strings(resource, "Resource")?;
    if let Some(condition) = s.get("Condition") {
        validate_condition(condition)?;
    }
    Ok(())
}

fn exactly_one<'a>(s: &'a Map<String, Value>, a: &str, not_a: &str) -> Result<&'a Value, Error> {
    match (s.get(a), s.get(not_a)) {
        (Some(v), None) | (None, Some(v)) => Ok(v),
        (Some(_), Some(_)) => Err(malformed(format!(
            "Policy statement must not contain both {a} and {not_a}."
        ))),
        (None, None) => Err(malformed(format!("Policy statement must contain {a}."))),
    }
}

fn string_or_strings<'a>(v: &'a Value, what: &str) -> Result<Vec<&'a str>, Error> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str().ok_or_else(|| {
                    malformed(format!("{what} must be a string or a list of strings."))
                })
            })
            .collect(),
        _ => Err(malformed(format!(
            "{what} must be a string or a list of strings."
        ))),
    }
}

fn validate_principal(p: &Value) -> Result<(), Error> {
    match p {
        Value::String(s) if s == "*" => Ok(()),
        Value::Object(map) if !map.is_empty() => {
            for (kind, value) in map {
                if !matches!(
                    kind.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    return Err(malformed(
                        "Policy contains a statement with one or more invalid principals.",
                    ));
                }
                for principal in string_or_strings(value, "Principal")? {
                    if principal.is_empty() {
                        return Err(malformed(
                            "Policy contains a statement with one or more invalid principals.",
                        ));
                    }
                }
            }
            Ok(())
        }
        _ => Err(malformed(
            "Policy contains a statement with one or more invalid principals.",
        )),
    }
}

/// `service:Action`, where the action may contain `*` and `?` wildcards.
fn is_action_pattern(a: &str) -> bool {
    match a.split_once(':') {
        Some((service, action)) => {
            !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !action.is_empty()
                && action
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
        }
        None => false,
    }
}

fn validate_condition(c: &Value) -> Result<(), Error> {
    let operators = c
        .as_object()
        .ok_or_else(|| malformed("Policy statement Condition must be an object."))?;
    for (operator, keys) in operators {
        let keys = keys.as_object().ok_or_else(|| {
            malformed(format!(
                "Condition operator {operator} must map keys to values."
            ))
        })?;
        for values in keys.values() {
            let ok = match values {
                Value::String(_) | Value::Bool(_) | Value::Number(_) => true,
                Value::Array(items) => items
                    .iter()
                    .all(|v| matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_))),
                _ => false,
            };
            if !ok {
                return Err(malformed(format!(
                    "Condition operator {operator} has a value of an invalid type."
                )));
            }
        }
    }
    Ok(())
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedPolicy {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        match validate(text) {
            Err(Error::MalformedPolicy { reason }) => reason,
            other => panic!("expected MalformedPolicy, got {other:?}"),
        }
    }

    #[test]
    fn the_default_policy_is_valid_and_names_the_account_root() {
        let p = default_policy("111122223333");
        validate(&p).expect("default policy is valid");
        assert!(p.contains("\"arn:aws:iam::111122223333:root\""));
    }

    #[test]
    fn the_seed_policies_are_valid() {
        let rds = r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
          {"Sid":"Allow RDS Service","Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},
           "Action":["kms:Decrypt","kms:DescribeKey","kms:Encrypt","kms:GenerateDataKey*","kms:ReEncrypt*"],"Resource":"*"}]}"#;
        validate(rds).expect("seed RDS policy");
    }

    #[test]
    fn conditions_of_every_value_shape_are_accepted() {
        let p = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*",
          "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},
          "StringEquals":{"kms:EncryptionContext:app":["a","b"]}}}}"#;
        validate(p).expect("conditions");
    }

    #[test]
    fn malformed_documents_are_refused_with_a_reason() {
        assert_eq!(reason("{"), "The policy is not valid JSON.");
        assert_eq!(reason("[]"), "The policy must be a JSON object.");
        assert_eq!(
            reason(r#"{"Version":"2012-10-17"}"#),
            "Policy must contain at least one Statement."
        );
        assert_eq!(
            reason(r#"{"Statement":[]}"#),
            "Policy must contain at least one Statement."
        );
        assert_eq!(
            reason(
                r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}}"#
            ),
            "Policy statement Effect must be Allow or Deny."
        );
        assert_eq!(
            reason(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#),
            "Policy statement must contain Principal."
        );
        assert_eq!(
            reason(
                r#"{"Statement":{"Effect":"Allow","Principal":{"Nobody":"x"},"Action":"kms:*","Resource":"*"}}"#
            ),
            "Policy contains a statement with one or more invalid principals."
        );
        assert_eq!(
            reason(
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}}"#
            ),
            "Policy statement has an invalid action Encrypt."
        );
        assert_eq!(
            reason(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#),
            "Policy statement must contain Resource."
        );
        assert_eq!(
            reason(
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}}"#
            ),
            "Policy statement has an unknown element Extra."
        );
        assert_eq!(
            reason(r#"{"Version":"2020-01-01","Statement":{}}"#),
            "Policy has an invalid Version."
        );
    }

    #[test]
    fn oversize_policies_exceed_the_limit() {
        let big = format!(
            r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}"#,
            "x".repeat(MAX_POLICY_BYTES)
        );
        assert!(matches!(validate(&big), Err(Error::LimitExceeded { .. })));
    }
}
