//! Secrets Manager rotation against the real binary and a real PostgreSQL (`admin/pg`;
//! `KEYSTEAD_TEST_PG_URL`): the seed's secret rotated by the built-in single-user rotator and
//! read from its us-west-2 replica, and a crash right after `setSecret` that a restart on the
//! same data directory finishes. Logins are checked with `psql`, as an application would log in.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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

/// The PostgreSQL cluster: `(superuser url, host, port)`.
fn postgres() -> Option<(String, String, u16)> {
    let url = keystead_testkit::postgres::test_pg_url()?;
    let rest = url.split_once('@')?.1;
    let (host_port, _) = rest.split_once('/')?;
    let (host, port) = host_port.rsplit_once(':')?;
    Some((url.clone(), host.to_owned(), port.parse().ok()?))
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `user` logs in with `password`.
fn can_login(host: &str, port: u16, user: &str, password: &str) -> bool {
    Command::new("psql")
        .args([
            "-h",
            host,
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            "postgres",
        ])
        .args(["-w", "-qAtc", "SELECT 1"])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql")
        .status
        .success()
}

/// A new login role with a random password.
fn create_role(url: &str) -> (String, String) {
    let suffix: String = uuid_like();
    let (user, password) = (format!("ksr_{suffix}"), format!("P{suffix}x"));
    psql(
        url,
        &format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"),
    );
    (user, password)
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

fn db_secret(host: &str, port: u16, user: &str, password: &str) -> String {
    json!({
        "engine": "postgres", "host": host, "port": port,
        "username": user, "password": password, "dbname": "postgres",
    })
    .to_string()
}

/// Waits until AWSCURRENT of `name` is on another version than `old`; returns it.
async fn wait_rotated(server: &TestServer, name: &str, old: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described = ok(
            server,
            "us-east-1",
            "DescribeSecret",
            json!({"SecretId": name}),
        )
        .await;
        let current = described["VersionIdsToStages"]
            .as_object()
            .and_then(|m| {
                m.iter().find(|(_, s)| {
                    s.as_array()
                        .is_some_and(|s| s.iter().any(|l| l == "AWSCURRENT"))
                })
            })
            .map(|(v, _)| v.clone())
            .unwrap_or_default();
        if current != old && described.get("LastRotatedDate").is_some() {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "not rotated: {described}\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn value(server: &TestServer, region: &str, name: &str, stage: &str) -> Value {
    let out = ok(
        server,
        region,
        "GetSecretValue",
        json!({"SecretId": name, "VersionStage": stage}),
    )
    .await;
    serde_json::from_str(out["SecretString"].as_str().unwrap_or_default()).expect("json value")
}

#[tokio::test]
async fn the_seed_secret_rotates_against_postgres_and_its_replica_follows() {
    let Some((url, host, port)) = postgres() else {
        return;
    };
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
    let (user, old_password) = create_role(&url);
    let name = "rds/contact-db/credentials";
    let created = ok(
        &server,
        "us-east-1",
        "CreateSecret",
        json!({
            "Name": name,
            "SecretString": db_secret(&host, port, &user, &old_password),
            "KmsKeyId": "alias/secrets-manager-encryption",
            "AddReplicaRegions": [{"Region": "us-west-2"}],
        }),
    )
    .await;
    let first = created["VersionId"].as_str().unwrap_or_default().to_owned();
    let rotated = ok(
        &server,
        "us-east-1",
        "RotateSecret",
        json!({"SecretId": name, "RotationRules": {"AutomaticallyAfterDays": 30}}),
    )
    .await;
    let token = rotated["VersionId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(wait_rotated(&server, name, &first).await, token);

    let new = value(&server, "us-east-1", name, "AWSCURRENT").await;
    let new_password = new["password"].as_str().unwrap_or_default();
    assert_ne!(new_password, old_password);
    assert!(can_login(&host, port, &user, new_password));
    assert!(!can_login(&host, port, &user, &old_password));
    let previous = value(&server, "us-east-1", name, "AWSPREVIOUS").await;
    assert_eq!(previous["password"], old_password.as_str());
    let west = value(&server, "us-west-2", name, "AWSCURRENT").await;
    assert_eq!(west["password"], new_password);
}

#[tokio::test]
async fn a_crash_after_set_secret_is_finished_by_a_restart() {
    let Some((url, host, port)) = postgres() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut options = ServerOptions::default().with_test_clock().in_dir(&data);
    options.env.push((
        "KEYSTEAD_DANGER_CRASH_AFTER_ROTATION_STEP".into(),
        "setSecret".into(),
    ));
    let mut server = TestServer::start(bin(), options.clone());
    let (user, old_password) = create_role(&url);
    let name = "rds/crash";
    let created = ok(
        &server,
        "us-east-1",
        "CreateSecret",
        json!({"Name": name, "SecretString": db_secret(&host, port, &user, &old_password)}),
    )
    .await;
    let first = created["VersionId"].as_str().unwrap_or_default().to_owned();
    ok(
        &server,
        "us-east-1",
        "RotateSecret",
        json!({"SecretId": name}),
    )
    .await;
    let stopped = server
        .wait_for_exit(Duration::from_secs(60))
        .expect("the test switch aborts the server");
    assert!(!stopped.status.success());
    // setSecret is done: single-user semantics, only the pending password works now.
    assert!(!can_login(&host, port, &user, &old_password));

    options.env.clear();
    options.identity = Some(server.identity().clone());
    let server = TestServer::start(bin(), options);
    wait_rotated(&server, name, &first).await;
    let new = value(&server, "us-east-1", name, "AWSCURRENT").await;
    assert!(can_login(
        &host,
        port,
        &user,
        new["password"].as_str().unwrap_or_default()
    ));
    let previous = value(&server, "us-east-1", name, "AWSPREVIOUS").await;
    assert_eq!(previous["password"], old_password.as_str());
    server.stop().expect("stop");
}
