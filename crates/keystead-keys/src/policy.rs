//! Key policy documents: the default policy AWS gives a key created without one, and parsing
//! (the grammar and size checks CreateKey and PutKeyPolicy apply) into the compiled form
//! `keystead-authz` evaluates on every request.

use keystead_authz::{Limits, Policy};

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

/// Parses and validates a key policy with the IAM policy grammar and AWS's 32 KB limit.
pub fn parse(text: &str) -> Result<Policy, Error> {
    Policy::parse(text, &Limits::KEY_POLICY).map_err(|e| match e {
        keystead_authz::Error::TooLarge { .. } => Error::LimitExceeded {
            message: format!(
                "The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
            ),
        },
        other => Error::MalformedPolicy {
            reason: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed(text: &str) -> String {
        match parse(text) {
            Err(Error::MalformedPolicy { reason }) => reason,
            other => panic!("expected MalformedPolicy, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn the_default_policy_parses_and_names_the_account_root() {
        let p = default_policy("111122223333");
        parse(&p).expect("default policy is valid");
        assert!(p.contains("\"arn:aws:iam::111122223333:root\""));
    }

    #[test]
    fn the_seed_policies_parse() {
        let rds = r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
          {"Sid":"Allow RDS Service","Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},
           "Action":["kms:Decrypt","kms:DescribeKey","kms:Encrypt","kms:GenerateDataKey*","kms:ReEncrypt*"],"Resource":"*"}]}"#;
        parse(rds).expect("seed RDS policy");
    }

    #[test]
    fn malformed_documents_are_malformed_policy_errors() {
        for bad in [
            "{",
            "[]",
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Nobody":"x"},"Action":"kms:*","Resource":"*"}}"#,
        ] {
            assert!(!malformed(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn oversize_policies_exceed_the_limit() {
        let big = format!(
            r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}"#,
            "x".repeat(MAX_POLICY_BYTES)
        );
        assert!(matches!(parse(&big), Err(Error::LimitExceeded { .. })));
    }
}
