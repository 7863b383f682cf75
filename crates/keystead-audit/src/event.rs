//! [`AuditEvent`]: one CloudTrail record, with CloudTrail's field names, field order and
//! null-or-absent conventions, so that tools written for CloudTrail read keystead's trail.
//!
//! This module owns the record's shape only. It must not decide what goes into a record (the
//! server does) and it refuses, in [`AuditEvent::check_no_secrets`], the parameter names under
//! which AWS itself never logs values: plaintext, secret values, credentials.
//!
//! Conventions, as CloudTrail writes them (see the KMS examples in the AWS KMS Developer Guide,
//! "Logging AWS KMS API calls with AWS CloudTrail"):
//! - `requestParameters` and `responseElements` are always present: an object, or `null`
//!   (`responseElements` is `null` for every cryptographic operation);
//! - `errorCode` and `errorMessage` are absent unless the call failed;
//! - `requestID` is absent for service events; `resources` is absent when the call names no
//!   resource; identity fields are absent when they do not apply (a service event has only
//!   `accountId` and `invokedBy`);
//! - times are UTC with second precision: `2025-05-20T20:45:00Z`;
//! - `sessionContext.attributes.mfaAuthenticated` is the *string* `"true"` or `"false"`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::Error;

/// The `eventVersion` keystead writes: the CloudTrail record version whose fields it fills.
pub const EVENT_VERSION: &str = "1.11";

/// Parameter names (compared without case) whose values AWS never logs, and neither may we.
const FORBIDDEN_FIELDS: [&str; 9] = [
    "plaintext",
    "privatekeyplaintext",
    "secretstring",
    "secretbinary",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "keymaterial",
    "sharedsecret",
];

/// One CloudTrail record: a request to keystead (allowed, denied or failed) or something
/// keystead did by itself (a key rotation, a recovery of its own log).
///
/// Fields are in CloudTrail's order; see the module documentation for which are `null` and
/// which are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// The record format version; [`EVENT_VERSION`] for records keystead writes.
    pub event_version: String,
    /// Who made the request.
    pub user_identity: UserIdentity,
    /// When the request was made, UTC, second precision.
    #[serde(with = "event_time")]
    pub event_time: OffsetDateTime,
    /// The service the request was made to, e.g. `kms.amazonaws.com`.
    pub event_source: String,
    /// The operation, e.g. `Decrypt`.
    pub event_name: String,
    /// The region the request was made in.
    pub aws_region: String,
    /// The caller's IP address, or `AWS Internal` for service events.
    #[serde(
        rename = "sourceIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    /// The caller's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The AWS error code of a failed request, e.g. `AccessDeniedException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message of a failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The request's parameters without secret values, or `null`. Always present.
    pub request_parameters: Option<Map<String, Value>>,
    /// The response's elements, or `null` (always `null` for cryptographic operations). Always
    /// present.
    pub response_elements: Option<Map<String, Value>>,
    /// Extra data the service adds, e.g. `keyMaterialId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Map<String, Value>>,
    /// The request id returned to the caller; absent for service events.
    #[serde(rename = "requestID", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// This record's unique id (a UUID).
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// The resources the operation acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// An API call or a service event.
    pub event_type: EventType,
    /// Whether this is a management event; keystead's events all are. Absent only in records
    /// older than CloudTrail's version 1.06.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_event: Option<bool>,
    /// The account that receives this record.
    pub recipient_account_id: String,
    /// Details of a service event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_event_details: Option<Map<String, Value>>,
    /// The id shared by the records one cross-account request writes in each account.
    #[serde(
        rename = "sharedEventID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_event_id: Option<String>,
    /// The VPC endpoint the request came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_id: Option<String>,
    /// Always `Management` for keystead's events. Absent only in old records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_category: Option<EventCategory>,
    /// The TLS connection the request came over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<TlsDetails>,
}

/// `userIdentity`: who made the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// The kind of principal; absent for service events.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<IdentityType>,
    /// The principal's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The principal's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The principal's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The access key id that signed the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The IAM user's name (for `IAMUser` and `Root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// For temporary credentials: the session they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
    /// The service that made the request on the principal's behalf, or `AWS Internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

/// `userIdentity.type`, as CloudTrail spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityType {
    /// An account's root user.
    Root,
    /// An IAM user.
    #[serde(rename = "IAMUser")]
    IamUser,
    /// Temporary credentials from `AssumeRole`.
    AssumedRole,
    /// Temporary credentials from `GetFederationToken`.
    FederatedUser,
    /// Another account.
    #[serde(rename = "AWSAccount")]
    AwsAccount,
    /// An AWS service principal.
    #[serde(rename = "AWSService")]
    AwsService,
}

/// `userIdentity.sessionContext`: the session temporary credentials belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// The role or user that issued the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    /// Web identity federation data (an object; empty when not federated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_id_federation_data: Option<Map<String, Value>>,
    /// When and how the session was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<SessionAttributes>,
}

/// `sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    /// `Role` or `IAMUser`.
    #[serde(rename = "type")]
    pub issuer_type: String,
    /// The issuer's unique id.
    pub principal_id: String,
    /// The issuer's ARN.
    pub arn: String,
    /// The issuer's account.
    pub account_id: String,
    /// The role's or user's name.
    pub user_name: String,
}

/// `sessionContext.attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// Whether the session was created with MFA; written as the string `"true"` or `"false"`.
    #[serde(with = "bool_string")]
    pub mfa_authenticated: bool,
    /// When the session was created.
    #[serde(with = "event_time")]
    pub creation_date: OffsetDateTime,
}

/// One entry of `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The resource's account.
    #[serde(rename = "accountId", default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The resource type, e.g. `AWS::KMS::Key`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The resource's ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// `eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// A request to the API.
    AwsApiCall,
    /// Something the service did by itself (rotation, deletion, log recovery).
    AwsServiceEvent,
}

/// `eventCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventCategory {
    /// Control-plane and KMS data-plane events.
    Management,
}

/// `tlsDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsDetails {
    /// E.g. `TLSv1.3`.
    pub tls_version: String,
    /// E.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The `Host` header the client sent.
    pub client_provided_host_header: String,
}

impl AuditEvent {
    /// A successful API call by `user_identity`, with CloudTrail's defaults for everything else:
    /// `requestParameters` and `responseElements` null, no resources, `readOnly` false,
    /// `managementEvent` true, `eventCategory` `Management`. The server fills the rest.
    #[allow(clippy::too_many_arguments)] // CloudTrail's required fields, each a plain string
    pub fn api_call(
        user_identity: UserIdentity,
        event_time: OffsetDateTime,
        event_source: impl Into<String>,
        event_name: impl Into<String>,
        aws_region: impl Into<String>,
        source_ip_address: impl Into<String>,
        request_id: impl Into<String>,
        event_id: impl Into<String>,
        recipient_account_id: impl Into<String>,
    ) -> Self {
        Self {
            event_version: EVENT_VERSION.to_owned(),
            user_identity,
            event_time: truncate_to_seconds(event_time),
            event_source: event_source.into(),
            event_name: event_name.into(),
            aws_region: aws_region.into(),
            source_ip_address: Some(source_ip_address.into()),
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            request_id: Some(request_id.into()),
            event_id: event_id.into(),
            read_only: false,
            resources: Vec::new(),
            event_type: EventType::AwsApiCall,
            management_event: Some(true),
            recipient_account_id: recipient_account_id.into(),
            service_event_details: None,
            shared_event_id: None,
            vpc_endpoint_id: None,
            event_category: Some(EventCategory::Management),
            tls_details: None,
        }
    }

    /// Something the service did by itself in `account_id`, invoked by `invoked_by`, as
    /// CloudTrail writes KMS's `RotateKey`: identity `{accountId, invokedBy}`, source address
    /// and user agent `invoked_by`, no request id, null parameters.
    pub fn service_event(
        event_time: OffsetDateTime,
        event_source: impl Into<String>,
        event_name: impl Into<String>,
        aws_region: impl Into<String>,
        account_id: impl Into<String>,
        invoked_by: impl Into<String>,
        event_id: impl Into<String>,
    ) -> Self {
        let account_id = account_id.into();
        let invoked_by = invoked_by.into();
        Self {
            event_version: EVENT_VERSION.to_owned(),
            user_identity: UserIdentity {
                account_id: Some(account_id.clone()),
                invoked_by: Some(invoked_by.clone()),
                ..UserIdentity::default()
            },
            event_time: truncate_to_seconds(event_time),
            event_source: event_source.into(),
            event_name: event_name.into(),
            aws_region: aws_region.into(),
            source_ip_address: Some(invoked_by.clone()),
            user_agent: Some(invoked_by),
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            request_id: None,
            event_id: event_id.into(),
            read_only: false,
            resources: Vec::new(),
            event_type: EventType::AwsServiceEvent,
            management_event: Some(true),
            recipient_account_id: account_id,
            service_event_details: None,
            shared_event_id: None,
            vpc_endpoint_id: None,
            event_category: Some(EventCategory::Management),
            tls_details: None,
        }
    }

    /// Refuses a record that carries a value AWS never logs: any key named (in any case)
    /// `Plaintext`, `SecretString`, `SecretBinary`, `SecretAccessKey`, `SessionToken`,
    /// `Password`, `KeyMaterial`, `SharedSecret` or `PrivateKeyPlaintext`, at any depth of
    /// `requestParameters`, `responseElements`, `additionalEventData` or
    /// `serviceEventDetails`. [`AuditLog::append`](crate::AuditLog::append) calls this, so
    /// that a handler that forgot to strip a field fails loudly instead of leaking it.
    pub fn check_no_secrets(&self) -> Result<(), Error> {
        for map in [
            &self.request_parameters,
            &self.response_elements,
            &self.additional_event_data,
            &self.service_event_details,
        ]
        .into_iter()
        .flatten()
        {
            check_map(map)?;
        }
        Ok(())
    }
}

fn check_map(map: &Map<String, Value>) -> Result<(), Error> {
    for (key, value) in map {
        if FORBIDDEN_FIELDS
            .iter()
            .any(|forbidden| key.eq_ignore_ascii_case(forbidden))
        {
            return Err(Error::SecretInEvent { field: key.clone() });
        }
        // An encryption context is logged by design (AWS logs it, and it must not be secret);
        // its keys are the caller's data, so a context key named `Plaintext` is not a leak.
        if key.eq_ignore_ascii_case("encryptionContext") {
            continue;
        }
        check_value(value)?;
    }
    Ok(())
}

fn check_value(value: &Value) -> Result<(), Error> {
    match value {
        Value::Object(map) => check_map(map),
        Value::Array(items) => items.iter().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// CloudTrail times have whole seconds.
fn truncate_to_seconds(time: OffsetDateTime) -> OffsetDateTime {
    time.replace_nanosecond(0).unwrap_or(time)
}

/// `eventTime` and `creationDate`: `YYYY-MM-DDTHH:MM:SSZ`, UTC.
pub(crate) mod event_time {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

    use super::format_description;

    pub(super) const FORMAT: &[time::format_description::FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

    /// The CloudTrail text of `time` (converted to UTC), as [`FORMAT`] writes it for years
    /// 0 to 9999. Written by hand: it is part of every record, and the general formatter costs
    /// several times more.
    pub(crate) fn format(time: OffsetDateTime) -> String {
        let time = time.to_offset(UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            time.year(),
            u8::from(time.month()),
            time.day(),
            time.hour(),
            time.minute(),
            time.second()
        )
    }

    /// Parses CloudTrail's time text.
    pub(crate) fn parse(text: &str) -> Option<OffsetDateTime> {
        PrimitiveDateTime::parse(text, FORMAT)
            .ok()
            .map(PrimitiveDateTime::assume_utc)
    }

    pub(crate) fn serialize<S: Serializer>(
        time: &OffsetDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*time))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| de::Error::custom("expected a time like 2025-05-20T20:45:00Z"))
    }
}

/// `"true"` / `"false"` strings, as `mfaAuthenticated` is written.
mod bool_string {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(crate) fn serialize<S: Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if *value { "true" } else { "false" })
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<bool, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match &*text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(de::Error::custom("expected \"true\" or \"false\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn alice() -> UserIdentity {
        UserIdentity {
            identity_type: Some(IdentityType::IamUser),
            principal_id: Some("EX_PRINCIPAL_ID".into()),
            arn: Some("arn:aws:iam::111122223333:user/Alice".into()),
            account_id: Some("111122223333".into()),
            access_key_id: Some("EXAMPLE_KEY_ID".into()),
            user_name: Some("Alice".into()),
            ..UserIdentity::default()
        }
    }

    fn decrypt() -> AuditEvent {
        AuditEvent::api_call(
            alice(),
            datetime!(2025-05-20 20:45:00.123 UTC),
            "kms.amazonaws.com",
            "Decrypt",
            "us-west-2",
            "192.0.2.0",
            "12345126-30d5-4b28-98b9-9153da559963",
            "abcde202-ba1a-467c-b4ba-f729d45ae521",
            "111122223333",
        )
    }

    #[test]
    fn fields_are_written_in_cloudtrail_order_with_its_nulls_and_absences() {
        let mut event = decrypt();
        event.user_agent = Some("aws-cli/2".into());
        event.error_code = Some("IncorrectKeyException".into());
        event.error_message = Some("wrong key".into());
        event.read_only = true;
        event.resources.push(Resource {
            account_id: Some("111122223333".into()),
            resource_type: Some("AWS::KMS::Key".into()),
            arn: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
        });
        let json = serde_json::to_string(&event).expect("serialize");
        let order = [
            "\"eventVersion\":\"1.11\"",
            "\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\"",
            "\"eventTime\":\"2025-05-20T20:45:00Z\"",
            "\"eventSource\"",
            "\"eventName\"",
            "\"awsRegion\"",
            "\"sourceIPAddress\"",
            "\"userAgent\"",
            "\"errorCode\"",
            "\"errorMessage\"",
            "\"requestParameters\":null",
            "\"responseElements\":null",
            "\"requestID\"",
            "\"eventID\"",
            "\"readOnly\":true",
            "\"resources\":[{\"accountId\":\"111122223333\",\"type\":\"AWS::KMS::Key\",\"ARN\"",
            "\"eventType\":\"AwsApiCall\"",
            "\"managementEvent\":true",
            "\"recipientAccountId\"",
            "\"eventCategory\":\"Management\"",
        ];
        let mut at = 0;
        for field in order {
            let found = json[at..]
                .find(field)
                .unwrap_or_else(|| panic!("{field} missing or out of order in {json}"));
            at += found + field.len();
        }
        for absent in [
            "additionalEventData",
            "serviceEventDetails",
            "tlsDetails",
            "sessionContext",
            "invokedBy",
        ] {
            assert!(!json.contains(absent), "{absent} in {json}");
        }
    }

    #[test]
    fn a_successful_call_has_no_error_fields_and_a_service_event_no_request_id() {
        let json = serde_json::to_value(decrypt()).expect("serialize");
        assert!(json.get("errorCode").is_none());
        assert!(json.get("errorMessage").is_none());
        assert!(json.get("resources").is_none());
        assert_eq!(json["responseElements"], Value::Null);

        let rotate = AuditEvent::service_event(
            datetime!(2025-05-20 20:44:37 UTC),
            "kms.amazonaws.com",
            "RotateKey",
            "us-west-2",
            "111122223333",
            "AWS Internal",
            "a24b3967-ddad-417f-9b22-2332b918db06",
        );
        let json = serde_json::to_value(&rotate).expect("serialize");
        assert!(json.get("requestID").is_none());
        assert_eq!(
            json["userIdentity"],
            serde_json::json!({"accountId": "111122223333", "invokedBy": "AWS Internal"})
        );
        assert_eq!(json["requestParameters"], Value::Null);
        assert_eq!(json["eventType"], "AwsServiceEvent");
    }

    #[test]
    fn session_attributes_write_mfa_as_a_string() {
        let mut identity = alice();
        identity.identity_type = Some(IdentityType::AssumedRole);
        identity.session_context = Some(SessionContext {
            session_issuer: Some(SessionIssuer {
                issuer_type: "Role".into(),
                principal_id: "AROAEXAMPLE".into(),
                arn: "arn:aws:iam::111122223333:role/Admin".into(),
                account_id: "111122223333".into(),
                user_name: "Admin".into(),
            }),
            web_id_federation_data: Some(Map::new()),
            attributes: Some(SessionAttributes {
                mfa_authenticated: true,
                creation_date: datetime!(2025-05-20 20:00:00 UTC),
            }),
        });
        let json = serde_json::to_string(&identity).expect("serialize");
        assert!(json.contains(
            "\"attributes\":{\"mfaAuthenticated\":\"true\",\"creationDate\":\"2025-05-20T20:00:00Z\"}"
        ));
        let back: UserIdentity = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, identity);
        assert!(
            serde_json::from_str::<SessionAttributes>(
                r#"{"mfaAuthenticated":true,"creationDate":"2025-05-20T20:00:00Z"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn event_time_is_utc_with_whole_seconds() {
        let event = decrypt();
        assert_eq!(event.event_time, datetime!(2025-05-20 20:45:00 UTC));
        let shifted = datetime!(2025-05-20 22:45:00 +02:00);
        assert_eq!(event_time::format(shifted), "2025-05-20T20:45:00Z");
        assert_eq!(
            event_time::parse("2025-05-20T20:45:00Z"),
            Some(datetime!(2025-05-20 20:45:00 UTC))
        );
        assert_eq!(event_time::parse("2025-05-20 20:45:00"), None);
    }

    #[test]
    fn the_hand_written_event_time_matches_the_format_description() {
        // Every month and day boundary of a leap year and a century, and odd hours.
        let mut time = datetime!(1999-12-31 23:59:59.999 UTC);
        let end = datetime!(2001-03-02 00:00:00 UTC);
        while time < end {
            let expected = time.format(event_time::FORMAT).expect("format");
            assert_eq!(event_time::format(time), expected);
            assert_eq!(
                event_time::parse(&expected),
                Some(time.replace_millisecond(0).expect("ms"))
            );
            time += time::Duration::seconds(86_399 + 3_607);
        }
        let shifted = datetime!(2024-02-29 23:30:00 -05:00);
        assert_eq!(event_time::format(shifted), "2024-03-01T04:30:00Z");
    }

    #[test]
    fn secret_values_anywhere_in_parameters_are_refused() {
        let mut event = decrypt();
        let params = serde_json::json!({"keyId": "k", "Plaintext": "aGVsbG8="});
        event.request_parameters = params.as_object().cloned();
        assert!(matches!(
            event.check_no_secrets(),
            Err(Error::SecretInEvent { field }) if field == "Plaintext"
        ));

        let mut event = decrypt();
        event.response_elements = serde_json::json!({"list": [{"secretString": "x"}]})
            .as_object()
            .cloned();
        assert!(event.check_no_secrets().is_err());

        let mut event = decrypt();
        // Encryption context keys are the caller's data and are logged, whatever their names.
        event.request_parameters = serde_json::json!({
            "keyId": "k",
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"plaintext": "a context value, not a plaintext"}
        })
        .as_object()
        .cloned();
        assert!(event.check_no_secrets().is_ok());
    }
}
