//! Secrets Manager against the real binary: requests signed by the real AWS signer for the
//! `secretsmanager` service (as every SDK does), keys managed with the real aws-sdk-kms. Covers
//! the seed's secret (customer key by alias, replica in us-west-2), a disabled key, durability
//! across a restart, and the worker that purges deleted secrets.

use std::path::Path;

use keystead_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keystead"))
}

/// Sends one Secrets Manager operation in `region`; returns `(status, body)`.
async fn call(server: &TestServer, region: &str, operation: &str, body: Value) -> (u16, Value) {
    server
        .json_call("secretsmanager", "secretsmanager", region, operation, &body)
        .await
}

async fn ok(server: &TestServer, region: &str, operation: &str, body: Value) -> Value {
    let (status, out) = call(server, region, operation, body).await;
    assert_eq!(status, 200, "{operation}: {out}");
    out
}

async fn error(server: &TestServer, region: &str, operation: &str, body: Value) -> String {
    let (status, out) = call(server, region, operation, body).await;
    assert_eq!(status, 400, "{operation}: {out}");
    out["__type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_seed_secret_is_encrypted_under_its_key_and_readable_from_its_replica() {
    let server = TestServer::start(bin(), ServerOptions::default());
    let kms = server.kms_client("us-east-1");
    let key = kms.create_key().send().await.expect("create key");
    let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
    kms.create_alias()
        .alias_name("alias/secrets-manager-encryption")
        .target_key_id(&key_id)
        .send()
        .await
        .expect("alias");

    let creds = r#"{"engine":"postgres","username":"app","password":"p1"}"#;
    let created = ok(
        &server,
        "us-east-1",
        "CreateSecret",
        json!({
            "Name": "rds/contact-db/credentials",
            "SecretString": creds,
            "KmsKeyId": "alias/secrets-manager-encryption",
            "AddReplicaRegions": [{"Region": "us-west-2"}],
        }),
    )
    .await;
    assert_eq!(created["ReplicationStatus"][0]["Status"], "InSync");
    let body = json!({"SecretId": "rds/contact-db/credentials"});
    let west = ok(&server, "us-west-2", "GetSecretValue", body.clone()).await;
    assert_eq!(west["SecretString"], creds);

    let versions = ok(&server, "us-east-1", "ListSecretVersionIds", body.clone()).await;
    let key_arn = versions["Versions"][0]["KmsKeyIds"][0]
        .as_str()
        .unwrap_or_default();
    assert!(key_arn.ends_with(&key_id), "{key_arn}");

    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("disable");
    assert_eq!(
        error(&server, "us-east-1", "GetSecretValue", body.clone()).await,
        "DecryptionFailure"
    );
    // The replica is under us-west-2's own key and stays readable.
    ok(&server, "us-west-2", "GetSecretValue", body.clone()).await;
    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("enable");
    let east = ok(&server, "us-east-1", "GetSecretValue", body).await;
    assert_eq!(east["SecretString"], creds);
}

#[tokio::test]
async fn secrets_survive_a_restart_and_are_purged_after_their_window() {
    let server = TestServer::start(bin(), ServerOptions::default().with_test_clock());
    let name = json!({"SecretId": "durable"});
    ok(
        &server,
        "eu-west-1",
        "CreateSecret",
        json!({"Name": "durable", "SecretString": "v1"}),
    )
    .await;
    ok(
        &server,
        "eu-west-1",
        "PutSecretValue",
        json!({"SecretId": "durable", "SecretString": "v2"}),
    )
    .await;
    let (server, _) = server.restart().expect("restart");
    let got = ok(&server, "eu-west-1", "GetSecretValue", name.clone()).await;
    assert_eq!(got["SecretString"], "v2");
    let previous = ok(
        &server,
        "eu-west-1",
        "GetSecretValue",
        json!({"SecretId": "durable", "VersionStage": "AWSPREVIOUS"}),
    )
    .await;
    assert_eq!(previous["SecretString"], "v1");

    ok(
        &server,
        "eu-west-1",
        "DeleteSecret",
        json!({"SecretId": "durable", "RecoveryWindowInDays": 7}),
    )
    .await;
    server.advance_clock(8).await.expect("advance clock");
    assert_eq!(
        error(&server, "eu-west-1", "DescribeSecret", name).await,
        "ResourceNotFoundException"
    );
}
