//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! ListKeyRotations, and automatic rotation of keys whose period has elapsed.
//!
//! A rotation adds a key version; Encrypt always uses the newest, and every older version stays
//! to decrypt what it encrypted. Key ids, ARNs and aliases do not change.

use std::sync::Arc;

use keystead_crypto::KeyMaterial;
use keystead_store::{KeyVersionRecord, RotationSchedule, RotationType};
use keystead_types::{Caller, KeyId, KeyState, UnixMillis};

use crate::key_state::{self, Use};
use crate::pagination::{page, page_size, resume_after};
use crate::reference::Aliases;
use crate::{Error, Facts, KeyEntry, KeyService, Version};

/// The rotation period when EnableKeyRotation names none.
const DEFAULT_PERIOD_DAYS: u32 = 365;
/// AWS's limit on on-demand rotations of one key.
const MAX_ON_DEMAND_ROTATIONS: usize = 10;

/// GetKeyRotationStatus.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationStatus {
    /// The key ARN.
    pub key_arn: String,
    /// The schedule, when automatic rotation is enabled.
    pub schedule: Option<RotationSchedule>,
}

/// One page of ListKeyRotations: `(version, rotation date, rotation type)` of every version
/// after the first.
#[derive(Debug, Clone)]
pub struct RotationPage {
    /// The key id.
    pub key_id: KeyId,
    /// The rotations, oldest first.
    pub rotations: Vec<(u32, UnixMillis, RotationType)>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

impl KeyService {
    /// EnableKeyRotation, with a period of 90 to 2560 days (default 365).
    pub async fn enable_key_rotation(
        &self,
        caller: &Caller,
        key: &str,
        period_in_days: Option<i32>,
    ) -> Result<(), Error> {
        let period = match period_in_days {
            None => DEFAULT_PERIOD_DAYS,
            Some(days @ 90..=2560) => days as u32,
            Some(days) => {
                return Err(Error::Validation {
                    message: format!(
                        "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' \
                         failed to satisfy constraint: Member must have value between 90 and 2560"
                    ),
                });
            }
        };
        let now = self.now();
        let mut facts = Facts::default();
        if let Some(days) = period_in_days {
            facts = facts.value("kms:RotationPeriodInDays", days.to_string());
        }
        self.update_key_with(caller, key, "kms:EnableKeyRotation", facts, |r, arn| {
            key_state::check(r.key_state, Use::Rotation, arn)?;
            let keep = r
                .rotation
                .as_ref()
                .is_some_and(|s| s.period_in_days == period);
            if !keep {
                r.rotation = Some(RotationSchedule {
                    period_in_days: period,
                    next_rotation: now.plus_days(i64::from(period)),
                });
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    /// DisableKeyRotation.
    pub async fn disable_key_rotation(&self, caller: &Caller, key: &str) -> Result<(), Error> {
        self.update_key(caller, key, "kms:DisableKeyRotation", |r, arn| {
            key_state::check(r.key_state, Use::Rotation, arn)?;
            r.rotation = None;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// GetKeyRotationStatus.
    pub fn key_rotation_status(&self, caller: &Caller, key: &str) -> Result<RotationStatus, Error> {
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:GetKeyRotationStatus")?;
        Ok(RotationStatus {
            key_arn: entry.arn.clone(),
            schedule: entry.record.rotation.clone(),
        })
    }

    /// RotateKeyOnDemand: adds a version now, at most ten times per key. The automatic
    /// schedule is unchanged.
    pub async fn rotate_key_on_demand(&self, caller: &Caller, key: &str) -> Result<KeyId, Error> {
        let _writer = self.writer.lock().await;
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:RotateKeyOnDemand")?;
        key_state::check(entry.record.key_state, Use::Rotation, &entry.arn)?;
        let on_demand = entry
            .versions
            .iter()
            .filter(|v| v.rotation_type == Some(RotationType::OnDemand))
            .count();
        if on_demand >= MAX_ON_DEMAND_ROTATIONS {
            return Err(Error::LimitExceeded {
                message: format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    entry.arn
                ),
            });
        }
        self.add_version(&entry, entry.record.clone(), RotationType::OnDemand)
            .await?;
        Ok(entry.record.key_id)
    }

    /// ListKeyRotations.
    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        key: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> Result<RotationPage, Error> {
        let size = page_size(limit, 100, 1000)?;
        let after = resume_after(marker)?;
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:ListKeyRotations")?;
        let rotations = entry
            .versions
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.rotation_type.map(|t| (i as u32 + 1, v.created_at, t)));
        // Versions sort by number; the marker is the zero-padded version so that string order
        // matches numeric order.
        let (rotations, next_marker) = page(
            rotations,
            |r| format!("{:010}", r.0),
            after.as_deref(),
            size,
        );
        Ok(RotationPage {
            key_id: entry.record.key_id,
            rotations,
            next_marker,
        })
    }

    /// Rotates every enabled key whose automatic rotation is due. Returns the ARNs of the keys
    /// rotated. Run by the rotation worker.
    pub async fn rotate_due_keys(&self) -> Result<Vec<String>, Error> {
        let now = self.now();
        let is_due = |e: &KeyEntry| {
            e.record.key_state == KeyState::Enabled
                && e.record
                    .rotation
                    .as_ref()
                    .is_some_and(|s| s.next_rotation <= now)
        };
        let due: Vec<KeyId> = self
            .read()
            .keys
            .values()
            .filter(|e| is_due(e))
            .map(|e| e.record.key_id)
            .collect();
        let mut rotated = Vec::with_capacity(due.len());
        for key_id in due {
            let _writer = self.writer.lock().await;
            let Some(entry) = self.read().keys.get(&key_id).filter(|e| is_due(e)).cloned() else {
                continue;
            };
            let mut record = entry.record.clone();
            if let Some(schedule) = record.rotation.as_mut() {
                // The next rotation is one period after this one. After a long outage that is
                // counted from now, so that a key rotates once, not once per missed period.
                let period = i64::from(schedule.period_in_days);
                let next = schedule.next_rotation.plus_days(period);
                schedule.next_rotation = if next > now {
                    next
                } else {
                    now.plus_days(period)
                };
            }
            self.add_version(&entry, record, RotationType::Automatic)
                .await?;
            tracing::info!(%key_id, "rotated key on its automatic schedule");
            rotated.push(entry.arn.clone());
        }
        Ok(rotated)
    }

    /// Adds the next version of fresh material to `entry`, storing `record` with it. The caller
    /// holds the writer lock.
    async fn add_version(
        &self,
        entry: &KeyEntry,
        record: keystead_store::KeyRecord,
        rotation_type: RotationType,
    ) -> Result<(), Error> {
        let key_id = entry.record.key_id;
        let number = entry.versions.len() as u32 + 1;
        let material = KeyMaterial::generate()?;
        let now = self.now();
        let version = KeyVersionRecord {
            key_id,
            version: number,
            wrapped_material: self.seal(&material, &key_id, number)?,
            created_at: now,
            rotation_type: Some(rotation_type),
        };
        self.store.add_key_version(&record, &version).await?;
        let mut versions = entry.versions.clone();
        versions.push(Arc::new(Version {
            material,
            created_at: now,
            rotation_type: Some(rotation_type),
        }));
        self.publish(KeyEntry::new(record, versions, entry.policy.clone()));
        Ok(())
    }
}
