//! The binary's life, seen from outside: initialization and its files, restarts on the same
//! data directory, `--dev`, configuration errors, graceful shutdown under load, and TLS.
//!
//! Each test starts its own server, since most of them stop, restart or misconfigure it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_kms::config::Credentials;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, RotationType, Tag};
use bytes::Bytes;
use http::StatusCode;
use keystead_testkit::http::{TlsClient, send};
use keystead_testkit::sign::{self, Signer};
use keystead_testkit::{Error, ServerOptions, TestServer, TlsFiles, init};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keystead"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("tag")
}

#[tokio::test]
async fn keys_aliases_tags_versions_and_policies_survive_a_restart() {
    let server = TestServer::start(bin(), ServerOptions::default());
    let account = server.account_id().to_owned();
    let kms = server.kms_client("us-east-1");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "survives",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string();
    let main = kms
        .create_key()
        .description("persistent")
        .policy(&policy)
        .tags(tag("app", "contact-form"))
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    kms.create_alias()
        .alias_name("alias/persistent")
        .target_key_id(&main)
        .send()
        .await
        .expect("CreateAlias");
    kms.enable_key_rotation()
        .key_id(&main)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let old = kms
        .encrypt()
        .key_id(&main)
        .plaintext(Blob::new("written before the rotation and the restart"))
        .encryption_context("purpose", "restart")
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("ciphertext")
        .clone();
    kms.rotate_key_on_demand()
        .key_id(&main)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    let new = kms
        .encrypt()
        .key_id("alias/persistent")
        .plaintext(Blob::new("written after the rotation"))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("ciphertext")
        .clone();
    let status_before = kms
        .get_key_rotation_status()
        .key_id(&main)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    let disabled = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    kms.disable_key()
        .key_id(&disabled)
        .send()
        .await
        .expect("DisableKey");
    let pending = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&pending)
        .pending_window_in_days(10)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    drop(kms);

    let (server, stopped) = server.restart().expect("restart");
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
    assert!(
        !server.stdout().contains("Initialized"),
        "a restart re-initialized: {}",
        server.stdout()
    );
    let kms = server.kms_client("us-east-1");

    let described = kms
        .describe_key()
        .key_id("alias/persistent")
        .send()
        .await
        .expect("DescribeKey by alias");
    let meta = described.key_metadata().expect("metadata");
    assert_eq!(meta.key_id(), main);
    assert_eq!(meta.description(), Some("persistent"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    let tags = kms
        .list_resource_tags()
        .key_id(&main)
        .send()
        .await
        .expect("ListResourceTags");
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(
        (tags.tags()[0].tag_key(), tags.tags()[0].tag_value()),
        ("app", "contact-form")
    );
    let stored = kms
        .get_key_policy()
        .key_id(&main)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(stored.policy(), Some(policy.as_str()));
    let status = kms
        .get_key_rotation_status()
        .key_id(&main)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(90));
    assert_eq!(
        status.next_rotation_date(),
        status_before.next_rotation_date()
    );
    let rotations = kms
        .list_key_rotations()
        .key_id(&main)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(rotations.rotations().len(), 1);
    assert_eq!(
        rotations.rotations()[0].rotation_type(),
        Some(&RotationType::OnDemand)
    );

    let decrypted = kms
        .decrypt()
        .ciphertext_blob(old)
        .encryption_context("purpose", "restart")
        .send()
        .await
        .expect("Decrypt the pre-rotation ciphertext");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&b"written before the rotation and the restart"[..])
    );
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(new)
        .send()
        .await
        .expect("Decrypt the post-rotation ciphertext");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&b"written after the rotation"[..])
    );

    let meta = kms
        .describe_key()
        .key_id(&disabled)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        meta.key_metadata().expect("metadata").key_state(),
        Some(&KeyState::Disabled)
    );
    let meta = kms
        .describe_key()
        .key_id(&pending)
        .send()
        .await
        .expect("DescribeKey");
    let meta = meta.key_metadata().expect("metadata");
    assert_eq!(meta.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(meta.deletion_date(), scheduled.deletion_date());
    let keys = kms.list_keys().send().await.expect("ListKeys");
    assert_eq!(keys.keys().len(), 3);
    let aliases = kms.list_aliases().send().await.expect("ListAliases");
    assert_eq!(aliases.aliases().len(), 1);

    let stopped = server.stop().expect("stop");
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
}

#[test]
fn init_creates_a_private_data_directory_and_refuses_to_run_twice() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let identity = init(bin(), &data).expect("keystead init");
    let account = identity
        .account_id
        .clone()
        .expect("init prints the account id");
    assert_eq!(account.len(), 12, "{account}");
    assert!(account.bytes().all(|b| b.is_ascii_digit()), "{account}");
    assert!(identity.access_key_id.starts_with("AKIA"));
    assert_eq!(identity.access_key_id.len(), 20);
    assert_eq!(identity.secret_access_key.len(), 40);

    assert_eq!(mode(&data), 0o700, "data directory");
    for file in ["root.key", "keystead.db", "credentials"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let credentials = std::fs::read_to_string(data.join("credentials")).expect("credentials");
    assert!(credentials.starts_with("[keystead]\n"), "{credentials}");
    assert!(credentials.contains(&format!("aws_access_key_id = {}", identity.access_key_id)));
    assert!(credentials.contains(&format!(
        "aws_secret_access_key = {}",
        identity.secret_access_key
    )));

    match init(bin(), &data) {
        Err(Error::CommandFailed {
            status,
            stdout,
            stderr,
            ..
        }) => {
            assert!(!status.success());
            assert!(
                stderr.contains("already initialized"),
                "stdout: {stdout}\nstderr: {stderr}"
            );
            assert!(
                !stdout.contains("aws_secret_access_key"),
                "a second init printed credentials: {stdout}"
            );
        }
        Err(e) => panic!("unexpected failure: {e}"),
        Ok(_) => panic!("a second init succeeded"),
    }
    let after = std::fs::read_to_string(data.join("credentials")).expect("credentials");
    assert_eq!(after, credentials, "the credentials file changed");
}

#[tokio::test]
async fn serve_on_an_initialized_directory_keeps_the_credentials_init_printed() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let identity = init(bin(), &data).expect("keystead init");
    let mut options = ServerOptions::default().in_dir(&data);
    options.identity = Some(identity.clone());
    let server = TestServer::start(bin(), options);
    let stdout = server.stdout();
    assert!(!stdout.contains("Initialized"), "{stdout}");
    assert!(!stdout.contains("aws_secret_access_key"), "{stdout}");

    let created = server
        .kms_client("us-east-1")
        .create_key()
        .send()
        .await
        .expect("CreateKey with init's credentials");
    assert_eq!(
        created.key_metadata().expect("metadata").aws_account_id(),
        identity.account_id.as_deref()
    );
    let stopped = server.stop().expect("stop");
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
}

#[tokio::test]
async fn dev_mode_accepts_any_access_key_and_says_so_loudly() {
    let server = TestServer::start(bin(), ServerOptions::default().dev());
    let stderr = server.stderr();
    assert!(stderr.contains("--dev"), "no --dev banner: {stderr}");

    let account_key = Credentials::new("111122223333", "any secret", None, None, "test");
    let as_account = server.kms_client_with("us-east-1", account_key);
    let created = as_account
        .create_key()
        .send()
        .await
        .expect("CreateKey with a made-up key");
    let meta = created.key_metadata().expect("metadata");
    assert_eq!(meta.aws_account_id(), Some("111122223333"));
    let key = meta.key_id().to_owned();

    let other_key = Credentials::new("AKIAMADEUPFORTHETEST", "another secret", None, None, "test");
    let as_default = server.kms_client_with("us-east-1", other_key);
    let created = as_default
        .create_key()
        .send()
        .await
        .expect("CreateKey with another made-up key");
    assert_eq!(
        created.key_metadata().expect("metadata").aws_account_id(),
        Some("000000000000")
    );

    let listed = as_account.list_keys().send().await.expect("ListKeys");
    let ids: Vec<&str> = listed.keys().iter().filter_map(|k| k.key_id()).collect();
    assert_eq!(ids, [key.as_str()], "accounts are still separate in --dev");
}

#[test]
fn dev_mode_refuses_to_listen_beyond_loopback() {
    let mut options = ServerOptions::default().dev();
    options.listen = Some("0.0.0.0:0".to_owned());
    match TestServer::try_start(bin(), options) {
        Err(Error::ExitedBeforeListening { status, stderr, .. }) => {
            assert!(!status.success());
            assert!(stderr.contains("listen"), "{stderr}");
        }
        Err(e) => panic!("unexpected failure: {e}"),
        Ok(_) => panic!("--dev listened on 0.0.0.0"),
    }
}

/// Starts with `config` as the configuration file, expecting it to be refused with a message
/// that names the file and `field`.
fn assert_config_refused(config: &str, field: &str) {
    let temp = tempfile::tempdir().expect("temp dir");
    let path = temp.path().join("keystead.toml");
    std::fs::write(&path, config).expect("write config");
    let options = ServerOptions {
        config: Some(path.clone()),
        ..ServerOptions::default()
    };
    match TestServer::try_start(bin(), options) {
        Err(Error::ExitedBeforeListening { status, stderr, .. }) => {
            assert!(!status.success());
            assert!(
                stderr.contains(&path.display().to_string()),
                "{config:?}: the message does not name the file: {stderr}"
            );
            assert!(
                stderr.contains(field),
                "{config:?}: the message does not name the field {field}: {stderr}"
            );
        }
        Err(e) => panic!("unexpected failure: {e}"),
        Ok(_) => panic!("{config:?} was accepted"),
    }
}

#[test]
fn a_config_file_with_an_unknown_field_is_refused_naming_the_file_and_field() {
    assert_config_refused("listn = \"127.0.0.1:0\"\n", "listn");
}

#[test]
fn a_config_file_with_a_wrongly_typed_field_is_refused_naming_the_file_and_field() {
    assert_config_refused("worker_interval_secs = \"soon\"\n", "worker_interval_secs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_in_flight_requests_finish_and_exits_with_status_zero() {
    const LOOPS: usize = 16;
    let mut server = TestServer::start(bin(), ServerOptions::default());
    let kms = server.kms_client("us-east-1");
    let key = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    let succeeded = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::with_capacity(LOOPS);
    for _ in 0..LOOPS {
        let kms = kms.clone();
        let key = key.clone();
        let succeeded = succeeded.clone();
        loops.push(tokio::spawn(async move {
            loop {
                let result = kms
                    .encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new(vec![7u8; 4096]))
                    .send()
                    .await;
                match result {
                    Ok(out) => {
                        assert!(out.ciphertext_blob().is_some());
                        succeeded.fetch_add(1, Ordering::SeqCst);
                    }
                    // The request never got a response: the connection was refused or closed
                    // before the request was taken. That is how a stopping server turns
                    // clients away.
                    Err(SdkError::DispatchFailure(_)) => return Ok(()),
                    // A response that is not a 200, or one cut off mid-way, is a request the
                    // shutdown broke.
                    Err(other) => return Err(format!("{other:?}")),
                }
            }
        }));
    }
    // Let every loop get going before the signal.
    let started = std::time::Instant::now();
    while succeeded.load(Ordering::SeqCst) < LOOPS * 4 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the loops made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.terminate().expect("SIGTERM");
    let before_signal = succeeded.load(Ordering::SeqCst);
    let mut broken = Vec::new();
    for handle in loops {
        match tokio::time::timeout(Duration::from_secs(20), handle).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => broken.push(e),
            Ok(Err(join)) => broken.push(format!("loop panicked: {join}")),
            Err(_) => broken.push("a loop still ran 20 s after SIGTERM".to_owned()),
        }
    }
    let stopped = server
        .wait_for_exit(keystead_testkit::STOP_TIMEOUT)
        .expect("exits after SIGTERM");
    assert!(
        broken.is_empty(),
        "{} requests were broken by the shutdown: {broken:#?}",
        broken.len()
    );
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
    assert!(before_signal >= LOOPS * 4);
}

/// The loops above cannot tell a request the server finished from one it never took. This one
/// is in flight for certain: its body is only half sent when SIGTERM arrives.
#[tokio::test]
async fn a_request_half_sent_when_sigterm_arrives_still_gets_its_response() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut server = TestServer::start(bin(), ServerOptions::default());
    let body = br#"{"Description":"sent across a SIGTERM"}"#;
    let mut request =
        sign::kms_request(server.endpoint(), "CreateKey", &body[..]).expect("request");
    Signer::new(server.identity(), "us-east-1")
        .sign(&mut request)
        .expect("sign");
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
        server.address(),
        body.len()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().expect("ASCII header")
        ));
    }
    head.push_str("\r\n");

    let mut stream = tokio::net::TcpStream::connect(server.address())
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.expect("half the body");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.terminate().expect("SIGTERM");
    // Give the server time to act on the signal before the request completes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(rest).await.expect("the rest of the body");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes within 10 s")
        .expect("read the response");
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the in-flight request was not served: {response:?}"
    );
    assert!(response.contains("sent across a SIGTERM"), "{response}");
    let stopped = server
        .wait_for_exit(keystead_testkit::STOP_TIMEOUT)
        .expect("exits after SIGTERM");
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
}

#[tokio::test]
async fn tls_serves_health_checks_and_signed_requests_to_a_client_trusting_the_certificate() {
    let temp = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_pem = certified.cert.pem();
    let files = TlsFiles {
        cert: temp.path().join("cert.pem"),
        key: temp.path().join("key.pem"),
    };
    std::fs::write(&files.cert, &cert_pem).expect("write cert");
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).expect("write key");
    let options = ServerOptions {
        tls: Some(files),
        ..ServerOptions::default()
    };
    let server = TestServer::start(bin(), options);
    assert!(
        server.endpoint().starts_with("https://"),
        "{}",
        server.endpoint()
    );
    let base = format!("https://localhost:{}", server.address().port());
    let tls = TlsClient::trusting_pem(cert_pem.as_bytes(), "localhost").expect("trust root");

    let health = http::Request::get(format!("{base}/healthz"))
        .body(Bytes::new())
        .expect("request");
    let response = send(server.address(), health, Some(&tls))
        .await
        .expect("GET /healthz over TLS");
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text().trim(), "ok");

    let mut request =
        sign::kms_request(&base, "CreateKey", r#"{"Description":"over TLS"}"#).expect("request");
    Signer::new(server.identity(), "us-east-1")
        .sign(&mut request)
        .expect("sign");
    let response = send(server.address(), request, Some(&tls))
        .await
        .expect("CreateKey over TLS");
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["KeyMetadata"]["Description"], "over TLS");

    let mut request = sign::kms_request(&base, "ListKeys", "{}").expect("request");
    Signer::new(server.identity(), "us-east-1")
        .sign(&mut request)
        .expect("sign");
    let response = send(server.address(), request, Some(&tls))
        .await
        .expect("ListKeys over TLS");
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["Keys"].as_array().map(Vec::len), Some(1));

    // A client that trusts another certificate refuses the server.
    let stranger =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let untrusting =
        TlsClient::trusting_pem(stranger.cert.pem().as_bytes(), "localhost").expect("trust root");
    let health = http::Request::get(format!("{base}/healthz"))
        .body(Bytes::new())
        .expect("request");
    let refused = send(server.address(), health, Some(&untrusting)).await;
    assert!(
        matches!(refused, Err(Error::Http { .. })),
        "an untrusted certificate was accepted: {refused:?}"
    );
}
