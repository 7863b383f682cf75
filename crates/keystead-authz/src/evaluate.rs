//! The KMS authorization decision: a key policy, the caller's identity-based policies and the
//! key's grants, evaluated together for one request; plus the two checks PutKeyPolicy and
//! CreateKey make on a proposed policy (lockout safety, principal existence).
//!
//! The algorithm, from the KMS Developer Guide ("KMS key access and permissions", "Troubleshooting
//! key access" and its flowchart) and the IAM User Guide ("Policy evaluation logic",
//! "Cross-account policy evaluation logic"):
//!
//! 1. Every statement of every policy that applies to the request is found. A `Deny` anywhere
//!    (key policy first, then identity policies in order) denies: `ExplicitDeny`.
//! 2. Within the key's account: the key policy allowing the caller *directly* (naming it, its
//!    role, `"*"`, or it being the account's root user) allows, whatever IAM says. The key policy
//!    allowing the caller's *account* delegates to IAM: then an identity-based policy of the
//!    caller must allow too. IAM policies alone never allow ("To use an IAM policy to allow
//!    access to a KMS key, the key policy must explicitly allow it").
//! 3. Across accounts: the key policy must allow the external caller (directly or via its
//!    account) *and* an identity-based policy in the caller's own account must allow. An
//!    account's root user needs no identity policy: it holds every permission its account has.
//! 4. A grant whose grantee is the caller, covering the operation, whose constraints hold,
//!    allows (see [`crate::Grant`]).
//! 5. Otherwise the request is implicitly denied: `NoAllow`, naming the policy type whose allow
//!    is missing (the key policy's, or IAM's when the key policy delegated to the account).
//!
//! AWS services (`rds.amazonaws.com`) have no account and no identity policies: only a key
//! policy statement naming the service, or a grant to it, allows them.
//!
//! Evaluation allocates nothing except the decision's own reference to a grant id.

use std::sync::Arc;

use crate::context::RequestContext;
use crate::grant::Grant;
use crate::policy::{Effect, Policy};
use crate::principal::{Match, PrincipalKind};
use crate::{Error, Statement};

/// A statement named by its position in its policy and its `Sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The statement's index in the policy's `Statement` list (0 for a lone statement object).
    pub index: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<Arc<str>>,
}

impl StatementRef {
    fn new(index: usize, statement: &Statement) -> StatementRef {
        StatementRef {
            index,
            sid: statement.shared_sid(),
        }
    }
}

/// Which policy a statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRef {
    /// The key policy.
    KeyPolicy,
    /// The identity-based policy at this index of the list given to [`evaluate_kms`].
    IdentityPolicy {
        /// Its index.
        index: usize,
    },
}

/// The two policy types AWS's AccessDeniedException message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// The key policy: "resource-based".
    ResourceBased,
    /// IAM policies: "identity-based".
    IdentityBased,
}

impl PolicyType {
    fn as_str(self) -> &'static str {
        match self {
            PolicyType::ResourceBased => "resource-based",
            PolicyType::IdentityBased => "identity-based",
        }
    }
}

/// Why a request is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedBy {
    /// A key policy statement allows the caller directly, within the key's account.
    KeyPolicy {
        /// The statement.
        statement: StatementRef,
    },
    /// A key policy statement allows the caller (or its account) and the caller's identity
    /// allows too: delegation to IAM, or cross-account access.
    KeyPolicyAndIdentityPolicy {
        /// The key policy statement.
        key_statement: StatementRef,
        /// The identity policy and statement; `None` when the caller is an account's root user,
        /// whose account permissions need no policy.
        identity: Option<(usize, StatementRef)>,
    },
    /// A grant allows the operation.
    Grant {
        /// The grant's id.
        grant_id: String,
    },
}

/// Why a request is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// A statement with `"Effect": "Deny"` applies.
    ExplicitDeny {
        /// The policy holding it.
        policy: PolicyRef,
        /// The statement.
        statement: StatementRef,
    },
    /// Nothing allows the request (an implicit deny). `missing` is the policy type whose allow
    /// is lacking: the key policy's, or the identity policies' when the key policy allowed the
    /// caller's account (or an external caller) but no IAM policy allowed the caller.
    NoAllow {
        /// The policy type that would have had to allow.
        missing: PolicyType,
    },
}

impl DenyReason {
    /// AWS's AccessDeniedException message for this reason (IAM User Guide, "Troubleshoot
    /// access denied error messages": "User user is not authorized to perform action on resource
    /// because context", with "with an explicit deny in a type policy" or "because no type
    /// policy allows the action action"). As KMS returns it, e.g.
    /// `User: arn:aws:iam::111122223333:user/EC2Cryptomatic is not authorized to perform:
    /// kms:DescribeKey on resource: arn:aws:kms:...:key/... because no resource-based policy
    /// allows the kms:DescribeKey action` (quoted in jbrt/ec2cryptomatic issue #26).
    pub fn message(&self, ctx: &RequestContext) -> String {
        let head = format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            ctx.principal().arn(),
            ctx.action(),
            ctx.resource()
        );
        match self {
            DenyReason::ExplicitDeny { policy, .. } => {
                let article = match policy {
                    PolicyRef::KeyPolicy => "a resource-based",
                    PolicyRef::IdentityPolicy { .. } => "an identity-based",
                };
                format!("{head} with an explicit deny in {article} policy")
            }
            DenyReason::NoAllow { missing } => format!(
                "{head} because no {} policy allows the {} action",
                missing.as_str(),
                ctx.action()
            ),
        }
    }
}

/// The outcome of [`evaluate_kms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allow {
        /// What allowed it.
        via: AllowedBy,
    },
    /// The request is refused with AccessDeniedException.
    Deny {
        /// Why.
        reason: DenyReason,
    },
}

impl Decision {
    /// Whether the decision is `Allow`.
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// AWS's AccessDeniedException message for a `Deny`; `None` for an `Allow`.
    pub fn access_denied_message(&self, ctx: &RequestContext) -> Option<String> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny { reason } => Some(reason.message(ctx)),
        }
    }

    /// The proof of authorization a service function requires, or the reason for refusing.
    pub fn into_permit(self) -> Result<Permit, DenyReason> {
        match self {
            Decision::Allow { via } => Ok(Permit { via }),
            Decision::Deny { reason } => Err(reason),
        }
    }
}

/// Proof that [`evaluate_kms`] allowed a request. Only this crate constructs one, so a service
/// function that takes a `Permit` cannot be reached without a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    via: AllowedBy,
}

impl Permit {
    /// What allowed the request, for audit records.
    pub fn via(&self) -> &AllowedBy {
        &self.via
    }
}

/// Decides a KMS request: `key_policy` is the key's policy, `identity_policies` every
/// identity-based policy that applies to the caller (from the caller's own account), and
/// `grants` the key's grants. Statements without a principal never apply from the key policy,
/// and statements with one never apply from an identity policy, whatever kind the policies were
/// parsed as.
pub fn evaluate_kms(
    key_policy: &Policy,
    identity_policies: &[Policy],
    grants: &[Grant],
    ctx: &RequestContext,
) -> Decision {
    let deny = |reason| Decision::Deny { reason };
    let mut key_direct = None;
    let mut key_account = None;
    for (i, statement) in key_policy.statements().iter().enumerate() {
        let Some(matched) = statement.applies(ctx, true) else {
            continue;
        };
        match (statement.effect(), matched) {
            (Effect::Deny, _) => {
                return deny(DenyReason::ExplicitDeny {
                    policy: PolicyRef::KeyPolicy,
                    statement: StatementRef::new(i, statement),
                });
            }
            (Effect::Allow, Match::Direct) => {
                key_direct.get_or_insert((i, statement));
            }
            (Effect::Allow, Match::ViaAccount) => {
                key_account.get_or_insert((i, statement));
            }
        }
    }
    let mut identity_allow = None;
    for (p, policy) in identity_policies.iter().enumerate() {
        for (i, statement) in policy.statements().iter().enumerate() {
            if statement.applies(ctx, false).is_none() {
                continue;
            }
            match statement.effect() {
                Effect::Deny => {
                    return deny(DenyReason::ExplicitDeny {
                        policy: PolicyRef::IdentityPolicy { index: p },
                        statement: StatementRef::new(i, statement),
                    });
                }
                Effect::Allow => {
                    identity_allow.get_or_insert((p, i, statement));
                }
            }
        }
    }
    let mut grant_direct = None;
    let mut grant_account = None;
    for grant in grants {
        match grant.allows(ctx) {
            Some(Match::Direct) => {
                grant_direct.get_or_insert(grant);
            }
            Some(Match::ViaAccount) => {
                grant_account.get_or_insert(grant);
            }
            None => {}
        }
    }

    let principal = ctx.principal();
    let is_root = matches!(principal.kind(), PrincipalKind::Root);
    let identity_allows = is_root || identity_allow.is_some();
    let identity_ref = identity_allow.map(|(p, i, s)| (p, StatementRef::new(i, s)));
    let with_identity = |(i, statement): (usize, &Statement)| Decision::Allow {
        via: AllowedBy::KeyPolicyAndIdentityPolicy {
            key_statement: StatementRef::new(i, statement),
            identity: identity_ref.clone(),
        },
    };
    let by_grant = |grant: &Grant| Decision::Allow {
        via: AllowedBy::Grant {
            grant_id: grant.grant_id().to_owned(),
        },
    };
    let same_account = principal.account() == Some(ctx.resource_account());
    let has_account = principal.account().is_some();

    if same_account || !has_account {
        if let Some((i, statement)) = key_direct {
            return Decision::Allow {
                via: AllowedBy::KeyPolicy {
                    statement: StatementRef::new(i, statement),
                },
            };
        }
        if let (Some(key), true) = (key_account, identity_allows) {
            return with_identity(key);
        }
    } else if let (Some(key), true) = (key_direct.or(key_account), identity_allows) {
        return with_identity(key);
    }
    if let Some(grant) = grant_direct {
        return by_grant(grant);
    }
    if let (Some(grant), true) = (grant_account, identity_allows) {
        return by_grant(grant);
    }
    let key_allowed_some_way = if same_account || !has_account {
        key_account.is_some()
    } else {
        key_direct.is_some() || key_account.is_some()
    };
    let missing = if key_allowed_some_way || grant_account.is_some() {
        PolicyType::IdentityBased
    } else {
        PolicyType::ResourceBased
    };
    deny(DenyReason::NoAllow { missing })
}

/// KMS's policy lockout safety check (KMS API Reference, `PutKeyPolicy`
/// `BypassPolicyLockoutSafetyCheck`: it "ensures that the principal making the request can make
/// a subsequent PutKeyPolicy request on the KMS key"): would `proposed`, with the caller's
/// `identity_policies`, allow `ctx`'s principal to call `kms:PutKeyPolicy` on the key? `ctx` is
/// the PutKeyPolicy or CreateKey request; its action is replaced. Returns [`Error::Lockout`]
/// ("The new key policy will not allow you to update the key policy in the future.") if not.
pub fn check_lockout_safety(
    proposed: &Policy,
    identity_policies: &[Policy],
    ctx: &RequestContext,
) -> Result<(), Error> {
    let put = ctx.for_action("kms:PutKeyPolicy");
    if evaluate_kms(proposed, identity_policies, &[], &put).is_allow() {
        Ok(())
    } else {
        Err(Error::Lockout)
    }
}

/// The IAM principal ARNs named in `policy` (accounts as root ARNs) for which `exists` says
/// no, in document order. `"*"`, services and federated providers are never checked.
pub fn unknown_principals(policy: &Policy, mut exists: impl FnMut(&str) -> bool) -> Vec<&str> {
    policy
        .principal_arns()
        .into_iter()
        .filter(|arn| !exists(arn))
        .collect()
}

/// PutKeyPolicy's refusal of principals that do not exist: [`Error::InvalidPrincipals`]
/// ("Policy contains a statement with one or more invalid principals.") when
/// [`unknown_principals`] finds any.
pub fn check_principals_exist(
    policy: &Policy,
    exists: impl FnMut(&str) -> bool,
) -> Result<(), Error> {
    if unknown_principals(policy, exists).is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidPrincipals)
    }
}
