//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion, GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the
//! deletion of keys whose pending window has ended.

use std::sync::Arc;

use keystead_crypto::KeyMaterial;
use keystead_store::{KeyRecord, KeyVersionRecord, Tag};
use keystead_types::{Caller, KeyId, KeyState, key_arn};

use crate::authorization::bool_text;
use crate::key_state::{self, Use};
use crate::ops::tags::validate_tags;
use crate::pagination::{page, page_size, resume_after};
use crate::reference::Aliases;
use crate::{Error, Facts, KeyEntry, KeyService, Version, policy};

/// The only key policy name AWS supports.
const DEFAULT_POLICY_NAME: &str = "default";

/// What CreateKey was asked for, already checked against the model's shapes.
#[derive(Debug, Default, Clone)]
pub struct CreateKeyInput {
    /// The key policy; AWS's default policy when absent.
    pub policy: Option<String>,
    /// A description, up to 8192 characters.
    pub description: Option<String>,
    /// `ENCRYPT_DECRYPT` (the default) is the only usage keystead supports yet.
    pub key_usage: Option<String>,
    /// `SYMMETRIC_DEFAULT` (the default) is the only spec keystead supports yet.
    pub key_spec: Option<String>,
    /// `AWS_KMS` (the default) is the only origin keystead supports yet.
    pub origin: Option<String>,
    /// Tags to attach.
    pub tags: Vec<Tag>,
    /// Multi-Region keys are not supported yet.
    pub multi_region: bool,
    /// Skips the policy lockout safety check.
    pub bypass_policy_lockout_safety_check: bool,
}

/// One page of ListKeys.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// `(key id, key ARN)` pairs, ordered by key id.
    pub keys: Vec<(KeyId, String)>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

impl KeyService {
    /// CreateKey: a new symmetric key with one version of fresh key material.
    pub async fn create_key(
        &self,
        caller: &Caller,
        input: CreateKeyInput,
    ) -> Result<KeyRecord, Error> {
        let key_usage = input.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
        let key_spec = input.key_spec.as_deref().unwrap_or("SYMMETRIC_DEFAULT");
        let origin = input.origin.as_deref().unwrap_or("AWS_KMS");
        if key_usage != "ENCRYPT_DECRYPT" {
            return Err(Error::Unsupported {
                what: format!("KeyUsage {key_usage}"),
            });
        }
        if key_spec != "SYMMETRIC_DEFAULT" {
            return Err(Error::Unsupported {
                what: format!("KeySpec {key_spec}"),
            });
        }
        if origin != "AWS_KMS" {
            return Err(Error::Unsupported {
                what: format!("Origin {origin}"),
            });
        }
        if input.multi_region {
            return Err(Error::Unsupported {
                what: "MultiRegion".to_owned(),
            });
        }
        self.authorize_create_key(
            caller,
            Facts::default()
                .request_tags(
                    input
                        .tags
                        .iter()
                        .map(|t| (t.key.as_str(), t.value.as_str())),
                )
                .value("kms:KeySpec", key_spec)
                .value("kms:KeyUsage", key_usage)
                .value("kms:KeyOrigin", origin)
                .value(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    bool_text(input.bypass_policy_lockout_safety_check),
                ),
        )?;
        let key_id = KeyId::random();
        let policy_text = input
            .policy
            .unwrap_or_else(|| policy::default_policy(caller.account_id.as_str()));
        let compiled = policy::parse(&policy_text)?;
        self.check_principals_exist(&compiled)?;
        if !input.bypass_policy_lockout_safety_check {
            let arn = key_arn(&caller.region, &caller.account_id, &key_id);
            self.check_lockout(caller, &compiled, &arn, "kms:CreateKey")?;
        }
        validate_tags(&input.tags)?;
        let mut tags: Vec<Tag> = Vec::with_capacity(input.tags.len());
        for tag in input.tags {
            match tags.iter_mut().find(|t| t.key == tag.key) {
                Some(existing) => existing.value = tag.value,
                None => tags.push(tag),
            }
        }
        let now = self.now();
        let record = KeyRecord {
            key_id,
            account_id: caller.account_id.clone(),
            region: caller.region.clone(),
            description: input.description.unwrap_or_default(),
            key_state: KeyState::Enabled,
            key_usage: key_usage.to_owned(),
            key_spec: key_spec.to_owned(),
            origin: origin.to_owned(),
            creation_date: now,
            deletion_date: None,
            pending_deletion_window_in_days: None,
            policy: policy_text,
            tags,
            rotation: None,
            multi_region: false,
        };
        let material = KeyMaterial::generate()?;
        let version = KeyVersionRecord {
            key_id,
            version: 1,
            wrapped_material: self.seal(&material, &key_id, 1)?,
            created_at: now,
            rotation_type: None,
        };
        let _writer = self.writer.lock().await;
        self.store.create_key(&record, &version).await?;
        self.publish(KeyEntry::new(
            record.clone(),
            vec![Arc::new(Version {
                material,
                created_at: now,
                rotation_type: None,
            })],
            Arc::new(compiled),
        ));
        Ok(record)
    }

    /// DescribeKey: the key's metadata, in any state. Accepts aliases.
    pub fn describe_key(&self, caller: &Caller, key: &str) -> Result<KeyRecord, Error> {
        let entry = self.resolve(caller, key, Aliases::Accepted)?;
        let facts = Facts::default().request_alias(key);
        let _permit = self.authorize_with(caller, &entry, "kms:DescribeKey", facts)?;
        Ok(entry.record.clone())
    }

    /// ListKeys: the caller's keys in the caller's region, ordered by key id.
    pub fn list_keys(
        &self,
        caller: &Caller,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> Result<KeyPage, Error> {
        let size = page_size(limit, 100, 1000)?;
        let after = resume_after(marker)?;
        let state = self.read();
        let mine = state.keys.values().filter(|e| {
            e.record.account_id == caller.account_id && e.record.region == caller.region
        });
        let (entries, next_marker) = page(
            mine,
            |e| e.record.key_id.to_string(),
            after.as_deref(),
            size,
        );
        Ok(KeyPage {
            keys: entries
                .into_iter()
                .map(|e| (e.record.key_id, e.arn.clone()))
                .collect(),
            next_marker,
        })
    }

    /// UpdateKeyDescription.
    pub async fn update_key_description(
        &self,
        caller: &Caller,
        key: &str,
        description: String,
    ) -> Result<(), Error> {
        self.update_key(caller, key, "kms:UpdateKeyDescription", |r, arn| {
            key_state::check(r.key_state, Use::Manage, arn)?;
            r.description = description;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// EnableKey.
    pub async fn enable_key(&self, caller: &Caller, key: &str) -> Result<(), Error> {
        self.update_key(caller, key, "kms:EnableKey", |r, arn| {
            r.key_state = key_state::enable(r.key_state, arn)?;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// DisableKey.
    pub async fn disable_key(&self, caller: &Caller, key: &str) -> Result<(), Error> {
        self.update_key(caller, key, "kms:DisableKey", |r, arn| {
            r.key_state = key_state::disable(r.key_state, arn)?;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// ScheduleKeyDeletion: the key becomes PendingDeletion and is deleted when the window
    /// (7 to 30 days, default 30) ends, unless CancelKeyDeletion comes first.
    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key: &str,
        pending_window_in_days: Option<i32>,
    ) -> Result<KeyRecord, Error> {
        let days = pending_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(Error::Validation {
                message: format!(
                    "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to \
                     satisfy constraint: Member must have value between 7 and 30"
                ),
            });
        }
        let now = self.now();
        let facts = Facts::default().value(
            "kms:ScheduleKeyDeletionPendingWindowInDays",
            days.to_string(),
        );
        self.update_key_with(caller, key, "kms:ScheduleKeyDeletion", facts, |r, arn| {
            r.key_state = key_state::schedule_deletion(r.key_state, arn)?;
            r.deletion_date = Some(now.plus_days(i64::from(days)));
            r.pending_deletion_window_in_days = Some(days as u32);
            Ok(())
        })
        .await
    }

    /// CancelKeyDeletion: the key comes back Disabled.
    pub async fn cancel_key_deletion(&self, caller: &Caller, key: &str) -> Result<KeyId, Error> {
        self.update_key(caller, key, "kms:CancelKeyDeletion", |r, arn| {
            r.key_state = key_state::cancel_deletion(r.key_state, arn)?;
            r.deletion_date = None;
            r.pending_deletion_window_in_days = None;
            Ok(())
        })
        .await
        .map(|r| r.key_id)
    }

    /// GetKeyPolicy: the policy exactly as it was stored.
    pub fn key_policy(
        &self,
        caller: &Caller,
        key: &str,
        policy_name: Option<&str>,
    ) -> Result<String, Error> {
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:GetKeyPolicy")?;
        check_policy_name(policy_name)?;
        Ok(entry.record.policy.clone())
    }

    /// PutKeyPolicy. Unless `bypass_policy_lockout_safety_check`, the new policy must still let
    /// the caller call PutKeyPolicy, as AWS's lockout safety check requires.
    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        key: &str,
        policy_name: Option<&str>,
        policy_text: String,
        bypass_policy_lockout_safety_check: bool,
    ) -> Result<(), Error> {
        check_policy_name(policy_name)?;
        let compiled = policy::parse(&policy_text)?;
        self.check_principals_exist(&compiled)?;
        let facts = Facts::default().value(
            "kms:BypassPolicyLockoutSafetyCheck",
            bool_text(bypass_policy_lockout_safety_check),
        );
        self.update_key_with(caller, key, "kms:PutKeyPolicy", facts, |r, arn| {
            key_state::check(r.key_state, Use::Manage, arn)?;
            if !bypass_policy_lockout_safety_check {
                self.check_lockout(caller, &compiled, arn, "kms:PutKeyPolicy")?;
            }
            r.policy = policy_text;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// ListKeyPolicies: always `["default"]`, as in AWS.
    pub fn list_key_policies(&self, caller: &Caller, key: &str) -> Result<Vec<String>, Error> {
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:ListKeyPolicies")?;
        Ok(vec![DEFAULT_POLICY_NAME.to_owned()])
    }

    /// Deletes every key whose pending-deletion window has ended, with its versions and the
    /// aliases that point to it. Returns the ARNs of the keys deleted. Run by the deletion
    /// worker.
    pub async fn delete_due_keys(&self) -> Result<Vec<String>, Error> {
        let now = self.now();
        let due: Vec<KeyId> = self
            .read()
            .keys
            .values()
            .filter(|e| {
                e.record.key_state == KeyState::PendingDeletion
                    && e.record.deletion_date.is_some_and(|d| d <= now)
            })
            .map(|e| e.record.key_id)
            .collect();
        let mut deleted = Vec::with_capacity(due.len());
        for key_id in due {
            let _writer = self.writer.lock().await;
            // Re-check under the writer lock: CancelKeyDeletion may have won the race.
            let Some(arn) = self
                .read()
                .keys
                .get(&key_id)
                .filter(|e| {
                    e.record.key_state == KeyState::PendingDeletion
                        && e.record.deletion_date.is_some_and(|d| d <= now)
                })
                .map(|e| e.arn.clone())
            else {
                continue;
            };
            self.store.delete_key(&key_id).await?;
            self.write_state(|s| {
                s.keys.remove(&key_id);
                s.aliases.retain(|_, a| a.target_key_id != key_id);
            });
            tracing::info!(%key_id, "deleted key at the end of its pending deletion window");
            deleted.push(arn);
        }
        Ok(deleted)
    }
}

impl KeyService {
    /// AWS refuses a key policy that names an IAM principal (account, user, role) that does
    /// not exist. Without an identity source (unit tests), every principal exists.
    fn check_principals_exist(&self, proposed: &keystead_authz::Policy) -> Result<(), Error> {
        let Some(identity) = &self.identity else {
            return Ok(());
        };
        keystead_authz::check_principals_exist(proposed, |arn| identity.principal_exists(arn))
            .map_err(|e| Error::MalformedPolicy {
                reason: e.to_string(),
            })
    }

    /// AWS's policy lockout safety check: would `proposed` let the caller call PutKeyPolicy on
    /// the key later? Refused with `MalformedPolicyDocumentException` if not.
    fn check_lockout(
        &self,
        caller: &Caller,
        proposed: &keystead_authz::Policy,
        key_arn: &str,
        action: &str,
    ) -> Result<(), Error> {
        let ctx = self.request_context(caller, key_arn, &caller.account_id, action);
        let identity_policies = self.identity_policies(caller);
        keystead_authz::check_lockout_safety(proposed, &identity_policies, &ctx).map_err(|e| {
            Error::MalformedPolicy {
                reason: e.to_string(),
            }
        })
    }
}

fn check_policy_name(name: Option<&str>) -> Result<(), Error> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(()),
        Some(_) => Err(Error::Validation {
            message: "The only valid policy name is default.".to_owned(),
        }),
    }
}
