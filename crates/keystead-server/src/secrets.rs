//! The Secrets Manager API (`secretsmanager.*`): decodes each operation's request with the
//! generated wire types, calls [`SecretsService`], and encodes the response; maps the service's
//! errors to AWS's codes in one exhaustive table; and implements [`SecretsKms`] with the KMS
//! service. Translation only: every decision is the service's.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};

use keystead_secrets::{
    CreateSecretInput, Error as SecretsError, GeneratedDataKey, KmsFailure, KmsFailureKind,
    ListFilter, PasswordRules, PutValueInput, ReplicaRequest, RotateSecretInput, RotationRules,
    SecretValue, SecretView, SecretsKms, SecretsService, StoredVersion, UpdateSecretInput,
    VersionSelector,
};
use keystead_store::{ReplicaRecord, ReplicaStatus, SecretRecord, Tag};
use keystead_types::{AccountId, Caller, Region, UnixMillis};
use keystead_wire::secretsmanager::{self as wire, ErrorCode, Operation};
use keystead_wire::{AwsError, SensitiveBlob, SensitiveString, Timestamp, Validate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::App;

/// [`SecretsKms`] over the server's KMS service. It holds the app weakly (the app owns the
/// Secrets Manager service, which owns this) and is bound once the app exists.
#[derive(Default)]
pub(crate) struct KmsBridge {
    app: OnceLock<Weak<App>>,
}

impl KmsBridge {
    /// Binds the bridge to the app; called once, right after the app is built.
    pub(crate) fn bind(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
    }

    fn app(&self) -> Result<Arc<App>, KmsFailure> {
        self.app.get().and_then(Weak::upgrade).ok_or(KmsFailure {
            kind: KmsFailureKind::Other,
            message: "KMS is not available.".to_owned(),
        })
    }
}

fn kms_failure(e: keystead_keys::Error) -> KmsFailure {
    use keystead_keys::Error as K;
    let kind = match &e {
        K::AccessDenied { .. } => KmsFailureKind::AccessDenied,
        K::KeyDisabled { .. } | K::InvalidKeyState { .. } => KmsFailureKind::KeyUnusable,
        K::KeyNotFound { .. } | K::AliasNotFound { .. } | K::InvalidKeyReference { .. } => {
            KmsFailureKind::KeyNotFound
        }
        _ => KmsFailureKind::Other,
    };
    if let K::Internal(source) = &e {
        tracing::error!(error = %source, "KMS failed for Secrets Manager");
    }
    KmsFailure {
        kind,
        message: e.to_string(),
    }
}

#[async_trait::async_trait]
impl SecretsKms for KmsBridge {
    async fn generate_data_key(
        &self,
        caller: &Caller,
        key: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<GeneratedDataKey, KmsFailure> {
        let app = self.app()?;
        let out = app
            .keys
            .generate_data_key(caller, key, 32, context)
            .map_err(kms_failure)?;
        Ok(GeneratedDataKey {
            plaintext: out.plaintext,
            ciphertext: out.ciphertext,
            key_arn: out.key_arn,
        })
    }

    async fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsFailure> {
        let app = self.app()?;
        let out = app
            .keys
            .decrypt(caller, blob, context, None, None)
            .map_err(kms_failure)?;
        Ok(out.plaintext)
    }

    async fn default_key(&self, caller: &Caller) -> Result<String, KmsFailure> {
        let app = self.app()?;
        app.keys
            .aws_managed_key(&caller.account_id, &caller.region, "secretsmanager")
            .await
            .map_err(kms_failure)
    }
}

impl keystead_secrets::IdentityPolicies for crate::UserPolicies {
    fn user_policies(&self, account: &AccountId, user_name: &str) -> Arc<[keystead_authz::Policy]> {
        self.0.user_policies(account, user_name)
    }

    fn role_policies(&self, account: &AccountId, role_name: &str) -> Arc<[keystead_authz::Policy]> {
        self.0.role_policies(account, role_name)
    }
}

/// Builds the Secrets Manager service from the store; the returned bridge must be bound to
/// the app once it exists.
pub(crate) async fn open(
    store: Arc<dyn keystead_store::Store>,
    clock: Arc<dyn keystead_types::Clock>,
    identity: Arc<keystead_identity::IdentityService>,
) -> Result<(SecretsService, Arc<KmsBridge>), Box<dyn std::error::Error + Send + Sync>> {
    let snapshot = store.load_secrets().await?;
    let bridge = Arc::new(KmsBridge::default());
    let service = SecretsService::open(snapshot, store, bridge.clone(), clock)?
        .with_identity_policies(Arc::new(crate::UserPolicies(identity)));
    Ok((service, bridge))
}

/// The AWS error a Secrets Manager domain error is reported as.
pub(crate) fn secrets_error(e: SecretsError) -> AwsError {
    let code = match &e {
        SecretsError::SecretNotFound | SecretsError::VersionNotFound { .. } => {
            ErrorCode::ResourceNotFoundException
        }
        SecretsError::SecretExists { .. } | SecretsError::VersionExists => {
            ErrorCode::ResourceExistsException
        }
        SecretsError::InvalidParameter { .. } => ErrorCode::InvalidParameterException,
        SecretsError::InvalidRequest { .. } => ErrorCode::InvalidRequestException,
        SecretsError::LimitExceeded { .. } => ErrorCode::LimitExceededException,
        SecretsError::AccessDenied { .. } => ErrorCode::AccessDeniedException,
        SecretsError::MalformedPolicy { .. } => ErrorCode::MalformedPolicyDocumentException,
        SecretsError::PublicPolicy => ErrorCode::PublicPolicyException,
        SecretsError::EncryptionFailure { .. } => ErrorCode::EncryptionFailure,
        SecretsError::DecryptionFailure { .. } => ErrorCode::DecryptionFailure,
        SecretsError::InvalidNextToken => ErrorCode::InvalidNextTokenException,
        SecretsError::Internal(source) => {
            tracing::error!(error = %source, "internal error");
            ErrorCode::InternalServiceError
        }
    };
    code.with_message(e.to_string())
}

/// Runs one Secrets Manager operation and returns the response body.
pub(crate) async fn dispatch(
    app: &App,
    caller: &Caller,
    operation: Operation,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let secrets = &app.secrets;
    match operation {
        Operation::CreateSecret => {
            let r: wire::CreateSecretRequest = parse(body)?;
            let value = value_of(r.secret_string, r.secret_binary)?;
            let replicas = replica_requests(r.add_replica_regions)?;
            let out = secrets
                .create_secret(
                    caller,
                    CreateSecretInput {
                        name: required(r.name)?,
                        description: r.description,
                        kms_key_id: r.kms_key_id,
                        value,
                        client_request_token: r.client_request_token,
                        tags: tags(r.tags),
                        replicas,
                        force_overwrite_replica_secret: r
                            .force_overwrite_replica_secret
                            .unwrap_or(false),
                    },
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::CreateSecretResponse {
                arn: Some(out.arn),
                name: Some(out.name),
                version_id: out.version_id,
                replication_status: replication_status(&out.replicas),
            })
        }
        Operation::DescribeSecret => {
            let r: wire::DescribeSecretRequest = parse(body)?;
            let view = secrets
                .describe_secret(caller, &required(r.secret_id)?)
                .map_err(secrets_error)?;
            respond(describe(&view))
        }
        Operation::GetSecretValue => {
            let r: wire::GetSecretValueRequest = parse(body)?;
            let v = secrets
                .get_secret_value(
                    caller,
                    &required(r.secret_id)?,
                    &VersionSelector {
                        version_id: r.version_id,
                        version_stage: r.version_stage,
                    },
                )
                .await
                .map_err(secrets_error)?;
            let (secret_string, secret_binary) = wire_value(v.value);
            respond(wire::GetSecretValueResponse {
                arn: Some(v.arn),
                name: Some(v.name),
                version_id: Some(v.version_id),
                version_stages: Some(v.version_stages),
                created_date: Some(timestamp(v.created_at)),
                secret_string,
                secret_binary,
            })
        }
        Operation::BatchGetSecretValue => {
            let r: wire::BatchGetSecretValueRequest = parse(body)?;
            let ids = match (r.secret_id_list, r.filters) {
                (Some(ids), None) => ids,
                (None, Some(filters)) => {
                    let page = secrets
                        .list_secrets(
                            caller,
                            &list_filters(filters),
                            false,
                            None,
                            false,
                            r.max_results,
                            r.next_token.as_deref(),
                        )
                        .map_err(secrets_error)?;
                    page.secrets.into_iter().map(|s| s.record.arn).collect()
                }
                _ => {
                    return Err(ErrorCode::InvalidParameterException
                        .with_message("Specify either SecretIdList or Filters, but not both."));
                }
            };
            let out = secrets.batch_get_secret_value(caller, &ids).await;
            respond(wire::BatchGetSecretValueResponse {
                secret_values: Some(out.values.into_iter().map(value_entry).collect()),
                errors: Some(
                    out.errors
                        .into_iter()
                        .map(|(id, e)| {
                            let e = secrets_error(e);
                            wire::APIErrorType {
                                secret_id: Some(id),
                                error_code: Some(e.code.to_owned()),
                                message: Some(e.message),
                            }
                        })
                        .collect(),
                ),
                next_token: None,
            })
        }
        Operation::PutSecretValue => {
            let r: wire::PutSecretValueRequest = parse(body)?;
            let Some(value) = value_of(r.secret_string, r.secret_binary)? else {
                return Err(ErrorCode::InvalidRequestException
                    .with_message("You must provide either SecretString or SecretBinary."));
            };
            let out = secrets
                .put_secret_value(
                    caller,
                    &required(r.secret_id)?,
                    PutValueInput {
                        value,
                        client_request_token: r.client_request_token,
                        version_stages: r.version_stages.unwrap_or_default(),
                    },
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::PutSecretValueResponse {
                arn: Some(out.arn),
                name: Some(out.name),
                version_id: Some(out.version_id),
                version_stages: Some(out.version_stages),
            })
        }
        Operation::UpdateSecret => {
            let r: wire::UpdateSecretRequest = parse(body)?;
            let value = value_of(r.secret_string, r.secret_binary)?;
            let (record, written) = secrets
                .update_secret(
                    caller,
                    &required(r.secret_id)?,
                    UpdateSecretInput {
                        description: r.description,
                        kms_key_id: r.kms_key_id,
                        value,
                        client_request_token: r.client_request_token,
                    },
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::UpdateSecretResponse {
                arn: Some(record.arn),
                name: Some(record.name),
                version_id: written.map(|w| w.version_id),
            })
        }
        Operation::ListSecrets => {
            let r: wire::ListSecretsRequest = parse(body)?;
            let descending = matches!(r.sort_order, Some(wire::SortOrderType::Desc));
            let page = secrets
                .list_secrets(
                    caller,
                    &list_filters(r.filters.unwrap_or_default()),
                    r.include_planned_deletion.unwrap_or(false),
                    r.sort_by.as_ref().map(|s| s.as_str()),
                    descending,
                    r.max_results,
                    r.next_token.as_deref(),
                )
                .map_err(secrets_error)?;
            respond(wire::ListSecretsResponse {
                secret_list: Some(page.secrets.iter().map(list_entry).collect()),
                next_token: page.next_token,
            })
        }
        Operation::ListSecretVersionIds => {
            let r: wire::ListSecretVersionIdsRequest = parse(body)?;
            let page = secrets
                .list_secret_version_ids(
                    caller,
                    &required(r.secret_id)?,
                    r.include_deprecated.unwrap_or(false),
                    r.max_results,
                    r.next_token.as_deref(),
                )
                .map_err(secrets_error)?;
            respond(wire::ListSecretVersionIdsResponse {
                arn: Some(page.arn),
                name: Some(page.name),
                next_token: page.next_token,
                versions: Some(
                    page.versions
                        .into_iter()
                        .map(|(id, stages, created, key)| wire::SecretVersionsListEntry {
                            version_id: Some(id),
                            version_stages: Some(stages),
                            created_date: Some(timestamp(created)),
                            kms_key_ids: Some(vec![key]),
                            last_accessed_date: None,
                        })
                        .collect(),
                ),
            })
        }
        Operation::UpdateSecretVersionStage => {
            let r: wire::UpdateSecretVersionStageRequest = parse(body)?;
            let (arn, name) = secrets
                .update_secret_version_stage(
                    caller,
                    &required(r.secret_id)?,
                    &required(r.version_stage)?,
                    r.remove_from_version_id.as_deref(),
                    r.move_to_version_id.as_deref(),
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::UpdateSecretVersionStageResponse {
                arn: Some(arn),
                name: Some(name),
            })
        }
        Operation::DeleteSecret => {
            let r: wire::DeleteSecretRequest = parse(body)?;
            let out = secrets
                .delete_secret(
                    caller,
                    &required(r.secret_id)?,
                    r.recovery_window_in_days,
                    r.force_delete_without_recovery.unwrap_or(false),
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::DeleteSecretResponse {
                arn: Some(out.arn),
                name: Some(out.name),
                deletion_date: Some(timestamp(out.deletion_date)),
            })
        }
        Operation::RestoreSecret => {
            let r: wire::RestoreSecretRequest = parse(body)?;
            let record = secrets
                .restore_secret(caller, &required(r.secret_id)?)
                .await
                .map_err(secrets_error)?;
            respond(wire::RestoreSecretResponse {
                arn: Some(record.arn),
                name: Some(record.name),
            })
        }
        Operation::GetRandomPassword => {
            let r: wire::GetRandomPasswordRequest = parse(body)?;
            let password = secrets
                .random_password(&PasswordRules {
                    length: r.password_length,
                    exclude_characters: r.exclude_characters.unwrap_or_default(),
                    exclude_numbers: r.exclude_numbers.unwrap_or(false),
                    exclude_punctuation: r.exclude_punctuation.unwrap_or(false),
                    exclude_uppercase: r.exclude_uppercase.unwrap_or(false),
                    exclude_lowercase: r.exclude_lowercase.unwrap_or(false),
                    include_space: r.include_space.unwrap_or(false),
                    require_each_included_type: r.require_each_included_type,
                })
                .map_err(secrets_error)?;
            respond(wire::GetRandomPasswordResponse {
                random_password: Some(SensitiveString::new(password)),
            })
        }
        Operation::TagResource => {
            let r: wire::TagResourceRequest = parse(body)?;
            secrets
                .tag_resource(caller, &required(r.secret_id)?, tags(r.tags))
                .await
                .map_err(secrets_error)?;
            Ok(b"{}".to_vec())
        }
        Operation::UntagResource => {
            let r: wire::UntagResourceRequest = parse(body)?;
            secrets
                .untag_resource(
                    caller,
                    &required(r.secret_id)?,
                    r.tag_keys.unwrap_or_default(),
                )
                .await
                .map_err(secrets_error)?;
            Ok(b"{}".to_vec())
        }
        Operation::PutResourcePolicy => {
            let r: wire::PutResourcePolicyRequest = parse(body)?;
            let record = secrets
                .put_resource_policy(
                    caller,
                    &required(r.secret_id)?,
                    required(r.resource_policy)?,
                    r.block_public_policy.unwrap_or(false),
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::PutResourcePolicyResponse {
                arn: Some(record.arn),
                name: Some(record.name),
                policy_name: None,
            })
        }
        Operation::GetResourcePolicy => {
            let r: wire::GetResourcePolicyRequest = parse(body)?;
            let record = secrets
                .resource_policy(caller, &required(r.secret_id)?)
                .map_err(secrets_error)?;
            respond(wire::GetResourcePolicyResponse {
                arn: Some(record.arn),
                name: Some(record.name),
                resource_policy: record.resource_policy,
                policy_name: None,
            })
        }
        Operation::DeleteResourcePolicy => {
            let r: wire::DeleteResourcePolicyRequest = parse(body)?;
            let record = secrets
                .delete_resource_policy(caller, &required(r.secret_id)?)
                .await
                .map_err(secrets_error)?;
            respond(wire::DeleteResourcePolicyResponse {
                arn: Some(record.arn),
                name: Some(record.name),
                policy_name: None,
            })
        }
        Operation::ValidateResourcePolicy => {
            let r: wire::ValidateResourcePolicyRequest = parse(body)?;
            let problem = secrets
                .validate_resource_policy(
                    caller,
                    r.secret_id.as_deref(),
                    &required(r.resource_policy)?,
                )
                .map_err(secrets_error)?;
            respond(wire::ValidateResourcePolicyResponse {
                policy_validation_passed: Some(problem.is_none()),
                validation_errors: Some(
                    problem
                        .into_iter()
                        .map(|message| wire::ValidationErrorsEntry {
                            check_name: Some("JSON_SYNTAX_AND_GRAMMAR".to_owned()),
                            error_message: Some(message),
                        })
                        .collect(),
                ),
            })
        }
        Operation::RotateSecret => {
            let r: wire::RotateSecretRequest = parse(body)?;
            let secret_id = required(r.secret_id)?;
            let rotate_immediately = r.rotate_immediately.unwrap_or(true);
            if let Some(lambda_arn) = &r.rotation_lambda_arn {
                app.rotation
                    .check_lambda_arn(lambda_arn, rotate_immediately)?;
            }
            let arn = secrets
                .rotation_target(caller, &secret_id)
                .map_err(secrets_error)?;
            let lambda_required = r.rotation_lambda_arn.is_none()
                && !crate::rotation::has_builtin_rotator(secrets, &arn).await;
            let started = secrets
                .rotate_secret(
                    caller,
                    &secret_id,
                    RotateSecretInput {
                        lambda_arn: r.rotation_lambda_arn,
                        rules: r.rotation_rules.map(|rules| RotationRules {
                            automatically_after_days: rules.automatically_after_days,
                            duration: rules.duration,
                            schedule_expression: rules.schedule_expression,
                        }),
                        lambda_required,
                        client_request_token: r.client_request_token,
                        rotate_immediately,
                    },
                )
                .await
                .map_err(secrets_error)?;
            if started.version_id.is_some() {
                app.rotation.spawn(&started.record.arn);
            }
            respond(wire::RotateSecretResponse {
                arn: Some(started.record.arn),
                name: Some(started.record.name),
                version_id: started.version_id,
            })
        }
        Operation::CancelRotateSecret => {
            let r: wire::CancelRotateSecretRequest = parse(body)?;
            let record = secrets
                .cancel_rotate_secret(caller, &required(r.secret_id)?)
                .await
                .map_err(secrets_error)?;
            respond(wire::CancelRotateSecretResponse {
                arn: Some(record.arn),
                name: Some(record.name),
                version_id: None,
            })
        }
        Operation::ReplicateSecretToRegions => {
            let r: wire::ReplicateSecretToRegionsRequest = parse(body)?;
            let record = secrets
                .replicate_secret_to_regions(
                    caller,
                    &required(r.secret_id)?,
                    replica_requests(r.add_replica_regions)?,
                    r.force_overwrite_replica_secret.unwrap_or(false),
                )
                .await
                .map_err(secrets_error)?;
            respond(wire::ReplicateSecretToRegionsResponse {
                arn: Some(record.arn.clone()),
                replication_status: replication_status(&record.replicas),
            })
        }
        Operation::RemoveRegionsFromReplication => {
            let r: wire::RemoveRegionsFromReplicationRequest = parse(body)?;
            let regions = r
                .remove_replica_regions
                .unwrap_or_default()
                .into_iter()
                .map(|s| region(&s))
                .collect::<Result<Vec<_>, _>>()?;
            let record = secrets
                .remove_regions_from_replication(caller, &required(r.secret_id)?, regions)
                .await
                .map_err(secrets_error)?;
            respond(wire::RemoveRegionsFromReplicationResponse {
                arn: Some(record.arn.clone()),
                replication_status: replication_status(&record.replicas),
            })
        }
        Operation::StopReplicationToReplica => {
            let r: wire::StopReplicationToReplicaRequest = parse(body)?;
            let record = secrets
                .stop_replication_to_replica(caller, &required(r.secret_id)?)
                .await
                .map_err(secrets_error)?;
            respond(wire::StopReplicationToReplicaResponse {
                arn: Some(record.arn),
            })
        }
        Operation::AssociateCrossAccountReplica
        | Operation::DisassociateCrossAccountReplica
        | Operation::ListResourcePolicies => Err(ErrorCode::InvalidRequestException.with_message(
            format!("keystead does not support {} yet.", operation.name()),
        )),
    }
}

fn describe(view: &SecretView) -> wire::DescribeSecretResponse {
    let r = &view.record;
    wire::DescribeSecretResponse {
        arn: Some(r.arn.clone()),
        name: Some(r.name.clone()),
        description: r.description.clone(),
        kms_key_id: r.kms_key_id.clone(),
        created_date: Some(timestamp(r.created_at)),
        last_changed_date: Some(timestamp(r.last_changed_at)),
        last_accessed_date: r.last_accessed_at.map(timestamp),
        deleted_date: r.deleted_at.map(timestamp),
        rotation_enabled: Some(r.rotation.enabled),
        rotation_lambda_arn: r.rotation.lambda_arn.clone(),
        rotation_rules: rotation_rules(r),
        last_rotated_date: r.rotation.last_rotated_at.map(timestamp),
        next_rotation_date: r.rotation.next_rotation_at.map(timestamp),
        tags: wire_tags(&r.tags),
        version_ids_to_stages: Some(
            view.versions_to_stages
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        primary_region: Some(
            r.primary_region
                .clone()
                .unwrap_or_else(|| r.region.clone())
                .to_string(),
        ),
        replication_status: replication_status(&r.replicas),
        ..Default::default()
    }
}

fn list_entry(view: &SecretView) -> wire::SecretListEntry {
    let d = describe(view);
    wire::SecretListEntry {
        arn: d.arn,
        name: d.name,
        description: d.description,
        kms_key_id: d.kms_key_id,
        created_date: d.created_date,
        last_changed_date: d.last_changed_date,
        last_accessed_date: d.last_accessed_date,
        deleted_date: d.deleted_date,
        rotation_enabled: d.rotation_enabled,
        rotation_lambda_arn: d.rotation_lambda_arn,
        rotation_rules: d.rotation_rules,
        last_rotated_date: d.last_rotated_date,
        next_rotation_date: d.next_rotation_date,
        tags: d.tags,
        secret_versions_to_stages: d.version_ids_to_stages,
        primary_region: d.primary_region,
        ..Default::default()
    }
}

fn rotation_rules(r: &SecretRecord) -> Option<wire::RotationRulesType> {
    let rot = &r.rotation;
    (rot.automatically_after_days.is_some()
        || rot.duration.is_some()
        || rot.schedule_expression.is_some())
    .then(|| wire::RotationRulesType {
        automatically_after_days: rot.automatically_after_days,
        duration: rot.duration.clone(),
        schedule_expression: rot.schedule_expression.clone(),
    })
}

fn replication_status(replicas: &[ReplicaRecord]) -> Option<Vec<wire::ReplicationStatusType>> {
    (!replicas.is_empty()).then(|| {
        replicas
            .iter()
            .map(|r| wire::ReplicationStatusType {
                region: Some(r.region.to_string()),
                kms_key_id: Some(
                    r.kms_key_id
                        .clone()
                        .unwrap_or_else(|| keystead_secrets::DEFAULT_KEY_ALIAS.to_owned()),
                ),
                status: Some(match r.status {
                    ReplicaStatus::InSync => wire::StatusType::InSync,
                    ReplicaStatus::Failed => wire::StatusType::Failed,
                    ReplicaStatus::InProgress => wire::StatusType::InProgress,
                }),
                status_message: r.status_message.clone(),
                last_accessed_date: None,
            })
            .collect()
    })
}

fn value_entry(v: StoredVersion) -> wire::SecretValueEntry {
    let (secret_string, secret_binary) = wire_value(v.value);
    wire::SecretValueEntry {
        arn: Some(v.arn),
        name: Some(v.name),
        version_id: Some(v.version_id),
        version_stages: Some(v.version_stages),
        created_date: Some(timestamp(v.created_at)),
        secret_string,
        secret_binary,
    }
}

fn wire_value(value: SecretValue) -> (Option<SensitiveString>, Option<SensitiveBlob>) {
    match value {
        SecretValue::String(s) => (Some(SensitiveString::new(s)), None),
        SecretValue::Binary(b) => (None, Some(SensitiveBlob::new(b))),
    }
}

/// The request's value: at most one of SecretString and SecretBinary.
fn value_of(
    string: Option<SensitiveString>,
    binary: Option<SensitiveBlob>,
) -> Result<Option<SecretValue>, AwsError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(ErrorCode::InvalidParameterException.with_message(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(s), None) => Ok(Some(SecretValue::String(s.into_inner()))),
        (None, Some(b)) => Ok(Some(SecretValue::Binary(b.into_inner()))),
        (None, None) => Ok(None),
    }
}

fn replica_requests(
    list: Option<Vec<wire::ReplicaRegionType>>,
) -> Result<Vec<ReplicaRequest>, AwsError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|r| {
            Ok(ReplicaRequest {
                region: region(&required(r.region)?)?,
                kms_key_id: r.kms_key_id,
            })
        })
        .collect()
}

fn region(text: &str) -> Result<Region, AwsError> {
    text.parse().map_err(|_| {
        ErrorCode::InvalidParameterException.with_message(format!("Invalid region {text}."))
    })
}

fn list_filters(filters: Vec<wire::Filter>) -> Vec<ListFilter> {
    filters
        .into_iter()
        .map(|f| ListFilter {
            key: f.key.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            values: f.values.unwrap_or_default(),
        })
        .collect()
}

fn tags(tags: Option<Vec<wire::Tag>>) -> Vec<Tag> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect()
}

fn wire_tags(tags: &[Tag]) -> Option<Vec<wire::Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|t| wire::Tag {
                key: Some(t.key.clone()),
                value: Some(t.value.clone()),
            })
            .collect()
    })
}

fn timestamp(t: UnixMillis) -> Timestamp {
    Timestamp::from_epoch_millis(t.0)
}

fn parse<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, AwsError> {
    keystead_wire::parse_request(body)
}

fn required<T>(value: Option<T>) -> Result<T, AwsError> {
    value.ok_or_else(|| {
        ErrorCode::InvalidParameterException.with_message("A required member is missing.")
    })
}

fn respond<T: Serialize>(response: T) -> Result<Vec<u8>, AwsError> {
    Ok(keystead_wire::to_response_body(&response))
}

/// One pass of the Secrets Manager workers: purges secrets whose recovery window has ended,
/// retries replicas whose last sync failed, and starts or resumes rotations. Errors are logged; the next pass retries.
pub(crate) async fn run_workers(app: &App) {
    match app.secrets.purge_due_secrets().await {
        Ok(purged) if !purged.is_empty() => {
            tracing::info!(
                count = purged.len(),
                "purged secrets after their recovery window"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "secret deletion worker failed; will retry"),
    }
    if let Err(e) = app.secrets.retry_failed_replicas().await {
        tracing::error!(error = %e, "secret replication worker failed; will retry");
    }
    crate::rotation::run_workers(app).await;
}
