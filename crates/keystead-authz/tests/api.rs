//! Tests of the public API that the JSON cases cannot express: AWS's real size limits, the
//! context builders, permits, and the errors of the helper functions.

use std::collections::BTreeMap;

use keystead_authz::{
    AllowedBy, Decision, DenyReason, Error, Grant, GrantOperation, Limits, Policy, PolicyKind,
    Principal, PrincipalKind, RequestContext, check_principals_exist, evaluate_kms,
};
use keystead_types::{AccountId, UnixMillis};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn owner() -> AccountId {
    "111122223333".parse().expect("valid account id")
}

fn alice() -> Principal {
    Principal::from_arn("arn:aws:iam::111122223333:user/alice").expect("valid principal")
}

fn key_policy(text: &str) -> Policy {
    Policy::parse(text, &Limits::KEY_POLICY).expect("valid key policy")
}

/// A key policy of exactly `size` bytes: one statement whose Sid pads the document.
fn key_policy_of_size(size: usize) -> String {
    let head = r#"{"Statement":{"Sid":""#;
    let tail = r#"","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
    format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()))
}

#[test]
fn key_policies_may_be_exactly_32_kilobytes_and_no_more() {
    assert!(Policy::parse(&key_policy_of_size(32_768), &Limits::KEY_POLICY).is_ok());
    assert_eq!(
        Policy::parse(&key_policy_of_size(32_769), &Limits::KEY_POLICY),
        Err(Error::TooLarge {
            limit: 32_768,
            actual: 32_769
        })
    );
}

#[test]
fn inline_policy_limits_differ_for_users_and_roles() {
    let statement = r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#;
    let statements = vec![statement; 40].join(",");
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    assert!(text.len() > 2_048 && text.len() < 10_240);
    assert!(matches!(
        Policy::parse(&text, &Limits::USER_INLINE),
        Err(Error::TooLarge { limit: 2_048, .. })
    ));
    let policy = Policy::parse(&text, &Limits::ROLE_INLINE).expect("fits a role's limit");
    assert_eq!(policy.kind(), PolicyKind::Identity);
    assert_eq!(policy.text(), text);
}

#[test]
fn permits_come_only_from_allow_decisions() {
    let policy = key_policy(
        r#"{"Statement":{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}}"#,
    );
    let ctx = RequestContext::new(alice(), "kms:Decrypt", KEY_ARN, owner());
    let permit = evaluate_kms(&policy, &[], &[], &ctx)
        .into_permit()
        .expect("allowed");
    assert!(matches!(permit.via(), AllowedBy::KeyPolicy { statement } if statement.index == 0));
    let ctx = ctx.for_action("kms:Encrypt");
    let decision = evaluate_kms(&policy, &[], &[], &ctx);
    assert!(!decision.is_allow());
    assert!(decision.access_denied_message(&ctx).is_some());
    assert!(matches!(
        decision.into_permit(),
        Err(DenyReason::NoAllow { .. })
    ));
}

#[test]
fn a_key_policy_parsed_as_identity_policy_allows_nothing_as_a_key_policy() {
    let identity = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
        &Limits::MANAGED,
    )
    .expect("valid identity policy");
    let ctx = RequestContext::new(alice(), "kms:Decrypt", KEY_ARN, owner());
    assert!(!evaluate_kms(&identity, &[], &[], &ctx).is_allow());
    let as_key = key_policy(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
    );
    let decision = evaluate_kms(&as_key, std::slice::from_ref(&as_key), &[], &ctx);
    assert!(matches!(
        decision,
        Decision::Allow {
            via: AllowedBy::KeyPolicy { .. }
        }
    ));
}

#[test]
fn context_builders_fill_the_documented_keys() {
    let tags = BTreeMap::from([("Project".to_owned(), "Alpha".to_owned())]);
    let ctx = RequestContext::new(alice(), "kms:TagResource", KEY_ARN, owner())
        .with_current_time(UnixMillis(1_717_243_200_000))
        .with_mfa(true, Some(30))
        .with_request_tags(&tags)
        .with_resource_tags(&tags)
        .with_encryption_context(BTreeMap::from([("app".to_owned(), "billing".to_owned())]));
    let one = |key: &str| ctx.values(key).map(|v| v.join(","));
    assert_eq!(
        one("aws:CurrentTime").as_deref(),
        Some("2024-06-01T12:00:00Z")
    );
    assert_eq!(one("aws:EpochTime").as_deref(), Some("1717243200"));
    assert_eq!(one("aws:MultiFactorAuthPresent").as_deref(), Some("true"));
    assert_eq!(one("aws:MultiFactorAuthAge").as_deref(), Some("30"));
    assert_eq!(one("aws:TagKeys").as_deref(), Some("Project"));
    assert_eq!(one("aws:RequestTag/Project").as_deref(), Some("Alpha"));
    assert_eq!(one("aws:ResourceTag/project").as_deref(), Some("Alpha"));
    assert_eq!(one("kms:EncryptionContext:app").as_deref(), Some("billing"));
    assert_eq!(one("kms:EncryptionContextKeys").as_deref(), Some("app"));
    assert_eq!(one("aws:PrincipalArn").as_deref(), Some(alice().arn()));
    assert_eq!(one("aws:PrincipalIsAWSService").as_deref(), Some("false"));
    assert_eq!(ctx.without("aws:username").values("aws:username"), None);
}

#[test]
fn service_callers_have_no_account_keys() {
    let ctx = RequestContext::new(
        Principal::service("rds.amazonaws.com"),
        "kms:Decrypt",
        KEY_ARN,
        owner(),
    );
    assert_eq!(ctx.values("kms:CallerAccount"), None);
    assert_eq!(
        ctx.values("aws:PrincipalServiceName"),
        Some(&["rds.amazonaws.com".to_owned()][..])
    );
    assert_eq!(
        ctx.principal().kind(),
        &PrincipalKind::Service("rds.amazonaws.com".to_owned())
    );
}

#[test]
fn principal_existence_check_uses_kmss_message() {
    let policy = key_policy(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ghost"},"Action":"kms:*","Resource":"*"}}"#,
    );
    let err = check_principals_exist(&policy, |_| false).expect_err("ghost does not exist");
    assert_eq!(
        err.to_string(),
        "Policy contains a statement with one or more invalid principals."
    );
    assert!(check_principals_exist(&policy, |_| true).is_ok());
}

#[test]
fn grants_refuse_bad_grantees_and_operations() {
    assert!(matches!(
        Grant::new("g", "*", vec![GrantOperation::Decrypt], None),
        Err(Error::InvalidPrincipalArn { .. })
    ));
    assert!(matches!(
        "Delete".parse::<GrantOperation>(),
        Err(Error::InvalidGrantOperation { .. })
    ));
    assert_eq!(
        "ReEncryptFrom".parse::<GrantOperation>(),
        Ok(GrantOperation::ReEncryptFrom)
    );
    let grant = Grant::new("g", "111122223333", vec![GrantOperation::Decrypt], None)
        .expect("account grantee")
        .with_retiring_principal("arn:aws:iam::111122223333:role/Retirer");
    assert_eq!(
        grant.retiring_principal(),
        Some("arn:aws:iam::111122223333:role/Retirer")
    );
    assert_eq!(grant.grantee_principal(), "111122223333");
}
