//! Every KMS operation keystead serves, round-tripped with the real aws-sdk-kms against the real
//! binary, and every refusal checked against the SDK's modeled error variant, since that is what
//! applications branch on.
//!
//! One server is shared by the tests that do not move the clock; each such test works in its own
//! region, which scopes ListKeys and ListAliases, so the tests cannot see each other's keys. The
//! two tests that move the test clock get a server each.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeyManagerType, KeySpec, KeyState, KeyUsageType,
    OriginType, RotationType, Tag,
};
use keystead_testkit::{ServerOptions, TestServer};

const DAY: i64 = 86_400;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keystead"))
}

/// The server shared by every test that leaves the clock alone.
fn shared() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::start(bin(), ServerOptions::default()))
}

fn now_secs() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_secs()).expect("fits")
}

/// Asserts that `date` is `days` from now, give or take a minute.
fn assert_days_from_now(date: Option<&DateTime>, days: i64, what: &str) {
    let date = date.unwrap_or_else(|| panic!("{what}: no date"));
    let expected = now_secs() + days * DAY;
    assert!(
        (date.secs() - expected).abs() < 60,
        "{what}: {} is not {days} days from now ({expected})",
        date.secs()
    );
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("tag")
}

async fn create_key(kms: &Client, description: &str) -> String {
    kms.create_key()
        .description(description)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned()
}

async fn encrypt(kms: &Client, key: &str, plaintext: &[u8]) -> Blob {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("ciphertext")
        .clone()
}

async fn decrypt(kms: &Client, ciphertext: &Blob) -> Vec<u8> {
    kms.decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect("Decrypt")
        .plaintext()
        .expect("plaintext")
        .as_ref()
        .to_vec()
}

fn policy(account_id: &str, sid: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "keystead-test",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account_id}:root") },
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

#[tokio::test]
async fn create_key_returns_full_metadata_and_describe_key_finds_it_by_every_reference() {
    let server = shared();
    let region = "create-describe-1";
    let kms = server.kms_client(region);
    let account = server.account_id();
    let key_policy = policy(account, "created-with-the-key");
    let created = kms
        .create_key()
        .description("contact form database")
        .policy(&key_policy)
        .tags(tag("team", "web"))
        .tags(tag("env", "test"))
        .send()
        .await
        .expect("CreateKey");
    let meta = created.key_metadata().expect("metadata");
    let key_id = meta.key_id().to_owned();
    let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
    assert_eq!(key_id.len(), 36, "a UUID: {key_id}");
    assert_eq!(meta.arn(), Some(arn.as_str()));
    assert_eq!(meta.aws_account_id(), Some(account));
    assert_eq!(meta.description(), Some("contact form database"));
    assert!(meta.enabled());
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(meta.key_manager(), Some(&KeyManagerType::Customer));
    assert_eq!(meta.origin(), Some(&OriginType::AwsKms));
    assert_eq!(
        meta.encryption_algorithms(),
        [EncryptionAlgorithmSpec::SymmetricDefault]
    );
    assert_eq!(meta.deletion_date(), None);
    assert_days_from_now(meta.creation_date(), 0, "CreationDate");

    kms.create_alias()
        .alias_name("alias/contact-db")
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    let alias_arn = format!("arn:aws:kms:{region}:{account}:alias/contact-db");
    for reference in [key_id.as_str(), &arn, "alias/contact-db", &alias_arn] {
        let described = kms
            .describe_key()
            .key_id(reference)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeKey {reference}: {e:?}"));
        let meta = described.key_metadata().expect("metadata");
        assert_eq!(meta.key_id(), key_id, "{reference}");
        assert_eq!(meta.arn(), Some(arn.as_str()), "{reference}");
    }

    let stored = kms
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(stored.policy(), Some(key_policy.as_str()));
    let tags = kms
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    let tags: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(tags, [("env", "test"), ("team", "web")]);
}

#[tokio::test]
async fn a_key_that_does_not_exist_is_not_found_by_any_reference() {
    let server = shared();
    let region = "not-found-1";
    let kms = server.kms_client(region);
    let missing = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let missing_arn = format!("arn:aws:kms:{region}:{}:key/{missing}", server.account_id());
    for reference in [missing, &missing_arn, "alias/nothing-here"] {
        let e = kms
            .describe_key()
            .key_id(reference)
            .send()
            .await
            .expect_err("no such key")
            .into_service_error();
        assert!(e.is_not_found_exception(), "{reference}: {e:?}");
    }
    let e = kms
        .encrypt()
        .key_id(missing)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .expect_err("no such key")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn list_keys_pages_through_every_key_exactly_once() {
    let kms = shared().kms_client("list-keys-1");
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(create_key(&kms, &format!("page test {i}")).await);
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = kms
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListKeys");
        pages += 1;
        assert!(page.keys().len() <= 2, "page of {}", page.keys().len());
        for entry in page.keys() {
            let id = entry.key_id().expect("KeyId").to_owned();
            let arn = entry.key_arn().expect("KeyArn");
            assert!(arn.ends_with(&format!(":key/{id}")), "{arn}");
            seen.push(id);
        }
        assert_eq!(page.truncated(), page.next_marker().is_some());
        match page.next_marker() {
            Some(next) => marker = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a key was listed twice: {seen:?}");
    created.sort();
    assert_eq!(sorted, created);

    let e = kms
        .list_keys()
        .marker("not-a-marker-we-issued")
        .send()
        .await
        .expect_err("foreign marker")
        .into_service_error();
    assert!(e.is_invalid_marker_exception(), "{e:?}");
}

#[tokio::test]
async fn update_key_description_changes_what_describe_key_returns() {
    let kms = shared().kms_client("describe-update-1");
    let key = create_key(&kms, "before").await;
    kms.update_key_description()
        .key_id(&key)
        .description("after")
        .send()
        .await
        .expect("UpdateKeyDescription");
    let described = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        described.key_metadata().expect("metadata").description(),
        Some("after")
    );
}

#[tokio::test]
async fn a_disabled_key_refuses_cryptography_until_it_is_enabled_again() {
    let kms = shared().kms_client("enable-disable-1");
    let key = create_key(&kms, "toggled").await;
    let before = encrypt(&kms, &key, b"written while enabled").await;
    kms.disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey");
    let meta = meta.key_metadata().expect("metadata");
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    assert!(!meta.enabled());

    let e = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .expect_err("disabled")
        .into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");
    let e = kms
        .decrypt()
        .ciphertext_blob(before.clone())
        .send()
        .await
        .expect_err("disabled")
        .into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");
    let e = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .expect_err("disabled")
        .into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");

    kms.enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    assert_eq!(decrypt(&kms, &before).await, b"written while enabled");
}

#[tokio::test]
async fn a_key_pending_deletion_is_unusable_until_the_deletion_is_cancelled() {
    let kms = shared().kms_client("schedule-cancel-1");
    let key = create_key(&kms, "doomed").await;
    let ciphertext = encrypt(&kms, &key, b"still needed").await;
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert!(
        scheduled.key_id().expect("KeyId").ends_with(&key),
        "{:?}",
        scheduled.key_id()
    );
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days(), Some(7));
    assert_days_from_now(scheduled.deletion_date(), 7, "DeletionDate");

    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey");
    let meta = meta.key_metadata().expect("metadata");
    assert_eq!(meta.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(meta.pending_deletion_window_in_days(), Some(7));

    let e = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .expect_err("pending deletion")
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    let e = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect_err("pending deletion")
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    let e = kms
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect_err("already pending")
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    let e = kms
        .enable_key()
        .key_id(&key)
        .send()
        .await
        .expect_err("pending deletion")
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");

    let cancelled = kms
        .cancel_key_deletion()
        .key_id(&key)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert!(cancelled.key_id().expect("KeyId").ends_with(&key));
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey");
    let meta = meta.key_metadata().expect("metadata");
    assert_eq!(
        meta.key_state(),
        Some(&KeyState::Disabled),
        "AWS cancels to Disabled"
    );
    assert_eq!(meta.deletion_date(), None);
    let e = kms
        .cancel_key_deletion()
        .key_id(&key)
        .send()
        .await
        .expect_err("not pending")
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");

    kms.enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    assert_eq!(decrypt(&kms, &ciphertext).await, b"still needed");

    for days in [6, 31] {
        let e = kms
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(days)
            .send()
            .await
            .expect_err("window out of range");
        assert_eq!(e.code(), Some("ValidationException"), "{days}: {e:?}");
    }
}

#[tokio::test]
async fn encrypt_and_decrypt_round_trip_and_bind_the_encryption_context() {
    let server = shared();
    let region = "encrypt-decrypt-1";
    let kms = server.kms_client(region);
    let key = create_key(&kms, "context").await;
    let other = create_key(&kms, "another").await;
    let arn = format!("arn:aws:kms:{region}:{}:key/{key}", server.account_id());
    let encrypted = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("the contact form's database password"))
        .encryption_context("service", "rds")
        .encryption_context("table", "contacts")
        .send()
        .await
        .expect("Encrypt");
    assert_eq!(encrypted.key_id(), Some(arn.as_str()));
    assert_eq!(
        encrypted.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let ciphertext = encrypted.ciphertext_blob().expect("ciphertext").clone();
    assert!(
        !ciphertext.as_ref().windows(8).any(|w| w == b"password"),
        "the plaintext shows through"
    );

    let decrypted = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .encryption_context("table", "contacts")
        .encryption_context("service", "rds")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&b"the contact form's database password"[..])
    );
    assert_eq!(decrypted.key_id(), Some(arn.as_str()));

    // The same ciphertext, named by the right key, also decrypts.
    kms.decrypt()
        .ciphertext_blob(ciphertext.clone())
        .key_id(&key)
        .encryption_context("service", "rds")
        .encryption_context("table", "contacts")
        .send()
        .await
        .expect("Decrypt with KeyId");

    let e = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect_err("missing context")
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
    let e = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .encryption_context("service", "rds")
        .encryption_context("table", "invoices")
        .send()
        .await
        .expect_err("wrong context")
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");

    let mut tampered = ciphertext.as_ref().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let e = kms
        .decrypt()
        .ciphertext_blob(Blob::new(tampered))
        .encryption_context("service", "rds")
        .encryption_context("table", "contacts")
        .send()
        .await
        .expect_err("tampered")
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
    let e = kms
        .decrypt()
        .ciphertext_blob(Blob::new("not a ciphertext at all"))
        .send()
        .await
        .expect_err("garbage")
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");

    let e = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .key_id(&other)
        .encryption_context("service", "rds")
        .encryption_context("table", "contacts")
        .send()
        .await
        .expect_err("another key named")
        .into_service_error();
    assert!(e.is_incorrect_key_exception(), "{e:?}");

    // An alias works wherever a key id does for cryptography.
    kms.create_alias()
        .alias_name("alias/by-name")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let via_alias = encrypt(&kms, "alias/by-name", b"via alias").await;
    assert_eq!(decrypt(&kms, &via_alias).await, b"via alias");
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let server = shared();
    let region = "re-encrypt-1";
    let kms = server.kms_client(region);
    let source = create_key(&kms, "source").await;
    let destination = create_key(&kms, "destination").await;
    let original = kms
        .encrypt()
        .key_id(&source)
        .plaintext(Blob::new("moving house"))
        .encryption_context("purpose", "old")
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("ciphertext")
        .clone();
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(original.clone())
        .source_encryption_context("purpose", "old")
        .destination_key_id(&destination)
        .destination_encryption_context("purpose", "new")
        .send()
        .await
        .expect("ReEncrypt");
    let account = server.account_id();
    assert_eq!(
        moved.source_key_id(),
        Some(format!("arn:aws:kms:{region}:{account}:key/{source}").as_str())
    );
    assert_eq!(
        moved.key_id(),
        Some(format!("arn:aws:kms:{region}:{account}:key/{destination}").as_str())
    );
    let moved = moved.ciphertext_blob().expect("ciphertext").clone();
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(moved.clone())
        .encryption_context("purpose", "new")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&b"moving house"[..])
    );
    assert!(decrypted.key_id().expect("KeyId").ends_with(&destination));

    let e = kms
        .re_encrypt()
        .ciphertext_blob(original)
        .source_encryption_context("purpose", "wrong")
        .destination_key_id(&destination)
        .send()
        .await
        .expect_err("wrong source context")
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
}

#[tokio::test]
async fn generated_data_keys_decrypt_to_their_plaintext() {
    let kms = shared().kms_client("data-keys-1");
    let key = create_key(&kms, "envelope").await;
    let aes = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("bucket", "artifacts")
        .send()
        .await
        .expect("GenerateDataKey");
    let plaintext = aes.plaintext().expect("plaintext").as_ref().to_vec();
    assert_eq!(plaintext.len(), 32);
    assert!(aes.key_id().expect("KeyId").ends_with(&key));
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(aes.ciphertext_blob().expect("ciphertext").clone())
        .encryption_context("bucket", "artifacts")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&plaintext[..])
    );

    let sized = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(64)
        .send()
        .await
        .expect("GenerateDataKey NumberOfBytes");
    let sized_plaintext = sized.plaintext().expect("plaintext").as_ref().to_vec();
    assert_eq!(sized_plaintext.len(), 64);
    assert_eq!(
        decrypt(&kms, sized.ciphertext_blob().expect("ciphertext")).await,
        sized_plaintext
    );

    let hidden = kms
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext");
    assert!(hidden.key_id().expect("KeyId").ends_with(&key));
    let revealed = decrypt(&kms, hidden.ciphertext_blob().expect("ciphertext")).await;
    assert_eq!(revealed.len(), 16);

    let e = kms
        .generate_data_key()
        .key_id(&key)
        .send()
        .await
        .expect_err("neither KeySpec nor NumberOfBytes");
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");
}

#[tokio::test]
async fn generate_random_returns_fresh_bytes_of_the_requested_length() {
    let kms = shared().kms_client("random-test-1");
    let mut outputs = Vec::new();
    for n in [1, 32, 1024] {
        let random = kms
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .expect("GenerateRandom");
        let bytes = random.plaintext().expect("plaintext").as_ref().to_vec();
        assert_eq!(bytes.len(), n as usize);
        outputs.push(bytes);
    }
    let again = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateRandom");
    assert_ne!(
        again.plaintext().expect("plaintext").as_ref(),
        &outputs[1][..],
        "two draws of 32 bytes were equal"
    );
}

#[tokio::test]
async fn aliases_are_created_listed_repointed_and_deleted() {
    let server = shared();
    let region = "aliases-test-1";
    let kms = server.kms_client(region);
    let first = create_key(&kms, "first").await;
    let second = create_key(&kms, "second").await;
    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&first)
        .send()
        .await
        .expect("CreateAlias");
    kms.create_alias()
        .alias_name("alias/other")
        .target_key_id(&second)
        .send()
        .await
        .expect("CreateAlias");
    let e = kms
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&second)
        .send()
        .await
        .expect_err("duplicate")
        .into_service_error();
    assert!(e.is_already_exists_exception(), "{e:?}");
    let e = kms
        .create_alias()
        .alias_name("alias/dangling")
        .target_key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .send()
        .await
        .expect_err("no such key")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");

    let listed = kms.list_aliases().send().await.expect("ListAliases");
    let names: Vec<(&str, &str)> = listed
        .aliases()
        .iter()
        .map(|a| {
            (
                a.alias_name().expect("AliasName"),
                a.target_key_id().expect("TargetKeyId"),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("alias/app", first.as_str()),
            ("alias/other", second.as_str())
        ]
    );
    let entry = &listed.aliases()[0];
    assert_eq!(
        entry.alias_arn(),
        Some(format!("arn:aws:kms:{region}:{}:alias/app", server.account_id()).as_str())
    );
    assert_days_from_now(entry.creation_date(), 0, "CreationDate");
    let only_second = kms
        .list_aliases()
        .key_id(&second)
        .send()
        .await
        .expect("ListAliases KeyId");
    assert_eq!(only_second.aliases().len(), 1);
    assert_eq!(only_second.aliases()[0].alias_name(), Some("alias/other"));
    let paged = kms
        .list_aliases()
        .limit(1)
        .send()
        .await
        .expect("ListAliases");
    assert_eq!(paged.aliases().len(), 1);
    assert!(paged.truncated());
    let rest = kms
        .list_aliases()
        .limit(1)
        .marker(paged.next_marker().expect("marker"))
        .send()
        .await
        .expect("ListAliases page 2");
    assert_eq!(rest.aliases()[0].alias_name(), Some("alias/other"));

    kms.update_alias()
        .alias_name("alias/app")
        .target_key_id(&second)
        .send()
        .await
        .expect("UpdateAlias");
    let described = kms
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(described.key_metadata().expect("metadata").key_id(), second);
    let encrypted = kms
        .encrypt()
        .key_id("alias/app")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .expect("Encrypt");
    assert!(encrypted.key_id().expect("KeyId").ends_with(&second));

    kms.delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .expect("DeleteAlias");
    let e = kms
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .expect_err("deleted alias")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = kms
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .expect_err("deleted twice")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = kms
        .update_alias()
        .alias_name("alias/app")
        .target_key_id(&first)
        .send()
        .await
        .expect_err("no such alias")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let listed = kms.list_aliases().send().await.expect("ListAliases");
    assert_eq!(listed.aliases().len(), 1);
}

#[tokio::test]
async fn tags_are_added_replaced_listed_and_removed() {
    let kms = shared().kms_client("tags-test-1");
    let key = create_key(&kms, "tagged").await;
    kms.tag_resource()
        .key_id(&key)
        .tags(tag("owner", "alice"))
        .tags(tag("cost-center", "42"))
        .send()
        .await
        .expect("TagResource");
    kms.tag_resource()
        .key_id(&key)
        .tags(tag("owner", "bob"))
        .send()
        .await
        .expect("TagResource replace");
    let listed = kms
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .expect("ListResourceTags");
    let tags: Vec<(&str, &str)> = listed
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(tags, [("cost-center", "42"), ("owner", "bob")]);
    assert!(!listed.truncated());

    kms.untag_resource()
        .key_id(&key)
        .tag_keys("owner")
        .tag_keys("never-set")
        .send()
        .await
        .expect("UntagResource");
    let listed = kms
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .expect("ListResourceTags");
    assert_eq!(listed.tags().len(), 1);
    assert_eq!(listed.tags()[0].tag_key(), "cost-center");

    let e = kms
        .tag_resource()
        .key_id(&key)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .expect_err("reserved prefix")
        .into_service_error();
    assert!(e.is_tag_exception(), "{e:?}");
    let e = kms
        .create_key()
        .tags(tag("aws:created", "x"))
        .send()
        .await
        .expect_err("reserved prefix")
        .into_service_error();
    assert!(e.is_tag_exception(), "{e:?}");
}

#[tokio::test]
async fn key_rotation_is_enabled_disabled_and_run_on_demand() {
    let kms = shared().kms_client("rotation-test-1");
    let key = create_key(&kms, "rotating").await;
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), None);

    kms.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(90));
    assert_days_from_now(status.next_rotation_date(), 90, "NextRotationDate");
    assert!(status.key_id().expect("KeyId").ends_with(&key));

    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
    kms.enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKeyRotation default");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert_eq!(status.rotation_period_in_days(), Some(365));
    let e = kms
        .enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(89)
        .send()
        .await
        .expect_err("period too short");
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");

    let before = encrypt(&kms, &key, b"version one").await;
    let rotated = kms
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    assert!(rotated.key_id().expect("KeyId").ends_with(&key));
    let rotations = kms
        .list_key_rotations()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(rotations.rotations().len(), 1);
    let entry = &rotations.rotations()[0];
    assert_eq!(entry.rotation_type(), Some(&RotationType::OnDemand));
    assert_days_from_now(entry.rotation_date(), 0, "RotationDate");
    assert_eq!(decrypt(&kms, &before).await, b"version one");
    let after = encrypt(&kms, &key, b"version two").await;
    assert_ne!(before.as_ref()[..], after.as_ref()[..]);
    assert_eq!(decrypt(&kms, &after).await, b"version two");

    // Ten on-demand rotations per key; the eleventh is refused.
    for _ in 1..10 {
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .expect("RotateKeyOnDemand");
    }
    let e = kms
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect_err("eleventh on-demand rotation")
        .into_service_error();
    assert!(e.is_limit_exceeded_exception(), "{e:?}");
    let page = kms
        .list_key_rotations()
        .key_id(&key)
        .limit(4)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(page.rotations().len(), 4);
    assert!(page.truncated());
    assert_eq!(decrypt(&kms, &before).await, b"version one");

    kms.disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");
    let e = kms
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect_err("disabled")
        .into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");
}

#[tokio::test]
async fn key_policies_are_read_replaced_and_listed() {
    let server = shared();
    let kms = server.kms_client("policies-test-1");
    let account = server.account_id();
    let key = create_key(&kms, "governed").await;
    let default = kms
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(default.policy_name(), Some("default"));
    let text = default.policy().expect("policy");
    let parsed: serde_json::Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(
        parsed["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{account}:root")
    );

    let names = kms
        .list_key_policies()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyPolicies");
    assert_eq!(names.policy_names(), ["default"]);

    let replacement = policy(account, "replaced");
    kms.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(&replacement)
        .send()
        .await
        .expect("PutKeyPolicy");
    let stored = kms
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(stored.policy(), Some(replacement.as_str()));

    for malformed in [
        "{not json",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
    ] {
        let e = kms
            .put_key_policy()
            .key_id(&key)
            .policy(malformed)
            .send()
            .await
            .expect_err("malformed")
            .into_service_error();
        assert!(
            e.is_malformed_policy_document_exception(),
            "{malformed}: {e:?}"
        );
    }
    let e = kms
        .create_key()
        .policy("[]")
        .send()
        .await
        .expect_err("malformed")
        .into_service_error();
    assert!(e.is_malformed_policy_document_exception(), "{e:?}");

    // AWS's key policy limit is 32 KiB.
    let padding = "x".repeat(33 * 1024);
    let oversized = serde_json::json!({
        "Version": "2012-10-17",
        "Id": padding,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string();
    let e = kms
        .put_key_policy()
        .key_id(&key)
        .policy(oversized)
        .send()
        .await
        .expect_err("too large")
        .into_service_error();
    assert!(e.is_limit_exceeded_exception(), "{e:?}");
    let stored = kms
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(
        stored.policy(),
        Some(replacement.as_str()),
        "refused policies change nothing"
    );
}

#[tokio::test]
async fn automatic_rotation_runs_when_the_period_elapses_and_old_ciphertexts_still_decrypt() {
    let server = TestServer::start(bin(), ServerOptions::default().with_test_clock());
    let kms = server.kms_client("us-east-1");
    let key = create_key(&kms, "rotates itself").await;
    let idle = create_key(&kms, "never rotates").await;
    kms.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let before = encrypt(&kms, &key, b"encrypted under version one").await;

    let early = server.advance_clock(89).await.expect("advance 89 days");
    assert_eq!(early.rotated, 0, "{early:?}");
    let due = server.advance_clock(2).await.expect("advance to day 91");
    assert_eq!(due.rotated, 1, "{due:?}");

    let rotations = kms
        .list_key_rotations()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(rotations.rotations().len(), 1, "{rotations:?}");
    let entry = &rotations.rotations()[0];
    assert_eq!(entry.rotation_type(), Some(&RotationType::Automatic));
    assert_days_from_now(
        entry.rotation_date(),
        91,
        "RotationDate on the service clock",
    );
    let idle_rotations = kms
        .list_key_rotations()
        .key_id(&idle)
        .send()
        .await
        .expect("ListKeyRotations");
    assert!(idle_rotations.rotations().is_empty());

    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert_days_from_now(status.next_rotation_date(), 180, "NextRotationDate");

    assert_eq!(decrypt(&kms, &before).await, b"encrypted under version one");
    let after = encrypt(&kms, &key, b"encrypted under version two").await;
    assert_eq!(decrypt(&kms, &after).await, b"encrypted under version two");

    let again = server.advance_clock(1).await.expect("advance a day more");
    assert_eq!(again.rotated, 0, "rotates once per period: {again:?}");
}

#[tokio::test]
async fn a_key_is_deleted_with_its_aliases_when_its_pending_window_ends() {
    let server = TestServer::start(bin(), ServerOptions::default().with_test_clock());
    let kms = server.kms_client("us-east-1");
    let key = create_key(&kms, "to be deleted").await;
    let survivor = create_key(&kms, "stays").await;
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");

    let early = server.advance_clock(6).await.expect("advance 6 days");
    assert_eq!(early.deleted, 0, "{early:?}");
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        meta.key_metadata().expect("metadata").key_state(),
        Some(&KeyState::PendingDeletion)
    );

    let due = server.advance_clock(2).await.expect("advance to day 8");
    assert_eq!(due.deleted, 1, "{due:?}");
    let e = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect_err("deleted")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = kms
        .describe_key()
        .key_id("alias/doomed")
        .send()
        .await
        .expect_err("alias deleted with its key")
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let aliases = kms.list_aliases().send().await.expect("ListAliases");
    assert!(aliases.aliases().is_empty(), "{aliases:?}");
    let keys = kms.list_keys().send().await.expect("ListKeys");
    let ids: Vec<&str> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
    assert_eq!(ids, [survivor.as_str()]);
}
