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
        session_created_at: None,
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
struct FixedPolicies(
    std::sync::Mutex<Arc<[keystead_authz::Policy]>>,
    std::sync::atomic::AtomicU64,
);

impl FixedPolicies {
    fn new() -> Self {
        Self(
            std::sync::Mutex::new(Arc::from(Vec::new())),
            std::sync::atomic::AtomicU64::new(0),
        )
    }

    /// Adds a policy, moving the generation as the server's IAM state does on every change.
    fn push(&self, policy: keystead_authz::Policy) {
        let mut policies = self.0.lock().expect("lock");
        let mut all = policies.to_vec();
        all.push(policy);
        *policies = Arc::from(all);
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl crate::IdentityPolicies for FixedPolicies {
    fn user_policies(
        &self,
        _account: &keystead_types::AccountId,
        user_name: &str,
    ) -> Arc<[keystead_authz::Policy]> {
        assert_eq!(user_name, "alice");
        self.0.lock().expect("lock").clone()
    }

    fn role_policies(
        &self,
        _account: &keystead_types::AccountId,
        _role_name: &str,
    ) -> Arc<[keystead_authz::Policy]> {
        Arc::from(Vec::new())
    }

    fn principal_exists(&self, arn: &str) -> bool {
        arn.starts_with("arn:aws:iam::111122223333:") && !arn.contains("nobody")
    }

    fn generation(&self) -> u64 {
        self.1.load(std::sync::atomic::Ordering::SeqCst)
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
    let policies = Arc::new(FixedPolicies::new());
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

    policies.push(identity_policy("Allow", "kms:Encrypt", &arn));
    service
        .encrypt(&user, &key, b"x", &ctx(&[]), None)
        .expect("allowed by the identity policy");
    assert!(
        service.describe_key(&user, &key).is_err(),
        "only Encrypt is allowed"
    );

    policies.push(identity_policy("Deny", "kms:*", "*"));
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

// ---- Condition keys from real requests -------------------------------------------------------

/// A key of account 111122223333 whose policy allows the account everything except what
/// `deny` (one Deny statement's `Action` and `Condition`) takes away from everyone.
async fn key_denying(f: &Fixture, c: &Caller, action: &str, condition: &str) -> String {
    let extra = format!(
        r#",{{"Sid":"Deny","Effect":"Deny","Principal":"*","Action":"{action}","Resource":"*","Condition":{condition}}}"#
    );
    key_with_policy(f, c, policy_allowing("111122223333", &extra), false)
        .await
        .expect("create key")
}

fn is_denied<T>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::AccessDenied { .. }))
}

#[tokio::test]
async fn source_ip_secure_transport_and_user_agent_come_from_the_connection() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        r#"{"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}"#,
    )
    .await;
    assert!(is_denied(f.service.encrypt(
        &c,
        &key,
        b"x",
        &ctx(&[]),
        None
    )));
    let mut inside = c.clone();
    inside.source.ip = Some("10.1.2.3".parse().expect("ip"));
    f.service
        .encrypt(&inside, &key, b"x", &ctx(&[]), None)
        .expect("from the allowed network");

    let tls_only = key_denying(
        &f,
        &c,
        "kms:DescribeKey",
        r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
    )
    .await;
    assert!(is_denied(f.service.describe_key(&c, &tls_only)));
    let mut tls = c.clone();
    tls.source.secure_transport = true;
    f.service.describe_key(&tls, &tls_only).expect("over TLS");

    let agent = key_denying(
        &f,
        &c,
        "kms:DescribeKey",
        r#"{"StringLike":{"aws:UserAgent":"curl/*"}}"#,
    )
    .await;
    let mut curl = c.clone();
    curl.source.user_agent = Some("curl/8.5".to_owned());
    assert!(is_denied(f.service.describe_key(&curl, &agent)));
    curl.source.user_agent = Some("Boto3/1.35".to_owned());
    f.service
        .describe_key(&curl, &agent)
        .expect("another agent");
}

#[tokio::test]
async fn resource_tags_are_the_keys_tags_and_a_tag_change_is_seen_at_once() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        r#"{"StringNotEquals":{"aws:ResourceTag/team":"blue"}}"#,
    )
    .await;
    assert!(is_denied(f.service.encrypt(
        &c,
        &key,
        b"x",
        &ctx(&[]),
        None
    )));
    let tag = |k: &str, v: &str| keystead_store::Tag {
        key: k.to_owned(),
        value: v.to_owned(),
    };
    f.service
        .tag_resource(&c, &key, vec![tag("team", "blue")])
        .await
        .expect("tag");
    f.service
        .encrypt(&c, &key, b"x", &ctx(&[]), None)
        .expect("tagged blue");
    f.service
        .untag_resource(&c, &key, &["team".to_owned()])
        .await
        .expect("untag");
    assert!(is_denied(f.service.encrypt(
        &c,
        &key,
        b"x",
        &ctx(&[]),
        None
    )));
}

#[tokio::test]
async fn request_tags_and_tag_keys_come_from_tag_resource_and_untag_resource() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:*",
        r#"{"StringEquals":{"aws:RequestTag/env":"prod"}}"#,
    )
    .await;
    let tag = |k: &str, v: &str| keystead_store::Tag {
        key: k.to_owned(),
        value: v.to_owned(),
    };
    assert!(is_denied(
        f.service
            .tag_resource(&c, &key, vec![tag("env", "prod")])
            .await
    ));
    f.service
        .tag_resource(&c, &key, vec![tag("env", "dev"), tag("owner", "me")])
        .await
        .expect("not prod");

    let protected = key_denying(
        &f,
        &c,
        "kms:UntagResource",
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}"#,
    )
    .await;
    assert!(is_denied(
        f.service
            .untag_resource(&c, &protected, &["a".to_owned(), "owner".to_owned()])
            .await
    ));
    f.service
        .untag_resource(&c, &protected, &["a".to_owned()])
        .await
        .expect("other tag keys");
}

#[tokio::test]
async fn create_key_is_decided_by_identity_policies_with_its_request_tags() {
    let dir = tempfile::tempdir().expect("temp dir");
    RootKey::create(dir.path().join("root.key")).expect("root key");
    let policies = Arc::new(FixedPolicies::new());
    let service = open(&dir, Arc::new(SystemClock::default()))
        .await
        .with_identity_policies(policies.clone());
    let user = Caller {
        user: Some(keystead_types::CallerUser {
            user_name: "alice".to_owned(),
            user_id: "AIDAEXAMPLEEXAMPLE12".to_owned(),
            path: "/".to_owned(),
        }),
        ..caller("111122223333")
    };
    let tagged = |v: &str| CreateKeyInput {
        tags: vec![keystead_store::Tag {
            key: "team".to_owned(),
            value: v.to_owned(),
        }],
        ..CreateKeyInput::default()
    };
    assert!(is_denied(service.create_key(&user, tagged("blue")).await));
    policies.push(
        keystead_authz::Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*",
                "Condition":{"StringEquals":{"aws:RequestTag/team":"blue","kms:KeySpec":"SYMMETRIC_DEFAULT"},
                             "ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
                {"Effect":"Allow","NotAction":"kms:CreateKey","Resource":"*"}]}"#,
            &keystead_authz::Limits::USER_INLINE,
        )
        .expect("policy"),
    );
    service
        .create_key(&user, tagged("blue"))
        .await
        .expect("tagged blue");
    assert!(is_denied(service.create_key(&user, tagged("red")).await));
    let mut rds = caller("111122223333");
    rds.service = Some("rds.amazonaws.com".to_owned());
    assert!(is_denied(
        service.create_key(&rds, CreateKeyInput::default()).await
    ));
}

#[tokio::test]
async fn request_alias_and_resource_aliases_follow_the_request_and_the_aliases() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        r#"{"StringEquals":{"kms:RequestAlias":"alias/blocked"}}"#,
    )
    .await;
    for alias in ["alias/blocked", "alias/open"] {
        f.service
            .create_alias(&c, alias, &key)
            .await
            .expect("alias");
    }
    assert!(is_denied(f.service.encrypt(
        &c,
        "alias/blocked",
        b"x",
        &ctx(&[]),
        None
    )));
    assert!(is_denied(f.service.encrypt(
        &c,
        "arn:aws:kms:us-east-1:111122223333:alias/blocked",
        b"x",
        &ctx(&[]),
        None
    )));
    f.service
        .encrypt(&c, "alias/open", b"x", &ctx(&[]), None)
        .expect("another alias");
    f.service
        .encrypt(&c, &key, b"x", &ctx(&[]), None)
        .expect("by key id");

    let quarantined = key_denying(
        &f,
        &c,
        "kms:DescribeKey",
        r#"{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/quarantine"}}"#,
    )
    .await;
    f.service
        .describe_key(&c, &quarantined)
        .expect("no alias yet");
    f.service
        .create_alias(&c, "alias/quarantine", &quarantined)
        .await
        .expect("alias");
    assert!(is_denied(f.service.describe_key(&c, &quarantined)));
    f.service
        .delete_alias(&c, "alias/quarantine")
        .await
        .expect("delete alias");
    f.service
        .describe_key(&c, &quarantined)
        .expect("alias gone");
}

#[tokio::test]
async fn key_spec_usage_origin_algorithm_and_epoch_time_are_set() {
    let f = fixture().await;
    let c = caller("111122223333");
    for condition in [
        r#"{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#,
        r#"{"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT"}}"#,
        r#"{"StringEquals":{"kms:KeyOrigin":"AWS_KMS"}}"#,
        r#"{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#,
        r#"{"NumericGreaterThan":{"aws:EpochTime":"1000000000"}}"#,
        r#"{"StringEquals":{"aws:userid":"111122223333"}}"#,
        r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
    ] {
        let key = key_denying(&f, &c, "kms:Encrypt", condition).await;
        assert!(
            is_denied(f.service.encrypt(&c, &key, b"x", &ctx(&[]), None)),
            "{condition}"
        );
    }
}

#[tokio::test]
async fn via_service_comes_from_the_caller_and_grant_is_for_aws_resource_follows_it() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        r#"{"StringNotEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}"#,
    )
    .await;
    assert!(is_denied(f.service.encrypt(
        &c,
        &key,
        b"x",
        &ctx(&[]),
        None
    )));
    let mut via = c.clone();
    via.via_service = Some("secretsmanager.us-east-1.amazonaws.com".to_owned());
    f.service
        .encrypt(&via, &key, b"x", &ctx(&[]), None)
        .expect("through Secrets Manager");

    let grants_for_services = key_denying(
        &f,
        &c,
        "kms:CreateGrant",
        r#"{"Bool":{"kms:GrantIsForAWSResource":"false"}}"#,
    )
    .await;
    let input = grant_input(
        &grants_for_services,
        "arn:aws:iam::111122223333:root",
        &["Decrypt"],
    );
    assert!(is_denied(f.service.create_grant(&c, input.clone()).await));
    f.service
        .create_grant(&via, input)
        .await
        .expect("a service's grant");
}

#[tokio::test]
async fn grant_operations_grantee_and_retiring_principal_are_tested_at_create_grant() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:CreateGrant",
        r#"{"ForAnyValue:StringEquals":{"kms:GrantOperations":"Decrypt"},
            "StringNotLike":{"kms:GranteePrincipal":"arn:aws:iam::111122223333:*"}}"#,
    )
    .await;
    let outsider = "arn:aws:iam::444455556666:root";
    assert!(is_denied(
        f.service
            .create_grant(&c, grant_input(&key, outsider, &["Encrypt", "Decrypt"]))
            .await
    ));
    f.service
        .create_grant(&c, grant_input(&key, outsider, &["Encrypt"]))
        .await
        .expect("no Decrypt");
    f.service
        .create_grant(
            &c,
            grant_input(&key, "arn:aws:iam::111122223333:root", &["Decrypt"]),
        )
        .await
        .expect("a grantee of the account");

    let retiring = key_denying(
        &f,
        &c,
        "kms:CreateGrant",
        r#"{"Null":{"kms:RetiringPrincipal":"true"}}"#,
    )
    .await;
    let mut input = grant_input(&retiring, outsider, &["Encrypt"]);
    assert!(is_denied(f.service.create_grant(&c, input.clone()).await));
    input.retiring_principal = Some(outsider.to_owned());
    f.service
        .create_grant(&c, input)
        .await
        .expect("with a retiring principal");
}

#[tokio::test]
async fn rotation_period_pending_window_and_bypass_flag_are_tested() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_denying(
        &f,
        &c,
        "kms:*",
        r#"{"NumericLessThan":{"kms:RotationPeriodInDays":"180",
                                "kms:ScheduleKeyDeletionPendingWindowInDays":"30"}}"#,
    )
    .await;
    // One operator with two keys: both must hold, and each operation sets only its own key.
    f.service
        .enable_key_rotation(&c, &key, Some(90))
        .await
        .expect("the pending window is absent, so the Deny does not apply");
    let rotation = key_denying(
        &f,
        &c,
        "kms:EnableKeyRotation",
        r#"{"NumericLessThan":{"kms:RotationPeriodInDays":"180"}}"#,
    )
    .await;
    assert!(is_denied(
        f.service.enable_key_rotation(&c, &rotation, Some(90)).await
    ));
    f.service
        .enable_key_rotation(&c, &rotation, Some(365))
        .await
        .expect("long enough");

    let window = key_denying(
        &f,
        &c,
        "kms:ScheduleKeyDeletion",
        r#"{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"30"}}"#,
    )
    .await;
    assert!(is_denied(
        f.service.schedule_key_deletion(&c, &window, Some(7)).await
    ));
    f.service
        .schedule_key_deletion(&c, &window, None)
        .await
        .expect("the default window is 30 days");

    let bypass = key_denying(
        &f,
        &c,
        "kms:PutKeyPolicy",
        r#"{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}"#,
    )
    .await;
    let same = f.service.key_policy(&c, &bypass, None).expect("policy");
    assert!(is_denied(
        f.service
            .put_key_policy(&c, &bypass, None, same.clone(), true)
            .await
    ));
    f.service
        .put_key_policy(&c, &bypass, None, same, false)
        .await
        .expect("without the bypass");
}

#[tokio::test]
async fn a_service_caller_is_its_service_principal() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = key_with_policy(
        &f,
        &c,
        policy_allowing(
            "111122223333",
            r#",{"Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
                 "Condition":{"Bool":{"aws:PrincipalIsAWSService":"true"},"StringEquals":{"aws:PrincipalServiceName":"rds.amazonaws.com"}}}"#,
        ),
        false,
    )
    .await
    .expect("key");
    let service = |name: &str| Caller {
        service: Some(name.to_owned()),
        ..caller("111122223333")
    };
    let enc = f
        .service
        .encrypt(&service("rds.amazonaws.com"), &key, b"x", &ctx(&[]), None)
        .expect("RDS may encrypt");
    match f.service.decrypt(
        &service("s3.amazonaws.com"),
        &enc.ciphertext,
        &ctx(&[]),
        None,
        None,
    ) {
        Err(Error::AccessDenied { message }) => {
            assert!(message.starts_with("User: s3.amazonaws.com "), "{message}");
        }
        other => panic!("expected AccessDenied, got {:?}", other.map(|_| ())),
    }
    assert!(is_denied(
        f.service.describe_key(&service("rds.amazonaws.com"), &key)
    ));
}

#[tokio::test]
async fn decisions_are_cached_and_dropped_when_the_policy_changes() {
    let f = fixture().await;
    let c = caller("111122223333");
    let key = new_key(&f, &c).await;
    f.service.describe_key(&c, &key).expect("first");
    let (hits, misses) = f.service.decision_cache_counts();
    f.service.describe_key(&c, &key).expect("second");
    assert_eq!(
        f.service.decision_cache_counts(),
        (hits + 1, misses),
        "the second decision comes from the cache"
    );
    f.service
        .put_key_policy(
            &c,
            &key,
            None,
            policy_allowing(
                "111122223333",
                r#",{"Effect":"Deny","Principal":"*","Action":"kms:DescribeKey","Resource":"*"}"#,
            ),
            false,
        )
        .await
        .expect("put policy");
    assert!(is_denied(f.service.describe_key(&c, &key)));
    // Different encryption contexts are different decisions when a condition reads them.
    let ec_key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        r#"{"StringNotEquals":{"kms:EncryptionContext:tenant":"a"}}"#,
    )
    .await;
    for _ in 0..2 {
        f.service
            .encrypt(&c, &ec_key, b"x", &ctx(&[("tenant", "a")]), None)
            .expect("tenant a");
        assert!(is_denied(f.service.encrypt(
            &c,
            &ec_key,
            b"x",
            &ctx(&[("tenant", "b")]),
            None
        )));
    }
}

#[tokio::test]
async fn a_policy_naming_a_principal_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    RootKey::create(dir.path().join("root.key")).expect("root key");
    let service = open(&dir, Arc::new(SystemClock::default()))
        .await
        .with_identity_policies(Arc::new(FixedPolicies::new()));
    let c = caller("111122223333");
    let naming = |arn: &str| CreateKeyInput {
        policy: Some(policy_allowing(
            "111122223333",
            &format!(
                r#",{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
            ),
        )),
        ..CreateKeyInput::default()
    };
    for unknown in [
        "arn:aws:iam::111122223333:user/nobody",
        "arn:aws:iam::999999999999:root",
        "999999999999",
    ] {
        match service.create_key(&c, naming(unknown)).await {
            Err(Error::MalformedPolicy { reason }) => assert_eq!(
                reason, "Policy contains a statement with one or more invalid principals.",
                "{unknown}"
            ),
            other => panic!(
                "{unknown}: expected MalformedPolicy, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let key = service
        .create_key(&c, naming("arn:aws:iam::111122223333:user/alice"))
        .await
        .expect("alice exists")
        .key_id
        .to_string();
    let policy = policy_allowing(
        "111122223333",
        r#",{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/nobody"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    assert!(matches!(
        service.put_key_policy(&c, &key, None, policy, false).await,
        Err(Error::MalformedPolicy { .. })
    ));
}

/// The cost of one authorization decision, from the cache and computed afresh. A measurement,
/// not a check: run it in release with
/// `cargo test --release -p keystead-keys -- --ignored authorization_cost --nocapture`.
#[tokio::test]
#[ignore = "a measurement; run in release"]
async fn authorization_cost() {
    let dir = tempfile::tempdir().expect("temp dir");
    RootKey::create(dir.path().join("root.key")).expect("root key");
    let policies = Arc::new(FixedPolicies::new());
    let service = open(&dir, Arc::new(SystemClock::default()))
        .await
        .with_identity_policies(policies.clone());
    let root = caller("111122223333");
    let key = service
        .create_key(
            &root,
            CreateKeyInput {
                policy: Some(policy_allowing(
                    "111122223333",
                    r#",{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
                         "Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"blocked"}}}"#,
                )),
                ..CreateKeyInput::default()
            },
        )
        .await
        .expect("key")
        .key_id
        .to_string();
    policies.push(
        keystead_authz::Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],
                "Resource":"arn:aws:kms:*:111122223333:key/*",
                "Condition":{"StringEquals":{"aws:username":"${aws:username}"}}}}"#,
            &keystead_authz::Limits::USER_INLINE,
        )
        .expect("identity policy"),
    );
    let user = Caller {
        user: Some(keystead_types::CallerUser {
            user_name: "alice".to_owned(),
            user_id: "AIDAEXAMPLEEXAMPLE12".to_owned(),
            path: "/".to_owned(),
        }),
        ..root.clone()
    };
    let context = ctx(&[("tenant", "a")]);
    let entry = service
        .resolve(&user, &key, crate::reference::Aliases::Accepted)
        .expect("key");
    let decide = || {
        let facts = crate::Facts::default()
            .encryption_context(&context)
            .value("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
        service
            .authorize_with(&user, &entry, "kms:Encrypt", facts)
            .map(drop)
            .expect("allowed");
    };
    const N: u32 = 200_000;
    for _ in 0..1000 {
        decide();
    }
    let start = std::time::Instant::now();
    for _ in 0..N {
        decide();
    }
    let cached = start.elapsed() / N;
    let start = std::time::Instant::now();
    for _ in 0..N {
        // A new generation: every decision misses and is computed (and filed) afresh.
        service
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        decide();
    }
    let computed = start.elapsed() / N;
    let start = std::time::Instant::now();
    for _ in 0..N {
        service
            .encrypt(&user, &key, b"0123456789abcdef", &context, None)
            .expect("encrypt");
    }
    let encrypt = start.elapsed() / N;
    println!(
        "authorization: {cached:?} per decision from the cache, {computed:?} computed afresh; \
         a whole Encrypt of 16 bytes (cached decision): {encrypt:?}"
    );
}

#[tokio::test]
async fn a_cached_decision_on_a_policy_that_reads_the_time_follows_the_clock() {
    let f = fixture().await;
    let c = caller("111122223333");
    let tomorrow = (keystead_types::Clock::now(&*f.clock).0 / 1000) + 86_400;
    let key = key_denying(
        &f,
        &c,
        "kms:Encrypt",
        &format!(r#"{{"NumericGreaterThan":{{"aws:EpochTime":"{tomorrow}"}}}}"#),
    )
    .await;
    for _ in 0..2 {
        f.service
            .encrypt(&c, &key, b"x", &ctx(&[]), None)
            .expect("before the deadline");
    }
    f.clock.danger_set_offset(2 * DAY_MS);
    assert!(is_denied(f.service.encrypt(
        &c,
        &key,
        b"x",
        &ctx(&[]),
        None
    )));
}
