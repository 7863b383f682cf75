//! The KMS API (`TrentService.*`): decodes each operation's request with the generated wire
//! types, calls [`KeyService`], and encodes the response. Translation only: every decision is
//! the service's.

use std::collections::BTreeMap;

use keystead_keys::{CreateGrantInput, CreateKeyInput, GrantPage, KeyService};
use keystead_store::{GrantConstraint, GrantRecord, KeyRecord, RotationType, Tag};
use keystead_types::{Caller, KeyId, UnixMillis, key_arn};
use keystead_wire::kms::{self as wire, Operation};
use keystead_wire::{AwsError, Blob, SensitiveBlob, Timestamp, Validate};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::kms_error;

/// Runs one KMS operation and returns the response body.
pub(crate) async fn dispatch(
    keys: &KeyService,
    caller: &Caller,
    operation: Operation,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    match operation {
        Operation::CreateKey => respond(create_key(keys, caller, parse(body)?).await),
        Operation::DescribeKey => {
            let r: wire::DescribeKeyRequest = parse(body)?;
            let record = keys
                .describe_key(caller, &required(r.key_id)?)
                .map_err(kms_error)?;
            respond(Ok(wire::DescribeKeyResponse {
                key_metadata: Some(key_metadata(&record)),
            }))
        }
        Operation::ListKeys => {
            let r: wire::ListKeysRequest = parse(body)?;
            let page = keys
                .list_keys(caller, r.limit, r.marker.as_deref())
                .map_err(kms_error)?;
            respond(Ok(wire::ListKeysResponse {
                keys: Some(
                    page.keys
                        .into_iter()
                        .map(|(id, arn)| wire::KeyListEntry {
                            key_id: Some(id.to_string()),
                            key_arn: Some(arn),
                        })
                        .collect(),
                ),
                truncated: Some(page.next_marker.is_some()),
                next_marker: page.next_marker,
            }))
        }
        Operation::UpdateKeyDescription => {
            let r: wire::UpdateKeyDescriptionRequest = parse(body)?;
            let description = required(r.description)?;
            empty(
                keys.update_key_description(caller, &required(r.key_id)?, description)
                    .await,
            )
        }
        Operation::EnableKey => {
            let r: wire::EnableKeyRequest = parse(body)?;
            empty(keys.enable_key(caller, &required(r.key_id)?).await)
        }
        Operation::DisableKey => {
            let r: wire::DisableKeyRequest = parse(body)?;
            empty(keys.disable_key(caller, &required(r.key_id)?).await)
        }
        Operation::ScheduleKeyDeletion => {
            let r: wire::ScheduleKeyDeletionRequest = parse(body)?;
            let record = keys
                .schedule_key_deletion(caller, &required(r.key_id)?, r.pending_window_in_days)
                .await
                .map_err(kms_error)?;
            respond(Ok(wire::ScheduleKeyDeletionResponse {
                key_id: Some(arn_of(&record)),
                deletion_date: record.deletion_date.map(timestamp),
                key_state: Some(wire::KeyState::PendingDeletion),
                pending_window_in_days: record.pending_deletion_window_in_days.map(|d| d as i32),
            }))
        }
        Operation::CancelKeyDeletion => {
            let r: wire::CancelKeyDeletionRequest = parse(body)?;
            let key_id = keys
                .cancel_key_deletion(caller, &required(r.key_id)?)
                .await
                .map_err(kms_error)?;
            respond(Ok(wire::CancelKeyDeletionResponse {
                key_id: Some(arn_in(caller, &key_id)),
            }))
        }
        Operation::Encrypt => {
            let r: wire::EncryptRequest = parse(body)?;
            let plaintext = required(r.plaintext)?;
            let out = keys
                .encrypt(
                    caller,
                    &required(r.key_id)?,
                    plaintext.expose(),
                    &context(r.encryption_context),
                    r.encryption_algorithm.as_ref().map(|a| a.as_str()),
                )
                .map_err(kms_error)?;
            dry_run(r.dry_run)?;
            respond(Ok(wire::EncryptResponse {
                ciphertext_blob: Some(Blob::new(out.ciphertext)),
                encryption_algorithm: Some(wire::EncryptionAlgorithmSpec::SymmetricDefault),
                key_id: Some(out.key_arn),
            }))
        }
        Operation::Decrypt => {
            let r: wire::DecryptRequest = parse(body)?;
            no_recipient(r.recipient.is_some())?;
            let out = keys
                .decrypt(
                    caller,
                    required(r.ciphertext_blob)?.as_bytes(),
                    &context(r.encryption_context),
                    r.key_id.as_deref(),
                    r.encryption_algorithm.as_ref().map(|a| a.as_str()),
                )
                .map_err(kms_error)?;
            dry_run(r.dry_run)?;
            respond(Ok(wire::DecryptResponse {
                plaintext: Some(SensitiveBlob::new(out.plaintext)),
                encryption_algorithm: Some(wire::EncryptionAlgorithmSpec::SymmetricDefault),
                key_id: Some(out.key_arn),
                ..Default::default()
            }))
        }
        Operation::ReEncrypt => {
            let r: wire::ReEncryptRequest = parse(body)?;
            let out = keys
                .re_encrypt(
                    caller,
                    required(r.ciphertext_blob)?.as_bytes(),
                    &context(r.source_encryption_context),
                    r.source_key_id.as_deref(),
                    r.source_encryption_algorithm.as_ref().map(|a| a.as_str()),
                    &required(r.destination_key_id)?,
                    &context(r.destination_encryption_context),
                    r.destination_encryption_algorithm
                        .as_ref()
                        .map(|a| a.as_str()),
                )
                .map_err(kms_error)?;
            dry_run(r.dry_run)?;
            respond(Ok(wire::ReEncryptResponse {
                ciphertext_blob: Some(Blob::new(out.ciphertext)),
                source_key_id: Some(out.source_key_arn),
                key_id: Some(out.key_arn),
                source_encryption_algorithm: Some(wire::EncryptionAlgorithmSpec::SymmetricDefault),
                destination_encryption_algorithm: Some(
                    wire::EncryptionAlgorithmSpec::SymmetricDefault,
                ),
                ..Default::default()
            }))
        }
        Operation::GenerateDataKey => {
            let r: wire::GenerateDataKeyRequest = parse(body)?;
            no_recipient(r.recipient.is_some())?;
            let length = data_key_length(r.key_spec.as_ref(), r.number_of_bytes)?;
            let out = keys
                .generate_data_key(
                    caller,
                    &required(r.key_id)?,
                    length,
                    &context(r.encryption_context),
                )
                .map_err(kms_error)?;
            dry_run(r.dry_run)?;
            respond(Ok(wire::GenerateDataKeyResponse {
                ciphertext_blob: Some(Blob::new(out.ciphertext)),
                plaintext: Some(SensitiveBlob::new(out.plaintext)),
                key_id: Some(out.key_arn),
                ..Default::default()
            }))
        }
        Operation::GenerateDataKeyWithoutPlaintext => {
            let r: wire::GenerateDataKeyWithoutPlaintextRequest = parse(body)?;
            let length = data_key_length(r.key_spec.as_ref(), r.number_of_bytes)?;
            let out = keys
                .generate_data_key_without_plaintext(
                    caller,
                    &required(r.key_id)?,
                    length,
                    &context(r.encryption_context),
                )
                .map_err(kms_error)?;
            dry_run(r.dry_run)?;
            respond(Ok(wire::GenerateDataKeyWithoutPlaintextResponse {
                ciphertext_blob: Some(Blob::new(out.ciphertext)),
                key_id: Some(out.key_arn),
                ..Default::default()
            }))
        }
        Operation::GenerateRandom => {
            let r: wire::GenerateRandomRequest = parse(body)?;
            no_recipient(r.recipient.is_some())?;
            if r.custom_key_store_id.is_some() {
                return Err(AwsError::new(
                    "CustomKeyStoreNotFoundException",
                    400,
                    "keystead has no custom key stores.",
                ));
            }
            let n = r
                .number_of_bytes
                .ok_or_else(|| validation("NumberOfBytes is required."))?;
            let bytes = keys.generate_random(n as usize).map_err(kms_error)?;
            respond(Ok(wire::GenerateRandomResponse {
                plaintext: Some(SensitiveBlob::new(bytes)),
                ..Default::default()
            }))
        }
        Operation::CreateAlias => {
            let r: wire::CreateAliasRequest = parse(body)?;
            empty(
                keys.create_alias(
                    caller,
                    &required(r.alias_name)?,
                    &required(r.target_key_id)?,
                )
                .await,
            )
        }
        Operation::UpdateAlias => {
            let r: wire::UpdateAliasRequest = parse(body)?;
            empty(
                keys.update_alias(
                    caller,
                    &required(r.alias_name)?,
                    &required(r.target_key_id)?,
                )
                .await,
            )
        }
        Operation::DeleteAlias => {
            let r: wire::DeleteAliasRequest = parse(body)?;
            empty(keys.delete_alias(caller, &required(r.alias_name)?).await)
        }
        Operation::ListAliases => {
            let r: wire::ListAliasesRequest = parse(body)?;
            let page = keys
                .list_aliases(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())
                .map_err(kms_error)?;
            respond(Ok(wire::ListAliasesResponse {
                aliases: Some(
                    page.aliases
                        .into_iter()
                        .map(|a| wire::AliasListEntry {
                            alias_arn: Some(keystead_types::alias_arn(
                                &a.region,
                                &a.account_id,
                                &a.alias_name,
                            )),
                            alias_name: Some(a.alias_name),
                            target_key_id: Some(a.target_key_id.to_string()),
                            creation_date: Some(timestamp(a.creation_date)),
                            last_updated_date: Some(timestamp(a.last_updated_date)),
                        })
                        .collect(),
                ),
                truncated: Some(page.next_marker.is_some()),
                next_marker: page.next_marker,
            }))
        }
        Operation::TagResource => {
            let r: wire::TagResourceRequest = parse(body)?;
            let tags = tags(required(r.tags)?);
            empty(keys.tag_resource(caller, &required(r.key_id)?, tags).await)
        }
        Operation::UntagResource => {
            let r: wire::UntagResourceRequest = parse(body)?;
            let tag_keys = required(r.tag_keys)?;
            empty(
                keys.untag_resource(caller, &required(r.key_id)?, &tag_keys)
                    .await,
            )
        }
        Operation::ListResourceTags => {
            let r: wire::ListResourceTagsRequest = parse(body)?;
            let page = keys
                .list_resource_tags(caller, &required(r.key_id)?, r.limit, r.marker.as_deref())
                .map_err(kms_error)?;
            respond(Ok(wire::ListResourceTagsResponse {
                tags: Some(
                    page.tags
                        .into_iter()
                        .map(|t| wire::Tag {
                            tag_key: Some(t.key),
                            tag_value: Some(t.value),
                        })
                        .collect(),
                ),
                truncated: Some(page.next_marker.is_some()),
                next_marker: page.next_marker,
            }))
        }
        Operation::EnableKeyRotation => {
            let r: wire::EnableKeyRotationRequest = parse(body)?;
            empty(
                keys.enable_key_rotation(caller, &required(r.key_id)?, r.rotation_period_in_days)
                    .await,
            )
        }
        Operation::DisableKeyRotation => {
            let r: wire::DisableKeyRotationRequest = parse(body)?;
            empty(
                keys.disable_key_rotation(caller, &required(r.key_id)?)
                    .await,
            )
        }
        Operation::GetKeyRotationStatus => {
            let r: wire::GetKeyRotationStatusRequest = parse(body)?;
            let status = keys
                .key_rotation_status(caller, &required(r.key_id)?)
                .map_err(kms_error)?;
            respond(Ok(wire::GetKeyRotationStatusResponse {
                key_id: Some(status.key_arn),
                key_rotation_enabled: Some(status.schedule.is_some()),
                rotation_period_in_days: status.schedule.as_ref().map(|s| s.period_in_days as i32),
                next_rotation_date: status.schedule.as_ref().map(|s| timestamp(s.next_rotation)),
                on_demand_rotation_start_date: None,
            }))
        }
        Operation::RotateKeyOnDemand => {
            let r: wire::RotateKeyOnDemandRequest = parse(body)?;
            let key_id = keys
                .rotate_key_on_demand(caller, &required(r.key_id)?)
                .await
                .map_err(kms_error)?;
            respond(Ok(wire::RotateKeyOnDemandResponse {
                key_id: Some(key_id.to_string()),
            }))
        }
        Operation::ListKeyRotations => {
            let r: wire::ListKeyRotationsRequest = parse(body)?;
            let page = keys
                .list_key_rotations(caller, &required(r.key_id)?, r.limit, r.marker.as_deref())
                .map_err(kms_error)?;
            let key_id = page.key_id.to_string();
            respond(Ok(wire::ListKeyRotationsResponse {
                rotations: Some(
                    page.rotations
                        .into_iter()
                        .map(|(_, date, kind)| wire::RotationsListEntry {
                            key_id: Some(key_id.clone()),
                            rotation_date: Some(timestamp(date)),
                            rotation_type: Some(match kind {
                                RotationType::Automatic => wire::RotationType::Automatic,
                                RotationType::OnDemand => wire::RotationType::OnDemand,
                            }),
                            ..Default::default()
                        })
                        .collect(),
                ),
                truncated: Some(page.next_marker.is_some()),
                next_marker: page.next_marker,
            }))
        }
        Operation::GetKeyPolicy => {
            let r: wire::GetKeyPolicyRequest = parse(body)?;
            let policy = keys
                .key_policy(caller, &required(r.key_id)?, r.policy_name.as_deref())
                .map_err(kms_error)?;
            respond(Ok(wire::GetKeyPolicyResponse {
                policy: Some(policy),
                policy_name: Some("default".to_owned()),
            }))
        }
        Operation::PutKeyPolicy => {
            let r: wire::PutKeyPolicyRequest = parse(body)?;
            let policy = required(r.policy)?;
            empty(
                keys.put_key_policy(
                    caller,
                    &required(r.key_id)?,
                    r.policy_name.as_deref(),
                    policy,
                    r.bypass_policy_lockout_safety_check.unwrap_or(false),
                )
                .await,
            )
        }
        Operation::ListKeyPolicies => {
            let r: wire::ListKeyPoliciesRequest = parse(body)?;
            let names = keys
                .list_key_policies(caller, &required(r.key_id)?)
                .map_err(kms_error)?;
            respond(Ok(wire::ListKeyPoliciesResponse {
                policy_names: Some(names),
                truncated: Some(false),
                next_marker: None,
            }))
        }
        Operation::CreateGrant => {
            let r: wire::CreateGrantRequest = parse(body)?;
            if r.grantee_service_principal.is_some() || r.retiring_service_principal.is_some() {
                return Err(unsupported("service principals in grants"));
            }
            let input = CreateGrantInput {
                key: required(r.key_id)?,
                grantee_principal: required(r.grantee_principal)?,
                operations: required(r.operations)?
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect(),
                retiring_principal: r.retiring_principal,
                constraints: grant_constraint(r.constraints)?,
                name: r.name,
                dry_run: r.dry_run.unwrap_or(false),
            };
            let created = keys.create_grant(caller, input).await.map_err(kms_error)?;
            respond(Ok(wire::CreateGrantResponse {
                grant_id: Some(created.grant_id),
                grant_token: Some(created.grant_token),
            }))
        }
        Operation::ListGrants => {
            let r: wire::ListGrantsRequest = parse(body)?;
            if r.grantee_service_principal.is_some() {
                return Err(unsupported("service principals in grants"));
            }
            let page = keys
                .list_grants(
                    caller,
                    &required(r.key_id)?,
                    r.limit,
                    r.marker.as_deref(),
                    r.grant_id.as_deref(),
                    r.grantee_principal.as_deref(),
                )
                .map_err(kms_error)?;
            respond(Ok(grant_list(page)))
        }
        Operation::ListRetirableGrants => {
            let r: wire::ListRetirableGrantsRequest = parse(body)?;
            if r.retiring_service_principal.is_some() {
                return Err(unsupported("service principals in grants"));
            }
            let page = keys
                .list_retirable_grants(
                    caller,
                    &required(r.retiring_principal)?,
                    r.limit,
                    r.marker.as_deref(),
                )
                .map_err(kms_error)?;
            respond(Ok(grant_list(page)))
        }
        Operation::RetireGrant => {
            let r: wire::RetireGrantRequest = parse(body)?;
            empty(
                keys.retire_grant(
                    caller,
                    r.grant_token.as_deref(),
                    r.key_id.as_deref(),
                    r.grant_id.as_deref(),
                    r.dry_run.unwrap_or(false),
                )
                .await,
            )
        }
        Operation::RevokeGrant => {
            let r: wire::RevokeGrantRequest = parse(body)?;
            let grant_id = required(r.grant_id)?;
            empty(
                keys.revoke_grant(
                    caller,
                    &required(r.key_id)?,
                    &grant_id,
                    r.dry_run.unwrap_or(false),
                )
                .await,
            )
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            400,
            format!("keystead does not support {} yet.", other.name()),
        )),
    }
}

async fn create_key(
    keys: &KeyService,
    caller: &Caller,
    r: wire::CreateKeyRequest,
) -> Result<wire::CreateKeyResponse, AwsError> {
    if r.custom_key_store_id.is_some() || r.xks_key_id.is_some() {
        return Err(AwsError::new(
            "CustomKeyStoreNotFoundException",
            400,
            "keystead has no custom key stores.",
        ));
    }
    if r.key_spec.is_some() && r.customer_master_key_spec.is_some() {
        return Err(validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.",
        ));
    }
    let key_spec = r
        .key_spec
        .map(|s| s.as_str().to_owned())
        .or(r.customer_master_key_spec.map(|s| s.as_str().to_owned()));
    let record = keys
        .create_key(
            caller,
            CreateKeyInput {
                policy: r.policy,
                description: r.description,
                key_usage: r.key_usage.map(|u| u.as_str().to_owned()),
                key_spec,
                origin: r.origin.map(|o| o.as_str().to_owned()),
                tags: tags(r.tags.unwrap_or_default()),
                multi_region: r.multi_region.unwrap_or(false),
                bypass_policy_lockout_safety_check: r
                    .bypass_policy_lockout_safety_check
                    .unwrap_or(false),
            },
        )
        .await
        .map_err(kms_error)?;
    Ok(wire::CreateKeyResponse {
        key_metadata: Some(key_metadata(&record)),
    })
}

/// A grant constraint from the wire: at most one of the two maps, and no `SourceArn`.
fn grant_constraint(
    c: Option<wire::GrantConstraints>,
) -> Result<Option<GrantConstraint>, AwsError> {
    let Some(c) = c else {
        return Ok(None);
    };
    if c.source_arn.is_some() {
        return Err(unsupported("the SourceArn grant constraint"));
    }
    match (c.encryption_context_equals, c.encryption_context_subset) {
        (None, None) => Ok(None),
        (Some(m), None) => Ok(Some(GrantConstraint::EncryptionContextEquals(m))),
        (None, Some(m)) => Ok(Some(GrantConstraint::EncryptionContextSubset(m))),
        (Some(_), Some(_)) => Err(validation(
            "You cannot specify both EncryptionContextEquals and EncryptionContextSubset.",
        )),
    }
}

/// A page of grants as ListGrants and ListRetirableGrants return it.
fn grant_list(page: GrantPage) -> wire::ListGrantsResponse {
    wire::ListGrantsResponse {
        grants: Some(page.grants.iter().map(grant_entry).collect()),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    }
}

/// A grant as AWS lists it.
fn grant_entry(g: &GrantRecord) -> wire::GrantListEntry {
    wire::GrantListEntry {
        key_id: Some(key_arn(&g.region, &g.account_id, &g.key_id)),
        grant_id: Some(g.grant_id.clone()),
        name: g.name.clone(),
        creation_date: Some(timestamp(g.creation_date)),
        grantee_principal: Some(g.grantee_principal.clone()),
        retiring_principal: g.retiring_principal.clone(),
        issuing_account: Some(format!("arn:aws:iam::{}:root", g.issuing_account)),
        operations: Some(
            g.operations
                .iter()
                .map(|o| wire::GrantOperation::from_wire(o))
                .collect(),
        ),
        constraints: g.constraints.as_ref().map(|c| match c {
            GrantConstraint::EncryptionContextEquals(m) => wire::GrantConstraints {
                encryption_context_equals: Some(m.clone()),
                ..Default::default()
            },
            GrantConstraint::EncryptionContextSubset(m) => wire::GrantConstraints {
                encryption_context_subset: Some(m.clone()),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

fn unsupported(what: &str) -> AwsError {
    AwsError::new(
        "UnsupportedOperationException",
        400,
        format!("keystead does not support {what} yet."),
    )
}

/// A record as AWS describes a key.
fn key_metadata(r: &KeyRecord) -> wire::KeyMetadata {
    let pending = r.key_state == keystead_types::KeyState::PendingDeletion;
    wire::KeyMetadata {
        aws_account_id: Some(r.account_id.to_string()),
        key_id: Some(r.key_id.to_string()),
        arn: Some(arn_of(r)),
        creation_date: Some(timestamp(r.creation_date)),
        enabled: Some(r.key_state == keystead_types::KeyState::Enabled),
        description: Some(r.description.clone()),
        key_usage: Some(wire::KeyUsageType::from_wire(&r.key_usage)),
        key_state: Some(wire::KeyState::from_wire(r.key_state.as_str())),
        deletion_date: r.deletion_date.filter(|_| pending).map(timestamp),
        pending_deletion_window_in_days: r
            .pending_deletion_window_in_days
            .filter(|_| pending)
            .map(|d| d as i32),
        origin: Some(wire::OriginType::from_wire(&r.origin)),
        key_manager: Some(wire::KeyManagerType::Customer),
        customer_master_key_spec: Some(wire::CustomerMasterKeySpec::from_wire(&r.key_spec)),
        key_spec: Some(wire::KeySpec::from_wire(&r.key_spec)),
        encryption_algorithms: Some(vec![wire::EncryptionAlgorithmSpec::SymmetricDefault]),
        multi_region: Some(r.multi_region),
        ..Default::default()
    }
}

fn arn_of(r: &KeyRecord) -> String {
    key_arn(&r.region, &r.account_id, &r.key_id)
}

fn arn_in(caller: &Caller, key_id: &KeyId) -> String {
    key_arn(&caller.region, &caller.account_id, key_id)
}

fn timestamp(t: UnixMillis) -> Timestamp {
    Timestamp(t.as_epoch_seconds())
}

fn tags(tags: Vec<wire::Tag>) -> Vec<Tag> {
    tags.into_iter()
        .map(|t| Tag {
            key: t.tag_key.unwrap_or_default(),
            value: t.tag_value.unwrap_or_default(),
        })
        .collect()
}

fn context(c: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    c.unwrap_or_default()
}

/// The data key length GenerateDataKey* asks for: exactly one of KeySpec and NumberOfBytes.
fn data_key_length(
    spec: Option<&wire::DataKeySpec>,
    number_of_bytes: Option<i32>,
) -> Result<usize, AwsError> {
    match (spec, number_of_bytes) {
        (Some(wire::DataKeySpec::Aes256), None) => Ok(32),
        (Some(wire::DataKeySpec::Aes128), None) => Ok(16),
        (None, Some(n)) if n >= 1 => Ok(n as usize),
        _ => Err(validation(
            "Please specify either number of bytes or key spec.",
        )),
    }
}

fn dry_run(flag: Option<bool>) -> Result<(), AwsError> {
    if flag == Some(true) {
        Err(AwsError::new(
            "DryRunOperationException",
            412,
            "The request would have succeeded, but the DryRun option is set.",
        ))
    } else {
        Ok(())
    }
}

fn no_recipient(given: bool) -> Result<(), AwsError> {
    if given {
        Err(AwsError::new(
            "UnsupportedOperationException",
            400,
            "keystead does not support Recipient (Nitro Enclaves attestation).",
        ))
    } else {
        Ok(())
    }
}

fn parse<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, AwsError> {
    keystead_wire::parse_request(body)
}

/// A required member. Validation has already refused a missing one; this turns the
/// impossible case into the same error instead of a panic.
fn required<T>(value: Option<T>) -> Result<T, AwsError> {
    value.ok_or_else(|| validation("A required member is missing."))
}

fn validation(message: &str) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

fn respond<T: Serialize>(result: Result<T, AwsError>) -> Result<Vec<u8>, AwsError> {
    result.map(|r| keystead_wire::to_response_body(&r))
}

fn empty(result: Result<(), keystead_keys::Error>) -> Result<Vec<u8>, AwsError> {
    result.map(|()| b"{}".to_vec()).map_err(kms_error)
}
