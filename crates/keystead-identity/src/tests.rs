//! IdentityService on a real SQLite store.

use std::sync::Arc;

use keystead_crypto::RootKey;
use keystead_store::{AccessKeyStatus, Store};
use keystead_store_sqlite::SqliteStore;
use keystead_types::{Caller, SystemClock};

use super::*;

const ACCOUNT: &str = "111122223333";

async fn open(dir: &tempfile::TempDir) -> IdentityService {
    open_with_clock(dir, Arc::new(SystemClock::default())).await
}

fn root() -> Caller {
    Caller {
        account_id: ACCOUNT.parse().expect("account"),
        region: "us-east-1".parse().expect("region"),
        access_key_id: "AKIAROOT".to_owned(),
        user: None,
        role_session: None,
        mfa_authenticated_at: None,
        session_created_at: None,
        service: None,
        via_service: None,
        source: keystead_types::RequestSource::default(),
    }
}

fn as_user(service: &IdentityService, key: &CreatedAccessKey) -> Caller {
    Caller {
        user: service.access_key_user(&key.record.access_key_id),
        access_key_id: key.record.access_key_id.clone(),
        ..root()
    }
}

#[tokio::test]
async fn users_keys_and_policies_round_trip_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let user = service
        .create_user(&root(), "Alice", Some("/team/"), Vec::new())
        .await
        .expect("create");
    assert_eq!(user.arn, "arn:aws:iam::111122223333:user/team/Alice");
    assert!(user.record.user_id.starts_with("AIDA"));
    assert_eq!(user.record.user_id.len(), 20);
    assert!(matches!(
        service
            .create_user(&root(), "alice", None, Vec::new())
            .await,
        Err(Error::EntityAlreadyExists(_))
    ));
    let key = service
        .create_access_key(&root(), Some("Alice"))
        .await
        .expect("key");
    assert_eq!(key.secret_access_key.len(), 40);
    service
        .put_user_policy(
            &root(),
            "Alice",
            "p",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#,
        )
        .await
        .expect("put");
    assert!(matches!(
        service.delete_user(&root(), "Alice").await,
        Err(Error::DeleteConflict(_))
    ));
    drop(service);

    let service = open(&dir).await;
    let users = service.list_users(&root(), None, None, None).expect("list");
    assert_eq!(users.items, vec![user]);
    let keys = service
        .list_access_keys(&root(), Some("Alice"), None, None)
        .expect("keys");
    assert_eq!(keys.items.len(), 1);
    assert_eq!(keys.items[0].status, AccessKeyStatus::Active);
    assert_eq!(service.user_policies(&root().account_id, "Alice").len(), 1);
    let me = as_user(&service, &key);
    assert_eq!(
        me.principal_arn(),
        "arn:aws:iam::111122223333:user/team/Alice"
    );
    assert!(matches!(service.get_user(&me, None), Ok(Identity::User(_))));
    assert!(matches!(
        service.list_users(&me, None, None, None),
        Err(Error::AccessDenied(_))
    ));
}

#[tokio::test]
async fn bad_and_oversized_policies_are_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    service
        .create_user(&root(), "bob", None, Vec::new())
        .await
        .expect("create");
    assert!(matches!(
        service
            .put_user_policy(&root(), "bob", "p", "{not json")
            .await,
        Err(Error::MalformedPolicyDocument(_))
    ));
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"{}"}}}}"#,
        "a".repeat(3000)
    );
    assert!(matches!(
        service.put_user_policy(&root(), "bob", "p", &big).await,
        Err(Error::LimitExceeded(_))
    ));
    assert!(matches!(
        service.get_user_policy(&root(), "bob", "p"),
        Err(Error::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn list_users_pages_with_a_marker() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    for name in ["a", "b", "c"] {
        service
            .create_user(&root(), name, None, Vec::new())
            .await
            .expect("create");
    }
    let first = service
        .list_users(&root(), None, None, Some(2))
        .expect("page 1");
    assert_eq!(first.items.len(), 2);
    let second = service
        .list_users(&root(), None, first.next_marker.as_deref(), Some(2))
        .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].record.user_name, "c");
    assert!(second.next_marker.is_none());
}

/// A clock a test moves by hand.
#[derive(Default)]
struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    fn advance_seconds(&self, seconds: i64) {
        self.0
            .fetch_add(seconds * 1000, std::sync::atomic::Ordering::SeqCst);
    }
}

impl keystead_types::Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(1_700_000_000_000 + self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

async fn open_with_clock(
    dir: &tempfile::TempDir,
    clock: Arc<dyn keystead_types::Clock>,
) -> IdentityService {
    let root_path = dir.path().join("root.key");
    let root = if root_path.exists() {
        RootKey::load(&root_path).expect("load root key")
    } else {
        RootKey::create(&root_path).expect("root key")
    };
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("keystead.db")).expect("open store"));
    let snapshot = store.load().await.expect("load");
    IdentityService::open(&snapshot, store, Arc::new(root), clock).expect("open")
}

fn trust_policy(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"{condition}}}}}"#
    )
}

fn new_role<'a>(name: &'a str, trust: &'a str) -> NewRole<'a> {
    NewRole {
        role_name: name,
        path: None,
        assume_role_policy_document: trust,
        description: None,
        max_session_duration: None,
        tags: Vec::new(),
    }
}

fn assume<'a>(role_arn: &'a str, external_id: Option<&'a str>) -> AssumeRole<'a> {
    AssumeRole {
        role_arn,
        role_session_name: "session-1",
        duration_seconds: Some(900),
        external_id,
        policy: None,
    }
}

#[tokio::test]
async fn a_role_session_expires_by_the_service_clock_and_is_pruned() {
    let dir = tempfile::tempdir().expect("temp");
    let clock = Arc::new(ManualClock::default());
    let service = open_with_clock(&dir, clock.clone()).await;
    let trust = trust_policy("");
    let role = service
        .create_role(&root(), new_role("deployer", &trust))
        .await
        .expect("create role");
    assert_eq!(role.arn, "arn:aws:iam::111122223333:role/deployer");
    assert!(role.record.role_id.starts_with("AROA"));
    let created = service
        .assume_role(&root(), assume(&role.arn, None))
        .await
        .expect("assume");
    let record = &created.record;
    assert!(record.access_key_id.starts_with("ASIA"));
    assert_eq!(record.expiration.0 - clock.now().0, 900_000);
    let secrets = unseal_session(
        &RootKey::load(dir.path().join("root.key")).expect("key"),
        record,
    )
    .expect("unseal");
    assert_eq!(*secrets.secret_access_key, *created.secret_access_key);
    assert_eq!(*secrets.session_token, *created.session_token);
    let (user, session) = session_identity(record);
    assert!(user.is_none());
    let session = session.expect("a role session");
    assert_eq!(
        session.assumed_role_arn(&root().account_id),
        "arn:aws:sts::111122223333:assumed-role/deployer/session-1"
    );

    assert!(!is_expired(record, clock.now()));
    clock.advance_seconds(899);
    assert!(!is_expired(record, clock.now()));
    assert_eq!(service.prune_expired_sessions().await.expect("prune"), 0);
    clock.advance_seconds(1);
    assert!(is_expired(record, clock.now()));
    assert_eq!(service.prune_expired_sessions().await.expect("prune"), 1);
    drop(service);
    let store = SqliteStore::open(&dir.path().join("keystead.db")).expect("open store");
    assert!(store.load().await.expect("load").sessions.is_empty());
}

#[tokio::test]
async fn the_trust_policy_and_the_callers_policies_decide_assume_role() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let guarded = trust_policy(r#","Condition":{"StringEquals":{"sts:ExternalId":"magic"}}"#);
    let role = service
        .create_role(&root(), new_role("guarded", &guarded))
        .await
        .expect("create role");
    assert!(matches!(
        service.assume_role(&root(), assume(&role.arn, None)).await,
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        service
            .assume_role(&root(), assume(&role.arn, Some("wrong")))
            .await,
        Err(Error::AccessDenied(_))
    ));
    service
        .assume_role(&root(), assume(&role.arn, Some("magic")))
        .await
        .expect("the right external id");

    // A user of the account needs its own permission: the trust policy delegates to the account.
    let open_trust = trust_policy("");
    let role = service
        .create_role(&root(), new_role("open", &open_trust))
        .await
        .expect("create role");
    service
        .create_user(&root(), "carol", None, Vec::new())
        .await
        .expect("user");
    let key = service
        .create_access_key(&root(), Some("carol"))
        .await
        .expect("key");
    let carol = as_user(&service, &key);
    assert!(matches!(
        service.assume_role(&carol, assume(&role.arn, None)).await,
        Err(Error::AccessDenied(_))
    ));
    service
        .put_user_policy(
            &root(),
            "carol",
            "assume",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
        )
        .await
        .expect("policy");
    service
        .assume_role(&carol, assume(&role.arn, None))
        .await
        .expect("allowed by the user's policy");

    // Durations beyond the role's maximum and bad session names are refused.
    let mut long = assume(&role.arn, None);
    long.duration_seconds = Some(3_601);
    assert!(matches!(
        service.assume_role(&root(), long).await,
        Err(Error::Validation(_))
    ));
    let mut bad = assume(&role.arn, None);
    bad.role_session_name = "x";
    assert!(matches!(
        service.assume_role(&root(), bad).await,
        Err(Error::Validation(_))
    ));
}

#[tokio::test]
async fn roles_refuse_bad_trust_policies_and_deletion_with_policies() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let no_principal =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
    assert!(matches!(
        service
            .create_role(&root(), new_role("r", no_principal))
            .await,
        Err(Error::MalformedPolicyDocument(_))
    ));
    let trust = trust_policy("");
    let mut too_long = new_role("r", &trust);
    too_long.max_session_duration = Some(43_201);
    assert!(matches!(
        service.create_role(&root(), too_long).await,
        Err(Error::Validation(_))
    ));
    service
        .create_role(&root(), new_role("r", &trust))
        .await
        .expect("create");
    assert!(matches!(
        service.create_role(&root(), new_role("R", &trust)).await,
        Err(Error::EntityAlreadyExists(_))
    ));
    service
        .put_role_policy(
            &root(),
            "r",
            "p",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
        )
        .await
        .expect("put");
    assert!(matches!(
        service.delete_role(&root(), "r").await,
        Err(Error::DeleteConflict(_))
    ));
    assert_eq!(service.role_policies(&root().account_id, "r").len(), 1);
    service
        .delete_role_policy(&root(), "r", "p")
        .await
        .expect("delete policy");
    service.delete_role(&root(), "r").await.expect("delete");
}

fn current_step() -> u64 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    totp::totp_step(seconds)
}

#[tokio::test]
async fn a_virtual_mfa_seed_is_stored_sealed_and_shown_once_in_base32() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let created = service
        .create_virtual_mfa_device(&root(), "phone", None)
        .await
        .expect("create device");
    assert_eq!(
        created.record.serial_number,
        "arn:aws:iam::111122223333:mfa/phone"
    );
    assert_eq!(created.base32_seed.len(), 32);
    let seed = service
        .root_key
        .unseal_secret(
            &created.record.sealed_seed,
            created.record.serial_number.as_bytes(),
        )
        .expect("unseal");
    assert_eq!(seed.len(), MFA_SEED_LEN);
    assert_eq!(totp::base32_encode(&seed), *created.base32_seed);
    assert!(
        !created
            .record
            .sealed_seed
            .windows(seed.len())
            .any(|w| w == seed.as_slice()),
        "the stored seed must not contain the plaintext seed"
    );
    assert!(matches!(
        service
            .create_virtual_mfa_device(&root(), "PHONE", None)
            .await,
        Err(Error::EntityAlreadyExists(_))
    ));
}

/// Creates virtual MFA device `name` (under `path`) for the root user to enable; returns its
/// serial number and its seed.
async fn new_device(
    service: &IdentityService,
    name: &str,
    path: Option<&str>,
) -> (String, Zeroizing<Vec<u8>>) {
    let created = service
        .create_virtual_mfa_device(&root(), name, path)
        .await
        .expect("create device");
    let serial = created.record.serial_number.clone();
    let seed = service
        .root_key
        .unseal_secret(&created.record.sealed_seed, serial.as_bytes())
        .expect("unseal");
    (serial, seed)
}

/// Whether GetSessionToken was refused for its MFA code.
fn mfa_denied(result: Result<CreatedSession, Error>) -> bool {
    matches!(result, Err(Error::AccessDenied(m)) if m.contains("invalid MFA one time pass code"))
}

#[tokio::test]
async fn enabling_needs_two_consecutive_codes_and_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    service
        .create_user(&root(), "bob", None, Vec::new())
        .await
        .expect("user");
    let (serial, seed) = new_device(&service, "bobs-phone", Some("/team/")).await;
    let step = current_step();
    let code = |s: u64| totp::totp_code_at_step(&seed, s);
    for (first, second) in [
        (code(step), code(step - 1)),
        (code(step), code(step)),
        (code(step - 1), code(step + 1)),
        (code(step - 10), code(step - 9)),
        ("000000".to_owned(), "000000".to_owned()),
    ] {
        assert!(
            matches!(
                service
                    .enable_mfa_device(&root(), Some("bob"), &serial, &first, &second)
                    .await,
                Err(Error::InvalidAuthenticationCode(_))
            ),
            "{first} {second}"
        );
    }
    assert!(
        service
            .list_mfa_devices(&root(), Some("bob"))
            .expect("list")
            .is_empty()
    );
    service
        .enable_mfa_device(&root(), Some("bob"), &serial, &code(step - 1), &code(step))
        .await
        .expect("enable");
    assert!(matches!(
        service.delete_virtual_mfa_device(&root(), &serial).await,
        Err(Error::DeleteConflict(_))
    ));
    drop(service);

    let service = open(&dir).await;
    let listed = service
        .list_mfa_devices(&root(), Some("bob"))
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].serial_number, serial);
    assert_eq!(listed[0].user_name.as_deref(), Some("bob"));
    service
        .deactivate_mfa_device(&root(), Some("bob"), &serial)
        .await
        .expect("deactivate");
    service
        .delete_virtual_mfa_device(&root(), &serial)
        .await
        .expect("delete");
    assert!(matches!(
        service.delete_virtual_mfa_device(&root(), &serial).await,
        Err(Error::NoSuchEntity(_))
    ));

    // Deleted and created again under the same name, twice in this process: each time a new
    // seed, whose codes of this step are unused although the last device's were used.
    for round in 0..2 {
        let again = service
            .create_virtual_mfa_device(&root(), "bobs-phone", Some("/team/"))
            .await
            .expect("create again");
        assert_eq!(again.record.serial_number, serial);
        let seed = service
            .root_key
            .unseal_secret(&again.record.sealed_seed, serial.as_bytes())
            .expect("unseal");
        let code = |s: u64| totp::totp_code_at_step(&seed, s);
        service
            .enable_mfa_device(&root(), Some("bob"), &serial, &code(step - 1), &code(step))
            .await
            .unwrap_or_else(|e| panic!("enable the new device, round {round}: {e}"));
        service
            .deactivate_mfa_device(&root(), Some("bob"), &serial)
            .await
            .expect("deactivate");
        service
            .delete_virtual_mfa_device(&root(), &serial)
            .await
            .expect("delete");
    }
}

#[tokio::test]
async fn get_session_token_with_mfa_needs_a_current_code_of_the_callers_device() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let (serial, seed) = new_device(&service, "root-phone", None).await;
    let step = current_step();
    let code = |s: u64| totp::totp_code_at_step(&seed, s);
    // Not enabled yet.
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step))))
            .await
    ));
    service
        .enable_mfa_device(&root(), None, &serial, &code(step - 1), &code(step))
        .await
        .expect("enable");
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step + 5))))
            .await
    ));
    assert!(mfa_denied(
        service
            .get_session_token(
                &root(),
                None,
                Some(("arn:aws:iam::111122223333:mfa/x", "1"))
            )
            .await
    ));
    let plain = service
        .get_session_token(&root(), None, None)
        .await
        .expect("session without MFA");
    assert_eq!(plain.record.mfa_authenticated_at, None);
    // The codes that enabled the device are spent.
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step))))
            .await
    ));
    let session = service
        .get_session_token(&root(), None, Some((&serial, &code(step + 1))))
        .await
        .expect("session with MFA");
    assert!(session.record.mfa_authenticated_at.is_some());
    // A code opens one session: not a second, and no older code after it.
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step + 1))))
            .await
    ));
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step - 1))))
            .await
    ));
}

#[tokio::test]
async fn after_a_restart_no_code_that_could_have_been_used_before_it_is_accepted() {
    let dir = tempfile::tempdir().expect("temp");
    let clock = Arc::new(ManualClock::default());
    let service = open_with_clock(&dir, clock.clone()).await;
    let (serial, seed) = new_device(&service, "root-phone", None).await;
    let code = |s: u64| totp::totp_code_at_step(&seed, s);
    let step = totp::totp_step(u64::try_from(clock.now().0 / 1000).expect("after 1970"));
    service
        .enable_mfa_device(&root(), None, &serial, &code(step - 1), &code(step))
        .await
        .expect("enable");
    // A session opened with the next step's code; then the process stops, and its memory of
    // the codes used goes with it.
    service
        .get_session_token(&root(), None, Some((&serial, &code(step + 1))))
        .await
        .expect("session with MFA");
    // A device created but not yet enabled: no code of it can have been used.
    service
        .create_user(&root(), "bob", None, Vec::new())
        .await
        .expect("user");
    let (spare, spare_seed) = new_device(&service, "spare-phone", None).await;
    drop(service);

    // Started again at the same moment.
    let clock = Arc::new(ManualClock::default());
    let service = open_with_clock(&dir, clock.clone()).await;
    let spare_code = |s: u64| totp::totp_code_at_step(&spare_seed, s);
    service
        .enable_mfa_device(
            &root(),
            Some("bob"),
            &spare,
            &spare_code(step - 1),
            &spare_code(step),
        )
        .await
        .expect("a device not enabled before the restart is enabled at once");
    // The code used before the restart, and the current one, which the old process might
    // have accepted too.
    for used_or_maybe_used in [step + 1, step] {
        assert!(
            mfa_denied(
                service
                    .get_session_token(&root(), None, Some((&serial, &code(used_or_maybe_used))))
                    .await
            ),
            "step {used_or_maybe_used}"
        );
    }
    // One step later, the code of the step after it works (and only once).
    clock.advance_seconds(30);
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step + 1))))
            .await
    ));
    service
        .get_session_token(&root(), None, Some((&serial, &code(step + 2))))
        .await
        .expect("a code no process can have seen");
    assert!(mfa_denied(
        service
            .get_session_token(&root(), None, Some((&serial, &code(step + 2))))
            .await
    ));
}

#[tokio::test]
async fn principals_exist_when_their_user_or_role_does_and_every_change_moves_the_generation() {
    let dir = tempfile::tempdir().expect("temp");
    let service = open(&dir).await;
    let before = service.generation();
    service
        .create_user(&root(), "Alice", Some("/team/"), Vec::new())
        .await
        .expect("create user");
    assert!(
        service.generation() > before,
        "a new user moves the generation"
    );
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}}}"#
    );
    service
        .create_role(&root(), new_role("deployer", &trust))
        .await
        .expect("create role");
    for exists in [
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::999999999999:root",
        "arn:aws:iam::111122223333:user/team/Alice",
        "arn:aws:iam::111122223333:role/deployer",
        "arn:aws:sts::111122223333:assumed-role/deployer/session",
    ] {
        assert!(service.principal_exists(exists), "{exists}");
    }
    for missing in [
        "arn:aws:iam::111122223333:user/Alice",
        "arn:aws:iam::111122223333:user/team/Bob",
        "arn:aws:iam::444455556666:user/team/Alice",
        "arn:aws:iam::111122223333:role/other",
        "arn:aws:sts::111122223333:assumed-role/other/session",
        "arn:aws:iam::111122223333:group/admins",
        "not-an-arn",
    ] {
        assert!(!service.principal_exists(missing), "{missing}");
    }
    let before = service.generation();
    service
        .delete_role(&root(), "deployer")
        .await
        .expect("delete role");
    assert!(service.generation() > before);
    assert!(!service.principal_exists("arn:aws:iam::111122223333:role/deployer"));
}
