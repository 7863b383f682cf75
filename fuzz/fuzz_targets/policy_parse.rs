//! The policy parser, fed arbitrary bytes: `Policy::parse` must never panic, for key policies and
//! identity policies alike; what it accepts must keep its text verbatim, parse again to the same
//! policy, and evaluate (as a key policy or an identity policy) without panicking.

#![no_main]

use keystead_authz::{Limits, Policy, Principal, RequestContext, evaluate_kms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for limits in [Limits::KEY_POLICY, Limits::USER_INLINE] {
        let Ok(policy) = Policy::parse(text, &limits) else {
            continue;
        };
        assert_eq!(policy.text(), text, "the text is kept verbatim");
        let again = Policy::parse(policy.text(), &limits).expect("accepted text parses again");
        assert_eq!(again, policy, "parsing is deterministic");
        assert!(
            policy.context_keys().windows(2).all(|w| w[0] < w[1]),
            "context keys are sorted and unique"
        );
        let account = "111122223333".parse().expect("account id");
        let principal =
            Principal::from_arn("arn:aws:iam::111122223333:user/alice").expect("user principal");
        let ctx = RequestContext::new(
            principal,
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            account,
        )
        .with_value("aws:SourceIp", "10.0.0.1")
        .with_value("aws:username", "alice")
        .with_value("aws:EpochTime", "1700000000");
        let _ = match limits.kind {
            keystead_authz::PolicyKind::Key | keystead_authz::PolicyKind::Trust => {
                evaluate_kms(&policy, &[], &[], &ctx)
            }
            keystead_authz::PolicyKind::Identity => {
                let key_policy = Policy::parse(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#,
                    &Limits::KEY_POLICY,
                )
                .expect("delegating key policy");
                evaluate_kms(&key_policy, std::slice::from_ref(&policy), &[], &ctx)
            }
        };
    }
});
