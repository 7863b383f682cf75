//! The records a store persists, as the rest of keystead sees them.
//!
//! These types are the in-memory shape and may change freely: what is written to disk is the
//! frozen shape in [`crate::persist`], converted from and to these. Records never hold plaintext
//! key material or plaintext secrets, only bytes sealed under the root key; their `Debug` output
//! prints the length of sealed bytes, not the bytes.

use std::collections::BTreeMap;
use std::fmt;

use keystead_types::{AccountId, KeyId, KeyState, Region, UnixMillis};
use serde::{Deserialize, Serialize};

/// An account: the owner of access keys, keys and aliases.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccountRecord {
    /// The account's 12-digit id.
    pub account_id: AccountId,
    /// When the account was created.
    pub created_at: UnixMillis,
}

/// Whether an access key may sign requests.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum AccessKeyStatus {
    /// The key authenticates requests.
    Active,
    /// The key is kept but rejected.
    Inactive,
}

/// An access key id and its sealed secret access key.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessKeyRecord {
    /// The access key id, such as `AKIAIOSFODNN7EXAMPLE`; unique across the deployment.
    pub access_key_id: String,
    /// The account the key belongs to.
    pub account_id: AccountId,
    /// The secret access key sealed under the root key; never plaintext.
    pub sealed_secret: Vec<u8>,
    /// Whether the key may sign requests.
    pub status: AccessKeyStatus,
    /// When the key was created.
    pub created_at: UnixMillis,
}

impl fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("sealed_secret", &SealedLen(self.sealed_secret.len()))
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// An IAM user of an account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    /// The user's account.
    pub account_id: AccountId,
    /// The user name, unique in its account (compared case-sensitively here; the service
    /// checks AWS's case-insensitive uniqueness).
    pub user_name: String,
    /// The stable user id, `AIDA` and 16 characters.
    pub user_id: String,
    /// The user's path, `/` by default.
    pub path: String,
    /// The user's tags, in the order given.
    pub tags: Vec<Tag>,
    /// When the user was created.
    pub created_at: UnixMillis,
}

/// Which IAM user an access key belongs to. Access keys without one belong to their account's
/// root user. (Kept apart from [`AccessKeyRecord`] so that root keys are stored as before.)
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessKeyUserRecord {
    /// The access key id.
    pub access_key_id: String,
    /// The key's (and the user's) account.
    pub account_id: AccountId,
    /// The user the key belongs to.
    pub user_name: String,
}

/// Which service principal an access key acts as (`rds.amazonaws.com`): requests it signs are
/// the service's, not its account's. Made by `keystead service-credentials create`, so that
/// key policies' service statements can be exercised.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceCredentialRecord {
    /// The access key id.
    pub access_key_id: String,
    /// The account the key belongs to (whose requests the service makes).
    pub account_id: AccountId,
    /// The service principal's name, such as `rds.amazonaws.com`.
    pub service: String,
}

/// An IAM role of an account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RoleRecord {
    /// The role's account.
    pub account_id: AccountId,
    /// The role name, unique in its account (the service checks AWS's case-insensitive
    /// uniqueness).
    pub role_name: String,
    /// The stable role id, `AROA` and 16 characters.
    pub role_id: String,
    /// The role's path, `/` by default.
    pub path: String,
    /// The trust policy (who may assume the role), as given.
    pub assume_role_policy_document: String,
    /// The role's description, if any.
    pub description: Option<String>,
    /// The longest session the role allows, in seconds (3600 to 43200).
    pub max_session_duration: u32,
    /// The role's tags, in the order given.
    pub tags: Vec<Tag>,
    /// When the role was created.
    pub created_at: UnixMillis,
}

/// An inline policy embedded in an IAM role.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RolePolicyRecord {
    /// The role's account.
    pub account_id: AccountId,
    /// The role the policy is embedded in.
    pub role_name: String,
    /// The policy name, unique per role.
    pub policy_name: String,
    /// The policy document, as given.
    pub document: String,
}

/// A virtual MFA device: a TOTP seed, sealed under the root key, and whom it is enabled for.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct MfaDeviceRecord {
    /// `arn:aws:iam::ACCOUNT:mfa{path}{name}`; unique.
    pub serial_number: String,
    /// The account the device belongs to.
    pub account_id: AccountId,
    /// The device name.
    pub device_name: String,
    /// The device path.
    pub path: String,
    /// The 20-byte seed, sealed under the root key (associated data: the serial number).
    pub sealed_seed: Vec<u8>,
    /// When the device was created.
    pub created_at: UnixMillis,
    /// Whom the device is enabled for; `None` while it is not enabled.
    pub enabled: Option<MfaEnablement>,
}

/// The user a virtual MFA device is enabled for, and since when.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MfaEnablement {
    /// The IAM user's name; `None` for the account's root user.
    pub user_name: Option<String>,
    /// When it was enabled.
    pub enabled_at: UnixMillis,
}

impl fmt::Debug for MfaDeviceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaDeviceRecord")
            .field("serial_number", &self.serial_number)
            .field("account_id", &self.account_id)
            .field("device_name", &self.device_name)
            .field("path", &self.path)
            .field("sealed_seed", &SealedLen(self.sealed_seed.len()))
            .field("created_at", &self.created_at)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// Whom an STS session's temporary credentials act as.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum SessionPrincipal {
    /// The account's root user (`GetSessionToken` by root).
    Root,
    /// An IAM user (`GetSessionToken` by a user).
    User {
        /// The user name.
        user_name: String,
        /// The user's id, `AIDA...`.
        user_id: String,
        /// The user's path.
        path: String,
    },
    /// A session of a role (`AssumeRole`).
    Role {
        /// The role name.
        role_name: String,
        /// The role's id, `AROA...`.
        role_id: String,
        /// The role's path.
        role_path: String,
        /// The session name the caller chose.
        session_name: String,
    },
}

/// An STS session: temporary credentials (an `ASIA...` access key id, a secret and a session
/// token) that expire.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// The temporary access key id, `ASIA` and 16 characters.
    pub access_key_id: String,
    /// The account the session acts in.
    pub account_id: AccountId,
    /// The secret access key and the session token, sealed under the root key together.
    pub sealed_credentials: Vec<u8>,
    /// Whom the session acts as.
    pub principal: SessionPrincipal,
    /// When the session was created.
    pub created_at: UnixMillis,
    /// When the credentials stop working.
    pub expiration: UnixMillis,
    /// When the caller authenticated with an MFA code to get the session (`GetSessionToken`
    /// with `SerialNumber` and `TokenCode`); `None` for sessions without MFA.
    pub mfa_authenticated_at: Option<UnixMillis>,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field(
                "sealed_credentials",
                &SealedLen(self.sealed_credentials.len()),
            )
            .field("principal", &self.principal)
            .field("created_at", &self.created_at)
            .field("expiration", &self.expiration)
            .field("mfa_authenticated_at", &self.mfa_authenticated_at)
            .finish()
    }
}

/// An inline policy embedded in an IAM user.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserPolicyRecord {
    /// The user's account.
    pub account_id: AccountId,
    /// The user the policy is embedded in.
    pub user_name: String,
    /// The policy name, unique per user.
    pub policy_name: String,
    /// The policy document, as given.
    pub document: String,
}

/// An automatic rotation schedule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RotationSchedule {
    /// Days between rotations (AWS: 90 to 2560).
    pub period_in_days: u32,
    /// When the next automatic rotation is due.
    pub next_rotation: UnixMillis,
}

/// A key tag.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value.
    pub value: String,
}

/// A KMS key's metadata; its material lives in [`KeyVersionRecord`]s.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyRecord {
    /// The key's id, unique across the deployment.
    pub key_id: KeyId,
    /// The owning account.
    pub account_id: AccountId,
    /// The region the key lives in.
    pub region: Region,
    /// The key's description.
    pub description: String,
    /// Enabled, Disabled, PendingDeletion, ...
    pub key_state: KeyState,
    /// AWS `KeyUsage`, such as `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// AWS `KeySpec`, such as `SYMMETRIC_DEFAULT`.
    pub key_spec: String,
    /// AWS `Origin`, such as `AWS_KMS`.
    pub origin: String,
    /// When the key was created.
    pub creation_date: UnixMillis,
    /// When a key pending deletion will be deleted.
    pub deletion_date: Option<UnixMillis>,
    /// The pending-deletion window a deletion was scheduled with.
    pub pending_deletion_window_in_days: Option<u32>,
    /// The key policy document, as JSON text.
    pub policy: String,
    /// The key's tags, in the order they were set.
    pub tags: Vec<Tag>,
    /// The automatic rotation schedule, if rotation is enabled.
    pub rotation: Option<RotationSchedule>,
    /// Whether this is a multi-Region key.
    pub multi_region: bool,
}

/// How a key version came to be.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum RotationType {
    /// Created by the rotation schedule.
    Automatic,
    /// Created by `RotateKeyOnDemand`.
    OnDemand,
}

/// One version of a key's material, sealed under the root key.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyVersionRecord {
    /// The key the version belongs to.
    pub key_id: KeyId,
    /// The version number, unique per key.
    pub version: u32,
    /// The key material sealed under the root key; never plaintext.
    pub wrapped_material: Vec<u8>,
    /// When the version was created.
    pub created_at: UnixMillis,
    /// How the version was created; `None` for the key's first version.
    pub rotation_type: Option<RotationType>,
}

impl fmt::Debug for KeyVersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVersionRecord")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .field("wrapped_material", &SealedLen(self.wrapped_material.len()))
            .field("created_at", &self.created_at)
            .field("rotation_type", &self.rotation_type)
            .finish()
    }
}

/// An alias: a name for a key, unique per account and region.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AliasRecord {
    /// The owning account.
    pub account_id: AccountId,
    /// The alias's region.
    pub region: Region,
    /// The alias name, starting with `alias/`.
    pub alias_name: String,
    /// The key the alias names.
    pub target_key_id: KeyId,
    /// When the alias was created.
    pub creation_date: UnixMillis,
    /// When the alias was last pointed at a key.
    pub last_updated_date: UnixMillis,
}

/// A grant's encryption context constraint (`CreateGrant` `Constraints`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum GrantConstraint {
    /// The request's encryption context must be exactly this map.
    EncryptionContextEquals(BTreeMap<String, String>),
    /// The request's encryption context must contain every pair of this map.
    EncryptionContextSubset(BTreeMap<String, String>),
}

/// A grant: permission for a grantee principal to perform some operations with one key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GrantRecord {
    /// The grant id (64 hex characters), unique across the deployment.
    pub grant_id: String,
    /// The key the grant is on.
    pub key_id: KeyId,
    /// The key's account.
    pub account_id: AccountId,
    /// The key's region.
    pub region: Region,
    /// The grant's friendly name, which makes CreateGrant idempotent.
    pub name: Option<String>,
    /// The principal the grant allows.
    pub grantee_principal: String,
    /// The principal that may retire the grant.
    pub retiring_principal: Option<String>,
    /// The operations the grant allows, as AWS names them (`Decrypt`, ...).
    pub operations: Vec<String>,
    /// The encryption context constraint, if any.
    pub constraints: Option<GrantConstraint>,
    /// The account of the principal that created the grant.
    pub issuing_account: AccountId,
    /// When the grant was created.
    pub creation_date: UnixMillis,
    /// The grant token CreateGrant returned.
    pub grant_token: String,
}

/// Everything a store holds, as [`crate::Store::load`] returns it.
///
/// Each list is in a stable order, compared byte-wise (Rust's `Ord` on `str`, SQLite's `BINARY`
/// collation, PostgreSQL's `COLLATE "C"`), so two loads of the same data are equal:
/// - `accounts` by `account_id`;
/// - `access_keys` by `access_key_id`;
/// - `keys` by `key_id` (the hyphenated lower-case form, which orders like the UUID's bytes);
/// - `key_versions` by `key_id`, then `version` numerically;
/// - `aliases` by `account_id`, then `region`, then `alias_name`;
/// - `grants` by `key_id`, then `grant_id`;
/// - `access_key_users` by `access_key_id`;
/// - `users` by `account_id`, then `user_name`;
/// - `user_policies` by `account_id`, then `user_name`, then `policy_name`;
/// - `roles` by `account_id`, then `role_name`;
/// - `role_policies` by `account_id`, then `role_name`, then `policy_name`;
/// - `sessions` by `access_key_id`;
/// - `mfa_devices` by `serial_number`;
/// - `service_credentials` by `access_key_id`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Every account.
    pub accounts: Vec<AccountRecord>,
    /// Every access key.
    pub access_keys: Vec<AccessKeyRecord>,
    /// Every key.
    pub keys: Vec<KeyRecord>,
    /// Every version of every key.
    pub key_versions: Vec<KeyVersionRecord>,
    /// Every alias.
    pub aliases: Vec<AliasRecord>,
    /// Every grant.
    pub grants: Vec<GrantRecord>,
    /// The owner of every access key that belongs to an IAM user.
    #[serde(default)]
    pub access_key_users: Vec<AccessKeyUserRecord>,
    /// Every IAM user.
    #[serde(default)]
    pub users: Vec<UserRecord>,
    /// Every inline user policy.
    #[serde(default)]
    pub user_policies: Vec<UserPolicyRecord>,
    /// Every IAM role.
    #[serde(default)]
    pub roles: Vec<RoleRecord>,
    /// Every inline role policy.
    #[serde(default)]
    pub role_policies: Vec<RolePolicyRecord>,
    /// Every STS session not yet deleted (expired ones included until pruned).
    #[serde(default)]
    pub sessions: Vec<SessionRecord>,
    /// Every virtual MFA device.
    #[serde(default)]
    pub mfa_devices: Vec<MfaDeviceRecord>,
    /// The service principal of every access key that acts as one.
    #[serde(default)]
    pub service_credentials: Vec<ServiceCredentialRecord>,
}

/// Prints `<N sealed bytes>` in place of sealed bytes.
struct SealedLen(usize);

impl fmt::Debug for SealedLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} sealed bytes>", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_the_length_of_sealed_bytes_not_the_bytes() {
        let record = KeyVersionRecord {
            key_id: KeyId::random(),
            version: 1,
            wrapped_material: vec![0xAB; 3],
            created_at: UnixMillis(0),
            rotation_type: None,
        };
        let debug = format!("{record:?}");
        assert!(debug.contains("<3 sealed bytes>"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");

        let record = AccessKeyRecord {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            account_id: AccountId::dev_default(),
            sealed_secret: vec![0xCD; 5],
            status: AccessKeyStatus::Active,
            created_at: UnixMillis(0),
        };
        let debug = format!("{record:?}");
        assert!(debug.contains("<5 sealed bytes>"), "{debug}");
        assert!(!debug.contains("205"), "{debug}");
    }
}
