//! The request context: who asks ([`Principal`]), for what action on which key, and the values
//! of the condition keys, all supplied by the caller. Nothing here reads a clock or the network:
//! `aws:CurrentTime`, `aws:SourceIp` and the rest arrive as values.
//!
//! Condition key names are case-insensitive (IAM User Guide, "IAM JSON policy elements:
//! Condition": "Condition key names are not case-sensitive"), so they are stored lower-cased;
//! values are kept exactly, and each operator decides how to compare them. Every key holds a
//! list of values: single-valued keys hold one, multivalued keys (`aws:TagKeys`,
//! `kms:EncryptionContextKeys`, `kms:GrantOperations`, `kms:ResourceAliases`) hold any number.
//!
//! [`RequestContext::new`] fills the keys that follow from the principal: `aws:PrincipalArn`,
//! `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username`, `aws:PrincipalIsAWSService`,
//! `aws:PrincipalServiceName` and `kms:CallerAccount`. The builder methods fill the rest:
//!
//! | keys | method |
//! | --- | --- |
//! | `aws:CurrentTime`, `aws:EpochTime` | [`RequestContext::with_current_time`] |
//! | `aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge` | [`RequestContext::with_mfa`] |
//! | `kms:EncryptionContext:*`, `kms:EncryptionContextKeys` | [`RequestContext::with_encryption_context`] |
//! | `aws:ResourceTag/*` | [`RequestContext::with_resource_tags`] |
//! | `aws:RequestTag/*`, `aws:TagKeys` | [`RequestContext::with_request_tags`] |
//! | any other: `aws:userid`, `aws:SecureTransport`, `aws:SourceIp`, `aws:RequestedRegion`, `kms:ViaService`, `kms:EncryptionAlgorithm`, `kms:GrantOperations`, `kms:GrantIsForAWSResource`, `kms:GranteePrincipal`, `kms:RetiringPrincipal`, `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:RequestAlias`, `kms:ResourceAliases`, `kms:RotationPeriodInDays`, `kms:ScheduleKeyDeletionPendingWindowInDays`, `kms:BypassPolicyLockoutSafetyCheck`, ... | [`RequestContext::with_value`], [`RequestContext::with_values`] |

use std::collections::{BTreeMap, HashMap};

use keystead_types::{AccountId, UnixMillis};

use crate::Principal;
use crate::iso8601;
use crate::pattern::Variables;

/// Everything an authorization decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    principal: Principal,
    action: String,
    resource: String,
    resource_account: AccountId,
    keys: HashMap<String, Vec<String>>,
    encryption_context: Option<BTreeMap<String, String>>,
}

impl RequestContext {
    /// A request by `principal` for `action` (`"kms:Encrypt"`) on `resource` (the key ARN),
    /// which belongs to `resource_account`, with the principal's condition keys filled in.
    pub fn new(
        principal: Principal,
        action: &str,
        resource: &str,
        resource_account: AccountId,
    ) -> RequestContext {
        let mut keys = HashMap::new();
        let mut set = |key: &str, value: &str| {
            keys.insert(key.to_ascii_lowercase(), vec![value.to_owned()]);
        };
        if let Some(account) = principal.account() {
            set("aws:PrincipalArn", principal.principal_arn());
            set("aws:PrincipalAccount", account.as_str());
            set("kms:CallerAccount", account.as_str());
        }
        if let Some(principal_type) = principal.principal_type() {
            set("aws:PrincipalType", principal_type);
        }
        if let Some(name) = principal.user_name() {
            set("aws:username", name);
        }
        match principal.kind() {
            crate::PrincipalKind::Service(name) => {
                set("aws:PrincipalIsAWSService", "true");
                set("aws:PrincipalServiceName", name);
            }
            _ => set("aws:PrincipalIsAWSService", "false"),
        }
        RequestContext {
            principal,
            action: action.to_owned(),
            resource: resource.to_owned(),
            resource_account,
            keys,
            encryption_context: None,
        }
    }

    /// Sets a single-valued condition key, replacing any earlier value.
    pub fn with_value(mut self, key: &str, value: &str) -> RequestContext {
        self.set(key, [value]);
        self
    }

    /// Sets a condition key to a list of values (a multivalued key, or none at all).
    pub fn with_values<I, S>(mut self, key: &str, values: I) -> RequestContext
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.set(key, values);
        self
    }

    /// Removes a condition key, such as one [`RequestContext::new`] filled in.
    pub fn without(mut self, key: &str) -> RequestContext {
        self.keys.remove(&key.to_ascii_lowercase());
        self
    }

    /// Sets `aws:CurrentTime` (ISO 8601) and `aws:EpochTime` (seconds) to `now`.
    pub fn with_current_time(self, now: UnixMillis) -> RequestContext {
        let iso = iso8601::format_iso(now.0);
        let epoch = now.0.div_euclid(1000).to_string();
        self.with_value("aws:CurrentTime", &iso)
            .with_value("aws:EpochTime", &epoch)
    }

    /// Sets `aws:MultiFactorAuthPresent` and, when known, `aws:MultiFactorAuthAge` (seconds
    /// since the MFA authentication). Requests signed with long-term keys carry neither key
    /// (IAM User Guide, `aws:MultiFactorAuthPresent`): do not call this for them.
    pub fn with_mfa(self, present: bool, age_seconds: Option<u64>) -> RequestContext {
        let ctx = self.with_value("aws:MultiFactorAuthPresent", bool_text(present));
        match age_seconds {
            Some(age) => ctx.with_value("aws:MultiFactorAuthAge", &age.to_string()),
            None => ctx,
        }
    }

    /// Sets the request's encryption context: `kms:EncryptionContext:KEY` for each pair,
    /// `kms:EncryptionContextKeys`, and the exact map that grant constraints compare.
    pub fn with_encryption_context(mut self, context: BTreeMap<String, String>) -> RequestContext {
        for (k, v) in &context {
            self.set(&format!("kms:EncryptionContext:{k}"), [v.as_str()]);
        }
        self.set("kms:EncryptionContextKeys", context.keys());
        self.encryption_context = Some(context);
        self
    }

    /// Sets `aws:ResourceTag/KEY` for each of the key's tags.
    pub fn with_resource_tags(mut self, tags: &BTreeMap<String, String>) -> RequestContext {
        for (k, v) in tags {
            self.set(&format!("aws:ResourceTag/{k}"), [v.as_str()]);
        }
        self
    }

    /// Sets `aws:RequestTag/KEY` for each tag in the request, and `aws:TagKeys`.
    pub fn with_request_tags(mut self, tags: &BTreeMap<String, String>) -> RequestContext {
        for (k, v) in tags {
            self.set(&format!("aws:RequestTag/{k}"), [v.as_str()]);
        }
        self.set("aws:TagKeys", tags.keys());
        self
    }

    /// The same request for another action, as the lockout safety check asks about
    /// `kms:PutKeyPolicy`.
    pub fn for_action(&self, action: &str) -> RequestContext {
        RequestContext {
            action: action.to_owned(),
            ..self.clone()
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The action, such as `kms:Encrypt`.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The account that owns the resource.
    pub fn resource_account(&self) -> &AccountId {
        &self.resource_account
    }

    /// The request's encryption context, if it has one.
    pub fn encryption_context(&self) -> Option<&BTreeMap<String, String>> {
        self.encryption_context.as_ref()
    }

    /// The values of a condition key (any case); `None` when the key is absent or has no
    /// values, which IAM treats alike.
    pub fn values(&self, key: &str) -> Option<&[String]> {
        match self.keys.get(key) {
            Some(v) => non_empty(v),
            None if key.bytes().any(|b| b.is_ascii_uppercase()) => self
                .keys
                .get(&key.to_ascii_lowercase())
                .and_then(|v| non_empty(v)),
            None => None,
        }
    }

    /// The values of a condition key already in lower case (no allocation).
    pub(crate) fn values_lower(&self, key_lower: &str) -> Option<&[String]> {
        self.keys.get(key_lower).and_then(|v| non_empty(v))
    }

    fn set<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.keys.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(|v| v.as_ref().to_owned()).collect(),
        );
    }
}

fn non_empty(values: &[String]) -> Option<&[String]> {
    (!values.is_empty()).then_some(values)
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

impl Variables for RequestContext {
    fn variable(&self, key_lower: &str) -> Option<&str> {
        match self.values_lower(key_lower)? {
            [one] => Some(one),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        "111122223333".parse().expect("valid account")
    }

    #[test]
    fn new_fills_the_principal_keys() {
        let p = Principal::from_arn("arn:aws:iam::111122223333:user/ops/alice").expect("valid");
        let ctx = RequestContext::new(p, "kms:Encrypt", "arn:aws:kms:x", account());
        assert_eq!(ctx.values("AWS:USERNAME"), Some(&["alice".to_owned()][..]));
        assert_eq!(
            ctx.values("aws:PrincipalType"),
            Some(&["User".to_owned()][..])
        );
        assert_eq!(
            ctx.values("kms:calleraccount"),
            Some(&["111122223333".to_owned()][..])
        );
    }

    #[test]
    fn empty_lists_read_as_missing_keys() {
        let ctx = RequestContext::new(Principal::root(&account()), "kms:Encrypt", "r", account())
            .with_values("aws:TagKeys", Vec::<String>::new());
        assert_eq!(ctx.values("aws:TagKeys"), None);
    }

    #[test]
    fn time_sets_both_forms() {
        let ctx = RequestContext::new(Principal::root(&account()), "kms:Encrypt", "r", account())
            .with_current_time(UnixMillis(1_563_278_400_500));
        assert_eq!(
            ctx.values("aws:CurrentTime"),
            Some(&["2019-07-16T12:00:00Z".to_owned()][..])
        );
        assert_eq!(
            ctx.values("aws:EpochTime"),
            Some(&["1563278400".to_owned()][..])
        );
    }
}
