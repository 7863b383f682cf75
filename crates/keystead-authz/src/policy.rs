//! Policy documents: parsing, validation and compilation into the form evaluation uses. A
//! [`Policy`] is parsed once (when PutKeyPolicy stores it, or when it is loaded) and then
//! evaluated for every request without further parsing; it keeps the original text verbatim for
//! GetKeyPolicy.
//!
//! Grammar (IAM User Guide, "IAM JSON policy element reference" and "Grammar of the IAM JSON
//! policy language"), with what keystead checks:
//!
//! ```text
//! policy     = { ["Version": "2012-10-17" | "2008-10-17"], ["Id": string],
//!                "Statement": statement | [statement, ...] }           ; non-empty
//! statement  = { ["Sid": string], "Effect": "Allow" | "Deny",
//!                ("Principal" | "NotPrincipal"): principals,            ; key policies only
//!                ("Action" | "NotAction"): strings,                     ; "*" or vendor:pattern
//!                ("Resource" | "NotResource"): strings,                 ; "*" or arn:pattern
//!                ["Condition": { operator: { key: value | [value, ...] } }] }
//! principals = "*" | { ("AWS" | "Service" | "Federated"): string | [string, ...], ... }
//! strings    = string | [string, ...]                                  ; non-empty
//! ```
//!
//! Element names and `Effect` values are case-sensitive; condition operators and keys are not.
//! Unknown elements and repeated JSON fields are refused. Without `Version`, a policy is read as
//! `2008-10-17`, in which `${...}` is literal text rather than a policy variable.
//!
//! Key policies (resource-based) must name a principal and may use any `Sid` text (KMS's
//! default policy has `"Sid": "Enable IAM User Permissions"`); identity-based policies must not
//! name one, and their `Sid`s are alphanumeric and unique, as IAM requires.

use std::sync::Arc;

use crate::Error;
use crate::condition::Condition;
use crate::context::RequestContext;
use crate::json::Json;
use crate::pattern::{NoVariables, Pattern};
use crate::principal::{Entry, Match, PrincipalSpec};

/// Which kind of policy a document is, which decides part of its grammar and how it is
/// evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A KMS key policy: resource-based; every statement names a principal.
    Key,
    /// An IAM identity-based policy attached to the caller; statements name no principal.
    Identity,
    /// An IAM role's trust policy: resource-based on the role; every statement names a
    /// principal and `Resource` may be left out (it is the role itself, written `*`).
    Trust,
}

/// How a policy's size is measured against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeUnit {
    /// Bytes of the document as sent (KMS key policies).
    Bytes,
    /// Characters other than white space (IAM: "IAM doesn't count white space when calculating
    /// the size of a policy against these quotas").
    NonWhitespaceCharacters,
}

/// What a document must satisfy besides the grammar: its kind and its size limit. AWS's limits
/// are provided as constants; a deployment may use others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// The policy's kind.
    pub kind: PolicyKind,
    /// The largest size accepted, in `unit`.
    pub max_size: usize,
    /// How size is measured.
    pub unit: SizeUnit,
}

impl Limits {
    /// A KMS key policy: 32 KB (KMS Developer Guide, "Quotas: Key policy document size").
    pub const KEY_POLICY: Limits = Limits {
        kind: PolicyKind::Key,
        max_size: 32_768,
        unit: SizeUnit::Bytes,
    };
    /// An IAM user's inline policies: 2,048 characters (IAM User Guide, "IAM and AWS STS
    /// quotas").
    pub const USER_INLINE: Limits = Limits {
        kind: PolicyKind::Identity,
        max_size: 2_048,
        unit: SizeUnit::NonWhitespaceCharacters,
    };
    /// An IAM role's inline policies: 10,240 characters.
    pub const ROLE_INLINE: Limits = Limits {
        kind: PolicyKind::Identity,
        max_size: 10_240,
        unit: SizeUnit::NonWhitespaceCharacters,
    };
    /// An IAM group's inline policies: 5,120 characters.
    pub const GROUP_INLINE: Limits = Limits {
        kind: PolicyKind::Identity,
        max_size: 5_120,
        unit: SizeUnit::NonWhitespaceCharacters,
    };
    /// An IAM role's trust policy: 2,048 characters (IAM User Guide, "IAM and AWS STS
    /// quotas", role trust policy length).
    pub const TRUST_POLICY: Limits = Limits {
        kind: PolicyKind::Trust,
        max_size: 2_048,
        unit: SizeUnit::NonWhitespaceCharacters,
    };
    /// A customer managed policy: 6,144 characters.
    pub const MANAGED: Limits = Limits {
        kind: PolicyKind::Identity,
        max_size: 6_144,
        unit: SizeUnit::NonWhitespaceCharacters,
    };
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2012-10-17`: the current version, with policy variables.
    V2012_10_17,
    /// `2008-10-17`, or no `Version`: `${...}` is literal text.
    V2008_10_17,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement allows what it matches.
    Allow,
    /// The statement denies what it matches, whatever else allows it.
    Deny,
}

/// A parsed, validated and compiled policy document. This is the compiled form: evaluation
/// reads only its statements, and never the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    text: String,
    kind: PolicyKind,
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
    /// Every condition key the policy reads, lower-cased, sorted, without duplicates.
    context_keys: Box<[Box<str>]>,
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<Arc<str>>,
    effect: Effect,
    principal: Option<PrincipalSpec>,
    not_action: bool,
    actions: Vec<Pattern>,
    not_resource: bool,
    resources: Vec<Pattern>,
    conditions: Vec<Condition>,
}

impl Policy {
    /// Parses and validates `text` as a policy of `limits.kind` no larger than
    /// `limits.max_size`. The error's `Display` is AWS's `MalformedPolicyDocumentException`
    /// message (or, for [`Error::TooLarge`], its limit message).
    pub fn parse(text: &str, limits: &Limits) -> Result<Policy, Error> {
        let size = match limits.unit {
            SizeUnit::Bytes => text.len(),
            SizeUnit::NonWhitespaceCharacters => {
                text.chars().filter(|c| !c.is_whitespace()).count()
            }
        };
        if size > limits.max_size {
            return Err(Error::TooLarge {
                limit: limits.max_size,
                actual: size,
            });
        }
        let Json::Object(members) = Json::parse(text)? else {
            return Err(syntax("policy"));
        };
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (name, value) in &members {
            match name.as_str() {
                "Version" => version = Some(value),
                "Id" => match value {
                    Json::String(s) => id = Some(s.clone()),
                    _ => return Err(syntax("Id")),
                },
                "Statement" => statement = Some(value),
                other => {
                    return Err(Error::UnknownElement {
                        element: other.to_owned(),
                    });
                }
            }
        }
        let version = match version {
            None => PolicyVersion::V2008_10_17,
            Some(Json::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
            Some(Json::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
            Some(_) => return Err(Error::InvalidVersion),
        };
        let statement_values: Vec<&Json> = match statement {
            Some(Json::Array(items)) if !items.is_empty() => items.iter().collect(),
            Some(one @ Json::Object(_)) => vec![one],
            Some(Json::Array(_)) | None => return Err(Error::MissingStatement),
            Some(_) => return Err(syntax("Statement")),
        };
        let variables = version == PolicyVersion::V2012_10_17;
        let statements = statement_values
            .into_iter()
            .enumerate()
            .map(|(i, s)| Statement::compile(s, i, limits.kind, variables))
            .collect::<Result<Vec<_>, _>>()?;
        if limits.kind == PolicyKind::Identity {
            for (i, s) in statements.iter().enumerate() {
                let Some(sid) = &s.sid else { continue };
                if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Error::InvalidSid);
                }
                if statements[..i].iter().any(|o| o.sid.as_ref() == Some(sid)) {
                    return Err(Error::DuplicateSid);
                }
            }
        }
        let mut context_keys = Vec::new();
        for s in &statements {
            for r in &s.resources {
                context_keys.extend(r.variable_keys().map(Box::from));
            }
            for c in &s.conditions {
                c.collect_keys(&mut context_keys);
            }
        }
        context_keys.sort();
        context_keys.dedup();
        Ok(Policy {
            text: text.to_owned(),
            kind: limits.kind,
            version,
            id,
            statements,
            context_keys: context_keys.into(),
        })
    }

    /// Every condition key the policy can read, in lower case, sorted: the keys its conditions
    /// test and the policy variables in its resources and condition values. A decision on this
    /// policy depends on the request's principal, action and resource and on these keys'
    /// values only, which is what a decision cache keys on.
    pub fn context_keys(&self) -> &[Box<str>] {
        &self.context_keys
    }

    /// The document exactly as it was given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The policy's kind.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The language version.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The `Id` element, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The ARNs of every IAM identity the policy names in `Principal` or `NotPrincipal`
    /// (accounts as their root ARN), in document order, each once. `"*"`, services and
    /// federated providers are not listed.
    pub fn principal_arns(&self) -> Vec<&str> {
        let mut arns: Vec<&str> = Vec::new();
        let entries = self
            .statements
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(PrincipalSpec::entries);
        for arn in entries.filter_map(Entry::checked_arn) {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
        arns
    }
}

impl Statement {
    fn compile(
        value: &Json,
        index: usize,
        kind: PolicyKind,
        variables: bool,
    ) -> Result<Statement, Error> {
        let Json::Object(members) = value else {
            return Err(syntax(&format!("Statement[{index}]")));
        };
        let mut sid = None;
        let mut effect = None;
        let mut principal = None;
        let mut not_principal = None;
        let mut action = None;
        let mut not_action = None;
        let mut resource = None;
        let mut not_resource = None;
        let mut condition = None;
        for (name, value) in members {
            let slot = match name.as_str() {
                "Sid" => &mut sid,
                "Effect" => &mut effect,
                "Principal" => &mut principal,
                "NotPrincipal" => &mut not_principal,
                "Action" => &mut action,
                "NotAction" => &mut not_action,
                "Resource" => &mut resource,
                "NotResource" => &mut not_resource,
                "Condition" => &mut condition,
                other => {
                    return Err(Error::UnknownElement {
                        element: other.to_owned(),
                    });
                }
            };
            *slot = Some(value);
        }
        let at = |element: &str| format!("Statement[{index}].{element}");
        let sid = match sid {
            None => None,
            Some(Json::String(s)) => Some(Arc::from(s.as_str())),
            Some(_) => return Err(syntax(&at("Sid"))),
        };
        let effect = match effect {
            None => return Err(Error::MissingEffect),
            Some(Json::String(e)) if e == "Allow" => Effect::Allow,
            Some(Json::String(e)) if e == "Deny" => Effect::Deny,
            Some(Json::String(e)) => return Err(Error::InvalidEffect { effect: e.clone() }),
            Some(_) => return Err(syntax(&at("Effect"))),
        };
        let (not_action, action_value) = one_of(action, not_action, "Action")?;
        let action_value = action_value.ok_or(Error::MissingAction)?;
        let action_texts = strings(action_value).ok_or_else(|| syntax(&at("Action")))?;
        if action_texts.is_empty() {
            return Err(Error::MissingAction);
        }
        let actions = action_texts
            .iter()
            .map(|a| {
                if a == "*" || has_vendor(a) {
                    Ok(Pattern::parse(a, true, false))
                } else {
                    Err(Error::MissingVendorPrefix)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (not_resource, resource_value) = one_of(resource, not_resource, "Resource")?;
        let resource_texts = match (resource_value, kind) {
            (Some(value), _) => strings(value).ok_or_else(|| syntax(&at("Resource")))?,
            (None, PolicyKind::Trust) => vec!["*".to_owned()],
            (None, PolicyKind::Key | PolicyKind::Identity) => return Err(Error::MissingResource),
        };
        if resource_texts.is_empty() {
            return Err(Error::MissingResource);
        }
        let resources = resource_texts
            .iter()
            .map(|r| {
                if r == "*" || r.starts_with("arn:") {
                    Ok(Pattern::parse(r, true, variables))
                } else {
                    Err(Error::InvalidResource {
                        resource: r.clone(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let principal = match (kind, principal, not_principal) {
            (PolicyKind::Identity, None, None) => None,
            (PolicyKind::Identity, _, _) => return Err(Error::PrincipalNotAllowed),
            (PolicyKind::Key | PolicyKind::Trust, Some(_), Some(_)) => {
                return Err(Error::ConflictingElements {
                    element: "Principal",
                });
            }
            (PolicyKind::Key | PolicyKind::Trust, None, None) => {
                return Err(Error::MissingPrincipal);
            }
            (PolicyKind::Key | PolicyKind::Trust, Some(p), None) => {
                Some(PrincipalSpec::Principal(principals(p)?))
            }
            (PolicyKind::Key | PolicyKind::Trust, None, Some(p)) => {
                Some(PrincipalSpec::NotPrincipal(principals(p)?))
            }
        };
        let conditions = match condition {
            Some(block) => Condition::compile_block(block, variables)?,
            None => Vec::new(),
        };
        Ok(Statement {
            sid,
            effect,
            principal,
            not_action,
            actions,
            not_resource,
            resources,
            conditions,
        })
    }

    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The `Sid` as a shared string, for decisions that name it without copying.
    pub(crate) fn shared_sid(&self) -> Option<Arc<str>> {
        self.sid.clone()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether this statement applies to `ctx`, and how its principal element matched.
    /// `as_key_policy` selects resource-based evaluation (the principal element must match);
    /// otherwise the statement is read as identity-based (it applies to the caller it is
    /// attached to, and a statement naming a principal never applies). Cheapest tests first.
    pub(crate) fn applies(&self, ctx: &RequestContext, as_key_policy: bool) -> Option<Match> {
        let action_listed = self
            .actions
            .iter()
            .any(|p| p.matches(ctx.action(), &NoVariables, true) == Some(true));
        if action_listed == self.not_action {
            return None;
        }
        let resource_listed = self
            .resources
            .iter()
            .any(|p| p.is_any() || p.matches(ctx.resource(), ctx, false) == Some(true));
        if resource_listed == self.not_resource {
            return None;
        }
        let matched = match (&self.principal, as_key_policy) {
            (Some(spec), true) => spec.matches(ctx.principal(), self.effect)?,
            (None, false) => Match::Direct,
            _ => return None,
        };
        self.conditions
            .iter()
            .all(|c| c.holds(ctx))
            .then_some(matched)
    }
}

fn syntax(location: &str) -> Error {
    Error::Syntax {
        location: location.to_owned(),
    }
}

/// `vendor:anything`, the vendor being letters, digits and `-`.
fn has_vendor(action: &str) -> bool {
    match action.split_once(':') {
        Some((vendor, name)) => {
            !vendor.is_empty()
                && !name.is_empty()
                && vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
        None => false,
    }
}

/// Picks the element or its `Not` form; both is an error. `true` means the `Not` form.
fn one_of<'a>(
    plain: Option<&'a Json>,
    not: Option<&'a Json>,
    element: &'static str,
) -> Result<(bool, Option<&'a Json>), Error> {
    match (plain, not) {
        (Some(_), Some(_)) => Err(Error::ConflictingElements { element }),
        (Some(p), None) => Ok((false, Some(p))),
        (None, Some(n)) => Ok((true, Some(n))),
        (None, None) => Ok((false, None)),
    }
}

/// A string or an array of strings.
fn strings(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::String(s) => Some(vec![s.clone()]),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Compiles a `Principal` or `NotPrincipal` element.
fn principals(value: &Json) -> Result<Vec<Entry>, Error> {
    let members = match value {
        Json::String(s) if s == "*" => return Ok(vec![Entry::Any]),
        Json::Object(members) if !members.is_empty() => members,
        _ => return Err(Error::InvalidPrincipals),
    };
    let mut entries = Vec::new();
    for (principal_type, values) in members {
        let compile: fn(&str) -> Result<Entry, Error> = match principal_type.as_str() {
            "AWS" => Entry::aws,
            "Service" => Entry::service,
            "Federated" => Entry::federated,
            _ => return Err(Error::InvalidPrincipals),
        };
        let texts = strings(values).ok_or(Error::InvalidPrincipals)?;
        if texts.is_empty() {
            return Err(Error::InvalidPrincipals);
        }
        for text in texts {
            entries.push(compile(&text)?);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Result<Policy, Error> {
        Policy::parse(text, &Limits::KEY_POLICY)
    }

    fn identity(text: &str) -> Result<Policy, Error> {
        Policy::parse(text, &Limits::USER_INLINE)
    }

    const DEFAULT: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"#;

    #[test]
    fn the_default_key_policy_parses_and_keeps_its_text() {
        let policy = key(DEFAULT).expect("default policy parses");
        assert_eq!(policy.text(), DEFAULT);
        assert_eq!(policy.id(), Some("key-default-1"));
        assert_eq!(policy.version(), PolicyVersion::V2012_10_17);
        assert_eq!(policy.statements().len(), 1);
        assert_eq!(
            policy.statements()[0].sid(),
            Some("Enable IAM User Permissions")
        );
        assert_eq!(policy.statements()[0].effect(), Effect::Allow);
        assert_eq!(policy.principal_arns(), ["arn:aws:iam::111122223333:root"]);
    }

    #[test]
    fn a_single_statement_object_is_accepted() {
        let policy =
            identity(r#"{"Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}}"#)
                .expect("parses");
        assert_eq!(policy.version(), PolicyVersion::V2008_10_17);
        assert_eq!(policy.statements().len(), 1);
    }

    #[test]
    fn size_limits_count_bytes_for_key_policies_and_characters_for_identity_policies() {
        let padded = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"*"}}{}}}"#,
            " ".repeat(3000)
        );
        assert!(identity(&padded).is_ok());
        let tight = Limits {
            max_size: 60,
            ..Limits::KEY_POLICY
        };
        assert_eq!(
            Policy::parse(DEFAULT, &tight),
            Err(Error::TooLarge {
                limit: 60,
                actual: DEFAULT.len()
            })
        );
    }

    #[test]
    fn principals_belong_in_key_policies_only() {
        let with_principal =
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(identity(with_principal), Err(Error::PrincipalNotAllowed));
        let without = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(key(without), Err(Error::MissingPrincipal));
    }

    #[test]
    fn identity_sids_are_alphanumeric_and_unique_but_key_sids_are_free_text() {
        let spaced =
            r#"{"Statement":{"Sid":"a b","Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(identity(spaced), Err(Error::InvalidSid));
        let twice = r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#;
        assert_eq!(identity(twice), Err(Error::DuplicateSid));
        assert!(key(DEFAULT).is_ok());
    }

    #[test]
    fn error_messages_are_awss() {
        assert_eq!(
            Error::InvalidPrincipals.to_string(),
            "Policy contains a statement with one or more invalid principals."
        );
        assert_eq!(
            Error::Lockout.to_string(),
            "The new key policy will not allow you to update the key policy in the future."
        );
        assert_eq!(
            Error::MissingAction.to_string(),
            "Policy statement must contain actions."
        );
    }

    #[test]
    fn a_trust_policy_needs_a_principal_but_not_a_resource() {
        let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;
        let policy = Policy::parse(ok, &Limits::TRUST_POLICY).expect("parses");
        assert_eq!(policy.kind(), PolicyKind::Trust);
        let no_principal =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
        assert!(matches!(
            Policy::parse(no_principal, &Limits::TRUST_POLICY),
            Err(Error::MissingPrincipal)
        ));
        // Key policies still need a resource.
        assert!(matches!(
            Policy::parse(ok, &Limits::KEY_POLICY),
            Err(Error::MissingResource)
        ));
    }
}
