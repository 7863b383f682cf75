//! keystead-wire against the AWS reference examples, the exact AWS validation messages, and the
//! secrecy of sensitive members.

use keystead_wire::kms::{
    CreateAliasRequest, CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptResponse,
    ErrorCode, KeySpec, KeyUsageType, ListKeysRequest, Operation, PutKeyPolicyRequest,
};
use keystead_wire::{
    AwsError, Blob, SensitiveBlob, SensitiveString, cloudtrail, parse_request, secretsmanager,
};

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The error a request body gets, which must be a `code`.
fn rejection<T: serde::de::DeserializeOwned + keystead_wire::Validate>(
    body: &str,
    code: &str,
) -> String {
    match parse_request::<T>(body.as_bytes()) {
        Ok(_) => panic!("{body} was accepted"),
        Err(err) => {
            assert_eq!(err.code, code, "{body}: {}", err.message);
            assert_eq!(err.status, 400);
            err.message
        }
    }
}

fn validation<T: serde::de::DeserializeOwned + keystead_wire::Validate>(body: &str) -> String {
    rejection::<T>(body, "ValidationException")
}

fn serialization<T: serde::de::DeserializeOwned + keystead_wire::Validate>(body: &str) -> String {
    rejection::<T>(body, "SerializationException")
}

#[test]
fn checked_in_generated_code_equals_a_fresh_codegen() {
    if let Err(e) = xtask::codegen(&xtask::repository_root(), true) {
        panic!("{e}");
    }
}

#[test]
fn reference_encrypt_request_parses() {
    let request: EncryptRequest =
        parse_request(&vector("kms-encrypt-request.json")).expect("valid");
    assert_eq!(
        request.key_id.as_deref(),
        Some("1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    let plaintext = request.plaintext.expect("present");
    assert_eq!(plaintext.expose(), b"This is Day 1 for the Internet\n");
}

#[test]
fn reference_decrypt_request_parses() {
    let request: DecryptRequest =
        parse_request(&vector("kms-decrypt-request.json")).expect("valid");
    assert!(
        request
            .key_id
            .as_deref()
            .is_some_and(|k| k.starts_with("arn:aws:kms:us-west-2:"))
    );
    assert_eq!(
        request.ciphertext_blob.expect("present").as_bytes()[..3],
        [1, 2, 2]
    );
}

#[test]
fn reference_create_key_requests_parse() {
    let request: CreateKeyRequest =
        parse_request(&vector("kms-create-key-request.json")).expect("valid");
    let tags = request.tags.expect("present");
    assert_eq!(tags[0].tag_key.as_deref(), Some("CreatedBy"));
    assert_eq!(tags[0].tag_value.as_deref(), Some("ExampleUser"));

    let request: CreateKeyRequest =
        parse_request(&vector("kms-create-key-asymmetric-request.json")).expect("valid");
    assert_eq!(request.key_spec, Some(KeySpec::Rsa4096));
    assert_eq!(request.key_usage, Some(KeyUsageType::EncryptDecrypt));
}

#[test]
fn reference_create_alias_request_parses() {
    let request: CreateAliasRequest =
        parse_request(&vector("kms-create-alias-request.json")).expect("valid");
    assert_eq!(request.alias_name.as_deref(), Some("alias/ExampleAlias"));
}

#[test]
fn reference_list_keys_request_and_an_empty_body_parse() {
    let request: ListKeysRequest =
        parse_request(&vector("kms-list-keys-request.json")).expect("valid");
    assert_eq!(request.limit, Some(2));
    let request: ListKeysRequest = parse_request(b"").expect("an empty body is {}");
    assert_eq!(request, ListKeysRequest::default());
}

#[test]
fn encrypt_response_serializes_like_the_reference() {
    let expected: serde_json::Value =
        serde_json::from_slice(&vector("kms-encrypt-response.json")).expect("json");
    let ciphertext = expected["CiphertextBlob"].as_str().expect("string");
    let blob: Blob = serde_json::from_value(serde_json::Value::from(ciphertext)).expect("base64");
    let response = EncryptResponse {
        ciphertext_blob: Some(blob),
        encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
        key_id: expected["KeyId"].as_str().map(str::to_owned),
    };
    let body = keystead_wire::to_response_body(&response);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).expect("json"),
        expected
    );
    let empty = keystead_wire::to_response_body(&EncryptResponse::default());
    assert_eq!(empty, b"{}");
}

#[test]
fn missing_required_member_is_not_null_violation() {
    assert_eq!(
        validation::<EncryptRequest>(r#"{"KeyId":"alias/x"}"#),
        "1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: \
         Member must not be null"
    );
}

#[test]
fn too_long_plaintext_is_reported_without_its_value() {
    let plaintext = "QUFB".repeat(1366); // 4098 bytes of "A"
    let message =
        validation::<EncryptRequest>(&format!(r#"{{"KeyId":"k","Plaintext":"{plaintext}"}}"#));
    assert_eq!(
        message,
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: \
         Member must have length less than or equal to 4096"
    );
}

#[test]
fn too_short_string_and_bad_pattern_are_separate_violations() {
    assert_eq!(
        validation::<CreateAliasRequest>(r#"{"AliasName":""}"#),
        "3 validation errors detected: \
         Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value '' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$; \
         Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn bad_pattern_echoes_a_non_sensitive_value() {
    assert_eq!(
        validation::<CreateAliasRequest>(r#"{"AliasName":"alias/bad name!","TargetKeyId":"k"}"#),
        "1 validation error detected: Value 'alias/bad name!' at 'aliasName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    );
}

#[test]
fn patterns_must_match_the_whole_value() {
    assert_eq!(
        validation::<PutKeyPolicyRequest>(
            r#"{"KeyId":"k","Policy":"{}","PolicyName":"not default"}"#
        ),
        "1 validation error detected: Value 'not default' at 'policyName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [\\w]+"
    );
}

#[test]
fn policy_text_is_never_echoed() {
    assert_eq!(
        validation::<PutKeyPolicyRequest>(
            r#"{"KeyId":"k","Policy":"{\"Statement\": \"\u2603\"}"}"#
        ),
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must \
         satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    );
}

#[test]
fn out_of_range_number_is_reported_with_its_value() {
    assert_eq!(
        validation::<ListKeysRequest>(r#"{"Limit":5000}"#),
        "1 validation error detected: Value '5000' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 1000"
    );
    assert_eq!(
        validation::<ListKeysRequest>(r#"{"Limit":0}"#),
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 1"
    );
}

#[test]
fn unknown_enum_value_lists_the_value_set() {
    let message = validation::<CreateKeyRequest>(r#"{"KeySpec":"FOO"}"#);
    assert_eq!(
        message,
        format!(
            "1 validation error detected: Value 'FOO' at 'keySpec' failed to satisfy constraint: \
             Member must satisfy enum value set: [{}]",
            KeySpec::VALUES.join(", ")
        )
    );
    assert!(
        message.contains("[RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256,"),
        "{message}"
    );
}

#[test]
fn nested_list_members_are_addressed_by_one_based_index() {
    assert_eq!(
        validation::<CreateKeyRequest>(
            r#"{"Tags":[{"TagKey":"ok","TagValue":""},{"TagKey":"","TagValue":"v"},{"TagKey":"k"}]}"#
        ),
        "2 validation errors detected: \
         Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value null at 'tags.3.member.tagValue' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn nested_map_keys_and_values_are_checked() {
    let message = validation::<cloudtrail::ListInsightsDataRequest>(
        r#"{"InsightSource":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t","DataType":"Events",
            "Dimensions":{"Bogus":"","EventName":"x"}}"#,
    );
    assert_eq!(
        message,
        "4 validation errors detected: \
         Value 'Events' at 'dataType' failed to satisfy constraint: Member must satisfy enum value set: [InsightsEvents]; \
         Value at 'dimensions' failed to satisfy constraint: Member must have length less than or equal to 1; \
         Value 'Bogus' at 'dimensions.1.key' failed to satisfy constraint: Member must satisfy enum value set: [EventId, EventName, EventSource]; \
         Value '' at 'dimensions.1.value' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
}

#[test]
fn malformed_json_is_a_serialization_exception() {
    let message = serialization::<EncryptRequest>(r#"{"KeyId":"#);
    assert!(message.starts_with("Malformed JSON"), "{message}");
    serialization::<EncryptRequest>("[]");
    serialization::<EncryptRequest>("null");
    serialization::<EncryptRequest>(r#"{"KeyId":"k"} trailing"#);
}

#[test]
fn wrong_json_type_names_the_member_but_not_the_value() {
    let message = serialization::<ListKeysRequest>(r#"{"Marker":"m","Limit":"secret-ish-987"}"#);
    assert_eq!(
        message,
        "Cannot deserialize member 'Limit': expected an integer"
    );
    let message = serialization::<EncryptRequest>(r#"{"KeyId":{"nested":"secret-ish-987"}}"#);
    assert_eq!(
        message,
        "Cannot deserialize member 'KeyId': expected a string"
    );
    let message = serialization::<ListKeysRequest>(r#"{"Limit":99999999999}"#);
    assert_eq!(
        message,
        "Cannot deserialize member 'Limit': expected an integer"
    );
    let message = serialization::<CreateKeyRequest>(r#"{"Tags":[{"TagKey":7}]}"#);
    assert_eq!(
        message,
        "Cannot deserialize member 'Tags': expected a string"
    );
}

#[test]
fn unknown_member_is_a_serialization_exception() {
    assert_eq!(
        serialization::<EncryptRequest>(r#"{"KeyId":"k","Bogus":1}"#),
        "Unknown member 'Bogus'"
    );
    assert_eq!(
        serialization::<CreateKeyRequest>(r#"{"Tags":[{"TagKey":"k","TagValue":"v","Extra":1}]}"#),
        "Unknown member 'Extra' in 'Tags'"
    );
}

#[test]
fn invalid_base64_is_a_serialization_exception_without_the_value() {
    let message = serialization::<EncryptRequest>(r#"{"KeyId":"k","Plaintext":"c2VjcmV0*"}"#);
    assert_eq!(
        message,
        "Cannot deserialize member 'Plaintext': invalid base64"
    );
}

#[test]
fn error_codes_carry_aws_statuses() {
    assert_eq!(ErrorCode::NotFoundException.status(), 400);
    assert_eq!(ErrorCode::KMSInternalException.status(), 500);
    assert_eq!(ErrorCode::KeyUnavailableException.status(), 500);
    assert_eq!(ErrorCode::DependencyTimeoutException.status(), 503);
    assert_eq!(ErrorCode::MissingAuthenticationTokenException.status(), 403);
    assert_eq!(ErrorCode::ServiceUnavailable.status(), 503);
    assert_eq!(
        ErrorCode::KMSInternalException.as_str(),
        "KMSInternalException"
    );
    assert_eq!(
        ErrorCode::from_code("KMSInvalidStateException"),
        Some(ErrorCode::KMSInvalidStateException)
    );
    assert_eq!(ErrorCode::from_code("NoSuchThing"), None);
    assert_eq!(
        secretsmanager::ErrorCode::InternalServiceError.status(),
        500
    );
    assert_eq!(
        secretsmanager::ErrorCode::ResourceNotFoundException.status(),
        400
    );
    assert_eq!(cloudtrail::ErrorCode::ThrottlingException.status(), 400);
}

#[test]
fn error_body_is_what_botocore_parses() {
    let err = ErrorCode::NotFoundException.with_message("Key 'x' does not exist");
    assert_eq!(err.status, 400);
    assert_eq!(
        err.to_json_body(),
        br#"{"__type":"NotFoundException","message":"Key 'x' does not exist"}"#
    );
    let err: AwsError = parse_request::<EncryptRequest>(b"{}")
        .err()
        .expect("invalid");
    let body: serde_json::Value = serde_json::from_slice(&err.to_json_body()).expect("json");
    assert_eq!(body["__type"], "ValidationException");
}

#[test]
fn operations_resolve_from_their_targets_only() {
    assert_eq!(
        Operation::from_target("TrentService.Encrypt"),
        Some(Operation::Encrypt)
    );
    assert_eq!(
        Operation::from_target("TrentService.GenerateDataKeyPair"),
        Some(Operation::GenerateDataKeyPair)
    );
    assert_eq!(Operation::Encrypt.name(), "Encrypt");
    for bad in [
        "TrentService.Nope",
        "TrentServiceEncrypt",
        "TrentService.",
        "Encrypt",
        "trentservice.Encrypt",
        "",
    ] {
        assert_eq!(Operation::from_target(bad), None, "{bad}");
    }
    assert_eq!(
        Operation::from_target("secretsmanager.GetSecretValue"),
        None
    );
    assert_eq!(
        secretsmanager::Operation::from_target("secretsmanager.GetSecretValue"),
        Some(secretsmanager::Operation::GetSecretValue)
    );
    assert_eq!(
        cloudtrail::Operation::from_target(
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
        ),
        Some(cloudtrail::Operation::LookupEvents)
    );
    assert!(
        Operation::ALL
            .iter()
            .all(|op| Operation::from_name(op.name()) == Some(*op))
    );
}

#[test]
fn unknown_enum_values_serialize_as_their_string() {
    assert_eq!(
        serde_json::to_string(&KeySpec::SymmetricDefault).expect("ok"),
        r#""SYMMETRIC_DEFAULT""#
    );
    assert_eq!(
        serde_json::to_string(&KeySpec::from("NEW_SPEC")).expect("ok"),
        r#""NEW_SPEC""#
    );
    assert_eq!(
        KeySpec::from("NEW_SPEC"),
        KeySpec::Unknown("NEW_SPEC".to_owned())
    );
}

#[test]
fn sensitive_values_never_appear_in_errors() {
    // "TOPSECRET" in base64, repeated past the 4096-byte limit.
    let secret = "VE9QU0VDUkVU".repeat(500);
    for body in [
        format!(r#"{{"KeyId":"k","Plaintext":"{secret}"}}"#),
        format!(r#"{{"Plaintext":"{secret}"}}"#),
        format!(r#"{{"KeyId":"k","Plaintext":"{secret}","Bogus":1}}"#),
        format!(r#"{{"KeyId":"k","Plaintext":["{secret}"]}}"#),
        format!(r#"{{"KeyId":"k","Plaintext":"{secret}!"}}"#),
    ] {
        let err = parse_request::<EncryptRequest>(body.as_bytes())
            .err()
            .expect("rejected");
        for text in [
            err.to_string(),
            format!("{err:?}"),
            String::from_utf8_lossy(&err.to_json_body()).into_owned(),
        ] {
            assert!(
                !text.contains("VE9QU0VDUkVU") && !text.contains("TOPSECRET"),
                "{text}"
            );
        }
    }
    // Secrets Manager: a sensitive string that is too long is not echoed either.
    let secret = "TOPSECRET".repeat(8000);
    let err = parse_request::<secretsmanager::PutSecretValueRequest>(
        format!(r#"{{"SecretId":"s","SecretString":"{secret}"}}"#).as_bytes(),
    )
    .err()
    .expect("too long");
    assert_eq!(
        err.message,
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: \
         Member must have length less than or equal to 65536"
    );
}

/// Compiles only if `T` does not implement `Debug` (the `static_assertions` trick: with a
/// `Debug` impl both blanket impls apply and inference fails).
macro_rules! assert_not_debug {
    ($($t:ty),*) => {$({
        trait AmbiguousIfDebug<A> {
            fn some_item() {}
        }
        impl<T: ?Sized> AmbiguousIfDebug<()> for T {}
        #[allow(dead_code)]
        struct Invalid;
        impl<T: ?Sized + std::fmt::Debug> AmbiguousIfDebug<Invalid> for T {}
        let _ = <$t as AmbiguousIfDebug<_>>::some_item;
    })*};
}

#[test]
fn sensitive_types_and_their_containers_are_not_debug() {
    assert_not_debug!(
        SensitiveBlob,
        SensitiveString,
        EncryptRequest,
        keystead_wire::kms::DecryptResponse,
        keystead_wire::kms::GenerateDataKeyResponse,
        secretsmanager::GetSecretValueResponse,
        secretsmanager::CreateSecretRequest
    );
}

#[test]
fn secrets_manager_requests_and_responses_use_the_same_machinery() {
    let request: secretsmanager::CreateSecretRequest = parse_request(
        br#"{"Name":"MyTestDatabaseSecret","SecretString":"{\"username\":\"david\",\"password\":\"EXAMPLE-PASSWORD\"}",
             "ClientRequestToken":"EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"}"#,
    )
    .expect("valid");
    assert_eq!(request.name.as_deref(), Some("MyTestDatabaseSecret"));
    assert!(
        request
            .secret_string
            .expect("present")
            .expose()
            .contains("david")
    );

    let response = secretsmanager::GetSecretValueResponse {
        name: Some("MyTestDatabaseSecret".to_owned()),
        secret_string: Some(SensitiveString::from("s3cr3t".to_owned())),
        created_date: Some(keystead_wire::Timestamp::from_epoch_seconds(1_523_477_145)),
        version_stages: Some(vec!["AWSCURRENT".to_owned()]),
        ..Default::default()
    };
    assert_eq!(
        keystead_wire::to_response_body(&response),
        br#"{"CreatedDate":1523477145,"Name":"MyTestDatabaseSecret","SecretString":"s3cr3t","VersionStages":["AWSCURRENT"]}"#
    );
}

#[test]
fn cloudtrail_lookup_events_accepts_numeric_timestamps() {
    let request: cloudtrail::LookupEventsRequest = parse_request(
        br#"{"StartTime":1700000000,"EndTime":1700000100.5,
             "LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"kms.amazonaws.com"}]}"#,
    )
    .expect("valid");
    assert_eq!(
        request.end_time.map(|t| t.as_secs_f64()),
        Some(1_700_000_100.5)
    );
    assert_eq!(
        serialization::<cloudtrail::LookupEventsRequest>(r#"{"StartTime":"yesterday"}"#),
        "Cannot deserialize member 'StartTime': expected a number of seconds since the epoch"
    );
    assert_eq!(
        validation::<cloudtrail::LookupEventsRequest>(
            r#"{"LookupAttributes":[{"AttributeKey":"Nope"}]}"#
        ),
        format!(
            "2 validation errors detected: Value 'Nope' at 'lookupAttributes.1.member.attributeKey' \
             failed to satisfy constraint: Member must satisfy enum value set: [{}]; Value null at \
             'lookupAttributes.1.member.attributeValue' failed to satisfy constraint: Member must not be null",
            cloudtrail::LookupAttributeKey::VALUES.join(", ")
        )
    );
}
