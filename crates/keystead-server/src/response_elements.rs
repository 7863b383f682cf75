//! `responseElements` of a CloudTrail record: what a successful call that changed state
//! returned, as AWS writes it ("the response element for actions that make changes (create,
//! update, or delete actions). If an action does not change state (for example, a request to
//! get or list objects), this element is omitted"), and never a secret.
//!
//! - KMS ([`kms_response_elements`]): `CreateKey` → `{keyMetadata}`, `ScheduleKeyDeletion` →
//!   `{keyId, deletionDate, keyState, pendingWindowInDays}`, `CreateGrant` → `{grantId}`, and
//!   `{keyId}` for the calls on one key in [`NAMES_KEY_IN_RESPONSE`] (added when the record is
//!   built); `null` for the cryptographic operations, whose responses carry plaintexts and data
//!   keys.
//! - Secrets Manager ([`secrets_manager_response_elements`]): the response of every call that
//!   changes a secret (`CreateSecret`, `PutSecretValue`, `DeleteSecret`, ...), its members
//!   camelCased; `null` for the reads (`GetSecretValue`, `DescribeSecret`, `List*`, ...).
//! - IAM and STS: the Query handlers build their output structs, and the functions here copy
//!   the members AWS records out of them before they become XML: `CreateUser` → `{user}`,
//!   `CreateAccessKey` → `{accessKey}`, `CreateRole` → `{role}`, `CreateVirtualMFADevice` →
//!   `{virtualMFADevice: {serialNumber}}`, `AssumeRole` → `{credentials, assumedRoleUser}`,
//!   `GetSessionToken` → `{credentials}`. Calls with an empty response (`Delete*`, `Put*`,
//!   `Update*`) and reads record `null`.
//!
//! Members are named as CloudTrail names them (`KeyId` → `keyId`, `ARN` → `arn`, but
//! `AWSAccountId` as it is) and dates are printed as AWS prints them in records
//! (`Aug 10, 2022, 10:38:27 PM`, UTC). Whatever [`crate::audit::is_sensitive`] names is never
//! copied: no secret access key, session token, secret value, password or MFA seed reaches a
//! record (and [`keystead_audit::AuditEvent::check_no_secrets`] refuses one that would).

use keystead_wire::{Timestamp, iam, sts};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::audit::{camel_case, is_sensitive};

/// The KMS operations on one key whose records carry the key's ARN as `responseElements.keyId`
/// (AWS KMS Developer Guide, "Logging AWS KMS API calls with AWS CloudTrail": "CloudTrail log
/// entries for this operation recorded on or after December 2022 include the key ARN of the
/// affected KMS key in the responseElements.keyId value").
pub(crate) const NAMES_KEY_IN_RESPONSE: &[&str] = &[
    "CancelKeyDeletion",
    "CreateGrant",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "PutKeyPolicy",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
];

/// The Secrets Manager operations that change state, whose records carry their response. The
/// others (`GetSecretValue`, `BatchGetSecretValue`, `DescribeSecret`, `List*`,
/// `GetResourcePolicy`, `GetRandomPassword`, `ValidateResourcePolicy`) record `null`.
const SECRETS_MANAGER_CHANGES: &[&str] = &[
    "CancelRotateSecret",
    "CreateSecret",
    "DeleteResourcePolicy",
    "DeleteSecret",
    "PutResourcePolicy",
    "PutSecretValue",
    "RemoveRegionsFromReplication",
    "ReplicateSecretToRegions",
    "RestoreSecret",
    "RotateSecret",
    "StopReplicationToReplica",
    "TagResource",
    "UntagResource",
    "UpdateSecret",
    "UpdateSecretVersionStage",
];

/// `responseElements` of a successful KMS call, as AWS writes them: `CreateKey` →
/// `{keyMetadata}`, `ScheduleKeyDeletion` → `{keyId, deletionDate, keyState,
/// pendingWindowInDays}`, `CreateGrant` → `{grantId}` (the record adds `keyId`). `None` for
/// every other operation (the operations of [`NAMES_KEY_IN_RESPONSE`] get `{keyId}` when the
/// record is built): the cryptographic ones above all, whose responses carry plaintexts and
/// data keys.
pub(crate) fn kms_response_elements(
    operation: &str,
    response: &[u8],
) -> Option<Map<String, Value>> {
    let logged = match operation {
        "CreateKey" => {
            let Value::Object(mut response) = serde_json::from_slice(response).ok()? else {
                return None;
            };
            let Some(Value::Object(metadata)) = response.remove("KeyMetadata") else {
                return None;
            };
            let mut elements = Map::new();
            elements.insert(
                "keyMetadata".to_owned(),
                Value::Object(response_members(metadata)),
            );
            elements
        }
        "CreateGrant" => {
            // The grant id, never the grant token.
            let Value::Object(response) = serde_json::from_slice(response).ok()? else {
                return None;
            };
            let grant_id = response.get("GrantId")?.clone();
            Map::from_iter([("grantId".to_owned(), grant_id)])
        }
        "ScheduleKeyDeletion" => {
            let Value::Object(response) = serde_json::from_slice(response).ok()? else {
                return None;
            };
            response_members(response)
        }
        _ => return None,
    };
    Some(logged)
}

/// `responseElements` of a successful Secrets Manager call: for the calls that change state,
/// the response's members with CloudTrail's names (`arn`, `name`, `versionId`,
/// `versionStages`, `deletionDate` ...), never `SecretString`/`SecretBinary`; `None` for the
/// reads and for an empty response.
pub(crate) fn secrets_manager_response_elements(
    operation: &str,
    response: &[u8],
) -> Option<Map<String, Value>> {
    // Checked before parsing, so that a read's response (a secret value) is never parsed here.
    if !SECRETS_MANAGER_CHANGES.contains(&operation) {
        return None;
    }
    let Value::Object(response) = serde_json::from_slice(response).ok()? else {
        return None;
    };
    Some(response_members(response)).filter(|members| !members.is_empty())
}

/// IAM `CreateUser` → `{user: {path, userName, userId, arn, createDate, tags?}}`.
pub(crate) fn iam_create_user(response: &iam::CreateUserResponse) -> Option<Map<String, Value>> {
    let user = response.user.as_ref()?;
    let user = Members::default()
        .text("path", user.path.as_deref())
        .text("userName", user.user_name.as_deref())
        .text("userId", user.user_id.as_deref())
        .text("arn", user.arn.as_deref())
        .date("createDate", user.create_date)
        .value("tags", user.tags.as_deref().map(tags));
    Some(Members::default().object("user", user).into_map())
}

/// IAM `CreateAccessKey` → `{accessKey: {accessKeyId, status, userName, createDate}}`: never
/// the secret access key.
pub(crate) fn iam_create_access_key(
    response: &iam::CreateAccessKeyResponse,
) -> Option<Map<String, Value>> {
    let key = response.access_key.as_ref()?;
    let key = Members::default()
        .text("accessKeyId", key.access_key_id.as_deref())
        .text("status", key.status.as_ref().map(iam::StatusType::as_str))
        .text("userName", key.user_name.as_deref())
        .date("createDate", key.create_date);
    Some(Members::default().object("accessKey", key).into_map())
}

/// IAM `CreateRole` → `{role: {path, roleName, roleId, arn, createDate,
/// assumeRolePolicyDocument (URL-encoded, as the response carries it), description?,
/// maxSessionDuration?, tags?}}`.
pub(crate) fn iam_create_role(response: &iam::CreateRoleResponse) -> Option<Map<String, Value>> {
    let role = response.role.as_ref()?;
    let role = Members::default()
        .text("path", role.path.as_deref())
        .text("roleName", role.role_name.as_deref())
        .text("roleId", role.role_id.as_deref())
        .text("arn", role.arn.as_deref())
        .date("createDate", role.create_date)
        .text(
            "assumeRolePolicyDocument",
            role.assume_role_policy_document.as_deref(),
        )
        .text("description", role.description.as_deref())
        .value(
            "maxSessionDuration",
            role.max_session_duration.map(Value::from),
        )
        .value("tags", role.tags.as_deref().map(tags));
    Some(Members::default().object("role", role).into_map())
}

/// IAM `CreateVirtualMFADevice` → `{virtualMFADevice: {serialNumber}}`: never the seed nor its
/// QR code.
pub(crate) fn iam_create_virtual_mfa_device(
    response: &iam::CreateVirtualMFADeviceResponse,
) -> Option<Map<String, Value>> {
    let device = response.virtual_mfa_device.as_ref()?;
    let device = Members::default().text("serialNumber", device.serial_number.as_deref());
    Some(
        Members::default()
            .object("virtualMFADevice", device)
            .into_map(),
    )
}

/// STS `AssumeRole` → `{credentials: {accessKeyId, expiration}, assumedRoleUser:
/// {assumedRoleId, arn}, packedPolicySize?, sourceIdentity?}`.
pub(crate) fn sts_assume_role(response: &sts::AssumeRoleResponse) -> Option<Map<String, Value>> {
    let mut elements = credentials(response.credentials.as_ref()?);
    if let Some(user) = &response.assumed_role_user {
        let user = Members::default()
            .text("assumedRoleId", user.assumed_role_id.as_deref())
            .text("arn", user.arn.as_deref());
        elements = elements.object("assumedRoleUser", user);
    }
    let elements = elements
        .value(
            "packedPolicySize",
            response.packed_policy_size.map(Value::from),
        )
        .text("sourceIdentity", response.source_identity.as_deref());
    Some(elements.into_map())
}

/// STS `GetSessionToken` → `{credentials: {accessKeyId, expiration}}`.
pub(crate) fn sts_get_session_token(
    response: &sts::GetSessionTokenResponse,
) -> Option<Map<String, Value>> {
    Some(credentials(response.credentials.as_ref()?).into_map())
}

/// `{credentials: {accessKeyId, expiration}}`: neither the secret access key nor the session
/// token (AWS records the token; keystead treats it as the secret it is).
fn credentials(credentials: &sts::Credentials) -> Members {
    let credentials = Members::default()
        .text("accessKeyId", credentials.access_key_id.as_deref())
        .date("expiration", credentials.expiration);
    Members::default().object("credentials", credentials)
}

/// IAM tags as CloudTrail writes them: `[{key, value}]`.
fn tags(tags: &[iam::Tag]) -> Value {
    tags.iter()
        .map(|tag| {
            Members::default()
                .text("key", tag.key.as_deref())
                .text("value", tag.value.as_deref())
                .into_value()
        })
        .collect()
}

/// An object of response elements being built: absent members are left out, and so is any
/// member whose name [`is_sensitive`] (none should be offered; this is the last guard).
#[derive(Default)]
struct Members(Map<String, Value>);

impl Members {
    fn value(mut self, name: &str, value: Option<Value>) -> Self {
        debug_assert!(!is_sensitive(name), "{name} offered as a response element");
        if let Some(value) = value
            && !is_sensitive(name)
        {
            self.0.insert(name.to_owned(), value);
        }
        self
    }

    fn text(self, name: &str, value: Option<&str>) -> Self {
        self.value(name, value.map(Value::from))
    }

    fn date(self, name: &str, value: Option<Timestamp>) -> Self {
        let date = value.and_then(|t| aws_date(t.as_secs_f64()));
        self.value(name, date.map(Value::String))
    }

    fn object(self, name: &str, members: Members) -> Self {
        self.value(name, Some(members.into_value()))
    }

    fn into_map(self) -> Map<String, Value> {
        self.0
    }

    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// A JSON response object with CloudTrail's names, its dates as AWS prints them, and nothing
/// sensitive, at any depth.
fn response_members(object: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in object {
        if is_sensitive(&name) {
            continue;
        }
        let value = match value {
            Value::Number(seconds) if is_date(&name) => match seconds.as_f64().and_then(aws_date) {
                Some(date) => Value::String(date),
                None => Value::Number(seconds),
            },
            other => response_value(other),
        };
        out.insert(response_name(&name), value);
    }
    out
}

fn response_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(response_members(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(response_value).collect()),
        other => other,
    }
}

/// Whether a JSON response member is a date (epoch seconds on the wire): `CreationDate`,
/// `DeletionDate`, `LastAccessedDate`, `ValidTo` ...
fn is_date(name: &str) -> bool {
    name.ends_with("Date") || name == "ValidTo"
}

/// CloudTrail's name of a response member: `KeyId` → `keyId`, `ARN` → `arn`, and
/// `AWSAccountId` as AWS keeps it.
fn response_name(name: &str) -> String {
    if name == "AWSAccountId" {
        name.to_owned()
    } else if name.chars().all(|c| !c.is_ascii_lowercase()) {
        name.to_ascii_lowercase()
    } else {
        camel_case(name)
    }
}

/// A date of a response element as AWS prints it: `Aug 10, 2022, 10:38:27 PM` (UTC).
fn aws_date(seconds: f64) -> Option<String> {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
    );
    #[allow(clippy::cast_possible_truncation)] // whole seconds, as AWS prints them
    let time = OffsetDateTime::from_unix_timestamp(seconds.floor() as i64).ok()?;
    time.format(FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use keystead_wire::SensitiveBlob;
    use serde_json::json;

    use super::*;

    const AUG_10_2022: Timestamp = Timestamp(1_660_171_107.5);

    #[test]
    fn management_calls_record_their_response_elements_and_crypto_calls_none() {
        let create = json!({"KeyMetadata": {
            "AWSAccountId": "111122223333",
            "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "Arn": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "CreationDate": 1_660_171_107.5,
            "Enabled": true,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        }});
        let elements =
            kms_response_elements("CreateKey", create.to_string().as_bytes()).expect("elements");
        assert_eq!(
            Value::Object(elements),
            json!({"keyMetadata": {
                "AWSAccountId": "111122223333",
                "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                "arn": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "creationDate": "Aug 10, 2022, 10:38:27 PM",
                "enabled": true,
                "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "multiRegion": false,
            }})
        );
        let schedule = json!({
            "KeyId": "arn:aws:kms:us-west-2:111122223333:key/k",
            "DeletionDate": 1_618_253_910,
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": 20,
        });
        let elements =
            kms_response_elements("ScheduleKeyDeletion", schedule.to_string().as_bytes())
                .expect("elements");
        assert_eq!(
            Value::Object(elements),
            json!({
                "keyId": "arn:aws:kms:us-west-2:111122223333:key/k",
                "deletionDate": "Apr 12, 2021, 6:58:30 PM",
                "keyState": "PendingDeletion",
                "pendingWindowInDays": 20,
            })
        );
        let data_key = br#"{"KeyId":"k","Plaintext":"c2VjcmV0","CiphertextBlob":"AAAA"}"#;
        for operation in ["GenerateDataKey", "Encrypt", "Decrypt", "CreateAlias"] {
            assert_eq!(kms_response_elements(operation, data_key), None);
        }
    }

    #[test]
    fn secrets_manager_changes_record_their_response_camel_cased_without_the_value() {
        let created = json!({
            "ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf",
            "Name": "db",
            "VersionId": "v1",
            "ReplicationStatus": [{"Region": "eu-west-1", "Status": "InSync",
                                   "LastAccessedDate": 1_660_171_107}],
        });
        let elements =
            secrets_manager_response_elements("CreateSecret", created.to_string().as_bytes())
                .expect("elements");
        assert_eq!(
            Value::Object(elements),
            json!({
                "arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf",
                "name": "db",
                "versionId": "v1",
                "replicationStatus": [{"region": "eu-west-1", "status": "InSync",
                                       "lastAccessedDate": "Aug 10, 2022, 10:38:27 PM"}],
            })
        );
        let deleted = json!({"ARN": "a", "Name": "db", "DeletionDate": 1_618_253_910.25});
        let elements =
            secrets_manager_response_elements("DeleteSecret", deleted.to_string().as_bytes())
                .expect("elements");
        assert_eq!(
            Value::Object(elements),
            json!({"arn": "a", "name": "db", "deletionDate": "Apr 12, 2021, 6:58:30 PM"})
        );
        // A response member that is a secret is dropped, whatever the operation.
        let put = br#"{"ARN":"a","Name":"db","VersionId":"v2","VersionStages":["AWSCURRENT"],
                       "SecretString":"hunter2","SecretBinary":"aHVudGVyMg=="}"#;
        let elements = secrets_manager_response_elements("PutSecretValue", put).expect("elements");
        assert_eq!(
            Value::Object(elements),
            json!({"arn": "a", "name": "db", "versionId": "v2", "versionStages": ["AWSCURRENT"]})
        );
    }

    #[test]
    fn secrets_manager_reads_and_empty_responses_record_null() {
        let value = br#"{"ARN":"a","Name":"db","SecretString":"hunter2"}"#;
        for operation in [
            "GetSecretValue",
            "BatchGetSecretValue",
            "DescribeSecret",
            "ListSecrets",
            "ListSecretVersionIds",
            "GetResourcePolicy",
            "GetRandomPassword",
            "ValidateResourcePolicy",
        ] {
            assert_eq!(
                secrets_manager_response_elements(operation, value),
                None,
                "{operation}"
            );
        }
        assert_eq!(
            secrets_manager_response_elements("TagResource", b"{}"),
            None
        );
        assert_eq!(
            secrets_manager_response_elements("CreateSecret", b"not json"),
            None
        );
    }

    #[test]
    fn iam_create_user_records_the_user() {
        let response = iam::CreateUserResponse {
            user: Some(iam::User {
                arn: Some("arn:aws:iam::111122223333:user/ops/bob".into()),
                create_date: Some(AUG_10_2022),
                path: Some("/ops/".into()),
                user_id: Some("AIDAEXAMPLE".into()),
                user_name: Some("bob".into()),
                tags: Some(vec![iam::Tag {
                    key: Some("team".into()),
                    value: Some("red".into()),
                }]),
                ..Default::default()
            }),
        };
        assert_eq!(
            iam_create_user(&response).map(Value::Object),
            Some(json!({"user": {
                "path": "/ops/",
                "userName": "bob",
                "userId": "AIDAEXAMPLE",
                "arn": "arn:aws:iam::111122223333:user/ops/bob",
                "createDate": "Aug 10, 2022, 10:38:27 PM",
                "tags": [{"key": "team", "value": "red"}],
            }}))
        );
    }

    #[test]
    fn iam_create_access_key_records_the_key_but_never_its_secret() {
        let response = iam::CreateAccessKeyResponse {
            access_key: Some(iam::AccessKey {
                access_key_id: Some("AKIAEXAMPLE".into()),
                create_date: Some(AUG_10_2022),
                secret_access_key: Some(String::from("wJalrXUtnFEMI/K7MDENG").into()),
                status: Some(iam::StatusType::Active),
                user_name: Some("bob".into()),
            }),
        };
        let elements = Value::Object(iam_create_access_key(&response).expect("elements"));
        assert_eq!(
            elements,
            json!({"accessKey": {
                "accessKeyId": "AKIAEXAMPLE",
                "status": "Active",
                "userName": "bob",
                "createDate": "Aug 10, 2022, 10:38:27 PM",
            }})
        );
        assert!(!elements.to_string().contains("wJalrXUtnFEMI"));
    }

    #[test]
    fn iam_create_role_records_the_role() {
        let response = iam::CreateRoleResponse {
            role: Some(iam::Role {
                arn: Some("arn:aws:iam::111122223333:role/app".into()),
                assume_role_policy_document: Some("%7B%7D".into()),
                create_date: Some(AUG_10_2022),
                max_session_duration: Some(3600),
                path: Some("/".into()),
                role_id: Some("AROAEXAMPLE".into()),
                role_name: Some("app".into()),
                ..Default::default()
            }),
        };
        assert_eq!(
            iam_create_role(&response).map(Value::Object),
            Some(json!({"role": {
                "path": "/",
                "roleName": "app",
                "roleId": "AROAEXAMPLE",
                "arn": "arn:aws:iam::111122223333:role/app",
                "createDate": "Aug 10, 2022, 10:38:27 PM",
                "assumeRolePolicyDocument": "%7B%7D",
                "maxSessionDuration": 3600,
            }}))
        );
    }

    #[test]
    fn iam_create_virtual_mfa_device_records_the_serial_number_only() {
        let response = iam::CreateVirtualMFADeviceResponse {
            virtual_mfa_device: Some(iam::VirtualMFADevice {
                serial_number: Some("arn:aws:iam::111122223333:mfa/phone".into()),
                base32_string_seed: Some(SensitiveBlob::new(zeroize::Zeroizing::new(
                    b"JBSWY3DPEHPK3PXP".to_vec(),
                ))),
                qr_code_png: Some(SensitiveBlob::new(zeroize::Zeroizing::new(
                    b"\x89PNG".to_vec(),
                ))),
                ..Default::default()
            }),
        };
        assert_eq!(
            iam_create_virtual_mfa_device(&response).map(Value::Object),
            Some(json!({"virtualMFADevice": {
                "serialNumber": "arn:aws:iam::111122223333:mfa/phone",
            }}))
        );
    }

    #[test]
    fn sts_sessions_record_the_access_key_id_but_neither_secret_nor_token() {
        let credentials = || sts::Credentials {
            access_key_id: Some("ASIAEXAMPLE".into()),
            expiration: Some(AUG_10_2022),
            secret_access_key: Some(String::from("wJalrXUtnFEMI/K7MDENG").into()),
            session_token: Some("FwoGZXIvYXdzEBYaDEXAMPLETOKEN".into()),
        };
        let assumed = sts::AssumeRoleResponse {
            assumed_role_user: Some(sts::AssumedRoleUser {
                arn: Some("arn:aws:sts::111122223333:assumed-role/app/s".into()),
                assumed_role_id: Some("AROAEXAMPLE:s".into()),
            }),
            credentials: Some(credentials()),
            ..Default::default()
        };
        let elements = Value::Object(sts_assume_role(&assumed).expect("elements"));
        assert_eq!(
            elements,
            json!({
                "credentials": {
                    "accessKeyId": "ASIAEXAMPLE",
                    "expiration": "Aug 10, 2022, 10:38:27 PM",
                },
                "assumedRoleUser": {
                    "assumedRoleId": "AROAEXAMPLE:s",
                    "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
                },
            })
        );
        let session = sts::GetSessionTokenResponse {
            credentials: Some(credentials()),
            ..Default::default()
        };
        let session = Value::Object(sts_get_session_token(&session).expect("elements"));
        assert_eq!(
            session,
            json!({"credentials": {
                "accessKeyId": "ASIAEXAMPLE",
                "expiration": "Aug 10, 2022, 10:38:27 PM",
            }})
        );
        for elements in [elements, session] {
            let text = elements.to_string();
            assert!(!text.contains("wJalrXUtnFEMI") && !text.contains("EXAMPLETOKEN"));
        }
    }

    #[test]
    fn response_member_names_follow_cloudtrail() {
        assert_eq!(response_name("ARN"), "arn");
        assert_eq!(response_name("KmsKeyId"), "kmsKeyId");
        assert_eq!(response_name("AWSAccountId"), "AWSAccountId");
    }
}
