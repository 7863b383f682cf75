//! Secret lifecycle and metadata: CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret,
//! RestoreSecret, TagResource, UntagResource, Put/Get/Delete/ValidateResourcePolicy,
//! CancelRotateSecret, and the purge of secrets whose recovery
//! window has ended.

use std::collections::BTreeMap;

use keystead_store::{SecretChange, SecretRecord, SecretRotation, Tag};
use keystead_types::Caller;

use crate::error::{invalid_parameter, invalid_request};
use crate::ops::replication::ReplicaRequest;
use crate::ops::values::VersionWritten;
use crate::{
    AWSCURRENT, Error, SecretEntry, SecretValue, SecretsService, policy, refuse_deleted,
    refuse_replica,
};

/// What CreateSecret was asked for.
#[derive(Default)]
pub struct CreateSecretInput {
    /// The name, 1–512 characters of `[A-Za-z0-9/_+=.@-]`.
    pub name: String,
    /// The description.
    pub description: Option<String>,
    /// The KMS key (id, ARN, alias); `None` for `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    /// The first value, if any.
    pub value: Option<SecretValue>,
    /// The ClientRequestToken, the first version's id.
    pub client_request_token: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Regions to replicate to, each with its key.
    pub replicas: Vec<ReplicaRequest>,
    /// Whether to overwrite a secret of the same name in a replica region.
    pub force_overwrite_replica_secret: bool,
}

/// The result of CreateSecret.
pub struct SecretCreated {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// The first version's id, if a value was given.
    pub version_id: Option<String>,
    /// The replicas' status.
    pub replicas: Vec<keystead_store::ReplicaRecord>,
}

/// What UpdateSecret was asked for.
#[derive(Default)]
pub struct UpdateSecretInput {
    /// The new description.
    pub description: Option<String>,
    /// The new KMS key; versions created from now on use it.
    pub kms_key_id: Option<String>,
    /// A new value, which becomes AWSCURRENT.
    pub value: Option<SecretValue>,
    /// The new version's id.
    pub client_request_token: Option<String>,
}

/// The result of DeleteSecret.
pub struct SecretDeleted {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// When the deletion becomes final.
    pub deletion_date: keystead_types::UnixMillis,
}

/// A secret's metadata as DescribeSecret and ListSecrets show it.
#[derive(Clone, Debug)]
pub struct SecretView {
    /// The record.
    pub record: SecretRecord,
    /// Each version id with its labels (versions without labels included, with none).
    pub versions_to_stages: BTreeMap<String, Vec<String>>,
}

impl SecretEntry {
    pub(crate) fn view(&self) -> SecretView {
        let mut versions_to_stages: BTreeMap<String, Vec<String>> = self
            .versions
            .keys()
            .map(|id| (id.clone(), Vec::new()))
            .collect();
        for (version, labels) in self.stages_by_version() {
            versions_to_stages.insert(version, labels);
        }
        SecretView {
            record: self.record.clone(),
            versions_to_stages,
        }
    }
}

impl SecretsService {
    /// CreateSecret.
    pub async fn create_secret(
        &self,
        caller: &Caller,
        input: CreateSecretInput,
    ) -> Result<SecretCreated, Error> {
        check_name(&input.name)?;
        if let Some(v) = &input.value {
            check_value(v)?;
        }
        check_tags(&input.tags)?;
        let _writer = self.writer.lock().await;
        if let Ok(existing) = self.resolve(caller, &input.name) {
            if existing.is_deleted() {
                return Err(invalid_request(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.",
                ));
            }
            // An idempotent retry: same token and same value.
            if let (Some(token), Some(value)) = (&input.client_request_token, &input.value)
                && let Some(version) = existing.versions.get(token)
            {
                let stored = self
                    .decrypt_version(caller, &existing.record.region, version)
                    .await?;
                if stored.same_as(value) {
                    return Ok(SecretCreated {
                        arn: existing.record.arn.clone(),
                        name: existing.record.name.clone(),
                        version_id: Some(token.clone()),
                        replicas: existing.record.replicas.clone(),
                    });
                }
            }
            return Err(Error::SecretExists { name: input.name });
        }
        let arn = format!(
            "arn:aws:secretsmanager:{}:{}:secret:{}-{}",
            caller.region,
            caller.account_id,
            input.name,
            random_suffix()?
        );
        let now = self.now();
        let record = SecretRecord {
            arn: arn.clone(),
            account_id: caller.account_id.clone(),
            region: caller.region.clone(),
            name: input.name.clone(),
            description: input.description,
            kms_key_id: input.kms_key_id,
            tags: dedup_tags(input.tags),
            resource_policy: None,
            stages: BTreeMap::new(),
            created_at: now,
            last_changed_at: now,
            last_accessed_at: None,
            deleted_at: None,
            deletion_date: None,
            rotation: SecretRotation::default(),
            primary_region: None,
            replicas: Vec::new(),
        };
        let authorization = std::sync::Arc::new(policy::authorization_policy(&record)?);
        let _permit = self.authorize(
            caller,
            &arn,
            &caller.account_id,
            &authorization,
            "secretsmanager:CreateSecret",
        )?;
        let mut entry = SecretEntry {
            record,
            versions: BTreeMap::new(),
            authorization,
        };
        let mut version_id = None;
        let mut added = Vec::new();
        if let Some(value) = &input.value {
            let id = version_token(input.client_request_token.as_deref())?;
            let version = self
                .encrypt_version(caller, &entry.record, &id, value, now)
                .await?;
            entry
                .record
                .stages
                .insert(AWSCURRENT.to_owned(), id.clone());
            entry
                .versions
                .insert(id.clone(), std::sync::Arc::new(version.clone()));
            added.push(version);
            version_id = Some(id);
        }
        let mut replica_changes = Vec::new();
        let mut entries = Vec::new();
        let mut overwritten = Vec::new();
        if !input.replicas.is_empty() {
            // Replicas first: the primary's record lists them.
            (replica_changes, entries, overwritten) = self
                .add_replicas(
                    caller,
                    &mut entry,
                    input.replicas,
                    input.force_overwrite_replica_secret,
                    input.value.as_ref().zip(version_id.as_deref()),
                )
                .await?;
        }
        let mut changes = vec![SecretChange::Put {
            secret: entry.record.clone(),
            add_versions: added,
            remove_versions: Vec::new(),
        }];
        changes.extend(replica_changes);
        let created = SecretCreated {
            arn,
            name: entry.record.name.clone(),
            version_id,
            replicas: entry.record.replicas.clone(),
        };
        entries.insert(0, entry);
        self.commit(changes, entries, overwritten).await?;
        Ok(created)
    }

    /// DescribeSecret: metadata, in any state.
    pub fn describe_secret(&self, caller: &Caller, secret_id: &str) -> Result<SecretView, Error> {
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:DescribeSecret")?;
        Ok(entry.view())
    }

    /// UpdateSecret: description, KMS key, and optionally a new AWSCURRENT value.
    pub async fn update_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
        input: UpdateSecretInput,
    ) -> Result<(SecretRecord, Option<VersionWritten>), Error> {
        if let Some(v) = &input.value {
            check_value(v)?;
        }
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:UpdateSecret")?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        let mut next = SecretEntry::clone(&entry);
        if let Some(d) = input.description {
            next.record.description = Some(d);
        }
        if let Some(k) = input.kms_key_id {
            next.record.kms_key_id = if k.is_empty() { None } else { Some(k) };
        }
        next.record.last_changed_at = self.now();
        let Some(value) = input.value else {
            let (changes, entries) = self.replicate_metadata(&next)?;
            let mut all = vec![put_record(&next.record)];
            all.extend(changes);
            let record = next.record.clone();
            let mut publish = vec![next];
            publish.extend(entries);
            self.commit(all, publish, Vec::new()).await?;
            return Ok((record, None));
        };
        let written = self
            .write_version(
                caller,
                next,
                input.client_request_token.as_deref(),
                value,
                vec![AWSCURRENT.to_owned()],
            )
            .await?;
        let record = self.resolve(caller, secret_id)?.record.clone();
        Ok((record, Some(written)))
    }

    /// DeleteSecret: schedules deletion after `recovery_window_days` (7–30, default 30), or
    /// deletes at once with `force`.
    pub async fn delete_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
        recovery_window_days: Option<i64>,
        force: bool,
    ) -> Result<SecretDeleted, Error> {
        if force && recovery_window_days.is_some() {
            return Err(invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let days = recovery_window_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:DeleteSecret")?;
        refuse_replica(&entry)?;
        if !entry.record.replicas.is_empty() {
            return Err(invalid_request(format!(
                "You can't delete secret {} that still has replica regions [{}]",
                entry.record.name,
                entry
                    .record
                    .replicas
                    .iter()
                    .map(|r| r.region.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let now = self.now();
        if force {
            self.commit(
                vec![SecretChange::Delete {
                    arn: entry.record.arn.clone(),
                }],
                Vec::new(),
                vec![entry.record.clone()],
            )
            .await?;
            return Ok(SecretDeleted {
                arn: entry.record.arn.clone(),
                name: entry.record.name.clone(),
                deletion_date: now,
            });
        }
        if entry.is_deleted() {
            return Err(invalid_request(
                "You can't perform this operation on the secret because it was already scheduled for deletion.",
            ));
        }
        let mut next = SecretEntry::clone(&entry);
        let deletion_date = now.plus_days(days);
        next.record.deleted_at = Some(now);
        next.record.deletion_date = Some(deletion_date);
        self.commit(vec![put_record(&next.record)], vec![next], Vec::new())
            .await?;
        Ok(SecretDeleted {
            arn: entry.record.arn.clone(),
            name: entry.record.name.clone(),
            deletion_date,
        })
    }

    /// RestoreSecret: cancels a scheduled deletion.
    pub async fn restore_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> Result<SecretRecord, Error> {
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:RestoreSecret",
            true,
            |r| {
                r.deleted_at = None;
                r.deletion_date = None;
                Ok(())
            },
        )
        .await
    }

    /// TagResource: adds or replaces tags.
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        secret_id: &str,
        tags: Vec<Tag>,
    ) -> Result<(), Error> {
        check_tags(&tags)?;
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:TagResource",
            false,
            |r| {
                let mut all = std::mem::take(&mut r.tags);
                all.extend(tags);
                r.tags = dedup_tags(all);
                if r.tags.len() > 50 {
                    return Err(invalid_parameter("A secret can have at most 50 tags."));
                }
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    /// UntagResource: removes tags by key.
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        secret_id: &str,
        keys: Vec<String>,
    ) -> Result<(), Error> {
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:UntagResource",
            false,
            |r| {
                r.tags.retain(|t| !keys.contains(&t.key));
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    /// PutResourcePolicy. With `block_public_policy`, a policy that grants broad access (a
    /// wildcard principal no condition pins down) is refused with [`Error::PublicPolicy`].
    pub async fn put_resource_policy(
        &self,
        caller: &Caller,
        secret_id: &str,
        policy_text: String,
        block_public_policy: bool,
    ) -> Result<SecretRecord, Error> {
        policy::parse(&policy_text)?;
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:PutResourcePolicy",
            false,
            |r| {
                if block_public_policy && policy::grants_public_access(&policy_text) {
                    return Err(Error::PublicPolicy);
                }
                r.resource_policy = Some(policy_text);
                Ok(())
            },
        )
        .await
    }

    /// GetResourcePolicy: the policy text, if any.
    pub fn resource_policy(&self, caller: &Caller, secret_id: &str) -> Result<SecretRecord, Error> {
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:GetResourcePolicy")?;
        Ok(entry.record.clone())
    }

    /// DeleteResourcePolicy.
    pub async fn delete_resource_policy(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> Result<SecretRecord, Error> {
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:DeleteResourcePolicy",
            false,
            |r| {
                r.resource_policy = None;
                Ok(())
            },
        )
        .await
    }

    /// ValidateResourcePolicy: `Ok(None)` if it passes, else the reason.
    pub fn validate_resource_policy(
        &self,
        caller: &Caller,
        secret_id: Option<&str>,
        policy_text: &str,
    ) -> Result<Option<String>, Error> {
        if let Some(id) = secret_id {
            let entry = self.resolve(caller, id)?;
            let _permit =
                self.authorize_secret(caller, &entry, "secretsmanager:ValidateResourcePolicy")?;
        }
        match policy::parse(policy_text) {
            Ok(_) => Ok(None),
            Err(Error::MalformedPolicy { message }) => Ok(Some(message)),
            Err(other) => Err(other),
        }
    }

    /// CancelRotateSecret: turns automatic rotation off.
    pub async fn cancel_rotate_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> Result<SecretRecord, Error> {
        self.change_record(
            caller,
            secret_id,
            "secretsmanager:CancelRotateSecret",
            false,
            |r| {
                r.rotation.enabled = false;
                r.rotation.next_rotation_at = None;
                // A rotation under way stops after its current step (its progress callback
                // finds no job); AWSPENDING stays where it is, as in AWS.
                r.rotation.job = None;
                Ok(())
            },
        )
        .await
    }

    /// Deletes every secret whose recovery window has ended; returns their ARNs. Idempotent.
    pub async fn purge_due_secrets(&self) -> Result<Vec<String>, Error> {
        let now = self.now();
        let due: Vec<String> = self
            .read()
            .secrets
            .values()
            .filter(|e| e.record.deletion_date.is_some_and(|d| d <= now))
            .map(|e| e.record.arn.clone())
            .collect();
        let mut purged = Vec::new();
        for arn in due {
            let _writer = self.writer.lock().await;
            let Some(entry) = self.read().secrets.get(&arn).cloned() else {
                continue;
            };
            if entry.record.deletion_date.is_none_or(|d| d > now) {
                continue;
            }
            self.commit(
                vec![SecretChange::Delete { arn: arn.clone() }],
                Vec::new(),
                vec![entry.record.clone()],
            )
            .await?;
            purged.push(arn);
        }
        Ok(purged)
    }

    /// Applies `change` to a primary secret's record, persists and publishes it, and copies
    /// replicated metadata to its replicas. `on_deleted` allows a secret scheduled for deletion
    /// (RestoreSecret); otherwise one is refused.
    pub(crate) async fn change_record(
        &self,
        caller: &Caller,
        secret_id: &str,
        action: &'static str,
        on_deleted: bool,
        change: impl FnOnce(&mut SecretRecord) -> Result<(), Error>,
    ) -> Result<SecretRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, action)?;
        refuse_replica(&entry)?;
        if !on_deleted {
            refuse_deleted(&entry)?;
        }
        let mut next = SecretEntry::clone(&entry);
        change(&mut next.record)?;
        if next.record.resource_policy != entry.record.resource_policy {
            next.authorization = std::sync::Arc::new(policy::authorization_policy(&next.record)?);
        }
        next.record.last_changed_at = self.now();
        let (changes, entries) = self.replicate_metadata(&next)?;
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let record = next.record.clone();
        let mut publish = vec![next];
        publish.extend(entries);
        self.commit(all, publish, Vec::new()).await?;
        Ok(record)
    }
}

pub(crate) fn put_record(record: &SecretRecord) -> SecretChange {
    SecretChange::Put {
        secret: record.clone(),
        add_versions: Vec::new(),
        remove_versions: Vec::new(),
    }
}

/// AWS's six random characters after a secret's name in its ARN.
fn random_suffix() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = keystead_crypto::random_bytes(6)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// A version id: the ClientRequestToken (32–64 characters) or a fresh UUID.
pub(crate) fn version_token(token: Option<&str>) -> Result<String, Error> {
    match token {
        None => Ok(uuid::Uuid::new_v4().to_string()),
        Some(t) if (32..=64).contains(&t.len()) => Ok(t.to_owned()),
        Some(_) => Err(invalid_parameter(
            "ClientRequestToken must be between 32 and 64 characters.",
        )),
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ))
    }
}

pub(crate) fn check_value(value: &SecretValue) -> Result<(), Error> {
    if value.len() > crate::MAX_VALUE_BYTES {
        return Err(invalid_parameter(format!(
            "The secret value exceeds the maximum size of {} bytes.",
            crate::MAX_VALUE_BYTES
        )));
    }
    Ok(())
}

fn check_tags(tags: &[Tag]) -> Result<(), Error> {
    if tags.len() > 50 {
        return Err(invalid_parameter("A secret can have at most 50 tags."));
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(invalid_parameter(
                "Tag keys must be 1-128 characters and values at most 256 characters.",
            ));
        }
        if t.key.starts_with("aws:") {
            return Err(invalid_parameter("Tag keys can't start with aws:."));
        }
    }
    Ok(())
}

fn dedup_tags(tags: Vec<Tag>) -> Vec<Tag> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for tag in tags {
        match out.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => out.push(tag),
        }
    }
    out
}
