//! RotateSecret, and what the rotation engine (`keystead-rotation`) needs from the service: the
//! secrets due for rotation, the rotations in progress (a [`RotationJobRecord`] persisted with
//! the secret after each step), and its `SecretAccess` contract (read by label or id, put the
//! `AWSPENDING` value, move `AWSCURRENT`), performed by Secrets Manager itself on a secret named
//! by ARN ([`RotationAccess`]). These act as the service on the account's behalf: there is no
//! caller to authorize (RotateSecret was authorized when rotation was turned on), and KMS is
//! called as the account's root user through `secretsmanager.REGION.amazonaws.com`.

use std::collections::BTreeMap;

use keystead_rotation::{RotationRules, Step};
use keystead_store::{RotationJobRecord, SecretRecord, SecretRotation};
use keystead_types::{Caller, UnixMillis};

use crate::error::{invalid_parameter, invalid_request};
use crate::ops::secrets::{put_record, version_token};
use crate::ops::values::{VersionSelector, apply_replica_statuses, move_label};
use crate::{
    AWSCURRENT, AWSPENDING, Error, SecretEntry, SecretValue, SecretsService, refuse_deleted,
    refuse_replica,
};

/// AWS's refusal of RotateSecret while a rotation is unfinished.
const ROTATION_UNFINISHED: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

/// What RotateSecret asks for, once the server has checked that it can run the rotator.
#[derive(Debug, Clone, Default)]
pub struct RotateSecretInput {
    /// `RotationLambdaARN`, already checked to name a rotator the server can run.
    pub lambda_arn: Option<String>,
    /// `RotationRules`; `None` keeps the stored rules.
    pub rules: Option<RotationRules>,
    /// Whether the secret needs a `RotationLambdaARN` (given now or stored before): false when
    /// a built-in rotator handles its value.
    pub lambda_required: bool,
    /// `ClientRequestToken`: the id of the version the rotation creates (a UUID if `None`).
    pub client_request_token: Option<String>,
    /// `RotateImmediately` (AWS's default is true): start a rotation now. Otherwise only the
    /// schedule is set.
    pub rotate_immediately: bool,
}

/// What RotateSecret did.
#[derive(Debug, Clone)]
pub struct RotationStarted {
    /// The secret's record after the change.
    pub record: SecretRecord,
    /// The rotation's token (the version it creates), when one was started.
    pub version_id: Option<String>,
}

/// A rotation in progress: its secret and persisted progress.
#[derive(Debug, Clone)]
pub struct RotationInProgress {
    /// The secret's ARN.
    pub arn: String,
    /// The job: token and next step.
    pub job: RotationJobRecord,
    /// The secret's rotation settings (rotator, last failure, next attempt).
    pub rotation: SecretRotation,
}

/// The time `t` as a `time` date, for schedule arithmetic.
pub fn to_datetime(t: UnixMillis) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A `time` date as milliseconds since the epoch.
pub fn from_datetime(t: time::OffsetDateTime) -> UnixMillis {
    UnixMillis(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// The rules stored in `rotation`, if any.
pub fn stored_rules(rotation: &SecretRotation) -> Option<RotationRules> {
    (rotation.automatically_after_days.is_some() || rotation.schedule_expression.is_some()).then(
        || RotationRules {
            automatically_after_days: rotation.automatically_after_days,
            duration: rotation.duration.clone(),
            schedule_expression: rotation.schedule_expression.clone(),
        },
    )
}

/// When the rotation after one at `last_rotated` (or, never rotated, counted from `now`) is due
/// under `rotation`'s rules; `None` without rules.
pub fn next_rotation_at(
    rotation: &SecretRotation,
    last_rotated: Option<UnixMillis>,
    now: UnixMillis,
) -> Option<UnixMillis> {
    let rules = stored_rules(rotation)?;
    keystead_rotation::next_rotation(&rules, last_rotated.map(to_datetime), to_datetime(now))
        .ok()
        .map(|w| from_datetime(w.start))
}

/// A secret whose rotation is due.
#[derive(Debug, Clone)]
pub struct DueRotation {
    /// The secret's ARN.
    pub arn: String,
    /// Its rotation settings (rotator, rules, dates).
    pub rotation: SecretRotation,
    /// The version labeled AWSPENDING, if a rotation was left unfinished.
    pub pending_version: Option<String>,
}

impl SecretsService {
    /// The ARN of `secret_id` if `caller` may rotate it (`secretsmanager:RotateSecret`), for
    /// the server to look at the secret before [`SecretsService::rotate_secret`].
    pub fn rotation_target(&self, caller: &Caller, secret_id: &str) -> Result<String, Error> {
        let entry = self.resolve(caller, secret_id)?;
        let _permit = self.authorize_secret(caller, &entry, "secretsmanager:RotateSecret")?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        Ok(entry.record.arn.clone())
    }

    /// RotateSecret: validates the rules, refuses while AWSPENDING is on a version other than
    /// AWSCURRENT (or a rotation is under way), stores the rotator, rules and next date, turns
    /// rotation on and, with `rotate_immediately`, persists a new rotation job (token
    /// `client_request_token` or a UUID) before returning. The caller runs the job.
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
        input: RotateSecretInput,
    ) -> Result<RotationStarted, Error> {
        if let Some(rules) = &input.rules {
            rules
                .validate()
                .map_err(|e| invalid_parameter(e.to_string()))?;
        }
        let token = input
            .rotate_immediately
            .then(|| version_token(input.client_request_token.as_deref()))
            .transpose()?;
        let now = self.now();
        if let Some(t) = &token
            && let Ok(entry) = self.resolve(caller, secret_id)
            && entry
                .record
                .rotation
                .job
                .as_ref()
                .is_some_and(|j| &j.token == t)
        {
            // A retry of the request that started this rotation (SDKs resend the same
            // ClientRequestToken): the same answer, nothing changed.
            let _permit = self.authorize_secret(caller, &entry, "secretsmanager:RotateSecret")?;
            return Ok(RotationStarted {
                record: entry.record.clone(),
                version_id: token,
            });
        }
        let existing_version = token.as_deref().is_some_and(|t| {
            self.resolve(caller, secret_id)
                .is_ok_and(|e| e.versions.contains_key(t))
        });
        if existing_version {
            return Err(invalid_parameter(
                "ClientRequestToken names a version that already exists.",
            ));
        }
        let job_token = token.clone();
        let record = self
            .change_record(
                caller,
                secret_id,
                "secretsmanager:RotateSecret",
                false,
                |r| {
                    if input.lambda_required
                        && input.lambda_arn.is_none()
                        && r.rotation.lambda_arn.is_none()
                    {
                        return Err(invalid_request(
                            "No Lambda rotation function ARN is associated with this secret.",
                        ));
                    }
                    let pending = r.stages.get(AWSPENDING);
                    if r.rotation.job.is_some()
                        || pending.is_some_and(|p| r.stages.get(AWSCURRENT) != Some(p))
                    {
                        return Err(invalid_request(ROTATION_UNFINISHED));
                    }
                    if let Some(l) = input.lambda_arn {
                        r.rotation.lambda_arn = Some(l);
                    }
                    if let Some(rules) = input.rules {
                        r.rotation.automatically_after_days = rules.automatically_after_days;
                        r.rotation.duration = rules.duration;
                        r.rotation.schedule_expression = rules.schedule_expression;
                    }
                    r.rotation.enabled = true;
                    r.rotation.next_rotation_at =
                        next_rotation_at(&r.rotation, r.rotation.last_rotated_at, now);
                    if let Some(token) = job_token {
                        // A new rotation: an earlier failure no longer delays resuming it.
                        r.rotation.last_failure = None;
                        r.rotation.job = Some(RotationJobRecord {
                            token,
                            next_step: Step::CreateSecret.as_str().to_owned(),
                        });
                    }
                    Ok(())
                },
            )
            .await?;
        Ok(RotationStarted {
            record,
            version_id: token,
        })
    }

    /// Starts a scheduled rotation of `arn` with `token` (the AWSPENDING version's id if a
    /// rotation was left there, else a new UUID), persisting the job. Returns the job, or
    /// `None` if the secret is no longer due, has a job already, or rotation was turned off.
    pub async fn start_scheduled_rotation(
        &self,
        arn: &str,
        now: UnixMillis,
    ) -> Result<Option<RotationJobRecord>, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.entry_by_arn(arn)?;
        let r = &entry.record;
        if entry.is_replica()
            || entry.is_deleted()
            || !r.rotation.enabled
            || r.rotation.job.is_some()
            || r.rotation.next_rotation_at.is_none_or(|t| t > now)
        {
            return Ok(None);
        }
        let token = match r.stages.get(AWSPENDING) {
            Some(p) if r.stages.get(AWSCURRENT) != Some(p) => p.clone(),
            _ => version_token(None)?,
        };
        let job = RotationJobRecord {
            token,
            next_step: Step::CreateSecret.as_str().to_owned(),
        };
        let mut next = SecretEntry::clone(&entry);
        next.record.rotation.job = Some(job.clone());
        next.record.rotation.last_failure = None;
        self.commit_record(next).await?;
        Ok(Some(job))
    }

    /// Records the progress of the rotation with `token`: `next_step` is the first step not
    /// done, `None` when all are. Fails with [`Error::InvalidRequest`] when that rotation is no
    /// longer the secret's job (CancelRotateSecret removed it), which stops the rotation.
    pub async fn save_rotation_progress(
        &self,
        arn: &str,
        token: &str,
        next_step: Option<Step>,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let entry = self.entry_by_arn(arn)?;
        if entry.record.rotation.job.as_ref().map(|j| j.token.as_str()) != Some(token) {
            return Err(invalid_request(
                "The rotation was cancelled or replaced; it stops here.",
            ));
        }
        let mut next = SecretEntry::clone(&entry);
        next.record.rotation.job = next_step.map(|step| RotationJobRecord {
            token: token.to_owned(),
            next_step: step.as_str().to_owned(),
        });
        self.commit_record(next).await
    }

    /// Every rotation in progress (primary secrets not scheduled for deletion with a job).
    pub fn rotations_in_progress(&self) -> Vec<RotationInProgress> {
        self.read()
            .secrets
            .values()
            .filter(|e| !e.is_replica() && !e.is_deleted())
            .filter_map(|e| {
                e.record.rotation.job.clone().map(|job| RotationInProgress {
                    arn: e.record.arn.clone(),
                    job,
                    rotation: e.record.rotation.clone(),
                })
            })
            .collect()
    }

    /// The rotation settings of `arn`.
    pub fn rotation_settings(&self, arn: &str) -> Result<SecretRotation, Error> {
        Ok(self.entry_by_arn(arn)?.record.rotation.clone())
    }

    /// Persists and publishes a primary's record (and its replicas' copies). Callers hold the
    /// writer lock.
    async fn commit_record(&self, next: SecretEntry) -> Result<(), Error> {
        let (changes, entries) = self.replicate_metadata(&next)?;
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let mut publish = vec![next];
        publish.extend(entries);
        self.commit(all, publish, Vec::new()).await
    }

    /// Primary secrets, not scheduled for deletion, with rotation on, no rotation in progress,
    /// and due at or before `now`.
    pub fn rotations_due(&self, now: UnixMillis) -> Vec<DueRotation> {
        self.read()
            .secrets
            .values()
            .filter(|e| !e.is_replica() && !e.is_deleted() && e.record.rotation.enabled)
            .filter(|e| e.record.rotation.job.is_none())
            .filter(|e| e.record.rotation.next_rotation_at.is_some_and(|t| t <= now))
            .map(|e| DueRotation {
                arn: e.record.arn.clone(),
                rotation: e.record.rotation.clone(),
                pending_version: e.record.stages.get(AWSPENDING).cloned(),
            })
            .collect()
    }

    /// The value of the version `version_id` (checked to carry `stage` when given) or, without
    /// an id, of the version carrying `stage`. `Ok(None)` when there is no such version.
    pub async fn rotation_value(
        &self,
        arn: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Option<SecretValue>, Error> {
        let entry = self.entry_by_arn(arn)?;
        let caller = Self::service_caller(&entry.record.account_id, &entry.record.region);
        let selector = VersionSelector {
            version_id: version_id.map(str::to_owned),
            version_stage: stage.map(str::to_owned),
        };
        match self.get_secret_value(&caller, arn, &selector).await {
            Ok(v) => Ok(Some(v.value)),
            Err(Error::VersionNotFound { .. } | Error::InvalidRequest { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every version's labels (DescribeSecret's `VersionIdsToStages`).
    pub fn rotation_version_stages(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, Error> {
        Ok(self.entry_by_arn(arn)?.stages_by_version())
    }

    /// Stores `value` as version `token` labeled AWSPENDING. The same value under the same
    /// token again is a no-op; another value is [`Error::VersionExists`].
    pub async fn rotation_put_pending(
        &self,
        arn: &str,
        token: &str,
        value: SecretValue,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let entry = self.entry_by_arn(arn)?;
        refuse_replica(&entry)?;
        refuse_deleted(&entry)?;
        let caller = Self::service_caller(&entry.record.account_id, &entry.record.region);
        let mut next = SecretEntry::clone(&entry);
        next.record.last_changed_at = self.now();
        self.write_version(
            &caller,
            next,
            Some(token),
            value,
            vec![AWSPENDING.to_owned()],
        )
        .await
        .map(|_| ())
    }

    /// Moves AWSCURRENT to version `token` (the old current version gets AWSPREVIOUS) and
    /// removes AWSPENDING from it. Does nothing if `token` is already AWSCURRENT.
    pub async fn rotation_finish(&self, arn: &str, token: &str) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let entry = self.entry_by_arn(arn)?;
        refuse_replica(&entry)?;
        if !entry.versions.contains_key(token) {
            return Err(Error::VersionNotFound {
                what: format!("VersionId: {token}"),
            });
        }
        let already = entry.record.stages.get(AWSCURRENT).map(String::as_str) == Some(token);
        let pending_here = entry.record.stages.get(AWSPENDING).map(String::as_str) == Some(token);
        if already && !pending_here {
            return Ok(());
        }
        let mut next = SecretEntry::clone(&entry);
        move_label(&mut next, AWSCURRENT, token);
        if pending_here {
            next.record.stages.remove(AWSPENDING);
        }
        next.record.last_changed_at = self.now();
        let caller = Self::service_caller(&entry.record.account_id, &entry.record.region);
        self.publish_with_replicas(&caller, next).await
    }

    /// Records the outcome of a rotation: on success the rotation date and the next due date
    /// (and the job is done); on failure the reason and the next attempt's date (the job stays,
    /// to be resumed then).
    pub async fn record_rotation(
        &self,
        arn: &str,
        outcome: Result<(), String>,
        next_rotation_at: Option<UnixMillis>,
    ) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let entry = self.entry_by_arn(arn)?;
        let mut next = SecretEntry::clone(&entry);
        match outcome {
            Ok(()) => {
                next.record.rotation.last_rotated_at = Some(self.now());
                next.record.rotation.last_failure = None;
                next.record.rotation.job = None;
            }
            Err(reason) => next.record.rotation.last_failure = Some(reason),
        }
        next.record.rotation.next_rotation_at = next_rotation_at;
        self.commit_record(next).await
    }

    fn entry_by_arn(&self, arn: &str) -> Result<std::sync::Arc<SecretEntry>, Error> {
        self.read()
            .secrets
            .get(arn)
            .cloned()
            .ok_or(Error::SecretNotFound)
    }

    /// Persists and publishes a label change of a primary and its replicas. Callers hold the
    /// writer lock.
    async fn publish_with_replicas(
        &self,
        caller: &Caller,
        mut next: SecretEntry,
    ) -> Result<(), Error> {
        let (changes, synced) = self.replicate_versions(caller, &next, None).await;
        apply_replica_statuses(&mut next, &synced);
        let mut all = vec![put_record(&next.record)];
        all.extend(changes);
        let mut publish = vec![next];
        publish.extend(synced.into_iter().map(|(e, _)| e));
        self.commit(all, publish, Vec::new()).await
    }
}

/// [`keystead_rotation::SecretAccess`] over the service for one rotation: the rotated secret
/// (by ARN or name) and, for the alternating-users strategy, the master secrets it names (by
/// ARN, in the same account). Any other id is refused.
pub struct RotationAccess<'a> {
    service: &'a SecretsService,
    arn: String,
    name: String,
    masters: Vec<String>,
}

impl<'a> RotationAccess<'a> {
    /// Access to the secret `arn` only.
    pub fn new(service: &'a SecretsService, arn: &str) -> Result<Self, Error> {
        let entry = service.entry_by_arn(arn)?;
        Ok(Self {
            service,
            arn: entry.record.arn.clone(),
            name: entry.record.name.clone(),
            masters: Vec::new(),
        })
    }

    /// Also allows reading the secret `master_arn` (the `masterarn` of a database secret),
    /// if it exists in the same account and region.
    pub fn with_master(mut self, master_arn: &str) -> Result<Self, Error> {
        let own = self.service.entry_by_arn(&self.arn)?;
        let master = self.service.entry_by_arn(master_arn)?;
        if master.record.account_id != own.record.account_id
            || master.record.region != own.record.region
        {
            return Err(Error::SecretNotFound);
        }
        self.masters.push(master.record.arn.clone());
        Ok(self)
    }

    /// The ARN `secret_id` stands for, if this rotation may use it.
    fn target(&self, secret_id: &str) -> Result<&str, keystead_rotation::Error> {
        if secret_id == self.arn || secret_id == self.name {
            return Ok(&self.arn);
        }
        self.masters
            .iter()
            .find(|m| m.as_str() == secret_id)
            .map(String::as_str)
            .ok_or_else(|| {
                keystead_rotation::Error::access(format!(
                    "the rotation of {} may not use secret {secret_id}",
                    self.arn
                ))
            })
    }

    /// Whether `secret_id` is the rotated secret (writes are allowed on it only).
    fn own(&self, secret_id: &str) -> Result<&str, keystead_rotation::Error> {
        let arn = self.target(secret_id)?;
        if arn != self.arn {
            return Err(keystead_rotation::Error::access(format!(
                "the rotation of {} may only read secret {secret_id}",
                self.arn
            )));
        }
        Ok(arn)
    }
}

fn as_rotation_value(value: Option<SecretValue>) -> Option<keystead_rotation::SecretValue> {
    match value {
        Some(SecretValue::String(s)) => Some(keystead_rotation::SecretValue::from(s)),
        Some(SecretValue::Binary(_)) | None => None,
    }
}

#[async_trait::async_trait]
impl keystead_rotation::SecretAccess for RotationAccess<'_> {
    async fn value_by_stage(
        &self,
        secret_id: &str,
        stage: &str,
    ) -> Result<Option<keystead_rotation::SecretValue>, keystead_rotation::Error> {
        let arn = self.target(secret_id)?;
        let value = self
            .service
            .rotation_value(arn, None, Some(stage))
            .await
            .map_err(keystead_rotation::Error::access)?;
        Ok(as_rotation_value(value))
    }

    async fn value_by_version(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: Option<&str>,
    ) -> Result<Option<keystead_rotation::SecretValue>, keystead_rotation::Error> {
        let arn = self.target(secret_id)?;
        let value = self
            .service
            .rotation_value(arn, Some(version_id), stage)
            .await
            .map_err(keystead_rotation::Error::access)?;
        Ok(as_rotation_value(value))
    }

    async fn version_stages(
        &self,
        secret_id: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, keystead_rotation::Error> {
        let arn = self.target(secret_id)?;
        self.service
            .rotation_version_stages(arn)
            .map_err(keystead_rotation::Error::access)
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &keystead_rotation::SecretValue,
    ) -> Result<(), keystead_rotation::Error> {
        let arn = self.own(secret_id)?;
        let value = SecretValue::String(zeroize::Zeroizing::new(value.expose().to_owned()));
        self.service
            .rotation_put_pending(arn, token, value)
            .await
            .map_err(keystead_rotation::Error::access)
    }

    async fn finish(&self, secret_id: &str, token: &str) -> Result<(), keystead_rotation::Error> {
        let arn = self.own(secret_id)?;
        self.service
            .rotation_finish(arn, token)
            .await
            .map_err(keystead_rotation::Error::access)
    }
}
