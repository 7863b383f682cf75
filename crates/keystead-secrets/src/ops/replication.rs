//! Replication to other regions: AddReplicaRegions (CreateSecret), ReplicateSecretToRegions,
//! RemoveRegionsFromReplication, StopReplicationToReplica, and keeping replicas in step with
//! their primary (every new version, label move and metadata change) and retrying failed ones.
//!
//! A replica is a secret of its own in the other region, with the primary's name and the
//! primary's ARN suffix, `primary_region` set, read-only, and its versions encrypted under that
//! region's key. Its status lives in the primary's record.

use std::collections::BTreeMap;
use std::sync::Arc;

use keystead_store::{ReplicaRecord, ReplicaStatus, SecretChange, SecretRecord};
use keystead_types::{Caller, Region};

use crate::error::{invalid_parameter, invalid_request};
use crate::ops::secrets::put_record;
use crate::ops::values::apply_replica_statuses;
use crate::{
    Error, SecretEntry, SecretValue, SecretsService, policy, refuse_deleted, refuse_replica,
};

/// One region to replicate to.
#[derive(Debug, Clone)]
pub struct ReplicaRequest {
    /// The region.
    pub region: Region,
    /// The KMS key there; `None` for that region's `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
}

/// A replica after a sync attempt, with the reason it failed, if it did.
type Synced = (SecretEntry, Option<String>);

impl SecretsService {
    /// ReplicateSecretToRegions.
    pub async fn replicate_secret_to_regions(
        &self,
        caller: &Caller,
        secret_id: &str,
        requests: Vec<ReplicaRequest>,
        force: bool,
    ) -> Result<SecretRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit =
            self.authorize_secret(caller, &entry, "secretsmanager:ReplicateSecretToRegions")?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        let mut next = SecretEntry::clone(&entry);
        let (changes, entries, overwritten) = self
            .add_replicas(caller, &mut next, requests, force, None)
            .await?;
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let record = next.record.clone();
        let mut publish = vec![next];
        publish.extend(entries);
        self.commit(all, publish, overwritten).await?;
        Ok(record)
    }

    /// RemoveRegionsFromReplication: deletes the replicas in `regions`.
    pub async fn remove_regions_from_replication(
        &self,
        caller: &Caller,
        secret_id: &str,
        regions: Vec<Region>,
    ) -> Result<SecretRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(
            caller,
            &entry,
            "secretsmanager:RemoveRegionsFromReplication",
        )?;
        refuse_replica(&entry)?;
        let mut next = SecretEntry::clone(&entry);
        let mut changes = Vec::new();
        let mut removed = Vec::new();
        for region in &regions {
            if !next.record.replicas.iter().any(|r| &r.region == region) {
                return Err(invalid_parameter(format!(
                    "Region {region} is not a replica region of this secret."
                )));
            }
            next.record.replicas.retain(|r| &r.region != region);
            if let Ok(replica) = self.replica_of(&entry.record, region) {
                changes.push(SecretChange::Delete {
                    arn: replica.record.arn.clone(),
                });
                removed.push(replica.record.clone());
            }
        }
        next.record.last_changed_at = self.now();
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let record = next.record.clone();
        self.commit(all, vec![next], removed).await?;
        Ok(record)
    }

    /// StopReplicationToReplica, called in the replica's region: promotes the replica to a
    /// standalone secret and removes it from its primary's list.
    pub async fn stop_replication_to_replica(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> Result<SecretRecord, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, secret_id)?;
        let _permit =
            self.authorize_secret(caller, &entry, "secretsmanager:StopReplicationToReplica")?;
        let Some(primary_region) = entry.record.primary_region.clone() else {
            return Err(invalid_request(
                "StopReplicationToReplica can only be called on a replica secret.",
            ));
        };
        let mut replica = SecretEntry::clone(&entry);
        replica.record.primary_region = None;
        replica.record.last_changed_at = self.now();
        let mut changes = vec![put_record(&replica.record)];
        let mut publish = vec![replica.clone()];
        let primary_arn = arn_in(&entry.record, &primary_region);
        if let Some(primary) = self.read().secrets.get(&primary_arn).cloned() {
            let mut primary = SecretEntry::clone(&primary);
            primary
                .record
                .replicas
                .retain(|r| r.region != entry.record.region);
            changes.push(put_record(&primary.record));
            publish.push(primary);
        }
        let record = replica.record.clone();
        self.commit(changes, publish, Vec::new()).await?;
        Ok(record)
    }

    /// Retries every replica whose last sync failed (its key was disabled, say), acting as the
    /// account's root user through Secrets Manager. Returns how many recovered.
    pub async fn retry_failed_replicas(&self) -> Result<usize, Error> {
        let failed: Vec<String> = self
            .read()
            .secrets
            .values()
            .filter(|e| {
                e.record
                    .replicas
                    .iter()
                    .any(|r| r.status != ReplicaStatus::InSync)
            })
            .map(|e| e.record.arn.clone())
            .collect();
        let mut recovered = 0;
        for arn in failed {
            let _writer = self.writer.lock().await;
            let Some(entry) = self.read().secrets.get(&arn).cloned() else {
                continue;
            };
            let caller = Self::service_caller(&entry.record.account_id, &entry.record.region);
            let mut next = SecretEntry::clone(&entry);
            let (changes, synced) = self.replicate_versions(&caller, &next, None).await;
            // A replica that was never created (its name was taken) has nothing to retry.
            if synced.is_empty() {
                continue;
            }
            apply_replica_statuses(&mut next, &synced);
            // Still failing the same way: nothing to write.
            if next.record == entry.record && synced.iter().all(|(_, f)| f.is_some()) {
                continue;
            }
            recovered += synced.iter().filter(|(_, f)| f.is_none()).count();
            let mut all = vec![put_record(&next.record)];
            all.extend(changes);
            let mut publish = vec![next];
            publish.extend(synced.into_iter().map(|(e, _)| e));
            self.commit(all, publish, Vec::new()).await?;
        }
        Ok(recovered)
    }

    /// Creates replicas of `primary` in the requested regions and lists them in its record.
    /// `new_value` is the value of a version just written, which need not be decrypted again.
    pub(crate) async fn add_replicas(
        &self,
        caller: &Caller,
        primary: &mut SecretEntry,
        requests: Vec<ReplicaRequest>,
        force: bool,
        new_value: Option<(&SecretValue, &str)>,
    ) -> Result<(Vec<SecretChange>, Vec<SecretEntry>, Vec<SecretRecord>), Error> {
        let mut changes = Vec::new();
        let mut entries = Vec::new();
        let mut overwritten = Vec::new();
        for request in requests {
            if request.region == primary.record.region
                || primary
                    .record
                    .replicas
                    .iter()
                    .any(|r| r.region == request.region)
            {
                return Err(invalid_parameter(format!(
                    "Invalid replica region {}: it is the primary region or already a replica.",
                    request.region
                )));
            }
            let arn = arn_in(&primary.record, &request.region);
            let mut message = None;
            let mut removed = Vec::new();
            if let Ok(existing) = self.resolve_in(
                &primary.record.account_id,
                &request.region,
                &primary.record.name,
            ) {
                if force && existing.record.primary_region.is_none() {
                    changes.push(SecretChange::Delete {
                        arn: existing.record.arn.clone(),
                    });
                    removed.push(existing.record.clone());
                } else {
                    message = Some(format!(
                        "Replication failed: Secret name {} already exists in region {}.",
                        primary.record.name, request.region
                    ));
                }
            }
            overwritten.extend(removed);
            primary.record.replicas.push(ReplicaRecord {
                region: request.region.clone(),
                kms_key_id: request.kms_key_id.clone(),
                status: ReplicaStatus::InProgress,
                status_message: None,
            });
            if let Some(message) = message {
                if let Some(r) = primary.record.replicas.last_mut() {
                    r.status = ReplicaStatus::Failed;
                    r.status_message = Some(message);
                }
                continue;
            }
            let mut record = primary.record.clone();
            record.arn = arn;
            record.region = request.region.clone();
            record.kms_key_id = request.kms_key_id.clone();
            record.primary_region = Some(primary.record.region.clone());
            record.replicas = Vec::new();
            record.resource_policy = None;
            record.stages = BTreeMap::new();
            let authorization = Arc::new(policy::authorization_policy(&record)?);
            let replica = SecretEntry {
                record,
                versions: BTreeMap::new(),
                authorization,
            };
            let (change, synced) = self
                .sync_replica(caller, primary, replica, new_value.map(|(v, id)| (id, v)))
                .await;
            apply_replica_statuses(primary, std::slice::from_ref(&synced));
            changes.push(change);
            entries.push(synced.0);
        }
        Ok((changes, entries, overwritten))
    }

    /// Brings every replica of `primary` up to date with its versions and labels.
    pub(crate) async fn replicate_versions(
        &self,
        caller: &Caller,
        primary: &SecretEntry,
        new_value: Option<(&str, &SecretValue)>,
    ) -> (Vec<SecretChange>, Vec<Synced>) {
        let mut changes = Vec::new();
        let mut synced = Vec::new();
        for r in &primary.record.replicas {
            let Ok(replica) = self.replica_of(&primary.record, &r.region) else {
                continue;
            };
            let (change, result) = self
                .sync_replica(caller, primary, SecretEntry::clone(&replica), new_value)
                .await;
            changes.push(change);
            synced.push(result);
        }
        (changes, synced)
    }

    /// Copies replicated metadata (description, tags, deletion) to every replica.
    pub(crate) fn replicate_metadata(
        &self,
        primary: &SecretEntry,
    ) -> Result<(Vec<SecretChange>, Vec<SecretEntry>), Error> {
        let mut changes = Vec::new();
        let mut entries = Vec::new();
        for r in &primary.record.replicas {
            let Ok(replica) = self.replica_of(&primary.record, &r.region) else {
                continue;
            };
            let mut replica = SecretEntry::clone(&replica);
            replica.record.description = primary.record.description.clone();
            replica.record.tags = primary.record.tags.clone();
            replica.record.rotation = primary.record.rotation.clone();
            replica.record.last_changed_at = primary.record.last_changed_at;
            changes.push(put_record(&replica.record));
            entries.push(replica);
        }
        Ok((changes, entries))
    }

    /// Makes `replica` hold every version of `primary` (encrypted under the replica's key) and
    /// the same labels. On a KMS failure the replica keeps what it had and the reason is
    /// returned.
    async fn sync_replica(
        &self,
        caller: &Caller,
        primary: &SecretEntry,
        mut replica: SecretEntry,
        new_value: Option<(&str, &SecretValue)>,
    ) -> (SecretChange, Synced) {
        let mut added = Vec::new();
        let mut failure = None;
        let missing: Vec<_> = primary
            .versions
            .values()
            .filter(|v| !replica.versions.contains_key(&v.version_id))
            .cloned()
            .collect();
        for version in missing {
            let decrypted;
            let value = match new_value {
                Some((id, value)) if id == version.version_id => value,
                _ => match self
                    .decrypt_version(caller, &primary.record.region, &version)
                    .await
                {
                    Ok(v) => {
                        decrypted = v;
                        &decrypted
                    }
                    Err(e) => {
                        failure = Some(format!("Replication failed: {e}"));
                        break;
                    }
                },
            };
            match self
                .encrypt_version(
                    caller,
                    &replica.record,
                    &version.version_id,
                    value,
                    version.created_at,
                )
                .await
            {
                Ok(record) => {
                    replica
                        .versions
                        .insert(record.version_id.clone(), Arc::new(record.clone()));
                    added.push(record);
                }
                Err(e) => {
                    failure = Some(format!("Replication failed: {e}"));
                    break;
                }
            }
        }
        let removed: Vec<String> = replica
            .versions
            .keys()
            .filter(|id| !primary.versions.contains_key(*id))
            .cloned()
            .collect();
        for id in &removed {
            replica.versions.remove(id);
        }
        // Labels follow the primary, for the versions the replica has.
        replica.record.stages = primary
            .record
            .stages
            .iter()
            .filter(|(_, v)| replica.versions.contains_key(*v))
            .map(|(l, v)| (l.clone(), v.clone()))
            .collect();
        replica.record.description = primary.record.description.clone();
        replica.record.tags = primary.record.tags.clone();
        replica.record.last_changed_at = primary.record.last_changed_at;
        let change = SecretChange::Put {
            secret: replica.record.clone(),
            add_versions: added,
            remove_versions: removed,
        };
        (change, (replica, failure))
    }

    fn replica_of(
        &self,
        primary: &SecretRecord,
        region: &Region,
    ) -> Result<Arc<SecretEntry>, Error> {
        self.read()
            .secrets
            .get(&arn_in(primary, region))
            .cloned()
            .ok_or(Error::SecretNotFound)
    }
}

/// The ARN of `record`'s counterpart in `region`: same account, name and suffix.
fn arn_in(record: &SecretRecord, region: &Region) -> String {
    let suffix = record.arn.rsplit('-').next().unwrap_or_default();
    format!(
        "arn:aws:secretsmanager:{region}:{}:secret:{}-{suffix}",
        record.account_id, record.name
    )
}
