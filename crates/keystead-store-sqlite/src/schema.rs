//! Opening a database: the file and its mode, connection pragmas, and schema migrations.
//!
//! This module owns the DDL. It runs once per [`crate::SqliteStore::open`], synchronously, before
//! any record is read or written.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keystead_store::migrations::Migration;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::OpenError;

/// `PRAGMA application_id` of keystead databases: "kstd" in ASCII. It marks the file as ours, so
/// pointing keystead at another application's SQLite database fails instead of adding tables.
pub(crate) const APPLICATION_ID: i32 = 0x6B73_7464;

/// How long a write waits for another connection's lock (another process, such as a `keystead`
/// admin command, on the same file) before failing with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens or creates the database at `path` and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, OpenError> {
    let created = create_private_file(path)?;
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_owned(),
        source,
    };

    // No URI interpretation of the path: a file named `file:...` is a file.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;

    // The first statement reads the header: a file that is not a SQLite database fails here,
    // before anything is written to it.
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(sqlite)?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(OpenError::Foreign {
            path: path.to_owned(),
            reason: format!("its application_id is {application_id:#x}"),
        });
    }
    restrict_existing_files(path)?;

    // Durability: every acknowledged write must survive power loss. We use write-ahead logging
    // with `synchronous=FULL`, which fsyncs the WAL at every commit, so a commit is durable when
    // it returns (with `NORMAL` the last commits could be lost until a checkpoint). We prefer it
    // to a rollback journal with `FULL` because a commit costs one fsync of the appended WAL
    // instead of several (journal, database, directory), and an admin command can read the
    // database while the server writes. The cost is `-wal`/`-shm` files next to the database;
    // SQLite creates them with the database file's mode, so they are 0600 too.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::JournalMode {
            path: path.to_owned(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite)?;
    // Deleted rows (a deleted key's sealed material) are overwritten, not left in free pages.
    conn.pragma_update(None, "secure_delete", true)
        .map_err(sqlite)?;
    // The schema is ours alone; never run functions named in it with elevated trust.
    conn.pragma_update(None, "trusted_schema", false)
        .map_err(sqlite)?;

    migrate(&mut conn, path)?;
    if created {
        sync_parent_directory(path)?;
    }
    Ok(conn)
}

/// Creates `path` with mode 0600 if it does not exist, and syncs nothing yet. Returns whether it
/// created the file.
#[cfg(unix)]
fn create_private_file(path: &Path) -> Result<bool, OpenError> {
    use std::os::unix::fs::OpenOptionsExt;

    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(OpenError::File {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(not(unix))]
fn create_private_file(_path: &Path) -> Result<bool, OpenError> {
    Ok(false)
}

/// Takes group and other permissions away from an existing database and its side files, in case
/// they were created by hand or restored from a backup with a loose mode.
#[cfg(unix)]
fn restrict_existing_files(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::PermissionsExt;

    for file in [
        path.to_owned(),
        with_suffix(path, "-wal"),
        with_suffix(path, "-shm"),
    ] {
        let metadata = match fs::metadata(&file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(OpenError::File { path: file, source }),
        };
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&file, fs::Permissions::from_mode(mode & 0o700)).map_err(
                |source| OpenError::File {
                    path: file.clone(),
                    source,
                },
            )?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_existing_files(_path: &Path) -> Result<(), OpenError> {
    Ok(())
}

#[cfg(unix)]
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes a newly created database file's directory entry durable; SQLite syncs the directory
/// for the journal files it creates but not for the main database file.
#[cfg(unix)]
fn sync_parent_directory(path: &Path) -> Result<(), OpenError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::File::open(&parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| OpenError::File {
            path: parent,
            source,
        })
}

#[cfg(not(unix))]
fn sync_parent_directory(_path: &Path) -> Result<(), OpenError> {
    Ok(())
}

/// Applies every migration the database lacks, each in its own transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let latest = Migration::ALL.iter().map(|m| m.id()).max().unwrap_or(0);

    // IMMEDIATE: two processes opening a new database at once must not both migrate it.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let has_migrations: bool = tx
        .query_row(
            "SELECT EXISTS (
                 SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'
             )",
            [],
            |row| row.get(0),
        )
        .map_err(sqlite)?;
    if !has_migrations {
        let tables: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        if tables > 0 {
            return Err(OpenError::Foreign {
                path: path.to_owned(),
                reason: format!("it has {tables} tables but no migrations table"),
            });
        }
        tx.execute_batch(
            "CREATE TABLE migrations (
                 id INTEGER PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL,
                 applied_at_unix_seconds INTEGER NOT NULL
             ) STRICT;",
        )
        .map_err(sqlite)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sqlite)?;
    }
    let newest: i64 = tx
        .query_row("SELECT coalesce(max(id), 0) FROM migrations", [], |row| {
            row.get(0)
        })
        .map_err(sqlite)?;
    if newest > latest {
        return Err(OpenError::Newer {
            path: path.to_owned(),
            id: newest,
            latest,
        });
    }
    tx.commit().map_err(sqlite)?;

    for migration in Migration::ALL {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM migrations WHERE id = ?1)",
                [migration.id()],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        if !applied {
            tx.execute_batch(sql(migration)).map_err(sqlite)?;
            tx.execute(
                "INSERT INTO migrations (id, name, applied_at_unix_seconds)
                 VALUES (?1, ?2, unixepoch())",
                (migration.id(), migration.name()),
            )
            .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
    }
    Ok(())
}

/// The DDL of each migration.
///
/// Ids used in lookups and constraints are real columns; the rest of each record is the
/// versioned JSON of [`keystead_store::persist`] in `record`, and sealed bytes are BLOBs.
/// Text columns use SQLite's default BINARY collation, which gives `load` its byte-wise order.
/// Keys need no account row: `--dev` mode serves accounts that were never created.
fn sql(migration: Migration) -> &'static str {
    match migration {
        Migration::Initial => {
            "CREATE TABLE accounts (
                 account_id TEXT PRIMARY KEY NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;
             CREATE TABLE access_keys (
                 access_key_id TEXT PRIMARY KEY NOT NULL,
                 account_id TEXT NOT NULL REFERENCES accounts (account_id),
                 sealed_secret BLOB NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;
             CREATE INDEX access_keys_by_account ON access_keys (account_id);
             CREATE TABLE keys (
                 key_id TEXT PRIMARY KEY NOT NULL,
                 account_id TEXT NOT NULL,
                 region TEXT NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;
             CREATE TABLE key_versions (
                 key_id TEXT NOT NULL REFERENCES keys (key_id),
                 version INTEGER NOT NULL,
                 wrapped_material BLOB NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (key_id, version)
             ) STRICT;
             CREATE TABLE aliases (
                 account_id TEXT NOT NULL,
                 region TEXT NOT NULL,
                 alias_name TEXT NOT NULL,
                 target_key_id TEXT NOT NULL REFERENCES keys (key_id),
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (account_id, region, alias_name)
             ) STRICT;
             CREATE INDEX aliases_by_target ON aliases (target_key_id);
             CREATE TABLE metadata (
                 name TEXT PRIMARY KEY NOT NULL,
                 value TEXT NOT NULL
             ) STRICT;"
        }
        Migration::Grants => {
            "CREATE TABLE grants (
                 grant_id TEXT PRIMARY KEY NOT NULL,
                 key_id TEXT NOT NULL REFERENCES keys (key_id),
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;
             CREATE INDEX grants_by_key ON grants (key_id, grant_id);"
        }
        Migration::Iam => {
            "CREATE TABLE users (
                 account_id TEXT NOT NULL,
                 user_name TEXT NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (account_id, user_name)
             ) STRICT;
             CREATE TABLE user_policies (
                 account_id TEXT NOT NULL,
                 user_name TEXT NOT NULL,
                 policy_name TEXT NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (account_id, user_name, policy_name),
                 FOREIGN KEY (account_id, user_name) REFERENCES users (account_id, user_name)
             ) STRICT;
             CREATE TABLE access_key_users (
                 access_key_id TEXT PRIMARY KEY NOT NULL REFERENCES access_keys (access_key_id),
                 account_id TEXT NOT NULL,
                 user_name TEXT NOT NULL,
                 FOREIGN KEY (account_id, user_name) REFERENCES users (account_id, user_name)
             ) STRICT;
             CREATE INDEX access_key_users_by_user ON access_key_users (account_id, user_name);"
        }
        Migration::Roles => {
            "CREATE TABLE roles (
                 account_id TEXT NOT NULL,
                 role_name TEXT NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (account_id, role_name)
             ) STRICT;
             CREATE TABLE role_policies (
                 account_id TEXT NOT NULL,
                 role_name TEXT NOT NULL,
                 policy_name TEXT NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL,
                 PRIMARY KEY (account_id, role_name, policy_name),
                 FOREIGN KEY (account_id, role_name) REFERENCES roles (account_id, role_name)
             ) STRICT;
             CREATE TABLE sessions (
                 access_key_id TEXT PRIMARY KEY NOT NULL,
                 account_id TEXT NOT NULL,
                 expiration INTEGER NOT NULL,
                 sealed_credentials BLOB NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;
             CREATE INDEX sessions_by_expiration ON sessions (expiration);"
        }
        Migration::Secrets => crate::secrets::MIGRATION_SQL,
        Migration::ServiceCredentials => {
            "CREATE TABLE service_credentials (
                 access_key_id TEXT PRIMARY KEY NOT NULL,
                 account_id TEXT NOT NULL,
                 service TEXT NOT NULL,
                 schema_version INTEGER NOT NULL
             ) STRICT;"
        }
        Migration::MfaDevices => {
            "CREATE TABLE mfa_devices (
                 serial_number TEXT PRIMARY KEY NOT NULL,
                 account_id TEXT NOT NULL,
                 sealed_seed BLOB NOT NULL,
                 schema_version INTEGER NOT NULL,
                 record TEXT NOT NULL
             ) STRICT;"
        }
    }
}
