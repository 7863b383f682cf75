//! Service-level tests against a real SQLite store in a temporary directory.

use std::collections::BTreeMap;
use std::sync::Arc;

use keystead_crypto::RootKey;
use keystead_store::Store;
use keystead_store_sqlite::SqliteStore;
use keystead_types::{Caller, KeyState, SystemClock};

use crate::{CreateKeyInput, Error, KeyService};

struct Fixture {
    dir: tempfile::TempDir,
    clock: Arc<SystemClock>,
    service: KeyService,
}

const DAY_MS: i64 = 86_400_000;

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    RootKey::create(dir.path().join("root.key")).expect("root key");
    let clock = Arc::new(SystemClock::default());
    let service = open(&dir, clock.clone()).await;
    Fixture {
        dir,
        clock,
        service,
    }
}

async fn open(dir: &tempfile::TempDir, clock: Arc<SystemClock>) -> KeyService {
    let root = RootKey::load(dir.path().join("root.key")).expect("load root key");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("keystead.db")).expect("open store"));
    let snapshot = store.load().await.expect("load");
    KeyService::open(snapshot, store, Arc::new(root), clock).expect("open service")
}

fn caller(account: &str) -> Caller {
    Caller {
        account_id: account.parse().expect("account"),
        region: "us-east-1".parse().expect("region"),
        access_key_id: "AKIAEXAMPLE".to_owned(),
        user: None,
        role_session: None,
        mfa_authenticated_at: None,
        service: None,
        via_service: None,
        source: keystead_types::RequestSource::default(),
    }
}

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn new_key(f: &Fixture, c: &Caller) -> String {
    f.service
        .create_key(c, CreateKeyInput::default())
        .await
        .expect("create key")
        .key_id
        .to_string()
}

#[tokio::test]
async fn encrypt_then_decrypt_returns_the_plaintext_only_with_the_same_context() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    let context = ctx(&[("purpose", "test"), ("tenant", "a")]);
    let enc = f
        .service
        .encrypt(&c, &key, b"attack at dawn", &context, None)
        .expect("encrypt");
    let dec = f
        .service
        .decrypt(&c, &enc.ciphertext, &context, None, None)
        .expect("decrypt");
    assert_eq!(dec.plaintext.as_slice(), b"attack at dawn");
    assert_eq!(dec.key_arn, enc.key_arn);
    for wrong in [
        ctx(&[]),
        ctx(&[("purpose", "test")]),
        ctx(&[("purpose", "test"), ("tenant", "b")]),
    ] {
        assert!(matches!(
            f.service.decrypt(&c, &enc.ciphertext, &wrong, None, None),
            Err(Error::InvalidCiphertext { .. })
        ));
    }
}

#[tokio::test]
async fn decrypt_with_another_key_named_is_incorrect_key() {
    let f = fixture().await;
    let c = caller("111122223333");
    let a = new_key(&f, &c).await;
    let b = new_key(&f, &c).await;
    let enc = f
        .service
        .encrypt(&c, &a, b"x", &ctx(&[]), None)
        .expect("encrypt");
    assert!(matches!(
        f.service
            .decrypt(&c, &enc.ciphertext, &ctx(&[]), Some(&b), None),
        Err(Error::IncorrectKey)
    ));
}

#[tokio::test]
async fn a_disabled_key_refuses_encryption_until_enabled_again() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service.disable_key(&c, &key).await.expect("disable");
    assert!(matches!(
        f.service.encrypt(&c, &key, b"x", &ctx(&[]), None),
        Err(Error::KeyDisabled { .. })
    ));
    f.service.enable_key(&c, &key).await.expect("enable");
    f.service
        .encrypt(&c, &key, b"x", &ctx(&[]), None)
        .expect("encrypt");
}

#[tokio::test]
async fn rotation_adds_versions_and_old_ciphertexts_still_decrypt() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service
        .create_alias(&c, "alias/app", &key)
        .await
        .expect("alias");
    let before = f
        .service
        .encrypt(&c, "alias/app", b"v1", &ctx(&[]), None)
        .expect("encrypt");
    f.service
        .rotate_key_on_demand(&c, &key)
        .await
        .expect("rotate");
    let after = f
        .service
        .encrypt(&c, "alias/app", b"v2", &ctx(&[]), None)
        .expect("encrypt");
    assert_eq!(before.ciphertext[17..21], [0, 0, 0, 1], "first version");
    assert_eq!(
        after.ciphertext[17..21],
        [0, 0, 0, 2],
        "encrypt uses the newest version"
    );
    for (blob, want) in [(&before.ciphertext, b"v1"), (&after.ciphertext, b"v2")] {
        let dec = f
            .service
            .decrypt(&c, blob, &ctx(&[]), None, None)
            .expect("decrypt");
        assert_eq!(dec.plaintext.as_slice(), want);
    }
    let rotations = f
        .service
        .list_key_rotations(&c, &key, None, None)
        .expect("list");
    assert_eq!(rotations.rotations.len(), 1);
    assert_eq!(rotations.rotations[0].0, 2);
}

#[tokio::test]
async fn on_demand_rotation_is_limited_to_ten() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    for _ in 0..10 {
        f.service
            .rotate_key_on_demand(&c, &key)
            .await
            .expect("rotate");
    }
    assert!(matches!(
        f.service.rotate_key_on_demand(&c, &key).await,
        Err(Error::LimitExceeded { .. })
    ));
}

#[tokio::test]
async fn automatic_rotation_happens_when_the_period_has_elapsed() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service
        .enable_key_rotation(&c, &key, Some(90))
        .await
        .expect("enable rotation");
    assert!(f.service.rotate_due_keys().await.expect("run").is_empty());
    f.clock.danger_set_offset(91 * DAY_MS);
    assert_eq!(f.service.rotate_due_keys().await.expect("run").len(), 1);
    assert!(
        f.service
            .rotate_due_keys()
            .await
            .expect("run again")
            .is_empty()
    );
    let status = f.service.key_rotation_status(&c, &key).expect("status");
    let next = status.schedule.expect("still enabled").next_rotation;
    assert!(
        next.0 > f.clock_now() + 88 * DAY_MS,
        "next rotation is a period away"
    );
}

impl Fixture {
    fn clock_now(&self) -> i64 {
        use keystead_types::Clock;
        self.clock.now().0
    }
}

#[tokio::test]
async fn scheduled_deletion_deletes_the_key_and_its_aliases_after_the_window() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service
        .create_alias(&c, "alias/doomed", &key)
        .await
        .expect("alias");
    let record = f
        .service
        .schedule_key_deletion(&c, &key, Some(7))
        .await
        .expect("schedule");
    assert_eq!(record.key_state, KeyState::PendingDeletion);
    assert!(matches!(
        f.service.encrypt(&c, &key, b"x", &ctx(&[]), None),
        Err(Error::InvalidKeyState { .. })
    ));
    f.clock.danger_set_offset(6 * DAY_MS);
    assert!(f.service.delete_due_keys().await.expect("run").is_empty());
    f.clock.danger_set_offset(7 * DAY_MS + 1000);
    assert_eq!(f.service.delete_due_keys().await.expect("run").len(), 1);
    assert!(matches!(
        f.service.describe_key(&c, &key),
        Err(Error::KeyNotFound { .. })
    ));
    assert!(
        f.service
            .list_aliases(&c, None, None, None)
            .expect("list")
            .aliases
            .is_empty()
    );
    // And it stays deleted after a restart.
    let reopened = open(&f.dir, f.clock.clone()).await;
    assert_eq!(reopened.key_count(), 0);
}

#[tokio::test]
async fn cancelled_deletion_leaves_the_key_disabled() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service
        .schedule_key_deletion(&c, &key, None)
        .await
        .expect("schedule");
    f.service
        .cancel_key_deletion(&c, &key)
        .await
        .expect("cancel");
    let record = f.service.describe_key(&c, &key).expect("describe");
    assert_eq!(record.key_state, KeyState::Disabled);
    assert_eq!(record.deletion_date, None);
}

#[tokio::test]
async fn everything_survives_a_restart_and_old_ciphertexts_decrypt() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service
        .create_alias(&c, "alias/kept", &key)
        .await
        .expect("alias");
    f.service
        .tag_resource(
            &c,
            &key,
            vec![keystead_store::Tag {
                key: "env".into(),
                value: "prod".into(),
            }],
        )
        .await
        .expect("tag");
    let enc = f
        .service
        .encrypt(&c, &key, b"kept", &ctx(&[]), None)
        .expect("encrypt");
    f.service
        .rotate_key_on_demand(&c, &key)
        .await
        .expect("rotate");
    let policy = f.service.key_policy(&c, &key, None).expect("policy");
    drop(f.service);
    let reopened = open(&f.dir, f.clock.clone()).await;
    let dec = reopened
        .decrypt(&c, &enc.ciphertext, &ctx(&[]), None, None)
        .expect("decrypt");
    assert_eq!(dec.plaintext.as_slice(), b"kept");
    assert_eq!(
        reopened
            .describe_key(&c, "alias/kept")
            .expect("alias")
            .key_id
            .to_string(),
        key
    );
    assert_eq!(reopened.key_policy(&c, &key, None).expect("policy"), policy);
    let tags = reopened
        .list_resource_tags(&c, &key, None, None)
        .expect("tags")
        .tags;
    assert_eq!(tags.len(), 1);
    assert_eq!(
        reopened
            .list_key_rotations(&c, &key, None, None)
            .expect("rot")
            .rotations
            .len(),
        1
    );
}

#[tokio::test]
async fn another_account_can_neither_see_nor_use_the_key() {
    let f = fixture().await;
    let owner = caller("111122223333");
    let other = caller("444455556666");
    let key = new_key(&f, &owner).await;
    assert!(matches!(
        f.service.describe_key(&other, &key),
        Err(Error::KeyNotFound { .. })
    ));
    let arn = f
        .service
        .describe_key(&owner, &key)
        .map(|r| keystead_types::key_arn(&r.region, &r.account_id, &r.key_id))
        .expect("arn");
    assert!(matches!(
        f.service.encrypt(&other, &arn, b"x", &ctx(&[]), None),
        Err(Error::AccessDenied { .. })
    ));
    let enc = f
        .service
        .encrypt(&owner, &key, b"x", &ctx(&[]), None)
        .expect("encrypt");
    assert!(matches!(
        f.service
            .decrypt(&other, &enc.ciphertext, &ctx(&[]), None, None),
        Err(Error::AccessDenied { .. })
    ));
}

#[tokio::test]
async fn aliases_are_unique_and_reserved_names_are_refused() {
    let f = fixture().await;
    let c = caller("111122223333");
    let a = new_key(&f, &c).await;
    let b = new_key(&f, &c).await;
    f.service
        .create_alias(&c, "alias/one", &a)
        .await
        .expect("create");
    assert!(matches!(
        f.service.create_alias(&c, "alias/one", &b).await,
        Err(Error::AliasExists { .. })
    ));
    assert!(matches!(
        f.service.create_alias(&c, "alias/aws/s3", &a).await,
        Err(Error::ReservedAlias)
    ));
    assert!(matches!(
        f.service.create_alias(&c, "one", &a).await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        f.service.create_alias(&c, "alias/two", "alias/one").await,
        Err(Error::InvalidKeyReference { .. })
    ));
    f.service
        .update_alias(&c, "alias/one", &b)
        .await
        .expect("update");
    assert_eq!(
        f.service
            .describe_key(&c, "alias/one")
            .expect("d")
            .key_id
            .to_string(),
        b
    );
    f.service
        .delete_alias(&c, "alias/one")
        .await
        .expect("delete");
    assert!(matches!(
        f.service.describe_key(&c, "alias/one"),
        Err(Error::AliasNotFound { .. })
    ));
}

#[tokio::test]
async fn list_keys_pages_through_every_key_once() {
    let f = fixture().await;
    let c = caller("111122223333");
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(new_key(&f, &c).await);
    }
    new_key(&f, &caller("444455556666")).await;
    created.sort();
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = f
            .service
            .list_keys(&c, Some(3), marker.as_deref())
            .expect("page");
        seen.extend(page.keys.into_iter().map(|(id, _)| id.to_string()));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn data_keys_decrypt_to_their_plaintext() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    let dk = f
        .service
        .generate_data_key(&c, &key, 32, &ctx(&[("a", "b")]))
        .expect("gdk");
    assert_eq!(dk.plaintext.len(), 32);
    let dec = f
        .service
        .decrypt(&c, &dk.ciphertext, &ctx(&[("a", "b")]), None, None)
        .expect("dec");
    assert_eq!(dec.plaintext.as_slice(), dk.plaintext.as_slice());
}

fn policy_allowing(account: &str, extra_statement: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Sid":"Root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}{extra_statement}]}}"#
    )
}

async fn key_with_policy(
    f: &Fixture,
    c: &Caller,
    policy: String,
    bypass: bool,
) -> Result<String, Error> {
    f.service
        .create_key(
            c,
            CreateKeyInput {
                policy: Some(policy),
                bypass_policy_lockout_safety_check: bypass,
                ..CreateKeyInput::default()
            },
        )
        .await
        .map(|r| r.key_id.to_string())
}

#[tokio::test]
async fn a_policy_that_locks_the_caller_out_is_refused_unless_bypassed() {
    let f = fixture().await;
    let c = caller("111122223333");
    let other = policy_allowing("444455556666", "");
    assert!(matches!(
        key_with_policy(&f, &c, other.clone(), false).await,
        Err(Error::MalformedPolicy { .. })
    ));
    let key = key_with_policy(&f, &c, other.clone(), true)
        .await
        .expect("bypass");
    // The key policy now gives the owner account nothing, not even its root user.
    match f.service.encrypt(&c, &key, b"x", &ctx(&[]), None) {
        Err(Error::AccessDenied { message }) => {
            assert!(
                message.contains("arn:aws:iam::111122223333:root"),
                "{message}"
            );
            assert!(message.contains("kms:Encrypt"), "{message}");
        }
        other => panic!("expected AccessDenied, got {:?}", other.map(|_| ())),
    }
    let mine = new_key(&f, &c).await;
    assert!(matches!(
        f.service
            .put_key_policy(&c, &mine, None, other.clone(), false)
            .await,
        Err(Error::MalformedPolicy { .. })
    ));
    f.service
        .put_key_policy(&c, &mine, None, other, true)
        .await
        .expect("bypass");
    assert!(matches!(
        f.service
            .put_key_policy(&c, &mine, None, policy_allowing("111122223333", ""), false)
            .await,
        Err(Error::AccessDenied { .. })
    ));
}

#[tokio::test]
async fn an_explicit_deny_in_the_key_policy_wins_over_the_allow() {
    let f = fixture().await;
    let c = caller("111122223333");
    let deny_encrypt = r#",{"Sid":"NoEncrypt","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}"#;
    let key = key_with_policy(&f, &c, policy_allowing("111122223333", deny_encrypt), false)
        .await
        .expect("create");
    match f.service.encrypt(&c, &key, b"x", &ctx(&[]), None) {
        Err(Error::AccessDenied { message }) => {
            assert!(message.contains("explicit deny"), "{message}")
        }
        other => panic!("expected AccessDenied, got {:?}", other.map(|_| ())),
    }
    let dk = f
        .service
        .generate_data_key(&c, &key, 32, &ctx(&[]))
        .expect("GenerateDataKey is not denied");
    f.service
        .decrypt(&c, &dk.ciphertext, &ctx(&[]), None, None)
        .expect("Decrypt is not denied");
}

#[tokio::test]
async fn another_account_may_use_a_key_whose_policy_allows_it() {
    let f = fixture().await;
    let owner = caller("111122223333");
    let other = caller("444455556666");
    let share = r#",{"Sid":"Share","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#;
    let key = key_with_policy(&f, &owner, policy_allowing("111122223333", share), false)
        .await
        .expect("create");
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    let enc = f
        .service
        .encrypt(&other, &arn, b"shared", &ctx(&[]), None)
        .expect("encrypt");
    let dec = f
        .service
        .decrypt(&other, &enc.ciphertext, &ctx(&[]), None, None)
        .expect("decrypt");
    assert_eq!(dec.plaintext.as_slice(), b"shared");
    assert!(matches!(
        f.service.disable_key(&other, &arn).await,
        Err(Error::AccessDenied { .. })
    ));
}

fn grant_input(key: &str, grantee: &str, operations: &[&str]) -> crate::CreateGrantInput {
    crate::CreateGrantInput {
        key: key.to_owned(),
        grantee_principal: grantee.to_owned(),
        operations: operations.iter().map(|o| (*o).to_owned()).collect(),
        ..Default::default()
    }
}

const OTHER_ROOT: &str = "arn:aws:iam::444455556666:root";

#[tokio::test]
async fn grants_are_created_listed_retired_and_revoked() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    let mut input = grant_input(&key, OTHER_ROOT, &["Encrypt", "Decrypt"]);
    input.retiring_principal = Some("arn:aws:iam::777788889999:root".to_owned());
    let a = f.service.create_grant(&c, input).await.expect("create a");
    assert_eq!(a.grant_id.len(), 64);
    let b = f
        .service
        .create_grant(&c, grant_input(&key, OTHER_ROOT, &["DescribeKey"]))
        .await
        .expect("create b");
    let page = f
        .service
        .list_grants(&c, &key, None, None, None, None)
        .expect("list");
    assert_eq!(page.grants.len(), 2);
    let only_a = f
        .service
        .list_grants(&c, &key, None, None, Some(&a.grant_id), None)
        .expect("list one");
    assert_eq!(only_a.grants.len(), 1);
    assert_eq!(only_a.grants[0].operations, ["Encrypt", "Decrypt"]);
    let first = f
        .service
        .list_grants(&c, &key, Some(1), None, None, None)
        .expect("page 1");
    assert_eq!(first.grants.len(), 1);
    let second = f
        .service
        .list_grants(&c, &key, Some(1), first.next_marker.as_deref(), None, None)
        .expect("page 2");
    assert_eq!(second.grants.len(), 1);
    assert!(second.next_marker.is_none());
    assert_ne!(first.grants[0].grant_id, second.grants[0].grant_id);

    let retirable = f
        .service
        .list_retirable_grants(&c, "arn:aws:iam::777788889999:root", None, None)
        .expect("retirable");
    assert_eq!(retirable.grants.len(), 1);
    assert_eq!(retirable.grants[0].grant_id, a.grant_id);

    assert!(matches!(
        f.service
            .retire_grant(&c, Some("not-a-token"), None, None, false)
            .await,
        Err(Error::InvalidGrantToken)
    ));
    f.service
        .retire_grant(&c, Some(&a.grant_token), None, None, false)
        .await
        .expect("retire by token");
    assert!(matches!(
        f.service
            .retire_grant(&c, Some(&a.grant_token), None, None, false)
            .await,
        Err(Error::GrantNotFound { .. })
    ));
    f.service
        .revoke_grant(&c, &key, &b.grant_id, false)
        .await
        .expect("revoke");
    assert!(matches!(
        f.service.revoke_grant(&c, &key, &b.grant_id, false).await,
        Err(Error::GrantNotFound { .. })
    ));
    assert!(matches!(
        f.service.revoke_grant(&c, &key, "nonsense", false).await,
        Err(Error::InvalidGrantId { .. })
    ));
    assert!(
        f.service
            .list_grants(&c, &key, None, None, None, None)
            .expect("list")
            .grants
            .is_empty()
    );
}

#[tokio::test]
async fn create_grant_with_the_same_name_and_parameters_returns_the_same_grant() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    let mut input = grant_input(&key, OTHER_ROOT, &["Encrypt"]);
    input.name = Some("app".to_owned());
    let a = f.service.create_grant(&c, input.clone()).await.expect("a");
    let again = f
        .service
        .create_grant(&c, input.clone())
        .await
        .expect("again");
    assert_eq!(a, again);
    input.operations.push("Decrypt".to_owned());
    let different = f.service.create_grant(&c, input).await.expect("different");
    assert_ne!(a.grant_id, different.grant_id);
    let listed = f
        .service
        .list_grants(&c, &key, None, None, None, None)
        .expect("list");
    assert_eq!(listed.grants.len(), 2);
}

#[tokio::test]
async fn create_grant_refuses_constraints_on_operations_without_a_context_and_dry_runs() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    let mut input = grant_input(&key, OTHER_ROOT, &["Decrypt", "DescribeKey"]);
    input.constraints = Some(keystead_store::GrantConstraint::EncryptionContextEquals(
        ctx(&[("a", "b")]),
    ));
    assert!(matches!(
        f.service.create_grant(&c, input).await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        f.service
            .create_grant(&c, grant_input(&key, OTHER_ROOT, &[]))
            .await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        f.service
            .create_grant(&c, grant_input(&key, OTHER_ROOT, &["Fly"]))
            .await,
        Err(Error::Validation { .. })
    ));
    let mut dry = grant_input(&key, OTHER_ROOT, &["Decrypt"]);
    dry.dry_run = true;
    assert!(matches!(
        f.service.create_grant(&c, dry).await,
        Err(Error::DryRun)
    ));
    assert!(
        f.service
            .list_grants(&c, &key, None, None, None, None)
            .expect("list")
            .grants
            .is_empty()
    );
    f.service
        .schedule_key_deletion(&c, &key, Some(7))
        .await
        .expect("schedule");
    assert!(matches!(
        f.service
            .create_grant(&c, grant_input(&key, OTHER_ROOT, &["Decrypt"]))
            .await,
        Err(Error::InvalidKeyState { .. })
    ));
}

#[tokio::test]
async fn a_grant_lets_another_account_use_the_key_only_with_the_constrained_context() {
    let f = fixture().await;
    let owner = caller("111122223333");
    let other = caller("444455556666");
    let key = new_key(&f, &owner).await;
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    let good = ctx(&[("tenant", "a")]);
    assert!(matches!(
        f.service.encrypt(&other, &arn, b"x", &good, None),
        Err(Error::AccessDenied { .. })
    ));
    let mut input = grant_input(&key, OTHER_ROOT, &["Encrypt", "Decrypt"]);
    input.constraints = Some(keystead_store::GrantConstraint::EncryptionContextEquals(
        good.clone(),
    ));
    let grant = f.service.create_grant(&owner, input).await.expect("grant");
    let enc = f
        .service
        .encrypt(&other, &arn, b"shared", &good, None)
        .expect("encrypt through the grant");
    let dec = f
        .service
        .decrypt(&other, &enc.ciphertext, &good, None, None)
        .expect("decrypt through the grant");
    assert_eq!(dec.plaintext.as_slice(), b"shared");
    for wrong in [
        ctx(&[]),
        ctx(&[("tenant", "b")]),
        ctx(&[("tenant", "a"), ("x", "y")]),
    ] {
        assert!(matches!(
            f.service.encrypt(&other, &arn, b"x", &wrong, None),
            Err(Error::AccessDenied { .. })
        ));
    }
    // The grant gives nothing else: not DescribeKey, not managing the key.
    assert!(matches!(
        f.service.describe_key(&other, &arn),
        Err(Error::AccessDenied { .. })
    ));
    // The grantee account may not revoke it, but the key's account may; then access ends.
    assert!(matches!(
        f.service
            .revoke_grant(&other, &arn, &grant.grant_id, false)
            .await,
        Err(Error::AccessDenied { .. })
    ));
    f.service
        .revoke_grant(&owner, &key, &grant.grant_id, false)
        .await
        .expect("revoke");
    assert!(matches!(
        f.service.encrypt(&other, &arn, b"x", &good, None),
        Err(Error::AccessDenied { .. })
    ));
}

#[tokio::test]
async fn the_retiring_principal_and_a_grantee_with_retire_grant_may_retire_a_grant() {
    let f = fixture().await;
    let owner = caller("111122223333");
    let grantee = caller("444455556666");
    let retirer = caller("777788889999");
    let key = new_key(&f, &owner).await;
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    let mut input = grant_input(&key, OTHER_ROOT, &["Encrypt"]);
    input.retiring_principal = Some("arn:aws:iam::777788889999:root".to_owned());
    let a = f.service.create_grant(&owner, input).await.expect("a");
    assert!(matches!(
        f.service
            .retire_grant(&grantee, None, Some(&arn), Some(&a.grant_id), false)
            .await,
        Err(Error::AccessDenied { .. })
    ));
    f.service
        .retire_grant(&retirer, Some(&a.grant_token), None, None, false)
        .await
        .expect("the retiring principal retires");
    let b = f
        .service
        .create_grant(
            &owner,
            grant_input(&key, OTHER_ROOT, &["Encrypt", "RetireGrant"]),
        )
        .await
        .expect("b");
    f.service
        .retire_grant(&grantee, None, Some(&arn), Some(&b.grant_id), false)
        .await
        .expect("the grantee retires a grant that allows RetireGrant");
}

#[tokio::test]
async fn grants_survive_a_restart_and_are_deleted_with_their_key() {
    let f = fixture().await;
    let owner = caller("111122223333");
    let other = caller("444455556666");
    let key = new_key(&f, &owner).await;
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    let grant = f
        .service
        .create_grant(&owner, grant_input(&key, OTHER_ROOT, &["Encrypt"]))
        .await
        .expect("grant");
    // Another change to the key keeps its grants.
    f.service
        .update_key_description(&owner, &key, "still granted".to_owned())
        .await
        .expect("describe");
    f.service
        .encrypt(&other, &arn, b"x", &ctx(&[]), None)
        .expect("encrypt after an update");
    let reopened = open(&f.dir, f.clock.clone()).await;
    let listed = reopened
        .list_grants(&owner, &key, None, None, None, None)
        .expect("list after restart");
    assert_eq!(listed.grants.len(), 1);
    assert_eq!(listed.grants[0].grant_id, grant.grant_id);
    assert_eq!(listed.grants[0].grant_token, grant.grant_token);
    reopened
        .encrypt(&other, &arn, b"x", &ctx(&[]), None)
        .expect("encrypt through the grant after restart");
    drop(reopened);

    f.service
        .schedule_key_deletion(&owner, &key, Some(7))
        .await
        .expect("schedule");
    f.clock.danger_set_offset(7 * DAY_MS + 1000);
    assert_eq!(f.service.delete_due_keys().await.expect("run").len(), 1);
    let store = SqliteStore::open(&f.dir.path().join("keystead.db")).expect("open store");
    assert!(store.load().await.expect("load").grants.is_empty());
}

/// A fixed set of identity policies for one user, as the server's IAM state would give them.
struct FixedPolicies(std::sync::Mutex<Vec<keystead_authz::Policy>>);

impl crate::IdentityPolicies for FixedPolicies {
    fn user_policies(
        &self,
        _account: &keystead_types::AccountId,
        user_name: &str,
    ) -> Arc<[keystead_authz::Policy]> {
        assert_eq!(user_name, "alice");
        Arc::from(self.0.lock().expect("lock").clone())
    }

    fn role_policies(
        &self,
        _account: &keystead_types::AccountId,
        _role_name: &str,
    ) -> Arc<[keystead_authz::Policy]> {
        Arc::from(Vec::new())
    }
}

fn identity_policy(effect: &str, action: &str, resource: &str) -> keystead_authz::Policy {
    keystead_authz::Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}}}"#
        ),
        &keystead_authz::Limits::USER_INLINE,
    )
    .expect("identity policy")
}

#[tokio::test]
async fn an_iam_user_needs_an_identity_policy_and_an_explicit_deny_wins() {
    let dir = tempfile::tempdir().expect("temp dir");
    RootKey::create(dir.path().join("root.key")).expect("root key");
    let policies = Arc::new(FixedPolicies(std::sync::Mutex::new(Vec::new())));
    let service = open(&dir, Arc::new(SystemClock::default()))
        .await
        .with_identity_policies(policies.clone());
    let root = caller("111122223333");
    let key = new_key_with(&service, &root).await;
    let user = Caller {
        user: Some(keystead_types::CallerUser {
            user_name: "alice".to_owned(),
            user_id: "AIDAEXAMPLEEXAMPLE12".to_owned(),
            path: "/".to_owned(),
        }),
        ..root.clone()
    };
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");

    let denied = service
        .encrypt(&user, &key, b"x", &ctx(&[]), None)
        .err()
        .expect("no identity policy: denied");
    let message = denied.to_string();
    assert!(
        message.contains("arn:aws:iam::111122223333:user/alice")
            && message.contains("no identity-based policy allows"),
        "{message}"
    );

    policies
        .0
        .lock()
        .expect("lock")
        .push(identity_policy("Allow", "kms:Encrypt", &arn));
    service
        .encrypt(&user, &key, b"x", &ctx(&[]), None)
        .expect("allowed by the identity policy");
    assert!(
        service.describe_key(&user, &key).is_err(),
        "only Encrypt is allowed"
    );

    policies
        .0
        .lock()
        .expect("lock")
        .push(identity_policy("Deny", "kms:*", "*"));
    let denied = service
        .encrypt(&user, &key, b"x", &ctx(&[]), None)
        .err()
        .expect("explicit deny");
    assert!(denied.to_string().contains("explicit deny"), "{denied}");
    service
        .encrypt(&root, &key, b"x", &ctx(&[]), None)
        .expect("the root user is not affected by the user's policies");
}

async fn new_key_with(service: &KeyService, c: &Caller) -> String {
    service
        .create_key(c, CreateKeyInput::default())
        .await
        .expect("create key")
        .key_id
        .to_string()
}
