//! AWS's documented KMS CloudTrail log entries (tests/vectors, sources in its README) read into
//! `AuditEvent` and written back: same fields, same values, same nulls and absences, and the
//! same field order at the levels keystead controls.

use std::fmt;

use keystead_audit::{AuditEvent, EventType, IdentityType};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

const GENERATE_DATA_KEY: &str = include_str!("vectors/kms-generatedatakey.json");
const LIST_KEY_ROTATIONS: &str = include_str!("vectors/kms-listkeyrotations.json");
const ROTATE_KEY: &str = include_str!("vectors/kms-rotatekey.json");

/// The keys of a JSON object, in document order (serde_json's `Value` sorts them).
struct KeyOrder(Vec<String>);

impl<'de> serde::Deserialize<'de> for KeyOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeyOrder;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyOrder, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(KeyOrder(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

fn key_order(json: &str) -> Vec<String> {
    serde_json::from_str::<KeyOrder>(json).expect("object").0
}

fn user_identity_key_order(json: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(json).expect("json");
    // Re-reading the sub-object from the original text keeps its order: find it by position.
    let start = json.find("\"userIdentity\"").expect("userIdentity");
    let open = start + json[start..].find('{').expect("object");
    let close = open + json[open..].find('}').expect("end");
    assert!(value["userIdentity"].is_object());
    key_order(&json[open..=close])
}

/// Reads `doc`, writes it back, and checks that nothing changed.
fn round_trip(doc: &str) -> AuditEvent {
    let event: AuditEvent = serde_json::from_str(doc).expect("AWS's example parses");
    let written = serde_json::to_string(&event).expect("serialize");
    let original: Value = serde_json::from_str(doc).expect("json");
    let rewritten: Value = serde_json::from_str(&written).expect("json");
    assert_eq!(rewritten, original, "fields, values, nulls and absences");
    assert_eq!(key_order(&written), key_order(doc), "top-level field order");
    assert_eq!(
        user_identity_key_order(&written),
        user_identity_key_order(doc),
        "userIdentity field order"
    );
    event
}

#[test]
fn generate_data_key_example_round_trips() {
    let event = round_trip(GENERATE_DATA_KEY);
    assert_eq!(event.event_version, "1.11");
    assert_eq!(event.event_name, "GenerateDataKey");
    assert_eq!(event.response_elements, None);
    assert_eq!(event.error_code, None);
    assert_eq!(
        event.user_identity.identity_type,
        Some(IdentityType::IamUser)
    );
    assert_eq!(event.resources[0].resource_type, None);
    assert!(event.tls_details.is_some());
}

#[test]
fn list_key_rotations_example_round_trips() {
    let event = round_trip(LIST_KEY_ROTATIONS);
    assert_eq!(event.event_type, EventType::AwsApiCall);
    assert_eq!(
        event.request_id.as_deref(),
        Some("99c88d32-f2db-455e-8a9a-23855258a452")
    );
    assert_eq!(
        event.resources[0].resource_type.as_deref(),
        Some("AWS::KMS::Key")
    );
}

#[test]
fn rotate_key_service_event_example_round_trips() {
    let event = round_trip(ROTATE_KEY);
    assert_eq!(event.event_type, EventType::AwsServiceEvent);
    assert_eq!(event.request_id, None);
    assert_eq!(event.request_parameters, None);
    assert_eq!(event.management_event, None);
    assert_eq!(event.user_identity.identity_type, None);
    assert_eq!(
        event.user_identity.invoked_by.as_deref(),
        Some("AWS Internal")
    );
}

#[test]
fn a_service_event_built_by_keystead_has_the_shape_of_the_rotate_key_example() {
    let built = AuditEvent::service_event(
        keystead_audit::OffsetDateTime::from_unix_timestamp(1_610_588_519).expect("time"),
        "kms.amazonaws.com",
        "RotateKey",
        "us-west-2",
        "111122223333",
        "AWS Internal",
        "a24b3967-ddad-417f-9b22-2332b918db06",
    );
    let mut built = serde_json::to_value(&built).expect("serialize");
    let mut example: Value = serde_json::from_str(ROTATE_KEY).expect("json");
    // What differs is what the server fills in, and what CloudTrail added after 1.08.
    for (key, value) in [
        ("eventVersion", Value::from("1.11")),
        ("managementEvent", Value::from(true)),
    ] {
        example[key] = value;
    }
    for key in ["resources", "serviceEventDetails"] {
        built[key] = example[key].clone();
    }
    assert_eq!(built, example);
}
