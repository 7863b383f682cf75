//! IAM roles: their trust policies (who may assume them) and their inline policies (what their
//! sessions may do).
//!
//! A role is managed like a user: the store is written first, memory second, under the
//! service's writer lock. A trust policy is a resource-based policy on the role, parsed with
//! [`Limits::TRUST_POLICY`]; inline policies with [`Limits::ROLE_INLINE`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use keystead_authz::{Limits, Policy};
use keystead_store::{RolePolicyRecord, RoleRecord, Snapshot, Tag};
use keystead_types::{AccountId, Caller};

use crate::{Error, IdentityService, Page, State, UserKey, page, policy_error, random_id};

/// The shortest and longest `MaxSessionDuration` a role may have, in seconds, and the default.
pub const ROLE_MAX_SESSION_DURATION: (u32, u32, u32) = (3_600, 43_200, 3_600);

/// A role as the service holds it.
#[derive(Clone)]
pub(crate) struct RoleEntry {
    pub(crate) record: RoleRecord,
    /// Policy name → document, as given.
    pub(crate) policies: BTreeMap<String, String>,
    /// The same policies, compiled.
    pub(crate) compiled: Arc<[Policy]>,
    /// The trust policy, compiled.
    pub(crate) trust: Arc<Policy>,
}

impl RoleEntry {
    pub(crate) fn arn(&self) -> String {
        role_arn(
            &self.record.account_id,
            &self.record.path,
            &self.record.role_name,
        )
    }
}

/// A role's public description.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    /// The record.
    pub record: RoleRecord,
    /// `arn:aws:iam::ACCOUNT:role{path}{name}`.
    pub arn: String,
}

/// The ARN of an IAM role: `arn:aws:iam::ACCOUNT:role{path}{name}`.
pub fn role_arn(account: &AccountId, path: &str, role_name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{role_name}")
}

/// What CreateRole is given besides the caller.
pub struct NewRole<'a> {
    /// The role name.
    pub role_name: &'a str,
    /// The path, `/` when `None`.
    pub path: Option<&'a str>,
    /// The trust policy document.
    pub assume_role_policy_document: &'a str,
    /// A description.
    pub description: Option<&'a str>,
    /// The longest session, in seconds; 3600 when `None`.
    pub max_session_duration: Option<i32>,
    /// Tags.
    pub tags: Vec<Tag>,
}

pub(crate) fn load_roles(snapshot: &Snapshot, state: &mut State) -> Result<(), Error> {
    let mut policies: HashMap<UserKey, BTreeMap<String, String>> = HashMap::new();
    for p in &snapshot.role_policies {
        policies
            .entry(role_key(&p.account_id, &p.role_name))
            .or_default()
            .insert(p.policy_name.clone(), p.document.clone());
    }
    for record in &snapshot.roles {
        let key = role_key(&record.account_id, &record.role_name);
        let role_policies = policies.remove(&key).unwrap_or_default();
        let corrupt = |e: keystead_authz::Error| {
            Error::Corrupt(format!(
                "a policy of role {} does not parse: {e}",
                record.role_name
            ))
        };
        let compiled = compile_role_policies(&role_policies).map_err(corrupt)?;
        let trust = Policy::parse(&record.assume_role_policy_document, &Limits::TRUST_POLICY)
            .map_err(corrupt)?;
        state.roles.insert(
            key,
            Arc::new(RoleEntry {
                record: record.clone(),
                policies: role_policies,
                compiled,
                trust: Arc::new(trust),
            }),
        );
    }
    Ok(())
}

impl IdentityService {
    pub(crate) fn role(
        &self,
        account: &AccountId,
        role_name: &str,
    ) -> Result<Arc<RoleEntry>, Error> {
        self.read()
            .roles
            .get(&role_key(account, role_name))
            .cloned()
            .ok_or_else(|| no_such_role(role_name))
    }

    /// The compiled inline policies of a role (empty if it has none or does not exist).
    pub fn role_policies(&self, account: &AccountId, role_name: &str) -> Arc<[Policy]> {
        self.read()
            .roles
            .get(&role_key(account, role_name))
            .map(|r| r.compiled.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// CreateRole: checks the name, path, trust policy and maximum session duration.
    pub async fn create_role(&self, caller: &Caller, new: NewRole<'_>) -> Result<Role, Error> {
        let path = new.path.unwrap_or("/");
        crate::check_path(path)?;
        check_role_name(new.role_name)?;
        let (min, max, default) = ROLE_MAX_SESSION_DURATION;
        let max_session_duration = match new.max_session_duration {
            None => default,
            Some(d) => u32::try_from(d)
                .ok()
                .filter(|d| (min..=max).contains(d))
                .ok_or_else(|| {
                    Error::Validation(format!(
                        "1 validation error detected: Value '{d}' at 'maxSessionDuration' failed \
                         to satisfy constraint: Member must have value between {min} and {max}"
                    ))
                })?,
        };
        self.authorize(
            caller,
            "iam:CreateRole",
            &role_arn(&caller.account_id, path, new.role_name),
        )?;
        let trust = parse_trust_policy(new.assume_role_policy_document)?;
        let _writer = self.writer.lock().await;
        let key = role_key(&caller.account_id, new.role_name);
        if self.read().roles.contains_key(&key) {
            return Err(Error::EntityAlreadyExists(format!(
                "Role with name {} already exists.",
                new.role_name
            )));
        }
        let record = RoleRecord {
            account_id: caller.account_id.clone(),
            role_name: new.role_name.to_owned(),
            role_id: random_id("AROA")?,
            path: path.to_owned(),
            assume_role_policy_document: new.assume_role_policy_document.to_owned(),
            description: new.description.map(str::to_owned),
            max_session_duration,
            tags: new.tags,
            created_at: self.clock.now(),
        };
        self.store.create_role(&record).await?;
        let entry = Arc::new(RoleEntry {
            record,
            policies: BTreeMap::new(),
            compiled: Arc::from(Vec::new()),
            trust: Arc::new(trust),
        });
        let role = public_role(&entry);
        self.write_state(|s| s.roles.insert(key, entry));
        Ok(role)
    }

    /// GetRole.
    pub fn get_role(&self, caller: &Caller, role_name: &str) -> Result<Role, Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:GetRole", &entry.arn())?;
        Ok(public_role(&entry))
    }

    /// ListRoles, ordered by name (case-insensitively), `max_items` (default 100) per page.
    pub fn list_roles(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Page<Role>, Error> {
        self.authorize(
            caller,
            "iam:ListRoles",
            &format!("arn:aws:iam::{}:role/", caller.account_id),
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let state = self.read();
        let roles = state
            .roles
            .range(role_key(&caller.account_id, marker.unwrap_or(""))..)
            .take_while(|((account, _), _)| *account == caller.account_id)
            .filter(|(_, r)| r.record.path.starts_with(prefix))
            .map(|((_, name), r)| (name.clone(), public_role(r)));
        Ok(page(roles, max_items))
    }

    /// DeleteRole: refused while the role has inline policies, as AWS.
    pub async fn delete_role(&self, caller: &Caller, role_name: &str) -> Result<(), Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:DeleteRole", &entry.arn())?;
        let _writer = self.writer.lock().await;
        let entry = self.role(&caller.account_id, role_name)?;
        if !entry.policies.is_empty() {
            return Err(Error::DeleteConflict(
                "Cannot delete entity, must delete policies first.".to_owned(),
            ));
        }
        self.store
            .delete_role(&caller.account_id, &entry.record.role_name)
            .await?;
        self.write_state(|s| {
            s.roles
                .remove(&role_key(&caller.account_id, &entry.record.role_name))
        });
        Ok(())
    }

    /// UpdateAssumeRolePolicy: replaces the trust policy.
    pub async fn update_assume_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        document: &str,
    ) -> Result<(), Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:UpdateAssumeRolePolicy", &entry.arn())?;
        let trust = parse_trust_policy(document)?;
        let _writer = self.writer.lock().await;
        let entry = self.role(&caller.account_id, role_name)?;
        let mut record = entry.record.clone();
        record.assume_role_policy_document = document.to_owned();
        self.store.update_role(&record).await?;
        self.publish_role(RoleEntry {
            record,
            policies: entry.policies.clone(),
            compiled: entry.compiled.clone(),
            trust: Arc::new(trust),
        });
        Ok(())
    }

    /// PutRolePolicy: adds or replaces an inline policy, after checking its grammar and size.
    pub async fn put_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:PutRolePolicy", &entry.arn())?;
        let _compiled = Policy::parse(document, &Limits::ROLE_INLINE).map_err(policy_error)?;
        let _writer = self.writer.lock().await;
        let entry = self.role(&caller.account_id, role_name)?;
        let mut policies = entry.policies.clone();
        policies.insert(policy_name.to_owned(), document.to_owned());
        let compiled = compile_role_policies(&policies).map_err(policy_error)?;
        self.store
            .put_role_policy(&RolePolicyRecord {
                account_id: caller.account_id.clone(),
                role_name: entry.record.role_name.clone(),
                policy_name: policy_name.to_owned(),
                document: document.to_owned(),
            })
            .await?;
        self.publish_role(RoleEntry {
            record: entry.record.clone(),
            policies,
            compiled,
            trust: entry.trust.clone(),
        });
        Ok(())
    }

    /// GetRolePolicy: the document as it was put.
    pub fn get_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<String, Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:GetRolePolicy", &entry.arn())?;
        entry
            .policies
            .get(policy_name)
            .cloned()
            .ok_or_else(|| no_such_role_policy(role_name, policy_name))
    }

    /// ListRolePolicies: the names of a role's inline policies.
    pub fn list_role_policies(
        &self,
        caller: &Caller,
        role_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Page<String>, Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:ListRolePolicies", &entry.arn())?;
        let names = entry
            .policies
            .range(marker.unwrap_or("").to_owned()..)
            .map(|(name, _)| (name.clone(), name.clone()));
        Ok(page(names, max_items))
    }

    /// DeleteRolePolicy.
    pub async fn delete_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        let entry = self.role(&caller.account_id, role_name)?;
        self.authorize(caller, "iam:DeleteRolePolicy", &entry.arn())?;
        let _writer = self.writer.lock().await;
        let entry = self.role(&caller.account_id, role_name)?;
        let mut policies = entry.policies.clone();
        if policies.remove(policy_name).is_none() {
            return Err(no_such_role_policy(role_name, policy_name));
        }
        let compiled = compile_role_policies(&policies).map_err(policy_error)?;
        self.store
            .delete_role_policy(&caller.account_id, &entry.record.role_name, policy_name)
            .await?;
        self.publish_role(RoleEntry {
            record: entry.record.clone(),
            policies,
            compiled,
            trust: entry.trust.clone(),
        });
        Ok(())
    }

    fn publish_role(&self, entry: RoleEntry) {
        let key = role_key(&entry.record.account_id, &entry.record.role_name);
        self.write_state(|s| s.roles.insert(key, Arc::new(entry)));
    }
}

pub(crate) fn role_key(account: &AccountId, role_name: &str) -> UserKey {
    (account.clone(), role_name.to_lowercase())
}

pub(crate) fn public_role(entry: &RoleEntry) -> Role {
    Role {
        record: entry.record.clone(),
        arn: entry.arn(),
    }
}

fn parse_trust_policy(document: &str) -> Result<Policy, Error> {
    Policy::parse(document, &Limits::TRUST_POLICY).map_err(policy_error)
}

fn compile_role_policies(
    policies: &BTreeMap<String, String>,
) -> Result<Arc<[Policy]>, keystead_authz::Error> {
    policies
        .values()
        .map(|d| Policy::parse(d, &Limits::ROLE_INLINE))
        .collect::<Result<Vec<_>, _>>()
        .map(Arc::from)
}

fn no_such_role(role_name: &str) -> Error {
    Error::NoSuchEntity(format!("The role with name {role_name} cannot be found."))
}

fn no_such_role_policy(role_name: &str, policy_name: &str) -> Error {
    Error::NoSuchEntity(format!(
        "The role policy with name {policy_name} cannot be found for role {role_name}."
    ))
}

fn check_role_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: Value '{name}' at 'roleName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}
