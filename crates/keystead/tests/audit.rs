//! The audit trail as a client sees it, against the real binary with the real aws-sdk-kms:
//! exactly one CloudTrail record per request, whatever the outcome (success, validation error,
//! denial, failed authentication, unknown operation, oversized body); records shaped field by
//! field like CloudTrail's documented KMS `Encrypt`, `Decrypt` and `GenerateDataKey` examples
//! (AWS KMS Developer Guide, "Logging AWS KMS API calls with AWS CloudTrail"); no plaintext or
//! data key in any file of the trail; service events for the workers' rotations; no trail at
//! all with `--audit off`.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use bytes::Bytes;
use keystead_testkit::sign::{Signer, kms_request};
use keystead_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keystead"))
}

/// Every record in the trail of `data_dir`, in order.
fn records(data_dir: &Path) -> Vec<Value> {
    let logs = data_dir.join("audit").join("logs");
    let mut files: Vec<_> = std::fs::read_dir(&logs)
        .expect("audit logs directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("log file");
        for line in text.lines() {
            let line: Value = serde_json::from_str(line).expect("a JSON line");
            out.push(line["event"].clone());
        }
    }
    out
}

/// The API-call records (not the log's own records) with `request_id`.
fn records_with_request_id(data_dir: &Path, request_id: &str) -> Vec<Value> {
    records(data_dir)
        .into_iter()
        .filter(|r| r["requestID"] == request_id)
        .collect()
}

/// The one record of `request_id`.
fn record(data_dir: &Path, request_id: &str) -> Value {
    let found = records_with_request_id(data_dir, request_id);
    assert_eq!(found.len(), 1, "records of {request_id}: {found:#?}");
    found.into_iter().next().expect("one")
}

fn field_names(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

async fn create_key(kms: &Client) -> (String, String) {
    let created = kms.create_key().send().await.expect("CreateKey");
    let metadata = created.key_metadata().expect("metadata");
    (
        metadata.key_id().to_owned(),
        metadata.arn().expect("arn").to_owned(),
    )
}

#[tokio::test]
async fn every_outcome_writes_exactly_one_record_with_the_returned_request_id() {
    let server = TestServer::start(bin(), ServerOptions::default());
    let kms = server.kms_client("us-east-1");
    let dir = server.data_dir();
    let account = server.account_id().to_owned();
    let before = records(dir).len();
    let mut request_ids = Vec::new();

    // Success.
    let created = kms.create_key().send().await.expect("CreateKey");
    let id = created.request_id().expect("request id").to_owned();
    let key_id = created
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    let r = record(dir, &id);
    assert_eq!(r["eventName"], "CreateKey");
    assert!(r.get("errorCode").is_none());
    assert_eq!(r["resources"][0]["type"], "AWS::KMS::Key");
    request_ids.push(id);

    // Validation error.
    let e = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(0)
        .send()
        .await
        .expect_err("NumberOfBytes 0");
    let id = e.request_id().expect("request id").to_owned();
    let r = record(dir, &id);
    assert_eq!(r["errorCode"], e.code().expect("code"));
    assert_eq!(r["eventName"], "GenerateDataKey");
    request_ids.push(id);

    // Not found.
    let e = kms
        .describe_key()
        .key_id("alias/does-not-exist")
        .send()
        .await
        .expect_err("no such alias");
    let id = e.request_id().expect("request id").to_owned();
    assert_eq!(record(dir, &id)["errorCode"], "NotFoundException");
    request_ids.push(id);

    // AccessDenied: a key whose policy denies Encrypt to everyone.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}
        ]
    });
    let denied_key = kms
        .create_key()
        .policy(policy.to_string())
        .send()
        .await
        .expect("CreateKey with a deny");
    request_ids.push(denied_key.request_id().expect("request id").to_owned());
    let denied_key = denied_key
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    let e = kms
        .encrypt()
        .key_id(&denied_key)
        .plaintext(Blob::new(b"denied".to_vec()))
        .send()
        .await
        .expect_err("denied");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let id = e.request_id().expect("request id").to_owned();
    let r = record(dir, &id);
    assert_eq!(r["errorCode"], "AccessDeniedException");
    assert_eq!(r["userIdentity"]["type"], "Root");
    assert_eq!(
        r["resources"][0]["ARN"],
        format!("arn:aws:kms:us-east-1:{account}:key/{denied_key}")
    );
    request_ids.push(id);

    // Failed authentication: a wrong secret for a real access key id.
    let mut wrong = server.identity().clone();
    wrong.secret_access_key = "0".repeat(40);
    let bad = server.kms_client_with("us-east-1", wrong.credentials());
    let e = bad.list_keys().send().await.expect_err("bad signature");
    let id = e.request_id().expect("request id").to_owned();
    let r = record(dir, &id);
    assert_eq!(r["errorCode"], e.code().expect("code"));
    assert_eq!(
        r["userIdentity"]["accessKeyId"],
        server.identity().access_key_id
    );
    assert_eq!(r["userIdentity"]["accountId"], account);
    assert!(r["userIdentity"].get("arn").is_none(), "{r:#}");
    request_ids.push(id);

    // Unknown operation, correctly signed.
    let signer = Signer::new(server.identity(), "us-east-1");
    let mut request =
        kms_request(server.endpoint(), "NoSuchOperation", Bytes::from("{}")).expect("request");
    signer.sign(&mut request).expect("sign");
    let response = server.send(request).await.expect("send");
    assert_eq!(
        response.error_type().as_deref(),
        Some("UnknownOperationException")
    );
    let id = response
        .headers
        .get("x-amzn-requestid")
        .expect("request id")
        .to_str()
        .expect("ascii")
        .to_owned();
    let r = record(dir, &id);
    assert_eq!(r["errorCode"], "UnknownOperationException");
    assert_eq!(r["eventName"], "NoSuchOperation");
    request_ids.push(id);

    // A body over the limit, never read.
    let request = kms_request(server.endpoint(), "Encrypt", vec![b'a'; 300 * 1024]).expect("big");
    let response = server.send(request).await.expect("send");
    assert_eq!(
        response.error_type().as_deref(),
        Some("RequestEntityTooLargeException")
    );
    let id = response
        .headers
        .get("x-amzn-requestid")
        .expect("request id")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(record(dir, &id)["requestParameters"], Value::Null);
    request_ids.push(id);

    // Health and metrics are not API calls and write nothing.
    let added: Vec<Value> = records(dir).into_iter().skip(before).collect();
    assert_eq!(added.len(), request_ids.len(), "{added:#?}");
    let ids: BTreeSet<&str> = added
        .iter()
        .map(|r| r["requestID"].as_str().expect("requestID"))
        .collect();
    assert_eq!(ids.len(), request_ids.len());
    let event_ids: BTreeSet<&str> = added
        .iter()
        .map(|r| r["eventID"].as_str().expect("eventID"))
        .collect();
    assert_eq!(event_ids.len(), request_ids.len(), "event ids are unique");
}

#[tokio::test]
async fn crypto_records_match_cloudtrails_documented_kms_examples_field_by_field() {
    let server = TestServer::start(bin(), ServerOptions::default());
    let kms = server.kms_client("us-west-2");
    let dir = server.data_dir();
    let account = server.account_id().to_owned();
    let access_key_id = server.identity().access_key_id.clone();
    let (key_id, key_arn) = create_key(&kms).await;

    // The fields of the documented examples, in the order CloudTrail writes them.
    let documented: BTreeSet<String> = [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let check_common = |r: &Value, name: &str| {
        assert_eq!(field_names(r), documented, "{name}: {r:#}");
        assert_eq!(r["eventVersion"], "1.11");
        assert_eq!(
            r["userIdentity"],
            json!({
                "type": "Root",
                "principalId": account,
                "arn": format!("arn:aws:iam::{account}:root"),
                "accountId": account,
                "accessKeyId": access_key_id,
            })
        );
        let time = r["eventTime"].as_str().expect("eventTime");
        assert_eq!(time.len(), "2020-07-14T23:19:17Z".len(), "{time}");
        assert!(time.ends_with('Z'));
        assert_eq!(r["eventSource"], "kms.amazonaws.com");
        assert_eq!(r["eventName"], name);
        assert_eq!(r["awsRegion"], "us-west-2");
        assert_eq!(r["sourceIPAddress"], "127.0.0.1");
        assert!(
            r["userAgent"]
                .as_str()
                .expect("userAgent")
                .contains("aws-sdk-rust")
        );
        assert_eq!(r["responseElements"], Value::Null);
        assert_eq!(r["readOnly"], true);
        assert_eq!(
            r["resources"],
            json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_arn}])
        );
        assert_eq!(r["eventType"], "AwsApiCall");
        assert_eq!(r["managementEvent"], true);
        assert_eq!(r["recipientAccountId"], account);
        assert_eq!(r["eventCategory"], "Management");
        assert_eq!(r["eventID"].as_str().expect("eventID").len(), 36);
    };

    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"documented".to_vec()))
        .encryption_context("Department", "IT")
        .encryption_algorithm(aws_sdk_kms::types::EncryptionAlgorithmSpec::SymmetricDefault)
        .send()
        .await
        .expect("Encrypt");
    let r = record(dir, encrypted.request_id().expect("request id"));
    check_common(&r, "Encrypt");
    assert_eq!(
        r["requestParameters"],
        json!({
            "keyId": key_id,
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"Department": "IT"},
        })
    );

    // Decrypt without a KeyId: the record names the key the ciphertext names, as AWS does.
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(encrypted.ciphertext_blob().expect("blob").clone())
        .encryption_context("Department", "IT")
        .send()
        .await
        .expect("Decrypt");
    let r = record(dir, decrypted.request_id().expect("request id"));
    check_common(&r, "Decrypt");
    assert_eq!(
        r["requestParameters"],
        json!({"keyId": key_arn, "encryptionContext": {"Department": "IT"}})
    );

    let data_key = kms
        .generate_data_key()
        .key_id(&key_arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("Project", "Alpha")
        .send()
        .await
        .expect("GenerateDataKey");
    let r = record(dir, data_key.request_id().expect("request id"));
    check_common(&r, "GenerateDataKey");
    assert_eq!(
        r["requestParameters"],
        json!({
            "keyId": key_arn,
            "keySpec": "AES_256",
            "encryptionContext": {"Project": "Alpha"},
        })
    );
}

#[tokio::test]
async fn no_plaintext_or_data_key_reaches_any_file_of_the_trail() {
    use base64::Engine;
    let server = TestServer::start(bin(), ServerOptions::default());
    let kms = server.kms_client("us-east-1");
    let (key_id, _) = create_key(&kms).await;
    let planted = b"planted-plaintext-7f3a9c".to_vec();
    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(planted.clone()))
        .send()
        .await
        .expect("Encrypt");
    let blob = encrypted.ciphertext_blob().expect("blob").clone();
    kms.decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .expect("Decrypt");
    let data_key = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateDataKey");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let needles: Vec<Vec<u8>> = vec![
        planted.clone(),
        b64(&planted).into_bytes(),
        b64(blob.as_ref()).into_bytes(),
        b64(data_key.plaintext().expect("plaintext").as_ref()).into_bytes(),
        server.identity().secret_access_key.clone().into_bytes(),
    ];
    let mut files = Vec::new();
    let mut stack = vec![server.data_dir().join("audit")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{} holds a planted secret",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn automatic_rotation_is_recorded_as_a_service_event() {
    let server = TestServer::start(bin(), ServerOptions::default().with_test_clock());
    let kms = server.kms_client("us-east-1");
    let account = server.account_id().to_owned();
    let (key_id, key_arn) = create_key(&kms).await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let advance = server.advance_clock(91).await.expect("advance");
    assert_eq!(advance.rotated, 1);
    let events: Vec<Value> = records(server.data_dir())
        .into_iter()
        .filter(|r| r["eventType"] == "AwsServiceEvent")
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    let r = &events[0];
    assert_eq!(r["eventName"], "RotateKey");
    assert_eq!(
        r["userIdentity"],
        json!({"accountId": account, "invokedBy": "kms.amazonaws.com"})
    );
    assert_eq!(r["sourceIPAddress"], "kms.amazonaws.com");
    assert_eq!(r["requestParameters"], Value::Null);
    assert!(r.get("requestID").is_none());
    assert_eq!(r["resources"][0]["ARN"], key_arn);
    assert_eq!(r["recipientAccountId"], account);
}

#[tokio::test]
async fn deletion_at_the_end_of_the_window_is_recorded_with_the_deleted_keys_arn() {
    // The key is gone when the record is written: its ARN must come from the deletion itself.
    let server = TestServer::start(bin(), ServerOptions::default().with_test_clock());
    let kms = server.kms_client("us-west-2");
    let (key_id, key_arn) = create_key(&kms).await;
    assert!(key_arn.starts_with("arn:aws:kms:us-west-2:"), "{key_arn}");
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let advance = server.advance_clock(8).await.expect("advance");
    assert_eq!(advance.deleted, 1);
    let events: Vec<Value> = records(server.data_dir())
        .into_iter()
        .filter(|r| r["eventType"] == "AwsServiceEvent")
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["eventName"], "DeleteKey");
    assert_eq!(events[0]["awsRegion"], "us-west-2");
    assert_eq!(events[0]["resources"][0]["ARN"], key_arn);
}

#[tokio::test]
async fn with_audit_off_no_trail_is_written_and_metrics_say_so() {
    let mut options = ServerOptions::default();
    options.args.push("--audit".into());
    options.args.push("off".into());
    let server = TestServer::start(bin(), options);
    let kms = server.kms_client("us-east-1");
    create_key(&kms).await;
    assert!(!server.data_dir().join("audit").join("logs").exists());
    let request = http::Request::builder()
        .uri(format!("{}/metrics", server.endpoint()))
        .body(Bytes::new())
        .expect("request");
    let metrics = server.send(request).await.expect("metrics").text();
    assert!(metrics.contains("keystead_audit_enabled 0"), "{metrics}");
}

#[tokio::test]
async fn the_signing_key_is_stored_sealed_and_records_continue_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(bin(), ServerOptions::default().in_dir(dir.path()));
    let kms = server.kms_client("us-east-1");
    create_key(&kms).await;
    let key_file = std::fs::read_to_string(dir.path().join("audit-signing.key")).expect("key");
    assert!(key_file.starts_with("keystead-sealed-ed25519-key-v1:"));
    let identity = server.identity().clone();
    server.stop().expect("stop");
    let mut options = ServerOptions::default().in_dir(dir.path());
    options.identity = Some(identity);
    let server = TestServer::start(bin(), options);
    let kms = server.kms_client("us-east-1");
    let listed = kms.list_keys().send().await.expect("ListKeys");
    let r = record(dir.path(), listed.request_id().expect("request id"));
    assert_eq!(r["eventName"], "ListKeys");
}
