//! IdentityService on a real SQLite store.

use std::sync::Arc;

use keystead_crypto::RootKey;
use keystead_store::{AccessKeyStatus, Store};
use keystead_store_sqlite::SqliteStore;
use keystead_types::{Caller, SystemClock};

use super::*;

const ACCOUNT: &str = "111122223333";

async fn open(dir: &tempfile::TempDir) -> IdentityService {
    let root_path = dir.path().join("root.key");
    let root = if root_path.exists() {
        RootKey::load(&root_path).expect("load root key")
    } else {
        RootKey::create(&root_path).expect("root key")
    };
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("keystead.db")).expect("open store"));
    let snapshot = store.load().await.expect("load");
    IdentityService::open(
        &snapshot,
        store,
        Arc::new(root),
        Arc::new(SystemClock::default()),
    )
    .expect("open")
}

fn root() -> Caller {
    Caller {
        account_id: ACCOUNT.parse().expect("account"),
        region: "us-east-1".parse().expect("region"),
        access_key_id: "AKIAROOT".to_owned(),
        user: None,
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
