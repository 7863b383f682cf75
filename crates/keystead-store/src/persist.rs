//! The on-disk shape of records, shared by every backend, and its versioning.
//!
//! A backend stores each record as a row holding its ids in real columns (for lookups and
//! constraints), its sealed bytes (if any) in a binary column, a `schema_version` integer and a
//! JSON `record` text built by the `encode_*` functions here. The JSON holds the whole record
//! except the sealed bytes, which never pass through JSON or a decoder, so decode errors cannot
//! echo them.
//!
//! The JSON shapes are frozen per schema version in `mod v1`: changing a record type such as
//! [`crate::KeyRecord`] does not change what is on disk. A later shape goes in `mod v2` with a
//! new [`SCHEMA_VERSION`]; `decode_*` keeps reading `v1` rows and converts them, so old
//! databases load without a migration that rewrites rows. This module performs no I/O.

use crate::error::{Error, what};
use crate::records::{
    AccessKeyRecord, AccountRecord, AliasRecord, GrantRecord, KeyRecord, KeyVersionRecord,
    MfaDeviceRecord, RolePolicyRecord, RoleRecord, SessionRecord, UserPolicyRecord, UserRecord,
};

/// The schema version `encode_*` writes.
pub const SCHEMA_VERSION: i64 = 1;

/// A stored row as a backend read it, before decoding.
#[derive(Clone, Copy, Debug)]
pub struct StoredRow<'a> {
    /// The row's id, used only in error messages (a key id, an access key id, ...).
    pub id: &'a str,
    /// The row's `schema_version` column.
    pub schema_version: i64,
    /// The row's JSON `record` column.
    pub json: &'a str,
}

/// The JSON for an account row.
pub fn encode_account(record: &AccountRecord) -> String {
    to_json(&v1::Account::from(record))
}

/// Decodes an account row.
pub fn decode_account(row: StoredRow<'_>) -> Result<AccountRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Account>(what::ACCOUNT, row).map(Into::into),
        other => Err(unknown_version(what::ACCOUNT, row.id, other)),
    }
}

/// The JSON for an access key row; `sealed_secret` is not in it and goes in a binary column.
pub fn encode_access_key(record: &AccessKeyRecord) -> String {
    to_json(&v1::AccessKey::from(record))
}

/// Decodes an access key row, given its sealed secret read from the binary column.
pub fn decode_access_key(
    row: StoredRow<'_>,
    sealed_secret: Vec<u8>,
) -> Result<AccessKeyRecord, Error> {
    match row.schema_version {
        1 => {
            from_json::<v1::AccessKey>(what::ACCESS_KEY, row).map(|r| r.into_record(sealed_secret))
        }
        other => Err(unknown_version(what::ACCESS_KEY, row.id, other)),
    }
}

/// The JSON for a key row.
pub fn encode_key(record: &KeyRecord) -> String {
    to_json(&v1::Key::from(record))
}

/// Decodes a key row.
pub fn decode_key(row: StoredRow<'_>) -> Result<KeyRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Key>(what::KEY, row).map(Into::into),
        other => Err(unknown_version(what::KEY, row.id, other)),
    }
}

/// The JSON for a key version row; `wrapped_material` is not in it and goes in a binary column.
pub fn encode_key_version(record: &KeyVersionRecord) -> String {
    to_json(&v1::KeyVersion::from(record))
}

/// Decodes a key version row, given its wrapped material read from the binary column.
pub fn decode_key_version(
    row: StoredRow<'_>,
    wrapped_material: Vec<u8>,
) -> Result<KeyVersionRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::KeyVersion>(what::KEY_VERSION, row)
            .map(|r| r.into_record(wrapped_material)),
        other => Err(unknown_version(what::KEY_VERSION, row.id, other)),
    }
}

/// The JSON for an alias row.
pub fn encode_alias(record: &AliasRecord) -> String {
    to_json(&v1::Alias::from(record))
}

/// Decodes an alias row.
pub fn decode_alias(row: StoredRow<'_>) -> Result<AliasRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Alias>(what::ALIAS, row).map(Into::into),
        other => Err(unknown_version(what::ALIAS, row.id, other)),
    }
}

/// The JSON for a grant row.
pub fn encode_grant(record: &GrantRecord) -> String {
    to_json(&v1::Grant::from(record))
}

/// Decodes a grant row.
pub fn decode_grant(row: StoredRow<'_>) -> Result<GrantRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Grant>(what::GRANT, row).map(Into::into),
        other => Err(unknown_version(what::GRANT, row.id, other)),
    }
}

/// The JSON for a user row.
pub fn encode_user(record: &UserRecord) -> String {
    to_json(&v1::User::from(record))
}

/// Decodes a user row.
pub fn decode_user(row: StoredRow<'_>) -> Result<UserRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::User>(what::USER, row).map(Into::into),
        other => Err(unknown_version(what::USER, row.id, other)),
    }
}

/// The JSON for an inline user policy row.
pub fn encode_user_policy(record: &UserPolicyRecord) -> String {
    to_json(&v1::UserPolicy::from(record))
}

/// Decodes an inline user policy row.
pub fn decode_user_policy(row: StoredRow<'_>) -> Result<UserPolicyRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::UserPolicy>(what::USER_POLICY, row).map(Into::into),
        other => Err(unknown_version(what::USER_POLICY, row.id, other)),
    }
}

/// The JSON for a role row.
pub fn encode_role(record: &RoleRecord) -> String {
    to_json(&v1::Role::from(record))
}

/// Decodes a role row.
pub fn decode_role(row: StoredRow<'_>) -> Result<RoleRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Role>(what::ROLE, row).map(Into::into),
        other => Err(unknown_version(what::ROLE, row.id, other)),
    }
}

/// The JSON for an inline role policy row.
pub fn encode_role_policy(record: &RolePolicyRecord) -> String {
    to_json(&v1::RolePolicy::from(record))
}

/// Decodes an inline role policy row.
pub fn decode_role_policy(row: StoredRow<'_>) -> Result<RolePolicyRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::RolePolicy>(what::ROLE_POLICY, row).map(Into::into),
        other => Err(unknown_version(what::ROLE_POLICY, row.id, other)),
    }
}

/// The JSON for a session row; `sealed_credentials` is not in it and goes in a binary column.
pub fn encode_session(record: &SessionRecord) -> String {
    to_json(&v1::Session::from(record))
}

/// Decodes a session row, given its sealed credentials read from the binary column.
pub fn decode_session(
    row: StoredRow<'_>,
    sealed_credentials: Vec<u8>,
) -> Result<SessionRecord, Error> {
    match row.schema_version {
        1 => {
            from_json::<v1::Session>(what::SESSION, row).map(|r| r.into_record(sealed_credentials))
        }
        other => Err(unknown_version(what::SESSION, row.id, other)),
    }
}

/// The JSON for a virtual MFA device row; `sealed_seed` is not in it and goes in a binary column.
pub fn encode_mfa_device(record: &MfaDeviceRecord) -> String {
    to_json(&v1::MfaDevice::from(record))
}

/// Decodes a virtual MFA device row, given its sealed seed read from the binary column.
pub fn decode_mfa_device(
    row: StoredRow<'_>,
    sealed_seed: Vec<u8>,
) -> Result<MfaDeviceRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::MfaDevice>(what::MFA_DEVICE, row).map(|r| r.into_record(sealed_seed)),
        other => Err(unknown_version(what::MFA_DEVICE, row.id, other)),
    }
}

fn to_json<T: serde::Serialize>(shape: &T) -> String {
    // Invariant: the v1 shapes are structs of strings, integers, booleans, options, vectors,
    // enums and maps with string keys; serde_json cannot fail to serialize those.
    serde_json::to_string(shape).expect("invariant: persisted shapes always serialize")
}

fn from_json<'a, T: serde::Deserialize<'a>>(
    what: &'static str,
    row: StoredRow<'a>,
) -> Result<T, Error> {
    serde_json::from_str(row.json).map_err(|err| Error::Corrupt {
        what,
        detail: format!("{}: {err}", row.id),
    })
}

fn unknown_version(what: &'static str, id: &str, version: i64) -> Error {
    Error::Corrupt {
        what,
        detail: format!("{id}: unknown schema_version {version} (this keystead reads 1)"),
    }
}

/// Schema version 1. Frozen: never edit these shapes, add `mod v2` instead.
mod v1 {
    use keystead_types::{AccountId, KeyId, Region, UnixMillis};
    use serde::{Deserialize, Serialize};

    use crate::records;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Account {
        account_id: AccountId,
        created_at: i64,
    }

    impl From<&records::AccountRecord> for Account {
        fn from(r: &records::AccountRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                created_at: r.created_at.0,
            }
        }
    }

    impl From<Account> for records::AccountRecord {
        fn from(r: Account) -> Self {
            Self {
                account_id: r.account_id,
                created_at: UnixMillis(r.created_at),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    enum AccessKeyStatus {
        Active,
        Inactive,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct AccessKey {
        access_key_id: String,
        account_id: AccountId,
        status: AccessKeyStatus,
        created_at: i64,
    }

    impl From<&records::AccessKeyRecord> for AccessKey {
        fn from(r: &records::AccessKeyRecord) -> Self {
            Self {
                access_key_id: r.access_key_id.clone(),
                account_id: r.account_id.clone(),
                status: match r.status {
                    records::AccessKeyStatus::Active => AccessKeyStatus::Active,
                    records::AccessKeyStatus::Inactive => AccessKeyStatus::Inactive,
                },
                created_at: r.created_at.0,
            }
        }
    }

    impl AccessKey {
        pub(super) fn into_record(self, sealed_secret: Vec<u8>) -> records::AccessKeyRecord {
            records::AccessKeyRecord {
                access_key_id: self.access_key_id,
                account_id: self.account_id,
                sealed_secret,
                status: match self.status {
                    AccessKeyStatus::Active => records::AccessKeyStatus::Active,
                    AccessKeyStatus::Inactive => records::AccessKeyStatus::Inactive,
                },
                created_at: UnixMillis(self.created_at),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct User {
        account_id: AccountId,
        user_name: String,
        user_id: String,
        path: String,
        tags: Vec<Tag>,
        created_at: i64,
    }

    impl From<&records::UserRecord> for User {
        fn from(r: &records::UserRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                user_name: r.user_name.clone(),
                user_id: r.user_id.clone(),
                path: r.path.clone(),
                tags: r
                    .tags
                    .iter()
                    .map(|t| Tag {
                        key: t.key.clone(),
                        value: t.value.clone(),
                    })
                    .collect(),
                created_at: r.created_at.0,
            }
        }
    }

    impl From<User> for records::UserRecord {
        fn from(r: User) -> Self {
            Self {
                account_id: r.account_id,
                user_name: r.user_name,
                user_id: r.user_id,
                path: r.path,
                tags: r
                    .tags
                    .into_iter()
                    .map(|t| records::Tag {
                        key: t.key,
                        value: t.value,
                    })
                    .collect(),
                created_at: UnixMillis(r.created_at),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct UserPolicy {
        account_id: AccountId,
        user_name: String,
        policy_name: String,
        document: String,
    }

    impl From<&records::UserPolicyRecord> for UserPolicy {
        fn from(r: &records::UserPolicyRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                user_name: r.user_name.clone(),
                policy_name: r.policy_name.clone(),
                document: r.document.clone(),
            }
        }
    }

    impl From<UserPolicy> for records::UserPolicyRecord {
        fn from(r: UserPolicy) -> Self {
            Self {
                account_id: r.account_id,
                user_name: r.user_name,
                policy_name: r.policy_name,
                document: r.document,
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Role {
        account_id: AccountId,
        role_name: String,
        role_id: String,
        path: String,
        assume_role_policy_document: String,
        description: Option<String>,
        max_session_duration: u32,
        tags: Vec<Tag>,
        created_at: i64,
    }

    impl From<&records::RoleRecord> for Role {
        fn from(r: &records::RoleRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                role_name: r.role_name.clone(),
                role_id: r.role_id.clone(),
                path: r.path.clone(),
                assume_role_policy_document: r.assume_role_policy_document.clone(),
                description: r.description.clone(),
                max_session_duration: r.max_session_duration,
                tags: r
                    .tags
                    .iter()
                    .map(|t| Tag {
                        key: t.key.clone(),
                        value: t.value.clone(),
                    })
                    .collect(),
                created_at: r.created_at.0,
            }
        }
    }

    impl From<Role> for records::RoleRecord {
        fn from(r: Role) -> Self {
            Self {
                account_id: r.account_id,
                role_name: r.role_name,
                role_id: r.role_id,
                path: r.path,
                assume_role_policy_document: r.assume_role_policy_document,
                description: r.description,
                max_session_duration: r.max_session_duration,
                tags: r
                    .tags
                    .into_iter()
                    .map(|t| records::Tag {
                        key: t.key,
                        value: t.value,
                    })
                    .collect(),
                created_at: UnixMillis(r.created_at),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct RolePolicy {
        account_id: AccountId,
        role_name: String,
        policy_name: String,
        document: String,
    }

    impl From<&records::RolePolicyRecord> for RolePolicy {
        fn from(r: &records::RolePolicyRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                role_name: r.role_name.clone(),
                policy_name: r.policy_name.clone(),
                document: r.document.clone(),
            }
        }
    }

    impl From<RolePolicy> for records::RolePolicyRecord {
        fn from(r: RolePolicy) -> Self {
            Self {
                account_id: r.account_id,
                role_name: r.role_name,
                policy_name: r.policy_name,
                document: r.document,
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    enum SessionPrincipal {
        Root,
        User {
            user_name: String,
            user_id: String,
            path: String,
        },
        Role {
            role_name: String,
            role_id: String,
            role_path: String,
            session_name: String,
        },
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Session {
        access_key_id: String,
        account_id: AccountId,
        principal: SessionPrincipal,
        created_at: i64,
        expiration: i64,
        // Added with migration 5 (which older keysteads refuse): absent in older rows, and
        // left out for sessions without MFA so that their rows are unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mfa_authenticated_at: Option<i64>,
    }

    impl From<&records::SessionRecord> for Session {
        fn from(r: &records::SessionRecord) -> Self {
            use records::SessionPrincipal as P;
            Self {
                access_key_id: r.access_key_id.clone(),
                account_id: r.account_id.clone(),
                principal: match &r.principal {
                    P::Root => SessionPrincipal::Root,
                    P::User {
                        user_name,
                        user_id,
                        path,
                    } => SessionPrincipal::User {
                        user_name: user_name.clone(),
                        user_id: user_id.clone(),
                        path: path.clone(),
                    },
                    P::Role {
                        role_name,
                        role_id,
                        role_path,
                        session_name,
                    } => SessionPrincipal::Role {
                        role_name: role_name.clone(),
                        role_id: role_id.clone(),
                        role_path: role_path.clone(),
                        session_name: session_name.clone(),
                    },
                },
                created_at: r.created_at.0,
                expiration: r.expiration.0,
                mfa_authenticated_at: r.mfa_authenticated_at.map(|t| t.0),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct MfaDevice {
        serial_number: String,
        account_id: AccountId,
        device_name: String,
        path: String,
        created_at: i64,
        enabled: Option<MfaEnablement>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MfaEnablement {
        user_name: Option<String>,
        enabled_at: i64,
    }

    impl From<&records::MfaDeviceRecord> for MfaDevice {
        fn from(r: &records::MfaDeviceRecord) -> Self {
            Self {
                serial_number: r.serial_number.clone(),
                account_id: r.account_id.clone(),
                device_name: r.device_name.clone(),
                path: r.path.clone(),
                created_at: r.created_at.0,
                enabled: r.enabled.as_ref().map(|e| MfaEnablement {
                    user_name: e.user_name.clone(),
                    enabled_at: e.enabled_at.0,
                }),
            }
        }
    }

    impl MfaDevice {
        pub(super) fn into_record(self, sealed_seed: Vec<u8>) -> records::MfaDeviceRecord {
            records::MfaDeviceRecord {
                serial_number: self.serial_number,
                account_id: self.account_id,
                device_name: self.device_name,
                path: self.path,
                sealed_seed,
                created_at: UnixMillis(self.created_at),
                enabled: self.enabled.map(|e| records::MfaEnablement {
                    user_name: e.user_name,
                    enabled_at: UnixMillis(e.enabled_at),
                }),
            }
        }
    }

    impl Session {
        pub(super) fn into_record(self, sealed_credentials: Vec<u8>) -> records::SessionRecord {
            use records::SessionPrincipal as P;
            records::SessionRecord {
                access_key_id: self.access_key_id,
                account_id: self.account_id,
                sealed_credentials,
                principal: match self.principal {
                    SessionPrincipal::Root => P::Root,
                    SessionPrincipal::User {
                        user_name,
                        user_id,
                        path,
                    } => P::User {
                        user_name,
                        user_id,
                        path,
                    },
                    SessionPrincipal::Role {
                        role_name,
                        role_id,
                        role_path,
                        session_name,
                    } => P::Role {
                        role_name,
                        role_id,
                        role_path,
                        session_name,
                    },
                },
                created_at: UnixMillis(self.created_at),
                expiration: UnixMillis(self.expiration),
                mfa_authenticated_at: self.mfa_authenticated_at.map(UnixMillis),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    enum KeyState {
        Enabled,
        Disabled,
        PendingDeletion,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tag {
        key: String,
        value: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RotationSchedule {
        period_in_days: u32,
        next_rotation: i64,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Key {
        key_id: KeyId,
        account_id: AccountId,
        region: Region,
        description: String,
        key_state: KeyState,
        key_usage: String,
        key_spec: String,
        origin: String,
        creation_date: i64,
        deletion_date: Option<i64>,
        pending_deletion_window_in_days: Option<u32>,
        policy: String,
        tags: Vec<Tag>,
        rotation: Option<RotationSchedule>,
        multi_region: bool,
    }

    impl From<&records::KeyRecord> for Key {
        fn from(r: &records::KeyRecord) -> Self {
            use keystead_types::KeyState as S;
            Self {
                key_id: r.key_id,
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                description: r.description.clone(),
                key_state: match r.key_state {
                    S::Enabled => KeyState::Enabled,
                    S::Disabled => KeyState::Disabled,
                    S::PendingDeletion => KeyState::PendingDeletion,
                },
                key_usage: r.key_usage.clone(),
                key_spec: r.key_spec.clone(),
                origin: r.origin.clone(),
                creation_date: r.creation_date.0,
                deletion_date: r.deletion_date.map(|d| d.0),
                pending_deletion_window_in_days: r.pending_deletion_window_in_days,
                policy: r.policy.clone(),
                tags: r
                    .tags
                    .iter()
                    .map(|t| Tag {
                        key: t.key.clone(),
                        value: t.value.clone(),
                    })
                    .collect(),
                rotation: r.rotation.as_ref().map(|s| RotationSchedule {
                    period_in_days: s.period_in_days,
                    next_rotation: s.next_rotation.0,
                }),
                multi_region: r.multi_region,
            }
        }
    }

    impl From<Key> for records::KeyRecord {
        fn from(r: Key) -> Self {
            use keystead_types::KeyState as S;
            Self {
                key_id: r.key_id,
                account_id: r.account_id,
                region: r.region,
                description: r.description,
                key_state: match r.key_state {
                    KeyState::Enabled => S::Enabled,
                    KeyState::Disabled => S::Disabled,
                    KeyState::PendingDeletion => S::PendingDeletion,
                },
                key_usage: r.key_usage,
                key_spec: r.key_spec,
                origin: r.origin,
                creation_date: UnixMillis(r.creation_date),
                deletion_date: r.deletion_date.map(UnixMillis),
                pending_deletion_window_in_days: r.pending_deletion_window_in_days,
                policy: r.policy,
                tags: r
                    .tags
                    .into_iter()
                    .map(|t| records::Tag {
                        key: t.key,
                        value: t.value,
                    })
                    .collect(),
                rotation: r.rotation.map(|s| records::RotationSchedule {
                    period_in_days: s.period_in_days,
                    next_rotation: UnixMillis(s.next_rotation),
                }),
                multi_region: r.multi_region,
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    enum RotationType {
        Automatic,
        OnDemand,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct KeyVersion {
        key_id: KeyId,
        version: u32,
        created_at: i64,
        rotation_type: Option<RotationType>,
    }

    impl From<&records::KeyVersionRecord> for KeyVersion {
        fn from(r: &records::KeyVersionRecord) -> Self {
            Self {
                key_id: r.key_id,
                version: r.version,
                created_at: r.created_at.0,
                rotation_type: r.rotation_type.map(|t| match t {
                    records::RotationType::Automatic => RotationType::Automatic,
                    records::RotationType::OnDemand => RotationType::OnDemand,
                }),
            }
        }
    }

    impl KeyVersion {
        pub(super) fn into_record(self, wrapped_material: Vec<u8>) -> records::KeyVersionRecord {
            records::KeyVersionRecord {
                key_id: self.key_id,
                version: self.version,
                wrapped_material,
                created_at: UnixMillis(self.created_at),
                rotation_type: self.rotation_type.map(|t| match t {
                    RotationType::Automatic => records::RotationType::Automatic,
                    RotationType::OnDemand => records::RotationType::OnDemand,
                }),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Alias {
        account_id: AccountId,
        region: Region,
        alias_name: String,
        target_key_id: KeyId,
        creation_date: i64,
        last_updated_date: i64,
    }

    impl From<&records::AliasRecord> for Alias {
        fn from(r: &records::AliasRecord) -> Self {
            Self {
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                alias_name: r.alias_name.clone(),
                target_key_id: r.target_key_id,
                creation_date: r.creation_date.0,
                last_updated_date: r.last_updated_date.0,
            }
        }
    }

    impl From<Alias> for records::AliasRecord {
        fn from(r: Alias) -> Self {
            Self {
                account_id: r.account_id,
                region: r.region,
                alias_name: r.alias_name,
                target_key_id: r.target_key_id,
                creation_date: UnixMillis(r.creation_date),
                last_updated_date: UnixMillis(r.last_updated_date),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    enum GrantConstraint {
        EncryptionContextEquals(std::collections::BTreeMap<String, String>),
        EncryptionContextSubset(std::collections::BTreeMap<String, String>),
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Grant {
        grant_id: String,
        key_id: KeyId,
        account_id: AccountId,
        region: Region,
        name: Option<String>,
        grantee_principal: String,
        retiring_principal: Option<String>,
        operations: Vec<String>,
        constraints: Option<GrantConstraint>,
        issuing_account: AccountId,
        creation_date: i64,
        grant_token: String,
    }

    impl From<&records::GrantRecord> for Grant {
        fn from(r: &records::GrantRecord) -> Self {
            Self {
                grant_id: r.grant_id.clone(),
                key_id: r.key_id,
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                name: r.name.clone(),
                grantee_principal: r.grantee_principal.clone(),
                retiring_principal: r.retiring_principal.clone(),
                operations: r.operations.clone(),
                constraints: r.constraints.as_ref().map(|c| match c {
                    records::GrantConstraint::EncryptionContextEquals(m) => {
                        GrantConstraint::EncryptionContextEquals(m.clone())
                    }
                    records::GrantConstraint::EncryptionContextSubset(m) => {
                        GrantConstraint::EncryptionContextSubset(m.clone())
                    }
                }),
                issuing_account: r.issuing_account.clone(),
                creation_date: r.creation_date.0,
                grant_token: r.grant_token.clone(),
            }
        }
    }

    impl From<Grant> for records::GrantRecord {
        fn from(r: Grant) -> Self {
            Self {
                grant_id: r.grant_id,
                key_id: r.key_id,
                account_id: r.account_id,
                region: r.region,
                name: r.name,
                grantee_principal: r.grantee_principal,
                retiring_principal: r.retiring_principal,
                operations: r.operations,
                constraints: r.constraints.map(|c| match c {
                    GrantConstraint::EncryptionContextEquals(m) => {
                        records::GrantConstraint::EncryptionContextEquals(m)
                    }
                    GrantConstraint::EncryptionContextSubset(m) => {
                        records::GrantConstraint::EncryptionContextSubset(m)
                    }
                }),
                issuing_account: r.issuing_account,
                creation_date: UnixMillis(r.creation_date),
                grant_token: r.grant_token,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keystead_types::{KeyState, UnixMillis};

    use super::*;
    use crate::records::{AccessKeyStatus, RotationSchedule, RotationType, Tag};

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn key() -> KeyRecord {
        KeyRecord {
            key_id: KEY_ID.parse().expect("valid key id"),
            account_id: "111122223333".parse().expect("valid account"),
            region: "us-east-2".parse().expect("valid region"),
            description: "RDS contact-db".to_owned(),
            key_state: KeyState::PendingDeletion,
            key_usage: "ENCRYPT_DECRYPT".to_owned(),
            key_spec: "SYMMETRIC_DEFAULT".to_owned(),
            origin: "AWS_KMS".to_owned(),
            creation_date: UnixMillis(1_700_000_000_000),
            deletion_date: Some(UnixMillis(1_700_604_800_000)),
            pending_deletion_window_in_days: Some(7),
            policy: r#"{"Version":"2012-10-17"}"#.to_owned(),
            tags: vec![Tag {
                key: "env".to_owned(),
                value: "prod".to_owned(),
            }],
            rotation: Some(RotationSchedule {
                period_in_days: 365,
                next_rotation: UnixMillis(1_731_536_000_000),
            }),
            multi_region: false,
        }
    }

    fn row<'a>(schema_version: i64, json: &'a str) -> StoredRow<'a> {
        StoredRow {
            id: "row-id",
            schema_version,
            json,
        }
    }

    #[test]
    fn the_v1_key_shape_is_frozen() {
        // If this fails, a change to `KeyRecord` leaked into the on-disk shape: restore `v1` and
        // add a `v2` with a new SCHEMA_VERSION instead.
        let golden = concat!(
            r#"{"key_id":"1234abcd-12ab-34cd-56ef-1234567890ab","account_id":"111122223333","#,
            r#""region":"us-east-2","description":"RDS contact-db","key_state":"PendingDeletion","#,
            r#""key_usage":"ENCRYPT_DECRYPT","key_spec":"SYMMETRIC_DEFAULT","origin":"AWS_KMS","#,
            r#""creation_date":1700000000000,"deletion_date":1700604800000,"#,
            r#""pending_deletion_window_in_days":7,"policy":"{\"Version\":\"2012-10-17\"}","#,
            r#""tags":[{"key":"env","value":"prod"}],"#,
            r#""rotation":{"period_in_days":365,"next_rotation":1731536000000},"#,
            r#""multi_region":false}"#
        );
        assert_eq!(encode_key(&key()), golden);
        assert_eq!(decode_key(row(1, golden)).expect("golden decodes"), key());
    }

    #[test]
    fn the_v1_shapes_of_the_other_records_are_frozen() {
        let account = AccountRecord {
            account_id: "111122223333".parse().expect("valid account"),
            created_at: UnixMillis(5),
        };
        let json = r#"{"account_id":"111122223333","created_at":5}"#;
        assert_eq!(encode_account(&account), json);
        assert_eq!(decode_account(row(1, json)).expect("decodes"), account);

        let access_key = AccessKeyRecord {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            account_id: account.account_id.clone(),
            sealed_secret: vec![1, 2, 3],
            status: AccessKeyStatus::Inactive,
            created_at: UnixMillis(6),
        };
        let json = concat!(
            r#"{"access_key_id":"AKIAEXAMPLE","account_id":"111122223333","#,
            r#""status":"Inactive","created_at":6}"#
        );
        assert_eq!(encode_access_key(&access_key), json);
        assert_eq!(
            decode_access_key(row(1, json), vec![1, 2, 3]).expect("decodes"),
            access_key
        );

        let version = KeyVersionRecord {
            key_id: KEY_ID.parse().expect("valid key id"),
            version: 2,
            wrapped_material: vec![9; 4],
            created_at: UnixMillis(7),
            rotation_type: Some(RotationType::OnDemand),
        };
        let json = concat!(
            r#"{"key_id":"1234abcd-12ab-34cd-56ef-1234567890ab","version":2,"created_at":7,"#,
            r#""rotation_type":"OnDemand"}"#
        );
        assert_eq!(encode_key_version(&version), json);
        assert_eq!(
            decode_key_version(row(1, json), vec![9; 4]).expect("decodes"),
            version
        );

        let alias = AliasRecord {
            account_id: account.account_id.clone(),
            region: "eu-west-1".parse().expect("valid region"),
            alias_name: "alias/app".to_owned(),
            target_key_id: KEY_ID.parse().expect("valid key id"),
            creation_date: UnixMillis(8),
            last_updated_date: UnixMillis(9),
        };
        let json = concat!(
            r#"{"account_id":"111122223333","region":"eu-west-1","alias_name":"alias/app","#,
            r#""target_key_id":"1234abcd-12ab-34cd-56ef-1234567890ab","creation_date":8,"#,
            r#""last_updated_date":9}"#
        );
        assert_eq!(encode_alias(&alias), json);
        assert_eq!(decode_alias(row(1, json)).expect("decodes"), alias);
    }

    #[test]
    fn the_v1_grant_shape_is_frozen() {
        let grant = GrantRecord {
            grant_id: "ab".repeat(32),
            key_id: KEY_ID.parse().expect("valid key id"),
            account_id: "111122223333".parse().expect("valid account"),
            region: "us-east-2".parse().expect("valid region"),
            name: Some("app".to_owned()),
            grantee_principal: "arn:aws:iam::444455556666:root".to_owned(),
            retiring_principal: None,
            operations: vec!["Decrypt".to_owned()],
            constraints: Some(crate::records::GrantConstraint::EncryptionContextEquals(
                [("dept".to_owned(), "it".to_owned())].into(),
            )),
            issuing_account: "111122223333".parse().expect("valid account"),
            creation_date: UnixMillis(10),
            grant_token: "token".to_owned(),
        };
        let json = concat!(
            r#"{"grant_id":"abababababababababababababababababababababababababababababababab","#,
            r#""key_id":"1234abcd-12ab-34cd-56ef-1234567890ab","account_id":"111122223333","#,
            r#""region":"us-east-2","name":"app","#,
            r#""grantee_principal":"arn:aws:iam::444455556666:root","retiring_principal":null,"#,
            r#""operations":["Decrypt"],"#,
            r#""constraints":{"EncryptionContextEquals":{"dept":"it"}},"#,
            r#""issuing_account":"111122223333","creation_date":10,"grant_token":"token"}"#
        );
        assert_eq!(encode_grant(&grant), json);
        assert_eq!(decode_grant(row(1, json)).expect("decodes"), grant);
    }

    #[test]
    fn the_v1_user_and_user_policy_shapes_are_frozen() {
        let user = UserRecord {
            account_id: "111122223333".parse().expect("account"),
            user_name: "alice".to_owned(),
            user_id: "AIDAEXAMPLEEXAMPLE12".to_owned(),
            path: "/team/".to_owned(),
            tags: vec![Tag {
                key: "k".to_owned(),
                value: "v".to_owned(),
            }],
            created_at: UnixMillis(5),
        };
        let json = concat!(
            r#"{"account_id":"111122223333","user_name":"alice","#,
            r#""user_id":"AIDAEXAMPLEEXAMPLE12","path":"/team/","#,
            r#""tags":[{"key":"k","value":"v"}],"created_at":5}"#
        );
        assert_eq!(encode_user(&user), json);
        assert_eq!(decode_user(row(1, json)).expect("decodes"), user);

        let policy = UserPolicyRecord {
            account_id: "111122223333".parse().expect("account"),
            user_name: "alice".to_owned(),
            policy_name: "p".to_owned(),
            document: "{}".to_owned(),
        };
        let json = concat!(
            r#"{"account_id":"111122223333","user_name":"alice","#,
            r#""policy_name":"p","document":"{}"}"#
        );
        assert_eq!(encode_user_policy(&policy), json);
        assert_eq!(decode_user_policy(row(1, json)).expect("decodes"), policy);
    }

    #[test]
    fn sealed_bytes_never_appear_in_the_json() {
        let version = KeyVersionRecord {
            key_id: KEY_ID.parse().expect("valid key id"),
            version: 1,
            wrapped_material: vec![0xEE; 8],
            created_at: UnixMillis(0),
            rotation_type: None,
        };
        let json = encode_key_version(&version);
        assert!(!json.contains("238") && !json.contains("wrapped"), "{json}");
    }

    #[test]
    fn an_unknown_schema_version_is_corrupt() {
        let json = encode_key(&key());
        let err = decode_key(row(2, &json)).expect_err("version 2 is unknown");
        let Error::Corrupt {
            what: "key",
            detail,
        } = &err
        else {
            panic!("expected a corrupt key, got {err:?}");
        };
        assert!(detail.contains("schema_version 2"), "{detail}");
    }

    #[test]
    fn malformed_json_and_ill_formed_ids_are_corrupt() {
        let err = decode_account(row(1, "{not json")).expect_err("malformed");
        assert!(
            matches!(
                &err,
                Error::Corrupt {
                    what: "account",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("row-id"), "{err}");

        let err = decode_account(row(1, r#"{"account_id":"12","created_at":5}"#))
            .expect_err("short account id");
        assert!(matches!(
            err,
            Error::Corrupt {
                what: "account",
                ..
            }
        ));

        let err = decode_account(row(
            1,
            r#"{"account_id":"111122223333","created_at":5,"x":1}"#,
        ))
        .expect_err("unknown field");
        assert!(matches!(
            err,
            Error::Corrupt {
                what: "account",
                ..
            }
        ));
    }
}
