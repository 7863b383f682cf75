//! Principals: the caller of a request ([`Principal`]) and the `Principal`/`NotPrincipal`
//! element of a key policy (`Entry`, `PrincipalSpec`), and how one matches the other.
//!
//! Matching follows the IAM User Guide, "AWS JSON policy elements: Principal":
//!
//! - `"*"` and `{"AWS": "*"}` match every caller, AWS services and anonymous callers included.
//! - An account (`"111122223333"` or `arn:aws:iam::111122223333:root`) matches the account's
//!   root user *directly*, and every other principal of the account *via the account*: a KMS key
//!   policy that allows the account delegates the decision to the account's IAM policies (KMS
//!   Developer Guide, "Default key policy: Allows access to the AWS account and enables IAM
//!   policies"). A `Deny` that names an account applies to every principal in it.
//! - A role ARN matches the role's sessions (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`);
//!   a session ARN matches only that session. User and federated-user ARNs match exactly.
//! - `{"Service": "rds.amazonaws.com"}` matches a caller acting as that service.
//! - `{"Federated": ...}` names an identity provider, which is never a KMS caller: it matches
//!   nothing (it is meaningful in role trust policies only).
//!
//! `NotPrincipal` is evaluated over the caller's chain of identities (session, role, account),
//! as the IAM User Guide's "NotPrincipal" section describes: a `Deny` with `NotPrincipal`
//! applies unless *every* identity in the chain is listed (so exempting a role session needs the
//! session, the role and the account), and an `Allow` with `NotPrincipal` applies only when *no*
//! identity in the chain is listed. Both readings fail safe.
//!
//! Nothing here looks principals up: whether a named principal exists is the caller's question
//! (see [`crate::check_principals_exist`]).

use keystead_types::AccountId;

use crate::Error;
use crate::policy::Effect;

/// Who is making a request, as the server established it after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    arn: String,
    account: Option<AccountId>,
    kind: PrincipalKind,
}

/// What sort of principal a [`Principal`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An account's root user, `arn:aws:iam::ACCOUNT:root`.
    Root,
    /// An IAM user, `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    User,
    /// An IAM role itself, `arn:aws:iam::ACCOUNT:role/PATH/NAME`. Roles do not sign requests
    /// (their sessions do); this kind exists for questions asked about a role, such as whether a
    /// policy would lock it out.
    Role,
    /// A session of an IAM role, `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`.
    AssumedRole {
        /// The role's ARN, with its path: what a policy names to match every session.
        role_arn: String,
        /// The session name.
        session_name: String,
    },
    /// A federated user from `GetFederationToken`, `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser,
    /// An AWS service acting as itself, such as `rds.amazonaws.com`.
    Service(String),
    /// An unauthenticated caller. KMS never accepts one, but policies can name `"*"`, which
    /// includes it.
    Anonymous,
}

/// The parts of a principal ARN this crate cares about.
struct ParsedArn<'a> {
    partition: &'a str,
    service: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(arn: &str) -> Option<ParsedArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let well_formed = !partition.is_empty()
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !resource.is_empty();
    well_formed.then_some(ParsedArn {
        partition,
        service,
        account,
        resource,
    })
}

/// A name segment of an IAM path or name: non-empty, no wildcards, no whitespace.
fn is_name(segment: &str) -> bool {
    !segment.is_empty()
        && !segment.contains(['*', '?', '/'])
        && !segment.contains(char::is_whitespace)
}

/// `path/name` after `user/` or `role/`: every segment a name.
fn is_path_and_name(rest: &str) -> bool {
    rest.split('/').all(is_name)
}

impl Principal {
    /// The root user of `account`.
    pub fn root(account: &AccountId) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account}:root"),
            account: Some(account.clone()),
            kind: PrincipalKind::Root,
        }
    }

    /// The principal named by an IAM or STS ARN (root, user, role, assumed-role session,
    /// federated user) or by a bare 12-digit account id, which means the account's root user.
    /// A session's role ARN is rebuilt without a path; use [`Principal::assumed_role`] when the
    /// role has one.
    pub fn from_arn(arn: &str) -> Result<Principal, Error> {
        let invalid = || Error::InvalidPrincipalArn {
            arn: arn.to_owned(),
        };
        if let Ok(account) = arn.parse::<AccountId>() {
            return Ok(Principal::root(&account));
        }
        let parsed = parse_arn(arn).ok_or_else(invalid)?;
        let account: AccountId = parsed.account.parse().map_err(|_| invalid())?;
        let kind = match (parsed.service, parsed.resource) {
            ("iam", "root") => PrincipalKind::Root,
            ("iam", r) if r.strip_prefix("user/").is_some_and(is_path_and_name) => {
                PrincipalKind::User
            }
            ("iam", r) if r.strip_prefix("role/").is_some_and(is_path_and_name) => {
                PrincipalKind::Role
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut names = r["assumed-role/".len()..].split('/');
                match (names.next(), names.next(), names.next()) {
                    (Some(role), Some(session), None) if is_name(role) && is_name(session) => {
                        PrincipalKind::AssumedRole {
                            role_arn: format!(
                                "arn:{}:iam::{}:role/{role}",
                                parsed.partition, parsed.account
                            ),
                            session_name: session.to_owned(),
                        }
                    }
                    _ => return Err(invalid()),
                }
            }
            ("sts", r) if r.strip_prefix("federated-user/").is_some_and(is_name) => {
                PrincipalKind::FederatedUser
            }
            _ => return Err(invalid()),
        };
        Ok(Principal {
            arn: arn.to_owned(),
            account: Some(account),
            kind,
        })
    }

    /// A session named `session_name` of the role `role_arn` (which may have a path).
    pub fn assumed_role(role_arn: &str, session_name: &str) -> Result<Principal, Error> {
        let role = Principal::from_arn(role_arn)?;
        let (PrincipalKind::Role, Some(account)) = (&role.kind, &role.account) else {
            return Err(Error::InvalidPrincipalArn {
                arn: role_arn.to_owned(),
            });
        };
        if !is_name(session_name) {
            return Err(Error::InvalidPrincipalArn {
                arn: session_name.to_owned(),
            });
        }
        let partition = role_arn.split(':').nth(1).unwrap_or("aws");
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        Ok(Principal {
            arn: format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}"),
            account: Some(account.clone()),
            kind: PrincipalKind::AssumedRole {
                role_arn: role_arn.to_owned(),
                session_name: session_name.to_owned(),
            },
        })
    }

    /// An AWS service acting as itself, such as `rds.amazonaws.com`.
    pub fn service(name: &str) -> Principal {
        Principal {
            arn: name.to_owned(),
            account: None,
            kind: PrincipalKind::Service(name.to_owned()),
        }
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Principal {
        Principal {
            arn: "anonymous".to_owned(),
            account: None,
            kind: PrincipalKind::Anonymous,
        }
    }

    /// The caller's ARN: the session ARN for a role session, the service name for a service.
    /// This is the `User:` of AWS's AccessDeniedException message.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The caller's account; `None` for services and anonymous callers.
    pub fn account(&self) -> Option<&AccountId> {
        self.account.as_ref()
    }

    /// What sort of principal this is.
    pub fn kind(&self) -> &PrincipalKind {
        &self.kind
    }

    /// The value of `aws:PrincipalArn`: the role's ARN for a role session, else the ARN.
    pub fn principal_arn(&self) -> &str {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => role_arn,
            _ => &self.arn,
        }
    }

    /// The value of `aws:PrincipalType`, where AWS defines one.
    pub fn principal_type(&self) -> Option<&'static str> {
        match self.kind {
            PrincipalKind::Root => Some("Account"),
            PrincipalKind::User => Some("User"),
            PrincipalKind::AssumedRole { .. } => Some("AssumedRole"),
            PrincipalKind::FederatedUser => Some("FederatedUser"),
            PrincipalKind::Anonymous => Some("Anonymous"),
            PrincipalKind::Role | PrincipalKind::Service(_) => None,
        }
    }

    /// The value of `aws:username`: an IAM user's name, without its path.
    pub fn user_name(&self) -> Option<&str> {
        match self.kind {
            PrincipalKind::User => self.arn.rsplit('/').next(),
            _ => None,
        }
    }

    /// The identities a `NotPrincipal` element is checked against, most specific first.
    fn chain(&self) -> [Option<Link<'_>>; 3] {
        let account = self.account.as_ref().map(|a| Link::Account(a.as_str()));
        match &self.kind {
            PrincipalKind::Root => [account, None, None],
            PrincipalKind::User | PrincipalKind::FederatedUser => {
                [Some(Link::Arn(&self.arn)), account, None]
            }
            PrincipalKind::Role => [Some(Link::Role(&self.arn)), account, None],
            PrincipalKind::AssumedRole { role_arn, .. } => [
                Some(Link::Arn(&self.arn)),
                Some(Link::Role(role_arn)),
                account,
            ],
            PrincipalKind::Service(name) => [Some(Link::Service(name)), None, None],
            PrincipalKind::Anonymous => [Some(Link::Anonymous), None, None],
        }
    }
}

/// One identity in a caller's chain.
#[derive(Debug, Clone, Copy)]
enum Link<'a> {
    Arn(&'a str),
    Role(&'a str),
    Account(&'a str),
    Service(&'a str),
    Anonymous,
}

/// How a policy's principal element matched the caller. `ViaAccount` only lets the account's
/// own identity-based policies decide; `Direct` is enough on its own within the key's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Match {
    ViaAccount,
    Direct,
}

/// One value of a `Principal` element, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Any,
    /// An account; `arn` is its root ARN, the form in which it is checked for existence.
    Account {
        account: Box<str>,
        arn: Box<str>,
    },
    /// A user, role session or federated user.
    Exact {
        arn: Box<str>,
    },
    Role {
        arn: Box<str>,
    },
    Service(Box<str>),
    Federated,
}

impl Entry {
    /// Compiles one value of `{"AWS": ...}`.
    pub(crate) fn aws(value: &str) -> Result<Entry, Error> {
        if value == "*" {
            return Ok(Entry::Any);
        }
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Entry::Account {
                account: value.into(),
                arn: format!("arn:aws:iam::{value}:root").into(),
            });
        }
        if value.contains(['*', '?']) {
            return Err(Error::InvalidPrincipals);
        }
        let principal = Principal::from_arn(value).map_err(|_| Error::InvalidPrincipals)?;
        Ok(match principal.kind {
            PrincipalKind::Root => Entry::Account {
                account: principal
                    .account
                    .map(|a| String::from(a).into_boxed_str())
                    .unwrap_or_default(),
                arn: value.into(),
            },
            PrincipalKind::Role => Entry::Role { arn: value.into() },
            _ => Entry::Exact { arn: value.into() },
        })
    }

    /// Compiles one value of `{"Service": ...}`: a DNS-style name such as `rds.amazonaws.com`.
    pub(crate) fn service(value: &str) -> Result<Entry, Error> {
        let well_formed = value.contains('.')
            && !value.starts_with('.')
            && !value.ends_with('.')
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if well_formed {
            Ok(Entry::Service(value.to_ascii_lowercase().into()))
        } else {
            Err(Error::InvalidPrincipals)
        }
    }

    /// Compiles one value of `{"Federated": ...}`: a provider name or ARN, without wildcards.
    pub(crate) fn federated(value: &str) -> Result<Entry, Error> {
        if value.is_empty() || value.contains(['*', '?']) || value.contains(char::is_whitespace) {
            Err(Error::InvalidPrincipals)
        } else {
            Ok(Entry::Federated)
        }
    }

    /// The ARN whose existence PutKeyPolicy checks, for entries that name an IAM identity.
    pub(crate) fn checked_arn(&self) -> Option<&str> {
        match self {
            Entry::Account { arn, .. } | Entry::Exact { arn } | Entry::Role { arn } => Some(arn),
            Entry::Any | Entry::Service(_) | Entry::Federated => None,
        }
    }

    /// How this entry matches `caller`, if it does.
    pub(crate) fn matches(&self, caller: &Principal) -> Option<Match> {
        match self {
            Entry::Any => Some(Match::Direct),
            Entry::Account { account, .. } => {
                let same = caller
                    .account
                    .as_ref()
                    .is_some_and(|a| a.as_str() == &**account);
                match (&caller.kind, same) {
                    (_, false) => None,
                    (PrincipalKind::Root, true) => Some(Match::Direct),
                    (_, true) => Some(Match::ViaAccount),
                }
            }
            Entry::Exact { arn } => (caller.arn == **arn).then_some(Match::Direct),
            Entry::Role { arn } => match &caller.kind {
                PrincipalKind::Role if caller.arn == **arn => Some(Match::Direct),
                PrincipalKind::AssumedRole { role_arn, .. } if role_arn == &**arn => {
                    Some(Match::Direct)
                }
                _ => None,
            },
            Entry::Service(name) => match &caller.kind {
                PrincipalKind::Service(s) if s.eq_ignore_ascii_case(name) => Some(Match::Direct),
                _ => None,
            },
            Entry::Federated => None,
        }
    }

    /// Whether this entry names exactly `link` (for `NotPrincipal`).
    fn names(&self, link: Link<'_>) -> bool {
        match (self, link) {
            (Entry::Any, _) => true,
            (Entry::Account { account, .. }, Link::Account(a)) => &**account == a,
            (Entry::Exact { arn }, Link::Arn(a)) | (Entry::Role { arn }, Link::Role(a)) => {
                &**arn == a
            }
            (Entry::Service(name), Link::Service(s)) => name.eq_ignore_ascii_case(s),
            _ => false,
        }
    }
}

/// A statement's `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalSpec {
    Principal(Vec<Entry>),
    NotPrincipal(Vec<Entry>),
}

impl PrincipalSpec {
    /// How the element matches `caller` in a statement with `effect`.
    pub(crate) fn matches(&self, caller: &Principal, effect: Effect) -> Option<Match> {
        match self {
            PrincipalSpec::Principal(entries) => {
                entries.iter().filter_map(|e| e.matches(caller)).max()
            }
            PrincipalSpec::NotPrincipal(entries) => {
                let listed = |link: &Link<'_>| entries.iter().any(|e| e.names(*link));
                let mut chain = caller.chain().into_iter().flatten();
                let applies = match effect {
                    Effect::Allow => !chain.any(|l| listed(&l)),
                    Effect::Deny => !chain.all(|l| listed(&l)),
                };
                applies.then_some(Match::Direct)
            }
        }
    }

    /// The entries, whichever element they came from.
    pub(crate) fn entries(&self) -> &[Entry] {
        match self {
            PrincipalSpec::Principal(e) | PrincipalSpec::NotPrincipal(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arn: &str) -> Principal {
        Principal::from_arn(arn).expect("valid principal in test")
    }

    #[test]
    fn principal_arns_parse_into_kinds() {
        assert_eq!(p("111122223333").kind(), &PrincipalKind::Root);
        assert_eq!(p("111122223333").arn(), "arn:aws:iam::111122223333:root");
        assert_eq!(
            p("arn:aws:iam::111122223333:user/ops/alice").kind(),
            &PrincipalKind::User
        );
        assert_eq!(
            p("arn:aws:iam::111122223333:user/ops/alice").user_name(),
            Some("alice")
        );
        let session = p("arn:aws:sts::111122223333:assumed-role/Admin/alice");
        assert_eq!(
            session.principal_arn(),
            "arn:aws:iam::111122223333:role/Admin"
        );
        assert_eq!(session.principal_type(), Some("AssumedRole"));
        for bad in [
            "arn:aws:iam::1111:root",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user/a*",
            "arn:aws:iam::111122223333:group/devs",
            "arn:aws:sts::111122223333:assumed-role/Admin",
            "arn:aws:iam:us-east-1:111122223333:root",
            "alice",
        ] {
            assert!(Principal::from_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sessions_of_roles_with_paths_keep_the_role_arn() {
        let s = Principal::assumed_role("arn:aws:iam::111122223333:role/team/Dev", "bob")
            .expect("valid");
        assert_eq!(s.arn(), "arn:aws:sts::111122223333:assumed-role/Dev/bob");
        let role = Entry::aws("arn:aws:iam::111122223333:role/team/Dev").expect("valid");
        assert_eq!(role.matches(&s), Some(Match::Direct));
        let other = Entry::aws("arn:aws:iam::111122223333:role/Dev").expect("valid");
        assert_eq!(other.matches(&s), None);
    }

    #[test]
    fn accounts_match_their_root_directly_and_others_via_the_account() {
        let account = Entry::aws("111122223333").expect("valid");
        assert_eq!(account.matches(&p("111122223333")), Some(Match::Direct));
        let user = p("arn:aws:iam::111122223333:user/alice");
        assert_eq!(account.matches(&user), Some(Match::ViaAccount));
        assert_eq!(
            account.matches(&p("arn:aws:iam::444455556666:user/alice")),
            None
        );
        assert_eq!(
            account.matches(&Principal::service("rds.amazonaws.com")),
            None
        );
    }

    #[test]
    fn invalid_principal_values_are_refused() {
        for bad in [
            "arn:aws:iam::111122223333:user/*",
            "alice",
            "1111",
            "*:root",
        ] {
            assert_eq!(Entry::aws(bad), Err(Error::InvalidPrincipals), "{bad}");
        }
        for bad in ["*", "rds", "rds.amazonaws.com ", ".com"] {
            assert_eq!(Entry::service(bad), Err(Error::InvalidPrincipals), "{bad}");
        }
    }
}
