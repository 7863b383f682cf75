//! Values, versions and staging labels: GetSecretValue, BatchGetSecretValue, PutSecretValue,
//! ListSecretVersionIds, UpdateSecretVersionStage, and the one place a new version is written
//! (with label moves, pruning and replication).

use std::sync::Arc;

use keystead_store::SecretChange;
use keystead_types::{Caller, UnixMillis};

use crate::error::{invalid_parameter, invalid_request};
use crate::ops::secrets::{check_value, put_record, version_token};
use crate::{
    AWSCURRENT, AWSPREVIOUS, Error, MAX_VERSIONS, SecretEntry, SecretValue, SecretsService,
    refuse_deleted, refuse_replica,
};

/// Which version GetSecretValue reads.
#[derive(Debug, Clone, Default)]
pub struct VersionSelector {
    /// By id.
    pub version_id: Option<String>,
    /// By label; AWSCURRENT when neither is given.
    pub version_stage: Option<String>,
}

/// A version's value as GetSecretValue returns it.
pub struct StoredVersion {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// The version id.
    pub version_id: String,
    /// The version's labels.
    pub version_stages: Vec<String>,
    /// When the version was created.
    pub created_at: UnixMillis,
    /// The value.
    pub value: SecretValue,
}

/// What PutSecretValue was asked for.
pub struct PutValueInput {
    /// The value.
    pub value: SecretValue,
    /// The version id (ClientRequestToken).
    pub client_request_token: Option<String>,
    /// Labels for the new version; AWSCURRENT when empty.
    pub version_stages: Vec<String>,
}

/// The result of a write of a version.
#[derive(Debug, Clone)]
pub struct VersionWritten {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// The version id.
    pub version_id: String,
    /// The version's labels after the write.
    pub version_stages: Vec<String>,
}

/// One page of ListSecretVersionIds.
pub struct VersionPage {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// `(version id, labels, created, KMS key ARN)`, newest first.
    pub versions: Vec<(String, Vec<String>, UnixMillis, String)>,
    /// Where the next page starts.
    pub next_token: Option<String>,
}

/// The result of BatchGetSecretValue: values, and per-secret errors.
pub struct BatchValues {
    /// The values read.
    pub values: Vec<StoredVersion>,
    /// `(secret id, error)` for each secret that could not be read.
    pub errors: Vec<(String, Error)>,
}

impl SecretsService {
    /// GetSecretValue: served from memory; KMS decrypts the version's data key.
    pub async fn get_secret_value(
        &self,
        caller: &Caller,
        secret_id: &str,
        selector: &VersionSelector,
    ) -> Result<StoredVersion, Error> {
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:GetSecretValue")?;
        refuse_deleted(&entry)?;
        let version_id = select_version(&entry, selector)?;
        let version =
            entry
                .versions
                .get(&version_id)
                .cloned()
                .ok_or_else(|| Error::VersionNotFound {
                    what: format!("VersionId: {version_id}"),
                })?;
        let value = self
            .decrypt_version(caller, &entry.record.region, &version)
            .await?;
        Ok(StoredVersion {
            arn: entry.record.arn.clone(),
            name: entry.record.name.clone(),
            version_stages: entry
                .stages_by_version()
                .remove(&version_id)
                .unwrap_or_default(),
            version_id,
            created_at: version.created_at,
            value,
        })
    }

    /// BatchGetSecretValue by ids: the AWSCURRENT value of each; failures are reported per
    /// secret.
    pub async fn batch_get_secret_value(
        &self,
        caller: &Caller,
        secret_ids: &[String],
    ) -> BatchValues {
        let mut out = BatchValues {
            values: Vec::new(),
            errors: Vec::new(),
        };
        for id in secret_ids {
            match self
                .get_secret_value(caller, id, &VersionSelector::default())
                .await
            {
                Ok(v) => out.values.push(v),
                Err(e) => out.errors.push((id.clone(), e)),
            }
        }
        out
    }

    /// PutSecretValue: a new version with the given labels (AWSCURRENT by default).
    pub async fn put_secret_value(
        &self,
        caller: &Caller,
        secret_id: &str,
        input: PutValueInput,
    ) -> Result<VersionWritten, Error> {
        check_value(&input.value)?;
        let mut stages = input.version_stages;
        if stages.is_empty() {
            stages.push(AWSCURRENT.to_owned());
        }
        check_labels(&stages)?;
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:PutSecretValue")?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        let mut next = SecretEntry::clone(&entry);
        next.record.last_changed_at = self.now();
        self.write_version(
            caller,
            next,
            input.client_request_token.as_deref(),
            input.value,
            stages,
        )
        .await
    }

    /// ListSecretVersionIds: newest first; versions without labels only with
    /// `include_deprecated`.
    pub fn list_secret_version_ids(
        &self,
        caller: &Caller,
        secret_id: &str,
        include_deprecated: bool,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<VersionPage, Error> {
        let entry = self.resolve(caller, secret_id)?;
        let _permit =
            self.authorize_secret(caller, &entry, "secretsmanager:ListSecretVersionIds")?;
        let stages = entry.stages_by_version();
        let mut versions: Vec<_> = entry
            .versions
            .values()
            .filter(|v| include_deprecated || stages.contains_key(&v.version_id))
            .map(|v| {
                (
                    v.version_id.clone(),
                    stages.get(&v.version_id).cloned().unwrap_or_default(),
                    v.created_at,
                    v.kms_key_arn.clone(),
                )
            })
            .collect();
        versions.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let (versions, next_token) = crate::ops::list::paginate(versions, max_results, next_token)?;
        Ok(VersionPage {
            arn: entry.record.arn.clone(),
            name: entry.record.name.clone(),
            versions,
            next_token,
        })
    }

    /// UpdateSecretVersionStage: moves or removes one label.
    pub async fn update_secret_version_stage(
        &self,
        caller: &Caller,
        secret_id: &str,
        stage: &str,
        remove_from: Option<&str>,
        move_to: Option<&str>,
    ) -> Result<(String, String), Error> {
        check_labels(&[stage.to_owned()])?;
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit =
            self.authorize_secret(caller, &entry, "secretsmanager:UpdateSecretVersionStage")?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        for id in [remove_from, move_to].into_iter().flatten() {
            if !entry.versions.contains_key(id) {
                return Err(invalid_parameter(format!(
                    "The version {id} doesn't exist for the secret."
                )));
            }
        }
        let holder = entry.record.stages.get(stage).cloned();
        let mut next = SecretEntry::clone(&entry);
        match (move_to, holder.as_deref()) {
            (Some(to), Some(current)) if to == current => {}
            (Some(to), current) => {
                if current.is_some() && remove_from != current {
                    return Err(invalid_parameter(format!(
                        "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {}, so you must explicitly reference that version in RemoveFromVersionId.",
                        current.unwrap_or_default()
                    )));
                }
                move_label(&mut next, stage, to);
            }
            (None, current) => {
                let Some(from) = remove_from else {
                    return Err(invalid_parameter(
                        "You must specify MoveToVersionId, RemoveFromVersionId, or both.",
                    ));
                };
                if current != Some(from) {
                    return Err(invalid_parameter(format!(
                        "The staging label {stage} is not attached to version {from}."
                    )));
                }
                if stage == AWSCURRENT {
                    return Err(invalid_parameter(
                        "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
                    ));
                }
                next.record.stages.remove(stage);
            }
        }
        next.record.last_changed_at = self.now();
        let (changes, entries) = self.replicate_versions(caller, &next, None).await;
        apply_replica_statuses(&mut next, &entries);
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let out = (next.record.arn.clone(), next.record.name.clone());
        let mut publish = vec![next];
        publish.extend(entries.into_iter().map(|(e, _)| e));
        self.commit(all, publish, Vec::new()).await?;
        Ok(out)
    }

    /// Writes a new version of `next` (already authorized, the writer lock held): encrypts
    /// it, moves `labels` to it, prunes, replicates, persists and publishes. A retry with the
    /// same token and value is a no-op; with another value, ResourceExistsException.
    pub(crate) async fn write_version(
        &self,
        caller: &Caller,
        mut next: SecretEntry,
        token: Option<&str>,
        value: SecretValue,
        labels: Vec<String>,
    ) -> Result<VersionWritten, Error> {
        let version_id = version_token(token)?;
        if let Some(existing) = next.versions.get(&version_id).cloned() {
            let stored = self
                .decrypt_version(caller, &next.record.region, &existing)
                .await?;
            if !stored.same_as(&value) {
                return Err(Error::VersionExists);
            }
            return Ok(VersionWritten {
                arn: next.record.arn.clone(),
                name: next.record.name.clone(),
                version_stages: next
                    .stages_by_version()
                    .remove(&version_id)
                    .unwrap_or_default(),
                version_id,
            });
        }
        let version = self
            .encrypt_version(caller, &next.record, &version_id, &value, self.now())
            .await?;
        next.versions
            .insert(version_id.clone(), Arc::new(version.clone()));
        for label in &labels {
            move_label(&mut next, label, &version_id);
        }
        let pruned = prune(&mut next);
        let (changes, replicas) = self
            .replicate_versions(caller, &next, Some((&version_id, &value)))
            .await;
        apply_replica_statuses(&mut next, &replicas);
        let mut all = vec![SecretChange::Put {
            secret: next.record.clone(),
            add_versions: vec![version],
            remove_versions: pruned,
        }];
        all.extend(changes);
        let written = VersionWritten {
            arn: next.record.arn.clone(),
            name: next.record.name.clone(),
            version_stages: next
                .stages_by_version()
                .remove(&version_id)
                .unwrap_or_default(),
            version_id,
        };
        let mut publish = vec![next];
        publish.extend(replicas.into_iter().map(|(e, _)| e));
        self.commit(all, publish, Vec::new()).await?;
        Ok(written)
    }
}

/// The version a selector names.
fn select_version(entry: &SecretEntry, selector: &VersionSelector) -> Result<String, Error> {
    match (&selector.version_id, &selector.version_stage) {
        (Some(id), Some(stage)) => {
            if entry.record.stages.get(stage) != Some(id) {
                return Err(invalid_request(
                    "You provided a VersionStage that is not associated to the provided VersionId.",
                ));
            }
            Ok(id.clone())
        }
        (Some(id), None) => {
            if entry.versions.contains_key(id) {
                Ok(id.clone())
            } else {
                Err(Error::VersionNotFound {
                    what: format!("VersionId: {id}"),
                })
            }
        }
        (None, stage) => {
            let stage = stage.as_deref().unwrap_or(AWSCURRENT);
            entry
                .record
                .stages
                .get(stage)
                .cloned()
                .ok_or_else(|| Error::VersionNotFound {
                    what: format!("staging label: {stage}"),
                })
        }
    }
}

/// Moves `label` to `version_id`. Moving AWSCURRENT gives AWSPREVIOUS to the version that had
/// it, as AWS documents.
pub(crate) fn move_label(entry: &mut SecretEntry, label: &str, version_id: &str) {
    let previous = entry
        .record
        .stages
        .insert(label.to_owned(), version_id.to_owned());
    if label == AWSCURRENT
        && let Some(old) = previous.filter(|old| old != version_id)
    {
        entry.record.stages.insert(AWSPREVIOUS.to_owned(), old);
    }
}

/// Removes the oldest versions without labels while there are more than [`MAX_VERSIONS`];
/// returns their ids.
fn prune(entry: &mut SecretEntry) -> Vec<String> {
    let mut pruned = Vec::new();
    if entry.versions.len() <= MAX_VERSIONS {
        return pruned;
    }
    let labeled: std::collections::BTreeSet<&String> = entry.record.stages.values().collect();
    let mut unlabeled: Vec<(UnixMillis, String)> = entry
        .versions
        .values()
        .filter(|v| !labeled.contains(&v.version_id))
        .map(|v| (v.created_at, v.version_id.clone()))
        .collect();
    unlabeled.sort();
    let excess = entry.versions.len() - MAX_VERSIONS;
    for (_, id) in unlabeled.into_iter().take(excess) {
        pruned.push(id);
    }
    for id in &pruned {
        entry.versions.remove(id);
    }
    pruned
}

fn check_labels(labels: &[String]) -> Result<(), Error> {
    if labels.len() > 20 {
        return Err(invalid_parameter(
            "A version can have at most 20 staging labels.",
        ));
    }
    for l in labels {
        if l.is_empty() || l.len() > 256 {
            return Err(invalid_parameter(
                "A staging label must be between 1 and 256 characters.",
            ));
        }
    }
    Ok(())
}

/// Copies each replica's new status into the primary's list.
pub(crate) fn apply_replica_statuses(
    primary: &mut SecretEntry,
    replicas: &[(SecretEntry, Option<String>)],
) {
    for (replica, failure) in replicas {
        if let Some(r) = primary
            .record
            .replicas
            .iter_mut()
            .find(|r| r.region == replica.record.region)
        {
            match failure {
                None => {
                    r.status = keystead_store::ReplicaStatus::InSync;
                    r.status_message = Some("Replication succeeded".to_owned());
                }
                Some(message) => {
                    r.status = keystead_store::ReplicaStatus::Failed;
                    r.status_message = Some(message.clone());
                }
            }
        }
    }
}
