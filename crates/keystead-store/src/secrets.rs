//! Secrets Manager records: secrets, their versions, and the frozen on-disk shape of both
//! (schema version 1), kept apart from the KMS records so the two services evolve separately.
//!
//! A secret's value never reaches this module in plaintext: a version holds the data key as
//! KMS encrypted it and the value sealed under that data key (see `keystead-crypto`'s
//! `data_key`). Both are stored in binary columns and never pass through JSON.

use std::collections::BTreeMap;
use std::fmt;

use keystead_types::{AccountId, Region, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::persist::StoredRow;
use crate::records::Tag;

/// The `what` of errors about a secret.
pub const WHAT_SECRET: &str = "secret";
/// The `what` of errors about a secret version.
pub const WHAT_SECRET_VERSION: &str = "secret version";

/// A secret's metadata in one region: a primary secret, or a replica of one.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretRecord {
    /// The secret's ARN, `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`; unique.
    pub arn: String,
    /// The owning account.
    pub account_id: AccountId,
    /// The secret's region.
    pub region: Region,
    /// The secret's name, unique per account and region.
    pub name: String,
    /// The description, if any.
    pub description: Option<String>,
    /// The KMS key as the caller named it (id, ARN, alias); `None` for `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    /// Tags, in the order they were added.
    pub tags: Vec<Tag>,
    /// The resource policy document, if any.
    pub resource_policy: Option<String>,
    /// Staging labels: label → the version id that has it.
    pub stages: BTreeMap<String, String>,
    /// When the secret was created.
    pub created_at: UnixMillis,
    /// When the secret was last changed.
    pub last_changed_at: UnixMillis,
    /// The day the secret was last read, if ever.
    pub last_accessed_at: Option<UnixMillis>,
    /// When DeleteSecret was called; `Some` while the secret is scheduled for deletion.
    pub deleted_at: Option<UnixMillis>,
    /// When a scheduled deletion becomes final.
    pub deletion_date: Option<UnixMillis>,
    /// Rotation settings.
    pub rotation: SecretRotation,
    /// For a replica, the region of its primary; `None` for a primary secret.
    pub primary_region: Option<Region>,
    /// For a primary secret, its replicas.
    pub replicas: Vec<ReplicaRecord>,
}

/// A secret's rotation settings as RotateSecret stores them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretRotation {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// `RotationLambdaARN`, naming the rotator.
    pub lambda_arn: Option<String>,
    /// `RotationRules.AutomaticallyAfterDays`.
    pub automatically_after_days: Option<i64>,
    /// `RotationRules.Duration`.
    pub duration: Option<String>,
    /// `RotationRules.ScheduleExpression`.
    pub schedule_expression: Option<String>,
    /// When the secret was last rotated.
    pub last_rotated_at: Option<UnixMillis>,
    /// When the next rotation is due.
    pub next_rotation_at: Option<UnixMillis>,
    /// Why the last rotation failed, if it did; `None` after a success.
    pub last_failure: Option<String>,
    /// The rotation in progress, if any: its token (the pending version id) and the first step
    /// not yet done, persisted after each step so that a restart resumes it.
    pub job: Option<RotationJobRecord>,
}

/// A rotation in progress, as persisted with its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationJobRecord {
    /// The rotation's `ClientRequestToken`: the id of the version being created.
    pub token: String,
    /// The wire name of the first step not recorded as done (`createSecret` ... `finishSecret`).
    pub next_step: String,
}

/// How far a replica is with its primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaStatus {
    /// The replica has every version and label of the primary.
    InSync,
    /// The last attempt to update the replica failed (see the message).
    Failed,
    /// The replica is being created or updated.
    InProgress,
}

/// One replica of a primary secret, as the primary lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaRecord {
    /// The replica's region.
    pub region: Region,
    /// The KMS key in that region as the caller named it; `None` for `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    /// How far it is.
    pub status: ReplicaStatus,
    /// Why it failed, for `Failed`.
    pub status_message: Option<String>,
}

/// One version of a secret's value, encrypted.
#[derive(Clone, PartialEq)]
pub struct SecretVersionRecord {
    /// The secret's ARN.
    pub secret_arn: String,
    /// The version id (the ClientRequestToken that created it, a UUID by default).
    pub version_id: String,
    /// When the version was created.
    pub created_at: UnixMillis,
    /// The ARN of the KMS key that encrypted the data key.
    pub kms_key_arn: String,
    /// The data key as KMS encrypted it (a KMS ciphertext blob).
    pub encrypted_data_key: Vec<u8>,
    /// The value sealed under the data key.
    pub sealed_value: Vec<u8>,
}

impl fmt::Debug for SecretVersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersionRecord")
            .field("secret_arn", &self.secret_arn)
            .field("version_id", &self.version_id)
            .field("created_at", &self.created_at)
            .field("kms_key_arn", &self.kms_key_arn)
            .field("encrypted_data_key_len", &self.encrypted_data_key.len())
            .field("sealed_value_len", &self.sealed_value.len())
            .finish()
    }
}

/// Every secret and secret version a store holds.
#[derive(Clone, Debug, Default)]
pub struct SecretsSnapshot {
    /// Every secret, ordered by ARN.
    pub secrets: Vec<SecretRecord>,
    /// Every version, ordered by secret ARN then creation time.
    pub versions: Vec<SecretVersionRecord>,
}

/// One change in an atomic batch of [`crate::Store::apply_secret_changes`].
// Batches are short-lived and small; boxing the record would only add noise at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum SecretChange {
    /// Inserts or replaces the secret's record, adds new versions (which must not exist) and
    /// removes versions by id (which must exist).
    Put {
        /// The secret's new record.
        secret: SecretRecord,
        /// Versions to add; each must belong to `secret`.
        add_versions: Vec<SecretVersionRecord>,
        /// Ids of versions of `secret` to remove.
        remove_versions: Vec<String>,
    },
    /// Deletes a secret and all its versions; it must exist.
    Delete {
        /// The secret's ARN.
        arn: String,
    },
}

/// Checks that every version in a batch belongs to the secret it is written with; backends call
/// this before writing.
pub fn check_secret_changes(changes: &[SecretChange]) -> Result<(), Error> {
    for change in changes {
        if let SecretChange::Put {
            secret,
            add_versions,
            ..
        } = change
            && let Some(v) = add_versions.iter().find(|v| v.secret_arn != secret.arn)
        {
            return Err(Error::Invalid {
                what: WHAT_SECRET_VERSION,
                detail: format!(
                    "version {} belongs to {}, not {}",
                    v.version_id, v.secret_arn, secret.arn
                ),
            });
        }
    }
    Ok(())
}

/// The JSON for a secret row.
pub fn encode_secret(record: &SecretRecord) -> String {
    // Invariant: the v1 shapes are strings, integers, booleans, options, vectors and string
    // maps, which serde_json always serializes.
    serde_json::to_string(&v1::Secret::from(record)).expect("invariant: secret shape serializes")
}

/// Decodes a secret row.
pub fn decode_secret(row: StoredRow<'_>) -> Result<SecretRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::Secret>(WHAT_SECRET, row).map(Into::into),
        other => Err(unknown_version(WHAT_SECRET, row.id, other)),
    }
}

/// The JSON for a secret version row; the encrypted data key and sealed value go in binary
/// columns.
pub fn encode_secret_version(record: &SecretVersionRecord) -> String {
    serde_json::to_string(&v1::SecretVersion::from(record))
        .expect("invariant: secret version shape serializes")
}

/// Decodes a secret version row, given its two binary columns.
pub fn decode_secret_version(
    row: StoredRow<'_>,
    encrypted_data_key: Vec<u8>,
    sealed_value: Vec<u8>,
) -> Result<SecretVersionRecord, Error> {
    match row.schema_version {
        1 => from_json::<v1::SecretVersion>(WHAT_SECRET_VERSION, row)
            .map(|v| v.into_record(encrypted_data_key, sealed_value)),
        other => Err(unknown_version(WHAT_SECRET_VERSION, row.id, other)),
    }
}

fn from_json<'a, T: Deserialize<'a>>(what: &'static str, row: StoredRow<'a>) -> Result<T, Error> {
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
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Secret {
        arn: String,
        account_id: AccountId,
        region: Region,
        name: String,
        description: Option<String>,
        kms_key_id: Option<String>,
        tags: Vec<(String, String)>,
        resource_policy: Option<String>,
        stages: BTreeMap<String, String>,
        created_at: i64,
        last_changed_at: i64,
        last_accessed_at: Option<i64>,
        deleted_at: Option<i64>,
        deletion_date: Option<i64>,
        rotation_enabled: bool,
        rotation_lambda_arn: Option<String>,
        rotation_automatically_after_days: Option<i64>,
        rotation_duration: Option<String>,
        rotation_schedule_expression: Option<String>,
        last_rotated_at: Option<i64>,
        next_rotation_at: Option<i64>,
        #[serde(default)]
        rotation_last_failure: Option<String>,
        #[serde(default)]
        rotation_job_token: Option<String>,
        #[serde(default)]
        rotation_job_next_step: Option<String>,
        primary_region: Option<Region>,
        replicas: Vec<Replica>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Replica {
        region: Region,
        kms_key_id: Option<String>,
        status: Status,
        status_message: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    enum Status {
        InSync,
        Failed,
        InProgress,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct SecretVersion {
        secret_arn: String,
        version_id: String,
        created_at: i64,
        kms_key_arn: String,
    }

    fn millis(t: Option<UnixMillis>) -> Option<i64> {
        t.map(|t| t.0)
    }

    fn unmillis(t: Option<i64>) -> Option<UnixMillis> {
        t.map(UnixMillis)
    }

    impl From<&SecretRecord> for Secret {
        fn from(r: &SecretRecord) -> Self {
            Self {
                arn: r.arn.clone(),
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                kms_key_id: r.kms_key_id.clone(),
                tags: r
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
                resource_policy: r.resource_policy.clone(),
                stages: r.stages.clone(),
                created_at: r.created_at.0,
                last_changed_at: r.last_changed_at.0,
                last_accessed_at: millis(r.last_accessed_at),
                deleted_at: millis(r.deleted_at),
                deletion_date: millis(r.deletion_date),
                rotation_enabled: r.rotation.enabled,
                rotation_lambda_arn: r.rotation.lambda_arn.clone(),
                rotation_automatically_after_days: r.rotation.automatically_after_days,
                rotation_duration: r.rotation.duration.clone(),
                rotation_schedule_expression: r.rotation.schedule_expression.clone(),
                last_rotated_at: millis(r.rotation.last_rotated_at),
                next_rotation_at: millis(r.rotation.next_rotation_at),
                rotation_last_failure: r.rotation.last_failure.clone(),
                rotation_job_token: r.rotation.job.as_ref().map(|j| j.token.clone()),
                rotation_job_next_step: r.rotation.job.as_ref().map(|j| j.next_step.clone()),
                primary_region: r.primary_region.clone(),
                replicas: r
                    .replicas
                    .iter()
                    .map(|x| Replica {
                        region: x.region.clone(),
                        kms_key_id: x.kms_key_id.clone(),
                        status: match x.status {
                            ReplicaStatus::InSync => Status::InSync,
                            ReplicaStatus::Failed => Status::Failed,
                            ReplicaStatus::InProgress => Status::InProgress,
                        },
                        status_message: x.status_message.clone(),
                    })
                    .collect(),
            }
        }
    }

    impl From<Secret> for SecretRecord {
        fn from(r: Secret) -> Self {
            Self {
                arn: r.arn,
                account_id: r.account_id,
                region: r.region,
                name: r.name,
                description: r.description,
                kms_key_id: r.kms_key_id,
                tags: r
                    .tags
                    .into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
                resource_policy: r.resource_policy,
                stages: r.stages,
                created_at: UnixMillis(r.created_at),
                last_changed_at: UnixMillis(r.last_changed_at),
                last_accessed_at: unmillis(r.last_accessed_at),
                deleted_at: unmillis(r.deleted_at),
                deletion_date: unmillis(r.deletion_date),
                rotation: SecretRotation {
                    enabled: r.rotation_enabled,
                    lambda_arn: r.rotation_lambda_arn,
                    automatically_after_days: r.rotation_automatically_after_days,
                    duration: r.rotation_duration,
                    schedule_expression: r.rotation_schedule_expression,
                    last_rotated_at: unmillis(r.last_rotated_at),
                    next_rotation_at: unmillis(r.next_rotation_at),
                    last_failure: r.rotation_last_failure,
                    job: r
                        .rotation_job_token
                        .zip(r.rotation_job_next_step)
                        .map(|(token, next_step)| RotationJobRecord { token, next_step }),
                },
                primary_region: r.primary_region,
                replicas: r
                    .replicas
                    .into_iter()
                    .map(|x| ReplicaRecord {
                        region: x.region,
                        kms_key_id: x.kms_key_id,
                        status: match x.status {
                            Status::InSync => ReplicaStatus::InSync,
                            Status::Failed => ReplicaStatus::Failed,
                            Status::InProgress => ReplicaStatus::InProgress,
                        },
                        status_message: x.status_message,
                    })
                    .collect(),
            }
        }
    }

    impl From<&SecretVersionRecord> for SecretVersion {
        fn from(r: &SecretVersionRecord) -> Self {
            Self {
                secret_arn: r.secret_arn.clone(),
                version_id: r.version_id.clone(),
                created_at: r.created_at.0,
                kms_key_arn: r.kms_key_arn.clone(),
            }
        }
    }

    impl SecretVersion {
        pub(super) fn into_record(
            self,
            encrypted_data_key: Vec<u8>,
            sealed_value: Vec<u8>,
        ) -> SecretVersionRecord {
            SecretVersionRecord {
                secret_arn: self.secret_arn,
                version_id: self.version_id,
                created_at: UnixMillis(self.created_at),
                kms_key_arn: self.kms_key_arn,
                encrypted_data_key,
                sealed_value,
            }
        }
    }
}
