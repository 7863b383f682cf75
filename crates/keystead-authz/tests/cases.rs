//! Runs every case in `tests/cases/*.json` and reports each failing case by name.
//!
//! A file is `{"policies": {...}, "defaults": {...}, "cases": [...]}`; `policies` and `defaults`
//! are optional. Each case has a unique `name` and a `doc` naming the AWS documentation section
//! whose semantics it checks, and is one of:
//!
//! - an **evaluation case**: `key_policy` (a policy as JSON, raw text, or `"$name"` of an entry
//!   in `policies`) or `condition` (shorthand for a key policy whose one statement allows every
//!   principal `kms:*` on `*` under that `Condition`), optional `identity_policies` and
//!   `grants`, a `request`, and `expect`: `allow:key_policy`, `allow:key_and_identity`,
//!   `allow:grant`, `deny:explicit`, `deny:no_resource_allow` or `deny:no_identity_allow`
//!   (`condition` cases may say `"matches": true|false` instead). Optional checks: `sid` (of the
//!   deciding statement), `policy` (`"key"` or `"identity:N"` for an explicit deny), `grant_id`,
//!   `message` (the AccessDeniedException text);
//! - a **parse case**: `parse` (a policy as JSON or raw text), optional `limits` (`key`, `user`,
//!   `role`, `group`, `managed`, or `{"kind":..., "max_size":...}`) and `error`: the expected
//!   message, or `null` when the policy must be accepted;
//! - a **lockout case**: `lockout` (a proposed key policy), optional `identity_policies`, a
//!   `request`, and `error` (`null` or the message);
//! - a **principals case**: `principals_of` (a key policy), `existing` (the ARNs that exist) and
//!   `unknown` (the ARNs expected back).
//!
//! A `request` has `principal` (an ARN, an account id, `"anonymous"`, `{"service": NAME}` or
//! `{"role": ARN, "session": NAME}`), `action`, `resource`, `resource_account`, `keys` (condition
//! key to a string or a list) and `encryption_context`; unset fields come from the file's
//! `defaults.request`, then from the built-in defaults below (`keys` are merged).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keystead_authz::{
    AllowedBy, Decision, DenyReason, Grant, GrantConstraints, GrantOperation, Limits, Policy,
    PolicyKind, PolicyRef, PolicyType, Principal, RequestContext, SizeUnit, check_lockout_safety,
    evaluate_kms, unknown_principals,
};
use serde_json::{Map, Value, json};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OWNER: &str = "111122223333";
const CALLER: &str = "arn:aws:iam::111122223333:user/alice";

/// The smallest number of cases the suite must hold: the case files are the specification of
/// the evaluator, and losing some silently would weaken it.
const MINIMUM_CASES: usize = 300;

struct File {
    policies: Map<String, Value>,
    default_request: Map<String, Value>,
}

#[test]
fn every_policy_case_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &paths {
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let file_name = file_name.unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("case file is readable");
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{file_name} is not valid JSON: {e}"));
        let file = File {
            policies: doc["policies"].as_object().cloned().unwrap_or_default(),
            default_request: doc["defaults"]["request"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let cases = doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{file_name} has no cases array"));
        for case in cases {
            count += 1;
            let name = case["name"].as_str().unwrap_or("<unnamed>").to_owned();
            let label = format!("{file_name}: {name}");
            if !names.insert(name.clone()) {
                failures.push(format!("{label}: duplicate case name"));
                continue;
            }
            if case["doc"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("{label}: no doc field"));
                continue;
            }
            if let Err(why) = run_case(&file, case) {
                failures.push(format!("{label}: {why}"));
            }
        }
    }
    println!("{count} policy cases in {} files", paths.len());
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        count >= MINIMUM_CASES,
        "only {count} cases; the suite must keep at least {MINIMUM_CASES}"
    );
}

fn run_case(file: &File, case: &Value) -> Result<(), String> {
    if case.get("parse").is_some() {
        return parse_case(file, case);
    }
    if case.get("lockout").is_some() {
        return lockout_case(file, case);
    }
    if case.get("principals_of").is_some() {
        return principals_case(file, case);
    }
    evaluation_case(file, case)
}

fn evaluation_case(file: &File, case: &Value) -> Result<(), String> {
    let key_policy = match (case.get("key_policy"), case.get("condition")) {
        (Some(p), None) => policy(file, p, &Limits::KEY_POLICY)?,
        (None, Some(condition)) => {
            let text = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "Conditional",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": condition,
                }],
            });
            policy(file, &text, &Limits::KEY_POLICY)?
        }
        _ => return Err("needs exactly one of key_policy and condition".into()),
    };
    let identity = identity_policies(file, case)?;
    let grants = match case.get("grants") {
        Some(Value::Array(gs)) => gs.iter().map(grant).collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("grants must be an array".into()),
        None => Vec::new(),
    };
    let ctx = request(file, case.get("request"))?;
    let decision = evaluate_kms(&key_policy, &identity, &grants, &ctx);
    let expect = match (case.get("expect"), case.get("matches")) {
        (Some(Value::String(e)), None) => e.clone(),
        (None, Some(Value::Bool(true))) => "allow:key_policy".to_owned(),
        (None, Some(Value::Bool(false))) => "deny:no_resource_allow".to_owned(),
        _ => return Err("needs expect (a string) or matches (a boolean)".into()),
    };
    let got = describe(&decision);
    if got != expect {
        return Err(format!("expected {expect}, got {got} ({decision:?})"));
    }
    if let Some(sid) = case.get("sid") {
        let actual = match &decision {
            Decision::Allow {
                via: AllowedBy::KeyPolicy { statement },
            }
            | Decision::Allow {
                via:
                    AllowedBy::KeyPolicyAndIdentityPolicy {
                        key_statement: statement,
                        ..
                    },
            }
            | Decision::Deny {
                reason: DenyReason::ExplicitDeny { statement, .. },
            } => statement.sid.as_deref().map(str::to_owned),
            _ => None,
        };
        if actual.as_deref() != sid.as_str() {
            return Err(format!("expected sid {sid}, got {actual:?}"));
        }
    }
    if let Some(expected) = case.get("policy").and_then(Value::as_str) {
        let actual = match &decision {
            Decision::Deny {
                reason: DenyReason::ExplicitDeny { policy, .. },
            } => match policy {
                PolicyRef::KeyPolicy => "key".to_owned(),
                PolicyRef::IdentityPolicy { index } => format!("identity:{index}"),
            },
            _ => "none".to_owned(),
        };
        if actual != expected {
            return Err(format!("expected deny in {expected}, got {actual}"));
        }
    }
    if let Some(expected) = case.get("grant_id").and_then(Value::as_str) {
        match &decision {
            Decision::Allow {
                via: AllowedBy::Grant { grant_id },
            } if grant_id == expected => {}
            other => return Err(format!("expected grant {expected}, got {other:?}")),
        }
    }
    if let Some(expected) = case.get("message").and_then(Value::as_str) {
        let actual = decision.access_denied_message(&ctx).unwrap_or_default();
        if actual != expected {
            return Err(format!("expected message\n  {expected}\ngot\n  {actual}"));
        }
    }
    Ok(())
}

fn describe(decision: &Decision) -> String {
    match decision {
        Decision::Allow { via } => match via {
            AllowedBy::KeyPolicy { .. } => "allow:key_policy",
            AllowedBy::KeyPolicyAndIdentityPolicy { .. } => "allow:key_and_identity",
            AllowedBy::Grant { .. } => "allow:grant",
        },
        Decision::Deny { reason } => match reason {
            DenyReason::ExplicitDeny { .. } => "deny:explicit",
            DenyReason::NoAllow {
                missing: PolicyType::ResourceBased,
            } => "deny:no_resource_allow",
            DenyReason::NoAllow {
                missing: PolicyType::IdentityBased,
            } => "deny:no_identity_allow",
        },
    }
    .to_owned()
}

fn parse_case(file: &File, case: &Value) -> Result<(), String> {
    let limits = limits(case.get("limits"))?;
    let text = policy_text(file, &case["parse"])?;
    let result = Policy::parse(&text, &limits);
    match (&case["error"], result) {
        (Value::Null, Ok(_)) => Ok(()),
        (Value::Null, Err(e)) => Err(format!("expected the policy to parse, got: {e}")),
        (Value::String(expected), Ok(_)) => Err(format!("expected error {expected:?}, parsed")),
        (Value::String(expected), Err(e)) if e.to_string() == *expected => Ok(()),
        (Value::String(expected), Err(e)) => Err(format!(
            "expected error {expected:?}, got {:?} ({e:?})",
            e.to_string()
        )),
        _ => Err("error must be a string or null".into()),
    }
}

fn lockout_case(file: &File, case: &Value) -> Result<(), String> {
    let proposed = policy(file, &case["lockout"], &Limits::KEY_POLICY)?;
    let identity = identity_policies(file, case)?;
    let ctx = request(file, case.get("request"))?;
    match (
        &case["error"],
        check_lockout_safety(&proposed, &identity, &ctx),
    ) {
        (Value::Null, Ok(())) => Ok(()),
        (Value::String(expected), Err(e)) if e.to_string() == *expected => Ok(()),
        (expected, got) => Err(format!("expected {expected}, got {got:?}")),
    }
}

fn principals_case(file: &File, case: &Value) -> Result<(), String> {
    let policy = policy(file, &case["principals_of"], &Limits::KEY_POLICY)?;
    let existing: Vec<&str> = strings(&case["existing"])?;
    let expected: Vec<&str> = strings(&case["unknown"])?;
    let unknown = unknown_principals(&policy, |arn| existing.contains(&arn));
    if unknown == expected {
        Ok(())
    } else {
        Err(format!("expected unknown {expected:?}, got {unknown:?}"))
    }
}

fn strings(value: &Value) -> Result<Vec<&str>, String> {
    value
        .as_array()
        .ok_or("expected an array of strings")?
        .iter()
        .map(|v| v.as_str().ok_or_else(|| "expected a string".to_owned()))
        .collect()
}

fn limits(value: Option<&Value>) -> Result<Limits, String> {
    Ok(match value {
        None => Limits::KEY_POLICY,
        Some(Value::String(name)) => match name.as_str() {
            "key" => Limits::KEY_POLICY,
            "user" => Limits::USER_INLINE,
            "role" => Limits::ROLE_INLINE,
            "group" => Limits::GROUP_INLINE,
            "managed" => Limits::MANAGED,
            other => return Err(format!("unknown limits {other}")),
        },
        Some(Value::Object(o)) => {
            let kind = match o.get("kind").and_then(Value::as_str) {
                Some("identity") => PolicyKind::Identity,
                _ => PolicyKind::Key,
            };
            let max_size = o
                .get("max_size")
                .and_then(Value::as_u64)
                .ok_or("limits needs max_size")? as usize;
            let unit = match kind {
                PolicyKind::Key => SizeUnit::Bytes,
                PolicyKind::Identity | PolicyKind::Trust => SizeUnit::NonWhitespaceCharacters,
            };
            Limits {
                kind,
                max_size,
                unit,
            }
        }
        Some(_) => return Err("limits must be a name or an object".into()),
    })
}

/// A policy's text: a string is raw text (or `$name`), anything else is serialized.
fn policy_text(file: &File, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => match s.strip_prefix('$') {
            Some(name) => {
                let named = file
                    .policies
                    .get(name)
                    .ok_or_else(|| format!("no policy named {name}"))?;
                policy_text(file, named)
            }
            None => Ok(s.clone()),
        },
        other => serde_json::to_string(other).map_err(|e| e.to_string()),
    }
}

fn policy(file: &File, value: &Value, limits: &Limits) -> Result<Policy, String> {
    let text = policy_text(file, value)?;
    Policy::parse(&text, limits).map_err(|e| format!("policy does not parse: {e} ({e:?})"))
}

fn identity_policies(file: &File, case: &Value) -> Result<Vec<Policy>, String> {
    match case.get("identity_policies") {
        None => Ok(Vec::new()),
        Some(Value::Array(ps)) => ps
            .iter()
            .map(|p| policy(file, p, &Limits::ROLE_INLINE))
            .collect(),
        Some(_) => Err("identity_policies must be an array".into()),
    }
}

fn grant(value: &Value) -> Result<Grant, String> {
    let id = value["id"].as_str().unwrap_or("grant-1");
    let grantee = value["grantee"].as_str().ok_or("grant needs grantee")?;
    let operations = strings(&value["operations"])?
        .into_iter()
        .map(|o| o.parse::<GrantOperation>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let map = |v: &Value| -> Result<BTreeMap<String, String>, String> {
        v.as_object()
            .ok_or("constraint must be an object")?
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| "constraint values are strings".to_owned())
            })
            .collect()
    };
    let constraints = match value.get("constraints") {
        None => None,
        Some(c) => match (
            c.get("EncryptionContextEquals"),
            c.get("EncryptionContextSubset"),
        ) {
            (Some(m), None) => Some(GrantConstraints::EncryptionContextEquals(map(m)?)),
            (None, Some(m)) => Some(GrantConstraints::EncryptionContextSubset(map(m)?)),
            _ => return Err("constraints need exactly one kind".into()),
        },
    };
    Grant::new(id, grantee, operations, constraints).map_err(|e| e.to_string())
}

fn request(file: &File, value: Option<&Value>) -> Result<RequestContext, String> {
    let empty = Map::new();
    let case = value.and_then(Value::as_object).unwrap_or(&empty);
    let field = |name: &str| case.get(name).or_else(|| file.default_request.get(name));
    let principal = match field("principal") {
        None => Principal::from_arn(CALLER).map_err(|e| e.to_string())?,
        Some(Value::String(s)) if s == "anonymous" => Principal::anonymous(),
        Some(Value::String(s)) => Principal::from_arn(s).map_err(|e| e.to_string())?,
        Some(Value::Object(o)) => match (o.get("service"), o.get("role"), o.get("session")) {
            (Some(Value::String(s)), None, None) => Principal::service(s),
            (None, Some(Value::String(r)), Some(Value::String(s))) => {
                Principal::assumed_role(r, s).map_err(|e| e.to_string())?
            }
            _ => return Err("principal object is {service} or {role, session}".into()),
        },
        Some(_) => return Err("principal must be a string or an object".into()),
    };
    let action = field("action")
        .and_then(Value::as_str)
        .unwrap_or("kms:Decrypt");
    let resource = field("resource").and_then(Value::as_str).unwrap_or(KEY_ARN);
    let account = field("resource_account")
        .and_then(Value::as_str)
        .or_else(|| resource.split(':').nth(4))
        .unwrap_or(OWNER)
        .parse()
        .map_err(|_| "resource_account is not an account id".to_owned())?;
    let mut ctx = RequestContext::new(principal, action, resource, account);
    if let Some(Value::Object(ec)) = field("encryption_context") {
        let map = ec
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        ctx = ctx.with_encryption_context(map);
    }
    let default_keys = file.default_request.get("keys").and_then(Value::as_object);
    let case_keys = case.get("keys").and_then(Value::as_object);
    for keys in [default_keys, case_keys].into_iter().flatten() {
        for (k, v) in keys {
            ctx = match v {
                Value::Null => ctx.without(k),
                Value::Array(items) => ctx.with_values(k, items.iter().map(scalar)),
                other => ctx.with_value(k, &scalar(other)),
            };
        }
    }
    Ok(ctx)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
