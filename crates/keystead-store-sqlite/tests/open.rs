//! Opening, closing and reopening database files: persistence, file modes, and files that are
//! not keystead databases.

use std::error::Error as _;
use std::path::Path;

use keystead_store::conformance::fixtures::{
    access_key, account, alias, first_version, key, region, rotated_version,
};
use keystead_store::{Error, Store};
use keystead_store_sqlite::SqliteStore;

/// The error and its sources, `: `-separated.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn open_err(path: &Path) -> Error {
    match SqliteStore::open(path) {
        Ok(store) => panic!("opening {} should fail, got {store:?}", path.display()),
        Err(err) => err,
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_database_written_closed_and_reopened_loads_identically() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");

    let store = SqliteStore::open(&path).expect("create");
    let acct = account(7);
    let keys = [access_key("AKIAREOPEN", &acct.account_id)];
    store
        .create_account(&acct, &keys)
        .await
        .expect("create_account");
    let k = key(&acct.account_id, &region("us-east-1"));
    store
        .create_key(&k, &first_version(&k))
        .await
        .expect("create_key");
    store
        .add_key_version(&k, &rotated_version(&k, 2))
        .await
        .expect("add_key_version");
    store
        .create_alias(&alias(&k, "alias/reopen"))
        .await
        .expect("create_alias");
    store
        .set_metadata("root_key.fingerprint", "abc123")
        .await
        .expect("set_metadata");
    let written = store.load().await.expect("load");
    assert_eq!(written.key_versions.len(), 2);
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    assert_eq!(reopened.load().await.expect("load after reopen"), written);
    assert_eq!(
        reopened
            .metadata("root_key.fingerprint")
            .await
            .expect("metadata")
            .as_deref(),
        Some("abc123")
    );
}

#[test]
fn opening_a_file_that_is_not_a_sqlite_database_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.txt");
    let contents = "these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &contents).expect("write");

    let err = open_err(&path);
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    let message = chain(&err);
    assert!(message.contains("not a database"), "{message}");
    assert!(message.contains("notes.txt"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        contents,
        "file was modified"
    );
}

#[test]
fn opening_another_applications_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.db");
    let other = rusqlite::Connection::open(&path).expect("create other db");
    other
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY);")
        .expect("create table");
    drop(other);

    let message = chain(&open_err(&path));
    assert!(message.contains("not a keystead database"), "{message}");

    let other = rusqlite::Connection::open(&path).expect("reopen other db");
    let tables: i64 = other
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .expect("count tables");
    assert_eq!(
        tables, 1,
        "keystead added tables to another application's database"
    );
}

#[test]
fn a_database_from_a_newer_keystead_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    drop(SqliteStore::open(&path).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute(
        "INSERT INTO migrations (id, name, applied_at_unix_seconds) VALUES (999, 'future', 0)",
        [],
    )
    .expect("insert future migration");
    drop(conn);

    let message = chain(&open_err(&path));
    assert!(message.contains("migration 999"), "{message}");
    assert!(message.contains("newer keystead"), "{message}");
}

#[test]
fn each_migration_is_applied_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    for _ in 0..3 {
        drop(SqliteStore::open(&path).expect("open"));
    }
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM migrations ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<i64> = keystead_store::migrations::Migration::ALL
        .iter()
        .map(|m| m.id())
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_row_that_does_not_decode_makes_load_fail_as_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    let store = SqliteStore::open(&path).expect("create");
    let k = key(&account(8).account_id, &region("us-east-1"));
    store
        .create_key(&k, &first_version(&k))
        .await
        .expect("create_key");

    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute("UPDATE keys SET schema_version = 42", [])
        .expect("tamper");
    drop(conn);

    let err = store
        .load()
        .await
        .expect_err("a row of an unknown schema_version");
    assert!(
        matches!(&err, Error::Corrupt { what: "key", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&k.key_id.to_string()), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_write_ahead_log_have_mode_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    let store = SqliteStore::open(&path).expect("create");
    assert_eq!(mode(&path), 0o600);

    store.set_metadata("m", "v").await.expect("write");
    for suffix in ["-wal", "-shm"] {
        let side = dir.path().join(format!("keystead.db{suffix}"));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    drop(store);
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[test]
fn opening_an_existing_database_with_a_loose_mode_makes_it_0600() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    drop(SqliteStore::open(&path).expect("create"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    drop(SqliteStore::open(&path).expect("reopen"));
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn opening_in_a_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("missing").join("keystead.db");
    let message = chain(&open_err(&path));
    assert!(message.contains("missing"), "{message}");
}
