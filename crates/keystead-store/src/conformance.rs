//! The conformance suite every [`Store`] backend must pass, and record fixtures for tests.
//!
//! A backend's test calls [`run`] with a function that opens its store. The suite checks every
//! method's success and error semantics, the atomicity of multi-record writes, the order of
//! [`Store::load`], concurrent writers, and that everything survives closing and reopening. Each
//! failed check panics with a message starting `conformance:` that names the step. This is test
//! code: it is compiled only with the `conformance` feature and never used by the server.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use keystead_types::{AccountId, KeyId, KeyState, Region, UnixMillis};
use tokio::task::JoinSet;

use crate::{
    AccessKeyStatus, AliasRecord, Error, GrantConstraint, GrantRecord, KeyRecord, KeyVersionRecord,
    RotationSchedule, RotationType, Snapshot, Store, Tag, alias_id, key_version_id, what,
};

/// Runs the whole suite.
///
/// `open` must return a store on the same underlying database every time it is called; the
/// database must be empty the first time. The suite drops every store it opened before calling
/// `open` again, so a backend may hold an exclusive lock per open store.
///
/// # Panics
///
/// On the first check the backend fails, with a message naming the check.
pub async fn run<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let store = open().await;
    let empty = load(&store, "loading a fresh database").await;
    assert_eq!(
        empty,
        Snapshot::default(),
        "conformance: the first open must see an empty store"
    );

    accounts_and_access_keys(&store).await;
    keys_and_versions(&store).await;
    key_deletion_removes_versions_and_aliases(&store).await;
    aliases(&store).await;
    grants(&store).await;
    metadata(&store).await;
    load_is_ordered(&store).await;
    concurrent_writers(&store).await;
    users_policies_and_user_access_keys(&store).await;
    roles_and_role_policies(&store).await;
    mfa_devices(&store).await;
    service_credentials(&store).await;
    secrets(&store).await;

    let before = load(&store, "loading before reopening").await;
    drop(store);
    let store = open().await;
    let after = load(&store, "loading after reopening").await;
    assert!(
        before == after,
        "conformance: a reopened store must load exactly what was written before closing"
    );
    let fact = store.metadata("conformance.fact").await;
    assert!(
        matches!(&fact, Ok(Some(v)) if v == "second"),
        "conformance: metadata must survive reopening, got {fact:?}"
    );
    writes_after_reopen(&store).await;
}

/// Record builders with plausible contents, for backend and service tests.
pub mod fixtures {
    use super::*;
    use crate::{AccessKeyRecord, AccountRecord};

    /// A fixed timestamp, 2023-11-14T22:13:20Z.
    pub const T0: UnixMillis = UnixMillis(1_700_000_000_000);

    /// The account id with the decimal digits of `n`, zero-padded to twelve.
    ///
    /// # Panics
    ///
    /// If `n` has more than twelve digits.
    pub fn account_id(n: u64) -> AccountId {
        format!("{n:012}")
            .parse()
            .expect("invariant: n has at most twelve digits")
    }

    /// A region by name.
    ///
    /// # Panics
    ///
    /// If `name` is not a well-formed region.
    pub fn region(name: &str) -> Region {
        name.parse().expect("fixture regions are well formed")
    }

    /// An account record.
    pub fn account(n: u64) -> AccountRecord {
        AccountRecord {
            account_id: account_id(n),
            created_at: T0,
        }
    }

    /// An active access key of `account`, with stand-in sealed bytes.
    pub fn access_key(access_key_id: &str, account: &AccountId) -> AccessKeyRecord {
        AccessKeyRecord {
            access_key_id: access_key_id.to_owned(),
            account_id: account.clone(),
            sealed_secret: sealed_bytes(access_key_id.as_bytes(), 72),
            status: AccessKeyStatus::Active,
            created_at: T0,
        }
    }

    /// An enabled symmetric key with a fresh random id, two tags and no rotation.
    pub fn key(account: &AccountId, region: &Region) -> KeyRecord {
        KeyRecord {
            key_id: KeyId::random(),
            account_id: account.clone(),
            region: region.clone(),
            description: "clé de test — 🔑 \"quoted\"".to_owned(),
            key_state: KeyState::Enabled,
            key_usage: "ENCRYPT_DECRYPT".to_owned(),
            key_spec: "SYMMETRIC_DEFAULT".to_owned(),
            origin: "AWS_KMS".to_owned(),
            creation_date: T0,
            deletion_date: None,
            pending_deletion_window_in_days: None,
            policy: format!(
                concat!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","#,
                    r#""Principal":{{"AWS":"arn:aws:iam::{}:root"}},"#,
                    r#""Action":"kms:*","Resource":"*"}}]}}"#
                ),
                account
            ),
            tags: vec![
                Tag {
                    key: "env".to_owned(),
                    value: "prod".to_owned(),
                },
                Tag {
                    key: "app".to_owned(),
                    value: "contact-form".to_owned(),
                },
            ],
            rotation: None,
            multi_region: false,
        }
    }

    /// Version 1 of `key`, with stand-in sealed bytes.
    pub fn first_version(key: &KeyRecord) -> KeyVersionRecord {
        KeyVersionRecord {
            key_id: key.key_id,
            version: 1,
            wrapped_material: sealed_bytes(key.key_id.as_bytes(), 60),
            created_at: key.creation_date,
            rotation_type: None,
        }
    }

    /// A later version of `key`, created by an automatic rotation.
    pub fn rotated_version(key: &KeyRecord, version: u32) -> KeyVersionRecord {
        let mut seed = key.key_id.as_bytes().to_vec();
        seed.extend_from_slice(&version.to_be_bytes());
        KeyVersionRecord {
            key_id: key.key_id,
            version,
            wrapped_material: sealed_bytes(&seed, 60),
            created_at: key.creation_date.plus_days(i64::from(version)),
            rotation_type: Some(RotationType::Automatic),
        }
    }

    /// An alias named `alias_name` targeting `key`, in the key's account and region.
    pub fn alias(key: &KeyRecord, alias_name: &str) -> AliasRecord {
        AliasRecord {
            account_id: key.account_id.clone(),
            region: key.region.clone(),
            alias_name: alias_name.to_owned(),
            target_key_id: key.key_id,
            creation_date: T0,
            last_updated_date: T0,
        }
    }

    /// Grant number `n` on `key`, to another account's root, constrained for odd `n`.
    pub fn grant(key: &KeyRecord, n: u8) -> GrantRecord {
        let constraints = (n % 2 == 1).then(|| {
            GrantConstraint::EncryptionContextEquals(
                [("purpose".to_owned(), format!("test {n} — ✓"))].into(),
            )
        });
        GrantRecord {
            grant_id: format!(
                "{}{:030}{n:02x}",
                key.key_id.to_string().replace('-', ""),
                0
            ),
            key_id: key.key_id,
            account_id: key.account_id.clone(),
            region: key.region.clone(),
            name: Some(format!("grant-{n}")),
            grantee_principal: "arn:aws:iam::444455556666:root".to_owned(),
            retiring_principal: n
                .is_multiple_of(3)
                .then(|| "arn:aws:iam::777788889999:root".to_owned()),
            operations: vec!["Encrypt".to_owned(), "Decrypt".to_owned()],
            constraints,
            issuing_account: key.account_id.clone(),
            creation_date: T0,
            grant_token: format!("token-{}-{n}", key.key_id),
        }
    }

    /// `len` bytes that look random and differ per seed; they stand in for sealed bytes.
    fn sealed_bytes(seed: &[u8], len: usize) -> Vec<u8> {
        // FNV-1a over the seed, then xorshift: deterministic and dependency-free.
        let mut state = seed.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }
}

use fixtures::{
    access_key, account, account_id, alias, first_version, grant, key, region, rotated_version,
};

async fn grants(store: &Arc<dyn Store>) {
    let owner = account_id(40);
    let eu = region("eu-central-1");
    let doomed = key(&owner, &eu);
    let kept = key(&owner, &eu);
    for k in [&doomed, &kept] {
        ok(
            store.create_key(k, &first_version(k)).await,
            "create_key (grants)",
        );
    }
    for n in 1..=3 {
        ok(
            store.create_grant(&grant(&doomed, n)).await,
            "create_grant (doomed)",
        );
        ok(
            store.create_grant(&grant(&kept, n)).await,
            "create_grant (kept)",
        );
    }
    let result = store.create_grant(&grant(&kept, 1)).await;
    assert_conflict(
        result,
        what::GRANT,
        &grant(&kept, 1).grant_id,
        "create_grant twice",
    );
    let orphan = key(&owner, &eu);
    let result = store.create_grant(&grant(&orphan, 1)).await;
    assert_not_found(
        result,
        what::KEY,
        &orphan.key_id.to_string(),
        "create_grant on a missing key",
    );
    let s = load(store, "after create_grant").await;
    let of = |s: &Snapshot, k: &KeyRecord| -> Vec<GrantRecord> {
        s.grants
            .iter()
            .filter(|g| g.key_id == k.key_id)
            .cloned()
            .collect()
    };
    assert_eq!(
        of(&s, &kept),
        (1..=3).map(|n| grant(&kept, n)).collect::<Vec<_>>(),
        "conformance: load must return the grants as written, ordered by grant id"
    );
    assert_sorted(
        &s.grants,
        |g| (g.key_id.to_string(), g.grant_id.clone()),
        "grants by key id, then grant id",
    );

    ok(
        store
            .delete_grant(&kept.key_id, &grant(&kept, 2).grant_id)
            .await,
        "delete_grant",
    );
    let result = store
        .delete_grant(&kept.key_id, &grant(&kept, 2).grant_id)
        .await;
    assert_not_found(
        result,
        what::GRANT,
        &grant(&kept, 2).grant_id,
        "delete_grant twice",
    );
    let result = store
        .delete_grant(&kept.key_id, &grant(&doomed, 1).grant_id)
        .await;
    assert_not_found(
        result,
        what::GRANT,
        &grant(&doomed, 1).grant_id,
        "delete_grant of another key's grant",
    );
    ok(
        store.delete_key(&doomed.key_id).await,
        "delete_key (grants)",
    );
    let s = load(store, "after deleting a key with grants").await;
    assert!(
        of(&s, &doomed).is_empty(),
        "conformance: delete_key must delete the key's grants"
    );
    assert_eq!(
        of(&s, &kept),
        vec![grant(&kept, 1), grant(&kept, 3)],
        "conformance: delete_grant and delete_key must not touch other grants"
    );
}

async fn accounts_and_access_keys(store: &Arc<dyn Store>) {
    let acct = account(1);
    let keys = [access_key("AKIACONFORMANCE0001", &acct.account_id), {
        let mut k = access_key("AKIACONFORMANCE0002", &acct.account_id);
        k.status = AccessKeyStatus::Inactive;
        k
    }];
    ok(
        store.create_account(&acct, &keys).await,
        "create_account with two access keys",
    );
    let s = load(store, "after create_account").await;
    assert!(
        s.accounts.contains(&acct),
        "conformance: create_account must store the account"
    );
    for k in &keys {
        assert!(
            s.access_keys.contains(k),
            "conformance: create_account must store access key {} exactly",
            k.access_key_id
        );
    }

    let result = store.create_account(&acct, &[]).await;
    assert_conflict(
        result,
        what::ACCOUNT,
        acct.account_id.as_str(),
        "create_account twice",
    );

    // A new account whose access key id is taken: nothing of it may be written.
    let second = account(2);
    let clash = [
        access_key("AKIACONFORMANCE0003", &second.account_id),
        access_key("AKIACONFORMANCE0001", &second.account_id),
    ];
    let result = store.create_account(&second, &clash).await;
    assert_conflict(
        result,
        what::ACCESS_KEY,
        "AKIACONFORMANCE0001",
        "create_account, key taken",
    );
    let s = load(store, "after a conflicting create_account").await;
    assert!(
        !s.accounts.iter().any(|a| a.account_id == second.account_id),
        "conformance: create_account must be atomic: the account of a conflicting call was stored"
    );
    assert!(
        !s.access_keys
            .iter()
            .any(|k| k.access_key_id == "AKIACONFORMANCE0003"),
        "conformance: create_account must be atomic: an access key of a conflicting call was stored"
    );
    assert!(
        s.access_keys.contains(&keys[0]),
        "conformance: a conflicting create_account must not change the existing access key"
    );

    // An access key of another account is a caller bug.
    let stray = [access_key("AKIACONFORMANCE0004", &account_id(99))];
    let result = store.create_account(&second, &stray).await;
    assert!(
        matches!(
            result,
            Err(Error::Invalid {
                what: "access key",
                ..
            })
        ),
        "conformance: create_account with another account's access key must be Invalid, got \
         {result:?}"
    );
    ok(
        store.create_account(&second, &[]).await,
        "create_account with no access keys",
    );

    // put_access_key inserts and replaces.
    let added = access_key("AKIACONFORMANCE0005", &second.account_id);
    ok(
        store.put_access_key(&added).await,
        "put_access_key inserting",
    );
    let mut replaced = keys[0].clone();
    replaced.status = AccessKeyStatus::Inactive;
    replaced.sealed_secret = vec![0x5A; 40];
    ok(
        store.put_access_key(&replaced).await,
        "put_access_key replacing",
    );
    let s = load(store, "after put_access_key").await;
    assert!(
        s.access_keys.contains(&added),
        "conformance: put_access_key must insert"
    );
    assert!(
        s.access_keys.contains(&replaced),
        "conformance: put_access_key must replace"
    );
    assert_eq!(
        s.access_keys
            .iter()
            .filter(|k| k.access_key_id == replaced.access_key_id)
            .count(),
        1,
        "conformance: put_access_key must replace, not duplicate"
    );

    let orphan = access_key("AKIACONFORMANCE0006", &account_id(98));
    let result = store.put_access_key(&orphan).await;
    assert_not_found(
        result,
        what::ACCOUNT,
        "000000000098",
        "put_access_key for a missing account",
    );
}

async fn keys_and_versions(store: &Arc<dyn Store>) {
    let owner = account_id(10);
    let us = region("us-east-1");
    let mut k = key(&owner, &us);
    let v1 = first_version(&k);
    ok(store.create_key(&k, &v1).await, "create_key");
    let s = load(store, "after create_key").await;
    assert_eq!(
        find_key(&s, &k.key_id),
        Some(&k),
        "conformance: create_key must store the key"
    );
    assert_eq!(
        versions_of(&s, &k.key_id),
        vec![&v1],
        "conformance: create_key must store exactly its first version"
    );

    let result = store.create_key(&k, &v1).await;
    assert_conflict(result, what::KEY, &k.key_id.to_string(), "create_key twice");

    // A first version of another key is a caller bug, and nothing is written.
    let other = key(&owner, &us);
    let result = store.create_key(&other, &v1).await;
    assert!(
        matches!(
            result,
            Err(Error::Invalid {
                what: "key version",
                ..
            })
        ),
        "conformance: create_key with another key's version must be Invalid, got {result:?}"
    );
    let s = load(store, "after an invalid create_key").await;
    assert!(
        find_key(&s, &other.key_id).is_none(),
        "conformance: an invalid create_key wrote"
    );

    // update_key replaces every field.
    k.description = "updated".to_owned();
    k.key_state = KeyState::PendingDeletion;
    k.deletion_date = Some(k.creation_date.plus_days(7));
    k.pending_deletion_window_in_days = Some(7);
    k.tags.clear();
    k.rotation = Some(RotationSchedule {
        period_in_days: 365,
        next_rotation: k.creation_date,
    });
    k.multi_region = true;
    ok(store.update_key(&k).await, "update_key");
    let s = load(store, "after update_key").await;
    assert_eq!(
        find_key(&s, &k.key_id),
        Some(&k),
        "conformance: update_key must replace the key"
    );

    let absent = key(&owner, &us);
    let result = store.update_key(&absent).await;
    assert_not_found(
        result,
        what::KEY,
        &absent.key_id.to_string(),
        "update_key of a missing key",
    );

    // add_key_version updates the key and adds the version together.
    k.key_state = KeyState::Enabled;
    k.rotation = Some(RotationSchedule {
        period_in_days: 365,
        next_rotation: k.creation_date.plus_days(365),
    });
    let v2 = rotated_version(&k, 2);
    ok(store.add_key_version(&k, &v2).await, "add_key_version");
    let mut v3 = rotated_version(&k, 3);
    v3.rotation_type = Some(RotationType::OnDemand);
    v3.wrapped_material = vec![0xC3; 4096];
    ok(
        store.add_key_version(&k, &v3).await,
        "add_key_version with large material",
    );
    let s = load(store, "after add_key_version").await;
    assert_eq!(
        find_key(&s, &k.key_id),
        Some(&k),
        "conformance: add_key_version must update key"
    );
    assert_eq!(
        versions_of(&s, &k.key_id),
        vec![&v1, &v2, &v3],
        "conformance: add_key_version must store each version exactly"
    );

    // A duplicate version changes nothing, not even the key.
    let mut changed = k.clone();
    changed.description = "must not be stored".to_owned();
    let result = store
        .add_key_version(&changed, &rotated_version(&k, 2))
        .await;
    let id = key_version_id(&k.key_id, 2);
    assert_conflict(
        result,
        what::KEY_VERSION,
        &id,
        "add_key_version of an existing version",
    );
    let s = load(store, "after a conflicting add_key_version").await;
    assert_eq!(
        find_key(&s, &k.key_id),
        Some(&k),
        "conformance: add_key_version must be atomic: a conflicting call updated the key"
    );
    assert_eq!(
        versions_of(&s, &k.key_id),
        vec![&v1, &v2, &v3],
        "conformance: a conflicting add_key_version changed the versions"
    );

    let result = store
        .add_key_version(&absent, &rotated_version(&absent, 2))
        .await;
    assert_not_found(
        result,
        what::KEY,
        &absent.key_id.to_string(),
        "add_key_version to a missing key",
    );
    let result = store
        .add_key_version(&k, &rotated_version(&absent, 4))
        .await;
    assert!(
        matches!(
            result,
            Err(Error::Invalid {
                what: "key version",
                ..
            })
        ),
        "conformance: add_key_version with another key's version must be Invalid, got {result:?}"
    );
}

async fn key_deletion_removes_versions_and_aliases(store: &Arc<dyn Store>) {
    let owner = account_id(20);
    let eu = region("eu-west-1");
    let doomed = key(&owner, &eu);
    let kept = key(&owner, &eu);
    ok(
        store.create_key(&doomed, &first_version(&doomed)).await,
        "create_key (doomed)",
    );
    ok(
        store.create_key(&kept, &first_version(&kept)).await,
        "create_key (kept)",
    );
    for n in 2..=3 {
        ok(
            store
                .add_key_version(&doomed, &rotated_version(&doomed, n))
                .await,
            "add_key_version",
        );
    }
    ok(
        store.create_alias(&alias(&doomed, "alias/doomed-a")).await,
        "create_alias",
    );
    ok(
        store.create_alias(&alias(&doomed, "alias/doomed-b")).await,
        "create_alias",
    );
    ok(
        store.create_alias(&alias(&kept, "alias/kept")).await,
        "create_alias",
    );
    let before = load(store, "before delete_key").await;

    ok(store.delete_key(&doomed.key_id).await, "delete_key");
    let s = load(store, "after delete_key").await;
    assert!(
        find_key(&s, &doomed.key_id).is_none(),
        "conformance: delete_key left the key"
    );
    assert!(
        versions_of(&s, &doomed.key_id).is_empty(),
        "conformance: delete_key must delete the key's versions"
    );
    assert!(
        !s.aliases.iter().any(|a| a.target_key_id == doomed.key_id),
        "conformance: delete_key must delete the aliases targeting the key"
    );
    assert_eq!(
        find_key(&s, &kept.key_id),
        find_key(&before, &kept.key_id),
        "conformance: delete_key must not touch another key"
    );
    assert_eq!(
        versions_of(&s, &kept.key_id),
        versions_of(&before, &kept.key_id),
        "conformance: delete_key must not touch another key's versions"
    );
    assert!(
        s.aliases.contains(&alias(&kept, "alias/kept")),
        "conformance: delete_key must not touch another key's aliases"
    );

    let result = store.delete_key(&doomed.key_id).await;
    assert_not_found(
        result,
        what::KEY,
        &doomed.key_id.to_string(),
        "delete_key twice",
    );

    // The deleted key's id and alias names are free again.
    ok(
        store.create_key(&doomed, &first_version(&doomed)).await,
        "create_key after delete_key",
    );
    ok(
        store.create_alias(&alias(&doomed, "alias/doomed-a")).await,
        "reusing a deleted alias",
    );
    let s = load(store, "after recreating a deleted key").await;
    assert_eq!(
        versions_of(&s, &doomed.key_id),
        vec![&first_version(&doomed)],
        "conformance: a recreated key must not see its old versions"
    );
}

async fn aliases(store: &Arc<dyn Store>) {
    let owner = account_id(30);
    let west = region("us-west-2");
    let first = key(&owner, &west);
    let second = key(&owner, &west);
    ok(
        store.create_key(&first, &first_version(&first)).await,
        "create_key",
    );
    ok(
        store.create_key(&second, &first_version(&second)).await,
        "create_key",
    );

    let mut a = alias(&first, "alias/app");
    ok(store.create_alias(&a).await, "create_alias");
    let s = load(store, "after create_alias").await;
    assert!(
        s.aliases.contains(&a),
        "conformance: create_alias must store the alias"
    );

    let id = alias_id(&owner, &west, "alias/app");
    assert_conflict(
        store.create_alias(&a).await,
        what::ALIAS,
        &id,
        "create_alias twice",
    );

    // The same name in another region or account is another alias.
    let in_other_region = key(&owner, &region("us-west-1"));
    let in_other_account = key(&account_id(31), &west);
    for k in [&in_other_region, &in_other_account] {
        ok(store.create_key(k, &first_version(k)).await, "create_key");
    }
    let elsewhere = alias(&in_other_region, "alias/app");
    ok(
        store.create_alias(&elsewhere).await,
        "create_alias of the same name in another region",
    );
    let other_account = alias(&in_other_account, "alias/app");
    ok(
        store.create_alias(&other_account).await,
        "create_alias in another account",
    );

    let ghost = KeyId::random();
    let mut dangling = alias(&first, "alias/dangling");
    dangling.target_key_id = ghost;
    let result = store.create_alias(&dangling).await;
    assert_not_found(
        result,
        what::KEY,
        &ghost.to_string(),
        "create_alias to a missing key",
    );
    let s = load(store, "after a failed create_alias").await;
    assert!(
        !s.aliases.iter().any(|x| x.alias_name == "alias/dangling"),
        "conformance: a create_alias to a missing key was stored"
    );

    a.target_key_id = second.key_id;
    a.last_updated_date = a.creation_date.plus_days(1);
    ok(store.update_alias(&a).await, "update_alias");
    let s = load(store, "after update_alias").await;
    assert!(
        s.aliases.contains(&a),
        "conformance: update_alias must replace the alias"
    );
    assert!(
        s.aliases.contains(&elsewhere),
        "conformance: update_alias touched another region"
    );

    let mut retarget = a.clone();
    retarget.target_key_id = ghost;
    let result = store.update_alias(&retarget).await;
    assert_not_found(
        result,
        what::KEY,
        &ghost.to_string(),
        "update_alias to a missing key",
    );
    let s = load(store, "after a failed update_alias").await;
    assert!(
        s.aliases.contains(&a),
        "conformance: a failed update_alias changed the alias"
    );

    let missing = alias(&first, "alias/missing");
    let id = alias_id(&owner, &west, "alias/missing");
    let result = store.update_alias(&missing).await;
    assert_not_found(result, what::ALIAS, &id, "update_alias of a missing alias");

    ok(
        store.delete_alias(&owner, &west, "alias/app").await,
        "delete_alias",
    );
    let s = load(store, "after delete_alias").await;
    assert!(
        !s.aliases.contains(&a),
        "conformance: delete_alias must delete the alias"
    );
    assert!(
        s.aliases.contains(&elsewhere),
        "conformance: delete_alias touched another region"
    );
    assert!(
        s.aliases.contains(&other_account),
        "conformance: delete_alias touched another account"
    );
    assert!(
        find_key(&s, &second.key_id).is_some(),
        "conformance: delete_alias must not delete its target key"
    );

    let id = alias_id(&owner, &west, "alias/app");
    let result = store.delete_alias(&owner, &west, "alias/app").await;
    assert_not_found(result, what::ALIAS, &id, "delete_alias twice");
}

async fn metadata(store: &Arc<dyn Store>) {
    let absent = store.metadata("conformance.fact").await;
    assert!(
        matches!(absent, Ok(None)),
        "conformance: metadata of an unset name must be None, got {absent:?}"
    );
    ok(
        store.set_metadata("conformance.fact", "first").await,
        "set_metadata",
    );
    ok(
        store.set_metadata("conformance.other", "").await,
        "set_metadata to an empty value",
    );
    ok(
        store.set_metadata("conformance.fact", "second").await,
        "set_metadata replacing",
    );
    let fact = store.metadata("conformance.fact").await;
    assert!(
        matches!(&fact, Ok(Some(v)) if v == "second"),
        "conformance: set_metadata must replace the value, got {fact:?}"
    );
    let other = store.metadata("conformance.other").await;
    assert!(
        matches!(&other, Ok(Some(v)) if v.is_empty()),
        "conformance: an empty metadata value must read back as Some(\"\"), got {other:?}"
    );
}

async fn load_is_ordered(store: &Arc<dyn Store>) {
    // Written in reverse order, with names that differ in case and punctuation, so a backend
    // that sorts with a locale collation or returns insertion order fails.
    for n in [45_u64, 44, 43] {
        ok(
            store.create_account(&account(n), &[]).await,
            "create_account (ordering)",
        );
    }
    for id in ["AKIAZZZ", "AKIAaaa", "AKIA_mm", "AKIAAAA"] {
        ok(
            store.put_access_key(&access_key(id, &account_id(43))).await,
            "put_access_key",
        );
    }
    let owner = account_id(40);
    let target = key(&owner, &region("ap-southeast-2"));
    ok(
        store.create_key(&target, &first_version(&target)).await,
        "create_key (ordering)",
    );
    for version in [10, 9, 2] {
        ok(
            store
                .add_key_version(&target, &rotated_version(&target, version))
                .await,
            "rotate",
        );
    }
    let east = key(&owner, &region("us-east-2"));
    ok(
        store.create_key(&east, &first_version(&east)).await,
        "create_key (ordering)",
    );
    for k in [&east, &target] {
        for name in ["alias/b", "alias/B", "alias/a-z", "alias/a_z", "alias/A"] {
            ok(
                store.create_alias(&alias(k, name)).await,
                "create_alias (ordering)",
            );
        }
    }
    for _ in 0..8 {
        let k = key(&owner, &region("ap-southeast-2"));
        ok(
            store.create_key(&k, &first_version(&k)).await,
            "create_key (ordering)",
        );
    }

    let s = load(store, "checking order").await;
    assert_sorted(
        &s.accounts,
        |a| a.account_id.as_str().to_owned(),
        "accounts by account_id",
    );
    assert_sorted(
        &s.access_keys,
        |k| k.access_key_id.clone(),
        "access_keys by access_key_id",
    );
    assert_sorted(&s.keys, |k| k.key_id, "keys by key_id");
    assert_sorted(
        &s.key_versions,
        |v| (v.key_id, v.version),
        "key_versions by key_id, version",
    );
    assert_sorted(
        &s.aliases,
        |a| {
            (
                a.account_id.as_str().to_owned(),
                a.region.as_str().to_owned(),
                a.alias_name.clone(),
            )
        },
        "aliases by account_id, region, alias_name",
    );
    let again = load(store, "loading twice").await;
    assert!(
        s == again,
        "conformance: two loads of unchanged data must be equal"
    );
}

async fn concurrent_writers(store: &Arc<dyn Store>) {
    const WRITERS: usize = 50;
    let owner = account_id(50);
    let keys: Vec<KeyRecord> = (0..WRITERS)
        .map(|_| key(&owner, &region("sa-east-1")))
        .collect();
    let mut tasks = JoinSet::new();
    for k in keys.clone() {
        let store = Arc::clone(store);
        tasks.spawn(async move { store.create_key(&k, &first_version(&k)).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let result = joined.expect("conformance: a concurrent create_key task panicked");
        ok(result, "concurrent create_key");
    }
    let s = load(store, "after concurrent create_key").await;
    for k in &keys {
        assert_eq!(
            find_key(&s, &k.key_id),
            Some(k),
            "conformance: all {WRITERS} concurrent create_key calls must land"
        );
        assert_eq!(versions_of(&s, &k.key_id), vec![&first_version(k)]);
    }

    // Racing creates of one key: exactly one wins, the others see Conflict.
    let contested = key(&owner, &region("sa-east-1"));
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let store = Arc::clone(store);
        let k = contested.clone();
        tasks.spawn(async move { store.create_key(&k, &first_version(&k)).await });
    }
    let (mut won, mut conflicted) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("conformance: a racing create_key task panicked") {
            Ok(()) => won += 1,
            Err(Error::Conflict { what: "key", .. }) => conflicted += 1,
            Err(other) => {
                panic!("conformance: racing create_key must succeed or conflict: {other}")
            }
        }
    }
    assert_eq!(
        (won, conflicted),
        (1, 9),
        "conformance: exactly one racing create_key must win"
    );

    // Concurrent rotations of one key: every version lands.
    let mut tasks = JoinSet::new();
    for version in 2..=21 {
        let store = Arc::clone(store);
        let k = contested.clone();
        tasks.spawn(async move {
            store
                .add_key_version(&k, &rotated_version(&k, version))
                .await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        ok(
            joined.expect("conformance: a concurrent add_key_version task panicked"),
            "rotate",
        );
    }
    let s = load(store, "after concurrent add_key_version").await;
    let versions: Vec<u32> = versions_of(&s, &contested.key_id)
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(
        versions,
        (1..=21).collect::<Vec<u32>>(),
        "conformance: every concurrent add_key_version must land"
    );
}

async fn writes_after_reopen(store: &Arc<dyn Store>) {
    let owner = account_id(60);
    let k = key(&owner, &region("eu-central-1"));
    ok(
        store.create_key(&k, &first_version(&k)).await,
        "create_key after reopening",
    );
    ok(
        store.delete_key(&k.key_id).await,
        "delete_key after reopening",
    );
    let s = load(store, "after writing to a reopened store").await;
    assert!(
        find_key(&s, &k.key_id).is_none(),
        "conformance: a reopened store must be writable"
    );
}

async fn users_policies_and_user_access_keys(store: &Arc<dyn Store>) {
    let account: AccountId = "444455556666".parse().expect("account id");
    let user = crate::UserRecord {
        account_id: account.clone(),
        user_name: "alice".to_owned(),
        user_id: "AIDAEXAMPLEEXAMPLE12".to_owned(),
        path: "/team/".to_owned(),
        tags: vec![Tag {
            key: "k".to_owned(),
            value: "v".to_owned(),
        }],
        created_at: fixtures::T0,
    };
    store
        .create_user(&user)
        .await
        .expect("conformance: create_user");
    assert_conflict(
        store.create_user(&user).await,
        what::USER,
        "444455556666/alice",
        "create_user twice",
    );
    let policy = crate::UserPolicyRecord {
        account_id: account.clone(),
        user_name: "alice".to_owned(),
        policy_name: "p".to_owned(),
        document: "{}".to_owned(),
    };
    store
        .put_user_policy(&policy)
        .await
        .expect("conformance: put_user_policy");
    let mut orphan = policy.clone();
    orphan.user_name = "nobody".to_owned();
    assert!(
        matches!(
            store.put_user_policy(&orphan).await,
            Err(Error::NotFound { .. })
        ),
        "conformance: put_user_policy for a missing user must be NotFound"
    );
    let key = fixtures::access_key("AKIACONFORMUSER00001", &account);
    let owner = crate::AccessKeyUserRecord {
        access_key_id: key.access_key_id.clone(),
        account_id: account.clone(),
        user_name: "alice".to_owned(),
    };
    store
        .create_user_access_key(&key, &owner)
        .await
        .expect("conformance: create_user_access_key");
    let snapshot = load(store, "loading users").await;
    assert!(snapshot.users.contains(&user), "conformance: user loads");
    assert!(
        snapshot.user_policies.contains(&policy),
        "conformance: user policy loads"
    );
    assert!(
        snapshot.access_key_users.contains(&owner),
        "conformance: access key owner loads"
    );
    assert!(
        snapshot.access_keys.contains(&key),
        "conformance: user access key loads"
    );
    assert_conflict(
        store.delete_user(&account, "alice").await,
        what::USER,
        "444455556666/alice",
        "delete_user with keys and policies",
    );
    store
        .delete_access_key(&key.access_key_id)
        .await
        .expect("conformance: delete_access_key");
    assert!(
        matches!(
            store.delete_access_key(&key.access_key_id).await,
            Err(Error::NotFound { .. })
        ),
        "conformance: deleting a missing access key must be NotFound"
    );
    store
        .delete_user_policy(&account, "alice", "p")
        .await
        .expect("conformance: delete_user_policy");
    store
        .delete_user(&account, "alice")
        .await
        .expect("conformance: delete_user");
    assert!(
        matches!(
            store.delete_user(&account, "alice").await,
            Err(Error::NotFound { .. })
        ),
        "conformance: deleting a missing user must be NotFound"
    );
    // Leave one user with a policy and a key, so that reopening checks them too.
    store
        .create_user(&user)
        .await
        .expect("conformance: recreate user");
    store
        .put_user_policy(&policy)
        .await
        .expect("conformance: put policy again");
    store
        .create_user_access_key(&key, &owner)
        .await
        .expect("conformance: recreate user key");
}

async fn roles_and_role_policies(store: &Arc<dyn Store>) {
    let account: AccountId = "444455556666".parse().expect("account id");
    let mut role = crate::RoleRecord {
        account_id: account.clone(),
        role_name: "deployer".to_owned(),
        role_id: "AROAEXAMPLEEXAMPLE12".to_owned(),
        path: "/ci/".to_owned(),
        assume_role_policy_document: "{}".to_owned(),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        created_at: UnixMillis(1_700_000_000_000),
    };
    store
        .create_role(&role)
        .await
        .expect("conformance: create_role");
    assert!(
        matches!(
            store.create_role(&role).await,
            Err(Error::Conflict { what, .. }) if what == crate::what::ROLE
        ),
        "conformance: create_role twice must be a Conflict"
    );
    role.assume_role_policy_document = r#"{"Version":"2012-10-17"}"#.to_owned();
    store
        .update_role(&role)
        .await
        .expect("conformance: update_role");
    let mut missing = role.clone();
    missing.role_name = "nobody".to_owned();
    assert!(
        matches!(
            store.update_role(&missing).await,
            Err(Error::NotFound { .. })
        ),
        "conformance: update_role of a missing role must be NotFound"
    );
    let policy = crate::RolePolicyRecord {
        account_id: account.clone(),
        role_name: "deployer".to_owned(),
        policy_name: "p".to_owned(),
        document: "{}".to_owned(),
    };
    store
        .put_role_policy(&policy)
        .await
        .expect("conformance: put_role_policy");
    let mut orphan = policy.clone();
    orphan.role_name = "nobody".to_owned();
    assert!(
        matches!(
            store.put_role_policy(&orphan).await,
            Err(Error::NotFound { .. })
        ),
        "conformance: put_role_policy for a missing role must be NotFound"
    );
    let snapshot = load(store, "loading roles").await;
    assert!(snapshot.roles.contains(&role), "conformance: role loads");
    assert!(
        snapshot.role_policies.contains(&policy),
        "conformance: role policy loads"
    );
    assert!(
        matches!(
            store.delete_role(&account, "deployer").await,
            Err(Error::Conflict { .. })
        ),
        "conformance: delete_role with policies must be a Conflict"
    );
    store
        .delete_role_policy(&account, "deployer", "p")
        .await
        .expect("conformance: delete_role_policy");
    assert!(
        matches!(
            store.delete_role_policy(&account, "deployer", "p").await,
            Err(Error::NotFound { .. })
        ),
        "conformance: deleting a missing role policy must be NotFound"
    );
    store
        .delete_role(&account, "deployer")
        .await
        .expect("conformance: delete_role");
    assert!(
        matches!(
            store.delete_role(&account, "deployer").await,
            Err(Error::NotFound { .. })
        ),
        "conformance: deleting a missing role must be NotFound"
    );
    let session = |id: &str, expiration: i64| crate::SessionRecord {
        access_key_id: id.to_owned(),
        account_id: account.clone(),
        sealed_credentials: vec![7; 48],
        principal: crate::SessionPrincipal::Role {
            role_name: "deployer".to_owned(),
            role_id: "AROAEXAMPLEEXAMPLE12".to_owned(),
            role_path: "/ci/".to_owned(),
            session_name: "build".to_owned(),
        },
        created_at: UnixMillis(1_700_000_000_000),
        expiration: UnixMillis(expiration),
        mfa_authenticated_at: None,
    };
    let expired = session("ASIAEXPIREDEXAMPLE01", 1_700_000_900_000);
    let live = crate::SessionRecord {
        mfa_authenticated_at: Some(UnixMillis(1_700_000_000_500)),
        ..session("ASIALIVEEXAMPLEXAM02", 1_700_003_600_000)
    };
    for s in [&expired, &live] {
        store
            .create_session(s)
            .await
            .expect("conformance: create_session");
    }
    assert!(
        matches!(
            store.create_session(&live).await,
            Err(Error::Conflict { what, .. }) if what == crate::what::SESSION
        ),
        "conformance: create_session twice must be a Conflict"
    );
    let snapshot = load(store, "loading sessions").await;
    assert!(
        snapshot.sessions.contains(&expired) && snapshot.sessions.contains(&live),
        "conformance: sessions load, sealed credentials included"
    );
    assert_eq!(
        store
            .delete_expired_sessions(UnixMillis(1_700_000_900_000))
            .await
            .expect("conformance: delete_expired_sessions"),
        1,
        "conformance: a session expiring exactly now is expired"
    );
    let snapshot = load(store, "loading sessions after pruning").await;
    assert_eq!(
        snapshot.sessions,
        vec![live],
        "conformance: only the live session remains"
    );
    // Leave one role with a policy, so that reopening checks them too.
    store
        .create_role(&role)
        .await
        .expect("conformance: recreate role");
    store
        .put_role_policy(&policy)
        .await
        .expect("conformance: put role policy again");
}

async fn service_credentials(store: &Arc<dyn Store>) {
    let owner = account_id(70);
    let key = access_key("AKIASERVICE000000070", &owner);
    let record = crate::ServiceCredentialRecord {
        access_key_id: key.access_key_id.clone(),
        account_id: owner.clone(),
        service: "rds.amazonaws.com".to_owned(),
    };
    let mismatched = crate::ServiceCredentialRecord {
        access_key_id: "AKIAOTHER00000000070".to_owned(),
        ..record.clone()
    };
    assert!(
        matches!(
            store.create_service_access_key(&key, &mismatched).await,
            Err(Error::Invalid { .. })
        ),
        "conformance: a service record must name its access key"
    );
    store
        .create_service_access_key(&key, &record)
        .await
        .expect("conformance: create_service_access_key");
    assert!(
        matches!(
            store.create_service_access_key(&key, &record).await,
            Err(Error::Conflict { .. })
        ),
        "conformance: a service access key id is unique"
    );
    let snapshot = load(store, "loading service credentials").await;
    assert!(
        snapshot.access_keys.contains(&key) && snapshot.service_credentials.contains(&record),
        "conformance: a service access key loads with its service"
    );
    assert!(
        snapshot.accounts.iter().any(|a| a.account_id == owner),
        "conformance: a service access key's account exists"
    );
    store
        .delete_access_key(&key.access_key_id)
        .await
        .expect("conformance: delete a service access key");
    let snapshot = load(store, "loading after deleting a service access key").await;
    assert!(
        !snapshot.service_credentials.contains(&record),
        "conformance: deleting the access key deletes its service record"
    );
}

async fn mfa_devices(store: &Arc<dyn Store>) {
    let account = AccountId::dev_default();
    let device = |name: &str| crate::MfaDeviceRecord {
        serial_number: format!("arn:aws:iam::{account}:mfa/{name}"),
        account_id: account.clone(),
        device_name: name.to_owned(),
        path: "/".to_owned(),
        sealed_seed: vec![9; 56],
        created_at: UnixMillis(1_700_000_000_000),
        enabled: None,
    };
    let phone = device("phone");
    let mut token = device("token");
    for d in [&token, &phone] {
        store
            .put_mfa_device(d)
            .await
            .expect("conformance: put_mfa_device");
    }
    let snapshot = load(store, "loading MFA devices").await;
    assert_eq!(
        snapshot.mfa_devices,
        vec![phone.clone(), token.clone()],
        "conformance: MFA devices load by serial number, sealed seeds included"
    );
    token.enabled = Some(crate::MfaEnablement {
        user_name: Some("alice".to_owned()),
        enabled_at: UnixMillis(1_700_000_060_000),
    });
    store
        .put_mfa_device(&token)
        .await
        .expect("conformance: put_mfa_device replacing");
    let snapshot = load(store, "loading an enabled MFA device").await;
    assert_eq!(
        snapshot.mfa_devices,
        vec![phone.clone(), token.clone()],
        "conformance: put_mfa_device replaces the device with its serial number"
    );
    store
        .delete_mfa_device(&phone.serial_number)
        .await
        .expect("conformance: delete_mfa_device");
    assert!(
        matches!(
            store.delete_mfa_device(&phone.serial_number).await,
            Err(Error::NotFound { what, .. }) if what == crate::what::MFA_DEVICE
        ),
        "conformance: deleting a missing MFA device must be NotFound"
    );
    let snapshot = load(store, "loading MFA devices after deleting").await;
    // Leave the enabled device, so that reopening checks it too.
    assert_eq!(
        snapshot.mfa_devices,
        vec![token],
        "conformance: a deleted MFA device is gone"
    );
}

/// Secrets: put with versions, label changes, version removal, atomic batches, delete.
async fn secrets(store: &Arc<dyn Store>) {
    use crate::{SecretChange, SecretRecord, SecretVersionRecord, secrets::WHAT_SECRET_VERSION};
    let account: AccountId = "111122223333".parse().expect("account id");
    let region: Region = "us-east-1".parse().expect("region");
    let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf".to_owned();
    let secret = SecretRecord {
        arn: arn.clone(),
        account_id: account,
        region,
        name: "app/db".to_owned(),
        description: Some("conformance".to_owned()),
        kms_key_id: None,
        tags: vec![crate::Tag {
            key: "team".to_owned(),
            value: "a".to_owned(),
        }],
        resource_policy: None,
        stages: [("AWSCURRENT".to_owned(), "v1".to_owned())].into(),
        created_at: UnixMillis(1_000),
        last_changed_at: UnixMillis(1_000),
        last_accessed_at: None,
        deleted_at: None,
        deletion_date: None,
        rotation: Default::default(),
        primary_region: None,
        replicas: Vec::new(),
    };
    let version = |id: &str, at: i64| SecretVersionRecord {
        secret_arn: arn.clone(),
        version_id: id.to_owned(),
        created_at: UnixMillis(at),
        kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".to_owned(),
        encrypted_data_key: vec![1, 2, 3],
        sealed_value: vec![4, 5, 6, 7],
    };
    let put = |secret: &SecretRecord, add: Vec<SecretVersionRecord>, remove: Vec<String>| {
        SecretChange::Put {
            secret: secret.clone(),
            add_versions: add,
            remove_versions: remove,
        }
    };
    ok(
        store
            .apply_secret_changes(&[put(&secret, vec![version("v1", 1_000)], vec![])])
            .await,
        "creating a secret with its first version",
    );
    let loaded = store.load_secrets().await.expect("load_secrets");
    assert_eq!(
        loaded.secrets,
        vec![secret.clone()],
        "conformance: secret round-trips"
    );
    assert_eq!(
        loaded.versions,
        vec![version("v1", 1_000)],
        "conformance: version round-trips"
    );

    let mut second = secret.clone();
    second.stages = [
        ("AWSCURRENT".to_owned(), "v2".to_owned()),
        ("AWSPREVIOUS".to_owned(), "v1".to_owned()),
    ]
    .into();
    ok(
        store
            .apply_secret_changes(&[put(&second, vec![version("v2", 2_000)], vec![])])
            .await,
        "adding a second version",
    );
    assert_conflict(
        store
            .apply_secret_changes(&[put(&second, vec![version("v2", 2_000)], vec![])])
            .await,
        WHAT_SECRET_VERSION,
        &format!("{arn}/v2"),
        "adding a version twice",
    );
    // A failed batch changes nothing, even its first, valid, part.
    let mut third = second.clone();
    third.description = Some("changed".to_owned());
    let batch = [
        put(&third, vec![version("v3", 3_000)], vec![]),
        put(&third, vec![], vec!["missing".to_owned()]),
    ];
    assert_not_found(
        store.apply_secret_changes(&batch).await,
        WHAT_SECRET_VERSION,
        &format!("{arn}/missing"),
        "removing a version that does not exist",
    );
    let loaded = store.load_secrets().await.expect("load_secrets");
    assert_eq!(
        loaded.secrets,
        vec![second.clone()],
        "conformance: failed batch is atomic"
    );
    assert_eq!(
        loaded.versions.len(),
        2,
        "conformance: failed batch adds no version"
    );
    assert_eq!(
        loaded
            .versions
            .iter()
            .map(|v| v.version_id.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"],
        "conformance: versions are ordered by creation time"
    );

    ok(
        store
            .apply_secret_changes(&[put(&second, vec![], vec!["v1".to_owned()])])
            .await,
        "removing a version",
    );
    assert_eq!(store.load_secrets().await.expect("load").versions.len(), 1);

    let mut foreign = version("v9", 9_000);
    foreign.secret_arn = "arn:other".to_owned();
    let invalid = store
        .apply_secret_changes(&[put(&second, vec![foreign], vec![])])
        .await;
    assert!(
        matches!(invalid, Err(Error::Invalid { .. })),
        "conformance: a version of another secret is Invalid, got {invalid:?}"
    );

    ok(
        store
            .apply_secret_changes(&[SecretChange::Delete { arn: arn.clone() }])
            .await,
        "deleting a secret",
    );
    let loaded = store.load_secrets().await.expect("load_secrets");
    assert!(loaded.secrets.is_empty() && loaded.versions.is_empty());
    assert_not_found(
        store
            .apply_secret_changes(&[SecretChange::Delete { arn: arn.clone() }])
            .await,
        crate::secrets::WHAT_SECRET,
        &arn,
        "deleting a secret twice",
    );
}

async fn load(store: &Arc<dyn Store>, step: &str) -> Snapshot {
    match store.load().await {
        Ok(snapshot) => snapshot,
        Err(err) => panic!("conformance: {step}: load failed: {}", chain(&err)),
    }
}

fn find_key<'a>(s: &'a Snapshot, key_id: &KeyId) -> Option<&'a KeyRecord> {
    s.keys.iter().find(|k| &k.key_id == key_id)
}

fn versions_of<'a>(s: &'a Snapshot, key_id: &KeyId) -> Vec<&'a KeyVersionRecord> {
    s.key_versions
        .iter()
        .filter(|v| &v.key_id == key_id)
        .collect()
}

#[track_caller]
fn ok(result: Result<(), Error>, step: &str) {
    if let Err(err) = result {
        panic!("conformance: {step} must succeed, got: {}", chain(&err));
    }
}

#[track_caller]
fn assert_not_found<T: Debug>(result: Result<T, Error>, what: &str, id: &str, step: &str) {
    match result {
        Err(Error::NotFound { what: w, id: i }) if w == what && i == id => {}
        other => panic!(
            "conformance: {step} must be NotFound {{ what: {what:?}, id: {id:?} }}, got {other:?}"
        ),
    }
}

#[track_caller]
fn assert_conflict<T: Debug>(result: Result<T, Error>, what: &str, id: &str, step: &str) {
    match result {
        Err(Error::Conflict { what: w, id: i }) if w == what && i == id => {}
        other => panic!(
            "conformance: {step} must be Conflict {{ what: {what:?}, id: {id:?} }}, got {other:?}"
        ),
    }
}

#[track_caller]
fn assert_sorted<T, K: Ord + Debug>(items: &[T], key: impl Fn(&T) -> K, order: &str) {
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(
            a < b,
            "conformance: load must order {order} byte-wise: {a:?} came before {b:?}"
        );
    }
}

/// An error and its sources, `: `-separated.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
