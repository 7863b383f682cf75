//! `Policy::context_keys`: the condition keys a decision can depend on, which the KMS service's
//! decision cache keys on.

use keystead_authz::{Limits, Policy};

#[test]
fn context_keys_list_condition_keys_and_variables_lower_cased_once() {
    let policy = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Principal":"*","Action":"kms:*",
           "Resource":"arn:aws:kms:*:*:key/${aws:PrincipalTag/team}",
           "Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"${aws:username}"},
                        "Bool":{"aws:SecureTransport":"true"},
                        "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${kms:CallerAccount}:user/*"}}},
          {"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
           "Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}]}"#,
        &Limits::KEY_POLICY,
    )
    .expect("valid policy");
    let keys: Vec<&str> = policy.context_keys().iter().map(|k| &**k).collect();
    assert_eq!(
        keys,
        [
            "aws:principalarn",
            "aws:principaltag/team",
            "aws:securetransport",
            "aws:username",
            "kms:calleraccount",
            "kms:encryptioncontext:dept",
        ]
    );
}

#[test]
fn a_policy_without_conditions_or_variables_reads_no_context_keys() {
    let policy = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}}"#,
        &Limits::KEY_POLICY,
    )
    .expect("valid policy");
    assert!(policy.context_keys().is_empty());
}
