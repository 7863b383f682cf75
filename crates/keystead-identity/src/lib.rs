//! IAM identities: the users and roles of each account, their access keys, their inline
//! policies and their virtual MFA devices ([`totp`] holds the RFC 6238 codes).
//!
//! Like the KMS service, all state lives in memory and is served from there; the [`Store`] is
//! the durable copy. Every change is written to the store first and published in memory only
//! once the store has acknowledged it. Secrets are sealed under the root key before they reach
//! the store and are returned in plaintext only once, by [`IdentityService::create_access_key`].
//!
//! IAM calls are authorized here: the account's root user may do anything; an IAM user only
//! what its inline policies allow (evaluated by `keystead-authz` as identity-based policies).
//!
//! This crate knows nothing of HTTP or the wire format.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use keystead_authz::{Limits, Policy};
use keystead_crypto::RootKey;
use keystead_store::{
    AccessKeyRecord, AccessKeyStatus, AccessKeyUserRecord, AccountRecord, Snapshot, Store, Tag,
    UserPolicyRecord, UserRecord,
};
use keystead_types::{AccountId, Caller, CallerUser, Clock, UnixMillis, user_arn};
use zeroize::Zeroizing;

mod error;
mod mfa;
pub mod qr;
mod roles;
mod sts;
pub mod totp;

pub use error::Error;
pub use mfa::{CreatedMfaDevice, MFA_SEED_LEN, MfaDeviceInfo, mfa_device_arn};
pub use roles::{NewRole, ROLE_MAX_SESSION_DURATION, Role, role_arn};
pub use sts::{
    ASSUME_ROLE_DURATION, AssumeRole, CreatedSession, GET_SESSION_TOKEN_DURATION,
    ROLE_CHAINING_MAX_DURATION, ROOT_SESSION_MAX_DURATION, SessionSecrets, is_expired,
    session_identity, unseal_session,
};

/// How many access keys one user may have, as AWS.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// A user as the service holds it: its record and its inline policies.
#[derive(Clone)]
struct UserEntry {
    record: UserRecord,
    /// Policy name → document, as given.
    policies: BTreeMap<String, String>,
    /// The same policies, compiled, for evaluation.
    compiled: Arc<[Policy]>,
}

impl UserEntry {
    fn arn(&self) -> String {
        user_arn(
            &self.record.account_id,
            &self.record.path,
            &self.record.user_name,
        )
    }

    fn caller_user(&self) -> CallerUser {
        CallerUser {
            user_name: self.record.user_name.clone(),
            user_id: self.record.user_id.clone(),
            path: self.record.path.clone(),
        }
    }
}

/// An access key as the service holds it (its secret stays sealed here).
#[derive(Clone)]
struct KeyEntry {
    record: AccessKeyRecord,
    /// The owning user's name; `None` for the root user.
    user_name: Option<String>,
}

/// Users are found by account and lower-cased name: IAM names are unique case-insensitively.
type UserKey = (AccountId, String);

#[derive(Default)]
struct State {
    users: BTreeMap<UserKey, Arc<UserEntry>>,
    access_keys: BTreeMap<String, KeyEntry>,
    /// Roles, by account and lower-cased name.
    roles: BTreeMap<UserKey, Arc<roles::RoleEntry>>,
    /// Virtual MFA devices, by serial number.
    mfa_devices: BTreeMap<String, keystead_store::MfaDeviceRecord>,
    /// The service principal of each access key that acts as one, by access key id.
    services: BTreeMap<String, String>,
}

/// A user's public description.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The record.
    pub record: UserRecord,
    /// `arn:aws:iam::ACCOUNT:user{path}{name}`.
    pub arn: String,
}

/// GetUser's answer: an IAM user, or the root user when a root caller names nobody.
#[derive(Clone, Debug, PartialEq)]
pub enum Identity {
    /// An IAM user.
    User(User),
    /// The account's root user.
    Root {
        /// `arn:aws:iam::ACCOUNT:root`.
        arn: String,
        /// The account id, which is the root user's user id.
        user_id: String,
    },
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

/// An access key's public description (no secret).
#[derive(Clone, Debug, PartialEq)]
pub struct AccessKeyInfo {
    /// The access key id.
    pub access_key_id: String,
    /// The owning user; `None` for the root user.
    pub user_name: Option<String>,
    /// Whether it may sign requests.
    pub status: AccessKeyStatus,
    /// When it was created.
    pub created_at: UnixMillis,
}

/// A new access key, with its secret: returned once.
pub struct CreatedAccessKey {
    /// The stored record (secret sealed).
    pub record: AccessKeyRecord,
    /// The owning user, as callers signing with the key will be known; `None` for root.
    pub user: Option<CallerUser>,
    /// The secret access key, in plaintext. Shown once; never stored unsealed.
    pub secret_access_key: Zeroizing<String>,
}

/// The IAM service for every account of one deployment.
pub struct IdentityService {
    state: RwLock<State>,
    writer: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    root_key: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    /// Grows after every change to the state; see [`IdentityService::generation`].
    generation: std::sync::atomic::AtomicU64,
    /// The last TOTP step accepted from each MFA device, by serial number: a code is good for
    /// one use, as AWS's are. Kept in memory only: at start every code that could have been
    /// used before counts as used (`mfa::steps_used_at_start`).
    mfa_steps_used: std::sync::Mutex<HashMap<String, u64>>,
}

impl IdentityService {
    /// Builds the service from `snapshot`, compiling every inline policy.
    pub fn open(
        snapshot: &Snapshot,
        store: Arc<dyn Store>,
        root_key: Arc<RootKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let mut state = State::default();
        let mut policies: HashMap<UserKey, BTreeMap<String, String>> = HashMap::new();
        for p in &snapshot.user_policies {
            policies
                .entry(user_key(&p.account_id, &p.user_name))
                .or_default()
                .insert(p.policy_name.clone(), p.document.clone());
        }
        for record in &snapshot.users {
            let key = user_key(&record.account_id, &record.user_name);
            let user_policies = policies.remove(&key).unwrap_or_default();
            let compiled = compile_all(&user_policies).map_err(|e| {
                Error::Corrupt(format!(
                    "a policy of user {} does not parse: {e}",
                    record.user_name
                ))
            })?;
            state.users.insert(
                key,
                Arc::new(UserEntry {
                    record: record.clone(),
                    policies: user_policies,
                    compiled,
                }),
            );
        }
        let owners: HashMap<&str, &AccessKeyUserRecord> = snapshot
            .access_key_users
            .iter()
            .map(|o| (o.access_key_id.as_str(), o))
            .collect();
        for record in &snapshot.access_keys {
            let user_name = owners
                .get(record.access_key_id.as_str())
                .map(|o| o.user_name.clone());
            state.access_keys.insert(
                record.access_key_id.clone(),
                KeyEntry {
                    record: record.clone(),
                    user_name,
                },
            );
        }
        roles::load_roles(snapshot, &mut state)?;
        for record in &snapshot.service_credentials {
            state
                .services
                .insert(record.access_key_id.clone(), record.service.clone());
        }
        for device in &snapshot.mfa_devices {
            state
                .mfa_devices
                .insert(device.serial_number.clone(), device.clone());
        }
        let mfa_steps_used = mfa::steps_used_at_start(&state.mfa_devices, clock.as_ref());
        Ok(Self {
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            store,
            root_key,
            clock,
            generation: std::sync::atomic::AtomicU64::new(0),
            mfa_steps_used: std::sync::Mutex::new(mfa_steps_used),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Writers replace whole entries, so a poisoned lock still holds consistent state.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut guard);
        // After the change: a reader that saw the old generation may have read either state,
        // and whatever it derived is dropped once it sees the new one.
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        result
    }

    /// A counter that grows after every change to users, roles, their policies, access keys
    /// and MFA devices. The KMS service drops its cached authorization decisions when it moves.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the IAM principal `arn` exists, for the check CreateKey and PutKeyPolicy make
    /// on the principals a key policy names: a user or role of that name (and path), or a
    /// session of an existing role. An account's root user always exists: accounts are not
    /// resolved (AWS keeps account principals as written, and `--dev` makes any 12-digit
    /// account usable). Federated users are not IAM entities and are accepted.
    pub fn principal_exists(&self, arn: &str) -> bool {
        let Some((service, rest)) = arn
            .strip_prefix("arn:aws:")
            .and_then(|r| r.split_once("::"))
        else {
            return false;
        };
        let Some((account, resource)) = rest.split_once(':') else {
            return false;
        };
        let Ok(account) = account.parse::<AccountId>() else {
            return false;
        };
        let state = self.read();
        let (name_with_path, is_role) = match (service, resource) {
            ("iam", "root") => return true,
            ("sts", r) if r.starts_with("federated-user/") => return true,
            ("sts", r) => match r
                .strip_prefix("assumed-role/")
                .and_then(|s| s.split_once('/'))
            {
                Some((role, _session)) => {
                    return state.roles.contains_key(&user_key(&account, role));
                }
                None => return false,
            },
            ("iam", r) => match (r.strip_prefix("user/"), r.strip_prefix("role/")) {
                (Some(user), _) => (user, false),
                (None, Some(role)) => (role, true),
                (None, None) => return false,
            },
            _ => return false,
        };
        let name = name_with_path.rsplit('/').next().unwrap_or(name_with_path);
        if is_role {
            state
                .roles
                .get(&user_key(&account, name))
                .is_some_and(|r| r.arn() == arn)
        } else {
            state
                .users
                .get(&user_key(&account, name))
                .is_some_and(|u| u.arn() == arn)
        }
    }

    /// The service principal an access key acts as (`keystead service-credentials create`);
    /// `None` for every other key.
    pub fn access_key_service(&self, access_key_id: &str) -> Option<String> {
        self.read().services.get(access_key_id).cloned()
    }

    /// The user an access key belongs to, as a caller signing with it is known; `None` for a
    /// root key or an unknown key.
    pub fn access_key_user(&self, access_key_id: &str) -> Option<CallerUser> {
        let state = self.read();
        let entry = state.access_keys.get(access_key_id)?;
        let name = entry.user_name.as_ref()?;
        state
            .users
            .get(&user_key(&entry.record.account_id, name))
            .map(|u| u.caller_user())
    }

    /// The compiled inline policies of a user (empty if it has none or does not exist).
    pub fn user_policies(&self, account: &AccountId, user_name: &str) -> Arc<[Policy]> {
        self.read()
            .users
            .get(&user_key(account, user_name))
            .map(|u| u.compiled.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Decides an IAM call: the root user may do anything; a user or role session only what
    /// its inline policies (the user's or the role's) allow (and do not deny).
    pub fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), Error> {
        if let Some(service) = &caller.service {
            // A service principal is no IAM identity of the account it acts in.
            return Err(Error::AccessDenied(format!(
                "User: {service} is not authorized to perform: {action} on resource: {resource}"
            )));
        }
        if caller.is_root() {
            return Ok(());
        }
        let principal = Self::principal(caller)?;
        // Within one account IAM behaves like a resource policy that delegates to the account:
        // the identity policies alone decide.
        let delegation = Policy::parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"*","Resource":"*"}}]}}"#,
                caller.account_id
            ),
            &Limits::KEY_POLICY,
        )
        .map_err(|e| Error::Corrupt(e.to_string()))?;
        let policies = self.caller_policies(caller);
        let ctx = keystead_authz::RequestContext::new(
            principal,
            action,
            resource,
            caller.account_id.clone(),
        )
        .with_current_time(self.clock.now())
        .with_value("aws:RequestedRegion", caller.region.as_str());
        let decision = keystead_authz::evaluate_kms(&delegation, &policies, &[], &ctx);
        if decision.is_allow() {
            Ok(())
        } else {
            Err(Error::AccessDenied(
                decision.access_denied_message(&ctx).unwrap_or_else(|| {
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {resource}",
                        caller.principal_arn()
                    )
                }),
            ))
        }
    }

    fn user(&self, account: &AccountId, user_name: &str) -> Result<Arc<UserEntry>, Error> {
        self.read()
            .users
            .get(&user_key(account, user_name))
            .cloned()
            .ok_or_else(|| no_such_user(user_name))
    }

    /// The user a request is about: `user_name`, or the calling user when it names nobody.
    /// `None` means the root user.
    fn target(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<Option<Arc<UserEntry>>, Error> {
        if user_name.is_none() && caller.role_session.is_some() {
            return Err(Error::Validation(
                "Must specify userName when calling with non-User credentials".to_owned(),
            ));
        }
        match (user_name, &caller.user) {
            (Some(name), _) => self.user(&caller.account_id, name).map(Some),
            (None, Some(me)) => self.user(&caller.account_id, &me.user_name).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// CreateUser.
    pub async fn create_user(
        &self,
        caller: &Caller,
        user_name: &str,
        path: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<User, Error> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_user_name(user_name)?;
        self.authorize(
            caller,
            "iam:CreateUser",
            &user_arn(&caller.account_id, path, user_name),
        )?;
        let _writer = self.writer.lock().await;
        let key = user_key(&caller.account_id, user_name);
        if self.read().users.contains_key(&key) {
            return Err(Error::EntityAlreadyExists(format!(
                "User with name {user_name} already exists."
            )));
        }
        let record = UserRecord {
            account_id: caller.account_id.clone(),
            user_name: user_name.to_owned(),
            user_id: random_id("AIDA")?,
            path: path.to_owned(),
            tags,
            created_at: self.clock.now(),
        };
        self.store.create_user(&record).await?;
        let entry = Arc::new(UserEntry {
            record,
            policies: BTreeMap::new(),
            compiled: Arc::from(Vec::new()),
        });
        let user = public(&entry);
        self.write_state(|s| s.users.insert(key, entry));
        Ok(user)
    }

    /// GetUser: `user_name`, or the caller (the root user for a root caller).
    pub fn get_user(&self, caller: &Caller, user_name: Option<&str>) -> Result<Identity, Error> {
        match self.target(caller, user_name)? {
            Some(entry) => {
                self.authorize(caller, "iam:GetUser", &entry.arn())?;
                Ok(Identity::User(public(&entry)))
            }
            None => Ok(Identity::Root {
                arn: caller.principal_arn(),
                user_id: caller.account_id.to_string(),
            }),
        }
    }

    /// ListUsers, ordered by name (case-insensitively), `max_items` (default 100) per page.
    pub fn list_users(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Page<User>, Error> {
        self.authorize(
            caller,
            "iam:ListUsers",
            &format!("arn:aws:iam::{}:user/", caller.account_id),
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let state = self.read();
        let users = state
            .users
            .range(user_key(&caller.account_id, marker.unwrap_or(""))..)
            .take_while(|((account, _), _)| *account == caller.account_id)
            .filter(|(_, u)| u.record.path.starts_with(prefix))
            .map(|((_, name), u)| (name.clone(), public(u)));
        Ok(page(users, max_items))
    }

    /// DeleteUser: refused while the user has access keys or inline policies, as AWS.
    pub async fn delete_user(&self, caller: &Caller, user_name: &str) -> Result<(), Error> {
        let entry = self.user(&caller.account_id, user_name)?;
        self.authorize(caller, "iam:DeleteUser", &entry.arn())?;
        let _writer = self.writer.lock().await;
        let entry = self.user(&caller.account_id, user_name)?;
        let has_keys = self
            .read()
            .access_keys
            .values()
            .any(|k| owned_by(k, &entry.record));
        let has_mfa = self.has_enabled_mfa(&caller.account_id, Some(&entry.record.user_name));
        if has_keys || has_mfa || !entry.policies.is_empty() {
            return Err(Error::DeleteConflict(
                "Cannot delete entity, must delete access keys, MFA devices and policies first."
                    .to_owned(),
            ));
        }
        self.store
            .delete_user(&caller.account_id, &entry.record.user_name)
            .await?;
        self.write_state(|s| {
            s.users
                .remove(&user_key(&caller.account_id, &entry.record.user_name))
        });
        Ok(())
    }

    /// CreateAccessKey for `user_name`, or for the caller. At most
    /// [`MAX_ACCESS_KEYS_PER_USER`] per user.
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<CreatedAccessKey, Error> {
        let target = self.target(caller, user_name)?;
        let resource = target
            .as_ref()
            .map_or_else(|| caller.principal_arn(), |u| u.arn());
        self.authorize(caller, "iam:CreateAccessKey", &resource)?;
        let _writer = self.writer.lock().await;
        let target = self.target(caller, target.as_ref().map(|u| u.record.user_name.as_str()))?;
        let existing = self
            .read()
            .access_keys
            .values()
            .filter(|k| match &target {
                Some(u) => owned_by(k, &u.record),
                None => k.user_name.is_none() && k.record.account_id == caller.account_id,
            })
            .count();
        if existing >= MAX_ACCESS_KEYS_PER_USER && target.is_some() {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
            )));
        }
        let (access_key_id, secret) = new_access_key()?;
        let record = AccessKeyRecord {
            access_key_id: access_key_id.clone(),
            account_id: caller.account_id.clone(),
            sealed_secret: self
                .root_key
                .seal_secret(secret.as_bytes(), access_key_id.as_bytes())?,
            status: AccessKeyStatus::Active,
            created_at: self.clock.now(),
        };
        match &target {
            Some(u) => {
                self.store
                    .create_user_access_key(
                        &record,
                        &AccessKeyUserRecord {
                            access_key_id: access_key_id.clone(),
                            account_id: caller.account_id.clone(),
                            user_name: u.record.user_name.clone(),
                        },
                    )
                    .await?
            }
            None => match self.store.put_access_key(&record).await {
                // Only under --dev can a root user act for an account that was never created
                // (any 12-digit access key id names one): create it now, with this key.
                Err(keystead_store::Error::NotFound { .. }) => {
                    self.store
                        .create_account(
                            &AccountRecord {
                                account_id: caller.account_id.clone(),
                                created_at: record.created_at,
                            },
                            std::slice::from_ref(&record),
                        )
                        .await?
                }
                other => other?,
            },
        }
        self.write_state(|s| {
            s.access_keys.insert(
                access_key_id,
                KeyEntry {
                    record: record.clone(),
                    user_name: target.as_ref().map(|u| u.record.user_name.clone()),
                },
            )
        });
        Ok(CreatedAccessKey {
            record,
            user: target.map(|u| u.caller_user()),
            secret_access_key: secret,
        })
    }

    /// ListAccessKeys of `user_name`, or of the caller.
    pub fn list_access_keys(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Page<AccessKeyInfo>, Error> {
        let target = self.target(caller, user_name)?;
        let resource = target
            .as_ref()
            .map_or_else(|| caller.principal_arn(), |u| u.arn());
        self.authorize(caller, "iam:ListAccessKeys", &resource)?;
        let state = self.read();
        let keys = state
            .access_keys
            .range(marker.unwrap_or("").to_owned()..)
            .filter(|(_, k)| match &target {
                Some(u) => owned_by(k, &u.record),
                None => k.user_name.is_none() && k.record.account_id == caller.account_id,
            })
            .map(|(id, k)| (id.clone(), info(k)));
        Ok(page(keys, max_items))
    }

    /// UpdateAccessKey: sets a key's status. Returns the updated record.
    pub async fn update_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<AccessKeyRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.owned_key(caller, user_name, access_key_id, "iam:UpdateAccessKey")?;
        let mut record = entry.record.clone();
        record.status = status;
        self.store.put_access_key(&record).await?;
        self.write_state(|s| {
            s.access_keys.insert(
                access_key_id.to_owned(),
                KeyEntry {
                    record: record.clone(),
                    user_name: entry.user_name.clone(),
                },
            )
        });
        Ok(record)
    }

    /// DeleteAccessKey.
    pub async fn delete_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        access_key_id: &str,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        self.owned_key(caller, user_name, access_key_id, "iam:DeleteAccessKey")?;
        self.store.delete_access_key(access_key_id).await?;
        self.write_state(|s| s.access_keys.remove(access_key_id));
        Ok(())
    }

    /// The access key `access_key_id` of `user_name` (or of the caller), after authorizing
    /// `action` on its owner.
    fn owned_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        access_key_id: &str,
        action: &str,
    ) -> Result<KeyEntry, Error> {
        let target = self.target(caller, user_name)?;
        let resource = target
            .as_ref()
            .map_or_else(|| caller.principal_arn(), |u| u.arn());
        self.authorize(caller, action, &resource)?;
        let not_found = || {
            Error::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            ))
        };
        let entry = self
            .read()
            .access_keys
            .get(access_key_id)
            .cloned()
            .ok_or_else(not_found)?;
        let matches = match &target {
            Some(u) => owned_by(&entry, &u.record),
            None => entry.user_name.is_none() && entry.record.account_id == caller.account_id,
        };
        if matches { Ok(entry) } else { Err(not_found()) }
    }

    /// PutUserPolicy: adds or replaces an inline policy, after checking its grammar and size.
    pub async fn put_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), Error> {
        let entry = self.user(&caller.account_id, user_name)?;
        self.authorize(caller, "iam:PutUserPolicy", &entry.arn())?;
        let _compiled = Policy::parse(document, &Limits::USER_INLINE).map_err(policy_error)?;
        let _writer = self.writer.lock().await;
        let entry = self.user(&caller.account_id, user_name)?;
        let mut policies = entry.policies.clone();
        policies.insert(policy_name.to_owned(), document.to_owned());
        let compiled = compile_all(&policies).map_err(policy_error)?;
        self.store
            .put_user_policy(&UserPolicyRecord {
                account_id: caller.account_id.clone(),
                user_name: entry.record.user_name.clone(),
                policy_name: policy_name.to_owned(),
                document: document.to_owned(),
            })
            .await?;
        self.publish_policies(&entry, policies, compiled);
        Ok(())
    }

    /// GetUserPolicy: the document as it was put.
    pub fn get_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
    ) -> Result<String, Error> {
        let entry = self.user(&caller.account_id, user_name)?;
        self.authorize(caller, "iam:GetUserPolicy", &entry.arn())?;
        entry
            .policies
            .get(policy_name)
            .cloned()
            .ok_or_else(|| no_such_policy(user_name, policy_name))
    }

    /// ListUserPolicies: the names of a user's inline policies.
    pub fn list_user_policies(
        &self,
        caller: &Caller,
        user_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Page<String>, Error> {
        let entry = self.user(&caller.account_id, user_name)?;
        self.authorize(caller, "iam:ListUserPolicies", &entry.arn())?;
        let names = entry
            .policies
            .range(marker.unwrap_or("").to_owned()..)
            .map(|(name, _)| (name.clone(), name.clone()));
        Ok(page(names, max_items))
    }

    /// DeleteUserPolicy.
    pub async fn delete_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        let entry = self.user(&caller.account_id, user_name)?;
        self.authorize(caller, "iam:DeleteUserPolicy", &entry.arn())?;
        let _writer = self.writer.lock().await;
        let entry = self.user(&caller.account_id, user_name)?;
        let mut policies = entry.policies.clone();
        if policies.remove(policy_name).is_none() {
            return Err(no_such_policy(user_name, policy_name));
        }
        let compiled = compile_all(&policies).map_err(policy_error)?;
        self.store
            .delete_user_policy(&caller.account_id, &entry.record.user_name, policy_name)
            .await?;
        self.publish_policies(&entry, policies, compiled);
        Ok(())
    }

    fn publish_policies(
        &self,
        entry: &UserEntry,
        policies: BTreeMap<String, String>,
        compiled: Arc<[Policy]>,
    ) {
        let updated = Arc::new(UserEntry {
            record: entry.record.clone(),
            policies,
            compiled,
        });
        self.write_state(|s| {
            s.users.insert(
                user_key(&entry.record.account_id, &entry.record.user_name),
                updated,
            )
        });
    }
}

fn user_key(account: &AccountId, user_name: &str) -> UserKey {
    (account.clone(), user_name.to_lowercase())
}

fn owned_by(key: &KeyEntry, user: &UserRecord) -> bool {
    key.record.account_id == user.account_id
        && key
            .user_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&user.user_name))
}

fn public(entry: &UserEntry) -> User {
    User {
        record: entry.record.clone(),
        arn: entry.arn(),
    }
}

fn info(k: &KeyEntry) -> AccessKeyInfo {
    AccessKeyInfo {
        access_key_id: k.record.access_key_id.clone(),
        user_name: k.user_name.clone(),
        status: k.record.status,
        created_at: k.record.created_at,
    }
}

/// At most `max_items` (1 to 1000, default 100) of `items`, each with its marker; the marker of
/// the first item left out is the next page's.
fn page<T>(items: impl Iterator<Item = (String, T)>, max_items: Option<i32>) -> Page<T> {
    let limit = usize::try_from(max_items.unwrap_or(100).clamp(1, 1000)).unwrap_or(100);
    let mut out = Vec::new();
    let mut next_marker = None;
    for (marker, item) in items {
        if out.len() == limit {
            next_marker = Some(marker);
            break;
        }
        out.push(item);
    }
    Page {
        items: out,
        next_marker,
    }
}

fn compile_all(
    policies: &BTreeMap<String, String>,
) -> Result<Arc<[Policy]>, keystead_authz::Error> {
    policies
        .values()
        .map(|d| Policy::parse(d, &Limits::USER_INLINE))
        .collect::<Result<Vec<_>, _>>()
        .map(Arc::from)
}

fn policy_error(e: keystead_authz::Error) -> Error {
    match e {
        keystead_authz::Error::TooLarge { .. } => Error::LimitExceeded(e.to_string()),
        other => Error::MalformedPolicyDocument(other.to_string()),
    }
}

fn no_such_user(user_name: &str) -> Error {
    Error::NoSuchEntity(format!("The user with name {user_name} cannot be found."))
}

fn no_such_policy(user_name: &str, policy_name: &str) -> Error {
    Error::NoSuchEntity(format!(
        "The user policy with name {policy_name} cannot be found for user {user_name}."
    ))
}

fn check_path(path: &str) -> Result<(), Error> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.chars().all(|c| ('\u{21}'..='\u{7E}').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain \
             only alphanumeric characters and/or / characters: {path}"
        )))
    }
}

fn check_user_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: Value '{name}' at 'userName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `prefix` and 16 random base-32 characters, as AWS's unique ids.
fn random_id(prefix: &str) -> Result<String, keystead_crypto::Error> {
    let bytes = keystead_crypto::random_array::<16>()?;
    let mut id = prefix.to_owned();
    id.extend(
        bytes
            .iter()
            .map(|b| char::from(ID_ALPHABET[usize::from(b % 32)])),
    );
    Ok(id)
}

/// A new access key, shaped like AWS's (`AKIA` and 16 characters; a 40-character secret).
/// Used for every access key: account root keys (`keystead init`, `account create`) and IAM users.
pub fn new_access_key() -> Result<(String, Zeroizing<String>), keystead_crypto::Error> {
    const SECRET_ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let id = random_id("AKIA")?;
    let secret_bytes = keystead_crypto::random_array::<40>()?;
    let secret: Zeroizing<String> = Zeroizing::new(
        secret_bytes
            .iter()
            .map(|b| char::from(SECRET_ALPHABET[usize::from(b % 64)]))
            .collect(),
    );
    Ok((id, secret))
}

#[cfg(test)]
mod tests;
