//! The KMS service: keys, key versions, aliases, tags, key policies, grants and the key-state
//! machine.
//!
//! All state lives in memory and is served from there; the [`Store`] is the durable copy. Every
//! change is written to the store first and published in memory only once the store has
//! acknowledged it, so nothing a caller saw can be lost by a crash. Encrypt, Decrypt and
//! GenerateDataKey take one read lock and never touch the store.
//!
//! This crate knows nothing of HTTP or the wire format: the server translates requests into
//! calls on [`KeyService`] and maps [`Error`] to AWS's error codes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use keystead_crypto::{KeyMaterial, RootKey, WrappedKey};
use keystead_store::{AliasRecord, GrantRecord, KeyRecord, KeyVersionRecord, Snapshot, Store};
use keystead_types::{AccountId, Caller, Clock, KeyId, Region, key_arn};

mod authorization;
use authorization::Facts;
mod error;
mod key_state;
mod ops;
mod pagination;
pub mod policy;
mod reference;

pub use error::Error;
pub use ops::aliases::AliasPage;
pub use ops::crypto::{DataKey, Decrypted, Encrypted, ReEncrypted};
pub use ops::grants::{CreateGrantInput, CreatedGrant, GrantPage};
pub use ops::keys::{CreateKeyInput, KeyPage};
pub use ops::rotation::{RotationPage, RotationStatus};
pub use ops::tags::TagPage;

/// A key as the service holds it: its record and its unsealed versions.
#[derive(Clone)]
struct KeyEntry {
    record: KeyRecord,
    arn: String,
    /// `record.policy`, compiled for evaluation.
    policy: Arc<keystead_authz::Policy>,
    /// Version `n` is at index `n - 1`; the last one encrypts.
    versions: Vec<Arc<Version>>,
    /// The key's grants. Only the grant operations change them; [`KeyService::publish`] keeps
    /// them across every other change to the key.
    grants: Arc<Grants>,
    /// Unique to this published entry: decisions cached for it name it.
    stamp: u64,
}

/// A key's grants: the records, by grant id, and the same grants compiled for evaluation.
#[derive(Default)]
struct Grants {
    records: BTreeMap<String, GrantRecord>,
    compiled: Vec<keystead_authz::Grant>,
}

impl Grants {
    /// The grants with `record` added (or replaced).
    fn with(&self, record: GrantRecord, compiled: keystead_authz::Grant) -> Grants {
        let mut records = self.records.clone();
        let mut all: Vec<keystead_authz::Grant> = self
            .compiled
            .iter()
            .filter(|g| g.grant_id() != record.grant_id)
            .cloned()
            .collect();
        all.push(compiled);
        records.insert(record.grant_id.clone(), record);
        Grants {
            records,
            compiled: all,
        }
    }

    /// The grants without `grant_id`.
    fn without(&self, grant_id: &str) -> Grants {
        let mut records = self.records.clone();
        records.remove(grant_id);
        Grants {
            records,
            compiled: self
                .compiled
                .iter()
                .filter(|g| g.grant_id() != grant_id)
                .cloned()
                .collect(),
        }
    }
}

/// One version of a key's material, with when and why it was made.
struct Version {
    material: KeyMaterial,
    created_at: keystead_types::UnixMillis,
    /// None for the first version.
    rotation_type: Option<keystead_store::RotationType>,
}

impl KeyEntry {
    fn new(
        record: KeyRecord,
        versions: Vec<Arc<Version>>,
        policy: Arc<keystead_authz::Policy>,
    ) -> Self {
        let arn = key_arn(&record.region, &record.account_id, &record.key_id);
        Self {
            record,
            arn,
            policy,
            versions,
            grants: Arc::default(),
            stamp: 0,
        }
    }

    fn current_version(&self) -> (u32, &KeyMaterial) {
        let n = self.versions.len();
        // A key always has at least its first version: create_key writes it atomically with
        // the key and load() refuses a key without one.
        let version = self
            .versions
            .last()
            .expect("a key has at least one version");
        (n as u32, &version.material)
    }

    fn version(&self, version: u32) -> Option<&KeyMaterial> {
        let index = usize::try_from(version).ok()?.checked_sub(1)?;
        self.versions.get(index).map(|v| &v.material)
    }
}

type AliasKey = (AccountId, Region, String);

#[derive(Default)]
struct State {
    keys: BTreeMap<KeyId, Arc<KeyEntry>>,
    aliases: BTreeMap<AliasKey, AliasRecord>,
}

/// Where the service finds the identity-based policies of the IAM user a request was signed by.
/// The server implements it over its in-memory IAM state; lookups must be cheap (they happen on
/// every request of a user).
pub trait IdentityPolicies: Send + Sync {
    /// Every identity-based policy of `user_name` in `account` (empty if it has none).
    fn user_policies(&self, account: &AccountId, user_name: &str) -> Arc<[keystead_authz::Policy]>;

    /// Every identity-based policy of the role `role_name` in `account`, which apply to each of
    /// its sessions (empty if it has none or no longer exists).
    fn role_policies(&self, account: &AccountId, role_name: &str) -> Arc<[keystead_authz::Policy]>;

    /// Whether the IAM principal `arn` exists: an account's root (`arn:aws:iam::ACCOUNT:root`),
    /// a user or a role (`arn:aws:iam::ACCOUNT:user/...`, `...:role/...`), or an assumed-role
    /// session of an existing role. CreateKey and PutKeyPolicy refuse policies naming a
    /// principal that does not exist, as AWS does.
    fn principal_exists(&self, arn: &str) -> bool;

    /// A counter that grows on every change to identities, their policies and their access
    /// keys: cached authorization decisions are dropped when it moves.
    fn generation(&self) -> u64;
}

/// Proof that a caller may perform an action on a key. Only [`KeyService::authorize`] makes
/// one; operations require it before touching the key.
struct Permit(());

/// The KMS service for every account and region of one deployment.
pub struct KeyService {
    state: RwLock<State>,
    /// Serialises changes so that "persist, then publish" is atomic with respect to other
    /// changes. Readers never take it.
    writer: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    root_key: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    /// The identity policies of IAM users; without it, users have no identity policies.
    identity: Option<Arc<dyn IdentityPolicies>>,
    /// Grows on every change to `state`; see [`authorization`].
    generation: AtomicU64,
    /// Authorization decisions of the current generation.
    cache: authorization::DecisionCache,
}

impl KeyService {
    /// Evaluates IAM users' requests with the identity-based policies `identity` returns.
    pub fn with_identity_policies(mut self, identity: Arc<dyn IdentityPolicies>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Builds the service from `snapshot` (what `store` loaded at start), unsealing every key
    /// version with `root_key`. Later changes are written to `store`.
    pub fn open(
        snapshot: Snapshot,
        store: Arc<dyn Store>,
        root_key: Arc<RootKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let mut versions: BTreeMap<KeyId, Vec<KeyVersionRecord>> = BTreeMap::new();
        for v in snapshot.key_versions {
            versions.entry(v.key_id).or_default().push(v);
        }
        let mut grants: BTreeMap<KeyId, Grants> = BTreeMap::new();
        for record in snapshot.grants {
            let compiled = ops::grants::compile(&record).map_err(|e| {
                corrupt(format!(
                    "grant {} of key {} does not compile: {e}",
                    record.grant_id, record.key_id
                ))
            })?;
            let entry = grants.entry(record.key_id).or_default();
            entry.compiled.push(compiled);
            entry.records.insert(record.grant_id.clone(), record);
        }
        let mut state = State::default();
        for record in snapshot.keys {
            let mut records = versions.remove(&record.key_id).unwrap_or_default();
            records.sort_by_key(|v| v.version);
            let mut materials = Vec::with_capacity(records.len());
            for (i, v) in records.iter().enumerate() {
                if v.version as usize != i + 1 {
                    return Err(corrupt(format!(
                        "key {} has version {} where {} was expected",
                        record.key_id,
                        v.version,
                        i + 1
                    )));
                }
                let wrapped = WrappedKey::from_bytes(v.wrapped_material.clone());
                materials.push(Arc::new(Version {
                    material: root_key.unseal(&wrapped, &v.key_id, v.version)?,
                    created_at: v.created_at,
                    rotation_type: v.rotation_type,
                }));
            }
            if materials.is_empty() {
                return Err(corrupt(format!(
                    "key {} has no key material",
                    record.key_id
                )));
            }
            let compiled = policy::parse(&record.policy).map_err(|e| {
                corrupt(format!(
                    "key {} has a policy that does not parse: {e}",
                    record.key_id
                ))
            })?;
            let key_grants = grants.remove(&record.key_id).unwrap_or_default();
            let mut entry = KeyEntry::new(record, materials, Arc::new(compiled));
            entry.grants = Arc::new(key_grants);
            entry.stamp = state.keys.len() as u64 + 1;
            state.keys.insert(entry.record.key_id, Arc::new(entry));
        }
        for alias in snapshot.aliases {
            state.aliases.insert(
                (
                    alias.account_id.clone(),
                    alias.region.clone(),
                    alias.alias_name.clone(),
                ),
                alias,
            );
        }
        let state_len = state.keys.len() as u64;
        Ok(Self {
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            store,
            root_key,
            clock,
            identity: None,
            generation: AtomicU64::new(state_len + 2),
            cache: authorization::DecisionCache::default(),
        })
    }

    /// The ARN of a key the service holds, by its id; for audit records, which name keys
    /// whether or not the caller may see them. `None` for an unknown or malformed id.
    pub fn key_arn(&self, key_id: &str) -> Option<String> {
        let key_id: KeyId = key_id.parse().ok()?;
        self.read().keys.get(&key_id).map(|e| e.arn.clone())
    }

    /// How many keys exist, in every account and region.
    pub fn key_count(&self) -> usize {
        self.read().keys.len()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated: every writer
        // replaces whole entries. So a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut guard);
        // After the change, so that a decision computed from the old state is filed under the
        // old generation (see the authorization module).
        self.generation.fetch_add(1, Ordering::AcqRel);
        result
    }

    fn next_stamp(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::AcqRel)
    }

    /// Publishes a changed key. Its grants are the ones already published: only
    /// [`Self::publish_grants`] changes them. Callers hold the writer lock.
    fn publish(&self, mut entry: KeyEntry) {
        entry.stamp = self.next_stamp();
        self.write_state(|s| {
            if let Some(current) = s.keys.get(&entry.record.key_id) {
                entry.grants = current.grants.clone();
            }
            s.keys.insert(entry.record.key_id, Arc::new(entry))
        });
    }

    /// Publishes new grants for a key that exists. Callers hold the writer lock.
    fn publish_grants(&self, key_id: &KeyId, grants: Grants) {
        let stamp = self.next_stamp();
        self.write_state(|s| {
            if let Some(current) = s.keys.get(key_id) {
                let mut entry = KeyEntry::clone(current);
                entry.grants = Arc::new(grants);
                entry.stamp = stamp;
                s.keys.insert(*key_id, Arc::new(entry));
            }
        });
    }

    /// Applies `change` to the key named by `reference` (a key id or key ARN), persists the
    /// result and publishes it. Returns the new record.
    async fn update_key(
        &self,
        caller: &Caller,
        reference: &str,
        action: &'static str,
        change: impl FnOnce(&mut KeyRecord, &str) -> Result<(), Error>,
    ) -> Result<KeyRecord, Error> {
        self.update_key_with(caller, reference, action, Facts::default(), change)
            .await
    }

    /// [`Self::update_key`] for an operation whose parameters policies may test.
    async fn update_key_with(
        &self,
        caller: &Caller,
        reference: &str,
        action: &'static str,
        facts: Facts<'_>,
        change: impl FnOnce(&mut KeyRecord, &str) -> Result<(), Error>,
    ) -> Result<KeyRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, reference, reference::Aliases::Refused)?;
        let _permit = self.authorize_with(caller, &entry, action, facts)?;
        let mut record = entry.record.clone();
        change(&mut record, &entry.arn)?;
        let compiled = if record.policy == entry.record.policy {
            entry.policy.clone()
        } else {
            Arc::new(policy::parse(&record.policy)?)
        };
        self.store.update_key(&record).await?;
        self.publish(KeyEntry::new(
            record.clone(),
            entry.versions.clone(),
            compiled,
        ));
        Ok(record)
    }

    fn now(&self) -> keystead_types::UnixMillis {
        self.clock.now()
    }

    fn seal(&self, material: &KeyMaterial, key_id: &KeyId, version: u32) -> Result<Vec<u8>, Error> {
        Ok(self
            .root_key
            .seal(material, key_id, version)?
            .as_bytes()
            .to_vec())
    }
}

fn corrupt(detail: String) -> Error {
    Error::Internal(detail.into())
}

#[cfg(test)]
mod tests;
