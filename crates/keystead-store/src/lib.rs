//! keystead's storage interface: the [`Store`] trait, the records it persists, their on-disk
//! shape and versioning ([`persist`]), the schema migration ids ([`migrations`]) and, with the
//! `conformance` feature, the suite every backend must pass.
//!
//! keystead loads all state into memory at start ([`Store::load`]) and serves requests from
//! memory; the store is the durable write-through log of changes. Every write returns only after
//! the change is committed and flushed to stable storage, so an acknowledged request survives a
//! crash or power loss. Each write is atomic: it happens entirely or not at all.
//!
//! This crate must not depend on a database: backends (`keystead-store-sqlite`, later
//! PostgreSQL) depend on it. It never sees plaintext key material or secrets, only bytes sealed
//! under the root key.

mod error;
pub mod migrations;
pub mod persist;
mod records;
pub mod secrets;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use keystead_types::{AccountId, KeyId, Region, UnixMillis};

pub use error::{Error, what};
pub use records::{
    AccessKeyRecord, AccessKeyStatus, AccessKeyUserRecord, AccountRecord, AliasRecord,
    GrantConstraint, GrantRecord, KeyRecord, KeyVersionRecord, MfaDeviceRecord, MfaEnablement,
    RolePolicyRecord, RoleRecord, RotationSchedule, RotationType, ServiceCredentialRecord,
    SessionPrincipal, SessionRecord, Snapshot, Tag, UserPolicyRecord, UserRecord,
};
pub use secrets::{
    ReplicaRecord, ReplicaStatus, RotationJobRecord, SecretChange, SecretRecord, SecretRotation,
    SecretVersionRecord, SecretsSnapshot,
};

/// A durable store of keystead's state, used as `Arc<dyn Store>`.
///
/// Every write method returns `Ok` only after its change is committed and durable, and either
/// applies all of its change or none of it. Writes may run concurrently; each is serialized
/// against the others by the backend. If the future of a write is dropped before it completes,
/// the write may or may not have been applied.
///
/// Writes that name several records check that they agree (a key version's `key_id` is the
/// key's, an access key's `account_id` is the account's) and return [`Error::Invalid`] if not.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Everything the store holds, each list in the order documented on [`Snapshot`].
    async fn load(&self) -> Result<Snapshot, Error>;

    /// Creates an account with its first access keys, atomically.
    ///
    /// [`Error::Conflict`] if the account or any of the access key ids exists already.
    async fn create_account(
        &self,
        account: &AccountRecord,
        access_keys: &[AccessKeyRecord],
    ) -> Result<(), Error>;

    /// Inserts an access key, or replaces the one with the same `access_key_id`.
    ///
    /// [`Error::NotFound`] if its account does not exist.
    async fn put_access_key(&self, key: &AccessKeyRecord) -> Result<(), Error>;

    /// Creates a key with its first version, atomically.
    ///
    /// [`Error::Conflict`] if the key id exists. The key's account need not have an account
    /// record (`--dev` mode serves accounts that were never created).
    async fn create_key(
        &self,
        key: &KeyRecord,
        first_version: &KeyVersionRecord,
    ) -> Result<(), Error>;

    /// Replaces a key's record.
    ///
    /// [`Error::NotFound`] if the key does not exist.
    async fn update_key(&self, key: &KeyRecord) -> Result<(), Error>;

    /// Replaces a key's record and adds a version to it, atomically (rotation).
    ///
    /// [`Error::NotFound`] if the key does not exist; [`Error::Conflict`] if the version exists,
    /// in which case the key record is not updated either.
    async fn add_key_version(
        &self,
        key: &KeyRecord,
        version: &KeyVersionRecord,
    ) -> Result<(), Error>;

    /// Deletes a key, all its versions, its grants and every alias that targets it, atomically.
    ///
    /// [`Error::NotFound`] if the key does not exist.
    async fn delete_key(&self, key_id: &KeyId) -> Result<(), Error>;

    /// Creates an alias.
    ///
    /// [`Error::Conflict`] if an alias with the same account, region and name exists;
    /// [`Error::NotFound`] (of a key) if the target key does not exist.
    async fn create_alias(&self, alias: &AliasRecord) -> Result<(), Error>;

    /// Replaces the alias with the same account, region and name (`UpdateAlias`).
    ///
    /// [`Error::NotFound`] if the alias does not exist, or (of a key) if the new target key does
    /// not exist.
    async fn update_alias(&self, alias: &AliasRecord) -> Result<(), Error>;

    /// Deletes an alias.
    ///
    /// [`Error::NotFound`] if it does not exist.
    async fn delete_alias(
        &self,
        account: &AccountId,
        region: &Region,
        alias_name: &str,
    ) -> Result<(), Error>;

    /// Creates a grant.
    ///
    /// [`Error::Conflict`] if a grant with the same id exists; [`Error::NotFound`] (of a key)
    /// if its key does not exist.
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), Error>;

    /// Deletes a grant of a key (RetireGrant, RevokeGrant).
    ///
    /// [`Error::NotFound`] if the key has no grant with this id.
    async fn delete_grant(&self, key_id: &KeyId, grant_id: &str) -> Result<(), Error>;

    /// Creates an access key of an IAM user, atomically with its owner.
    ///
    /// [`Error::NotFound`] (of a user) if the user does not exist; [`Error::Conflict`] if the
    /// access key id exists.
    async fn create_user_access_key(
        &self,
        key: &AccessKeyRecord,
        owner: &AccessKeyUserRecord,
    ) -> Result<(), Error>;

    /// Creates an access key that acts as a service principal, atomically with its service
    /// record, creating the key's account row if it has none. [`Error::Invalid`] if the two
    /// records disagree; [`Error::Conflict`] if the access key id exists. Deleting the access
    /// key deletes its service record.
    async fn create_service_access_key(
        &self,
        key: &AccessKeyRecord,
        service: &ServiceCredentialRecord,
    ) -> Result<(), Error>;

    /// Deletes an access key (and its owner, if it belongs to a user).
    ///
    /// [`Error::NotFound`] if it does not exist.
    async fn delete_access_key(&self, access_key_id: &str) -> Result<(), Error>;

    /// Creates an IAM user.
    ///
    /// [`Error::Conflict`] if the account has a user with this name.
    async fn create_user(&self, user: &UserRecord) -> Result<(), Error>;

    /// Deletes an IAM user. Its access keys and policies must have been deleted first.
    ///
    /// [`Error::NotFound`] if it does not exist; [`Error::Conflict`] if it still has access keys
    /// or inline policies.
    async fn delete_user(&self, account: &AccountId, user_name: &str) -> Result<(), Error>;

    /// Inserts an inline user policy, or replaces the one with the same name.
    ///
    /// [`Error::NotFound`] (of a user) if the user does not exist.
    async fn put_user_policy(&self, policy: &UserPolicyRecord) -> Result<(), Error>;

    /// Deletes an inline user policy.
    ///
    /// [`Error::NotFound`] if it does not exist.
    async fn delete_user_policy(
        &self,
        account: &AccountId,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(), Error>;

    /// Creates an IAM role.
    ///
    /// [`Error::Conflict`] if the account has a role with this name.
    async fn create_role(&self, role: &RoleRecord) -> Result<(), Error>;

    /// Replaces an IAM role's record (its trust policy, say).
    ///
    /// [`Error::NotFound`] if it does not exist.
    async fn update_role(&self, role: &RoleRecord) -> Result<(), Error>;

    /// Deletes an IAM role. Its inline policies must have been deleted first.
    ///
    /// [`Error::NotFound`] if it does not exist; [`Error::Conflict`] if it still has inline
    /// policies.
    async fn delete_role(&self, account: &AccountId, role_name: &str) -> Result<(), Error>;

    /// Inserts an inline role policy, or replaces the one with the same name.
    ///
    /// [`Error::NotFound`] (of a role) if the role does not exist.
    async fn put_role_policy(&self, policy: &RolePolicyRecord) -> Result<(), Error>;

    /// Deletes an inline role policy.
    ///
    /// [`Error::NotFound`] if it does not exist.
    async fn delete_role_policy(
        &self,
        account: &AccountId,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(), Error>;

    /// Stores a new STS session.
    ///
    /// [`Error::Conflict`] if a session with this access key id exists.
    async fn create_session(&self, session: &SessionRecord) -> Result<(), Error>;

    /// Deletes every session whose expiration is at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: UnixMillis) -> Result<u64, Error>;

    /// Stores a virtual MFA device, or replaces the one with its serial number.
    async fn put_mfa_device(&self, device: &MfaDeviceRecord) -> Result<(), Error>;

    /// Deletes a virtual MFA device.
    ///
    /// [`Error::NotFound`] if there is none with this serial number.
    async fn delete_mfa_device(&self, serial_number: &str) -> Result<(), Error>;

    /// Every secret and secret version (Secrets Manager), loaded at start next to
    /// [`Store::load`].
    async fn load_secrets(&self) -> Result<SecretsSnapshot, Error>;

    /// Applies every change of `changes`, in order, atomically: all or none.
    ///
    /// [`Error::Invalid`] if a version added belongs to another secret; [`Error::Conflict`] if a
    /// version added exists; [`Error::NotFound`] if a version removed or a secret deleted does
    /// not exist.
    async fn apply_secret_changes(&self, changes: &[SecretChange]) -> Result<(), Error>;

    /// A small deployment fact stored by name (the root key's fingerprint, say), or `None`.
    async fn metadata(&self, name: &str) -> Result<Option<String>, Error>;

    /// Sets a metadata entry, replacing any previous value.
    async fn set_metadata(&self, name: &str, value: &str) -> Result<(), Error>;
}

/// Checks that every record of a `create_account` belongs to the account; backends call this
/// before writing.
pub fn check_access_keys_belong(
    account: &AccountRecord,
    access_keys: &[AccessKeyRecord],
) -> Result<(), Error> {
    match access_keys
        .iter()
        .find(|k| k.account_id != account.account_id)
    {
        None => Ok(()),
        Some(k) => Err(Error::Invalid {
            what: what::ACCESS_KEY,
            detail: format!(
                "access key {} belongs to account {}, not {}",
                k.access_key_id, k.account_id, account.account_id
            ),
        }),
    }
}

/// Checks that a key version belongs to the key it is written with; backends call this before
/// writing.
pub fn check_version_belongs(key: &KeyRecord, version: &KeyVersionRecord) -> Result<(), Error> {
    if key.key_id == version.key_id {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: what::KEY_VERSION,
            detail: format!(
                "version {} belongs to key {}, not {}",
                version.version, version.key_id, key.key_id
            ),
        })
    }
}

/// The id used in errors about a key version: `KEY_ID/VERSION`.
pub fn key_version_id(key_id: &KeyId, version: u32) -> String {
    format!("{key_id}/{version}")
}

/// The id used in errors about a user or an inline user policy: `ACCOUNT/USER[/POLICY]`.
pub fn user_id_for_errors(account: &AccountId, user_name: &str, policy: Option<&str>) -> String {
    match policy {
        Some(p) => format!("{account}/{user_name}/{p}"),
        None => format!("{account}/{user_name}"),
    }
}

/// The id used in errors about an alias: its ARN.
pub fn alias_id(account: &AccountId, region: &Region, alias_name: &str) -> String {
    keystead_types::alias_arn(region, account, alias_name)
}
